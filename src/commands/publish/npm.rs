//! npm products: the package is packed once (`npm pack`, so the record has the tarball's
//! SHA-256) and that tarball is published with `npm publish` under `latest`, or for a prerelease
//! under the product's `prerelease-tag` (default `next`). Trusted publishing is the npm CLI's own
//! (11.5.1 and later), so `publish` only checks the CLI is new enough when the job could use it.

use std::process::Command;

use anyhow::{Context as _, Result};

use super::cargo::registry_label;
use super::runner::Runner;
use super::{
    await_visible, build_assets, describe, product_dir, Action, Context, Item, ItemKind,
    ProductPlan, RecordItem, Target,
};
use crate::registry::Endpoint;
use crate::repo::{npm_package_name, Product, Repo};
use crate::report::Problem;

/// The package's name from its package.json.
pub(super) fn package_name(repo: &Repo, product: &Product) -> Option<String> {
    product
        .manifest
        .as_deref()
        .and_then(|m| npm_package_name(&repo.root.join(m)))
}

pub(super) fn plan(
    cx: &Context<'_>,
    product: &Product,
    plan: &ProductPlan,
    blockers: &mut Vec<Problem>,
) -> Vec<Item> {
    let name = package_name(cx.repo, product).unwrap_or_else(|| product.name.clone());
    let version = cx.version.to_string();
    let Some(endpoint) = plan.endpoint.clone() else {
        return Vec::new();
    };
    let answer = cx
        .prober
        .probe(endpoint.clone())
        .exists(&name, &version)
        .map_err(|e| anyhow::anyhow!("cannot read {endpoint}: {e}"));
    let action = match answer {
        Ok(true) => Action::Skip(format!("already on {}", registry_label(plan))),
        Ok(false) => Action::Publish,
        Err(e) => {
            blockers.push(Problem::new(format!("{name} {version}: {e:#}")).hint(
                "check the registry endpoint and the network; a read error is not \"absent\"",
            ));
            Action::Blocked(format!("cannot read the registry: {e:#}"))
        }
    };
    if action == Action::Publish && cx.id_tokens.is_some() && !has_npm_token() {
        if let Err(problem) = check_npm_oidc() {
            blockers.push(problem);
        }
    }
    vec![Item {
        kind: ItemKind::NpmPackage,
        name,
        version,
        action,
        present: Vec::new(),
        tag: None,
    }]
}

fn has_npm_token() -> bool {
    ["NODE_AUTH_TOKEN", "NPM_TOKEN"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// The npm CLI must do trusted publishing itself: 11.5.1 or later.
fn check_npm_oidc() -> Result<(), Problem> {
    let output = Command::new("npm").arg("--version").output();
    let text = match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => {
            return Err(Problem::new("npm is not installed, so it cannot publish")
                .hint("install Node.js with npm 11.5.1 or later"))
        }
    };
    match crate::oidc::npm_supports_oidc(&text) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Problem::new(format!(
            "npm {} cannot do trusted publishing (npm {} or later can), and no NODE_AUTH_TOKEN is set",
            text.trim(),
            crate::oidc::NPM_OIDC_MIN
        ))
        .hint(format!(
            "update npm in the job (`npm install -g npm@{}` or later), or set NODE_AUTH_TOKEN",
            crate::oidc::NPM_OIDC_MIN
        ))),
        Err(e) => Err(Problem::new(format!("cannot read npm's version: {e}"))
            .hint("check that `npm --version` works")),
    }
}

