//! GitHub Releases through the REST API, against the loopback stub of `support::github_stub`:
//! the exact requests made, idempotent re-runs, asset checks, retries and errors.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use shiplane::checksum::sha256_hex;
use shiplane::forge::{GitHub, Outcome, ReleaseInfo, ReleaseSpec};
use shiplane::registry::http::USER_AGENT;
use support::github_stub::{Failure, GitHubStub, Request};

const REPOSITORY: &str = "acme/rocket";
const TOKEN: &str = "ghs_stubtoken_0123456789";

fn client(stub: &GitHubStub) -> GitHub {
    GitHub::new(&stub.url(), TOKEN, REPOSITORY)
        .expect("a client")
        .with_retries(3, Duration::from_millis(10))
}

fn spec(tag: &str, body: &str, prerelease: bool) -> ReleaseSpec {
    ReleaseSpec {
        tag: tag.to_string(),
        name: format!("Rocket {tag}"),
        body: body.to_string(),
        prerelease,
    }
}

fn lines(requests: &[Request]) -> Vec<String> {
    requests.iter().map(Request::line).collect()
}

/// The headers every request carries.
fn assert_api_headers(request: &Request) {
    let line = request.line();
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "{line}"
    );
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json"),
        "{line}"
    );
    assert_eq!(
        request.header("x-github-api-version"),
        Some("2022-11-28"),
        "{line}"
    );
    assert_eq!(request.header("user-agent"), Some(USER_AGENT), "{line}");
}

/// A file holding `bytes` in a fresh temporary directory.
fn artifact(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("artifact.bin");
    std::fs::write(&path, bytes).expect("write the artifact");
    (dir, path)
}

/// A release made in the stub, as the client reads it.
fn existing_release(stub: &GitHubStub, github: &GitHub, tag: &str) -> ReleaseInfo {
    stub.add_release(tag, "Rocket", "notes", false);
    let release = github
        .release_by_tag(tag)
        .expect("read the release")
        .expect("the release exists");
    stub.take_requests();
    release
}

#[test]
fn creates_a_release_with_the_exact_requests() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let (release, outcome) = github
        .ensure_release(&spec("v1.0.0", "## Added\n- \"quotes\" & lines\n", false))
        .unwrap();
    assert_eq!(outcome, Outcome::Created);
    let requests = stub.requests();
    assert_eq!(
        lines(&requests),
        [
            "GET /repos/acme/rocket/releases/tags/v1.0.0",
            "POST /repos/acme/rocket/releases"
        ]
    );
    requests.iter().for_each(assert_api_headers);
    assert!(requests[0].body.is_empty());
    assert_eq!(
        requests[1].body_text(),
        r###"{"tag_name":"v1.0.0","name":"Rocket v1.0.0","body":"## Added\n- \"quotes\" & lines\n","draft":false,"prerelease":false}"###
    );
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
    assert_eq!(release.id, 1);
    assert_eq!(
        release.upload_url,
        format!("{}/uploads/repos/acme/rocket/releases/1/assets", stub.url())
    );
    assert_eq!(
        release.html_url,
        format!("{}/acme/rocket/releases/tag/v1.0.0", stub.url())
    );
    assert!(release.assets.is_empty());
    let releases = stub.releases();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].body, "## Added\n- \"quotes\" & lines\n");
}

#[test]
fn an_unchanged_release_is_only_read() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let wanted = spec("v1.0.0", "notes", false);
    let (created, _) = github.ensure_release(&wanted).unwrap();
    stub.take_requests();
    let (again, outcome) = github.ensure_release(&wanted).unwrap();
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(again.id, created.id);
    assert_eq!(
        lines(&stub.requests()),
        ["GET /repos/acme/rocket/releases/tags/v1.0.0"]
    );
}

#[test]
fn a_changed_body_is_patched_with_only_that_field() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let id = stub.add_release("v1.0.0", "Rocket v1.0.0", "old notes", false);
    let (release, outcome) = github
        .ensure_release(&spec("v1.0.0", "new notes", false))
        .unwrap();
    assert_eq!(outcome, Outcome::Updated);
    assert_eq!(release.id, id);
    let requests = stub.requests();
    assert_eq!(
        lines(&requests),
        [
            "GET /repos/acme/rocket/releases/tags/v1.0.0".to_string(),
            format!("PATCH /repos/acme/rocket/releases/{id}"),
        ]
    );
    requests.iter().for_each(assert_api_headers);
    assert_eq!(requests[1].body_text(), r#"{"body":"new notes"}"#);
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
    let stored = &stub.releases()[0];
    assert_eq!(
        (stored.name.as_str(), stored.body.as_str()),
        ("Rocket v1.0.0", "new notes")
    );
}

