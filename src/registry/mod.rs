//! Registry probes: "which versions of NAME exist" and "does NAME@VERSION exist", read-only.
//!
//! An [`Endpoint`] says where to ask: a Cargo sparse index, a Python simple index (PEP 691 JSON,
//! falling back to PEP 503 HTML), an npm registry (the full packument), or — when neither
//! `shiplane.toml` nor the ecosystem client's own configuration names one — the client itself
//! (`cargo info`, `pip index versions`, `npm view`). Endpoints always come from configuration;
//! no registry host is written in this code.
//!
//! A [`Prober`] holds what a run shares (one HTTP agent, the repository root client commands run
//! in, the Cargo `config.json` documents already read); [`Prober::probe`] gives a [`Probe`] for one
//! endpoint, and [`probe_all`] answers many requests on a bounded number of threads.
//!
//! "Absent" (HTTP 404/410, the client's "not found") is `Ok(None)` / `Ok(false)`. Every other
//! failure is a [`ProbeError`] naming the URL (or command) and the status: never "not published".

pub mod cargo;
pub mod http;
pub mod npm;
pub mod python;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::config::{Config, Ecosystem};

pub use http::{Http, HttpSettings};

/// Where a probe asks. URLs may carry credentials (`http://user:token@host/`): `Debug`,
/// `Display` and `Serialize` show them redacted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A Cargo sparse index: `http(s)://.../` (no `sparse+` prefix; ends with `/`).
    CargoSparse(String),
    /// A Python simple index: `http(s)://.../simple/` (ends with `/`).
    PythonSimple(String),
    /// An npm registry: `http(s)://.../` (ends with `/`).
    Npm(String),
    /// Ask the ecosystem's own client (`cargo info`, `pip index versions`, `npm view`), which uses
    /// its own configuration and default registry.
    Client(Ecosystem),
}

impl Endpoint {
    /// The endpoint of `ecosystem` at `url` (a `[registry.NAME]` index, a client's configured
    /// registry, or a test server). Cargo accepts the URL with or without `sparse+`.
    pub fn from_url(ecosystem: Ecosystem, url: &str) -> anyhow::Result<Endpoint> {
        let url = url.trim();
        let plain = url.strip_prefix("sparse+").unwrap_or(url);
        if !(plain.starts_with("http://") || plain.starts_with("https://")) {
            bail!("registry URL `{}` is not an http(s) URL", http::redact(url));
        }
        let plain = http::with_trailing_slash(plain);
        Ok(match ecosystem {
            Ecosystem::Cargo => Endpoint::CargoSparse(plain),
            Ecosystem::Python => Endpoint::PythonSimple(plain),
            Ecosystem::Npm => Endpoint::Npm(plain),
            Ecosystem::Go | Ecosystem::Assets => {
                bail!("{ecosystem} products have no registry probe")
            }
        })
    }

    pub fn ecosystem(&self) -> Ecosystem {
        match self {
            Endpoint::CargoSparse(_) => Ecosystem::Cargo,
            Endpoint::PythonSimple(_) => Ecosystem::Python,
            Endpoint::Npm(_) => Ecosystem::Npm,
            Endpoint::Client(eco) => *eco,
        }
    }

    /// The base URL, or `None` for a client endpoint.
    pub fn url(&self) -> Option<&str> {
        match self {
            Endpoint::CargoSparse(u) | Endpoint::PythonSimple(u) | Endpoint::Npm(u) => Some(u),
            Endpoint::Client(_) => None,
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::CargoSparse(u) => write!(f, "CargoSparse({:?})", http::redact(u)),
            Endpoint::PythonSimple(u) => write!(f, "PythonSimple({:?})", http::redact(u)),
            Endpoint::Npm(u) => write!(f, "Npm({:?})", http::redact(u)),
            Endpoint::Client(eco) => write!(f, "Client({eco:?})"),
        }
    }
}

