//! `shiplane publish --execute` of a generated crate chain, against `cargo publish --workspace`
//! on the same workload, both to the loopback Cargo registry of `scripts/registries.sh`.
//!
//! `cargo bench --bench publish` builds the release binary, then for each of `PUBLISH_BENCH_RUNS`
//! (default 3) runs and each side (the order alternates between runs):
//!
//! - starts a fresh local Cargo registry (`scripts/registries.sh up cargo`, stopped again when
//!   the run ends, also on a panic);
//! - generates a workspace of `PUBLISH_BENCH_CRATES` (default 30) crates at 1.0.0 where crate `i`
//!   depends on crate `i-1` (`tests/support/generate.rs`, with `publish = false` removed), commits
//!   it to a fresh git repository with a bare `origin`;
//! - gives it its own `CARGO_HOME` (the registry's config.toml plus crates-io replaced by the
//!   local registry: the published manifests' dependencies point at crates-io) and an empty
//!   `CARGO_TARGET_DIR` outside the work tree (a cold build on both sides);
//! - times `shiplane -C WS publish --execute` (one `cargo publish --package` per crate, waiting for
//!   the index between crates, tags created and pushed) or
//!   `cargo publish --workspace --registry shiplane-local` (cargo orders the crates itself);
//! - checks every crate of the chain is on the registry's sparse index at 1.0.0.
//!
//! After each Shiplane run it also times a second `publish --execute` on the already-published
//! chain (the idempotent no-op: probes only). Prints a Markdown table.
//!
//! `PUBLISH_BENCH_BIN=<path>` times that `shiplane` binary instead of building one.

#[allow(dead_code)] // the tests use the rest of it
#[path = "../tests/support/generate.rs"]
mod generate;
mod support;

use support::{env_usize, release_binary, stdout_of, Samples, Unit};

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const REGISTRIES_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/registries.sh");

/// Run a command to completion, timed; panic with its stdout and stderr when it fails.
fn run(what: &str, cmd: &mut Command) -> (Duration, Output) {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {what} ({cmd:?}): {e}"));
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{what} failed ({}): {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (took, out)
}

// --- the local registry ----------------------------------------------------------------------

/// A loopback Cargo registry in its own state directory; `down` when dropped (also on a panic).
struct Registry {
    env: BTreeMap<String, String>,
    state: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let state = tempfile::Builder::new()
            .prefix("shiplane-bench-registry-")
            .tempdir()
            .expect("a temporary state directory");
        let out = Command::new("bash")
            .arg(REGISTRIES_SCRIPT)
            .args(["up", "cargo", "--state"])
            .arg(state.path())
            .arg("--owner")
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .expect("bash runs scripts/registries.sh");
        let mut registry = Registry {
            env: BTreeMap::new(),
            state,
        };
        assert!(
            out.status.success(),
            "scripts/registries.sh up cargo failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        registry.env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .filter(|(key, _)| key.starts_with("SHIPLANE_REG_"))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        registry
    }

    fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("scripts/registries.sh up printed no {key}: {:?}", self.env))
    }

    /// The index URL without `sparse+`, ending in `/`.
    fn index_http(&self) -> String {
        let index = self.get("SHIPLANE_REG_CARGO_INDEX");
        let index = index.strip_prefix("sparse+").unwrap_or(index);
        if index.ends_with('/') {
            index.to_string()
        } else {
            format!("{index}/")
        }
    }

    /// The versions of `name` the sparse index lists (empty when it answers 404).
    fn versions(&self, agent: &ureq::Agent, name: &str) -> Vec<String> {
        let url = format!("{}{}", self.index_http(), index_path(name));
        let mut response = agent
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        match response.status().as_u16() {
            200 => {}
            404 => return Vec::new(),
            other => panic!("GET {url}: HTTP {other}"),
        }
        let body = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let entry: serde_json::Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("{url}: {e}: {l}"));
                entry["vers"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }

    /// Panic unless every crate of the chain is on the index at `version`.
    fn assert_all_published(&self, crates: usize, version: &str) {
        let agent = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .new_agent();
        let missing: Vec<String> = (0..crates)
            .map(generate::crate_name)
            .filter(|name| !self.versions(&agent, name).iter().any(|v| v == version))
            .collect();
        assert!(
            missing.is_empty(),
            "not on the registry at {version} after the run: {missing:?}"
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let out = Command::new("bash")
            .arg(REGISTRIES_SCRIPT)
            .args(["down", "--state"])
            .arg(self.state.path())
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "scripts/registries.sh down failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("scripts/registries.sh down did not run: {e}"),
        }
    }
}

