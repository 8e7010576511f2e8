//! The process killed (SIGKILL) at random points during a bump of 400 files never leaves a truncated
//! or half-written file, and the next run detects the interrupted bump and completes or rolls it
//! back, so the set ends wholly old or wholly new.
//!
//! Reproduce a run with `KILL_TEST_SEED=<seed printed by the run>`; see the outcome counts with
//! `cargo test --test kill -- --nocapture` (`KILL_TEST_VERBOSE=1` also prints every kill).
#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::generate;

/// Crates of the generated workspace: with the root manifest and Cargo.lock, 402 files move.
const CRATES: usize = 400;
/// Give up (and fail) after this many kills.
const MAX_ITERATIONS: usize = 300;
/// Each recovery kind must be seen at least this often.
const NEED: usize = 3;
/// Kills are spread over `[0, SPREAD × D]`, D the duration of a whole bump.
const SPREAD: f64 = 1.2;
/// Time a whole bump again every this many kills.
const RECALIBRATE: usize = 25;

/// xorshift64: small, seeded, good enough to spread kill instants.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seed() -> u64 {
    match std::env::var("KILL_TEST_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("KILL_TEST_SEED={s:?} is not a u64")),
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            (nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Killed before the transaction began: no recovery, nothing changed.
    Untouched,
    /// Killed before the commit point: the next run rolled back.
    RolledBack,
    /// Killed after the commit point: the next run completed the renames.
    Completed,
    /// The bump was done (exited, or killed after its last step) before the kill.
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Old,
    New,
}

/// The bumped files' contents at one version.
struct Snapshot {
    version: String,
    contents: Vec<String>,
}

impl Snapshot {
    fn read(dir: &Path, files: &[String], version: &str) -> Snapshot {
        Snapshot {
            version: version.to_string(),
            contents: files
                .iter()
                .map(|f| fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
                .collect(),
        }
    }

    /// What a bump to `to` writes: in a generated workspace every occurrence of the version is a
    /// string value (`"1.0.3"`, `"=1.0.3"`), so the new contents replace `<version>"`.
    fn bumped(&self, to: &str) -> Snapshot {
        let from = format!("{}\"", self.version);
        let into = format!("{to}\"");
        Snapshot {
            version: to.to_string(),
            contents: self
                .contents
                .iter()
                .map(|c| c.replace(&from, &into))
                .collect(),
        }
    }
}

/// `current`, `agree` and the first problems of a versions report (the locations are too many to
/// print).
fn brief(v: &support::Versions) -> String {
    let problems = v.json["problems"].as_array().cloned().unwrap_or_default();
    let first: Vec<String> = problems.iter().take(5).map(|p| p.to_string()).collect();
    format!(
        "current {}, agree {}, {} problem(s): {}",
        v.json["current"],
        v.json["agree"],
        problems.len(),
        first.join("; ")
    )
}

fn bump_command(dir: &Path, version: &str, fsync: bool) -> Command {
    let mut cmd = support::shiplane_command(dir);
    cmd.args(["bump", version])
        .env("SHIPLANE_FSYNC", if fsync { "1" } else { "0" })
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// One whole bump, timed from spawn to exit.
fn timed_bump(dir: &Path, version: &str, fsync: bool) -> Duration {
    let start = Instant::now();
    let out = bump_command(dir, version, fsync)
        .stderr(Stdio::piped())
        .output()
        .expect("running shiplane bump");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "shiplane bump {version} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Every check on a settled repository (after the recovering run): the stray-file scan, every
/// bumped file wholly at `old` or wholly at `new` (all on the same side), every one valid TOML.
fn check_files(
    dir: &Path,
    files: &[String],
    expected_tree: &[String],
    old: &Snapshot,
    new: &Snapshot,
    context: &str,
) -> Side {
    assert!(
        !dir.join(".shiplane-txn").exists(),
        "{context}: .shiplane-txn remains after recovery"
    );
    // Nor a private `.shiplane-txn.<pid>` directory (empty ones do not show in the walk below).
    let leftovers: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".shiplane-txn"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "{context}: transaction directories remain after recovery: {leftovers:?}"
    );
    let tree = support::walk(dir, &[]);
    let stray: Vec<&String> = tree.iter().filter(|f| !expected_tree.contains(f)).collect();
    assert!(
        stray.is_empty(),
        "{context}: unexpected files remain (staging files?): {stray:?}"
    );
    assert_eq!(tree, expected_tree, "{context}: files went missing");

    let mut sides: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let text =
            fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{context}: {f}: {e}"));
        if let Err(e) = text.parse::<toml_edit::DocumentMut>() {
            panic!("{context}: {f} is not valid TOML (truncated?): {e}\n{text}");
        }
        let side = if text == old.contents[i] {
            "old"
        } else if text == new.contents[i] {
            "new"
        } else {
            panic!(
                "{context}: {f} is neither its {} contents nor its {} contents (half-written?):\n{text}",
                old.version, new.version
            );
        };
        sides.entry(side).or_default().push(f);
    }
    assert_eq!(
        sides.len(),
        1,
        "{context}: a mix of old ({}) and new ({}) files, e.g. old: {:?}, new: {:?}",
        sides.get("old").map_or(0, Vec::len),
        sides.get("new").map_or(0, Vec::len),
        sides.get("old").and_then(|v| v.first()),
        sides.get("new").and_then(|v| v.first()),
    );
    if sides.contains_key("old") {
        Side::Old
    } else {
        Side::New
    }
}

/// One whole bump in each fsync mode (the next two patch versions), each checked against the
/// predicted new contents: how long each took, `[plain, SHIPLANE_FSYNC=1]`.
fn calibrate(
    dir: &Path,
    files: &[String],
    expected_tree: &[String],
    current: &mut Snapshot,
    patch: &mut u64,
) -> [Duration; 2] {
    let mut durations = [Duration::ZERO; 2];
    for fsync in [false, true] {
        *patch += 1;
        let to = format!("1.0.{patch}");
        let predicted = current.bumped(&to);
        durations[usize::from(fsync)] = timed_bump(dir, &to, fsync);
        let side = check_files(
            dir,
            files,
            expected_tree,
            current,
            &predicted,
            &format!("whole bump to {to}"),
        );
        assert_eq!(side, Side::New, "the bump to {to} wrote nothing");
        *current = predicted;
    }
    durations
}

#[test]
fn killed_bumps_leave_all_old_or_all_new() {
    let test_start = Instant::now();
    let seed = seed();
    println!("kill test seed: {seed} (reproduce with KILL_TEST_SEED={seed})");
    let mut rng = XorShift(seed);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    fs::create_dir(&dir).unwrap();
    generate::cargo_workspace(&dir, CRATES, "1.0.0").unwrap();
    let files = generate::bumped_files(CRATES);
    assert_eq!(files.len(), 402);
    let expected_tree = support::walk(&dir, &[]);
    let logs = tempfile::tempdir().unwrap();
    let stderr_log = logs.path().join("bump.stderr");

    // Calibration: one whole bump in each fsync mode; also checks the predicted new contents.
    let mut current = Snapshot::read(&dir, &files, "1.0.0");
    let mut patch = 0u64;
    let mut durations = calibrate(&dir, &files, &expected_tree, &mut current, &mut patch);
    println!(
        "a whole bump of {} files takes {:?} (SHIPLANE_FSYNC=1: {:?})",
        files.len(),
        durations[0],
        durations[1]
    );

    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut fsync_counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut iterations = 0;
    let enough = |c: &BTreeMap<Outcome, usize>| {
        c.get(&Outcome::RolledBack).copied().unwrap_or(0) >= NEED
            && c.get(&Outcome::Completed).copied().unwrap_or(0) >= NEED
    };
    while !enough(&counts) && iterations < MAX_ITERATIONS {
        iterations += 1;
        if iterations % RECALIBRATE == 0 {
            // Other work on the machine changes how long a bump takes: time it again.
            durations = calibrate(&dir, &files, &expected_tree, &mut current, &mut patch);
        }
        patch += 1;
        let to = format!("1.0.{patch}");
        let fsync = iterations % 2 == 0;
        let d = durations[usize::from(fsync)];
        let delay = d.mul_f64(SPREAD * rng.unit());
        let context = format!(
            "iteration {iterations} (seed {seed}): bump {} -> {to}, SHIPLANE_FSYNC={}, killed after {delay:?}",
            current.version,
            u8::from(fsync)
        );
        let new = current.bumped(&to);

        let mut child = bump_command(&dir, &to, fsync)
            .stderr(fs::File::create(&stderr_log).unwrap())
            .spawn()
            .expect("spawning shiplane bump");
        std::thread::sleep(delay);
        let exited_first = child.try_wait().unwrap();
        child.kill().unwrap(); // SIGKILL; harmless when the child has exited
        let status = child.wait().unwrap();
        let killed = std::os::unix::process::ExitStatusExt::signal(&status).is_some();
        assert!(
            killed || status.success(),
            "{context}: bump failed on its own ({status}): {}",
            fs::read_to_string(&stderr_log).unwrap_or_default()
        );

        let v = support::versions(&dir);
        assert_eq!(
            v.exit_code,
            Some(0),
            "{context}: versions after the kill failed: {}\n{}",
            brief(&v),
            v.stderr
        );
        assert!(v.agree(), "{context}: locations disagree: {}", brief(&v));
        let side = check_files(&dir, &files, &expected_tree, &current, &new, &context);
        let reported = v.current().unwrap_or_default().to_string();
        let expected_version = match side {
            Side::Old => &current.version,
            Side::New => &new.version,
        };
        assert_eq!(
            &reported, expected_version,
            "{context}: versions reports {reported}, files are at {expected_version}"
        );

        let rolled_back = v.stderr.contains("rolled back");
        let completed = v.stderr.contains("completed");
        let outcome = match (rolled_back, completed, side) {
            (true, false, Side::Old) => Outcome::RolledBack,
            (false, true, Side::New) => Outcome::Completed,
            (false, false, Side::Old) => Outcome::Untouched,
            (false, false, Side::New) => Outcome::Finished,
            _ => panic!(
                "{context}: recovery message does not match the files ({side:?}): {}",
                v.stderr
            ),
        };
        // A bump that exited on its own (before or during the kill) must have finished.
        assert!(
            killed || outcome == Outcome::Finished,
            "{context}: bump exited successfully (exited before the kill: {}) but left {outcome:?}",
            exited_first.is_some()
        );
        if std::env::var_os("KILL_TEST_VERBOSE").is_some() {
            println!("{context}: {outcome:?}");
        }
        *counts.entry(outcome).or_default() += 1;
        if fsync {
            *fsync_counts.entry(outcome).or_default() += 1;
        }
        if side == Side::New {
            current = new;
        }
    }

    let summary: Vec<String> = [
        Outcome::Untouched,
        Outcome::RolledBack,
        Outcome::Completed,
        Outcome::Finished,
    ]
    .iter()
    .map(|o| {
        format!(
            "{o:?}: {} ({} with SHIPLANE_FSYNC=1)",
            counts.get(o).copied().unwrap_or(0),
            fsync_counts.get(o).copied().unwrap_or(0)
        )
    })
    .collect();
    println!(
        "{iterations} kills in {:?}, final version {}: {}",
        test_start.elapsed(),
        current.version,
        summary.join(", ")
    );
    assert!(
        enough(&counts),
        "after {iterations} kills (seed {seed}) recovery was not exercised enough: need {NEED} each of RolledBack and Completed; {}",
        summary.join(", ")
    );

    // The final state is one Cargo accepts as it stands: the lock agrees with the manifests.
    let out = Command::new(generate::cargo())
        .args(["metadata", "--offline", "--locked", "--format-version", "1"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata --locked fails on the final state: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
