//! The `version` group: every version location holds VERSION (read in its own scheme), and VERSION
//! is above the latest release tag of every tag template (equal only when that tag is at HEAD: a
//! re-run of the same release).

use semver::{Version, VersionReq};

use super::{command_name, tag_templates, tag_version, Context};
use crate::git::{self, Git};
use crate::repo::Role;
use crate::report::Check;
use crate::version::{self, Scheme};

pub(super) fn checks(cx: &Context<'_>) -> Vec<Check> {
    let mut checks = vec![locations(cx)];
    if cx
        .repo
        .locations
        .iter()
        .any(|l| l.role == Role::Version && l.scheme == Scheme::Pep440)
    {
        checks.push(match version::to_pep440(cx.version) {
            Ok(pep440) => Check::pass(
                "version",
                "pep440",
                format!("Python locations spell it {pep440}"),
            ),
            Err(e) => Check::fail(
                "version",
                "pep440",
                e,
                "use a prerelease Python can spell: alpha.N, beta.N, rc.N or dev.N",
            ),
        });
    }
    checks.extend(against_tags(cx));
    checks
}

/// Each location that does not hold VERSION, as `path:line = value  (what ...)`.
fn locations(cx: &Context<'_>) -> Check {
    let version = cx.version;
    let mut counted = 0;
    let mut wrong: Vec<String> = Vec::new();
    for loc in &cx.repo.locations {
        match loc.role {
            Role::Version => {
                counted += 1;
                let read = loc
                    .version_text()
                    .ok_or_else(|| {
                        format!(
                            "not in the configured format `{}{{version}}{}`",
                            loc.prefix, loc.suffix
                        )
                    })
                    .and_then(|text| version::parse_in(text, loc.scheme));
                match read {
                    Ok(v) if v == *version => {}
                    Ok(v) => wrong.push(format!(
                        "{} = {}  ({}, read as {v})",
                        loc.at(),
                        loc.value,
                        loc.what
                    )),
                    Err(e) => {
                        wrong.push(format!("{} = {}  ({}: {e})", loc.at(), loc.value, loc.what))
                    }
                }
            }
            Role::Requirement => {
                counted += 1;
                match VersionReq::parse(&loc.value) {
                    Ok(req) if req.matches(version) => {}
                    Ok(_) => wrong.push(format!(
                        "{} = {}  ({}, does not admit {version})",
                        loc.at(),
                        loc.value,
                        loc.what
                    )),
                    Err(e) => wrong.push(format!(
                        "{} = {}  ({}: not a requirement: {e})",
                        loc.at(),
                        loc.value,
                        loc.what
                    )),
                }
            }
            Role::ReleaseDate => {}
        }
    }
    if wrong.is_empty() {
        return Check::pass(
            "version",
            "locations",
            format!("all {counted} version locations hold {version}"),
        );
    }
    let command = command_name();
    // `bump` moves locations that agree with each other; disagreeing ones need --force.
    let fix = if cx.repo.version_state().problems.is_empty() {
        format!("`{command} bump {version}` moves every location to {version}")
    } else {
        format!(
            "`{command} bump {version} --force` moves every location to {version} (or fix the listed ones by hand)"
        )
    };
    Check::fail(
        "version",
        "locations",
        format!(
            "{} of {counted} version locations do not hold {version}:\n      {}",
            wrong.len(),
            wrong.join("\n      ")
        ),
        fix,
    )
}

/// One check per tag template that has tags: VERSION above the latest of them.
fn against_tags(cx: &Context<'_>) -> Vec<Check> {
    let templates = tag_templates(cx.repo);
    if templates.is_empty() {
        return Vec::new();
    }
    let facts = Git::new(&cx.repo.root).and_then(|g| Ok((g.tags()?, g.head()?)));
    let (tags, head) = match facts {
        Ok(facts) => facts,
        Err(e) => {
            return vec![Check::fail(
                "version",
                "tags",
                format!("cannot read the release tags: {e:#}"),
                "run preflight in the repository's git work tree, with at least one commit",
            )]
        }
    };
    let version = cx.version;
    let mut checks = Vec::new();
    for (subject, template) in &templates {
        let mut released: Vec<(Version, &git::Tag)> = tags
            .iter()
            .filter_map(|t| {
                let text = git::version_in_tag(template, &t.name)?;
                Some((tag_version(text)?, t))
            })
            .collect();
        // Highest first; among equal precedence, VERSION's own tag first.
        let own = git::tag_for(template, &version.to_string());
        released.sort_by(|a, b| {
            b.0.cmp_precedence(&a.0)
                .then_with(|| (b.1.name == own).cmp(&(a.1.name == own)))
        });
        let Some((latest, tag)) = released.first() else {
            checks.push(Check::pass(
                subject,
                "newer",
                format!("no earlier `{template}` tag: a first release"),
            ));
            continue;
        };
        let check = match version.cmp_precedence(latest) {
            std::cmp::Ordering::Greater => Check::pass(
                subject,
                "newer",
                format!("{version} is above the latest release tag {}", tag.name),
            ),
            std::cmp::Ordering::Equal if tag.commit == head => Check::pass(
                subject,
                "newer",
                format!("{} is at HEAD: a re-run of this release", tag.name),
            ),
            std::cmp::Ordering::Equal => Check::fail(
                subject,
                "newer",
                format!(
                    "{version} is already released: {} is at {}, not at HEAD {}",
                    tag.name, tag.commit, head
                ),
                format!(
                    "release a version above {latest} (`{} bump patch`)",
                    command_name()
                ),
            ),
            std::cmp::Ordering::Less => Check::fail(
                subject,
                "newer",
                format!(
                    "{version} is not above the latest release tag {} ({latest})",
                    tag.name
                ),
                format!(
                    "release a version above {latest}: `{} bump <VERSION>`",
                    command_name()
                ),
            ),
        };
        checks.push(check);
    }
    checks
}
