//! Registry probes against the live local registries of `scripts/registries.sh` (see
//! docs/registries.md): cargo-http-registry behind the sparse index server, pypiserver and
//! verdaccio on 127.0.0.1. Packages go in through each ecosystem's own client (`cargo publish`,
//! `twine upload`, `npm publish`); the probes then read them back over HTTP, and through the
//! clients themselves (`cargo info`, `pip index versions`, `npm view`) pointed at the same
//! registries by their own configuration.
//!
//! Each test starts one set of registries and asks many questions of it. tests/probes.rs covers
//! the failure paths (retries, timeouts, 5xx, 403) against scripted loopback servers.

mod support;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use shiplane::config::{Ecosystem, LoadedConfig};
use shiplane::registry::{
    endpoint_for, endpoint_for_package, probe_all, Endpoint, HttpSettings, PackageVersions,
    ProbeAnswer, ProbeError, ProbeRequest, Prober,
};
use support::registries::{self, Registries};

/// The crate, distribution and packages the tests publish.
const CRATE: &str = "shiplane_probe-live";
const DIST: &str = "Shiplane_Probe.Demo";
const SCOPED: &str = "@shiplane-probe/pkg";
const PLAIN: &str = "shiplane-probe-plain";

// --- The process environment --------------------------------------------------------------------

/// The client probes run `cargo`, `pip` and `npm` as children of this process, which inherit its
/// environment: the only way to hand pip its index (`PIP_INDEX_URL`) and cargo a `CARGO_HOME`.
/// The test that changes the environment holds this lock for writing while it does; every other
/// test holds it for reading throughout, so none of their commands (nor a first `registries.sh
/// up` that installs the servers) ever sees the change.
static ENVIRONMENT: RwLock<()> = RwLock::new(());

fn environment_unchanged() -> RwLockReadGuard<'static, ()> {
    ENVIRONMENT.read().unwrap_or_else(PoisonError::into_inner)
}

fn environment_to_change() -> RwLockWriteGuard<'static, ()> {
    ENVIRONMENT.write().unwrap_or_else(PoisonError::into_inner)
}

