//! Read-only HTTP for registry probes: one [`ureq::Agent`] per run, an identifying User-Agent,
//! timeouts, bounded retries with exponential backoff and jitter, `Retry-After` honoured, and a
//! size cap on every body.
//!
//! The status is read here, never by ureq (`http_status_as_error(false)`): 404 and 410 mean
//! "absent" (`Ok(None)`); 429, 5xx, connect errors and timeouts are retried; anything else is an
//! error at once. A failure is never reported as "absent".

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::ResponseExt;

use super::ProbeError;

/// What every request says it is.
pub const USER_AGENT: &str = concat!(
    "shiplane/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/shiplane/shiplane)"
);

/// Timeouts, retries and limits. `Default` is what a release run uses; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Budget for establishing a connection (DNS excluded).
    pub connect_timeout: Duration,
    /// Budget for one whole request: connect, send, headers and body.
    pub request_timeout: Duration,
    /// How many times a request is tried in all (1 = no retry).
    pub attempts: u32,
    /// The wait before the first retry; it doubles for each further one (plus up to 50% jitter).
    pub backoff: Duration,
    /// The longest a `Retry-After` answer makes us wait.
    pub retry_after_cap: Duration,
    /// The largest body read; a bigger one is an error.
    pub max_body_bytes: u64,
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            attempts: 4,
            backoff: Duration::from_millis(250),
            retry_after_cap: Duration::from_secs(30),
            max_body_bytes: 50 * 1024 * 1024,
            user_agent: USER_AGENT.to_string(),
        }
    }
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL finally read (after redirects), without credentials: the base for relative links.
    pub url: String,
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// How many attempts it took.
    pub attempts: u32,
}

impl Fetched {
    /// The body as text (invalid UTF-8 is an error: registries answer in UTF-8).
    pub fn text(&self) -> Result<&str, ProbeError> {
        std::str::from_utf8(&self.body).map_err(|e| {
            ProbeError::new(&self.url, format!("the answer is not UTF-8 text: {e}"))
                .with_status(self.status)
        })
    }
}

/// The HTTP client of a run. Cheap to share by reference across threads.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
    settings: HttpSettings,
}

/// What one attempt came to.
enum Attempt {
    Done(Fetched),
    Absent,
    /// Worth another try, after `retry_after` if the server said so.
    Retry {
        error: ProbeError,
        retry_after: Option<Duration>,
    },
    Fatal(ProbeError),
}