/// `{"cargo-sparse": "http://..."}`, `{"client": "npm"}`, ... (credentials redacted).
impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Endpoint::CargoSparse(u) => map.serialize_entry("cargo-sparse", &http::redact(u))?,
            Endpoint::PythonSimple(u) => map.serialize_entry("python-simple", &http::redact(u))?,
            Endpoint::Npm(u) => map.serialize_entry("npm", &http::redact(u))?,
            Endpoint::Client(eco) => map.serialize_entry("client", eco)?,
        }
        map.end()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::CargoSparse(u) => write!(f, "cargo sparse index {}", http::redact(u)),
            Endpoint::PythonSimple(u) => write!(f, "python simple index {}", http::redact(u)),
            Endpoint::Npm(u) => write!(f, "npm registry {}", http::redact(u)),
            Endpoint::Client(Ecosystem::Cargo) => f.write_str("`cargo info`"),
            Endpoint::Client(Ecosystem::Python) => f.write_str("`pip index versions`"),
            Endpoint::Client(Ecosystem::Npm) => f.write_str("`npm view`"),
            Endpoint::Client(eco) => write!(f, "the {eco} client"),
        }
    }
}

/// The endpoint a product of `ecosystem` is probed at: its `[registry.NAME]` when it names one,
/// else the one the ecosystem client is configured with (cargo: `[source.crates-io]
/// replace-with` in the config files cargo reads from `root`; python: `PIP_INDEX_URL`, then
/// `pip config list`; npm: `npm config get registry`), else [`Endpoint::Client`].
pub fn endpoint_for(
    root: &Path,
    config: &Config,
    product_registry: Option<&str>,
    ecosystem: Ecosystem,
) -> anyhow::Result<Endpoint> {
    endpoint_for_package(root, config, product_registry, ecosystem, None)
}

/// [`endpoint_for`], also honouring npm's per-scope registries (`@scope:registry`) for a scoped
/// `package` name.
pub fn endpoint_for_package(
    root: &Path,
    config: &Config,
    product_registry: Option<&str>,
    ecosystem: Ecosystem,
    package: Option<&str>,
) -> anyhow::Result<Endpoint> {
    let env = |key: &str| std::env::var(key).ok();
    if let Some(endpoint) = configured_endpoint(config, product_registry, ecosystem)? {
        return Ok(endpoint);
    }
    let url = match ecosystem {
        Ecosystem::Cargo => cargo::index_from_cargo_config(root, &env)?,
        Ecosystem::Python => python::index_from_pip_config(root, &env)?,
        Ecosystem::Npm => npm::registry_from_npm_config(root, package)?,
        Ecosystem::Go | Ecosystem::Assets => bail!("{ecosystem} products have no registry probe"),
    };
    match url {
        Some(url) => Endpoint::from_url(ecosystem, &url)
            .with_context(|| format!("the {ecosystem} client's configured registry")),
        None => Ok(Endpoint::Client(ecosystem)),
    }
}

/// The endpoint of the product's `[registry.NAME]`, if it names one.
fn configured_endpoint(
    config: &Config,
    product_registry: Option<&str>,
    ecosystem: Ecosystem,
) -> anyhow::Result<Option<Endpoint>> {
    let Some(name) = product_registry else {
        return Ok(None);
    };
    let Some(registry) = config.registries.get(name) else {
        bail!("there is no [registry.{name}] table in shiplane.toml");
    };
    let registry = registry.get_ref();
    if registry.ecosystem != ecosystem {
        bail!(
            "[registry.{name}] is a {} registry, not a {ecosystem} one",
            registry.ecosystem
        );
    }
    Endpoint::from_url(ecosystem, registry.index.get_ref())
        .map(Some)
        .with_context(|| format!("[registry.{name}] index"))
}

