//! `init`: find the repository's products and version locations and write a commented
//! `shiplane.toml`.
//!
//! 1. **List** the files: `git ls-files` inside a git work tree (so .gitignore is respected), a walk
//!    that skips `.git`, `target`, `node_modules`, virtualenvs and hidden directories otherwise.
//! 2. **Classify** them: Cargo workspaces and packages, pyproject.toml, package.json, go.mod are
//!    products; tauri.conf.json, private package.json versions, npm dependency pins, mix.exs,
//!    VERSION, CITATION.cff and `__version__` constants are version-files.
//! 3. **Load** each product through the [`Repo`] (the same code `bump` uses), to learn where its
//!    version lives; a product the Repo cannot load is reported as not classified.
//! 4. The **release version** is the one most locations hold; a candidate holding another is
//!    skipped, and reported.
//! 5. **Render** the config, check that it loads and that its locations agree (disagreements are
//!    warnings: the file is still written so they can be fixed), and write it all-or-nothing.
//!
//! Under `--dry-run` the config is the command's output (stdout) and the summary goes to stderr,
//! so `shiplane init --dry-run > shiplane.toml` works.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use regex::Regex;
use semver::Version;
use serde::Serialize;
use toml_edit::{Document, Item};
use xshell::{cmd, Shell};

use crate::cli::InitArgs;
use crate::config::{Ecosystem, LoadedConfig, FILE_NAME};
use crate::edit::{self, changelog, json, pattern, Found};
use crate::repo::{self, join_rel, parent_rel, Repo, Role};
use crate::report::{CheckFailed, Output, Problem, Problems, UsageError};
use crate::version::{self, Scheme};

/// Directories a plain walk (outside git) never enters.
const SKIP_DIRS: [&str; 5] = [".git", "target", "node_modules", ".venv", "venv"];

/// Manifests of ecosystems Shiplane has no built-in support for: file name → why.
const UNSUPPORTED: [(&str, &str); 6] = [
    ("pom.xml", "Maven project"),
    ("build.gradle", "Gradle project"),
    ("build.gradle.kts", "Gradle project"),
    ("Chart.yaml", "Helm chart"),
    ("pubspec.yaml", "Dart/Flutter package"),
    ("composer.json", "PHP Composer package"),
];

/// Extensions of manifests Shiplane has no built-in support for: extension → why.
const UNSUPPORTED_EXT: [(&str, &str); 3] = [
    (".gemspec", "Ruby gem"),
    (".csproj", ".NET project"),
    (".nuspec", "NuGet package"),
];

/// The dependency sections of a package.json that can pin another package of the repository.
const NPM_DEP_SECTIONS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