#[test]
fn the_prerelease_flag_is_sent_and_changed() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let (_, outcome) = github
        .ensure_release(&spec("v2.0.0-rc.1", "notes", true))
        .unwrap();
    assert_eq!(outcome, Outcome::Created);
    let post = &stub.take_requests()[1];
    assert_eq!(
        post.body_text(),
        r#"{"tag_name":"v2.0.0-rc.1","name":"Rocket v2.0.0-rc.1","body":"notes","draft":false,"prerelease":true}"#
    );
    assert!(stub.releases()[0].prerelease);

    let mut promoted = spec("v2.0.0-rc.1", "notes", false);
    promoted.name = "Rocket 2".to_string();
    let (_, outcome) = github.ensure_release(&promoted).unwrap();
    assert_eq!(outcome, Outcome::Updated);
    let requests = stub.take_requests();
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        requests[1].body_text(),
        r#"{"name":"Rocket 2","prerelease":false}"#
    );
    assert!(!stub.releases()[0].prerelease);
}

#[test]
fn a_tag_with_slashes_is_percent_encoded() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let wanted = spec("sdk/go/v1.2.0", "notes", false);
    assert_eq!(github.ensure_release(&wanted).unwrap().1, Outcome::Created);
    assert_eq!(
        github.ensure_release(&wanted).unwrap().1,
        Outcome::Unchanged
    );
    let requests = stub.requests();
    assert_eq!(
        lines(&requests),
        [
            "GET /repos/acme/rocket/releases/tags/sdk%2Fgo%2Fv1.2.0",
            "POST /repos/acme/rocket/releases",
            "GET /repos/acme/rocket/releases/tags/sdk%2Fgo%2Fv1.2.0",
        ]
    );
    assert!(requests[1]
        .body_text()
        .contains(r#""tag_name":"sdk/go/v1.2.0""#));
    assert_eq!(stub.releases()[0].tag_name, "sdk/go/v1.2.0");
}

#[test]
fn an_asset_is_uploaded_byte_for_byte() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let release = existing_release(&stub, &github, "v1.0.0");
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 256) as u8).collect();
    let (_dir, path) = artifact(&bytes);
    let name = "rocket-1.0.0+linux_x86-64.tar.gz";
    let (asset, outcome) = github.ensure_asset(&release, &path, name).unwrap();
    assert_eq!(outcome, Outcome::Uploaded);
    let requests = stub.requests();
    assert_eq!(
        lines(&requests),
        [format!(
            "POST /uploads/repos/acme/rocket/releases/{}/assets?name=rocket-1.0.0%2Blinux_x86-64.tar.gz",
            release.id
        )]
    );
    assert_api_headers(&requests[0]);
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        requests[0].header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert!(requests[0].body == bytes, "the exact bytes are uploaded");
    assert_eq!(asset.name, name);
    assert_eq!(asset.size, bytes.len() as u64);
    assert_eq!(
        asset.digest.as_deref(),
        Some(format!("sha256:{}", sha256_hex(&bytes)).as_str())
    );
    assert_eq!(asset.state, "uploaded");
    let stored = &stub.releases()[0].assets;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, name);
    assert!(stored[0].bytes == bytes);
}

#[test]
fn the_same_asset_again_is_skipped_without_a_post() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let release = existing_release(&stub, &github, "v1.0.0");
    let (_dir, path) = artifact(b"the artifact\n");
    github.ensure_asset(&release, &path, "rocket.txt").unwrap();
    let release = github.release_by_tag("v1.0.0").unwrap().unwrap();
    stub.take_requests();
    let (asset, outcome) = github.ensure_asset(&release, &path, "rocket.txt").unwrap();
    assert_eq!(outcome, Outcome::Skipped);
    assert_eq!(asset.id, release.assets[0].id);
    assert!(stub.requests().is_empty(), "{:?}", lines(&stub.requests()));
    assert_eq!(stub.releases()[0].assets.len(), 1);
}

#[test]
fn without_a_digest_the_size_decides() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let id = stub.add_release("v1.0.0", "Rocket", "notes", false);
    stub.add_asset(id, "same.txt", b"12345", "uploaded", false);
    stub.add_asset(id, "other.txt", b"123456789", "uploaded", false);
    let release = github.release_by_tag("v1.0.0").unwrap().unwrap();
    stub.take_requests();
    let (_dir, path) = artifact(b"abcde");
    let (_, outcome) = github.ensure_asset(&release, &path, "same.txt").unwrap();
    assert_eq!(outcome, Outcome::Skipped);
    let error = github
        .ensure_asset(&release, &path, "other.txt")
        .unwrap_err()
        .to_string();
    assert!(error.contains("9 bytes"), "{error}");
    assert!(error.contains(&sha256_hex(b"abcde")), "{error}");
    assert!(stub.requests().is_empty());
}

