//! `verify-install [VERSION]`: install what was published, from the registry it was published
//! to, into a fresh environment, and check it works — the "install truth" check release runbooks
//! do by hand after every publish.
//!
//! Per product: wait (bounded) until the registry shows the version, check the registry's own
//! metadata, then install into a fresh temp CARGO_HOME / venv / npm folder and check import,
//! version, symbols, smoke code and command. One line per check; exit 1 if any fails.

mod cargo;
mod npm;
mod python;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use semver::Version;
use xshell::Shell;

use crate::config::{Ecosystem, VerifyConfig};
use crate::registry::{self, Endpoint, HttpSettings, PackageVersions, Prober};
use crate::repo::{npm_package_name, python_project_name, Product, Repo};
use crate::report::{Check, Checklist, Output, Problems, UsageError};
use crate::version::{self, Scheme};

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The version to verify (default: the version in the manifests).
    pub version: Option<String>,
    /// Only these products (default: all that publish to a registry).
    pub products: Vec<String>,
    /// How long to wait for the registry to show the version (index propagation).
    pub wait: Duration,
    /// Keep the temporary environments (their path is printed).
    pub keep: bool,
}

/// One package to verify, as the registry names and spells it.
pub(crate) struct Target<'a> {
    pub product: &'a str,
    pub name: &'a str,
    /// The version as this registry spells it (PEP 440 for Python).
    pub registry_version: String,
}

impl Target<'_> {
    pub fn subject(&self) -> String {
        if self.product == self.name {
            format!("{}@{}", self.name, self.registry_version)
        } else {
            format!("{}/{}@{}", self.product, self.name, self.registry_version)
        }
    }
}

/// Record the outcome of an install command as the `install` check: `passed` on success, the
/// output's tail and `fix` on failure, `missing_tool` when the command cannot run at all.
/// Returns whether it succeeded (later checks need the installed package).
pub(crate) fn install_step(
    list: &mut Checklist,
    subject: &str,
    run: xshell::Result<std::process::Output>,
    passed: String,
    fix: &str,
    missing_tool: &str,
) -> bool {
    match run {
        Ok(o) if o.status.success() => {
            list.push(Check::pass(subject, "install", passed));
            true
        }
        Ok(o) => {
            list.push(Check::fail(
                subject,
                "install",
                format!("failed: {}", tail(&[o.stderr, o.stdout].concat())),
                fix,
            ));
            false
        }
        Err(e) => {
            list.push(Check::fail(
                subject,
                "install",
                format!("cannot run: {e}"),
                missing_tool,
            ));
            false
        }
    }
}

/// Parse the one JSON document an inspection script prints. When the script cannot run or its
/// output does not parse, an `import` failure is recorded and `None` returned.
pub(crate) fn inspection<T: serde::de::DeserializeOwned>(
    list: &mut Checklist,
    subject: &str,
    run: xshell::Result<std::process::Output>,
    fix: &str,
) -> Option<T> {
    match run {
        Ok(o) => match serde_json::from_slice::<T>(&o.stdout) {
            Ok(found) => Some(found),
            Err(e) => {
                list.push(Check::fail(
                    subject,
                    "import",
                    format!("inspection failed ({e}): {}", tail(&o.stderr)),
                    fix,
                ));
                None
            }
        },
        Err(e) => {
            list.push(Check::fail(
                subject,
                "import",
                format!("cannot run the inspection: {e}"),
                fix,
            ));
            None
        }
    }
}

/// The last lines of a command's output, for a failure message.
pub(crate) fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(6);
    lines[start..].join(" | ")
}

