//! Git, as release commands ask about it: the branch, the work tree, the remote branch, tags.
//!
//! Every command runs through `xshell` in the repository root, with `GIT_DIR`, `GIT_WORK_TREE` and
//! `GIT_INDEX_FILE` removed (so a hook's environment cannot point it at another repository) and
//! `GIT_TERMINAL_PROMPT=0` (a fetch that needs credentials fails instead of waiting for input).
//! Nothing here writes to the work tree; `fetch` only updates remote-tracking refs.

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// A repository's git, run in its root.
pub struct Git {
    sh: Shell,
}

/// A tag and the commit it points at (annotated tags peeled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub commit: String,
}

/// How two commits relate: commits only on the left, commits only on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Divergence {
    pub ahead: u64,
    pub behind: u64,
}

impl Git {
    /// Git in `root` (the directory is not checked to be a repository: see [`Git::is_repository`]).
    pub fn new(root: &Path) -> Result<Git> {
        let sh = Shell::new().context("starting a shell for git")?;
        sh.change_dir(root);
        Ok(Git { sh })
    }

    /// Run `git ARGS...`, capturing its output; an error (with git's stderr) when it fails.
    fn run(&self, args: &[&str]) -> Result<String> {
        let output = self.output(args)?;
        if !output.status.success() {
            bail!(
                "`git {}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        String::from_utf8(output.stdout).with_context(|| {
            format!(
                "`git {}` printed something that is not UTF-8",
                args.join(" ")
            )
        })
    }

    /// Run `git ARGS...` whatever its exit status; only failing to start it is an error.
    fn output(&self, args: &[&str]) -> Result<std::process::Output> {
        cmd!(self.sh, "git {args...}")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env("GIT_TERMINAL_PROMPT", "0")
            .quiet()
            .ignore_status()
            .output()
            .with_context(|| format!("running `git {}` (is git installed?)", args.join(" ")))
    }

    /// Whether the root is inside a git work tree.
    pub fn is_repository(&self) -> bool {
        self.run(&["rev-parse", "--is-inside-work-tree"])
            .is_ok_and(|s| s.trim() == "true")
    }

    /// The commit HEAD is at.
    pub fn head(&self) -> Result<String> {
        Ok(self
            .run(&["rev-parse", "--verify", "HEAD"])?
            .trim()
            .to_string())
    }

    /// The commit `rev` names, or `None` when it names none.
    pub fn commit_of(&self, rev: &str) -> Result<Option<String>> {
        let spec = format!("{rev}^{{commit}}");
        let output = self.output(&["rev-parse", "--verify", "--quiet", &spec])?;
        if output.status.success() {
            Ok(Some(
                String::from_utf8_lossy(&output.stdout).trim().to_string(),
            ))
        } else {
            Ok(None)
        }
    }

    /// The branch HEAD is on; `None` when HEAD is detached.
    pub fn current_branch(&self) -> Result<Option<String>> {
        let output = self.output(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        match output.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&output.stdout).trim().to_string(),
            )),
            Some(1) => Ok(None),
            _ => bail!(
                "`git symbolic-ref HEAD` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }
    }

    /// What `git status --porcelain` lists: every modified, staged, deleted or untracked path
    /// (renames as `old -> new`), relative to the repository root.
    pub fn changed_paths(&self) -> Result<Vec<String>> {
        let text = self.run(&["status", "--porcelain=v1", "-z"])?;
        let mut paths = Vec::new();
        let mut entries = text.split('\0').filter(|e| !e.is_empty());
        while let Some(entry) = entries.next() {
            let (status, path) = (entry.get(..2).unwrap_or(""), entry.get(3..).unwrap_or(""));
            if status.contains(['R', 'C']) {
                let from = entries.next().unwrap_or("");
                paths.push(format!("{from} -> {path}"));
            } else {
                paths.push(path.to_string());
            }
        }
        Ok(paths)
    }

    /// `git fetch --no-tags REMOTE BRANCH`: updates `REMOTE/BRANCH`.
    pub fn fetch(&self, remote: &str, branch: &str) -> Result<()> {
        self.run(&["fetch", "--quiet", "--no-tags", remote, branch])
            .map(drop)
    }

    /// How many commits `left` has that `right` has not, and the other way round
    /// (`git rev-list --left-right --count LEFT...RIGHT`).
    pub fn divergence(&self, left: &str, right: &str) -> Result<Divergence> {
        let range = format!("{left}...{right}");
        let text = self.run(&["rev-list", "--left-right", "--count", &range])?;
        let mut numbers = text.split_whitespace().map(str::parse::<u64>);
        match (numbers.next(), numbers.next()) {
            (Some(Ok(ahead)), Some(Ok(behind))) => Ok(Divergence { ahead, behind }),
            _ => bail!(
                "`git rev-list --left-right --count {range}` printed `{}`",
                text.trim()
            ),
        }
    }

    /// Every local tag with its commit (`git for-each-ref refs/tags`), sorted by name.
    pub fn tags(&self) -> Result<Vec<Tag>> {
        let text = self.run(&[
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)",
            "refs/tags",
        ])?;
        let mut tags: Vec<Tag> = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\0');
                let name = fields.next()?.to_string();
                let object = fields.next()?;
                let peeled = fields.next().filter(|p| !p.is_empty());
                Some(Tag {
                    name,
                    commit: peeled.unwrap_or(object).to_string(),
                })
            })
            .collect();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tags)
    }

    /// The tags among `names` that `remote` has, with their commits (`git ls-remote --tags`).
    pub fn remote_tags(&self, remote: &str, names: &[String]) -> Result<Vec<Tag>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["ls-remote", "--tags", remote];
        // `NAME^{}` too: the commit an annotated tag points at is listed under that name.
        let refs: Vec<String> = names
            .iter()
            .flat_map(|n| [format!("refs/tags/{n}"), format!("refs/tags/{n}^{{}}")])
            .collect();
        args.extend(refs.iter().map(String::as_str));
        let text = self.run(&args)?;
        let mut found: Vec<Tag> = Vec::new();
        for line in text.lines() {
            let Some((sha, reference)) = line.split_once('\t') else {
                continue;
            };
            let Some(name) = reference.strip_prefix("refs/tags/") else {
                continue;
            };
            // An annotated tag is listed twice: the tag object, then `NAME^{}` with its commit.
            match name.strip_suffix("^{}") {
                Some(name) => match found.iter_mut().find(|t| t.name == name) {
                    Some(tag) => tag.commit = sha.to_string(),
                    None => found.push(Tag {
                        name: name.to_string(),
                        commit: sha.to_string(),
                    }),
                },
                None if !found.iter().any(|t| t.name == name) => found.push(Tag {
                    name: name.to_string(),
                    commit: sha.to_string(),
                }),
                None => {}
            }
        }
        Ok(found)
    }
}

