//! `preflight` on copies of the polyglot example (examples/polyglot), each a temp git repository
//! with a bare `origin`, its products publishing to local registries started by
//! `scripts/registries.sh` (the copy's shiplane.toml gets `[registry.*]` tables pointing at them,
//! so no public registry is asked). The example passes every check; each check then fails on its
//! own with its message and fix; a repository with many problems gets them all in one run; a
//! re-run after tagging at HEAD passes, a tag at another commit fails with both SHAs.
//!
//! Each test function starts its own registries and shares them among its scenarios, which run
//! side by side where they do not publish anything.

mod support;

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Instant;

use support::fixture::Fixture;
use support::registries::Registries;
use support::{copy_fixture, git, shiplane_command, Run};

const POLYGLOT: &str = "examples/polyglot";

/// Every group, in report order.
const GROUPS: [&str; 8] = [
    "version",
    "git",
    "registries",
    "changelog",
    "metadata",
    "packaging",
    "workflows",
    "tools",
];

/// The polyglot example in a temp repository whose products publish to `regs`, committed and
/// pushed to `origin`: every check passes.
fn polyglot(regs: &Registries) -> Fixture {
    let fixture = copy_fixture(POLYGLOT);
    let dir = fixture.path();
    let path = dir.join("shiplane.toml");
    let text = regs.point_config_at(&fs::read_to_string(&path).unwrap());
    fs::write(&path, text).unwrap();
    commit(dir, "use the local registries");
    git(dir, &["push", "-q", "origin", "main"]);
    fixture
}

/// Commit everything in the work tree.
fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", message]);
}

/// Replace the one occurrence of `from` in `rel`.
fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "`{from}` in {rel}:\n{text}");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// `shiplane -C dir preflight ARGS...`, outside GitHub Actions (even when the tests run under it).
fn preflight(dir: &Path, args: &[&str]) -> Run {
    preflight_with(dir, args, &[])
}

fn preflight_with(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut cmd = shiplane_command(dir);
    cmd.arg("preflight")
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    for (key, value) in env {
        cmd.env(key, value);
    }
    Run::new(&mut cmd)
}

#[track_caller]
fn assert_has(text: &str, wanted: &str) {
    assert!(
        text.contains(wanted),
        "missing:\n{wanted}\n--- in ---\n{text}"
    );
}

/// A failed check as the text report prints it: the line and its `fix:` line.
fn failed(subject: &str, check: &str, detail: &str, fix: &str) -> String {
    format!("✗ {subject}  {check}: {detail}\n    fix: {fix}\n")
}

fn passed(subject: &str, check: &str, detail: &str) -> String {
    format!("✓ {subject}  {check}: {detail}\n")
}

/// The (subject, check) of every failed check of a text report, in order.
fn failures(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .filter_map(|l| {
            let (subject, rest) = l.split_once("  ")?;
            let (check, _) = rest.split_once(": ")?;
            Some((subject.to_string(), check.to_string()))
        })
        .collect()
}

/// Run preflight; it must fail (exit 1) with exactly the `expected` failures, in report order.
#[track_caller]
fn fails_with(dir: &Path, args: &[&str], expected: &[(&str, &str)]) -> Run {
    let run = preflight(dir, args);
    run.fails_with(1);
    let found = failures(&run.stdout);
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(s, c)| (s.to_string(), c.to_string()))
        .collect();
    assert_eq!(found, expected, "\n{}", run.stdout);
    run
}

