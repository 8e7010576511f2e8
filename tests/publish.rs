//! `publish` on copies of the polyglot example (examples/polyglot: three crates depending on each
//! other, a maturin Python package, an npm package, a Go module, a desktop app whose binary is a
//! GitHub release asset), each a temp git repository with a bare `origin`, publishing to local
//! registries started by `scripts/registries.sh` with the real clients (cargo, twine, npm). The
//! GitHub API is the only stand-in (tests/support/github_stub.rs), and the tests assert the exact
//! requests it got.
//!
//! In these tests crates-io *is* the loopback registry: the run's CARGO_HOME replaces it (path
//! dependencies of published crates refer to crates-io), as a release to the real one would.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use support::fixture::Fixture;
use support::github_stub::GitHubStub;
use support::registries::{http_get, Registries};
use support::{copy_fixture, git, shiplane_command, Run};

const POLYGLOT: &str = "examples/polyglot";
const GITHUB_TOKEN: &str = "ghs_stubtoken0123456789abcdef";
const CRATES: [&str; 3] = ["polyglot-codegen", "polyglot-engine", "polyglot-ffi"];
const TAGS: [&str; 6] = [
    "engine-v1.2.3",
    "py-v1.2.3",
    "node-v1.2.3",
    "sdk/go/v1.2.3",
    "desktop-v1.2.3",
    "v1.2.3",
];

/// A copy of the example publishing to `regs`, with its GitHub releases going to `acme/polyglot`
/// (served by the stub when the test gives one), committed and pushed; and the env its runs use.
struct Release {
    fixture: Fixture,
    cargo_home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Release {
    /// Registries that were not started get an unused loopback URL (their products must not be
    /// published then).
    fn new(regs: &Registries, stub: Option<&GitHubStub>) -> Release {
        let fixture = copy_fixture(POLYGLOT);
        let dir = fixture.path();
        let path = dir.join("shiplane.toml");
        let text = fs::read_to_string(&path).unwrap();
        let mut text = regs.point_config_at(&text);
        let github = match stub {
            Some(_) => "github-repository = \"acme/polyglot\"\n",
            None => "github-release = false\n",
        };
        text = text.replacen(
            "changelog = \"CHANGELOG.md\"\n",
            &format!("changelog = \"CHANGELOG.md\"\n{github}"),
            1,
        );
        fs::write(&path, text).unwrap();
        commit(dir, "use the local registries");
        git(dir, &["push", "-q", "origin", "main"]);

        let cargo_home = tempfile::tempdir().unwrap();
        let mut config =
            fs::read_to_string(Path::new(regs.get("SHIPLANE_REG_CARGO_HOME")).join("config.toml"))
                .unwrap();
        config.push_str(&format!(
            "\n[source.crates-io]\nreplace-with = \"{}\"\n",
            regs.cargo_registry()
        ));
        fs::write(cargo_home.path().join("config.toml"), config).unwrap();

        let mut env = vec![
            (
                "CARGO_HOME".to_string(),
                cargo_home.path().display().to_string(),
            ),
            (
                regs.get("SHIPLANE_REG_CARGO_TOKEN_VAR").to_string(),
                regs.get("SHIPLANE_REG_CARGO_TOKEN").to_string(),
            ),
            ("PIP_FIND_LINKS".to_string(), String::new()),
        ];
        for (var, key) in [
            ("TWINE_USERNAME", "SHIPLANE_REG_PYPI_USER"),
            ("TWINE_PASSWORD", "SHIPLANE_REG_PYPI_PASSWORD"),
            ("npm_config_userconfig", "SHIPLANE_REG_NPM_USERCONFIG"),
        ] {
            if let Some(value) = regs.env.get(key) {
                env.push((var.to_string(), value.clone()));
            }
        }
        if let Some(python) = regs.env.get("SHIPLANE_REG_PYTHON") {
            let venv_bin = Path::new(python).parent().unwrap().to_path_buf();
            let path = std::env::join_paths(
                std::iter::once(venv_bin)
                    .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
            )
            .unwrap();
            env.push(("PATH".to_string(), path.to_string_lossy().into_owned()));
        }
        if let Some(stub) = stub {
            env.push(("GITHUB_TOKEN".to_string(), GITHUB_TOKEN.to_string()));
            env.push(("GITHUB_API_URL".to_string(), stub.url()));
        }
        Release {
            fixture,
            cargo_home,
            env,
        }
    }

    fn dir(&self) -> &Path {
        self.fixture.path()
    }

    /// `shiplane -C dir ARGS` with the release env, outside GitHub Actions.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = shiplane_command(self.dir());
        cmd.args(args)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_REPOSITORY")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
            .env_remove("CARGO_TARGET_DIR")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::new(&mut self.command(args))
    }

