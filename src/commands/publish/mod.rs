//! `publish [--execute] [--product NAME]...`: the tags and every artifact of a release, published
//! in order, idempotently.
//!
//! First a plan, built without side effects: for VERSION (from the manifests), every tag to create
//! and every artifact to publish, each marked `publish` or `skip` (already on the registry, tag
//! already at HEAD), in execution order — a cargo product's crates in dependency order, products in
//! `after` order. Anything that must stop the release (a tag for VERSION at another commit, a dirty
//! work tree, a registry that cannot be read, a missing token) is a blocker: `publish` prints the
//! plan and the blockers and exits 1 before anything leaves the machine.
//!
//! With `--execute`: tags are created at HEAD and pushed (atomically), then products are
//! published — independent products concurrently, dependants after what they depend on — then
//! the GitHub releases. Every item probes its registry first, so a re-run after a partial failure
//! publishes only what is missing, and a re-run of a finished release is a green no-op. The run
//! writes a release record (`target/shiplane/releases/VERSION.json`) and, under GitHub Actions,
//! appends a table to `$GITHUB_STEP_SUMMARY`.

mod cargo;
mod github;
mod npm;
mod python;
mod record;
pub(crate) mod runner;
mod tags;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use semver::Version;
use serde::Serialize;

use crate::config::Ecosystem;
use crate::oidc::IdTokenSource;
use crate::registry::{self, Endpoint, HttpSettings, Prober};
use crate::repo::{Product, Repo};
use crate::report::{Output, Problem, Problems, Reported};
use crate::secrets::Secrets;

pub use record::{Record, RecordItem};

/// The remote tags are pushed to and compared with.
pub(crate) const REMOTE: &str = "origin";

/// How long a registry may take to show what was published, unless `[release] index-timeout`.
const DEFAULT_INDEX_TIMEOUT: Duration = Duration::from_secs(600);

/// What `publish` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct PublishRequest {
    /// Act; without it only the plan is printed.
    pub execute: bool,
    /// Only these products (default: all).
    pub products: Vec<String>,
}

/// What the plan says about one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "reason", rename_all = "kebab-case")]
pub enum Action {
    /// Publish it (create and push, upload, attach).
    Publish,
    /// Nothing to do: the reason says why.
    Skip(String),
    /// Cannot be done: the run stops before anything is published.
    Blocked(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Publish => f.write_str("publish"),
            Action::Skip(reason) => write!(f, "skip: {reason}"),
            Action::Blocked(reason) => write!(f, "blocked: {reason}"),
        }
    }
}

/// One tag of the release.
#[derive(Debug, Clone, Serialize)]
pub struct TagItem {
    pub name: String,
    /// The product whose template it comes from; `None` for the umbrella tag.
    pub product: Option<String>,
    /// Already created locally at HEAD (only the push is missing).
    pub local: bool,
    #[serde(flatten)]
    pub action: Action,
}

/// What kind of thing an item publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    Crate,
    /// A python product's wheels and sdist (the files are known once built).
    PythonFiles,
    NpmPackage,
    /// A Go module: its tag is the release.
    GoModule,
}

/// One artifact of a product.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub kind: ItemKind,
    /// Crate, project, package or module name.
    pub name: String,
    /// VERSION as this registry spells it.
    pub version: String,
    #[serde(flatten)]
    pub action: Action,
    /// Python: files of VERSION already on the index (skipped file by file).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub present: Vec<String>,
    /// Go: the tag that releases the module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One product's part of the release.
#[derive(Debug, Clone, Serialize)]
pub struct ProductPlan {
    pub name: String,
    pub ecosystem: Ecosystem,
    /// Where it is published (`[registry.NAME]`, the client's configuration, or the client).
    pub registry: String,
    /// The `[registry.NAME]` table, when one is named.
    pub registry_name: Option<String>,
    /// Products published before it.
    pub after: Vec<String>,
    /// The build command, when one runs before publishing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Vec<String>>,
    /// Asset globs for its GitHub release.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    pub items: Vec<Item>,
    #[serde(skip)]
    pub endpoint: Option<Endpoint>,
    #[serde(skip)]
    pub manifest: Option<String>,
}

