//! `shiplane init`: the generated config on the polyglot, Python library and mix fixtures, and its
//! behaviour around .gitignore, existing configs, unclassified files and --dry-run.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use toml_edit::{DocumentMut, Item};

mod support;

use support::fixture::{copy_tree, git};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `shiplane -C <dir> <args>`, colours off.
fn shiplane(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shiplane"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running the shiplane binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

/// `git init` + `git add -A`, so `git ls-files` sees every file.
fn git_init(dir: &Path) {
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
}

/// A copy of `fixture` (relative to the crate) in a temp dir named `name`, under git, without its
/// shiplane.toml.
fn fixture_repo(fixture: &str, name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_tree(&manifest_dir().join(fixture), &dir);
    git_init(&dir);
    fs::remove_file(dir.join("shiplane.toml")).unwrap();
    (tmp, dir)
}

/// A repository made of `files` (path, contents), in a temp dir named `name`.
fn repo_of(name: &str, files: &[(&str, &str)], with_git: bool) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    for (path, text) in files {
        let full = dir.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }
    if with_git {
        git_init(&dir);
    }
    (tmp, dir)
}

fn config(dir: &Path) -> DocumentMut {
    fs::read_to_string(dir.join("shiplane.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

fn tables<'a>(doc: &'a DocumentMut, name: &str) -> Vec<&'a toml_edit::Table> {
    doc.get(name)
        .and_then(Item::as_array_of_tables)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn get_str<'a>(t: &'a toml_edit::Table, key: &str) -> Option<&'a str> {
    t.get(key).and_then(Item::as_str)
}

fn get_strs(t: &toml_edit::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn product_by_manifest<'a>(doc: &'a DocumentMut, manifest: &str) -> &'a toml_edit::Table {
    tables(doc, "product")
        .into_iter()
        .find(|p| get_str(p, "manifest") == Some(manifest))
        .unwrap_or_else(|| panic!("no product with manifest {manifest}:\n{doc}"))
}

/// (path, key) of every [[version-file]].
fn version_files(doc: &DocumentMut) -> Vec<(String, Vec<String>)> {
    tables(doc, "version-file")
        .into_iter()
        .map(|v| (get_str(v, "path").unwrap().to_string(), get_strs(v, "key")))
        .collect()
}

fn version_file<'a>(doc: &'a DocumentMut, path: &str, key: &[&str]) -> &'a toml_edit::Table {
    tables(doc, "version-file")
        .into_iter()
        .find(|v| get_str(v, "path") == Some(path) && get_strs(v, "key") == key)
        .unwrap_or_else(|| panic!("no version-file {path} {key:?}:\n{doc}"))
}

