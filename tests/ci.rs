//! `shiplane ci`: the contributor lane from shiplane.toml `[ci]`, run on small fixture repositories
//! (tests/fixtures/ci/) whose steps are plain argv commands (`python3 -c ...`, `true`).
#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{copy_fixture, Run};

/// `shiplane -C dir ci ARGS...`, isolated from the CI this test suite may itself run under: no
/// `CI`, no `GITHUB_ACTIONS`, none of the fixtures' `ci-env` variables.
fn ci_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = support::shiplane_command(dir);
    command.arg("ci").args(args);
    for name in [
        "CI",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "CARGO_TERM_COLOR",
        "STEP_CI",
    ] {
        command.env_remove(name);
    }
    command
}

fn ci(dir: &Path, args: &[&str]) -> Run {
    Run::new(&mut ci_command(dir, args))
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        )
    })
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The byte offset of `needle` in `haystack`, which must contain it.
fn at(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{haystack}"))
}

/// Whether a process still runs (a zombie, killed but not yet reaped, does not).
fn running(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            // `pid (comm) STATE ...`: the state follows the last `)`.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z" | "X"))
        }
    }
}

/// The PIDs a fixture's spawn.py wrote (its `sleep 300` child, then itself).
fn pids(file: &Path) -> Vec<u32> {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let pids: Vec<u32> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "{text}");
    pids
}

