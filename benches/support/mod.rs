//! Helpers shared by the benchmarks (`mod support;` in a bench): environment knobs, running a
//! command for its output, and building the release `shiplane` binary they measure.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cargo binary: `$CARGO` (set by cargo for benches), else `cargo`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A number from the environment variable `name`, or `default` when it is unset.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

pub fn stdout_of(program: impl AsRef<OsStr>, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program.as_ref())
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {:?} {args:?}: {e}", program.as_ref()));
    assert!(
        out.status.success(),
        "{:?} {args:?} failed",
        program.as_ref()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Build `shiplane` in release mode and return its path.
pub fn release_binary(manifest_dir: &Path) -> PathBuf {
    let cargo = cargo();
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "shiplane"])
        .current_dir(manifest_dir)
        .status()
        .expect("running cargo build --release");
    assert!(
        status.success(),
        "cargo build --release --bin shiplane failed"
    );
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => manifest_dir.join(dir),
        None => {
            let json = stdout_of(
                &cargo,
                &["metadata", "--format-version", "1", "--no-deps"],
                manifest_dir,
            );
            let meta: serde_json::Value =
                serde_json::from_str(&json).expect("cargo metadata printed JSON");
            PathBuf::from(
                meta["target_directory"]
                    .as_str()
                    .expect("cargo metadata has target_directory"),
            )
        }
    };
    let bin = target_dir
        .join("release")
        .join(format!("shiplane{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}
