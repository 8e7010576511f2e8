//! `cargo xtask <command>`: Shiplane's CLI on this repository (Shiplane releases itself), plus this
//! repository's own tasks:
//!
//! - `cargo xtask rehearse [--keep]`: a full release rehearsal of the shipped example
//!   (`examples/polyglot`) against real local registries, on one machine: the registries of
//!   `scripts/registries.sh` are started; the example is copied into a git repository with a bare
//!   `origin` (target/rehearsal) and its shiplane.toml pointed at them; then `versions`, `bump
//!   minor`, `preflight`, `publish` (the plan), `publish --execute`, `verify-install` and
//!   `publish --execute` again (nothing left to publish), and the release record is printed. The
//!   registries are stopped in every case (by PID, through the script; its `--owner` watch stops
//!   them if this process is killed). `--keep` keeps target/rehearsal for inspection.
//! - `cargo xtask shiplane <args>`: Shiplane's CLI without this repository's extensions; the
//!   rehearsal runs its steps on the example this way (the example has no lane of its own).
//!
//! The rehearsal is also the last step of this repository's lane (`cargo xtask ci`, after the
//! steps of shiplane.toml `[ci]`): a lane step written in Rust, given to Shiplane through
//! [`shiplane::cli::Extensions`]. `cargo xtask ci --step rehearse` runs it alone.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use shiplane::cli::{run_args, run_args_with, Extensions};
use shiplane::commands::ci::RustStep;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("rehearse") => {
            let keep = args[1..].iter().any(|a| a == "--keep");
            match rehearse(&repo_root(), keep) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rehearse: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Some("shiplane") => ExitCode::from(run_args(&args[1..])),
        _ => ExitCode::from(run_args_with(args, &extensions())),
    }
}