pub fn run(repo: &Repo, request: &VerifyRequest, out: &Output) -> Result<()> {
    let version = match &request.version {
        Some(v) => version::parse_semver_input(v)?,
        None => {
            let state = repo.version_state();
            match (state.current, state.problems.is_empty()) {
                (Some(v), true) => v,
                _ => return Err(Problems::checks(state.problems).into()),
            }
        }
    };
    let selected = select(repo, &request.products)?;
    // One deadline for the whole run: `--wait` bounds how long the run waits for the registries,
    // not how long it waits for each package (30 packages would otherwise wait 30 times).
    let deadline = Deadline {
        at: Instant::now() + request.wait,
        wait: request.wait,
    };
    let work = tempfile::Builder::new()
        .prefix("shiplane-verify-")
        .tempdir()
        .context("creating a temp directory")?;
    // Every command runs in the temp directory, never where Shiplane was started: a repository's
    // `.cargo/config.toml` (patches, vendored sources) or a module next to the working directory
    // (Python puts it first on sys.path) would otherwise stand in for what the registry serves.
    let sh = Shell::new()?;
    sh.change_dir(work.path());
    let prober = Prober::new(repo.root.clone(), HttpSettings::default());
    let mut list = Checklist::new(format!("verify-install {version}"));
    for (i, product) in selected.iter().enumerate() {
        let dir = work.path().join(format!("{i}-{}", product.name));
        std::fs::create_dir_all(&dir)?;
        out.detail(format!("verifying {} in {}", product.name, dir.display()));
        verify_product(
            repo, &sh, &prober, &dir, product, &version, &deadline, &mut list,
        )?;
    }
    if request.keep {
        let kept = work.keep();
        out.say(format!("environments kept in {}", kept.display()));
    }
    list.finish(out)
}

/// The products to verify: those named, or every product that publishes to a registry.
fn select<'r>(repo: &'r Repo, names: &[String]) -> Result<Vec<&'r Product>> {
    let installable = |p: &Product| {
        matches!(
            p.ecosystem,
            Ecosystem::Cargo | Ecosystem::Python | Ecosystem::Npm
        )
    };
    if names.is_empty() {
        return Ok(repo.products.iter().filter(|p| installable(p)).collect());
    }
    let mut out: Vec<&Product> = Vec::new();
    for name in names {
        match repo.products.iter().find(|p| &p.name == name) {
            Some(p) if out.iter().any(|o| o.name == p.name) => {}
            Some(p) if installable(p) => out.push(p),
            Some(p) => {
                return Err(UsageError(format!(
                    "product `{name}` is a {} product: nothing is installed from a registry",
                    p.ecosystem
                ))
                .into())
            }
            None => {
                return Err(UsageError(format!(
                    "no product `{name}`; products: {}",
                    repo.products
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into())
            }
        }
    }
    Ok(out)
}

fn product_verify<'r>(repo: &'r Repo, product: &Product) -> &'r VerifyConfig {
    repo.config
        .config
        .products
        .iter()
        .map(|p| p.get_ref())
        .find(|p| p.name.get_ref() == &product.name)
        .map(|p| &p.verify)
        .unwrap_or_else(|| {
            static EMPTY: std::sync::OnceLock<VerifyConfig> = std::sync::OnceLock::new();
            EMPTY.get_or_init(VerifyConfig::default)
        })
}

