//! Cargo: the sparse index (one JSON line per version, `config.json` for download URLs), the
//! index cargo itself is configured with (source replacement), and `cargo info` when there is
//! none to read over HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use regex::Regex;
use serde::Deserialize;
use xshell::cmd;

use super::http::{Fetched, Http};
use super::{client_shell, run_client, PackageVersions, ProbeError, Published, PublishedFile};
use crate::config::Ecosystem;

/// A sparse index's `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IndexConfig {
    /// The download URL template (`{crate}`, `{version}`, `{prefix}`, `{lowerprefix}`,
    /// `{sha256-checksum}`; none of them means `/{crate}/{version}/download` is appended).
    pub dl: String,
    /// The web API's base URL (publish, yank, owners), if the registry has one.
    #[serde(default)]
    pub api: Option<String>,
    /// Whether every request needs a token.
    #[serde(default)]
    pub auth_required: bool,
}

/// One crate's index file as read.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexFile {
    /// The URL it was read from.
    pub url: String,
    /// The name asked for.
    pub name: String,
    pub entries: Vec<IndexEntry>,
}

/// One line of an index file.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub name: String,
    pub vers: String,
    pub cksum: Option<String>,
    pub yanked: bool,
    /// The whole line (`deps`, `features`, `rust_version`, ...).
    pub raw: serde_json::Value,
}

/// Check a crate name before it becomes part of a URL.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the crate name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "`{name}` is not a crate name (`{c}` is not allowed)"
        ));
    }
    Ok(())
}

/// The directory part of a crate's index path, in the name's own case: `1`, `2`, `3/s`, `se/rd`.
pub fn prefix(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", chars[0]),
        _ => format!(
            "{}/{}",
            chars[..2].iter().collect::<String>(),
            chars[2..4].iter().collect::<String>()
        ),
    }
}

/// A crate's file in the index, relative to the index URL: lowercase, `{prefix}/{name}`.
pub fn index_path(name: &str) -> String {
    format!("{}/{name}", prefix(name)).to_lowercase()
}

/// Where the `.crate` of `name@version` is downloaded from.
pub fn download_url(config: &IndexConfig, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| config.dl.contains(m)) {
        return format!("{}/{name}/{version}/download", config.dl);
    }
    let prefix = prefix(name);
    config
        .dl
        .replace("{crate}", name)
        .replace("{version}", version)
        .replace("{lowerprefix}", &prefix.to_lowercase())
        .replace("{prefix}", &prefix)
        .replace("{sha256-checksum}", cksum)
}

/// Parse an index file: one JSON object per line (blank lines skipped). A line without `name`
/// and `vers` is an error, not a missing version.
pub fn parse_index_file(text: &str) -> Result<Vec<IndexEntry>, String> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let raw: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not a JSON index entry: {e}", i + 1))?;
        let field = |key: &str| raw.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(name), Some(vers)) = (field("name"), field("vers")) else {
            return Err(format!(
                "line {}: index entry without `name` and `vers`",
                i + 1
            ));
        };
        entries.push(IndexEntry {
            name,
            vers,
            cksum: field("cksum"),
            yanked: raw.get("yanked").and_then(|v| v.as_bool()).unwrap_or(false),
            raw,
        });
    }
    Ok(entries)
}

/// Read `name`'s index file from the sparse index at `index` (ends with `/`). `Ok(None)` when the
/// index has no such crate.
pub fn read_index_file(
    http: &Http,
    index: &str,
    name: &str,
) -> Result<Option<IndexFile>, ProbeError> {
    let url = format!("{index}{}", index_path(name));
    validate_name(name).map_err(|m| ProbeError::new(&url, m))?;
    let Some(fetched) = http.get(&url, "*/*")? else {
        return Ok(None);
    };
    let entries = parse_index_file(fetched.text()?).map_err(|m| answer_error(&fetched, m))?;
    Ok(Some(IndexFile {
        url: fetched.url,
        name: name.to_string(),
        entries,
    }))
}