/// Every PID in `file` stops running within a few seconds.
fn assert_all_gone(file: &Path) {
    let pids = pids(file);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| running(*p)) {
        if Instant::now() > deadline {
            let left: Vec<u32> = pids.iter().copied().filter(|p| running(*p)).collect();
            // Leave nothing behind, even when failing.
            for pid in &left {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            panic!("processes outlived their step: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn lane_errors_name_their_line_and_exit_2() {
    let fixture = copy_fixture("tests/fixtures/ci/invalid");
    let run = ci(fixture.path(), &[]);
    run.fails_with(2);
    for expected in [
        "shiplane.toml:7: error: unknown step kind `lint`",
        "fix: use one of: fmt, clippy, test, doc, package, workflows, zizmor, command",
        "shiplane.toml:12: error: step `empty`: `run` is empty or has an empty argument",
        "shiplane.toml:18: error: step `slow`: timeout `5 minutes` is not a duration",
        "3 problems",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    // --list and --format json report the same problems.
    let run = ci(fixture.path(), &["--list", "--format", "json"]);
    run.fails_with(2);
    let value = json(&run);
    let lines: Vec<u64> = value["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [7, 12, 18], "{value}");
}

#[test]
fn passing_lane_runs_every_step_in_order_with_output_streamed() {
    let fixture = copy_fixture("tests/fixtures/ci/lane");
    let dir = fixture.path();
    let fake_cargo = dir.join("fake-cargo");
    let run = Run::new(ci_command(dir, &[]).env("CARGO", &fake_cargo));
    run.success();
    let out = &run.stdout;
    let headers = [
        "── ci [1/6] hello: python3 -c 'print('\\''hello from the lane'\\'')'",
        "── ci [2/6] env: python3 record_env.py env.json",
        "── ci [3/6] in-dir in sub/: python3",
        "── ci [4/6] true: true",
        "── ci [5/6] cargo: cargo marker 'two words'",
        "── ci [6/6] test: cargo test --workspace  (cargo-nextest is not installed, so cargo test)",
    ];
    let positions: Vec<usize> = headers.iter().map(|h| at(out, h)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    // The step's own output, between its header and its result.
    let said = at(out, "\nhello from the lane\n");
    assert!(
        positions[0] < said && said < at(out, "✓ hello passed in "),
        "{out}"
    );
    for name in ["env", "in-dir", "true", "cargo", "test"] {
        at(out, &format!("✓ {name} passed in "));
    }
    at(out, "ci: 6 step(s) passed in ");
    // `cargo` is $CARGO; the test kind falls back to `cargo test` without nextest.
    assert_eq!(
        fs::read_to_string(dir.join("cargo-calls.txt")).unwrap(),
        "marker | two words\ntest | --workspace\n"
    );
    // `dir` is relative to the repository root.
    let cwd = fs::read_to_string(dir.join("sub/cwd.txt")).unwrap();
    assert_eq!(
        Path::new(&cwd).canonicalize().unwrap(),
        dir.join("sub").canonicalize().unwrap()
    );
    // The lane env, then the step's (a step's value wins).
    let env: BTreeMap<String, String> =
        serde_json::from_str(&fs::read_to_string(dir.join("env.json")).unwrap()).unwrap();
    assert_eq!(env["LANE_VAR"], "from-lane");
    assert_eq!(env["STEP_VAR"], "from-step");
    assert_eq!(env["SHARED"], "step");
    assert!(!env.contains_key("STEP_CI"), "ci-env outside CI: {env:?}");
}

#[test]
fn failing_step_stops_the_lane_and_prints_its_hint() {
    let fixture = copy_fixture("tests/fixtures/ci/failing");
    let dir = fixture.path();
    let run = ci(dir, &[]);
    run.fails_with(1);
    assert!(dir.join("ran-first").is_file());
    assert!(
        !dir.join("ran-last").exists(),
        "a step after the failure ran"
    );
    at(&run.stdout, "✓ first passed in ");
    at(&run.stdout, "✗ broken: failed (exit 3) after ");
    at(
        &run.stdout,
        "    fix: make broken pass: see its output above\n",
    );
    assert!(!run.stdout.contains("also-broken"), "{}", run.stdout);
    // The step's stderr streams through; the summary names the step, what did not run, the fix.
    at(&run.stderr, "broken: 1 != 2\n");
    at(&run.stderr, "error: ci: step `broken` failed (exit 3) (in ");
    at(
        &run.stderr,
        "; not run: also-broken, missing-program, last (--keep-going runs every step)\n  fix: make broken pass: see its output above",
    );
}

#[test]
fn keep_going_runs_every_step_then_summarises_every_failure() {
    let fixture = copy_fixture("tests/fixtures/ci/failing");
    let dir = fixture.path();
    let run = ci(dir, &["--keep-going"]);
    run.fails_with(1);
    assert!(dir.join("ran-first").is_file());
    assert!(dir.join("ran-last").is_file(), "--keep-going stopped early");
    at(&run.stdout, "✓ last passed in ");
    at(&run.stderr, "error: ci: 3 of 5 step(s) failed (in ");
    let summary = &run.stderr[at(&run.stderr, "error: ci: 3 of 5")..];
    let expected = "\n  broken: failed (exit 3)\n    fix: make broken pass: see its output above\n  also-broken: failed (exit 4)\n    fix: fix also-broken\n  missing-program: could not start `no-such-program-for-shiplane-tests`: ";
    at(summary, expected);
}

#[test]
fn timeout_kills_the_step_with_its_whole_process_group() {
    let fixture = copy_fixture("tests/fixtures/ci/timeout");
    let dir = fixture.path();
    let started = Instant::now();
    let run = ci(dir, &["--step", "hang"]);
    let took = started.elapsed();
    run.fails_with(1);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    at(
        &run.stdout,
        "✗ hang: timed out after 2s\n    fix: make hang finish within 2s\n",
    );
    at(
        &run.stderr,
        "error: ci: step `hang` timed out after 2s (in ",
    );
    assert_all_gone(&dir.join("hang.pid"));
}

#[test]
fn no_process_outlives_a_passing_step() {
    let fixture = copy_fixture("tests/fixtures/ci/timeout");
    let dir = fixture.path();
    let started = Instant::now();
    ci(dir, &["--step", "leftover"]).success();
    // A leftover `sleep 300` would also hold the output pipe open, and the run with it.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_all_gone(&dir.join("leftover.pid"));
}

#[test]
fn killing_shiplane_kills_the_running_step() {
    let fixture = copy_fixture("tests/fixtures/ci/timeout");
    let dir = fixture.path();
    let mut child = ci_command(dir, &["--step", "long"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = dir.join("long.pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.is_file() {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert_all_gone(&pid_file);
}

#[test]
fn step_selects_steps_in_lane_order_and_unknown_names_are_usage_errors() {
    let fixture = copy_fixture("tests/fixtures/ci/lane");
    let dir = fixture.path();
    let run = ci(dir, &["--step", "true", "--step", "hello"]);
    run.success();
    let first = at(&run.stdout, "── ci [1/2] hello: ");
    let second = at(&run.stdout, "── ci [2/2] true: true");
    assert!(first < second);
    assert!(!run.stdout.contains("] env:"), "{}", run.stdout);
    assert!(!dir.join("env.json").exists());

    let run = ci(dir, &["--step", "hello", "--step", "nope"]);
    run.fails_with(2);
    at(
        &run.stderr,
        "error: no step named `nope` in the lane; its steps are: hello, env, in-dir, true, cargo, test",
    );
    assert!(!run.stdout.contains("hello from the lane"), "ran a step");
}

#[test]
fn list_shows_every_setting_and_marks_the_ci_only_environment() {
    let fixture = copy_fixture("tests/fixtures/ci/lane");
    let dir = fixture.path();
    let run = ci(dir, &["--list"]);
    run.success();
    let text = &run.stdout;
    let env_step = &text[at(text, "env (command)\n")..at(text, "in-dir (command)\n")];
    assert_eq!(
        env_step,
        concat!(
            "env (command)\n",
            "    run      python3 record_env.py env.json\n",
            "    dir      . (repository root)\n",
            "    timeout  5m\n",
            "    env      LANE_VAR=from-lane\n",
            "    env      SHARED=step\n",
            "    env      STEP_VAR=from-step\n",
            "    CI only  CARGO_TERM_COLOR=always   (added only when CI=true)\n",
            "    CI only  STEP_CI=yes   (added only when CI=true)\n",
            "    hint     read env.json\n",
        )
    );
    at(text, "    dir      sub\n    timeout  1m30s\n");
    at(
        text,
        "6 step(s). Under CI (CI=true) each step also gets its `CI only` variables; nothing else differs.",
    );
    assert!(!dir.join("env.json").exists(), "--list ran a step");

    let run = ci(
        dir,
        &[
            "--list", "--format", "json", "--step", "env", "--step", "in-dir",
        ],
    );
    run.success();
    let value = json(&run);
    assert_eq!(keys(&value), ["steps"]);
    let steps = value["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        keys(&steps[0]),
        [
            "argv",
            "ci_env",
            "dir",
            "env",
            "hint",
            "kind",
            "name",
            "timeout_secs"
        ]
    );
    assert_eq!(
        steps[0],
        serde_json::json!({
            "name": "env",
            "kind": "command",
            "argv": ["python3", "record_env.py", "env.json"],
            "dir": null,
            "timeout_secs": 300,
            "env": { "LANE_VAR": "from-lane", "SHARED": "step", "STEP_VAR": "from-step" },
            "ci_env": { "CARGO_TERM_COLOR": "always", "STEP_CI": "yes" },
            "hint": "read env.json",
        })
    );
    assert_eq!(steps[1]["dir"], "sub");
    assert_eq!(steps[1]["timeout_secs"], 90);
    assert_eq!(steps[1]["ci_env"], serde_json::json!({}));
}

#[test]
fn list_resolves_built_in_kinds() {
    let fixture = copy_fixture("tests/fixtures/ci/builtins");
    let dir = fixture.path();
    let run = ci(dir, &["--list", "--format", "json"]);
    run.success();
    let value = json(&run);
    let steps = value["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fmt", "doc", "workflows", "zizmor", "package"]);
    assert_eq!(
        steps[0]["argv"],
        serde_json::json!(["cargo", "fmt", "--all", "--", "--check"])
    );
    assert_eq!(
        steps[0]["hint"],
        "run `cargo fmt --all` and commit the result"
    );
    assert_eq!(
        steps[1]["env"],
        serde_json::json!({ "LANE_VAR": "from-lane", "RUSTDOCFLAGS": "-D warnings" })
    );
    assert_eq!(
        steps[1]["ci_env"],
        serde_json::json!({ "CARGO_TERM_COLOR": "always" })
    );
    // `workflows` runs this very executable on the repository.
    let root = dir.canonicalize().unwrap();
    assert_eq!(
        steps[2]["argv"],
        serde_json::json!([
            env!("CARGO_BIN_EXE_shiplane"),
            "-C",
            root.display().to_string(),
            "workflows",
            "--check"
        ])
    );
    assert_eq!(
        steps[3]["argv"],
        serde_json::json!(["zizmor", "--offline", ".github/workflows"])
    );
    // `package` leaves out the members that cannot be published, and packages the work tree.
    assert_eq!(
        steps[4]["argv"],
        serde_json::json!([
            "cargo",
            "package",
            "--workspace",
            "--allow-dirty",
            "--exclude",
            "fixture-tool"
        ])
    );
    let run = ci(dir, &["--list", "--step", "zizmor"]);
    run.success();
    at(
        &run.stdout,
        "    run      zizmor --offline .github/workflows  (zizmor 1.31.0 from PATH, else installed once into ",
    );
}

#[test]
fn json_report_has_a_fixed_schema() {
    let fixture = copy_fixture("tests/fixtures/ci/failing");
    let run = ci(fixture.path(), &["--format", "json"]);
    run.fails_with(1);
    let value = json(&run);
    assert_eq!(keys(&value), ["duration_ms", "ok", "steps"]);
    assert_eq!(value["ok"], false);
    let steps = value["steps"].as_array().unwrap();
    for step in steps {
        assert_eq!(
            keys(step),
            [
                "argv",
                "duration_ms",
                "exit_code",
                "hint",
                "kind",
                "name",
                "status"
            ],
            "{step}"
        );
    }
    let summary: Vec<(&str, &str, Value)> = steps
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
                s["exit_code"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("first", "passed", Value::from(0)),
            ("broken", "failed", Value::from(3)),
            ("also-broken", "skipped", Value::Null),
            ("missing-program", "skipped", Value::Null),
            ("last", "skipped", Value::Null),
        ]
    );
    assert_eq!(steps[1]["hint"], "make broken pass: see its output above");
    assert_eq!(steps[1]["kind"], "command");
    assert_eq!(steps[0]["argv"][0], "python3");
    assert!(steps[1]["duration_ms"].as_u64().is_some());
    // No text report next to the JSON; the error is the JSON.
    assert!(!run.stderr.contains("error: ci:"), "{}", run.stderr);

    // A timed-out step.
    let fixture = copy_fixture("tests/fixtures/ci/timeout");
    let run = ci(fixture.path(), &["--step", "hang", "--format", "json"]);
    run.fails_with(1);
    let value = json(&run);
    assert_eq!(value["steps"][0]["status"], "timed-out");
    assert_eq!(value["steps"][0]["exit_code"], Value::Null);
    assert_all_gone(&fixture.path().join("hang.pid"));

    // Passing, with a step that prints: its output goes to stderr, stdout is the JSON alone.
    let fixture = copy_fixture("tests/fixtures/ci/lane");
    let run = ci(fixture.path(), &["--step", "hello", "--format", "json"]);
    run.success();
    let value = json(&run);
    assert_eq!(value["ok"], true);
    assert_eq!(value["steps"][0]["status"], "passed");
    at(&run.stderr, "hello from the lane\n");
}

#[test]
fn github_actions_groups_annotations_and_step_summary() {
    let fixture = copy_fixture("tests/fixtures/ci/failing");
    let dir = fixture.path();
    let tmp = tempfile::tempdir().unwrap();
    let summary = tmp.path().join("summary.md");
    fs::write(&summary, "earlier step's summary\n").unwrap();
    let run = Run::new(
        ci_command(dir, &["--keep-going"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    run.fails_with(1);
    let out = &run.stdout;
    let order = [
        "::group::first\n── ci [1/5] first: ",
        "::endgroup::\n✓ first passed in ",
        "::group::broken\n── ci [2/5] broken: ",
        "::endgroup::\n✗ broken: failed (exit 3) after ",
        "::error title=ci broken::step `broken` failed (exit 3). fix: make broken pass: see its output above\n",
        "::group::also-broken\n",
        "::error title=ci also-broken::step `also-broken` failed (exit 4). fix: fix also-broken\n",
        "::error title=ci missing-program::step `missing-program` could not start `no-such-program-for-shiplane-tests`: ",
        "::group::last\n",
    ];
    let positions: Vec<usize> = order.iter().map(|s| at(out, s)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    assert_eq!(out.matches("::group::").count(), 5);
    assert_eq!(out.matches("::endgroup::").count(), 5);

    let md = fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step's summary\n### ci\n\n"), "{md}");
    at(
        &md,
        "| | step | status | duration | hint |\n|---|---|---|---|---|\n",
    );
    at(&md, "| ✅ | first | passed | ");
    at(&md, " | broken | failed (exit 3) | ");
    at(&md, " | make broken pass: see its output above |\n");
    at(&md, "| ❌ | also-broken | failed (exit 4) | ");
    at(&md, "| ✅ | last | passed | ");
    assert_eq!(md.matches("\n| ").count(), 6, "{md}");
}

#[test]
fn ci_true_adds_exactly_the_ci_env() {
    let fixture = copy_fixture("tests/fixtures/ci/lane");
    let dir = fixture.path();
    let read = || -> BTreeMap<String, String> {
        serde_json::from_str(&fs::read_to_string(dir.join("env.json")).unwrap()).unwrap()
    };
    ci(dir, &["--step", "env"]).success();
    let local = read();
    Run::new(ci_command(dir, &["--step", "env"]).env("CI", "true")).success();
    let under_ci = read();

    let mut added: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in &under_ci {
        if local.get(k) != Some(v) {
            added.insert(k, v);
        }
    }
    let removed: Vec<&String> = local
        .keys()
        .filter(|k| !under_ci.contains_key(*k))
        .collect();
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(
        added,
        BTreeMap::from([
            ("CARGO_TERM_COLOR", "always"),
            ("CI", "true"),
            ("STEP_CI", "yes"),
        ])
    );
}
