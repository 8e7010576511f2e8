//! Python products: where a pyproject.toml's version lives — `[project].version`, Poetry's
//! `[tool.poetry].version`, or, for a dynamic version, the file the build backend reads it from
//! (setuptools `attr`/`file`, hatch and pdm `path`, flit's module, maturin's Cargo.toml).

use serde_spanned::Spanned;
use toml_edit::{Document, Item};

use super::{join_rel, parent_rel, Loader, NewLocation, Role};
use crate::edit::{self, pattern};
use crate::report::Problem;
use crate::version::Scheme;

pub(super) fn load(loader: &mut Loader<'_>, product: &str, manifest: &Spanned<String>) {
    let rel = manifest.get_ref().clone();
    let Some(file) = loader.file(&rel) else {
        return;
    };
    let Some(doc) = loader.toml(file) else { return };
    let text = loader.text(file).to_string();
    let dir = parent_rel(&rel).to_string();
    for (path, what) in [
        (&["project", "version"][..], "[project].version"),
        (&["tool", "poetry", "version"][..], "[tool.poetry].version"),
    ] {
        match edit::toml::find_string(&text, &doc, path) {
            Ok(Some(found)) => {
                return loader.add(
                    file,
                    NewLocation {
                        found,
                        role: Role::Version,
                        scheme: Scheme::Pep440,
                        format: None,
                        product: Some(product),
                        what: what.into(),
                    },
                )
            }
            Ok(None) => {}
            Err(e) => {
                return loader.problem(
                    Problem::in_file(&rel, format!("{what}: {e}"))
                        .hint("write the version as a plain string"),
                )
            }
        }
    }
    let dynamic = edit::toml::item_at(doc.as_item(), &["project", "dynamic"])
        .and_then(Item::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
    if !dynamic {
        return loader.problem(
            Problem::in_file(&rel, "has no version: neither [project].version, [tool.poetry].version nor a dynamic version")
                .hint("add `version = \"X.Y.Z\"` under [project]"),
        );
    }
    match dynamic_source(&doc, &dir) {
        Source::Assignment {
            module_candidates,
            name,
        } => {
            let Some(module) = module_candidates.iter().find(|m| loader.exists(m)).cloned() else {
                return loader.problem(
                    Problem::in_file(
                        &rel,
                        format!(
                            "the dynamic version is read from `{name}` in {}, which does not exist",
                            module_candidates.join(" or ")
                        ),
                    )
                    .hint("fix the build backend's version setting, or add a [[version-file]]"),
                );
            };
            let Some(mfile) = loader.file(&module) else {
                return;
            };
            let mtext = loader.text(mfile).to_string();
            match pattern::find_python_assignment(&mtext, &name) {
                Ok(Some(found)) => loader.add(
                    mfile,
                    NewLocation {
                        found,
                        role: Role::Version,
                        scheme: Scheme::Pep440,
                        format: None,
                        product: Some(product),
                        what: format!("{name} (dynamic version of {rel})"),
                    },
                ),
                Ok(None) => loader.problem(
                    Problem::in_file(
                        &module,
                        format!("no `{name} = \"...\"` assignment (the dynamic version of {rel})"),
                    )
                    .hint(format!(
                        "assign the version as a string literal: {name} = \"X.Y.Z\""
                    )),
                ),
                Err(e) => {
                    loader.problem(Problem::in_file(&module, e).hint("keep a single assignment"))
                }
            }
        }
        Source::WholeFile(path) => {
            let Some(vfile) = loader.file(&path) else {
                return;
            };
            let found = pattern::find_whole(loader.text(vfile));
            loader.add(
                vfile,
                NewLocation {
                    found,
                    role: Role::Version,
                    scheme: Scheme::Pep440,
                    format: None,
                    product: Some(product),
                    what: format!("version file of {rel}"),
                },
            );
        }
        Source::Cargo(cargo_rel) => {
            let Some(cfile) = loader.file(&cargo_rel) else {
                return;
            };
            let Some(cdoc) = loader.toml(cfile) else {
                return;
            };
            let ctext = loader.text(cfile).to_string();
            match edit::toml::find_string(&ctext, &cdoc, &["package", "version"]) {
                Ok(Some(found)) => loader.add(cfile, NewLocation {
                    found,
                    role: Role::Version,
                    scheme: Scheme::Semver,
                    format: None,
                    product: Some(product),
                    what: format!("package.version (maturin reads it for {rel})"),
                }),
                // `version.workspace = true`: the Cargo product's workspace version covers it.
                Ok(None) | Err(_) => loader.note(format!(
                    "{rel}: maturin takes the version from {cargo_rel}, which inherits it from its workspace"
                )),
            }
        }
        Source::Vcs(tool) => loader.note(format!(
            "{rel}: the version comes from git tags ({tool}); `bump` writes nothing for it"
        )),
        Source::Unknown => loader.problem(
            Problem::in_file(
                &rel,
                "the version is dynamic, and Shiplane cannot tell which file holds it",
            )
            .hint(
                "add a [[version-file]] with product = \"".to_string()
                    + product
                    + "\" for the file that holds it",
            ),
        ),
    }
}

enum Source {
    Assignment {
        module_candidates: Vec<String>,
        name: String,
    },
    WholeFile(String),
    Cargo(String),
    Vcs(&'static str),
    Unknown,
}

fn dynamic_source(doc: &Document<String>, dir: &str) -> Source {
    let get = |path: &[&str]| edit::toml::item_at(doc.as_item(), path);
    let get_str = |path: &[&str]| get(path).and_then(Item::as_str).map(str::to_string);
    let backend = get_str(&["build-system", "build-backend"]).unwrap_or_default();
    if backend.starts_with("maturin") {
        let manifest =
            get_str(&["tool", "maturin", "manifest-path"]).unwrap_or_else(|| "Cargo.toml".into());
        return join_rel(dir, &manifest).map_or(Source::Unknown, Source::Cargo);
    }
    if get(&["tool", "setuptools_scm"]).is_some() || get(&["tool", "setuptools-scm"]).is_some() {
        return Source::Vcs("setuptools-scm");
    }
    if let Some(dynver) =
        get(&["tool", "setuptools", "dynamic", "version"]).and_then(Item::as_table_like)
    {
        if let Some(attr) = dynver.get("attr").and_then(Item::as_str) {
            let package_dir = get_str(&["tool", "setuptools", "package-dir", ""]);
            return attr_source(dir, attr, package_dir.as_deref());
        }
        let file = dynver.get("file").and_then(|f| {
            f.as_str()
                .map(str::to_string)
                .or_else(|| f.as_array()?.get(0)?.as_str().map(str::to_string))
        });
        if let Some(file) = file {
            return join_rel(dir, &file).map_or(Source::Unknown, Source::WholeFile);
        }
    }
    if let Some(hatch) = get(&["tool", "hatch", "version"]).and_then(Item::as_table_like) {
        if let Some(path) = hatch.get("path").and_then(Item::as_str) {
            return join_rel(dir, path).map_or(Source::Unknown, |p| Source::Assignment {
                module_candidates: vec![p],
                name: "__version__".into(),
            });
        }
        if hatch.get("source").and_then(Item::as_str) == Some("vcs") {
            return Source::Vcs("hatch-vcs");
        }
    }
    if let Some(pdm) = get(&["tool", "pdm", "version"]).and_then(Item::as_table_like) {
        match pdm.get("source").and_then(Item::as_str) {
            Some("file") => {
                if let Some(path) = pdm.get("path").and_then(Item::as_str) {
                    return join_rel(dir, path).map_or(Source::Unknown, |p| Source::Assignment {
                        module_candidates: vec![p],
                        name: "__version__".into(),
                    });
                }
            }
            Some("scm") => return Source::Vcs("pdm scm"),
            _ => {}
        }
    }
    if backend.starts_with("flit") {
        let module = get_str(&["tool", "flit", "module", "name"])
            .or_else(|| get_str(&["project", "name"]))
            .unwrap_or_default()
            .replace(['-', '.'], "_");
        if !module.is_empty() {
            return attr_source(dir, &format!("{module}.__version__"), None);
        }
    }
    Source::Unknown
}

/// `pkg.sub.__version__` → candidate files `[src/]pkg/sub/__init__.py`, `[src/]pkg/sub.py`.
fn attr_source(dir: &str, attr: &str, package_dir: Option<&str>) -> Source {
    let Some((module, name)) = attr.rsplit_once('.') else {
        return Source::Unknown;
    };
    let module_path = module.replace('.', "/");
    let mut bases: Vec<String> = Vec::new();
    if let Some(pd) = package_dir {
        bases.push(pd.to_string());
    }
    bases.push("src".into());
    bases.push(String::new());
    let module_candidates = bases
        .iter()
        .flat_map(|b| {
            let base = if b.is_empty() {
                module_path.clone()
            } else {
                format!("{b}/{module_path}")
            };
            [format!("{base}/__init__.py"), format!("{base}.py")]
        })
        .filter_map(|c| join_rel(dir, &c))
        .collect();
    Source::Assignment {
        module_candidates,
        name: name.to_string(),
    }
}

/// The project name a pyproject.toml publishes under: `[project].name`, else Poetry's
/// `[tool.poetry].name`; `None` when the file cannot be read or names none.
pub(crate) fn project_name(pyproject: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(pyproject).ok()?;
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    doc.get("project")
        .and_then(|p| p.get("name"))
        .or_else(|| doc.get("tool")?.get("poetry")?.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
}
