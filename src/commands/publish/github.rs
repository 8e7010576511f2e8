//! GitHub releases: one per product tag and one for the umbrella tag, created or updated through
//! the REST API ([`crate::forge`]), with the changelog section of VERSION as notes, the product's
//! `assets` attached (an asset already there with the same bytes is skipped), and prereleases
//! marked. Off with `[release] github-release = false`.

use std::collections::BTreeSet;

use anyhow::Result;

use super::runner::Runner;
use super::{
    build_assets, Action, Context, ProductPlan, PublishPlan, Record, RecordItem, ReleaseItem,
    TagItem, REMOTE,
};
use crate::config::Ecosystem;
use crate::forge::{GitHub, Outcome, ReleaseSpec};
use crate::git::Git;
use crate::report::Problem;

/// The GitHub repository releases go to.
fn repository(cx: &Context<'_>, git: &Git) -> Result<Option<String>> {
    if let Some(r) = &cx.repo.config.config.release.github_repository {
        return Ok(Some(r.get_ref().clone()));
    }
    if let Some(r) = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|r| !r.is_empty())
    {
        return Ok(Some(r));
    }
    Ok(git
        .remote_url(REMOTE)?
        .and_then(|url| crate::git::github_repository_of(&url)))
}

/// The changelog section of `version` for a product (its own changelog, else the release's).
fn notes(cx: &Context<'_>, product: Option<&str>, version: &str) -> String {
    let config = &cx.repo.config.config;
    let own = product.and_then(|name| {
        config
            .products
            .iter()
            .map(|p| p.get_ref())
            .find(|p| p.name.get_ref() == name)
            .and_then(|p| p.changelog.as_ref().map(|c| c.get_ref().clone()))
    });
    let file = own.or_else(|| {
        config
            .release
            .changelog
            .as_ref()
            .map(|c| c.get_ref().clone())
    });
    file.and_then(|f| std::fs::read_to_string(cx.repo.root.join(f)).ok())
        .and_then(|text| {
            crate::edit::changelog::section(&text, version).map(|(_, body)| body.trim().to_string())
        })
        .filter(|body| !body.is_empty())
        .unwrap_or_else(|| format!("Release {version}."))
}

pub(super) fn plan(
    cx: &Context<'_>,
    git: &Git,
    tags: &[TagItem],
    products: &[ProductPlan],
    execute: bool,
    blockers: &mut Vec<Problem>,
) -> Result<(Vec<ReleaseItem>, Option<String>)> {
    if !cx.repo.config.config.release.github_release || tags.is_empty() {
        return Ok((Vec::new(), None));
    }
    let version = cx.version.to_string();
    let Some(repository) = repository(cx, git)? else {
        blockers.push(
            Problem::new("cannot tell which GitHub repository the releases belong to")
                .hint("set [release] github-repository = \"owner/name\" (or GITHUB_REPOSITORY), or [release] github-release = false"),
        );
        return Ok((Vec::new(), None));
    };
    let github = GitHub::from_env(&repository)?;
    if github.is_none() && execute {
        blockers.push(
            Problem::new("GITHUB_TOKEN is not set, so the GitHub releases cannot be made")
                .hint("set GITHUB_TOKEN (in Actions: `permissions: contents: write` on the job), or [release] github-release = false in shiplane.toml"),
        );
    }
    let mut releases = Vec::new();
    for tag in tags {
        let product = tag.product.as_deref();
        let assets = product
            .and_then(|name| products.iter().find(|p| p.name == name))
            .map(|p| p.assets.clone())
            .unwrap_or_default();
        let action = match &github {
            None => Action::Publish,
            Some(github) => match github.release_by_tag(&tag.name) {
                Ok(Some(_)) => Action::Skip(
                    "release exists (notes and assets are checked when publishing)".to_string(),
                ),
                Ok(None) => Action::Publish,
                Err(e) => {
                    let message = cx.secrets.redact(&format!("{e:#}"));
                    blockers.push(
                        Problem::new(format!(
                            "cannot read the GitHub release of {}: {message}",
                            tag.name
                        ))
                        .hint("check GITHUB_TOKEN, GITHUB_API_URL and the repository name"),
                    );
                    Action::Blocked(message)
                }
            },
        };
        releases.push(ReleaseItem {
            tag: tag.name.clone(),
            product: tag.product.clone(),
            title: match product {
                Some(name) => format!("{name} {version}"),
                None => tag.name.clone(),
            },
            prerelease: !cx.version.pre.is_empty(),
            action,
            assets,
            notes: notes(cx, product, &version),
        });
    }
    Ok((releases, Some(repository)))
}