/// The files `bump 1.3.0 --dry-run` would change.
fn bump_files(dir: &Path) -> BTreeSet<String> {
    let out = shiplane(dir, &["--format", "json", "bump", "1.3.0", "--dry-run"]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn polyglot_config_loads_and_bumps_the_same_files_as_the_hand_written_one() {
    let (_tmp, dir) = fixture_repo("examples/polyglot", "polyglot");
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains(
            "skipped: examples/notes/package.json holds 0.1.0, not the release version 1.2.3"
        ),
        "{text}"
    );
    assert!(text.contains("wrote shiplane.toml"), "{text}");

    let versions = shiplane(&dir, &["versions"]);
    assert_ok(&versions);
    assert!(
        stdout(&versions).contains("agree on 1.2.3"),
        "{}",
        stdout(&versions)
    );

    let doc = config(&dir);
    let written = fs::read_to_string(dir.join("shiplane.toml")).unwrap();
    assert!(written.starts_with("# shiplane.toml"), "{written}");
    assert!(written.contains("docs/config.md"), "{written}");
    assert!(written.contains("shiplane versions"), "{written}");
    assert_eq!(doc["release"]["tag"].as_str(), Some("v{version}"));
    assert_eq!(doc["release"]["changelog"].as_str(), Some("CHANGELOG.md"));
    assert_eq!(doc["release"]["branch"].as_str(), Some("main"));

    let products = tables(&doc, "product");
    assert_eq!(products.len(), 4, "{doc}");
    let engine = product_by_manifest(&doc, "Cargo.toml");
    assert_eq!(get_str(engine, "ecosystem"), Some("cargo"));
    assert_eq!(get_strs(engine, "exclude"), ["xtask"]);
    let engine_name = get_str(engine, "name").unwrap().to_string();
    // A virtual workspace is named after the repository's directory.
    assert_eq!(engine_name, "polyglot");
    assert_eq!(get_str(engine, "tag"), Some("polyglot-v{version}"));

    let python = product_by_manifest(&doc, "bindings/python/pyproject.toml");
    assert_eq!(get_str(python, "ecosystem"), Some("python"));
    assert_eq!(get_strs(python, "after"), [engine_name.as_str()]);
    // `polyglot` is taken by the workspace: the Python package gets its ecosystem appended.
    assert_eq!(get_str(python, "name"), Some("polyglot-python"));

    let node = product_by_manifest(&doc, "bindings/node/package.json");
    assert_eq!(get_str(node, "ecosystem"), Some("npm"));
    assert_eq!(get_str(node, "name"), Some("engine"));
    assert_eq!(get_strs(node, "after"), [engine_name.as_str()]);

    let go = product_by_manifest(&doc, "sdk/go/go.mod");
    assert_eq!(get_str(go, "ecosystem"), Some("go"));
    assert_eq!(get_str(go, "tag"), Some("sdk/go/v{version}"));
    assert!(get_strs(go, "after").is_empty());

    let files = version_files(&doc);
    let expected: Vec<(&str, Vec<&str>)> = vec![
        (
            "bindings/node/npm/linux-x64-gnu/package.json",
            vec!["version"],
        ),
        (
            "bindings/node/package.json",
            vec!["optionalDependencies", "@polyglot/engine-linux-x64-gnu"],
        ),
        ("desktop/package.json", vec!["version"]),
        (
            "desktop/package.json",
            vec!["dependencies", "@polyglot/engine"],
        ),
        ("desktop/src-tauri/tauri.conf.json", vec!["version"]),
        (
            "examples/notes/package.json",
            vec!["dependencies", "@polyglot/engine"],
        ),
    ];
    let expected: Vec<(String, Vec<String>)> = expected
        .into_iter()
        .map(|(p, k)| (p.to_string(), k.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(files, expected, "in path order:\n{doc}");
    for path in ["desktop/package.json", "examples/notes/package.json"] {
        let pin = version_file(&doc, path, &["dependencies", "@polyglot/engine"]);
        assert_eq!(get_str(pin, "format"), Some("^{version}"), "{path}");
    }
    let platform = version_file(
        &doc,
        "bindings/node/npm/linux-x64-gnu/package.json",
        &["version"],
    );
    assert_eq!(get_str(platform, "product"), Some("engine"));
    let exact = version_file(
        &doc,
        "bindings/node/package.json",
        &["optionalDependencies", "@polyglot/engine-linux-x64-gnu"],
    );
    assert_eq!(get_str(exact, "format"), Some("{version}"));

    // The same files move as with the hand-written config, except the C header it lists by hand.
    let generated = bump_files(&dir);
    let (_tmp2, reference) = fixture_repo("examples/polyglot", "polyglot");
    fs::copy(
        manifest_dir().join("examples/polyglot/shiplane.toml"),
        reference.join("shiplane.toml"),
    )
    .unwrap();
    let mut by_hand = bump_files(&reference);
    assert!(by_hand.remove("crates/engine-ffi/include/polyglot.h"));
    assert_eq!(generated, by_hand);
    assert!(generated.contains("desktop/src-tauri/tauri.conf.json"));
    assert!(generated.contains("examples/notes/package.json"));
}

#[test]
fn polyglot_json_report() {
    let (_tmp, dir) = fixture_repo("examples/polyglot", "polyglot");
    let out = shiplane(&dir, &["--format", "json", "init", "--dry-run"]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["written"], false);
    assert!(!dir.join("shiplane.toml").exists());
    let text = json["config"].as_str().unwrap();
    assert!(text.contains("[[product]]"), "{text}");
    let names: Vec<&str> = json["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["polyglot", "engine", "polyglot-python", "go"]);
    assert_eq!(json["products"][0]["exclude"], serde_json::json!(["xtask"]));
    assert!(
        json["products"][0]["locations"].as_array().unwrap().len() > 1,
        "{json:#}"
    );
    assert_eq!(json["version_files"].as_array().unwrap().len(), 6);
    assert_eq!(
        json["skipped"][0]["path"].as_str(),
        Some("examples/notes/package.json")
    );
    assert_eq!(json["skipped"][0]["value"].as_str(), Some("0.1.0"));
    assert_eq!(json["unclassified"], serde_json::json!([]));
}

#[test]
fn pylib_finds_dunder_version_and_citation_but_not_the_telemetry_constant() {
    let (_tmp, dir) = fixture_repo("tests/fixtures/pylib/in", "scopekit");
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    let doc = config(&dir);
    let text = fs::read_to_string(dir.join("shiplane.toml")).unwrap();

    let products = tables(&doc, "product");
    assert_eq!(products.len(), 1, "{doc}");
    let p = product_by_manifest(&doc, "pyproject.toml");
    assert_eq!(get_str(p, "name"), Some("scopekit"));
    assert_eq!(get_str(p, "ecosystem"), Some("python"));
    assert_eq!(get_str(p, "tag"), Some("v{version}"));
    assert!(doc["release"].get("tag").is_none(), "no umbrella:\n{doc}");
    assert_eq!(doc["release"]["changelog"].as_str(), Some("CHANGELOG.md"));

    let init = version_file(&doc, "src/scopekit/__init__.py", &[]);
    assert_eq!(
        get_str(init, "pattern"),
        Some("__version__ = \"{version}\"")
    );
    assert_eq!(get_str(init, "product"), Some("scopekit"));

    let citation = version_file(&doc, "CITATION.cff", &["version"]);
    assert_eq!(get_str(citation, "date-key"), Some("date-released"));
    assert_eq!(get_str(citation, "product"), Some("scopekit"));

    // Not a standard location: init cannot know it tracks the version.
    assert!(!text.contains("telemetry"), "{text}");
    assert!(!text.contains("_SCOPE_VERSION"), "{text}");

    let versions = shiplane(&dir, &["versions"]);
    assert_ok(&versions);
    assert!(stdout(&versions).contains("agree on 0.4.1"));
}

#[test]
fn dunder_version_keeps_the_files_quote_style() {
    let (_tmp, dir) = repo_of(
        "quotes",
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"quoty\"\nversion = \"3.1.0\"\n",
            ),
            ("quoty/__init__.py", "__version__ = '3.1.0'\n"),
        ],
        true,
    );
    assert_ok(&shiplane(&dir, &["init"]));
    let doc = config(&dir);
    let init = version_file(&doc, "quoty/__init__.py", &[]);
    assert_eq!(get_str(init, "pattern"), Some("__version__ = '{version}'"));
    assert_ok(&shiplane(&dir, &["versions"]));
}

#[test]
fn mixapp_gets_mix_pattern_version_file_and_an_assets_product() {
    let (_tmp, dir) = fixture_repo("tests/fixtures/mixapp/in", "mixapp");
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    let doc = config(&dir);
    let products = tables(&doc, "product");
    assert_eq!(products.len(), 1, "{doc}");
    assert_eq!(get_str(products[0], "name"), Some("mixapp"));
    assert_eq!(get_str(products[0], "ecosystem"), Some("assets"));
    assert_eq!(get_str(products[0], "tag"), Some("v{version}"));
    assert!(products[0].get("manifest").is_none());

    let mix = version_file(&doc, "mix.exs", &[]);
    assert_eq!(get_str(mix, "pattern"), Some("@version \"{version}\""));
    let version = version_file(&doc, "VERSION", &[]);
    assert!(version.get("pattern").is_none() && version.get("key").is_none());
    assert_eq!(doc["release"]["changelog"].as_str(), Some("CHANGELOG.md"));

    let versions = shiplane(&dir, &["versions"]);
    assert_ok(&versions);
    assert!(stdout(&versions).contains("agree on 2.0.0"));
}

#[test]
fn gitignored_manifests_are_not_detected() {
    let (_tmp, dir) = repo_of(
        "ignoring",
        &[
            (".gitignore", "vendor/\nbuild-out/\n"),
            (
                "package.json",
                "{\n  \"name\": \"@acme/widget\",\n  \"version\": \"1.0.0\"\n}\n",
            ),
            (
                "vendor/lib/Cargo.toml",
                "[package]\nname = \"vendored\"\nversion = \"1.0.0\"\n",
            ),
            (
                "vendor/pkg/package.json",
                "{ \"name\": \"vendored-js\", \"version\": \"1.0.0\" }\n",
            ),
            (
                "build-out/package.json",
                "{ \"name\": \"out\", \"private\": true, \"version\": \"1.0.0\", \"dependencies\": { \"@acme/widget\": \"^1.0.0\" } }\n",
            ),
        ],
        true,
    );
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    let text = fs::read_to_string(dir.join("shiplane.toml")).unwrap();
    assert!(!text.contains("vendor"), "{text}");
    assert!(!text.contains("build-out"), "{text}");
    let doc = config(&dir);
    assert_eq!(tables(&doc, "product").len(), 1, "{doc}");
    assert_eq!(
        get_str(product_by_manifest(&doc, "package.json"), "name"),
        Some("widget")
    );
    assert!(tables(&doc, "version-file").is_empty(), "{doc}");
}

#[test]
fn without_git_the_walk_skips_build_and_dependency_directories() {
    let (_tmp, dir) = repo_of(
        "plain",
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"plain\"\nversion = \"0.3.0\"\n",
            ),
            (
                "target/package/Cargo.toml",
                "[package]\nname = \"copy\"\nversion = \"0.3.0\"\n",
            ),
            (
                "node_modules/x/package.json",
                "{ \"name\": \"x\", \"version\": \"0.3.0\" }\n",
            ),
            (
                ".hidden/package.json",
                "{ \"name\": \"y\", \"version\": \"0.3.0\" }\n",
            ),
            ("VERSION", "0.3.0\n"),
        ],
        false,
    );
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    let doc = config(&dir);
    let products = tables(&doc, "product");
    assert_eq!(products.len(), 1, "{doc}");
    assert_eq!(get_str(products[0], "name"), Some("plain"));
    assert_eq!(
        version_files(&doc),
        [("VERSION".to_string(), Vec::<String>::new())]
    );
    assert_eq!(doc["release"]["branch"].as_str(), Some("main"));
    assert_ok(&shiplane(&dir, &["versions"]));
}

