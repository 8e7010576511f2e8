//! Helpers shared by the benchmarks (`mod support;` in a bench): environment knobs, running a
//! command for its output, and building the release `shiplane` binary they measure.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// How a benchmark's table shows its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds, one decimal: `| name | median | min | max |`.
    Millis,
    /// Seconds, two decimals, and the number of runs: `| name | median | min | max | runs |`.
    Seconds,
}

/// The wall times of one measured command.
#[derive(Debug)]
pub struct Samples {
    pub times: Vec<Duration>,
    unit: Unit,
}

impl Samples {
    pub fn new(unit: Unit) -> Samples {
        Samples {
            times: Vec::new(),
            unit,
        }
    }

    pub fn push(&mut self, took: Duration) {
        self.times.push(took);
    }

    /// The times in the table's unit, ascending.
    fn sorted(&self) -> Vec<f64> {
        let scale = match self.unit {
            Unit::Millis => 1e3,
            Unit::Seconds => 1.0,
        };
        let mut v: Vec<f64> = self.times.iter().map(|d| d.as_secs_f64() * scale).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median, in the table's unit.
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    /// The table row of `name`.
    pub fn row(&self, name: &str) -> String {
        let v = self.sorted();
        let (low, high) = (v[0], v[v.len() - 1]);
        match self.unit {
            Unit::Millis => format!("| {name} | {:.1} | {low:.1} | {high:.1} |", self.median()),
            Unit::Seconds => format!(
                "| {name} | {:.2} | {low:.2} | {high:.2} | {} |",
                self.median(),
                v.len()
            ),
        }
    }
}
