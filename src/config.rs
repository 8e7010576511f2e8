//! `shiplane.toml`: the release configuration, and its validation with `file:line` errors.
//!
//! Parsing rejects unknown keys and wrong types (serde, with the span of the offending key);
//! [`LoadedConfig::validate`] then checks meaning (products exist, files exist, templates are sound) and
//! reports every problem at once. Each message names the file, the line and the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::edit::{column_of, line_of};
use crate::report::{Problem, Problems};
use crate::version::Scheme;

/// The config file's name at the repository root.
pub const FILE_NAME: &str = "shiplane.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub release: Release,
    #[serde(default, rename = "product")]
    pub products: Vec<Spanned<ProductConfig>>,
    #[serde(default, rename = "version-file")]
    pub version_files: Vec<Spanned<VersionFileConfig>>,
    /// `[registry.NAME]`: registry endpoints (never code constants).
    #[serde(default, rename = "registry")]
    pub registries: BTreeMap<String, Spanned<RegistryConfig>>,
    /// `[ci]`: the one contributor lane, and what the generated workflows use.
    #[serde(default)]
    pub ci: CiConfig,
}

/// `[ci]`: the canonical lane (`cargo xtask ci`) and the settings the workflows are generated from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CiConfig {
    /// The GitHub runner label the generated jobs run on (default `ubuntu-latest`).
    pub runs_on: Option<String>,
    /// `single` (one job runs the lane) or `per-step` (one job per step); default `single`.
    pub jobs: Option<Spanned<String>>,
    /// Environment for every step, locally and in CI alike.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Default timeout of a step (`90s`, `10m`, `1h`); default `30m`.
    pub timeout: Option<Spanned<String>>,
    /// Pinned tool versions, one source of truth for the lane and every workflow (e.g. `rust`, `zizmor`).
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// Third-party actions the workflows use, pinned to a full commit SHA: `"owner/repo" = { sha, tag }`.
    #[serde(default)]
    pub actions: BTreeMap<String, Spanned<ActionPin>>,
    /// The lane, in order.
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<CiStepConfig>>,
}

/// A third-party action pinned to a commit, with the tag it stands for (written as a comment).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionPin {
    pub sha: Spanned<String>,
    pub tag: String,
}

/// `[[ci.step]]`: one step of the lane.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CiStepConfig {
    pub name: Spanned<String>,
    /// `fmt`, `clippy`, `test`, `doc`, `package`, `workflows`, `zizmor` or `command`.
    pub kind: Spanned<String>,
    /// `command` steps: the argv (no shell string).
    pub run: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Extra environment set only when running under CI (`CI=true`): the one named difference.
    #[serde(default)]
    pub ci_env: BTreeMap<String, String>,
    /// Working directory, relative to the repository root.
    pub dir: Option<Spanned<String>>,
    /// `90s`, `10m`, `1h`.
    pub timeout: Option<Spanned<String>>,
    /// What to do when the step fails.
    pub hint: Option<String>,
}

/// `[registry.NAME]`: where an ecosystem's packages are published and read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistryConfig {
    pub ecosystem: Ecosystem,
    /// cargo: the sparse index URL (`sparse+http://...`; the `sparse+` prefix is optional);
    /// python: the simple index (`http://.../simple/`); npm: the registry URL.
    pub index: Spanned<String>,
    /// cargo: the name cargo knows this registry by (`[registries.NAME]`, `--registry NAME`);
    /// defaults to the table's name.
    pub cargo_name: Option<String>,
    /// python: the upload endpoint (twine's repository URL).
    pub upload: Option<Spanned<String>>,
    /// Trusted publishing (cargo, python): the token-exchange endpoint that turns a GitHub
    /// Actions OIDC ID token into a short-lived publish token (cargo: the registry's trusted
    /// publishing tokens endpoint; python: the index's `mint-token` endpoint).
    pub oidc_exchange: Option<Spanned<String>>,
    /// Trusted publishing: the audience the OIDC ID token is requested for.
    pub oidc_audience: Option<String>,
}