#[test]
fn an_existing_config_needs_force() {
    let (_tmp, dir) = fixture_repo("tests/fixtures/mixapp/in", "mixapp");
    let original = "# mine\n[[version-file]]\npath = \"VERSION\"\n";
    fs::write(dir.join("shiplane.toml"), original).unwrap();

    let out = shiplane(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--force"), "{err}");
    assert!(err.contains("shiplane.toml"), "{err}");
    assert_eq!(
        fs::read_to_string(dir.join("shiplane.toml")).unwrap(),
        original
    );

    let out = shiplane(&dir, &["init", "--force"]);
    assert_ok(&out);
    let replaced = fs::read_to_string(dir.join("shiplane.toml")).unwrap();
    assert_ne!(replaced, original);
    assert!(replaced.contains("[[product]]"), "{replaced}");
    assert!(!dir.join(".shiplane-txn").exists());
}

#[test]
fn unsupported_projects_are_listed_as_not_classified() {
    let (_tmp, dir) = repo_of(
        "mixed",
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"core\"\nversion = \"2.1.0\"\n",
            ),
            (
                "legacy/setup.py",
                "from setuptools import setup\nsetup(name=\"legacy\", version=\"2.1.0\")\n",
            ),
            (
                "java/pom.xml",
                "<project><version>2.1.0</version></project>\n",
            ),
            ("tools/pyproject.toml", "[tool.ruff]\nline-length = 100\n"),
            (
                "web/package.json",
                "{ \"name\": \"web\", \"private\": true }\n",
            ),
        ],
        true,
    );
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    let text = stdout(&out);
    for path in [
        "legacy/setup.py",
        "java/pom.xml",
        "tools/pyproject.toml",
        "web/package.json",
    ] {
        assert!(
            text.contains(&format!("not classified: {path} (")),
            "{path}:\n{text}"
        );
    }
    let doc = config(&dir);
    assert_eq!(tables(&doc, "product").len(), 1, "{doc}");

    let json = shiplane(&dir, &["--format", "json", "init", "--dry-run"]);
    assert_ok(&json);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let unclassified: Vec<&str> = json["unclassified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        unclassified,
        [
            "java/pom.xml",
            "legacy/setup.py",
            "tools/pyproject.toml",
            "web/package.json",
        ]
    );
}