/// What this repository adds to Shiplane: the rehearsal as a lane step.
fn extensions() -> Extensions {
    Extensions {
        ci_steps: vec![
            RustStep::new("rehearse", |root: &Path| rehearse(root, false))
                .hint("run `cargo xtask rehearse --keep` and inspect target/rehearsal/polyglot")
                .timeout(Duration::from_secs(15 * 60)),
        ],
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The version of examples/polyglot, and the one `bump minor` makes of it.
const FROM_VERSION: &str = "1.2.3";
const TO_VERSION: &str = "1.3.0";

/// Names of the registries in the rehearsal's shiplane.toml, by the products' ecosystem.
const REGISTRY_NAMES: [(&str, &str); 3] = [
    ("cargo", "local-crates"),
    ("python", "local-py"),
    ("npm", "local-npm"),
];

/// Identity of every commit and tag of the rehearsal (a fresh machine may have none).
const GIT_IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Shiplane Rehearsal"),
    ("GIT_AUTHOR_EMAIL", "rehearsal@example.com"),
    ("GIT_COMMITTER_NAME", "Shiplane Rehearsal"),
    ("GIT_COMMITTER_EMAIL", "rehearsal@example.com"),
];

fn rehearse(root: &Path, keep: bool) -> Result<()> {
    let started = Instant::now();
    let example = root.join("examples").join("polyglot");
    ensure!(
        example.join("shiplane.toml").is_file(),
        "{}: the example to rehearse on (examples/polyglot) is missing",
        example.display()
    );
    let script = root.join("scripts").join("registries.sh");
    ensure!(
        script.is_file(),
        "{}: the local registries' script is missing",
        script.display()
    );
    let base = root.join("target").join("rehearsal");
    let state = base.join("registries");
    if state.is_dir() {
        // A killed earlier run: stop what it may have left before its state is deleted.
        LocalRegistries::down_quietly(&script, &state);
    }
    if base.exists() {
        std::fs::remove_dir_all(&base).with_context(|| format!("removing {}", base.display()))?;
    }

    let mut timings = Timings::default();
    let mut registries = timings.step("start the local registries", || {
        LocalRegistries::up(&script, &state)
    })?;
    let outcome = rehearse_with(&example, &base, &registries, &mut timings);
    let stopped = timings.step("stop the local registries", || registries.down());
    let outcome = outcome.and_then(|published| stopped.map(|()| published));

    match outcome {
        Ok(published) => {
            if !keep {
                std::fs::remove_dir_all(&base)
                    .with_context(|| format!("removing {}", base.display()))?;
            }
            timings.print();
            println!(
                "\nrehearsal passed in {}: {FROM_VERSION} → {TO_VERSION} bumped across every product, \
                 preflight green, published {published}, installed back and checked, the re-run \
                 published nothing; registries stopped",
                seconds(started.elapsed())
            );
            if keep {
                println!("kept: {}", base.display());
            }
            Ok(())
        }
        Err(e) => {
            timings.print();
            println!(
                "\nrehearsal FAILED after {} (the local registries are stopped; kept for \
                 inspection: {})",
                seconds(started.elapsed()),
                base.display()
            );
            Err(e)
        }
    }
}

/// The rehearsal once the registries are up; what the first `publish --execute` published.
fn rehearse_with(
    example: &Path,
    base: &Path,
    registries: &LocalRegistries,
    timings: &mut Timings,
) -> Result<String> {
    let work = base.join("polyglot");
    let origin = base.join("origin.git");
    let shiplane = timings.step("copy examples/polyglot into a git repository", || {
        copy_tree(example, &work)?;
        let config_path = work.join("shiplane.toml");
        let config = std::fs::read_to_string(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?;
        let config = point_at_local_registries(&config, registries)?;
        std::fs::write(&config_path, config)
            .with_context(|| format!("writing {}", config_path.display()))?;
        git(base, &["init", "-q", "--bare", "origin.git"])?;
        git(&work, &["init", "-q", "-b", "main"])?;
        git(&work, &["add", "-A"])?;
        git(&work, &["commit", "-qm", "polyglot example"])?;
        git(&work, &["remote", "add", "origin", "../origin.git"])?;
        git(&work, &["push", "-q", "origin", "main"])?;
        println!("repository: {}", work.display());
        println!("origin:     {} (bare)", origin.display());
        for (ecosystem, name) in REGISTRY_NAMES {
            println!(
                "registry:   {name} ({ecosystem}) {}",
                registries.get(endpoint_key(ecosystem))?
            );
        }
        println!(
            "no GitHub here: [release] github-release = false (tags go to the bare origin; \
             no GitHub releases, no attached assets)"
        );
        Shiplane::new(&work, base, registries)
    })?;

    shiplane.expect(timings, &["versions"], 0)?;
    shiplane.expect(timings, &["bump", "minor", "--dry-run"], 0)?;
    shiplane.expect(timings, &["bump", "minor"], 0)?;
    timings.step("the bumped workspace builds with its Cargo.lock", || {
        println!("$ git diff --stat");
        print!("{}", git(&work, &["diff", "--stat"])?);
        println!("$ cargo check --workspace --offline --locked");
        let status = shiplane
            .cargo(&["check", "--workspace", "--offline", "--locked", "--quiet"])
            .env("CARGO_TARGET_DIR", base.join("target"))
            .status()
            .context("running cargo check")?;
        ensure!(
            status.success(),
            "the bumped example does not build with its Cargo.lock ({status})"
        );
        git(
            &work,
            &["commit", "-qam", &format!("release: v{TO_VERSION}")],
        )?;
        git(&work, &["push", "-q", "origin", "main"])?;
        println!("committed and pushed: release: v{TO_VERSION}");
        Ok(())
    })?;
    shiplane.expect(timings, &["bump", TO_VERSION], 0)?;
    shiplane.expect(timings, &["bump", "1.2.9"], 1)?;
    timings.step(
        "the no-op bump and the refused downgrade changed nothing",
        || clean_work_tree(&work),
    )?;

    shiplane.expect(timings, &["preflight"], 0)?;
    shiplane.expect(timings, &["publish"], 0)?;
    shiplane.expect(timings, &["publish", "--execute"], 0)?;
    let record_path = work
        .join("target")
        .join("shiplane")
        .join("releases")
        .join(format!("{TO_VERSION}.json"));
    let first_record = read_record(&record_path)?;
    let published = published_summary(&first_record);
    ensure!(
        !published.is_empty(),
        "the first `publish --execute` published nothing ({})",
        record_path.display()
    );

    shiplane.expect(timings, &["verify-install", "--wait", "60"], 0)?;

    let again = shiplane.expect(timings, &["publish", "--execute"], 0)?;
    timings.step("the re-run was a no-op", || {
        ensure!(
            again.lines().any(|l| l.starts_with("0 published, ")),
            "the second `publish --execute` did not report `0 published`"
        );
        let second_record = read_record(&record_path)?;
        let not_skipped: Vec<String> = second_record
            .iter()
            .filter(|item| field(item, "action") != "skipped")
            .map(|item| {
                format!(
                    "{} {}: {}",
                    field(item, "kind"),
                    field(item, "name"),
                    field(item, "action")
                )
            })
            .collect();
        ensure!(
            not_skipped.is_empty(),
            "the second `publish --execute` did not skip everything: {}",
            not_skipped.join(", ")
        );
        clean_work_tree(&work)?;
        println!(
            "all {} items skipped (already out); work tree clean",
            second_record.len()
        );
        Ok(())
    })?;

    timings.step("release record", || {
        println!(
            "{} (as the first `publish --execute` wrote it; the re-run's record marks every item skipped)",
            record_path.display()
        );
        print!("{}", record_table(&first_record));
        Ok(())
    })?;
    Ok(published)
}

/// The rehearsal's shiplane.toml: every product published to a loopback registry (listed
/// below it), and no GitHub release (there is no GitHub here).
fn point_at_local_registries(config: &str, registries: &LocalRegistries) -> Result<String> {
    let mut out = String::with_capacity(config.len() + 512);
    let mut release_tables = 0;
    let mut pointed: BTreeSet<&str> = BTreeSet::new();
    for line in config.lines() {
        out.push_str(line);
        out.push('\n');
        let line = line.trim();
        if line == "[release]" {
            out.push_str("github-release = false  # rehearsal: there is no GitHub here\n");
            release_tables += 1;
        }
        for (ecosystem, name) in REGISTRY_NAMES {
            if line.starts_with(&format!("ecosystem = \"{ecosystem}\"")) {
                out.push_str(&format!("registry = \"{name}\"\n"));
                pointed.insert(ecosystem);
            }
        }
    }
    let missing: Vec<&str> = REGISTRY_NAMES
        .iter()
        .map(|(ecosystem, _)| *ecosystem)
        .filter(|e| !pointed.contains(e))
        .collect();
    ensure!(
        release_tables == 1 && missing.is_empty(),
        "examples/polyglot/shiplane.toml no longer has one [release] table and a product of each \
         of {:?} (missing: {missing:?}); update the rehearsal in xtask/src/main.rs",
        REGISTRY_NAMES.map(|(e, _)| e)
    );
    out.push_str(
        "\n# Added by `cargo xtask rehearse`: the local registries of scripts/registries.sh.\n",
    );
    for (ecosystem, name) in REGISTRY_NAMES {
        out.push_str(&format!(
            "[registry.{name}]\necosystem = \"{ecosystem}\"\nindex = \"{}\"\n",
            registries.get(endpoint_key(ecosystem))?
        ));
        match ecosystem {
            "cargo" => out.push_str(&format!(
                "cargo-name = \"{}\"\n",
                registries.get("SHIPLANE_REG_CARGO_NAME")?
            )),
            "python" => out.push_str(&format!(
                "upload = \"{}\"\n",
                registries.get("SHIPLANE_REG_PYPI_UPLOAD")?
            )),
            _ => {}
        }
    }
    Ok(out)
}

/// The env line of the registries' script that holds an ecosystem's index.
fn endpoint_key(ecosystem: &str) -> &'static str {
    match ecosystem {
        "cargo" => "SHIPLANE_REG_CARGO_INDEX",
        "python" => "SHIPLANE_REG_PYPI_INDEX",
        _ => "SHIPLANE_REG_NPM_URL",
    }
}

/// Shiplane steps on the rehearsal repository: this executable started again as
/// `<exe> shiplane -C <repo> <args>`, with the registries' environment on the child only.
struct Shiplane {
    exe: PathBuf,
    work: PathBuf,
    env: Vec<(String, OsString)>,
}

impl Shiplane {
    fn new(work: &Path, base: &Path, registries: &LocalRegistries) -> Result<Shiplane> {
        // In this rehearsal crates-io IS the loopback registry: path dependencies of published
        // crates refer to crates-io, so without the replacement the second crate cannot resolve.
        let cargo_home = base.join("cargo-home");
        let registry_config =
            Path::new(registries.get("SHIPLANE_REG_CARGO_HOME")?).join("config.toml");
        let mut config = std::fs::read_to_string(&registry_config)
            .with_context(|| format!("reading {}", registry_config.display()))?;
        config.push_str(&format!(
            "\n# The rehearsal's crates-io is the local registry.\n[source.crates-io]\nreplace-with = \"{}\"\n",
            registries.get("SHIPLANE_REG_CARGO_NAME")?
        ));
        std::fs::create_dir_all(&cargo_home)
            .with_context(|| format!("creating {}", cargo_home.display()))?;
        std::fs::write(cargo_home.join("config.toml"), config)
            .with_context(|| format!("writing {}", cargo_home.join("config.toml").display()))?;

        // The registries' venv first on PATH: twine and maturin.
        let python = Path::new(registries.get("SHIPLANE_REG_PYTHON")?);
        let venv_bin = python
            .parent()
            .with_context(|| format!("{}: no parent directory", python.display()))?;
        let path = std::env::join_paths(
            std::iter::once(venv_bin.to_path_buf()).chain(
                std::env::var_os("PATH")
                    .iter()
                    .flat_map(std::env::split_paths),
            ),
        )
        .context("building PATH")?;

        let mut env: Vec<(String, OsString)> = vec![
            ("CARGO_HOME".into(), cargo_home.into()),
            (
                registries.get("SHIPLANE_REG_CARGO_TOKEN_VAR")?.into(),
                registries.get("SHIPLANE_REG_CARGO_TOKEN")?.into(),
            ),
            (
                "TWINE_USERNAME".into(),
                registries.get("SHIPLANE_REG_PYPI_USER")?.into(),
            ),
            (
                "TWINE_PASSWORD".into(),
                registries.get("SHIPLANE_REG_PYPI_PASSWORD")?.into(),
            ),
            (
                "npm_config_userconfig".into(),
                registries.get("SHIPLANE_REG_NPM_USERCONFIG")?.into(),
            ),
            ("PATH".into(), path),
            // Tags are made by the rehearsal: never signed with the user's key.
            ("GIT_CONFIG_COUNT".into(), "2".into()),
            ("GIT_CONFIG_KEY_0".into(), "commit.gpgsign".into()),
            ("GIT_CONFIG_VALUE_0".into(), "false".into()),
            ("GIT_CONFIG_KEY_1".into(), "tag.gpgsign".into()),
            ("GIT_CONFIG_VALUE_1".into(), "false".into()),
        ];
        env.extend(GIT_IDENTITY.map(|(k, v)| (k.to_string(), OsString::from(v))));
        Ok(Shiplane {
            exe: std::env::current_exe().context("finding the running executable")?,
            work: work.to_path_buf(),
            env,
        })
    }

    fn apply(&self, command: &mut Command) {
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // The example's own builds use its own target directory.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
    }

    /// `cargo <args>` in the rehearsal repository, with the rehearsal's environment.
    fn cargo(&self, args: &[&str]) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.args(args).current_dir(&self.work);
        self.apply(&mut command);
        command
    }

    /// Run `shiplane <args>` as a step; it must exit with `expect`. Its stdout is shown as it
    /// comes and returned.
    fn expect(&self, timings: &mut Timings, args: &[&str], expect: i32) -> Result<String> {
        let shown = format!("shiplane {}", args.join(" "));
        timings.step(&shown, || {
            let mut command = Command::new(&self.exe);
            command
                .arg("shiplane")
                .arg("-C")
                .arg(&self.work)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped());
            self.apply(&mut command);
            let mut child = command
                .spawn()
                .with_context(|| format!("starting {}", self.exe.display()))?;
            let mut captured = String::new();
            if let Some(stdout) = child.stdout.take() {
                let mut reader = BufReader::new(stdout);
                let mut line = Vec::new();
                let mut out = std::io::stdout();
                while reader
                    .read_until(b'\n', &mut line)
                    .with_context(|| format!("reading the output of `{shown}`"))?
                    > 0
                {
                    let _ = out.write_all(&line);
                    let _ = out.flush();
                    captured.push_str(&String::from_utf8_lossy(&line));
                    line.clear();
                }
            }
            let status = child
                .wait()
                .with_context(|| format!("waiting for `{shown}`"))?;
            match status.code() {
                Some(code) if code == expect => {
                    if expect != 0 {
                        println!("(exit {code}, as expected)");
                    }
                    Ok(captured)
                }
                Some(code) => bail!("`{shown}` exited {code}, expected {expect}"),
                None => bail!("`{shown}` was killed ({status})"),
            }
        })
    }
}

