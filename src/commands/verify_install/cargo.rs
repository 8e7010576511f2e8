//! Cargo: with a fresh `CARGO_HOME` and target dir, a throwaway project depending on
//! `NAME = "=VERSION"` builds (and runs the smoke code); a binary crate installs with
//! `cargo install --version` and prints VERSION for `--version`. The crate as the registry served
//! it (extracted by cargo into the fresh CARGO_HOME) gives the metadata checks.

use std::fs;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item};
use xshell::{cmd, Shell};

use super::{install_step, tail, Target};
use crate::report::{Check, Checklist};

/// What the local manifest says a package builds: a library, binaries.
pub(super) struct Targets {
    pub lib: bool,
    pub bins: Vec<String>,
}

pub(super) fn local_targets(manifest: &Path) -> Targets {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let doc: Option<DocumentMut> = fs::read_to_string(manifest)
        .ok()
        .and_then(|t| t.parse().ok());
    let name = doc
        .as_ref()
        .and_then(|d| d.get("package")?.get("name")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut bins: Vec<String> = doc
        .as_ref()
        .and_then(|d| {
            d.get("bin")?.as_array_of_tables().map(|a| {
                a.iter()
                    .filter_map(|t| t.get("name")?.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default();
    if bins.is_empty() && dir.join("src/main.rs").is_file() {
        bins.push(name);
    }
    let lib =
        doc.as_ref().is_some_and(|d| d.get("lib").is_some()) || dir.join("src/lib.rs").is_file();
    Targets { lib, bins }
}

/// A fresh CARGO_HOME: the user's cargo configuration (mirrors, source replacement) plus the
/// registry the product is published to, and nothing cached.
pub(super) fn fresh_cargo_home(
    work: &Path,
    registry: Option<(&str, &str)>,
) -> anyhow::Result<PathBuf> {
    let home = work.join("cargo-home");
    fs::create_dir_all(&home)?;
    let user_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut config: DocumentMut = user_home
        .map(|h| h.join("config.toml"))
        .and_then(|p| fs::read_to_string(p).ok())
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    if let Some((name, index)) = registry {
        let index = if index.starts_with("sparse+") {
            index.to_string()
        } else {
            format!("sparse+{index}")
        };
        let registries = config.entry("registries").or_insert(toml_edit::table());
        if let Some(t) = registries.as_table_mut() {
            t.set_implicit(true);
            let mut entry = toml_edit::Table::new();
            entry.insert("index", toml_edit::value(index));
            t.insert(name, Item::Table(entry));
        }
    }
    fs::write(home.join("config.toml"), config.to_string())?;
    Ok(home)
}

/// Build a throwaway project depending on exactly this version; with smoke code, run it.
pub(super) fn build_check(
    sh: &Shell,
    work: &Path,
    cargo_home: &Path,
    target: &Target<'_>,
    registry_name: Option<&str>,
    smoke: Option<&str>,
    list: &mut Checklist,
) {
    let subject = target.subject();
    let project = work.join(format!("use-{}", target.name));
    let crate_ident = target.name.replace('-', "_");
    let registry_key = registry_name
        .map(|r| format!(", registry = \"{r}\""))
        .unwrap_or_default();
    let manifest = format!(
        "[package]\nname = \"shiplane-verify-{}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{} = {{ version = \"={}\"{registry_key} }}\n\n[workspace]\n",
        target.name, target.name, target.registry_version
    );
    let main = smoke
        .map(str::to_string)
        .unwrap_or_else(|| format!("use {crate_ident} as _;\n\nfn main() {{}}\n"));
    if let Err(e) = fs::create_dir_all(project.join("src"))
        .and_then(|()| fs::write(project.join("Cargo.toml"), manifest))
        .and_then(|()| fs::write(project.join("src/main.rs"), main))
    {
        list.push(Check::fail(
            &subject,
            "build",
            format!("cannot write the throwaway project: {e}"),
            "check the temp directory",
        ));
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let verb = if smoke.is_some() { "run" } else { "build" };
    let run = cmd!(
        sh,
        "{cargo} {verb} --quiet --manifest-path {project}/Cargo.toml"
    )
    .env("CARGO_HOME", cargo_home)
    .env("CARGO_TARGET_DIR", work.join("target"))
    .env_remove("RUSTFLAGS")
    .quiet()
    .ignore_status()
    .output();
    let check = if smoke.is_some() { "smoke" } else { "build" };
    match run {
        Ok(o) if o.status.success() => list.push(Check::pass(
            &subject,
            check,
            if smoke.is_some() {
                format!("the smoke code compiled and ran against {}", target.name)
            } else {
                format!(
                    "a project depending on {} = \"={}\" builds",
                    target.name, target.registry_version
                )
            },
        )),
        Ok(o) => list.push(Check::fail(
            &subject,
            check,
            format!("cargo {verb} failed: {}", tail(&o.stderr)),
            if smoke.is_some() {
                "fix the crate or [product.verify] smoke"
            } else {
                "check the crate's dependencies and features build from the registry"
            },
        )),
        Err(e) => list.push(Check::fail(
            &subject,
            check,
            format!("cannot run cargo: {e}"),
            "check the Rust toolchain",
        )),
    }
}

/// `cargo install NAME --version =VERSION` into a temp root, then each binary's `--version`.
pub(super) fn install_check(
    sh: &Shell,
    work: &Path,
    cargo_home: &Path,
    target: &Target<'_>,
    registry_name: Option<&str>,
    bins: &[String],
    list: &mut Checklist,
) {
    let subject = target.subject();
    let root = work.join("install-root");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let registry_args: Vec<String> = registry_name
        .map(|r| vec!["--registry".to_string(), r.to_string()])
        .unwrap_or_default();
    let name = target.name;
    let version = format!("={}", target.registry_version);
    let run = cmd!(
        sh,
        "{cargo} install --quiet {name} --version {version} {registry_args...} --root {root}"
    )
    .env("CARGO_HOME", cargo_home)
    .env("CARGO_TARGET_DIR", work.join("target"))
    .quiet()
    .ignore_status()
    .output();
    if !install_step(
        list,
        &subject,
        run,
        format!("cargo install {name} --version {version} works"),
        "check the binary builds from the published crate",
        "check the Rust toolchain",
    ) {
        return;
    }
    for bin in bins {
        let exe = root.join("bin").join(bin);
        let out = cmd!(sh, "{exe} --version").quiet().ignore_status().output();
        // The version as a word of the output (`tool 1.2.0`, `tool v1.2.0`): 1.2.0 is not 11.2.0.
        let prints_version = |stdout: &[u8]| {
            String::from_utf8_lossy(stdout)
                .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
                .any(|word| word.strip_prefix('v').unwrap_or(word) == target.registry_version)
        };
        match out {
            Ok(o) if o.status.success() && prints_version(&o.stdout) => list.push(Check::pass(
                &subject,
                "--version",
                format!("{bin} --version prints {}", target.registry_version),
            )),
            Ok(o) if !o.status.success() => list.push(Check::fail(
                &subject,
                "--version",
                format!(
                    "{bin} --version exited {}: {}",
                    o.status
                        .code()
                        .map_or("by a signal".into(), |c| c.to_string()),
                    tail(&[o.stderr, o.stdout].concat())
                ),
                "make --version print the version and exit 0",
            )),
            Ok(o) => list.push(Check::fail(
                &subject,
                "--version",
                format!(
                    "{bin} --version printed {:?}, not {}",
                    String::from_utf8_lossy(&o.stdout).trim(),
                    target.registry_version
                ),
                "print env!(\"CARGO_PKG_VERSION\") for --version",
            )),
            Err(e) => list.push(Check::fail(
                &subject,
                "--version",
                format!("cannot run {bin}: {e}"),
                "check the installed binary",
            )),
        }
    }
}

/// Metadata from the crate as the registry served it: cargo extracted it into the fresh
/// CARGO_HOME (`registry/src/<index>/NAME-VERSION/`).
pub(super) fn metadata_checks(cargo_home: &Path, target: &Target<'_>, list: &mut Checklist) {
    let subject = target.subject();
    let dir_name = format!("{}-{}", target.name, target.registry_version);
    let extracted = fs::read_dir(cargo_home.join("registry").join("src"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|index| index.path().join(&dir_name))
        .find(|p| p.join("Cargo.toml").is_file());
    let Some(dir) = extracted else {
        list.push(Check::fail(
            &subject,
            "metadata",
            "the downloaded crate was not found in the fresh CARGO_HOME",
            "see the install/build check above",
        ));
        return;
    };
    let doc: Option<DocumentMut> = fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|t| t.parse().ok());
    let package = doc
        .as_ref()
        .and_then(|d| d.get("package"))
        .and_then(Item::as_table_like);
    let get = |key: &str| {
        package
            .and_then(|p| p.get(key))
            .and_then(Item::as_str)
            .map(str::to_string)
    };
    match (get("license"), get("license-file")) {
        (Some(l), _) => list.push(Check::pass(&subject, "license", l)),
        (None, Some(f)) => list.push(Check::pass(
            &subject,
            "license",
            format!("license-file {f}"),
        )),
        (None, None) => list.push(Check::fail(
            &subject,
            "license",
            "the published manifest has no license or license-file",
            "set package.license (an SPDX expression) and publish a new version",
        )),
    }
    match get("description") {
        Some(d) => list.push(Check::pass(&subject, "description", d)),
        None => list.push(Check::fail(
            &subject,
            "description",
            "no description",
            "set package.description",
        )),
    }
    match get("repository").or_else(|| get("homepage")) {
        Some(r) => list.push(Check::pass(&subject, "repository", r)),
        None => list.push(Check::fail(
            &subject,
            "repository",
            "no repository or homepage",
            "set package.repository",
        )),
    }
    match get("readme") {
        Some(r) if dir.join(&r).is_file() => list.push(Check::pass(
            &subject,
            "readme",
            format!("{r} is in the crate"),
        )),
        Some(r) => list.push(Check::fail(
            &subject,
            "readme",
            format!("readme `{r}` is not in the published crate"),
            "include the README in the package (check `include`/`exclude`)",
        )),
        None => list.push(Check::fail(
            &subject,
            "readme",
            "no readme",
            "add a README.md next to Cargo.toml or set package.readme",
        )),
    }
}
