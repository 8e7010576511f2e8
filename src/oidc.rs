//! Trusted publishing: a GitHub Actions OIDC ID token exchanged for a short-lived registry token.
//!
//! 1. [`IdTokenSource`] asks the Actions runtime for an ID token (a JWT) for an audience the
//!    registry names. A job only has the endpoint when its workflow grants `id-token: write`.
//! 2. The JWT is posted to the registry's exchange endpoint: [`exchange_cargo`] (Cargo registries,
//!    revoked afterwards with [`revoke_cargo`]) or [`mint_python`] (Python indexes; upload with
//!    user name `__token__`).
//! 3. npm needs neither: its CLI does the exchange itself from [`NPM_OIDC_MIN`] on.
//!
//! Every URL comes from the caller (configuration), never from here. Every credential seen or
//! made here is added to the run's [`Secrets`], and no error message contains one: messages are
//! built from redacted text only, never by wrapping a transport error that could print it.

use std::time::Duration;

use anyhow::anyhow;
use serde_json::Value;

use crate::registry::http::{percent_encode, redact as redact_url, USER_AGENT};
use crate::secrets::Secrets;

/// The first npm CLI version that publishes with trusted publishing on its own.
pub const NPM_OIDC_MIN: &str = "11.5.1";

/// Tries per request: the first one and up to 3 retries (connect errors, timeouts, 5xx).
const ATTEMPTS: u32 = 4;
/// The wait before the first retry; it doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (a token answer is a few kilobytes).
const MAX_BODY_BYTES: u64 = 1024 * 1024;
/// How much of a service's own explanation an error quotes: parsed from JSON, or raw.
const MAX_MESSAGE_BYTES: usize = 1000;
const MAX_RAW_BODY_BYTES: usize = 300;

/// GitHub Actions' ID-token endpoint, from `ACTIONS_ID_TOKEN_REQUEST_URL` and
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (set only in a job with `permissions: id-token: write`).
pub struct IdTokenSource {
    url: String,
    request_token: String,
}

impl std::fmt::Debug for IdTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenSource")
            .field("url", &redact_url(&self.url))
            .field("request_token", &"***")
            .finish()
    }
}

impl IdTokenSource {
    /// The endpoint of this job, or `None` unless both variables are set and non-empty. `env`
    /// looks a variable up (`&|name| std::env::var(name).ok()` in a real run).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<IdTokenSource> {
        let non_empty = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Some(IdTokenSource {
            url: non_empty("ACTIONS_ID_TOKEN_REQUEST_URL")?,
            request_token: non_empty("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?,
        })
    }

    /// The endpoint, without credentials (for messages).
    pub fn url(&self) -> String {
        redact_url(&self.url)
    }

    /// A fresh ID token (JWT) for `audience` (the endpoint's default audience when `None`):
    /// `GET {url}&audience=..` (`?audience=..` when the URL has no query) with
    /// `Authorization: Bearer {request token}`, answered by `{"value": "<jwt>"}`. The request
    /// token and the JWT are added to `secrets`.
    pub fn id_token(&self, audience: Option<&str>, secrets: &Secrets) -> anyhow::Result<String> {
        secrets.add(&self.request_token);
        let url = match audience {
            Some(audience) => {
                let separator = if self.url.contains('?') { '&' } else { '?' };
                format!(
                    "{}{separator}audience={}",
                    self.url,
                    percent_encode(audience)
                )
            }
            None => self.url.clone(),
        };
        let request = Request {
            method: "GET",
            url: &url,
            bearer: Some(&self.request_token),
            json: None,
            hidden: vec![&self.request_token],
            secrets: Some(secrets),
            hint: "does the job have `permissions: id-token: write`?",
        };
        let answer = request.perform()?;
        let jwt = request.success_string(&answer, "value")?;
        secrets.add(&jwt);
        Ok(jwt)
    }
}

/// Cargo registry trusted publishing: `POST {exchange_url}` with `{"jwt": jwt}`, answered by
/// `{"token": ".."}`, a token that expires on its own within the hour. The token is added to
/// `secrets`; revoke it with [`revoke_cargo`] once the publishing is done.
pub fn exchange_cargo(exchange_url: &str, jwt: &str, secrets: &Secrets) -> anyhow::Result<String> {
    exchange(
        exchange_url,
        serde_json::json!({ "jwt": jwt }),
        jwt,
        secrets,
    )
}

/// Revoke a token from [`exchange_cargo`]: `DELETE {exchange_url}` with
/// `Authorization: Bearer {token}`. Any 2xx is success, and so are 404 and 410 (already gone).
pub fn revoke_cargo(exchange_url: &str, token: &str) -> anyhow::Result<()> {
    let request = Request {
        method: "DELETE",
        url: exchange_url,
        bearer: Some(token),
        json: None,
        hidden: vec![token],
        secrets: None,
        hint: "the token expires on its own within the hour",
    };
    let answer = request.perform()?;
    match answer.status {
        200..=299 | 404 | 410 => Ok(()),
        _ => Err(request.failure(&answer)),
    }
}

