//! GitHub Releases through the REST API: find a release by tag, create or update it, upload
//! assets — each step idempotent, so a re-run after an interruption finishes the job without
//! duplicating or silently replacing anything.
//!
//! The status is read here, never by ureq (`http_status_as_error(false)`). Reads, updates and
//! deletes (GET, PATCH, DELETE) are retried on 429, 5xx and transport errors, with exponential
//! backoff and `Retry-After` honoured (capped). A POST that creates something is retried only
//! when it cannot have landed twice: on a connect error, or on a 5xx after re-reading GitHub to
//! see whether it landed anyway.
//!
//! Error messages name the method, the URL path, the status and GitHub's `message`; the token is
//! never in them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::checksum::sha256_file;
use crate::registry::http::{parse_retry_after, percent_encode, USER_AGENT};
use crate::secrets::Secrets;

/// The public GitHub API, when `GITHUB_API_URL` does not name another (GitHub Enterprise).
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version every request asks for.
const API_VERSION: &str = "2022-11-28";

/// The largest JSON answer read.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// A client for the releases of one repository.
pub struct GitHub {
    /// The API base URL, without a trailing slash.
    api: String,
    token: String,
    /// `owner/name`.
    repository: String,
    agent: ureq::Agent,
    /// Holds the token, to take it out of every message.
    secrets: Secrets,
    /// How many times a request is tried in all (1 = no retry).
    attempts: u32,
    /// The wait before the first retry; it doubles for each further one.
    backoff: Duration,
    /// The longest a `Retry-After` answer makes us wait.
    retry_after_cap: Duration,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api", &self.api)
            .field("token", &"***")
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

/// What a release should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSpec {
    pub tag: String,
    pub name: String,
    pub body: String,
    pub prerelease: bool,
}

/// A release as GitHub describes it.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    pub id: u64,
    pub html_url: String,
    /// Where assets are uploaded: GitHub's template with `{?name,label}` stripped.
    pub upload_url: String,
    pub assets: Vec<AssetInfo>,
}

/// An asset of a release as GitHub describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssetInfo {
    pub id: u64,
    pub name: String,
    pub size: u64,
    /// `sha256:HEX`, as GitHub gives it (older assets have none).
    #[serde(default)]
    pub digest: Option<String>,
    /// `uploaded` when complete; `starter` or `new` after a broken upload.
    pub state: String,
    pub browser_download_url: String,
}

/// What [`GitHub::ensure_release`] or [`GitHub::ensure_asset`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Uploaded,
    Skipped,
}

/// A release as read from the API, with the fields compared by `ensure_release`.
#[derive(Debug, Deserialize)]
struct ReleaseAnswer {
    id: u64,
    html_url: String,
    upload_url: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    prerelease: bool,
    #[serde(default)]
    assets: Vec<AssetInfo>,
}

impl ReleaseAnswer {
    fn into_info(self) -> ReleaseInfo {
        ReleaseInfo {
            id: self.id,
            html_url: self.html_url,
            upload_url: strip_url_template(&self.upload_url),
            assets: self.assets,
        }
    }
}

/// The body of `POST /repos/{owner}/{name}/releases` (field order is the wire order).
#[derive(Serialize)]
struct NewRelease<'a> {
    tag_name: &'a str,
    name: &'a str,
    body: &'a str,
    draft: bool,
    prerelease: bool,
}

/// The body of `PATCH /repos/{owner}/{name}/releases/{id}`: only the fields that change.
#[derive(Serialize, Default)]
struct ReleaseChange<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prerelease: Option<bool>,
}

