//! Cargo products: each publishable workspace member (not `publish = false`, not in `exclude`),
//! in dependency order (normal and build dependencies; dev-dependencies do not order publishing),
//! published with cargo against the product's registry. After each crate, `publish` waits —
//! bounded by `[release] index-timeout` — until the index shows it, so the next crate's
//! dependencies resolve. A crate already on the registry is skipped; cargo answering that it
//! already exists (another run got there first) counts as done.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use anyhow::Result;

use super::runner::Runner;
use super::{
    await_visible, describe, Action, Context, Credentials, Item, ItemKind, ProductPlan, RecordItem,
    Target,
};
use crate::registry::cargo::cargo_registry_of;
use crate::registry::{probe_all, ProbeRequest};
use crate::repo::{CargoPackage, Product};
use crate::report::Problem;

/// How many registry reads run at once while planning.
const PARALLEL: usize = 8;

pub(super) fn plan(
    cx: &Context<'_>,
    product: &Product,
    plan: &ProductPlan,
    blockers: &mut Vec<Problem>,
) -> Vec<Item> {
    let publishable: Vec<&CargoPackage> = product
        .packages
        .iter()
        .filter(|p| p.publish && !p.excluded)
        .collect();
    let order = match dependency_order(&publishable) {
        Ok(order) => order,
        Err(cycle) => {
            blockers.push(
                Problem::new(format!(
                    "{}: the crates depend on each other in a cycle: {}",
                    product.name,
                    cycle.join(" → ")
                ))
                .hint(
                    "break the cycle (a dev-dependency does not count), or `exclude` one of them",
                ),
            );
            return Vec::new();
        }
    };
    let Some(endpoint) = plan.endpoint.clone() else {
        return Vec::new();
    };
    let version = cx.version.to_string();
    let requests: Vec<ProbeRequest> = order
        .iter()
        .map(|name| ProbeRequest::exists(endpoint.clone(), name.clone(), version.clone()))
        .collect();
    let answers = probe_all(&cx.prober, &requests, PARALLEL);
    order
        .into_iter()
        .zip(answers)
        .map(|(name, answer)| {
            let action = match answer {
                Ok(a) if a.exists == Some(true) => {
                    Action::Skip(format!("already on {}", registry_label(plan)))
                }
                Ok(_) => Action::Publish,
                Err(e) => {
                    blockers.push(
                        Problem::new(format!("{name} {version}: cannot read {endpoint}: {e}"))
                            .hint("check the registry endpoint and the network; a read error is not \"absent\""),
                    );
                    Action::Blocked(format!("cannot read the registry: {e}"))
                }
            };
            Item {
                kind: ItemKind::Crate,
                name,
                version: version.clone(),
                action,
                present: Vec::new(),
                tag: None,
            }
        })
        .collect()
}

/// The registry's short name for messages: `[registry.NAME]`'s NAME, else the endpoint.
pub(super) fn registry_label(plan: &ProductPlan) -> String {
    plan.registry_name.clone().unwrap_or_else(|| {
        plan.endpoint
            .as_ref()
            .map_or_else(|| plan.registry.clone(), ToString::to_string)
    })
}

/// Package names in an order where every crate comes after the members it depends on; ties in
/// manifest order. A cycle comes back as `Err(path)`.
pub(crate) fn dependency_order(packages: &[&CargoPackage]) -> Result<Vec<String>, Vec<String>> {
    let names: BTreeSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let deps: BTreeMap<&str, Vec<&str>> = packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.depends_on
                    .iter()
                    .map(String::as_str)
                    .filter(|d| names.contains(d) && *d != p.name)
                    .collect(),
            )
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < packages.len() {
        let next = packages.iter().find(|p| {
            !done.contains(p.name.as_str())
                && deps[p.name.as_str()].iter().all(|d| done.contains(d))
        });
        match next {
            Some(p) => {
                done.insert(&p.name);
                order.push(p.name.clone());
            }
            None => return Err(find_cycle(&deps, &done)),
        }
    }
    Ok(order)
}

fn find_cycle<'a>(deps: &BTreeMap<&'a str, Vec<&'a str>>, done: &BTreeSet<&str>) -> Vec<String> {
    let Some(start) = deps.keys().find(|k| !done.contains(*k)) else {
        return Vec::new();
    };
    let mut path: Vec<&str> = vec![start];
    loop {
        let last = path[path.len() - 1];
        let Some(next) = deps[last].iter().find(|d| !done.contains(*d)) else {
            return path.iter().map(|s| s.to_string()).collect();
        };
        if let Some(i) = path.iter().position(|p| p == next) {
            let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.to_string());
            return cycle;
        }
        path.push(next);
    }
}

