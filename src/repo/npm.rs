//! npm products: package.json's `version`, and the same version recorded in a package-lock.json
//! or npm-shrinkwrap.json beside it (top-level `version` and `packages[""].version`).

use serde_spanned::Spanned;

use super::{parent_rel, Loader, NewLocation, Role};
use crate::edit::{json, Found};
use crate::report::Problem;
use crate::version::Scheme;

pub(super) fn load(loader: &mut Loader<'_>, product: &str, manifest: &Spanned<String>) {
    let rel = manifest.get_ref().clone();
    let Some(file) = loader.file(&rel) else {
        return;
    };
    let text = loader.text(file).to_string();
    match json::find_optional_string(&text, &["version"]) {
        Ok(Some(s)) => loader.add(
            file,
            NewLocation {
                found: Found {
                    span: s.content,
                    line: s.line,
                    text: s.value,
                },
                role: Role::Version,
                scheme: Scheme::Semver,
                format: None,
                product: Some(product),
                what: "package.json version".into(),
            },
        ),
        Ok(None) => loader.problem(
            Problem::in_file(&rel, "has no \"version\"").hint("add \"version\": \"X.Y.Z\""),
        ),
        Err(e) => {
            return loader.problem(
                Problem::in_file(&rel, format!("invalid JSON: {e}")).hint("fix the JSON syntax"),
            )
        }
    }
    let dir = parent_rel(&rel);
    for lock_name in ["package-lock.json", "npm-shrinkwrap.json"] {
        let lock = if dir.is_empty() {
            lock_name.to_string()
        } else {
            format!("{dir}/{lock_name}")
        };
        if !loader.exists(&lock) {
            continue;
        }
        let Some(lfile) = loader.file(&lock) else {
            continue;
        };
        let ltext = loader.text(lfile).to_string();
        for (path, what) in [
            (&["version"][..], "version"),
            (&["packages", "", "version"][..], "packages[\"\"].version"),
        ] {
            match json::find_optional_string(&ltext, path) {
                Ok(Some(s)) => loader.add(
                    lfile,
                    NewLocation {
                        found: Found {
                            span: s.content,
                            line: s.line,
                            text: s.value,
                        },
                        role: Role::Version,
                        scheme: Scheme::Semver,
                        format: None,
                        product: Some(product),
                        what: format!("{lock_name} {what}"),
                    },
                ),
                Ok(None) => {}
                Err(e) => {
                    loader.problem(
                        Problem::in_file(&lock, format!("invalid JSON: {e}")).hint(
                            "fix it, or regenerate it with `npm install --package-lock-only`",
                        ),
                    );
                    break;
                }
            }
        }
    }
}

/// The package name a package.json publishes under (its `name`); `None` when the file cannot be
/// read or has none.
pub(crate) fn package_name(package_json: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(package_json).ok()?;
    json::find_optional_string(&text, &["name"])
        .ok()
        .flatten()
        .map(|s| s.value)
}
