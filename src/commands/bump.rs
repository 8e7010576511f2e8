//! `bump <VERSION | major | minor | patch | pre>`: move every version location of every product to
//! one new version, in one all-or-nothing write.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use semver::{Op, Version, VersionReq};
use serde::Serialize;

use crate::edit::{self, changelog};
use crate::exec::{self, Mode};
use crate::plan::{Change, FileEdit, Plan, Step};
use crate::repo::{Repo, Role};
use crate::report::{CheckFailed, Output, Problem, Problems};
use crate::version::{self, BumpTarget};

/// What to bump to, and how careful to be.
#[derive(Debug, Clone)]
pub struct BumpRequest {
    pub target: BumpTarget,
    pub pre_id: Option<String>,
    /// Proceed even when the locations disagree (every one moves to the new version).
    pub force: bool,
    /// Allow a lower version, or an equal one with different build metadata.
    pub allow_downgrade: bool,
    /// The release date written to changelogs and date keys (YYYY-MM-DD).
    pub date: String,
}

/// The outcome of planning a bump.
#[derive(Debug, Clone)]
pub enum BumpPlan {
    /// Already at the target: nothing to write.
    Unchanged { version: Version },
    Change {
        from: Version,
        to: Version,
        plan: Plan,
        warnings: Vec<String>,
    },
}