impl ProductPlan {
    /// Whether executing the product does anything (publishes an item or builds assets).
    pub fn has_work(&self) -> bool {
        self.items.iter().any(|i| i.action == Action::Publish)
    }
}

/// A GitHub release to create or update.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseItem {
    pub tag: String,
    /// `None` for the umbrella release.
    pub product: Option<String>,
    pub title: String,
    pub prerelease: bool,
    #[serde(flatten)]
    pub action: Action,
    /// Asset globs (the product's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    #[serde(skip)]
    pub notes: String,
}

/// Everything `publish` will do, in order.
#[derive(Debug, Clone, Serialize)]
pub struct PublishPlan {
    pub version: String,
    pub prerelease: bool,
    pub commit: String,
    pub tags: Vec<TagItem>,
    pub products: Vec<ProductPlan>,
    pub releases: Vec<ReleaseItem>,
    /// The GitHub repository releases go to, when GitHub releases are on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_repository: Option<String>,
    /// Why the run cannot start (nothing is published while there is one).
    pub blockers: Vec<Problem>,
    /// Worth knowing, not stopping anything.
    pub notes: Vec<String>,
}

impl PublishPlan {
    /// Whether running it would change anything.
    pub fn has_work(&self) -> bool {
        self.tags.iter().any(|t| t.action == Action::Publish)
            || self.products.iter().any(ProductPlan::has_work)
            || self.releases.iter().any(|r| r.action == Action::Publish)
    }
}

/// Everything a run is given.
pub(crate) struct Context<'a> {
    pub repo: &'a Repo,
    pub version: &'a Version,
    pub secrets: &'a Secrets,
    pub out: &'a Output,
    pub prober: Prober,
    pub index_timeout: Duration,
    /// Trusted publishing is possible (a GitHub Actions job with `id-token: write`).
    pub id_tokens: Option<IdTokenSource>,
}

