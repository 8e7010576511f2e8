//! All-or-nothing multi-file writes that survive being killed at any instant.
//!
//! A transaction lives in `<root>/.shiplane-txn/` while it runs:
//!
//! 1. **prepare**: `journal.json` (phase `prepare`, the owner's PID, every target with its staging
//!    file `<dir>/.<name>.shiplane-new`) is written into a private directory
//!    `.shiplane-txn.<pid>`, which is then renamed to `.shiplane-txn`. That rename is the lock:
//!    it fails while another transaction's directory exists, and the journal directory is never
//!    seen without its journal.
//! 2. every new content is written to its staging file (same directory as the target, so the later
//!    rename is atomic), with the target's permissions.
//! 3. **commit point**: the journal is rewritten with phase `commit`.
//! 4. each staging file is renamed over its target (`rename(2)` is atomic: a reader sees the old
//!    file or the new one, never a mix or a truncation).
//! 5. the journal directory is removed.
//!
//! Recovery ([`recover`], run before every command): a journal in phase `prepare` (or none yet)
//! means the commit point was not reached, so staging files are deleted and every target is still
//! old — **rolled back**. A journal in phase `commit` means every staging file is complete, so the
//! remaining renames are done — **rolled forward**. Either way the set of files ends wholly old or
//! wholly new. docs/design/transactions.md explains the design.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The journal directory's name at the repository root.
pub const DIR: &str = ".shiplane-txn";
const JOURNAL: &str = "journal.json";
const STAGE_SUFFIX: &str = ".shiplane-new";

/// One file to replace: its path relative to the root and its complete new contents.
#[derive(Debug, Clone)]
pub struct FileWrite {
    pub rel: String,
    pub contents: Vec<u8>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    phase: Phase,
    /// The process that owns the transaction; recovery leaves a live owner alone.
    pid: u32,
    /// What the transaction was doing, for the recovery message.
    purpose: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Phase {
    Prepare,
    Commit,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    target: String,
    staged: String,
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The interrupted transaction had not reached its commit point: nothing had changed.
    RolledBack { purpose: String, files: usize },
    /// It had: the remaining renames were completed.
    RolledForward { purpose: String, files: usize },
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recovery::RolledBack { purpose, files } => write!(
                f,
                "an interrupted {purpose} was rolled back: its {files} file(s) are unchanged"
            ),
            Recovery::RolledForward { purpose, files } => write!(
                f,
                "an interrupted {purpose} was completed: all {files} file(s) now hold the new contents"
            ),
        }
    }
}

/// Where a target's staging file goes: beside it, hidden, so the rename stays on one filesystem.
fn staged_path(rel: &str) -> String {
    match rel.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/.{name}{STAGE_SUFFIX}"),
        None => format!(".{rel}{STAGE_SUFFIX}"),
    }
}

fn write_journal(dir: &Path, journal: &Journal) -> Result<()> {
    let tmp = dir.join("journal.json.tmp");
    let bytes = serde_json::to_vec_pretty(journal)?;
    let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(JOURNAL))
        .with_context(|| format!("writing {}", dir.join(JOURNAL).display()))?;
    sync_dir(dir);
    Ok(())
}

/// Make a rename durable (best effort: not every platform can open a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write every file or none. `purpose` names the operation in recovery messages (e.g. "bump to 1.3.0").
///
/// Before the commit point any error rolls back (staging files removed); after it, the renames of
/// already-complete files are retried by the next run's [`recover`] if this process dies.
pub fn commit(root: &Path, purpose: &str, writes: &[FileWrite]) -> Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let dir = root.join(DIR);
    let mut journal = Journal {
        phase: Phase::Prepare,
        pid: std::process::id(),
        purpose: purpose.to_string(),
        entries: writes
            .iter()
            .map(|w| Entry {
                target: w.rel.clone(),
                staged: staged_path(&w.rel),
            })
            .collect(),
    };
    let private = root.join(format!("{DIR}.{}", journal.pid));
    let _ = fs::remove_dir_all(&private);
    fs::create_dir(&private).with_context(|| format!("creating {}", private.display()))?;
    if let Err(e) = write_journal(&private, &journal) {
        let _ = fs::remove_dir_all(&private);
        return Err(e.context("nothing was changed"));
    }
    if let Err(e) = fs::rename(&private, &dir) {
        let _ = fs::remove_dir_all(&private);
        return Err(e).with_context(|| {
            format!(
                "cannot start a transaction: {} exists (another shiplane run is writing, or one was interrupted: run shiplane again to recover it)",
                dir.display()
            )
        });
    }
    sync_dir(root);
    let staged = (|| -> Result<()> {
        for (w, e) in writes.iter().zip(&journal.entries) {
            let target = root.join(&e.target);
            let staged = root.join(&e.staged);
            let permissions = fs::metadata(&target).ok().map(|m| m.permissions());
            let mut f =
                fs::File::create(&staged).with_context(|| format!("staging {}", e.target))?;
            f.write_all(&w.contents)
                .with_context(|| format!("staging {}", e.target))?;
            if fsync_files() {
                f.sync_data()
                    .with_context(|| format!("flushing {}", e.target))?;
            }
            drop(f);
            if let Some(p) = permissions {
                fs::set_permissions(&staged, p)
                    .with_context(|| format!("copying permissions of {}", e.target))?;
            }
        }
        journal.phase = Phase::Commit;
        write_journal(&dir, &journal)
    })();
    if let Err(e) = staged {
        for entry in &journal.entries {
            let _ = fs::remove_file(root.join(&entry.staged));
        }
        let _ = fs::remove_dir_all(&dir);
        return Err(e.context("nothing was changed"));
    }
    finish(root, &journal)?;
    Ok(())
}