/// The registries of `scripts/registries.sh` for this rehearsal: started with `--owner` this
/// process (the script's watch stops them if we are killed), stopped by `down` or on drop.
struct LocalRegistries {
    script: PathBuf,
    state: PathBuf,
    env: BTreeMap<String, String>,
    running: bool,
}

impl LocalRegistries {
    fn up(script: &Path, state: &Path) -> Result<LocalRegistries> {
        // Created before `up` runs: whatever it started is stopped again if it fails.
        let mut registries = LocalRegistries {
            script: script.to_path_buf(),
            state: state.to_path_buf(),
            env: BTreeMap::new(),
            running: true,
        };
        println!(
            "$ bash scripts/registries.sh up --state {} --owner {}",
            state.display(),
            std::process::id()
        );
        println!("(a first run on a machine installs them into the cache first: a few minutes)");
        let out = Command::new("bash")
            .arg(script)
            .arg("up")
            .arg("--state")
            .arg(state)
            .arg("--owner")
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .context("running bash scripts/registries.sh up")?;
        ensure!(
            out.status.success(),
            "scripts/registries.sh up failed ({}); its messages are above, the servers' logs in {}",
            out.status,
            state.display()
        );
        registries.env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .filter(|(key, _)| key.starts_with("SHIPLANE_REG_"))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Ok(registries)
    }

