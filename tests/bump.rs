//! `bump` on real fixture repositories: each runs in a temp copy with a real git repository, and
//! asserts the whole `git diff` (or that nothing changed) and the message.
//!
//! Expected diffs live in tests/fixtures/<name>/bump-<version>.diff. After a deliberate change,
//! regenerate them with `SHIPLANE_BLESS=1 cargo test --test bump` and review the diff.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::{copy_fixture, git, shiplane, Run};

const POLYGLOT: &str = "examples/polyglot";
const PYLIB: &str = "tests/fixtures/pylib/in";
const MIXAPP: &str = "tests/fixtures/mixapp/in";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The working tree's changes against HEAD, as git shows them.
fn diff(dir: &Path) -> String {
    git(
        dir,
        &[
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--src-prefix=a/",
            "--dst-prefix=b/",
        ],
    )
}

fn assert_clean(dir: &Path) {
    let status = git(dir, &["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(status, "", "the working tree changed");
}

/// Compare with the expected diff file, or write it under SHIPLANE_BLESS=1.
fn assert_diff(dir: &Path, expected: &str) {
    let actual = diff(dir);
    let path = manifest_dir().join(expected);
    if std::env::var_os("SHIPLANE_BLESS").is_some() {
        fs::write(&path, &actual).unwrap();
    }
    let wanted = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with SHIPLANE_BLESS=1)", path.display()));
    if actual != wanted {
        panic!("the diff differs from {expected}:\n--- actual ---\n{actual}");
    }
}

#[test]
fn polyglot_prerelease_changes_exactly_the_version_values() {
    let repo = copy_fixture(POLYGLOT);
    let run = shiplane(repo.path(), &["bump", "1.3.0-rc.1"]);
    run.success();
    assert!(
        run.stdout.contains("bumped 1.2.3 → 1.3.0-rc.1"),
        "{}",
        run.stdout
    );
    assert_diff(repo.path(), "tests/fixtures/polyglot/bump-1.3.0-rc.1.diff");
    // Byte details the diff alone does not show plainly.
    let tauri = fs::read(repo.path().join("desktop/src-tauri/tauri.conf.json")).unwrap();
    assert_ne!(
        tauri.last(),
        Some(&b'\n'),
        "the missing trailing newline is kept"
    );
    let desktop = fs::read_to_string(repo.path().join("desktop/package.json")).unwrap();
    assert!(
        desktop.contains("\"version\": \"1.3.0-rc.1\",\r\n"),
        "CRLF kept"
    );
    assert_eq!(
        desktop.matches('\n').count(),
        desktop.matches("\r\n").count()
    );
    // Cargo agrees the manifests and Cargo.lock are consistent, without network.
    let metadata = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--offline", "--locked", "--format-version", "1"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );
}

#[test]
fn bump_is_idempotent() {
    let repo = copy_fixture(POLYGLOT);
    shiplane(repo.path(), &["bump", "minor"]).success();
    git(repo.path(), &["commit", "-qam", "bump"]);
    let again = shiplane(repo.path(), &["bump", "1.3.0"]);
    again.success();
    assert!(
        again.stdout.contains("already at 1.3.0: nothing to do"),
        "{}",
        again.stdout
    );
    assert_clean(repo.path());
}

#[test]
fn python_library_gets_pep440_forms_and_release_date() {
    let repo = copy_fixture(PYLIB);
    shiplane(repo.path(), &["bump", "0.5.0-rc.1"]).success();
    assert_diff(repo.path(), "tests/fixtures/pylib/bump-0.5.0-rc.1.diff");
    let init = fs::read(repo.path().join("src/scopekit/__init__.py")).unwrap();
    assert!(
        init.ends_with(b"__version__ = \"0.5.0rc1\""),
        "no trailing newline added"
    );
    // Reading the PEP 440 forms back gives the semver version: the next bump sees agreement.
    let versions = shiplane(repo.path(), &["versions"]);
    versions.success();
    assert!(
        versions.stdout.contains("agree on 0.5.0-rc.1"),
        "{}",
        versions.stdout
    );
    git(repo.path(), &["commit", "-qam", "rc1"]);
    shiplane(repo.path(), &["bump", "patch"]).success();
    let pyproject = fs::read_to_string(repo.path().join("pyproject.toml")).unwrap();
    assert!(
        pyproject.contains("version = \"0.5.0\""),
        "patch on 0.5.0-rc.1 gives 0.5.0"
    );
}

#[test]
fn mix_project_pattern_and_version_file() {
    let repo = copy_fixture(MIXAPP);
    shiplane(repo.path(), &["bump", "minor"]).success();
    assert_diff(repo.path(), "tests/fixtures/mixapp/bump-2.1.0.diff");
}

#[test]
fn invalid_versions_are_usage_errors_and_change_nothing() {
    let repo = copy_fixture(POLYGLOT);
    for (input, expected) in [
        ("0.1", "needs three numbers MAJOR.MINOR.PATCH, e.g. `0.1.0`"),
        ("v1.2", "starts with `v`"),
        ("1.2.3.4", "has 4 numeric parts"),
        ("", "empty version"),
        ("1.2.x", "is not a valid semver version"),
    ] {
        let run = shiplane(repo.path(), &["bump", input]);
        run.fails_with(2);
        assert!(run.stderr.contains(expected), "{input:?}: {}", run.stderr);
        assert_clean(repo.path());
    }
}

#[test]
fn downgrades_are_refused_unless_allowed() {
    let repo = copy_fixture(POLYGLOT);
    let run = shiplane(repo.path(), &["bump", "1.2.2"]);
    run.fails_with(1);
    assert!(
        run.stderr
            .contains("1.2.2 is lower than the current version 1.2.3: refusing to downgrade"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-downgrade"));
    assert_clean(repo.path());

    let same = shiplane(repo.path(), &["bump", "1.2.3+build.7"]);
    same.fails_with(1);
    assert!(same.stderr.contains("same precedence"), "{}", same.stderr);
    assert_clean(repo.path());

    shiplane(repo.path(), &["bump", "1.2.2", "--allow-downgrade"]).success();
    let versions = shiplane(repo.path(), &["versions"]);
    assert!(
        versions.stdout.contains("agree on 1.2.2"),
        "{}",
        versions.stdout
    );
}

#[test]
fn disagreement_lists_every_location_and_changes_nothing() {
    let repo = copy_fixture(POLYGLOT);
    let path = repo.path().join("desktop/src-tauri/tauri.conf.json");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("\"1.2.3\"", "\"1.2.4\"");
    fs::write(&path, text).unwrap();
    let header = repo.path().join("crates/engine-ffi/include/polyglot.h");
    let text = fs::read_to_string(&header)
        .unwrap()
        .replace("1.2.3", "1.1.0");
    fs::write(&header, text).unwrap();
    git(repo.path(), &["commit", "-qam", "drift"]);

    let run = shiplane(repo.path(), &["bump", "1.3.0"]);
    run.fails_with(1);
    assert!(
        run.stderr
            .contains("version locations disagree (3 different versions)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("desktop/src-tauri/tauri.conf.json:3 = 1.2.4"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("crates/engine-ffi/include/polyglot.h:7 = 1.1.0"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Cargo.toml:15 = 1.2.3"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_clean(repo.path());

    shiplane(repo.path(), &["bump", "1.3.0", "--force"]).success();
    let versions = shiplane(repo.path(), &["versions"]);
    versions.success();
    assert!(
        versions.stdout.contains("agree on 1.3.0"),
        "{}",
        versions.stdout
    );
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let repo = copy_fixture(POLYGLOT);
    let run = shiplane(repo.path(), &["bump", "2.0.0", "--dry-run"]);
    run.success();
    assert!(run
        .stdout
        .contains("would bump 1.2.3 → 2.0.0 (dry run: nothing written)"));
    assert!(run
        .stdout
        .contains("--- a/crates/engine-ffi/Cargo.toml\n+++ b/crates/engine-ffi/Cargo.toml\n"));
    assert!(run.stdout.contains("-polyglot-engine = { path = \"../engine\", version = \"=1.2.3\" }\n+polyglot-engine = { path = \"../engine\", version = \"=2.0.0\" }\n"), "{}", run.stdout);
    assert!(run.stdout.contains("+## [2.0.0] - 2026-11-18\n"));
    assert_clean(repo.path());
}

#[test]
fn json_report_lists_every_change() {
    let repo = copy_fixture(MIXAPP);
    let run = shiplane(
        repo.path(),
        &["--format", "json", "bump", "2.0.1", "--dry-run"],
    );
    run.success();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["status"], "planned");
    assert_eq!(report["from"], "2.0.0");
    assert_eq!(report["to"], "2.0.1");
    assert_eq!(report["dry_run"], true);
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["CHANGELOG.md", "VERSION", "mix.exs"]);
    let mix = &report["files"][2]["changes"][0];
    assert_eq!(
        (
            mix["line"].as_u64(),
            mix["old"].as_str(),
            mix["new"].as_str()
        ),
        (Some(4), Some("2.0.0"), Some("2.0.1"))
    );
    assert_clean(repo.path());
}

#[test]
fn config_errors_name_file_line_and_fix() {
    let repo = copy_fixture(MIXAPP);
    let config = repo.path().join("shiplane.toml");
    let original = fs::read_to_string(&config).unwrap();
    let with_entry = |entry: &str| format!("{original}\n[[version-file]]\n{entry}");
    let entry_line = original.lines().count() + 2;
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            original.replace("ecosystem = \"assets\"", "ecosystem = \"assets\"\ntagg = \"x\""),
            vec!["shiplane.toml:9: error: unknown field `tagg`".into(), "fix: remove or rename the key".into()],
        ),
        (
            with_entry("path = \"mix.exs\"\npattern = 'nothing like {version} here'\n"),
            vec![format!("shiplane.toml:{entry_line}: error: version-file `mix.exs`: the pattern matches nothing in the file"), "fix:".into()],
        ),
        (
            with_entry("path = \"CHANGELOG.md\"\npattern = 'v{version}'\n"),
            vec![format!("shiplane.toml:{entry_line}: error: version-file `CHANGELOG.md`: the pattern matches 2 times (lines 15, 16)")],
        ),
        (
            with_entry("path = \"missing/VERSION\"\n"),
            vec![format!("shiplane.toml:{}: error: version-file path `missing/VERSION` does not exist", entry_line + 1)],
        ),
        (
            original.replace("ecosystem = \"assets\"", "ecosystem = \"maven\""),
            vec!["shiplane.toml:8: error: unknown variant `maven`".into()],
        ),
    ];
    for (text, expected) in cases {
        fs::write(&config, text).unwrap();
        let run = shiplane(repo.path(), &["bump", "2.1.0"]);
        run.fails_with(2);
        for e in expected {
            assert!(run.stderr.contains(&e), "{e}: {}", run.stderr);
        }
        fs::write(&config, &original).unwrap();
        assert_clean(repo.path());
    }
}

#[test]
fn prerelease_without_pep440_form_is_refused_for_python_files() {
    let repo = copy_fixture(PYLIB);
    let run = shiplane(repo.path(), &["bump", "0.5.0-preview.1"]);
    run.fails_with(2);
    assert!(run.stderr.contains("pyproject.toml:"), "{}", run.stderr);
    assert!(run.stderr.contains("has no PEP 440 form"), "{}", run.stderr);
    assert_clean(repo.path());
}

#[test]
fn runs_from_a_subdirectory_and_with_dash_c() {
    let repo = copy_fixture(POLYGLOT);
    let sub = repo.path().join("crates/engine/src");
    let run = Run::new(
        std::process::Command::new(env!("CARGO_BIN_EXE_shiplane"))
            .args(["versions"])
            .current_dir(&sub),
    );
    run.success();
    assert!(run.stdout.contains("agree on 1.2.3"));
    let elsewhere = tempfile::tempdir().unwrap();
    let none = shiplane(elsewhere.path(), &["versions"]);
    none.fails_with(2);
    assert!(none.stderr.contains("no shiplane.toml"), "{}", none.stderr);
}

#[test]
fn empty_unreleased_section_is_a_warning() {
    let repo = copy_fixture(MIXAPP);
    fs::write(
        repo.path().join("CHANGELOG.md"),
        "# Changelog\n\n## [Unreleased]\n\n## [2.0.0] - 2026-01-01\n\n- first\n",
    )
    .unwrap();
    let mut config = fs::read_to_string(repo.path().join("shiplane.toml")).unwrap();
    if !config.contains("changelog") {
        config = format!("[release]\nchangelog = \"CHANGELOG.md\"\n\n{config}");
        fs::write(repo.path().join("shiplane.toml"), config).unwrap();
    }
    git(repo.path(), &["commit", "-qam", "empty"]);
    let run = shiplane(repo.path(), &["bump", "2.0.1"]);
    run.success();
    assert!(
        run.stderr
            .contains("warning: CHANGELOG.md:3: the Unreleased section is empty"),
        "{}",
        run.stderr
    );
    let changelog = fs::read_to_string(repo.path().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains("## [Unreleased]\n\n## [2.0.1] - 2026-11-18\n"),
        "{changelog}"
    );
}

#[test]
fn a_requirement_that_cannot_follow_is_a_failed_check() {
    let repo = copy_fixture(POLYGLOT);
    let manifest = repo.path().join("crates/engine-ffi/Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .unwrap()
        .replace("version = \"=1.2.3\"", "version = \">=1.2, <1.3\"");
    fs::write(&manifest, text).unwrap();
    git(repo.path(), &["commit", "-qam", "range"]);
    let run = shiplane(repo.path(), &["bump", "1.3.0"]);
    run.fails_with(1);
    assert!(
        run.stderr.contains("crates/engine-ffi/Cargo.toml:15: error: dependencies `polyglot-engine` of polyglot-ffi: requirement `>=1.2, <1.3` does not admit 1.3.0"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("fix: update this requirement by hand"),
        "{}",
        run.stderr
    );
    assert_clean(repo.path());
    // A patch release still fits the range: the requirement is left as it is.
    shiplane(repo.path(), &["bump", "1.2.4"]).success();
    assert!(fs::read_to_string(&manifest)
        .unwrap()
        .contains("version = \">=1.2, <1.3\""));
}

#[test]
fn python_prerelease_order_is_respected() {
    let repo = copy_fixture(PYLIB);
    shiplane(repo.path(), &["bump", "0.5.0-alpha.1"]).success();
    git(repo.path(), &["commit", "-qam", "alpha"]);
    // Semver sorts -dev.1 after -alpha.1; PEP 440 sorts 0.5.0.dev1 before 0.5.0a1.
    let run = shiplane(repo.path(), &["bump", "0.5.0-dev.1"]);
    run.fails_with(1);
    assert!(
        run.stderr.contains("before it in PEP 440"),
        "{}",
        run.stderr
    );
    assert_clean(repo.path());
    shiplane(repo.path(), &["bump", "0.5.0-beta.1"]).success();
    let pyproject = fs::read_to_string(repo.path().join("pyproject.toml")).unwrap();
    assert!(pyproject.contains("version = \"0.5.0b1\""), "{pyproject}");
}