/// `[product.verify]`: what `verify-install` checks beyond installing and the version.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VerifyConfig {
    /// Code that must compile and run against the installed package: a Rust `main.rs` (cargo), a
    /// Python script, or a CommonJS script (npm).
    pub smoke: Option<String>,
    /// cargo: the crate the smoke code uses (default: every published library crate gets a build
    /// check; the smoke code runs against this one).
    pub smoke_crate: Option<Spanned<String>>,
    /// python: the import name (default: the project name with `-` as `_`); npm: the name to
    /// `require` (default: the package name).
    pub module: Option<String>,
    /// Public names that must be importable from the module.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Files the registry must hold for the version: python `wheel`, `sdist`; npm `tarball`.
    pub artifacts: Option<Vec<Spanned<String>>>,
    /// A command (argv) run inside the fresh environment after installing, e.g. `["tool", "--help"]`.
    pub command: Option<Vec<String>>,
}

/// `[release]`: repository-wide release settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Release {
    /// The branch releases are cut from.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// The umbrella tag for the whole release, e.g. `v{version}`.
    pub tag: Option<Spanned<String>>,
    /// The release commit's message.
    #[serde(default = "default_commit_message")]
    pub commit_message: Spanned<String>,
    /// The repository's keep-a-changelog file.
    pub changelog: Option<Spanned<String>>,
    /// Globs no published artifact may contain (`preflight`); replaces the default list.
    pub package_exclude: Option<Vec<Spanned<String>>>,
    /// The largest file a published artifact may contain (`preflight`), e.g. `"5MB"`.
    pub max_file_size: Option<Spanned<String>>,
    /// Create or update GitHub releases (per product tag and the umbrella tag) in `publish`.
    #[serde(default = "default_true")]
    pub github_release: bool,
    /// The GitHub repository (`owner/name`) releases are made in; default: `GITHUB_REPOSITORY`,
    /// else the `origin` remote's URL.
    pub github_repository: Option<Spanned<String>>,
    /// How long `publish` waits for a registry to show what it published, e.g. `"10m"`.
    pub index_timeout: Option<Spanned<String>>,
}

impl Default for Release {
    fn default() -> Self {
        Release {
            branch: default_branch(),
            tag: None,
            commit_message: default_commit_message(),
            changelog: None,
            package_exclude: None,
            max_file_size: None,
            github_release: true,
            github_repository: None,
            index_timeout: None,
        }
    }
}

/// An npm dist-tag: not empty, not a version, only `[A-Za-z0-9._-]`.
fn valid_dist_tag(tag: &str) -> bool {
    !tag.is_empty()
        && semver::Version::parse(tag.trim_start_matches('v')).is_err()
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A size such as `5MB`, `500 kB`, `1.5MiB` or `1024` (bytes), in bytes. `kB`/`MB`/`GB` are
/// powers of 1000, `KiB`/`MiB`/`GiB` powers of 1024; units are case-insensitive.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit `{other}` (use B, kB, MB, GB, KiB, MiB or GiB)"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as \"5MB\""))?;
    Ok((value * factor as f64).round() as u64)
}

fn default_true() -> bool {
    true
}

fn default_branch() -> String {
    "main".into()
}

fn default_commit_message() -> Spanned<String> {
    Spanned::new(0..0, "release: v{version}".into())
}

/// What a product is released to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Ecosystem {
    Cargo,
    Python,
    Npm,
    Go,
    Assets,
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Python => "python",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "go",
            Ecosystem::Assets => "assets",
        })
    }
}

/// `[[product]]`: one thing the repository releases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProductConfig {
    pub name: Spanned<String>,
    pub ecosystem: Ecosystem,
    /// Cargo.toml (workspace root or package), pyproject.toml, package.json, go.mod.
    pub manifest: Option<Spanned<String>>,
    /// The product's tag, e.g. `engine-v{version}` or `sdk/go/v{version}`.
    pub tag: Option<Spanned<String>>,
    /// Products that must be published before this one.
    #[serde(default)]
    pub after: Vec<Spanned<String>>,
    /// Cargo workspace members (package names) left out of the release.
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// A changelog of this product's own (keep-a-changelog).
    pub changelog: Option<Spanned<String>>,
    /// The `[registry.NAME]` it is published to (default: the ecosystem client's own configuration).
    pub registry: Option<Spanned<String>>,
    /// `verify-install` checks.
    #[serde(default)]
    pub verify: VerifyConfig,
    /// The command (argv) that builds the product's artifacts before `publish` uploads them, run
    /// in the manifest's directory; `{out}` is replaced by the (empty) output directory.
    pub build: Option<Spanned<Vec<String>>>,
    /// Files attached to the product's GitHub release (globs relative to the repository root,
    /// matched after `build`); each glob must match at least one file.
    #[serde(default)]
    pub assets: Vec<Spanned<String>>,
    /// npm: the dist-tag a prerelease is published under (default `next`; releases get `latest`).
    pub prerelease_tag: Option<Spanned<String>>,
}