#[test]
fn polyglot_passes_then_reruns_after_tagging_and_reports_json_and_github() {
    let regs = Registries::start(&["cargo", "python", "npm"]);
    let fixture = polyglot(&regs);
    let dir = fixture.path();

    // Every check passes (after a real `git fetch`), in text.
    let run = preflight(dir, &[]);
    run.success();
    let out = &run.stdout;
    let npm = regs.get("SHIPLANE_REG_NPM_URL");
    for line in [
        passed(
            "version",
            "locations",
            "all 26 version locations hold 1.2.3",
        ),
        passed(
            "engine",
            "newer",
            "no earlier `engine-v{version}` tag: a first release",
        ),
        passed(
            "release",
            "newer",
            "no earlier `v{version}` tag: a first release",
        ),
        passed("git", "branch", "on main, the release branch"),
        passed("git", "clean", "the work tree is clean"),
        passed("git", "remote", "HEAD is origin/main (just fetched)"),
        passed("go-sdk", "tag", "sdk/go/v1.2.3 does not exist yet"),
        passed("release", "tag", "v1.2.3 does not exist yet"),
        passed(
            "node/@polyglot/engine@1.2.3",
            "unpublished",
            &format!("not on npm registry {npm} yet"),
        ),
        passed(
            "python/polyglot@1.2.3",
            "unpublished",
            &format!(
                "not on python simple index {} yet",
                regs.get("SHIPLANE_REG_PYPI_INDEX")
            ),
        ),
        passed(
            "CHANGELOG.md",
            "changelog",
            "has a section for 1.2.3 (line 19)",
        ),
        passed("engine/polyglot-ffi", "license", "Apache-2.0"),
        passed(
            "engine/polyglot-ffi",
            "readme",
            "crates/engine-ffi/README.md",
        ),
        passed(
            "engine/polyglot-ffi",
            "dependencies",
            "every path dependency has a version",
        ),
        passed("python", "requires-python", ">=3.9"),
        passed("node", "files", "\"files\" lists 3 pattern(s)"),
        passed(
            "workflows",
            "check",
            "no .github/workflows/ and no [ci] in shiplane.toml: no generated workflows to check",
        ),
    ] {
        assert_has(out, &line);
    }
    for crate_name in ["polyglot-engine", "polyglot-ffi", "polyglot-codegen"] {
        assert_has(
            out,
            &format!("✓ engine/{crate_name}@1.2.3  unpublished: not on cargo sparse index"),
        );
    }
    assert!(!out.contains('✗'), "{out}");
    let total = out.lines().filter(|l| l.starts_with('✓')).count();
    assert!(
        out.ends_with(&format!("preflight 1.2.3: all {total} checks passed\n")),
        "{out}"
    );

    // -v adds each group's wall time; --format json carries it as groups[].duration_ms.
    let started = Instant::now();
    let run = preflight(dir, &["-v", "--no-fetch"]);
    let wall = started.elapsed();
    run.success();
    for group in GROUPS {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with(group) && l.contains(" ms  ")),
            "no timing line for {group}:\n{}",
            run.stdout
        );
    }
    println!("preflight -v --no-fetch on polyglot ({wall:.1?} wall):");
    for line in run.stdout.lines().take(GROUPS.len()) {
        println!("  {line}");
    }
    let run = preflight(dir, &["--format", "json"]);
    run.success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}", run.stdout));
    assert_eq!(json["title"], "preflight 1.2.3");
    assert!(json["duration_ms"].is_u64(), "{json}");
    let checks = json["checks"].as_array().unwrap();
    let groups = json["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, GROUPS);
    let mut counted = 0;
    for group in groups {
        assert!(group["duration_ms"].is_u64(), "{group}");
        assert_eq!(group["failed"], 0, "{group}");
        counted += group["checks"].as_u64().unwrap();
    }
    assert_eq!(counted, checks.len() as u64);
    assert_eq!(
        checks[0],
        serde_json::json!({
            "subject": "version",
            "check": "locations",
            "ok": true,
            "detail": "all 26 version locations hold 1.2.3",
        })
    );
    for check in checks {
        let keys: Vec<&str> = check
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["check", "detail", "ok", "subject"], "{check}");
    }

    // The release is tagged at HEAD (and the tags pushed): a re-run passes.
    let tags = [
        "engine-v1.2.3",
        "py-v1.2.3",
        "node-v1.2.3",
        "sdk/go/v1.2.3",
        "desktop-v1.2.3",
        "v1.2.3",
    ];
    for tag in tags {
        git(dir, &["tag", "-a", "-m", tag, tag]);
    }
    git(dir, &["push", "-q", "origin", "--tags"]);
    let run = preflight(dir, &[]);
    run.success();
    assert_has(
        &run.stdout,
        &passed(
            "engine",
            "newer",
            "engine-v1.2.3 is at HEAD: a re-run of this release",
        ),
    );
    assert_has(
        &run.stdout,
        &passed(
            "go-sdk",
            "tag",
            "sdk/go/v1.2.3 is at HEAD: a re-run of this release",
        ),
    );

    // A commit after the tags: each tag of 1.2.3 is now at another commit, shown with HEAD's.
    let tagged = head(dir);
    fs::write(dir.join("NOTES.md"), "after the release\n").unwrap();
    commit(dir, "notes");
    git(dir, &["push", "-q", "origin", "main"]);
    let now = head(dir);
    let mut expected = Vec::new();
    let subjects = ["engine", "python", "node", "go-sdk", "desktop", "release"];
    for subject in subjects {
        expected.push((subject, "newer"));
    }
    for subject in subjects {
        expected.push((subject, "tag"));
    }
    let run = fails_with(dir, &[], &expected);
    assert_has(
        &run.stdout,
        &failed(
            "release",
            "newer",
            &format!("1.2.3 is already released: v1.2.3 is at {tagged}, not at HEAD {now}"),
            "release a version above 1.2.3 (`shiplane bump patch`)",
        ),
    );
    let short = &tagged[..12];
    assert_has(
        &run.stdout,
        &failed(
            "engine",
            "tag",
            &format!("tag engine-v1.2.3 already exists at commit {tagged}, but HEAD is {now}"),
            &format!(
                "if 1.2.3 was released from {short}, release a new version (`shiplane bump patch`); if the tag is a mistake, delete it: `git tag -d engine-v1.2.3` and `git push origin :refs/tags/engine-v1.2.3`"
            ),
        ),
    );
    let total = run
        .stdout
        .lines()
        .filter(|l| l.starts_with('✓') || l.starts_with('✗'))
        .count();
    assert!(
        run.stdout
            .ends_with(&format!("preflight 1.2.3: 12 of {total} checks failed\n")),
        "{}",
        run.stdout
    );

    // Under GitHub Actions: one `::error` annotation per failure, and the table in the summary.
    let summary = tempfile::NamedTempFile::new().unwrap();
    let run = preflight_with(
        dir,
        &["--no-fetch"],
        &[
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_STEP_SUMMARY", summary.path()),
        ],
    );
    run.fails_with(1);
    let annotations: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(annotations.len(), 12, "{}", run.stderr);
    assert!(annotations.contains(&format!(
        "::error title=shiplane tag::release tag: tag v1.2.3 already exists at commit {tagged}, but HEAD is {now} (fix: if 1.2.3 was released from {short}, release a new version (`shiplane bump patch`); if the tag is a mistake, delete it: `git tag -d v1.2.3` and `git push origin :refs/tags/v1.2.3`)"
    ).as_str()), "{}", run.stderr);
    let table = fs::read_to_string(summary.path()).unwrap();
    assert!(table.starts_with("### preflight 1.2.3\n"), "{table}");
    assert_has(&table, "| ✅ | git | clean | the work tree is clean |  |");
    assert_has(
        &table,
        &format!("| ❌ | release | tag | tag v1.2.3 already exists at commit {tagged}, but HEAD is {now} |"),
    );
}

