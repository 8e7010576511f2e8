//! A loopback HTTP/1.1 stub of the trusted-publishing services: the GitHub Actions ID-token
//! endpoint and the Cargo and Python exchange endpoints. It records every request (method,
//! path with query, headers, body) so tests assert the exact requests, answers from per-route
//! queues, and stops when dropped.
//!
//! ```ignore
//! let stub = OidcStub::start();
//! stub.reply("POST", CARGO_TOKENS_PATH, 401, r#"{"errors":[{"detail":"no"}]}"#);
//! let requests = stub.requests();
//! ```

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the stub's ID-token endpoint hands out, and the token that must ask for it.
pub const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InN0dWIifQ.eyJzdWIiOiJyZXBvOmV4YW1wbGUvcmVwbyJ9.c3R1Yi1zaWduYXR1cmU";
pub const REQUEST_TOKEN: &str = "actions-request-token-5f1c2e9a7b";
pub const CARGO_TOKEN: &str = "cargo-trusted-token-8d3b1f0c6e";
pub const PYTHON_TOKEN: &str = "pypi-minted-token-2a7e4c9d1b";

pub const ID_TOKEN_PATH: &str = "/_apis/idtoken";
pub const CARGO_TOKENS_PATH: &str = "/api/v1/trusted_publishing/tokens";
pub const PYTHON_MINT_PATH: &str = "/_/oidc/mint-token";

/// A request as the stub saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body of {} {} is not JSON ({e}): {}",
                self.method,
                self.target,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

type Routes = HashMap<(String, String), VecDeque<Reply>>;

/// The running stub; dropping it stops the server thread.
pub struct OidcStub {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    routes: Arc<Mutex<Routes>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl OidcStub {
    /// A stub whose routes answer like the real services when all is well: the ID-token
    /// endpoint `{"count":..,"value":JWT}`, both exchanges `{"token":..}`, revocation 204.
    pub fn start() -> OidcStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("the stub's address");
        let mut stub = OidcStub {
            addr,
            requests: Arc::new(Mutex::new(Vec::new())),
            routes: Arc::new(Mutex::new(HashMap::new())),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        stub.reply(
            "GET",
            ID_TOKEN_PATH,
            200,
            &format!(r#"{{"count":1510,"value":"{JWT}"}}"#),
        );
        stub.reply(
            "POST",
            CARGO_TOKENS_PATH,
            200,
            &format!(r#"{{"token":"{CARGO_TOKEN}"}}"#),
        );
        stub.reply("DELETE", CARGO_TOKENS_PATH, 204, "");
        stub.reply(
            "POST",
            PYTHON_MINT_PATH,
            200,
            &format!(r#"{{"success":true,"token":"{PYTHON_TOKEN}","expires":1900000000}}"#),
        );
        let (requests, routes, stop) = (
            Arc::clone(&stub.requests),
            Arc::clone(&stub.routes),
            Arc::clone(&stub.stop),
        );
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &requests, &routes);
                }
            }
        });
        stub.thread = Some(thread);
        stub
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answer `method path` (query ignored) with these replies in turn; the first call replaces
    /// the default, and the last reply repeats.
    pub fn replies(&self, method: &str, path: &str, replies: &[(u16, &str)]) {
        let queue = replies
            .iter()
            .map(|(status, body)| Reply {
                status: *status,
                body: body.to_string(),
            })
            .collect();
        self.routes
            .lock()
            .unwrap()
            .insert((method.to_string(), path.to_string()), queue);
    }

    /// Answer `method path` with one reply, every time.
    pub fn reply(&self, method: &str, path: &str, status: u16, body: &str) {
        self.replies(method, path, &[(status, body)]);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for OidcStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Read one request (Content-Length bodies only), record it, answer, close.
fn serve(stream: TcpStream, requests: &Mutex<Vec<Recorded>>, routes: &Mutex<Routes>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    let reply = {
        let mut routes = routes.lock().unwrap();
        match routes.get_mut(&(method.clone(), path)) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        }
    }
    .unwrap_or(Reply {
        status: 404,
        body: r#"{"errors":[{"detail":"the stub has no such route"}]}"#.to_string(),
    });
    requests.lock().unwrap().push(Recorded {
        method,
        target,
        headers,
        body,
    });
    let content_type = if reply.body.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    let answer = format!(
        "HTTP/1.1 {} Stub\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
    let mut write_half = write_half;
    let _ = write_half.write_all(answer.as_bytes());
    let _ = write_half.flush();
}