/// A read that failed: not an answer about the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeError {
    /// The URL read (credentials redacted), or for a client probe the command run.
    pub url: String,
    /// The last HTTP status, when there was one.
    pub status: Option<u16>,
    /// How many attempts were made.
    pub attempts: u32,
    pub message: String,
}

impl ProbeError {
    pub fn new(url: &str, message: impl Into<String>) -> ProbeError {
        ProbeError {
            url: http::redact(url),
            status: None,
            attempts: 1,
            message: message.into(),
        }
    }

    pub fn with_status(mut self, status: u16) -> ProbeError {
        self.status = Some(status);
        self
    }

    pub fn after_attempts(mut self, attempts: u32) -> ProbeError {
        self.attempts = attempts;
        self
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.url, self.message)?;
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for ProbeError {}

/// Everything a registry says about one package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageVersions {
    pub ecosystem: Ecosystem,
    /// The name as the registry spells it.
    pub name: String,
    /// The URL read, or the command run.
    pub source: String,
    /// False when the source cannot list every version (`cargo info` shows one and hides yanked
    /// ones; `pip index versions` hides yanked and incompatible ones).
    pub complete: bool,
    /// Ascending in the ecosystem's version order (entries that do not parse come first, in the
    /// registry's order).
    pub versions: Vec<Published>,
    /// npm `dist-tags` (`latest`, `next`, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dist_tags: BTreeMap<String, String>,
    /// npm: the package's top-level readme.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readme: Option<String>,
}

impl PackageVersions {
    /// The published record of `version` (compared as semver for cargo and npm, build metadata
    /// ignored as those registries do; as PEP 440 for python, where `1.2.0rc1`, `1.2.0-rc1`,
    /// `1.2.0.RC1` and semver's `1.2.0-rc.1` are one version). Yanked versions count: they exist.
    pub fn find(&self, version: &str) -> Option<&Published> {
        self.versions
            .iter()
            .find(|p| same_version(self.ecosystem, &p.version, version))
    }

    pub fn contains(&self, version: &str) -> bool {
        self.find(version).is_some()
    }

    /// Sort [`Self::versions`] into the ecosystem's version order.
    pub fn sort(&mut self) {
        match self.ecosystem {
            Ecosystem::Python => self.versions.sort_by(|a, b| {
                python::Pep440::parse(&a.version).cmp(&python::Pep440::parse(&b.version))
            }),
            _ => self
                .versions
                .sort_by(|a, b| match (a.semver.as_ref(), b.semver.as_ref()) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                }),
        }
    }
}

/// One published version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    /// As the registry spells it (python: the normalised PEP 440 form).
    pub version: String,
    /// The same version as Shiplane's semver, when it has one (python through
    /// [`crate::version::from_pep440`]).
    #[serde(serialize_with = "serialize_semver")]
    pub semver: Option<semver::Version>,
    /// Cargo `yanked`; python: every file of the version is yanked (PEP 592). npm has no yank
    /// (see [`Self::deprecated`]).
    pub yanked: bool,
    /// Python: the `data-yanked` / `yanked` reason, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yanked_reason: Option<String>,
    /// npm: the deprecation message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<String>,
    /// The version's files: the `.crate`, wheels and sdists, the npm tarball.
    pub files: Vec<PublishedFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The registry's own record (a Cargo index line, an npm version object), or `null`.
    pub meta: serde_json::Value,
}

impl Published {
    /// A bare record of `version` (no files, no metadata).
    pub fn new(ecosystem: Ecosystem, version: impl Into<String>) -> Published {
        let version = version.into();
        let semver = match ecosystem {
            Ecosystem::Python => crate::version::from_pep440(&version).ok(),
            _ => semver::Version::parse(version.trim()).ok(),
        };
        Published {
            version,
            semver,
            yanked: false,
            yanked_reason: None,
            deprecated: None,
            files: Vec::new(),
            license: None,
            description: None,
            repository: None,
            meta: serde_json::Value::Null,
        }
    }
}