    fn record(&self, version: &str) -> serde_json::Value {
        let path = self
            .dir()
            .join(format!("target/shiplane/releases/{version}.json"));
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
    }
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", message]);
}

#[track_caller]
fn assert_has(text: &str, wanted: &str) {
    assert!(
        text.contains(wanted),
        "missing:\n{wanted}\n--- in ---\n{text}"
    );
}

/// (product, kind, name, action) of every record item.
fn actions(record: &serde_json::Value) -> Vec<(String, String, String, String)> {
    record["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (s("product"), s("kind"), s("name"), s("action"))
        })
        .collect()
}

/// What the registries hold: crate versions (from the sparse index), the Python files of the
/// project, the npm versions and dist-tags.
#[derive(Debug, PartialEq, Eq)]
struct RegistryState {
    crates: BTreeSet<String>,
    python_files: BTreeSet<String>,
    npm_versions: BTreeSet<String>,
    npm_dist_tags: String,
}

fn registry_state(regs: &Registries) -> RegistryState {
    let index = regs
        .get("SHIPLANE_REG_CARGO_INDEX")
        .trim_start_matches("sparse+")
        .trim_end_matches('/')
        .to_string();
    let mut crates = BTreeSet::new();
    for name in CRATES {
        let path = format!("{}/{}/{name}", &name[..2], &name[2..4]);
        if let Some(body) = http_get(&format!("{index}/{path}")) {
            for line in String::from_utf8(body).unwrap().lines() {
                let entry: serde_json::Value = serde_json::from_str(line).unwrap();
                crates.insert(format!("{name} {}", entry["vers"].as_str().unwrap()));
            }
        }
    }
    let simple = regs.env.get("SHIPLANE_REG_PYPI_INDEX");
    let python_files = simple
        .and_then(|simple| http_get(&format!("{simple}polyglot/")))
        .map(|body| {
            let text = String::from_utf8(body).unwrap();
            text.split("href=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(|href| {
                    let file = href.split('#').next().unwrap();
                    file.rsplit('/').next().unwrap().to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    let npm = regs.env.get("SHIPLANE_REG_NPM_URL");
    let packument = npm.and_then(|npm| http_get(&format!("{npm}@polyglot%2fengine")));
    let (npm_versions, npm_dist_tags) = match packument {
        Some(body) => {
            let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (
                doc["versions"]
                    .as_object()
                    .map(|v| v.keys().cloned().collect())
                    .unwrap_or_default(),
                doc["dist-tags"].to_string(),
            )
        }
        None => (BTreeSet::new(), String::new()),
    };
    RegistryState {
        crates,
        python_files,
        npm_versions,
        npm_dist_tags,
    }
}

fn origin_tags(release: &Release) -> BTreeSet<String> {
    git(release.dir(), &["ls-remote", "--tags", "origin"])
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .filter(|r| !r.ends_with("^{}"))
        .map(|r| r.trim_start_matches("refs/tags/").to_string())
        .collect()
}

#[test]
fn publishes_the_example_end_to_end_then_a_rerun_is_a_green_no_op() {
    let regs = Registries::start(&[]);
    let stub = GitHubStub::start("acme/polyglot", GITHUB_TOKEN);
    let release = Release::new(&regs, Some(&stub));
    let dir = release.dir();
    let empty = registry_state(&regs);
    assert!(empty.crates.is_empty() && empty.python_files.is_empty());

    // The plan: everything to publish, nothing done.
    let plan = release.run(&["publish"]);
    plan.success();
    for tag in TAGS {
        assert_has(&plan.stdout, &format!("  {tag} "));
    }
    for name in CRATES {
        assert_has(&plan.stdout, &format!("  {name} 1.2.3 "));
    }
    let order: Vec<usize> = CRATES
        .iter()
        .map(|c| plan.stdout.find(&format!("  {c} 1.2.3")).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "dependencies first (codegen and engine before ffi):\n{}",
        plan.stdout
    );
    assert_has(&plan.stdout, "dry run: nothing was published");
    assert_eq!(registry_state(&regs), empty);
    assert!(origin_tags(&release).is_empty());
    let requests = stub.take_requests();
    assert!(
        requests.iter().all(|r| r.method == "GET"),
        "the plan only reads GitHub: {requests:#?}"
    );

    let json = release.run(&["publish", "--format", "json"]);
    json.success();
    let plan_json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan_json["version"], "1.2.3");
    assert_eq!(plan_json["products"][0]["items"][0]["action"], "publish");
    stub.take_requests();

    // Publish.
    let summary = tempfile::NamedTempFile::new().unwrap();
    let run = Run::new(
        release
            .command(&["publish", "--execute"])
            .env("GITHUB_STEP_SUMMARY", summary.path()),
    );
    run.success();
    assert_has(&run.stdout, "published, 0 skipped");
    let state = registry_state(&regs);
    assert_eq!(
        state.crates,
        CRATES.iter().map(|c| format!("{c} 1.2.3")).collect(),
    );
    assert!(
        state.python_files.iter().any(|f| f.ends_with(".whl"))
            && state.python_files.contains("polyglot-1.2.3.tar.gz"),
        "{state:?}"
    );
    assert_eq!(state.npm_versions, BTreeSet::from(["1.2.3".to_string()]));
    assert_has(&state.npm_dist_tags, "\"latest\":\"1.2.3\"");
    assert_eq!(
        origin_tags(&release),
        TAGS.iter().map(|t| t.to_string()).collect()
    );
    let head = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    let peeled = git(dir, &["rev-parse", "sdk/go/v1.2.3^{commit}"]);
    assert_eq!(peeled.trim(), head, "tags are at HEAD");
    let tag_type = git(dir, &["cat-file", "-t", "engine-v1.2.3"]);
    assert_eq!(tag_type.trim(), "tag", "annotated tags");

    // GitHub: per tag one GET (the plan), one GET (create-or-update), one POST; then the desktop
    // binary uploaded to its release.
    let requests = stub.take_requests();
    let lines: Vec<String> = requests.iter().map(|r| r.line()).collect();
    let mut expected: Vec<String> = Vec::new();
    for tag in TAGS {
        expected.push(format!(
            "GET /repos/acme/polyglot/releases/tags/{}",
            tag.replace('/', "%2F")
        ));
    }
    for (i, tag) in TAGS.iter().enumerate() {
        expected.push(format!(
            "GET /repos/acme/polyglot/releases/tags/{}",
            tag.replace('/', "%2F")
        ));
        expected.push("POST /repos/acme/polyglot/releases".to_string());
        if *tag == "desktop-v1.2.3" {
            expected.push(format!(
                "POST /uploads/repos/acme/polyglot/releases/{}/assets?name=polyglot-desktop",
                i + 1
            ));
        }
    }
    assert_eq!(lines, expected);
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {GITHUB_TOKEN}").as_str())
        );
    }
    let create: serde_json::Value = serde_json::from_slice(&requests[7].body).unwrap();
    assert_eq!(create["tag_name"], "engine-v1.2.3");
    assert_eq!(create["name"], "engine 1.2.3");
    assert_eq!(create["prerelease"], false);
    assert_has(
        create["body"].as_str().unwrap(),
        "`polyglot_version()` returned a string without a terminating NUL",
    );
    let releases = stub.releases();
    let desktop = releases
        .iter()
        .find(|r| r.tag_name == "desktop-v1.2.3")
        .unwrap();
    assert_eq!(
        desktop.assets[0].bytes,
        fs::read(dir.join("target/release/polyglot-desktop")).unwrap()
    );

    // The record and the step summary.
    let record = release.record("1.2.3");
    let items = actions(&record);
    assert!(
        items.iter().all(|(_, _, _, a)| a == "published"),
        "{items:#?}"
    );
    for kind in [
        "tag",
        "crate",
        "wheel",
        "sdist",
        "npm-package",
        "go-module",
        "github-release",
        "asset",
    ] {
        assert!(
            items.iter().any(|(_, k, _, _)| k == kind),
            "{kind}: {items:#?}"
        );
    }
    for item in record["items"].as_array().unwrap() {
        if ["crate", "wheel", "sdist", "npm-package", "asset"]
            .contains(&item["kind"].as_str().unwrap())
        {
            let sha = item["sha256"].as_str().unwrap_or_default();
            assert_eq!(sha.len(), 64, "{item}");
            assert!(
                !item["url"].as_str().unwrap_or_default().is_empty(),
                "{item}"
            );
        }
    }
    let wheel = record["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "wheel")
        .unwrap();
    let built = dir
        .join("target/shiplane/dist/python")
        .join(wheel["name"].as_str().unwrap());
    assert_eq!(
        wheel["sha256"].as_str().unwrap(),
        shiplane::checksum::sha256_file(&built).unwrap()
    );
    let table = fs::read_to_string(summary.path()).unwrap();
    assert_has(&table, "### publish 1.2.3");
    assert_has(
        &table,
        "| ✅ published | engine | crate [`polyglot-ffi` 1.2.3](",
    );

    // What was published installs and works.
    release.run(&["verify-install", "--wait", "60"]).success();

    // A re-run: every item skipped, nothing uploaded, GitHub only read.
    let again = release.run(&["publish", "--execute"]);
    again.success();
    assert_has(&again.stdout, "0 published, ");
    assert_has(&again.stdout, "0 failed, 0 not run");
    assert_eq!(registry_state(&regs), state);
    let requests = stub.take_requests();
    assert!(
        requests.iter().all(|r| r.method == "GET"),
        "a re-run only reads GitHub: {:#?}",
        requests.iter().map(|r| r.line()).collect::<Vec<_>>()
    );
    let items = actions(&release.record("1.2.3"));
    assert!(
        items.iter().all(|(_, _, _, a)| a == "skipped"),
        "{items:#?}"
    );

    // A prerelease of the npm product alone: dist-tag `next`, `latest` stays, GitHub prerelease.
    shiplane_ok(&release, &["bump", "1.3.0-rc.1"]);
    commit(dir, "release: v1.3.0-rc.1");
    git(dir, &["push", "-q", "origin", "main"]);
    let rc = release.run(&["publish", "--execute", "--product", "node"]);
    rc.success();
    assert_has(&rc.stdout, "under `next`");
    let state = registry_state(&regs);
    assert_has(&state.npm_dist_tags, "\"latest\":\"1.2.3\"");
    assert_has(&state.npm_dist_tags, "\"next\":\"1.3.0-rc.1\"");
    assert!(origin_tags(&release).contains("node-v1.3.0-rc.1"));
    assert!(
        !origin_tags(&release).contains("v1.3.0-rc.1"),
        "no umbrella tag for one product"
    );
    let node_rc = stub
        .releases()
        .into_iter()
        .find(|r| r.tag_name == "node-v1.3.0-rc.1")
        .unwrap();
    assert!(node_rc.prerelease);
}

fn shiplane_ok(release: &Release, args: &[&str]) {
    release.run(args).success();
}

/// Start `publish --execute` in its own process group and kill the group once `lines` upload
/// lines ("published to") were printed. Returns the output seen.
fn kill_after_uploads(release: &Release, uploads: usize) -> String {
    let mut child = release
        .command(&["publish", "--execute"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut seen = String::new();
    let mut count = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(" published to ") {
            count += 1;
            if count == uploads {
                let status = Command::new("kill")
                    .args(["-s", "KILL", "--", &format!("-{pid}")])
                    .status()
                    .unwrap();
                assert!(status.success());
                break;
            }
        }
    }
    let _ = child.wait();
    assert_eq!(count, uploads, "fewer uploads than expected:\n{seen}");
    seen
}

#[test]
fn a_killed_run_resumes_publishing_only_what_is_missing() {
    // A clean single run, for the final state to compare with.
    let clean_regs = Registries::start(&[]);
    let clean = Release::new(&clean_regs, None);
    clean.run(&["publish", "--execute"]).success();
    let expected = registry_state(&clean_regs);
    drop(clean_regs);

    let regs = Registries::start(&[]);
    let release = Release::new(&regs, None);
    let seen = kill_after_uploads(&release, 3);
    let partial = registry_state(&regs);
    assert_ne!(
        partial, expected,
        "the kill left the release unfinished:\n{seen}"
    );

    let resumed = release.run(&["publish", "--execute"]);
    resumed.success();
    let record = release.record("1.2.3");
    let items = actions(&record);
    let skipped: Vec<_> = items
        .iter()
        .filter(|(_, k, _, a)| a == "skipped" && k != "tag")
        .collect();
    let published: Vec<_> = items
        .iter()
        .filter(|(_, k, _, a)| a == "published" && k != "tag")
        .collect();
    assert!(
        skipped.len() >= 3,
        "what the first run uploaded is skipped: {items:#?}\n{seen}"
    );
    assert!(!published.is_empty(), "the rest is published: {items:#?}");
    // Names normalised: the same crates, files and npm versions as one clean run.
    assert_eq!(registry_state(&regs), expected);
    // And a third run has nothing left to do.
    let third = release.run(&["publish", "--execute"]);
    third.success();
    assert_has(&third.stdout, "0 published, ");
}

#[test]
fn a_tag_at_another_commit_stops_everything_and_names_both_commits() {
    let regs = Registries::start(&[]);
    let stub = GitHubStub::start("acme/polyglot", GITHUB_TOKEN);
    let release = Release::new(&regs, Some(&stub));
    let dir = release.dir();
    let old = git(dir, &["rev-parse", "HEAD~1"]).trim().to_string();
    let head = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    git(dir, &["tag", "-a", "-m", "early", "node-v1.2.3", &old]);
    git(dir, &["push", "-q", "origin", "node-v1.2.3"]);
    stub.take_requests();

    let run = release.run(&["publish", "--execute"]);
    run.fails_with(1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_has(
        &all,
        &format!("tag node-v1.2.3 already exists locally at {old}, but HEAD is {head}"),
    );
    assert_has(&all, "a released tag is never moved");
    assert_has(&all, "nothing was published");
    assert_eq!(registry_state(&regs), registry_state_empty());
    assert_eq!(
        origin_tags(&release),
        BTreeSet::from(["node-v1.2.3".to_string()]),
        "no other tag was pushed"
    );
    assert!(
        stub.requests().iter().all(|r| r.method == "GET"),
        "nothing was created on GitHub"
    );
    assert!(!dir.join("target/shiplane/releases/1.2.3.json").exists());
    // The remote tag alone (no local one) is found too.
    git(dir, &["tag", "-d", "node-v1.2.3"]);
    let run = release.run(&["publish"]);
    run.fails_with(1);
    assert_has(
        &run.stdout,
        &format!("tag node-v1.2.3 already exists on origin at {old}, but HEAD is {head}"),
    );
    // For machines: one JSON document, the plan with its blockers, and exit 1.
    let json = release.run(&["publish", "--format", "json"]);
    json.fails_with(1);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_has(
        plan["blockers"][0]["message"].as_str().unwrap(),
        &format!("already exists on origin at {old}"),
    );
    let node_tag = plan["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "node-v1.2.3")
        .unwrap();
    assert_eq!(node_tag["action"], "blocked");
}

fn registry_state_empty() -> RegistryState {
    RegistryState {
        crates: BTreeSet::new(),
        python_files: BTreeSet::new(),
        npm_versions: BTreeSet::new(),
        npm_dist_tags: String::new(),
    }
}

#[test]
fn no_token_is_printed_even_when_an_upload_fails() {
    let regs = Registries::start(&[]);
    let stub = GitHubStub::start("acme/polyglot", GITHUB_TOKEN);
    let mut release = Release::new(&regs, Some(&stub));
    let dir = release.dir().to_path_buf();
    // A build step that prints a credential from its environment, as careless tools do.
    let config = dir.join("shiplane.toml");
    let text = fs::read_to_string(&config).unwrap().replace(
        "build = [\"maturin\",",
        "build = [\"sh\", \"-c\", \"echo using token $SHIPLANE_TEST_API_TOKEN; exec \\\"$0\\\" \\\"$@\\\"\", \"maturin\",",
    );
    fs::write(&config, text).unwrap();
    commit(&dir, "a noisy build");
    git(&dir, &["push", "-q", "origin", "main"]);
    let wrong_password = "wrong-pypi-password-5f1e2d";
    let api_token = "test-api-token-a8b7c6d5e4";
    let npm_token = "npm_faketoken1234567890";
    for (key, value) in release.env.iter_mut() {
        if key == "TWINE_PASSWORD" {
            *value = wrong_password.to_string();
        }
    }
    release
        .env
        .push(("SHIPLANE_TEST_API_TOKEN".to_string(), api_token.to_string()));
    release
        .env
        .push(("NODE_AUTH_TOKEN".to_string(), npm_token.to_string()));
    let cargo_token = regs.get("SHIPLANE_REG_CARGO_TOKEN").to_string();
    let summary = tempfile::NamedTempFile::new().unwrap();
    let run = Run::new(
        release
            .command(&["-vv", "publish", "--execute"])
            .env("GITHUB_STEP_SUMMARY", summary.path()),
    );
    run.fails_with(1);
    let record = fs::read_to_string(dir.join("target/shiplane/releases/1.2.3.json")).unwrap();
    let table = fs::read_to_string(summary.path()).unwrap();
    let all = format!("{}\n{}\n{record}\n{table}", run.stdout, run.stderr);
    assert_has(&all, "twine upload");
    assert_has(&all, "using token ***");
    for secret in [
        wrong_password,
        api_token,
        npm_token,
        GITHUB_TOKEN,
        cargo_token.as_str(),
        regs.get("SHIPLANE_REG_NPM_TOKEN"),
    ] {
        assert!(!all.contains(secret), "`{secret}` was printed:\n{all}");
    }
    // The failed item is in the record, and its dependants' GitHub release did not run.
    let items = actions(&serde_json::from_str(&record).unwrap());
    assert!(
        items
            .iter()
            .any(|(p, _, _, a)| p == "python" && a == "failed"),
        "{items:#?}"
    );
    assert!(items
        .iter()
        .any(|(p, k, _, a)| p == "python" && k == "github-release" && a == "not-run"));
    drop(release.cargo_home);
}

#[test]
fn trusted_publishing_mints_one_token_publishes_with_it_and_revokes_it() {
    use support::oidc_stub::{
        OidcStub, CARGO_TOKEN, CARGO_TOKENS_PATH, ID_TOKEN_PATH, JWT, REQUEST_TOKEN,
    };
    let regs = Registries::start(&["cargo"]);
    let stub = OidcStub::start();
    let mut release = Release::new(&regs, None);
    let dir = release.dir().to_path_buf();
    let config = dir.join("shiplane.toml");
    let text = fs::read_to_string(&config).unwrap().replace(
        "[registry.local-crates]\n",
        &format!(
            "[registry.local-crates]\noidc-exchange = \"{}\"\noidc-audience = \"crates.loopback.test\"\n",
            stub.url(CARGO_TOKENS_PATH)
        ),
    );
    fs::write(&config, text).unwrap();
    commit(&dir, "trusted publishing");
    git(&dir, &["push", "-q", "origin", "main"]);
    // No long-lived token: only the job's OIDC endpoint.
    let token_var = regs.get("SHIPLANE_REG_CARGO_TOKEN_VAR").to_string();
    release.env.retain(|(k, _)| *k != token_var);
    release.env.push((
        "ACTIONS_ID_TOKEN_REQUEST_URL".to_string(),
        stub.url(&format!("{ID_TOKEN_PATH}?api-version=2.0")),
    ));
    release.env.push((
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_string(),
        REQUEST_TOKEN.to_string(),
    ));
    let mut cmd = release.command(&["-vv", "publish", "--execute", "--product", "engine"]);
    cmd.env_remove(&token_var);
    // The stand-ins for the job's variables must reach shiplane (command() removes the real ones).
    for (k, v) in &release.env {
        cmd.env(k, v);
    }
    let run = Run::new(&mut cmd);
    run.success();
    assert_has(
        &run.stdout,
        "trusted publishing: got a short-lived token for [registry.local-crates]",
    );
    assert_has(
        &run.stdout,
        "trusted publishing: revoked the token for [registry.local-crates]",
    );
    assert_eq!(
        registry_state(&regs).crates,
        CRATES.iter().map(|c| format!("{c} 1.2.3")).collect()
    );
    let requests = stub.requests();
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(
        lines,
        [
            format!("GET {ID_TOKEN_PATH}?api-version=2.0&audience=crates.loopback.test"),
            format!("POST {CARGO_TOKENS_PATH}"),
            format!("DELETE {CARGO_TOKENS_PATH}"),
        ],
        "one token for the three crates, revoked at the end"
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {REQUEST_TOKEN}").as_str())
    );
    assert_eq!(requests[1].json(), serde_json::json!({ "jwt": JWT }));
    assert_eq!(
        requests[2].header("authorization"),
        Some(format!("Bearer {CARGO_TOKEN}").as_str())
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    for secret in [JWT, REQUEST_TOKEN, CARGO_TOKEN] {
        assert!(!all.contains(secret), "`{secret}` was printed:\n{all}");
    }
}
