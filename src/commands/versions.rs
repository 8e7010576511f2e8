//! `versions`: every version location, its current value, and whether they agree.

use anyhow::Result;
use serde::Serialize;

use crate::repo::{Location, Repo, Role};
use crate::report::{Output, Problems};

#[derive(Serialize)]
struct VersionsReport<'a> {
    current: Option<String>,
    agree: bool,
    locations: &'a [Location],
    problems: &'a [crate::report::Problem],
}

pub fn run(repo: &Repo, out: &Output) -> Result<()> {
    let state = repo.version_state();
    if out.json() {
        out.emit_json(&VersionsReport {
            current: state.current.as_ref().map(|v| v.to_string()),
            agree: state.problems.is_empty(),
            locations: &repo.locations,
            problems: &state.problems,
        })?;
    } else {
        let width = repo
            .locations
            .iter()
            .map(|l| l.at().len())
            .max()
            .unwrap_or(0);
        for loc in &repo.locations {
            let role = match loc.role {
                Role::Version => "",
                Role::Requirement => " (requirement)",
                Role::ReleaseDate => " (release date)",
            };
            out.say(format!(
                "{:width$}  {:<14} {}{role}",
                loc.at(),
                loc.value,
                loc.what
            ));
        }
        for note in &repo.notes {
            out.detail(format!("note: {note}"));
        }
        if let (Some(v), true) = (&state.current, state.problems.is_empty()) {
            out.say(format!("{} location(s) agree on {v}", repo.locations.len()));
        }
    }
    if state.problems.is_empty() {
        Ok(())
    } else if out.json() {
        // The JSON report already carries the problems.
        Err(crate::report::Reported(crate::report::exit::FAILURE).into())
    } else {
        Err(Problems::checks(state.problems).into())
    }
}