impl Git {
    /// Create the annotated tag `name` at `commit` with `message`.
    pub fn create_tag(&self, name: &str, commit: &str, message: &str) -> Result<()> {
        self.run(&[
            "tag",
            "--annotate",
            "--message",
            message,
            "--",
            name,
            commit,
        ])
        .map(drop)
    }

    /// Push the tags `names` to `remote`, all or none (`git push --atomic`).
    pub fn push_tags(&self, remote: &str, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let refs: Vec<String> = names
            .iter()
            .map(|n| format!("refs/tags/{n}:refs/tags/{n}"))
            .collect();
        let mut args = vec!["push", "--quiet", "--atomic", "--no-verify", remote];
        args.extend(refs.iter().map(String::as_str));
        self.run(&args).map(drop)
    }

    /// The URL of `remote`, when it has one.
    pub fn remote_url(&self, remote: &str) -> Result<Option<String>> {
        let output = self.output(&["remote", "get-url", remote])?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
    }
}

/// `owner/name` of a GitHub remote URL (`https://github.com/o/n(.git)`, `git@github.com:o/n.git`,
/// `ssh://git@github.com/o/n`).
pub fn github_repository_of(url: &str) -> Option<String> {
    let rest = url
        .split_once("github.com/")
        .or_else(|| url.split_once("github.com:"))?
        .1;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !owner.is_empty() && !name.is_empty())
        .then(|| format!("{owner}/{name}"))
}

/// The first 12 characters of a commit SHA, for messages.
pub fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The version a tag of `template` (`engine-v{version}`) names, when `tag` has its shape:
/// `engine-v1.2.3` → `1.2.3` (as written; not checked to be a version).
pub fn version_in_tag<'t>(template: &str, tag: &'t str) -> Option<&'t str> {
    let (prefix, suffix) = template.split_once("{version}")?;
    let version = tag.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!version.is_empty()).then_some(version)
}

/// The tag of `template` for `version`.
pub fn tag_for(template: &str, version: &str) -> String {
    template.replace("{version}", version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_templates() {
        assert_eq!(
            version_in_tag("engine-v{version}", "engine-v1.2.3"),
            Some("1.2.3")
        );
        assert_eq!(version_in_tag("v{version}", "engine-v1.2.3"), None);
        assert_eq!(
            version_in_tag("sdk/go/v{version}", "sdk/go/v0.4.0-rc.1"),
            Some("0.4.0-rc.1")
        );
        assert_eq!(
            version_in_tag("release-{version}-final", "release-2.0.0-final"),
            Some("2.0.0")
        );
        assert_eq!(version_in_tag("v{version}", "v"), None);
        assert_eq!(tag_for("py-v{version}", "1.3.0"), "py-v1.3.0");
        assert_eq!(short("0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
        for url in [
            "https://github.com/acme/polyglot.git",
            "https://github.com/acme/polyglot",
            "git@github.com:acme/polyglot.git",
            "ssh://git@github.com/acme/polyglot/",
        ] {
            assert_eq!(
                github_repository_of(url).as_deref(),
                Some("acme/polyglot"),
                "{url}"
            );
        }
        assert_eq!(github_repository_of("/tmp/origin.git"), None);
    }
}
