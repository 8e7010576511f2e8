//! The one place a [`Plan`]'s side effects happen, and where `--dry-run` is honoured.

use std::path::Path;

use anyhow::Result;

use crate::plan::{Plan, Step};
use crate::report::Output;
use crate::txn::{self, FileWrite};

/// Whether a run acts or only shows what it would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    DryRun,
    Execute,
}

/// Carry out `plan` in the repository at `root` (or, in dry-run mode, print its diff).
pub fn run(root: &Path, plan: &Plan, mode: Mode, out: &Output) -> Result<()> {
    for step in &plan.steps {
        match step {
            Step::EditFiles { purpose, files } => {
                if mode == Mode::DryRun {
                    if !out.json() && out.verbosity >= 0 {
                        crate::report::stdout(&colour_diff(&plan_diff(files), out));
                    }
                    continue;
                }
                let writes: Vec<FileWrite> = files
                    .iter()
                    .map(|f| FileWrite {
                        rel: f.path.clone(),
                        contents: f.after.clone().into_bytes(),
                    })
                    .collect();
                txn::commit(root, purpose, &writes)?;
            }
        }
    }
    Ok(())
}

fn plan_diff(files: &[crate::plan::FileEdit]) -> String {
    files.iter().map(|f| f.diff()).collect()
}

fn colour_diff(diff: &str, out: &Output) -> String {
    if !out.color {
        return diff.to_string();
    }
    diff.split_inclusive('\n')
        .map(|line| {
            let code = if line.starts_with("+++") || line.starts_with("---") {
                "1"
            } else if line.starts_with('+') {
                "32"
            } else if line.starts_with('-') {
                "31"
            } else if line.starts_with("@@") {
                "36"
            } else {
                return line.to_string();
            };
            let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
            format!("{}{nl}", out.paint(body, code))
        })
        .collect()
}