pub(super) fn execute(
    cx: &Context<'_>,
    product: &ProductPlan,
    target: &Target,
    runner: &Runner<'_>,
) -> Result<Vec<RecordItem>> {
    let (endpoint, label) = (&target.endpoint, &target.label);
    let mut items = Vec::new();
    for item in &product.items {
        let mut entry = RecordItem::new(&product.name, "npm-package", &item.name, &item.version);
        entry.registry = label.clone();
        // The plan read the registry just now; a version published since is caught by npm's
        // conflict answer below.
        if matches!(item.action, Action::Skip(_)) {
            entry.action = "skipped".to_string();
            entry.detail = format!("already on {label}");
            describe(cx, target, &mut entry);
            runner.out.say(format!(
                "{}- {} {} already on {label}",
                runner.prefix, item.name, item.version
            ));
            items.push(entry);
            continue;
        }
        let out_dir = build_assets(cx, product, runner)?;
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("creating {}", out_dir.display()))?;
        let dir = product_dir(cx.repo, product);
        let mut pack = npm(endpoint, &dir);
        pack.args(["pack", "--json", "--pack-destination"])
            .arg(&out_dir);
        let packed = runner.check(&mut pack)?;
        let filename = tarball_name(&packed.stdout)
            .with_context(|| format!("reading `npm pack --json` output:\n{}", packed.tail(10)))?;
        let tarball = out_dir.join(&filename);
        entry.sha256 = crate::checksum::sha256_file(&tarball)?;
        let dist_tag = if cx.version.pre.is_empty() {
            "latest".to_string()
        } else {
            prerelease_tag(cx, &product.name)
        };
        let mut publish = npm(endpoint, &dir);
        publish
            .arg("publish")
            .arg(&tarball)
            .args(["--tag", &dist_tag]);
        let started = std::time::Instant::now();
        let ran = runner.run(&mut publish)?;
        let output = ran.output();
        let conflict = output.contains("EPUBLISHCONFLICT")
            || output.contains("cannot publish over")
            || output.contains("previously published");
        if !ran.success && !conflict {
            entry.action = "failed".to_string();
            entry.detail = format!("`npm publish` failed:\n{}", ran.tail(20));
            runner.out.say(format!(
                "{}✗ {} {}: npm publish failed",
                runner.prefix, item.name, item.version
            ));
            items.push(entry);
            continue;
        }
        if !await_visible(cx, target, &mut entry)? {
            items.push(entry);
            continue;
        }
        entry.action = if conflict { "skipped" } else { "published" }.to_string();
        entry.detail = format!("dist-tag {dist_tag}");
        runner.out.say(format!(
            "{}✓ {} {} published to {label} under `{dist_tag}` ({:.1} s)",
            runner.prefix,
            item.name,
            item.version,
            started.elapsed().as_secs_f64()
        ));
        items.push(entry);
    }
    Ok(items)
}

fn prerelease_tag(cx: &Context<'_>, product: &str) -> String {
    cx.repo
        .config
        .config
        .products
        .iter()
        .map(|p| p.get_ref())
        .find(|p| p.name.get_ref() == product)
        .and_then(|p| p.prerelease_tag.as_ref().map(|t| t.get_ref().clone()))
        .unwrap_or_else(|| "next".to_string())
}

/// `npm` in `dir`, at the registry of the endpoint when it is a URL (else npm's own config).
fn npm(endpoint: &Endpoint, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir)
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false")
        .env("NO_COLOR", "1");
    if let Endpoint::Npm(url) = endpoint {
        cmd.args(["--registry", url]);
    }
    cmd
}

/// The tarball's file name from `npm pack --json`.
fn tarball_name(stdout: &str) -> Result<String> {
    // npm may print lifecycle script output before the JSON array.
    let start = stdout.find('[').context("no JSON array")?;
    let value: serde_json::Value = serde_json::from_str(stdout[start..].trim())?;
    value
        .get(0)
        .and_then(|v| v.get("filename"))
        .and_then(|v| v.as_str())
        .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
        .context("no `filename` in the first entry")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tarball_name_from_pack_json() {
        let out = "> prepack\n[\n  {\"id\": \"@polyglot/engine@1.3.0\", \"filename\": \"polyglot-engine-1.3.0.tgz\"}\n]\n";
        assert_eq!(
            super::tarball_name(out).unwrap(),
            "polyglot-engine-1.3.0.tgz"
        );
        assert!(super::tarball_name("nothing").is_err());
    }
}
