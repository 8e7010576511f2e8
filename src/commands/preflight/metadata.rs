//! The `metadata` group: what each registry requires or users expect, read from the manifests.
//!
//! - cargo, per publishable crate: `license` or `license-file` (the file exists), `description`,
//!   `repository`, a readme (the file exists: `readme`, else README.md / README.txt / README
//!   beside the manifest; `readme = false` opts out), no normal or build dependency with a `path`
//!   and no `version` (cargo cannot publish it; dev-dependencies are fine), and no dependency on a
//!   workspace member with `publish = false` (the release needs it on the registry);
//! - python: `name`, `version` (static or dynamic), a license, `readme` (the file exists),
//!   `requires-python` (`[project]`, or Poetry's `[tool.poetry]`);
//! - npm: `name`, `version`, `license`, `repository`, and `files` or an `.npmignore`.

use std::collections::BTreeMap;
use std::path::Path;

use toml_edit::{Document, Item, TableLike};

use super::Context;
use crate::config::Ecosystem;
use crate::edit::line_of;
use crate::repo::{CargoPackage, Product, Repo};
use crate::report::Check;

pub(super) fn checks(cx: &Context<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    for product in &cx.repo.products {
        let Some(manifest) = product.manifest.as_deref() else {
            continue;
        };
        match product.ecosystem {
            Ecosystem::Cargo => cargo(cx.repo, product, manifest, &mut checks),
            Ecosystem::Python => python(cx.repo, product, manifest, &mut checks),
            Ecosystem::Npm => npm(cx.repo, product, manifest, &mut checks),
            Ecosystem::Go | Ecosystem::Assets => {}
        }
    }
    checks
}

/// The directory of a repository-relative path (`""` for the root).
fn dir_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `dir/name`, or `name` at the root.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// A file of the repository, parsed as TOML (spans kept for line numbers).
struct TomlFile {
    rel: String,
    text: String,
    doc: Document<String>,
}

fn read_toml(repo: &Repo, rel: &str) -> Result<TomlFile, String> {
    let text = std::fs::read_to_string(repo.root.join(rel))
        .map_err(|e| format!("cannot read {rel}: {e}"))?;
    let doc = Document::parse(text.clone())
        .map_err(|e| format!("{rel} is not valid TOML: {}", e.message().trim()))?;
    Ok(TomlFile {
        rel: rel.to_string(),
        text,
        doc,
    })
}

fn non_empty_str(item: Option<&Item>) -> Option<&str> {
    item.and_then(Item::as_str).filter(|s| !s.trim().is_empty())
}

// ---------------------------------------------------------------------------------------------
// Cargo

fn cargo(repo: &Repo, product: &Product, manifest: &str, checks: &mut Vec<Check>) {
    let root = match read_toml(repo, manifest) {
        Ok(root) => root,
        Err(e) => {
            checks.push(Check::fail(
                &product.name,
                "manifest",
                e,
                "fix the workspace manifest",
            ));
            return;
        }
    };
    let members: BTreeMap<&str, &CargoPackage> = product
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    for package in product.packages.iter().filter(|p| p.publish && !p.excluded) {
        let subject = if package.name == product.name {
            package.name.clone()
        } else {
            format!("{}/{}", product.name, package.name)
        };
        let own;
        let file = if package.manifest == root.rel {
            &root
        } else {
            match read_toml(repo, &package.manifest) {
                Ok(file) => {
                    own = file;
                    &own
                }
                Err(e) => {
                    checks.push(Check::fail(&subject, "manifest", e, "fix the manifest"));
                    continue;
                }
            }
        };
        CrateCheck {
            repo,
            root: &root,
            file,
            subject: &subject,
            package,
            members: &members,
        }
        .run(checks);
    }
}

struct CrateCheck<'a> {
    repo: &'a Repo,
    /// The workspace manifest (`[workspace.package]`, `[workspace.dependencies]`).
    root: &'a TomlFile,
    file: &'a TomlFile,
    subject: &'a str,
    package: &'a CargoPackage,
    members: &'a BTreeMap<&'a str, &'a CargoPackage>,
}

/// A `[package]` field, and the directory its paths are relative to (the workspace root's when
/// inherited with `field.workspace = true`).
struct Field<'a> {
    item: &'a Item,
    dir: &'a str,
}