    fn get(&self, key: &str) -> Result<&str> {
        self.env.get(key).map(String::as_str).with_context(|| {
            format!("scripts/registries.sh up printed no {key} (is its registry up?)")
        })
    }

    fn down(&mut self) -> Result<()> {
        self.running = false;
        println!(
            "$ bash scripts/registries.sh down --state {}",
            self.state.display()
        );
        let status = Command::new("bash")
            .arg(&self.script)
            .arg("down")
            .arg("--state")
            .arg(&self.state)
            .stdin(Stdio::null())
            .status()
            .context("running bash scripts/registries.sh down")?;
        ensure!(
            status.success(),
            "scripts/registries.sh down failed ({status})"
        );
        Ok(())
    }

    fn down_quietly(script: &Path, state: &Path) {
        let _ = Command::new("bash")
            .arg(script)
            .arg("down")
            .arg("--state")
            .arg(state)
            .stdin(Stdio::null())
            .output();
    }
}

impl Drop for LocalRegistries {
    fn drop(&mut self) {
        if self.running {
            if let Err(e) = self.down() {
                eprintln!("rehearse: {e:#}");
            }
        }
    }
}

/// Each step's header (`==> name`) and duration, and the table of them at the end.
#[derive(Default)]
struct Timings {
    steps: Vec<(String, Duration, bool)>,
}