/// Set (`Some`) or remove (`None`) environment variables; dropping puts the old values back.
struct EnvChange {
    saved: Vec<(&'static str, Option<OsString>)>,
}

impl EnvChange {
    /// Only under [`environment_to_change`].
    fn apply(
        _exclusive: &RwLockWriteGuard<'static, ()>,
        vars: &[(&'static str, Option<&str>)],
    ) -> Self {
        let saved = vars
            .iter()
            .map(|(key, _)| (*key, std::env::var_os(key)))
            .collect();
        for (key, value) in vars {
            match value {
                Some(value) => std::env::set_var(key, value),
                None => std::env::remove_var(key),
            }
        }
        EnvChange { saved }
    }
}

impl Drop for EnvChange {
    fn drop(&mut self) {
        for (key, value) in &self.saved {
            match value {
                Some(value) => std::env::set_var(key, value),
                None => std::env::remove_var(key),
            }
        }
    }
}

// --- Helpers ------------------------------------------------------------------------------------

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn text_of(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn succeeded(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        text_of(&out)
    );
    out
}

/// Live servers answer at once; a failure should not take four attempts to show.
fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(20),
        attempts: 2,
        backoff: Duration::from_millis(100),
        ..HttpSettings::default()
    }
}

/// The versions listed, in the probe's order.
fn versions(package: &PackageVersions) -> Vec<&str> {
    package
        .versions
        .iter()
        .map(|p| p.version.as_str())
        .collect()
}

/// GET `url` from a loopback registry; it must answer 200.
fn download(url: &str) -> Vec<u8> {
    registries::http_get(url).unwrap_or_else(|| panic!("GET {url}: not 200"))
}

/// The hex digest `tool` (`sha256sum`, `sha1sum`) prints for `bytes`.
fn digest(tool: &str, bytes: &[u8]) -> String {
    let mut child = Command::new(tool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = succeeded(tool, child.wait_with_output().unwrap());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// A library crate `name@version`, published with `cargo publish --no-verify` (nothing to
/// build); returns the `.crate` file cargo packaged and uploaded.
fn publish_crate(regs: &Registries, work: &Path, name: &str, version: &str) -> PathBuf {
    let dir = work.join(format!("crate-{name}-{version}"));
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"A live probe fixture\"\nlicense = \"MIT\"\n\
             repository = \"https://example.invalid/shiplane-probe\"\n"
        ),
    );
    write(&dir.join("src/lib.rs"), "pub fn probe() {}\n");
    succeeded(
        &format!("cargo publish {name}@{version}"),
        regs.cargo_command(&dir)
            .args(["publish", "--registry", regs.cargo_registry()])
            .args(["--allow-dirty", "--no-verify"])
            .output()
            .expect("cargo runs"),
    );
    // `target/package/NAME-VERSION.crate`, or (cargo 1.9x publish) a subdirectory of it.
    let packaged = dir.join("target/package");
    let file = format!("{name}-{version}.crate");
    let found = support::walk(&packaged, &[])
        .into_iter()
        .find(|path| path.rsplit('/').next() == Some(file.as_str()))
        .unwrap_or_else(|| panic!("cargo publish left no {file} in {}", packaged.display()));
    packaged.join(found)
}

/// A setuptools project `name@version` (module `shiplane_probe_demo`), built (wheel and sdist)
/// and uploaded with twine; returns the files uploaded.
fn publish_python(regs: &Registries, work: &Path, name: &str, version: &str) -> Vec<PathBuf> {
    let dir = work.join(format!("python-{version}"));
    write(
        &dir.join("pyproject.toml"),
        &format!(
            "[build-system]\nrequires = [\"setuptools>=61\"]\n\
             build-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"{version}\"\n\
             description = \"A live probe fixture\"\n"
        ),
    );
    write(
        &dir.join("src/shiplane_probe_demo/__init__.py"),
        &format!("VERSION = \"{version}\"\n"),
    );
    let files = regs.build_python(&dir);
    succeeded(
        &format!("twine upload {name}@{version}"),
        regs.try_upload_python(&files),
    );
    files
}

/// An npm package `name@version` with a README, published with `npm publish <extra>`.
fn publish_npm(regs: &Registries, work: &Path, name: &str, version: &str, extra: &[&str]) {
    let dir = work.join(format!("npm-{}-{version}", name.replace('/', "_")));
    write(
        &dir.join("package.json"),
        &format!(
            "{{\n  \"name\": \"{name}\",\n  \"version\": \"{version}\",\n  \"main\": \"index.js\",\n  \
             \"license\": \"MIT\",\n  \"description\": \"A live probe fixture\",\n  \
             \"repository\": {{\"type\": \"git\", \"url\": \"git+https://example.invalid/shiplane-probe.git\"}}\n}}\n"
        ),
    );
    write(&dir.join("index.js"), "module.exports = {};\n");
    write(
        &dir.join("README.md"),
        &format!("# {name}\n\nLive probe fixture.\n"),
    );
    succeeded(
        &format!("npm publish {name}@{version}"),
        regs.try_publish_npm(&dir, extra),
    );
}

fn cargo_endpoint(regs: &Registries) -> Endpoint {
    Endpoint::from_url(Ecosystem::Cargo, regs.get("SHIPLANE_REG_CARGO_INDEX")).unwrap()
}

fn python_endpoint(regs: &Registries) -> Endpoint {
    Endpoint::from_url(Ecosystem::Python, regs.get("SHIPLANE_REG_PYPI_INDEX")).unwrap()
}

fn npm_endpoint(regs: &Registries) -> Endpoint {
    Endpoint::from_url(Ecosystem::Npm, regs.get("SHIPLANE_REG_NPM_URL")).unwrap()
}

// --- Cargo --------------------------------------------------------------------------------------

#[test]
fn cargo_sparse_index_present_absent_prerelease_and_every_path_form() {
    let _env = environment_unchanged();
    let regs = Registries::start(&["cargo"]);
    let work = tempfile::tempdir().unwrap();
    let stable = publish_crate(&regs, work.path(), CRATE, "0.1.0");
    let rc = publish_crate(&regs, work.path(), CRATE, "0.2.0-rc.1");
    // Names of 1, 2, 3 and 4 characters, with `-` and `_`: every index path form.
    let short = [
        ("q", "1/q"),
        ("qz", "2/qz"),
        ("q-z", "3/q/q-z"),
        ("q_zz", "q_/zz/q_zz"),
    ];
    for (name, _) in short {
        publish_crate(&regs, work.path(), name, "0.1.0");
    }

    let prober = Prober::new(work.path(), settings());
    let endpoint = cargo_endpoint(&regs);
    let index = endpoint.url().unwrap().to_string();
    assert_eq!(
        format!("sparse+{index}"),
        regs.get("SHIPLANE_REG_CARGO_INDEX")
    );
    let probe = prober.probe(endpoint);

    // The whole crate: both versions, each with its .crate download and checksum.
    let package = probe.versions(CRATE).unwrap().expect("the published crate");
    assert_eq!(package.name, CRATE);
    assert_eq!(package.source, format!("{index}sh/ip/{CRATE}"));
    assert!(package.complete);
    assert_eq!(versions(&package), ["0.1.0", "0.2.0-rc.1"]);
    let api = regs.get("SHIPLANE_REG_CARGO_API");
    for (version, packaged) in [("0.1.0", &stable), ("0.2.0-rc.1", &rc)] {
        let published = package.find(version).unwrap();
        assert!(!published.yanked, "{version}");
        assert_eq!(published.meta["name"], CRATE);
        assert_eq!(published.meta["vers"], version);
        assert_eq!(published.files.len(), 1, "{published:?}");
        let file = &published.files[0];
        assert_eq!(file.filename, format!("{CRATE}-{version}.crate"));
        assert_eq!(
            file.url,
            format!("{api}api/v1/crates/{CRATE}/{version}/download"),
            "config.json's dl names cargo-http-registry"
        );
        let bytes = fs::read(packaged).unwrap();
        assert_eq!(file.hashes["sha256"], digest("sha256sum", &bytes));
        assert_eq!(download(&file.url), bytes, "the .crate cargo uploaded");
    }
    assert_eq!(
        package
            .find("0.2.0-rc.1")
            .unwrap()
            .semver
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("0.2.0-rc.1")
    );

    // Present, absent version, prerelease, absent crate.
    for (name, version, expected) in [
        (CRATE, "0.1.0", true),
        (CRATE, "0.1.0+build.7", true), // build metadata is not part of a version's identity
        (CRATE, "0.2.0-rc.1", true),
        (CRATE, "0.2.0", false), // only its release candidate is out
        (CRATE, "0.2.0-rc.2", false),
        (CRATE, "0.3.0", false),
        ("Shiplane_Probe-Live", "0.1.0", true), // index paths are lowercase
        ("shiplane-probe-nope", "0.1.0", false),
        // The index files a crate under its exact name: `-` and `_` are not interchangeable
        // there (cargo itself answers "could not find" for this spelling too).
        ("shiplane-probe-live", "0.1.0", false),
    ] {
        assert_eq!(
            probe.exists(name, version),
            Ok(expected),
            "{name}@{version}"
        );
    }
    assert_eq!(
        probe.versions("Shiplane_Probe-Live").unwrap().unwrap().name,
        CRATE,
        "the name as the index spells it"
    );
    assert_eq!(probe.find(CRATE, "0.3.0"), Ok(None));
    assert_eq!(probe.versions("shiplane-probe-nope"), Ok(None));

    // Every path form, where the registry itself filed the crate.
    let on_disk = regs.state_dir().join("cargo/index");
    for (name, path) in short {
        assert!(
            on_disk.join(path).is_file(),
            "the registry filed {name} elsewhere"
        );
        let package = probe
            .versions(name)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(package.source, format!("{index}{path}"));
        assert_eq!(versions(&package), ["0.1.0"], "{name}");
        assert_eq!(probe.exists(name, "0.1.0"), Ok(true), "{name}");
        assert_eq!(probe.exists(name, "0.1.1"), Ok(false), "{name}");
    }
    for absent in ["z", "zq", "z-q", "z_qq"] {
        assert_eq!(probe.versions(absent), Ok(None), "{absent}");
    }

    // A yanked version still exists. cargo-http-registry 0.1.8 has no yank API (`cargo yank`
    // gets 405 Method Not Allowed): then only the refusal is checked.
    let yank = regs
        .cargo_command(work.path())
        .args(["yank", "--registry", regs.cargo_registry()])
        .arg(format!("{CRATE}@0.1.0"))
        .output()
        .expect("cargo runs");
    let after = probe
        .find(CRATE, "0.1.0")
        .unwrap()
        .expect("0.1.0 is still listed");
    if yank.status.success() {
        assert!(after.yanked, "{after:?}");
        assert_eq!(probe.exists(CRATE, "0.1.0"), Ok(true));
    } else {
        assert!(
            text_of(&yank).contains("405"),
            "cargo yank failed, and not for want of a yank API:\n{}",
            text_of(&yank)
        );
        assert!(!after.yanked);
        eprintln!(
            "skipped: the yanked-version probe (cargo-http-registry answers `cargo yank` with 405)"
        );
    }
}

// --- Python -------------------------------------------------------------------------------------

#[test]
fn python_simple_index_names_by_any_spelling_prereleases_wheels_and_sdists() {
    let _env = environment_unchanged();
    let regs = Registries::start(&["python"]);
    let work = tempfile::tempdir().unwrap();
    let stable = publish_python(&regs, work.path(), DIST, "1.0.0");
    let rc = publish_python(&regs, work.path(), DIST, "1.0.0rc1");

    let prober = Prober::new(work.path(), settings());
    let index = regs.get("SHIPLANE_REG_PYPI_INDEX");
    let probe = prober.probe(python_endpoint(&regs));

    // PEP 503: every spelling of the name is one project, read at its normalised URL.
    let package = probe.versions(DIST).unwrap().expect("the uploaded project");
    assert_eq!(package.source, format!("{index}shiplane-probe-demo/"));
    assert!(package.complete);
    assert_eq!(versions(&package), ["1.0.0rc1", "1.0.0"]);
    for spelling in [
        "shiplane-probe-demo",
        "SHIPLANE-PROBE-DEMO",
        "shiplane_probe_demo",
        "shiplane.probe.demo",
        "Shiplane__Probe--Demo",
        "shiplane-._probe.demo",
    ] {
        let again = probe
            .versions(spelling)
            .unwrap()
            .unwrap_or_else(|| panic!("{spelling} is the same project"));
        assert_eq!(again.source, package.source, "{spelling}");
        assert_eq!(again.versions, package.versions, "{spelling}");
    }

    // Each version lists its wheel and its sdist, as uploaded.
    let upload = regs.get("SHIPLANE_REG_PYPI_UPLOAD");
    for (version, built) in [("1.0.0", &stable), ("1.0.0rc1", &rc)] {
        let published = package.find(version).unwrap();
        assert!(!published.yanked);
        let mut listed: Vec<&str> = published
            .files
            .iter()
            .map(|f| f.filename.as_str())
            .collect();
        listed.sort_unstable();
        let mut uploaded: Vec<String> = built.iter().map(|p| file_name(p)).collect();
        uploaded.sort_unstable();
        assert_eq!(listed, uploaded, "{version}");
        assert_eq!(listed.iter().filter(|f| f.ends_with(".whl")).count(), 1);
        assert_eq!(listed.iter().filter(|f| f.ends_with(".tar.gz")).count(), 1);
        for file in &published.files {
            let local = built
                .iter()
                .find(|p| file_name(p) == file.filename)
                .unwrap();
            assert_eq!(file.url, format!("{upload}packages/{}", file.filename));
            assert_eq!(
                file.hashes["sha256"],
                digest("sha256sum", &fs::read(local).unwrap()),
                "{}",
                file.filename
            );
        }
    }
    let wheel = package
        .find("1.0.0rc1")
        .unwrap()
        .files
        .iter()
        .find(|f| f.filename.ends_with(".whl"))
        .unwrap();
    let local = rc.iter().find(|p| file_name(p) == wheel.filename).unwrap();
    assert_eq!(download(&wheel.url), fs::read(local).unwrap());

    // The prerelease uploaded as 1.0.0rc1 answers to its PEP 440 and semver spellings.
    let found = probe
        .find("shiplane-probe-demo", "1.0.0-rc.1")
        .unwrap()
        .unwrap();
    assert_eq!(found.version, "1.0.0rc1");
    assert_eq!(
        found.semver.as_ref().map(ToString::to_string).as_deref(),
        Some("1.0.0-rc.1")
    );
    for (name, version, expected) in [
        (DIST, "1.0.0rc1", true),
        (DIST, "1.0.0-rc.1", true),
        ("shiplane_probe_demo", "1.0.0-rc1", true),
        ("Shiplane.Probe.Demo", "1.0.0.RC1", true),
        ("shiplane-probe-demo", "1.0.0c1", true),
        ("shiplane-probe-demo", "v1.0.0rc1", true),
        (DIST, "1.0.0", true),
        (DIST, "1.0", true),
        (DIST, "1.0.0.0", true),
        (DIST, "1.0.0rc2", false),
        (DIST, "1.0.0-rc.2", false),
        (DIST, "1.0.0b1", false),
        (DIST, "1.0.0.dev1", false),
        (DIST, "1.0.0.post1", false),
        (DIST, "1.0.1", false),
        ("Shiplane_Probe.Nope", "1.0.0", false),
    ] {
        assert_eq!(
            probe.exists(name, version),
            Ok(expected),
            "{name}@{version}"
        );
    }
    assert_eq!(probe.versions("shiplane-probe-nope"), Ok(None));
    assert_eq!(probe.find(DIST, "2.0.0"), Ok(None));
}

// --- npm ----------------------------------------------------------------------------------------

#[test]
fn npm_registry_scoped_and_unscoped_dist_tags_and_absence() {
    let _env = environment_unchanged();
    let regs = Registries::start(&["npm"]);
    let work = tempfile::tempdir().unwrap();
    publish_npm(&regs, work.path(), SCOPED, "1.0.0", &[]);
    publish_npm(&regs, work.path(), SCOPED, "2.0.0-rc.1", &["--tag", "next"]);
    publish_npm(&regs, work.path(), PLAIN, "1.0.0", &[]);
    publish_npm(&regs, work.path(), PLAIN, "1.1.0", &[]);

    let prober = Prober::new(work.path(), settings());
    let url = regs.get("SHIPLANE_REG_NPM_URL");
    let probe = prober.probe(npm_endpoint(&regs));

    let scoped = probe.versions(SCOPED).unwrap().expect("the scoped package");
    assert_eq!(scoped.name, SCOPED);
    assert_eq!(scoped.source, format!("{url}@shiplane-probe%2fpkg"));
    assert!(scoped.complete);
    assert_eq!(versions(&scoped), ["1.0.0", "2.0.0-rc.1"]);
    assert_eq!(
        scoped.dist_tags,
        [("latest", "1.0.0"), ("next", "2.0.0-rc.1")]
            .into_iter()
            .map(|(t, v)| (t.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    );
    let readme = scoped.readme.as_deref().unwrap_or("");
    assert!(readme.contains("Live probe fixture."), "{readme:?}");
    for version in ["1.0.0", "2.0.0-rc.1"] {
        let published = scoped.find(version).unwrap();
        assert_eq!(published.meta["version"], version);
        assert_eq!(published.license.as_deref(), Some("MIT"));
        assert_eq!(
            published.description.as_deref(),
            Some("A live probe fixture")
        );
        assert_eq!(
            published.repository.as_deref(),
            Some("git+https://example.invalid/shiplane-probe.git")
        );
        assert!(published.deprecated.is_none() && !published.yanked);
        let file = &published.files[0];
        assert_eq!(file.filename, format!("pkg-{version}.tgz"));
        assert_eq!(
            file.url,
            format!("{url}@shiplane-probe/pkg/-/pkg-{version}.tgz")
        );
        assert!(
            file.integrity
                .as_deref()
                .is_some_and(|i| i.starts_with("sha512-")),
            "{file:?}"
        );
        assert_eq!(file.hashes["sha1"], digest("sha1sum", &download(&file.url)));
    }
    assert_eq!(
        scoped
            .find("2.0.0-rc.1")
            .unwrap()
            .semver
            .as_ref()
            .map(|v| v.pre.as_str()),
        Some("rc.1")
    );

    let plain = probe
        .versions(PLAIN)
        .unwrap()
        .expect("the unscoped package");
    assert_eq!(plain.source, format!("{url}{PLAIN}"));
    assert_eq!(versions(&plain), ["1.0.0", "1.1.0"]);
    assert_eq!(plain.dist_tags.len(), 1);
    assert_eq!(plain.dist_tags["latest"], "1.1.0");
    assert_eq!(
        plain.find("1.1.0").unwrap().files[0].url,
        format!("{url}{PLAIN}/-/{PLAIN}-1.1.0.tgz")
    );

    for (name, version, expected) in [
        (SCOPED, "1.0.0", true),
        (SCOPED, "v1.0.0", true),
        (SCOPED, "2.0.0-rc.1", true),
        (SCOPED, "2.0.0", false), // only `next` has a 2.0.0, and it is the rc
        (SCOPED, "2.0.0-rc.2", false),
        (SCOPED, "1.0.1", false),
        (PLAIN, "1.0.0", true),
        (PLAIN, "1.1.0", true),
        (PLAIN, "9.9.9", false),
        ("shiplane-probe-nope", "1.0.0", false),
        ("@shiplane-probe/nope", "1.0.0", false),
        ("@shiplane-nope/pkg", "1.0.0", false),
    ] {
        assert_eq!(
            probe.exists(name, version),
            Ok(expected),
            "{name}@{version}"
        );
    }
    for absent in [
        "shiplane-probe-nope",
        "@shiplane-probe/nope",
        "@shiplane-nope/pkg",
    ] {
        assert_eq!(probe.versions(absent), Ok(None), "{absent}");
    }
    assert_eq!(probe.find(PLAIN, "9.9.9"), Ok(None));
}

// --- All three: probe_all, and the clients themselves -------------------------------------------

/// The answer `answers[i]` to `requests[i]`, or a panic that names the request.
fn answer_at<'a>(
    requests: &[ProbeRequest],
    answers: &'a [Result<ProbeAnswer, ProbeError>],
    i: usize,
) -> &'a ProbeAnswer {
    answers[i]
        .as_ref()
        .unwrap_or_else(|e| panic!("request {i} {:?} failed: {e}", requests[i]))
}

fn package_at<'a>(
    requests: &[ProbeRequest],
    answers: &'a [Result<ProbeAnswer, ProbeError>],
    i: usize,
) -> &'a PackageVersions {
    answer_at(requests, answers, i)
        .package
        .as_ref()
        .unwrap_or_else(|| panic!("request {i} {:?} found no package", requests[i]))
}