/// `publish`: print the plan, or with `--execute` carry it out.
pub fn run(repo: &Repo, request: &PublishRequest, out: &Output) -> Result<()> {
    let state = repo.version_state();
    let Some(version) = state.current.filter(|_| state.problems.is_empty()) else {
        let mut problems = state.problems;
        if let Some(first) = problems.first_mut() {
            first.hint = Some(
                "run `bump VERSION` so every location holds the version to publish".to_string(),
            );
        }
        return Err(Problems::checks(problems).into());
    };
    for name in &request.products {
        if !repo.products.iter().any(|p| &p.name == name) {
            return Err(crate::report::UsageError(format!(
                "--product {name}: there is no such product (products: {})",
                repo.products
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
    }
    let secrets = Secrets::from_env();
    let index_timeout = repo
        .config
        .config
        .release
        .index_timeout
        .as_ref()
        .and_then(|t| crate::lane::parse_duration(t.get_ref()))
        .unwrap_or(DEFAULT_INDEX_TIMEOUT);
    let env = |key: &str| std::env::var(key).ok();
    let cx = Context {
        repo,
        version: &version,
        secrets: &secrets,
        out,
        prober: Prober::new(repo.root.clone(), HttpSettings::default()),
        index_timeout,
        id_tokens: IdTokenSource::from_env(&env),
    };
    let plan = build_plan(&cx, request)?;
    if !request.execute {
        if out.json() {
            out.emit_json(&plan)?;
        } else {
            crate::report::stdout(&secrets.redact(&plan.to_string()));
            if plan.blockers.is_empty() {
                out.say(if plan.has_work() {
                    "dry run: nothing was published; run with --execute to publish"
                } else {
                    "nothing to publish: every item is already out"
                });
            }
        }
        return blockers_result(&plan, out);
    }
    if !plan.blockers.is_empty() {
        if out.json() {
            out.emit_json(&plan)?;
        } else {
            crate::report::stdout(&secrets.redact(&plan.to_string()));
        }
        return blockers_result(&plan, out);
    }
    if !out.json() {
        crate::report::stdout(&secrets.redact(&plan.to_string()));
    }
    let mut record = execute(&cx, &plan);
    let path = record::write(&repo.root, &mut record)?;
    record::step_summary(&record, &secrets)?;
    if out.json() {
        out.emit_json(&record)?;
    } else {
        out.say(secrets.redact(&record.summary_text()));
        out.say(format!(
            "release record: {}",
            path.strip_prefix(&repo.root).unwrap_or(&path).display()
        ));
    }
    let failed = record.failed();
    if failed > 0 {
        if std::env::var_os("GITHUB_ACTIONS").is_some() {
            for item in record.items.iter().filter(|i| i.action == "failed") {
                crate::report::stdout_line(&format!(
                    "::error title=publish {}::{}",
                    crate::report::github_escape(&item.name),
                    crate::report::github_escape(&secrets.redact(&item.detail))
                ));
            }
        }
        if !out.json() {
            eprintln!(
                "error: {failed} item(s) failed; fix the cause and run `publish --execute` again: what is already out is skipped"
            );
        }
        return Err(Reported(1).into());
    }
    Ok(())
}

fn blockers_result(plan: &PublishPlan, out: &Output) -> Result<()> {
    if plan.blockers.is_empty() {
        return Ok(());
    }
    if out.json() {
        // The plan printed holds the blockers: one JSON document on stdout, exit 1.
        return Err(Reported(1).into());
    }
    eprintln!("nothing was published: {} blocker(s)", plan.blockers.len());
    Err(Problems::checks(plan.blockers.clone()).into())
}

/// Build the plan: read git, probe every registry, decide each item.
pub(crate) fn build_plan(cx: &Context<'_>, request: &PublishRequest) -> Result<PublishPlan> {
    let repo = cx.repo;
    let version = cx.version;
    let selected: Vec<&Product> = repo
        .products
        .iter()
        .filter(|p| request.products.is_empty() || request.products.contains(&p.name))
        .collect();
    let all_selected = selected.len() == repo.products.len();
    let mut blockers: Vec<Problem> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    let git = crate::git::Git::new(&repo.root)?;
    let commit = git.head()?;
    let changed = git.changed_paths()?;
    if !changed.is_empty() {
        let mut shown: Vec<String> = changed.iter().take(10).cloned().collect();
        if changed.len() > 10 {
            shown.push(format!("and {} more", changed.len() - 10));
        }
        blockers.push(
            Problem::new(format!(
                "the work tree has uncommitted changes: {}",
                shown.join(", ")
            ))
            .hint("commit or stash them: what is published must be what is tagged"),
        );
    }
    let tags = tags::plan(
        repo,
        &git,
        &commit,
        version,
        &selected,
        all_selected,
        &mut blockers,
    )?;

    let order = product_order(&selected, &mut blockers);
    let mut products = Vec::new();
    for product in order {
        products.push(plan_product(cx, product, &tags, &mut blockers, &mut notes));
    }
    let (releases, github_repository) =
        github::plan(cx, &git, &tags, &products, request.execute, &mut blockers)?;
    Ok(PublishPlan {
        version: version.to_string(),
        prerelease: !version.pre.is_empty(),
        commit,
        tags,
        products,
        releases,
        github_repository,
        blockers,
        notes,
    })
}

/// The selected products in `after` order (stable: file order among independent ones).
fn product_order<'a>(selected: &[&'a Product], blockers: &mut Vec<Problem>) -> Vec<&'a Product> {
    let names: BTreeSet<&str> = selected.iter().map(|p| p.name.as_str()).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < selected.len() {
        let next = selected.iter().find(|p| {
            !done.contains(p.name.as_str())
                && p.after
                    .iter()
                    .all(|a| done.contains(a.as_str()) || !names.contains(a.as_str()))
        });
        match next {
            Some(p) => {
                done.insert(&p.name);
                order.push(*p);
            }
            None => {
                // Validation rejects cycles in `after`; keep going rather than loop forever.
                blockers.push(Problem::new("`after` forms a cycle").hint("run `preflight`"));
                order.extend(selected.iter().filter(|p| !done.contains(p.name.as_str())));
                break;
            }
        }
    }
    order
}

fn plan_product(
    cx: &Context<'_>,
    product: &Product,
    tags: &[TagItem],
    blockers: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> ProductPlan {
    let config = cx
        .repo
        .config
        .config
        .products
        .iter()
        .map(|p| p.get_ref())
        .find(|p| p.name.get_ref() == &product.name);
    let build = config.and_then(|c| c.build.as_ref().map(|b| b.get_ref().clone()));
    let assets: Vec<String> = config
        .map(|c| c.assets.iter().map(|a| a.get_ref().clone()).collect())
        .unwrap_or_default();
    let mut plan = ProductPlan {
        name: product.name.clone(),
        ecosystem: product.ecosystem,
        registry: String::new(),
        registry_name: product.registry.clone(),
        after: product.after.clone(),
        build: build.clone(),
        assets,
        items: Vec::new(),
        endpoint: None,
        manifest: product.manifest.clone(),
    };
    match product.ecosystem {
        Ecosystem::Cargo | Ecosystem::Python | Ecosystem::Npm => {
            let scoped = (product.ecosystem == Ecosystem::Npm)
                .then(|| npm::package_name(cx.repo, product))
                .flatten();
            match registry::endpoint_for_package(
                &cx.repo.root,
                &cx.repo.config.config,
                product.registry.as_deref(),
                product.ecosystem,
                scoped.as_deref(),
            ) {
                Ok(endpoint) => {
                    plan.registry = match &product.registry {
                        Some(name) => format!("{name} ({endpoint})"),
                        None => endpoint.to_string(),
                    };
                    plan.endpoint = Some(endpoint);
                }
                Err(e) => {
                    blockers.push(
                        Problem::new(format!(
                            "{}: cannot tell which registry to publish to: {e:#}",
                            product.name
                        ))
                        .hint("name it: `registry = \"NAME\"` on the product and a [registry.NAME] table"),
                    );
                    return plan;
                }
            }
        }
        Ecosystem::Go => plan.registry = "git tags".to_string(),
        Ecosystem::Assets => plan.registry = "GitHub release".to_string(),
    }
    if !cx.repo.config.config.release.github_release && !plan.assets.is_empty() {
        // No GitHub release to attach them to: nothing to build or upload for them.
        notes.push(format!(
            "{}: its assets are not attached anywhere ([release] github-release = false)",
            product.name
        ));
        plan.assets.clear();
        if product.ecosystem == Ecosystem::Assets {
            plan.build = None;
            plan.registry = "nothing to publish ([release] github-release = false)".to_string();
        }
    }
    let items = match product.ecosystem {
        Ecosystem::Cargo => cargo::plan(cx, product, &plan, blockers),
        Ecosystem::Python => python::plan(cx, product, &plan, blockers),
        Ecosystem::Npm => npm::plan(cx, product, &plan, blockers),
        Ecosystem::Go => go_items(cx, product, tags, blockers),
        Ecosystem::Assets => Vec::new(),
    };
    plan.items = items;
    if product.ecosystem == Ecosystem::Python && build.is_none() {
        notes.push(format!(
            "{}: no `build` command; building with `{}`",
            product.name,
            python::default_build().join(" ")
        ));
    }
    plan
}

/// A Go module is released by its tag: the item is verifying the tag is on the remote.
fn go_items(
    cx: &Context<'_>,
    product: &Product,
    tags: &[TagItem],
    blockers: &mut Vec<Problem>,
) -> Vec<Item> {
    let module = product
        .manifest
        .as_deref()
        .and_then(|m| std::fs::read_to_string(cx.repo.root.join(m)).ok())
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("module ")
                    .map(|m| m.trim().to_string())
            })
        })
        .unwrap_or_else(|| product.name.clone());
    let Some(tag) = tags
        .iter()
        .find(|t| t.product.as_deref() == Some(product.name.as_str()))
    else {
        blockers.push(
            Problem::new(format!(
                "{}: a Go module is released by its tag, and the product has no `tag`",
                product.name
            ))
            .hint(
                "add e.g. `tag = \"sdk/go/v{version}\"` (the module's directory, then v{version})",
            ),
        );
        return Vec::new();
    };
    let action = match &tag.action {
        Action::Blocked(reason) => Action::Blocked(reason.clone()),
        Action::Skip(_) => Action::Skip(format!("tag {} is on {REMOTE}", tag.name)),
        Action::Publish => Action::Publish,
    };
    vec![Item {
        kind: ItemKind::GoModule,
        name: module,
        version: cx.version.to_string(),
        action,
        present: Vec::new(),
        tag: Some(tag.name.clone()),
    }]
}

