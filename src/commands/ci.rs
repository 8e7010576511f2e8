//! `ci`: run the contributor lane (shiplane.toml `[ci]`) — the same steps, the same argv and the
//! same environment locally and in CI. The one named difference is each step's `ci-env`, added
//! only when `CI=true`.
//!
//! Every step is a child process in its own process group: its output streams through, it is
//! killed with its whole group when it overruns its timeout, and whatever it left running is killed
//! when it ends (and, through a small watchdog, when Shiplane itself dies), so no process outlives
//! its step.
//!
//! Steps written in Rust ([`RustStep`]) come from a repository's own xtask through
//! [`crate::cli::Extensions`]; they are appended after the configured steps and run like any other
//! step: the xtask binary is started again as `<xtask> -C <root> ci --rust-step NAME`, which calls
//! the step's function in that child process.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::CiArgs;
use crate::lane::{parse_duration, Lane, StepKind};
use crate::repo::Repo;
use crate::report::{exit, github_escape, stdout, CheckFailed, Output, Reported, UsageError};

/// The timeout of a step without one of its own, when `[ci] timeout` is not set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `zizmor` when `[ci.tools] zizmor` is not set.
pub const DEFAULT_ZIZMOR: &str = "1.32.0";

/// A lane step written in Rust, added by a repository's own xtask (see
/// [`crate::cli::run_args_with`]). It runs after the steps of shiplane.toml, in the order given,
/// as a child process like every other step (so its timeout, output and clean-up work the same):
/// the running executable is started again with `-C <root> ci --rust-step <name>`, and that process
/// calls `run` with the repository root.
pub struct RustStep {
    /// Unique among the lane's steps: `--step NAME` selects it.
    pub name: String,
    /// What to do when it fails (printed with the failure).
    pub hint: Option<String>,
    /// Default: `[ci] timeout` (30 minutes when unset).
    pub timeout: Option<Duration>,
    /// The step itself, given the repository root. An error fails the step.
    pub run: Box<RustStepFn>,
}

/// The function of a [`RustStep`].
pub type RustStepFn = dyn Fn(&Path) -> Result<()>;