#[allow(clippy::too_many_arguments)]
fn verify_product(
    repo: &Repo,
    sh: &Shell,
    prober: &Prober,
    work: &Path,
    product: &Product,
    version: &Version,
    deadline: &Deadline,
    list: &mut Checklist,
) -> Result<()> {
    let verify = product_verify(repo, product);
    let package_name = match product.ecosystem {
        Ecosystem::Npm => npm_package_name(
            &repo
                .root
                .join(product.manifest.as_deref().unwrap_or("package.json")),
        ),
        _ => None,
    };
    let endpoint = registry::endpoint_for_package(
        &repo.root,
        &repo.config.config,
        product.registry.as_deref(),
        product.ecosystem,
        package_name.as_deref(),
    )?;
    let registry_label = endpoint.to_string();
    match product.ecosystem {
        Ecosystem::Cargo => {
            // The name cargo knows the registry by: `cargo-name`, else the table's name.
            let cargo_name = product.registry.as_ref().map(|r| {
                repo.config
                    .config
                    .registries
                    .get(r)
                    .and_then(|c| c.get_ref().cargo_name.clone())
                    .unwrap_or_else(|| r.clone())
            });
            let index = endpoint.url().map(str::to_string);
            let registry = match (&cargo_name, &index) {
                (Some(n), Some(i)) => Some((n.as_str(), i.as_str())),
                _ => None,
            };
            let packages: Vec<_> = product
                .packages
                .iter()
                .filter(|p| p.publish && !p.excluded)
                .collect();
            if packages.is_empty() {
                list.push(Check::fail(
                    &product.name,
                    "packages",
                    "no publishable package in the workspace",
                    "remove `publish = false` from the crates to release",
                ));
                return Ok(());
            }
            for package in packages {
                let target = Target {
                    product: &product.name,
                    name: &package.name,
                    registry_version: version.to_string(),
                };
                let dir = work.join(&package.name);
                std::fs::create_dir_all(&dir)?;
                let Some(published) =
                    published_check(prober, &endpoint, &registry_label, &target, deadline, list)
                else {
                    continue;
                };
                if published
                    .find(&target.registry_version)
                    .is_some_and(|p| p.yanked)
                {
                    // Cargo resolves no new dependency on a yanked version: the build, install
                    // and metadata checks could only fail for that same reason.
                    let registry_arg = cargo_name
                        .as_deref()
                        .map(|r| format!(" --registry {r}"))
                        .unwrap_or_default();
                    list.push(Check::fail(
                        &target.subject(),
                        "yanked",
                        format!(
                            "{} {} is yanked on {registry_label}: cargo will not resolve it for new projects or `cargo install` (build and install not checked)",
                            target.name, target.registry_version
                        ),
                        format!(
                            "publish a fixed version; if the yank was a mistake, `cargo yank --undo --version {} {}{registry_arg}`",
                            target.registry_version, target.name
                        ),
                    ));
                    continue;
                }
                list.push(Check::pass(&target.subject(), "yanked", "not yanked"));
                let home = cargo::fresh_cargo_home(&dir, registry)
                    .context("preparing a fresh CARGO_HOME")?;
                let targets = cargo::local_targets(&repo.root.join(&package.manifest));
                let smoke = verify.smoke.as_deref().filter(|_| {
                    verify
                        .smoke_crate
                        .as_ref()
                        .is_none_or(|c| c.get_ref() == &package.name)
                });
                if targets.lib {
                    cargo::build_check(sh, &dir, &home, &target, cargo_name.as_deref(), None, list);
                    if smoke.is_some() {
                        cargo::build_check(
                            sh,
                            &dir,
                            &home,
                            &target,
                            cargo_name.as_deref(),
                            smoke,
                            list,
                        );
                    }
                }
                if !targets.bins.is_empty() {
                    cargo::install_check(
                        sh,
                        &dir,
                        &home,
                        &target,
                        cargo_name.as_deref(),
                        &targets.bins,
                        list,
                    );
                }
                cargo::metadata_checks(&home, &target, list);
            }
        }
        Ecosystem::Python => {
            let manifest = product.manifest.as_deref().unwrap_or("pyproject.toml");
            let name = python_project_name(&repo.root.join(manifest))
                .unwrap_or_else(|| product.name.clone());
            let pep440 = match version::render(version, Scheme::Pep440) {
                Ok(v) => v,
                Err(e) => {
                    list.push(Check::fail(
                        &product.name,
                        "version",
                        e,
                        "use a prerelease with a PEP 440 form",
                    ));
                    return Ok(());
                }
            };
            let target = Target {
                product: &product.name,
                name: &name,
                registry_version: pep440,
            };
            let Some(published) =
                published_check(prober, &endpoint, &registry_label, &target, deadline, list)
            else {
                return Ok(());
            };
            let wanted: Vec<String> = verify
                .artifacts
                .as_ref()
                .map(|a| a.iter().map(|s| s.get_ref().clone()).collect())
                .unwrap_or_else(|| vec!["wheel".into(), "sdist".into()]);
            let files: Vec<String> = published
                .find(&target.registry_version)
                .map(|p| p.files.iter().map(|f| f.filename.clone()).collect())
                .unwrap_or_default();
            for kind in &wanted {
                let found = files.iter().find(|f| match kind.as_str() {
                    "wheel" => f.ends_with(".whl"),
                    _ => f.ends_with(".tar.gz") || f.ends_with(".zip"),
                });
                match found {
                    Some(f) => list.push(Check::pass(&target.subject(), kind, f.clone())),
                    None if matches!(endpoint, Endpoint::Client(_)) => list.push(Check::pass(
                        &target.subject(),
                        kind,
                        "not listed by the client (no index configured): not checked",
                    )),
                    None => list.push(Check::fail(
                        &target.subject(),
                        kind,
                        format!(
                            "no {kind} for {} on {registry_label} (files: {})",
                            target.registry_version,
                            if files.is_empty() {
                                "none".into()
                            } else {
                                files.join(", ")
                            }
                        ),
                        format!("build and upload the {kind}"),
                    )),
                }
            }
            python::install_and_inspect(sh, work, &target, endpoint.url(), verify, list);
        }
        Ecosystem::Npm => {
            let name = package_name.clone().unwrap_or_else(|| product.name.clone());
            let target = Target {
                product: &product.name,
                name: &name,
                registry_version: version.to_string(),
            };
            let Some(published) =
                published_check(prober, &endpoint, &registry_label, &target, deadline, list)
            else {
                return Ok(());
            };
            if let Some(p) = published.find(&target.registry_version) {
                npm_metadata_checks(&target, &published, p, list);
            }
            npm::install_and_inspect(work, &target, endpoint.url(), verify, list);
        }
        Ecosystem::Go | Ecosystem::Assets => {}
    }
    Ok(())
}