fn serialize_semver<S: serde::Serializer>(
    version: &Option<semver::Version>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match version {
        Some(v) => serializer.serialize_some(&v.to_string()),
        None => serializer.serialize_none(),
    }
}

/// One file of a published version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishedFile {
    pub filename: String,
    /// Absolute URL (relative links are resolved against the page that listed them).
    pub url: String,
    /// Hex digests by algorithm (`sha256` for crates and PEP 503/691 files, `sha1` for npm's
    /// `shasum`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub hashes: BTreeMap<String, String>,
    /// npm: the Subresource Integrity string (`sha512-...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity: Option<String>,
    /// Python: `data-requires-python` / `requires-python`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// Python: `Some(reason)` when the file is yanked (the reason may be empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// Whether the registry's `published` spelling and the `wanted` version are the same version.
pub fn same_version(ecosystem: Ecosystem, published: &str, wanted: &str) -> bool {
    match ecosystem {
        Ecosystem::Python => match (
            python::Pep440::parse(published),
            python::pep440_of_input(wanted),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => published.trim().eq_ignore_ascii_case(wanted.trim()),
        },
        _ => {
            let wanted = wanted.trim();
            let wanted = if ecosystem == Ecosystem::Npm {
                wanted.trim_start_matches(['v', '='])
            } else {
                wanted
            };
            match (
                semver::Version::parse(published.trim()),
                semver::Version::parse(wanted),
            ) {
                (Ok(a), Ok(b)) => a.cmp_precedence(&b).is_eq(),
                _ => published.trim() == wanted,
            }
        }
    }
}

/// What a run's probes share: one HTTP agent, the directory client commands run in (the
/// repository root, so the clients read its configuration), and the Cargo index `config.json`
/// documents already read.
#[derive(Debug)]
pub struct Prober {
    http: Http,
    root: PathBuf,
    cargo_index_configs: Mutex<BTreeMap<String, cargo::IndexConfig>>,
}

impl Prober {
    pub fn new(root: impl Into<PathBuf>, settings: HttpSettings) -> Prober {
        Prober {
            http: Http::new(settings),
            root: root.into(),
            cargo_index_configs: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A probe of `endpoint`.
    pub fn probe(&self, endpoint: Endpoint) -> Probe<'_> {
        Probe {
            prober: self,
            endpoint,
        }
    }

    /// Answer one request (see [`probe_all`] for many).
    pub fn answer(&self, request: &ProbeRequest) -> Result<ProbeAnswer, ProbeError> {
        let probe = self.probe(request.endpoint.clone());
        match &request.version {
            None => Ok(ProbeAnswer {
                package: probe.versions(&request.name)?,
                exists: None,
            }),
            Some(version) => {
                let package = probe.package_with(&request.name, version)?;
                let exists = package.as_ref().is_some_and(|p| p.contains(version));
                Ok(ProbeAnswer {
                    package,
                    exists: Some(exists),
                })
            }
        }
    }

    /// The Cargo index's `config.json`, read once per run.
    fn cargo_index_config(&self, index: &str) -> Result<cargo::IndexConfig, ProbeError> {
        let cached = self
            .cargo_index_configs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(index)
            .cloned();
        if let Some(config) = cached {
            return Ok(config);
        }
        let config = cargo::read_index_config(&self.http, index)?;
        self.cargo_index_configs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(index.to_string(), config.clone());
        Ok(config)
    }
}

/// Questions about packages at one endpoint.
#[derive(Debug)]
pub struct Probe<'a> {
    prober: &'a Prober,
    endpoint: Endpoint,
}