/// Python index trusted publishing: `POST {mint_url}` with `{"token": jwt}`, answered by
/// `{"token": ".."}`; upload with user name `__token__` and this token as the password. The token
/// is added to `secrets`.
pub fn mint_python(mint_url: &str, jwt: &str, secrets: &Secrets) -> anyhow::Result<String> {
    exchange(mint_url, serde_json::json!({ "token": jwt }), jwt, secrets)
}

/// POST `body` (which holds `jwt`) and read `{"token": ..}` from the answer.
fn exchange(url: &str, body: Value, jwt: &str, secrets: &Secrets) -> anyhow::Result<String> {
    let request = Request {
        method: "POST",
        url,
        bearer: None,
        json: Some(body.to_string()),
        hidden: vec![jwt],
        secrets: Some(secrets),
        hint: "is a trusted publisher configured on the registry for this repository, workflow \
               and environment, and was the ID token requested for the audience it expects?",
    };
    let answer = request.perform()?;
    let token = request.success_string(&answer, "token")?;
    secrets.add(&token);
    Ok(token)
}

/// Whether the npm CLI that printed `npm_version_output` (the output of `npm --version`) does
/// trusted publishing itself. The last non-empty line is read; a leading `v` is accepted. A
/// pre-release of the minimum is older than it. `Err` when no version can be read.
pub fn npm_supports_oidc(npm_version_output: &str) -> Result<bool, String> {
    let line = npm_version_output
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .ok_or_else(|| "`npm --version` printed nothing".to_string())?;
    let text = line.strip_prefix('v').unwrap_or(line);
    let version = semver::Version::parse(text)
        .map_err(|e| format!("`npm --version` printed `{line}`, not a version: {e}"))?;
    let minimum = semver::Version::parse(NPM_OIDC_MIN)
        .map_err(|e| format!("NPM_OIDC_MIN `{NPM_OIDC_MIN}` is not a version: {e}"))?;
    Ok(version >= minimum)
}

/// One request of the exchange, and what its messages must never show.
struct Request<'a> {
    /// `GET` or `DELETE` without a body; `POST` with `json`.
    method: &'static str,
    url: &'a str,
    bearer: Option<&'a str>,
    /// The body of a `POST` (sent with `Content-Type: application/json`).
    json: Option<String>,
    /// Credentials to take out of every message, also when `secrets` does not hold them.
    hidden: Vec<&'a str>,
    secrets: Option<&'a Secrets>,
    /// What to check when the service refuses (4xx).
    hint: &'static str,
}

/// A status and body, from the last attempt.
struct Answer {
    status: u16,
    body: Vec<u8>,
    attempts: u32,
}

/// A failed attempt: worth another try or not, with its (already redacted) message.
struct Failed {
    retry: bool,
    message: String,
}

