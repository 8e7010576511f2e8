//! Preflight "packaging": build every product's artifacts the way publishing will, then check what
//! is inside them.
//!
//! - cargo: `cargo package --workspace --allow-dirty` (verified, like `cargo publish`), leaving out
//!   `publish = false` and `exclude`d members. Cargo ≥ 1.84 resolves dependencies between the
//!   packaged members locally, so a member that depends on another one at the same, not yet
//!   published, version packages fine.
//! - python: the sdist through the project's build backend, then the wheel from that sdist (what
//!   `python -m build` does). The backend installed in the Python runs the hooks directly; when it
//!   (or a requirement) is missing, `python -m build` or `pip wheel` build in an isolated
//!   environment, which fetches the backend from the package index. maturin projects are skipped
//!   when maturin is not installed.
//! - npm: `npm pack --dry-run --json --ignore-scripts`.
//!
//! Every artifact must hold no file matching `[release] package-exclude` and no file larger than
//! `[release] max-file-size`. Everything runs in a temp directory (build output, extracted
//! artifacts); the repository is left as it was (the `*.egg-info` and `build/` a setuptools sdist
//! writes next to pyproject.toml are removed again).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use xshell::{cmd, Shell};

use crate::config::{self, Ecosystem};
use crate::repo::{parent_rel, Product, Repo};
use crate::report::Check;

/// Files no published artifact should contain, unless `[release] package-exclude` says otherwise.
pub(crate) const DEFAULT_EXCLUDE: [&str; 5] = ["internal/", ".env*", "*.pem", "*.key", "target/"];

/// The largest file an artifact may contain, unless `[release] max-file-size` says otherwise.
pub(crate) const DEFAULT_MAX_FILE_SIZE: u64 = 5_000_000;

/// At most this many offending paths are listed per artifact.
const MAX_LISTED: usize = 10;

pub(super) fn checks(repo: &Repo, _version: &semver::Version) -> Vec<Check> {
    let rules = Rules::of(repo);
    let work = match tempfile::Builder::new()
        .prefix("shiplane-preflight-packaging-")
        .tempdir()
    {
        Ok(w) => w,
        Err(e) => {
            return vec![Check::fail(
                "packaging",
                "package",
                format!("cannot create a temp directory: {e}"),
                "check that the temp directory ($TMPDIR) is writable",
            )]
        }
    };
    // Products are independent: build them side by side, report them in configuration order.
    std::thread::scope(|scope| {
        let handles: Vec<_> = repo
            .products
            .iter()
            .enumerate()
            .map(|(i, product)| {
                let dir = work.path().join(format!("{i}"));
                let rules = &rules;
                scope.spawn(move || product_checks(repo, product, &dir, rules))
            })
            .collect();
        handles
            .into_iter()
            .zip(&repo.products)
            .flat_map(|(h, product)| {
                h.join().unwrap_or_else(|_| {
                    vec![Check::fail(
                        &product.name,
                        "package",
                        "the packaging check panicked",
                        "report this as a Shiplane bug",
                    )]
                })
            })
            .collect()
    })
}

fn product_checks(repo: &Repo, product: &Product, work: &Path, rules: &Rules) -> Vec<Check> {
    let Some(manifest) = product.manifest.as_deref() else {
        return Vec::new();
    };
    let ecosystem = product.ecosystem;
    if !matches!(
        ecosystem,
        Ecosystem::Cargo | Ecosystem::Python | Ecosystem::Npm
    ) {
        return Vec::new();
    }
    if let Err(e) = std::fs::create_dir_all(work) {
        return vec![Check::fail(
            &product.name,
            "package",
            format!("cannot create {}: {e}", work.display()),
            "check that the temp directory ($TMPDIR) is writable",
        )];
    }
    let sh = match Shell::new() {
        Ok(sh) => sh,
        Err(e) => {
            return vec![Check::fail(
                &product.name,
                "package",
                format!("cannot start a shell: {e}"),
                "check the working directory",
            )]
        }
    };
    let ctx = Ctx {
        repo,
        product,
        manifest,
        work,
        rules,
        sh,
    };
    let mut out = Vec::new();
    match ecosystem {
        Ecosystem::Cargo => cargo(&ctx, &mut out),
        Ecosystem::Python => python(&ctx, &mut out),
        Ecosystem::Npm => npm(&ctx, &mut out),
        Ecosystem::Go | Ecosystem::Assets => {}
    }
    out
}

/// What one product's checks work with.
struct Ctx<'a> {
    repo: &'a Repo,
    product: &'a Product,
    /// The product's manifest, relative to the repository root.
    manifest: &'a str,
    /// This product's own temp directory.
    work: &'a Path,
    rules: &'a Rules,
    sh: Shell,
}

impl Ctx<'_> {
    /// The directory holding the manifest.
    fn dir_rel(&self) -> &str {
        parent_rel(self.manifest)
    }

    fn dir(&self) -> PathBuf {
        self.repo.root.join(self.dir_rel())
    }

    /// A directory of the repository for messages: `bindings/node`, or `.` for the root.
    fn shown_dir(&self) -> &str {
        match self.dir_rel() {
            "" => ".",
            d => d,
        }
    }

    /// Where to run a command, for a fix: `in bindings/node`, `at the repository root`.
    fn where_to_run(&self) -> String {
        match self.dir_rel() {
            "" => "at the repository root".into(),
            d => format!("in {d}"),
        }
    }

    fn text(&self, rel: &str) -> Option<String> {
        self.repo
            .files
            .iter()
            .find(|f| f.rel == rel)
            .map(|f| f.text.clone())
            .or_else(|| std::fs::read_to_string(self.repo.root.join(rel)).ok())
    }

    /// A shell whose commands run in `dir`.
    fn shell_in(&self, dir: &Path) -> Shell {
        let sh = self.sh.clone();
        sh.change_dir(dir);
        sh
    }
}