/// A crate's file in a sparse index, relative to its URL (as `src/registry/cargo.rs` spells it).
fn index_path(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let prefix = match chars.len() {
        1 => "1".to_string(),
        2 => "2".to_string(),
        3 => format!("3/{}", chars[0]),
        _ => format!(
            "{}/{}",
            chars[..2].iter().collect::<String>(),
            chars[2..4].iter().collect::<String>()
        ),
    };
    format!("{prefix}/{name}").to_lowercase()
}

// --- one measured run ------------------------------------------------------------------------

/// A fresh workspace, git repository, `CARGO_HOME` and target directory, with its own registry.
struct Workspace {
    registry: Registry,
    dir: PathBuf,
    cargo_home: PathBuf,
    target: PathBuf,
    // Last: removed after the registry is down.
    _tmp: tempfile::TempDir,
}

fn shiplane_toml(index: &str, cargo_name: &str) -> String {
    format!(
        "[release]\ngithub-release = false\n\n\
         [[product]]\nname = \"chain\"\necosystem = \"cargo\"\nmanifest = \"Cargo.toml\"\n\
         registry = \"local\"\ntag = \"v{{version}}\"\n\n\
         [registry.local]\necosystem = \"cargo\"\nindex = \"{index}\"\ncargo-name = \"{cargo_name}\"\n"
    )
}

impl Workspace {
    fn new(crates: usize) -> Workspace {
        let registry = Registry::start();
        let tmp = tempfile::Builder::new()
            .prefix("shiplane-bench-publish-")
            .tempdir()
            .expect("a temporary directory");
        let dir = tmp.path().join("ws");
        fs::create_dir(&dir).unwrap();
        generate::cargo_workspace(&dir, crates, "1.0.0").expect("generating the workspace");
        for i in 0..crates {
            let manifest = dir
                .join("crates")
                .join(generate::crate_name(i))
                .join("Cargo.toml");
            let text = fs::read_to_string(&manifest).unwrap();
            assert!(text.contains("publish = false\n"), "{}", manifest.display());
            fs::write(&manifest, text.replace("publish = false\n", "")).unwrap();
        }
        fs::write(dir.join(".gitignore"), "/target\n").unwrap();
        fs::write(
            dir.join("shiplane.toml"),
            shiplane_toml(
                registry.get("SHIPLANE_REG_CARGO_INDEX"),
                registry.get("SHIPLANE_REG_CARGO_NAME"),
            ),
        )
        .unwrap();

        let origin = tmp.path().join("origin.git");
        let git = |args: &[&str], cwd: &Path| {
            run(
                &format!("git {}", args.join(" ")),
                Command::new("git")
                    .args(args)
                    .current_dir(cwd)
                    .envs(GIT_ENV),
            );
        };
        git(
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
            tmp.path(),
        );
        git(&["init", "-q", "-b", "main"], &dir);
        git(&["add", "-A"], &dir);
        git(&["commit", "-q", "-m", "chain 1.0.0"], &dir);
        git(&["remote", "add", "origin", origin.to_str().unwrap()], &dir);
        git(&["push", "-q", "-u", "origin", "main"], &dir);

        let cargo_home = tmp.path().join("cargo-home");
        fs::create_dir(&cargo_home).unwrap();
        let config = fs::read_to_string(
            Path::new(registry.get("SHIPLANE_REG_CARGO_HOME")).join("config.toml"),
        )
        .expect("the registry's cargo-home/config.toml");
        fs::write(
            cargo_home.join("config.toml"),
            format!(
                "{config}\n[source.crates-io]\nreplace-with = \"{}\"\n",
                registry.get("SHIPLANE_REG_CARGO_NAME")
            ),
        )
        .unwrap();
        let target = tmp.path().join("target");
        Workspace {
            registry,
            dir,
            cargo_home,
            target,
            _tmp: tmp,
        }
    }