/// What a request sends.
#[derive(Clone, Copy)]
enum Payload<'a> {
    None,
    Json(&'a [u8]),
    /// The file's exact bytes, streamed (re-opened for each attempt).
    File(&'a Path),
}

/// A finished exchange: any status.
struct Answer {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

/// A failure before any status was read.
struct Transport {
    message: String,
    /// The request cannot have reached the server (so even a POST may be sent again).
    before_sending: bool,
}

/// How a request with a landing check ended.
enum Sent {
    Answer(Answer),
    /// The landing check found the work done after a failed attempt.
    Landed,
}

/// What to do about an asset of the wanted name that already exists.
enum Existing {
    /// Complete and identical: nothing to do.
    Keep(AssetInfo),
    /// A broken earlier upload: delete it, then upload.
    Replace(u64),
}

impl GitHub {
    /// A client for `repository` (`owner/name`) at the API base URL `api` (e.g. the value of
    /// `GITHUB_API_URL`; a trailing slash is fine), authenticated with `token`.
    pub fn new(api: &str, token: &str, repository: &str) -> Result<GitHub> {
        let api = api.trim().trim_end_matches('/');
        if !(api.starts_with("https://") || api.starts_with("http://")) {
            bail!("the GitHub API URL `{api}` is not an http(s) URL");
        }
        let token = token.trim();
        if token.is_empty() || token.chars().any(|c| c.is_control() || c == ' ') {
            bail!("the GitHub token is empty or contains spaces or control characters");
        }
        validate_repository(repository)?;
        let secrets = Secrets::new();
        secrets.add(token);
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        // No overall deadline: an asset can take minutes to send. A stalled read or write fails.
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Ok(GitHub {
            api: api.to_string(),
            token: token.to_string(),
            repository: repository.to_string(),
            agent,
            secrets,
            attempts: 4,
            backoff: Duration::from_millis(500),
            retry_after_cap: Duration::from_secs(60),
        })
    }

    /// From the environment: `GITHUB_TOKEN` (`Ok(None)` when unset or empty) and
    /// `GITHUB_API_URL` (default [`DEFAULT_API_URL`]), for `repository` (`owner/name`).
    pub fn from_env(repository: &str) -> Result<Option<GitHub>> {
        GitHub::from_lookup(repository, |name| std::env::var(name).ok())
    }

    /// [`GitHub::from_env`] with the variables read through `lookup` (for tests).
    pub fn from_lookup(
        repository: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<GitHub>> {
        let Some(token) = lookup("GITHUB_TOKEN").filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let api = lookup("GITHUB_API_URL")
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        GitHub::new(&api, &token, repository)
            .context("setting up the GitHub client from GITHUB_TOKEN and GITHUB_API_URL")
            .map(Some)
    }

    /// Try each request up to `attempts` times, waiting `backoff` (doubling) between tries.
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> GitHub {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// `owner/name`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The release of `tag`; `None` when GitHub has none (drafts are not found by tag).
    pub fn release_by_tag(&self, tag: &str) -> Result<Option<ReleaseInfo>> {
        Ok(self.read_release_by_tag(tag)?.map(ReleaseAnswer::into_info))
    }

    /// Create the release of `spec.tag`, or bring an existing one's name, body and prerelease
    /// flag to `spec` (a PATCH of only the fields that differ), or leave it alone.
    pub fn ensure_release(&self, spec: &ReleaseSpec) -> Result<(ReleaseInfo, Outcome)> {
        if spec.tag.trim().is_empty() {
            bail!("a release needs a tag");
        }
        if let Some(current) = self.read_release_by_tag(&spec.tag)? {
            let change = ReleaseChange {
                name: (current.name.as_deref().unwrap_or("") != spec.name).then_some(&spec.name),
                body: (current.body.as_deref().unwrap_or("") != spec.body).then_some(&spec.body),
                prerelease: (current.prerelease != spec.prerelease).then_some(spec.prerelease),
            };
            if change.name.is_none() && change.body.is_none() && change.prerelease.is_none() {
                return Ok((current.into_info(), Outcome::Unchanged));
            }
            let url = self.repo_url(&format!("releases/{}", current.id));
            let json = serde_json::to_vec(&change).context("encoding the release change")?;
            let answer = self.send("PATCH", &url, Payload::Json(&json))?;
            let updated: ReleaseAnswer = self.expect(&answer, "PATCH", &url, &[200])?;
            return Ok((updated.into_info(), Outcome::Updated));
        }
        let url = self.repo_url("releases");
        let json = serde_json::to_vec(&NewRelease {
            tag_name: &spec.tag,
            name: &spec.name,
            body: &spec.body,
            draft: false,
            prerelease: spec.prerelease,
        })
        .context("encoding the new release")?;
        let mut landed = None;
        let sent = self.send_creation(&url, Payload::Json(&json), &mut || {
            landed = self.read_release_by_tag(&spec.tag)?;
            Ok(landed.is_some())
        })?;
        let created = match (sent, landed) {
            (Sent::Landed, Some(release)) => release,
            (Sent::Answer(answer), _) => self.expect(&answer, "POST", &url, &[200, 201])?,
            (Sent::Landed, None) => bail!("POST {}: lost track of the release", path_of(&url)),
        };
        Ok((created.into_info(), Outcome::Created))
    }

    /// Upload the file at `path` as the asset `name` of `release`, unless it is there already
    /// (same SHA-256, or the same size when GitHub gives no digest): then `Skipped`. An asset of
    /// that name with other content is an error, never replaced; one left incomplete by a broken
    /// upload (any state but `uploaded`, e.g. `starter`) is deleted and uploaded again.
    pub fn ensure_asset(
        &self,
        release: &ReleaseInfo,
        path: &Path,
        name: &str,
    ) -> Result<(AssetInfo, Outcome)> {
        validate_asset_name(name)?;
        let size = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        let sha256 = sha256_file(path)?;
        let existing = release.assets.iter().find(|a| a.name == name);
        match existing
            .map(|a| judge_existing(a, &sha256, size))
            .transpose()?
        {
            Some(Existing::Keep(asset)) => return Ok((asset, Outcome::Skipped)),
            Some(Existing::Replace(id)) => self.delete_asset(id)?,
            None => {}
        }
        if release.upload_url.is_empty() {
            bail!("release {} has no upload URL", release.id);
        }
        let url = format!("{}?name={}", release.upload_url, percent_encode(name));
        let mut landed = None;
        let sent = self.send_creation(&url, Payload::File(path), &mut || {
            let current = self.read_release(release.id)?;
            let existing = current.assets.into_iter().find(|a| a.name == name);
            match existing
                .map(|a| judge_existing(&a, &sha256, size))
                .transpose()?
            {
                Some(Existing::Keep(asset)) => landed = Some(asset),
                Some(Existing::Replace(id)) => self.delete_asset(id)?,
                None => {}
            }
            Ok(landed.is_some())
        })?;
        let asset: AssetInfo = match (sent, landed) {
            (Sent::Landed, Some(asset)) => asset,
            (Sent::Answer(answer), _) => self.expect(&answer, "POST", &url, &[200, 201])?,
            (Sent::Landed, None) => bail!("POST {}: lost track of the asset", path_of(&url)),
        };
        if let Some(theirs) = asset.digest.as_deref().and_then(sha256_of_digest) {
            if theirs != sha256 {
                bail!(
                    "GitHub stored asset `{name}` of release {} with sha256 {theirs}, but {} has \
                     sha256 {sha256}: the upload was corrupted; delete the asset on GitHub and run again",
                    release.id,
                    path.display()
                );
            }
        }
        Ok((asset, Outcome::Uploaded))
    }

    fn read_release_by_tag(&self, tag: &str) -> Result<Option<ReleaseAnswer>> {
        let url = self.repo_url(&format!("releases/tags/{}", percent_encode(tag)));
        let answer = self.send("GET", &url, Payload::None)?;
        if answer.status == 404 {
            return Ok(None);
        }
        self.expect(&answer, "GET", &url, &[200]).map(Some)
    }

    fn read_release(&self, id: u64) -> Result<ReleaseAnswer> {
        let url = self.repo_url(&format!("releases/{id}"));
        let answer = self.send("GET", &url, Payload::None)?;
        self.expect(&answer, "GET", &url, &[200])
    }

    fn delete_asset(&self, id: u64) -> Result<()> {
        let url = self.repo_url(&format!("releases/assets/{id}"));
        let answer = self.send("DELETE", &url, Payload::None)?;
        // Already gone (e.g. a retried DELETE that had landed) is what we wanted.
        if !matches!(answer.status, 204 | 200 | 404) {
            return Err(self.status_error("DELETE", &url, &answer));
        }
        Ok(())
    }

    fn repo_url(&self, rest: &str) -> String {
        format!("{}/repos/{}/{}", self.api, self.repository, rest)
    }

    /// Parse a JSON answer whose status is one of `ok`; any other status is an error.
    fn expect<T: serde::de::DeserializeOwned>(
        &self,
        answer: &Answer,
        method: &str,
        url: &str,
        ok: &[u16],
    ) -> Result<T> {
        if !ok.contains(&answer.status) {
            return Err(self.status_error(method, url, answer));
        }
        serde_json::from_slice(&answer.body).with_context(|| {
            format!(
                "{method} {}: GitHub's answer (HTTP {}) is not the JSON expected",
                path_of(url),
                answer.status
            )
        })
    }

    fn status_error(&self, method: &str, url: &str, answer: &Answer) -> anyhow::Error {
        let mut message = format!("{method} {} answered HTTP {}", path_of(url), answer.status);
        let explained = github_message(&answer.body);
        if !explained.is_empty() {
            message.push_str(": ");
            message.push_str(&explained);
        }
        match answer.status {
            401 => message.push_str(" (is GITHUB_TOKEN valid and unexpired?)"),
            403 => {
                message.push_str(" (does GITHUB_TOKEN have `contents: write` on this repository?)")
            }
            _ => {}
        }
        anyhow::anyhow!(self.secrets.redact(&message))
    }

    /// A GET, PATCH or DELETE: retried on 429, 5xx and transport errors.
    fn send(&self, method: &str, url: &str, payload: Payload) -> Result<Answer> {
        match self.send_with_retries(method, url, payload, true, &mut || Ok(false))? {
            Sent::Answer(answer) => Ok(answer),
            Sent::Landed => bail!("{method} {}: unexpected landing check", path_of(url)),
        }
    }

    /// A POST that creates something: retried on connect errors, and on 5xx only after
    /// `landed` (which re-reads GitHub) says the work is not done.
    fn send_creation(
        &self,
        url: &str,
        payload: Payload,
        landed: &mut dyn FnMut() -> Result<bool>,
    ) -> Result<Sent> {
        self.send_with_retries("POST", url, payload, false, landed)
    }

    fn send_with_retries(
        &self,
        method: &str,
        url: &str,
        payload: Payload,
        idempotent: bool,
        landed: &mut dyn FnMut() -> Result<bool>,
    ) -> Result<Sent> {
        let attempts = self.attempts.max(1);
        let mut after_answer = false;
        for attempt in 1..=attempts {
            if after_answer && landed()? {
                return Ok(Sent::Landed);
            }
            let last = attempt == attempts;
            match self.attempt(method, url, payload) {
                Ok(answer) => {
                    let retry = answer.status >= 500 || (idempotent && answer.status == 429);
                    if !retry || last {
                        return Ok(Sent::Answer(answer));
                    }
                    after_answer = true;
                    std::thread::sleep(self.delay(attempt, answer.retry_after));
                }
                Err(transport) => {
                    if !(idempotent || transport.before_sending) || last {
                        bail!(
                            "{method} {} failed after {attempt} attempt(s): {}",
                            path_of(url),
                            self.secrets.redact(&transport.message)
                        );
                    }
                    std::thread::sleep(self.delay(attempt, None));
                }
            }
        }
        bail!("{method} {}: no attempt was made", path_of(url))
    }

    /// How long to wait after failed attempt number `attempt` (1-based).
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.retry_after_cap);
        }
        let base = self.backoff.saturating_mul(1u32 << (attempt - 1).min(16));
        base + base.mul_f64(jitter() * 0.5)
    }

    fn attempt(&self, method: &str, url: &str, payload: Payload) -> Result<Answer, Transport> {
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header("User-Agent", USER_AGENT);
        let built = |body| Transport {
            message: format!("building the request: {body}"),
            before_sending: false,
        };
        let result = match payload {
            Payload::None => self.agent.run(builder.body(()).map_err(built)?),
            Payload::Json(bytes) => self.agent.run(
                builder
                    .header("Content-Type", "application/json")
                    .body(bytes)
                    .map_err(built)?,
            ),
            Payload::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| Transport {
                    message: format!("reading {}: {e}", path.display()),
                    before_sending: false,
                })?;
                self.agent.run(
                    builder
                        .header("Content-Type", "application/octet-stream")
                        .body(file)
                        .map_err(built)?,
                )
            }
        };
        let mut response = result.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(transport)?;
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }
}

