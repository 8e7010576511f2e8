//! The rehearsal is a lane step written in Rust (`shiplane::cli::Extensions`): `cargo xtask ci`
//! lists and runs it after the steps of shiplane.toml, as a child process like any other step.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

/// A copy of the passing-lane fixture: a repository without examples/polyglot.
fn fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let from = repo_root().join("tests/fixtures/ci/lane");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    tmp
}

fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

#[test]
fn rehearse_is_the_last_step_of_the_lane() {
    let tmp = fixture();
    let out = xtask(tmp.path(), &["ci", "--list", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = value["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["hello", "env", "in-dir", "true", "cargo", "test", "rehearse"]
    );
    let rehearse = &steps[6];
    assert_eq!(rehearse["kind"], "rust");
    assert_eq!(rehearse["timeout_secs"], 15 * 60);
    assert_eq!(
        rehearse["argv"],
        serde_json::json!([
            env!("CARGO_BIN_EXE_xtask"),
            "-C",
            tmp.path().canonicalize().unwrap().display().to_string(),
            "ci",
            "--rust-step",
            "rehearse"
        ])
    );
    // `[ci] env` applies to Rust steps too.
    assert_eq!(rehearse["env"]["LANE_VAR"], "from-lane");
}

#[test]
fn a_failing_rust_step_fails_the_lane_with_its_hint() {
    // The fixture has no examples/polyglot, so the rehearsal fails at once.
    let tmp = fixture();
    let out = xtask(tmp.path(), &["ci", "--step", "rehearse"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("── ci [1/1] rehearse: "), "{stdout}");
    assert!(stdout.contains("✗ rehearse: failed (exit 1)"), "{stdout}");
    assert!(stderr.contains("error: step `rehearse`: "), "{stderr}");
    assert!(stderr.contains("examples/polyglot"), "{stderr}");
    assert!(
        stderr.contains(
            "fix: run `cargo xtask rehearse --keep` and inspect target/rehearsal/polyglot"
        ),
        "{stderr}"
    );
}

#[test]
fn unknown_steps_list_the_rust_steps_too() {
    let tmp = fixture();
    let out = xtask(tmp.path(), &["ci", "--step", "nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("its steps are: hello, env, in-dir, true, cargo, test, rehearse"),
        "{stderr}"
    );
}
