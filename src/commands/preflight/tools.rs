//! The `tools` group, for cargo products: `cargo semver-checks` against the last release tag,
//! `cargo deny check` (with a deny.toml) and `cargo audit` (with a Cargo.lock), each only when the
//! tool is on PATH. A tool that is not installed, or has nothing to work on, gives a passing
//! "skipped" line, never a failure.

use std::path::{Path, PathBuf};

use xshell::{cmd, Shell};

use super::{tag_version, Context};
use crate::config::Ecosystem;
use crate::git::{self, Git};
use crate::repo::Product;
use crate::report::Check;

pub(super) fn checks(cx: &Context<'_>) -> Vec<Check> {
    let products: Vec<&Product> = cx
        .repo
        .products
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Cargo && p.manifest.is_some())
        .collect();
    if products.is_empty() {
        return Vec::new();
    }
    let installed = |tool: &str| on_path(&format!("cargo-{tool}"));
    let mut checks = Vec::new();
    for product in products {
        let manifest = product.manifest.as_deref().unwrap_or("Cargo.toml");
        for tool in ["semver-checks", "deny", "audit"] {
            let check = if !installed(tool) {
                Check::pass(
                    &product.name,
                    tool,
                    format!("cargo-{tool} is not installed (skipped)"),
                )
            } else {
                match tool {
                    "semver-checks" => semver_checks(cx, product, manifest),
                    "deny" => deny(cx, product, manifest),
                    _ => audit(cx, product, manifest),
                }
            };
            checks.push(check);
        }
    }
    checks
}

/// Whether an executable `name` is in a directory of PATH.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name))))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

/// Cargo, as the `CARGO` environment variable names it (set under `cargo xtask`).
fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// Run a tool; its outcome as a check.
fn run_tool(
    cx: &Context<'_>,
    product: &Product,
    tool: &str,
    build: impl FnOnce(&Shell) -> xshell::Cmd<'_>,
    passed: String,
    fix: String,
) -> Check {
    let sh = match Shell::new() {
        Ok(sh) => sh,
        Err(e) => {
            return Check::fail(
                &product.name,
                tool,
                format!("cannot start a shell: {e}"),
                fix,
            )
        }
    };
    sh.change_dir(&cx.repo.root);
    let command = build(&sh);
    let shown = command.to_string();
    match command.quiet().ignore_status().output() {
        Ok(o) if o.status.success() => Check::pass(&product.name, tool, passed),
        Ok(o) => Check::fail(
            &product.name,
            tool,
            format!(
                "`{shown}` failed ({}): {}",
                o.status,
                tail(&[o.stderr, o.stdout].concat())
            ),
            fix,
        ),
        Err(e) => Check::fail(
            &product.name,
            tool,
            format!("cannot run `{shown}`: {e}"),
            fix,
        ),
    }
}

/// The last lines of a command's output.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(6)..].join(" | ")
}

/// The product's latest release tag below VERSION: the baseline of the API comparison.
fn baseline_tag(cx: &Context<'_>, product: &Product) -> Option<String> {
    let template = product.tag.as_deref().or(cx
        .repo
        .config
        .config
        .release
        .tag
        .as_ref()
        .map(|t| t.get_ref().as_str()))?;
    let tags = Git::new(&cx.repo.root).ok()?.tags().ok()?;
    tags.into_iter()
        .filter_map(|t| {
            let v = tag_version(git::version_in_tag(template, &t.name)?)?;
            (v.cmp_precedence(cx.version).is_lt()).then_some((v, t.name))
        })
        .max_by(|a, b| a.0.cmp_precedence(&b.0))
        .map(|(_, name)| name)
}

fn semver_checks(cx: &Context<'_>, product: &Product, manifest: &str) -> Check {
    let Some(tag) = baseline_tag(cx, product) else {
        return Check::pass(
            &product.name,
            "semver-checks",
            "no earlier release tag to compare the API with (skipped)",
        );
    };
    let cargo = cargo();
    let manifest_path = cx.repo.root.join(manifest);
    let excluded: Vec<String> = product
        .packages
        .iter()
        .filter(|p| p.excluded)
        .flat_map(|p| ["--exclude".to_string(), p.name.clone()])
        .collect();
    let workspace = product.packages.len() > 1;
    let workspace_arg: &[&str] = if workspace { &["--workspace"] } else { &[] };
    let passed = format!("no breaking API change since {tag}");
    run_tool(
        cx,
        product,
        "semver-checks",
        |sh| {
            cmd!(
                sh,
                "{cargo} semver-checks --manifest-path {manifest_path} {workspace_arg...} {excluded...} --baseline-rev {tag}"
            )
        },
        passed,
        format!(
            "a breaking change needs a major version (or, below 1.0.0, a minor one); see `cargo semver-checks --manifest-path {manifest}` for the details"
        ),
    )
}

fn deny(cx: &Context<'_>, product: &Product, manifest: &str) -> Check {
    let dir = cx
        .repo
        .root
        .join(manifest)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cx.repo.root.clone());
    if !dir.join("deny.toml").is_file() && !cx.repo.root.join("deny.toml").is_file() {
        return Check::pass(
            &product.name,
            "deny",
            "no deny.toml: not configured (skipped)",
        );
    }
    let cargo = cargo();
    let manifest_path = cx.repo.root.join(manifest);
    run_tool(
        cx,
        product,
        "deny",
        |sh| cmd!(sh, "{cargo} deny --manifest-path {manifest_path} check"),
        "cargo deny check passes".into(),
        format!("fix what `cargo deny --manifest-path {manifest} check` reports"),
    )
}

fn audit(cx: &Context<'_>, product: &Product, manifest: &str) -> Check {
    let lock = cx
        .repo
        .root
        .join(manifest)
        .parent()
        .map(|d| d.join("Cargo.lock"))
        .unwrap_or_else(|| cx.repo.root.join("Cargo.lock"));
    if !lock.is_file() {
        return Check::pass(&product.name, "audit", "no Cargo.lock to audit (skipped)");
    }
    let cargo = cargo();
    let no_fetch: &[&str] = if cx.fetch { &[] } else { &["--no-fetch"] };
    run_tool(
        cx,
        product,
        "audit",
        |sh| cmd!(sh, "{cargo} audit {no_fetch...} --file {lock}"),
        "no known vulnerability in Cargo.lock".into(),
        "update the affected dependencies (`cargo update -p NAME`), or record an exception in .cargo/audit.toml".into(),
    )
}