#[test]
fn different_content_is_an_error_naming_both_checksums() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let id = stub.add_release("v1.0.0", "Rocket", "notes", false);
    stub.add_asset(id, "rocket.tar.gz", b"what GitHub has", "uploaded", true);
    let release = github.release_by_tag("v1.0.0").unwrap().unwrap();
    stub.take_requests();
    let (_dir, path) = artifact(b"what was built now");
    let error = github
        .ensure_asset(&release, &path, "rocket.tar.gz")
        .unwrap_err()
        .to_string();
    assert!(error.contains(&sha256_hex(b"what GitHub has")), "{error}");
    assert!(
        error.contains(&sha256_hex(b"what was built now")),
        "{error}"
    );
    assert!(error.contains("rocket.tar.gz"), "{error}");
    assert!(error.contains("delete the asset on GitHub"), "{error}");
    assert!(error.contains("release a new version"), "{error}");
    assert!(stub.requests().is_empty(), "nothing is deleted or uploaded");
    assert_eq!(stub.releases()[0].assets[0].bytes, b"what GitHub has");
}

#[test]
fn a_starter_asset_is_deleted_and_uploaded_again() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let id = stub.add_release("v1.0.0", "Rocket", "notes", false);
    let broken = stub.add_asset(id, "rocket.tar.gz", b"half", "starter", false);
    let release = github.release_by_tag("v1.0.0").unwrap().unwrap();
    stub.take_requests();
    let (_dir, path) = artifact(b"the whole artifact");
    let (asset, outcome) = github
        .ensure_asset(&release, &path, "rocket.tar.gz")
        .unwrap();
    assert_eq!(outcome, Outcome::Uploaded);
    let requests = stub.requests();
    assert_eq!(
        lines(&requests),
        [
            format!("DELETE /repos/acme/rocket/releases/assets/{broken}"),
            format!("POST /uploads/repos/acme/rocket/releases/{id}/assets?name=rocket.tar.gz"),
        ]
    );
    requests.iter().for_each(assert_api_headers);
    let stored = &stub.releases()[0].assets;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].id, stored[0].state.as_str()),
        (asset.id, "uploaded")
    );
    assert_eq!(stored[0].bytes, b"the whole artifact");
}

#[test]
fn a_server_error_is_retried() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    stub.fail_next(500);
    let (_, outcome) = github
        .ensure_release(&spec("v1.0.0", "notes", false))
        .unwrap();
    assert_eq!(outcome, Outcome::Created);
    assert_eq!(
        lines(&stub.requests()),
        [
            "GET /repos/acme/rocket/releases/tags/v1.0.0",
            "GET /repos/acme/rocket/releases/tags/v1.0.0",
            "POST /repos/acme/rocket/releases",
        ]
    );
}

#[test]
fn retry_after_is_honoured() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    stub.fail_next_with(Failure {
        retry_after: Some("1".to_string()),
        ..Failure::status(429)
    });
    let started = Instant::now();
    assert!(github.release_by_tag("v1.0.0").unwrap().is_none());
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(stub.requests().len(), 2);
}

#[test]
fn exhausted_retries_report_the_last_status() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    for _ in 0..3 {
        stub.fail_next(503);
    }
    let error = github.release_by_tag("v1.0.0").unwrap_err().to_string();
    assert!(
        error.contains("GET /repos/acme/rocket/releases/tags/v1.0.0 answered HTTP 503"),
        "{error}"
    );
    assert!(error.contains("stubbed failure 503"), "{error}");
    assert_eq!(stub.requests().len(), 3);
}

#[test]
fn a_release_post_is_not_retried_on_rate_limit() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    stub.fail_request(2, Failure::status(429));
    let error = github
        .ensure_release(&spec("v1.0.0", "notes", false))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("POST /repos/acme/rocket/releases answered HTTP 429"),
        "{error}"
    );
    assert_eq!(stub.requests().len(), 2);
    assert!(stub.releases().is_empty());
}

#[test]
fn a_release_post_that_landed_despite_a_5xx_is_not_sent_twice() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    stub.fail_request(
        2,
        Failure {
            apply_first: true,
            ..Failure::status(502)
        },
    );
    let (release, outcome) = github
        .ensure_release(&spec("v1.0.0", "notes", false))
        .unwrap();
    assert_eq!(outcome, Outcome::Created);
    assert_eq!(
        lines(&stub.requests()),
        [
            "GET /repos/acme/rocket/releases/tags/v1.0.0",
            "POST /repos/acme/rocket/releases",
            "GET /repos/acme/rocket/releases/tags/v1.0.0",
        ]
    );
    assert_eq!(stub.releases().len(), 1);
    assert_eq!(release.id, stub.releases()[0].id);
}