#[test]
fn each_check_fails_on_its_own_with_its_fix() {
    let regs = Registries::start(&["cargo", "python", "npm"]);
    let regs = &regs;
    let started = Instant::now();
    // Scenarios that publish nothing run side by side.
    thread::scope(|s| {
        // A version location that disagrees, listed as path:line = value.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            edit(dir, "desktop/src-tauri/tauri.conf.json", "\"1.2.3\"", "\"1.2.2\"");
            commit(dir, "a stray version");
            git(dir, &["push", "-q", "origin", "main"]);
            let run = fails_with(dir, &[], &[("version", "locations")]);
            assert_has(&run.stdout, &failed(
                "version",
                "locations",
                "1 of 26 version locations do not hold 1.2.3:\n      desktop/src-tauri/tauri.conf.json:3 = 1.2.2  (key [\"version\"], read as 1.2.2)",
                "`shiplane bump 1.2.3 --force` moves every location to 1.2.3 (or fix the listed ones by hand)",
            ));
            // An explicit VERSION that nothing holds yet: `bump` is the fix.
            let run = preflight(dir, &["1.3.0", "--no-fetch"]);
            run.fails_with(1);
            // Caret requirements ("1.2.3") admit 1.3.0; the exact one ("=1.2.3") does not.
            for line in [
                "✗ version  locations: 22 of 26 version locations do not hold 1.3.0:\n      Cargo.toml:15 = 1.2.3  (workspace.package.version, read as 1.2.3)\n",
                "\n      crates/engine-ffi/Cargo.toml:15 = =1.2.3  (dependencies `polyglot-engine` of polyglot-ffi, does not admit 1.3.0)\n",
                "\n      desktop/src-tauri/tauri.conf.json:3 = 1.2.2  (key [\"version\"], read as 1.2.2)\n",
            ] {
                assert_has(&run.stdout, line);
            }
            assert_has(&run.stdout, "    fix: `shiplane bump 1.3.0 --force` moves every location to 1.3.0 (or fix the listed ones by hand)\n");
        });

        // VERSION not above the latest release tag of a product.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            git(dir, &["tag", "engine-v1.3.0", "HEAD~1"]);
            let run = fails_with(dir, &[], &[("engine", "newer")]);
            assert_has(
                &run.stdout,
                &failed(
                    "engine",
                    "newer",
                    "1.2.3 is not above the latest release tag engine-v1.3.0 (1.3.0)",
                    "release a version above 1.3.0: `shiplane bump <VERSION>`",
                ),
            );
        });

        // Not on the release branch.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            git(dir, &["switch", "-q", "-c", "feature"]);
            let run = fails_with(dir, &[], &[("git", "branch")]);
            assert_has(
                &run.stdout,
                &failed(
                    "git",
                    "branch",
                    "on branch feature; releases are cut from main ([release] branch)",
                    "`git switch main` (merge the release changes into it first)",
                ),
            );
        });

        // A dirty work tree: every changed path is listed.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            fs::write(dir.join("README.md"), "changed\n").unwrap();
            fs::write(dir.join("notes.txt"), "untracked\n").unwrap();
            let run = fails_with(dir, &[], &[("git", "clean")]);
            assert_has(
                &run.stdout,
                &failed(
                    "git",
                    "clean",
                    "2 uncommitted change(s):\n      README.md\n      notes.txt",
                    "commit them (or `git stash --include-untracked`): a release is built from a commit",
                ),
            );
        });

        // Behind the remote branch, found by the fetch; --no-fetch compares with what is known.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            let other = dir.parent().unwrap().join("other");
            git(
                dir.parent().unwrap(),
                &["clone", "-q", "origin.git", other.to_str().unwrap()],
            );
            for n in 1..=2 {
                fs::write(other.join("NOTES.md"), format!("note {n}\n")).unwrap();
                commit(&other, "a colleague's commit");
            }
            git(&other, &["push", "-q", "origin", "main"]);
            let run = fails_with(dir, &[], &[("git", "remote")]);
            assert_has(
                &run.stdout,
                &failed(
                    "git",
                    "remote",
                    "HEAD is 2 commit(s) behind origin/main (just fetched)",
                    "`git pull --ff-only origin main`, then check again",
                ),
            );
            // Fetched now: --no-fetch sees it too. Pulled: it passes.
            let run = fails_with(dir, &["--no-fetch"], &[("git", "remote")]);
            assert_has(
                &run.stdout,
                "✗ git  remote: HEAD is 2 commit(s) behind origin/main (as last fetched: --no-fetch)\n",
            );
            git(dir, &["merge", "-q", "--ff-only", "origin/main"]);
            preflight(dir, &["--no-fetch"]).success();
        });

        // The changelog has neither a section for VERSION nor Unreleased notes.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            fs::write(
                dir.join("CHANGELOG.md"),
                "# Changelog\n\n## [Unreleased]\n\n## [1.2.2] - 2026-08-01\n\n- Prebuilt Node addon.\n",
            )
            .unwrap();
            commit(dir, "changelog");
            git(dir, &["push", "-q", "origin", "main"]);
            let run = fails_with(dir, &[], &[("CHANGELOG.md", "changelog")]);
            assert_has(&run.stdout, &failed(
                "CHANGELOG.md",
                "changelog",
                "no section for 1.2.3, and the Unreleased section (line 3) is empty",
                "write the release notes under `## [Unreleased]`, then `shiplane bump 1.2.3` makes it the 1.2.3 section (or add `## [1.2.3] - YYYY-MM-DD` by hand)",
            ));
        });

        // A crate without a license.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            edit(dir, "crates/codegen/Cargo.toml", "license.workspace = true\n", "");
            commit(dir, "no license");
            git(dir, &["push", "-q", "origin", "main"]);
            let run = fails_with(dir, &[], &[("engine/polyglot-codegen", "license")]);
            assert_has(&run.stdout, &failed(
                "engine/polyglot-codegen",
                "license",
                "no `license` or `license-file` in crates/codegen/Cargo.toml",
                "add `license = \"MIT OR Apache-2.0\"` (an SPDX expression) under [package] in crates/codegen/Cargo.toml, or `license.workspace = true` with [workspace.package] license",
            ));
        });

        // A path dependency without a version (cargo package refuses it too).
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            edit(
                dir,
                "crates/engine-ffi/Cargo.toml",
                "polyglot-codegen = { path = \"../codegen\", version = \"1.2.3\" }",
                "polyglot-codegen = { path = \"../codegen\" }",
            );
            commit(dir, "path only");
            git(dir, &["push", "-q", "origin", "main"]);
            let run = fails_with(
                dir,
                &[],
                &[("engine/polyglot-ffi", "dependencies"), ("engine", "package")],
            );
            assert_has(&run.stdout, &failed(
                "engine/polyglot-ffi",
                "dependencies",
                "path dependency without a `version` (cargo publish refuses it):\n      crates/engine-ffi/Cargo.toml:18  polyglot-codegen",
                "add `version = \"X.Y.Z\"` beside each `path` (the version published on the registry); dev-dependencies may stay path-only",
            ));
        });

        // A Python project without requires-python.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            edit(
                dir,
                "bindings/python/pyproject.toml",
                "requires-python = \">=3.9\"\n",
                "",
            );
            commit(dir, "no requires-python");
            git(dir, &["push", "-q", "origin", "main"]);
            let run = fails_with(dir, &[], &[("python", "requires-python")]);
            assert_has(&run.stdout, &failed(
                "python",
                "requires-python",
                "no `requires-python` in [project] of bindings/python/pyproject.toml",
                "add `requires-python = \">=3.9\"` under [project] in bindings/python/pyproject.toml",
            ));
        });

        // An npm package without `files` (or .npmignore).
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            edit(
                dir,
                "bindings/node/package.json",
                "  \"files\": [\n    \"index.js\",\n    \"index.d.ts\",\n    \"README.md\"\n  ],\n",
                "",
            );
            commit(dir, "no files");
            git(dir, &["push", "-q", "origin", "main"]);
            let run = fails_with(dir, &[], &[("node", "files")]);
            assert_has(&run.stdout, &failed(
                "node",
                "files",
                "no \"files\" in bindings/node/package.json and no bindings/node/.npmignore: npm would publish everything in bindings/node",
                "list what the package ships in \"files\" of bindings/node/package.json (or add an .npmignore)",
            ));
        });

        // A registry that cannot be read: a failed check, never "not published".
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            let npm = regs.get("SHIPLANE_REG_NPM_URL");
            edit(dir, "shiplane.toml", &format!("index = \"{npm}\""), "index = \"http://127.0.0.1:9/\"");
            commit(dir, "a registry that is down");
            git(dir, &["push", "-q", "origin", "main"]);
            let run = fails_with(dir, &[], &[("node/@polyglot/engine@1.2.3", "unpublished")]);
            assert_has(&run.stdout, "✗ node/@polyglot/engine@1.2.3  unpublished: cannot read npm registry http://127.0.0.1:9/: http://127.0.0.1:9/@polyglot%2fengine: ");
            assert_has(&run.stdout, "    fix: check the registry endpoint ([registry.NAME] in shiplane.toml) and the network; a read error is not \"absent\"\n");
        });

        // An optional tool that is installed and configured runs; its failure is a failed check.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            fs::write(dir.join("deny.toml"), "[bans]\n").unwrap();
            commit(dir, "cargo deny configuration");
            git(dir, &["push", "-q", "origin", "main"]);
            let bin = tempfile::tempdir().unwrap();
            let tool = bin.path().join("cargo-deny");
            fs::write(&tool, "#!/bin/sh\necho 'error[banned]: crate polyglot-engine is banned' >&2\nexit 1\n").unwrap();
            fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            let path = std::env::join_paths(
                std::iter::once(bin.path().to_path_buf())
                    .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
            )
            .unwrap();
            let run = preflight_with(dir, &[], &[("PATH", Path::new(&path))]);
            run.fails_with(1);
            assert_eq!(
                failures(&run.stdout),
                [("engine".to_string(), "deny".to_string())],
                "{}",
                run.stdout
            );
            assert_has(&run.stdout, " deny --manifest-path ");
            assert_has(&run.stdout, "/Cargo.toml check` failed (exit status: 1): error[banned]: crate polyglot-engine is banned\n    fix: fix what `cargo deny --manifest-path Cargo.toml check` reports\n");
            assert_has(&run.stdout, &passed("engine", "audit", "cargo-audit is not installed (skipped)"));
        });

        // A generated workflow edited by hand.
        s.spawn(|| {
            let fixture = polyglot(regs);
            let dir = fixture.path();
            let config = dir.join("shiplane.toml");
            let mut text = fs::read_to_string(&config).unwrap();
            text.push_str("\n[ci.actions]\n\"actions/checkout\" = { sha = \"de0fac2e4500dabe0009e67214ff5f5447ce83dd\", tag = \"v6.0.2\" }\n");
            fs::write(&config, text).unwrap();
            support::shiplane(dir, &["workflows", "--write"]).success();
            commit(dir, "workflows");
            git(dir, &["push", "-q", "origin", "main"]);
            preflight(dir, &[]).success();
            let ci = dir.join(".github/workflows/ci.yml");
            let text = fs::read_to_string(&ci).unwrap();
            let lines = text.lines().count();
            fs::write(&ci, format!("{text}# edited by hand\n")).unwrap();
            commit(dir, "hand edit");
            git(dir, &["push", "-q", "origin", "main"]);
            let at = format!(".github/workflows/ci.yml:{}", lines + 1);
            let run = fails_with(dir, &[], &[(at.as_str(), "workflows")]);
            assert_has(&run.stdout, &failed(
                &at,
                "workflows",
                "differs from what shiplane.toml generates (the diff shows the change --write makes)",
                "run `cargo xtask workflows --write` and commit",
            ));
        });
    });

    // Already on the registry, published with npm itself: the partial-release fix.
    let fixture = polyglot(regs);
    let dir = fixture.path();
    regs.publish_npm(&dir.join("bindings/node"));
    let run = fails_with(dir, &[], &[("node/@polyglot/engine@1.2.3", "unpublished")]);
    let npm = regs.get("SHIPLANE_REG_NPM_URL");
    assert_has(&run.stdout, &failed(
        "node/@polyglot/engine@1.2.3",
        "unpublished",
        &format!("@polyglot/engine 1.2.3 is already on npm registry {npm}"),
        "1 of 5 packages are already published: resume the interrupted release with `publish` (`shiplane publish`), or release a new version",
    ));

    // Everything published (cargo publish, twine, npm): "already published: resume with publish".
    thread::scope(|s| {
        s.spawn(|| {
            regs.publish_crate(&dir.join("crates/codegen"));
            regs.publish_crate(&dir.join("crates/engine"));
            // Published to an alternative registry, the dependencies must say so; the edit is
            // undone afterwards.
            let registry = regs.cargo_registry();
            for (from, to) in [
                (
                    "version = \"=1.2.3\" }",
                    format!("version = \"=1.2.3\", registry = \"{registry}\" }}"),
                ),
                (
                    "version = \"1.2.3\" }",
                    format!("version = \"1.2.3\", registry = \"{registry}\" }}"),
                ),
            ] {
                edit(dir, "crates/engine-ffi/Cargo.toml", from, &to);
            }
            regs.publish_crate(&dir.join("crates/engine-ffi"));
            git(dir, &["checkout", "-q", "--", "."]);
        });
        s.spawn(|| {
            // A stand-in with the same name and version: maturin is not needed to publish it.
            let project = tempfile::tempdir().unwrap();
            fs::write(
                project.path().join("pyproject.toml"),
                "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"polyglot\"\nversion = \"1.2.3\"\n",
            )
            .unwrap();
            fs::create_dir(project.path().join("polyglot")).unwrap();
            fs::write(project.path().join("polyglot/__init__.py"), "").unwrap();
            regs.publish_python(project.path());
        });
    });
    // The work tree is as it was: only the registry checks fail.
    let expected = [
        ("engine/polyglot-codegen@1.2.3", "unpublished"),
        ("engine/polyglot-ffi@1.2.3", "unpublished"),
        ("engine/polyglot-engine@1.2.3", "unpublished"),
        ("python/polyglot@1.2.3", "unpublished"),
        ("node/@polyglot/engine@1.2.3", "unpublished"),
    ];
    let run = fails_with(dir, &[], &expected);
    let fix = "already published: resume with `publish` (`shiplane publish`) to finish the release, or release a new version";
    assert_has(
        &run.stdout,
        &failed(
            "python/polyglot@1.2.3",
            "unpublished",
            &format!(
                "polyglot 1.2.3 is already on python simple index {}",
                regs.get("SHIPLANE_REG_PYPI_INDEX")
            ),
            fix,
        ),
    );
    assert_eq!(
        run.stdout.matches(&format!("    fix: {fix}\n")).count(),
        5,
        "{}",
        run.stdout
    );
    println!("each check failing on its own: {:.1?}", started.elapsed());
}

