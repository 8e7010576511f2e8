//! npm: the full packument (`GET {registry}/{name}`, scoped names as `@scope%2fname`), the
//! registry npm is configured with, and `npm view` when there is none to read over HTTP.
//!
//! The abbreviated document (`Accept: application/vnd.npm.install-v1+json`) drops `license`,
//! `description`, `repository` and `readme`, so the full packument is read.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use xshell::cmd;

use super::http::{percent_decode, percent_encode, Http};
use super::{client_shell, run_client, PackageVersions, ProbeError, Published, PublishedFile};
use crate::config::Ecosystem;

/// The full packument, as JSON.
pub const ACCEPT: &str = "application/json";

/// Check a package name before it becomes part of a URL: `name` or `@scope/name`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{name}` is not an npm package name ({why})"));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains whitespace");
    }
    let parts: Vec<&str> = name.strip_prefix('@').unwrap_or(name).split('/').collect();
    let scoped = name.starts_with('@');
    if (scoped && parts.len() != 2) || (!scoped && parts.len() != 1) {
        return bad("use `name` or `@scope/name`");
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || p.starts_with('.') || p.contains(['%', '\\']))
    {
        return bad("a part is empty, starts with `.`, or holds `%` or `\\`");
    }
    Ok(())
}

/// The name as one URL path segment: `@scope/name` → `@scope%2fname` (npm's own escaping).
pub fn escape_name(name: &str) -> String {
    match name
        .strip_prefix('@')
        .and_then(|scoped| scoped.split_once('/'))
    {
        Some((scope, package)) => {
            format!("@{}%2f{}", percent_encode(scope), percent_encode(package))
        }
        None => percent_encode(name),
    }
}

/// The packument URL of `name` in the registry at `registry` (ends with `/`).
pub fn packument_url(registry: &str, name: &str) -> String {
    format!("{registry}{}", escape_name(name))
}

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `license: "MIT"`, `license: {type}`, or the legacy `licenses: [{type}, ...]`.
fn license_of(version: &Value) -> Option<String> {
    match version.get("license") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Object(o)) => text(o.get("type")),
        _ => {
            let types: Vec<String> = version
                .get("licenses")?
                .as_array()?
                .iter()
                .filter_map(|l| text(l.get("type")).or_else(|| text(Some(l))))
                .collect();
            (!types.is_empty()).then(|| types.join(" OR "))
        }
    }
}

/// `repository: "url"` or `repository: {type, url}`.
fn repository_of(version: &Value) -> Option<String> {
    match version.get("repository") {
        Some(Value::Object(o)) => text(o.get("url")),
        other => text(other),
    }
}