// ---------------------------------------------------------------------------------------------
// Cargo

fn cargo(ctx: &Ctx<'_>, out: &mut Vec<Check>) {
    let product = ctx.product;
    let mut packages: Vec<_> = product.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let (ship, left_out): (Vec<_>, Vec<_>) =
        packages.into_iter().partition(|p| p.publish && !p.excluded);
    let left_out: Vec<&str> = left_out.iter().map(|p| p.name.as_str()).collect();
    if ship.is_empty() {
        out.push(Check::pass(
            &product.name,
            "package",
            "nothing to package: every package is `publish = false` or in `exclude`",
        ));
        return;
    }
    let is_workspace = ctx
        .text(ctx.manifest)
        .and_then(|t| toml_edit::Document::parse(t).ok())
        .is_some_and(|doc| doc.as_table().contains_key("workspace"));
    let mut args: Vec<String> = Vec::new();
    if is_workspace {
        args.push("--workspace".into());
        for name in &left_out {
            args.extend(["--exclude".to_string(), name.to_string()]);
        }
    }
    let target = ctx.work.join("target");
    let sh = ctx.shell_in(&ctx.dir());
    // Offline first: from the local cache, without the network or waiting for the package cache
    // lock (other preflight groups run cargo too). Online only when something is not cached.
    let package = |offline: &[&str], args: &[String]| {
        let mut cmd = cmd!(sh, "cargo package --allow-dirty {offline...} {args...}");
        // A registry named on the command line needs no entry in cargo's configuration.
        if let Some(registry) = product.registry.as_deref().and_then(|name| {
            crate::registry::cargo::cargo_registry_of(&ctx.repo.config.config, name)
        }) {
            cmd = cmd.env(registry.index_var(), &registry.index);
        }
        cmd.env("CARGO_TARGET_DIR", &target)
            .env("CARGO_TERM_COLOR", "never")
            .quiet()
            .ignore_status()
            .output()
    };
    let package_with_cache = |args: &[String]| match package(&["--offline"], args) {
        Ok(o) if !o.status.success() && mentions_offline(&o) => {
            let _ = std::fs::remove_dir_all(&target);
            package(&[], args)
        }
        other => other,
    };
    let mut run = package_with_cache(&args);
    // With crates-io replaced by another registry (a mirror, or a rehearsal's local registry),
    // cargo wants to be told which one the package is for: ask again, naming it.
    if let Ok(o) = &run {
        if let Some(name) = replaced_crates_io(o) {
            args.extend(["--registry".to_string(), name]);
            run = package_with_cache(&args);
        }
    }
    let shown = format!("cargo package --allow-dirty {}", args.join(" "))
        .trim_end()
        .to_string();
    let names: Vec<&str> = ship.iter().map(|p| p.name.as_str()).collect();
    let left_note = if left_out.is_empty() {
        String::new()
    } else {
        format!(
            "; left out (publish = false or excluded): {}",
            left_out.join(", ")
        )
    };
    match run {
        Ok(o) if o.status.success() => out.push(Check::pass(
            &product.name,
            "package",
            format!(
                "{} packaged and verified ({}){}{left_note}",
                plural(ship.len(), "crate"),
                names.join(", "),
                if ship.len() > 1 && is_workspace {
                    ", dependencies between them resolved locally"
                } else {
                    ""
                },
            ),
        )),
        Ok(o) => {
            let mut fix = format!(
                "run `{shown}` {} and fix what it reports: a dependency without a `version`, a \
                 file the code needs that is not packaged, or a crate that does not build",
                ctx.where_to_run()
            );
            if let Some(old) = old_cargo(&sh) {
                let _ = write!(
                    fix,
                    "; {old} is older than 1.84, which packages a workspace resolving the \
                     members' dependencies on each other locally"
                );
            }
            out.push(Check::fail(
                &product.name,
                "package",
                format!("`{shown}` failed: {}", tail(&[o.stderr, o.stdout].concat())),
                fix,
            ))
        }
        Err(e) => {
            out.push(Check::fail(
                &product.name,
                "package",
                format!("cannot run cargo: {e}"),
                "install Rust (rustup) so that `cargo` is on PATH",
            ));
            return;
        }
    }
    // Whatever was written (all of it after a success, perhaps some after a failure).
    let crates_dir = target.join("package");
    let written: Vec<String> = std::fs::read_dir(&crates_dir)
        .map(|r| {
            r.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".crate"))
                .collect()
        })
        .unwrap_or_default();
    for package in &ship {
        let Some(file) = written.iter().find(|f| {
            f.strip_suffix(".crate")
                .and_then(|s| s.strip_prefix(&format!("{}-", package.name)))
                .is_some_and(|v| semver::Version::parse(v).is_ok())
        }) else {
            continue;
        };
        let subject = if package.name == product.name {
            product.name.clone()
        } else {
            format!("{}/{}", product.name, package.name)
        };
        let unpacked = ctx.work.join("unpacked").join(&package.name);
        match extract_tar(&ctx.sh, &crates_dir.join(file), &unpacked) {
            Ok(()) => {
                let artifact = Artifact {
                    name: file.clone(),
                    files: strip_top(walk(&unpacked)),
                };
                let fixes = Fixes {
                    contents: format!(
                        "leave them out of the crate: add them to `exclude` in {} (or list what \
                         ships in `include`){}",
                        package.manifest,
                        ctx.rules.allow_hint()
                    ),
                    size: format!(
                        "add it to `exclude` in {} (or fetch it at build time), or raise \
                         [release] max-file-size in shiplane.toml",
                        package.manifest
                    ),
                };
                out.extend(content_checks(&subject, &[artifact], ctx.rules, &fixes));
            }
            Err(e) => out.push(Check::fail(
                &subject,
                "contents",
                format!("cannot read {file}: {e}"),
                "install tar",
            )),
        }
    }
}