impl fmt::Display for PublishPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .tags
            .iter()
            .map(|t| t.name.len())
            .chain(
                self.products
                    .iter()
                    .flat_map(|p| p.items.iter().map(|i| i.name.len() + i.version.len() + 1)),
            )
            .chain(self.releases.iter().map(|r| r.tag.len() + 8))
            .max()
            .unwrap_or(10)
            .max(10);
        writeln!(
            f,
            "publish {}{} at {}",
            self.version,
            if self.prerelease { " (prerelease)" } else { "" },
            crate::git::short(&self.commit)
        )?;
        if !self.tags.is_empty() {
            writeln!(f, "\ntags (annotated, at HEAD, pushed to {REMOTE}):")?;
            for tag in &self.tags {
                writeln!(f, "  {:<width$}  {}", tag.name, tag.action)?;
            }
        }
        for product in &self.products {
            write!(
                f,
                "\n{} ({} → {})",
                product.name, product.ecosystem, product.registry
            )?;
            if !product.after.is_empty() {
                write!(f, ", after {}", product.after.join(", "))?;
            }
            writeln!(f, ":")?;
            if let Some(build) = &product.build {
                writeln!(f, "  build: {}", build.join(" "))?;
            }
            for item in &product.items {
                let label = match &item.tag {
                    Some(tag) => format!("{} {tag}", item.name),
                    None => format!("{} {}", item.name, item.version),
                };
                writeln!(f, "  {label:<width$}  {}", item.action)?;
                if !item.present.is_empty() && item.action == Action::Publish {
                    writeln!(
                        f,
                        "  {:<width$}  (already there, skipped: {})",
                        "",
                        item.present.join(", ")
                    )?;
                }
            }
            if product.items.is_empty() && product.assets.is_empty() {
                writeln!(f, "  (nothing to publish)")?;
            }
            for asset in &product.assets {
                writeln!(f, "  asset {asset}")?;
            }
        }
        if !self.releases.is_empty() {
            writeln!(
                f,
                "\nGitHub releases ({}):",
                self.github_repository.as_deref().unwrap_or("?")
            )?;
            for release in &self.releases {
                let label = format!("release {}", release.tag);
                writeln!(f, "  {label:<width$}  {}", release.action)?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        if !self.blockers.is_empty() {
            writeln!(f, "\nblockers (nothing is published until they are fixed):")?;
            for problem in &self.blockers {
                writeln!(f, "  ✗ {}", problem.message)?;
                if let Some(hint) = &problem.hint {
                    writeln!(f, "    fix: {hint}")?;
                }
            }
        }
        Ok(())
    }
}

