//! Python: the simple repository API (PEP 691 JSON when the index offers it, PEP 503 HTML
//! otherwise), versions read from file names and compared as PEP 440, the index pip is configured
//! with, and `pip index versions` when there is none to read over HTTP.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use xshell::cmd;

use super::http::{join_url, percent_decode, Http};
use super::{
    client_shell, run_client, same_version, PackageVersions, ProbeError, Published, PublishedFile,
};
use crate::config::Ecosystem;

/// What a project page request asks for: PEP 691 JSON first, HTML (pypiserver's only form) after.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// PEP 503 name normalisation: runs of `-`, `_`, `.` become one `-`; lowercase.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// Check a project name before it becomes part of a URL (PEP 508 name characters).
pub fn validate_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the project name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`{name}` is not a Python project name (`{c}` is not allowed)"
        ));
    }
    Ok(())
}

/// A pre-release phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreKind {
    Alpha,
    Beta,
    Rc,
}

/// A PEP 440 version. Equality and order are PEP 440's: `1.2` == `1.2.0`,
/// `1.2.0.dev1` < `1.2.0a1` < `1.2.0rc1` < `1.2.0` < `1.2.0.post1`.
#[derive(Debug, Clone)]
pub struct Pep440 {
    pub epoch: u64,
    pub release: Vec<u64>,
    pub pre: Option<(PreKind, u64)>,
    pub post: Option<u64>,
    pub dev: Option<u64>,
    /// The local label, lowercase, `.`-separated.
    pub local: Option<String>,
}

/// packaging's `VERSION_PATTERN`.
static PEP440: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("constant regex")
});

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Text(String),
    Number(u64),
}

type Pep440Key = (
    u64,
    Vec<u64>,
    (u8, Option<PreKind>, u64),
    Option<u64>,
    (u8, u64),
    Option<Vec<LocalPart>>,
);

impl Pep440 {
    /// Parse any PEP 440 spelling (`1.2.0-RC.1`, `v1.0`, `1.0.post1.dev2+abc`).
    pub fn parse(text: &str) -> Option<Pep440> {
        let caps = PEP440.captures(text)?;
        let number = |name: &str| -> Option<Option<u64>> {
            match caps.name(name) {
                Some(m) => m.as_str().parse().ok().map(Some),
                None => Some(None),
            }
        };
        let epoch = number("epoch")?.unwrap_or(0);
        let release = caps
            .name("release")?
            .as_str()
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        let pre = match caps.name("pre_l") {
            Some(label) => {
                let kind = match label.as_str().to_ascii_lowercase().as_str() {
                    "a" | "alpha" => PreKind::Alpha,
                    "b" | "beta" => PreKind::Beta,
                    _ => PreKind::Rc,
                };
                Some((kind, number("pre_n")?.unwrap_or(0)))
            }
            None => None,
        };
        let post = if caps.name("post").is_some() {
            Some(number("post_n1")?.or(number("post_n2")?).unwrap_or(0))
        } else {
            None
        };
        let dev = if caps.name("dev").is_some() {
            Some(number("dev_n")?.unwrap_or(0))
        } else {
            None
        };
        let local = caps.name("local").map(|m| {
            m.as_str()
                .to_ascii_lowercase()
                .split(['-', '_', '.'])
                .collect::<Vec<_>>()
                .join(".")
        });
        Some(Pep440 {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    fn key(&self) -> Pep440Key {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = match self.pre {
            None if self.post.is_none() && self.dev.is_some() => (0, None, 0),
            Some((kind, n)) => (1, Some(kind), n),
            None => (2, None, 0),
        };
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        let local = self.local.as_ref().map(|l| {
            l.split('.')
                .map(|part| match part.parse() {
                    Ok(n) => LocalPart::Number(n),
                    Err(_) => LocalPart::Text(part.to_string()),
                })
                .collect()
        });
        (self.epoch, release, pre, self.post, dev, local)
    }
}

impl PartialEq for Pep440 {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pep440 {}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The normalised spelling: `1.2.0rc1`, `1!2.0.post1.dev3+abc.1`.
impl fmt::Display for Pep440 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&release.join("."))?;
        if let Some((kind, n)) = self.pre {
            let label = match kind {
                PreKind::Alpha => "a",
                PreKind::Beta => "b",
                PreKind::Rc => "rc",
            };
            write!(f, "{label}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        if let Some(local) = &self.local {
            write!(f, "+{local}")?;
        }
        Ok(())
    }
}

/// A version as a caller writes it — Shiplane's semver (`1.2.0-rc.1`, mapped through
/// [`crate::version::to_pep440`]) or PEP 440 (`1.2.0rc1`) — as PEP 440.
pub fn pep440_of_input(version: &str) -> Option<Pep440> {
    semver::Version::parse(version.trim())
        .ok()
        .and_then(|v| crate::version::to_pep440(&v).ok())
        .and_then(|p| Pep440::parse(&p))
        .or_else(|| Pep440::parse(version))
}

const SDIST_EXTENSIONS: [&str; 9] = [
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.z", ".tgz", ".tbz", ".txz", ".tar", ".zip",
];

/// The version a distribution file of `project` carries, as written in its name: wheels
/// `{dist}-{version}(-{build})?-{py}-{abi}-{plat}.whl`, eggs `{dist}-{version}(-...).egg`, sdists
/// `{name}-{version}.tar.gz` / `.zip` / ... where the name may spell `-` as `_` or `.`. `None` for
/// other files, another project's files, or a version that is not PEP 440.
pub fn version_from_filename(project: &str, filename: &str) -> Option<String> {
    let target = normalize_name(project);
    let lower = filename.to_ascii_lowercase();
    let version = if lower.ends_with(".whl") || lower.ends_with(".egg") {
        let stem = &filename[..filename.len() - 4];
        let parts: Vec<&str> = stem.split('-').collect();
        let wheel_shape = lower.ends_with(".egg") || parts.len() == 5 || parts.len() == 6;
        if parts.len() < 2 || !wheel_shape || normalize_name(parts[0]) != target {
            return None;
        }
        parts[1]
    } else {
        let ext = SDIST_EXTENSIONS.iter().find(|e| lower.ends_with(*e))?;
        let stem = &filename[..filename.len() - ext.len()];
        stem.match_indices('-')
            .find(|(i, _)| normalize_name(&stem[..*i]) == target)
            .map(|(i, _)| &stem[i + 1..])?
    };
    Pep440::parse(version).map(|_| version.to_string())
}

/// A project page: its files and (PEP 700) its versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimplePage {
    pub name: Option<String>,
    pub files: Vec<PublishedFile>,
    /// PEP 700 `versions` (JSON API 1.1); empty otherwise.
    pub versions: Vec<String>,
}

/// Decode the HTML character references a simple page uses (`&amp;`, `&gt;`, `&#62;`, `&#x3E;`).
pub fn html_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest[1..]
            .find(';')
            .filter(|end| *end <= 10)
            .and_then(|end| {
                let entity = &rest[1..=end];
                let c = match entity {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32),
                };
                c.map(|c| (c, end + 2))
            });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

