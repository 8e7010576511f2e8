//! `shiplane bump` on a generated workspace, against the floor of doing the same with Cargo.
//!
//! `cargo bench --bench bump` builds the release binary, generates a workspace of
//! `BUMP_BENCH_CRATES` (default 400) crates with inter-crate dependencies and a Cargo.lock, and
//! times `BUMP_BENCH_RUNS` (default 15) real bumps against `cargo metadata --no-deps` +
//! `cargo update --workspace` on the same workspace (alternating the order). The target: bump's
//! median at most 2× the floor's. Prints a Markdown table.
//!
//! `BUMP_BENCH_BIN=<path>` times that `shiplane` binary instead of building one (to compare a
//! change against the current build).

#[allow(dead_code)] // the tests use the rest of it
#[path = "../tests/support/generate.rs"]
mod generate;
mod support;

use support::{env_usize, release_binary, stdout_of, Samples, Unit};

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TARGET_RATIO: f64 = 2.0;

/// Run a command to completion; panic with its stderr when it fails. Stdout is discarded.
fn run(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let crates = env_usize("BUMP_BENCH_CRATES", 400);
    let runs = env_usize("BUMP_BENCH_RUNS", 15).max(1);
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = generate::cargo();

    let shiplane = match std::env::var_os("BUMP_BENCH_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => release_binary(&manifest_dir),
    };
    let tmp = tempfile::tempdir().expect("creating a temporary directory");
    let dir = tmp.path().join("ws");
    std::fs::create_dir(&dir).unwrap();
    let generating = Instant::now();
    generate::cargo_workspace(&dir, crates, "1.0.0").expect("generating the workspace");
    eprintln!(
        "generated {crates} crates in {:?}; {runs} runs",
        generating.elapsed()
    );

    let shiplane_cmd = |args: &[&str]| {
        let mut c = Command::new(&shiplane);
        c.arg("-C").arg(&dir).args(args);
        c
    };
    let cargo_cmd = |args: &[&str]| {
        let mut c = Command::new(&cargo);
        c.args(args).current_dir(&dir);
        c
    };
    let metadata_args = [
        "metadata",
        "--no-deps",
        "--offline",
        "--format-version",
        "1",
    ];
    let update_args = ["update", "--workspace", "--offline"];

    // Warm up: every command once (the bump writes 1.0.1).
    let mut patch = 1u64;
    run(&mut shiplane_cmd(&["bump", "1.0.1"]));
    run(&mut shiplane_cmd(&["bump", "--dry-run", "1.0.2"]));
    run(&mut shiplane_cmd(&["versions"]));
    run(&mut cargo_cmd(&metadata_args));
    run(&mut cargo_cmd(&update_args));

    let mut bump = Samples::new(Unit::Millis);
    let mut dry_run = Samples::new(Unit::Millis);
    let mut versions = Samples::new(Unit::Millis);
    let mut metadata = Samples::new(Unit::Millis);
    let mut update = Samples::new(Unit::Millis);
    let mut floor = Samples::new(Unit::Millis);
    for i in 0..runs {
        patch += 1;
        let to = format!("1.0.{patch}");
        let after = format!("1.0.{}", patch + 1);
        let time_bump = || run(&mut shiplane_cmd(&["bump", &to]));
        let (b, m, u) = if i % 2 == 0 {
            let b = time_bump();
            let m = run(&mut cargo_cmd(&metadata_args));
            let u = run(&mut cargo_cmd(&update_args));
            (b, m, u)
        } else {
            let u = run(&mut cargo_cmd(&update_args));
            let m = run(&mut cargo_cmd(&metadata_args));
            let b = time_bump();
            (b, m, u)
        };
        bump.push(b);
        metadata.push(m);
        update.push(u);
        floor.push(m + u);
        dry_run.push(run(&mut shiplane_cmd(&["bump", "--dry-run", &after])));
        versions.push(run(&mut shiplane_cmd(&["versions"])));
    }

    // The lock must still agree with the manifests, and every location with the last version.
    run(&mut cargo_cmd(&[
        "metadata",
        "--offline",
        "--locked",
        "--format-version",
        "1",
    ]));
    let json = stdout_of(
        &shiplane,
        &["-C", dir.to_str().unwrap(), "versions", "--format", "json"],
        &dir,
    );
    let report: serde_json::Value = serde_json::from_str(&json).expect("versions JSON");
    let last = format!("1.0.{patch}");
    assert_eq!(
        report["current"].as_str(),
        Some(last.as_str()),
        "after the runs: {report}"
    );
    assert_eq!(report["agree"].as_bool(), Some(true), "{report}");
    let locations = report["locations"].as_array().map_or(0, Vec::len);

    let floor_median = metadata.median() + update.median();
    let ratio = bump.median() / floor_median;
    let rustc = stdout_of(
        std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()),
        &["-V"],
        &manifest_dir,
    );
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());

    println!();
    println!(
        "bump on a generated workspace: {crates} crates, {} files, {locations} version locations, {runs} runs (release build)",
        crates + 2
    );
    println!();
    println!("| command | median (ms) | min (ms) | max (ms) |");
    println!("|---|---:|---:|---:|");
    println!("{}", bump.row("`shiplane bump <next patch>`"));
    println!("{}", metadata.row("`cargo metadata --no-deps`"));
    println!("{}", update.row("`cargo update --workspace`"));
    println!("{}", floor.row("floor: metadata + update (per run)"));
    println!("{}", dry_run.row("`shiplane bump --dry-run` (read-only)"));
    println!("{}", versions.row("`shiplane versions` (read-only)"));
    println!();
    println!(
        "floor (median metadata + median update): {floor_median:.1} ms; shiplane bump / floor = {ratio:.2}x (target <= {TARGET_RATIO}x: {})",
        if ratio <= TARGET_RATIO { "met" } else { "MISSED" }
    );
    println!(
        "machine: {nproc} CPUs (nproc), {rustc}, {}",
        std::env::consts::OS
    );
    println!(
        "after the runs: cargo metadata --offline --locked passes; all locations agree on {last}"
    );
}