/// Read the index's `config.json`.
pub fn read_index_config(http: &Http, index: &str) -> Result<IndexConfig, ProbeError> {
    let url = format!("{index}config.json");
    let Some(fetched) = http.get(&url, "application/json")? else {
        return Err(ProbeError::new(
            &url,
            "the index has no config.json: is this a Cargo sparse index URL?",
        ));
    };
    serde_json::from_slice(&fetched.body)
        .map_err(|e| answer_error(&fetched, format!("not a Cargo index config.json: {e}")))
}

fn answer_error(fetched: &Fetched, message: String) -> ProbeError {
    ProbeError::new(&fetched.url, message)
        .with_status(fetched.status)
        .after_attempts(fetched.attempts)
}

/// The versions an index file lists (with `.crate` URLs when the index's config is known).
pub fn package_versions(file: IndexFile, config: Option<&IndexConfig>) -> PackageVersions {
    let name = file
        .entries
        .first()
        .map_or_else(|| file.name.clone(), |e| e.name.clone());
    let versions = file
        .entries
        .into_iter()
        .map(|entry| {
            let mut published = Published::new(Ecosystem::Cargo, entry.vers.clone());
            published.yanked = entry.yanked;
            if let Some(config) = config {
                let cksum = entry.cksum.clone().unwrap_or_default();
                let mut hashes = BTreeMap::new();
                if !cksum.is_empty() {
                    hashes.insert("sha256".to_string(), cksum.clone());
                }
                published.files.push(PublishedFile {
                    filename: format!("{}-{}.crate", entry.name, entry.vers),
                    url: download_url(config, &entry.name, &entry.vers, &cksum),
                    hashes,
                    ..PublishedFile::default()
                });
            }
            published.meta = entry.raw;
            published
        })
        .collect();
    let mut package = PackageVersions {
        ecosystem: Ecosystem::Cargo,
        name,
        source: file.url,
        complete: true,
        versions,
        dist_tags: BTreeMap::new(),
        readme: None,
    };
    package.sort();
    package
}

/// What `cargo info NAME[@VERSION]` printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoInfo {
    pub name: String,
    pub version: String,
    /// The newest version, when cargo says the shown one is not it.
    pub latest: Option<String>,
    pub description: Option<String>,
    /// Every `key: value` line (`license`, `rust-version`, `repository`, `documentation`, ...).
    pub fields: BTreeMap<String, String>,
}

/// Parse `cargo info` output. `Ok(None)` for cargo's "could not find" answer; any other failure
/// is an error with cargo's last words.
pub fn parse_cargo_info(
    success: bool,
    stdout: &str,
    stderr: &str,
) -> Result<Option<CargoInfo>, String> {
    if !success {
        let not_found = Regex::new(r"(?m)^error: could not find `[^`]+` in registry")
            .map_err(|e| e.to_string())?;
        if not_found.is_match(stderr) {
            return Ok(None);
        }
        // From cargo's first `error:` line: the error and its first causes (not a response body).
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let start = lines
            .iter()
            .position(|l| l.starts_with("error:"))
            .unwrap_or(lines.len().saturating_sub(8));
        let end = lines.len().min(start + 6);
        return Err(format!(
            "cargo info failed:\n{}",
            lines[start..end].join("\n")
        ));
    }
    let mut lines = stdout.lines().skip_while(|l| l.trim().is_empty());
    let name = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .ok_or("cargo info printed nothing")?
        .to_string();
    let key_line = Regex::new(r"^([a-z][a-z0-9.-]*): ?(.*)$").map_err(|e| e.to_string())?;
    let mut info = CargoInfo {
        name,
        ..CargoInfo::default()
    };
    let mut description = Vec::new();
    let mut seen_version = false;
    for line in lines {
        if let Some(caps) = key_line.captures(line) {
            let (key, value) = (&caps[1], caps[2].trim());
            if key == "version" {
                seen_version = true;
                info.version = value.split_whitespace().next().unwrap_or("").to_string();
                info.latest = value
                    .split_once("(latest ")
                    .and_then(|(_, rest)| rest.split([' ', ')']).next())
                    .map(str::to_string);
            } else if seen_version {
                info.fields.insert(key.to_string(), value.to_string());
            } else {
                description.push(line.trim());
            }
        } else if !seen_version && !line.trim().is_empty() {
            description.push(line.trim());
        }
    }
    if info.version.is_empty() {
        return Err(format!("cargo info printed no `version:` line:\n{stdout}"));
    }
    if !description.is_empty() {
        info.description = Some(description.join("\n"));
    }
    Ok(Some(info))
}