pub(super) fn execute(
    cx: &Context<'_>,
    plan: &PublishPlan,
    failed_products: &BTreeSet<String>,
    record: &mut Record,
) {
    let Some(repository) = &plan.github_repository else {
        return;
    };
    if plan.releases.is_empty() {
        return;
    }
    let github = match GitHub::from_env(repository) {
        Ok(Some(github)) => github,
        Ok(None) => return,
        Err(e) => {
            let mut item = RecordItem::new("", "github-release", repository, &plan.version);
            item.action = "failed".to_string();
            item.detail = cx.secrets.redact(&format!("{e:#}"));
            record.items.push(item);
            return;
        }
    };
    for release in &plan.releases {
        let product_name = release.product.clone().unwrap_or_default();
        let mut item =
            RecordItem::new(&product_name, "github-release", &release.tag, &plan.version);
        item.registry = format!("GitHub {repository}");
        let blocked = match &release.product {
            Some(name) => failed_products
                .contains(name)
                .then(|| format!("not run: {name} failed")),
            None => (!failed_products.is_empty()).then(|| "not run: a product failed".to_string()),
        };
        if let Some(reason) = blocked {
            item.action = "not-run".to_string();
            item.detail = reason;
            record.items.push(item);
            continue;
        }
        let spec = ReleaseSpec {
            tag: release.tag.clone(),
            name: release.title.clone(),
            body: release.notes.clone(),
            prerelease: release.prerelease,
        };
        let info = match github.ensure_release(&spec) {
            Ok((info, outcome)) => {
                item.url = info.html_url.clone();
                item.action = match outcome {
                    Outcome::Created | Outcome::Updated => "published",
                    _ => "skipped",
                }
                .to_string();
                item.detail = format!("{outcome:?}").to_lowercase();
                cx.out
                    .say(format!("✓ GitHub release {} {}", release.tag, item.detail));
                record.items.push(item);
                info
            }
            Err(e) => {
                item.action = "failed".to_string();
                item.detail = cx.secrets.redact(&format!("{e:#}"));
                cx.out
                    .say(format!("✗ GitHub release {}: {}", release.tag, item.detail));
                record.items.push(item);
                continue;
            }
        };
        if release.assets.is_empty() {
            continue;
        }
        let product = release
            .product
            .as_deref()
            .and_then(|name| plan.products.iter().find(|p| p.name == name));
        // Assets already attached for every glob: nothing to build or upload.
        let complete = release.assets.iter().all(|glob| {
            let last = glob.rsplit('/').next().unwrap_or(glob);
            info.assets
                .iter()
                .any(|a| a.state == "uploaded" && crate::glob::segment_match(last, &a.name))
        });
        if complete && !assets_exist(cx, &release.assets) {
            for asset in &info.assets {
                let mut entry = RecordItem::new(&product_name, "asset", &asset.name, &plan.version);
                entry.registry = format!("GitHub release {}", release.tag);
                entry.url = asset.browser_download_url.clone();
                entry.sha256 = asset
                    .digest
                    .as_deref()
                    .and_then(|d| d.strip_prefix("sha256:"))
                    .unwrap_or_default()
                    .to_string();
                entry.action = "skipped".to_string();
                entry.detail = "already attached".to_string();
                record.items.push(entry);
            }
            continue;
        }
        if let Some(product) = product.filter(|p| {
            !matches!(p.ecosystem, Ecosystem::Python | Ecosystem::Npm) && p.build.is_some()
        }) {
            let runner = Runner {
                secrets: cx.secrets,
                out: cx.out,
                prefix: format!("[{}] ", product.name),
            };
            if let Err(e) = build_assets(cx, product, &runner) {
                let mut entry = RecordItem::new(&product_name, "asset", "build", &plan.version);
                entry.action = "failed".to_string();
                entry.detail = cx.secrets.redact(&format!("{e:#}"));
                record.items.push(entry);
                continue;
            }
        }
        for glob in &release.assets {
            let files = crate::glob::expand(&cx.repo.root, glob).unwrap_or_default();
            if files.is_empty() {
                let mut entry = RecordItem::new(&product_name, "asset", glob, &plan.version);
                entry.action = "failed".to_string();
                entry.detail = format!(
                    "`assets` glob {glob} matches no file (after the build); check the glob and the `build` command"
                );
                record.items.push(entry);
                continue;
            }
            for rel in files {
                let path = cx.repo.root.join(&rel);
                let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
                let mut entry = RecordItem::new(&product_name, "asset", &name, &plan.version);
                entry.registry = format!("GitHub release {}", release.tag);
                match github.ensure_asset(&info, &path, &name) {
                    Ok((asset, outcome)) => {
                        entry.url = asset.browser_download_url.clone();
                        entry.sha256 = crate::checksum::sha256_file(&path).unwrap_or_default();
                        entry.action = if outcome == Outcome::Uploaded {
                            "published"
                        } else {
                            "skipped"
                        }
                        .to_string();
                        cx.out.say(format!(
                            "{} asset {name} on {}",
                            if outcome == Outcome::Uploaded {
                                "✓ uploaded"
                            } else {
                                "- already has"
                            },
                            release.tag
                        ));
                    }
                    Err(e) => {
                        entry.action = "failed".to_string();
                        entry.detail = cx.secrets.redact(&format!("{e:#}"));
                    }
                }
                record.items.push(entry);
            }
        }
    }
}

/// Whether every glob already matches a local file (then they are checked against the release).
fn assets_exist(cx: &Context<'_>, globs: &[String]) -> bool {
    globs
        .iter()
        .all(|g| crate::glob::expand(&cx.repo.root, g).is_ok_and(|files| !files.is_empty()))
}
