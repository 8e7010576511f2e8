//! All-or-nothing multi-file writes that survive being killed at any instant.
//!
//! A transaction lives in `<root>/.shiplane-txn/` while it runs:
//!
//! 1. **prepare and lock**: a private directory `.shiplane-txn.<pid>/` gets a `lock` file, locked
//!    exclusively (`flock`) for the whole transaction, and `journal.json`: phase `prepare`, the
//!    owner's PID, and every target with its staging file `<dir>/.<name>.shiplane-new` and the
//!    length and FNV-1a hash of its new contents. The directory is then renamed to
//!    `.shiplane-txn`: that rename fails while another transaction exists, and the journal
//!    directory is never seen without its journal.
//! 2. **stage**: every new content is written to its staging file (beside the target, so the
//!    later rename stays on one filesystem), with the target's permissions.
//! 3. **commit point**: the journal is rewritten (temp file + rename) with phase `commit`.
//! 4. **rename**: each staging file is renamed over its target (`rename(2)` is atomic: a reader
//!    sees the old file or the new one, never a mix or a truncation).
//! 5. the journal directory is removed, then the lock released.
//!
//! Recovery ([`recover`], run before every command) leaves a transaction alone while its owner
//! holds the lock (the kernel drops the lock when a process dies, whatever its PID becomes). Else a
//! journal in phase `prepare` means the commit point was not reached: staging files are deleted
//! and every target is still old — **rolled back**. A journal in phase `commit` means every
//! staging file was complete: each remaining one is checked against its recorded length and hash,
//! then renamed — **rolled forward**; a staging file that fails the check (data lost to a power
//! cut) stops recovery with the list of files, never installs a damaged file. Either way the set
//! of files ends wholly old or wholly new. docs/design/transactions.md explains the design.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The journal directory's name at the repository root.
pub const DIR: &str = ".shiplane-txn";
const JOURNAL: &str = "journal.json";
const LOCK: &str = "lock";
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
    /// The process that owns the transaction (for messages; liveness is the lock's job).
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
    /// Length and FNV-1a 64 hash (hex) of the new contents, checked before a roll-forward.
    len: u64,
    hash: String,
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

/// FNV-1a, 64 bits: a fast, dependency-free check that a staged file holds what was written.
fn fnv1a64(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
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

/// Take the transaction lock in `dir`: `Ok(Some(file))` holds it, `Ok(None)` means a live process
/// holds it. A directory without a lock file has no live owner: the lock file is created.
fn try_lock(dir: &Path) -> Result<Option<fs::File>> {
    let path = dir.join(LOCK);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
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
                len: w.contents.len() as u64,
                hash: fnv1a64(&w.contents),
            })
            .collect(),
    };
    let private = root.join(format!("{DIR}.{}", journal.pid));
    let _ = fs::remove_dir_all(&private);
    fs::create_dir(&private).with_context(|| format!("creating {}", private.display()))?;
    let prepared = try_lock(&private).and_then(|lock| {
        let lock = lock.context("a fresh lock file is already locked")?;
        write_journal(&private, &journal)?;
        Ok(lock)
    });
    let _lock = match prepared {
        Ok(lock) => lock,
        Err(e) => {
            let _ = fs::remove_dir_all(&private);
            return Err(e.context("nothing was changed"));
        }
    };
    if let Err(e) = fs::rename(&private, &dir) {
        let _ = fs::remove_dir_all(&private);
        return Err(e).with_context(|| {
            format!(
                "cannot start a transaction: {} exists (another shiplane run is writing, or one was interrupted: run shiplane again to recover it)",
                dir.display()
            )
        });
    }
    let staged = stage_all(root, writes, &journal.entries).and_then(|()| {
        journal.phase = Phase::Commit;
        write_journal(&dir, &journal)
    });
    if let Err(e) = staged {
        for entry in &journal.entries {
            let _ = fs::remove_file(root.join(&entry.staged));
        }
        let _ = fs::remove_dir_all(&dir);
        return Err(e.context("nothing was changed"));
    }
    finish(root, &journal, false)
}