impl Http {
    pub fn new(settings: HttpSettings) -> Http {
        // The operating system's trust store, not a bundled one: registries behind a corporate
        // proxy or with a private CA are read the way the ecosystem clients read them.
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .user_agent(settings.user_agent.as_str())
            .timeout_connect(Some(settings.connect_timeout))
            .timeout_global(Some(settings.request_timeout))
            .build()
            .new_agent();
        Http { agent, settings }
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// GET `url` asking for `accept`. `Ok(None)` when the server answers 404 or 410; every other
    /// failure, after the allowed retries, is an error naming the URL and the last status.
    pub fn get(&self, url: &str, accept: &str) -> Result<Option<Fetched>, ProbeError> {
        let attempts = self.settings.attempts.max(1);
        let mut last = None;
        for attempt in 1..=attempts {
            match self.attempt(url, accept) {
                Attempt::Done(mut fetched) => {
                    fetched.attempts = attempt;
                    return Ok(Some(fetched));
                }
                Attempt::Absent => return Ok(None),
                Attempt::Fatal(error) => return Err(error.after_attempts(attempt)),
                Attempt::Retry { error, retry_after } => {
                    last = Some(error);
                    if attempt < attempts {
                        std::thread::sleep(self.delay(attempt, retry_after));
                    }
                }
            }
        }
        let error = last.unwrap_or_else(|| ProbeError::new(url, "no attempt was made"));
        Err(error.after_attempts(attempts))
    }

    /// How long to wait after failed attempt number `attempt` (1-based).
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.settings.retry_after_cap);
        }
        let factor = 1u32 << (attempt - 1).min(16);
        let base = self.settings.backoff.saturating_mul(factor);
        base + base.mul_f64(jitter() * 0.5)
    }

    fn attempt(&self, url: &str, accept: &str) -> Attempt {
        let (plain, credentials) = split_userinfo(url);
        let shown = redact(url);
        let mut request = self.agent.get(&plain).header("Accept", accept);
        if let Some((user, password)) = &credentials {
            let token = base64(format!("{user}:{password}").as_bytes());
            request = request.header("Authorization", format!("Basic {token}"));
        }
        let mut response = match request.call() {
            Ok(response) => response,
            Err(error) => return transport_error(&shown, error),
        };
        let status = response.status().as_u16();
        let final_url = redact(&response.get_uri().to_string());
        match status {
            200..=299 => {
                let content_type = header(&response, "content-type");
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(self.settings.max_body_bytes)
                    .read_to_vec();
                match body {
                    Ok(body) => Attempt::Done(Fetched {
                        url: final_url,
                        status,
                        content_type,
                        body,
                        attempts: 1,
                    }),
                    Err(ureq::Error::BodyExceedsLimit(limit)) => Attempt::Fatal(
                        ProbeError::new(
                            &shown,
                            format!("the answer is larger than the {limit}-byte limit"),
                        )
                        .with_status(status),
                    ),
                    Err(error) => match transport_error(&shown, error) {
                        Attempt::Retry { error, retry_after } => Attempt::Retry {
                            error: error.with_status(status),
                            retry_after,
                        },
                        Attempt::Fatal(error) => Attempt::Fatal(error.with_status(status)),
                        other => other,
                    },
                }
            }
            404 | 410 => Attempt::Absent,
            429 | 500..=599 => {
                let retry_after = header(&response, "retry-after")
                    .and_then(|v| parse_retry_after(&v, SystemTime::now()));
                let snippet = body_snippet(&mut response);
                Attempt::Retry {
                    error: ProbeError::new(&shown, status_message(status, &snippet))
                        .with_status(status),
                    retry_after,
                }
            }
            _ => {
                let snippet = body_snippet(&mut response);
                Attempt::Fatal(
                    ProbeError::new(&shown, status_message(status, &snippet)).with_status(status),
                )
            }
        }
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// The first few hundred bytes of an error answer, on one line (registries explain themselves
/// there, e.g. `{"errors":[{"detail":"..."}]}`).
fn body_snippet(response: &mut ureq::http::Response<ureq::Body>) -> String {
    let bytes = response
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_vec()
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut = one_line.len().min(300);
    while !one_line.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = one_line[..cut].to_string();
    if cut < one_line.len() {
        out.push('…');
    }
    out
}

fn status_message(status: u16, snippet: &str) -> String {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut message = format!("HTTP {status} {reason}").trim_end().to_string();
    if !snippet.is_empty() {
        message.push_str(": ");
        message.push_str(snippet);
    }
    message
}

/// Connect errors, timeouts and broken connections are retried; the rest (bad URL, TLS, protocol)
/// would fail the same way again.
fn transport_error(url: &str, error: ureq::Error) -> Attempt {
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
    let error = ProbeError::new(url, message);
    if retry {
        Attempt::Retry {
            error,
            retry_after: None,
        }
    } else {
        Attempt::Fatal(error)
    }
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

/// `Retry-After`: delay-seconds or an HTTP date (IMF-fixdate, RFC 850 or asctime). A date in
/// the past means "now". `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the Unix epoch of an HTTP date (RFC 9110 §5.6.7).
pub fn parse_http_date(value: &str) -> Option<u64> {
    let cleaned = value.replace(',', " ");
    let tokens: Vec<&str> = cleaned.split_whitespace().collect();
    let (day, month, year, time) = match tokens.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [_, day, month, year, time, "GMT"] => (*day, *month, year.parse::<i64>().ok()?, *time),
        // Sunday, 06-Nov-94 08:49:37 GMT
        [_, date, time, "GMT"] => {
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            let year: i64 = year.parse().ok()?;
            let year = if year < 70 { 2000 + year } else { 1900 + year };
            (day, month, year, *time)
        }
        // Sun Nov  6 08:49:37 1994
        [_, month, day, time, year] => (*day, *month, year.parse::<i64>().ok()?, *time),
        _ => return None,
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The position of the authority (`user:pass@host:port`) in an absolute URL.
fn authority_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    Some((start, end))
}

/// Split `http://user:pass@host/...` into the URL without credentials and the (percent-decoded)
/// user and password.
pub fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    if let Some((start, end)) = authority_span(url) {
        if let Some(at) = url[start..end].rfind('@') {
            let userinfo = &url[start..start + at];
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let plain = format!("{}{}", &url[..start], &url[start + at + 1..]);
            return (
                plain,
                Some((percent_decode(user), percent_decode(password))),
            );
        }
    }
    (url.to_string(), None)
}

/// The URL with any credentials replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    if let Some((start, end)) = authority_span(url) {
        if let Some(at) = url[start..end].rfind('@') {
            return format!("{}***@{}", &url[..start], &url[start + at + 1..]);
        }
    }
    url.to_string()
}