static BASE_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<base\b((?:[^>"']|"[^"]*"|'[^']*')*)>"#).expect("constant regex")
});
static ANCHOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<a\b((?:[^>"']|"[^"]*"|'[^']*')*)>(.*?)</a\s*>"#).expect("constant regex")
});
static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"#)
        .expect("constant regex")
});
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").expect("constant regex"));

/// An HTML tag's attributes: lowercase names, unescaped values (`""` for a bare attribute).
fn attributes(text: &str) -> BTreeMap<String, String> {
    ATTRIBUTE
        .captures_iter(text)
        .map(|caps| {
            let value = caps
                .get(2)
                .or_else(|| caps.get(3))
                .or_else(|| caps.get(4))
                .map_or("", |m| m.as_str());
            (caps[1].to_ascii_lowercase(), html_unescape(value))
        })
        .collect()
}

/// A file record from a link: the URL without its fragment, `#alg=digest` as a hash, the file
/// name from the URL's last path segment.
fn file_from_url(url: &str, fallback_name: &str) -> PublishedFile {
    let (url, fragment) = match url.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (url, None),
    };
    let mut hashes = BTreeMap::new();
    if let Some((alg, digest)) = fragment.and_then(|f| f.split_once('=')) {
        if !alg.is_empty() && !digest.is_empty() {
            hashes.insert(alg.to_ascii_lowercase(), digest.to_string());
        }
    }
    let path = url.split('?').next().unwrap_or(url);
    let last = percent_decode(path.rsplit('/').next().unwrap_or(""));
    PublishedFile {
        filename: if last.is_empty() {
            fallback_name.trim().to_string()
        } else {
            last
        },
        url: url.to_string(),
        hashes,
        ..PublishedFile::default()
    }
}

/// Parse a PEP 503 project page; relative links resolve against `page_url` (or `<base href>`).
pub fn parse_simple_html(text: &str, page_url: &str) -> SimplePage {
    let base = BASE_TAG
        .captures(text)
        .and_then(|caps| attributes(&caps[1]).remove("href"))
        .map_or_else(|| page_url.to_string(), |href| join_url(page_url, &href));
    let mut page = SimplePage::default();
    for caps in ANCHOR.captures_iter(text) {
        let attrs = attributes(&caps[1]);
        let Some(href) = attrs.get("href") else {
            continue;
        };
        let label = html_unescape(&TAG.replace_all(&caps[2], ""));
        let mut file = file_from_url(&join_url(&base, href), &label);
        file.requires_python = attrs
            .get("data-requires-python")
            .filter(|v| !v.trim().is_empty())
            .cloned();
        file.yanked = attrs.get("data-yanked").cloned();
        page.files.push(file);
    }
    page
}