pub(super) fn execute(
    cx: &Context<'_>,
    product: &ProductPlan,
    target: &Target,
    credentials: &Credentials,
    runner: &Runner<'_>,
) -> Result<Vec<RecordItem>> {
    let label = &target.label;
    let registry = product
        .registry_name
        .as_deref()
        .and_then(|name| cargo_registry_of(&cx.repo.config.config, name));
    let token_var = match &registry {
        Some(registry) => registry.token_var(),
        None => "CARGO_REGISTRY_TOKEN".to_string(),
    };
    let has_long_lived = std::env::var_os(&token_var).is_some_and(|v| !v.is_empty());
    let mut token: Option<String> = None;
    let mut items = Vec::new();
    let mut failed: Option<String> = None;
    for item in &product.items {
        let mut entry = RecordItem::new(&product.name, "crate", &item.name, &item.version);
        entry.registry = label.clone();
        if let Some(reason) = &failed {
            entry.action = "not-run".to_string();
            entry.detail = format!("not run: {reason} failed before it");
            items.push(entry);
            continue;
        }
        // The plan read the registry just now; a crate published since is caught by cargo's
        // "already exists" below.
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
        if token.is_none() {
            token =
                credentials.trusted_token(cx, product.registry_name.as_deref(), has_long_lived)?;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&cx.repo.root)
            .arg("publish")
            .args(["--package", &item.name]);
        if let Some(manifest) = &product.manifest {
            cmd.arg("--manifest-path").arg(cx.repo.root.join(manifest));
        }
        if let Some(registry) = &registry {
            cmd.args(["--registry", &registry.cargo_name])
                .env(registry.index_var(), &registry.index);
        }
        if let Some(token) = &token {
            cmd.env(&token_var, token);
        }
        cmd.env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never");
        let started = std::time::Instant::now();
        let ran = runner.run(&mut cmd)?;
        let output = ran.output();
        let conflict = output.contains("already exists") || output.contains("already uploaded");
        if !ran.success && !conflict {
            entry.action = "failed".to_string();
            entry.detail = format!(
                "`cargo publish --package {}` failed:\n{}",
                item.name,
                ran.tail(20)
            );
            runner.out.say(format!(
                "{}✗ {} {}: cargo publish failed",
                runner.prefix, item.name, item.version
            ));
            failed = Some(item.name.clone());
            items.push(entry);
            continue;
        }
        // Dependants resolve only once the index shows it.
        if !await_visible(cx, target, &mut entry)? {
            failed = Some(item.name.clone());
            items.push(entry);
            continue;
        }
        if conflict && !ran.success {
            entry.action = "skipped".to_string();
            entry.detail = format!("already on {label} (cargo said so)");
        } else {
            entry.action = "published".to_string();
        }
        runner.out.say(format!(
            "{}✓ {} {} published to {label} ({:.1} s)",
            runner.prefix,
            item.name,
            item.version,
            started.elapsed().as_secs_f64()
        ));
        items.push(entry);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, deps: &[&str]) -> CargoPackage {
        CargoPackage {
            name: name.to_string(),
            manifest: format!("{name}/Cargo.toml"),
            inherits_version: false,
            publish: true,
            excluded: false,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn dependencies_first_ties_in_manifest_order() {
        let packages = [
            package("ffi", &["engine", "codegen"]),
            package("engine", &[]),
            package("codegen", &[]),
            package("cli", &["ffi", "serde"]),
        ];
        let refs: Vec<&CargoPackage> = packages.iter().collect();
        assert_eq!(
            dependency_order(&refs).unwrap(),
            ["engine", "codegen", "ffi", "cli"]
        );
    }

    #[test]
    fn cycles_are_reported_as_a_path() {
        let packages = [
            package("a", &["b"]),
            package("b", &["c"]),
            package("c", &["a"]),
            package("d", &[]),
        ];
        let refs: Vec<&CargoPackage> = packages.iter().collect();
        let cycle = dependency_order(&refs).unwrap_err();
        assert_eq!(cycle, ["a", "b", "c", "a"]);
    }
}
