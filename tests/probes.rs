//! Registry probes against in-process loopback HTTP servers that answer from a script and record
//! every request: retries, timeouts, `Retry-After`, absence vs failure, the three ecosystems'
//! documents, and concurrency.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shiplane::config::Ecosystem;
use shiplane::registry::http::USER_AGENT;
use shiplane::registry::{probe_all, Endpoint, HttpSettings, ProbeRequest, Prober};

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    at: Instant,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
enum Reply {
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Accept, read the request, and never answer.
    Hang,
}

fn reply(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
    Reply::Respond {
        status,
        headers: vec![("Content-Type", content_type.to_string())],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

fn status(status: u16) -> Reply {
    reply(status, "text/plain", format!("status {status}"))
}

type Script = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A loopback HTTP/1.1 server: one thread per connection, `Connection: close` on every answer.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Start a server answering request number `n` (0-based) with `script(request, n)`.
    fn start(script: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let script = Arc::clone(&script);
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || serve(stream, &*script, &recorded));
            }
        });
        Server { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn serve(mut stream: TcpStream, script: &Script, recorded: &Mutex<Vec<Request>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let request = Request {
        method,
        path,
        headers,
        at: Instant::now(),
    };
    let n = {
        let mut all = recorded.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    match script(&request, n) {
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(60));
        }
        Reply::Respond {
            status,
            headers,
            body,
            delay,
        } => {
            std::thread::sleep(delay);
            let mut out = format!("HTTP/1.1 {status} Scripted\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        }
    }
}

/// Short timeouts and backoff, so failing tests fail fast.
fn fast() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        attempts: 4,
        backoff: Duration::from_millis(10),
        retry_after_cap: Duration::from_secs(5),
        ..HttpSettings::default()
    }
}

fn prober(settings: HttpSettings) -> Prober {
    Prober::new(env!("CARGO_MANIFEST_DIR"), settings)
}

fn npm_endpoint(server: &Server) -> Endpoint {
    Endpoint::from_url(Ecosystem::Npm, &server.url("/")).unwrap()
}

fn packument(name: &str, versions: &[&str]) -> String {
    let versions: serde_json::Map<String, serde_json::Value> = versions
        .iter()
        .map(|v| {
            (
                v.to_string(),
                serde_json::json!({"name": name, "version": v, "license": "MIT"}),
            )
        })
        .collect();
    serde_json::json!({"name": name, "dist-tags": {"latest": "1.0.0"}, "versions": versions})
        .to_string()
}

#[test]
fn a_500_then_200_is_retried_and_succeeds() {
    let server = Server::start(|_, n| {
        if n == 0 {
            status(500)
        } else {
            reply(200, "application/json", packument("left-pad", &["1.0.0"]))
        }
    });
    let prober = prober(fast());
    let exists = prober
        .probe(npm_endpoint(&server))
        .exists("left-pad", "1.0.0");
    assert_eq!(exists, Ok(true));
    assert_eq!(server.count(), 2);
}

#[test]
fn a_500_forever_is_an_error_after_every_attempt_never_absent() {
    let server = Server::start(|_, _| status(503));
    let prober = prober(HttpSettings {
        attempts: 3,
        ..fast()
    });
    let err = prober
        .probe(npm_endpoint(&server))
        .exists("left-pad", "1.0.0")
        .unwrap_err();
    assert_eq!(server.count(), 3);
    assert_eq!(err.status, Some(503));
    assert_eq!(err.attempts, 3);
    assert!(err.url.ends_with("/left-pad"), "{err}");
    assert!(
        err.to_string().contains("HTTP 503") && err.to_string().contains("after 3 attempts"),
        "{err}"
    );
}

#[test]
fn retry_after_is_waited_for() {
    let server = Server::start(|_, n| {
        if n == 0 {
            Reply::Respond {
                status: 429,
                headers: vec![("Retry-After", "1".into())],
                body: b"slow down".to_vec(),
                delay: Duration::ZERO,
            }
        } else {
            reply(200, "application/json", packument("left-pad", &["1.0.0"]))
        }
    });
    let prober = prober(fast());
    let started = Instant::now();
    let exists = prober
        .probe(npm_endpoint(&server))
        .exists("left-pad", "1.0.0");
    assert_eq!(exists, Ok(true));
    assert!(started.elapsed() >= Duration::from_secs(1));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1));
}

#[test]
fn a_hang_times_out_is_retried_then_fails() {
    let server = Server::start(|_, _| Reply::Hang);
    let prober = prober(HttpSettings {
        request_timeout: Duration::from_millis(300),
        attempts: 2,
        ..fast()
    });
    let started = Instant::now();
    let err = prober
        .probe(npm_endpoint(&server))
        .versions("left-pad")
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    // Give the second connection's handler a moment to record its request.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(server.count(), 2);
    assert_eq!(err.attempts, 2);
    assert!(err.message.contains("timed out"), "{err}");
}