    /// The environment of both sides: this run's `CARGO_HOME`, target directory and token.
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.dir)
            .envs(GIT_ENV)
            .env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env("CARGO_TERM_COLOR", "never")
            .env(
                self.registry.get("SHIPLANE_REG_CARGO_TOKEN_VAR"),
                self.registry.get("SHIPLANE_REG_CARGO_TOKEN"),
            );
        cmd
    }
}

/// A fixed git identity (tags are annotated) that ignores the user's configuration.
const GIT_ENV: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "Shiplane bench"),
    ("GIT_AUTHOR_EMAIL", "bench@localhost"),
    ("GIT_COMMITTER_NAME", "Shiplane bench"),
    ("GIT_COMMITTER_EMAIL", "bench@localhost"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
];

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let crates = env_usize("PUBLISH_BENCH_CRATES", 30);
    let runs = env_usize("PUBLISH_BENCH_RUNS", 3).max(1);
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = generate::cargo();
    let shiplane = match std::env::var_os("PUBLISH_BENCH_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => release_binary(&manifest_dir),
    };
    eprintln!("{crates}-crate chain, {runs} runs per side");

    let time_shiplane = |rerun: &mut Samples| -> Duration {
        let ws = Workspace::new(crates);
        let args = ["-C", ws.dir.to_str().unwrap(), "publish", "--execute"];
        let (took, _) = run(
            "shiplane publish --execute",
            ws.command(&shiplane).args(args),
        );
        ws.registry.assert_all_published(crates, "1.0.0");
        let (again, out) = run(
            "shiplane publish --execute (again)",
            ws.command(&shiplane).args(args),
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("published to"),
            "the second run published something:\n{text}"
        );
        rerun.push(again);
        ws.registry.assert_all_published(crates, "1.0.0");
        eprintln!(
            "  shiplane publish --execute: {:.2} s (again: {:.2} s)",
            took.as_secs_f64(),
            again.as_secs_f64()
        );
        took
    };
    let time_cargo = || -> Duration {
        let ws = Workspace::new(crates);
        let registry = ws.registry.get("SHIPLANE_REG_CARGO_NAME").to_string();
        let (took, _) = run(
            "cargo publish --workspace",
            ws.command(&cargo)
                .args(["publish", "--workspace", "--registry", &registry]),
        );
        ws.registry.assert_all_published(crates, "1.0.0");
        eprintln!("  cargo publish --workspace: {:.2} s", took.as_secs_f64());
        took
    };

    let mut shiplane_samples = Samples::new(Unit::Seconds);
    let mut cargo_samples = Samples::new(Unit::Seconds);
    let mut rerun = Samples::new(Unit::Seconds);
    let started = Instant::now();
    for i in 0..runs {
        eprintln!("run {}/{runs}", i + 1);
        if i % 2 == 0 {
            shiplane_samples.push(time_shiplane(&mut rerun));
            cargo_samples.push(time_cargo());
        } else {
            cargo_samples.push(time_cargo());
            shiplane_samples.push(time_shiplane(&mut rerun));
        }
    }
    let total = started.elapsed();

    let ratio = shiplane_samples.median() / cargo_samples.median();
    let rustc = stdout_of(
        std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()),
        &["-V"],
        &manifest_dir,
    );
    let cargo_version = stdout_of(&cargo, &["-V"], &manifest_dir);
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());

    println!();
    println!(
        "publish of a {crates}-crate dependency chain to a fresh loopback registry, {runs} runs per side, cold target dir each (release build of shiplane)"
    );
    println!();
    println!("| command | median (s) | min (s) | max (s) | runs |");
    println!("|---|---:|---:|---:|---:|");
    println!("{}", shiplane_samples.row("`shiplane publish --execute`"));
    println!(
        "{}",
        cargo_samples.row("`cargo publish --workspace --registry shiplane-local`")
    );
    println!(
        "{}",
        rerun.row("`shiplane publish --execute` again (no-op: probes only)")
    );
    println!();
    println!("shiplane / cargo (medians) = {ratio:.2}x");
    println!(
        "machine: {nproc} CPUs (nproc), {rustc}, {cargo_version}, {}; all runs took {:.0} s",
        std::env::consts::OS,
        total.as_secs_f64()
    );
}
