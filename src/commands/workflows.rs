//! `workflows --write | --check`: generate `.github/workflows/` from the lane and the release
//! settings of shiplane.toml, or check that the files there have not drifted, that ci.yml runs the
//! whole lane, and that every workflow (generated or hand-written) passes the hygiene rules.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::WorkflowsArgs;
use crate::commands::ci::RustStep;
use crate::lane::{parse_duration, Lane};
use crate::repo::Repo;
use crate::report::{exit, github_escape, stdout, Output, Problem, Problems, Reported};
use crate::txn::{self, FileWrite};
use crate::workflows::{self, audit, coverage, Generated, JobStep, DIR, FIX};

/// `workflows` for a lane without Rust steps (the `shiplane` binary).
pub fn run(repo: &Repo, args: &WorkflowsArgs, out: &Output) -> Result<()> {
    run_with(repo, args, &[], out)
}

/// `workflows` for an xtask whose Rust steps (`cli::Extensions::ci_steps`) `cargo xtask ci` runs
/// after the lane's: ci.yml must run them too.
pub fn run_with(
    repo: &Repo,
    args: &WorkflowsArgs,
    rust_steps: &[RustStep],
    out: &Output,
) -> Result<()> {
    let prepared = prepare(repo, rust_steps)?;
    if args.write {
        write(&repo.root, &prepared.generated, out)
    } else {
        check(&repo.root, &prepared, out)
    }
}

/// What `workflows --check` finds, without printing anything: every drift, coverage and hygiene
/// problem, each with its `file:line` and fix. A lane or generator configuration problem is an
/// error (exit 2), as for `workflows --check`.
pub fn check_problems(repo: &Repo, rust_steps: &[RustStep]) -> Result<Vec<Problem>> {
    let prepared = prepare(repo, rust_steps)?;
    Ok(inspect(&repo.root, &prepared)?.problems)
}

/// The lane and what it generates.
struct Prepared {
    lane: Lane,
    generated: Vec<Generated>,
    /// The steps ci.yml must run: the lane's, then the xtask's Rust steps.
    names: Vec<String>,
}

fn prepare(repo: &Repo, rust_steps: &[RustStep]) -> Result<Prepared> {
    let lane = Lane::load(&repo.config)?;
    let default_timeout = repo
        .config
        .config
        .ci
        .timeout
        .as_ref()
        .and_then(|t| parse_duration(t.get_ref()))
        .unwrap_or(DEFAULT_STEP_TIMEOUT);
    let rust_steps: Vec<JobStep> = rust_steps
        .iter()
        .map(|s| JobStep {
            name: s.name.clone(),
            timeout: s.timeout.unwrap_or(default_timeout),
        })
        .collect();
    let generated = workflows::generate(&repo.config, &lane, &rust_steps)?;
    let mut names: Vec<String> = lane.steps.iter().map(|s| s.name.clone()).collect();
    names.extend(rust_steps.iter().map(|s| s.name.clone()));
    Ok(Prepared {
        lane,
        generated,
        names,
    })
}

/// A step's timeout when neither it nor `[ci] timeout` sets one (as `ci` does).
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What a run found for one generated file.
#[derive(Debug, Serialize)]
struct FileState {
    path: String,
    /// `--write`: `created`, `updated`, `unchanged`; `--check`: `ok`, `drifted`, `missing`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

/// A file's bytes, or `None` when it does not exist (or a parent is not a directory).
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write(root: &Path, generated: &[Generated], out: &Output) -> Result<()> {
    let mut writes = Vec::new();
    let mut states = Vec::new();
    for file in generated {
        let old = read_optional(&root.join(&file.rel))?;
        let status = match &old {
            Some(bytes) if bytes == file.text.as_bytes() => "unchanged",
            Some(_) => "updated",
            None => "created",
        };
        if status != "unchanged" {
            writes.push(FileWrite {
                rel: file.rel.clone(),
                contents: file.text.clone().into_bytes(),
            });
        }
        states.push(FileState {
            path: file.rel.clone(),
            status,
            diff: None,
        });
    }
    if !writes.is_empty() {
        let created = create_dirs(root, DIR)?;
        if let Err(error) = txn::commit(root, "workflows --write", &writes) {
            for dir in created.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            return Err(error.context(format!("writing {DIR}")));
        }
    }
    if out.json() {
        return out.emit_json(&serde_json::json!({ "status": "ok", "files": states }));
    }
    for state in &states {
        out.say(format!("{:<9} {}", state.status, state.path));
    }
    out.say(format!(
        "workflows: {} of {} generated file(s) written, all or nothing",
        writes.len(),
        states.len()
    ));
    Ok(())
}

/// Create `rel` (and its missing parents) under `root`; the directories created, outermost first.
fn create_dirs(root: &Path, rel: &str) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    let mut dir = root.to_path_buf();
    for part in rel.split('/') {
        dir.push(part);
        if dir.is_dir() {
            continue;
        }
        if let Err(e) = fs::create_dir(&dir) {
            for d in created.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(e)
                .with_context(|| format!("creating {}: nothing was written", dir.display()));
        }
        created.push(dir.clone());
    }
    Ok(created)
}

