//! `preflight`'s packaging group: every product is built the way publishing builds it (`cargo
//! package --workspace`, the Python sdist and wheel, `npm pack --dry-run`) and what the artifacts
//! hold is checked against `[release] package-exclude` and `max-file-size`.
//!
//! Only the packaging group's checks are asserted (read from `groups` of the JSON report); the
//! other groups have tests of their own. The repositories are written by the tests (a 6 MB file
//! and secrets do not belong in this repository's tree).

mod support;

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use support::{copy_fixture, git, shiplane};

/// `shiplane -C dir preflight --no-fetch --format json`: the packaging group's checks, and the
/// whole report for failure messages.
fn packaging_checks(dir: &Path) -> (Vec<Value>, String) {
    let run = shiplane(dir, &["preflight", "--no-fetch", "--format", "json"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "preflight printed no JSON report ({e}), exit {}\nstdout:\n{}\nstderr:\n{}",
            run.code, run.stdout, run.stderr
        )
    });
    let checks = report["checks"].as_array().expect("checks").clone();
    let mut start = 0;
    for group in report["groups"].as_array().expect("groups") {
        let count = group["checks"].as_u64().expect("a count") as usize;
        if group["name"] == "packaging" {
            let shown = serde_json::to_string_pretty(&checks[start..start + count]).unwrap();
            return (checks[start..start + count].to_vec(), shown);
        }
        start += count;
    }
    panic!("no packaging group in:\n{}", run.stdout);
}

/// The one check with this subject and name.
fn check<'a>(checks: &'a [Value], subject: &str, name: &str, all: &str) -> &'a Value {
    let found: Vec<&Value> = checks
        .iter()
        .filter(|c| c["subject"] == subject && c["check"] == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one `{name}` check of `{subject}` in:\n{all}"
    );
    found[0]
}

fn detail(check: &Value) -> &str {
    check["detail"].as_str().unwrap_or_default()
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A committed repository with three leaky products: a Cargo workspace whose `leaky` crate holds
/// a `.env`, a `secret.pem`, an `internal/` directory and a 6 MB file (and whose `app` crate
/// depends on it at the same unpublished version), an npm package with a `.env`, and a setuptools
/// project whose sdist takes a `server.key` (MANIFEST.in).
fn leaky_repo(root: &Path) {
    write(
        root,
        "shiplane.toml",
        r#"[[product]]
name = "rust"
ecosystem = "cargo"
manifest = "Cargo.toml"

[[product]]
name = "web"
ecosystem = "npm"
manifest = "web/package.json"

[[product]]
name = "py"
ecosystem = "python"
manifest = "py/pyproject.toml"
"#,
    );
    write(
        root,
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n",
    );
    let package = |name: &str, deps: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.3.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\
             description = \"{name} of the packaging test\"\n{deps}"
        )
    };
    write(root, "crates/leaky/Cargo.toml", &package("leaky", ""));
    write(
        root,
        "crates/leaky/src/lib.rs",
        "pub fn answer() -> u32 { 42 }\n",
    );
    write(root, "crates/leaky/.env", "TOKEN=not-for-publishing\n");
    write(
        root,
        "crates/leaky/secret.pem",
        "-----BEGIN PRIVATE KEY-----\n",
    );
    write(root, "crates/leaky/internal/notes.md", "# notes\n");
    write(root, "crates/leaky/internal/plan.md", "# plan\n");
    fs::write(root.join("crates/leaky/big.bin"), vec![7u8; 6_000_000]).unwrap();
    write(
        root,
        "crates/app/Cargo.toml",
        &package(
            "app",
            "\n[dependencies]\nleaky = { path = \"../leaky\", version = \"0.3.0\" }\n",
        ),
    );
    write(
        root,
        "crates/app/src/lib.rs",
        "pub fn twice() -> u32 { leaky::answer() * 2 }\n",
    );

    write(
        root,
        "web/package.json",
        "{\n  \"name\": \"leaky-web\",\n  \"version\": \"0.3.0\",\n  \"license\": \"MIT\",\n  \"main\": \"index.js\"\n}\n",
    );
    write(root, "web/index.js", "module.exports = 1;\n");
    write(root, "web/.env", "TOKEN=not-for-publishing\n");

    write(
        root,
        "py/pyproject.toml",
        r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "leaky-py"
version = "0.3.0"
description = "A Python project of the packaging test"
license = { text = "MIT" }

[tool.setuptools]
packages = ["leaky_py"]
"#,
    );
    write(root, "py/leaky_py/__init__.py", "ANSWER = 42\n");
    write(root, "py/leaky_py/server.key", "not for publishing\n");
    write(root, "py/MANIFEST.in", "include leaky_py/server.key\n");

    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "leaky"]);
}

/// The leaky repository's packaging checks, from one run shared by the tests below.
fn leaky() -> &'static (Vec<Value>, String) {
    static RUN: OnceLock<(Vec<Value>, String)> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("leaky");
        fs::create_dir_all(&root).unwrap();
        leaky_repo(&root);
        let result = packaging_checks(&root);
        // Building left nothing behind: no egg-info, no build/, no Cargo.lock, no target/.
        let status = git(&root, &["status", "--porcelain", "--untracked-files=all"]);
        assert_eq!(status, "", "preflight changed the repository");
        result
    })
}

