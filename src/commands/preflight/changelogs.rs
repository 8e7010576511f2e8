//! The `changelog` group: `[release] changelog` and every product changelog has a section for
//! VERSION, or a non-empty Unreleased section that `bump` turns into it.

use super::{command_name, Context};
use crate::config::Ecosystem;
use crate::edit::changelog;
use crate::report::Check;
use crate::version;

pub(super) fn checks(cx: &Context<'_>) -> Vec<Check> {
    // (file, the spellings its heading may use)
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    let semver = cx.version.to_string();
    if let Some(path) = &cx.repo.config.config.release.changelog {
        files.push((path.get_ref().clone(), vec![semver.clone()]));
    }
    for product in &cx.repo.products {
        let Some(path) = &product.changelog else {
            continue;
        };
        let mut spellings = vec![semver.clone()];
        if product.ecosystem == Ecosystem::Python {
            spellings.extend(version::to_pep440(cx.version).ok().filter(|p| *p != semver));
        }
        match files.iter_mut().find(|(f, _)| f == path) {
            Some((_, known)) => {
                for s in spellings {
                    if !known.contains(&s) {
                        known.push(s);
                    }
                }
            }
            None => files.push((path.clone(), spellings)),
        }
    }
    files
        .iter()
        .map(|(path, spellings)| check_file(cx, path, spellings))
        .collect()
}

fn check_file(cx: &Context<'_>, path: &str, spellings: &[String]) -> Check {
    let version = cx.version;
    let text = match std::fs::read_to_string(cx.repo.root.join(path)) {
        Ok(text) => text,
        Err(e) => {
            return Check::fail(
                path,
                "changelog",
                format!("cannot read it: {e}"),
                "fix the path in shiplane.toml, or restore the file",
            )
        }
    };
    if let Some((line, spelled)) = spellings
        .iter()
        .find_map(|s| changelog::section(&text, s).map(|(line, _)| (line, s)))
    {
        return Check::pass(
            path,
            "changelog",
            format!("has a section for {spelled} (line {line})"),
        );
    }
    let (detail, fix_start) = match changelog::unreleased(&text) {
        Some((line, body)) if !body.trim().is_empty() => {
            return Check::pass(
                path,
                "changelog",
                format!(
                    "no {version} section yet: `bump` turns the Unreleased section (line {line}) into it"
                ),
            )
        }
        Some((line, _)) => (
            format!("no section for {version}, and the Unreleased section (line {line}) is empty"),
            "write the release notes under `## [Unreleased]`",
        ),
        None => (
            format!("no section for {version}, and no `## [Unreleased]` section"),
            "add `## [Unreleased]` with the release notes",
        ),
    };
    Check::fail(
        path,
        "changelog",
        detail,
        format!(
            "{fix_start}, then `{} bump {version}` makes it the {version} section (or add `## [{version}] - YYYY-MM-DD` by hand)",
            command_name()
        ),
    )
}