/// A key path: `"version"` or `["dependencies", "@scope/engine"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum KeyPath {
    One(String),
    Many(Vec<String>),
}

impl KeyPath {
    pub fn keys(&self) -> Vec<&str> {
        match self {
            KeyPath::One(k) => vec![k.as_str()],
            KeyPath::Many(ks) => ks.iter().map(String::as_str).collect(),
        }
    }
}

/// `[[version-file]]`: an extra place a version lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VersionFileConfig {
    pub path: Spanned<String>,
    /// Key path in a TOML, JSON or YAML-ish file.
    pub key: Option<Spanned<KeyPath>>,
    /// Literal text around `{version}`, matched exactly once.
    pub pattern: Option<Spanned<String>>,
    /// How the value wraps the version, e.g. `^{version}`.
    pub format: Option<Spanned<String>>,
    /// semver or pep440; default inferred from the file and its product.
    pub scheme: Option<Scheme>,
    /// The product this file belongs to.
    pub product: Option<Spanned<String>>,
    /// A key holding the release date (YYYY-MM-DD), set by `bump`.
    pub date_key: Option<Spanned<String>>,
}

/// What kind of file a `key` location edits, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    Toml,
    Json,
    Yaml,
}

impl KeyFileKind {
    pub fn of(path: &str) -> Option<KeyFileKind> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "toml" => Some(KeyFileKind::Toml),
            "json" => Some(KeyFileKind::Json),
            "cff" | "yml" | "yaml" => Some(KeyFileKind::Yaml),
            _ => None,
        }
    }
}

/// A parsed config plus the text it came from (for line numbers).
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub display: String,
    pub text: String,
    pub config: Config,
}