/// Staging is bound by file creation in the kernel, not by CPU: on a 2-core VM, 400 files took
/// ~300 ms with one thread, ~225 ms with 2 and ~215 ms with 4 (8 was no better).
const STAGING_THREADS: usize = 4;

/// Write every staging file, a few at a time (the work is system calls, so threads overlap them).
fn stage_all(root: &Path, writes: &[FileWrite], entries: &[Entry]) -> Result<()> {
    let pairs: Vec<(&FileWrite, &Entry)> = writes.iter().zip(entries).collect();
    let threads = STAGING_THREADS;
    let chunk = pairs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().try_for_each(|(w, e)| stage_one(root, w, e)))
            })
            .collect();
        handles.into_iter().try_for_each(|h| match h.join() {
            Ok(result) => result,
            Err(_) => bail!("a staging thread panicked"),
        })
    })
}

fn stage_one(root: &Path, write: &FileWrite, entry: &Entry) -> Result<()> {
    let target = root.join(&entry.target);
    let staged = root.join(&entry.staged);
    let mut f = fs::File::create(&staged).with_context(|| format!("staging {}", entry.target))?;
    f.write_all(&write.contents)
        .with_context(|| format!("staging {}", entry.target))?;
    if fsync_files() {
        f.sync_data()
            .with_context(|| format!("flushing {}", entry.target))?;
    }
    // Keep the target's permissions (an executable script stays executable).
    if let Ok(wanted) = fs::metadata(&target).map(|m| m.permissions()) {
        if f.metadata().map(|m| m.permissions()).ok().as_ref() != Some(&wanted) {
            fs::set_permissions(&staged, wanted)
                .with_context(|| format!("copying permissions of {}", entry.target))?;
        }
    }
    Ok(())
}

/// Do the renames of a committed journal (those not done yet) and remove it. With `verify`
/// (recovery), every remaining staging file is first checked against its recorded length and
/// hash, and nothing is renamed unless all pass.
fn finish(root: &Path, journal: &Journal, verify: bool) -> Result<()> {
    if verify {
        let mut damaged = Vec::new();
        for e in &journal.entries {
            match fs::read(root.join(&e.staged)) {
                Ok(bytes) if bytes.len() as u64 == e.len && fnv1a64(&bytes) == e.hash => {}
                Ok(_) => damaged.push(e.staged.clone()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err).with_context(|| format!("reading {}", e.staged)),
            }
        }
        if !damaged.is_empty() {
            bail!(
                "the interrupted {} cannot be completed: {} staged file(s) do not hold what was written (lost in a crash before reaching the disk?): {}\n  fix: nothing was renamed by this run; restore the files with `git checkout -- .` (or `git stash`), remove {} and the staged files, and run the command again",
                journal.purpose,
                damaged.len(),
                damaged.join(", "),
                root.join(DIR).display()
            );
        }
    }
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
    if fsync_files() {
        for d in &dirs {
            sync_dir(d);
        }
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
    // Hold the lock while recovering, so two recoveries never race either.
    let Some(_lock) = try_lock(&dir)? else {
        let (pid, purpose) = journal
            .as_ref()
            .map_or((0, "write".to_string()), |j| (j.pid, j.purpose.clone()));
        bail!(
            "another shiplane run (pid {pid}) is in the middle of a {purpose}; wait for it to finish"
        );
    };
    match journal {
        // A directory left by hand or by another tool: Shiplane never publishes one without a journal.
        None => {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            Ok(Some(Recovery::RolledBack {
                purpose: "write".into(),
                files: 0,
            }))
        }
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
            finish(root, &j, true)?;
            Ok(Some(Recovery::RolledForward {
                purpose: j.purpose,
                files: j.entries.len(),
            }))
        }
    }
}

