//! A loopback stand-in for the GitHub Releases REST API: one thread on 127.0.0.1, HTTP/1.1 with
//! `Content-Length` bodies and `Connection: close`, an in-memory model of releases and assets,
//! and a record of every request (so tests assert the exact requests a client made).
//!
//! ```ignore
//! let stub = GitHubStub::start("owner/name", "token");
//! let github = GitHub::new(&stub.url(), "token", "owner/name")?;
//! stub.fail_next(500);                 // the next request is answered 500
//! assert_eq!(stub.requests()[0].method, "GET");
//! ```
//!
//! Served (everything else is 404 `{"message":"Not Found"}`; a wrong token is 401
//! `{"message":"Bad credentials"}`):
//! - `GET    /repos/{o}/{n}/releases/tags/{tag}` (the tag is one percent-encoded segment)
//! - `GET    /repos/{o}/{n}/releases/{id}`
//! - `POST   /repos/{o}/{n}/releases` → 201 (422 when the tag has a release)
//! - `PATCH  /repos/{o}/{n}/releases/{id}` → 200
//! - `POST   /uploads/repos/{o}/{n}/releases/{id}/assets?name=NAME` → 201 (422 when the name exists)
//! - `DELETE /repos/{o}/{n}/releases/assets/{id}` → 204

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use shiplane::checksum::sha256_hex;

/// A request as the stub received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path and query, exactly as sent (still percent-encoded).
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `METHOD path` — handy for asserting a sequence of requests.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A release in the stub's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubRelease {
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub body: String,
    pub prerelease: bool,
    pub assets: Vec<StubAsset>,
}

/// An asset in the stub's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubAsset {
    pub id: u64,
    pub name: String,
    pub size: u64,
    /// `sha256:HEX`, or `None` (as GitHub gives for older assets).
    pub digest: Option<String>,
    pub state: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// How to fail one request.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    /// A `Retry-After` header to send.
    pub retry_after: Option<String>,
    /// Carry the request out first, then answer `status` (a failure after the work landed).
    pub apply_first: bool,
}

impl Failure {
    pub fn status(status: u16) -> Failure {
        Failure {
            status,
            retry_after: None,
            apply_first: false,
        }
    }
}

#[derive(Default)]
struct State {
    base: String,
    repository: String,
    token: String,
    releases: Vec<StubRelease>,
    next_id: u64,
    requests: Vec<Request>,
    /// How many requests were received (not reset by `take_requests`).
    received: usize,
    /// Failures by the 1-based number of the request they answer.
    failures: BTreeMap<usize, Failure>,
}