impl LoadedConfig {
    /// Read and parse `root/shiplane.toml`.
    pub fn load(root: &Path) -> Result<LoadedConfig, Problems> {
        let path = root.join(FILE_NAME);
        let display = FILE_NAME.to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "run `shiplane -C {} init` to write one, or pass -C with the repository that has it",
                    root.display()
                )
            } else {
                "check the file's permissions".into()
            };
            Problems::one(Problem::new(format!("cannot read {}: {e}", path.display())).hint(hint))
        })?;
        Self::parse(path, display, text)
    }

    pub fn parse(path: PathBuf, display: String, text: String) -> Result<LoadedConfig, Problems> {
        let config: Config = toml_edit::de::from_str(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| (line_of(&text, s.start), column_of(&text, s.start)))
                .unwrap_or((1, 1));
            let message = e.message().trim().replace('\n', " ");
            let hint = config_hint(&message);
            Problems::one(
                Problem::at(&display, line, message)
                    .column(column)
                    .hint(hint),
            )
        })?;
        Ok(LoadedConfig {
            path,
            display,
            text,
            config,
        })
    }

    /// The 1-based line of a spanned value (line 1 for defaults that have no span).
    pub fn line<T>(&self, spanned: &Spanned<T>) -> usize {
        line_of(&self.text, spanned.span().start)
    }

    /// A problem located at `spanned` in this config file.
    pub fn problem<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> Problem {
        Problem::at(&self.display, self.line(spanned), message)
    }

    /// Check meaning: every reference resolves, every file exists, every template is sound.
    pub fn validate(&self, root: &Path) -> Result<(), Problems> {
        let mut problems = Problems::default();
        let cfg = &self.config;
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for product in &cfg.products {
            let name = &product.get_ref().name;
            if name.get_ref().trim().is_empty() {
                problems.push(
                    self.problem(name, "product name is empty")
                        .hint("give each [[product]] a name"),
                );
            }
            if let Some(first) = names.insert(name.get_ref(), self.line(name)) {
                problems.push(
                    self.problem(
                        name,
                        format!(
                            "product `{}` is defined twice (first on line {first})",
                            name.get_ref()
                        ),
                    )
                    .hint("product names must be unique; rename or merge one of them"),
                );
            }
        }
        if let Some(tag) = &cfg.release.tag {
            self.check_template(&mut problems, tag, "[release] tag");
        }
        self.check_template(
            &mut problems,
            &cfg.release.commit_message,
            "[release] commit-message",
        );
        if let Some(changelog) = &cfg.release.changelog {
            self.check_file(root, &mut problems, changelog, "changelog");
        }
        if let Some(size) = &cfg.release.max_file_size {
            if let Err(e) = parse_size(size.get_ref()) {
                problems.push(
                    self.problem(size, format!("[release] max-file-size: {e}"))
                        .hint("e.g. max-file-size = \"5MB\""),
                );
            }
        }
        for glob in cfg.release.package_exclude.iter().flatten() {
            if glob.get_ref().trim_matches('/').is_empty() {
                problems.push(
                    self.problem(glob, "[release] package-exclude has an empty glob")
                        .hint("write a glob such as \"*.pem\" or \"internal/\", or remove it"),
                );
            }
        }
        for product in &cfg.products {
            let p = product.get_ref();
            let pname = p.name.get_ref();
            match (&p.manifest, p.ecosystem) {
                (None, Ecosystem::Assets) => {}
                (None, eco) => problems.push(
                    self.problem(
                        product,
                        format!("product `{pname}` ({eco}) has no `manifest`"),
                    )
                    .hint(format!("add `manifest = \"{}\"`", expected_manifest(eco))),
                ),
                (Some(manifest), eco) => {
                    if self.check_file(root, &mut problems, manifest, "manifest") {
                        let file = manifest.get_ref().rsplit('/').next().unwrap_or_default();
                        let expected = expected_manifest(eco);
                        if eco != Ecosystem::Assets && file != expected {
                            problems.push(
                                self.problem(manifest, format!("a {eco} product's manifest must be a {expected}, not `{file}`"))
                                    .hint(format!("point `manifest` at the product's {expected}")),
                            );
                        }
                    }
                }
            }
            if let Some(tag) = &p.tag {
                self.check_template(&mut problems, tag, "tag");
            }
            for after in &p.after {
                if !names.contains_key(after.get_ref().as_str()) {
                    problems.push(
                        self.problem(
                            after,
                            format!(
                                "`after` names `{}`, which is not a product",
                                after.get_ref()
                            ),
                        )
                        .hint(format!(
                            "use one of: {}",
                            names.keys().copied().collect::<Vec<_>>().join(", ")
                        )),
                    );
                } else if after.get_ref() == pname {
                    problems.push(
                        self.problem(after, format!("product `{pname}` lists itself in `after`"))
                            .hint("remove it"),
                    );
                }
            }
            if !p.exclude.is_empty() && p.ecosystem != Ecosystem::Cargo {
                problems.push(
                    self.problem(&p.exclude[0], "`exclude` applies to cargo products only")
                        .hint("remove it, or move it to the cargo product"),
                );
            }
            if let Some(changelog) = &p.changelog {
                self.check_file(root, &mut problems, changelog, "changelog");
            }
            if let Some(build) = &p.build {
                if build.get_ref().first().is_none_or(|c| c.trim().is_empty()) {
                    problems.push(
                        self.problem(build, format!("product `{pname}` has an empty `build` command"))
                            .hint("write the command as an argv list, e.g. build = [\"maturin\", \"build\", \"--sdist\", \"--out\", \"{out}\"]"),
                    );
                }
            }
            for glob in &p.assets {
                if glob.get_ref().trim_matches('/').is_empty() {
                    problems.push(
                        self.problem(
                            glob,
                            format!("product `{pname}` has an empty `assets` glob"),
                        )
                        .hint(
                            "write a glob relative to the repository root, e.g. \"dist/*.tar.gz\"",
                        ),
                    );
                }
            }
            if let Some(tag) = &p.prerelease_tag {
                if p.ecosystem != Ecosystem::Npm {
                    problems.push(
                        self.problem(tag, "`prerelease-tag` applies to npm products only")
                            .hint("remove it"),
                    );
                } else if !valid_dist_tag(tag.get_ref()) {
                    problems.push(
                        self.problem(tag, format!("`{}` is not an npm dist-tag", tag.get_ref()))
                            .hint("use letters, digits, `-`, `.` or `_`, not a version (e.g. \"next\")"),
                    );
                }
            }
        }
        if let Some(timeout) = &cfg.release.index_timeout {
            if crate::lane::parse_duration(timeout.get_ref()).is_none() {
                problems.push(
                    self.problem(
                        timeout,
                        format!(
                            "[release] index-timeout `{}` is not a duration",
                            timeout.get_ref()
                        ),
                    )
                    .hint("e.g. index-timeout = \"10m\" or \"90s\""),
                );
            }
        }
        if let Some(repository) = &cfg.release.github_repository {
            let r = repository.get_ref();
            if r.split('/').count() != 2 || r.split('/').any(|p| p.trim().is_empty()) {
                problems.push(
                    self.problem(
                        repository,
                        format!("[release] github-repository `{r}` is not `owner/name`"),
                    )
                    .hint("e.g. github-repository = \"acme/polyglot\""),
                );
            }
        }
        if let Some(cycle) = after_cycle(cfg) {
            let line = cfg
                .products
                .iter()
                .map(|p| p.get_ref())
                .find(|p| p.name.get_ref() == &cycle[0])
                .and_then(|p| p.after.iter().find(|a| a.get_ref() == &cycle[1]))
                .map_or(1, |a| self.line(a));
            problems.push(
                Problem::at(
                    &self.display,
                    line,
                    format!("`after` forms a cycle: {}", cycle.join(" → ")),
                )
                .hint("remove one of these `after` entries"),
            );
        }
        for entry in &cfg.version_files {
            self.validate_version_file(root, &mut problems, entry, &names);
        }
        for (name, registry) in &cfg.registries {
            if let Some(exchange) = &registry.get_ref().oidc_exchange {
                let url = exchange.get_ref();
                let eco = registry.get_ref().ecosystem;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    problems.push(
                        self.problem(
                            exchange,
                            format!(
                                "[registry.{name}] oidc-exchange `{url}` is not an http(s) URL"
                            ),
                        )
                        .hint("write the registry's token-exchange endpoint URL"),
                    );
                } else if !matches!(eco, Ecosystem::Cargo | Ecosystem::Python) {
                    problems.push(
                        self.problem(exchange, format!("[registry.{name}] oidc-exchange applies to cargo and python registries; npm uses the npm CLI's own trusted publishing"))
                            .hint("remove it"),
                    );
                }
            }
            let index = registry.get_ref().index.get_ref();
            if !(index.starts_with("http://")
                || index.starts_with("https://")
                || index.starts_with("sparse+http"))
            {
                problems.push(
                    self.problem(
                        &registry.get_ref().index,
                        format!("[registry.{name}] index `{index}` is not an http(s) URL"),
                    )
                    .hint(
                        "write the endpoint's URL, e.g. index = \"http://127.0.0.1:8080/simple/\"",
                    ),
                );
            }
        }
        for product in &cfg.products {
            let p = product.get_ref();
            if let Some(reg) = &p.registry {
                match cfg.registries.get(reg.get_ref()) {
                    None => problems.push(
                        self.problem(reg, format!("product `{}` names registry `{}`, which has no [registry.{}] table", p.name.get_ref(), reg.get_ref(), reg.get_ref()))
                            .hint(format!("add [registry.{}] with ecosystem and index, or remove `registry`", reg.get_ref())),
                    ),
                    Some(r) if r.get_ref().ecosystem != p.ecosystem => problems.push(
                        self.problem(reg, format!(
                            "product `{}` ({}) names registry `{}`, which is a {} registry",
                            p.name.get_ref(), p.ecosystem, reg.get_ref(), r.get_ref().ecosystem
                        ))
                        .hint("point the product at a registry of its own ecosystem"),
                    ),
                    Some(_) => {}
                }
            }
            if let Some(artifacts) = &p.verify.artifacts {
                let allowed: &[&str] = match p.ecosystem {
                    Ecosystem::Python => &["wheel", "sdist"],
                    Ecosystem::Npm => &["tarball"],
                    Ecosystem::Cargo => &["crate"],
                    _ => &[],
                };
                for a in artifacts {
                    if !allowed.contains(&a.get_ref().as_str()) {
                        problems.push(
                            self.problem(
                                a,
                                format!(
                                    "artifact `{}` is not one a {} product publishes",
                                    a.get_ref(),
                                    p.ecosystem
                                ),
                            )
                            .hint(format!("use one of: {}", allowed.join(", "))),
                        );
                    }
                }
            }
        }
        problems.into_result()
    }

    fn validate_version_file(
        &self,
        root: &Path,
        problems: &mut Problems,
        entry: &Spanned<VersionFileConfig>,
        products: &BTreeMap<&str, usize>,
    ) {
        let vf = entry.get_ref();
        let path = vf.path.get_ref();
        self.check_file(root, problems, &vf.path, "version-file path");
        match (&vf.key, &vf.pattern) {
            (Some(key), Some(_)) => problems.push(
                self.problem(
                    key,
                    format!("version-file `{path}` has both `key` and `pattern`"),
                )
                .hint("keep one: `key` for TOML/JSON/YAML files, `pattern` for source files"),
            ),
            (Some(key), None) => {
                let keys = key.get_ref().keys();
                if keys.is_empty() || keys.iter().any(|k| k.is_empty()) {
                    problems.push(
                        self.problem(key, "`key` is empty")
                            .hint("write the key path, e.g. key = [\"version\"]"),
                    );
                }
                match KeyFileKind::of(path) {
                    None => problems.push(
                        self.problem(key, format!("`key` needs a .toml, .json, .cff, .yml or .yaml file; `{path}` is none of these"))
                            .hint("use `pattern = '...{version}...'` for other files"),
                    ),
                    Some(KeyFileKind::Yaml) if keys.len() > 1 => problems.push(
                        self.problem(key, "YAML-ish files support one top-level key")
                            .hint("use `pattern` for nested YAML values"),
                    ),
                    Some(_) => {}
                }
            }
            (None, Some(pattern)) => {
                if pattern.get_ref().matches("{version}").count() != 1 {
                    problems.push(
                        self.problem(pattern, "`pattern` must contain `{version}` exactly once")
                            .hint("e.g. pattern = '__version__ = \"{version}\"'"),
                    );
                }
                if vf.format.is_some() {
                    problems.push(
                        self.problem(pattern, "`format` does not apply to a `pattern`")
                            .hint("put the surrounding text in the pattern itself"),
                    );
                }
            }
            (None, None) => {}
        }
        if let Some(format) = &vf.format {
            if format.get_ref().matches("{version}").count() != 1 {
                problems.push(
                    self.problem(format, "`format` must contain `{version}` exactly once")
                        .hint("e.g. format = \"^{version}\""),
                );
            }
        }
        if let Some(product) = &vf.product {
            if !products.contains_key(product.get_ref().as_str()) {
                problems.push(
                    self.problem(
                        product,
                        format!(
                            "version-file names product `{}`, which is not defined",
                            product.get_ref()
                        ),
                    )
                    .hint(format!(
                        "use one of: {}",
                        products.keys().copied().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
        }
        if let Some(date_key) = &vf.date_key {
            if vf.key.is_none() || KeyFileKind::of(path).is_some_and(|k| k == KeyFileKind::Json) {
                problems.push(
                    self.problem(
                        date_key,
                        "`date-key` needs a `key` location in a TOML or YAML-ish file",
                    )
                    .hint("remove `date-key`, or use it on the CITATION.cff entry"),
                );
            }
        }
    }

    fn check_template(&self, problems: &mut Problems, template: &Spanned<String>, what: &str) {
        let t = template.get_ref();
        if !t.contains("{version}") {
            problems.push(
                self.problem(
                    template,
                    format!("{what} `{t}` does not contain `{{version}}`"),
                )
                .hint(format!("e.g. {what} = \"v{{version}}\"")),
            );
        }
        let rest = t.replace("{version}", "");
        if rest.contains(['{', '}']) {
            problems.push(
                self.problem(
                    template,
                    format!("{what} `{t}` has a placeholder other than `{{version}}`"),
                )
                .hint("only {version} is substituted"),
            );
        }
    }

    /// Check that `rel` names an existing file inside the repository; true when it does.
    fn check_file(
        &self,
        root: &Path,
        problems: &mut Problems,
        rel: &Spanned<String>,
        what: &str,
    ) -> bool {
        let r = rel.get_ref();
        if r.is_empty() || Path::new(r).is_absolute() || r.split(['/', '\\']).any(|c| c == "..") {
            problems.push(
                self.problem(
                    rel,
                    format!("{what} `{r}` must be a relative path inside the repository"),
                )
                .hint(
                    "write it relative to the directory holding shiplane.toml, with `/` separators",
                ),
            );
            return false;
        }
        let full = root.join(r);
        if !full.is_file() {
            problems.push(
                self.problem(rel, format!("{what} `{r}` does not exist"))
                    .hint("fix the path, or remove the entry"),
            );
            return false;
        }
        true
    }
}

fn expected_manifest(ecosystem: Ecosystem) -> &'static str {
    match ecosystem {
        Ecosystem::Cargo => "Cargo.toml",
        Ecosystem::Python => "pyproject.toml",
        Ecosystem::Npm => "package.json",
        Ecosystem::Go => "go.mod",
        Ecosystem::Assets => "file",
    }
}

/// A hint for the usual serde complaints.
fn config_hint(message: &str) -> String {
    if message.contains("unknown field") {
        "remove or rename the key; docs/config.md lists every key".into()
    } else if message.contains("unknown variant") {
        "use one of the listed values".into()
    } else if message.contains("missing field") {
        "add the missing key".into()
    } else if message.contains("invalid type") || message.contains("data did not match") {
        "give the value the type docs/config.md shows for this key".into()
    } else {
        "fix the TOML syntax at this position".into()
    }
}

/// The first cycle in the `after` graph, if any.
fn after_cycle(cfg: &Config) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = cfg
        .products
        .iter()
        .map(|p| {
            let p = p.get_ref();
            (
                p.name.get_ref().as_str(),
                p.after.iter().map(|a| a.get_ref().as_str()).collect(),
            )
        })
        .collect();
    let mut done = BTreeSet::new();
    for start in edges.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(start, &edges, &mut path, &mut done) {
            return Some(cycle);
        }
    }
    None
}

