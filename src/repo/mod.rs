//! The Repo model, loaded once per run: the config, its products, and every place a version lives
//! (with the exact byte span of each value), read from the files on disk.
//!
//! Commands receive `&Repo` and build a plan from it; nothing here writes.

mod cargo;
mod npm;
mod python;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::Serialize;
use serde_spanned::Spanned;

use crate::config::{Ecosystem, KeyFileKind, LoadedConfig, VersionFileConfig};
use crate::edit::{self, json, pattern, Found};
use crate::report::{Problem, Problems};
use crate::version::{self, Scheme};

pub use cargo::CargoPackage;
pub(crate) use cargo::{unpublishable_members, workspace_member_manifests};
pub(crate) use npm::package_name as npm_package_name;
pub(crate) use python::project_name as python_project_name;

/// A text file of the repository, read once.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the repository root, `/`-separated.
    pub rel: String,
    pub path: PathBuf,
    pub text: String,
}

/// What a location's value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The version itself (inside its format): every one must agree.
    Version,
    /// A Cargo version requirement on a released member crate.
    Requirement,
    /// A release date (YYYY-MM-DD), set to the release day when the version changes.
    ReleaseDate,
}

/// One place a version (or something that follows it) lives.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    /// Index into [`Repo::files`].
    #[serde(skip)]
    pub file: usize,
    pub path: String,
    #[serde(skip)]
    pub span: Range<usize>,
    pub line: usize,
    /// The text at `span` now.
    pub value: String,
    pub role: Role,
    pub scheme: Scheme,
    /// Text the format puts before and after the version (`^` in `^{version}`).
    #[serde(skip)]
    pub prefix: String,
    #[serde(skip)]
    pub suffix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// What this is, for people: `package.version of polyglot-engine`.
    pub what: String,
}

impl Location {
    /// `path:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.path, self.line)
    }

    /// The version text inside the format, if the value has the format's shape.
    pub fn version_text(&self) -> Option<&str> {
        self.value
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())
    }
}

/// A product of the repository, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub name: String,
    pub ecosystem: Ecosystem,
    pub manifest: Option<String>,
    pub tag: Option<String>,
    pub after: Vec<String>,
    pub changelog: Option<String>,
    /// The `[registry.NAME]` it is published to, when it names one.
    pub registry: Option<String>,
    /// Cargo products: the workspace's packages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<CargoPackage>,
}

/// The repository as Shiplane sees it.
#[derive(Debug, Clone)]
pub struct Repo {
    pub root: PathBuf,
    pub config: LoadedConfig,
    pub products: Vec<Product>,
    pub files: Vec<SourceFile>,
    pub locations: Vec<Location>,
    /// Things worth saying that do not stop anything.
    pub notes: Vec<String>,
}

/// What the version locations say, before anything is changed.
#[derive(Debug, Clone)]
pub struct VersionState {
    /// The version every location agrees on (the highest one when they disagree).
    pub current: Option<Version>,
    /// Locations that disagree or cannot be read, each `path:line = value`.
    pub problems: Vec<Problem>,
}

impl Repo {
    /// Load `root/shiplane.toml` and everything it points at. Configuration problems (exit 2) come
    /// back all at once.
    pub fn load(root: &Path) -> Result<Repo, Problems> {
        let config = LoadedConfig::load(root)?;
        Self::load_with(root, config)
    }

    /// Like [`Repo::load`], from a config already in memory (`init` checks the file it generated
    /// before writing it). Validates the config first.
    pub fn load_with(root: &Path, config: LoadedConfig) -> Result<Repo, Problems> {
        config.validate(root)?;
        let mut loader = Loader {
            root: root.to_path_buf(),
            config: &config,
            files: Vec::new(),
            by_rel: HashMap::new(),
            locations: Vec::new(),
            problems: Problems::default(),
            notes: Vec::new(),
        };
        let mut products = Vec::new();
        for spanned in &config.config.products {
            let p = spanned.get_ref();
            let mut product = Product {
                name: p.name.get_ref().clone(),
                ecosystem: p.ecosystem,
                manifest: p.manifest.as_ref().map(|m| m.get_ref().clone()),
                tag: p.tag.as_ref().map(|t| t.get_ref().clone()),
                after: p.after.iter().map(|a| a.get_ref().clone()).collect(),
                changelog: p.changelog.as_ref().map(|c| c.get_ref().clone()),
                registry: p.registry.as_ref().map(|r| r.get_ref().clone()),
                packages: Vec::new(),
            };
            if let Some(manifest) = &p.manifest {
                match p.ecosystem {
                    Ecosystem::Cargo => {
                        product.packages =
                            cargo::load(&mut loader, &product.name, manifest, &p.exclude)
                    }
                    Ecosystem::Python => python::load(&mut loader, &product.name, manifest),
                    Ecosystem::Npm => npm::load(&mut loader, &product.name, manifest),
                    Ecosystem::Go | Ecosystem::Assets => {}
                }
            }
            products.push(product);
        }
        let python_products: BTreeSet<String> = products
            .iter()
            .filter(|p| p.ecosystem == Ecosystem::Python)
            .map(|p| p.name.clone())
            .collect();
        for entry in &config.config.version_files {
            loader.version_file(entry, &python_products);
        }
        loader.dedupe();
        let Loader {
            files,
            locations,
            problems,
            notes,
            ..
        } = loader;
        problems.into_result()?;
        if locations.iter().all(|l| l.role != Role::Version) {
            return Err(Problems::one(
                Problem::at(&config.display, 1, "no version locations: no product or version-file holds a version")
                    .hint("add a product with a manifest, or a [[version-file]]; `shiplane init` finds them"),
            ));
        }
        Ok(Repo {
            root: root.to_path_buf(),
            config,
            products,
            files,
            locations,
            notes,
        })
    }

