//! The `git` group: on the release branch, the work tree clean, HEAD equal to the remote branch
//! (after a `git fetch`, unless `--no-fetch`), and no tag for VERSION at another commit, here or
//! on the remote (a tag already at HEAD is fine: a re-run passes).

use super::{command_name, tag_templates, Context};
use crate::git::{self, Git, Tag};
use crate::report::Check;

/// The remote releases are pushed to.
const REMOTE: &str = "origin";

/// How many changed paths the `clean` check lists before "and N more".
const LISTED_PATHS: usize = 20;

pub(super) fn checks(cx: &Context<'_>) -> Vec<Check> {
    let git = match Git::new(&cx.repo.root) {
        Ok(git) if git.is_repository() => git,
        Ok(_) => {
            return vec![Check::fail(
                "git",
                "repository",
                format!("{} is not in a git work tree", cx.repo.root.display()),
                "releases are cut from a git repository: `git init`, commit, and add the remote",
            )]
        }
        Err(e) => {
            return vec![Check::fail(
                "git",
                "repository",
                format!("{e:#}"),
                "install git",
            )]
        }
    };
    let branch = &cx.repo.config.config.release.branch;
    let head = match git.head() {
        Ok(head) => head,
        Err(e) => {
            return vec![Check::fail(
                "git",
                "repository",
                format!("no commit at HEAD: {e:#}"),
                "commit the release first",
            )]
        }
    };
    let mut checks = vec![on_branch(&git, branch), clean(&git)];
    let fetched = if cx.fetch {
        git.fetch(REMOTE, branch).map_err(|e| format!("{e:#}"))
    } else {
        Ok(())
    };
    // Remote tags are read only when the fetch worked (its failure is reported once, above).
    let read_remote_tags = cx.fetch && fetched.is_ok();
    checks.push(up_to_date(&git, branch, cx.fetch, fetched));
    checks.extend(tags(cx, &git, &head, read_remote_tags));
    checks
}

fn on_branch(git: &Git, branch: &str) -> Check {
    match git.current_branch() {
        Ok(Some(current)) if current == *branch => {
            Check::pass("git", "branch", format!("on {branch}, the release branch"))
        }
        Ok(Some(current)) => Check::fail(
            "git",
            "branch",
            format!("on branch {current}; releases are cut from {branch} ([release] branch)"),
            format!("`git switch {branch}` (merge the release changes into it first)"),
        ),
        Ok(None) => Check::fail(
            "git",
            "branch",
            format!("HEAD is detached; releases are cut from {branch} ([release] branch)"),
            format!("`git switch {branch}`"),
        ),
        Err(e) => Check::fail(
            "git",
            "branch",
            format!("{e:#}"),
            "check the repository with `git status`",
        ),
    }
}

fn clean(git: &Git) -> Check {
    match git.changed_paths() {
        Ok(paths) if paths.is_empty() => Check::pass("git", "clean", "the work tree is clean"),
        Ok(paths) => {
            let mut listing: Vec<String> = paths.iter().take(LISTED_PATHS).cloned().collect();
            if paths.len() > LISTED_PATHS {
                listing.push(format!("and {} more", paths.len() - LISTED_PATHS));
            }
            Check::fail(
                "git",
                "clean",
                format!(
                    "{} uncommitted change(s):\n      {}",
                    paths.len(),
                    listing.join("\n      ")
                ),
                "commit them (or `git stash --include-untracked`): a release is built from a commit",
            )
        }
        Err(e) => Check::fail(
            "git",
            "clean",
            format!("{e:#}"),
            "check the repository with `git status`",
        ),
    }
}