#[test]
fn a_refused_connection_is_an_error_after_every_attempt() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let prober = prober(HttpSettings {
        attempts: 2,
        ..fast()
    });
    let endpoint =
        Endpoint::from_url(Ecosystem::Npm, &format!("http://127.0.0.1:{port}/")).unwrap();
    let err = prober
        .probe(endpoint)
        .exists("left-pad", "1.0.0")
        .unwrap_err();
    assert_eq!(err.attempts, 2);
    assert_eq!(err.status, None);
}

#[test]
fn not_found_and_gone_are_absent() {
    for code in [404, 410] {
        let server = Server::start(move |_, _| status(code));
        let prober = prober(fast());
        let probe = prober.probe(npm_endpoint(&server));
        assert_eq!(probe.versions("left-pad"), Ok(None), "{code}");
        assert_eq!(probe.exists("left-pad", "1.0.0"), Ok(false), "{code}");
        assert_eq!(
            server.count(),
            2,
            "{code}: one request per question, no retry"
        );
    }
}

#[test]
fn forbidden_is_an_error_at_once() {
    let server = Server::start(|_, _| reply(403, "application/json", r#"{"error":"no access"}"#));
    let prober = prober(fast());
    let err = prober
        .probe(npm_endpoint(&server))
        .exists("left-pad", "1.0.0")
        .unwrap_err();
    assert_eq!(server.count(), 1);
    assert_eq!(err.status, Some(403));
    assert_eq!(err.attempts, 1);
    assert!(
        err.message.contains("no access"),
        "the registry's words: {err}"
    );
}

#[test]
fn every_request_says_who_it_is() {
    let server = Server::start(|_, _| status(404));
    let prober = prober(fast());
    prober
        .probe(npm_endpoint(&server))
        .versions("left-pad")
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.header("User-Agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with(concat!(
        "shiplane/",
        env!("CARGO_PKG_VERSION"),
        " (+https://"
    )));
}

#[test]
fn credentials_in_the_url_become_basic_auth_and_stay_out_of_errors() {
    let server = Server::start(|_, _| status(401));
    let prober = prober(fast());
    let url = server.url("/").replace("http://", "http://me:s3cret@");
    let endpoint = Endpoint::from_url(Ecosystem::Npm, &url).unwrap();
    let err = prober.probe(endpoint).versions("left-pad").unwrap_err();
    let request = &server.requests()[0];
    assert_eq!(request.header("Authorization"), Some("Basic bWU6czNjcmV0"));
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert_eq!(err.status, Some(401));
}

#[test]
fn an_oversized_answer_is_an_error() {
    let server = Server::start(|_, _| reply(200, "application/json", vec![b' '; 10_000]));
    let prober = prober(HttpSettings {
        max_body_bytes: 1000,
        ..fast()
    });
    let err = prober
        .probe(npm_endpoint(&server))
        .versions("left-pad")
        .unwrap_err();
    assert!(err.message.contains("limit"), "{err}");
    assert_eq!(server.count(), 1);
}

const INDEX_FILE: &str = concat!(
    r#"{"name":"Hello-Probe","vers":"0.1.0","deps":[],"cksum":"aa","features":{},"yanked":true}"#,
    "\n",
    r#"{"name":"Hello-Probe","vers":"0.2.0","deps":[],"cksum":"bb","features":{},"yanked":false,"rust_version":"1.70"}"#,
    "\n",
);