pub fn run(start: &Path, args: &InitArgs, out: &Output) -> Result<()> {
    let root = start
        .canonicalize()
        .with_context(|| format!("resolving {}", start.display()))?;
    let target = root.join(FILE_NAME);
    if target.exists() && !args.force && !args.dry_run {
        return Err(UsageError(format!(
            "{} already exists: pass --force to replace it (or --dry-run to print what init would write)",
            target.display()
        ))
        .into());
    }
    if !args.dry_run {
        if let Some(recovery) = crate::txn::recover(&root)? {
            out.warn(recovery.to_string());
        }
    }
    let listing = list_files(&root)?;
    let mut scan = Scan::new(&root, &listing.files);
    scan.detect();
    scan.load_products();
    scan.detect_python_constants();
    scan.drop_derived_candidates();
    let release = scan.release_version();
    if let Some(release) = &release {
        scan.skip_disagreeing(release);
    }
    let init = scan.finish(release.as_ref(), listing.git);
    let say = Say {
        out,
        stderr: args.dry_run,
    };
    if init.products.is_empty() && init.version_files.is_empty() {
        if !out.json() {
            init.print_skipped_and_unclassified(&say);
        }
        return Err(CheckFailed(format!(
            "found nothing to release in {}: no Cargo.toml, pyproject.toml, package.json, go.mod, mix.exs, VERSION or CITATION.cff holding a version\n  fix: write shiplane.toml by hand (docs/config.md describes every key)",
            root.display()
        ))
        .into());
    }
    let text = init.render();
    let mut check = check_config(&root, &text)?;
    check.warnings.splice(0..0, init.warnings.iter().cloned());
    for dir in &listing.nested_roots {
        check.warnings.push(format!(
            "left out {dir}/: it has its own {FILE_NAME}, so it is released on its own"
        ));
    }
    let written = !args.dry_run;
    if written {
        crate::txn::commit(
            &root,
            "init",
            &[crate::txn::FileWrite {
                rel: FILE_NAME.to_string(),
                contents: text.clone().into_bytes(),
            }],
        )
        .with_context(|| format!("writing {}", target.display()))?;
    }
    for warning in &check.warnings {
        out.warn(warning);
    }
    if out.json() {
        return out.emit_json(&init.json_report(&text, written, &check));
    }
    if args.dry_run {
        crate::report::stdout(&text);
    }
    init.print_summary(&say, &check);
    if written {
        say.line(format!(
            "wrote {FILE_NAME}: review it, then check it with `shiplane versions`"
        ));
    } else {
        say.line(format!(
            "dry run: {FILE_NAME} not written (the config is on stdout)"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Listing the repository's files

struct Listing {
    /// Relative `/`-separated paths of regular files, sorted.
    files: Vec<String>,
    /// Inside a git work tree (the listing came from `git ls-files`).
    git: bool,
    /// Subdirectories with a shiplane.toml of their own: separate release roots, left out.
    nested_roots: Vec<String>,
}

fn list_files(root: &Path) -> Result<Listing> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let git = git_cmd(cmd!(sh, "git rev-parse --is-inside-work-tree"))
        .read()
        .is_ok_and(|s| s.trim() == "true");
    let mut files: Vec<String> = if git {
        let output = git_cmd(cmd!(
            sh,
            "git ls-files --cached --others --exclude-standard -z"
        ))
        .output()
        .with_context(|| format!("listing the files of {} with git", root.display()))?;
        String::from_utf8_lossy(&output.stdout)
            .split('\0')
            .filter(|rel| !rel.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        let mut files = Vec::new();
        walk(root, "", &mut files)?;
        files
    };
    files.retain(|rel| {
        !rel.split('/').any(|c| c == "node_modules" || c == ".git")
            && !rel.starts_with(crate::txn::DIR)
            && !rel.ends_with(".shiplane-new")
            && root.join(rel).is_file()
    });
    files.sort();
    files.dedup();
    // A subdirectory with its own shiplane.toml (an example, a fixture, a vendored project) is
    // released on its own: nothing under it belongs to this repository's release.
    let nested_roots: Vec<String> = files
        .iter()
        .filter_map(|rel| rel.strip_suffix(&format!("/{FILE_NAME}")))
        .map(str::to_string)
        .collect();
    files.retain(|rel| !nested_roots.iter().any(|dir| is_inside(rel, dir)));
    Ok(Listing {
        files,
        git,
        nested_roots,
    })
}

/// A git command that reads this repository only, whatever the environment says.
fn git_cmd(cmd: xshell::Cmd<'_>) -> xshell::Cmd<'_> {
    cmd.env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .quiet()
        .ignore_stderr()
}

fn walk(root: &Path, dir: &str, files: &mut Vec<String>) -> Result<()> {
    let full = if dir.is_empty() {
        root.to_path_buf()
    } else {
        root.join(dir)
    };
    let entries = match std::fs::read_dir(&full) {
        Ok(entries) => entries,
        Err(e) if dir.is_empty() => {
            return Err(e).with_context(|| format!("reading {}", full.display()))
        }
        // An unreadable subdirectory holds nothing we can classify.
        Err(_) => return Ok(()),
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let rel = if dir.is_empty() {
            name.clone()
        } else {
            format!("{dir}/{name}")
        };
        if kind.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                walk(root, &rel, files)?;
            }
        } else if kind.is_file() {
            files.push(rel);
        }
    }
    Ok(())
}

/// The branch releases are cut from: `main` or `master` when one exists, else the current branch.
fn release_branch(root: &Path) -> String {
    let Ok(sh) = Shell::new() else {
        return "main".into();
    };
    sh.change_dir(root);
    for branch in ["main", "master"] {
        let reference = format!("refs/heads/{branch}");
        if git_cmd(cmd!(sh, "git rev-parse --verify --quiet {reference}"))
            .ignore_stdout()
            .run()
            .is_ok()
        {
            return branch.into();
        }
    }
    match git_cmd(cmd!(sh, "git symbolic-ref --quiet --short HEAD")).read() {
        Ok(branch) if !branch.trim().is_empty() => branch.trim().to_string(),
        _ => "main".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// What the scan finds

#[derive(Debug, Clone)]
struct ProductDraft {
    /// The name before de-duplication.
    base_name: String,
    ecosystem: Ecosystem,
    manifest: Option<String>,
    /// Where it sorts (its manifest, or the file it was found from).
    sort_path: String,
    dir: String,
    /// Why it was added (the comment above it).
    why: String,
    /// Cargo workspace: its members' manifests.
    members: Vec<String>,
    /// npm: the package name, for dependency pins.
    npm_name: Option<String>,
    /// Python: the Cargo.toml maturin builds from.
    maturin_manifest: Option<String>,
    /// Python: names the import package may have.
    import_names: Vec<String>,
    /// Go: the tag the module needs.
    go_tag: Option<String>,
    /// Version locations the Repo derives for it.
    locations: Vec<FoundLocation>,
    /// Left out, with the reason already reported.
    dropped: bool,
}

/// A version location the Repo derived for a product.
#[derive(Debug, Clone)]
struct FoundLocation {
    path: String,
    span: std::ops::Range<usize>,
    value: String,
    scheme: Scheme,
    what: String,
}

#[derive(Debug, Clone)]
struct VersionFileDraft {
    path: String,
    key: Option<Vec<String>>,
    pattern: Option<String>,
    format: Option<String>,
    /// Index into the products.
    product: Option<usize>,
    /// The file belongs to `product`: when that product is left out, so is this entry.
    owned: bool,
    /// A dependency pin on this product (index): left out with it.
    pins: Option<usize>,
    date_key: Option<String>,
    why: String,
    /// What the value is, for messages.
    what: String,
    found: Found,
    /// The version inside the format.
    version_text: String,
    dropped: bool,
}

impl VersionFileDraft {
    /// A version-file entry with every optional part unset.
    fn new(path: String, found: Found, why: String, what: String) -> VersionFileDraft {
        VersionFileDraft {
            path,
            key: None,
            pattern: None,
            format: None,
            product: None,
            owned: false,
            pins: None,
            date_key: None,
            why,
            what,
            version_text: found.text.clone(),
            found,
            dropped: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Skipped {
    path: String,
    what: String,
    value: String,
    message: String,
}

#[derive(Debug, Clone, Serialize)]
struct Unclassified {
    path: String,
    reason: String,
}

struct Scan<'a> {
    root: &'a Path,
    files: &'a [String],
    file_set: BTreeSet<&'a str>,
    cargo_docs: BTreeMap<String, Document<String>>,
    products: Vec<ProductDraft>,
    version_files: Vec<VersionFileDraft>,
    changelog: Option<String>,
    skipped: Vec<Skipped>,
    unclassified: Vec<Unclassified>,
    warnings: Vec<String>,
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn in_dir(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `rel` is `dir` or inside it (`dir` "" is the root, which holds everything).
fn is_inside(rel: &str, dir: &str) -> bool {
    dir.is_empty() || rel == dir || rel.starts_with(&format!("{dir}/"))
}

fn str_at<'d>(doc: &'d Document<String>, path: &[&str]) -> Option<&'d str> {
    edit::toml::item_at(doc.as_item(), path).and_then(Item::as_str)
}

impl<'a> Scan<'a> {
    fn new(root: &'a Path, files: &'a [String]) -> Scan<'a> {
        Scan {
            root,
            files,
            file_set: files.iter().map(String::as_str).collect(),
            cargo_docs: BTreeMap::new(),
            products: Vec::new(),
            version_files: Vec::new(),
            changelog: None,
            skipped: Vec::new(),
            unclassified: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn named(&self, name: &str) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| file_name(f) == name)
            .cloned()
            .collect()
    }

    fn unclassify(&mut self, path: &str, reason: impl Into<String>) {
        self.unclassified.push(Unclassified {
            path: path.to_string(),
            reason: reason.into(),
        });
    }

    fn read(&mut self, rel: &str) -> Option<String> {
        match std::fs::read(self.root.join(rel)) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(_) => {
                    self.unclassify(rel, "not UTF-8 text");
                    None
                }
            },
            Err(e) => {
                self.unclassify(rel, format!("cannot read: {e}"));
                None
            }
        }
    }

    /// The name of directory `dir` ("" is the repository itself).
    fn dir_name(&self, dir: &str) -> String {
        let name = if dir.is_empty() {
            self.root
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string()
        } else {
            file_name(dir).to_string()
        };
        let name = name.trim_start_matches('.').to_string();
        if name.is_empty() {
            "release".into()
        } else {
            name
        }
    }

    fn product(&mut self, draft: ProductDraft) -> usize {
        self.products.push(draft);
        self.products.len() - 1
    }

    fn new_product(&self, name: String, ecosystem: Ecosystem, manifest: &str) -> ProductDraft {
        ProductDraft {
            base_name: name,
            ecosystem,
            manifest: Some(manifest.to_string()),
            sort_path: manifest.to_string(),
            dir: parent_rel(manifest).to_string(),
            why: String::new(),
            members: Vec::new(),
            npm_name: None,
            maturin_manifest: None,
            import_names: Vec::new(),
            go_tag: None,
            locations: Vec::new(),
            dropped: false,
        }
    }

    fn detect(&mut self) {
        self.detect_cargo();
        self.detect_python();
        self.detect_npm();
        self.detect_go();
        self.detect_other();
    }

    // -- Cargo ---------------------------------------------------------------------------------

    fn detect_cargo(&mut self) {
        for rel in self.named("Cargo.toml") {
            let Some(text) = self.read(&rel) else {
                continue;
            };
            match Document::parse(text) {
                Ok(doc) => {
                    self.cargo_docs.insert(rel, doc);
                }
                Err(e) => self.unclassify(&rel, format!("invalid TOML: {}", e.message().trim())),
            }
        }
        let mut workspaces: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (rel, doc) in &self.cargo_docs {
            if doc.as_table().contains_key("workspace") {
                workspaces.insert(
                    rel.clone(),
                    repo::workspace_member_manifests(self.root, rel),
                );
            }
        }
        let members: BTreeSet<&String> = workspaces
            .iter()
            .flat_map(|(ws, members)| members.iter().filter(move |m| *m != ws))
            .collect();
        let mut drafts = Vec::new();
        let mut problems = Vec::new();
        for (rel, doc) in &self.cargo_docs {
            let package = str_at(doc, &["package", "name"]).map(str::to_string);
            let dir = parent_rel(rel);
            if let Some(ws_members) = workspaces.get(rel) {
                let name = package.unwrap_or_else(|| self.dir_name(dir));
                let mut draft = self.new_product(name, Ecosystem::Cargo, rel);
                draft.why = format!(
                    "Cargo workspace ({} package{}): member versions, the requirements between members and Cargo.lock follow it.",
                    ws_members.len(),
                    if ws_members.len() == 1 { "" } else { "s" }
                );
                draft.members = ws_members.clone();
                drafts.push(draft);
            } else if members.contains(rel) {
                continue;
            } else if let Some(name) = package {
                let has_version =
                    edit::toml::item_at(doc.as_item(), &["package", "version"]).is_some();
                if has_version {
                    let mut draft = self.new_product(name.clone(), Ecosystem::Cargo, rel);
                    draft.why = format!(
                        "Cargo package `{name}`: its version and Cargo.lock entry follow it."
                    );
                    draft.members = vec![rel.clone()];
                    drafts.push(draft);
                } else {
                    problems.push((
                        rel.clone(),
                        format!("Cargo package `{name}` has no version"),
                    ));
                }
            } else {
                problems.push((rel.clone(), "neither [package] nor [workspace]".to_string()));
            }
        }
        for draft in drafts {
            self.product(draft);
        }
        for (rel, why) in problems {
            self.unclassify(&rel, why);
        }
    }

    // -- Python --------------------------------------------------------------------------------

    fn detect_python(&mut self) {
        for rel in self.named("pyproject.toml") {
            let Some(text) = self.read(&rel) else {
                continue;
            };
            let doc = match Document::parse(text) {
                Ok(doc) => doc,
                Err(e) => {
                    self.unclassify(&rel, format!("invalid TOML: {}", e.message().trim()));
                    continue;
                }
            };
            let dir = parent_rel(&rel).to_string();
            let backend = str_at(&doc, &["build-system", "build-backend"]).unwrap_or_default();
            let dynamic = edit::toml::item_at(doc.as_item(), &["project", "dynamic"])
                .and_then(Item::as_array)
                .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
            let source = if str_at(&doc, &["project", "version"]).is_some() {
                "[project].version".to_string()
            } else if str_at(&doc, &["tool", "poetry", "version"]).is_some() {
                "[tool.poetry].version".to_string()
            } else if dynamic {
                let backend_name = backend.split(['.', ':']).next().unwrap_or_default();
                if backend_name.is_empty() {
                    "dynamic version".to_string()
                } else {
                    format!("dynamic version, set by {backend_name}")
                }
            } else {
                self.unclassify(
                    &rel,
                    "no version: neither [project].version, [tool.poetry].version nor a dynamic version",
                );
                continue;
            };
            let project_name = str_at(&doc, &["project", "name"])
                .or_else(|| str_at(&doc, &["tool", "poetry", "name"]))
                .map(str::to_string);
            let name = project_name.clone().unwrap_or_else(|| self.dir_name(&dir));
            let mut draft = self.new_product(name.clone(), Ecosystem::Python, &rel);
            draft.why = format!("Python package `{name}` ({source}).");
            let mut import_names: Vec<String> = Vec::new();
            let mut add_name = |n: &str| {
                let n = n.trim().to_ascii_lowercase().replace(['-', '.'], "_");
                if !n.is_empty() && !import_names.contains(&n) {
                    import_names.push(n);
                }
            };
            add_name(&name);
            if let Some(module) = str_at(&doc, &["tool", "flit", "module", "name"]) {
                add_name(module);
            }
            if let Some(module) = str_at(&doc, &["tool", "maturin", "module-name"]) {
                add_name(module.split('.').next().unwrap_or_default());
            }
            if let Some(packages) = edit::toml::item_at(
                doc.as_item(),
                &["tool", "hatch", "build", "targets", "wheel", "packages"],
            )
            .and_then(Item::as_array)
            {
                for p in packages.iter().filter_map(|p| p.as_str()) {
                    add_name(file_name(p.trim_end_matches('/')));
                }
            }
            draft.import_names = import_names;
            if backend.starts_with("maturin") {
                let manifest =
                    str_at(&doc, &["tool", "maturin", "manifest-path"]).unwrap_or("Cargo.toml");
                draft.maturin_manifest = join_rel(&dir, manifest);
            }
            self.product(draft);
        }
    }

    /// A `__version__ = "X"` in the package's `__init__.py` that the Repo does not derive already.
    fn detect_python_constants(&mut self) {
        for index in 0..self.products.len() {
            let p = &self.products[index];
            if p.ecosystem != Ecosystem::Python || p.dropped {
                continue;
            }
            let dir = p.dir.clone();
            let name = p.base_name.clone();
            let mut candidates: Vec<&String> = self
                .files
                .iter()
                .filter(|f| file_name(f) == "__init__.py" && is_inside(f, &dir))
                .filter(|f| {
                    let package_dir = parent_rel(f);
                    let package = file_name(package_dir);
                    let depth = package_dir
                        .strip_prefix(dir.as_str())
                        .unwrap_or(package_dir)
                        .trim_start_matches('/')
                        .split('/')
                        .count();
                    depth <= 3 && p.import_names.iter().any(|n| n == package)
                })
                .collect();
            candidates.sort_by_key(|f| (f.matches('/').count(), f.to_string()));
            let Some(rel) = candidates.first().map(|s| s.to_string()) else {
                continue;
            };
            let Some(text) = self.read(&rel) else {
                continue;
            };
            let Ok(Some(found)) = pattern::find_python_assignment(&text, "__version__") else {
                continue;
            };
            let line_start = text[..found.span.start].rfind('\n').map_or(0, |i| i + 1);
            let before = &text[line_start..found.span.start];
            let Some(quote) = text.get(found.span.end..found.span.end + 1) else {
                continue;
            };
            let template = format!("{before}{{version}}{quote}");
            // The pattern must find exactly this value again, the way `bump` will look for it.
            let same = pattern::compile(&template)
                .ok()
                .and_then(|re| pattern::find_once(&text, &re).ok())
                .is_some_and(|f| f.span == found.span);
            if !same {
                continue;
            }
            self.version_files.push(VersionFileDraft {
                pattern: Some(template.clone()),
                product: Some(index),
                owned: true,
                ..VersionFileDraft::new(
                    rel,
                    found,
                    format!("`__version__` of the `{name}` package."),
                    format!("pattern `{template}`"),
                )
            });
        }
    }

    // -- npm -----------------------------------------------------------------------------------

    fn detect_npm(&mut self) {
        struct Package {
            rel: String,
            dir: String,
            text: String,
            name: Option<String>,
            version: Option<String>,
            private: bool,
            value: serde_json::Value,
        }
        let mut packages = Vec::new();
        for rel in self.named("package.json") {
            let Some(text) = self.read(&rel) else {
                continue;
            };
            let value: serde_json::Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    self.unclassify(&rel, format!("invalid JSON: {e}"));
                    continue;
                }
            };
            packages.push(Package {
                dir: parent_rel(&rel).to_string(),
                name: value["name"].as_str().map(str::to_string),
                version: value["version"].as_str().map(str::to_string),
                private: value["private"].as_bool() == Some(true),
                rel,
                text,
                value,
            });
        }
        let publishable = |p: &Package| p.version.is_some() && !p.private;
        // napi-style prebuilt platform packages (`<package>/npm/<platform>/package.json`) are
        // published by their parent package's pipeline: version-files of that product.
        let parent_of = |p: &Package| -> Option<usize> {
            packages.iter().position(|q| {
                publishable(q)
                    && q.rel != p.rel
                    && parent_rel(&p.dir) == in_dir(&q.dir, "npm")
                    && !p.dir.is_empty()
            })
        };
        let mut product_of: BTreeMap<usize, usize> = BTreeMap::new();
        // npm package name → (owning product, the package itself is that product's manifest).
        let mut released: BTreeMap<String, usize> = BTreeMap::new();
        for (i, p) in packages.iter().enumerate() {
            if !publishable(p) || parent_of(p).is_some() {
                continue;
            }
            let full = p.name.clone().unwrap_or_else(|| self.dir_name(&p.dir));
            let short = full.rsplit('/').next().unwrap_or(&full).to_string();
            let mut draft = self.new_product(short, Ecosystem::Npm, &p.rel);
            let lock = ["package-lock.json", "npm-shrinkwrap.json"]
                .into_iter()
                .find(|l| self.file_set.contains(in_dir(&p.dir, l).as_str()));
            draft.why = match lock {
                Some(lock) => {
                    format!("npm package `{full}`: its version and {lock} follow package.json.")
                }
                None => format!("npm package `{full}`: package.json \"version\"."),
            };
            draft.npm_name = Some(full.clone());
            let index = self.product(draft);
            product_of.insert(i, index);
            released.insert(full, index);
        }
        for (i, p) in packages.iter().enumerate() {
            if !publishable(p) || product_of.contains_key(&i) {
                continue;
            }
            let Some(parent) = parent_of(p).and_then(|q| product_of.get(&q).copied()) else {
                continue;
            };
            product_of.insert(i, parent);
            if let Some(name) = &p.name {
                released.insert(name.clone(), parent);
            }
        }
        for (i, p) in packages.iter().enumerate() {
            let mut taken = false;
            let own_product = product_of.get(&i).copied();
            let is_manifest = own_product
                .is_some_and(|pi| self.products[pi].manifest.as_deref() == Some(p.rel.as_str()));
            if let (Some(version), false) = (&p.version, is_manifest) {
                let keys = vec!["version".to_string()];
                let (why, product, owned) = match own_product {
                    Some(parent) => (
                        format!(
                            "Prebuilt platform package `{}`, published with `{}`.",
                            p.name.as_deref().unwrap_or(&p.rel),
                            self.products[parent]
                                .npm_name
                                .as_deref()
                                .unwrap_or_default()
                        ),
                        Some(parent),
                        true,
                    ),
                    None => (
                        format!(
                            "Private package `{}` carries the release version.",
                            p.name.as_deref().unwrap_or(&p.dir)
                        ),
                        None,
                        false,
                    ),
                };
                if let Some(found) = json_found(&p.text, &keys) {
                    self.version_files.push(VersionFileDraft {
                        key: Some(keys),
                        product,
                        owned,
                        version_text: version.clone(),
                        ..VersionFileDraft::new(p.rel.clone(), found, why, "\"version\"".into())
                    });
                    taken = true;
                }
            }
            taken |= is_manifest;
            for section in NPM_DEP_SECTIONS {
                let Some(deps) = p.value[section].as_object() else {
                    continue;
                };
                for (dep, spec) in deps {
                    let (Some(&target), Some(spec)) = (released.get(dep), spec.as_str()) else {
                        continue;
                    };
                    if p.name.as_deref() == Some(dep.as_str()) {
                        continue;
                    }
                    let Some((op, version)) = split_pin(spec) else {
                        continue;
                    };
                    let keys = vec![section.to_string(), dep.clone()];
                    let Some(found) = json_found(&p.text, &keys) else {
                        continue;
                    };
                    self.version_files.push(VersionFileDraft {
                        key: Some(keys),
                        format: Some(format!("{op}{{version}}")),
                        product: own_product,
                        owned: own_product.is_some(),
                        pins: Some(target),
                        version_text: version.to_string(),
                        ..VersionFileDraft::new(
                            p.rel.clone(),
                            found,
                            format!(
                            "Pins `{dep}` ({section}, `{spec}`), released from this repository."
                        ),
                            format!("{section} `{dep}`"),
                        )
                    });
                    taken = true;
                }
            }
            if !taken && p.version.is_none() {
                self.unclassify(&p.rel, "no \"version\"");
            }
        }
    }

    // -- Go ------------------------------------------------------------------------------------

    fn detect_go(&mut self) {
        let module_re = Regex::new(r#"(?m)^[ \t]*module[ \t]+"?([^\s"/]+(?:/[^\s"/]+)*)"?"#)
            .expect("constant regex");
        let major_re = Regex::new(r"^v[0-9]+$").expect("constant regex");
        for rel in self.named("go.mod") {
            let Some(text) = self.read(&rel) else {
                continue;
            };
            let Some(module) = module_re.captures(&text).and_then(|c| c.get(1)) else {
                self.unclassify(&rel, "no `module` line");
                continue;
            };
            let module = module.as_str().to_string();
            let segments: Vec<&str> = module.split('/').collect();
            let name = match segments.as_slice() {
                [.., parent, last] if major_re.is_match(last) => parent.to_string(),
                [.., last] => last.to_string(),
                [] => self.dir_name(parent_rel(&rel)),
            };
            let dir = parent_rel(&rel).to_string();
            let mut draft = self.new_product(name, Ecosystem::Go, &rel);
            draft.why = format!("Go module `{module}`: versioned by its tag only.");
            draft.go_tag = Some(if dir.is_empty() {
                "v{version}".to_string()
            } else {
                format!("{dir}/v{{version}}")
            });
            self.product(draft);
        }
    }

    // -- Everything else -----------------------------------------------------------------------

    fn detect_other(&mut self) {
        let mut mix_app: Option<(String, String)> = None;
        let python: Vec<usize> = self
            .products
            .iter()
            .enumerate()
            .filter(|(_, p)| p.ecosystem == Ecosystem::Python)
            .map(|(i, _)| i)
            .collect();
        let files = self.files;
        for rel in files {
            let name = file_name(rel);
            let dir = parent_rel(rel);
            match name {
                "tauri.conf.json" => self.detect_tauri(rel),
                "mix.exs" => {
                    if let Some(app) = self.detect_mix(rel) {
                        mix_app.get_or_insert((rel.clone(), app));
                    }
                }
                "VERSION" => self.detect_version_file(rel),
                "CITATION.cff" => {
                    let product = match python.as_slice() {
                        [only] => Some(*only),
                        _ => None,
                    };
                    self.detect_citation(rel, product);
                }
                "CHANGELOG.md" if dir.is_empty() => {
                    let Some(text) = self.read(rel) else { continue };
                    if changelog::unreleased(&text).is_some() {
                        self.changelog = Some(rel.clone());
                    }
                }
                "setup.py" | "setup.cfg"
                    if !self
                        .file_set
                        .contains(in_dir(dir, "pyproject.toml").as_str()) =>
                {
                    self.unclassify(
                        rel,
                        format!("{name} without pyproject.toml: add a pyproject.toml with [project].version, or a [[version-file]] for where the version lives"),
                    );
                }
                "Package.swift" => self.unclassify(
                    rel,
                    "Swift package, versioned by git tags: add a [[version-file]] if a file holds the version",
                ),
                _ => {
                    let why = UNSUPPORTED
                        .iter()
                        .find(|(n, _)| *n == name)
                        .or_else(|| UNSUPPORTED_EXT.iter().find(|(e, _)| name.ends_with(e)))
                        .map(|(_, why)| *why);
                    if let Some(why) = why {
                        self.unclassify(
                            rel,
                            format!("{why}: no built-in support; add a [[version-file]] with a `pattern` for its version"),
                        );
                    }
                }
            }
        }
        if let (true, Some((rel, app))) = (self.products.is_empty(), mix_app) {
            let mut draft = self.new_product(app.clone(), Ecosystem::Assets, &rel);
            draft.manifest = None;
            draft.why = format!(
                "Elixir project `{app}` (mix.exs): released by tag; its version lives in the files below."
            );
            let index = self.product(draft);
            for vf in &mut self.version_files {
                if vf.path == rel {
                    vf.product = Some(index);
                }
            }
        }
    }

    fn detect_tauri(&mut self, rel: &str) {
        let Some(text) = self.read(rel) else { return };
        for (keys, why) in [
            (&["version"][..], "Tauri v2 app version."),
            (&["package", "version"][..], "Tauri v1 app version."),
        ] {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            let Some(found) = json_found(&text, &keys) else {
                continue;
            };
            // Tauri v2 also accepts a path to a package.json here: not a version.
            if Version::parse(&found.text).is_err() {
                return;
            }
            self.version_files.push(VersionFileDraft {
                key: Some(keys),
                ..VersionFileDraft::new(rel.to_string(), found, why.into(), "app version".into())
            });
            return;
        }
    }

    /// mix.exs's version pattern; returns the project's app name.
    fn detect_mix(&mut self, rel: &str) -> Option<String> {
        let text = self.read(rel)?;
        let app = Regex::new(r"\bapp:[ \t]*:([A-Za-z_][A-Za-z0-9_]*)")
            .expect("constant regex")
            .captures(&text)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string());
        for (template, why) in [
            (
                "@version \"{version}\"",
                "Module attribute @version, read by project/0.",
            ),
            ("version: \"{version}\"", "The project's version."),
        ] {
            let Ok(re) = pattern::compile(template) else {
                continue;
            };
            match pattern::find_once(&text, &re) {
                Ok(found) => {
                    self.version_files.push(VersionFileDraft {
                        pattern: Some(template.to_string()),
                        ..VersionFileDraft::new(
                            rel.to_string(),
                            found,
                            why.into(),
                            format!("pattern `{template}`"),
                        )
                    });
                    return app.or_else(|| Some(self.dir_name(parent_rel(rel))));
                }
                Err(pattern::PatternError::Ambiguous(lines)) => {
                    self.unclassify(
                        rel,
                        format!(
                            "`{template}` appears {} times: add a [[version-file]] with a pattern that matches once",
                            lines.len()
                        ),
                    );
                    return None;
                }
                Err(_) => {}
            }
        }
        self.unclassify(rel, "no `@version \"X\"` or `version: \"X\"`");
        None
    }

    fn detect_version_file(&mut self, rel: &str) {
        let Some(text) = self.read(rel) else { return };
        let found = pattern::find_whole(&text);
        if found.text.is_empty() || found.text.contains(char::is_whitespace) {
            self.unclassify(rel, "does not hold a single version");
            return;
        }
        let product = self.products.iter().position(|p| {
            p.ecosystem == Ecosystem::Python && is_inside(rel, &p.dir) && !p.dir.is_empty()
        });
        self.version_files.push(VersionFileDraft {
            product,
            ..VersionFileDraft::new(
                rel.to_string(),
                found,
                "The whole file is the version.".into(),
                "whole file".into(),
            )
        });
    }

    fn detect_citation(&mut self, rel: &str, product: Option<usize>) {
        let Some(text) = self.read(rel) else { return };
        let found = match pattern::find_yaml_key(&text, "version") {
            Ok(Some(found)) => found,
            Ok(None) => {
                self.unclassify(rel, "no top-level `version:`");
                return;
            }
            Err(e) => {
                self.unclassify(rel, e);
                return;
            }
        };
        let date_key = matches!(pattern::find_yaml_key(&text, "date-released"), Ok(Some(_)))
            .then(|| "date-released".to_string());
        let why = if date_key.is_some() {
            "Citation metadata; bump also sets date-released."
        } else {
            "Citation metadata."
        };
        self.version_files.push(VersionFileDraft {
            key: Some(vec!["version".into()]),
            product,
            date_key,
            ..VersionFileDraft::new(rel.to_string(), found, why.into(), "version".into())
        });
    }

    // -- Resolution ----------------------------------------------------------------------------

    /// Load each product alone through the Repo: where its version lives, or why it cannot load.
    fn load_products(&mut self) {
        for index in 0..self.products.len() {
            let p = &self.products[index];
            let Some(manifest) = p.manifest.clone() else {
                continue;
            };
            let text = format!(
                "[[product]]\nname = \"trial\"\necosystem = \"{}\"\nmanifest = {}\n",
                p.ecosystem,
                toml_str(&manifest)
            );
            let loaded =
                LoadedConfig::parse(self.root.join(FILE_NAME), FILE_NAME.to_string(), text)
                    .and_then(|config| Repo::load_with(self.root, config));
            match loaded {
                Ok(repo) => {
                    self.products[index].locations = repo
                        .locations
                        .iter()
                        .filter(|l| l.role == Role::Version)
                        .filter_map(|l| {
                            Some(FoundLocation {
                                path: l.path.clone(),
                                span: l.span.clone(),
                                value: l.version_text()?.to_string(),
                                scheme: l.scheme,
                                what: l.what.clone(),
                            })
                        })
                        .collect();
                }
                // A product whose version lives nowhere but its tag (Go), or in a file another
                // product covers (maturin with an inherited version), loads fine with the others.
                Err(problems) if only_no_locations(&problems) => {}
                Err(problems) => {
                    self.products[index].dropped = true;
                    let reason = problems
                        .problems
                        .iter()
                        .map(|p| {
                            let at = p
                                .location()
                                .filter(|l| *l != manifest)
                                .map(|l| format!("{l}: "))
                                .unwrap_or_default();
                            format!("{at}{}", p.message)
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    self.unclassify(
                        &manifest,
                        format!(
                            "{} product does not load: {reason}",
                            self.products[index].ecosystem
                        ),
                    );
                }
            }
        }
        self.drop_orphans();
    }

    /// Entries that belong to, or pin, a product that was left out go with it.
    fn drop_orphans(&mut self) {
        for vf in &mut self.version_files {
            if vf.dropped {
                continue;
            }
            for (index, owned) in [(vf.product, vf.owned), (vf.pins, true)] {
                let Some(index) = index else { continue };
                if !self.products[index].dropped {
                    continue;
                }
                if owned {
                    vf.dropped = true;
                } else {
                    vf.product = None;
                }
            }
        }
    }

    /// Candidates the Repo already derives from a product (a dynamic `__version__`, a VERSION file
    /// read by setuptools) would only repeat it.
    fn drop_derived_candidates(&mut self) {
        let derived: Vec<(String, std::ops::Range<usize>)> = self
            .products
            .iter()
            .flat_map(|p| p.locations.iter().map(|l| (l.path.clone(), l.span.clone())))
            .collect();
        for vf in &mut self.version_files {
            if derived.iter().any(|(path, span)| {
                *path == vf.path && span.start < vf.found.span.end && vf.found.span.start < span.end
            }) {
                vf.dropped = true;
            }
        }
    }

    fn scheme_of(&self, vf: &VersionFileDraft) -> Scheme {
        let lower = vf.path.to_ascii_lowercase();
        let python = vf
            .product
            .is_some_and(|i| self.products[i].ecosystem == Ecosystem::Python);
        if lower.ends_with(".py")
            || lower.ends_with("pyproject.toml")
            || lower.ends_with("setup.cfg")
            || python
        {
            Scheme::Pep440
        } else {
            Scheme::Semver
        }
    }

    /// The version most locations hold (the highest one on a tie).
    fn release_version(&self) -> Option<Version> {
        let mut counts: BTreeMap<Version, usize> = BTreeMap::new();
        let mut seen: BTreeSet<(String, usize)> = BTreeSet::new();
        for p in self.products.iter().filter(|p| !p.dropped) {
            for l in &p.locations {
                if seen.insert((l.path.clone(), l.span.start)) {
                    if let Ok(v) = version::parse_in(&l.value, l.scheme) {
                        *counts.entry(v).or_default() += 1;
                    }
                }
            }
        }
        for vf in self.version_files.iter().filter(|v| !v.dropped) {
            if let Ok(v) = version::parse_in(&vf.version_text, self.scheme_of(vf)) {
                *counts.entry(v).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by(|(va, a), (vb, b)| a.cmp(b).then(va.cmp(vb)))
            .map(|(v, _)| v)
    }

    /// Leave out products and version-files that do not hold the release version.
    fn skip_disagreeing(&mut self, release: &Version) {
        for p in &mut self.products {
            if p.dropped || p.locations.is_empty() {
                continue;
            }
            let agrees = p
                .locations
                .iter()
                .any(|l| version::parse_in(&l.value, l.scheme).is_ok_and(|v| v == *release));
            if !agrees {
                p.dropped = true;
                let first = &p.locations[0];
                let path = p.manifest.clone().unwrap_or_else(|| first.path.clone());
                if p.dir.is_empty() {
                    self.warnings.push(format!(
                        "the {} product at the repository root ({path}, {}) was left out: most version locations hold {release}\n  fix: if {} is the release version, add the product to {FILE_NAME} by hand and remove the entries that hold {release}",
                        p.ecosystem, first.value, first.value
                    ));
                }
                self.skipped.push(Skipped {
                    message: format!(
                        "{path} holds {}, not the release version {release} ({} {})",
                        first.value, p.ecosystem, p.base_name
                    ),
                    path,
                    what: first.what.clone(),
                    value: first.value.clone(),
                });
            }
        }
        self.drop_orphans();
        let schemes: Vec<Scheme> = self
            .version_files
            .iter()
            .map(|vf| self.scheme_of(vf))
            .collect();
        for (vf, scheme) in self.version_files.iter_mut().zip(schemes) {
            if vf.dropped {
                continue;
            }
            let message = match version::parse_in(&vf.version_text, scheme) {
                Ok(v) if v == *release => continue,
                Ok(_) => format!(
                    "{} holds {}, not the release version {release} ({})",
                    vf.path, vf.found.text, vf.what
                ),
                Err(e) => format!("{} holds `{}` ({}): {e}", vf.path, vf.found.text, vf.what),
            };
            vf.dropped = true;
            self.skipped.push(Skipped {
                path: vf.path.clone(),
                what: vf.what.clone(),
                value: vf.found.text.clone(),
                message,
            });
        }
    }

    /// Names, tags, `after`, `exclude`: the config to write.
    fn finish(self, release: Option<&Version>, git: bool) -> Init {
        let mut kept: Vec<usize> = (0..self.products.len())
            .filter(|&i| !self.products[i].dropped)
            .collect();
        kept.sort_by(|&a, &b| self.products[a].sort_path.cmp(&self.products[b].sort_path));
        let mut names: BTreeMap<usize, String> = BTreeMap::new();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for &i in &kept {
            let p = &self.products[i];
            let mut name = p.base_name.clone();
            if taken.contains(&name) {
                name = format!("{}-{}", p.base_name, p.ecosystem);
            }
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{}-{}-{n}", p.base_name, p.ecosystem);
                n += 1;
            }
            taken.insert(name.clone());
            names.insert(i, name);
        }
        let cargo: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&i| self.products[i].ecosystem == Ecosystem::Cargo)
            .collect();
        // The cargo product whose workspace has `manifest` as a member.
        let cargo_of = |manifest: &str| -> Option<usize> {
            cargo.iter().copied().find(|&c| {
                let p = &self.products[c];
                p.manifest.as_deref() == Some(manifest) || p.members.iter().any(|m| m == manifest)
            })
        };
        let several = kept.len() > 1;
        let root_go = kept.iter().any(|&i| {
            self.products[i].go_tag.as_deref() == Some("v{version}")
                && self.products[i].dir.is_empty()
        });
        let mut products = Vec::new();
        for &i in &kept {
            let p = &self.products[i];
            let name = names[&i].clone();
            let tag = match (&p.go_tag, several) {
                (Some(go), _) => go.clone(),
                (None, false) => "v{version}".to_string(),
                (None, true) => format!("{name}-v{{version}}"),
            };
            let mut after = Vec::new();
            match p.ecosystem {
                Ecosystem::Python => {
                    let from = p.maturin_manifest.as_deref().and_then(|m| {
                        cargo_of(m).or_else(|| {
                            // Deepest cargo workspace whose directory holds the pyproject.toml.
                            cargo
                                .iter()
                                .copied()
                                .filter(|&c| !self.products[c].members.is_empty())
                                .filter(|&c| is_inside(&p.dir, &self.products[c].dir))
                                .max_by_key(|&c| self.products[c].dir.len())
                        })
                    });
                    after.extend(from);
                }
                Ecosystem::Npm => {
                    after.extend(cargo_of(&in_dir(&p.dir, "Cargo.toml")));
                }
                _ => {}
            }
            let after: Vec<String> = after
                .into_iter()
                .filter(|&a| a != i)
                .map(|a| names[&a].clone())
                .collect();
            let exclude = match (p.ecosystem, release) {
                (Ecosystem::Cargo, Some(release)) => self.excluded_members(p, release),
                _ => Vec::new(),
            };
            products.push(ProductOut {
                name,
                ecosystem: p.ecosystem,
                manifest: p.manifest.clone(),
                tag,
                after,
                exclude,
                reason: p.why.clone(),
                locations: Vec::new(),
            });
        }
        let mut version_files: Vec<VersionFileOut> = self
            .version_files
            .iter()
            .filter(|v| !v.dropped)
            .map(|v| VersionFileOut {
                path: v.path.clone(),
                key: v.key.clone(),
                pattern: v.pattern.clone(),
                format: v.format.clone(),
                product: v.product.and_then(|i| names.get(&i).cloned()),
                date_key: v.date_key.clone(),
                reason: v.why.clone(),
                line: v.found.line,
            })
            .collect();
        version_files.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        let umbrella = if several || products.is_empty() {
            (!root_go).then(|| "v{version}".to_string())
        } else {
            None
        };
        let mut skipped = self.skipped;
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        let mut unclassified = self.unclassified;
        unclassified.sort_by(|a, b| a.path.cmp(&b.path));
        Init {
            branch: if git {
                release_branch(self.root)
            } else {
                "main".into()
            },
            umbrella,
            root_go_umbrella: several && root_go,
            changelog: self.changelog,
            release: release.cloned(),
            products,
            version_files,
            skipped,
            unclassified,
            warnings: self.warnings,
        }
    }

    /// Members with `publish = false` whose own version is not the release version (an `xtask` at
    /// 0.0.0): left out of the release.
    fn excluded_members(&self, p: &ProductDraft, release: &Version) -> Vec<(String, String)> {
        let mut exclude = Vec::new();
        for member in &p.members {
            let Some(doc) = self.cargo_docs.get(member) else {
                continue;
            };
            let Some(name) = str_at(doc, &["package", "name"]) else {
                continue;
            };
            let publish = match edit::toml::item_at(doc.as_item(), &["package", "publish"]) {
                Some(Item::Value(toml_edit::Value::Boolean(b))) => *b.value(),
                Some(Item::Value(toml_edit::Value::Array(a))) => !a.is_empty(),
                _ => true,
            };
            let Some(version) = str_at(doc, &["package", "version"]) else {
                continue;
            };
            if !publish && Version::parse(version).is_ok_and(|v| v != *release) {
                exclude.push((name.to_string(), format!("publish = false, at {version}")));
            }
        }
        exclude
    }
}

fn only_no_locations(problems: &Problems) -> bool {
    problems
        .problems
        .iter()
        .all(|p| p.message.starts_with("no version locations"))
}

/// A string value at `keys` in a JSON text, where the Repo will find it.
fn json_found(text: &str, keys: &[String]) -> Option<Found> {
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    json::find_optional_string(text, &keys)
        .ok()
        .flatten()
        .map(|s| Found {
            span: s.content,
            line: s.line,
            text: s.value,
        })
}

/// `^1.2.3` → (`^`, `1.2.3`); `~`, `=` and exact pins too. Ranges and protocols are not pins.
fn split_pin(spec: &str) -> Option<(&str, &str)> {
    let rest = spec.trim_start_matches(['^', '~', '=']);
    let op = &spec[..spec.len() - rest.len()];
    if op.len() > 1 || Version::parse(rest).is_err() {
        return None;
    }
    Some((op, rest))
}

/// A TOML string: literal ('...') when that avoids escapes, basic ("...") otherwise.
fn toml_str(s: &str) -> String {
    if s.contains(['"', '\\']) && !s.contains('\'') && !s.chars().any(char::is_control) {
        return format!("'{s}'");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_array(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A one-line comment.
fn comment(text: &str) -> String {
    format!("# {}\n", text.replace(['\r', '\n'], " "))
}

// ---------------------------------------------------------------------------------------------
// The result: rendering, checking, reporting

#[derive(Debug, Clone, Serialize)]
struct LocationOut {
    at: String,
    value: String,
    what: String,
}

#[derive(Debug, Clone, Serialize)]
struct ProductOut {
    name: String,
    ecosystem: Ecosystem,
    manifest: Option<String>,
    tag: String,
    after: Vec<String>,
    #[serde(serialize_with = "exclude_names")]
    exclude: Vec<(String, String)>,
    reason: String,
    /// Where the Repo finds its version (filled in by the check).
    locations: Vec<LocationOut>,
}

fn exclude_names<S: serde::Serializer>(
    exclude: &[(String, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(exclude.iter().map(|(name, _)| name))
}

#[derive(Debug, Clone, Serialize)]
struct VersionFileOut {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_key: Option<String>,
    reason: String,
    #[serde(skip)]
    line: usize,
}

struct Init {
    branch: String,
    umbrella: Option<String>,
    /// Several products and a Go module at the root, whose `v{version}` tag is the umbrella's.
    root_go_umbrella: bool,
    changelog: Option<String>,
    release: Option<Version>,
    products: Vec<ProductOut>,
    version_files: Vec<VersionFileOut>,
    skipped: Vec<Skipped>,
    unclassified: Vec<Unclassified>,
    /// Things to check in the result, found while scanning.
    warnings: Vec<String>,
}

/// What loading the generated config said.
struct Check {
    /// Product name → where its version lives.
    locations: BTreeMap<String, Vec<LocationOut>>,
    /// Every location (with -v).
    all: Vec<LocationOut>,
    notes: Vec<String>,
    warnings: Vec<String>,
    current: Option<Version>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    config: &'a str,
    written: bool,
    release_version: Option<String>,
    products: Vec<ProductOut>,
    version_files: &'a [VersionFileOut],
    skipped: &'a [Skipped],
    unclassified: &'a [Unclassified],
    warnings: &'a [String],
}

/// Parse, validate and load the generated config. A config that does not parse or validate is a
/// bug of `init` (nothing is written); a Repo that does not load, or locations that disagree, are
/// warnings: the file is written so they can be fixed.
fn check_config(root: &Path, text: &str) -> Result<Check> {
    let bug = |problems: Problems| {
        anyhow::anyhow!(
            "init generated a shiplane.toml that does not load; nothing was written (this is a bug in shiplane):\n{problems}"
        )
    };
    let loaded = LoadedConfig::parse(root.join(FILE_NAME), FILE_NAME.to_string(), text.into())
        .map_err(bug)?;
    loaded.validate(root).map_err(bug)?;
    let mut check = Check {
        locations: BTreeMap::new(),
        all: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
        current: None,
    };
    let repo = match Repo::load_with(root, loaded) {
        Ok(repo) => repo,
        Err(problems) => {
            check
                .warnings
                .extend(problems.problems.iter().map(problem_line));
            return Ok(check);
        }
    };
    let state = repo.version_state();
    check.current = state.current.clone();
    check
        .warnings
        .extend(state.problems.iter().map(problem_line));
    for loc in &repo.locations {
        let out = LocationOut {
            at: loc.at(),
            value: loc.value.clone(),
            what: match loc.role {
                Role::Version => loc.what.clone(),
                Role::Requirement => format!("{} (requirement)", loc.what),
                Role::ReleaseDate => format!("{} (release date)", loc.what),
            },
        };
        if let (Some(product), Role::Version) = (&loc.product, loc.role) {
            check
                .locations
                .entry(product.clone())
                .or_default()
                .push(out.clone());
        }
        check.all.push(out);
    }
    check.notes = repo.notes.clone();
    Ok(check)
}

fn problem_line(p: &Problem) -> String {
    let mut line = match p.location() {
        Some(at) => format!("{at}: {}", p.message),
        None => p.message.clone(),
    };
    if let Some(hint) = &p.hint {
        line.push_str(&format!("\n  fix: {hint}"));
    }
    line
}

/// Summary lines: stdout normally, stderr under --dry-run (stdout carries the config then).
struct Say<'a> {
    out: &'a Output,
    stderr: bool,
}

impl Say<'_> {
    fn line(&self, text: impl AsRef<str>) {
        if self.out.json() || self.out.verbosity < 0 {
            return;
        }
        if self.stderr {
            eprintln!("{}", text.as_ref());
        } else {
            crate::report::stdout_line(text.as_ref());
        }
    }

    fn detail(&self, text: impl AsRef<str>) {
        if self.out.verbosity > 0 {
            self.line(text);
        }
    }
}

impl Init {
    fn render(&self) -> String {
        let mut t = String::new();
        t.push_str(&comment(
            "shiplane.toml: the release configuration of this repository, written by `shiplane init`.",
        ));
        t.push_str(&comment(
            "It lists what the repository releases ([[product]]) and every other file holding the version",
        ));
        t.push_str(&comment(
            "([[version-file]]); docs/config.md describes every key. Check it with `shiplane versions`",
        ));
        t.push_str(&comment(
            "(every version location and whether they agree), then preview a release with",
        ));
        t.push_str(&comment("`shiplane bump <version> --dry-run`."));
        if let Some(release) = &self.release {
            t.push_str(&comment(&format!(
                "Found at version {release}; each entry says why it was added."
            )));
        }
        t.push_str("\n[release]\n");
        t.push_str(&format!(
            "branch = {}  # the branch releases are cut from\n",
            toml_str(&self.branch)
        ));
        match (&self.umbrella, self.root_go_umbrella) {
            (Some(tag), _) => t.push_str(&format!(
                "tag = {}  # umbrella tag for the whole release\n",
                toml_str(tag)
            )),
            (None, true) => t.push_str(&comment(
                "No umbrella tag: the Go module at the root is tagged v{version} already.",
            )),
            (None, false) => {}
        }
        if let Some(changelog) = &self.changelog {
            t.push_str(&format!(
                "changelog = {}  # keep-a-changelog file: bump turns its Unreleased section into the release\n",
                toml_str(changelog)
            ));
        }
        for p in &self.products {
            t.push('\n');
            t.push_str(&comment(&p.reason));
            t.push_str("[[product]]\n");
            t.push_str(&format!("name = {}\n", toml_str(&p.name)));
            t.push_str(&format!("ecosystem = \"{}\"\n", p.ecosystem));
            if let Some(manifest) = &p.manifest {
                t.push_str(&format!("manifest = {}\n", toml_str(manifest)));
            }
            t.push_str(&format!("tag = {}\n", toml_str(&p.tag)));
            if !p.after.is_empty() {
                t.push_str(&format!(
                    "after = {}  # built from that Cargo product: published after it\n",
                    toml_array(&p.after)
                ));
            }
            if !p.exclude.is_empty() {
                let names: Vec<String> = p.exclude.iter().map(|(n, _)| n.clone()).collect();
                let why: Vec<String> = p
                    .exclude
                    .iter()
                    .map(|(n, why)| format!("{n}: {why}"))
                    .collect();
                t.push_str(&format!(
                    "exclude = {}  # not released ({})\n",
                    toml_array(&names),
                    why.join("; ")
                ));
            }
        }
        for v in &self.version_files {
            t.push('\n');
            t.push_str(&comment(&v.reason));
            t.push_str("[[version-file]]\n");
            t.push_str(&format!("path = {}\n", toml_str(&v.path)));
            if let Some(key) = &v.key {
                t.push_str(&format!("key = {}\n", toml_array(key)));
            }
            if let Some(pattern) = &v.pattern {
                t.push_str(&format!("pattern = {}\n", toml_str(pattern)));
            }
            if let Some(format) = &v.format {
                t.push_str(&format!("format = {}\n", toml_str(format)));
            }
            if let Some(product) = &v.product {
                t.push_str(&format!("product = {}\n", toml_str(product)));
            }
            if let Some(date_key) = &v.date_key {
                t.push_str(&format!("date-key = {}\n", toml_str(date_key)));
            }
        }
        t
    }

    fn json_report<'a>(&'a self, text: &'a str, written: bool, check: &'a Check) -> JsonReport<'a> {
        let products = self
            .products
            .iter()
            .map(|p| ProductOut {
                locations: check.locations.get(&p.name).cloned().unwrap_or_default(),
                ..p.clone()
            })
            .collect();
        JsonReport {
            config: text,
            written,
            release_version: self.release.as_ref().map(Version::to_string),
            products,
            version_files: &self.version_files,
            skipped: &self.skipped,
            unclassified: &self.unclassified,
            warnings: &check.warnings,
        }
    }

    fn print_summary(&self, say: &Say<'_>, check: &Check) {
        if let Some(release) = check.current.as_ref().or(self.release.as_ref()) {
            say.line(format!("release version: {release}"));
        }
        say.line(format!("products ({}):", self.products.len()));
        for p in &self.products {
            let manifest = p.manifest.as_deref().unwrap_or("(no manifest)");
            let mut extra = String::new();
            if !p.after.is_empty() {
                extra.push_str(&format!(", after {}", p.after.join(", ")));
            }
            if !p.exclude.is_empty() {
                let names: Vec<&str> = p.exclude.iter().map(|(n, _)| n.as_str()).collect();
                extra.push_str(&format!(", exclude {}", names.join(", ")));
            }
            say.line(format!(
                "  {} ({}, {manifest}, tag {}{extra})",
                p.name, p.ecosystem, p.tag
            ));
            let locations = check.locations.get(&p.name).map_or(&[][..], Vec::as_slice);
            match locations {
                [] => {
                    let note = manifest_note(check, p.manifest.as_deref());
                    say.line(format!(
                        "    version: {}",
                        note.unwrap_or_else(|| match p.ecosystem {
                            Ecosystem::Go => "its tag only".into(),
                            _ => "in the version-files below".into(),
                        })
                    ));
                }
                [first, rest @ ..] => {
                    let more = if rest.is_empty() {
                        String::new()
                    } else {
                        format!(" (+{} more; -v lists them)", rest.len())
                    };
                    say.line(format!(
                        "    version: {} {} ({}){more}",
                        first.at, first.value, first.what
                    ));
                }
            }
        }
        if self.version_files.is_empty() {
            say.line("version files: none");
        } else {
            say.line(format!("version files ({}):", self.version_files.len()));
        }
        for v in &self.version_files {
            let what = match (&v.key, &v.pattern) {
                (Some(key), _) => {
                    let keys: Vec<&str> = key.iter().map(String::as_str).collect();
                    format!("key {}", repo::show_keys(&keys))
                }
                (None, Some(p)) => format!("pattern `{p}`"),
                (None, None) => "whole file".into(),
            };
            let format = v
                .format
                .as_ref()
                .map(|f| format!(", format `{f}`"))
                .unwrap_or_default();
            say.line(format!("  {} {what}{format}", v.path));
        }
        if let Some(changelog) = &self.changelog {
            say.line(format!("changelog: {changelog}"));
        }
        self.print_skipped_and_unclassified(say);
        if say.out.verbosity > 0 && !check.all.is_empty() {
            say.detail("every location:");
            let width = check.all.iter().map(|l| l.at.len()).max().unwrap_or(0);
            for l in &check.all {
                say.detail(format!("  {:width$}  {:<14} {}", l.at, l.value, l.what));
            }
            for note in &check.notes {
                say.detail(format!("note: {note}"));
            }
        }
    }

    fn print_skipped_and_unclassified(&self, say: &Say<'_>) {
        for s in &self.skipped {
            say.line(format!("skipped: {}", s.message));
        }
        for u in &self.unclassified {
            say.line(format!("not classified: {} ({})", u.path, u.reason));
        }
    }
}

/// A Repo note about this manifest (e.g. maturin reading an inherited version).
fn manifest_note(check: &Check, manifest: Option<&str>) -> Option<String> {
    let manifest = manifest?;
    check
        .notes
        .iter()
        .find_map(|n| n.strip_prefix(&format!("{manifest}: ")))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_keep_their_operator() {
        assert_eq!(split_pin("^1.2.3"), Some(("^", "1.2.3")));
        assert_eq!(split_pin("~1.2.3"), Some(("~", "1.2.3")));
        assert_eq!(split_pin("1.2.3"), Some(("", "1.2.3")));
        assert_eq!(split_pin("=1.2.3-rc.1"), Some(("=", "1.2.3-rc.1")));
        assert_eq!(split_pin("workspace:^"), None);
        assert_eq!(split_pin(">=1.2.3"), None);
        assert_eq!(split_pin("^1.2"), None);
    }

    #[test]
    fn toml_strings_round_trip() {
        for s in [
            "plain",
            "__version__ = \"{version}\"",
            "it's \"both\"",
            "back\\slash",
            "tab\there",
        ] {
            let doc: toml_edit::DocumentMut = format!("v = {}\n", toml_str(s)).parse().unwrap();
            assert_eq!(doc["v"].as_str(), Some(s), "{}", toml_str(s));
        }
        assert_eq!(
            toml_str("__version__ = \"{version}\""),
            "'__version__ = \"{version}\"'"
        );
    }
}