impl CrateCheck<'_> {
    fn run(&self, checks: &mut Vec<Check>) {
        checks.push(self.license());
        for (key, example) in [
            ("description", "\"One line on what the crate does\""),
            ("repository", "\"https://github.com/OWNER/REPO\""),
        ] {
            checks.push(match self.field(key).and_then(|f| non_empty_str(Some(f.item))) {
                Some(value) => Check::pass(self.subject, key, value),
                None => Check::fail(
                    self.subject,
                    key,
                    format!("no `{key}` in {}", self.file.rel),
                    format!(
                        "add `{key} = {example}` under [package] in {} (or `{key}.workspace = true` with [workspace.package] {key})",
                        self.file.rel
                    ),
                ),
            });
        }
        checks.push(self.readme());
        checks.push(self.path_dependencies());
        if let Some(check) = self.unpublishable_dependencies() {
            checks.push(check);
        }
    }

    fn package_table(&self) -> Option<&dyn TableLike> {
        self.file.doc.as_table().get("package")?.as_table_like()
    }

    fn field(&self, key: &str) -> Option<Field<'_>> {
        let item = self.package_table()?.get(key)?;
        let inherits = item
            .as_table_like()
            .and_then(|t| t.get("workspace"))
            .and_then(Item::as_bool)
            == Some(true);
        if inherits {
            let item = self
                .root
                .doc
                .as_table()
                .get("workspace")?
                .get("package")?
                .get(key)?;
            Some(Field {
                item,
                dir: dir_of(&self.root.rel),
            })
        } else {
            Some(Field {
                item,
                dir: dir_of(&self.file.rel),
            })
        }
    }

    fn license(&self) -> Check {
        if let Some(license) = self
            .field("license")
            .and_then(|f| non_empty_str(Some(f.item)))
        {
            return Check::pass(self.subject, "license", license);
        }
        if let Some(field) = self.field("license-file") {
            if let Some(path) = non_empty_str(Some(field.item)) {
                let rel = join(field.dir, path);
                return if self.repo.root.join(&rel).is_file() {
                    Check::pass(self.subject, "license", format!("license-file {rel}"))
                } else {
                    Check::fail(
                        self.subject,
                        "license",
                        format!("license-file `{path}` does not exist ({rel})"),
                        format!("add the file, or fix `license-file` in {}", self.file.rel),
                    )
                };
            }
        }
        Check::fail(
            self.subject,
            "license",
            format!("no `license` or `license-file` in {}", self.file.rel),
            format!(
                "add `license = \"MIT OR Apache-2.0\"` (an SPDX expression) under [package] in {}, or `license.workspace = true` with [workspace.package] license",
                self.file.rel
            ),
        )
    }

    fn readme(&self) -> Check {
        let dir = dir_of(&self.file.rel);
        let (candidates, dir) = match self.field("readme") {
            Some(Field { item, .. }) if item.as_bool() == Some(false) => {
                return Check::pass(
                    self.subject,
                    "readme",
                    "readme = false: no README on purpose",
                )
            }
            Some(Field { item, .. }) if item.as_bool() == Some(true) => (vec!["README.md"], dir),
            Some(Field { item, dir }) => match non_empty_str(Some(item)) {
                Some(path) => (vec![path], dir),
                None => (vec![], dir),
            },
            None => (vec!["README.md", "README.txt", "README"], dir),
        };
        match candidates
            .iter()
            .map(|c| join(dir, c))
            .find(|rel| self.repo.root.join(rel).is_file())
        {
            Some(rel) => Check::pass(self.subject, "readme", rel),
            None if candidates.len() == 1 => Check::fail(
                self.subject,
                "readme",
                format!("readme `{}` does not exist", join(dir, candidates[0])),
                format!("add the file, or fix `readme` in {}", self.file.rel),
            ),
            None => Check::fail(
                self.subject,
                "readme",
                format!("no README beside {} and no `readme` key", self.file.rel),
                format!(
                    "add {} (the registry shows it as the crate's page), or point `readme` at one",
                    join(dir, "README.md")
                ),
            ),
        }
    }

    /// Normal and build dependencies with a `path` and no `version`, each `file:line key`.
    fn path_dependencies(&self) -> Check {
        let mut found: Vec<String> = Vec::new();
        let workspace_deps = self
            .root
            .doc
            .as_table()
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(Item::as_table_like);
        for table in dependency_tables(&self.file.doc) {
            for (key, item) in table.iter() {
                let Some(entry) = item.as_table_like() else {
                    continue;
                };
                let inherited = entry.get("workspace").and_then(Item::as_bool) == Some(true);
                let (file, table, entry) = if inherited {
                    match workspace_deps.and_then(|d| Some((d, d.get(key)?.as_table_like()?))) {
                        Some((deps, entry)) => (self.root, deps, entry),
                        None => continue,
                    }
                } else {
                    (self.file, table, entry)
                };
                if entry.contains_key("path") && !entry.contains_key("version") {
                    let line = table
                        .key(key)
                        .and_then(|k| k.span())
                        .map_or(1, |s| line_of(&file.text, s.start));
                    let at = format!("{}:{line}  {key}", file.rel);
                    if !found.contains(&at) {
                        found.push(at);
                    }
                }
            }
        }
        if found.is_empty() {
            return Check::pass(
                self.subject,
                "dependencies",
                "every path dependency has a version",
            );
        }
        Check::fail(
            self.subject,
            "dependencies",
            format!(
                "path dependency without a `version` (cargo publish refuses it):\n      {}",
                found.join("\n      ")
            ),
            "add `version = \"X.Y.Z\"` beside each `path` (the version published on the registry); dev-dependencies may stay path-only",
        )
    }

    /// Normal and build dependencies on workspace members with `publish = false`.
    fn unpublishable_dependencies(&self) -> Option<Check> {
        let blocked: Vec<&str> = self
            .package
            .depends_on
            .iter()
            .filter(|d| self.members.get(d.as_str()).is_some_and(|m| !m.publish))
            .map(String::as_str)
            .collect();
        if blocked.is_empty() {
            return None;
        }
        Some(Check::fail(
            self.subject,
            "publish",
            format!(
                "depends on {}, which has `publish = false`: the registry cannot resolve it",
                blocked.join(", ")
            ),
            "remove `publish = false` from the crates the release needs (or drop the dependency); only crates nothing published depends on may stay unpublished",
        ))
    }
}