#[test]
fn probe_all_and_the_client_fallback_over_the_three_live_registries() {
    let reading = environment_unchanged();
    let regs = Registries::start(&[]);
    let work = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        let (regs, work) = (&regs, work.path());
        scope.spawn(move || {
            publish_crate(regs, work, CRATE, "0.1.0");
            publish_crate(regs, work, CRATE, "0.2.0-rc.1");
        });
        scope.spawn(move || {
            publish_python(regs, work, DIST, "1.0.0");
            publish_python(regs, work, DIST, "1.0.0rc1");
        });
        scope.spawn(move || {
            publish_npm(regs, work, SCOPED, "1.0.0", &[]);
            publish_npm(regs, work, SCOPED, "2.0.0-rc.1", &["--tag", "next"]);
            publish_npm(regs, work, PLAIN, "1.0.0", &[]);
        });
    });
    drop(reading);

    // The clients' own configuration. Prober runs them in its root, as children of this process:
    // cargo reads `root/.cargo/config.toml` (default registry) and `$CARGO_HOME/config.toml`
    // (where the registry is declared); npm reads the project's `root/.npmrc`; pip has no
    // per-directory configuration, so its index comes from `PIP_INDEX_URL`.
    let root = work.path().join("root");
    write(
        &root.join(".cargo/config.toml"),
        &format!("[registry]\ndefault = \"{}\"\n", regs.cargo_registry()),
    );
    write(
        &root.join(".npmrc"),
        &format!("registry={}\n", regs.get("SHIPLANE_REG_NPM_URL")),
    );
    write(
        &root.join("package.json"),
        "{\n  \"name\": \"probe-root\",\n  \"private\": true\n}\n",
    );
    let exclusive = environment_to_change();
    let _env = EnvChange::apply(
        &exclusive,
        &[
            ("CARGO_HOME", Some(regs.get("SHIPLANE_REG_CARGO_HOME"))),
            ("PIP_INDEX_URL", Some(regs.get("SHIPLANE_REG_PYPI_INDEX"))),
            ("PIP_EXTRA_INDEX_URL", None),
            ("PIP_CONFIG_FILE", None),
            ("CARGO_REGISTRY_DEFAULT", None),
            ("npm_config_registry", None),
            ("NPM_CONFIG_REGISTRY", None),
        ],
    );

    // Configured that way, Shiplane finds the registries without asking the clients to probe:
    // the same endpoints as `[registry.NAME]` tables holding the env lines' URLs.
    let (cargo, python, npm) = (
        cargo_endpoint(&regs),
        python_endpoint(&regs),
        npm_endpoint(&regs),
    );
    let bare = LoadedConfig::parse(
        "shiplane.toml".into(),
        "shiplane.toml".into(),
        String::new(),
    )
    .unwrap()
    .config;
    assert_eq!(
        endpoint_for(&root, &bare, None, Ecosystem::Cargo).unwrap(),
        cargo
    );
    assert_eq!(
        endpoint_for(&root, &bare, None, Ecosystem::Python).unwrap(),
        python
    );
    assert_eq!(
        endpoint_for_package(&root, &bare, None, Ecosystem::Npm, Some(SCOPED)).unwrap(),
        npm
    );
    let tables = LoadedConfig::parse(
        "shiplane.toml".into(),
        "shiplane.toml".into(),
        format!(
            "[registry.crates]\necosystem = \"cargo\"\nindex = \"{}\"\n\
             [registry.py]\necosystem = \"python\"\nindex = \"{}\"\n\
             [registry.js]\necosystem = \"npm\"\nindex = \"{}\"\n",
            regs.get("SHIPLANE_REG_CARGO_INDEX"),
            regs.get("SHIPLANE_REG_PYPI_INDEX"),
            regs.get("SHIPLANE_REG_NPM_URL"),
        ),
    )
    .unwrap()
    .config;
    let from_tables = [
        ("crates", Ecosystem::Cargo, &cargo),
        ("py", Ecosystem::Python, &python),
        ("js", Ecosystem::Npm, &npm),
    ];
    for (name, ecosystem, expected) in from_tables {
        assert_eq!(
            &endpoint_for(&root, &tables, Some(name), ecosystem).unwrap(),
            expected
        );
    }

    // One call: HTTP and client probes of all three, answered in request order.
    let (cargo_client, pip, npm_client) = (
        Endpoint::Client(Ecosystem::Cargo),
        Endpoint::Client(Ecosystem::Python),
        Endpoint::Client(Ecosystem::Npm),
    );
    let requests = vec![
        ProbeRequest::versions(cargo.clone(), CRATE), // 0
        ProbeRequest::exists(cargo.clone(), CRATE, "0.2.0-rc.1"),
        ProbeRequest::exists(cargo.clone(), CRATE, "0.3.0"),
        ProbeRequest::exists(cargo.clone(), "shiplane-probe-nope", "0.1.0"),
        ProbeRequest::versions(python.clone(), DIST), // 4
        ProbeRequest::exists(python.clone(), "shiplane.probe-demo", "1.0.0-rc.1"),
        ProbeRequest::exists(python.clone(), DIST, "1.0.1"),
        ProbeRequest::versions(python.clone(), "shiplane-probe-nope"),
        ProbeRequest::versions(npm.clone(), SCOPED), // 8
        ProbeRequest::exists(npm.clone(), PLAIN, "1.0.0"),
        ProbeRequest::exists(npm.clone(), SCOPED, "3.0.0"),
        ProbeRequest::versions(npm.clone(), "@shiplane-probe/nope"),
        ProbeRequest::versions(cargo_client.clone(), CRATE), // 12
        ProbeRequest::exists(cargo_client.clone(), CRATE, "0.1.0"),
        ProbeRequest::exists(cargo_client.clone(), CRATE, "0.2.0-rc.1"),
        ProbeRequest::exists(cargo_client.clone(), CRATE, "0.2.0"),
        ProbeRequest::exists(cargo_client.clone(), "shiplane-probe-nope", "0.1.0"),
        ProbeRequest::versions(pip.clone(), DIST), // 17
        ProbeRequest::exists(pip.clone(), "shiplane_probe_demo", "1.0.0-rc.1"),
        ProbeRequest::exists(pip.clone(), DIST, "1.0.1"),
        ProbeRequest::versions(pip.clone(), "shiplane-probe-nope"),
        ProbeRequest::versions(npm_client.clone(), SCOPED), // 21
        ProbeRequest::exists(npm_client.clone(), PLAIN, "1.0.0"),
        ProbeRequest::exists(npm_client.clone(), PLAIN, "9.9.9"),
        ProbeRequest::versions(npm_client.clone(), "@shiplane-probe/nope"),
    ];
    let prober = Prober::new(&root, settings());
    let answers = probe_all(&prober, &requests, 8);
    assert_eq!(answers.len(), requests.len());
    let answer = |i: usize| answer_at(&requests, &answers, i);
    let package = |i: usize| package_at(&requests, &answers, i);

    // In order: every answer is about its own request's package, from its own endpoint.
    for (i, request) in requests.iter().enumerate() {
        let got = answer(i);
        assert_eq!(got.exists.is_some(), request.version.is_some(), "{i}");
        if let Some(package) = &got.package {
            assert_eq!(package.ecosystem, request.endpoint.ecosystem(), "{i}");
            match request.endpoint.url() {
                Some(url) => assert!(package.source.starts_with(url), "{i}: {}", package.source),
                None => assert!(
                    package.source.contains(&request.name),
                    "{i}: {}",
                    package.source
                ),
            }
        }
    }

    // Over HTTP.
    assert_eq!(versions(package(0)), ["0.1.0", "0.2.0-rc.1"]);
    assert_eq!(answer(1).exists, Some(true));
    assert_eq!(answer(2).exists, Some(false));
    assert_eq!(
        (answer(3).package.as_ref(), answer(3).exists),
        (None, Some(false))
    );
    assert_eq!(versions(package(4)), ["1.0.0rc1", "1.0.0"]);
    assert_eq!(answer(5).exists, Some(true));
    assert_eq!(answer(6).exists, Some(false));
    assert_eq!(answer(7).package, None);
    assert_eq!(versions(package(8)), ["1.0.0", "2.0.0-rc.1"]);
    assert_eq!(package(8).dist_tags["next"], "2.0.0-rc.1");
    assert_eq!(answer(9).exists, Some(true));
    assert_eq!(answer(10).exists, Some(false));
    assert_eq!(answer(11).package, None);

    // `cargo info`: one version at a time, never the whole list.
    let info = package(12);
    assert!(!info.complete);
    assert_eq!(info.name, CRATE);
    assert_eq!(info.versions.len(), 1);
    assert!(package(0).contains(&info.versions[0].version), "{info:?}");
    let v010 = package(13);
    assert_eq!(answer(13).exists, Some(true));
    assert_eq!(versions(v010), ["0.1.0"]);
    let v010 = &v010.versions[0];
    assert_eq!(v010.license.as_deref(), Some("MIT"));
    assert_eq!(v010.description.as_deref(), Some("A live probe fixture"));
    assert_eq!(
        v010.repository.as_deref(),
        Some("https://example.invalid/shiplane-probe")
    );
    assert_eq!(answer(14).exists, Some(true));
    assert_eq!(versions(package(14)), ["0.2.0-rc.1"]);
    assert_eq!(
        (answer(15).package.as_ref(), answer(15).exists),
        (None, Some(false))
    );
    assert_eq!(
        (answer(16).package.as_ref(), answer(16).exists),
        (None, Some(false))
    );

    // `pip index versions --pre`: the same versions and files as the simple page.
    let listed = package(17);
    assert!(!listed.complete);
    assert_eq!(versions(listed), ["1.0.0rc1", "1.0.0"]);
    for version in ["1.0.0rc1", "1.0.0"] {
        let names = |p: &PackageVersions| {
            let mut names: Vec<(String, String)> = p
                .find(version)
                .unwrap()
                .files
                .iter()
                .map(|f| (f.filename.clone(), f.hashes["sha256"].clone()))
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(listed), names(package(4)), "{version}");
    }
    assert_eq!(answer(18).exists, Some(true));
    assert_eq!(answer(19).exists, Some(false));
    assert_eq!(answer(20).package, None);

    // `npm view`: the same versions and dist-tags as the packument.
    assert!(package(21).complete);
    assert_eq!(versions(package(21)), versions(package(8)));
    assert_eq!(package(21).dist_tags, package(8).dist_tags);
    assert_eq!(answer(22).exists, Some(true));
    assert_eq!(answer(23).exists, Some(false));
    assert_eq!(answer(24).package, None);
}
