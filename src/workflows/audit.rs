//! The hygiene rules every workflow in `.github/workflows/` must pass, generated or hand-written.
//! Each finding names `file:line` and the fix:
//!
//! - **unpinned action**: `uses: owner/repo@v4` or `@main` (a tag or branch can be moved to other
//!   code); a pin that differs from `[ci.actions]` (the one place pins live). Local actions
//!   (`./...`) and `docker://` images pinned by `@sha256:` digest are fine.
//! - **no top-level `permissions`**: every job would get the repository's default token
//!   permissions, possibly write-all.
//! - **`pull_request_target` + a checkout of the PR head**: the pull request's code would run with
//!   the base repository's secrets and a write token.
//! - **script injection**: `${{ github.event.* }}`, `${{ github.head_ref }}` or `${{ inputs.* }}`
//!   expanded into a `run:` script (or `actions/github-script`'s `script:`), where text from the
//!   event (an issue title, a branch name) becomes commands.

use std::collections::BTreeMap;

use crate::report::Problem;

use super::scan::{is_item, scan, Entry};

/// Audit one workflow file's text. `rel` is its path relative to the repository root; `pins` the
/// `[ci.actions]` table (`owner/repo` → (sha, tag)).
pub fn audit(rel: &str, text: &str, pins: &BTreeMap<String, (String, String)>) -> Vec<Problem> {
    let entries = scan(text);
    let mut problems = Vec::new();
    permissions(rel, &entries, &mut problems);
    for entry in &entries {
        if entry.key() == "uses" && entry.path.first().is_some_and(|p| p == "jobs") {
            unpinned(rel, entry, pins, &mut problems);
        }
        if is_script(entry) {
            injection(rel, entry, &mut problems);
        }
    }
    if has_trigger(&entries, "pull_request_target") {
        pr_head_checkout(rel, &entries, &mut problems);
    }
    problems.sort_by_key(|p| p.line);
    problems
}

fn permissions(rel: &str, entries: &[Entry], problems: &mut Vec<Problem>) {
    let top = entries
        .iter()
        .find(|e| e.path.len() == 1 && e.key() == "permissions");
    match top {
        None => {
            let line = entries
                .iter()
                .find(|e| e.path.len() == 1 && e.key() == "jobs")
                .map_or(1, |e| e.line);
            problems.push(
                Problem::at(rel, line, "no top-level `permissions`: every job gets the repository's default token permissions, which may be write-all")
                    .hint("add `permissions:` with `contents: read` (or `permissions: {}`) at the top level, before `jobs:`, and grant more only in the jobs that need it"),
            );
        }
        Some(p) if p.value == "write-all" => problems.push(
            Problem::at(rel, p.line, "top-level `permissions: write-all` gives every job a token that can write everything")
                .hint("use `permissions:` with `contents: read` at the top level and grant more only in the jobs that need it"),
        ),
        Some(_) => {}
    }
}

fn unpinned(
    rel: &str,
    entry: &Entry,
    pins: &BTreeMap<String, (String, String)>,
    problems: &mut Vec<Problem>,
) {
    let uses = entry.value.as_str();
    if uses.is_empty() || uses.starts_with("./") {
        return;
    }
    if let Some(image) = uses.strip_prefix("docker://") {
        let pinned = image
            .split_once("@sha256:")
            .is_some_and(|(_, digest)| digest.len() == 64 && is_hex(digest));
        if !pinned {
            problems.push(
                Problem::at(rel, entry.line, format!("`uses: {uses}` is not pinned to an image digest: the tag can be pushed again with other contents"))
                    .hint(format!("pin the digest the tag points at: `uses: docker://{}@sha256:<digest>`", image.split(['@', ':']).next().unwrap_or(image))),
            );
        }
        return;
    }
    let (action, reference) = match uses.rsplit_once('@') {
        Some((a, r)) => (a, r),
        None => (uses, ""),
    };
    let repo = action.split('/').take(2).collect::<Vec<_>>().join("/");
    let pin = pins.get(&repo);
    if reference.len() == 40 && is_hex(reference) {
        if let Some((sha, tag)) = pin {
            if !sha.eq_ignore_ascii_case(reference) {
                problems.push(
                    Problem::at(rel, entry.line, format!("`{action}` is pinned to {reference}, but [ci.actions] in shiplane.toml pins {repo} to {sha} ({tag})"))
                        .hint(format!("use `uses: {action}@{sha} # {tag}` ([ci.actions] is the one place pins live), or update the pin there")),
                );
            }
        }
        return;
    }
    let what = if reference.is_empty() {
        "has no ref".to_string()
    } else {
        format!("follows `{reference}`, which can be moved to other code")
    };
    let hint = match pin {
        Some((sha, tag)) => format!("use the pin from [ci.actions] in shiplane.toml: `uses: {action}@{sha} # {tag}`"),
        None => format!(
            "pin the full 40-character commit SHA the tag points at, with the tag as a comment: `uses: {action}@<sha> # {}`, and record it in [ci.actions] of shiplane.toml",
            if reference.is_empty() { "vX.Y.Z" } else { reference }
        ),
    };
    problems.push(
        Problem::at(
            rel,
            entry.line,
            format!("`uses: {uses}` is not pinned to a full commit SHA: it {what}"),
        )
        .hint(hint),
    );
}