/// Plan a bump: pure, reads only the Repo (and changelog files).
pub fn plan(repo: &Repo, request: &BumpRequest) -> Result<BumpPlan> {
    let state = repo.version_state();
    let Some(current) = state.current.clone() else {
        return Err(Problems::checks(state.problems).into());
    };
    if !state.problems.is_empty() && !request.force {
        return Err(Problems::checks(state.problems).into());
    }
    let target = version::next_version(&current, &request.target, request.pre_id.as_deref())?;
    let disagreeing = !state.problems.is_empty();
    if target == current && !disagreeing {
        return Ok(BumpPlan::Unchanged { version: current });
    }
    if !request.allow_downgrade {
        match target.cmp_precedence(&current) {
            std::cmp::Ordering::Less => {
                return Err(CheckFailed(format!(
                    "{target} is lower than the current version {current}: refusing to downgrade\n  fix: give a version above {current}, or pass --allow-downgrade if you mean it"
                ))
                .into())
            }
            std::cmp::Ordering::Equal if target != current => {
                return Err(CheckFailed(format!(
                    "{target} has the same precedence as the current version {current} but is a different version (build metadata differs)\n  fix: pass --allow-downgrade to rewrite it anyway"
                ))
                .into())
            }
            _ => {}
        }
        // Python tools order prereleases differently (`.devN` first): a move that semver calls
        // an upgrade can be a downgrade for pip.
        let python_reads = repo
            .locations
            .iter()
            .any(|l| l.scheme == crate::version::Scheme::Pep440);
        if let (true, Some(to), Some(from)) = (
            python_reads,
            version::pep440_order(&target),
            version::pep440_order(&current),
        ) {
            if to < from {
                return Err(CheckFailed(format!(
                    "{target} sorts after {current} in semver but before it in PEP 440 (Python reads `.devN` before `aN`, `bN` and `rcN`): refusing a move pip would see as a downgrade\n  fix: choose a later version (e.g. the next rc), or pass --allow-downgrade"
                ))
                .into());
            }
        }
    }

    // New value of every location, grouped by file.
    // A version some location cannot spell is a usage error (exit 2); a requirement that needs a
    // hand edit is a failed check (exit 1).
    let mut unwritable = Problems::default();
    let mut blocked: Vec<Problem> = Vec::new();
    let mut by_file: BTreeMap<usize, Vec<(std::ops::Range<usize>, String, Change)>> =
        BTreeMap::new();
    for loc in &repo.locations {
        let new_value = match loc.role {
            Role::Version => match version::render(&target, loc.scheme) {
                Ok(v) => format!("{}{v}{}", loc.prefix, loc.suffix),
                Err(e) => {
                    unwritable.push(
                        Problem::at(&loc.path, loc.line, format!("cannot write {target} here ({}, read as {}): {e}", loc.what, loc.scheme))
                            .hint("choose a prerelease Python can read: -alpha.N, -beta.N, -rc.N or -dev.N"),
                    );
                    continue;
                }
            },
            Role::Requirement => match new_requirement(&loc.value, &target) {
                Ok(r) => r,
                Err(e) => {
                    blocked.push(
                        Problem::at(&loc.path, loc.line, format!("{}: {e}", loc.what))
                            .hint("update this requirement by hand, then bump"),
                    );
                    continue;
                }
            },
            Role::ReleaseDate => request.date.clone(),
        };
        if new_value != loc.value {
            by_file.entry(loc.file).or_default().push((
                loc.span.clone(),
                new_value.clone(),
                Change {
                    line: loc.line,
                    what: loc.what.clone(),
                    old: loc.value.clone(),
                    new: new_value,
                },
            ));
        }
    }
    unwritable.into_result()?;
    Problems::checks(blocked).into_result()?;

    let mut edits: BTreeMap<String, FileEdit> = BTreeMap::new();
    for (file, changes) in by_file {
        let source = &repo.files[file];
        let spans: Vec<(std::ops::Range<usize>, String)> = changes
            .iter()
            .map(|(s, v, _)| (s.clone(), v.clone()))
            .collect();
        let after = edit::apply(&source.text, &spans)
            .with_context(|| format!("{}: overlapping version locations", source.rel))?;
        edits.insert(
            source.rel.clone(),
            FileEdit {
                path: source.rel.clone(),
                changes: changes.into_iter().map(|(_, _, c)| c).collect(),
                before: source.text.clone(),
                after,
            },
        );
    }

    let mut warnings: Vec<String> = Vec::new();
    for rel in changelogs(repo) {
        let (before, base) = match edits.get(&rel) {
            Some(e) => (e.before.clone(), e.after.clone()),
            None => {
                let text = std::fs::read_to_string(repo.root.join(&rel))
                    .with_context(|| format!("reading {rel}"))?;
                (text.clone(), text)
            }
        };
        match changelog::release(
            &base,
            &rel,
            &current.to_string(),
            &target.to_string(),
            &request.date,
        ) {
            Ok(released) => {
                warnings.extend(released.warnings);
                let (line, _) =
                    changelog::section(&released.text, &target.to_string()).unwrap_or((1, ""));
                let entry = edits.entry(rel.clone()).or_insert_with(|| FileEdit {
                    path: rel.clone(),
                    changes: Vec::new(),
                    before,
                    after: String::new(),
                });
                entry.after = released.text;
                entry.changes.push(Change {
                    line,
                    what: "changelog".into(),
                    old: "## [Unreleased]".into(),
                    new: format!("## [{target}] - {}", request.date),
                });
            }
            Err(changelog::ChangelogError::AlreadyReleased { line }) => {
                warnings.push(format!(
                    "{rel}:{line}: already has a section for {target}; left as it is"
                ));
            }
            Err(e) => {
                return Err(
                    Problems::checks(vec![Problem::in_file(&rel, e.to_string())
                .hint(
                    "add a `## [Unreleased]` heading, or remove the changelog from shiplane.toml",
                )])
                    .into(),
                )
            }
        }
    }

    let files: Vec<FileEdit> = edits.into_values().collect();
    Ok(BumpPlan::Change {
        from: current,
        to: target.clone(),
        plan: Plan {
            steps: vec![Step::EditFiles {
                purpose: format!("bump to {target}"),
                files,
            }],
        },
        warnings,
    })
}

/// The repository changelog and every product changelog, once each.
fn changelogs(repo: &Repo) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let release = repo
        .config
        .config
        .release
        .changelog
        .as_ref()
        .map(|c| c.get_ref().clone());
    for rel in release
        .into_iter()
        .chain(repo.products.iter().filter_map(|p| p.changelog.clone()))
    {
        if !out.contains(&rel) {
            out.push(rel);
        }
    }
    out
}