// --- execution ------------------------------------------------------------------------------

/// How a product's run ended, for its dependants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finished {
    Ok,
    Failed,
}

/// Carry out the plan (which has no blockers) and return the record of what happened.
fn execute(cx: &Context<'_>, plan: &PublishPlan) -> Record {
    let started = Instant::now();
    let mut record = Record::new(plan);
    let out = cx.out;
    out.say("");
    match tags::execute(cx, plan, &mut record) {
        Ok(()) => {}
        Err(e) => {
            record.fail_remaining(plan, &format!("{e:#}"), cx.secrets);
            record.finish(started);
            return record;
        }
    }
    let credentials = Credentials::new();
    let status: Mutex<BTreeMap<String, Finished>> = Mutex::new(BTreeMap::new());
    let changed = Condvar::new();
    let results: Mutex<Vec<RecordItem>> = Mutex::new(Vec::new());
    let selected: BTreeSet<&str> = plan.products.iter().map(|p| p.name.as_str()).collect();
    std::thread::scope(|scope| {
        for product in &plan.products {
            let (status, changed, results, credentials, selected) =
                (&status, &changed, &results, &credentials, &selected);
            scope.spawn(move || {
                // Wait for the products it comes after.
                let waiting: Vec<&String> = product
                    .after
                    .iter()
                    .filter(|a| selected.contains(a.as_str()))
                    .collect();
                let blocked_by = {
                    let mut done = match status.lock() {
                        Ok(done) => done,
                        Err(p) => p.into_inner(),
                    };
                    while !waiting.iter().all(|a| done.contains_key(a.as_str())) {
                        done = match changed.wait(done) {
                            Ok(done) => done,
                            Err(p) => p.into_inner(),
                        };
                    }
                    waiting
                        .iter()
                        .find(|a| done.get(a.as_str()) == Some(&Finished::Failed))
                        .map(|a| a.to_string())
                };
                let items = match blocked_by {
                    Some(dependency) => {
                        record::not_run(product, &format!("not run: {dependency} failed"))
                    }
                    None => publish_product(cx, product, credentials),
                };
                let finished = if items
                    .iter()
                    .any(|i| i.action == "failed" || i.action == "not-run")
                {
                    Finished::Failed
                } else {
                    Finished::Ok
                };
                match results.lock() {
                    Ok(mut r) => r.extend(items),
                    Err(p) => p.into_inner().extend(items),
                }
                match status.lock() {
                    Ok(mut s) => {
                        s.insert(product.name.clone(), finished);
                    }
                    Err(p) => {
                        p.into_inner().insert(product.name.clone(), finished);
                    }
                }
                changed.notify_all();
            });
        }
    });
    let mut items = results.into_inner().unwrap_or_else(|p| p.into_inner());
    // Record order = plan order, whatever order the threads finished in.
    let position = |name: &str| plan.products.iter().position(|p| p.name == name);
    items.sort_by_key(|i| position(&i.product));
    record.items.extend(items);
    let failed_products: BTreeSet<String> = record
        .items
        .iter()
        .filter(|i| i.action == "failed" || i.action == "not-run")
        .map(|i| i.product.clone())
        .collect();
    github::execute(cx, plan, &failed_products, &mut record);
    credentials.revoke(cx);
    record.finish(started);
    record
}