/// When the run stops waiting for registries to show versions (`--wait` after the start).
struct Deadline {
    at: Instant,
    wait: Duration,
}

/// Wait (until `deadline`, polling with backoff) until the registry lists the version. Records
/// the "published" check; `None` when it never showed up or the registry could not be read.
fn published_check(
    prober: &Prober,
    endpoint: &Endpoint,
    registry_label: &str,
    target: &Target<'_>,
    deadline: &Deadline,
    list: &mut Checklist,
) -> Option<PackageVersions> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        match prober.probe(endpoint.clone()).versions(target.name) {
            Ok(Some(found)) if found.contains(&target.registry_version) => {
                let waited = started.elapsed();
                let note = if waited > Duration::from_secs(1) {
                    format!(" (after {:.0?})", waited)
                } else {
                    String::new()
                };
                list.push(Check::pass(
                    &target.subject(),
                    "published",
                    format!("on {registry_label}{note}"),
                ));
                return Some(found);
            }
            Ok(found) => {
                let now = Instant::now();
                if now >= deadline.at {
                    let listed = found
                        .map(|f| {
                            f.versions
                                .iter()
                                .map(|p| p.version.clone())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "none".into());
                    list.push(Check::fail(
                        &target.subject(),
                        "published",
                        format!(
                            "{} is not on {registry_label} within --wait {}s (versions there: {listed})",
                            target.registry_version,
                            deadline.wait.as_secs()
                        ),
                        format!(
                            "publish {} {} first (or check the version asked for); if it was just published, give the registry longer with --wait SECONDS",
                            target.name, target.registry_version
                        ),
                    ));
                    return None;
                }
                std::thread::sleep(delay.min(deadline.at - now));
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                list.push(Check::fail(
                    &target.subject(),
                    "published",
                    format!("cannot read {registry_label}: {e}"),
                    "check the registry endpoint and the network; this is not \"absent\"",
                ));
                return None;
            }
        }
    }
}

fn npm_metadata_checks(
    target: &Target<'_>,
    package: &PackageVersions,
    published: &registry::Published,
    list: &mut Checklist,
) {
    let subject = target.subject();
    let present = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    match present(&published.license) {
        Some(l) => list.push(Check::pass(&subject, "license", l)),
        None => list.push(Check::fail(
            &subject,
            "license",
            "no license in the published package.json",
            "set \"license\" in package.json",
        )),
    }
    match present(&published.description) {
        Some(d) => list.push(Check::pass(&subject, "description", d)),
        None => list.push(Check::fail(
            &subject,
            "description",
            "no description",
            "set \"description\" in package.json",
        )),
    }
    match present(&published.repository) {
        Some(r) => list.push(Check::pass(&subject, "repository", r)),
        None => list.push(Check::fail(
            &subject,
            "repository",
            "no repository",
            "set \"repository\" in package.json",
        )),
    }
    let readme = published
        .meta
        .get("readme")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| package.readme.clone())
        .filter(|r| !r.trim().is_empty() && r != "ERROR: No README data found!");
    match readme {
        Some(r) => list.push(Check::pass(
            &subject,
            "readme",
            format!("{} characters", r.len()),
        )),
        None => list.push(Check::fail(
            &subject,
            "readme",
            "the registry has no README for the package",
            "add a README.md to the package (and to `files`)",
        )),
    }
    match published.files.first() {
        Some(f) => list.push(Check::pass(&subject, "tarball", f.filename.clone())),
        None => list.push(Check::fail(
            &subject,
            "tarball",
            "no dist.tarball",
            "republish the package",
        )),
    }
}