/// `[dependencies]`, `[build-dependencies]` and their `[target.'cfg(..)'.*]` forms.
fn dependency_tables(doc: &Document<String>) -> Vec<&dyn TableLike> {
    const KINDS: [&str; 2] = ["dependencies", "build-dependencies"];
    let mut tables = Vec::new();
    let top = doc.as_table();
    tables.extend(KINDS.iter().filter_map(|k| top.get(k)?.as_table_like()));
    if let Some(targets) = top.get("target").and_then(Item::as_table_like) {
        for (_, target) in targets.iter() {
            if let Some(target) = target.as_table_like() {
                tables.extend(KINDS.iter().filter_map(|k| target.get(k)?.as_table_like()));
            }
        }
    }
    tables
}

// ---------------------------------------------------------------------------------------------
// Python

fn python(repo: &Repo, product: &Product, manifest: &str, checks: &mut Vec<Check>) {
    let subject = product.name.as_str();
    let file = match read_toml(repo, manifest) {
        Ok(file) => file,
        Err(e) => {
            checks.push(Check::fail(subject, "manifest", e, "fix pyproject.toml"));
            return;
        }
    };
    let doc = file.doc.as_table();
    let project = doc.get("project").and_then(Item::as_table_like);
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(Item::as_table_like);
    let (table, section) = match (project, poetry) {
        (Some(p), _) => (p, "[project]"),
        (None, Some(p)) => (p, "[tool.poetry]"),
        (None, None) => {
            checks.push(Check::fail(
                subject,
                "metadata",
                format!("{manifest} has no [project] table"),
                format!("add [project] with name, version, license, readme and requires-python to {manifest}"),
            ));
            return;
        }
    };
    let dir = dir_of(manifest);
    let missing = |key: &str, example: &str| {
        Check::fail(
            subject,
            key,
            format!("no `{key}` in {section} of {manifest}"),
            format!("add `{key} = {example}` under {section} in {manifest}"),
        )
    };
    checks.push(match non_empty_str(table.get("name")) {
        Some(name) => Check::pass(subject, "name", name),
        None => missing("name", "\"project-name\""),
    });
    let dynamic_version = table
        .get("dynamic")
        .and_then(Item::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
    checks.push(match non_empty_str(table.get("version")) {
        Some(version) => Check::pass(subject, "version", version),
        None if dynamic_version => {
            Check::pass(subject, "version", "dynamic (set by the build backend)")
        }
        None => missing("version", "\"X.Y.Z\""),
    });
    let license = table.get("license").and_then(|l| {
        l.as_str()
            .map(str::to_string)
            .or_else(|| {
                let t = l.as_table_like()?;
                non_empty_str(t.get("text"))
                    .map(str::to_string)
                    .or_else(|| non_empty_str(t.get("file")).map(|f| format!("file {f}")))
            })
            .filter(|s| !s.trim().is_empty())
    });
    let classifier = table
        .get("classifiers")
        .and_then(Item::as_array)
        .and_then(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .find(|c| c.starts_with("License ::"))
        })
        .map(str::to_string);
    let license_files = table.get("license-files").is_some();
    checks.push(match (license, classifier, license_files) {
        (Some(l), _, _) | (None, Some(l), _) => Check::pass(subject, "license", l),
        (None, None, true) => Check::pass(subject, "license", "license-files"),
        (None, None, false) => missing("license", "\"MIT\""),
    });
    let readme = table.get("readme").and_then(|r| {
        r.as_str().map(|p| Ok(p.to_string())).or_else(|| {
            let t = r.as_table_like()?;
            non_empty_str(t.get("file"))
                .map(|f| Ok(f.to_string()))
                .or_else(|| non_empty_str(t.get("text")).map(|_| Err("inline text")))
        })
    });
    checks.push(match readme {
        Some(Ok(path)) => {
            let rel = join(dir, &path);
            if repo.root.join(&rel).is_file() {
                Check::pass(subject, "readme", rel)
            } else {
                Check::fail(
                    subject,
                    "readme",
                    format!("readme `{path}` does not exist ({rel})"),
                    format!("add the file, or fix `readme` in {manifest}"),
                )
            }
        }
        Some(Err(what)) => Check::pass(subject, "readme", what),
        None => missing("readme", "\"README.md\""),
    });
    let requires_python = if section == "[tool.poetry]" {
        non_empty_str(table.get("dependencies").and_then(|d| d.get("python")))
    } else {
        non_empty_str(table.get("requires-python"))
    };
    checks.push(match requires_python {
        Some(spec) => Check::pass(subject, "requires-python", spec),
        None if section == "[tool.poetry]" => Check::fail(
            subject,
            "requires-python",
            format!("no `python` in [tool.poetry.dependencies] of {manifest}"),
            format!("add `python = \">=3.9\"` under [tool.poetry.dependencies] in {manifest}"),
        ),
        None => missing("requires-python", "\">=3.9\""),
    });
}

