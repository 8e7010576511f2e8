//! `verify-install` against real registries: small fixture packages (tests/fixtures/verify/) are
//! published to the local registries of `scripts/registries.sh` with each ecosystem's own client
//! (cargo publish, twine upload, npm publish), then `shiplane verify-install` installs them back
//! into fresh environments. It passes for the good packages and fails, with the check line and
//! its fix, for a version never published, a package whose import fails, a `__version__` that was
//! not bumped, missing license metadata and a yanked crate.
//!
//! Each test starts only the registries it needs, in its own state directory.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::registries::Registries;
use support::{copy_fixture, shiplane_command, Run};

/// Three products: a cargo workspace (a library and a binary crate), a Python package and a
/// scoped npm package, all at 1.0.0 with their metadata and `[product.verify]` checks.
const REPO: &str = "tests/fixtures/verify/repo";
/// Packages that publish fine and are broken once installed (see its shiplane.toml).
const BROKEN: &str = "tests/fixtures/verify/broken";

/// For the `[registry.*]` tables of registries a test did not start (never read: the test selects
/// its products). Port 9 (discard) on the loopback.
const UNUSED: &str = "http://127.0.0.1:9/";

/// Fill the `index` placeholders of `dir/shiplane.toml` with the started registries' URLs.
fn configure(dir: &Path, regs: &Registries) {
    let path = dir.join("shiplane.toml");
    let mut text = fs::read_to_string(&path).unwrap();
    for (placeholder, key) in [
        ("@CARGO_INDEX@", "SHIPLANE_REG_CARGO_INDEX"),
        ("@PYPI_INDEX@", "SHIPLANE_REG_PYPI_INDEX"),
        ("@NPM_URL@", "SHIPLANE_REG_NPM_URL"),
    ] {
        let url = regs.env.get(key).map_or(UNUSED, String::as_str);
        text = text.replace(placeholder, url);
    }
    assert!(!text.contains("\"@"), "a placeholder is left: {text}");
    fs::write(&path, text).unwrap();
}