fn up_to_date(git: &Git, branch: &str, fetch: bool, fetched: Result<(), String>) -> Check {
    let remote_branch = format!("{REMOTE}/{branch}");
    if let Err(e) = fetched {
        return Check::fail(
            "git",
            "remote",
            format!("cannot fetch {remote_branch}: {e}"),
            format!(
                "check the `{REMOTE}` remote and the network, or pass --no-fetch to compare with the last fetched {remote_branch}"
            ),
        );
    }
    let how = if fetch {
        "just fetched"
    } else {
        "as last fetched: --no-fetch"
    };
    match git.commit_of(&format!("refs/remotes/{remote_branch}")) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Check::fail(
                "git",
                "remote",
                format!("there is no {remote_branch} ({how})"),
                format!("push the branch: `git push -u {REMOTE} {branch}`"),
            )
        }
        Err(e) => return Check::fail("git", "remote", format!("{e:#}"), "check the repository"),
    }
    match git.divergence("HEAD", &remote_branch) {
        Ok(d) if d.ahead == 0 && d.behind == 0 => {
            Check::pass("git", "remote", format!("HEAD is {remote_branch} ({how})"))
        }
        Ok(d) if d.behind == 0 => Check::fail(
            "git",
            "remote",
            format!(
                "HEAD is {} commit(s) ahead of {remote_branch} ({how})",
                d.ahead
            ),
            format!("push them first: `git push {REMOTE} HEAD:{branch}`"),
        ),
        Ok(d) if d.ahead == 0 => Check::fail(
            "git",
            "remote",
            format!(
                "HEAD is {} commit(s) behind {remote_branch} ({how})",
                d.behind
            ),
            format!("`git pull --ff-only {REMOTE} {branch}`, then check again"),
        ),
        Ok(d) => Check::fail(
            "git",
            "remote",
            format!(
                "HEAD and {remote_branch} have diverged: {} commit(s) ahead, {} behind ({how})",
                d.ahead, d.behind
            ),
            format!("rebase onto it (`git pull --rebase {REMOTE} {branch}`) and push"),
        ),
        Err(e) => Check::fail("git", "remote", format!("{e:#}"), "check the repository"),
    }
}

/// One check per tag template: VERSION's tag does not exist at a commit other than HEAD, locally
/// or (with `read_remote`) on the remote.
fn tags(cx: &Context<'_>, git: &Git, head: &str, read_remote: bool) -> Vec<Check> {
    let version = cx.version.to_string();
    let wanted: Vec<(String, String)> = tag_templates(cx.repo)
        .into_iter()
        .map(|(subject, template)| (subject, git::tag_for(&template, &version)))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let local = match git.tags() {
        Ok(tags) => tags,
        Err(e) => {
            return vec![Check::fail(
                "git",
                "tag",
                format!("{e:#}"),
                "check the repository",
            )]
        }
    };
    let names: Vec<String> = wanted.iter().map(|(_, name)| name.clone()).collect();
    let (remote, remote_error): (Vec<Tag>, Option<String>) = if read_remote {
        match git.remote_tags(REMOTE, &names) {
            Ok(tags) => (tags, None),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        }
    } else {
        (Vec::new(), None)
    };
    let mut checks = Vec::new();
    for (subject, name) in &wanted {
        let here = local.iter().find(|t| t.name == *name);
        let there = remote.iter().find(|t| t.name == *name);
        let elsewhere = here
            .map(|t| ("", t))
            .filter(|(_, t)| t.commit != head)
            .or_else(|| {
                there
                    .map(|t| (" on the remote", t))
                    .filter(|(_, t)| t.commit != head)
            });
        let check = match (elsewhere, here.or(there)) {
            (Some((place, tag)), _) => Check::fail(
                subject,
                "tag",
                format!(
                    "tag {name} already exists{place} at commit {}, but HEAD is {head}",
                    tag.commit
                ),
                format!(
                    "if {version} was released from {}, release a new version (`{} bump patch`); if the tag is a mistake, delete it: `git tag -d {name}` and `git push {REMOTE} :refs/tags/{name}`",
                    git::short(&tag.commit),
                    command_name()
                ),
            ),
            (None, Some(_)) => Check::pass(
                subject,
                "tag",
                format!("{name} is at HEAD: a re-run of this release"),
            ),
            (None, None) => match &remote_error {
                Some(e) => Check::fail(
                    subject,
                    "tag",
                    format!("cannot list the tags of {REMOTE}: {e}"),
                    format!(
                        "check the `{REMOTE}` remote and the network, or pass --no-fetch to check local tags only"
                    ),
                ),
                None => Check::pass(subject, "tag", format!("{name} does not exist yet")),
            },
        };
        checks.push(check);
    }
    checks
}