/// Publish one product's items (build first when it has work and a build command).
fn publish_product(
    cx: &Context<'_>,
    product: &ProductPlan,
    credentials: &Credentials,
) -> Vec<RecordItem> {
    let runner = runner::Runner {
        secrets: cx.secrets,
        out: cx.out,
        prefix: format!("[{}] ", product.name),
    };
    let target = product.endpoint.clone().map(|endpoint| Target {
        endpoint,
        label: cargo::registry_label(product),
    });
    let result = match (product.ecosystem, &target) {
        (Ecosystem::Cargo, Some(t)) => cargo::execute(cx, product, t, credentials, &runner),
        (Ecosystem::Python, Some(t)) => python::execute(cx, product, t, credentials, &runner),
        (Ecosystem::Npm, Some(t)) => npm::execute(cx, product, t, &runner),
        (Ecosystem::Cargo | Ecosystem::Python | Ecosystem::Npm, None) => {
            Err(anyhow::anyhow!("{}: no registry endpoint", product.name))
        }
        (Ecosystem::Go, _) => go_execute(cx, product),
        // Built when its GitHub release needs the files (see `github`).
        (Ecosystem::Assets, _) => Ok(Vec::new()),
    };
    match result {
        Ok(items) => items,
        Err(e) => {
            let message = cx.secrets.redact(&format!("{e:#}"));
            cx.out.say(format!("[{}] ✗ {message}", product.name));
            let mut items = record::not_run(product, "not run");
            if let Some(first) = items.first_mut() {
                first.action = "failed".to_string();
                first.detail = message;
            }
            items
        }
    }
}