impl RustStep {
    pub fn new(name: impl Into<String>, run: impl Fn(&Path) -> Result<()> + 'static) -> RustStep {
        RustStep {
            name: name.into(),
            hint: None,
            timeout: None,
            run: Box::new(run),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> RustStep {
        self.hint = Some(hint.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> RustStep {
        self.timeout = Some(timeout);
        self
    }
}

impl std::fmt::Debug for RustStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustStep")
            .field("name", &self.name)
            .field("hint", &self.hint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One step as `ci` runs it: a lane step or a Rust step, resolved to its settings.
#[derive(Debug, Clone)]
struct Planned {
    name: String,
    kind: Kind,
    /// As configured (built-in kinds: their default argv); resolved at run time by [`resolve`].
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    ci_env: BTreeMap<String, String>,
    dir: Option<String>,
    timeout: Duration,
    hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lane(StepKind),
    Rust,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Lane(k) => k.name(),
            Kind::Rust => "rust",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    TimedOut,
    Skipped,
}

/// One line of the report (`--format json`: `steps[]`).
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    pub kind: String,
    /// What ran (or would have run, for a skipped step).
    pub argv: Vec<String>,
    pub status: Status,
    /// The exit code; `null` when the step was skipped, timed out, killed by a signal, or could
    /// not start.
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub hint: Option<String>,
    /// Why it failed, in words (`failed (exit 1)`, `timed out after 10m`).
    #[serde(skip)]
    pub detail: String,
}

/// The whole run (`--format json`).
#[derive(Debug, Clone, Serialize)]
pub struct CiReport {
    pub ok: bool,
    pub duration_ms: u64,
    pub steps: Vec<StepReport>,
}

/// `--list --format json`: `steps[]`.
#[derive(Debug, Clone, Serialize)]
struct ListedStep {
    name: String,
    kind: &'static str,
    argv: Vec<String>,
    /// Relative to the repository root; `null` is the root itself.
    dir: Option<String>,
    timeout_secs: u64,
    env: BTreeMap<String, String>,
    /// Added only under CI (`CI=true`).
    ci_env: BTreeMap<String, String>,
    hint: Option<String>,
}

pub fn run(repo: &Repo, args: &CiArgs, rust_steps: &[RustStep], out: &Output) -> Result<()> {
    if let Some(name) = &args.rust_step {
        let step = rust_steps.iter().find(|s| &s.name == name).ok_or_else(|| {
            UsageError(format!(
                "--rust-step {name}: this executable has no Rust step of that name"
            ))
        })?;
        return (step.run)(&repo.root).with_context(|| format!("step `{name}`"));
    }
    let lane = Lane::load(&repo.config)?;
    let planned = plan(repo, &lane, rust_steps)?;
    let selected = select(&planned, &args.steps)?;
    let context = RunContext::new(repo, &lane)?;
    if args.list {
        return list(&context, &selected, out);
    }
    run_lane(&context, &selected, args.keep_going, out)
}

/// The lane's steps followed by the Rust steps.
fn plan(repo: &Repo, lane: &Lane, rust_steps: &[RustStep]) -> Result<Vec<Planned>> {
    let ci = &repo.config.config.ci;
    let mut planned: Vec<Planned> = lane
        .steps
        .iter()
        .map(|s| Planned {
            name: s.name.clone(),
            kind: Kind::Lane(s.kind),
            argv: s.argv.clone(),
            env: s.env.clone(),
            ci_env: s.ci_env.clone(),
            dir: s.dir.clone(),
            timeout: s.timeout,
            hint: s.hint.clone(),
        })
        .collect();
    let default_timeout = ci
        .timeout
        .as_ref()
        .and_then(|t| parse_duration(t.get_ref()))
        .unwrap_or(DEFAULT_TIMEOUT);
    for step in rust_steps {
        if planned.iter().any(|p| p.name == step.name) {
            return Err(UsageError(format!(
                "the xtask's Rust step `{}` has the name of a [[ci.step]] in {}; rename one of them",
                step.name, repo.config.display
            ))
            .into());
        }
        planned.push(Planned {
            name: step.name.clone(),
            kind: Kind::Rust,
            argv: vec!["ci".into(), "--rust-step".into(), step.name.clone()],
            env: ci.env.clone(),
            ci_env: BTreeMap::new(),
            dir: None,
            timeout: step.timeout.unwrap_or(default_timeout),
            hint: step.hint.clone(),
        });
    }
    Ok(planned)
}

/// The steps `--step` names, in lane order; every step without `--step`.
fn select(planned: &[Planned], names: &[String]) -> Result<Vec<Planned>> {
    if names.is_empty() {
        return Ok(planned.to_vec());
    }
    let known: BTreeSet<&str> = planned.iter().map(|p| p.name.as_str()).collect();
    let unknown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !known.contains(n))
        .collect();
    if !unknown.is_empty() {
        return Err(UsageError(format!(
            "no step named {} in the lane; its steps are: {}",
            unknown
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            planned
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Ok(planned
        .iter()
        .filter(|p| names.iter().any(|n| n == &p.name))
        .cloned()
        .collect())
}

/// What every step shares: where it runs, and what the environment says about the run.
struct RunContext {
    root: PathBuf,
    /// `CI=true`: add each step's `ci-env`.
    under_ci: bool,
    /// `GITHUB_ACTIONS=true`: groups, annotations, step summary.
    github: bool,
    /// The running executable (`workflows` and Rust steps start it again).
    exe: PathBuf,
    /// `$CARGO`, else `cargo`.
    cargo: String,
    zizmor_version: String,
    /// `[ci.tools] rust`: the toolchain CI installs.
    rust_pin: Option<String>,
}

impl RunContext {
    fn new(repo: &Repo, lane: &Lane) -> Result<RunContext> {
        Ok(RunContext {
            root: repo.root.clone(),
            under_ci: env_is_true("CI"),
            github: env_is_true("GITHUB_ACTIONS"),
            exe: std::env::current_exe().context("finding the running executable")?,
            cargo: std::env::var("CARGO")
                .ok()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "cargo".into()),
            zizmor_version: lane
                .tools
                .get("zizmor")
                .cloned()
                .unwrap_or_else(|| DEFAULT_ZIZMOR.into()),
            rust_pin: lane.tools.get("rust").cloned(),
        })
    }

    /// A warning when `[ci.tools] rust` pins a version other than the cargo that will run: CI
    /// installs the pin, so fmt and clippy may judge differently here.
    fn toolchain_warning(&self, steps: &[Planned]) -> Option<String> {
        let pin = self.rust_pin.as_deref()?;
        if !pin.starts_with(|c: char| c.is_ascii_digit()) {
            return None; // a channel name such as `stable`
        }
        let uses_cargo = steps.iter().any(|s| match s.kind {
            Kind::Lane(StepKind::Workflows | StepKind::Zizmor) | Kind::Rust => false,
            Kind::Lane(StepKind::Command) => s.argv.first().is_some_and(|a| a == "cargo"),
            Kind::Lane(_) => true,
        });
        if !uses_cargo {
            return None;
        }
        let output = Command::new(&self.cargo)
            .arg("--version")
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let found = text.split_whitespace().nth(1)?;
        if found == pin || found.starts_with(&format!("{pin}.")) {
            return None;
        }
        Some(format!(
            "[ci.tools] rust pins {pin}, which CI installs, but `{} --version` here is {found}: \
             fmt, clippy and doc may judge differently (`rustup toolchain install {pin}` and \
             `cargo +{pin} xtask ci` run the pinned one)",
            self.cargo
        ))
    }

    fn exe_arg(&self) -> String {
        self.exe.display().to_string()
    }

    /// The program argv[0] names: `cargo` is `$CARGO` when set.
    fn program<'a>(&'a self, argv0: &'a str) -> &'a str {
        if argv0 == "cargo" {
            &self.cargo
        } else {
            argv0
        }
    }

    fn has_nextest(&self) -> bool {
        Command::new(&self.cargo)
            .args(["nextest", "--version"])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

fn env_is_true(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "true")
}

/// The argv of a step as it will run, and a note for the header (`test`: which runner). Only
/// `zizmor` may install something (`install = true`).
fn resolve(
    context: &RunContext,
    step: &Planned,
    install: Option<(&Output, Instant)>,
) -> Result<(Vec<String>, Option<String>), String> {
    let root = context.root.display().to_string();
    match step.kind {
        Kind::Lane(StepKind::Test) => {
            if context.has_nextest() {
                Ok((
                    strings(&["cargo", "nextest", "run", "--workspace"]),
                    Some("cargo-nextest is installed; without it: cargo test --workspace".into()),
                ))
            } else {
                Ok((
                    step.argv.clone(),
                    Some("cargo-nextest is not installed, so cargo test".into()),
                ))
            }
        }
        Kind::Lane(StepKind::Package) => {
            // Members that cannot be published cannot be packaged either; and the lane checks the
            // working tree as it is (CI checkouts are clean anyway).
            let dir = step
                .dir
                .as_ref()
                .map_or(context.root.clone(), |d| context.root.join(d));
            let skipped = crate::repo::unpublishable_members(&dir, "Cargo.toml");
            let mut argv = step.argv.clone();
            argv.push("--allow-dirty".into());
            for name in &skipped {
                argv.extend(["--exclude".to_string(), name.clone()]);
            }
            let note = (!skipped.is_empty())
                .then(|| format!("publish = false, left out: {}", skipped.join(", ")));
            Ok((argv, note))
        }
        Kind::Lane(StepKind::Workflows) => Ok((
            vec![
                context.exe_arg(),
                "-C".into(),
                root,
                "workflows".into(),
                "--check".into(),
            ],
            None,
        )),
        Kind::Lane(StepKind::Zizmor) => {
            let version = &context.zizmor_version;
            let program = match install {
                Some((out, deadline)) => zizmor_program(context, version, out, deadline)?,
                None => "zizmor".to_string(),
            };
            let mut argv = step.argv.clone();
            if let Some(first) = argv.first_mut() {
                *first = program;
            }
            Ok((argv, Some(format!("zizmor {version}"))))
        }
        Kind::Rust => {
            let mut argv = vec![context.exe_arg(), "-C".into(), root];
            argv.extend(step.argv.iter().cloned());
            Ok((argv, Some("Rust step of this executable".into())))
        }
        Kind::Lane(_) => Ok((step.argv.clone(), None)),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// --list

fn list(context: &RunContext, steps: &[Planned], out: &Output) -> Result<()> {
    let mut notes = Vec::new();
    let listed: Vec<ListedStep> = steps
        .iter()
        .map(|s| {
            let (argv, note) = resolve(context, s, None).unwrap_or_else(|_| (s.argv.clone(), None));
            notes.push(note);
            ListedStep {
                name: s.name.clone(),
                kind: s.kind.name(),
                argv,
                dir: s.dir.clone(),
                timeout_secs: s.timeout.as_secs(),
                env: s.env.clone(),
                ci_env: s.ci_env.clone(),
                hint: s.hint.clone(),
            }
        })
        .collect();
    if out.json() {
        return out.emit_json(&serde_json::json!({ "steps": listed }));
    }
    let mut text = String::new();
    for ((step, planned), note) in listed.iter().zip(steps).zip(notes) {
        let _ = writeln!(text, "{} ({})", step.name, step.kind);
        let note = match (planned.kind, note) {
            (Kind::Lane(StepKind::Zizmor), _) => format!(
                "  (zizmor {} from PATH, else installed once into {})",
                context.zizmor_version,
                zizmor_dir(&context.zizmor_version)
                    .map_or_else(|_| "the Shiplane cache".into(), |d| d.display().to_string())
            ),
            (_, Some(note)) => format!("  ({note})"),
            (_, None) => String::new(),
        };
        let _ = writeln!(text, "    run      {}{note}", display_argv(&step.argv));
        let _ = writeln!(
            text,
            "    dir      {}",
            step.dir.as_deref().unwrap_or(". (repository root)")
        );
        let _ = writeln!(text, "    timeout  {}", duration_spec(planned.timeout));
        if step.env.is_empty() {
            let _ = writeln!(text, "    env      (none)");
        }
        for (k, v) in &step.env {
            let _ = writeln!(text, "    env      {k}={v}");
        }
        for (k, v) in &step.ci_env {
            let _ = writeln!(text, "    CI only  {k}={v}   (added only when CI=true)");
        }
        if let Some(hint) = &step.hint {
            let _ = writeln!(text, "    hint     {hint}");
        }
    }
    let _ = writeln!(
        text,
        "{} step(s). Under CI (CI=true) each step also gets its `CI only` variables; nothing else differs.",
        listed.len()
    );
    stdout(&text);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Running the lane

fn run_lane(context: &RunContext, steps: &[Planned], keep_going: bool, out: &Output) -> Result<()> {
    if let Some(warning) = context.toolchain_warning(steps) {
        out.warn(warning);
    }
    let started = Instant::now();
    let mut reports: Vec<StepReport> = Vec::new();
    let mut stop = false;
    for (i, step) in steps.iter().enumerate() {
        if stop {
            reports.push(StepReport {
                name: step.name.clone(),
                kind: step.kind.name().into(),
                argv: step.argv.clone(),
                status: Status::Skipped,
                exit_code: None,
                duration_ms: 0,
                hint: step.hint.clone(),
                detail: "not run".into(),
            });
            continue;
        }
        let report = run_step(context, step, i + 1, steps.len(), out);
        if report.status != Status::Passed && !keep_going {
            stop = true;
        }
        reports.push(report);
    }
    let report = CiReport {
        ok: reports
            .iter()
            .all(|r| matches!(r.status, Status::Passed | Status::Skipped)),
        duration_ms: millis(started.elapsed()),
        steps: reports,
    };
    if context.github {
        append_step_summary(&report)?;
    }
    let failed: Vec<&StepReport> = report
        .steps
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::TimedOut))
        .collect();
    if out.json() {
        out.emit_json(&report)?;
        return if report.ok {
            Ok(())
        } else {
            Err(Reported(exit::FAILURE).into())
        };
    }
    let total = elapsed_text(started.elapsed());
    if report.ok {
        out.say(format!(
            "ci: {} step(s) passed in {total}",
            report.steps.len()
        ));
        return Ok(());
    }
    let mut message = if keep_going {
        format!(
            "ci: {} of {} step(s) failed (in {total}):",
            failed.len(),
            report.steps.len()
        )
    } else {
        String::new()
    };
    if keep_going {
        for f in &failed {
            let _ = write!(message, "\n  {}: {}", f.name, f.detail);
            if let Some(hint) = &f.hint {
                let _ = write!(message, "\n    fix: {hint}");
            }
        }
    } else if let Some(f) = failed.first() {
        let _ = write!(message, "ci: step `{}` {} (in {total})", f.name, f.detail);
        let skipped: Vec<&str> = report
            .steps
            .iter()
            .filter(|r| r.status == Status::Skipped)
            .map(|r| r.name.as_str())
            .collect();
        if !skipped.is_empty() {
            let _ = write!(
                message,
                "; not run: {} (--keep-going runs every step)",
                skipped.join(", ")
            );
        }
        if let Some(hint) = &f.hint {
            let _ = write!(message, "\n  fix: {hint}");
        }
    }
    Err(CheckFailed(message).into())
}

/// Where headers and group markers go: with the step's output, which is stdout for text and
/// stderr under `--format json` (stdout carries only the JSON document).
fn log_line(out: &Output, line: &str) {
    if out.json() {
        eprintln!("{line}");
    } else {
        stdout(&format!("{line}\n"));
    }
}

fn run_step(
    context: &RunContext,
    step: &Planned,
    index: usize,
    count: usize,
    out: &Output,
) -> StepReport {
    let started = Instant::now();
    let deadline = started + step.timeout;
    if context.github {
        log_line(out, &format!("::group::{}", step.name));
    }
    let resolved = resolve(context, step, Some((out, deadline)));
    let argv = match &resolved {
        Ok((argv, _)) => argv.clone(),
        Err(_) => step.argv.clone(),
    };
    if out.verbosity >= 0 {
        let note = match &resolved {
            Ok((_, Some(note))) => format!("  ({note})"),
            _ => String::new(),
        };
        let dir = step
            .dir
            .as_deref()
            .map(|d| format!(" in {d}/"))
            .unwrap_or_default();
        log_line(
            out,
            &out.paint(
                &format!(
                    "── ci [{index}/{count}] {}{dir}: {}{note}",
                    step.name,
                    display_argv(&argv)
                ),
                "1",
            ),
        );
    }
    let (status, exit_code, detail) = match resolved {
        Err(message) => (Status::Failed, None, message),
        Ok((argv, _)) => execute(context, step, &argv, deadline, out),
    };
    let duration = started.elapsed();
    if context.github {
        log_line(out, "::endgroup::");
    }
    let report = StepReport {
        name: step.name.clone(),
        kind: step.kind.name().into(),
        argv,
        status,
        exit_code,
        duration_ms: millis(duration),
        hint: step.hint.clone(),
        detail,
    };
    let shown = out.verbosity >= 0 || status != Status::Passed;
    if shown {
        let line = if status == Status::Passed {
            format!(
                "{} {} passed in {}",
                out.paint("✓", "32"),
                step.name,
                elapsed_text(duration)
            )
        } else if status == Status::TimedOut {
            format!(
                "{} {}: {}",
                out.paint("✗", "31;1"),
                step.name,
                report.detail
            )
        } else {
            format!(
                "{} {}: {} after {}",
                out.paint("✗", "31;1"),
                step.name,
                report.detail,
                elapsed_text(duration)
            )
        };
        log_line(out, &line);
        if status != Status::Passed {
            if let Some(hint) = &step.hint {
                log_line(out, &format!("    fix: {hint}"));
            }
        }
    }
    if context.github && status != Status::Passed {
        let mut message = format!("step `{}` {}", step.name, report.detail);
        if let Some(hint) = &step.hint {
            let _ = write!(message, ". fix: {hint}");
        }
        log_line(
            out,
            &format!(
                "::error title={}::{}",
                github_property(&format!("ci {}", step.name)),
                github_escape(&message)
            ),
        );
    }
    report
}

/// Run one resolved argv as the step's child: status, exit code, and the words for a failure.
fn execute(
    context: &RunContext,
    step: &Planned,
    argv: &[String],
    deadline: Instant,
    out: &Output,
) -> (Status, Option<i32>, String) {
    let Some((program, args)) = argv.split_first() else {
        return (Status::Failed, None, "has an empty argv".into());
    };
    let dir = match &step.dir {
        Some(d) => context.root.join(d),
        None => context.root.clone(),
    };
    if !dir.is_dir() {
        let shown = step.dir.as_deref().unwrap_or(".");
        return (
            Status::Failed,
            None,
            format!("could not start: its working directory `{shown}` is not a directory"),
        );
    }
    let mut command = Command::new(context.program(program));
    command.args(args).current_dir(&dir).envs(&step.env);
    if context.under_ci {
        command.envs(&step.ci_env);
    }
    match run_child(&mut command, deadline, out) {
        Err(e) => (
            Status::Failed,
            None,
            format!("could not start `{program}`: {e}"),
        ),
        Ok(Finished::TimedOut) => (
            Status::TimedOut,
            None,
            format!("timed out after {}", duration_spec(step.timeout)),
        ),
        Ok(Finished::Exited(status)) => describe_exit(status),
    }
}

fn describe_exit(status: ExitStatus) -> (Status, Option<i32>, String) {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    match (status.code(), signal) {
        (Some(0), _) => (Status::Passed, Some(0), "passed".into()),
        (Some(code), _) => (Status::Failed, Some(code), format!("failed (exit {code})")),
        (None, Some(signal)) => (
            Status::Failed,
            None,
            format!("failed (killed by signal {signal})"),
        ),
        (None, None) => (Status::Failed, None, "failed".into()),
    }
}

enum Finished {
    Exited(ExitStatus),
    TimedOut,
}

/// Run `command` in its own process group, its output streamed through (to stderr under
/// `--format json`), stdin closed. At `deadline` the whole group is killed. When the child ends,
/// whatever it left running in its group is killed too. A watchdog (`sh`, in a group of its own)
/// holds the read end of a pipe whose write end only this process holds: if Shiplane dies (Ctrl-C,
/// a kill), the pipe closes and the watchdog kills the step's group.
fn run_child(command: &mut Command, deadline: Instant, out: &Output) -> std::io::Result<Finished> {
    command.stdin(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    if out.json() {
        command.stdout(Stdio::from(std::io::stderr()));
    }
    let mut child = command.spawn()?;
    let pgid = child.id();
    let mut watchdog = spawn_watchdog(pgid).ok();
    let result = wait_until(&mut child, deadline);
    kill_group(pgid);
    if let Ok(Finished::TimedOut) | Err(_) = result {
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Some(w) = watchdog.as_mut() {
        let _ = w.kill();
        let _ = w.wait();
    }
    result
}

fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Finished> {
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Finished::Exited(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Finished::TimedOut);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(unix)]
fn spawn_watchdog(pgid: u32) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .args([
            "-c",
            "read -r _ignored; kill -KILL \"-$1\" 2>/dev/null",
            "shiplane-ci-watchdog",
            &pgid.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// Elsewhere than on Unix a step is not in a group of its own: no watchdog.
#[cfg(not(unix))]
fn spawn_watchdog(_pgid: u32) -> std::io::Result<Child> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Elsewhere than on Unix only the step's own process is killed (by `Child::kill`).
#[cfg(not(unix))]
fn kill_group(_pgid: u32) {}

/// SIGKILL every process of the group `pgid` (none left is fine).
#[cfg(unix)]
fn kill_group(pgid: u32) {
    let target = format!("-{pgid}");
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    if quiet(Command::new("kill").args(["-KILL", "--", &target])).is_err() {
        // No `kill` program: the shell's builtin.
        let _ = quiet(Command::new("sh").args([
            "-c",
            "kill -KILL \"-$1\"",
            "shiplane-ci",
            &pgid.to_string(),
        ]));
    }
}

// ---------------------------------------------------------------------------------------------
// zizmor at the pinned version

/// `${SHIPLANE_CACHE:-$HOME/.cache/shiplane}/tools/zizmor-VERSION`.
fn zizmor_dir(version: &str) -> Result<PathBuf, String> {
    let cache = match std::env::var_os("SHIPLANE_CACHE").filter(|v| !v.is_empty()) {
        Some(c) => PathBuf::from(c),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or("neither SHIPLANE_CACHE nor HOME is set: nowhere to install zizmor")?;
            PathBuf::from(home).join(".cache").join("shiplane")
        }
    };
    Ok(cache.join("tools").join(format!("zizmor-{version}")))
}

/// `zizmor --version` of `program` is exactly `version`.
fn zizmor_is(program: &Path, version: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1) == Some(version)
        })
}

/// The zizmor to run: `zizmor` on PATH when it is the pinned version, else the one installed in
/// the cache (installing it there first, once, under a lock).
fn zizmor_program(
    context: &RunContext,
    version: &str,
    out: &Output,
    deadline: Instant,
) -> Result<String, String> {
    if zizmor_is(Path::new("zizmor"), version) {
        return Ok("zizmor".into());
    }
    let dir = zizmor_dir(version)?;
    let bin = dir.join("bin").join("zizmor");
    let marker = dir.join(".shiplane-complete");
    if marker.is_file() && zizmor_is(&bin, version) {
        return Ok(bin.display().to_string());
    }
    let parent = dir.parent().unwrap_or(&dir);
    std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    let lock_path = parent.join(format!(".lock-zizmor-{version}"));
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    if marker.is_file() && zizmor_is(&bin, version) {
        return Ok(bin.display().to_string());
    }
    log_line(
        out,
        &format!(
            "zizmor {version} is not on PATH: installing it into {} (once)",
            dir.display()
        ),
    );
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    let python = std::env::var("SHIPLANE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into());
    let install_steps: [(String, Vec<String>); 2] = [
        (
            python.clone(),
            vec!["-m".into(), "venv".into(), dir.display().to_string()],
        ),
        (
            dir.join("bin").join("python").display().to_string(),
            strings(&[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("zizmor=={version}"),
            ]),
        ),
    ];
    for (program, args) in install_steps {
        let mut command = Command::new(&program);
        command
            .args(&args)
            .current_dir(&context.root)
            .env_remove("PIP_FIND_LINKS");
        let shown = format!("{program} {}", args.join(" "));
        match run_child(&mut command, deadline, out) {
            Ok(Finished::Exited(s)) if s.success() => {}
            Ok(Finished::Exited(s)) => {
                return Err(format!(
                    "installing zizmor {version}: `{shown}` failed ({s})"
                ))
            }
            Ok(Finished::TimedOut) => {
                return Err(format!(
                "installing zizmor {version}: `{shown}` did not finish before the step's timeout"
            ))
            }
            Err(e) => return Err(format!("installing zizmor {version}: `{shown}`: {e}")),
        }
    }
    if !zizmor_is(&bin, version) {
        return Err(format!(
            "installed zizmor {version} into {}, but `{} --version` does not report {version}",
            dir.display(),
            bin.display()
        ));
    }
    std::fs::write(&marker, b"").map_err(|e| format!("writing {}: {e}", marker.display()))?;
    Ok(bin.display().to_string())
}

// ---------------------------------------------------------------------------------------------
// GitHub step summary, formatting

fn append_step_summary(report: &CiReport) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut md =
        String::from("### ci\n\n| | step | status | duration | hint |\n|---|---|---|---|---|\n");
    for s in &report.steps {
        let (mark, status) = match s.status {
            Status::Passed => ("✅", "passed".to_string()),
            Status::Failed => ("❌", s.detail.clone()),
            Status::TimedOut => ("⏱️", s.detail.clone()),
            Status::Skipped => ("⏭️", "skipped".to_string()),
        };
        let duration = if s.status == Status::Skipped {
            String::new()
        } else {
            elapsed_text(Duration::from_millis(s.duration_ms))
        };
        let hint = match s.status {
            Status::Failed | Status::TimedOut => s.hint.as_deref().unwrap_or(""),
            _ => "",
        };
        let _ = writeln!(
            md,
            "| {mark} | {} | {} | {duration} | {} |",
            cell(&s.name),
            cell(&status),
            cell(hint)
        );
    }
    md.push('\n');
    let shown = Path::new(&path).display().to_string();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("appending to $GITHUB_STEP_SUMMARY ({shown})"))?;
    file.write_all(md.as_bytes())
        .with_context(|| format!("appending to $GITHUB_STEP_SUMMARY ({shown})"))?;
    Ok(())
}

/// Escape a workflow command property (`title=`): data escapes plus `:` and `,`.
fn github_property(value: &str) -> String {
    github_escape(value).replace(':', "%3A").replace(',', "%2C")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `0.4s`, `12.3s`, `2m05s`.
fn elapsed_text(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// A timeout the way shiplane.toml writes it: `90s` → `1m30s`, `600s` → `10m`, `1h30m`.
fn duration_spec(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut text = String::new();
    if h > 0 {
        let _ = write!(text, "{h}h");
    }
    if m > 0 {
        let _ = write!(text, "{m}m");
    }
    if s > 0 || text.is_empty() {
        let _ = write!(text, "{s}s");
    }
    text
}

/// An argv for people: arguments with spaces or shell characters in single quotes.
fn display_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_config() {
        assert_eq!(duration_spec(Duration::from_secs(600)), "10m");
        assert_eq!(duration_spec(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration_spec(Duration::from_secs(5400)), "1h30m");
        assert_eq!(duration_spec(Duration::from_secs(2)), "2s");
        assert_eq!(elapsed_text(Duration::from_millis(1234)), "1.2s");
        assert_eq!(elapsed_text(Duration::from_secs(125)), "2m05s");
    }

    #[test]
    fn argv_display_quotes_what_a_shell_would_split() {
        let argv = strings(&["python3", "-c", "print('hi there')", "a=b"]);
        assert_eq!(
            display_argv(&argv),
            r"python3 -c 'print('\''hi there'\'')' a=b"
        );
    }

    #[test]
    fn github_title_escapes_property_characters() {
        assert_eq!(github_property("ci a:b,c%"), "ci a%3Ab%2Cc%25");
    }
}