    pub fn file(&self, location: &Location) -> &SourceFile {
        &self.files[location.file]
    }

    /// Read every version location and check they agree.
    pub fn version_state(&self) -> VersionState {
        let mut problems = Vec::new();
        let mut seen: BTreeMap<Version, Vec<&Location>> = BTreeMap::new();
        for loc in self.locations.iter().filter(|l| l.role == Role::Version) {
            let Some(text) = loc.version_text() else {
                problems.push(
                    Problem::at(
                        &loc.path,
                        loc.line,
                        format!(
                            "{} = `{}` does not have the configured format `{}{{version}}{}`",
                            loc.what, loc.value, loc.prefix, loc.suffix
                        ),
                    )
                    .hint("fix the value, or the version-file's `format`"),
                );
                continue;
            };
            match version::parse_in(text, loc.scheme) {
                Ok(v) => seen.entry(v).or_default().push(loc),
                Err(e) => problems.push(
                    Problem::at(&loc.path, loc.line, format!("{}: {e}", loc.what))
                        .hint(format!("write a {} version here", loc.scheme)),
                ),
            }
        }
        let current = seen.keys().next_back().cloned();
        if seen.len() > 1 {
            let mut listing = String::new();
            for (v, locs) in seen.iter().rev() {
                for loc in locs {
                    listing.push_str(&format!(
                        "\n    {} = {}  ({}, read as {v})",
                        loc.at(),
                        loc.value,
                        loc.what
                    ));
                }
            }
            problems.insert(
                0,
                Problem::new(format!(
                    "version locations disagree ({} different versions):{listing}",
                    seen.len()
                ))
                .hint("make them agree by hand, or pass --force to move every location to the new version"),
            );
        }
        if let (Some(current), true) = (&current, seen.len() == 1) {
            for loc in self
                .locations
                .iter()
                .filter(|l| l.role == Role::Requirement)
            {
                match VersionReq::parse(&loc.value) {
                    Ok(req) if req.matches(current) => {}
                    Ok(_) => problems.push(
                        Problem::at(&loc.path, loc.line, format!(
                            "{} requires `{}`, which the current version {current} does not satisfy",
                            loc.what, loc.value
                        ))
                        .hint(format!("set it to `{current}` (or pass --force)")),
                    ),
                    Err(e) => problems.push(
                        Problem::at(&loc.path, loc.line, format!("{}: `{}` is not a version requirement: {e}", loc.what, loc.value))
                            .hint("write a requirement such as \"1.2.3\" or \"=1.2.3\""),
                    ),
                }
            }
        }
        VersionState { current, problems }
    }
}

/// Accumulates files and locations while the repo loads.
pub(crate) struct Loader<'a> {
    root: PathBuf,
    config: &'a LoadedConfig,
    files: Vec<SourceFile>,
    by_rel: HashMap<String, usize>,
    locations: Vec<Location>,
    problems: Problems,
    notes: Vec<String>,
}

/// A location about to be recorded.
pub(crate) struct NewLocation<'s> {
    pub found: Found,
    pub role: Role,
    pub scheme: Scheme,
    pub format: Option<&'s str>,
    pub product: Option<&'s str>,
    pub what: String,
}

