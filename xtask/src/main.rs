//! `cargo xtask <command>`: Shiplane's CLI on this repository (Shiplane releases itself), plus this
//! repository's own tasks:
//!
//! - `cargo xtask rehearse [--keep]`: a release rehearsal on the shipped example
//!   (`examples/polyglot`): copied into a temporary git repository with a bare `origin`, then
//!   `versions`, `bump minor --dry-run`, `bump minor`, and the same bump again (a no-op).
//!
//! The rehearsal is also the last step of this repository's lane (`cargo xtask ci`, after the
//! steps of shiplane.toml `[ci]`): a lane step written in Rust, given to Shiplane through
//! [`shiplane::cli::Extensions`]. `cargo xtask ci --step rehearse` runs it alone.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use shiplane::cli::{run_args_with, Extensions};
use shiplane::commands::ci::RustStep;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "rehearse") {
        let keep = args[1..].iter().any(|a| a == "--keep");
        return match rehearse(&repo_root(), keep) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rehearse: {e}");
                ExitCode::from(1)
            }
        };
    }
    ExitCode::from(run_args_with(args, &extensions()))
}

/// What this repository adds to Shiplane: the rehearsal as a lane step.
fn extensions() -> Extensions {
    Extensions {
        ci_steps: vec![RustStep::new("rehearse", |root: &Path| {
            rehearse(root, false).map_err(anyhow::Error::msg)
        })
        .hint("run `cargo xtask rehearse --keep` and inspect target/rehearsal/polyglot")
        .timeout(Duration::from_secs(15 * 60))],
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Shiplane Rehearsal",
            "-c",
            "user.email=rehearsal@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("git {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if name == "target" || name == "node_modules" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
    }
    Ok(())
}

/// Run one shiplane command in the rehearsal repository, echoing it first.
fn step(work: &Path, args: &[&str], expect: u8) -> Result<(), String> {
    println!("\n$ shiplane {}", args.join(" "));
    let mut full = vec!["-C".to_string(), work.display().to_string()];
    full.extend(args.iter().map(|a| a.to_string()));
    let code = shiplane::cli::run_args(full);
    if code == expect {
        Ok(())
    } else {
        Err(format!(
            "`shiplane {}` exited {code}, expected {expect}",
            args.join(" ")
        ))
    }
}

fn rehearse(root: &Path, keep: bool) -> Result<(), String> {
    let base = root.join("target").join("rehearsal");
    let _ = std::fs::remove_dir_all(&base);
    let work = base.join("polyglot");
    copy_tree(&root.join("examples").join("polyglot"), &work)?;
    git(&base, &["init", "-q", "--bare", "origin.git"])?;
    git(&work, &["init", "-q", "-b", "main"])?;
    git(&work, &["add", "-A"])?;
    git(&work, &["commit", "-qm", "polyglot example"])?;
    git(&work, &["remote", "add", "origin", "../origin.git"])?;
    git(&work, &["push", "-q", "origin", "main"])?;
    println!(
        "rehearsal repository: {} (origin: {})",
        work.display(),
        base.join("origin.git").display()
    );

    step(&work, &["versions"], 0)?;
    step(&work, &["bump", "minor", "--dry-run"], 0)?;
    step(&work, &["bump", "minor"], 0)?;
    println!("\n$ git diff --stat");
    print!("{}", git(&work, &["diff", "--stat"])?);
    println!("\n$ cargo check --workspace --offline --locked");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let check = Command::new(cargo)
        .args(["check", "--workspace", "--offline", "--locked", "--quiet"])
        .env("CARGO_TARGET_DIR", base.join("target"))
        .current_dir(&work)
        .status()
        .map_err(|e| format!("cargo check: {e}"))?;
    if !check.success() {
        return Err("the bumped example does not build with its Cargo.lock".into());
    }
    git(&work, &["commit", "-qam", "release: v1.3.0"])?;
    git(&work, &["push", "-q", "origin", "main"])?;
    step(&work, &["bump", "1.3.0"], 0)?;
    step(&work, &["bump", "1.2.9"], 1)?;
    let status = git(&work, &["status", "--porcelain"])?;
    if !status.is_empty() {
        return Err(format!(
            "the no-op bump and the refused downgrade changed files:\n{status}"
        ));
    }
    println!("\nrehearsal passed: bumped 1.2.3 → 1.3.0 across every product, re-run was a no-op, downgrade refused");
    if !keep {
        std::fs::remove_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    }
    Ok(())
}
