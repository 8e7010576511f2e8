//! The `registries` group: VERSION is not on the registry yet, for every package a release
//! publishes (each publishable crate of a cargo product, each python and npm product), asked
//! concurrently in one [`probe_all`]. A registry that cannot be read is a failed check, never
//! "not published".

use super::{command_name, Context};
use crate::config::Ecosystem;
use crate::registry::{self, probe_all, Endpoint, HttpSettings, ProbeRequest, Prober};
use crate::repo::{npm_package_name, python_project_name, Product, Repo};
use crate::report::Check;
use crate::version;

/// How many probes run at once.
const PARALLEL: usize = 8;

/// One package to ask about.
struct Target {
    subject: String,
    name: String,
    /// VERSION as this registry spells it.
    version: String,
    label: String,
}

pub(super) fn checks(cx: &Context<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut requests: Vec<ProbeRequest> = Vec::new();
    for product in &cx.repo.products {
        let packages = match packages(cx.repo, product, cx.version) {
            Ok(packages) => packages,
            Err(check) => {
                checks.push(*check);
                continue;
            }
        };
        for (name, version, endpoint) in packages {
            let subject = if name == product.name {
                format!("{name}@{version}")
            } else {
                format!("{}/{name}@{version}", product.name)
            };
            targets.push(Target {
                subject,
                name: name.clone(),
                version: version.clone(),
                label: endpoint.to_string(),
            });
            requests.push(ProbeRequest::exists(endpoint, name, version));
        }
    }
    if requests.is_empty() {
        return checks;
    }
    let prober = Prober::new(cx.repo.root.clone(), HttpSettings::default());
    let answers = probe_all(&prober, &requests, PARALLEL);
    let published = answers
        .iter()
        .filter(|a| matches!(a, Ok(a) if a.exists == Some(true)))
        .count();
    let all_published = published == answers.len();
    for (target, answer) in targets.iter().zip(answers) {
        let Target {
            subject,
            name,
            version,
            label,
        } = target;
        checks.push(match answer {
            Ok(answer) if answer.exists == Some(true) => Check::fail(
                subject,
                "unpublished",
                format!("{name} {version} is already on {label}"),
                if all_published {
                    format!(
                        "already published: resume with `publish` (`{} publish`) to finish the release, or release a new version",
                        command_name()
                    )
                } else {
                    format!(
                        "{published} of {} packages are already published: resume the interrupted release with `publish` (`{} publish`), or release a new version",
                        targets.len(),
                        command_name()
                    )
                },
            ),
            Ok(_) => Check::pass(
                subject,
                "unpublished",
                format!("not on {label} yet"),
            ),
            Err(e) => Check::fail(
                subject,
                "unpublished",
                format!("cannot read {label}: {e}"),
                "check the registry endpoint ([registry.NAME] in shiplane.toml) and the network; a read error is not \"absent\"",
            ),
        });
    }
    checks
}

/// The packages `product` publishes: (name, VERSION as its registry spells it, endpoint). A
/// problem that stops the product from being probed comes back as its failed check.
#[allow(clippy::type_complexity)]
fn packages(
    repo: &Repo,
    product: &Product,
    version: &semver::Version,
) -> Result<Vec<(String, String, Endpoint)>, Box<Check>> {
    let manifest = |default: &str| {
        repo.root
            .join(product.manifest.as_deref().unwrap_or(default))
    };
    let (names, spelled): (Vec<String>, String) = match product.ecosystem {
        Ecosystem::Cargo => (
            product
                .packages
                .iter()
                .filter(|p| p.publish && !p.excluded)
                .map(|p| p.name.clone())
                .collect(),
            version.to_string(),
        ),
        Ecosystem::Python => {
            let name = python_project_name(&manifest("pyproject.toml"))
                .unwrap_or_else(|| product.name.clone());
            let pep440 = version::to_pep440(version).map_err(|e| {
                Box::new(Check::fail(
                    &product.name,
                    "unpublished",
                    e,
                    "use a prerelease Python can spell: alpha.N, beta.N, rc.N or dev.N",
                ))
            })?;
            (vec![name], pep440)
        }
        Ecosystem::Npm => (
            vec![
                npm_package_name(&manifest("package.json")).unwrap_or_else(|| product.name.clone())
            ],
            version.to_string(),
        ),
        Ecosystem::Go | Ecosystem::Assets => return Ok(Vec::new()),
    };
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // npm reads per-scope registries (`@scope:registry`); a cargo product's crates share one.
    let scoped = names
        .first()
        .filter(|_| product.ecosystem == Ecosystem::Npm)
        .map(String::as_str);
    let endpoint = registry::endpoint_for_package(
        &repo.root,
        &repo.config.config,
        product.registry.as_deref(),
        product.ecosystem,
        scoped,
    )
    .map_err(|e| {
        Box::new(Check::fail(
            &product.name,
            "unpublished",
            format!("cannot tell which registry to ask: {e:#}"),
            format!(
                "name the registry: `registry = \"NAME\"` on the product and a [registry.NAME] table ({} index)",
                product.ecosystem
            ),
        ))
    })?;
    Ok(names
        .into_iter()
        .map(|name| (name, spelled.clone(), endpoint.clone()))
        .collect())
}