/// Parse a PEP 691 JSON project page; relative `url`s resolve against `page_url`.
pub fn parse_simple_json(text: &str, page_url: &str) -> Result<SimplePage, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a PEP 691 JSON page: {e}"))?;
    let api_version = doc
        .pointer("/meta/api-version")
        .and_then(|v| v.as_str())
        .unwrap_or("1.0");
    if api_version.split('.').next() != Some("1") {
        return Err(format!(
            "the index answers with simple API version {api_version}; Shiplane reads version 1"
        ));
    }
    let files = doc
        .get("files")
        .and_then(|f| f.as_array())
        .ok_or("the PEP 691 page has no `files` list")?;
    let mut page = SimplePage {
        name: doc.get("name").and_then(|n| n.as_str()).map(str::to_string),
        ..SimplePage::default()
    };
    for (i, entry) in files.iter().enumerate() {
        let text_field = |key: &str| entry.get(key).and_then(|v| v.as_str());
        let (Some(filename), Some(url)) = (text_field("filename"), text_field("url")) else {
            return Err(format!("file {i} has no `filename` and `url`"));
        };
        let mut file = file_from_url(&join_url(page_url, url), filename);
        file.filename = filename.to_string();
        if let Some(hashes) = entry.get("hashes").and_then(|h| h.as_object()) {
            for (alg, digest) in hashes {
                if let Some(digest) = digest.as_str() {
                    file.hashes
                        .insert(alg.to_ascii_lowercase(), digest.to_string());
                }
            }
        }
        file.requires_python = text_field("requires-python")
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string);
        file.yanked = match entry.get("yanked") {
            Some(serde_json::Value::Bool(true)) => Some(String::new()),
            Some(serde_json::Value::String(reason)) => Some(reason.clone()),
            _ => None,
        };
        file.size = entry.get("size").and_then(|s| s.as_u64());
        page.files.push(file);
    }
    if let Some(versions) = doc.get("versions").and_then(|v| v.as_array()) {
        page.versions = versions
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
    }
    Ok(page)
}

/// Group a page's files into versions (files whose names carry no version of `project` are left
/// out, as pip does). A version is yanked when every one of its files is.
pub fn package_versions(project: &str, source: &str, page: SimplePage) -> PackageVersions {
    let mut grouped: Vec<(Pep440, Published)> = Vec::new();
    let mut add = |version: Pep440, file: Option<PublishedFile>| {
        let index = match grouped.iter().position(|(v, _)| *v == version) {
            Some(i) => i,
            None => {
                let published = Published::new(Ecosystem::Python, version.to_string());
                grouped.push((version, published));
                grouped.len() - 1
            }
        };
        if let Some(file) = file {
            grouped[index].1.files.push(file);
        }
    };
    for file in page.files {
        let version =
            version_from_filename(project, &file.filename).and_then(|v| Pep440::parse(&v));
        if let Some(version) = version {
            add(version, Some(file));
        }
    }
    for version in &page.versions {
        if let Some(version) = Pep440::parse(version) {
            add(version, None);
        }
    }
    let versions = grouped
        .into_iter()
        .map(|(_, mut published)| {
            published.yanked =
                !published.files.is_empty() && published.files.iter().all(|f| f.yanked.is_some());
            if published.yanked {
                published.yanked_reason = published
                    .files
                    .iter()
                    .filter_map(|f| f.yanked.clone())
                    .find(|r| !r.is_empty());
            }
            published
        })
        .collect();
    let mut package = PackageVersions {
        ecosystem: Ecosystem::Python,
        name: page.name.unwrap_or_else(|| project.to_string()),
        source: source.to_string(),
        complete: true,
        versions,
        dist_tags: BTreeMap::new(),
        readme: None,
    };
    package.sort();
    package
}

/// Read `name`'s project page from the simple index at `index` (ends with `/`). `Ok(None)` when
/// the index has no such project.
pub fn read_project(
    http: &Http,
    index: &str,
    name: &str,
) -> Result<Option<PackageVersions>, ProbeError> {
    let url = format!("{index}{}/", normalize_name(name));
    validate_name(name).map_err(|m| ProbeError::new(&url, m))?;
    let Some(fetched) = http.get(&url, ACCEPT)? else {
        return Ok(None);
    };
    let content_type = fetched
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = fetched.text()?;
    let json = if content_type.contains("json") {
        true
    } else if content_type.contains("html") {
        false
    } else {
        text.trim_start().starts_with('{')
    };
    let page = if json {
        parse_simple_json(text, &fetched.url).map_err(|m| {
            ProbeError::new(&fetched.url, m)
                .with_status(fetched.status)
                .after_attempts(fetched.attempts)
        })?
    } else {
        parse_simple_html(text, &fetched.url)
    };
    Ok(Some(package_versions(name, &fetched.url, page)))
}

/// The index pip is configured with, from `pip config list` output: the environment's
/// (`:env:.index-url`), else the `[index]`, `[install]`, then `[global]` section's.
pub fn parse_pip_config_list(text: &str) -> Option<String> {
    let mut found: BTreeMap<&str, String> = BTreeMap::new();
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let Some(section) = key.strip_suffix(".index-url") else {
            continue;
        };
        let value = value.trim();
        let unquoted = ['\'', '"']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value)
            .replace("\\\\", "\\");
        if !unquoted.is_empty() {
            found.insert(section, unquoted);
        }
    }
    [":env:", "index", "install", "global"]
        .iter()
        .find_map(|section| found.remove(section))
}