/// Resolve `href` against the absolute URL `base` (RFC 3986 §5.2, for http(s) URLs).
pub fn join_url(base: &str, href: &str) -> String {
    let href = href.trim();
    let has_scheme = href.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        return href.to_string();
    }
    let Some((auth_start, auth_end)) = authority_span(base) else {
        return href.to_string();
    };
    let scheme = &base[..auth_start - 3];
    if let Some(rest) = href.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let origin = &base[..auth_end];
    let after_origin = &base[auth_end..];
    let base_path_end = after_origin.find(['?', '#']).unwrap_or(after_origin.len());
    let base_path = &after_origin[..base_path_end];
    if href.is_empty() {
        let without_fragment = base.split('#').next().unwrap_or(base);
        return without_fragment.to_string();
    }
    if href.starts_with('#') {
        let without_fragment = base.split('#').next().unwrap_or(base);
        return format!("{without_fragment}{href}");
    }
    if href.starts_with('?') {
        return format!(
            "{origin}{}{href}",
            if base_path.is_empty() { "/" } else { base_path }
        );
    }
    let (href_path, href_tail) = match href.find(['?', '#']) {
        Some(i) => (&href[..i], &href[i..]),
        None => (href, ""),
    };
    let merged = if href_path.starts_with('/') {
        href_path.to_string()
    } else {
        let dir = match base_path.rfind('/') {
            Some(i) => &base_path[..=i],
            None => "/",
        };
        format!("{dir}{href_path}")
    };
    format!("{origin}{}{href_tail}", remove_dot_segments(&merged))
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Decode `%XX` escapes (invalid ones are kept as written; invalid UTF-8 is replaced).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode everything but RFC 3986 unreserved characters (for one path segment).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (for a Basic `Authorization` header).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Ensure `url` ends with `/` (index and registry base URLs are directories).
pub fn with_trailing_slash(url: &str) -> String {
    let url = url.trim();
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:57 GMT", now),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:50:37 1994", now),
            Some(Duration::from_secs(60))
        );
        // In the past: retry now.
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        assert_eq!(parse_http_date("Tue, 32 Feb 2000 12:00:00 GMT"), None);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_retry_after_is_capped() {
        let http = Http::new(HttpSettings {
            backoff: Duration::from_millis(100),
            retry_after_cap: Duration::from_secs(5),
            ..HttpSettings::default()
        });
        for (attempt, base) in [(1, 100), (2, 200), (3, 400)] {
            let d = http.delay(attempt, None);
            assert!(
                d >= Duration::from_millis(base) && d <= Duration::from_millis(base * 3 / 2),
                "{attempt}: {d:?}"
            );
        }
        assert_eq!(
            http.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            http.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn urls_join_like_a_browser() {
        let page = "http://127.0.0.1:8080/simple/pkg/";
        assert_eq!(
            join_url(page, "../../packages/pkg-1.0.tar.gz#sha256=ab"),
            "http://127.0.0.1:8080/packages/pkg-1.0.tar.gz#sha256=ab"
        );
        assert_eq!(
            join_url(page, "pkg-1.0.tar.gz"),
            "http://127.0.0.1:8080/simple/pkg/pkg-1.0.tar.gz"
        );
        assert_eq!(
            join_url(page, "/files/a.whl"),
            "http://127.0.0.1:8080/files/a.whl"
        );
        assert_eq!(
            join_url(page, "//mirror.invalid/a.whl"),
            "http://mirror.invalid/a.whl"
        );
        assert_eq!(
            join_url(page, "https://files.invalid/a.whl"),
            "https://files.invalid/a.whl"
        );
        assert_eq!(
            join_url("http://h/simple/pkg/index.html?x=1", "./a/../b.whl"),
            "http://h/simple/pkg/b.whl"
        );
        assert_eq!(join_url("http://h", "a.whl"), "http://h/a.whl");
        assert_eq!(join_url("http://h/a/b", "?q=1"), "http://h/a/b?q=1");
        assert_eq!(join_url("http://h/a/b#x", "#y"), "http://h/a/b#y");
    }

    #[test]
    fn credentials_are_split_off_and_redacted() {
        let (plain, creds) = split_userinfo("https://me:s%40cret@host.invalid:8443/simple/");
        assert_eq!(plain, "https://host.invalid:8443/simple/");
        assert_eq!(creds, Some(("me".into(), "s@cret".into())));
        assert_eq!(
            redact("https://me:secret@host.invalid/simple/"),
            "https://***@host.invalid/simple/"
        );
        assert_eq!(
            redact("http://127.0.0.1/a@b"),
            "http://127.0.0.1/a@b",
            "an @ in the path is not userinfo"
        );
        assert_eq!(split_userinfo("http://127.0.0.1/x").1, None);
        assert_eq!(base64(b"me:s@cret"), "bWU6c0BjcmV0");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
        assert_eq!(percent_decode("hello%20world%2"), "hello world%2");
        assert_eq!(percent_encode("a b/c~d"), "a%20b%2Fc~d");
    }
}