impl Request<'_> {
    /// `METHOD url` without credentials in the URL.
    fn describe(&self) -> String {
        self.clean(&format!("{} {}", self.method, redact_url(self.url)))
    }

    /// `text` without any secret of the run or credential of this request.
    fn clean(&self, text: &str) -> String {
        let mut text = match self.secrets {
            Some(secrets) => secrets.redact(text),
            None => text.to_string(),
        };
        for value in self.hidden.iter().chain(self.bearer.iter()) {
            let value = value.trim();
            if value.len() >= 4 {
                text = text.replace(value, "***");
            }
        }
        text
    }

    /// Send the request, retrying connect errors, timeouts and 5xx with a doubling backoff. Any
    /// status that is not retried (or the last 5xx) is returned for the caller to judge.
    fn perform(&self) -> anyhow::Result<Answer> {
        let agent = agent();
        let mut wait = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.attempt(&agent) {
                Ok(answer) if (500..=599).contains(&answer.status) && attempt < ATTEMPTS => {}
                Ok(mut answer) => {
                    answer.attempts = attempt;
                    return Ok(answer);
                }
                Err(failed) if failed.retry && attempt < ATTEMPTS => {}
                Err(failed) => {
                    return Err(anyhow!(
                        "trusted publishing: {} failed{}: {}",
                        self.describe(),
                        attempts_note(attempt),
                        failed.message
                    ))
                }
            }
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
            attempt += 1;
        }
    }

    fn attempt(&self, agent: &ureq::Agent) -> Result<Answer, Failed> {
        let authorization = self.bearer.map(|token| format!("Bearer {token}"));
        let json = "application/json";
        let result = if let Some(body) = &self.json {
            let mut builder = agent.post(self.url).header("Content-Type", json);
            if let Some(value) = &authorization {
                builder = builder.header("Authorization", value);
            }
            builder.header("Accept", json).send(body.as_str())
        } else {
            let mut builder = match self.method {
                "DELETE" => agent.delete(self.url),
                _ => agent.get(self.url),
            };
            if let Some(value) = &authorization {
                builder = builder.header("Authorization", value);
            }
            builder.header("Accept", json).call()
        };
        let mut response = result.map_err(|error| self.transport_failure(error))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|error| self.transport_failure(error))?;
        Ok(Answer {
            status,
            body,
            attempts: 1,
        })
    }

    /// Connect errors, timeouts and broken connections are retried; the rest (a bad URL, TLS,
    /// an oversized answer) would fail the same way again.
    fn transport_failure(&self, error: ureq::Error) -> Failed {
        let retry = matches!(
            error,
            ureq::Error::Timeout(_)
                | ureq::Error::Io(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::HostNotFound
        );
        let message = match &error {
            ureq::Error::Timeout(which) => format!("timed out ({which:?})"),
            other => other.to_string(),
        };
        Failed {
            retry,
            message: self.clean(&message),
        }
    }

    /// `HTTP 401 Unauthorized: <the service's explanation>`, redacted.
    fn status_text(&self, answer: &Answer) -> String {
        let reason = ureq::http::StatusCode::from_u16(answer.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut text = format!("HTTP {} {reason}", answer.status)
            .trim_end()
            .to_string();
        let explanation = service_message(&answer.body).map_or_else(
            || {
                cut(
                    &self.clean(&one_line(&String::from_utf8_lossy(&answer.body))),
                    MAX_RAW_BODY_BYTES,
                )
            },
            |message| cut(&self.clean(&message), MAX_MESSAGE_BYTES),
        );
        if !explanation.is_empty() {
            text.push_str(": ");
            text.push_str(&explanation);
        }
        text
    }

    /// The error for an answer that is not a success.
    fn failure(&self, answer: &Answer) -> anyhow::Error {
        let hint = if (400..=499).contains(&answer.status) {
            format!(" ({})", self.hint)
        } else {
            String::new()
        };
        anyhow!(
            "trusted publishing: {} failed{}: {}{hint}",
            self.describe(),
            attempts_note(answer.attempts),
            self.status_text(answer)
        )
    }

    /// The non-empty string `key` of a 2xx JSON answer. The body is never quoted: it holds a
    /// credential.
    fn success_string(&self, answer: &Answer, key: &str) -> anyhow::Result<String> {
        if !(200..=299).contains(&answer.status) {
            return Err(self.failure(answer));
        }
        serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|json| json.get(key)?.as_str().map(str::to_string))
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "trusted publishing: {} answered HTTP {} without a JSON object holding a \
                     non-empty string `{key}`",
                    self.describe(),
                    answer.status
                )
            })
    }
}

/// The agent of one exchange: an identifying User-Agent, the operating system's trust store,
/// timeouts, statuses read here, and no redirects (a credential is never sent on elsewhere).
fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(REQUEST_TIMEOUT))
        .max_redirects(0)
        .build()
        .new_agent()
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// A service's own explanation in a JSON error answer: `errors[].detail` (Cargo registries),
/// `errors[].code` + `description` (Python indexes), else `message`, `detail`,
/// `error_description` or `error`.
fn service_message(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let mut parts = Vec::new();
    for error in json
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let detail = ["detail", "description", "message"]
            .iter()
            .find_map(|key| text(error, key));
        match (text(error, "code"), detail) {
            (Some(code), Some(detail)) => parts.push(format!("{code}: {detail}")),
            (None, Some(only)) | (Some(only), None) => parts.push(only.to_string()),
            (None, None) => {}
        }
    }
    if parts.is_empty() {
        let found = ["message", "detail", "error_description", "error"]
            .iter()
            .find_map(|key| text(&json, key))?;
        parts.push(found.to_string());
    }
    Some(one_line(&parts.join("; ")))
}

/// The string `key` of a JSON object, trimmed.
fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str).map(str::trim)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` bytes of `text` (on a character boundary), with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_messages_of_both_registries() {
        let cargo = br#"{"errors":[{"detail":"no matching trusted publisher"}]}"#;
        assert_eq!(
            service_message(cargo).as_deref(),
            Some("no matching trusted publisher")
        );
        let python = br#"{"message":"Token request failed","errors":[{"code":"invalid-publisher","description":"no publisher\nmatches"}]}"#;
        assert_eq!(
            service_message(python).as_deref(),
            Some("invalid-publisher: no publisher matches")
        );
        assert_eq!(
            service_message(br#"{"message":"Bad credentials"}"#).as_deref(),
            Some("Bad credentials")
        );
        assert_eq!(service_message(br#"{"other":1}"#), None);
        assert_eq!(service_message(b"<html>Bad Gateway</html>"), None);
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("ab€", 3), "ab…");
    }
}