/// The 1-based line where `old` first differs from `new` (a line of `old`).
fn first_difference(old: &str, new: &str) -> usize {
    let mut old_lines = old.lines();
    let mut new_lines = new.lines();
    let mut line: usize = 1;
    loop {
        match (old_lines.next(), new_lines.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (None, _) => return (line - 1).max(1),
            _ => return line,
        }
    }
}

/// What `--check` found: each generated file's state, the files audited, every problem.
struct Inspection {
    states: Vec<FileState>,
    audited: Vec<String>,
    problems: Vec<Problem>,
}

fn inspect(root: &Path, prepared: &Prepared) -> Result<Inspection> {
    let Prepared {
        lane,
        generated,
        names,
    } = prepared;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut problems: Vec<Problem> = Vec::new();
    let mut states = Vec::new();
    let mut ci_on_disk = None;
    for file in generated {
        let current = read_optional(&root.join(&file.rel))?;
        let text = current.map(|b| String::from_utf8_lossy(&b).into_owned());
        if file.rel.ends_with("/ci.yml") {
            ci_on_disk = text.clone();
        }
        let (status, diff) = match &text {
            Some(old) if *old == file.text => ("ok", None),
            Some(old) => {
                problems.push(
                    Problem::at(
                        &file.rel,
                        first_difference(old, &file.text),
                        "differs from what shiplane.toml generates (the diff shows the change --write makes)",
                    )
                    .hint(FIX),
                );
                let diff = similar::TextDiff::from_lines(old.as_str(), file.text.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{}", file.rel), &format!("b/{}", file.rel))
                    .to_string();
                ("drifted", Some(diff))
            }
            None => {
                problems.push(
                    Problem::in_file(&file.rel, "missing: shiplane.toml generates it").hint(FIX),
                );
                let diff = similar::TextDiff::from_lines("", file.text.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header("/dev/null", &format!("b/{}", file.rel))
                    .to_string();
                ("missing", Some(diff))
            }
        };
        states.push(FileState {
            path: file.rel.clone(),
            status,
            diff,
        });
    }
    if let Some(text) = &ci_on_disk {
        problems.extend(coverage::check(&format!("{DIR}/ci.yml"), text, &names, FIX));
    }
    let audited = workflow_files(root)?;
    for rel in &audited {
        let path = root.join(rel);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        problems.extend(audit::audit(
            rel,
            &String::from_utf8_lossy(&bytes),
            &lane.actions,
        ));
    }
    Ok(Inspection {
        states,
        audited,
        problems,
    })
}

fn check(root: &Path, prepared: &Prepared, out: &Output) -> Result<()> {
    let Inspection {
        states,
        audited,
        problems,
    } = inspect(root, prepared)?;
    let (lane, generated, names) = (&prepared.lane, &prepared.generated, &prepared.names);
    if out.json() {
        let status = if problems.is_empty() { "ok" } else { "failed" };
        out.emit_json(&serde_json::json!({
            "status": status,
            "files": states,
            "audited": audited,
            "problems": problems,
        }))?;
        return if problems.is_empty() {
            Ok(())
        } else {
            Err(Reported(exit::FAILURE).into())
        };
    }
    if problems.is_empty() {
        let runs = if lane.per_step_jobs {
            format!("one job per lane step ({})", names.len())
        } else {
            format!("the whole lane ({} steps) in one job", names.len())
        };
        out.say(format!(
            "workflows: {} generated file(s) match shiplane.toml; ci.yml runs {runs}; {} workflow file(s) pass the hygiene rules",
            generated.len(),
            audited.len()
        ));
        return Ok(());
    }
    for state in &states {
        if let Some(diff) = &state.diff {
            stdout(diff);
        }
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        for p in &problems {
            let place = match (&p.file, p.line) {
                (Some(file), Some(line)) => format!(" file={file},line={line}"),
                (Some(file), None) => format!(" file={file}"),
                _ => String::new(),
            };
            let text = match &p.hint {
                Some(hint) => format!("{} (fix: {hint})", p.message),
                None => p.message.clone(),
            };
            eprintln!("::error{place}::{}", github_escape(&text));
        }
    }
    Err(Problems::checks(problems).into())
}

/// Every workflow file GitHub reads: `*.yml` and `*.yaml` directly in `.github/workflows/`,
/// relative to the root, sorted.
fn workflow_files(root: &Path) -> Result<Vec<String>> {
    let dir = root.join(DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if (name.ends_with(".yml") || name.ends_with(".yaml")) && entry.path().is_file() {
            files.push(format!("{DIR}/{name}"));
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn first_differing_line() {
        assert_eq!(first_difference("a\nb\nc\n", "a\nx\nc\n"), 2);
        assert_eq!(first_difference("a\nb\n", "a\nb\nc\n"), 2);
        assert_eq!(first_difference("a\nb\nc\n", "a\nb\n"), 3);
        assert_eq!(first_difference("", "a\n"), 1);
    }
}