/// Whether a failed cargo run failed for want of the network (`--offline`).
fn mentions_offline(output: &std::process::Output) -> bool {
    let text = String::from_utf8_lossy(&output.stderr);
    text.contains("offline")
}

/// `cargo X.Y.Z` when the cargo that runs in the workspace is older than 1.84.
fn old_cargo(sh: &Shell) -> Option<String> {
    let text = cmd!(sh, "cargo --version").quiet().read().ok()?;
    let version = text.split_whitespace().nth(1)?;
    let minor: u64 = version.split('.').nth(1)?.parse().ok()?;
    (version.starts_with("1.") && minor < 84).then(|| format!("cargo {version}"))
}

// ---------------------------------------------------------------------------------------------
// Python

/// Runs a PEP 517 hook of the backend installed in this Python (no isolation). Exit 3 with
/// `{"missing": [...]}` in the result file when the backend or a requirement is not installed.
const HOOK: &str = r#"
import importlib, json, os, re, sys, sysconfig
if sys.path and sys.path[0] in ("", os.getcwd()):
    sys.path.pop(0)
# Backends run their own tools (maturin runs `maturin`): those of this Python come first.
os.environ["PATH"] = sysconfig.get_path("scripts") + os.pathsep + os.environ.get("PATH", "")
kind, out, result, backend = sys.argv[1:5]
backend_path, requires = json.loads(sys.argv[5]), json.loads(sys.argv[6])

def done(code, **kw):
    with open(result, "w") as f:
        json.dump(kw, f)
    sys.exit(code)

# Not pip's vendored copy: importing pip turns off setuptools' distutils shim in this process.
try:
    from packaging.requirements import Requirement
except ImportError:
    Requirement = None

def missing(reqs):
    import importlib.metadata as md
    out = []
    for r in reqs:
        if Requirement is None:
            # Without `packaging`: names only; a requirement under a marker is left to the build.
            if ";" in r:
                continue
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r)
            name, req = (m.group(1) if m else None), None
        else:
            try:
                req = Requirement(r)
            except Exception:
                out.append(r)
                continue
            if req.marker is not None and not req.marker.evaluate():
                continue
            name = req.name
        if not name:
            continue
        try:
            v = md.version(name)
        except md.PackageNotFoundError:
            out.append(r)
            continue
        if req is not None and req.specifier and not req.specifier.contains(v, prereleases=True):
            out.append(f"{r} (installed: {v})")
    return out

miss = missing(requires)
if miss:
    done(3, missing=miss)
sys.path[:0] = [os.path.abspath(p) for p in backend_path]
module, _, attr = backend.partition(":")
try:
    hooks = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        hooks = getattr(hooks, part)
except ImportError as e:
    done(3, missing=[f"{module} ({e})"])
get_requires = getattr(hooks, "get_requires_for_build_" + kind, None)
if get_requires is not None:
    miss = missing(get_requires({}))
    if miss:
        done(3, missing=miss)
name = getattr(hooks, "build_" + kind)(out, {})
done(0, built=name)
"#;

/// The `[build-system]` of a pyproject.toml (PEP 517 defaults when it has none).
struct BuildSystem {
    backend: String,
    backend_path: Vec<String>,
    requires: Vec<String>,
}

impl BuildSystem {
    fn of(pyproject: &str) -> BuildSystem {
        let doc = toml_edit::Document::parse(pyproject.to_string()).ok();
        let table = doc
            .as_ref()
            .and_then(|d| d.as_table().get("build-system"))
            .and_then(toml_edit::Item::as_table_like);
        let strings = |key: &str| -> Option<Vec<String>> {
            table?.get(key)?.as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
        };
        let backend = table
            .and_then(|t| t.get("build-backend"))
            .and_then(toml_edit::Item::as_str)
            .map(str::to_string);
        match backend {
            Some(backend) => BuildSystem {
                backend,
                backend_path: strings("backend-path").unwrap_or_default(),
                requires: strings("requires").unwrap_or_default(),
            },
            None => BuildSystem {
                backend: "setuptools.build_meta:__legacy__".into(),
                backend_path: Vec::new(),
                requires: strings("requires").unwrap_or_else(|| vec!["setuptools>=40.8.0".into()]),
            },
        }
    }

