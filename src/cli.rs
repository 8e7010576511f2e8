//! Command-line definitions (clap derive) and dispatch: a table of contents, nothing more.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::exec::Mode;
use crate::repo::Repo;
use crate::report::{exit, exit_code_of, Format, Output, Problems};
use crate::version::BumpTarget;

/// Release engineering for many-product repositories: lockstep bumps, one CI lane, preflight,
/// publish and install verification. Exit codes: 0 success, 1 a check or step failed, 2 usage or
/// configuration error.
#[derive(Debug, Parser)]
#[command(name = "shiplane", version, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in DIR (the repository holding shiplane.toml, or a directory inside it).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// More detail (repeatable).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find the repository's products and version locations and write a commented shiplane.toml.
    Init(InitArgs),
    /// Move every version location of every product to one new version, all or nothing.
    Bump(BumpArgs),
    /// List every version location with its current value, and whether they agree.
    Versions,
    /// Install what was published, from its registry, into fresh environments, and check it works.
    VerifyInstall(VerifyInstallArgs),
    /// Check every release precondition at once; each failure comes with its fix.
    Preflight(PreflightArgs),
    /// Publish the release: tags, then every product in order; only what is missing. Plan only
    /// without --execute.
    Publish(PublishArgs),
    /// Run the contributor lane from shiplane.toml `[ci]`: the same steps locally and in CI.
    Ci(CiArgs),
    /// Generate the GitHub workflows from the lane (`--write`), or check them for drift and hygiene (`--check`).
    Workflows(WorkflowsArgs),
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// The version to release (default: the version in the manifests).
    #[arg(value_name = "VERSION")]
    pub version: Option<String>,
    /// Do not `git fetch` before comparing with the remote branch (compare with what is known).
    #[arg(long)]
    pub no_fetch: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Create and push the tags and publish; without it, print the plan and exit.
    #[arg(long)]
    pub execute: bool,
    /// Only this product (repeatable; default: every product). The umbrella tag and release are
    /// made only when every product is selected.
    #[arg(long = "product", value_name = "NAME")]
    pub products: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// Run only this step (repeatable).
    #[arg(long = "step", value_name = "NAME")]
    pub steps: Vec<String>,
    /// List the steps (argv, env, timeout, and what differs under CI) without running them.
    #[arg(long)]
    pub list: bool,
    /// Run every step even after a failure, then summarise every failure with its hint.
    #[arg(long)]
    pub keep_going: bool,
    /// Internal: run the xtask's Rust step NAME in this process (how `ci` starts a Rust step).
    #[arg(long, value_name = "NAME", hide = true)]
    pub rust_step: Option<String>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct WorkflowsArgs {
    /// Write the generated workflows into .github/workflows/.
    #[arg(long)]
    pub write: bool,
    /// Fail with the exact diff if a generated workflow drifted, and audit every workflow's hygiene.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct VerifyInstallArgs {
    /// The version to verify (default: the version in the manifests).
    #[arg(value_name = "VERSION")]
    pub version: Option<String>,
    /// Only this product (repeatable; default: every product published to a registry).
    #[arg(long = "product", value_name = "NAME")]
    pub products: Vec<String>,
    /// How long to wait for the registry to show the version, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait: u64,
    /// Keep the temporary environments and print where they are.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing shiplane.toml.
    #[arg(long)]
    pub force: bool,
    /// Print the config that would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BumpArgs {
    /// An exact version (1.4.0, 1.4.0-rc.1) or one of major, minor, patch, pre.
    #[arg(value_name = "VERSION|major|minor|patch|pre")]
    pub target: String,
    /// Prerelease identifier for major/minor/patch/pre (e.g. rc, beta, alpha).
    #[arg(long, value_name = "ID")]
    pub pre_id: Option<String>,
    /// Show the unified diff of every change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Proceed even when the version locations disagree: all move to the new version.
    #[arg(long)]
    pub force: bool,
    /// Allow a lower version, or the same version with different build metadata.
    #[arg(long)]
    pub allow_downgrade: bool,
}

/// Entry point of both `shiplane` and `cargo xtask`.
pub fn main() -> ExitCode {
    ExitCode::from(run_args(std::env::args_os().skip(1)))
}

fn report_error(error: &anyhow::Error, code: u8, out: &Output) {
    if error
        .chain()
        .any(|c| c.downcast_ref::<crate::report::Reported>().is_some())
    {
        return;
    }
    let problems = error.chain().find_map(|c| c.downcast_ref::<Problems>());
    if out.json() {
        let value = match problems {
            Some(p) => {
                serde_json::json!({ "status": "error", "exit_code": code, "problems": p.problems })
            }
            None => {
                serde_json::json!({ "status": "error", "exit_code": code, "problems": [{ "message": format!("{error:#}") }] })
            }
        };
        crate::report::stdout_line(&serde_json::to_string_pretty(&value).unwrap_or_default());
        return;
    }
    match problems {
        Some(p) => {
            for problem in &p.problems {
                eprintln!("{}", out_error(problem.to_string(), out));
            }
            if p.len() > 1 {
                eprintln!("{} problems", p.len());
            }
        }
        None => eprintln!("{}", out_error(format!("error: {error:#}"), out)),
    }
}

fn out_error(text: String, out: &Output) -> String {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) && out.color {
        text.replacen("error:", &out.paint("error:", "31;1"), 1)
    } else {
        text
    }
}