/// Do the renames of a committed journal (those not done yet) and remove it.
fn finish(root: &Path, journal: &Journal) -> Result<()> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for e in &journal.entries {
        let staged = root.join(&e.staged);
        let target = root.join(&e.target);
        if staged.exists() {
            fs::rename(&staged, &target).with_context(|| {
                format!(
                    "renaming {} over {} (run shiplane again to finish the committed change)",
                    e.staged, e.target
                )
            })?;
        } else if !target.exists() {
            bail!(
                "{} is missing after a committed transaction, and so is its staging file",
                e.target
            );
        }
        if let Some(parent) = target.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    for d in &dirs {
        sync_dir(d);
    }
    fs::remove_dir_all(root.join(DIR))
        .with_context(|| format!("removing {}", root.join(DIR).display()))?;
    sync_dir(root);
    Ok(())
}

/// Complete or roll back a transaction an earlier run left behind. `Ok(None)` when there is none.
pub fn recover(root: &Path) -> Result<Option<Recovery>> {
    remove_stale_private_dirs(root);
    let dir = root.join(DIR);
    if !dir.is_dir() {
        return Ok(None);
    }
    let journal_path = dir.join(JOURNAL);
    let journal: Option<Journal> = match fs::read(&journal_path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is damaged; inspect it, then remove {}",
                journal_path.display(),
                dir.display()
            )
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", journal_path.display())),
    };
    match journal {
        // Only an empty directory left by hand or by another tool: nothing was staged.
        None => {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            Ok(Some(Recovery::RolledBack {
                purpose: "write".into(),
                files: 0,
            }))
        }
        Some(j) if j.pid != std::process::id() && process_alive(j.pid) => bail!(
            "another shiplane run (pid {}) is in the middle of a {}; wait for it to finish (if no such run exists, remove {})",
            j.pid,
            j.purpose,
            dir.display()
        ),
        Some(j) if j.phase == Phase::Prepare => {
            for e in &j.entries {
                match fs::remove_file(root.join(&e.staged)) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(err).with_context(|| format!("removing {}", e.staged)),
                }
            }
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            Ok(Some(Recovery::RolledBack {
                purpose: j.purpose,
                files: j.entries.len(),
            }))
        }
        Some(j) => {
            finish(root, &j)?;
            Ok(Some(Recovery::RolledForward {
                purpose: j.purpose,
                files: j.entries.len(),
            }))
        }
    }
}