/// `.shiplane-txn.<pid>` directories of runs killed before their journal was published hold no
/// staged file yet: remove those whose owner is gone (their lock is free).
fn remove_stale_private_dirs(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let prefix = format!("{DIR}.");
    for entry in entries.filter_map(Result::ok) {
        let is_private = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .is_some_and(|pid| pid.parse::<u32>().is_ok());
        if is_private && matches!(try_lock(&entry.path()), Ok(Some(_))) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Flush every staged file and directory to disk (`SHIPLANE_FSYNC=1`). Off by default: atomicity
/// against a killed process does not need it (renames are atomic either way); it protects against
/// power loss, at the cost of one flush per file. Without it, a crash of the machine right after
/// the commit point can leave staged data unwritten; recovery then detects the damage by hash
/// and refuses to install it.
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
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "only a/ and y.txt remain: {left:?}");
        assert!(!dir.path().join("a/.x.txt.shiplane-new").exists());
        assert_eq!(recover(dir.path()).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("run.sh"), "echo 1").unwrap();
        fs::set_permissions(dir.path().join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        commit(
            dir.path(),
            "test",
            &[FileWrite {
                rel: "run.sh".into(),
                contents: b"echo 2".to_vec(),
            }],
        )
        .unwrap();
        let mode = fs::metadata(dir.path().join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
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

    fn entry(new: &str) -> Entry {
        Entry {
            target: "y.txt".into(),
            staged: ".y.txt.shiplane-new".into(),
            len: new.len() as u64,
            hash: fnv1a64(new.as_bytes()),
        }
    }

    /// A transaction left behind: y.txt old, its staging file holding `staged`, the journal
    /// recording "new y" as the intended contents.
    fn journal_with(root: &Path, phase: Phase, staged: Option<&str>) {
        fs::write(root.join("y.txt"), "old y").unwrap();
        if let Some(c) = staged {
            fs::write(root.join(".y.txt.shiplane-new"), c).unwrap();
        }
        fs::create_dir(root.join(DIR)).unwrap();
        let journal = Journal {
            phase,
            pid: 4242,
            purpose: "bump to 2.0.0".into(),
            entries: vec![entry("new y")],
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

    #[test]
    fn recover_refuses_to_install_a_damaged_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        journal_with(dir.path(), Phase::Commit, Some(""));
        let err = format!("{:#}", recover(dir.path()).unwrap_err());
        assert!(
            err.contains("cannot be completed") && err.contains(".y.txt.shiplane-new"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("y.txt")).unwrap(),
            "old y",
            "nothing renamed"
        );
        assert!(
            dir.path().join(DIR).exists(),
            "the journal stays for inspection"
        );
    }

    #[test]
    fn recover_leaves_a_live_owners_transaction_alone() {
        let dir = tempfile::tempdir().unwrap();
        journal_with(dir.path(), Phase::Prepare, Some("new y"));
        // The owner: another open file description holding the lock, as a running process would.
        let owner = try_lock(&dir.path().join(DIR)).unwrap().expect("free");
        let err = recover(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("another shiplane run (pid 4242) is in the middle of a bump to 2.0.0"),
            "{err}"
        );
        assert!(
            dir.path().join(".y.txt.shiplane-new").exists(),
            "a live transaction is not touched"
        );
        let second = commit(
            dir.path(),
            "second",
            &[FileWrite {
                rel: "y.txt".into(),
                contents: b"x".to_vec(),
            }],
        );
        assert!(format!("{:#}", second.unwrap_err()).contains("cannot start a transaction"));
        assert_eq!(
            fs::read_to_string(dir.path().join("y.txt")).unwrap(),
            "old y"
        );
        drop(owner);
        assert!(matches!(
            recover(dir.path()).unwrap(),
            Some(Recovery::RolledBack { .. })
        ));
        assert!(!dir
            .path()
            .join(format!("{DIR}.{}", std::process::id()))
            .exists());
    }

    #[test]
    fn stale_private_directories_are_removed_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!("{DIR}.111"));
        let live = dir.path().join(format!("{DIR}.222"));
        fs::create_dir(&stale).unwrap();
        fs::create_dir(&live).unwrap();
        let _held = try_lock(&live).unwrap().expect("free");
        assert_eq!(recover(dir.path()).unwrap(), None);
        assert!(!stale.exists());
        assert!(live.exists());
    }

    #[test]
    fn fnv1a64_known_values() {
        assert_eq!(fnv1a64(b""), "cbf29ce484222325");
        assert_eq!(fnv1a64(b"a"), "af63dc4c8601ec8c");
    }
}