#[test]
fn an_asset_post_that_landed_despite_a_5xx_is_not_sent_twice() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let release = existing_release(&stub, &github, "v1.0.0");
    stub.fail_next_with(Failure {
        apply_first: true,
        ..Failure::status(502)
    });
    let (_dir, path) = artifact(b"artifact");
    let (asset, outcome) = github.ensure_asset(&release, &path, "a.bin").unwrap();
    assert_eq!(outcome, Outcome::Uploaded);
    assert_eq!(
        lines(&stub.requests()),
        [
            format!(
                "POST /uploads/repos/acme/rocket/releases/{}/assets?name=a.bin",
                release.id
            ),
            format!("GET /repos/acme/rocket/releases/{}", release.id),
        ]
    );
    let stored = &stub.releases()[0].assets;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, asset.id);
}

#[test]
fn an_asset_post_that_did_not_land_is_sent_again() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let github = client(&stub);
    let release = existing_release(&stub, &github, "v1.0.0");
    stub.fail_next(500);
    let (_dir, path) = artifact(b"artifact");
    let (_, outcome) = github.ensure_asset(&release, &path, "a.bin").unwrap();
    assert_eq!(outcome, Outcome::Uploaded);
    let requests = stub.requests();
    let upload = format!(
        "POST /uploads/repos/acme/rocket/releases/{}/assets?name=a.bin",
        release.id
    );
    assert_eq!(
        lines(&requests),
        [
            upload.clone(),
            format!("GET /repos/acme/rocket/releases/{}", release.id),
            upload,
        ]
    );
    assert_eq!(requests[2].body, b"artifact");
    assert_eq!(stub.releases()[0].assets.len(), 1);
}

#[test]
fn a_wrong_token_is_an_error_without_the_token() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let wrong = "ghp_wrongtoken_abcdef0123";
    let github = GitHub::new(&stub.url(), wrong, REPOSITORY)
        .unwrap()
        .with_retries(3, Duration::from_millis(10));
    let error = github.release_by_tag("v1.0.0").unwrap_err();
    for shown in [
        error.to_string(),
        format!("{error:#}"),
        format!("{error:?}"),
        format!("{github:?}"),
    ] {
        assert!(!shown.contains(wrong), "the token leaked: {shown}");
    }
    let message = error.to_string();
    assert!(
        message.contains("GET /repos/acme/rocket/releases/tags/v1.0.0 answered HTTP 401"),
        "{message}"
    );
    assert!(message.contains("Bad credentials"), "{message}");
    assert_eq!(stub.requests().len(), 1, "401 is not retried");
}

#[test]
fn an_unreachable_api_is_an_error_after_retries() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let github = GitHub::new(&format!("http://127.0.0.1:{port}"), TOKEN, REPOSITORY)
        .unwrap()
        .with_retries(2, Duration::from_millis(10));
    let error = format!("{:#}", github.release_by_tag("v1.0.0").unwrap_err());
    assert!(
        error.contains("GET /repos/acme/rocket/releases/tags/v1.0.0 failed after 2 attempt(s)"),
        "{error}"
    );
    assert!(!error.contains(TOKEN));
}

#[test]
fn from_env_needs_a_token() {
    let none = |_: &str| None;
    assert!(GitHub::from_lookup(REPOSITORY, none).unwrap().is_none());
    let empty = |name: &str| (name == "GITHUB_TOKEN").then(|| "  ".to_string());
    assert!(GitHub::from_lookup(REPOSITORY, empty).unwrap().is_none());

    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let url = format!("{}/", stub.url());
    let set = |name: &str| match name {
        "GITHUB_TOKEN" => Some(TOKEN.to_string()),
        "GITHUB_API_URL" => Some(url.clone()),
        _ => None,
    };
    let github = GitHub::from_lookup(REPOSITORY, set).unwrap().unwrap();
    assert_eq!(github.repository(), REPOSITORY);
    assert!(github.release_by_tag("v9.9.9").unwrap().is_none());
    assert_eq!(
        lines(&stub.requests()),
        ["GET /repos/acme/rocket/releases/tags/v9.9.9"]
    );

    let default_api = |name: &str| (name == "GITHUB_TOKEN").then(|| TOKEN.to_string());
    let github = GitHub::from_lookup(REPOSITORY, default_api)
        .unwrap()
        .unwrap();
    assert!(format!("{github:?}").contains(shiplane::forge::DEFAULT_API_URL));
    assert!(GitHub::from_lookup("not-a-repository", set).is_err());
}

#[test]
fn the_stub_stops_when_dropped() {
    let stub = GitHubStub::start(REPOSITORY, TOKEN);
    let address = stub.url().trim_start_matches("http://").to_string();
    drop(stub);
    assert!(std::net::TcpStream::connect(&address).is_err());
}
