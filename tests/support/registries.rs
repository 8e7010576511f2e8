//! Local package registries for integration tests: real servers on 127.0.0.1 started by
//! `scripts/registries.sh` (see docs/registries.md), each [`Registries`] in its own temporary
//! state directory and stopped (by PID) when dropped. The first start on a machine installs the
//! servers into the cache (a few minutes); later starts take a second or two.
//!
//! ```ignore
//! let regs = Registries::start(&["cargo"]);
//! regs.publish_crate(&crate_dir);
//! let index = regs.get("SHIPLANE_REG_CARGO_INDEX"); // sparse+http://127.0.0.1:PORT/
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `scripts/registries.sh` of this repository.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/registries.sh");

/// The registries started for one test. `env` holds the lines `up` printed
/// (`SHIPLANE_REG_CARGO_INDEX`, `SHIPLANE_REG_PYPI_INDEX`, `SHIPLANE_REG_NPM_URL`, ...).
pub struct Registries {
    pub env: BTreeMap<String, String>,
    state: tempfile::TempDir,
    stopped: bool,
}

/// A process that `up` recorded: its pid file's name, PID and start time.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub name: String,
    pub pid: u32,
    pub start_time: u64,
}

impl Recorded {
    /// Still running: same PID, same start time, not a zombie.
    pub fn is_running(&self) -> bool {
        proc_start_time(self.pid) == Some(self.start_time)
    }
}

/// `bash scripts/registries.sh`, ready for arguments.
pub fn script_command() -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(SCRIPT);
    cmd
}