/// `shiplane -C dir verify-install ARGS...`, outside GitHub Actions (even when the tests run
/// under it).
fn verify_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = shiplane_command(dir);
    cmd.arg("verify-install")
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// [`verify_command`] run with `env` added.
fn verify(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut cmd = verify_command(dir, args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    Run::new(&mut cmd)
}

/// The registry labels the check lines use.
fn cargo_label(regs: &Registries) -> String {
    let index = regs.get("SHIPLANE_REG_CARGO_INDEX");
    format!(
        "cargo sparse index {}",
        index.strip_prefix("sparse+").unwrap_or(index)
    )
}

fn python_label(regs: &Registries) -> String {
    format!(
        "python simple index {}",
        regs.get("SHIPLANE_REG_PYPI_INDEX")
    )
}

fn npm_label(regs: &Registries) -> String {
    format!("npm registry {}", regs.get("SHIPLANE_REG_NPM_URL"))
}

#[track_caller]
fn assert_has(text: &str, wanted: &str) {
    assert!(
        text.contains(wanted),
        "missing:\n{wanted}\n--- in ---\n{text}"
    );
}

#[track_caller]
fn assert_lacks(text: &str, unwanted: &str) {
    assert!(
        !text.contains(unwanted),
        "unexpected:\n{unwanted}\n--- in ---\n{text}"
    );
}

/// A failed check as the text report prints it: the line and its `fix:` line.
fn failed(subject: &str, check: &str, detail: &str, fix: &str) -> String {
    format!("✗ {subject}  {check}: {detail}\n    fix: {fix}\n")
}

/// Publish the fixture repository's four packages, each ecosystem on its own thread.
fn publish_repo(regs: &Registries, dir: &Path) {
    thread::scope(|s| {
        s.spawn(|| {
            regs.publish_crate(&dir.join("crates/widget"));
            regs.publish_crate(&dir.join("crates/widget-cli"));
        });
        s.spawn(|| regs.publish_python(&dir.join("python")));
        s.spawn(|| regs.publish_npm(&dir.join("npm")));
    });
}

#[test]
fn three_ecosystems_pass_and_report_as_text_json_and_github_summary() {
    let regs = Registries::start(&["cargo", "python", "npm"]);
    let fixture = copy_fixture(REPO);
    let dir = fixture.path();
    configure(dir, &regs);
    publish_repo(&regs, dir);

    // Every product, at the version the manifests hold (1.0.0).
    let started = Instant::now();
    let run = verify(dir, &[], &[]);
    let elapsed = started.elapsed();
    run.success();
    println!("three-ecosystem verify-install (cold CARGO_HOME, venv, npm folder): {elapsed:.1?}");
    let out = &run.stdout;
    let (cargo, python, npm) = (cargo_label(&regs), python_label(&regs), npm_label(&regs));
    for line in [
        format!("✓ crates/shiplane-verify-widget@1.0.0  published: on {cargo}\n"),
        "✓ crates/shiplane-verify-widget@1.0.0  yanked: not yanked\n".into(),
        "✓ crates/shiplane-verify-widget@1.0.0  build: a project depending on shiplane-verify-widget = \"=1.0.0\" builds\n".into(),
        "✓ crates/shiplane-verify-widget@1.0.0  smoke: the smoke code compiled and ran against shiplane-verify-widget\n".into(),
        "✓ crates/shiplane-verify-widget@1.0.0  license: MIT\n".into(),
        "✓ crates/shiplane-verify-widget@1.0.0  readme: README.md is in the crate\n".into(),
        "✓ crates/shiplane-verify-widget-cli@1.0.0  install: cargo install shiplane-verify-widget-cli --version =1.0.0 works\n".into(),
        "✓ crates/shiplane-verify-widget-cli@1.0.0  --version: shiplane-verify-widget-cli --version prints 1.0.0\n".into(),
        format!("✓ py/shiplane-verify-pylib@1.0.0  published: on {python}\n"),
        "✓ py/shiplane-verify-pylib@1.0.0  wheel: shiplane_verify_pylib-1.0.0-py3-none-any.whl\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  sdist: shiplane_verify_pylib-1.0.0.tar.gz\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  install: pip installed shiplane-verify-pylib==1.0.0 into a fresh venv\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  import: import shiplane_verify_pylib works\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  __version__: shiplane_verify_pylib.__version__ = 1.0.0\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  symbols: 2 public symbol(s) import\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  license: MIT\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  smoke: ran successfully\n".into(),
        "✓ py/shiplane-verify-pylib@1.0.0  command: ran successfully\n".into(),
        format!("✓ js/@shiplane-test/widget@1.0.0  published: on {npm}\n"),
        "✓ js/@shiplane-test/widget@1.0.0  license: MIT\n".into(),
        "✓ js/@shiplane-test/widget@1.0.0  tarball: widget-1.0.0.tgz\n".into(),
        "✓ js/@shiplane-test/widget@1.0.0  install: npm install @shiplane-test/widget@1.0.0 into a fresh folder\n".into(),
        "✓ js/@shiplane-test/widget@1.0.0  import: require/import of @shiplane-test/widget works\n".into(),
        "✓ js/@shiplane-test/widget@1.0.0  version: installed package.json says 1.0.0\n".into(),
        "✓ js/@shiplane-test/widget@1.0.0  symbols: 2 export(s) present\n".into(),
        "✓ js/@shiplane-test/widget@1.0.0  smoke: ran successfully\n".into(),
    ] {
        assert_has(out, &line);
    }
    assert_lacks(out, "✗");
    assert!(
        out.ends_with("verify-install 1.0.0: all 40 checks passed\n"),
        "{out}"
    );

    // --product selects; --format json is {"title", "checks": [{subject, check, ok, detail}]};
    // under GitHub Actions a passing run appends its table and annotates nothing.
    let summary = tempfile::NamedTempFile::new().unwrap();
    fs::write(summary.path(), "# an earlier step\n").unwrap();
    let github = [
        ("GITHUB_ACTIONS", Path::new("true")),
        ("GITHUB_STEP_SUMMARY", summary.path()),
    ];
    let run = verify(dir, &["--product", "js", "--format", "json"], &github);
    run.success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!("no JSON ({e}):\n{}", run.stdout);
    });
    assert_eq!(json["title"], "verify-install 1.0.0");
    let checks = json["checks"].as_array().unwrap();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "published",
            "license",
            "description",
            "repository",
            "readme",
            "tarball",
            "install",
            "import",
            "version",
            "symbols",
            "smoke"
        ]
    );
    for check in checks {
        let object = check.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["check", "detail", "ok", "subject"], "{check}");
        assert_eq!(check["subject"], "js/@shiplane-test/widget@1.0.0");
        assert_eq!(check["ok"], true, "{check}");
    }
    assert_lacks(&run.stderr, "::error");
    let table = fs::read_to_string(summary.path()).unwrap();
    assert!(
        table.starts_with(
            "# an earlier step\n### verify-install 1.0.0\n\n| | subject | check | detail | fix |\n|---|---|---|---|---|\n"
        ),
        "{table}"
    );
    assert_has(
        &table,
        "| ✅ | js/@shiplane-test/widget@1.0.0 | version | installed package.json says 1.0.0 |  |\n",
    );
    assert_eq!(table.matches("| ✅ |").count(), 11, "{table}");

    // A version never published: every package fails `published`, naming the versions that are
    // there, after one shared --wait (not one per package), with exit 1; under GitHub Actions
    // each failure is an ::error annotation and the table is appended.
    let started = Instant::now();
    let run = verify(dir, &["9.9.9", "--wait", "2"], &github);
    let elapsed = started.elapsed();
    run.fails_with(1);
    // One shared deadline: about 2 s in all (one wait per package took 4 x 1.75 s).
    assert!(
        elapsed < Duration::from_secs(5),
        "--wait 2 took {elapsed:?}"
    );
    let fix = |name: &str| {
        format!("publish {name} 9.9.9 first (or check the version asked for); if it was just published, give the registry longer with --wait SECONDS")
    };
    for (subject, name, label) in [
        (
            "crates/shiplane-verify-widget-cli@9.9.9",
            "shiplane-verify-widget-cli",
            &cargo,
        ),
        (
            "crates/shiplane-verify-widget@9.9.9",
            "shiplane-verify-widget",
            &cargo,
        ),
        (
            "py/shiplane-verify-pylib@9.9.9",
            "shiplane-verify-pylib",
            &python,
        ),
        (
            "js/@shiplane-test/widget@9.9.9",
            "@shiplane-test/widget",
            &npm,
        ),
    ] {
        let detail = format!("9.9.9 is not on {label} within --wait 2s (versions there: 1.0.0)");
        assert_has(
            &run.stdout,
            &failed(subject, "published", &detail, &fix(name)),
        );
        assert_has(
            &run.stderr,
            &format!(
                "::error title=shiplane published::{subject} published: {detail} (fix: {})\n",
                fix(name)
            ),
        );
        assert_has(
            &fs::read_to_string(summary.path()).unwrap(),
            &format!(
                "| ❌ | {subject} | published | {detail} | {} |\n",
                fix(name)
            ),
        );
    }
    assert!(
        run.stdout
            .ends_with("verify-install 9.9.9: 4 of 4 checks failed\n"),
        "{}",
        run.stdout
    );
    let table = fs::read_to_string(summary.path()).unwrap();
    assert_eq!(table.matches("### verify-install").count(), 2, "{table}");
    assert_eq!(table.matches("| ❌ |").count(), 4, "{table}");

    // The failure in JSON: the check carries `ok: false` and its `fix`; still exit 1.
    let run = verify(
        dir,
        &[
            "9.9.9",
            "--wait",
            "0",
            "--product",
            "py",
            "--format",
            "json",
        ],
        &[],
    );
    run.fails_with(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "title": "verify-install 9.9.9",
            "checks": [{
                "subject": "py/shiplane-verify-pylib@9.9.9",
                "check": "published",
                "ok": false,
                "detail": format!("9.9.9 is not on {python} within --wait 0s (versions there: 1.0.0)"),
                "fix": fix("shiplane-verify-pylib"),
            }]
        })
    );

    // Usage errors exit 2: an unknown product, a version that is not one.
    let run = verify(dir, &["--product", "nope"], &[]);
    run.fails_with(2);
    assert_has(&run.stderr, "no product `nope`; products: crates, py, js");
    let run = verify(dir, &["one-point-oh"], &[]);
    run.fails_with(2);
}