#[test]
fn sparse_index_with_a_yanked_version() {
    // The server's own URL, known once it is listening.
    let base = Arc::new(Mutex::new(String::new()));
    let seen_by_server = Arc::clone(&base);
    let server = Server::start(move |request, _| match request.path.as_str() {
        "/index/config.json" => reply(
            200,
            "application/json",
            format!(
                r#"{{"dl":"{0}dl/{{crate}}/{{version}}/download","api":"{0}"}}"#,
                seen_by_server.lock().unwrap()
            ),
        ),
        "/index/he/ll/hello-probe" => reply(200, "text/plain", INDEX_FILE),
        _ => status(404),
    });
    *base.lock().unwrap() = server.url("/");
    let endpoint = Endpoint::from_url(
        Ecosystem::Cargo,
        &format!("sparse+{}", server.url("/index")),
    )
    .unwrap();
    let prober = prober(fast());
    let probe = prober.probe(endpoint);

    assert_eq!(probe.exists("Hello-Probe", "0.2.0"), Ok(true));
    assert_eq!(
        probe.exists("hello-probe", "0.1.0"),
        Ok(true),
        "yanked still exists"
    );
    assert_eq!(probe.exists("hello-probe", "0.3.0"), Ok(false));
    assert_eq!(probe.exists("nope", "1.0.0"), Ok(false));
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/index/he/ll/hello-probe",
            "/index/he/ll/hello-probe",
            "/index/he/ll/hello-probe",
            "/index/no/pe/nope"
        ],
        "`exists` reads the index file only"
    );

    let package = probe.versions("hello-probe").unwrap().unwrap();
    assert_eq!(package.name, "Hello-Probe");
    assert!(package.complete);
    assert_eq!(package.versions.len(), 2);
    let yanked = package.find("0.1.0").unwrap();
    assert!(yanked.yanked);
    let current = package.find("0.2.0").unwrap();
    assert!(!current.yanked);
    assert_eq!(current.meta["rust_version"], "1.70");
    assert_eq!(current.files[0].filename, "Hello-Probe-0.2.0.crate");
    assert_eq!(
        current.files[0].url,
        server.url("/dl/Hello-Probe/0.2.0/download")
    );
    assert_eq!(current.files[0].hashes["sha256"], "bb");

    // config.json is read once per run.
    probe.versions("hello-probe").unwrap();
    let configs = server
        .requests()
        .iter()
        .filter(|r| r.path == "/index/config.json")
        .count();
    assert_eq!(configs, 1);
}

const HTML_PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>Links for hello-probe</title></head><body>
<a href="../../packages/hello_probe-0.1.0-py3-none-any.whl#sha256=aaaa">hello_probe-0.1.0-py3-none-any.whl</a><br>
<a href="../../packages/hello_probe-0.2.0rc1.tar.gz#sha256=bbbb" data-requires-python="&gt;=3.8">hello_probe-0.2.0rc1.tar.gz</a><br>
<a href="hello_probe-0.1.5.tar.gz#sha256=cccc" data-yanked="broken">hello_probe-0.1.5.tar.gz</a><br>
</body></html>"#;

#[test]
fn pep503_html_page() {
    let server = Server::start(|request, _| match request.path.as_str() {
        "/simple/hello-probe/" => reply(200, "text/html", HTML_PAGE),
        _ => status(404),
    });
    let endpoint = Endpoint::from_url(Ecosystem::Python, &server.url("/simple")).unwrap();
    let prober = prober(fast());
    let probe = prober.probe(endpoint);
    let package = probe.versions("Hello_Probe").unwrap().unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.path, "/simple/hello-probe/");
    assert!(
        request
            .header("Accept")
            .is_some_and(|a| a.starts_with("application/vnd.pypi.simple.v1+json")),
        "{request:?}"
    );
    let versions: Vec<&str> = package
        .versions
        .iter()
        .map(|p| p.version.as_str())
        .collect();
    assert_eq!(versions, ["0.1.0", "0.1.5", "0.2.0rc1"]);
    let rc = package.find("0.2.0-rc.1").unwrap();
    assert_eq!(
        rc.files[0].url,
        server.url("/packages/hello_probe-0.2.0rc1.tar.gz")
    );
    assert_eq!(rc.files[0].hashes["sha256"], "bbbb");
    assert_eq!(rc.files[0].requires_python.as_deref(), Some(">=3.8"));
    let yanked = package.find("0.1.5").unwrap();
    assert!(yanked.yanked);
    assert_eq!(yanked.yanked_reason.as_deref(), Some("broken"));
    assert_eq!(
        yanked.files[0].url,
        server.url("/simple/hello-probe/hello_probe-0.1.5.tar.gz")
    );
    assert_eq!(probe.exists("hello.probe", "0.2.0rc1"), Ok(true));
    assert_eq!(probe.exists("hello-probe", "0.2.0"), Ok(false));
    assert_eq!(probe.exists("other", "1.0.0"), Ok(false));
}

#[test]
fn pep691_json_when_asked_for_json() {
    let server = Server::start(|request, _| {
        let wants_json = request
            .header("Accept")
            .is_some_and(|a| a.contains("application/vnd.pypi.simple.v1+json"));
        if wants_json {
            reply(
                200,
                "application/vnd.pypi.simple.v1+json",
                r#"{"meta":{"api-version":"1.1"},"name":"hello-probe","files":[
                    {"filename":"hello_probe-9.9.9-py3-none-any.whl","url":"/files/hello_probe-9.9.9-py3-none-any.whl",
                     "hashes":{"sha256":"ffff"},"requires-python":">=3.9","yanked":false,"size":42}],
                    "versions":["9.9.9"]}"#,
            )
        } else {
            reply(200, "text/html", HTML_PAGE)
        }
    });
    let endpoint = Endpoint::from_url(Ecosystem::Python, &server.url("/simple/")).unwrap();
    let prober = prober(fast());
    let package = prober
        .probe(endpoint)
        .versions("hello-probe")
        .unwrap()
        .unwrap();
    assert_eq!(package.versions.len(), 1);
    let file = &package.find("9.9.9").unwrap().files[0];
    assert_eq!(
        file.url,
        server.url("/files/hello_probe-9.9.9-py3-none-any.whl")
    );
    assert_eq!(file.size, Some(42));
    assert_eq!(file.hashes["sha256"], "ffff");
}