    fn is_maturin(&self) -> bool {
        self.backend.split([':', '.']).next() == Some("maturin")
    }

    /// Where this backend is told what to leave out of the sdist and wheel.
    fn exclude_hint(&self) -> &'static str {
        match self.backend.split([':', '.']).next().unwrap_or_default() {
            "maturin" => "`exclude` in [tool.maturin] of pyproject.toml",
            "hatchling" => "`exclude` in [tool.hatch.build] of pyproject.toml",
            "flit_core" => "`exclude` in [tool.flit.sdist] of pyproject.toml",
            "poetry" => "`exclude` in [tool.poetry] of pyproject.toml",
            "pdm" => "`excludes` in [tool.pdm.build] of pyproject.toml",
            _ => "MANIFEST.in (`exclude`, `prune`, `global-exclude`) and the package data settings",
        }
    }
}

fn python(ctx: &Ctx<'_>, out: &mut Vec<Check>) {
    let subject = ctx.product.name.as_str();
    let Some(pyproject) = ctx.text(ctx.manifest) else {
        out.push(Check::fail(
            subject,
            "sdist",
            format!("cannot read {}", ctx.manifest),
            "check the product's manifest",
        ));
        return;
    };
    let build = BuildSystem::of(&pyproject);
    let python = std::env::var("SHIPLANE_PYTHON").unwrap_or_else(|_| "python3".into());
    let importable = |module: &str| {
        cmd!(
            ctx.sh,
            "{python} -c 'import sys; __import__(sys.argv[1])' {module}"
        )
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    };
    if build.is_maturin() && !importable("maturin") {
        for check in ["sdist", "wheel"] {
            out.push(Check::pass(
                subject,
                check,
                format!(
                    "skipped: maturin not installed in {python}; install it (`pip install \
                     maturin`) to build and check the {check}"
                ),
            ));
        }
        return;
    }
    let src = ctx.dir();
    let builder = PyBuilder {
        ctx,
        python: &python,
        build: &build,
        has_build: importable("build"),
        has_pip: importable("pip"),
    };

    let before = Leftovers::take(&src);
    let sdist = builder.build("sdist", &src, &ctx.work.join("sdist"));
    before.clean(&src);
    let mut artifacts = Vec::new();
    let mut wheel_src = src.clone();
    match sdist {
        Ok((path, how)) => {
            let name = file_name(&path);
            out.push(Check::pass(subject, "sdist", format!("built {name} {how}")));
            let unpacked = ctx.work.join("sdist-unpacked");
            match extract_tar(&ctx.sh, &path, &unpacked) {
                Ok(()) => {
                    artifacts.push(Artifact {
                        name,
                        files: strip_top(walk(&unpacked)),
                    });
                    if let Some(top) = single_subdir(&unpacked) {
                        wheel_src = top;
                    }
                }
                Err(e) => out.push(Check::fail(
                    subject,
                    "contents",
                    format!("cannot read {name}: {e}"),
                    "install tar",
                )),
            }
        }
        Err(failure) => out.push(failure.check(subject, "sdist")),
    }
    let from = if wheel_src == src {
        "from the source tree"
    } else {
        "from the sdist"
    };
    let before = Leftovers::take(&src);
    let wheel = builder.build("wheel", &wheel_src, &ctx.work.join("wheel"));
    before.clean(&src);
    match wheel {
        Ok((path, how)) => {
            let name = file_name(&path);
            out.push(Check::pass(
                subject,
                "wheel",
                format!("built {name} {from} {how}"),
            ));
            let unpacked = ctx.work.join("wheel-unpacked");
            let listed = cmd!(ctx.sh, "{python} -m zipfile -e {path} {unpacked}")
                .quiet()
                .ignore_stdout()
                .ignore_status()
                .output();
            match listed {
                Ok(o) if o.status.success() => artifacts.push(Artifact {
                    name,
                    files: walk(&unpacked),
                }),
                Ok(o) => out.push(Check::fail(
                    subject,
                    "contents",
                    format!("cannot read {name}: {}", tail(&o.stderr)),
                    "check the wheel with `python3 -m zipfile -l`",
                )),
                Err(e) => out.push(Check::fail(
                    subject,
                    "contents",
                    format!("cannot read {name}: {e}"),
                    "check the wheel with `python3 -m zipfile -l`",
                )),
            }
        }
        Err(failure) => out.push(failure.check(subject, "wheel")),
    }
    if !artifacts.is_empty() {
        let hint = build.exclude_hint();
        let fixes = Fixes {
            contents: format!(
                "leave them out of the sdist and wheel: {hint}{}",
                ctx.rules.allow_hint()
            ),
            size: format!(
                "leave it out ({hint}), or raise [release] max-file-size in shiplane.toml"
            ),
        };
        out.extend(content_checks(subject, &artifacts, ctx.rules, &fixes));
    }
}

struct PyBuilder<'a> {
    ctx: &'a Ctx<'a>,
    python: &'a str,
    build: &'a BuildSystem,
    /// `python -m build` is installed.
    has_build: bool,
    /// pip is installed (`pip wheel` builds a wheel in isolation).
    has_pip: bool,
}

/// Why an artifact was not built, ready to become a failed check.
struct BuildFailure {
    detail: String,
    fix: String,
}