fn visit<'a>(
    node: &'a str,
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(i) = path.iter().position(|n| *n == node) {
        let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if !done.insert(node) {
        return None;
    }
    path.push(node);
    for next in edges.get(node).into_iter().flatten() {
        if node != *next {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
    }
    path.pop();
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadedConfig, Problems> {
        LoadedConfig::parse(
            PathBuf::from("shiplane.toml"),
            "shiplane.toml".into(),
            text.into(),
        )
    }

    #[test]
    fn unknown_key_names_line_and_fix() {
        let err = parse("[release]\nbranch = \"main\"\ntagg = \"v{version}\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("shiplane.toml:3"), "{text}");
        assert!(text.contains("unknown field `tagg`"), "{text}");
        assert!(text.contains("docs/config.md"), "{text}");
    }

    #[test]
    fn bad_types_and_variants() {
        let err = parse("[[product]]\nname = \"a\"\necosystem = \"maven\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("shiplane.toml:3") && err.contains("maven"),
            "{err}"
        );
        let err = parse("[[product]]\nname = 3\necosystem = \"go\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("shiplane.toml:2") && err.contains("invalid type"),
            "{err}"
        );
    }

    #[test]
    fn validation_collects_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("go.mod"), "module x\n").unwrap();
        let cfg = parse(concat!(
            "[release]\ntag = \"release\"\n",
            "[[product]]\nname = \"a\"\necosystem = \"cargo\"\nmanifest = \"nope/Cargo.toml\"\nafter = [\"b\"]\n",
            "[[product]]\nname = \"b\"\necosystem = \"go\"\nmanifest = \"go.mod\"\nafter = [\"a\", \"zzz\"]\n",
            "[[version-file]]\npath = \"go.mod\"\nkey = [\"version\"]\npattern = \"v{version}\"\n",
        ))
        .unwrap();
        let problems = cfg.validate(dir.path()).unwrap_err();
        let text = problems.to_string();
        assert!(
            text.contains(
                "shiplane.toml:2: error: [release] tag `release` does not contain `{version}`"
            ),
            "{text}"
        );
        assert!(
            text.contains("shiplane.toml:6: error: manifest `nope/Cargo.toml` does not exist"),
            "{text}"
        );
        assert!(
            text.contains("shiplane.toml:12: error: `after` names `zzz`"),
            "{text}"
        );
        assert!(
            text.contains("shiplane.toml:7: error: `after` forms a cycle: a → b → a"),
            "{text}"
        );
        assert!(text.contains("both `key` and `pattern`"), "{text}");
        assert_eq!(problems.len(), 5, "{text}");
    }
}
