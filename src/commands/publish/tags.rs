//! The release's tags: one per product from its template (Go modules' `sdk/go/vX.Y.Z` among
//! them) and the umbrella tag. Annotated, created at HEAD, pushed to `origin` in one atomic push.
//! A tag already at HEAD (locally and on the remote) is skipped; a tag at any other commit blocks
//! the whole run before anything is published — it is never moved and never deleted.

use anyhow::{Context as _, Result};
use semver::Version;

use super::{Action, Context, PublishPlan, Record, RecordItem, TagItem, REMOTE};
use crate::git::{short, tag_for, Git};
use crate::repo::{Product, Repo};
use crate::report::Problem;

pub(super) fn plan(
    repo: &Repo,
    git: &Git,
    head: &str,
    version: &Version,
    selected: &[&Product],
    all_selected: bool,
    blockers: &mut Vec<Problem>,
) -> Result<Vec<TagItem>> {
    let version_text = version.to_string();
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    for product in selected {
        if let Some(template) = &product.tag {
            let name = tag_for(template, &version_text);
            if !wanted.iter().any(|(n, _)| n == &name) {
                wanted.push((name, Some(product.name.clone())));
            }
        }
    }
    if all_selected {
        if let Some(template) = &repo.config.config.release.tag {
            let name = tag_for(template.get_ref(), &version_text);
            if !wanted.iter().any(|(n, _)| n == &name) {
                wanted.push((name, None));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    if git.remote_url(REMOTE)?.is_none() {
        blockers.push(
            Problem::new(format!(
                "the repository has no `{REMOTE}` remote to push tags to"
            ))
            .hint(format!("add it: `git remote add {REMOTE} URL`")),
        );
    }
    let local = git.tags()?;
    let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let remote = if git.remote_url(REMOTE)?.is_some() {
        git.remote_tags(REMOTE, &names)
            .with_context(|| format!("reading the tags on `{REMOTE}`"))?
    } else {
        Vec::new()
    };
    let mut items = Vec::new();
    for (name, product) in wanted {
        let at_local = local
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.commit.clone());
        let at_remote = remote
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.commit.clone());
        let elsewhere = [("locally", &at_local), (REMOTE, &at_remote)]
            .into_iter()
            .find_map(|(place, commit)| {
                commit
                    .as_ref()
                    .filter(|c| c.as_str() != head)
                    .map(|c| (place, c.clone()))
            });
        let action = match (elsewhere, &at_local, &at_remote) {
            (Some((place, other)), _, _) => {
                blockers.push(
                    Problem::new(format!(
                        "tag {name} already exists {} at {other}, but HEAD is {head}",
                        if place == REMOTE { format!("on {REMOTE}") } else { place.to_string() },
                    ))
                    .hint(format!(
                        "a released tag is never moved: publish from {} (check it out), or release a new version with `bump`",
                        short(&other)
                    )),
                );
                Action::Blocked(format!(
                    "exists at {}, HEAD is {}",
                    short(&other),
                    short(head)
                ))
            }
            (None, _, Some(_)) => Action::Skip("tag exists at HEAD".to_string()),
            (None, Some(_), None) => Action::Publish,
            (None, None, None) => Action::Publish,
        };
        items.push(TagItem {
            local: at_local.is_some(),
            name,
            product,
            action,
        });
    }
    Ok(items)
}

/// Create the missing tags at HEAD and push them all at once; skipped ones are recorded too.
pub(super) fn execute(cx: &Context<'_>, plan: &PublishPlan, record: &mut Record) -> Result<()> {
    let git = Git::new(&cx.repo.root)?;
    let mut to_push = Vec::new();
    for tag in &plan.tags {
        if tag.action != Action::Publish {
            continue;
        }
        if !tag.local {
            let message = match &tag.product {
                Some(product) => format!("{product} {}", plan.version),
                None => format!("Release {}", plan.version),
            };
            git.create_tag(&tag.name, &plan.commit, &message)
                .with_context(|| format!("creating tag {}", tag.name))?;
        }
        to_push.push(tag.name.clone());
    }
    if !to_push.is_empty() {
        cx.out.say(format!(
            "$ git push --atomic {REMOTE} {}",
            to_push.join(" ")
        ));
        git.push_tags(REMOTE, &to_push)
            .with_context(|| format!("pushing the tags to {REMOTE}"))?;
    }
    for tag in &plan.tags {
        let mut item = RecordItem::new(
            tag.product.as_deref().unwrap_or(""),
            "tag",
            &tag.name,
            &plan.version,
        );
        item.registry = format!("git {REMOTE}");
        item.detail = format!("at {}", short(&plan.commit));
        item.action = match tag.action {
            Action::Publish => {
                cx.out.say(format!("✓ tag {} pushed to {REMOTE}", tag.name));
                "published"
            }
            _ => "skipped",
        }
        .to_string();
        record.items.push(item);
    }
    Ok(())
}