impl Registries {
    /// `scripts/registries.sh up <which> --state <tempdir> --owner <this process>`: `which` is
    /// any of "cargo", "python", "npm" (empty: all three). Panics, with the script's stderr and
    /// the tails of the servers' logs, when they cannot be started: there is no silent skip.
    pub fn start(which: &[&str]) -> Registries {
        let state = tempfile::Builder::new()
            .prefix("shiplane-registries-")
            .tempdir()
            .expect("a temporary state directory");
        let out = script_command()
            .arg("up")
            .args(which)
            .arg("--state")
            .arg(state.path())
            .arg("--owner")
            .arg(std::process::id().to_string())
            .output()
            .expect("bash runs scripts/registries.sh");
        if !out.status.success() {
            let logs = log_tails(state.path());
            let _ = script_command()
                .arg("down")
                .arg("--state")
                .arg(state.path())
                .output();
            panic!(
                "scripts/registries.sh up {which:?} failed ({}):\n--- stderr ---\n{}\n{logs}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = parse_env(&String::from_utf8_lossy(&out.stdout));
        assert!(
            env.contains_key("SHIPLANE_REG_STATE"),
            "scripts/registries.sh up printed no env lines:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        Registries {
            env,
            state,
            stopped: false,
        }
    }

    /// The value of an env line, e.g. `get("SHIPLANE_REG_NPM_URL")`; panics when absent.
    pub fn get(&self, key: &str) -> &str {
        self.env.get(key).map(String::as_str).unwrap_or_else(|| {
            panic!(
                "{key} is not among the env lines (was its registry started?): {:?}",
                self.env.keys().collect::<Vec<_>>()
            )
        })
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// `scripts/registries.sh <args> --state <this state>` (e.g. `env`, `status`), run to the end.
    pub fn script(&self, args: &[&str]) -> Output {
        script_command()
            .args(args)
            .arg("--state")
            .arg(self.state.path())
            .output()
            .expect("bash runs scripts/registries.sh")
    }

    /// The processes `up` recorded in the state directory (servers and the owner watch).
    pub fn recorded(&self) -> Vec<Recorded> {
        recorded_in(self.state.path())
    }

    /// `scripts/registries.sh down`: stops the servers by their recorded PIDs and waits for them.
    /// Panics if it fails. Dropping does the same (without panicking).
    pub fn stop(&mut self) {
        let out = self.script(&["down"]);
        self.stopped = true;
        assert!(
            out.status.success(),
            "scripts/registries.sh down failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `text` (a shiplane.toml whose products include one each of `ecosystem = "cargo"`,
    /// `"python"`, `"npm"`, like the polyglot example's) with those products publishing to these
    /// registries: `registry = "local-crates" | "local-py" | "local-npm"` and the three
    /// `[registry.*]` tables. A registry that was not started gets an unused loopback URL.
    pub fn point_config_at(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (ecosystem, registry) in [
            ("cargo", "local-crates"),
            ("python", "local-py"),
            ("npm", "local-npm"),
        ] {
            let line = format!("ecosystem = \"{ecosystem}\"\n");
            assert_eq!(text.matches(&line).count(), 1, "{text}");
            text = text.replace(&line, &format!("{line}registry = \"{registry}\"\n"));
        }
        let get = |key: &str| {
            self.env
                .get(key)
                .cloned()
                .unwrap_or_else(|| "http://127.0.0.1:9/".to_string())
        };
        text.push_str(&format!(
            "\n[registry.local-crates]\necosystem = \"cargo\"\nindex = \"{}\"\ncargo-name = \"{}\"\n\n\
             [registry.local-py]\necosystem = \"python\"\nindex = \"{}\"\nupload = \"{}\"\n\n\
             [registry.local-npm]\necosystem = \"npm\"\nindex = \"{}\"\n",
            get("SHIPLANE_REG_CARGO_INDEX"),
            get("SHIPLANE_REG_CARGO_NAME"),
            get("SHIPLANE_REG_PYPI_INDEX"),
            get("SHIPLANE_REG_PYPI_UPLOAD"),
            get("SHIPLANE_REG_NPM_URL"),
        ));
        text
    }

    // --- Cargo --------------------------------------------------------------------------------

    /// The registry's name in `SHIPLANE_REG_CARGO_HOME`'s config.toml (`shiplane-local`).
    pub fn cargo_registry(&self) -> &str {
        self.get("SHIPLANE_REG_CARGO_NAME")
    }

    /// Environment for a cargo that talks to the local registry: `CARGO_HOME` (its config.toml
    /// declares the registry), the token, and the index URL again as `CARGO_REGISTRIES_..._INDEX`.
    pub fn cargo_env(&self) -> Vec<(String, String)> {
        let token_var = self.get("SHIPLANE_REG_CARGO_TOKEN_VAR");
        let index_var = token_var.replace("_TOKEN", "_INDEX");
        vec![
            (
                "CARGO_HOME".to_string(),
                self.get("SHIPLANE_REG_CARGO_HOME").to_string(),
            ),
            (
                token_var.to_string(),
                self.get("SHIPLANE_REG_CARGO_TOKEN").to_string(),
            ),
            (index_var, self.get("SHIPLANE_REG_CARGO_INDEX").to_string()),
            ("CARGO_TERM_COLOR".to_string(), "never".to_string()),
        ]
    }

    /// `cargo` in `dir` with [`Self::cargo_env`], building into `dir`'s own target directory
    /// (never an inherited `CARGO_TARGET_DIR`).
    pub fn cargo_command(&self, dir: &Path) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(dir)
            .envs(self.cargo_env())
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        cmd
    }

    /// `cargo publish --registry shiplane-local --allow-dirty` in `dir`, as it ran.
    pub fn try_publish_crate(&self, dir: &Path) -> Output {
        self.cargo_command(dir)
            .args([
                "publish",
                "--registry",
                self.cargo_registry(),
                "--allow-dirty",
            ])
            .output()
            .expect("cargo runs")
    }

    /// [`Self::try_publish_crate`], panicking unless it succeeded.
    pub fn publish_crate(&self, dir: &Path) -> Output {
        succeeded("cargo publish", self.try_publish_crate(dir))
    }

    // --- Python -------------------------------------------------------------------------------

    /// The venv's python (twine, build, setuptools), with the environment for the local index.
    pub fn python_command(&self) -> Command {
        let mut cmd = Command::new(self.get("SHIPLANE_REG_PYTHON"));
        cmd.env("PIP_FIND_LINKS", "")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `python -m build --no-isolation` of `project_dir` (setuptools comes from the venv, so no
    /// network), into a fresh directory of the state. Returns the built files.
    pub fn build_python(&self, project_dir: &Path) -> Vec<PathBuf> {
        let out_dir = tempfile::Builder::new()
            .prefix("dist-")
            .tempdir_in(self.state.path())
            .expect("a dist directory")
            .keep();
        succeeded(
            "python -m build",
            self.python_command()
                .args(["-m", "build", "--no-isolation", "--outdir"])
                .arg(&out_dir)
                .arg(project_dir)
                .output()
                .expect("python runs"),
        );
        let mut files: Vec<PathBuf> = fs::read_dir(&out_dir)
            .expect("the dist directory")
            .map(|e| e.expect("a dist entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "python -m build made nothing");
        files
    }

    /// `twine upload` of `files` to the local index with its user and password, as it ran.
    pub fn try_upload_python(&self, files: &[PathBuf]) -> Output {
        self.python_command()
            .args([
                "-m",
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
            ])
            .args(["--repository-url", self.get("SHIPLANE_REG_PYPI_UPLOAD")])
            .args(["--username", self.get("SHIPLANE_REG_PYPI_USER")])
            .args(["--password", self.get("SHIPLANE_REG_PYPI_PASSWORD")])
            .args(files)
            .output()
            .expect("python runs")
    }

    /// Build `project_dir` and upload it with twine; panics unless both succeeded.
    pub fn publish_python(&self, project_dir: &Path) -> Output {
        let files = self.build_python(project_dir);
        succeeded("twine upload", self.try_upload_python(&files))
    }

    // --- npm ----------------------------------------------------------------------------------

    /// `npm` in `dir` with `--registry` the local one and a userconfig (in the state directory)
    /// that holds only `registry=` and `//127.0.0.1:PORT/:_authToken=`.
    pub fn npm_command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("npm");
        cmd.current_dir(dir)
            .env(
                "npm_config_userconfig",
                self.get("SHIPLANE_REG_NPM_USERCONFIG"),
            )
            .env("npm_config_registry", self.get("SHIPLANE_REG_NPM_URL"))
            .env("npm_config_audit", "false")
            .env("npm_config_fund", "false")
            .env("npm_config_update_notifier", "false")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `npm publish <extra>` in `dir` to the local registry, as it ran.
    pub fn try_publish_npm(&self, dir: &Path, extra: &[&str]) -> Output {
        self.npm_command(dir)
            .args(["publish", "--registry", self.get("SHIPLANE_REG_NPM_URL")])
            .arg("--userconfig")
            .arg(self.get("SHIPLANE_REG_NPM_USERCONFIG"))
            .args(extra)
            .output()
            .expect("npm runs")
    }

    /// [`Self::try_publish_npm`] without extra arguments, panicking unless it succeeded.
    pub fn publish_npm(&self, dir: &Path) -> Output {
        succeeded("npm publish", self.try_publish_npm(dir, &[]))
    }
}

impl Drop for Registries {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let out = script_command()
            .arg("down")
            .arg("--state")
            .arg(self.state.path())
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

/// The KEY=VALUE lines of `up`/`env` output.
pub fn parse_env(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.starts_with("SHIPLANE_REG_"))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The pid files under `state` (`<registry>/*.pid` and `owner-watch.pid`).
pub fn recorded_in(state: &Path) -> Vec<Recorded> {
    let mut files = Vec::new();
    let mut dirs = vec![state.to_path_buf()];
    if let Ok(entries) = fs::read_dir(state) {
        dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for dir in dirs {
        if let Ok(entries) = fs::read_dir(&dir) {
            files.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "pid")),
            );
        }
    }
    files.sort();
    files
        .iter()
        .filter_map(|file| {
            let text = fs::read_to_string(file).ok()?;
            let mut fields = text.split_whitespace();
            Some(Recorded {
                name: file.file_stem()?.to_string_lossy().into_owned(),
                pid: fields.next()?.parse().ok()?,
                start_time: fields.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// Field 22 of /proc/PID/stat (start time), unless the process is gone or a zombie.
pub fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

fn succeeded(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The last lines of every log in the state directory, for a failure message.
fn log_tails(state: &Path) -> String {
    let mut logs = Vec::new();
    for dir in [state.to_path_buf()].into_iter().chain(
        fs::read_dir(state)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir()),
    ) {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "log") {
                logs.push(path);
            }
        }
    }
    logs.sort();
    let mut text = String::new();
    for log in logs {
        let content = fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = content.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        text.push_str(&format!("--- {} ---\n{}\n", log.display(), tail.join("\n")));
    }
    text
}

/// GET `url` from a loopback registry directly (no proxy): the body when it answers 200, `None`
/// for any other status.
pub fn http_get(url: &str) -> Option<Vec<u8>> {
    let agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    if response.status() != 200 {
        return None;
    }
    Some(
        response
            .body_mut()
            .with_config()
            .limit(50 * 1024 * 1024)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("GET {url}: {e}")),
    )
}
