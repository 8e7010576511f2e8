//! The local registries of `scripts/registries.sh` are real: packages go in and come out through
//! each ecosystem's own client (cargo, twine and pip, npm), against servers on 127.0.0.1. Each
//! test starts only the registries it needs, in its own state directory.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::registries::{self, recorded_in, script_command, Registries};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run `cmd`; panic with its output unless it succeeded; return its stdout.
fn ok(what: &str, cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// GET `url` (no proxy), the body as text when it answers 200.
fn http_get(url: &str) -> Option<String> {
    registries::http_get(url).map(|b| String::from_utf8(b).expect("UTF-8 body"))
}

/// The sparse index file of `name` (lowercase), read over HTTP from `SHIPLANE_REG_CARGO_INDEX`.
fn sparse_index_file(regs: &Registries, name: &str) -> Option<String> {
    let base = regs
        .get("SHIPLANE_REG_CARGO_INDEX")
        .strip_prefix("sparse+")
        .expect("a sparse+ URL")
        .to_string();
    let prefix = match name.len() {
        1 => "1".to_string(),
        2 => "2".to_string(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    };
    http_get(&format!("{base}{prefix}/{name}"))
}

/// A publishable crate with a library and a binary that prints `greeting()`.
fn write_crate(dir: &Path, name: &str, version: &str) {
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"A test crate for the local registry\"\nlicense = \"MIT\"\n"
        ),
    );
    write(
        &dir.join("src/lib.rs"),
        &format!("pub fn greeting() -> &'static str {{\n    \"hello from {name} {version}\"\n}}\n"),
    );
    let lib = name.replace('-', "_");
    write(
        &dir.join("src/main.rs"),
        &format!("fn main() {{\n    println!(\"{{}}\", {lib}::greeting());\n}}\n"),
    );
}

#[test]
fn cargo_publish_then_install_and_depend_through_the_sparse_index() {
    let regs = Registries::start(&["cargo"]);
    let work = tempfile::tempdir().unwrap();
    let krate = work.path().join("shiplane-reg-hello");
    write_crate(&krate, "shiplane-reg-hello", "0.1.0");

    let published = regs.publish_crate(&krate);
    assert!(
        stderr(&published).contains("Published shiplane-reg-hello v0.1.0"),
        "{}",
        stderr(&published)
    );
    assert!(
        !stderr(&published).contains("timed out"),
        "cargo waited in vain for the index: {}",
        stderr(&published)
    );

    // The index is served as a sparse index, its config.json names cargo-http-registry.
    let index = sparse_index_file(&regs, "shiplane-reg-hello").expect("the crate's index file");
    assert!(index.contains(r#""vers":"0.1.0""#), "{index}");
    let base = &regs.get("SHIPLANE_REG_CARGO_INDEX")["sparse+".len()..];
    let config: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{base}config.json")).unwrap()).unwrap();
    let api = regs.get("SHIPLANE_REG_CARGO_API").trim_end_matches('/');
    assert_eq!(config["api"], api);
    assert!(config["dl"].as_str().unwrap().starts_with(api), "{config}");
    assert_eq!(sparse_index_file(&regs, "no-such-crate"), None);

    // cargo install from the registry.
    let root = work.path().join("installed");
    ok(
        "cargo install",
        regs.cargo_command(work.path())
            .args(["install", "--registry", regs.cargo_registry()])
            .args(["shiplane-reg-hello", "--version", "0.1.0", "--root"])
            .arg(&root),
    );
    let printed = ok(
        "the installed binary",
        &mut Command::new(root.join("bin/shiplane-reg-hello")),
    );
    assert_eq!(printed.trim(), "hello from shiplane-reg-hello 0.1.0");

    // A throwaway project that depends on it.
    let user = work.path().join("user");
    write(
        &user.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"user\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nshiplane-reg-hello = {{ version = \"0.1\", registry = \"{}\" }}\n",
            regs.cargo_registry()
        ),
    );
    write(
        &user.join("src/main.rs"),
        "fn main() {\n    println!(\"user: {}\", shiplane_reg_hello::greeting());\n}\n",
    );
    let printed = ok("cargo run", regs.cargo_command(&user).args(["run", "-q"]));
    assert_eq!(printed.trim(), "user: hello from shiplane-reg-hello 0.1.0");
    let lock = fs::read_to_string(user.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "source = \"{}\"",
            regs.get("SHIPLANE_REG_CARGO_INDEX")
        )),
        "{lock}"
    );
}