/// Describe a ureq error; connect failures are marked as never having reached the server.
fn transport(error: ureq::Error) -> Transport {
    let before_sending = match &error {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(which) => {
            matches!(which, ureq::Timeout::Connect | ureq::Timeout::Resolve)
        }
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    };
    Transport {
        message: error.to_string(),
        before_sending,
    }
}

/// Decide about an existing asset named like the one to upload.
fn judge_existing(asset: &AssetInfo, sha256: &str, size: u64) -> Result<Existing> {
    if asset.state != "uploaded" {
        return Ok(Existing::Replace(asset.id));
    }
    let fix = "delete the asset on GitHub if the release is not yet used, or release a new version";
    match asset.digest.as_deref().and_then(sha256_of_digest) {
        Some(theirs) if theirs == sha256 => Ok(Existing::Keep(asset.clone())),
        Some(theirs) => bail!(
            "asset `{}` already exists with different content: GitHub has sha256 {theirs}, the \
             local file has sha256 {sha256}; it is never replaced silently — {fix}",
            asset.name
        ),
        None if asset.size == size => Ok(Existing::Keep(asset.clone())),
        None => bail!(
            "asset `{}` already exists with different content: GitHub has {} bytes (no digest \
             given), the local file has {size} bytes with sha256 {sha256}; it is never replaced \
             silently — {fix}",
            asset.name,
            asset.size
        ),
    }
}