/// `run:` of a step, or `script:` under a step's `with:` (actions/github-script).
fn is_script(entry: &Entry) -> bool {
    let in_step = entry.path.iter().any(|s| s == "steps");
    in_step
        && ((entry.key() == "run" && entry.parent().last().is_some_and(|s| is_item(s)))
            || entry.ends_with(&["with", "script"]))
}

fn injection(rel: &str, entry: &Entry, problems: &mut Vec<Problem>) {
    let field = if entry.key() == "run" {
        "run:"
    } else {
        "script:"
    };
    for (line, text) in &entry.lines {
        for expression in expressions(text) {
            if let Some(context) = dangerous_context(expression) {
                let variable = env_name(context);
                problems.push(
                    Problem::at(rel, *line, format!("`${{{{ {expression} }}}}` is expanded into the `{field}` script before the shell runs it: text from the event (an issue title, a branch name) can become commands"))
                        .hint(format!("pass it through the step's `env:` (`{variable}: ${{{{ {expression} }}}}`) and use \"${variable}\" in the script")),
                );
            }
        }
    }
}

/// The `${{ ... }}` expressions of a line, trimmed.
fn expressions(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        match after.find("}}") {
            Some(end) => {
                found.push(after[..end].trim());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    found
}

/// The attacker-controllable context an expression reads, if any: `github.event.*` (except
/// numbers, ids and SHAs), `github.head_ref`, `inputs.*`.
fn dangerous_context(expression: &str) -> Option<&str> {
    let bytes = expression.as_bytes();
    let starts_word = |i: usize| {
        i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'_' | b'.' | b'-'))
    };
    for needle in ["github.event", "github.head_ref", "inputs."] {
        let mut from = 0;
        while let Some(pos) = expression[from..].find(needle) {
            let start = from + pos;
            let end = expression[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*')))
                .map_or(expression.len(), |e| start + e);
            let context = &expression[start..end];
            from = end.max(start + 1);
            if !starts_word(start) {
                continue;
            }
            let whole_word = needle.ends_with('.')
                || context.len() == needle.len()
                || context.as_bytes()[needle.len()] == b'.';
            if !whole_word {
                continue; // github.event_name, github.head_ref_x
            }
            let safe = context.starts_with("github.event.")
                && (context.ends_with(".number")
                    || context.ends_with(".id")
                    || context.ends_with(".sha")
                    || context == "github.event.before"
                    || context == "github.event.after");
            if !safe {
                return Some(context);
            }
        }
    }
    None
}

/// An environment variable name for a context: `github.event.issue.title` → `ISSUE_TITLE`.
fn env_name(context: &str) -> String {
    let parts: Vec<&str> = context
        .split('.')
        .filter(|p| !p.is_empty() && !matches!(*p, "github" | "event" | "inputs"))
        .collect();
    let tail = if parts.is_empty() {
        "VALUE".to_string()
    } else {
        parts[parts.len().saturating_sub(2)..].join("_")
    };
    tail.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether the workflow's `on:` names `trigger` (as a key, an item, or in a flow list/scalar).
pub fn has_trigger(entries: &[Entry], trigger: &str) -> bool {
    entries.iter().any(|e| {
        e.path.first().is_some_and(|p| p == "on")
            && ((e.path.len() == 1 && words(&e.value).any(|w| w == trigger))
                || (e.path.len() == 2 && e.key() == trigger)
                || (e.path.len() == 2 && e.item && e.value == trigger))
    })
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// In a `pull_request_target` workflow: a step `with:` `ref:`/`repository:` that checks out the
/// pull request's head.
fn pr_head_checkout(rel: &str, entries: &[Entry], problems: &mut Vec<Problem>) {
    for entry in entries {
        let checkout_key =
            entry.ends_with(&["with", "ref"]) || entry.ends_with(&["with", "repository"]);
        if !checkout_key || !entry.path.iter().any(|s| s == "steps") {
            continue;
        }
        let value: String = entry
            .text()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let head = [
            "github.event.pull_request.head.sha",
            "github.event.pull_request.head.ref",
            "github.event.pull_request.head.repo",
            "github.head_ref",
            "refs/pull/",
        ];
        if let Some(found) = head.iter().find(|h| value.contains(*h)) {
            problems.push(
                Problem::at(rel, entry.line, format!("this `pull_request_target` workflow checks out the pull request's head (`{}: {}` reads {found}): the PR's code then runs with the base repository's secrets and a write token", entry.key(), entry.value))
                    .hint("build and test pull request code under the `pull_request` trigger (read-only token, no secrets); keep `pull_request_target` jobs to trusted code from the base branch and don't check out the PR head"),
            );
        }
    }
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let pins = BTreeMap::from([(
            "actions/checkout".to_string(),
            (
                "1111111111111111111111111111111111111111".to_string(),
                "v9.9.9".to_string(),
            ),
        )]);
        audit("w.yml", text, &pins)
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    const CLEAN_HEAD: &str =
        "on: push\npermissions:\n  contents: read\njobs:\n  a:\n    runs-on: x\n    steps:\n";

    #[test]
    fn clean_workflow_passes() {
        let text = format!("{CLEAN_HEAD}      - uses: actions/checkout@1111111111111111111111111111111111111111 # v9.9.9\n      - uses: ./local\n      - uses: docker://alpine@sha256:{}\n      - env:\n          TITLE: ${{{{ github.event.issue.title }}}}\n        run: echo \"$TITLE\" ${{{{ github.sha }}}} ${{{{ github.event.pull_request.number }}}} ${{{{ github.event_name }}}}\n", "a".repeat(64));
        assert_eq!(problems(&text), Vec::<String>::new());
    }

    #[test]
    fn unpinned_actions() {
        let text = format!("{CLEAN_HEAD}      - uses: actions/checkout@v4\n      - uses: other/thing@main\n      - uses: docker://alpine:3\n      - uses: actions/checkout@2222222222222222222222222222222222222222\n");
        let p = problems(&text);
        assert_eq!(p.len(), 4, "{p:#?}");
        assert!(p[0].starts_with("w.yml:8: error: `uses: actions/checkout@v4` is not pinned to a full commit SHA: it follows `v4`"), "{}", p[0]);
        assert!(p[0].contains("fix: use the pin from [ci.actions] in shiplane.toml: `uses: actions/checkout@1111111111111111111111111111111111111111 # v9.9.9`"), "{}", p[0]);
        assert!(
            p[1].contains("w.yml:9:")
                && p[1].contains("`uses: other/thing@<sha> # main`, and record it in [ci.actions]"),
            "{}",
            p[1]
        );
        assert!(
            p[2].contains("w.yml:10:") && p[2].contains("docker://alpine@sha256:<digest>"),
            "{}",
            p[2]
        );
        assert!(
            p[3].contains("w.yml:11:")
                && p[3].contains("but [ci.actions] in shiplane.toml pins actions/checkout to 1111"),
            "{}",
            p[3]
        );
    }

    #[test]
    fn missing_and_write_all_permissions() {
        let p = problems("on: push\njobs:\n  a:\n    runs-on: x\n");
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("w.yml:2: error: no top-level `permissions`"),
            "{}",
            p[0]
        );
        let p = problems("on: push\npermissions: write-all\njobs: {}\n");
        assert!(
            p[0].starts_with("w.yml:2: error: top-level `permissions: write-all`"),
            "{}",
            p[0]
        );
        // Job-level permissions do not count as top-level ones.
        let p = problems("on: push\njobs:\n  a:\n    permissions:\n      contents: read\n");
        assert_eq!(p.len(), 1, "{p:#?}");
    }

    #[test]
    fn injection_in_run_lines_and_blocks() {
        let text = format!("{CLEAN_HEAD}      - run: echo ${{{{ github.event.issue.title }}}}\n      - name: x\n        run: |\n          echo ok\n          git checkout ${{{{github.head_ref}}}} && echo ${{{{ inputs.version }}}}\n      - uses: actions/github-script@1111111111111111111111111111111111111111\n        with:\n          script: console.log('${{{{ github.event.comment.body }}}}')\n");
        let p = problems(&text);
        assert_eq!(p.len(), 4, "{p:#?}");
        assert!(p[0].starts_with("w.yml:8: error: `${{ github.event.issue.title }}` is expanded into the `run:` script"), "{}", p[0]);
        assert!(p[0].contains("fix: pass it through the step's `env:` (`ISSUE_TITLE: ${{ github.event.issue.title }}`) and use \"$ISSUE_TITLE\" in the script"), "{}", p[0]);
        assert!(
            p[1].starts_with("w.yml:12: error: `${{ github.head_ref }}`"),
            "{}",
            p[1]
        );
        assert!(
            p[2].starts_with("w.yml:12: error: `${{ inputs.version }}`"),
            "{}",
            p[2]
        );
        assert!(p[3].starts_with("w.yml:15: error: `${{ github.event.comment.body }}` is expanded into the `script:` script"), "{}", p[3]);
    }

    #[test]
    fn pull_request_target_with_head_checkout() {
        for on in [
            "on: pull_request_target",
            "on: [push, pull_request_target]",
            "on:\n  pull_request_target:\n    types: [opened]",
            "on:\n  - pull_request_target",
        ] {
            let text = format!("{on}\npermissions: {{}}\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@1111111111111111111111111111111111111111\n        with:\n          ref: ${{{{ github.event.pull_request.head.sha }}}}\n");
            let p = problems(&text);
            assert_eq!(p.len(), 1, "{on}: {p:#?}");
            let line = 8 + on.lines().count() - 1;
            assert!(p[0].starts_with(&format!("w.yml:{line}: error: this `pull_request_target` workflow checks out the pull request's head")), "{}", p[0]);
        }
        let safe = "on: pull_request\npermissions: {}\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@1111111111111111111111111111111111111111\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n";
        assert_eq!(problems(safe), Vec::<String>::new());
    }
}