/// A temp dir outside any workspace, with the repository's cargo configuration files copied in.
fn outside_workspace(root: &Path) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("shiplane-cargo-info-")
        .tempdir()?;
    for name in ["config.toml", "config"] {
        let from = root.join(".cargo").join(name);
        if from.is_file() {
            std::fs::create_dir_all(dir.path().join(".cargo"))?;
            std::fs::copy(&from, dir.path().join(".cargo").join(name))?;
        }
    }
    Ok(dir)
}

/// Ask `cargo info`. It runs in a temporary directory holding a copy of the repository's
/// `.cargo/config.toml` (so cargo reads the same configuration): run inside the workspace, cargo
/// would answer with the workspace's own, unpublished package. It shows one version and cannot
/// see yanked ones: [`PackageVersions::complete`] is false.
pub fn client_info(
    root: &Path,
    name: &str,
    version: Option<&str>,
) -> Result<Option<PackageVersions>, ProbeError> {
    let spec = match version {
        Some(v) => format!("{name}@{}", v.trim()),
        None => name.to_string(),
    };
    validate_name(name).map_err(|m| ProbeError::new(&format!("cargo info {spec}"), m))?;
    let outside = outside_workspace(root).map_err(|e| {
        ProbeError::new(
            &format!("cargo info {spec}"),
            format!("cannot prepare a temp dir: {e}"),
        )
    })?;
    let sh = client_shell(outside.path())?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = run_client(cmd!(sh, "{cargo} info {spec}").env("CARGO_TERM_COLOR", "never"))?;
    let Some(info) = parse_cargo_info(output.success, &output.stdout, &output.stderr)
        .map_err(|m| output.error(m))?
    else {
        return Ok(None);
    };
    let mut published = Published::new(Ecosystem::Cargo, info.version.clone());
    published.description = info.description.clone();
    published.license = info.fields.get("license").cloned();
    published.repository = info.fields.get("repository").cloned();
    published.meta = serde_json::json!({
        "latest": info.latest,
        "fields": info.fields,
    });
    Ok(Some(PackageVersions {
        ecosystem: Ecosystem::Cargo,
        name: info.name,
        source: output.command,
        complete: false,
        versions: vec![published],
        dist_tags: BTreeMap::new(),
        readme: None,
    }))
}

/// The config files cargo reads from `root`, highest priority first: `.cargo/config.toml` (or
/// `.cargo/config`) in `root` and each parent, then in `$CARGO_HOME`.
pub fn cargo_config_files(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let root = std::fs::canonicalize(root)
        .or_else(|_| std::path::absolute(root))
        .unwrap_or_else(|_| root.to_path_buf());
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = root.ancestors().map(|d| d.join(".cargo")).collect();
    let home = env("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(home) = home {
        let canonical = std::fs::canonicalize(&home).unwrap_or(home);
        if !dirs.contains(&canonical) {
            dirs.push(canonical);
        }
    }
    for dir in dirs {
        // Cargo's rule: with both present, the file without the extension is used.
        let legacy = dir.join("config");
        let modern = dir.join("config.toml");
        if legacy.is_file() {
            files.push(legacy);
        } else if modern.is_file() {
            files.push(modern);
        }
    }
    files
}