/// The lowercase hex of a `sha256:HEX` digest; `None` for another algorithm.
fn sha256_of_digest(digest: &str) -> Option<String> {
    let hex = digest.trim().strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// `https://uploads.example/repos/o/n/releases/1/assets{?name,label}` without the
/// `{?name,label}` URI template.
fn strip_url_template(url: &str) -> String {
    url.split('{').next().unwrap_or(url).to_string()
}

/// The path and query of an absolute URL (what messages show: never the host's credentials).
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or("/", |i| &url[after_scheme + i..])
}

/// GitHub's explanation in an error answer: `message`, then the `errors` entries
/// (`{"resource":"Release","code":"already_exists","field":"tag_name"}`), on one line.
fn github_message(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        return text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(300)
            .collect();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(message) = json.get("message").and_then(|m| m.as_str()) {
        parts.push(message.to_string());
    }
    for error in json
        .get("errors")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
    {
        let text = match error {
            serde_json::Value::String(s) => s.clone(),
            other => ["resource", "field", "code", "message"]
                .iter()
                .filter_map(|k| other.get(k).and_then(|v| v.as_str()))
                .collect::<Vec<_>>()
                .join(" "),
        };
        if !text.is_empty() {
            parts.push(text);
        }
    }
    parts.join("; ")
}

