//! The `workflows` group: `workflows --check` passes (no drift from what shiplane.toml generates,
//! ci.yml runs the whole lane, every workflow passes the hygiene rules); each problem is a failed
//! check with its `file:line`.
//!
//! A repository that uses neither (no workflow files and no `[ci]` settings in shiplane.toml)
//! has nothing to check: one passing line says so.

use super::Context;
use crate::commands::ci::RustStep;
use crate::commands::workflows::check_problems;
use crate::report::{Check, Problems};
use crate::workflows::{DIR, FIX};

pub(super) fn checks(cx: &Context<'_>, rust_steps: &[RustStep]) -> Vec<Check> {
    let ci = &cx.repo.config.config.ci;
    let configured = !ci.steps.is_empty() || !ci.actions.is_empty() || !rust_steps.is_empty();
    if !configured && !has_workflows(cx) {
        return vec![Check::pass(
            "workflows",
            "check",
            format!("no {DIR}/ and no [ci] in shiplane.toml: no generated workflows to check"),
        )];
    }
    match check_problems(cx.repo, rust_steps) {
        Ok(problems) if problems.is_empty() => vec![Check::pass(
            "workflows",
            "check",
            "the workflows match shiplane.toml and pass the hygiene rules",
        )],
        Ok(problems) => problems
            .into_iter()
            .map(|p| {
                Check::fail(
                    &p.location().unwrap_or_else(|| "workflows".into()),
                    "workflows",
                    p.message.clone(),
                    p.hint.clone().unwrap_or_else(|| FIX.to_string()),
                )
            })
            .collect(),
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<Problems>()) {
            Some(problems) => problems
                .problems
                .iter()
                .map(|p| {
                    Check::fail(
                        &p.location().unwrap_or_else(|| "shiplane.toml".into()),
                        "workflows",
                        p.message.clone(),
                        p.hint
                            .clone()
                            .unwrap_or_else(|| "fix [ci] in shiplane.toml".into()),
                    )
                })
                .collect(),
            None => vec![Check::fail(
                "workflows",
                "workflows",
                format!("{e:#}"),
                "fix the error, then `workflows --check`",
            )],
        },
    }
}

/// Whether `.github/workflows/` holds any file.
fn has_workflows(cx: &Context<'_>) -> bool {
    std::fs::read_dir(cx.repo.root.join(DIR))
        .map(|mut entries| entries.any(|e| e.is_ok()))
        .unwrap_or(false)
}