/// The running stub; stops its thread when dropped.
pub struct GitHubStub {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GitHubStub {
    /// Serve the releases of `repository` (`owner/name`) to clients sending `Bearer {token}`.
    pub fn start(repository: &str, token: &str) -> GitHubStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("the stub's address");
        let state = Arc::new(Mutex::new(State {
            base: format!("http://{address}"),
            repository: repository.to_string(),
            token: token.to_string(),
            next_id: 1,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &state);
                    }
                }
            })
        };
        GitHubStub {
            address,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (the API base URL; no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Every request so far, forgetting them (the next call starts afresh).
    pub fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut self.lock().requests)
    }

    /// A snapshot of the releases.
    pub fn releases(&self) -> Vec<StubRelease> {
        self.lock().releases.clone()
    }

    /// Answer the next request not already set to fail with `status` (JSON `message`).
    pub fn fail_next(&self, status: u16) {
        self.fail_next_with(Failure::status(status));
    }

    pub fn fail_next_with(&self, failure: Failure) {
        let mut state = self.lock();
        let after = state.failures.keys().next_back().copied().unwrap_or(0);
        let n = after.max(state.received) + 1;
        state.failures.insert(n, failure);
    }

    /// Answer request number `n` (1-based, counting every request since the start) with `failure`.
    pub fn fail_request(&self, n: usize, failure: Failure) {
        self.lock().failures.insert(n, failure);
    }

    /// Add a release directly; returns its id.
    pub fn add_release(&self, tag: &str, name: &str, body: &str, prerelease: bool) -> u64 {
        let mut state = self.lock();
        let id = state.take_id();
        state.releases.push(StubRelease {
            id,
            tag_name: tag.to_string(),
            name: name.to_string(),
            body: body.to_string(),
            prerelease,
            assets: Vec::new(),
        });
        id
    }

    /// Add an asset directly (in any `state`, with or without a digest); returns its id.
    pub fn add_asset(
        &self,
        release_id: u64,
        name: &str,
        bytes: &[u8],
        state_name: &str,
        with_digest: bool,
    ) -> u64 {
        let mut state = self.lock();
        let id = state.take_id();
        let release = state
            .releases
            .iter_mut()
            .find(|r| r.id == release_id)
            .expect("add_asset: no such release");
        release.assets.push(StubAsset {
            id,
            name: name.to_string(),
            size: bytes.len() as u64,
            digest: with_digest.then(|| format!("sha256:{}", sha256_hex(bytes))),
            state: state_name.to_string(),
            content_type: "application/octet-stream".to_string(),
            bytes: bytes.to_vec(),
        });
        id
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for GitHubStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl State {
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn release_json(&self, release: &StubRelease) -> Value {
        let (base, repo) = (&self.base, &self.repository);
        json!({
            "id": release.id,
            "tag_name": release.tag_name,
            "name": release.name,
            "body": release.body,
            "draft": false,
            "prerelease": release.prerelease,
            "html_url": format!("{base}/{repo}/releases/tag/{}", release.tag_name),
            "upload_url": format!("{base}/uploads/repos/{repo}/releases/{}/assets{{?name,label}}", release.id),
            "assets": release.assets.iter().map(|a| self.asset_json(release, a)).collect::<Vec<_>>(),
        })
    }

    fn asset_json(&self, release: &StubRelease, asset: &StubAsset) -> Value {
        json!({
            "id": asset.id,
            "name": asset.name,
            "size": asset.size,
            "digest": asset.digest,
            "state": asset.state,
            "content_type": asset.content_type,
            "browser_download_url": format!(
                "{}/{}/releases/download/{}/{}", self.base, self.repository, release.tag_name, asset.name
            ),
        })
    }

    /// Answer one request from the model: (status, JSON body or none).
    fn route(&mut self, request: &Request) -> (u16, Option<Value>) {
        let not_found = (404, Some(json!({"message": "Not Found"})));
        let (path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));
        let api_prefix = format!("/repos/{}/releases", self.repository);
        let upload_prefix = format!("/uploads/repos/{}/releases/", self.repository);
        let method = request.method.as_str();
        if let Some(rest) = path.strip_prefix(&upload_prefix) {
            let Some(id) = rest.strip_suffix("/assets").and_then(|i| i.parse().ok()) else {
                return not_found;
            };
            if method != "POST" {
                return not_found;
            }
            let name = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("name="))
                .map(percent_decode)
                .unwrap_or_default();
            return self.upload(id, &name, request);
        }
        let Some(rest) = path.strip_prefix(&api_prefix) else {
            return not_found;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            return not_found;
        }
        let segments: Vec<&str> = rest.split('/').skip(1).collect();
        match (method, segments.as_slice()) {
            ("POST", []) | ("POST", [""]) => self.create(request),
            ("GET", ["tags", tag]) => {
                let tag = percent_decode(tag);
                match self.releases.iter().find(|r| r.tag_name == tag) {
                    Some(release) => (200, Some(self.release_json(release))),
                    None => not_found,
                }
            }
            ("GET", [id]) => match self.releases.iter().find(|r| Some(r.id) == id.parse().ok()) {
                Some(release) => (200, Some(self.release_json(release))),
                None => not_found,
            },
            ("PATCH", [id]) => self.update(id.parse().ok(), request),
            ("DELETE", ["assets", id]) => {
                let id: Option<u64> = id.parse().ok();
                for release in &mut self.releases {
                    if let Some(i) = release.assets.iter().position(|a| Some(a.id) == id) {
                        release.assets.remove(i);
                        return (204, None);
                    }
                }
                not_found
            }
            _ => not_found,
        }
    }

    fn create(&mut self, request: &Request) -> (u16, Option<Value>) {
        let Ok(json) = serde_json::from_slice::<Value>(&request.body) else {
            return (400, Some(json!({"message": "Problems parsing JSON"})));
        };
        let text = |key: &str| {
            json.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let tag = text("tag_name");
        if tag.is_empty() || self.releases.iter().any(|r| r.tag_name == tag) {
            return (
                422,
                Some(json!({"message": "Validation Failed",
                "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]})),
            );
        }
        let id = self.take_id();
        let release = StubRelease {
            id,
            tag_name: tag,
            name: text("name"),
            body: text("body"),
            prerelease: json
                .get("prerelease")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            assets: Vec::new(),
        };
        let answer = self.release_json(&release);
        self.releases.push(release);
        (201, Some(answer))
    }

    fn update(&mut self, id: Option<u64>, request: &Request) -> (u16, Option<Value>) {
        let Ok(json) = serde_json::from_slice::<Value>(&request.body) else {
            return (400, Some(json!({"message": "Problems parsing JSON"})));
        };
        let Some(release) = self.releases.iter_mut().find(|r| Some(r.id) == id) else {
            return (404, Some(json!({"message": "Not Found"})));
        };
        if let Some(name) = json.get("name").and_then(Value::as_str) {
            release.name = name.to_string();
        }
        if let Some(body) = json.get("body").and_then(Value::as_str) {
            release.body = body.to_string();
        }
        if let Some(prerelease) = json.get("prerelease").and_then(Value::as_bool) {
            release.prerelease = prerelease;
        }
        let release = release.clone();
        (200, Some(self.release_json(&release)))
    }

    fn upload(&mut self, id: u64, name: &str, request: &Request) -> (u16, Option<Value>) {
        let Some(content_type) = request.header("content-type").map(str::to_string) else {
            return (
                422,
                Some(json!({"message": "Content-Type header is required"})),
            );
        };
        let asset_id = self.take_id();
        let Some(release) = self.releases.iter_mut().find(|r| r.id == id) else {
            return (404, Some(json!({"message": "Not Found"})));
        };
        if name.is_empty() || release.assets.iter().any(|a| a.name == name) {
            return (
                422,
                Some(json!({"message": "Validation Failed",
                "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]})),
            );
        }
        let asset = StubAsset {
            id: asset_id,
            name: name.to_string(),
            size: request.body.len() as u64,
            digest: Some(format!("sha256:{}", sha256_hex(&request.body))),
            state: "uploaded".to_string(),
            content_type,
            bytes: request.body.clone(),
        };
        release.assets.push(asset.clone());
        let release = release.clone();
        (201, Some(self.asset_json(&release, &asset)))
    }
}

/// Read one request, record it, answer it, close.
fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.requests.push(request.clone());
    state.received += 1;
    let number = state.received;
    let failure = state.failures.remove(&number);
    let authorized = request.header("authorization") == Some(&format!("Bearer {}", state.token));
    let (status, body, retry_after) = match failure {
        Some(failure) => {
            if failure.apply_first && authorized {
                state.route(&request);
            }
            let message = format!("stubbed failure {}", failure.status);
            (
                failure.status,
                Some(json!({"message": message})),
                failure.retry_after,
            )
        }
        None if request.header("transfer-encoding").is_some() => {
            (411, Some(json!({"message": "Length Required"})), None)
        }
        None if !authorized => (401, Some(json!({"message": "Bad credentials"})), None),
        None => {
            let (status, body) = state.route(&request);
            (status, body, None)
        }
    };
    drop(state);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {status} Stub\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    if let Some(wait) = retry_after {
        head.push_str(&format!("Retry-After: {wait}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// Decode `%XX` escapes (and nothing else: `+` stays `+`).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