impl Probe<'_> {
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Every version of `name` the endpoint lists; `Ok(None)` when it has no such package.
    pub fn versions(&self, name: &str) -> Result<Option<PackageVersions>, ProbeError> {
        let prober = self.prober;
        match &self.endpoint {
            Endpoint::CargoSparse(index) => {
                let Some(file) = cargo::read_index_file(&prober.http, index, name)? else {
                    return Ok(None);
                };
                let config = prober.cargo_index_config(index)?;
                Ok(Some(cargo::package_versions(file, Some(&config))))
            }
            Endpoint::PythonSimple(index) => python::read_project(&prober.http, index, name),
            Endpoint::Npm(registry) => npm::read_packument(&prober.http, registry, name),
            Endpoint::Client(Ecosystem::Cargo) => cargo::client_info(&prober.root, name, None),
            Endpoint::Client(Ecosystem::Python) => python::client_versions(&prober.root, name),
            Endpoint::Client(Ecosystem::Npm) => npm::client_versions(&prober.root, name),
            Endpoint::Client(eco) => Err(ProbeError::new(
                &eco.to_string(),
                format!("{eco} products have no registry probe"),
            )),
        }
    }

    /// Whether `name@version` is published (a yanked version is: it cannot be published again).
    pub fn exists(&self, name: &str, version: &str) -> Result<bool, ProbeError> {
        match &self.endpoint {
            // The index file answers; `config.json` is only needed for file URLs.
            Endpoint::CargoSparse(index) => {
                Ok(cargo::read_index_file(&self.prober.http, index, name)?
                    .is_some_and(|file| cargo::package_versions(file, None).contains(version)))
            }
            _ => Ok(self.find(name, version)?.is_some()),
        }
    }

    /// The published record of `name@version`, with its files and metadata.
    pub fn find(&self, name: &str, version: &str) -> Result<Option<Published>, ProbeError> {
        Ok(self
            .package_with(name, version)?
            .and_then(|p| p.find(version).cloned()))
    }

    /// What the endpoint says about `name`, asked in the way that can see `version`.
    fn package_with(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<PackageVersions>, ProbeError> {
        match &self.endpoint {
            Endpoint::Client(Ecosystem::Cargo) => {
                cargo::client_info(&self.prober.root, name, Some(version))
            }
            _ => self.versions(name),
        }
    }
}

/// One question for [`probe_all`]: every version of `name`, or (with `version`) whether that
/// version exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    pub endpoint: Endpoint,
    pub name: String,
    pub version: Option<String>,
}

impl ProbeRequest {
    pub fn versions(endpoint: Endpoint, name: impl Into<String>) -> ProbeRequest {
        ProbeRequest {
            endpoint,
            name: name.into(),
            version: None,
        }
    }

    pub fn exists(
        endpoint: Endpoint,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> ProbeRequest {
        ProbeRequest {
            endpoint,
            name: name.into(),
            version: Some(version.into()),
        }
    }
}

/// The answer to a [`ProbeRequest`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeAnswer {
    /// What the endpoint lists for the package; `None` when it has no such package.
    pub package: Option<PackageVersions>,
    /// Whether the requested version exists (`None` when no version was asked about).
    pub exists: Option<bool>,
}

/// Answer every request on at most `max_parallel` threads; the answers come back in request order.
/// Thirty products cost about one round trip.
pub fn probe_all(
    prober: &Prober,
    requests: &[ProbeRequest],
    max_parallel: usize,
) -> Vec<Result<ProbeAnswer, ProbeError>> {
    let workers = max_parallel.clamp(1, requests.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<ProbeAnswer, ProbeError>>>> =
        requests.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    break;
                };
                let answer = prober.answer(request);
                *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
            });
        }
    });
    slots
        .into_iter()
        .zip(requests)
        .map(|(slot, request)| {
            slot.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .unwrap_or_else(|| {
                    Err(ProbeError::new(
                        request.endpoint.url().unwrap_or("probe"),
                        format!("no answer for `{}`", request.name),
                    ))
                })
        })
        .collect()
}