/// The index cargo reads packages from when no registry is named, as written (`sparse+http...`):
/// the `[registry] default` registry (or `CARGO_REGISTRY_DEFAULT`), whose index is
/// `[registries.NAME] index` (or `CARGO_REGISTRIES_<NAME>_INDEX`); else the source that replaces
/// crates-io (`[source.crates-io] replace-with`, followed through `[source.X]` or
/// `[registries.X]`). `Ok(None)` when there is neither, or it is not a sparse index (git index,
/// local or directory source): then only cargo itself can answer.
pub fn index_from_cargo_config(
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<String>> {
    let mut documents = Vec::new();
    for path in cargo_config_files(root, env) {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read cargo config {}", path.display()))?;
        let document: toml_edit::DocumentMut = text
            .parse()
            .with_context(|| format!("cannot parse cargo config {}", path.display()))?;
        documents.push((path, document));
    }
    let lookup = |keys: &[&str]| -> Option<(String, PathBuf)> {
        documents.iter().find_map(|(path, doc)| {
            let mut item = doc.as_item();
            for key in keys {
                item = item.get(key)?;
            }
            item.as_str().map(|s| (s.to_string(), path.clone()))
        })
    };
    let registry_index = |name: &str| {
        let env_key = format!(
            "CARGO_REGISTRIES_{}_INDEX",
            name.to_uppercase().replace('-', "_")
        );
        env(&env_key)
            .filter(|u| !u.is_empty())
            .or_else(|| lookup(&["registries", name, "index"]).map(|(url, _)| url))
    };
    let default = env("CARGO_REGISTRY_DEFAULT")
        .filter(|d| !d.is_empty())
        .or_else(|| lookup(&["registry", "default"]).map(|(name, _)| name));
    if let Some(name) = default.filter(|d| d != "crates-io") {
        let Some(url) = registry_index(&name) else {
            bail!(
                "cargo's default registry is `{name}`, which has no [registries.{name}] index (nor CARGO_REGISTRIES_{}_INDEX)",
                name.to_uppercase().replace('-', "_")
            );
        };
        return Ok(url.starts_with("sparse+").then_some(url));
    }
    let mut source = "crates-io".to_string();
    let mut chain = vec![source.clone()];
    while let Some((next, path)) = lookup(&["source", &source, "replace-with"]) {
        if chain.contains(&next) {
            bail!(
                "cargo source replacement forms a cycle: {} → {next} ({})",
                chain.join(" → "),
                path.display()
            );
        }
        chain.push(next.clone());
        source = next;
    }
    if source == "crates-io" {
        return Ok(None);
    }
    let url = if let Some((url, _)) = lookup(&["source", &source, "registry"]) {
        url
    } else if let Some(url) = registry_index(&source) {
        url
    } else if ["local-registry", "directory", "git"]
        .iter()
        .any(|kind| lookup(&["source", &source, kind]).is_some())
    {
        return Ok(None);
    } else {
        bail!(
            "cargo's configuration replaces crates-io with `{source}`, which is neither a [source.{source}] nor a [registries.{source}] table"
        );
    };
    Ok(url.starts_with("sparse+").then_some(url))
}

/// For a `[registry.NAME]` of `config`: the name cargo knows it by (`cargo-name`, else NAME), the
/// environment variable that tells cargo its index (`CARGO_REGISTRIES_<NAME>_INDEX`, so it needs no
/// entry in cargo's configuration), and the index as cargo wants it (`sparse+...`).
pub fn cargo_registry_of(config: &crate::config::Config, name: &str) -> Option<CargoRegistry> {
    let registry = config.registries.get(name)?.get_ref();
    let cargo_name = registry
        .cargo_name
        .clone()
        .unwrap_or_else(|| name.to_string());
    let index = registry.index.get_ref().trim().to_string();
    let index = if index.starts_with("sparse+") {
        index
    } else {
        format!("sparse+{index}")
    };
    Some(CargoRegistry {
        env_name: cargo_env_name(&cargo_name),
        cargo_name,
        index,
    })
}

/// A registry as cargo is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoRegistry {
    pub cargo_name: String,
    /// `<NAME>` of `CARGO_REGISTRIES_<NAME>_INDEX` / `_TOKEN`.
    pub env_name: String,
    pub index: String,
}

impl CargoRegistry {
    pub fn index_var(&self) -> String {
        format!("CARGO_REGISTRIES_{}_INDEX", self.env_name)
    }

    pub fn token_var(&self) -> String {
        format!("CARGO_REGISTRIES_{}_TOKEN", self.env_name)
    }
}