impl Loader<'_> {
    /// Read a repository file once; `None` (with a problem recorded) when it cannot be read.
    pub(crate) fn file(&mut self, rel: &str) -> Option<usize> {
        if let Some(&i) = self.by_rel.get(rel) {
            return Some(i);
        }
        let path = self.root.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    self.files.push(SourceFile {
                        rel: rel.to_string(),
                        path,
                        text,
                    });
                    self.by_rel.insert(rel.to_string(), self.files.len() - 1);
                    Some(self.files.len() - 1)
                }
                Err(_) => {
                    self.problems.push(
                        Problem::in_file(rel, "is not UTF-8 text")
                            .hint("version files must be UTF-8"),
                    );
                    None
                }
            },
            Err(e) => {
                self.problems.push(
                    Problem::in_file(rel, format!("cannot read: {e}"))
                        .hint("check the path in shiplane.toml"),
                );
                None
            }
        }
    }

    pub(crate) fn root_path(&self) -> &Path {
        &self.root
    }

    pub(crate) fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).is_file()
    }

    pub(crate) fn text(&self, file: usize) -> &str {
        &self.files[file].text
    }

    pub(crate) fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub(crate) fn config_problem<T>(&mut self, at: &Spanned<T>, message: String, hint: &str) {
        let p = self.config.problem(at, message).hint(hint);
        self.problems.push(p);
    }

    pub(crate) fn add(&mut self, file: usize, new: NewLocation<'_>) {
        let (prefix, suffix) = new
            .format
            .and_then(|f| f.split_once("{version}"))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap_or_default();
        self.locations.push(Location {
            file,
            path: self.files[file].rel.clone(),
            span: new.found.span,
            line: new.found.line,
            value: new.found.text,
            role: new.role,
            scheme: new.scheme,
            prefix,
            suffix,
            product: new.product.map(str::to_string),
            what: new.what,
        });
    }

    /// Parse a TOML file of the repository, recording a problem when it is not valid TOML.
    pub(crate) fn toml(&mut self, file: usize) -> Option<toml_edit::Document<String>> {
        match toml_edit::Document::parse(self.files[file].text.clone()) {
            Ok(doc) => Some(doc),
            Err(e) => {
                let text = &self.files[file].text;
                let line = e.span().map_or(1, |s| edit::line_of(text, s.start));
                let rel = self.files[file].rel.clone();
                self.problems.push(
                    Problem::at(&rel, line, format!("invalid TOML: {}", e.message().trim()))
                        .hint("fix the syntax; `bump` edits only valid files"),
                );
                None
            }
        }
    }

    fn version_file(
        &mut self,
        entry: &Spanned<VersionFileConfig>,
        python_products: &BTreeSet<String>,
    ) {
        let vf = entry.get_ref();
        let rel = vf.path.get_ref().as_str();
        let Some(file) = self.file(rel) else { return };
        let product = vf.product.as_ref().map(|p| p.get_ref().as_str());
        let lower = rel.to_ascii_lowercase();
        let scheme = vf.scheme.unwrap_or(
            if lower.ends_with(".py")
                || lower.ends_with("pyproject.toml")
                || lower.ends_with("setup.cfg")
                || product.is_some_and(|p| python_products.contains(p))
            {
                Scheme::Pep440
            } else {
                Scheme::Semver
            },
        );
        let format = vf.format.as_ref().map(|f| f.get_ref().as_str());
        let text = self.files[file].text.clone();
        let found: Result<Found, String> = match (&vf.key, &vf.pattern) {
            (Some(key), _) => {
                let keys = key.get_ref().keys();
                self.find_key(file, &text, &keys).and_then(|f| {
                    f.ok_or_else(|| format!("key {} is not in the file", show_keys(&keys)))
                })
            }
            (None, Some(pat)) => pattern::compile(pat.get_ref())
                .and_then(|re| pattern::find_once(&text, &re))
                .map_err(|e| e.to_string()),
            (None, None) => Ok(pattern::find_whole(&text)),
        };
        let what = match (&vf.key, &vf.pattern) {
            (Some(key), _) => format!("key {}", show_keys(&key.get_ref().keys())),
            (None, Some(p)) => format!("pattern `{}`", p.get_ref()),
            (None, None) => "whole file".to_string(),
        };
        match found {
            Ok(found) => self.add(
                file,
                NewLocation {
                    found,
                    role: Role::Version,
                    scheme,
                    format,
                    product,
                    what,
                },
            ),
            Err(e) => {
                let line = self.config.line(entry);
                self.problems.push(
                    Problem::at(
                        &self.config.display,
                        line,
                        format!("version-file `{rel}`: {e}"),
                    )
                    .hint("fix the key path or pattern so it names exactly one value in the file"),
                );
                return;
            }
        }
        let date_key = vf
            .date_key
            .as_ref()
            .map(|d| d.get_ref().clone())
            .or_else(|| {
                lower
                    .ends_with("citation.cff")
                    .then(|| "date-released".to_string())
            });
        if let Some(date_key) = date_key {
            let explicit = vf.date_key.is_some();
            match self.find_key(file, &text, &[date_key.as_str()]) {
                Ok(Some(found)) => self.add(
                    file,
                    NewLocation {
                        found,
                        role: Role::ReleaseDate,
                        scheme,
                        format: None,
                        product,
                        what: format!("release date `{date_key}`"),
                    },
                ),
                Ok(None) if !explicit => {}
                Ok(None) => {
                    let line = self.config.line(entry);
                    self.problems.push(
                        Problem::at(
                            &self.config.display,
                            line,
                            format!(
                                "version-file `{rel}`: date-key `{date_key}` is not in the file"
                            ),
                        )
                        .hint("add the key to the file or remove `date-key`"),
                    );
                }
                Err(e) => {
                    let line = self.config.line(entry);
                    self.problems.push(
                        Problem::at(
                            &self.config.display,
                            line,
                            format!("version-file `{rel}`: {e}"),
                        )
                        .hint("fix the date key"),
                    );
                }
            }
        }
    }

    /// Find a string by key path in a TOML, JSON or YAML-ish file.
    fn find_key(
        &mut self,
        file: usize,
        text: &str,
        keys: &[&str],
    ) -> Result<Option<Found>, String> {
        let rel = self.files[file].rel.clone();
        match KeyFileKind::of(&rel) {
            Some(KeyFileKind::Toml) => {
                let doc = edit::toml::parse(text).map_err(|e| format!("invalid TOML: {e}"))?;
                edit::toml::find_string(text, &doc, keys)
                    .map_err(|e| format!("key {}: {e}", show_keys(keys)))
            }
            Some(KeyFileKind::Json) => json::find_optional_string(text, keys)
                .map(|o| {
                    o.map(|s| Found {
                        span: s.content,
                        line: s.line,
                        text: s.value,
                    })
                })
                .map_err(|e| format!("key {}: {e}", show_keys(keys))),
            Some(KeyFileKind::Yaml) => match keys {
                [key] => pattern::find_yaml_key(text, key),
                _ => Err("YAML-ish files support one top-level key".into()),
            },
            None => Err("key paths need a .toml, .json, .cff, .yml or .yaml file".into()),
        }
    }

    /// Drop exact duplicates (the same value found twice, e.g. a maturin Cargo.toml that is also a
    /// workspace member); overlapping but different spans are a configuration error.
    fn dedupe(&mut self) {
        let mut seen: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        let mut keep = Vec::with_capacity(self.locations.len());
        for (i, loc) in self.locations.iter().enumerate() {
            match seen.get(&(loc.file, loc.span.start)) {
                Some(&j) if self.locations[j].span == loc.span => continue,
                _ => {}
            }
            seen.insert((loc.file, loc.span.start), i);
            keep.push(i);
        }
        let mut locations: Vec<Location> = keep
            .into_iter()
            .map(|i| self.locations[i].clone())
            .collect();
        locations.sort_by_key(|a| (a.file, a.span.start));
        for pair in locations.windows(2) {
            if pair[0].file == pair[1].file && pair[1].span.start < pair[0].span.end {
                self.problems.push(
                    Problem::at(
                        &pair[1].path,
                        pair[1].line,
                        format!(
                            "{} overlaps {} (line {})",
                            pair[1].what, pair[0].what, pair[0].line
                        ),
                    )
                    .hint("two version-files point at the same text; remove one"),
                );
            }
        }
        self.locations = locations;
    }
}

/// `["dependencies", "@scope/engine"]` → `dependencies → "@scope/engine"`, for messages.
pub fn show_keys(keys: &[&str]) -> String {
    format!(
        "[{}]",
        keys.iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Join `base` (a directory relative to the root, "" for the root) and `rel`, resolving `.` and
/// `..` lexically. `None` when the result would leave the repository.
pub fn join_rel(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The directory part of a relative path ("" for a file at the root).
pub fn parent_rel(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_rel_resolves_dots_and_refuses_escape() {
        assert_eq!(
            join_rel("crates/ffi", "../engine").unwrap(),
            "crates/engine"
        );
        assert_eq!(join_rel("", "./a/b/").unwrap(), "a/b");
        assert_eq!(
            join_rel("bindings/node", "../../crates/engine").unwrap(),
            "crates/engine"
        );
        assert!(join_rel("a", "../../x").is_none());
        assert_eq!(parent_rel("a/b/Cargo.toml"), "a/b");
        assert_eq!(parent_rel("Cargo.toml"), "");
    }
}