/// The output of a client command run for a probe.
#[derive(Debug, Clone)]
pub(crate) struct ClientOutput {
    pub command: String,
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ClientOutput {
    /// The last lines of stderr (or stdout), for an error message.
    pub fn tail(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(6)..].join("\n")
    }

    /// An error for this command's failure (naming its exit status when it failed).
    pub fn error(&self, message: impl Into<String>) -> ProbeError {
        let mut message = message.into();
        if let (false, Some(code)) = (self.success, self.code) {
            message = format!("exit status {code}: {message}");
        }
        ProbeError::new(&self.command, message)
    }
}

/// A shell whose commands run in `root`.
pub(crate) fn client_shell(root: &Path) -> Result<xshell::Shell, ProbeError> {
    let sh = xshell::Shell::new()
        .map_err(|e| ProbeError::new("shell", format!("cannot start a shell: {e}")))?;
    sh.change_dir(root);
    Ok(sh)
}

/// Run `cmd` whatever its exit status; only failing to start it is an error.
pub(crate) fn run_client(cmd: xshell::Cmd<'_>) -> Result<ClientOutput, ProbeError> {
    let command = cmd.to_string();
    let output = cmd
        .ignore_status()
        .output()
        .map_err(|e| ProbeError::new(&command, format!("cannot run the command: {e}")))?;
    Ok(ClientOutput {
        command,
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadedConfig;

    fn config(text: &str) -> Config {
        LoadedConfig::parse(
            PathBuf::from("shiplane.toml"),
            "shiplane.toml".into(),
            text.into(),
        )
        .unwrap()
        .config
    }

    #[test]
    fn endpoints_from_urls() {
        assert_eq!(
            Endpoint::from_url(Ecosystem::Cargo, "sparse+http://127.0.0.1:8000/index").unwrap(),
            Endpoint::CargoSparse("http://127.0.0.1:8000/index/".into())
        );
        assert_eq!(
            Endpoint::from_url(Ecosystem::Cargo, "http://127.0.0.1:8000/index/").unwrap(),
            Endpoint::CargoSparse("http://127.0.0.1:8000/index/".into())
        );
        assert_eq!(
            Endpoint::from_url(Ecosystem::Python, "http://127.0.0.1:1/simple").unwrap(),
            Endpoint::PythonSimple("http://127.0.0.1:1/simple/".into())
        );
        assert_eq!(
            Endpoint::from_url(Ecosystem::Npm, "http://127.0.0.1:4873").unwrap(),
            Endpoint::Npm("http://127.0.0.1:4873/".into())
        );
        assert!(Endpoint::from_url(Ecosystem::Cargo, "file:///srv/index").is_err());
        assert!(Endpoint::from_url(Ecosystem::Go, "http://127.0.0.1/").is_err());
        let err = Endpoint::from_url(Ecosystem::Npm, "ftp://me:secret@h/").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let private =
            Endpoint::from_url(Ecosystem::Python, "https://me:secret@h.invalid/simple/").unwrap();
        assert_eq!(private.url(), Some("https://me:secret@h.invalid/simple/"));
        for shown in [
            format!("{private:?}"),
            private.to_string(),
            serde_json::to_string(&private).unwrap(),
        ] {
            assert!(
                !shown.contains("secret") && shown.contains("***@h.invalid"),
                "{shown}"
            );
        }
        assert_eq!(
            serde_json::to_value(Endpoint::Client(Ecosystem::Npm)).unwrap(),
            serde_json::json!({"client": "npm"})
        );
    }

    #[test]
    fn product_registry_table_wins() {
        let cfg = config(concat!(
            "[registry.local-crates]\necosystem = \"cargo\"\nindex = \"sparse+http://127.0.0.1:8000/index/\"\n",
            "[registry.local-py]\necosystem = \"python\"\nindex = \"http://127.0.0.1:8001/simple/\"\n",
        ));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            endpoint_for(dir.path(), &cfg, Some("local-crates"), Ecosystem::Cargo).unwrap(),
            Endpoint::CargoSparse("http://127.0.0.1:8000/index/".into())
        );
        assert_eq!(
            endpoint_for(dir.path(), &cfg, Some("local-py"), Ecosystem::Python).unwrap(),
            Endpoint::PythonSimple("http://127.0.0.1:8001/simple/".into())
        );
        let err = endpoint_for(dir.path(), &cfg, Some("local-py"), Ecosystem::Cargo).unwrap_err();
        assert!(err.to_string().contains("python registry"), "{err}");
        let err = endpoint_for(dir.path(), &cfg, Some("nope"), Ecosystem::Cargo).unwrap_err();
        assert!(err.to_string().contains("[registry.nope]"), "{err}");
    }

    #[test]
    fn version_matching_per_ecosystem() {
        use Ecosystem::*;
        assert!(same_version(Cargo, "1.2.0", "1.2.0"));
        assert!(same_version(Cargo, "1.2.0+a", "1.2.0+b"));
        assert!(!same_version(Cargo, "1.2.0", "1.2.1"));
        assert!(!same_version(Cargo, "1.2.0-rc.1", "1.2.0"));
        assert!(same_version(Npm, "1.2.0", "v1.2.0"));
        assert!(same_version(Python, "1.2.0rc1", "1.2.0-rc.1"));
        assert!(same_version(Python, "1.2.0rc1", "1.2.0.RC1"));
        assert!(same_version(Python, "1.2.0rc1", "1.2.0-rc1"));
        assert!(same_version(Python, "1.2", "1.2.0"));
        assert!(same_version(Python, "1.2.0.dev2", "1.2.0-dev.2"));
        assert!(!same_version(Python, "1.2.0", "1.2.0rc1"));
        assert!(!same_version(Python, "1.2.0+local", "1.2.0"));
    }

    #[test]
    fn sorting_follows_the_ecosystem() {
        let mut py = PackageVersions {
            ecosystem: Ecosystem::Python,
            name: "p".into(),
            source: String::new(),
            complete: true,
            versions: ["1.0.0", "1.0.0rc1", "0.9", "1.0.0.dev1", "1.0.0.post1"]
                .into_iter()
                .map(|v| Published::new(Ecosystem::Python, v))
                .collect(),
            dist_tags: BTreeMap::new(),
            readme: None,
        };
        py.sort();
        let order: Vec<&str> = py.versions.iter().map(|p| p.version.as_str()).collect();
        assert_eq!(
            order,
            ["0.9", "1.0.0.dev1", "1.0.0rc1", "1.0.0", "1.0.0.post1"]
        );
        let mut npm = PackageVersions {
            ecosystem: Ecosystem::Npm,
            versions: ["1.10.0", "1.9.0", "1.9.0-rc.1"]
                .into_iter()
                .map(|v| Published::new(Ecosystem::Npm, v))
                .collect(),
            ..py
        };
        npm.sort();
        let order: Vec<&str> = npm.versions.iter().map(|p| p.version.as_str()).collect();
        assert_eq!(order, ["1.9.0-rc.1", "1.9.0", "1.10.0"]);
        assert_eq!(
            npm.find("1.9.0").map(|p| p.semver.clone()),
            Some(Some(semver::Version::new(1, 9, 0)))
        );
    }

    #[test]
    fn errors_name_the_url_and_attempts() {
        let e = ProbeError::new(
            "http://me:pw@127.0.0.1:1/x",
            "HTTP 500 Internal Server Error",
        )
        .with_status(500)
        .after_attempts(4);
        assert_eq!(
            e.to_string(),
            "http://***@127.0.0.1:1/x: HTTP 500 Internal Server Error (after 4 attempts)"
        );
    }

    #[test]
    fn probe_all_keeps_request_order_with_no_requests() {
        let prober = Prober::new(".", HttpSettings::default());
        assert!(probe_all(&prober, &[], 8).is_empty());
    }
}