impl BuildFailure {
    fn check(self, subject: &str, check: &str) -> Check {
        Check::fail(subject, check, self.detail, self.fix)
    }
}

impl PyBuilder<'_> {
    /// Build an sdist or wheel of `src` into `out`: the path of the artifact and how it was built.
    fn build(&self, kind: &str, src: &Path, out: &Path) -> Result<(PathBuf, String), BuildFailure> {
        let ext = if kind == "sdist" { ".tar.gz" } else { ".whl" };
        let failed = |e: &dyn std::fmt::Display| BuildFailure {
            detail: format!("cannot run {}: {e}", self.python),
            fix: "install Python 3 (or point SHIPLANE_PYTHON at one)".into(),
        };
        std::fs::create_dir_all(out).map_err(|e| failed(&e))?;
        let result = self.ctx.work.join(format!("{kind}-hook.json"));
        let python = self.python;
        let backend = &self.build.backend;
        let backend_path =
            serde_json::to_string(&self.build.backend_path).unwrap_or_else(|_| "[]".into());
        let requires = serde_json::to_string(&self.build.requires).unwrap_or_else(|_| "[]".into());
        let sh = self.ctx.shell_in(src);
        let hook = cmd!(
            sh,
            "{python} -c {HOOK} {kind} {out} {result} {backend} {backend_path} {requires}"
        )
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| failed(&e))?;
        if hook.status.success() {
            let built = find_artifact(out, ext).ok_or_else(|| BuildFailure {
                detail: format!("{backend} reported success but wrote no {ext}"),
                fix: "check the build backend's configuration".into(),
            })?;
            return Ok((built, format!("with {backend} (installed, no isolation)")));
        }
        if hook.status.code() != Some(3) {
            return Err(BuildFailure {
                detail: format!(
                    "{backend} failed to build the {kind}: {}",
                    tail(&[hook.stdout, hook.stderr].concat())
                ),
                fix: format!(
                    "run `python3 -m build --{kind}` {} and fix what it reports",
                    self.ctx.where_to_run()
                ),
            });
        }
        let missing: Vec<String> = std::fs::read(&result)
            .ok()
            .and_then(|b| serde_json::from_slice::<HookResult>(&b).ok())
            .map(|r| r.missing)
            .unwrap_or_default();
        let missing = missing.join(", ");
        // The backend is not installed here: build in an isolated environment, which installs
        // the backend's requirements from the package index.
        let isolated = if self.has_build {
            Some((
                "python -m build",
                cmd!(sh, "{python} -m build --{kind} --outdir {out} {src}"),
            ))
        } else if kind == "wheel" && self.has_pip {
            Some((
                "pip wheel",
                cmd!(sh, "{python} -m pip wheel --no-deps --no-cache-dir --disable-pip-version-check --quiet --wheel-dir {out} {src}"),
            ))
        } else {
            None
        };
        let Some((tool, command)) = isolated else {
            let fetcher = if kind == "wheel" {
                "`build` or pip"
            } else {
                "`build`"
            };
            return Err(BuildFailure {
                detail: format!(
                    "not built: the build backend's requirements are not installed in {python} \
                     ({missing}), and neither is {fetcher}, which would fetch them"
                ),
                fix: format!(
                    "install {missing} into {python} (with pip), or install `build` there, which \
                     fetches them from the package index"
                ),
            });
        };
        let run = command
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .quiet()
            .ignore_status()
            .output()
            .map_err(|e| failed(&e))?;
        if run.status.success() {
            if let Some(built) = find_artifact(out, ext) {
                return Ok((
                    built,
                    format!("with {tool} (isolated: {missing} not installed here)"),
                ));
            }
        }
        Err(BuildFailure {
            detail: format!(
                "{tool} failed to build the {kind}: {}; it ran isolated, installing the backend's \
                 requirements ({missing}) from the package index, which needs network access",
                tail(&[run.stdout, run.stderr].concat())
            ),
            fix: format!(
                "install {missing} into {python} to build without the network, or fix the error \
                 above"
            ),
        })
    }
}

#[derive(Deserialize)]
struct HookResult {
    #[serde(default)]
    missing: Vec<String>,
}

fn find_artifact(dir: &Path, ext: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    found.sort();
    found.pop()
}

/// What a setuptools build leaves next to pyproject.toml (`build/`, `*.egg-info`, also one level
/// down as in `src/NAME.egg-info`), taken before the build so that only new ones are removed.
struct Leftovers(BTreeSet<PathBuf>);