fn validate_repository(repository: &str) -> Result<()> {
    let allowed = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repository.split_once('/') {
        Some((owner, name)) if allowed(owner) && allowed(name) => Ok(()),
        _ => bail!("the GitHub repository `{repository}` is not of the form `owner/name`"),
    }
}

/// GitHub renames asset names with other characters; a renamed asset would not be found again
/// on a re-run, so such names are refused up front.
fn validate_asset_name(name: &str) -> Result<()> {
    let fine = !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~' | '@'));
    if !fine {
        bail!(
            "asset name `{name}` would be renamed by GitHub: use letters, digits and `.-_+~@`, \
             not starting or ending with `.`"
        );
    }
    Ok(())
}

/// A number in [0, 1) that differs between calls (retry jitter; not for anything secret).
fn jitter() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_url_template_is_stripped() {
        assert_eq!(
            strip_url_template("https://uploads.example/repos/o/n/releases/7/assets{?name,label}"),
            "https://uploads.example/repos/o/n/releases/7/assets"
        );
        assert_eq!(strip_url_template("http://h/a/assets"), "http://h/a/assets");
    }

    #[test]
    fn tags_and_asset_names_are_percent_encoded() {
        assert_eq!(percent_encode("sdk/go/v1.2.0"), "sdk%2Fgo%2Fv1.2.0");
        assert_eq!(percent_encode("v1.0.0+build.1"), "v1.0.0%2Bbuild.1");
        assert_eq!(percent_encode("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn paths_shown_in_messages_have_no_host() {
        assert_eq!(
            path_of("https://api.example/repos/o/n/releases?x=1"),
            "/repos/o/n/releases?x=1"
        );
        assert_eq!(path_of("http://127.0.0.1:9"), "/");
    }

    #[test]
    fn digests_and_messages_are_read() {
        let hex = "AB".repeat(32);
        assert_eq!(
            sha256_of_digest(&format!("sha256:{hex}")),
            Some("ab".repeat(32))
        );
        assert_eq!(sha256_of_digest("md5:abc"), None);
        assert_eq!(sha256_of_digest("sha256:short"), None);
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]}"#;
        assert_eq!(
            github_message(body),
            "Validation Failed; Release tag_name already_exists"
        );
        assert_eq!(
            github_message(b"<html>\n oops </html>"),
            "<html> oops </html>"
        );
    }

    #[test]
    fn repositories_and_asset_names_are_checked() {
        assert!(validate_repository("owner/name.rs").is_ok());
        for bad in ["owner", "/name", "owner/", "o/n/x", "o w/n"] {
            assert!(validate_repository(bad).is_err(), "{bad}");
        }
        assert!(validate_asset_name("shiplane-1.0.0-x86_64.tar.gz").is_ok());
        for bad in ["", ".hidden", "a b", "a/b", "trailing."] {
            assert!(validate_asset_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let github = GitHub::new("http://127.0.0.1:9/", "ghp_secretvalue", "o/n").unwrap();
        assert!(!format!("{github:?}").contains("ghp_secretvalue"));
        assert_eq!(github.api, "http://127.0.0.1:9");
    }
}