// ---------------------------------------------------------------------------------------------
// npm

fn npm(repo: &Repo, product: &Product, manifest: &str, checks: &mut Vec<Check>) {
    let subject = product.name.as_str();
    let parsed = std::fs::read_to_string(repo.root.join(manifest))
        .map_err(|e| format!("cannot read {manifest}: {e}"))
        .and_then(|t| {
            serde_json::from_str::<serde_json::Value>(&t)
                .map_err(|e| format!("{manifest} is not valid JSON: {e}"))
        });
    let json = match parsed {
        Ok(json) => json,
        Err(e) => {
            checks.push(Check::fail(subject, "manifest", e, "fix package.json"));
            return;
        }
    };
    let string = |key: &str| {
        json.get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    let missing = |key: &str, example: &str| {
        Check::fail(
            subject,
            key,
            format!("no \"{key}\" in {manifest}"),
            format!("add \"{key}\": {example} to {manifest}"),
        )
    };
    for (key, example) in [
        ("name", "\"@scope/name\""),
        ("version", "\"X.Y.Z\""),
        ("license", "\"MIT\""),
    ] {
        checks.push(match string(key) {
            Some(value) => Check::pass(subject, key, value),
            None => missing(key, example),
        });
    }
    let repository = string("repository").or_else(|| {
        json.get("repository")?
            .get("url")?
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    });
    checks.push(match repository {
        Some(url) => Check::pass(subject, "repository", url),
        None => missing(
            "repository",
            "{ \"type\": \"git\", \"url\": \"git+https://github.com/OWNER/REPO.git\" }",
        ),
    });
    let dir = dir_of(manifest);
    let npmignore = join(dir, ".npmignore");
    let files = json.get("files").and_then(|f| f.as_array()).map(Vec::len);
    checks.push(match files {
        Some(n) if n > 0 => {
            Check::pass(subject, "files", format!("\"files\" lists {n} pattern(s)"))
        }
        _ if Path::new(&repo.root.join(&npmignore)).is_file() => {
            Check::pass(subject, "files", npmignore)
        }
        _ => Check::fail(
            subject,
            "files",
            format!(
                "no \"files\" in {manifest} and no {npmignore}: npm would publish everything in {}",
                if dir.is_empty() {
                    "the repository root"
                } else {
                    dir
                }
            ),
            format!(
                "list what the package ships in \"files\" of {manifest} (or add an .npmignore)"
            ),
        ),
    });
}