impl Leftovers {
    fn scan(dir: &Path) -> BTreeSet<PathBuf> {
        let entries = |d: &Path| -> Vec<PathBuf> {
            std::fs::read_dir(d)
                .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        let mut found = BTreeSet::new();
        for top in entries(dir) {
            let name = file_name(&top);
            if name == "build" || name.ends_with(".egg-info") {
                found.insert(top.clone());
            }
            if top.is_dir() && !name.starts_with('.') {
                found.extend(
                    entries(&top)
                        .into_iter()
                        .filter(|p| file_name(p).ends_with(".egg-info")),
                );
            }
        }
        found
    }

    fn take(dir: &Path) -> Leftovers {
        Leftovers(Self::scan(dir))
    }

    fn clean(&self, dir: &Path) {
        for new in Self::scan(dir).difference(&self.0) {
            let _ = std::fs::remove_dir_all(new);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// npm

#[derive(Deserialize)]
struct Packed {
    id: String,
    #[serde(default)]
    files: Vec<PackedFile>,
    #[serde(default, rename = "unpackedSize")]
    unpacked_size: u64,
}

#[derive(Deserialize)]
struct PackedFile {
    path: String,
    #[serde(default)]
    size: u64,
}

fn npm(ctx: &Ctx<'_>, out: &mut Vec<Check>) {
    let subject = ctx.product.name.as_str();
    let sh = ctx.shell_in(&ctx.dir());
    let run = cmd!(sh, "npm pack --dry-run --json --ignore-scripts")
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false")
        .quiet()
        .ignore_status()
        .output();
    let fix = format!(
        "run `npm pack --dry-run` {} and fix what it reports",
        ctx.where_to_run()
    );
    let o = match run {
        Ok(o) => o,
        Err(e) => {
            out.push(Check::fail(
                subject,
                "npm pack",
                format!("cannot run npm: {e}"),
                "install Node.js so that `npm` is on PATH",
            ));
            return;
        }
    };
    if !o.status.success() {
        out.push(Check::fail(
            subject,
            "npm pack",
            format!(
                "`npm pack --dry-run` failed: {}",
                tail(&[o.stderr, o.stdout].concat())
            ),
            fix,
        ));
        return;
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The JSON document starts at the first line that opens an array.
    let json = stdout
        .find("\n[")
        .map(|i| &stdout[i + 1..])
        .filter(|_| !stdout.starts_with('['))
        .unwrap_or(&stdout);
    let packed = match serde_json::from_str::<Vec<Packed>>(json) {
        Ok(mut list) if !list.is_empty() => list.remove(0),
        Ok(_) => {
            out.push(Check::fail(
                subject,
                "npm pack",
                "`npm pack --dry-run --json` listed no package",
                fix,
            ));
            return;
        }
        Err(e) => {
            out.push(Check::fail(
                subject,
                "npm pack",
                format!(
                    "cannot read the output of `npm pack --dry-run --json` ({e}): {}",
                    tail(&o.stdout)
                ),
                fix,
            ));
            return;
        }
    };
    out.push(Check::pass(
        subject,
        "npm pack",
        format!(
            "{}: {}, {} unpacked (lifecycle scripts not run)",
            packed.id,
            plural(packed.files.len(), "file"),
            human(packed.unpacked_size)
        ),
    ));
    let artifact = Artifact {
        name: packed.id.clone(),
        files: packed
            .files
            .into_iter()
            .map(|f| (f.path.replace('\\', "/"), f.size))
            .collect(),
    };
    let fixes = Fixes {
        contents: format!(
            "leave them out of the package: list them in {0}/.npmignore, or list only what ships \
             in `files` of {1}{2}",
            ctx.shown_dir(),
            ctx.manifest,
            ctx.rules.allow_hint()
        ),
        size: format!(
            "leave it out (.npmignore or `files` in {}), or raise [release] max-file-size in \
             shiplane.toml",
            ctx.manifest
        ),
    };
    out.extend(content_checks(subject, &[artifact], ctx.rules, &fixes));
}

// ---------------------------------------------------------------------------------------------
// Content rules

/// The repository's content rules: exclude globs and the size limit.
pub(crate) struct Rules {
    globs: Vec<Glob>,
    max_file_size: u64,
    /// `[release] package-exclude` is set (not the default list).
    configured: bool,
}

impl Rules {
    fn of(repo: &Repo) -> Rules {
        let release = &repo.config.config.release;
        let configured = release.package_exclude.is_some();
        let globs = match &release.package_exclude {
            Some(list) => list.iter().map(|g| Glob::new(g.get_ref())).collect(),
            None => DEFAULT_EXCLUDE.iter().map(|g| Glob::new(g)).collect(),
        };
        // An invalid size is a configuration error reported when the repository loads.
        let max_file_size = release
            .max_file_size
            .as_ref()
            .and_then(|s| config::parse_size(s.get_ref()).ok())
            .unwrap_or(DEFAULT_MAX_FILE_SIZE);
        Rules {
            globs,
            max_file_size,
            configured,
        }
    }

    fn allow_hint(&self) -> &'static str {
        if self.configured {
            "; if they belong in the package, take the glob out of [release] package-exclude"
        } else {
            "; if they belong in the package, set [release] package-exclude in shiplane.toml \
             without that glob"
        }
    }
}

/// The registry crates-io is replaced with, when cargo refused to package because of it
/// ("crates-io is replaced with remote registry NAME; include `--registry NAME` ...").
fn replaced_crates_io(output: &std::process::Output) -> Option<String> {
    if output.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rest = stderr
        .split("crates-io is replaced with remote registry ")
        .nth(1)?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    (!name.is_empty()).then_some(name)
}

/// One exclude glob, gitignore-like: without a `/` it matches a name at any depth; a trailing `/`
/// matches directories only; a `/` inside anchors it at the package root; `**` spans directories.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    text: String,
    segments: Vec<String>,
    anchored: bool,
    dir_only: bool,
}

impl Glob {
    pub(crate) fn new(text: &str) -> Glob {
        let t = text.trim();
        let dir_only = t.ends_with('/');
        let body = t.trim_end_matches('/');
        let anchored = body.contains('/');
        let segments = body
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Glob {
            text: t.to_string(),
            segments,
            anchored,
            dir_only,
        }
    }

    /// How many leading segments of `path` the glob matches: all of them for a file, fewer for a
    /// directory the file is in. `None` when it does not match.
    pub(crate) fn matches(&self, path: &str) -> Option<usize> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if self.segments.is_empty() {
            return None;
        }
        let starts = if self.anchored { 0..1 } else { 0..parts.len() };
        for i in starts {
            for j in i + 1..=parts.len() {
                if self.dir_only && j == parts.len() {
                    break;
                }
                if crate::glob::segments_match(&self.segments, &parts[i..j]) {
                    return Some(j);
                }
            }
        }
        None
    }
}

/// A built artifact's files: paths relative to the package root, sizes in bytes.
struct Artifact {
    name: String,
    files: Vec<(String, u64)>,
}

struct Fixes {
    contents: String,
    size: String,
}

/// The `contents` and `size` checks over one product's (or package's) artifacts.
fn content_checks(
    subject: &str,
    artifacts: &[Artifact],
    rules: &Rules,
    fixes: &Fixes,
) -> [Check; 2] {
    let mut excluded_parts = Vec::new();
    let mut clean_parts = Vec::new();
    let mut large_parts = Vec::new();
    let mut size_parts = Vec::new();
    for artifact in artifacts {
        // Offenders grouped by what matched: a file, or a directory with its file count.
        let mut offenders: BTreeMap<String, (usize, &str)> = BTreeMap::new();
        for (path, _) in &artifact.files {
            if let Some((glob, depth)) = rules
                .globs
                .iter()
                .find_map(|g| g.matches(path).map(|d| (g, d)))
            {
                let parts: Vec<&str> = path.split('/').collect();
                let key = if depth < parts.len() {
                    format!("{}/", parts[..depth].join("/"))
                } else {
                    path.clone()
                };
                offenders.entry(key).or_insert((0, &glob.text)).0 += 1;
            }
        }
        if offenders.is_empty() {
            clean_parts.push(format!(
                "{}: {}",
                artifact.name,
                plural(artifact.files.len(), "file")
            ));
        } else {
            let listed: Vec<String> = offenders
                .iter()
                .map(|(key, (count, glob))| {
                    if key.ends_with('/') {
                        format!("{key} ({}, matches `{glob}`)", plural(*count, "file"))
                    } else {
                        format!("{key} (matches `{glob}`)")
                    }
                })
                .collect();
            excluded_parts.push(format!("{}: {}", artifact.name, capped(&listed)));
        }
        let mut large: Vec<&(String, u64)> = artifact
            .files
            .iter()
            .filter(|(_, size)| *size > rules.max_file_size)
            .collect();
        large.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if large.is_empty() {
            let largest = artifact.files.iter().max_by_key(|(_, size)| *size);
            size_parts.push(match largest {
                Some((path, size)) => {
                    format!("{}: largest {path}, {}", artifact.name, human(*size))
                }
                None => format!("{}: no files", artifact.name),
            });
        } else {
            let listed: Vec<String> = large
                .iter()
                .map(|(path, size)| format!("{path} ({})", human(*size)))
                .collect();
            large_parts.push(format!("{}: {}", artifact.name, capped(&listed)));
        }
    }
    let limit = human(rules.max_file_size);
    let contents = if excluded_parts.is_empty() {
        Check::pass(
            subject,
            "contents",
            format!(
                "{}; nothing matches the exclude globs",
                clean_parts.join("; ")
            ),
        )
    } else {
        Check::fail(
            subject,
            "contents",
            format!(
                "files matching the exclude globs: {}",
                excluded_parts.join("; ")
            ),
            fixes.contents.clone(),
        )
    };
    let size = if large_parts.is_empty() {
        Check::pass(
            subject,
            "size",
            format!("{} (limit {limit})", size_parts.join("; ")),
        )
    } else {
        Check::fail(
            subject,
            "size",
            format!("files over the {limit} limit: {}", large_parts.join("; ")),
            fixes.size.clone(),
        )
    };
    [contents, size]
}

fn capped(items: &[String]) -> String {
    if items.len() <= MAX_LISTED {
        items.join(", ")
    } else {
        format!(
            "{}, and {} more",
            items[..MAX_LISTED].join(", "),
            items.len() - MAX_LISTED
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// `tar -xzf archive -C dest`.
fn extract_tar(sh: &Shell, archive: &Path, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    match cmd!(sh, "tar -xzf {archive} -C {dest}")
        .quiet()
        .ignore_status()
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(tail(&o.stderr)),
        Err(e) => Err(e.to_string()),
    }
}

/// Every file (and symlink) under `dir`: `/`-separated path relative to it, and size; sorted.
fn walk(dir: &Path) -> Vec<(String, u64)> {
    fn go(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) {
        let Ok(read) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in read.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                go(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push((rel.to_string_lossy().replace('\\', "/"), meta.len()));
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}

/// Drop the one top-level directory every path shares (`NAME-VERSION/` of a .crate or sdist).
fn strip_top(files: Vec<(String, u64)>) -> Vec<(String, u64)> {
    let top = files
        .first()
        .and_then(|(p, _)| p.split_once('/'))
        .map(|(t, _)| format!("{t}/"));
    match top {
        Some(top) if files.iter().all(|(p, _)| p.starts_with(&top)) => files
            .into_iter()
            .map(|(p, s)| (p[top.len()..].to_string(), s))
            .collect(),
        _ => files,
    }
}

/// The only entry of `dir`, when it is a directory.
fn single_subdir(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    match entries.as_slice() {
        [one] if one.is_dir() => Some(one.clone()),
        _ => None,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The telling part of a command's output: from the first `error` line (a few lines of it), else
/// the last lines.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().to_ascii_lowercase().starts_with("error"))
        .unwrap_or(lines.len().saturating_sub(6));
    let end = (start + 8).min(lines.len());
    lines[start..end]
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A size for people, in powers of 1000: `512 B`, `1.2 kB`, `5 MB`, `6.3 MB`.
fn human(bytes: u64) -> String {
    let (value, unit) = match bytes {
        1_000_000_000.. => (bytes as f64 / 1e9, "GB"),
        1_000_000.. => (bytes as f64 / 1e6, "MB"),
        1_000.. => (bytes as f64 / 1e3, "kB"),
        _ => return format!("{bytes} B"),
    };
    let text = format!("{value:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_segments() {
        let g = Glob::new(".env*");
        assert_eq!(g.matches(".env"), Some(1));
        assert_eq!(g.matches("config/.env.local"), Some(2));
        assert_eq!(g.matches("src/env.rs"), None);
        let dir = Glob::new("internal/");
        assert_eq!(dir.matches("internal/notes.md"), Some(1));
        assert_eq!(dir.matches("src/internal/a/b.rs"), Some(2));
        assert_eq!(
            dir.matches("internal"),
            None,
            "a file named like the directory"
        );
        assert_eq!(dir.matches("src/internal.rs"), None);
        let pem = Glob::new("*.pem");
        assert_eq!(pem.matches("certs/secret.pem"), Some(2));
        assert_eq!(pem.matches("secret.pem.txt"), None);
        let anchored = Glob::new("/data/*.bin");
        assert_eq!(anchored.matches("data/x.bin"), Some(2));
        assert_eq!(anchored.matches("src/data/x.bin"), None);
        let deep = Glob::new("tests/**/fixtures/");
        assert_eq!(deep.matches("tests/fixtures/a"), Some(2));
        assert_eq!(deep.matches("tests/a/b/fixtures/c"), Some(4));
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(config::parse_size("5MB"), Ok(5_000_000));
        assert_eq!(config::parse_size("1.5 MiB"), Ok(1_572_864));
        assert_eq!(config::parse_size("500kB"), Ok(500_000));
        assert_eq!(config::parse_size("1024"), Ok(1024));
        assert!(config::parse_size("5 parsecs").is_err());
        assert!(config::parse_size("MB").is_err());
        assert_eq!(human(6_000_000), "6 MB");
        assert_eq!(human(6_300_000), "6.3 MB");
        assert_eq!(human(999), "999 B");
        assert_eq!(human(DEFAULT_MAX_FILE_SIZE), "5 MB");
    }

    #[test]
    fn offenders_are_grouped_and_listed_per_artifact() {
        let rules = Rules {
            globs: DEFAULT_EXCLUDE.iter().map(|g| Glob::new(g)).collect(),
            max_file_size: 100,
            configured: false,
        };
        let artifact = Artifact {
            name: "a-1.0.0.crate".into(),
            files: vec![
                (".env".into(), 3),
                ("internal/a.md".into(), 1),
                ("internal/b.md".into(), 1),
                ("src/lib.rs".into(), 10),
                ("big.bin".into(), 1000),
            ],
        };
        let fixes = Fixes {
            contents: "c".into(),
            size: "s".into(),
        };
        let [contents, size] = content_checks("p/a", &[artifact], &rules, &fixes);
        assert!(!contents.ok);
        assert_eq!(
            contents.detail,
            "files matching the exclude globs: a-1.0.0.crate: .env (matches `.env*`), \
             internal/ (2 files, matches `internal/`)"
        );
        assert!(!size.ok);
        assert_eq!(
            size.detail,
            "files over the 100 B limit: a-1.0.0.crate: big.bin (1 kB)"
        );
    }

    #[test]
    fn build_system_defaults_and_hints() {
        let b = BuildSystem::of("[project]\nname = \"x\"\n");
        assert_eq!(b.backend, "setuptools.build_meta:__legacy__");
        assert_eq!(b.requires, ["setuptools>=40.8.0"]);
        let m = BuildSystem::of(
            "[build-system]\nrequires = [\"maturin>=1,<2\"]\nbuild-backend = \"maturin\"\n",
        );
        assert!(m.is_maturin());
        assert!(m.exclude_hint().contains("tool.maturin"));
        assert!(
            !BuildSystem::of("[build-system]\nbuild-backend = \"hatchling.build\"\n").is_maturin()
        );
    }

    #[test]
    fn tail_prefers_the_error() {
        let out = b"   Packaging a\nwarning: x\nerror: failed to prepare local package\n\nCaused by:\n  no matching package\n";
        assert_eq!(
            tail(out),
            "error: failed to prepare local package | Caused by: | no matching package"
        );
        assert_eq!(
            strip_top(vec![("a-1/x".into(), 1), ("a-1/y/z".into(), 2)]),
            vec![("x".to_string(), 1), ("y/z".to_string(), 2)]
        );
    }
}