/// Run the product's `build` command (in the manifest's directory) when it has one and
/// something to publish; `{out}` is its own fresh output directory. Returns that directory.
pub(crate) fn build_assets(
    cx: &Context<'_>,
    product: &ProductPlan,
    runner: &runner::Runner<'_>,
) -> Result<PathBuf> {
    let out_dir = cx
        .repo
        .root
        .join("target")
        .join("shiplane")
        .join("dist")
        .join(&product.name);
    let Some(build) = &product.build else {
        return Ok(out_dir);
    };
    if out_dir.exists() {
        std::fs::remove_dir_all(&out_dir)
            .map_err(|e| anyhow::anyhow!("clearing {}: {e}", out_dir.display()))?;
    }
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", out_dir.display()))?;
    let dir = product_dir(cx.repo, product);
    let argv: Vec<String> = build
        .iter()
        .map(|a| a.replace("{out}", &out_dir.display().to_string()))
        .collect();
    let Some((program, args)) = argv.split_first() else {
        anyhow::bail!("{}: the `build` command is empty", product.name);
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).current_dir(&dir);
    runner.check(&mut cmd).map_err(|e| {
        e.context(format!(
            "{}: the build command failed (shiplane.toml `build`)",
            product.name
        ))
    })?;
    Ok(out_dir)
}

/// The directory of the product's manifest (the repository root without one).
pub(crate) fn product_dir(repo: &Repo, product: &ProductPlan) -> PathBuf {
    product
        .manifest
        .as_deref()
        .map(crate::repo::parent_rel)
        .filter(|d| !d.is_empty())
        .map_or_else(|| repo.root.clone(), |d| repo.root.join(d))
}

fn go_execute(cx: &Context<'_>, product: &ProductPlan) -> Result<Vec<RecordItem>> {
    let git = crate::git::Git::new(&cx.repo.root)?;
    let mut items = Vec::new();
    for item in &product.items {
        let tag = item.tag.clone().unwrap_or_default();
        let found = git.remote_tags(REMOTE, std::slice::from_ref(&tag))?;
        let head = git.head()?;
        let mut entry = RecordItem::new(&product.name, "go-module", &item.name, &item.version);
        entry.registry = format!("git tag on {REMOTE}");
        match found.first() {
            Some(found) if found.commit == head => {
                entry.action = match item.action {
                    Action::Publish => "published",
                    _ => "skipped",
                }
                .to_string();
                entry.detail = format!("tag {tag} at {}", crate::git::short(&head));
                cx.out.say(format!(
                    "[{}] ✓ {} {}: tag {tag} on {REMOTE}",
                    product.name, item.name, item.version
                ));
            }
            other => {
                entry.action = "failed".to_string();
                entry.detail = match other {
                    Some(found) => format!(
                        "tag {tag} on {REMOTE} is at {}, not HEAD {}",
                        crate::git::short(&found.commit),
                        crate::git::short(&head)
                    ),
                    None => format!("tag {tag} is not on {REMOTE}"),
                };
            }
        }
        items.push(entry);
    }
    Ok(items)
}

/// Credentials for registries: long-lived ones from the environment (passed through to the
/// clients untouched), or short-lived ones from trusted publishing.
pub(crate) struct Credentials {
    /// Trusted-publishing tokens by `[registry.NAME]`, with the exchange URL to revoke at.
    minted: Mutex<BTreeMap<String, (String, String)>>,
}

impl Credentials {
    fn new() -> Credentials {
        Credentials {
            minted: Mutex::new(BTreeMap::new()),
        }
    }