#[test]
fn polyglot_packages_without_false_failures() {
    let fixture = copy_fixture("examples/polyglot");
    let (checks, all) = packaging_checks(fixture.path());
    let failed: Vec<&Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "packaging failed on polyglot:\n{all}");
    // The crates depend on each other at 1.2.3, which no registry has: resolved locally.
    let package = detail(check(&checks, "engine", "package", &all));
    assert!(
        package.contains("3 crates packaged and verified")
            && package.contains("resolved locally")
            && package.contains("polyglot-desktop"),
        "{all}"
    );
    for krate in ["polyglot-engine", "polyglot-ffi", "polyglot-codegen"] {
        let subject = format!("engine/{krate}");
        let contents = detail(check(&checks, &subject, "contents", &all));
        assert!(contents.contains(&format!("{krate}-1.2.3.crate")), "{all}");
        check(&checks, &subject, "size", &all);
    }
    // publish = false members are not packaged.
    assert!(
        !checks.iter().any(|c| c["subject"] == "engine/polyglot-py"),
        "{all}"
    );
    check(&checks, "node", "npm pack", &all);
    check(&checks, "node", "contents", &all);
    // maturin is not necessarily installed: then a skip, never a failure.
    check(&checks, "python", "sdist", &all);
    check(&checks, "python", "wheel", &all);
    assert_eq!(
        git(fixture.path(), &["status", "--porcelain"]),
        "",
        "preflight changed the repository"
    );
}

#[test]
fn crate_with_secrets_fails_contents_naming_them() {
    let (checks, all) = leaky();
    let package = check(checks, "rust", "package", all);
    assert_eq!(package["ok"], true, "{all}");
    assert!(detail(package).contains("resolved locally"), "{all}");
    let contents = check(checks, "rust/leaky", "contents", all);
    assert_eq!(contents["ok"], false, "{all}");
    let text = detail(contents);
    for expected in [
        "leaky-0.3.0.crate",
        ".env (matches `.env*`)",
        "secret.pem (matches `*.pem`)",
        "internal/ (2 files, matches `internal/`)",
    ] {
        assert!(text.contains(expected), "`{expected}` not in: {text}");
    }
    let fix = contents["fix"].as_str().unwrap();
    assert!(
        fix.contains("`exclude` in crates/leaky/Cargo.toml"),
        "{fix}"
    );
    // The crate that depends on it is clean.
    assert_eq!(
        check(checks, "rust/app", "contents", all)["ok"],
        true,
        "{all}"
    );
}

#[test]
fn crate_with_a_large_file_fails_size() {
    let (checks, all) = leaky();
    let size = check(checks, "rust/leaky", "size", all);
    assert_eq!(size["ok"], false, "{all}");
    assert_eq!(
        detail(size),
        "files over the 5 MB limit: leaky-0.3.0.crate: big.bin (6 MB)"
    );
    assert!(
        size["fix"]
            .as_str()
            .unwrap()
            .contains("[release] max-file-size"),
        "{all}"
    );
    assert_eq!(check(checks, "rust/app", "size", all)["ok"], true, "{all}");
}

#[test]
fn npm_package_with_env_file_fails() {
    let (checks, all) = leaky();
    assert_eq!(check(checks, "web", "npm pack", all)["ok"], true, "{all}");
    let contents = check(checks, "web", "contents", all);
    assert_eq!(contents["ok"], false, "{all}");
    assert_eq!(
        detail(contents),
        "files matching the exclude globs: leaky-web@0.3.0: .env (matches `.env*`)"
    );
    assert!(
        contents["fix"].as_str().unwrap().contains(".npmignore"),
        "{all}"
    );
    assert_eq!(check(checks, "web", "size", all)["ok"], true, "{all}");
}

#[test]
fn python_sdist_with_key_file_fails() {
    let (checks, all) = leaky();
    let sdist = check(checks, "py", "sdist", all);
    assert_eq!(sdist["ok"], true, "{all}");
    let contents = check(checks, "py", "contents", all);
    assert_eq!(contents["ok"], false, "{all}");
    let text = detail(contents);
    assert!(
        text.contains(".tar.gz: leaky_py/server.key (matches `*.key`)"),
        "{text}"
    );
    assert!(
        contents["fix"].as_str().unwrap().contains("MANIFEST.in"),
        "{all}"
    );
}

#[test]
fn configured_globs_and_size_limit_replace_the_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "shiplane.toml",
        "[release]\npackage-exclude = [\"docs/*.md\"]\nmax-file-size = \"1kB\"\n\n\
         [[product]]\nname = \"web\"\necosystem = \"npm\"\nmanifest = \"package.json\"\n",
    );
    write(
        root,
        "package.json",
        "{\n  \"name\": \"web\",\n  \"version\": \"2.0.0\",\n  \"license\": \"MIT\"\n}\n",
    );
    write(root, "index.js", &"// padding\n".repeat(200));
    write(root, "docs/guide.md", "# guide\n");
    write(root, "README.md", "# web\n");
    write(root, "cert.pem", "allowed now\n");
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "web"]);
    let (checks, all) = packaging_checks(root);
    let contents = check(&checks, "web", "contents", &all);
    assert_eq!(
        detail(contents),
        "files matching the exclude globs: web@2.0.0: docs/guide.md (matches `docs/*.md`)"
    );
    assert!(
        contents["fix"]
            .as_str()
            .unwrap()
            .contains("take the glob out of [release] package-exclude"),
        "{all}"
    );
    assert_eq!(
        detail(check(&checks, "web", "size", &all)),
        "files over the 1 kB limit: web@2.0.0: index.js (2.2 kB)"
    );
}

#[test]
fn an_unreadable_size_limit_is_a_configuration_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "shiplane.toml",
        "[release]\nmax-file-size = \"5 parsecs\"\n\n\
         [[product]]\nname = \"web\"\necosystem = \"npm\"\nmanifest = \"package.json\"\n",
    );
    write(
        root,
        "package.json",
        "{ \"name\": \"web\", \"version\": \"2.0.0\" }\n",
    );
    let run = shiplane(root, &["preflight", "--no-fetch"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("shiplane.toml:2: error: [release] max-file-size: unknown unit `parsecs`"),
        "{}",
        run.stderr
    );
}