#[test]
fn npm_packument_of_a_scoped_package() {
    let server = Server::start(|request, _| {
        if request.path == "/@scope%2fname" {
            reply(
                200,
                "application/json",
                r##"{"name":"@scope/name","dist-tags":{"latest":"1.0.0"},"readme":"# name",
                   "versions":{"1.0.0":{"name":"@scope/name","version":"1.0.0","license":"MIT",
                   "description":"A scoped package","repository":{"type":"git","url":"git+https://example.invalid/name.git"},
                   "dist":{"tarball":"http://127.0.0.1:1/@scope/name/-/name-1.0.0.tgz","shasum":"abc","integrity":"sha512-xyz"}}}}"##,
            )
        } else {
            status(404)
        }
    });
    let prober = prober(fast());
    let probe = prober.probe(npm_endpoint(&server));
    let package = probe.versions("@scope/name").unwrap().unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.path, "/@scope%2fname");
    assert_eq!(request.header("Accept"), Some("application/json"));
    assert_eq!(package.name, "@scope/name");
    assert_eq!(package.readme.as_deref(), Some("# name"));
    assert_eq!(package.dist_tags["latest"], "1.0.0");
    let v = package.find("1.0.0").unwrap();
    assert_eq!(v.license.as_deref(), Some("MIT"));
    assert_eq!(v.description.as_deref(), Some("A scoped package"));
    assert_eq!(v.files[0].filename, "name-1.0.0.tgz");
    assert_eq!(v.files[0].integrity.as_deref(), Some("sha512-xyz"));
    assert_eq!(probe.exists("@scope/name", "1.0.0"), Ok(true));
    assert_eq!(probe.exists("@scope/name", "1.0.1"), Ok(false));
}

#[test]
fn probe_all_answers_thirty_packages_in_about_one_round_trip() {
    let server = Server::start(|request, _| {
        let name = request.path.trim_start_matches('/').to_string();
        Reply::Respond {
            status: 200,
            headers: vec![("Content-Type", "application/json".into())],
            body: packument(&name, &["1.0.0"]).into_bytes(),
            delay: Duration::from_millis(200),
        }
    });
    let prober = prober(fast());
    let requests: Vec<ProbeRequest> = (0..30)
        .map(|i| {
            let version = if i % 2 == 0 { "1.0.0" } else { "2.0.0" };
            ProbeRequest::exists(npm_endpoint(&server), format!("pkg-{i}"), version)
        })
        .collect();
    let started = Instant::now();
    let answers = probe_all(&prober, &requests, 32);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(answers.len(), 30);
    for (i, answer) in answers.iter().enumerate() {
        let answer = answer.as_ref().unwrap();
        assert_eq!(
            answer.package.as_ref().unwrap().name,
            format!("pkg-{i}"),
            "answers come back in request order"
        );
        assert_eq!(answer.exists, Some(i % 2 == 0));
    }
    assert_eq!(server.count(), 30);
}

#[test]
fn probe_all_keeps_failures_in_their_place() {
    let server = Server::start(|request, _| match request.path.as_str() {
        "/present" => reply(200, "application/json", packument("present", &["1.0.0"])),
        "/forbidden" => status(403),
        _ => status(404),
    });
    let prober = prober(fast());
    let requests = [
        ProbeRequest::versions(npm_endpoint(&server), "present"),
        ProbeRequest::versions(npm_endpoint(&server), "forbidden"),
        ProbeRequest::exists(npm_endpoint(&server), "absent", "1.0.0"),
    ];
    let answers = probe_all(&prober, &requests, 2);
    let present = answers[0].as_ref().unwrap();
    assert_eq!(present.exists, None);
    assert!(present.package.as_ref().unwrap().contains("1.0.0"));
    assert_eq!(answers[1].as_ref().unwrap_err().status, Some(403));
    let absent = answers[2].as_ref().unwrap();
    assert_eq!(
        (absent.package.as_ref(), absent.exists),
        (None, Some(false))
    );
}
