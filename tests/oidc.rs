//! Trusted publishing against a loopback stub of the GitHub Actions ID-token endpoint and the
//! Cargo and Python exchange endpoints: the exact requests, retries, and errors that name the
//! service's reason but never a credential.

mod support;

use std::net::TcpListener;

use shiplane::oidc::{
    exchange_cargo, mint_python, npm_supports_oidc, revoke_cargo, IdTokenSource, NPM_OIDC_MIN,
};
use shiplane::registry::http::USER_AGENT;
use shiplane::secrets::Secrets;
use support::oidc_stub::{
    OidcStub, Recorded, CARGO_TOKEN, CARGO_TOKENS_PATH, ID_TOKEN_PATH, JWT, PYTHON_MINT_PATH,
    PYTHON_TOKEN, REQUEST_TOKEN,
};

/// The endpoint as the Actions runtime hands it out: with an `api-version` query.
fn source(stub: &OidcStub, path_and_query: &str) -> IdTokenSource {
    let url = stub.url(path_and_query);
    IdTokenSource::from_env(&|name: &str| match name {
        "ACTIONS_ID_TOKEN_REQUEST_URL" => Some(url.clone()),
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some(REQUEST_TOKEN.to_string()),
        _ => None,
    })
    .expect("both variables are set")
}

fn only_request(stub: &OidcStub) -> Recorded {
    let requests = stub.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests.into_iter().next().unwrap()
}

/// Display, alternate Display and Debug of `error`, each checked by the caller.
fn renderings(error: &anyhow::Error) -> [String; 3] {
    [
        format!("{error}"),
        format!("{error:#}"),
        format!("{error:?}"),
    ]
}

fn assert_no_credentials(error: &anyhow::Error) {
    for text in renderings(error) {
        for secret in [JWT, REQUEST_TOKEN, CARGO_TOKEN, PYTHON_TOKEN] {
            assert!(!text.contains(secret), "`{secret}` leaked into:\n{text}");
            assert!(
                !text.contains(&secret[..12]),
                "part of `{secret}` leaked into:\n{text}"
            );
        }
    }
}

#[test]
fn id_token_with_audience_sends_the_request_token_and_the_encoded_audience() {
    let stub = OidcStub::start();
    let secrets = Secrets::new();
    let jwt = source(&stub, &format!("{ID_TOKEN_PATH}?api-version=2.0"))
        .id_token(Some("registry.test"), &secrets)
        .unwrap();
    assert_eq!(jwt, JWT);
    let request = only_request(&stub);
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.target,
        format!("{ID_TOKEN_PATH}?api-version=2.0&audience=registry.test")
    );
    assert_eq!(
        request.header("Authorization"),
        Some(format!("Bearer {REQUEST_TOKEN}").as_str())
    );
    assert_eq!(request.header("Accept"), Some("application/json"));
    assert_eq!(request.header("User-Agent"), Some(USER_AGENT));
    assert!(request.body.is_empty());

    // Reserved characters are percent-encoded; a URL without a query gets one.
    let stub = OidcStub::start();
    source(&stub, ID_TOKEN_PATH)
        .id_token(Some("api://Shiplane Test/x"), &secrets)
        .unwrap();
    assert_eq!(
        only_request(&stub).target,
        format!("{ID_TOKEN_PATH}?audience=api%3A%2F%2FShiplane%20Test%2Fx")
    );
}

#[test]
fn id_token_without_audience_requests_the_url_as_given() {
    let stub = OidcStub::start();
    let jwt = source(&stub, &format!("{ID_TOKEN_PATH}?api-version=2.0"))
        .id_token(None, &Secrets::new())
        .unwrap();
    assert_eq!(jwt, JWT);
    let request = only_request(&stub);
    assert_eq!(request.target, format!("{ID_TOKEN_PATH}?api-version=2.0"));
    assert_eq!(
        request.header("Authorization"),
        Some(format!("Bearer {REQUEST_TOKEN}").as_str())
    );
}