#[test]
fn many_problems_are_all_reported_in_one_run() {
    let regs = Registries::start(&["cargo", "python", "npm"]);
    let fixture = polyglot(&regs);
    let dir = fixture.path();
    let first = head(dir);
    // On the remote: a colleague's commit.
    let other = dir.parent().unwrap().join("other");
    git(
        dir.parent().unwrap(),
        &["clone", "-q", "origin.git", other.to_str().unwrap()],
    );
    fs::write(other.join("NOTES.md"), "note\n").unwrap();
    commit(&other, "a colleague's commit");
    git(&other, &["push", "-q", "origin", "main"]);
    // Here: tags of earlier and of this release, on a feature branch with broken metadata.
    git(dir, &["tag", "engine-v1.3.0", &first]);
    git(dir, &["tag", "v1.2.3", &first]);
    git(dir, &["switch", "-q", "-c", "feature"]);
    edit(
        dir,
        "desktop/src-tauri/tauri.conf.json",
        "\"1.2.3\"",
        "\"1.2.2\"",
    );
    edit(
        dir,
        "crates/codegen/Cargo.toml",
        "license.workspace = true\n",
        "",
    );
    edit(
        dir,
        "crates/engine-ffi/Cargo.toml",
        "polyglot-codegen = { path = \"../codegen\", version = \"1.2.3\" }",
        "polyglot-codegen = { path = \"../codegen\" }",
    );
    edit(
        dir,
        "bindings/python/pyproject.toml",
        "requires-python = \">=3.9\"\n",
        "",
    );
    edit(
        dir,
        "bindings/node/package.json",
        "  \"files\": [\n    \"index.js\",\n    \"index.d.ts\",\n    \"README.md\"\n  ],\n",
        "",
    );
    fs::write(
        dir.join("CHANGELOG.md"),
        "# Changelog\n\n## [Unreleased]\n\n## [1.2.2] - 2026-08-01\n\n- Prebuilt Node addon.\n",
    )
    .unwrap();
    commit(dir, "many problems");
    fs::write(dir.join("scratch.txt"), "not committed\n").unwrap();

    let run = fails_with(
        dir,
        &[],
        &[
            ("version", "locations"),
            ("engine", "newer"),
            ("release", "newer"),
            ("git", "branch"),
            ("git", "clean"),
            ("git", "remote"),
            ("release", "tag"),
            ("CHANGELOG.md", "changelog"),
            ("engine/polyglot-codegen", "license"),
            ("engine/polyglot-ffi", "dependencies"),
            ("python", "requires-python"),
            ("node", "files"),
            ("engine", "package"),
        ],
    );
    let out = &run.stdout;
    for line in [
        "✗ version  locations: 1 of 25 version locations do not hold 1.2.3:\n      desktop/src-tauri/tauri.conf.json:3 = 1.2.2",
        "✗ engine  newer: 1.2.3 is not above the latest release tag engine-v1.3.0 (1.3.0)\n",
        "✗ git  branch: on branch feature; releases are cut from main ([release] branch)\n",
        "✗ git  clean: 1 uncommitted change(s):\n      scratch.txt\n",
        "✗ git  remote: HEAD and origin/main have diverged: 1 commit(s) ahead, 1 behind (just fetched)\n",
        "✗ CHANGELOG.md  changelog: no section for 1.2.3, and the Unreleased section (line 3) is empty\n",
        "✗ engine/polyglot-codegen  license: no `license` or `license-file` in crates/codegen/Cargo.toml\n",
        "✗ engine/polyglot-ffi  dependencies: path dependency without a `version` (cargo publish refuses it):\n      crates/engine-ffi/Cargo.toml:18  polyglot-codegen\n",
        "✗ python  requires-python: no `requires-python` in [project] of bindings/python/pyproject.toml\n",
        "✗ node  files: no \"files\" in bindings/node/package.json",
    ] {
        assert_has(out, line);
    }
    assert_has(
        out,
        &format!("✗ release  tag: tag v1.2.3 already exists at commit {first}, but HEAD is "),
    );
    assert!(out.contains("preflight 1.2.3: 13 of "), "{out}");
}

#[test]
fn an_invalid_version_is_a_usage_error() {
    let fixture = copy_fixture(POLYGLOT);
    let run = preflight(fixture.path(), &["v1.3.0"]);
    run.fails_with(2);
    assert_has(
        &run.stderr,
        "`v1.3.0` starts with `v`: versions are written bare (tag templates add any prefix); write `1.3.0`",
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
