//! The release record: every artifact of the release — its registry, URL, checksum, when it was
//! handled and whether this run published it, skipped it (already out) or failed — written to
//! `target/shiplane/releases/VERSION.json` and, under GitHub Actions, appended as a table to
//! `$GITHUB_STEP_SUMMARY`. Secrets never reach it: every text in it is redacted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;

use super::{record_path, ProductPlan, PublishPlan};
use crate::secrets::Secrets;

/// What one run of `publish --execute` did.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Record {
    pub version: String,
    pub commit: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub items: Vec<RecordItem>,
}

/// One artifact (or tag, or GitHub release) and what this run did with it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RecordItem {
    pub product: String,
    /// `tag`, `crate`, `wheel`, `sdist`, `npm-package`, `go-module`, `github-release`, `asset`.
    pub kind: String,
    pub name: String,
    pub version: String,
    /// Where it went.
    pub registry: String,
    /// Where it can be downloaded or seen, when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// SHA-256 of the artifact's bytes, when it has bytes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// When this run handled it (UTC, RFC 3339).
    pub time: String,
    /// `published`, `skipped`, `failed` or `not-run`: what this run did.
    pub action: String,
    /// When it was published: this run's `time`, or for a skipped item the time an earlier run of
    /// the same version recorded (empty when no record says).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub published_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl RecordItem {
    pub fn new(product: &str, kind: &str, name: &str, version: &str) -> RecordItem {
        RecordItem {
            product: product.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            version: version.to_string(),
            registry: String::new(),
            url: String::new(),
            sha256: String::new(),
            time: now_rfc3339(),
            action: String::new(),
            published_at: String::new(),
            detail: String::new(),
        }
    }
}

impl Record {
    pub(super) fn new(plan: &PublishPlan) -> Record {
        Record {
            version: plan.version.clone(),
            commit: plan.commit.clone(),
            started_at: now_rfc3339(),
            finished_at: String::new(),
            duration_ms: 0,
            items: Vec::new(),
        }
    }

    pub(super) fn finish(&mut self, started: Instant) {
        self.finished_at = now_rfc3339();
        self.duration_ms = started.elapsed().as_millis() as u64;
    }

    /// Every product item becomes `not-run` with `reason` (the run stopped before products).
    pub(super) fn fail_remaining(&mut self, plan: &PublishPlan, reason: &str, secrets: &Secrets) {
        let reason = secrets.redact(reason);
        let mut item = RecordItem::new("", "tag", "tags", &plan.version);
        item.action = "failed".to_string();
        item.detail = reason.clone();
        self.items.push(item);
        for product in &plan.products {
            self.items
                .extend(not_run(product, &format!("not run: tags failed: {reason}")));
        }
    }

    /// How many items failed or could not run.
    pub fn failed(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.action == "failed" || i.action == "not-run")
            .count()
    }

    fn count(&self, action: &str) -> usize {
        self.items.iter().filter(|i| i.action == action).count()
    }

    /// The closing lines of a text report.
    pub fn summary_text(&self) -> String {
        let mut text = format!(
            "\n{} published, {} skipped (already out), {} failed, {} not run — {:.1} s\n",
            self.count("published"),
            self.count("skipped"),
            self.count("failed"),
            self.count("not-run"),
            self.duration_ms as f64 / 1000.0
        );
        for item in self
            .items
            .iter()
            .filter(|i| i.action == "failed" || i.action == "not-run")
        {
            text.push_str(&format!(
                "  ✗ {} {} {}: {}\n",
                item.product, item.name, item.version, item.detail
            ));
        }
        text
    }

    /// The record as a Markdown table.
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "### publish {}\n\n| | product | artifact | registry | sha256 |\n|---|---|---|---|---|\n",
            self.version
        );
        for item in &self.items {
            let mark = match item.action.as_str() {
                "published" => "✅ published",
                "skipped" => "⏭ skipped",
                "failed" => "❌ failed",
                _ => "⛔ not run",
            };
            let artifact = if item.url.is_empty() {
                format!("{} `{}` {}", item.kind, item.name, item.version)
            } else {
                format!(
                    "{} [`{}` {}]({})",
                    item.kind, item.name, item.version, item.url
                )
            };
            let sha = item.sha256.get(..12).unwrap_or("");
            text.push_str(&format!(
                "| {mark} | {} | {artifact} | {} | {} |\n",
                item.product,
                item.registry.replace('|', "\\|"),
                if sha.is_empty() {
                    String::new()
                } else {
                    format!("`{sha}…`")
                }
            ));
        }
        text
    }
}

/// The items of a product that did not run, one per plan item.
pub(super) fn not_run(product: &ProductPlan, reason: &str) -> Vec<RecordItem> {
    let mut items: Vec<RecordItem> = product
        .items
        .iter()
        .map(|i| {
            let mut item = RecordItem::new(&product.name, kind_name(i.kind), &i.name, &i.version);
            item.registry = product.registry.clone();
            item.action = "not-run".to_string();
            item.detail = reason.to_string();
            item
        })
        .collect();
    if items.is_empty() {
        let mut item = RecordItem::new(&product.name, "product", &product.name, "");
        item.action = "not-run".to_string();
        item.detail = reason.to_string();
        items.push(item);
    }
    items
}

fn kind_name(kind: super::ItemKind) -> &'static str {
    match kind {
        super::ItemKind::Crate => "crate",
        super::ItemKind::PythonFiles => "python-package",
        super::ItemKind::NpmPackage => "npm-package",
        super::ItemKind::GoModule => "go-module",
    }
}

/// Write the record atomically, replacing the one of an earlier run of the same version — after
/// carrying over from it, for each item this run skipped, when it was published and its URL and
/// checksum where this run did not learn them.
pub(super) fn write(root: &Path, record: &mut Record) -> Result<PathBuf> {
    let path = record_path(root, &record.version);
    let earlier: Option<Record> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    for item in &mut record.items {
        if item.action == "published" {
            item.published_at = item.time.clone();
            continue;
        }
        if item.action != "skipped" {
            continue;
        }
        let Some(before) = earlier.as_ref().and_then(|e| {
            e.items.iter().find(|b| {
                (
                    b.product.as_str(),
                    b.kind.as_str(),
                    b.name.as_str(),
                    b.version.as_str(),
                ) == (
                    item.product.as_str(),
                    item.kind.as_str(),
                    item.name.as_str(),
                    item.version.as_str(),
                )
            })
        }) else {
            continue;
        };
        item.published_at = if before.action == "published" {
            before.time.clone()
        } else {
            before.published_at.clone()
        };
        if item.url.is_empty() {
            item.url = before.url.clone();
        }
        if item.sha256.is_empty() {
            item.sha256 = before.sha256.clone();
        }
    }
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    let text = serde_json::to_string_pretty(record)? + "\n";
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    file.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Append the record's table to `$GITHUB_STEP_SUMMARY`, when it is set.
pub(super) fn step_summary(record: &Record, secrets: &Secrets) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| {
            format!(
                "opening $GITHUB_STEP_SUMMARY ({})",
                Path::new(&path).display()
            )
        })?;
    file.write_all(secrets.redact(&record.markdown()).as_bytes())
        .context("writing $GITHUB_STEP_SUMMARY")
}

/// Now, as `2026-11-21T13:05:09Z`.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let date = crate::edit::changelog::date_from_unix_seconds(secs);
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}