impl Timings {
    fn step<T>(&mut self, name: &str, run: impl FnOnce() -> Result<T>) -> Result<T> {
        println!("\n==> {name}");
        let started = Instant::now();
        let result = run();
        let took = started.elapsed();
        match &result {
            Ok(_) => println!("    ok ({})", seconds(took)),
            Err(e) => println!("    FAILED ({}): {e:#}", seconds(took)),
        }
        self.steps.push((name.to_string(), took, result.is_ok()));
        result
    }

    fn print(&self) {
        println!("\n==> timings");
        let width = self
            .steps
            .iter()
            .map(|(n, _, _)| n.chars().count())
            .max()
            .unwrap_or(0);
        for (name, took, ok) in &self.steps {
            println!(
                "  {} {name:<width$}  {:>10}",
                if *ok { "✓" } else { "✗" },
                seconds(*took)
            );
        }
    }
}

fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{} min {:.0} s", (secs / 60.0).floor(), secs % 60.0)
    }
}

/// The items of a release record, each field as text. The record is the pretty JSON that
/// `publish` writes: one field per line, so a line scan reads it.
fn read_record(path: &Path) -> Result<Vec<BTreeMap<String, String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let items = record_items(&text);
    ensure!(
        !items.is_empty(),
        "{}: no items in the release record",
        path.display()
    );
    Ok(items)
}