/// `.shiplane-txn.<pid>` directories of runs killed before their journal was published hold no
/// staged file yet: remove those whose process is gone.
fn remove_stale_private_dirs(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let prefix = format!("{DIR}.");
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || !process_alive(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a process with this PID exists (Linux: `/proc/<pid>`). Elsewhere Shiplane cannot tell
/// and assumes it is gone, so recovery proceeds.
fn process_alive(pid: u32) -> bool {
    cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists()
}

/// Flush every staged file to disk before the commit point (`SHIPLANE_FSYNC=1`). Off by default:
/// atomicity against a killed process does not need it (renames are atomic either way), and on
/// ext4/xfs a rename over an existing file already orders the data before it; turn it on for
/// power-loss durability on other filesystems, at the cost of one flush per file.
fn fsync_files() -> bool {
    std::env::var_os("SHIPLANE_FSYNC").is_some_and(|v| v == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_writes_all_and_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("a")).unwrap();
        fs::write(dir.path().join("a/x.txt"), "old x").unwrap();
        fs::write(dir.path().join("y.txt"), "old y").unwrap();
        let writes = vec![
            FileWrite {
                rel: "a/x.txt".into(),
                contents: b"new x".to_vec(),
            },
            FileWrite {
                rel: "y.txt".into(),
                contents: b"new y".to_vec(),
            },
        ];
        commit(dir.path(), "test", &writes).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("a/x.txt")).unwrap(),
            "new x"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("y.txt")).unwrap(),
            "new y"
        );
        assert!(!dir.path().join(DIR).exists());
        assert!(!dir.path().join("a/.x.txt.shiplane-new").exists());
        assert_eq!(recover(dir.path()).unwrap(), None);
    }

    #[test]
    fn failure_before_commit_point_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("y.txt"), "old y").unwrap();
        let writes = vec![
            FileWrite {
                rel: "y.txt".into(),
                contents: b"new y".to_vec(),
            },
            FileWrite {
                rel: "missing-dir/z.txt".into(),
                contents: b"z".to_vec(),
            },
        ];
        let err = commit(dir.path(), "test", &writes).unwrap_err();
        assert!(
            format!("{err:#}").contains("nothing was changed"),
            "{err:#}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("y.txt")).unwrap(),
            "old y"
        );
        assert!(!dir.path().join(".y.txt.shiplane-new").exists());
        assert!(!dir.path().join(DIR).exists());
    }

    fn journal_with(root: &Path, phase: Phase, staged_content: Option<&str>) {
        fs::write(root.join("y.txt"), "old y").unwrap();
        if let Some(c) = staged_content {
            fs::write(root.join(".y.txt.shiplane-new"), c).unwrap();
        }
        fs::create_dir(root.join(DIR)).unwrap();
        let journal = Journal {
            phase,
            pid: u32::MAX - 1,
            purpose: "bump to 2.0.0".into(),
            entries: vec![Entry {
                target: "y.txt".into(),
                staged: ".y.txt.shiplane-new".into(),
            }],
        };
        write_journal(&root.join(DIR), &journal).unwrap();
    }

    #[test]
    fn recover_rolls_back_a_prepared_journal() {
        let dir = tempfile::tempdir().unwrap();
        journal_with(dir.path(), Phase::Prepare, Some("new y (partial"));
        let r = recover(dir.path()).unwrap().unwrap();
        assert_eq!(
            r,
            Recovery::RolledBack {
                purpose: "bump to 2.0.0".into(),
                files: 1
            }
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("y.txt")).unwrap(),
            "old y"
        );
        assert!(!dir.path().join(".y.txt.shiplane-new").exists());
        assert!(!dir.path().join(DIR).exists());
    }

    #[test]
    fn recover_leaves_a_live_owners_transaction_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        fs::write(dir.path().join("y.txt"), "old y").unwrap();
        fs::write(dir.path().join(".y.txt.shiplane-new"), "new y").unwrap();
        fs::create_dir(dir.path().join(DIR)).unwrap();
        let journal = Journal {
            phase: Phase::Prepare,
            pid: child.id(),
            purpose: "bump to 2.0.0".into(),
            entries: vec![Entry {
                target: "y.txt".into(),
                staged: ".y.txt.shiplane-new".into(),
            }],
        };
        write_journal(&dir.path().join(DIR), &journal).unwrap();
        let err = recover(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("another shiplane run (pid {})", child.id())),
            "{err}"
        );
        assert!(
            dir.path().join(".y.txt.shiplane-new").exists(),
            "a live transaction is not touched"
        );
        assert!(commit(
            dir.path(),
            "second",
            &[FileWrite {
                rel: "y.txt".into(),
                contents: b"x".to_vec()
            }]
        )
        .is_err());
        assert_eq!(
            fs::read_to_string(dir.path().join("y.txt")).unwrap(),
            "old y"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(matches!(
            recover(dir.path()).unwrap(),
            Some(Recovery::RolledBack { .. })
        ));
        assert!(!dir.path().join(".shiplane-txn.1").exists());
    }

    #[test]
    fn recover_rolls_forward_a_committed_journal() {
        let dir = tempfile::tempdir().unwrap();
        journal_with(dir.path(), Phase::Commit, Some("new y"));
        let r = recover(dir.path()).unwrap().unwrap();
        assert!(r.to_string().contains("completed"), "{r}");
        assert_eq!(
            fs::read_to_string(dir.path().join("y.txt")).unwrap(),
            "new y"
        );
        assert!(!dir.path().join(DIR).exists());
    }
}
