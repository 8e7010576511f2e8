//! Python products: the wheels and sdist built by the product's `build` command (default
//! `python3 -m build`), uploaded with twine one file at a time, each file skipped when the index
//! already has it — so a re-run after a failed upload sends only what is missing. A version whose
//! sdist and a wheel are both on the index is skipped without building.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};

use super::cargo::registry_label;
use super::runner::Runner;
use super::{
    build_assets, product_dir, wait_until, Action, Context, Credentials, Item, ItemKind,
    ProductPlan, RecordItem, Target,
};
use crate::registry::{Endpoint, PublishedFile};
use crate::repo::{python_project_name, Product};
use crate::report::Problem;

/// The build command of a python product without `build`.
pub(super) fn default_build() -> Vec<String> {
    [
        "python3", "-m", "build", "--sdist", "--wheel", "--outdir", "{out}", ".",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn project_name(cx: &Context<'_>, product: &Product) -> String {
    product
        .manifest
        .as_deref()
        .and_then(|m| python_project_name(&cx.repo.root.join(m)))
        .unwrap_or_else(|| product.name.clone())
}

fn is_sdist(name: &str) -> bool {
    name.ends_with(".tar.gz") || name.ends_with(".zip")
}

fn is_wheel(name: &str) -> bool {
    name.ends_with(".whl")
}

pub(super) fn plan(
    cx: &Context<'_>,
    product: &Product,
    plan: &ProductPlan,
    blockers: &mut Vec<Problem>,
) -> Vec<Item> {
    let name = project_name(cx, product);
    let version = match crate::version::to_pep440(cx.version) {
        Ok(v) => v,
        Err(e) => {
            blockers.push(
                Problem::new(format!("{}: {e}", product.name))
                    .hint("use a prerelease Python can spell: alpha.N, beta.N, rc.N or dev.N"),
            );
            return Vec::new();
        }
    };
    let Some(endpoint) = plan.endpoint.clone() else {
        return Vec::new();
    };
    let label = registry_label(plan);
    let (action, present) = match files_on_index(cx, &endpoint, &name, &version) {
        Ok(files) => {
            let names: Vec<String> = files.iter().map(|f| f.filename.clone()).collect();
            if names.iter().any(|n| is_sdist(n)) && names.iter().any(|n| is_wheel(n)) {
                (
                    Action::Skip(format!("already on {label} ({})", names.join(", "))),
                    names,
                )
            } else {
                (Action::Publish, names)
            }
        }
        Err(e) => {
            blockers.push(
                Problem::new(format!("{name} {version}: cannot read {endpoint}: {e:#}")).hint(
                    "check the registry endpoint and the network; a read error is not \"absent\"",
                ),
            );
            (
                Action::Blocked(format!("cannot read the registry: {e:#}")),
                Vec::new(),
            )
        }
    };
    vec![Item {
        kind: ItemKind::PythonFiles,
        name,
        version,
        action,
        present,
        tag: None,
    }]
}

/// The files of `version` on the index (none when the project or version is not there).
fn files_on_index(
    cx: &Context<'_>,
    endpoint: &Endpoint,
    name: &str,
    version: &str,
) -> Result<Vec<PublishedFile>> {
    let versions = cx
        .prober
        .probe(endpoint.clone())
        .versions(name)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(versions
        .and_then(|v| v.find(version).map(|p| p.files.clone()))
        .unwrap_or_default())
}

pub(super) fn execute(
    cx: &Context<'_>,
    product: &ProductPlan,
    target: &Target,
    credentials: &Credentials,
    runner: &Runner<'_>,
) -> Result<Vec<RecordItem>> {
    let (endpoint, label) = (&target.endpoint, &target.label);
    let mut items = Vec::new();
    for item in &product.items {
        if matches!(item.action, Action::Skip(_)) {
            for file in files_on_index(cx, endpoint, &item.name, &item.version)? {
                let mut entry = file_entry(product, item, &file.filename, label);
                entry.action = "skipped".to_string();
                entry.detail = format!("already on {label}");
                entry.url = file.url.clone();
                entry.sha256 = file.hashes.get("sha256").cloned().unwrap_or_default();
                items.push(entry);
            }
            runner.out.say(format!(
                "{}- {} {} already on {label}",
                runner.prefix, item.name, item.version
            ));
            continue;
        }
        let mut with_build = product.clone();
        if with_build.build.is_none() {
            with_build.build = Some(default_build());
        }
        let out_dir = build_assets(cx, &with_build, runner)?;
        let built = built_files(&out_dir)?;
        if built.is_empty() {
            anyhow::bail!(
                "{}: the build made no wheel or sdist in {} (check the `build` command writes to {{out}})",
                product.name,
                out_dir.display()
            );
        }
        let has_long_lived = std::env::var_os("TWINE_PASSWORD").is_some_and(|v| !v.is_empty());
        let mut token: Option<String> = None;
        // What the index has now (read once); each upload is then waited for on its own.
        let on_index = files_on_index(cx, endpoint, &item.name, &item.version)?;
        for path in built {
            let filename = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut entry = file_entry(product, item, &filename, label);
            entry.sha256 = crate::checksum::sha256_file(&path)?;
            if let Some(file) = on_index.iter().find(|f| f.filename == filename) {
                entry.action = "skipped".to_string();
                entry.url = file.url.clone();
                let remote = file.hashes.get("sha256").cloned().unwrap_or_default();
                entry.detail = if !remote.is_empty() && remote != entry.sha256 {
                    format!("already on {label}, with other bytes (sha256 {remote}); the registry's file stays")
                } else {
                    format!("already on {label}")
                };
                if !remote.is_empty() {
                    entry.sha256 = remote;
                }
                runner
                    .out
                    .say(format!("{}- {filename} already on {label}", runner.prefix));
                items.push(entry);
                continue;
            }
            if token.is_none() {
                token = credentials.trusted_token(
                    cx,
                    product.registry_name.as_deref(),
                    has_long_lived,
                )?;
            }
            let mut cmd = twine(cx, product);
            cmd.arg(&path);
            if let Some(token) = &token {
                cmd.env("TWINE_USERNAME", "__token__")
                    .env("TWINE_PASSWORD", token);
            }
            cmd.env("TWINE_NON_INTERACTIVE", "1")
                .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
            let ran = runner.run(&mut cmd)?;
            let conflict = ran.output().contains("File already exists");
            if !ran.success && !conflict {
                entry.action = "failed".to_string();
                entry.detail = format!("`twine upload {filename}` failed:\n{}", ran.tail(20));
                runner.out.say(format!(
                    "{}✗ {filename}: twine upload failed",
                    runner.prefix
                ));
                items.push(entry);
                return Ok(items);
            }
            let mut listed = None;
            wait_until(cx.index_timeout, || {
                listed = files_on_index(cx, endpoint, &item.name, &item.version)?
                    .into_iter()
                    .find(|f| f.filename == filename);
                Ok(listed.is_some())
            })?;
            let Some(file) = listed else {
                entry.action = "failed".to_string();
                entry.detail = format!(
                    "uploaded, but {label} did not list {filename} within {} s; run `publish --execute` again once it does",
                    cx.index_timeout.as_secs()
                );
                items.push(entry);
                return Ok(items);
            };
            entry.url = file.url;
            entry.action = if conflict { "skipped" } else { "published" }.to_string();
            runner.out.say(format!(
                "{}✓ {filename} {} to {label}",
                runner.prefix,
                if conflict { "already" } else { "published" }
            ));
            items.push(entry);
        }
    }
    Ok(items)
}

fn file_entry(product: &ProductPlan, item: &Item, filename: &str, label: &str) -> RecordItem {
    let kind = if is_wheel(filename) { "wheel" } else { "sdist" };
    let mut entry = RecordItem::new(&product.name, kind, filename, &item.version);
    entry.registry = label.to_string();
    entry
}

/// Wheels first (an index shows a version once a file is there; installers prefer wheels), then
/// sdists, each sorted by name.
fn built_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| is_wheel(n) || is_sdist(n))
        })
        .collect();
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (!is_wheel(&name), name)
    });
    Ok(files)
}

/// `twine upload` (the `twine` on PATH, else `python3 -m twine`) to the registry's `upload` URL,
/// or twine's own configuration when the product names no registry.
fn twine(cx: &Context<'_>, product: &ProductPlan) -> Command {
    let mut cmd = if on_path("twine") {
        Command::new("twine")
    } else {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "twine"]);
        cmd
    };
    cmd.args(["upload", "--non-interactive", "--disable-progress-bar"]);
    let upload = product
        .registry_name
        .as_deref()
        .and_then(|name| cx.repo.config.config.registries.get(name))
        .and_then(|r| r.get_ref().upload.as_ref().map(|u| u.get_ref().clone()));
    if let Some(upload) = upload {
        cmd.args(["--repository-url", &upload]);
    }
    cmd.current_dir(product_dir(cx.repo, product));
    cmd
}

pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
