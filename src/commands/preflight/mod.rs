//! `preflight [VERSION] [--no-fetch]`: every precondition of a release, checked at once, before
//! anything leaves the machine. Each group of checks collects all it finds; the report lists
//! every check (✓/✗, and the fix of each failure) and the run fails once, with exit code 1, when
//! any failed.
//!
//! Groups, in report order: `version` (the locations hold VERSION; it is above the last release
//! tag of each template), `git` (release branch, clean tree, up to date with the remote, no tag for
//! VERSION elsewhere), `registries` (VERSION not published yet), `changelog`, `metadata` (what each
//! registry requires or users expect), `packaging` (what the packages would contain), `workflows`
//! (`workflows --check`), `tools` (cargo semver-checks / deny / audit, when installed). The groups
//! run concurrently (`packaging` once `git` is done); each one's wall time is in the JSON
//! (`groups[].duration_ms`) and, with `-v`, in the text.

mod changelogs;
mod git_state;
mod metadata;
mod packaging;
mod registries;
mod tools;
mod versions;
mod workflow_files;

use std::time::{Duration, Instant};

use anyhow::Result;
use semver::Version;

use crate::cli::PreflightArgs;
use crate::commands::ci::RustStep;
use crate::repo::Repo;
use crate::report::{Check, CheckGroup, Checklist, Output, Problems};
use crate::version;

/// What every group is given.
pub(crate) struct Context<'a> {
    pub repo: &'a Repo,
    pub version: &'a Version,
    /// `git fetch` before comparing with the remote (off with `--no-fetch`).
    pub fetch: bool,
}

/// `preflight` for a repository without Rust lane steps (the `shiplane` binary).
pub fn run(repo: &Repo, args: &PreflightArgs, out: &Output) -> Result<()> {
    run_with(repo, args, &[], out)
}

/// `preflight` for an xtask whose Rust lane steps ci.yml must also run (see `workflows`).
pub fn run_with(
    repo: &Repo,
    args: &PreflightArgs,
    rust_steps: &[RustStep],
    out: &Output,
) -> Result<()> {
    let version = match &args.version {
        Some(v) => version::parse_semver_input(v)?,
        None => {
            let state = repo.version_state();
            match state.current {
                // Disagreeing locations are reported by the `version` group, against the
                // highest version read.
                Some(v) => v,
                None => return Err(Problems::checks(state.problems).into()),
            }
        }
    };
    let cx = Context {
        repo,
        version: &version,
        fetch: !args.no_fetch,
    };
    let list = checklist(&cx, rust_steps);
    for group in &list.groups {
        out.detail(format!(
            "{:<10} {:>6} ms  {} check(s), {} failed",
            group.name, group.duration_ms, group.checks, group.failed
        ));
    }
    list.finish(out)
}

/// The group names, in report order.
pub const GROUPS: [&str; 8] = [
    "version",
    "git",
    "registries",
    "changelog",
    "metadata",
    "packaging",
    "workflows",
    "tools",
];

/// How long a group took, and what it found.
type Outcome = (Vec<Check>, Duration);

/// A group of checks.
type Group = fn(&Context<'_>) -> Vec<Check>;

/// Run every group and gather the checklist in report order. The groups run concurrently, except
/// that `packaging` starts only once `git` is done (building a Python sdist leaves files in the
/// work tree for a moment, which `git status` must not see), and `workflows` runs on this thread
/// (an xtask's Rust steps stay on it).
fn checklist(cx: &Context<'_>, rust_steps: &[RustStep]) -> Checklist {
    let started = Instant::now();
    let results: Vec<(&str, Outcome)> = std::thread::scope(|scope| {
        let spawn =
            |name: &'static str, group: Group| (name, scope.spawn(move || timed(|| group(cx))));
        let git = spawn("git", git_state::checks);
        let mut spawned: Vec<_> = [
            ("version", versions::checks as Group),
            ("registries", registries::checks),
            ("changelog", changelogs::checks),
            ("metadata", metadata::checks),
            ("tools", tools::checks),
        ]
        .into_iter()
        .map(|(name, group)| spawn(name, group))
        .collect();
        let mut results = vec![joined(git)];
        spawned.push(spawn("packaging", |cx| {
            packaging::checks(cx.repo, cx.version)
        }));
        let workflows = timed(|| workflow_files::checks(cx, rust_steps));
        results.extend(spawned.into_iter().map(joined));
        results.push(("workflows", workflows));
        results
    });
    let mut list = Checklist::new(format!("preflight {}", cx.version));
    for name in GROUPS {
        let Some((_, (checks, took))) = results.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        list.groups.push(CheckGroup {
            name: name.to_string(),
            duration_ms: millis(*took),
            checks: checks.len(),
            failed: checks.iter().filter(|c| !c.ok).count(),
        });
        list.checks.extend(checks.iter().cloned());
    }
    list.duration_ms = Some(millis(started.elapsed()));
    list
}

fn timed(group: impl FnOnce() -> Vec<Check>) -> Outcome {
    let start = Instant::now();
    let checks = group();
    (checks, start.elapsed())
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

/// A group's outcome; a panic in it becomes its one failed check.
fn joined<'s>(
    (name, handle): (&'s str, std::thread::ScopedJoinHandle<'_, Outcome>),
) -> (&'s str, Outcome) {
    let outcome = handle.join().unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        (
            vec![Check::fail(
                name,
                "internal",
                format!("the {name} checks panicked: {what}"),
                "report this as a Shiplane bug, with the command line",
            )],
            Duration::ZERO,
        )
    });
    (name, outcome)
}

/// Every tag template: each product's `tag` (the product is the subject), then the umbrella
/// `[release] tag` (subject `release`).
pub(crate) fn tag_templates(repo: &Repo) -> Vec<(String, String)> {
    let mut templates: Vec<(String, String)> = repo
        .products
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.tag.clone()?)))
        .collect();
    if let Some(tag) = &repo.config.config.release.tag {
        templates.push(("release".to_string(), tag.get_ref().clone()));
    }
    templates
}

/// The version a release tag holds: semver, or the PEP 440 spelling a Python product's tag may use.
pub(crate) fn tag_version(text: &str) -> Option<Version> {
    Version::parse(text)
        .ok()
        .or_else(|| version::from_pep440(text).ok())
}

/// The name a shiplane command goes by in fixes: `cargo xtask` under an xtask, else `shiplane`.
pub(crate) fn command_name() -> &'static str {
    let xtask = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .is_some_and(|stem| stem == "xtask");
    if xtask {
        "cargo xtask"
    } else {
        "shiplane"
    }
}
