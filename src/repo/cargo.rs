//! Cargo products: a workspace (or single package) and every place its version lives —
//! `package.version`, `workspace.package.version`, requirements on released members in every
//! dependency table, and the members' entries in Cargo.lock.
//!
//! The workspace is read from the manifests directly (no `cargo metadata`), so a bump costs a few
//! milliseconds even on hundreds of crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_spanned::Spanned;
use toml_edit::{Document, Item, TableLike, Value};

use super::{join_rel, parent_rel, Loader, NewLocation, Role};
use crate::edit::{self, Found};
use crate::report::Problem;
use crate::version::Scheme;

/// A package of a Cargo product's workspace.
#[derive(Debug, Clone, Serialize)]
pub struct CargoPackage {
    pub name: String,
    /// Its Cargo.toml, relative to the repository root.
    pub manifest: String,
    /// `version.workspace = true`.
    pub inherits_version: bool,
    /// `publish = false` (or an empty registry list).
    pub publish: bool,
    /// Listed in the product's `exclude`: not bumped, not released.
    pub excluded: bool,
    /// Dependencies on other members (normal and build; dev-dependencies are not publish order).
    pub depends_on: Vec<String>,
}

struct Member {
    manifest: String,
    dir: String,
    file: usize,
    doc: Document<String>,
    name: String,
}

const DEP_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