#[test]
fn id_token_refusal_names_the_reason_and_the_permission_but_not_the_request_token() {
    let stub = OidcStub::start();
    stub.reply(
        "GET",
        ID_TOKEN_PATH,
        403,
        &format!(r#"{{"message":"Bearer {REQUEST_TOKEN} may not request an ID token"}}"#),
    );
    let error = source(&stub, &format!("{ID_TOKEN_PATH}?api-version=2.0"))
        .id_token(Some("registry.test"), &Secrets::new())
        .unwrap_err();
    for text in renderings(&error) {
        assert!(text.contains("may not request an ID token"), "{text}");
        assert!(text.contains("HTTP 403"), "{text}");
        assert!(text.contains("GET http://127.0.0.1:"), "{text}");
        assert!(text.contains("id-token: write"), "{text}");
    }
    assert_no_credentials(&error);
    assert_eq!(stub.requests().len(), 1, "a 4xx is not retried");
}

#[test]
fn id_token_answer_without_value_is_an_error() {
    let stub = OidcStub::start();
    stub.reply("GET", ID_TOKEN_PATH, 200, r#"{"count":0}"#);
    let error = source(&stub, ID_TOKEN_PATH)
        .id_token(None, &Secrets::new())
        .unwrap_err();
    assert!(error.to_string().contains("`value`"), "{error}");
}

#[test]
fn exchange_cargo_posts_the_jwt_and_returns_the_token() {
    let stub = OidcStub::start();
    let secrets = Secrets::new();
    let token = exchange_cargo(&stub.url(CARGO_TOKENS_PATH), JWT, &secrets).unwrap();
    assert_eq!(token, CARGO_TOKEN);
    let request = only_request(&stub);
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, CARGO_TOKENS_PATH);
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(request.header("Accept"), Some("application/json"));
    assert_eq!(request.header("User-Agent"), Some(USER_AGENT));
    assert_eq!(request.header("Authorization"), None);
    assert_eq!(request.json(), serde_json::json!({ "jwt": JWT }));
    assert_eq!(secrets.redact(CARGO_TOKEN), "***");
}

#[test]
fn revoke_cargo_deletes_with_the_bearer_token() {
    let stub = OidcStub::start();
    revoke_cargo(&stub.url(CARGO_TOKENS_PATH), CARGO_TOKEN).unwrap();
    let request = only_request(&stub);
    assert_eq!(request.method, "DELETE");
    assert_eq!(request.target, CARGO_TOKENS_PATH);
    assert_eq!(
        request.header("Authorization"),
        Some(format!("Bearer {CARGO_TOKEN}").as_str())
    );
    assert_eq!(request.header("User-Agent"), Some(USER_AGENT));
    assert!(request.body.is_empty());
}

#[test]
fn revoke_cargo_accepts_a_token_that_is_already_gone() {
    for status in [200, 404, 410] {
        let stub = OidcStub::start();
        stub.reply("DELETE", CARGO_TOKENS_PATH, status, "");
        revoke_cargo(&stub.url(CARGO_TOKENS_PATH), CARGO_TOKEN)
            .unwrap_or_else(|e| panic!("{status}: {e:#}"));
    }
}

#[test]
fn revoke_cargo_refusal_hides_the_token() {
    let stub = OidcStub::start();
    stub.reply(
        "DELETE",
        CARGO_TOKENS_PATH,
        401,
        &format!(
            r#"{{"errors":[{{"detail":"token {CARGO_TOKEN} is not a trusted publishing token"}}]}}"#
        ),
    );
    let error = revoke_cargo(&stub.url(CARGO_TOKENS_PATH), CARGO_TOKEN).unwrap_err();
    for text in renderings(&error) {
        assert!(text.contains("is not a trusted publishing token"), "{text}");
        assert!(text.contains("DELETE http://127.0.0.1:"), "{text}");
        assert!(text.contains("HTTP 401"), "{text}");
    }
    assert_no_credentials(&error);
}

#[test]
fn mint_python_posts_the_jwt_as_token_and_returns_the_minted_token() {
    let stub = OidcStub::start();
    let secrets = Secrets::new();
    let token = mint_python(&stub.url(PYTHON_MINT_PATH), JWT, &secrets).unwrap();
    assert_eq!(token, PYTHON_TOKEN);
    let request = only_request(&stub);
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, PYTHON_MINT_PATH);
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(request.header("Authorization"), None);
    assert_eq!(request.json(), serde_json::json!({ "token": JWT }));
    assert_eq!(secrets.redact(PYTHON_TOKEN), "***");
}