/// The index pip uses: `PIP_INDEX_URL`, else what `pip config list` (run in `root`) shows.
/// `Ok(None)` when pip is left with its default index.
pub fn index_from_pip_config(
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<String>> {
    if let Some(url) = env("PIP_INDEX_URL").filter(|u| !u.trim().is_empty()) {
        return Ok(Some(url.trim().to_string()));
    }
    let sh = client_shell(root)?;
    let output = run_client(cmd!(sh, "pip config list"))?;
    if !output.success {
        return Err(output
            .error(format!(
                "pip config list failed:\n{}\nset PIP_INDEX_URL, or name a [registry.NAME] for the product",
                output.tail()
            ))
            .into());
    }
    Ok(parse_pip_config_list(&output.stdout))
}

/// What `pip index versions NAME --pre --no-input -vv` said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipIndexVersions {
    pub name: String,
    pub latest: Option<String>,
    /// "Available versions", newest first, as pip prints them (yanked ones are not among them).
    pub versions: Vec<String>,
    /// The links pip found, with the version it read from each.
    pub files: Vec<(String, PublishedFile)>,
    /// The links pip skipped as yanked (`yanked` holds the reason).
    pub yanked: Vec<PublishedFile>,
}

static PIP_FETCH_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*Could not fetch URL (\S+): (.*) - skipping\s*$").expect("constant regex")
});
static PIP_AVAILABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(\S+) \(([^)]*)\)\s*\nAvailable versions: (.*)$").expect("constant regex")
});
static PIP_FOUND_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^\s*Found link (\S+) \(from [^)]*\)(?: \(requires-python:([^)]*)\))?, version: (\S+)\s*$",
    )
    .expect("constant regex")
});
static PIP_YANKED_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*Skipping link: yanked for reason: (.*): (\S+) \(from [^)]*\)\s*$")
        .expect("constant regex")
});

/// Parse `pip index versions NAME --pre -vv` output. `Ok(None)` when pip found no distribution
/// and every page it could not fetch answered 404/410; any other fetch failure is an error (pip
/// itself reports those as "No matching distribution", which is not an answer).
pub fn parse_pip_index_versions(
    success: bool,
    stdout: &str,
    stderr: &str,
) -> Result<Option<PipIndexVersions>, String> {
    let text = format!("{stdout}\n{stderr}");
    for caps in PIP_FETCH_FAILED.captures_iter(&text) {
        let reason = caps[2].trim();
        if !(reason.starts_with("404 ") || reason.starts_with("410 ")) {
            return Err(format!("pip could not read {}: {reason}", &caps[1]));
        }
    }
    if !success {
        if text.contains("No matching distribution found for") {
            return Ok(None);
        }
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        return Err(format!(
            "pip index versions failed:\n{}",
            lines[lines.len().saturating_sub(6)..].join("\n")
        ));
    }
    let caps = PIP_AVAILABLE
        .captures(&text)
        .ok_or("pip printed no `Available versions:` line")?;
    let mut answer = PipIndexVersions {
        name: caps[1].to_string(),
        latest: Some(caps[2].trim().to_string()).filter(|l| !l.is_empty()),
        versions: caps[3]
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect(),
        ..PipIndexVersions::default()
    };
    for caps in PIP_FOUND_LINK.captures_iter(&text) {
        let mut file = file_from_url(&caps[1], "");
        file.requires_python = caps.get(2).map(|m| m.as_str().to_string());
        answer.files.push((caps[3].to_string(), file));
    }
    for caps in PIP_YANKED_LINK.captures_iter(&text) {
        let mut file = file_from_url(&caps[2], "");
        let reason = caps[1].trim();
        file.yanked = Some(if reason == "<none given>" {
            String::new()
        } else {
            reason.to_string()
        });
        answer.yanked.push(file);
    }
    Ok(Some(answer))
}