/// cargo's environment spelling of a registry name: upper case, `-` as `_`.
pub fn cargo_env_name(cargo_name: &str) -> String {
    cargo_name
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_by_name_length() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Abc"), "3/a/abc");
        assert_eq!(index_path("serde"), "se/rd/serde");
        assert_eq!(index_path("Serde_JSON"), "se/rd/serde_json");
        assert_eq!(index_path("cargo"), "ca/rg/cargo");
        assert_eq!(index_path("abcd"), "ab/cd/abcd");
        assert_eq!(prefix("Serde"), "Se/rd");
        assert!(validate_name("../etc").is_err());
        assert!(validate_name("").is_err());
        assert!(validate_name("hello-probe_2").is_ok());
    }

    #[test]
    fn download_urls_from_templates() {
        let plain = IndexConfig {
            dl: "http://127.0.0.1:8000/api/v1/crates".into(),
            api: None,
            auth_required: false,
        };
        assert_eq!(
            download_url(&plain, "Serde", "1.0.0", "ab"),
            "http://127.0.0.1:8000/api/v1/crates/Serde/1.0.0/download"
        );
        let templated = IndexConfig {
            dl: "http://127.0.0.1:8000/dl/{lowerprefix}/{prefix}/{crate}-{version}.crate?h={sha256-checksum}".into(),
            ..plain
        };
        assert_eq!(
            download_url(&templated, "Serde", "1.0.0", "ab"),
            "http://127.0.0.1:8000/dl/se/rd/Se/rd/Serde-1.0.0.crate?h=ab"
        );
    }

    #[test]
    fn index_file_lines() {
        let text = concat!(
            r#"{"name":"hello-probe","vers":"0.1.0","deps":[],"cksum":"aa","features":{},"yanked":true}"#,
            "\n\n",
            r#"{"name":"hello-probe","vers":"0.2.0","deps":[],"cksum":"bb","features":{},"yanked":false,"rust_version":"1.70","v":2,"features2":{}}"#,
            "\n"
        );
        let entries = parse_index_file(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[0].yanked);
        assert_eq!(entries[1].cksum.as_deref(), Some("bb"));
        assert_eq!(entries[1].raw["rust_version"], "1.70");
        let config = IndexConfig {
            dl: "http://127.0.0.1:1/dl/{crate}/{version}/download".into(),
            api: None,
            auth_required: false,
        };
        let package = package_versions(
            IndexFile {
                url: "http://127.0.0.1:1/he/ll/hello-probe".into(),
                name: "hello-probe".into(),
                entries,
            },
            Some(&config),
        );
        assert!(package.contains("0.1.0") && package.contains("0.2.0"));
        assert!(!package.contains("0.3.0"));
        assert!(package.find("0.1.0").unwrap().yanked);
        let file = &package.find("0.2.0").unwrap().files[0];
        assert_eq!(file.filename, "hello-probe-0.2.0.crate");
        assert_eq!(file.url, "http://127.0.0.1:1/dl/hello-probe/0.2.0/download");
        assert_eq!(file.hashes["sha256"], "bb");

        let err = parse_index_file("{\"name\":\"x\"}\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        assert!(parse_index_file("<html>").unwrap_err().contains("line 1"));
    }

    // Recorded from `cargo info` (cargo 1.95) against a loopback sparse registry named `loc`.
    const INFO_FOUND: &str = "hello-probe\nA probe fixture\nversion: 0.2.0 (latest 0.3.0 from registry `loc`)\nlicense: MIT\nrust-version: unknown\nrepository: https://example.invalid/hello-probe\n";
    const INFO_FOUND_STDERR: &str = "    Updating `loc` index\n Downloading crates ...\n  Downloaded hello-probe v0.2.0 (registry `loc`)\n";
    const INFO_ABSENT_VERSION: &str = "    Updating `loc` index\nerror: could not find `hello-probe@0.1.0` in registry `sparse+http://127.0.0.1:18771/index/`\n";
    const INFO_ABSENT_CRATE: &str = "    Updating `loc` index\nerror: could not find `nope-crate` in registry `sparse+http://127.0.0.1:18771/index/`\n";
    const INFO_REFUSED: &str = "    Updating `loc` index\nwarning: spurious network error (1 try remaining): [7] Could not connect to server (Failed to connect to 127.0.0.1 port 18779 after 0 ms: Could not connect to server)\nerror: download of config.json failed\n\nCaused by:\n  failed to download from `http://127.0.0.1:18779/index/config.json`\n\nCaused by:\n  [7] Could not connect to server (Failed to connect to 127.0.0.1 port 18779 after 0 ms: Could not connect to server)\n";
    const INFO_DOWNLOAD_404: &str = "    Updating `loc` index\n Downloading crates ...\nerror: failed to download from `http://127.0.0.1:18771/dl/hello-probe/0.3.0-rc.1/download`\n\nCaused by:\n  failed to get successful HTTP response from `http://127.0.0.1:18771/dl/hello-probe/0.3.0-rc.1/download` (127.0.0.1), got 404\n";

    #[test]
    fn cargo_info_output() {
        let info = parse_cargo_info(true, INFO_FOUND, INFO_FOUND_STDERR)
            .unwrap()
            .unwrap();
        assert_eq!(info.name, "hello-probe");
        assert_eq!(info.version, "0.2.0");
        assert_eq!(info.latest.as_deref(), Some("0.3.0"));
        assert_eq!(info.description.as_deref(), Some("A probe fixture"));
        assert_eq!(info.fields["license"], "MIT");
        assert_eq!(
            info.fields["repository"],
            "https://example.invalid/hello-probe"
        );
        let plain = parse_cargo_info(
            true,
            "x #cli #tool\nversion: 1.0.0\nfeatures:\n +default\n",
            "",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (plain.name.as_str(), plain.version.as_str()),
            ("x", "1.0.0")
        );
        assert_eq!((plain.latest, plain.description), (None, None));

        assert_eq!(parse_cargo_info(false, "", INFO_ABSENT_VERSION), Ok(None));
        assert_eq!(parse_cargo_info(false, "", INFO_ABSENT_CRATE), Ok(None));
        let err = parse_cargo_info(false, "", INFO_REFUSED).unwrap_err();
        assert!(err.contains("Could not connect"), "{err}");
        let err = parse_cargo_info(false, "", INFO_DOWNLOAD_404).unwrap_err();
        assert!(
            err.contains("got 404"),
            "a download failure is not absence: {err}"
        );
        assert!(err.contains("error: failed to download"), "{err}");
        assert!(!err.contains("Updating"), "{err}");
        assert!(parse_cargo_info(true, "", "").is_err());
    }

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |key: &str| map.get(key).cloned()
    }

    #[test]
    fn source_replacement_from_config_files() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("cargo-home");
        let repo = tmp.path().join("work/repo");
        let sub = repo.join("crates/engine");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(sub.join(".cargo")).unwrap();
        std::fs::create_dir_all(repo.join(".cargo")).unwrap();
        let env = env_of(&[("CARGO_HOME", home.display().to_string())]);

        // Nothing configured: ask cargo.
        assert_eq!(index_from_cargo_config(&sub, &env).unwrap(), None);

        // $CARGO_HOME replaces crates-io with a sparse mirror.
        std::fs::write(
            home.join("config.toml"),
            "[source.crates-io]\nreplace-with = \"mirror\"\n[source.mirror]\nregistry = \"sparse+http://127.0.0.1:9000/home/\"\n",
        )
        .unwrap();
        assert_eq!(
            index_from_cargo_config(&sub, &env).unwrap().as_deref(),
            Some("sparse+http://127.0.0.1:9000/home/")
        );

        // The repository's config wins, and may name a [registries] table, which the
        // environment can override.
        std::fs::write(
            repo.join(".cargo/config.toml"),
            "[source.crates-io]\nreplace-with = \"local\"\n[registries.local]\nindex = \"sparse+http://127.0.0.1:9000/repo/\"\n",
        )
        .unwrap();
        assert_eq!(
            index_from_cargo_config(&sub, &env).unwrap().as_deref(),
            Some("sparse+http://127.0.0.1:9000/repo/")
        );
        let env_override = env_of(&[
            ("CARGO_HOME", home.display().to_string()),
            (
                "CARGO_REGISTRIES_LOCAL_INDEX",
                "sparse+http://127.0.0.1:9000/env/".into(),
            ),
        ]);
        assert_eq!(
            index_from_cargo_config(&sub, &env_override)
                .unwrap()
                .as_deref(),
            Some("sparse+http://127.0.0.1:9000/env/")
        );

        // A deeper directory's legacy `config` file (dotted keys, chained replacement).
        std::fs::write(
            sub.join(".cargo/config"),
            "source.crates-io.replace-with = \"a\"\nsource.a.replace-with = \"b\"\nsource.b.registry = \"sparse+http://127.0.0.1:9000/sub/\"\n",
        )
        .unwrap();
        assert_eq!(
            index_from_cargo_config(&sub, &env).unwrap().as_deref(),
            Some("sparse+http://127.0.0.1:9000/sub/")
        );
        assert_eq!(
            index_from_cargo_config(&repo, &env).unwrap().as_deref(),
            Some("sparse+http://127.0.0.1:9000/repo/"),
            "a child directory's config does not apply to its parent"
        );

        // A git index or a vendored directory cannot be read over HTTP: ask cargo.
        std::fs::write(
            sub.join(".cargo/config"),
            "[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"vendor\"\n",
        )
        .unwrap();
        assert_eq!(index_from_cargo_config(&sub, &env).unwrap(), None);
        std::fs::write(
            sub.join(".cargo/config"),
            "[source.crates-io]\nreplace-with = \"g\"\n[source.g]\nregistry = \"http://127.0.0.1:9000/git\"\n",
        )
        .unwrap();
        assert_eq!(index_from_cargo_config(&sub, &env).unwrap(), None);

        // Mistakes are errors, with the file named.
        std::fs::write(
            sub.join(".cargo/config"),
            "[source.crates-io]\nreplace-with = \"x\"\n[source.x]\nreplace-with = \"crates-io\"\n",
        )
        .unwrap();
        let err = index_from_cargo_config(&sub, &env).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
        std::fs::write(
            sub.join(".cargo/config"),
            "[source.crates-io]\nreplace-with = \"missing\"\n",
        )
        .unwrap();
        let err = index_from_cargo_config(&sub, &env).unwrap_err().to_string();
        assert!(err.contains("`missing`"), "{err}");
        std::fs::write(sub.join(".cargo/config"), "[source\n").unwrap();
        let err = format!("{:#}", index_from_cargo_config(&sub, &env).unwrap_err());
        assert!(err.contains("cannot parse cargo config"), "{err}");
    }

    #[test]
    fn the_default_registry_comes_first() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("cargo-home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join("config.toml"),
            concat!(
                "[registry]\ndefault = \"loc\"\n",
                "[registries.loc]\nindex = \"sparse+http://127.0.0.1:9000/loc/\"\n",
                "[registries.other]\nindex = \"sparse+http://127.0.0.1:9000/other/\"\n",
                "[source.crates-io]\nreplace-with = \"other\"\n",
            ),
        )
        .unwrap();
        let env = env_of(&[("CARGO_HOME", home.display().to_string())]);
        assert_eq!(
            index_from_cargo_config(tmp.path(), &env)
                .unwrap()
                .as_deref(),
            Some("sparse+http://127.0.0.1:9000/loc/")
        );
        let by_env = env_of(&[
            ("CARGO_HOME", home.display().to_string()),
            ("CARGO_REGISTRY_DEFAULT", "other".into()),
        ]);
        assert_eq!(
            index_from_cargo_config(tmp.path(), &by_env)
                .unwrap()
                .as_deref(),
            Some("sparse+http://127.0.0.1:9000/other/")
        );
        let crates_io = env_of(&[
            ("CARGO_HOME", home.display().to_string()),
            ("CARGO_REGISTRY_DEFAULT", "crates-io".into()),
        ]);
        assert_eq!(
            index_from_cargo_config(tmp.path(), &crates_io)
                .unwrap()
                .as_deref(),
            Some("sparse+http://127.0.0.1:9000/other/"),
            "crates-io as the default falls through to its replacement"
        );
        let missing = env_of(&[
            ("CARGO_HOME", home.display().to_string()),
            ("CARGO_REGISTRY_DEFAULT", "nowhere".into()),
        ]);
        let err = index_from_cargo_config(tmp.path(), &missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CARGO_REGISTRIES_NOWHERE_INDEX"), "{err}");
    }

    #[test]
    fn both_config_spellings_prefer_the_legacy_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".cargo");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config"), "").unwrap();
        std::fs::write(dir.join("config.toml"), "").unwrap();
        let env = env_of(&[("CARGO_HOME", tmp.path().join("none").display().to_string())]);
        let files = cargo_config_files(tmp.path(), &env);
        assert!(files[0].ends_with(".cargo/config"), "{files:?}");
        assert!(!files.iter().any(|f| f.ends_with("config.toml")));
    }
}