fn record_items(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut items = Vec::new();
    let mut in_items = false;
    let mut item: Option<BTreeMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if !in_items {
            in_items = line.starts_with("\"items\": [");
            continue;
        }
        match line {
            "{" => item = Some(BTreeMap::new()),
            "}" | "}," => items.extend(item.take()),
            "]" | "]," => break,
            _ => {
                let (Some(fields), Some((key, value))) = (item.as_mut(), line.split_once("\": "))
                else {
                    continue;
                };
                let value = value.strip_suffix(',').unwrap_or(value);
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value)
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\");
                fields.insert(key.trim_start_matches('"').to_string(), value);
            }
        }
    }
    items
}

fn field<'a>(item: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    item.get(key).map(String::as_str).unwrap_or("")
}

/// What a record says was published, by kind: `13 items (6 tags, 3 crates, ...)`; empty when
/// nothing was.
fn published_summary(items: &[BTreeMap<String, String>]) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for item in items.iter().filter(|i| field(i, "action") == "published") {
        let kind = field(item, "kind");
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let total: usize = kinds.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return String::new();
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    format!("{total} items ({})", kinds.join(", "))
}

/// The record as a table: action, product, kind, name, version, registry, the sha256's first
/// 12 digits.
fn record_table(items: &[BTreeMap<String, String>]) -> String {
    let columns = [
        "action", "product", "kind", "name", "version", "registry", "sha256",
    ];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| match (*c, field(item, c)) {
                    ("sha256", sha) => sha.chars().take(12).collect(),
                    ("product", "") => "-".to_string(),
                    (_, value) => value.to_string(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([columns[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in std::iter::once(columns.map(String::from).to_vec()).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(&format!("  {}\n", cells.join("  ").trim_end()));
    }
    text
}

fn clean_work_tree(work: &Path) -> Result<()> {
    let status = git(work, &["status", "--porcelain"])?;
    ensure!(status.is_empty(), "the work tree changed:\n{status}");
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .envs(GIT_IDENTITY)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running git {args:?}"))?;
    ensure!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let name = entry.file_name();
        if name == "target" || name == "node_modules" {
            continue;
        }
        let dest = to.join(&name);
        if entry
            .file_type()
            .with_context(|| format!("reading {}", entry.path().display()))?
            .is_dir()
        {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying to {}", dest.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registries() -> LocalRegistries {
        let env = [
            ("SHIPLANE_REG_CARGO_INDEX", "sparse+http://127.0.0.1:1/"),
            ("SHIPLANE_REG_CARGO_NAME", "shiplane-local"),
            ("SHIPLANE_REG_PYPI_INDEX", "http://127.0.0.1:2/simple/"),
            ("SHIPLANE_REG_PYPI_UPLOAD", "http://127.0.0.1:2/"),
            ("SHIPLANE_REG_NPM_URL", "http://127.0.0.1:3/"),
        ];
        LocalRegistries {
            script: PathBuf::new(),
            state: PathBuf::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            running: false,
        }
    }

    #[test]
    fn the_example_is_pointed_at_the_local_registries() {
        let config =
            std::fs::read_to_string(repo_root().join("examples/polyglot/shiplane.toml")).unwrap();
        let pointed = point_at_local_registries(&config, &registries()).unwrap();
        // Only additions: without the added lines and tables, it is the example's file.
        let (head, _tables) = pointed.split_once("\n# Added by").unwrap();
        let kept: Vec<&str> = head
            .lines()
            .filter(|l| !l.starts_with("registry = \"local-") && !l.starts_with("github-release"))
            .collect();
        assert_eq!(kept, config.lines().collect::<Vec<_>>());
        for (ecosystem, name) in REGISTRY_NAMES {
            assert!(
                pointed.contains(&format!(
                    "ecosystem = \"{ecosystem}\"\nregistry = \"{name}\"\n"
                )),
                "{pointed}"
            );
        }
        assert!(
            pointed.contains("[release]\ngithub-release = false"),
            "{pointed}"
        );
        assert!(pointed.ends_with(
            "[registry.local-crates]\necosystem = \"cargo\"\nindex = \"sparse+http://127.0.0.1:1/\"\n\
             cargo-name = \"shiplane-local\"\n\
             [registry.local-py]\necosystem = \"python\"\nindex = \"http://127.0.0.1:2/simple/\"\n\
             upload = \"http://127.0.0.1:2/\"\n\
             [registry.local-npm]\necosystem = \"npm\"\nindex = \"http://127.0.0.1:3/\"\n"
        ));
    }

    #[test]
    fn an_example_without_a_product_of_each_ecosystem_is_refused() {
        let err = point_at_local_registries(
            "[release]\n[[product]]\necosystem = \"cargo\"\n",
            &registries(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("missing: [\"python\", \"npm\"]"),
            "{err}"
        );
    }

    #[test]
    fn records_are_read_and_shown_as_a_table() {
        let text = r#"{
  "version": "1.3.0",
  "items": [
    {
      "product": "engine",
      "kind": "crate",
      "name": "polyglot-engine",
      "version": "1.3.0",
      "sha256": "0123456789abcdef0123",
      "action": "published",
      "detail": "said \"hi\", then left"
    },
    {
      "product": "",
      "kind": "tag",
      "name": "v1.3.0",
      "version": "1.3.0",
      "registry": "git origin",
      "action": "published"
    },
    {
      "product": "go-sdk",
      "kind": "go-module",
      "name": "sdk/go/v1.3.0",
      "version": "1.3.0",
      "action": "skipped"
    }
  ]
}
"#;
        let items = record_items(text);
        assert_eq!(items.len(), 3);
        assert_eq!(field(&items[0], "detail"), "said \"hi\", then left");
        assert_eq!(field(&items[2], "action"), "skipped");
        assert_eq!(
            record_table(&items),
            "  action     product  kind       name             version  registry    sha256\n\
             \x20 published  engine   crate      polyglot-engine  1.3.0                0123456789ab\n\
             \x20 published  -        tag        v1.3.0           1.3.0    git origin\n\
             \x20 skipped    go-sdk   go-module  sdk/go/v1.3.0    1.3.0\n"
        );
        assert_eq!(published_summary(&items), "2 items (1 crate, 1 tag)");
        assert_eq!(published_summary(&items[2..]), "");
    }
}