pub(super) fn load(
    loader: &mut Loader<'_>,
    product: &str,
    manifest: &Spanned<String>,
    exclude: &[Spanned<String>],
) -> Vec<CargoPackage> {
    let root_rel = manifest.get_ref().clone();
    let Some(root_file) = loader.file(&root_rel) else {
        return Vec::new();
    };
    let Some(root_doc) = loader.toml(root_file) else {
        return Vec::new();
    };
    let root_dir = parent_rel(&root_rel).to_string();

    let mut member_manifests: Vec<String> = Vec::new();
    let workspace = root_doc
        .as_table()
        .get("workspace")
        .and_then(Item::as_table_like);
    if root_doc.as_table().contains_key("package") {
        member_manifests.push(root_rel.clone());
    }
    if let Some(ws) = workspace {
        let excluded_dirs: BTreeSet<String> = string_array(ws.get("exclude"))
            .iter()
            .filter_map(|e| join_rel(&root_dir, e))
            .collect();
        for pattern in string_array(ws.get("members")) {
            let dirs = expand_glob(loader.root_path(), &root_dir, &pattern);
            if dirs.is_empty() && !pattern.contains(['*', '?', '[']) {
                let at = line_of_key(loader.text(root_file), "members");
                loader.problem(
                    Problem::at(
                        &root_rel,
                        at,
                        format!("workspace member `{pattern}` has no Cargo.toml"),
                    )
                    .hint("fix `workspace.members`"),
                );
            }
            for dir in dirs {
                let m = if dir.is_empty() {
                    "Cargo.toml".to_string()
                } else {
                    format!("{dir}/Cargo.toml")
                };
                if !excluded_dirs.contains(&dir) && !member_manifests.contains(&m) {
                    member_manifests.push(m);
                }
            }
        }
        if let Some(found) = string_at(
            loader,
            root_file,
            &root_doc,
            &["workspace", "package", "version"],
        ) {
            loader.add(
                root_file,
                NewLocation {
                    found,
                    role: Role::Version,
                    scheme: Scheme::Semver,
                    format: None,
                    product: Some(product),
                    what: "workspace.package.version".into(),
                },
            );
        }
    }

    // Members, plus path dependencies inside the workspace root (Cargo makes those members too).
    let mut members: Vec<Member> = Vec::new();
    let mut queue = member_manifests;
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    while let Some(m) = queue.pop() {
        let member = if m == root_rel {
            Member {
                manifest: m.clone(),
                dir: root_dir.clone(),
                file: root_file,
                doc: root_doc.clone(),
                name: String::new(),
            }
        } else {
            let Some(file) = loader.file(&m) else {
                continue;
            };
            let Some(doc) = loader.toml(file) else {
                continue;
            };
            Member {
                manifest: m.clone(),
                dir: parent_rel(&m).to_string(),
                file,
                doc,
                name: String::new(),
            }
        };
        let Some(name) = member
            .doc
            .as_table()
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(Item::as_str)
            .map(str::to_string)
        else {
            if member.manifest != root_rel {
                loader.problem(
                    Problem::in_file(&member.manifest, "has no `package.name`")
                        .hint("every workspace member needs [package] name"),
                );
            }
            continue;
        };
        if workspace.is_some() {
            for path in dependency_entries(&member.doc)
                .into_iter()
                .filter_map(|(_, t)| dep_path(t))
            {
                if let Some(dir) = join_rel(&member.dir, &path) {
                    let inside = root_dir.is_empty()
                        || dir == root_dir
                        || dir.starts_with(&format!("{root_dir}/"));
                    let manifest = if dir.is_empty() {
                        "Cargo.toml".to_string()
                    } else {
                        format!("{dir}/Cargo.toml")
                    };
                    if inside && loader.exists(&manifest) && seen.insert(manifest.clone()) {
                        queue.push(manifest);
                    }
                }
            }
        }
        members.push(Member { name, ..member });
    }
    members.sort_by(|a, b| a.manifest.cmp(&b.manifest));

    let names: BTreeSet<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let mut excluded: BTreeSet<String> = BTreeSet::new();
    for e in exclude {
        if names.contains(e.get_ref().as_str()) {
            excluded.insert(e.get_ref().clone());
        } else {
            loader.config_problem(
                e,
                format!(
                    "`exclude` names `{}`, which is not a package of `{}`",
                    e.get_ref(),
                    root_rel
                ),
                "use a package name from the workspace",
            );
        }
    }
    let released: BTreeMap<String, String> = members
        .iter()
        .filter(|m| !excluded.contains(&m.name))
        .map(|m| (m.dir.clone(), m.name.clone()))
        .collect();
    let released_names: BTreeSet<&str> = released.values().map(String::as_str).collect();

    let mut packages = Vec::new();
    for m in &members {
        let package = m.doc.as_table().get("package");
        let version_item = package.and_then(|p| p.get("version"));
        let inherits = version_item
            .and_then(Item::as_table_like)
            .and_then(|t| t.get("workspace"))
            .and_then(Item::as_bool)
            .unwrap_or(false);
        let is_excluded = excluded.contains(&m.name);
        if !inherits && !is_excluded {
            match string_at(loader, m.file, &m.doc, &["package", "version"]) {
                Some(found) => loader.add(m.file, NewLocation {
                    found,
                    role: Role::Version,
                    scheme: Scheme::Semver,
                    format: None,
                    product: Some(product),
                    what: format!("package.version of {}", m.name),
                }),
                None => loader.note(format!(
                    "{}: package `{}` has no version (Cargo reads 0.0.0); it is left out of the bump",
                    m.manifest, m.name
                )),
            }
        }
        let publish = match package.and_then(|p| p.get("publish")) {
            Some(Item::Value(Value::Boolean(b))) => *b.value(),
            Some(Item::Value(Value::Array(a))) => !a.is_empty(),
            _ => true,
        };
        let mut depends_on = BTreeSet::new();
        for (table_kind, key, entry) in dependency_entries_with_kind(&m.doc) {
            let Some(path) = dep_path(entry) else {
                continue;
            };
            let Some(dir) = join_rel(&m.dir, &path) else {
                continue;
            };
            let Some(dep_name) = released.get(&dir) else {
                continue;
            };
            if table_kind != "dev-dependencies" {
                depends_on.insert(dep_name.clone());
            }
            if let Some(found) = requirement(loader, m.file, entry) {
                loader.add(
                    m.file,
                    NewLocation {
                        found,
                        role: Role::Requirement,
                        scheme: Scheme::Semver,
                        format: None,
                        product: Some(product),
                        what: format!("{table_kind} `{key}` of {}", m.name),
                    },
                );
            }
        }
        packages.push(CargoPackage {
            name: m.name.clone(),
            manifest: m.manifest.clone(),
            inherits_version: inherits,
            publish,
            excluded: is_excluded,
            depends_on: depends_on.into_iter().collect(),
        });
    }

    // [workspace.dependencies] entries that point at released members.
    if let Some(deps) = workspace
        .and_then(|ws| ws.get("dependencies"))
        .and_then(Item::as_table_like)
    {
        for (key, item) in deps.iter() {
            let Some(entry) = item.as_table_like() else {
                continue;
            };
            let Some(path) = dep_path(entry) else {
                continue;
            };
            let Some(dir) = join_rel(&root_dir, &path) else {
                continue;
            };
            if released.contains_key(&dir) {
                if let Some(found) = requirement(loader, root_file, entry) {
                    loader.add(
                        root_file,
                        NewLocation {
                            found,
                            role: Role::Requirement,
                            scheme: Scheme::Semver,
                            format: None,
                            product: Some(product),
                            what: format!("workspace.dependencies `{key}`"),
                        },
                    );
                }
            }
        }
    }

    let lock = if root_dir.is_empty() {
        "Cargo.lock".to_string()
    } else {
        format!("{root_dir}/Cargo.lock")
    };
    if loader.exists(&lock) {
        lockfile(loader, product, &lock, &released_names);
    }
    packages
}