/// Ask `pip index versions` (from `root`). pip hides yanked versions from its list (they are
/// recovered from its log where it shows them) and versions with no file for this interpreter:
/// [`PackageVersions::complete`] is false. `PIP_FIND_LINKS` is cleared: only the index counts.
pub fn client_versions(root: &Path, name: &str) -> Result<Option<PackageVersions>, ProbeError> {
    validate_name(name).map_err(|m| ProbeError::new(&format!("pip index versions {name}"), m))?;
    let sh = client_shell(root)?;
    let output = run_client(
        cmd!(sh, "pip index versions {name} --pre --no-input -vv").env("PIP_FIND_LINKS", ""),
    )?;
    let Some(answer) = parse_pip_index_versions(output.success, &output.stdout, &output.stderr)
        .map_err(|m| output.error(m))?
    else {
        return Ok(None);
    };
    let mut versions: Vec<Published> = answer
        .versions
        .iter()
        .map(|v| Published::new(Ecosystem::Python, v.clone()))
        .collect();
    for (version, file) in answer.files {
        if let Some(p) = versions
            .iter_mut()
            .find(|p| same_version(Ecosystem::Python, &p.version, &version))
        {
            p.files.push(file);
        }
    }
    for file in answer.yanked {
        let Some(version) = version_from_filename(name, &file.filename) else {
            continue;
        };
        let index = match versions
            .iter()
            .position(|p| same_version(Ecosystem::Python, &p.version, &version))
        {
            Some(i) => i,
            None => {
                let canonical = Pep440::parse(&version).map_or(version, |v| v.to_string());
                let mut published = Published::new(Ecosystem::Python, canonical);
                published.yanked = true;
                published.yanked_reason = file.yanked.clone().filter(|r| !r.is_empty());
                versions.push(published);
                versions.len() - 1
            }
        };
        versions[index].files.push(file);
    }
    let mut package = PackageVersions {
        ecosystem: Ecosystem::Python,
        name: answer.name,
        source: output.command,
        complete: false,
        versions,
        dist_tags: BTreeMap::new(),
        readme: None,
    };
    package.sort();
    Ok(Some(package))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_name("Hello_Probe"), "hello-probe");
        assert_eq!(normalize_name("a.-_b"), "a-b");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
        assert_eq!(normalize_name("a__b--c..d"), "a-b-c-d");
        assert!(validate_name("../x").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("zope.interface").is_ok());
    }

    #[test]
    fn pep440_spellings_are_one_version() {
        let v = |s: &str| Pep440::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(v("1.2.0rc1"), v("1.2.0-rc1"));
        assert_eq!(v("1.2.0rc1"), v("1.2.0.RC1"));
        assert_eq!(v("1.2.0rc1"), v("1.2.0c1"));
        assert_eq!(v("1.2.0rc1"), v("1.2.0-rc.1"));
        assert_eq!(v("1.2.0a1"), v("1.2.0alpha1"));
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("v1.0"), v("1.0"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("1.0.dev"), v("1.0.dev0"));
        assert_ne!(v("1.0+abc"), v("1.0"));
        assert_eq!(v("1.0+ABC-1"), v("1.0+abc.1"));
        assert_eq!(v("1.2.0-RC.1").to_string(), "1.2.0rc1");
        assert_eq!(
            v("1!2.0-post1-dev3+Local_1").to_string(),
            "1!2.0.post1.dev3+local.1"
        );
        assert!(Pep440::parse("1.0.0-banana").is_none());
        assert!(Pep440::parse("").is_none());
        assert!(Pep440::parse("99999999999999999999999.0").is_none());
        let mut order = [
            "1.0.post1",
            "1.0",
            "1.0rc1",
            "1.0a1",
            "1.0.dev1",
            "1.0b2",
            "1.0a1.dev1",
            "0.9",
            "1.0+local",
            "1!0.1",
        ]
        .map(v)
        .to_vec();
        order.sort();
        let spelled: Vec<String> = order.iter().map(|v| v.to_string()).collect();
        assert_eq!(
            spelled,
            [
                "0.9",
                "1.0.dev1",
                "1.0a1.dev1",
                "1.0a1",
                "1.0b2",
                "1.0rc1",
                "1.0",
                "1.0+local",
                "1.0.post1",
                "1!0.1"
            ]
        );
        assert_eq!(pep440_of_input("1.2.0-rc.1"), Some(v("1.2.0rc1")));
        assert_eq!(pep440_of_input("1.2.0-dev.2"), Some(v("1.2.0.dev2")));
        assert_eq!(pep440_of_input("1.2.0-rc1"), Some(v("1.2.0rc1")));
    }

    #[test]
    fn versions_from_file_names() {
        let f = |project: &str, file: &str| version_from_filename(project, file);
        assert_eq!(
            f("hello-probe", "hello_probe-0.1.0-py3-none-any.whl").as_deref(),
            Some("0.1.0")
        );
        assert_eq!(
            f(
                "hello-probe",
                "hello_probe-0.1.0-1build-cp311-cp311-manylinux_2_17_x86_64.whl"
            )
            .as_deref(),
            Some("0.1.0"),
            "build tag"
        );
        assert_eq!(
            f("hello-probe", "hello_probe-1.2.0rc1-py3-none-any.whl").as_deref(),
            Some("1.2.0rc1")
        );
        assert_eq!(
            f("hello-probe", "hello-probe-0.2.0.tar.gz").as_deref(),
            Some("0.2.0")
        );
        assert_eq!(
            f("hello-probe", "hello_probe-0.2.0.dev2.tar.gz").as_deref(),
            Some("0.2.0.dev2")
        );
        assert_eq!(
            f("zope.interface", "zope.interface-5.0a1.zip").as_deref(),
            Some("5.0a1")
        );
        assert_eq!(
            f("zope-interface", "zope_interface-5.0.tar.bz2").as_deref(),
            Some("5.0")
        );
        assert_eq!(
            f("a-b-c", "A.B_C-1.0-rc-1.tar.gz").as_deref(),
            Some("1.0-rc-1")
        );
        assert_eq!(
            f("a-b", "a-b-c-1.0.tar.gz"),
            None,
            "a project whose name extends ours is another project"
        );
        assert_eq!(f("a-b-c", "A.B_C-1.0-1.tar.gz").as_deref(), Some("1.0-1"));
        assert_eq!(f("pkg", "pkg-1.0-py3.11.egg").as_deref(), Some("1.0"));
        assert_eq!(f("pkg", "other-1.0-py3-none-any.whl"), None);
        assert_eq!(f("pkg", "pkg-1.0.exe"), None);
        assert_eq!(f("pkg", "pkg-1.0-py3-any.whl"), None, "wrong wheel shape");
        assert_eq!(f("pkg", "pkg-latest.tar.gz"), None);
    }

    #[test]
    fn html_entities() {
        assert_eq!(
            html_unescape("&gt;=3.8, &lt;4 &amp;&amp; &#62;&#x3E;"),
            ">=3.8, <4 && >>"
        );
        assert_eq!(html_unescape("a & b &unknown; &"), "a & b &unknown; &");
    }

    // A pypiserver-style page: relative hrefs, hashes in fragments, data-* attributes.
    const HTML: &str = r#"<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.0"><title>Links for hello-probe</title></head>