#[test]
fn cargo_duplicate_publish_is_refused_and_new_versions_show_at_once() {
    let regs = Registries::start(&["cargo"]);
    let work = tempfile::tempdir().unwrap();
    let krate = work.path().join("shiplane-reg-dup");

    // Two versions back to back (within a second): the second must be visible at once too.
    write_crate(&krate, "shiplane-reg-dup", "0.1.0");
    regs.publish_crate(&krate);
    write_crate(&krate, "shiplane-reg-dup", "0.2.0");
    let second = regs.publish_crate(&krate);
    assert!(
        !stderr(&second).contains("timed out"),
        "{}",
        stderr(&second)
    );

    // cargo-http-registry itself would take the duplicate; cargo's client refuses it.
    write_crate(&krate, "shiplane-reg-dup", "0.1.0");
    let started = Instant::now();
    let again = regs.try_publish_crate(&krate);
    assert!(!again.status.success(), "a duplicate publish succeeded");
    assert!(
        stderr(&again).contains("shiplane-reg-dup@0.1.0 already exists"),
        "{}",
        stderr(&again)
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    let index = sparse_index_file(&regs, "shiplane-reg-dup").unwrap();
    let versions: Vec<&str> = index
        .lines()
        .map(|l| {
            l.split(r#""vers":""#)
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(versions, ["0.1.0", "0.2.0"], "{index}");
}

fn write_python_project(dir: &Path, name: &str, version: &str) {
    let module = name.replace('-', "_");
    write(
        &dir.join("pyproject.toml"),
        &format!(
            "[build-system]\nrequires = [\"setuptools>=61\"]\n\
             build-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"{version}\"\n\
             description = \"A test package for the local index\"\n"
        ),
    );
    write(
        &dir.join(format!("src/{module}/__init__.py")),
        &format!("def greeting():\n    return \"hello from {name} {version}\"\n"),
    );
}

#[test]
fn python_upload_then_pip_install_from_the_index() {
    let regs = Registries::start(&["python"]);
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    write_python_project(&project, "shiplane-reg-hello", "0.1.0");
    regs.publish_python(&project);

    let simple = http_get(&format!(
        "{}shiplane-reg-hello/",
        regs.get("SHIPLANE_REG_PYPI_INDEX")
    ))
    .expect("the project's simple page");
    assert!(simple.contains("shiplane_reg_hello-0.1.0"), "{simple}");

    // A fresh venv that installs from the local index only.
    let venv = work.path().join("venv");
    ok(
        "python -m venv",
        Command::new(regs.get("SHIPLANE_REG_PYTHON"))
            .args(["-m", "venv"])
            .arg(&venv),
    );
    ok(
        "pip install",
        Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--no-cache-dir", "--index-url"])
            .arg(regs.get("SHIPLANE_REG_PYPI_INDEX"))
            .arg("shiplane-reg-hello==0.1.0")
            .env("PIP_FIND_LINKS", "")
            .env_remove("PIP_INDEX_URL")
            .env_remove("PIP_EXTRA_INDEX_URL")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    let printed = ok(
        "python -c",
        Command::new(venv.join("bin/python"))
            .args(["-c", "import shiplane_reg_hello as m; print(m.greeting())"]),
    );
    assert_eq!(printed.trim(), "hello from shiplane-reg-hello 0.1.0");
}

#[test]
fn python_duplicate_and_unauthenticated_uploads_are_refused() {
    let regs = Registries::start(&["python"]);
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    write_python_project(&project, "shiplane-reg-dup", "0.1.0");
    let files = regs.build_python(&project);

    // A wrong password: pypiserver answers 403.
    let out = regs
        .python_command()
        .args([
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
        ])
        .args(["--repository-url", regs.get("SHIPLANE_REG_PYPI_UPLOAD")])
        .args(["--username", regs.get("SHIPLANE_REG_PYPI_USER")])
        .args(["--password", "wrong"])
        .args(&files)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stdout(&out).contains("403") || stderr(&out).contains("403"));

    let first = regs.try_upload_python(&files);
    assert!(first.status.success(), "{}", stderr(&first));
    // The same files again: the server refuses them (400), unlike cargo-http-registry.
    let again = regs.try_upload_python(&files);
    assert!(!again.status.success(), "a duplicate upload succeeded");
    let text = format!("{}{}", stdout(&again), stderr(&again));
    assert!(text.contains("400"), "{text}");
}

fn write_npm_package(dir: &Path, name: &str, version: &str) {
    write(
        &dir.join("package.json"),
        &format!(
            "{{\n  \"name\": \"{name}\",\n  \"version\": \"{version}\",\n  \"main\": \"index.js\",\n  \
             \"license\": \"MIT\"\n}}\n"
        ),
    );
    write(
        &dir.join("index.js"),
        &format!("module.exports = () => \"hello from {name} {version}\";\n"),
    );
}

#[test]
fn npm_publish_scoped_and_unscoped_then_install() {
    let regs = Registries::start(&["npm"]);
    let work = tempfile::tempdir().unwrap();
    for name in ["@shiplane-test/scoped", "shiplane-test-plain"] {
        let dir = work.path().join(name.replace('/', "_"));
        write_npm_package(&dir, name, "1.0.0");
        regs.publish_npm(&dir);
    }

    // A fresh folder installs both from the local registry only.
    let app = work.path().join("app");
    write(
        &app.join("package.json"),
        "{\n  \"name\": \"app\",\n  \"version\": \"0.0.0\",\n  \"private\": true\n}\n",
    );
    ok(
        "npm install",
        regs.npm_command(&app)
            .args(["install", "--registry", regs.get("SHIPLANE_REG_NPM_URL")])
            .args(["@shiplane-test/scoped@1.0.0", "shiplane-test-plain@1.0.0"]),
    );
    let printed = ok(
        "node",
        Command::new("node").current_dir(&app).args([
            "-e",
            "console.log(require('@shiplane-test/scoped')()); \
             console.log(require('shiplane-test-plain')())",
        ]),
    );
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [
            "hello from @shiplane-test/scoped 1.0.0",
            "hello from shiplane-test-plain 1.0.0"
        ]
    );
}

#[test]
fn npm_duplicate_publish_is_refused() {
    let regs = Registries::start(&["npm"]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("pkg");
    write_npm_package(&dir, "@shiplane-test/dup", "1.0.0");
    regs.publish_npm(&dir);

    // npm 11 refuses on the client first; older clients get EPUBLISHCONFLICT from the server.
    let again = regs.try_publish_npm(&dir, &[]);
    assert!(!again.status.success(), "a duplicate publish succeeded");
    let text = stderr(&again);
    assert!(
        text.contains("EPUBLISHCONFLICT")
            || text.contains("cannot publish over the previously published versions"),
        "{text}"
    );

    // Past the client's check, verdaccio itself refuses: 409 (EPUBLISHCONFLICT in npm < 11).
    let forced = regs.try_publish_npm(&dir, &["--force"]);
    assert!(
        !forced.status.success(),
        "a forced duplicate publish succeeded"
    );
    let text = stderr(&forced);
    assert!(
        text.contains("EPUBLISHCONFLICT") || text.contains("E409"),
        "{text}"
    );

    let versions = ok(
        "npm view",
        regs.npm_command(work.path())
            .args(["view", "@shiplane-test/dup", "versions", "--json"])
            .args(["--registry", regs.get("SHIPLANE_REG_NPM_URL")]),
    );
    let versions: serde_json::Value = serde_json::from_str(&versions).unwrap();
    assert_eq!(versions, serde_json::json!(["1.0.0"]));
}

#[test]
fn env_status_and_down_leave_no_process_behind() {
    let mut regs = Registries::start(&[]);
    let recorded = regs.recorded();
    let mut names: Vec<&str> = recorded.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "cargo-http-registry",
            "owner-watch",
            "pypiserver",
            "sparse-index",
            "verdaccio"
        ]
    );
    assert!(recorded.iter().all(|r| r.is_running()), "{recorded:?}");

    // `env` prints what `up` printed; `status` says all three are up.
    let env = regs.script(&["env"]);
    assert!(env.status.success(), "{}", stderr(&env));
    assert_eq!(registries::parse_env(&stdout(&env)), regs.env);
    let saved = fs::read_to_string(regs.state_dir().join("env")).unwrap();
    assert_eq!(registries::parse_env(&saved), regs.env);
    let status = regs.script(&["status"]);
    assert!(status.status.success(), "{}", stdout(&status));
    assert_eq!(
        stdout(&status).matches(": up (").count(),
        3,
        "{}",
        stdout(&status)
    );

    regs.stop();
    let left: Vec<_> = recorded.iter().filter(|r| r.is_running()).collect();
    assert!(left.is_empty(), "still running after down: {left:?}");
    assert!(
        regs.recorded().is_empty(),
        "pid files left: {:?}",
        regs.recorded()
    );

    // Idempotent; and status/env now say nothing is up.
    let again = regs.script(&["down"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let status = regs.script(&["status"]);
    assert!(!status.status.success());
    assert_eq!(
        stdout(&status).matches(": down").count(),
        3,
        "{}",
        stdout(&status)
    );
    assert!(!regs.script(&["env"]).status.success());
}

#[test]
fn registries_stop_when_their_owner_process_ends() {
    let state = tempfile::tempdir().unwrap();
    let mut owner = Command::new("sleep").arg("600").spawn().unwrap();
    let out = script_command()
        .args(["up", "cargo", "--state"])
        .arg(state.path())
        .arg("--owner")
        .arg(owner.id().to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let recorded = recorded_in(state.path());
    assert_eq!(recorded.len(), 3, "{recorded:?}");
    assert!(recorded.iter().all(|r| r.is_running()), "{recorded:?}");

    owner.kill().unwrap();
    owner.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorded.iter().any(|r| r.is_running()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<_> = recorded.iter().filter(|r| r.is_running()).collect();
    if !left.is_empty() {
        let _ = script_command()
            .args(["down", "--state"])
            .arg(state.path())
            .output();
        panic!("still running after the owner ended: {left:?}");
    }
    assert!(recorded_in(state.path()).is_empty(), "pid files left");
}

#[test]
fn down_leaves_a_process_alone_unless_it_is_the_one_recorded() {
    // Pid files that name a live process which `up` did not start: another start time (a
    // reused PID), or the right start time but a command line without the recorded marker.
    let state = tempfile::tempdir().unwrap();
    let mut other = Command::new("sleep").arg("600").spawn().unwrap();
    let start = registries::proc_start_time(other.id()).unwrap();
    write(
        &state.path().join("cargo/cargo-http-registry.pid"),
        &format!("{} {} {}\n", other.id(), start + 1, state.path().display()),
    );
    write(
        &state.path().join("npm/verdaccio.pid"),
        &format!("{} {start} verdaccio\n", other.id()),
    );
    let out = script_command()
        .args(["down", "--state"])
        .arg(state.path())
        .output()
        .unwrap();
    let alive = registries::proc_start_time(other.id()) == Some(start);
    other.kill().unwrap();
    other.wait().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(alive, "down stopped a process it had not started");
    assert!(recorded_in(state.path()).is_empty(), "stale pid files left");
    assert!(stderr(&out).contains("was not running"), "{}", stderr(&out));
}