    /// A trusted-publishing token for `[registry.NAME]` (minted once per run), when the job can
    /// request OIDC tokens, the registry has `oidc-exchange`, and `has_long_lived` is false.
    pub fn trusted_token(
        &self,
        cx: &Context<'_>,
        registry_name: Option<&str>,
        has_long_lived: bool,
    ) -> Result<Option<String>> {
        let (Some(name), Some(source)) = (registry_name, cx.id_tokens.as_ref()) else {
            return Ok(None);
        };
        if has_long_lived {
            return Ok(None);
        }
        let Some(registry) = cx.repo.config.config.registries.get(name) else {
            return Ok(None);
        };
        let registry = registry.get_ref();
        let Some(exchange) = registry.oidc_exchange.as_ref().map(|e| e.get_ref().clone()) else {
            return Ok(None);
        };
        let mut minted = match self.minted.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some((token, _)) = minted.get(name) {
            return Ok(Some(token.clone()));
        }
        let jwt = source.id_token(registry.oidc_audience.as_deref(), cx.secrets)?;
        let token = match registry.ecosystem {
            Ecosystem::Cargo => crate::oidc::exchange_cargo(&exchange, &jwt, cx.secrets)?,
            Ecosystem::Python => crate::oidc::mint_python(&exchange, &jwt, cx.secrets)?,
            other => anyhow::bail!("trusted publishing is not supported for {other} registries"),
        };
        cx.out.say(format!(
            "trusted publishing: got a short-lived token for [registry.{name}]"
        ));
        if registry.ecosystem == Ecosystem::Cargo {
            minted.insert(name.to_string(), (token.clone(), exchange));
        } else {
            minted.insert(name.to_string(), (token.clone(), String::new()));
        }
        Ok(Some(token))
    }

    /// Revoke every Cargo trusted-publishing token of the run.
    fn revoke(&self, cx: &Context<'_>) {
        let minted = match self.minted.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for (name, (token, exchange)) in minted {
            if exchange.is_empty() {
                continue;
            }
            match crate::oidc::revoke_cargo(&exchange, &token) {
                Ok(()) => cx.out.say(format!(
                    "trusted publishing: revoked the token for [registry.{name}]"
                )),
                Err(e) => cx.out.warn(cx.secrets.redact(&format!(
                    "could not revoke the trusted-publishing token for [registry.{name}]: {e:#} (it expires on its own)"
                ))),
            }
        }
    }
}

/// Wait, up to `[release] index-timeout`, until the registry shows what `entry` names, and fill in
/// its URL and checksum from what the registry says (one read per poll). When it does not show
/// it in time, mark `entry` failed with what to do and return false.
pub(crate) fn await_visible(
    cx: &Context<'_>,
    target: &Target,
    entry: &mut RecordItem,
) -> Result<bool> {
    let mut found = None;
    let visible = wait_until(cx.index_timeout, || {
        found = cx
            .prober
            .probe(target.endpoint.clone())
            .find(&entry.name, &entry.version)
            .map_err(|e| {
                anyhow::anyhow!(
                    "reading {} for {} {}: {e}",
                    target.endpoint,
                    entry.name,
                    entry.version
                )
            })?;
        Ok(found.is_some())
    })?;
    match found {
        Some(published) => fill_from(&published, entry),
        None => {
            entry.action = "failed".to_string();
            entry.detail = format!(
                "published, but {} did not show {} {} within {} s; run `publish --execute` again once it does (it is skipped then), or raise [release] index-timeout",
                target.label,
                entry.name,
                entry.version,
                cx.index_timeout.as_secs()
            );
        }
    }
    Ok(visible)
}

/// Fill in the published file's URL and checksum (SHA-256, else npm's integrity) from the registry.
pub(crate) fn describe(cx: &Context<'_>, target: &Target, entry: &mut RecordItem) {
    if let Ok(Some(published)) = cx
        .prober
        .probe(target.endpoint.clone())
        .find(&entry.name, &entry.version)
    {
        fill_from(&published, entry);
    }
}

fn fill_from(published: &crate::registry::Published, entry: &mut RecordItem) {
    let Some(file) = published.files.first() else {
        return;
    };
    entry.url = file.url.clone();
    if let Some(sha) = file.hashes.get("sha256") {
        entry.sha256 = sha.clone();
    } else if let (true, Some(integrity)) = (entry.sha256.is_empty(), &file.integrity) {
        entry.detail = format!("integrity {integrity}");
    }
}

/// Where a product is published: the endpoint read and its short name for messages.
pub(crate) struct Target {
    pub endpoint: Endpoint,
    pub label: String,
}

/// Wait until `done()` says yes, polling with a growing pause, up to `timeout`.
pub(crate) fn wait_until(
    timeout: Duration,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// `Path` of the release record of `version`.
pub fn record_path(root: &Path, version: &str) -> PathBuf {
    root.join("target")
        .join("shiplane")
        .join("releases")
        .join(format!("{version}.json"))
}