<body><h1>Links for hello-probe</h1>
<a href="../../packages/hello_probe-0.1.0-py3-none-any.whl#sha256=aaaa">hello_probe-0.1.0-py3-none-any.whl</a><br>
<a href="../../packages/hello_probe-0.2.0rc1-py3-none-any.whl#sha256=bbbb" data-requires-python="&gt;=3.8">hello_probe-0.2.0rc1-py3-none-any.whl</a><br>
<A HREF='/packages/hello_probe-0.2.0.tar.gz#sha256=cccc' data-requires-python='&gt;=3.8'>hello_probe-0.2.0.tar.gz</A><br>
<a data-yanked="broken build" href="hello_probe-0.1.5.tar.gz#md5=dddd">hello_probe-0.1.5.tar.gz</a>
<a data-yanked href="hello_probe-0.1.5-py3-none-any.whl">hello_probe-0.1.5-py3-none-any.whl</a>
<a href="https://files.invalid/x/hello_probe-0.3.0.dev2.tar.gz">hello_probe-0.3.0.dev2.tar.gz</a>
<a href="README.txt">README.txt</a>
</body></html>"#;

    #[test]
    fn pep503_html_page() {
        let page = parse_simple_html(HTML, "http://127.0.0.1:8080/simple/hello-probe/");
        assert_eq!(page.files.len(), 7);
        let first = &page.files[0];
        assert_eq!(
            first.url,
            "http://127.0.0.1:8080/packages/hello_probe-0.1.0-py3-none-any.whl"
        );
        assert_eq!(first.filename, "hello_probe-0.1.0-py3-none-any.whl");
        assert_eq!(first.hashes["sha256"], "aaaa");
        assert_eq!(first.requires_python, None);
        assert_eq!(page.files[1].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(
            page.files[2].url,
            "http://127.0.0.1:8080/packages/hello_probe-0.2.0.tar.gz"
        );
        assert_eq!(
            page.files[3].url,
            "http://127.0.0.1:8080/simple/hello-probe/hello_probe-0.1.5.tar.gz"
        );
        assert_eq!(page.files[3].yanked.as_deref(), Some("broken build"));
        assert_eq!(page.files[3].hashes["md5"], "dddd");
        assert_eq!(page.files[4].yanked.as_deref(), Some(""));

        let package = package_versions("hello-probe", "src", page);
        let versions: Vec<&str> = package
            .versions
            .iter()
            .map(|p| p.version.as_str())
            .collect();
        assert_eq!(
            versions,
            ["0.1.0", "0.1.5", "0.2.0rc1", "0.2.0", "0.3.0.dev2"]
        );
        let yanked = package.find("0.1.5").unwrap();
        assert!(yanked.yanked);
        assert_eq!(yanked.yanked_reason.as_deref(), Some("broken build"));
        assert_eq!(yanked.files.len(), 2);
        assert!(!package.find("0.2.0").unwrap().yanked);
        assert!(package.contains("0.2.0-rc.1"), "semver spelling");
        assert!(package.contains("0.2.0.RC1"));
        assert_eq!(
            package.find("0.2.0rc1").unwrap().semver,
            Some(semver::Version::parse("0.2.0-rc.1").unwrap())
        );
        assert!(!package.contains("0.4.0"));
    }

    #[test]
    fn base_href_moves_relative_links() {
        let page = parse_simple_html(
            r#"<html><head><base href="http://127.0.0.1:9/files/"></head><a href="p-1.0.tar.gz">p</a></html>"#,
            "http://127.0.0.1:8080/simple/p/",
        );
        assert_eq!(page.files[0].url, "http://127.0.0.1:9/files/p-1.0.tar.gz");
    }

    const JSON: &str = r#"{
      "meta": {"api-version": "1.1"},
      "name": "hello-probe",
      "files": [
        {"filename": "hello_probe-0.1.0-py3-none-any.whl", "url": "../../packages/hello_probe-0.1.0-py3-none-any.whl",
         "hashes": {"sha256": "aaaa"}, "requires-python": ">=3.8", "yanked": false, "size": 1234},
        {"filename": "hello_probe-0.1.1.tar.gz", "url": "https://files.invalid/hello_probe-0.1.1.tar.gz",
         "hashes": {}, "yanked": "security issue"},
        {"filename": "hello_probe-0.1.2.tar.gz", "url": "hello_probe-0.1.2.tar.gz", "hashes": {}, "yanked": true}
      ],
      "versions": ["0.1.0", "0.1.1", "0.1.2", "0.1.3"]
    }"#;

    #[test]
    fn pep691_json_page() {
        let page = parse_simple_json(JSON, "http://127.0.0.1:8080/simple/hello-probe/").unwrap();
        assert_eq!(page.name.as_deref(), Some("hello-probe"));
        assert_eq!(
            page.files[0].url,
            "http://127.0.0.1:8080/packages/hello_probe-0.1.0-py3-none-any.whl"
        );
        assert_eq!(page.files[0].size, Some(1234));
        assert_eq!(page.files[0].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(page.files[1].yanked.as_deref(), Some("security issue"));
        assert_eq!(page.files[2].yanked.as_deref(), Some(""));
        let package = package_versions("hello-probe", "src", page);
        assert_eq!(package.versions.len(), 4);
        assert!(package.find("0.1.1").unwrap().yanked);
        assert!(package.find("0.1.2").unwrap().yanked);
        assert!(package.find("0.1.3").unwrap().files.is_empty());
        assert!(!package.find("0.1.3").unwrap().yanked);

        assert!(
            parse_simple_json(r#"{"meta":{"api-version":"2.0"},"files":[]}"#, "http://h/")
                .unwrap_err()
                .contains("version 2.0")
        );
        assert!(parse_simple_json(r#"{"meta":{"api-version":"1.0"}}"#, "http://h/").is_err());
        assert!(parse_simple_json("<html>", "http://h/").is_err());
    }

    // Recorded from `pip config list` (pip 23.2).
    const PIP_CONFIG_FILE: &str = ":env:.cert='/etc/ssl/certs/ca-certificates.crt'\n:env:.config-file='/tmp/probe-capture/pip.conf'\n:env:.default-timeout='180'\n:env:.find-links='/opt/wheels'\nglobal.cert='/etc/ssl/certs/ca-certificates.crt'\nglobal.index-url='http://127.0.0.1:18771/simple/'\ninstall.extra-index-url='http://127.0.0.1:1/x/'\n";
    const PIP_CONFIG_ENV: &str = ":env:.cert='/etc/ssl/certs/ca-certificates.crt'\n:env:.index-url='http://u:secret@127.0.0.1:2/simple/'\nglobal.index-url='http://127.0.0.1:18771/simple/'\n";
    const PIP_CONFIG_NONE: &str = ":env:.cert='/etc/ssl/certs/ca-certificates.crt'\n:env:.find-links='/opt/wheels'\nglobal.cert='/etc/ssl/certs/ca-certificates.crt'\n";

    #[test]
    fn pip_config_list_output() {
        assert_eq!(
            parse_pip_config_list(PIP_CONFIG_FILE).as_deref(),
            Some("http://127.0.0.1:18771/simple/")
        );
        assert_eq!(
            parse_pip_config_list(PIP_CONFIG_ENV).as_deref(),
            Some("http://u:secret@127.0.0.1:2/simple/")
        );
        assert_eq!(parse_pip_config_list(PIP_CONFIG_NONE), None);
        assert_eq!(
            parse_pip_config_list(
                "global.index-url='http://127.0.0.1:1/g/'\ninstall.index-url=\"http://127.0.0.1:1/i/\"\n"
            )
            .as_deref(),
            Some("http://127.0.0.1:1/i/")
        );
    }

    #[test]
    fn pip_index_url_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let env = |key: &str| {
            (key == "PIP_INDEX_URL").then(|| "http://127.0.0.1:3141/simple/".to_string())
        };
        assert_eq!(
            index_from_pip_config(dir.path(), &env).unwrap().as_deref(),
            Some("http://127.0.0.1:3141/simple/")
        );
    }

    // Recorded from `pip index versions hello-probe --pre -vv` (pip 23.2) against loopback indexes.
    const PIP_OK: &str = "1 location(s) to search for versions of hello-probe:
* http://127.0.0.1:18771/simple/hello-probe/
Fetching project page and analyzing links: http://127.0.0.1:18771/simple/hello-probe/
Getting page http://127.0.0.1:18771/simple/hello-probe/
Found index url http://127.0.0.1:18771/simple/
Starting new HTTP connection (1): 127.0.0.1:18771
http://127.0.0.1:18771 \"GET /simple/hello-probe/ HTTP/1.1\" 200 686
Fetched page http://127.0.0.1:18771/simple/hello-probe/ as text/html
  Found link http://127.0.0.1:18771/packages/hello_probe-0.1.0-py3-none-any.whl#sha256=aaaa (from http://127.0.0.1:18771/simple/hello-probe/), version: 0.1.0
  Found link http://127.0.0.1:18771/packages/hello_probe-0.2.0rc1-py3-none-any.whl#sha256=bbbb (from http://127.0.0.1:18771/simple/hello-probe/) (requires-python:>=3.8), version: 0.2.0rc1
  Found link http://127.0.0.1:18771/packages/hello_probe-0.2.0.tar.gz#sha256=cccc (from http://127.0.0.1:18771/simple/hello-probe/) (requires-python:>=3.8), version: 0.2.0
  Skipping link: yanked for reason: broken: http://127.0.0.1:18771/packages/hello_probe-0.1.5.tar.gz#sha256=dddd (from http://127.0.0.1:18771/simple/hello-probe/)
Skipping link: not a file: http://127.0.0.1:18771/simple/hello-probe/
hello-probe (0.2.0)
Available versions: 0.2.0, 0.2.0rc1, 0.1.0
";
    const PIP_WARNING: &str = "WARNING: pip index is currently an experimental command. It may be removed/changed in a future release without prior warning.\n";
    const PIP_NOT_FOUND: &str = "WARNING: pip index is currently an experimental command. It may be removed/changed in a future release without prior warning.\nERROR: No matching distribution found for hello-probe\n";
    const PIP_404: &str = "1 location(s) to search for versions of hello-probe:
* http://127.0.0.1:18772/s404/simple/hello-probe/
Fetching project page and analyzing links: http://127.0.0.1:18772/s404/simple/hello-probe/
Getting page http://127.0.0.1:18772/s404/simple/hello-probe/
Found index url http://127.0.0.1:18772/s404/simple/
Starting new HTTP connection (1): 127.0.0.1:18772
http://127.0.0.1:18772 \"GET /s404/simple/hello-probe/ HTTP/1.1\" 404 None
Could not fetch URL http://127.0.0.1:18772/s404/simple/hello-probe/: 404 Client Error: Not Found for url: http://127.0.0.1:18772/s404/simple/hello-probe/ - skipping
";
    const PIP_403: &str = "http://127.0.0.1:18772 \"GET /s403/simple/hello-probe/ HTTP/1.1\" 403 None
Could not fetch URL http://127.0.0.1:18772/s403/simple/hello-probe/: 403 Client Error: Forbidden for url: http://127.0.0.1:18772/s403/simple/hello-probe/ - skipping
";
    const PIP_500: &str = "Could not fetch URL http://127.0.0.1:18772/s500/simple/hello-probe/: HTTPConnectionPool(host='127.0.0.1', port=18772): Max retries exceeded with url: /s500/simple/hello-probe/ (Caused by ResponseError('too many 500 error responses')) - skipping
";
    const PIP_REFUSED: &str = "Could not fetch URL http://127.0.0.1:18779/simple/hello-probe/: connection error: HTTPConnectionPool(host='127.0.0.1', port=18779): Max retries exceeded with url: /simple/hello-probe/ (Caused by NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f52103b0490>: Failed to establish a new connection: [Errno 111] Connection refused')) - skipping
Skipping link: not a file: http://127.0.0.1:18779/simple/hello-probe/
";

    #[test]
    fn pip_index_versions_output() {
        let answer = parse_pip_index_versions(true, PIP_OK, PIP_WARNING)
            .unwrap()
            .unwrap();
        assert_eq!(answer.name, "hello-probe");
        assert_eq!(answer.latest.as_deref(), Some("0.2.0"));
        assert_eq!(answer.versions, ["0.2.0", "0.2.0rc1", "0.1.0"]);
        assert_eq!(answer.files.len(), 3);
        assert_eq!(answer.files[1].0, "0.2.0rc1");
        assert_eq!(answer.files[1].1.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(answer.files[1].1.hashes["sha256"], "bbbb");
        assert_eq!(answer.yanked.len(), 1);
        assert_eq!(answer.yanked[0].filename, "hello_probe-0.1.5.tar.gz");
        assert_eq!(answer.yanked[0].yanked.as_deref(), Some("broken"));
        // Without -vv: just the list.
        let plain = parse_pip_index_versions(
            true,
            "Hello_Probe (0.2.0)\nAvailable versions: 0.2.0, 0.2.0rc1, 0.1.0\n",
            PIP_WARNING,
        )
        .unwrap()
        .unwrap();
        assert_eq!(plain.name, "Hello_Probe");
        assert_eq!(plain.versions.len(), 3);

        assert_eq!(
            parse_pip_index_versions(false, PIP_404, PIP_NOT_FOUND),
            Ok(None)
        );
        assert_eq!(parse_pip_index_versions(false, "", PIP_NOT_FOUND), Ok(None));
        for failing in [PIP_403, PIP_500, PIP_REFUSED] {
            let err = parse_pip_index_versions(false, failing, PIP_NOT_FOUND).unwrap_err();
            assert!(
                err.starts_with("pip could not read http://127.0.0.1:"),
                "{err}"
            );
        }
        assert!(parse_pip_index_versions(false, "", "ERROR: bad option\n").is_err());
        assert!(parse_pip_index_versions(true, "", "").is_err());
    }
}
