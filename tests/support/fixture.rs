//! Fixture repositories for integration tests: a temp copy of a fixture tree, made a real git
//! repository (fixed identity, no user config) with a bare `origin`, and the `shiplane` binary run
//! on it.

use std::fs;
use std::path::Path;
use std::process::Command;

/// A fixed date for changelogs and release dates: 2026-11-18.
pub const SOURCE_DATE_EPOCH: &str = "1795000000";

/// Run git in `dir` with a fixed identity, isolated from the machine's git configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Shiplane Test",
            "-c",
            "user.email=test@example.com",
        ])
        .args([
            "-c",
            "core.autocrlf=false",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git prints UTF-8")
}

/// Copy a directory tree (skipping build output) byte for byte.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "node_modules" || name == ".git" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fixture repository: `work/` (the clone under test) and `origin.git` (its bare remote) in one
/// temp dir that is removed when the value drops.
pub struct Fixture {
    tmp: tempfile::TempDir,
    work: std::path::PathBuf,
}

impl Fixture {
    /// The work tree.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// The bare `origin` repository.
    pub fn origin(&self) -> std::path::PathBuf {
        self.tmp.path().join("origin.git")
    }
}

/// A fixture (path relative to the crate root) copied into a temp dir, committed on `main` and
/// pushed to a bare `origin`.
pub fn copy_fixture(fixture: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture), &work);
    git(tmp.path(), &["init", "-q", "--bare", "origin.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "fixture"]);
    git(&work, &["remote", "add", "origin", "../origin.git"]);
    git(&work, &["push", "-q", "origin", "main"]);
    Fixture { tmp, work }
}

/// The result of one `shiplane` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn new(command: &mut Command) -> Run {
        let out = command
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
            .env("NO_COLOR", "1")
            .output()
            .expect("shiplane runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn success(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn fails_with(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Run `shiplane -C dir ARGS...`.
pub fn shiplane(dir: &Path, args: &[&str]) -> Run {
    Run::new(
        Command::new(env!("CARGO_BIN_EXE_shiplane"))
            .arg("-C")
            .arg(dir)
            .args(args),
    )
}