#[test]
fn dry_run_prints_the_config_and_writes_nothing() {
    let (_tmp, dir) = fixture_repo("tests/fixtures/pylib/in", "scopekit");
    let out = shiplane(&dir, &["init", "--dry-run"]);
    assert_ok(&out);
    assert!(!dir.join("shiplane.toml").exists());
    assert!(!dir.join(".shiplane-txn").exists());
    let text = stdout(&out);
    assert!(text.starts_with("# shiplane.toml"), "{text}");
    // stdout is the config alone: it parses, and the summary went to stderr.
    let doc: DocumentMut = text.parse().unwrap();
    assert_eq!(tables(&doc, "product").len(), 1);
    assert!(stderr(&out).contains("not written"), "{}", stderr(&out));
}

#[test]
fn disagreeing_locations_are_written_with_warnings() {
    let (_tmp, dir) = repo_of(
        "drift",
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"a\", \"b\"]\n\n[workspace.package]\nversion = \"1.0.0\"\n",
            ),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion.workspace = true\n",
            ),
            // Published, yet behind: not excluded, so the disagreement shows.
            ("b/Cargo.toml", "[package]\nname = \"b\"\nversion = \"0.9.0\"\n"),
            ("VERSION", "1.0.0\n"),
        ],
        true,
    );
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("warning:"), "{err}");
    assert!(err.contains("b/Cargo.toml"), "{err}");
    assert!(err.contains("0.9.0"), "{err}");
    let doc = config(&dir);
    let ws = product_by_manifest(&doc, "Cargo.toml");
    assert!(get_strs(ws, "exclude").is_empty());
    assert_eq!(get_str(ws, "name"), Some("drift"));
    assert_eq!(shiplane(&dir, &["versions"]).status.code(), Some(1));
}

#[test]
fn nothing_to_release_is_an_error_and_writes_nothing() {
    let (_tmp, dir) = repo_of("empty", &[("README.md", "# nothing\n")], true);
    let out = shiplane(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("found nothing to release"));
    assert!(!dir.join("shiplane.toml").exists());
}

#[test]
fn a_subdirectory_with_its_own_config_is_a_separate_release_root() {
    // A Python library with a mix project vendored under examples/, which keeps its shiplane.toml.
    let (_tmp, dir) = fixture_repo("tests/fixtures/pylib/in", "scopekit");
    copy_tree(
        &manifest_dir().join("tests/fixtures/mixapp/in"),
        &dir.join("examples/mixapp"),
    );
    git(&dir, &["add", "-A"]);
    let out = shiplane(&dir, &["init"]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("left out examples/mixapp/: it has its own shiplane.toml"),
        "{}",
        stderr(&out)
    );
    let text = fs::read_to_string(dir.join("shiplane.toml")).unwrap();
    assert!(!text.contains("examples/mixapp"), "{text}");
    assert!(text.contains("manifest = \"pyproject.toml\""), "{text}");
}