#[test]
fn refused_cargo_exchange_names_the_service_message_and_no_credential() {
    for status in [401, 403] {
        let stub = OidcStub::start();
        // The whole flow, so the run's secrets hold the request token and the JWT ...
        let secrets = Secrets::new();
        let jwt = source(&stub, ID_TOKEN_PATH)
            .id_token(Some("registry.test"), &secrets)
            .unwrap();
        stub.reply(
            "POST",
            CARGO_TOKENS_PATH,
            status,
            &format!(r#"{{"errors":[{{"detail":"No matching Trusted Publishing config found for {jwt}"}}]}}"#),
        );
        let error = exchange_cargo(&stub.url(CARGO_TOKENS_PATH), &jwt, &secrets).unwrap_err();
        for text in renderings(&error) {
            assert!(
                text.contains("No matching Trusted Publishing config found"),
                "{text}"
            );
            assert!(text.contains(&format!("HTTP {status}")), "{text}");
            assert!(
                text.contains(&format!("POST {}", stub.url(CARGO_TOKENS_PATH))),
                "{text}"
            );
            assert!(text.contains("trusted publisher"), "the hint: {text}");
        }
        assert_no_credentials(&error);
        assert_eq!(
            stub.requests().len(),
            2,
            "id token + one exchange: no retry"
        );

        // ... and without them: the JWT given is hidden all the same.
        let error =
            exchange_cargo(&stub.url(CARGO_TOKENS_PATH), &jwt, &Secrets::new()).unwrap_err();
        assert_no_credentials(&error);
    }
}

#[test]
fn refused_python_mint_quotes_code_and_description() {
    let stub = OidcStub::start();
    stub.reply(
        "POST",
        PYTHON_MINT_PATH,
        422,
        &format!(
            r#"{{"message":"Token request failed","errors":[{{"code":"invalid-publisher","description":"valid token, but no corresponding publisher (token {JWT})"}}]}}"#
        ),
    );
    let error = mint_python(&stub.url(PYTHON_MINT_PATH), JWT, &Secrets::new()).unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains("invalid-publisher: valid token, but no corresponding publisher"),
        "{text}"
    );
    assert!(text.contains("HTTP 422"), "{text}");
    assert_no_credentials(&error);
    assert_eq!(stub.requests().len(), 1);
}

#[test]
fn a_plain_error_body_is_redacted_before_it_is_cut() {
    let stub = OidcStub::start();
    // 290 bytes of text, then the JWT across the 300-byte cut.
    let body = format!("{} {JWT}", "x".repeat(289));
    stub.reply("POST", CARGO_TOKENS_PATH, 400, &body);
    let error = exchange_cargo(&stub.url(CARGO_TOKENS_PATH), JWT, &Secrets::new()).unwrap_err();
    assert!(format!("{error:#}").contains("xxxx ***"), "{error:#}");
    assert_no_credentials(&error);
}

#[test]
fn a_503_is_retried_and_the_same_request_is_sent_again() {
    let stub = OidcStub::start();
    stub.replies(
        "POST",
        CARGO_TOKENS_PATH,
        &[
            (503, "upstream unavailable"),
            (200, &format!(r#"{{"token":"{CARGO_TOKEN}"}}"#)),
        ],
    );
    let token = exchange_cargo(&stub.url(CARGO_TOKENS_PATH), JWT, &Secrets::new()).unwrap();
    assert_eq!(token, CARGO_TOKEN);
    let requests = stub.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(requests[0], requests[1]);
}

#[test]
fn a_lasting_5xx_gives_up_after_four_attempts() {
    let stub = OidcStub::start();
    stub.reply(
        "POST",
        PYTHON_MINT_PATH,
        502,
        &format!(r#"{{"message":"bad gateway while checking {JWT}"}}"#),
    );
    let error = mint_python(&stub.url(PYTHON_MINT_PATH), JWT, &Secrets::new()).unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("after 4 attempts"), "{text}");
    assert!(text.contains("HTTP 502"), "{text}");
    assert!(text.contains("bad gateway while checking ***"), "{text}");
    assert_no_credentials(&error);
    assert_eq!(stub.requests().len(), 4);
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}{CARGO_TOKENS_PATH}");
    let error = exchange_cargo(&url, JWT, &Secrets::new()).unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains(&format!("POST {url}")), "{text}");
    assert!(text.contains("after 4 attempts"), "{text}");
    assert_no_credentials(&error);
}