/// Rewrite a Cargo requirement on a released member for the new version, keeping its operator and
/// (for releases) its precision: `=1.2.3` → `=1.3.0`, `1.2` → `1.3`, `^1` → `^2`. A compound or
/// range requirement is left alone when it admits the new version, and is an error otherwise.
pub fn new_requirement(old: &str, new: &Version) -> std::result::Result<String, String> {
    let req =
        VersionReq::parse(old).map_err(|e| format!("`{old}` is not a version requirement: {e}"))?;
    let simple = match req.comparators.as_slice() {
        [c] if matches!(c.op, Op::Exact | Op::Caret | Op::Tilde) => Some(c),
        _ => None,
    };
    let Some(comparator) = simple else {
        return if req.matches(new) {
            Ok(old.to_string())
        } else {
            Err(format!("requirement `{old}` does not admit {new}"))
        };
    };
    let trimmed = old.trim();
    let op_len = trimmed.len() - trimmed.trim_start_matches(['=', '^', '~', ' ']).len();
    let op = &trimmed[..op_len];
    let precision =
        1 + usize::from(comparator.minor.is_some()) + usize::from(comparator.patch.is_some());
    let core = Version::new(new.major, new.minor, new.patch);
    let written = if !new.pre.is_empty() || !new.build.is_empty() || precision == 3 {
        Version {
            build: semver::BuildMetadata::EMPTY,
            ..new.clone()
        }
        .to_string()
    } else if precision == 2 {
        format!("{}.{}", core.major, core.minor)
    } else {
        core.major.to_string()
    };
    Ok(format!("{op}{written}"))
}

/// Serialisable result of `bump`.
#[derive(Debug, Serialize)]
struct BumpReport<'a> {
    status: &'static str,
    from: String,
    to: String,
    dry_run: bool,
    files: Vec<&'a FileEdit>,
    warnings: &'a [String],
}

/// Run `bump`: plan, then print (dry-run) or write.
pub fn run(repo: &Repo, request: &BumpRequest, mode: Mode, out: &Output) -> Result<()> {
    match plan(repo, request)? {
        BumpPlan::Unchanged { version } => {
            if out.json() {
                out.emit_json(&BumpReport {
                    status: "unchanged",
                    from: version.to_string(),
                    to: version.to_string(),
                    dry_run: mode == Mode::DryRun,
                    files: Vec::new(),
                    warnings: &[],
                })?;
            } else {
                out.say(format!("already at {version}: nothing to do"));
            }
            Ok(())
        }
        BumpPlan::Change {
            from,
            to,
            plan,
            warnings,
        } => {
            for note in &repo.notes {
                out.detail(format!("note: {note}"));
            }
            for w in &warnings {
                out.warn(w);
            }
            if mode == Mode::DryRun {
                out.say(format!(
                    "would bump {from} → {to} (dry run: nothing written)"
                ));
            }
            exec::run(&repo.root, &plan, mode, out)?;
            let files: Vec<&FileEdit> = plan.file_edits().collect();
            if out.json() {
                out.emit_json(&BumpReport {
                    status: if mode == Mode::DryRun {
                        "planned"
                    } else {
                        "bumped"
                    },
                    from: from.to_string(),
                    to: to.to_string(),
                    dry_run: mode == Mode::DryRun,
                    files: files.clone(),
                    warnings: &warnings,
                })?;
            } else if mode == Mode::Execute {
                let changes: usize = files.iter().map(|f| f.changes.len()).sum();
                out.say(format!(
                    "bumped {from} → {to}: {changes} value(s) in {} file(s)",
                    files.len()
                ));
                for f in &files {
                    for c in &f.changes {
                        out.detail(format!(
                            "  {}:{}  {}  {} → {}",
                            f.path, c.line, c.what, c.old, c.new
                        ));
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn requirements_keep_operator_and_precision() {
        assert_eq!(new_requirement("=1.2.3", &v("1.3.0")).unwrap(), "=1.3.0");
        assert_eq!(new_requirement("1.2.3", &v("1.3.0")).unwrap(), "1.3.0");
        assert_eq!(new_requirement("^1.2", &v("1.3.0")).unwrap(), "^1.3");
        assert_eq!(new_requirement("~1", &v("2.0.0")).unwrap(), "~2");
        assert_eq!(
            new_requirement("1.2", &v("1.3.0-rc.1")).unwrap(),
            "1.3.0-rc.1"
        );
        assert_eq!(
            new_requirement(">=1.0, <3", &v("2.0.0")).unwrap(),
            ">=1.0, <3"
        );
        assert!(new_requirement(">=1.0, <2", &v("2.0.0"))
            .unwrap_err()
            .contains("does not admit"));
    }
}