/// The manifests of a workspace's members, relative to the repository `root`, sorted: the root
/// package (when the workspace manifest has one), `workspace.members` globs minus
/// `workspace.exclude`, and path dependencies inside the workspace directory (Cargo makes those
/// members too) — the same rules [`load`] follows. Empty when `manifest` is not a workspace root or
/// cannot be read.
/// Names of the workspace members that cannot be published (`publish = false` or `publish = []`):
/// `cargo package --workspace` must leave them out.
pub(crate) fn unpublishable_members(root: &Path, manifest: &str) -> Vec<String> {
    let mut names: Vec<String> = workspace_member_manifests(root, manifest)
        .iter()
        .filter_map(|rel| {
            let doc = Document::parse(std::fs::read_to_string(root.join(rel)).ok()?).ok()?;
            let package = doc.as_table().get("package")?;
            let publish = match package.get("publish") {
                Some(Item::Value(Value::Boolean(b))) => *b.value(),
                Some(Item::Value(Value::Array(a))) => !a.is_empty(),
                _ => true,
            };
            (!publish).then(|| package.get("name")?.as_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

pub(crate) fn workspace_member_manifests(root: &Path, manifest: &str) -> Vec<String> {
    let read = |rel: &str| -> Option<Document<String>> {
        Document::parse(std::fs::read_to_string(root.join(rel)).ok()?).ok()
    };
    let Some(root_doc) = read(manifest) else {
        return Vec::new();
    };
    let Some(ws) = root_doc
        .as_table()
        .get("workspace")
        .and_then(Item::as_table_like)
    else {
        return Vec::new();
    };
    let root_dir = parent_rel(manifest).to_string();
    let manifest_in = |dir: &str| {
        if dir.is_empty() {
            "Cargo.toml".to_string()
        } else {
            format!("{dir}/Cargo.toml")
        }
    };
    let excluded_dirs: BTreeSet<String> = string_array(ws.get("exclude"))
        .iter()
        .filter_map(|e| join_rel(&root_dir, e))
        .collect();
    let mut found: BTreeSet<String> = BTreeSet::new();
    if root_doc.as_table().contains_key("package") {
        found.insert(manifest.to_string());
    }
    for pattern in string_array(ws.get("members")) {
        for dir in expand_glob(root, &root_dir, &pattern) {
            if !excluded_dirs.contains(&dir) {
                found.insert(manifest_in(&dir));
            }
        }
    }
    let mut queue: Vec<String> = found.iter().cloned().collect();
    while let Some(m) = queue.pop() {
        let doc = if m == manifest {
            Some(root_doc.clone())
        } else {
            read(&m)
        };
        let Some(doc) = doc else { continue };
        let dir = parent_rel(&m).to_string();
        for path in dependency_entries(&doc)
            .into_iter()
            .filter_map(|(_, t)| dep_path(t))
        {
            let Some(dep_dir) = join_rel(&dir, &path) else {
                continue;
            };
            let inside = root_dir.is_empty()
                || dep_dir == root_dir
                || dep_dir.starts_with(&format!("{root_dir}/"));
            let dep_manifest = manifest_in(&dep_dir);
            if inside && root.join(&dep_manifest).is_file() && found.insert(dep_manifest.clone()) {
                queue.push(dep_manifest);
            }
        }
    }
    found.into_iter().collect()
}

/// Members' `[[package]]` versions in Cargo.lock, and `"name version"` dependency strings that
/// name them (Cargo writes the version only when a name is ambiguous).
fn lockfile(loader: &mut Loader<'_>, product: &str, lock: &str, released: &BTreeSet<&str>) {
    let Some(file) = loader.file(lock) else {
        return;
    };
    let Some(doc) = loader.toml(file) else { return };
    let text = loader.text(file).to_string();
    let Some(packages) = doc
        .as_table()
        .get("package")
        .and_then(Item::as_array_of_tables)
    else {
        return;
    };
    let mut found_locations = Vec::new();
    for pkg in packages.iter() {
        let name = pkg.get("name").and_then(Item::as_str).unwrap_or_default();
        if pkg.contains_key("source") {
            continue;
        }
        if released.contains(name) {
            if let Some(Item::Value(v)) = pkg.get("version") {
                if let Ok(found) = edit::toml::string_of(&text, v) {
                    found_locations.push((found, format!("Cargo.lock version of {name}"), None));
                }
            }
        }
    }
    for pkg in packages.iter() {
        let Some(deps) = pkg.get("dependencies").and_then(Item::as_array) else {
            continue;
        };
        for dep in deps.iter() {
            let Ok(found) = edit::toml::string_of(&text, dep) else {
                continue;
            };
            let mut parts = found.text.split(' ');
            let (Some(name), Some(version), None) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if released.contains(name) {
                let start = found.span.start + name.len() + 1;
                let version_found = Found {
                    span: start..start + version.len(),
                    line: found.line,
                    text: version.to_string(),
                };
                let owner = pkg.get("name").and_then(Item::as_str).unwrap_or_default();
                found_locations.push((
                    version_found,
                    format!("Cargo.lock dependency of {owner} on {name}"),
                    None::<&str>,
                ));
            }
        }
    }
    for (found, what, format) in found_locations {
        loader.add(
            file,
            NewLocation {
                found,
                role: Role::Version,
                scheme: Scheme::Semver,
                format,
                product: Some(product),
                what,
            },
        );
    }
}

fn string_at(
    loader: &mut Loader<'_>,
    file: usize,
    doc: &Document<String>,
    path: &[&str],
) -> Option<Found> {
    let text = loader.text(file).to_string();
    match edit::toml::find_string(&text, doc, path) {
        Ok(found) => found,
        Err(e) => {
            let line = edit::toml::item_at(doc.as_item(), path)
                .and_then(Item::span)
                .map_or(1, |s| edit::line_of(&text, s.start));
            let rel = loader.files[file].rel.clone();
            loader.problem(
                Problem::at(&rel, line, format!("`{}`: {e}", path.join(".")))
                    .hint("write the version as a plain string"),
            );
            None
        }
    }
}

/// The `version` requirement of a dependency entry, when it has one.
fn requirement(loader: &mut Loader<'_>, file: usize, entry: &dyn TableLike) -> Option<Found> {
    let text = loader.text(file).to_string();
    match entry.get("version")? {
        Item::Value(v) => match edit::toml::string_of(&text, v) {
            Ok(found) => Some(found),
            Err(e) => {
                let rel = loader.files[file].rel.clone();
                let line = v.span().map_or(1, |s| edit::line_of(&text, s.start));
                loader.problem(
                    Problem::at(&rel, line, format!("dependency version: {e}"))
                        .hint("write the requirement as a plain string"),
                );
                None
            }
        },
        _ => None,
    }
}

fn dep_path(entry: &dyn TableLike) -> Option<String> {
    if entry.get("workspace").and_then(Item::as_bool) == Some(true) {
        return None;
    }
    entry.get("path").and_then(Item::as_str).map(str::to_string)
}

/// Every dependency entry that is a table: (key, entry), across all dependency tables including
/// `target.'cfg(..)'.*`.
fn dependency_entries(doc: &Document<String>) -> Vec<(String, &dyn TableLike)> {
    dependency_entries_with_kind(doc)
        .into_iter()
        .map(|(_, k, t)| (k, t))
        .collect()
}

fn dependency_entries_with_kind(
    doc: &Document<String>,
) -> Vec<(&'static str, String, &dyn TableLike)> {
    fn scan<'a>(
        table: &'a dyn TableLike,
        out: &mut Vec<(&'static str, String, &'a dyn TableLike)>,
    ) {
        for kind in DEP_TABLES {
            let Some(deps) = table.get(kind).and_then(Item::as_table_like) else {
                continue;
            };
            for (key, item) in deps.iter() {
                if let Some(entry) = item.as_table_like() {
                    out.push((kind, key.to_string(), entry));
                }
            }
        }
    }
    let mut out = Vec::new();
    let root = doc.as_table();
    scan(root, &mut out);
    if let Some(targets) = root.get("target").and_then(Item::as_table_like) {
        for (_, target) in targets.iter() {
            if let Some(t) = target.as_table_like() {
                scan(t, &mut out);
            }
        }
    }
    out
}

fn string_array(item: Option<&Item>) -> Vec<String> {
    item.and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(key))
        .map_or(1, |i| i + 1)
}

/// Expand a workspace member glob (`crates/*`, `libs/a?`, plain paths) to directories holding a
/// Cargo.toml, relative to the repository root.
fn expand_glob(root: &Path, base: &str, pattern: &str) -> Vec<String> {
    let Some(joined) = join_rel(base, pattern) else {
        return Vec::new();
    };
    let mut current: Vec<String> = vec![String::new()];
    for segment in joined.split('/') {
        let mut next = Vec::new();
        for dir in &current {
            if segment.contains(['*', '?', '[']) {
                let full = if dir.is_empty() {
                    root.to_path_buf()
                } else {
                    root.join(dir)
                };
                let Ok(read) = std::fs::read_dir(&full) else {
                    continue;
                };
                let mut names: Vec<String> = read
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| crate::glob::segment_match(segment, n))
                    .collect();
                names.sort();
                for n in names {
                    next.push(if dir.is_empty() {
                        n
                    } else {
                        format!("{dir}/{n}")
                    });
                }
            } else {
                next.push(if dir.is_empty() {
                    segment.to_string()
                } else {
                    format!("{dir}/{segment}")
                });
            }
        }
        current = next;
    }
    current
        .into_iter()
        .filter(|d| root.join(d).join("Cargo.toml").is_file())
        .collect()
}