#[test]
fn credentials_in_the_exchange_url_are_not_shown() {
    let stub = OidcStub::start();
    stub.reply(
        "POST",
        CARGO_TOKENS_PATH,
        401,
        r#"{"errors":[{"detail":"no"}]}"#,
    );
    let url = stub
        .url(CARGO_TOKENS_PATH)
        .replace("http://", "http://user:url-password-123@");
    let error = exchange_cargo(&url, JWT, &Secrets::new()).unwrap_err();
    let text = format!("{error:?}");
    assert!(!text.contains("url-password-123"), "{text}");
    assert!(text.contains("http://***@127.0.0.1:"), "{text}");
}

#[test]
fn a_success_without_a_token_is_an_error_that_quotes_nothing() {
    for body in [
        r#"{"token":""}"#,
        r#"{"tok":"pypi-minted-token-2a7e4c9d1b"}"#,
        "plain answer",
    ] {
        let stub = OidcStub::start();
        stub.reply("POST", PYTHON_MINT_PATH, 200, body);
        let error = mint_python(&stub.url(PYTHON_MINT_PATH), JWT, &Secrets::new()).unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("`token`"), "{text}");
        assert!(!text.contains(body), "{text}");
        assert_no_credentials(&error);
    }
}

#[test]
fn secrets_hide_every_credential_of_the_flow() {
    let stub = OidcStub::start();
    let secrets = Secrets::new();
    let jwt = source(&stub, ID_TOKEN_PATH)
        .id_token(Some("registry.test"), &secrets)
        .unwrap();
    let cargo = exchange_cargo(&stub.url(CARGO_TOKENS_PATH), &jwt, &secrets).unwrap();
    let python = mint_python(&stub.url(PYTHON_MINT_PATH), &jwt, &secrets).unwrap();
    let text = format!("jwt={jwt} request={REQUEST_TOKEN} cargo={cargo} python={python}");
    assert_eq!(
        secrets.redact(&text),
        "jwt=*** request=*** cargo=*** python=***"
    );
}

#[test]
fn from_env_needs_both_variables_non_empty() {
    let env = |url: Option<&str>, token: Option<&str>| {
        let (url, token) = (url.map(str::to_string), token.map(str::to_string));
        move |name: &str| match name {
            "ACTIONS_ID_TOKEN_REQUEST_URL" => url.clone(),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => token.clone(),
            _ => None,
        }
    };
    let url = "http://127.0.0.1:9/_apis/idtoken?api-version=2.0";
    assert!(IdTokenSource::from_env(&env(Some(url), Some(REQUEST_TOKEN))).is_some());
    for (u, t) in [
        (None, Some(REQUEST_TOKEN)),
        (Some(url), None),
        (None, None),
        (Some(""), Some(REQUEST_TOKEN)),
        (Some(url), Some("")),
        (Some(url), Some("  ")),
    ] {
        assert!(
            IdTokenSource::from_env(&env(u, t)).is_none(),
            "url {u:?}, token {t:?}"
        );
    }
    let found = IdTokenSource::from_env(&env(Some(url), Some(REQUEST_TOKEN))).unwrap();
    assert_eq!(found.url(), url);
    let debug = format!("{found:?}");
    assert!(!debug.contains(REQUEST_TOKEN), "{debug}");
}

#[test]
fn npm_versions_that_do_trusted_publishing() {
    assert_eq!(NPM_OIDC_MIN, "11.5.1");
    for (output, expected) in [
        ("11.5.1", true),
        ("11.6.0\n", true),
        ("12.0.0\r\n", true),
        ("v11.5.1", true),
        ("npm WARN config something\n11.7.0\n", true),
        ("10.9.2", false),
        ("11.5.0", false),
        ("11.5.1-pre.0", false),
    ] {
        assert_eq!(npm_supports_oidc(output), Ok(expected), "{output:?}");
    }
    for garbage in ["", "\n  \n", "npm: command not found", "11.5", "eleven"] {
        assert!(npm_supports_oidc(garbage).is_err(), "{garbage:?}");
    }
}