/// What a repository's own xtask adds to Shiplane: see [`run_args_with`].
#[derive(Debug, Default)]
pub struct Extensions {
    /// Lane steps written in Rust, run by `ci` after the steps of shiplane.toml, in this order.
    pub ci_steps: Vec<commands::ci::RustStep>,
}

/// Dispatch a parsed command line.
pub fn run(cli: Cli, out: &Output) -> Result<()> {
    run_with(cli, &Extensions::default(), out)
}

/// [`run`], with an xtask's [`Extensions`].
pub fn run_with(cli: Cli, extensions: &Extensions, out: &Output) -> Result<()> {
    let start = match &cli.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("reading the current directory")?,
    };
    if !start.is_dir() {
        return Err(
            crate::report::UsageError(format!("-C {}: not a directory", start.display())).into(),
        );
    }
    match cli.command {
        Command::Init(args) => commands::init::run(&start, &args, out),
        Command::Bump(args) => {
            let root = find_root(&start)?;
            recover(&root, out)?;
            let repo = Repo::load(&root)?;
            let date = crate::edit::changelog::release_date().map_err(crate::report::UsageError)?;
            let request = commands::bump::BumpRequest {
                target: BumpTarget::parse(&args.target)?,
                pre_id: args.pre_id.clone(),
                force: args.force,
                allow_downgrade: args.allow_downgrade,
                date,
            };
            let mode = if args.dry_run {
                Mode::DryRun
            } else {
                Mode::Execute
            };
            commands::bump::run(&repo, &request, mode, out)
        }
        Command::VerifyInstall(args) => {
            let root = find_root(&start)?;
            recover(&root, out)?;
            let repo = Repo::load(&root)?;
            let request = commands::verify_install::VerifyRequest {
                version: args.version.clone(),
                products: args.products.clone(),
                wait: std::time::Duration::from_secs(args.wait),
                keep: args.keep,
            };
            commands::verify_install::run(&repo, &request, out)
        }
        Command::Preflight(args) => {
            let root = find_root(&start)?;
            recover(&root, out)?;
            let repo = Repo::load(&root)?;
            commands::preflight::run_with(&repo, &args, &extensions.ci_steps, out)
        }
        Command::Publish(args) => {
            let root = find_root(&start)?;
            recover(&root, out)?;
            let repo = Repo::load(&root)?;
            let request = commands::publish::PublishRequest {
                execute: args.execute,
                products: args.products.clone(),
            };
            commands::publish::run(&repo, &request, out)
        }
        Command::Ci(args) => {
            let root = find_root(&start)?;
            recover(&root, out)?;
            let repo = Repo::load(&root)?;
            commands::ci::run(&repo, &args, &extensions.ci_steps, out)
        }
        Command::Workflows(args) => {
            let root = find_root(&start)?;
            recover(&root, out)?;
            let repo = Repo::load(&root)?;
            commands::workflows::run_with(&repo, &args, &extensions.ci_steps, out)
        }
        Command::Versions => {
            let root = find_root(&start)?;
            recover(&root, out)?;
            let repo = Repo::load(&root)?;
            commands::versions::run(&repo, out)
        }
    }
}

/// The directory holding shiplane.toml: `start` or its nearest ancestor that has one.
pub fn find_root(start: &Path) -> Result<PathBuf> {
    let start = start
        .canonicalize()
        .with_context(|| format!("resolving {}", start.display()))?;
    for dir in start.ancestors() {
        if dir.join(crate::config::FILE_NAME).is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    Err(Problems::one(
        crate::report::Problem::new(format!(
            "no shiplane.toml in {} or any parent directory",
            start.display()
        ))
        .hint("run `shiplane init` in the repository root, or pass -C with the repository"),
    )
    .into())
}

/// Finish or roll back a write an earlier, interrupted run left behind.
fn recover(root: &Path, out: &Output) -> Result<()> {
    if let Some(recovery) = crate::txn::recover(root)? {
        out.warn(recovery.to_string());
    }
    Ok(())
}

/// Parse `args` (without the program name) as a shiplane command line and run it, as `main` would,
/// returning the exit code. For xtasks that drive Shiplane from Rust.
pub fn run_args<I, S>(args: I) -> u8
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    run_args_with(args, &Extensions::default())
}

/// [`run_args`] for an xtask that adds to Shiplane, e.g. lane steps written in Rust:
///
/// ```no_run
/// use shiplane::cli::{run_args_with, Extensions};
/// use shiplane::commands::ci::RustStep;
///
/// let extensions = Extensions {
///     ci_steps: vec![RustStep::new("rehearse", |root| {
///         println!("rehearsing in {}", root.display());
///         Ok(())
///     })
///     .hint("run `cargo xtask rehearse` and read its output")],
/// };
/// std::process::exit(i32::from(run_args_with(std::env::args_os().skip(1), &extensions)));
/// ```
///
/// `cargo xtask ci` then runs `rehearse` after the steps of shiplane.toml, and
/// `cargo xtask ci --step rehearse` runs it alone. The executable must be the one that calls
/// `run_args_with` with these extensions: `ci` starts it again to run a Rust step.
pub fn run_args_with<I, S>(args: I, extensions: &Extensions) -> u8
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("shiplane"))
        .chain(args.into_iter().map(Into::into));
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
        }
    };
    let verbosity = if cli.quiet {
        -1
    } else {
        cli.verbose.min(3) as i8
    };
    let out = Output::new(cli.format, verbosity);
    match run_with(cli, extensions, &out) {
        Ok(()) => exit::SUCCESS,
        Err(error) => {
            let code = exit_code_of(&error);
            report_error(&error, code, &out);
            code
        }
    }
}
