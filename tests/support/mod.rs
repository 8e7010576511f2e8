//! Shared helpers of the integration tests: `mod support;` in a test file.
#![allow(dead_code)]

pub mod fixture;
pub mod generate;
pub mod github_stub;
pub mod oidc_stub;
pub mod registries;

#[allow(unused_imports)] // each test crate uses a different part
pub use fixture::{copy_fixture, git, shiplane, Run};

use std::path::Path;
use std::process::Command;

/// `shiplane -C <dir>`, ready for arguments, as a command to spawn (e.g. to kill it).
pub fn shiplane_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shiplane"));
    cmd.arg("-C")
        .arg(dir)
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", fixture::SOURCE_DATE_EPOCH);
    cmd
}

/// The result of `shiplane versions --format json`.
pub struct Versions {
    pub exit_code: Option<i32>,
    pub json: serde_json::Value,
    pub stderr: String,
}

impl Versions {
    /// `current`, when the locations agree on one.
    pub fn current(&self) -> Option<&str> {
        self.json.get("current").and_then(serde_json::Value::as_str)
    }

    pub fn agree(&self) -> bool {
        self.json.get("agree").and_then(serde_json::Value::as_bool) == Some(true)
    }
}

/// Run `shiplane -C <dir> versions --format json` (which first recovers an interrupted write).
pub fn versions(dir: &Path) -> Versions {
    let out = shiplane(dir, &["versions", "--format", "json"]);
    let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "versions --format json printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        )
    });
    Versions {
        exit_code: Some(out.code),
        json,
        stderr: out.stderr,
    }
}

/// Every file under `dir` (recursively), relative to it, `/`-separated, sorted. Directories whose
/// name is in `skip_dirs` are not entered.
pub fn walk(dir: &Path, skip_dirs: &[&str]) -> Vec<String> {
    fn go(root: &Path, dir: &Path, skip: &[&str], out: &mut Vec<String>) {
        let Ok(read) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in read.filter_map(Result::ok) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if !skip.contains(&name.as_str()) {
                    go(root, &path, skip, out);
                }
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, skip_dirs, &mut out);
    out.sort();
    out
}