/// Parse a packument. A document without `versions` (a fully unpublished package) lists none.
pub fn parse_packument(
    name: &str,
    source: &str,
    text_body: &str,
) -> Result<PackageVersions, String> {
    let doc: Value =
        serde_json::from_str(text_body).map_err(|e| format!("not a JSON packument: {e}"))?;
    if !doc.is_object() {
        return Err("the packument is not a JSON object".into());
    }
    let versions = match doc.get("versions") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err("the packument's `versions` is not an object".into()),
    };
    let versions = versions
        .into_iter()
        .map(|(version, meta)| {
            let mut published = Published::new(Ecosystem::Npm, version);
            published.license = license_of(&meta);
            published.description = text(meta.get("description"));
            published.repository = repository_of(&meta);
            published.deprecated = match meta.get("deprecated") {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Bool(true)) => Some(String::new()),
                _ => None,
            };
            if let Some(tarball) = text(meta.pointer("/dist/tarball")) {
                let path = tarball.split(['?', '#']).next().unwrap_or(&tarball);
                let mut hashes = BTreeMap::new();
                if let Some(shasum) = text(meta.pointer("/dist/shasum")) {
                    hashes.insert("sha1".to_string(), shasum);
                }
                published.files.push(PublishedFile {
                    filename: percent_decode(path.rsplit('/').next().unwrap_or("")),
                    url: tarball.clone(),
                    hashes,
                    integrity: text(meta.pointer("/dist/integrity")),
                    ..PublishedFile::default()
                });
            }
            published.meta = meta;
            published
        })
        .collect();
    let dist_tags = doc
        .get("dist-tags")
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(tag, v)| v.as_str().map(|v| (tag.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut package = PackageVersions {
        ecosystem: Ecosystem::Npm,
        name: text(doc.get("name")).unwrap_or_else(|| name.to_string()),
        source: source.to_string(),
        complete: true,
        versions,
        dist_tags,
        readme: text(doc.get("readme")),
    };
    package.sort();
    Ok(package)
}

/// Read `name`'s packument from the registry at `registry` (ends with `/`). `Ok(None)` when the
/// registry has no such package.
pub fn read_packument(
    http: &Http,
    registry: &str,
    name: &str,
) -> Result<Option<PackageVersions>, ProbeError> {
    let url = packument_url(registry, name);
    validate_name(name).map_err(|m| ProbeError::new(&url, m))?;
    let Some(fetched) = http.get(&url, ACCEPT)? else {
        return Ok(None);
    };
    parse_packument(name, &fetched.url, fetched.text()?)
        .map(Some)
        .map_err(|m| {
            ProbeError::new(&fetched.url, m)
                .with_status(fetched.status)
                .after_attempts(fetched.attempts)
        })
}

/// What `npm view NAME versions dist-tags --json` said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NpmView {
    pub versions: Vec<String>,
    pub dist_tags: BTreeMap<String, String>,
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Parse `npm view NAME versions dist-tags --json` (also the one-field forms: an array, or a
/// string for a single version). `Ok(None)` for npm's E404/E410; any other error is an error.
pub fn parse_npm_view(
    success: bool,
    stdout: &str,
    stderr: &str,
) -> Result<Option<NpmView>, String> {
    let parsed: Option<Value> = serde_json::from_str(stdout.trim()).ok();
    if let Some(error) = parsed.as_ref().and_then(|v| v.get("error")) {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("");
        if code == "E404" || code == "E410" {
            return Ok(None);
        }
        let summary = error.get("summary").and_then(Value::as_str).unwrap_or("");
        return Err(format!("npm view failed: {code} {summary}")
            .trim_end()
            .to_string());
    }
    if !success {
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("npm warn"))
            .collect();
        return Err(format!(
            "npm view failed:\n{}",
            lines[lines.len().saturating_sub(6)..].join("\n")
        ));
    }
    let Some(value) = parsed else {
        return Err(format!("npm view printed no JSON: {}", stdout.trim()));
    };
    let view = match &value {
        Value::Object(fields) => NpmView {
            versions: fields.get("versions").map(strings).unwrap_or_default(),
            dist_tags: fields
                .get("dist-tags")
                .and_then(Value::as_object)
                .map(|tags| {
                    tags.iter()
                        .filter_map(|(t, v)| v.as_str().map(|v| (t.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
        },
        other => NpmView {
            versions: strings(other),
            dist_tags: BTreeMap::new(),
        },
    };
    if view.versions.is_empty() {
        return Err(format!("npm view listed no versions: {}", stdout.trim()));
    }
    Ok(Some(view))
}

/// Ask `npm view` (from `root`, so npm reads the project's `.npmrc`).
pub fn client_versions(root: &Path, name: &str) -> Result<Option<PackageVersions>, ProbeError> {
    validate_name(name).map_err(|m| ProbeError::new(&format!("npm view {name}"), m))?;
    let sh = client_shell(root)?;
    let output = run_client(cmd!(sh, "npm view {name} versions dist-tags --json"))?;
    let Some(view) = parse_npm_view(output.success, &output.stdout, &output.stderr)
        .map_err(|m| output.error(m))?
    else {
        return Ok(None);
    };
    let mut package = PackageVersions {
        ecosystem: Ecosystem::Npm,
        name: name.to_string(),
        source: output.command,
        complete: true,
        versions: view
            .versions
            .into_iter()
            .map(|v| Published::new(Ecosystem::Npm, v))
            .collect(),
        dist_tags: view.dist_tags,
        readme: None,
    };
    package.sort();
    Ok(Some(package))
}

/// The value `npm config get KEY` printed; `None` for an unset key (`undefined`).
pub fn parse_npm_config_get(stdout: &str) -> Option<String> {
    let value = stdout.lines().map(str::trim).find(|l| !l.is_empty())?;
    (!matches!(value, "undefined" | "null")).then(|| value.to_string())
}

/// The registry npm uses for `package` (its scope's `@scope:registry` first), asked from `root`.
pub fn registry_from_npm_config(
    root: &Path,
    package: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let sh = client_shell(root)?;
    let scope = package
        .and_then(|p| p.strip_prefix('@'))
        .and_then(|p| p.split_once('/'))
        .map(|(scope, _)| scope);
    let mut keys = Vec::new();
    if let Some(scope) = scope {
        keys.push(format!("@{scope}:registry"));
    }
    keys.push("registry".to_string());
    for key in keys {
        let output = run_client(cmd!(sh, "npm config get {key}"))?;
        if !output.success {
            return Err(output
                .error(format!("npm config get failed:\n{}", output.tail()))
                .into());
        }
        if let Some(url) = parse_npm_config_get(&output.stdout) {
            return Ok(Some(url));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_as_npm_does() {
        assert_eq!(escape_name("@scope/name"), "@scope%2fname");
        assert_eq!(escape_name("left-pad"), "left-pad");
        assert_eq!(escape_name("@a.b/c_d~e"), "@a.b%2fc_d~e");
        assert_eq!(
            packument_url("http://127.0.0.1:4873/", "@acme/one"),
            "http://127.0.0.1:4873/@acme%2fone"
        );
        assert!(validate_name("@scope/name").is_ok());
        assert!(validate_name("name").is_ok());
        for bad in ["", "@scope", "@/x", "a/b", "@a/b/c", "..", "a b", "%2e"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    const PACKUMENT: &str = r##"{"_id":"@acme/hello","name":"@acme/hello","dist-tags":{"latest":"1.1.0","next":"2.0.0-rc.1"},
"versions":{
"1.0.0":{"name":"@acme/hello","version":"1.0.0","license":"MIT","description":"d","repository":{"type":"git","url":"git+https://example.invalid/acme/hello.git"},
  "dist":{"tarball":"http://127.0.0.1:4873/@acme/hello/-/hello-1.0.0.tgz","shasum":"aa","integrity":"sha512-AA=="}},
"1.10.0":{"name":"@acme/hello","version":"1.10.0","license":{"type":"Apache-2.0"},"deprecated":"use 2",
  "dist":{"tarball":"http://127.0.0.1:4873/@acme/hello/-/hello-1.10.0.tgz","shasum":"bb"}},
"1.1.0":{"name":"@acme/hello","version":"1.1.0","licenses":[{"type":"MIT"},{"type":"GPL-2.0"}],"repository":"github:acme/hello"},
"2.0.0-rc.1":{"name":"@acme/hello","version":"2.0.0-rc.1","deprecated":""}},
"time":{"created":"2024-01-01T00:00:00.000Z"},"readme":"# hello"}"##;

    #[test]
    fn packument_fields() {
        let package = parse_packument("@acme/hello", "src", PACKUMENT).unwrap();
        assert_eq!(package.name, "@acme/hello");
        assert_eq!(package.readme.as_deref(), Some("# hello"));
        assert_eq!(package.dist_tags["next"], "2.0.0-rc.1");
        let order: Vec<&str> = package
            .versions
            .iter()
            .map(|p| p.version.as_str())
            .collect();
        assert_eq!(order, ["1.0.0", "1.1.0", "1.10.0", "2.0.0-rc.1"]);
        let first = package.find("1.0.0").unwrap();
        assert_eq!(first.license.as_deref(), Some("MIT"));
        assert_eq!(first.description.as_deref(), Some("d"));
        assert_eq!(
            first.repository.as_deref(),
            Some("git+https://example.invalid/acme/hello.git")
        );
        assert_eq!(first.files[0].filename, "hello-1.0.0.tgz");
        assert_eq!(first.files[0].hashes["sha1"], "aa");
        assert_eq!(first.files[0].integrity.as_deref(), Some("sha512-AA=="));
        let deprecated = package.find("1.10.0").unwrap();
        assert_eq!(deprecated.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(deprecated.deprecated.as_deref(), Some("use 2"));
        assert!(!deprecated.yanked);
        let legacy = package.find("1.1.0").unwrap();
        assert_eq!(legacy.license.as_deref(), Some("MIT OR GPL-2.0"));
        assert_eq!(legacy.repository.as_deref(), Some("github:acme/hello"));
        assert!(legacy.files.is_empty());
        assert_eq!(package.find("2.0.0-rc.1").unwrap().deprecated, None);
        assert!(package.contains("v1.1.0"));
        assert!(!package.contains("1.2.0"));

        let unpublished = parse_packument(
            "gone",
            "src",
            r#"{"_id":"gone","name":"gone","time":{"unpublished":{"time":"2024-01-01"}}}"#,
        )
        .unwrap();
        assert!(unpublished.versions.is_empty());
        assert!(parse_packument("x", "src", "[]").is_err());
        assert!(parse_packument("x", "src", r#"{"versions":[]}"#).is_err());
        assert!(parse_packument("x", "src", "<html>").is_err());
    }

    // Recorded from `npm view NAME versions dist-tags --json` (npm 11) against loopback registries.
    const VIEW_OK: &str = "{\n  \"versions\": [\n    \"1.0.0\",\n    \"1.1.0\",\n    \"2.0.0-rc.1\"\n  ],\n  \"dist-tags\": {\n    \"latest\": \"1.1.0\",\n    \"next\": \"2.0.0-rc.1\"\n  }\n}\n";
    const VIEW_404: &str = "{\n  \"error\": {\n    \"code\": \"E404\",\n    \"summary\": \"File not found - GET http://127.0.0.1:18771/npm/nope-pkg\",\n    \"detail\": \"The requested resource 'nope-pkg@*' could not be found or you do not have permission to access it.\\n\\nNote that you can also install from a\\ntarball, folder, http url, or git url.\"\n  }\n}\n";
    const VIEW_403: &str = "{\n  \"error\": {\n    \"code\": \"E403\",\n    \"summary\": \"403 Forbidden - GET http://127.0.0.1:18772/s403/hello-probe\",\n    \"detail\": \"In most cases, you or one of your dependencies are requesting a package version that is forbidden by your security policy, or on a server you do not have access to.\"\n  }\n}\n";
    const VIEW_410: &str = "{\n  \"error\": {\n    \"code\": \"E410\",\n    \"summary\": \"410 Gone - GET http://127.0.0.1:18772/s410/hello-probe\",\n    \"detail\": \"\"\n  }\n}\n";
    const VIEW_REFUSED: &str = "{\n  \"error\": {\n    \"code\": \"ECONNREFUSED\",\n    \"summary\": \"FetchError: request to http://127.0.0.1:18779/hello-probe failed, reason: connect ECONNREFUSED 127.0.0.1:18779\",\n    \"detail\": \"If you are behind a proxy, please make sure that the 'proxy' config is set properly.  See: 'npm help config'\"\n  }\n}\n";
    const VIEW_STDERR: &str = "npm warn Unknown user config \"nodedir\". This will stop working in the next major version of npm.\nnpm error code E404\n";

    #[test]
    fn npm_view_output() {
        let view = parse_npm_view(true, VIEW_OK, "").unwrap().unwrap();
        assert_eq!(view.versions, ["1.0.0", "1.1.0", "2.0.0-rc.1"]);
        assert_eq!(view.dist_tags["latest"], "1.1.0");
        let one = parse_npm_view(true, "[\n  \"0.1.0\"\n]\n", "")
            .unwrap()
            .unwrap();
        assert_eq!(one.versions, ["0.1.0"]);
        let older = parse_npm_view(true, "\"0.1.0\"\n", "").unwrap().unwrap();
        assert_eq!(older.versions, ["0.1.0"]);

        assert_eq!(parse_npm_view(false, VIEW_404, VIEW_STDERR), Ok(None));
        assert_eq!(parse_npm_view(false, VIEW_410, VIEW_STDERR), Ok(None));
        let err = parse_npm_view(false, VIEW_403, VIEW_STDERR).unwrap_err();
        assert!(err.contains("E403"), "{err}");
        let err = parse_npm_view(false, VIEW_REFUSED, VIEW_STDERR).unwrap_err();
        assert!(err.contains("ECONNREFUSED"), "{err}");
        let err = parse_npm_view(false, "", "npm error something broke\n").unwrap_err();
        assert!(err.contains("something broke"), "{err}");
        assert!(parse_npm_view(true, "", "").is_err());
    }

    #[test]
    fn npm_config_get_output() {
        assert_eq!(
            parse_npm_config_get("http://127.0.0.1:4873/\n").as_deref(),
            Some("http://127.0.0.1:4873/")
        );
        assert_eq!(parse_npm_config_get("undefined\n"), None);
        assert_eq!(parse_npm_config_get("\n"), None);
    }
}
