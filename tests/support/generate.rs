//! Generated Cargo workspaces for tests and benchmarks.
//!
//! Self-contained (no `super::`): `benches/bump.rs` includes this file with `#[path]`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The name of crate `i`: `c0000`, `c0001`, ...
pub fn crate_name(i: usize) -> String {
    format!("c{i:04}")
}

/// The manifest of crate `i` of a generated workspace.
///
/// Odd crates inherit `version.workspace = true`, even ones carry their own `version`; every crate
/// `i > 0` depends on `c(i-1)` by path and version (an exact `=` requirement on every 5th), every
/// 7th has a dev-dependency on `c(i/2)` and every 11th also depends on `c0000` through
/// `[workspace.dependencies]`.
pub fn crate_manifest(i: usize, version: &str) -> String {
    let mut s = String::new();
    s.push_str("[package]\n");
    let _ = writeln!(s, "name = \"{}\"", crate_name(i));
    if i % 2 == 1 {
        s.push_str("version.workspace = true\n");
    } else {
        let _ = writeln!(s, "version = \"{version}\"");
    }
    s.push_str("edition = \"2021\"\npublish = false\n");
    if i > 0 {
        s.push_str("\n[dependencies]\n");
        let dep = crate_name(i - 1);
        let req = if i.is_multiple_of(5) {
            format!("={version}")
        } else {
            version.to_string()
        };
        let _ = writeln!(s, "{dep} = {{ path = \"../{dep}\", version = \"{req}\" }}");
        if i.is_multiple_of(11) {
            let _ = writeln!(s, "{}.workspace = true", crate_name(0));
        }
        if i.is_multiple_of(7) {
            let dev = crate_name(i / 2);
            s.push_str("\n[dev-dependencies]\n");
            let _ = writeln!(
                s,
                "{dev} = {{ path = \"../{dev}\", version = \"{version}\" }}"
            );
        }
    }
    s
}

/// The root manifest of a generated workspace.
pub fn root_manifest(version: &str) -> String {
    format!(
        "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n\
         [workspace.package]\nversion = \"{version}\"\n\n\
         [workspace.dependencies]\n{c0} = {{ path = \"crates/{c0}\", version = \"{version}\" }}\n",
        c0 = crate_name(0)
    )
}

/// The `shiplane.toml` of a generated workspace: one cargo product.
pub const SHIPLANE_TOML: &str = "[[product]]\nname = \"ws\"\necosystem = \"cargo\"\n\
manifest = \"Cargo.toml\"\ntag = \"v{version}\"\n";

/// The cargo binary: `$CARGO` (set by cargo for tests, benches and build scripts), else `cargo`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Write a virtual workspace of `crates` crates at `version` into `dir` (which must exist), with
/// its `shiplane.toml` and a `Cargo.lock` from `cargo generate-lockfile --offline`.
///
/// The files whose version moves in a bump: the root `Cargo.toml`, every `crates/cNNNN/Cargo.toml`
/// and `Cargo.lock` (`crates + 2` files).
pub fn cargo_workspace(dir: &Path, crates: usize, version: &str) -> Result<()> {
    if crates == 0 {
        bail!("a generated workspace needs at least one crate");
    }
    fs::write(dir.join("Cargo.toml"), root_manifest(version))?;
    fs::write(dir.join("shiplane.toml"), SHIPLANE_TOML)?;
    for i in 0..crates {
        let crate_dir = dir.join("crates").join(crate_name(i));
        fs::create_dir_all(crate_dir.join("src"))
            .with_context(|| format!("creating {}", crate_dir.display()))?;
        fs::write(crate_dir.join("Cargo.toml"), crate_manifest(i, version))?;
        let body = if i == 0 {
            "pub fn value() -> u32 {\n    0\n}\n".to_string()
        } else {
            format!(
                "pub fn value() -> u32 {{\n    {}::value() + 1\n}}\n",
                crate_name(i - 1)
            )
        };
        fs::write(crate_dir.join("src/lib.rs"), body)?;
    }
    let output = Command::new(cargo())
        .args(["generate-lockfile", "--offline"])
        .current_dir(dir)
        .output()
        .context("running cargo generate-lockfile")?;
    if !output.status.success() {
        bail!(
            "cargo generate-lockfile --offline failed in {}:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Every file of a generated workspace whose contents a bump changes, relative to its root:
/// `Cargo.toml`, `Cargo.lock`, then each crate's manifest.
pub fn bumped_files(crates: usize) -> Vec<String> {
    let mut files = vec!["Cargo.toml".to_string(), "Cargo.lock".to_string()];
    files.extend((0..crates).map(|i| format!("crates/{}/Cargo.toml", crate_name(i))));
    files
}