/// The path of `name`'s file in a Cargo index directory (names of four letters or more).
fn index_file(index: &Path, name: &str) -> std::path::PathBuf {
    index.join(&name[..2]).join(&name[2..4]).join(name)
}

#[test]
fn a_yanked_crate_fails() {
    let regs = Registries::start(&["cargo"]);
    let fixture = copy_fixture(REPO);
    let dir = fixture.path();
    configure(dir, &regs);
    regs.publish_crate(&dir.join("crates/widget"));
    regs.publish_crate(&dir.join("crates/widget-cli"));

    // cargo-http-registry 0.1.8 has no yank endpoint: `cargo yank` gets 405. So the test yanks
    // the way a registry does, in the index itself: `"yanked":true` on the version's line of the
    // index file (the sparse index server reads the file on every request).
    let yank = regs
        .cargo_command(dir)
        .args(["yank", "--version", "1.0.0", "shiplane-verify-widget"])
        .args(["--registry", regs.cargo_registry()])
        .output()
        .unwrap();
    if !yank.status.success() {
        assert_has(&String::from_utf8_lossy(&yank.stderr), "405");
        let file = index_file(
            &regs.state_dir().join("cargo/index"),
            "shiplane-verify-widget",
        );
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches(r#""yanked":false"#).count(), 1, "{text}");
        fs::write(&file, text.replace(r#""yanked":false"#, r#""yanked":true"#)).unwrap();
    }

    let run = verify(dir, &["--product", "crates"], &[]);
    run.fails_with(1);
    assert_has(
        &run.stdout,
        &failed(
            "crates/shiplane-verify-widget@1.0.0",
            "yanked",
            &format!(
                "shiplane-verify-widget 1.0.0 is yanked on {}: cargo will not resolve it for new projects or `cargo install` (build and install not checked)",
                cargo_label(&regs)
            ),
            "publish a fixed version; if the yank was a mistake, `cargo yank --undo --version 1.0.0 shiplane-verify-widget --registry shiplane-local`",
        ),
    );
    // Only the yank is reported for that crate (no build failure that only repeats it); the
    // other crate of the workspace passes.
    assert_lacks(&run.stdout, "shiplane-verify-widget@1.0.0  build");
    assert_has(
        &run.stdout,
        "✓ crates/shiplane-verify-widget-cli@1.0.0  --version: shiplane-verify-widget-cli --version prints 1.0.0\n",
    );
    assert!(
        run.stdout
            .ends_with("verify-install 1.0.0: 1 of 10 checks failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_python_package_whose_import_fails() {
    let regs = Registries::start(&["python"]);
    let fixture = copy_fixture(BROKEN);
    let dir = fixture.path();
    configure(dir, &regs);
    regs.publish_python(&dir.join("py-import"));

    // Someone fixed the module locally after publishing: a working copy sits in the directory
    // Shiplane runs from, and on PYTHONPATH. The check is about what the registry serves.
    fs::write(
        dir.join("py-import/src/shiplane_verify_importfail/__init__.py"),
        "__version__ = \"1.0.0\"\n",
    )
    .unwrap();
    support::fixture::copy_tree(
        &dir.join("py-import/src/shiplane_verify_importfail"),
        &dir.join("shiplane_verify_importfail"),
    );
    let run = Run::new(
        verify_command(dir, &["--product", "py-import"])
            .current_dir(dir)
            .env("PYTHONPATH", dir),
    );
    run.fails_with(1);
    let subject = "py-import/shiplane-verify-importfail@1.0.0";
    // It installs; the import is what fails, with Python's own message.
    assert_has(
        &run.stdout,
        &format!("✓ {subject}  install: pip installed shiplane-verify-importfail==1.0.0 into a fresh venv\n"),
    );
    assert_has(
        &run.stdout,
        &failed(
            subject,
            "import",
            "import shiplane_verify_importfail fails: ImportError: libshiplane_widget.so: cannot open shared object file",
            "make the package importable (missing module, dependency or native library?); set [product.verify] module if the import name differs",
        ),
    );
    // No __version__ check of a module that did not import.
    assert_lacks(&run.stdout, "__version__");
    assert!(
        run.stdout
            .ends_with("verify-install 1.0.0: 1 of 9 checks failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_python_dunder_version_that_was_not_bumped() {
    let regs = Registries::start(&["python"]);
    let fixture = copy_fixture(BROKEN);
    let dir = fixture.path();
    configure(dir, &regs);
    regs.publish_python(&dir.join("py-version"));

    let run = verify(dir, &["1.0.0", "--product", "py-version"], &[]);
    run.fails_with(1);
    let subject = "py-version/shiplane-verify-oldversion@1.0.0";
    assert_has(
        &run.stdout,
        &format!("✓ {subject}  import: import shiplane_verify_oldversion works\n"),
    );
    assert_has(
        &run.stdout,
        &failed(
            subject,
            "__version__",
            "shiplane_verify_oldversion.__version__ = 0.9.0, expected 1.0.0",
            "list the file holding __version__ as a [[version-file]] so bump moves it",
        ),
    );
    assert!(
        run.stdout
            .ends_with("verify-install 1.0.0: 1 of 10 checks failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_license_metadata_fails_for_npm_and_cargo() {
    let regs = Registries::start(&["cargo", "npm"]);
    let fixture = copy_fixture(BROKEN);
    let dir = fixture.path();
    configure(dir, &regs);
    // Neither client refuses a package without a license: cargo publish (to a registry other than
    // crates.io) and npm publish both accept it.
    thread::scope(|s| {
        s.spawn(|| regs.publish_crate(&dir.join("crate-nolicense")));
        s.spawn(|| regs.publish_npm(&dir.join("js-nolicense")));
    });

    let run = verify(
        dir,
        &["--product", "js-nolicense", "--product", "crate-nolicense"],
        &[],
    );
    run.fails_with(1);
    assert_has(
        &run.stdout,
        &failed(
            "js-nolicense/@shiplane-test/unlicensed@1.0.0",
            "license",
            "no license in the published package.json",
            "set \"license\" in package.json",
        ),
    );
    assert_has(
        &run.stdout,
        &failed(
            "crate-nolicense/shiplane-verify-unlicensed@1.0.0",
            "license",
            "the published manifest has no license or license-file",
            "set package.license (an SPDX expression) and publish a new version",
        ),
    );
    // Everything else about them is fine.
    assert_has(
        &run.stdout,
        "✓ crate-nolicense/shiplane-verify-unlicensed@1.0.0  build: a project depending on shiplane-verify-unlicensed = \"=1.0.0\" builds\n",
    );
    assert_has(
        &run.stdout,
        "✓ js-nolicense/@shiplane-test/unlicensed@1.0.0  import: require/import of @shiplane-test/unlicensed works\n",
    );
    assert_eq!(run.stdout.matches("✗").count(), 2, "{}", run.stdout);
}
