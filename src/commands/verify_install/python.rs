//! Python: install `NAME==VERSION` from the index into a fresh venv, import it, compare
//! `__version__` with the PEP 440 form, import the configured symbols, read the installed
//! distribution's metadata, run the smoke code and command.

use std::path::Path;

use serde::Deserialize;
use xshell::{cmd, Shell};

use super::{inspection, install_step, tail, Target};
use crate::config::{Ecosystem, VerifyConfig};
use crate::registry;
use crate::report::{Check, Checklist};

/// What the probe script inside the venv reports.
#[derive(Debug, Deserialize)]
struct Inspection {
    import_error: Option<String>,
    version_attr: Option<String>,
    missing_symbols: Vec<String>,
    license: Option<String>,
    summary: Option<String>,
    urls: Vec<String>,
    readme_len: usize,
}

/// Runs inside the fresh venv: imports the module and reads the distribution's metadata.
const INSPECT: &str = r#"
import importlib, importlib.metadata as md, json, sys
dist, module, symbols = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {"import_error": None, "version_attr": None, "missing_symbols": [], "license": None,
       "summary": None, "urls": [], "readme_len": 0}
try:
    m = importlib.import_module(module)
    v = getattr(m, "__version__", None)
    out["version_attr"] = None if v is None else str(v)
    out["missing_symbols"] = [s for s in symbols if not hasattr(m, s)]
except Exception as e:
    out["import_error"] = f"{type(e).__name__}: {e}"
try:
    meta = md.metadata(dist)
    lic = meta.get("License-Expression") or meta.get("License")
    if not lic:
        lic = "; ".join(c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or []) if c.startswith("License ::")) or None
    out["license"] = lic
    out["summary"] = meta.get("Summary")
    out["urls"] = [u for u in (meta.get_all("Project-URL") or [])] + ([meta["Home-page"]] if meta.get("Home-page") else [])
    body = meta.get_payload() if hasattr(meta, "get_payload") else None
    out["readme_len"] = len((body or meta.get("Description") or "").strip())
except Exception as e:
    out["import_error"] = out["import_error"] or f"metadata: {e}"
print(json.dumps(out))
"#;

pub(super) fn install_and_inspect(
    sh: &Shell,
    work: &Path,
    target: &Target<'_>,
    index: Option<&str>,
    verify: &VerifyConfig,
    list: &mut Checklist,
) {
    let subject = target.subject();
    let venv = work.join("venv");
    let python3 = std::env::var("SHIPLANE_PYTHON").unwrap_or_else(|_| "python3".into());
    if let Err(e) = cmd!(sh, "{python3} -m venv {venv}")
        .quiet()
        .ignore_stdout()
        .run()
    {
        list.push(Check::fail(
            &subject,
            "install",
            format!("cannot create a venv: {e}"),
            "install Python 3 with the venv module",
        ));
        return;
    }
    let python = venv.join("bin").join("python");
    let spec = format!("{}=={}", target.name, target.registry_version);
    let index_args: Vec<String> = index
        .map(|i| vec!["--index-url".to_string(), i.to_string()])
        .unwrap_or_default();
    // Only the index may answer: no find-links, no cache, no extra sources from the environment.
    // The venv's python runs isolated (`-I`: no PYTHONPATH, no user site-packages, not the
    // working directory): a copy of the package found there would be "already satisfied" or
    // imported instead of the one the registry serves. Nothing may send the install elsewhere.
    let install = cmd!(sh, "{python} -I -m pip install --no-cache-dir --disable-pip-version-check --quiet {index_args...} {spec}")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_NO_INDEX")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .env_remove("PIP_USER")
        .env_remove("PIP_TARGET")
        .env_remove("PIP_PREFIX")
        .quiet()
        .ignore_status()
        .output();
    if !install_step(
        list,
        &subject,
        install,
        format!("pip installed {spec} into a fresh venv"),
        "check the package's requirements and that the index serves a file for this Python",
        "install pip in the venv",
    ) {
        return;
    }
    let module = verify
        .module
        .clone()
        .unwrap_or_else(|| target.name.replace(['-', '.'], "_"));
    let symbols = serde_json::to_string(&verify.symbols).unwrap_or_else(|_| "[]".into());
    let name = target.name;
    let inspected = cmd!(sh, "{python} -I -c {INSPECT} {name} {module} {symbols}")
        .quiet()
        .ignore_status()
        .output();
    let Some(inspection) = inspection::<Inspection>(
        list,
        &subject,
        inspected,
        "run the import by hand in a fresh venv",
    ) else {
        return;
    };
    match &inspection.import_error {
        None => list.push(Check::pass(&subject, "import", format!("import {module} works"))),
        Some(e) => list.push(Check::fail(
            &subject,
            "import",
            format!("import {module} fails: {e}"),
            "make the package importable (missing module, dependency or native library?); set [product.verify] module if the import name differs",
        )),
    }
    if inspection.import_error.is_none() {
        let expected = &target.registry_version;
        match &inspection.version_attr {
            None => list.push(Check::pass(
                &subject,
                "__version__",
                "the module has no __version__ (not checked)",
            )),
            // PEP 440 spellings of one version are equal (`1.0.0rc1`, `1.0.0-rc.1`, `1.0.0.RC1`).
            Some(v) if registry::same_version(Ecosystem::Python, v, expected) => {
                list.push(Check::pass(
                    &subject,
                    "__version__",
                    format!("{module}.__version__ = {v}"),
                ))
            }
            Some(v) => list.push(Check::fail(
                &subject,
                "__version__",
                format!("{module}.__version__ = {v}, expected {expected}"),
                "list the file holding __version__ as a [[version-file]] so bump moves it",
            )),
        }
        if !verify.symbols.is_empty() {
            if inspection.missing_symbols.is_empty() {
                list.push(Check::pass(
                    &subject,
                    "symbols",
                    format!("{} public symbol(s) import", verify.symbols.len()),
                ));
            } else {
                list.push(Check::fail(
                    &subject,
                    "symbols",
                    format!(
                        "missing from {module}: {}",
                        inspection.missing_symbols.join(", ")
                    ),
                    "export them, or update [product.verify] symbols",
                ));
            }
        }
    }
    metadata_checks(&subject, &inspection, list);
    if let Some(smoke) = &verify.smoke {
        let run = cmd!(sh, "{python} -I -c {smoke}")
            .quiet()
            .ignore_status()
            .output();
        push_run(
            list,
            &subject,
            "smoke",
            run,
            "fix the package or [product.verify] smoke",
        );
    }
    if let Some(argv) = &verify.command {
        if let Some((program, args)) = argv.split_first() {
            let bin = venv.join("bin");
            let path = format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let program = if bin.join(program).exists() {
                bin.join(program).display().to_string()
            } else {
                program.clone()
            };
            let run = cmd!(sh, "{program} {args...}")
                .env("PATH", path)
                .env_remove("PYTHONPATH")
                .quiet()
                .ignore_status()
                .output();
            push_run(
                list,
                &subject,
                "command",
                run,
                "fix the installed command or [product.verify] command",
            );
        }
    }
}

fn metadata_checks(subject: &str, i: &Inspection, list: &mut Checklist) {
    match &i.license {
        Some(l) if !l.trim().is_empty() => list.push(Check::pass(subject, "license", l.clone())),
        _ => list.push(Check::fail(
            subject,
            "license",
            "no License-Expression, License or license classifier",
            "set [project] license in pyproject.toml",
        )),
    }
    match &i.summary {
        Some(s) if !s.trim().is_empty() => {
            list.push(Check::pass(subject, "description", s.clone()))
        }
        _ => list.push(Check::fail(
            subject,
            "description",
            "no Summary",
            "set [project] description",
        )),
    }
    if i.urls.is_empty() {
        list.push(Check::fail(
            subject,
            "repository",
            "no Project-URL or Home-page",
            "add [project.urls] Repository = \"...\"",
        ));
    } else {
        list.push(Check::pass(subject, "repository", i.urls.join(", ")));
    }
    if i.readme_len > 0 {
        list.push(Check::pass(
            subject,
            "readme",
            format!("{} characters of long description", i.readme_len),
        ));
    } else {
        list.push(Check::fail(
            subject,
            "readme",
            "no long description",
            "set [project] readme",
        ));
    }
}

/// A pass/fail check from running a command.
pub(super) fn push_run(
    list: &mut Checklist,
    subject: &str,
    check: &str,
    run: xshell::Result<std::process::Output>,
    fix: &str,
) {
    match run {
        Ok(o) if o.status.success() => list.push(Check::pass(subject, check, "ran successfully")),
        Ok(o) => list.push(Check::fail(
            subject,
            check,
            format!(
                "exited {}: {}",
                o.status
                    .code()
                    .map_or("by a signal".into(), |c| c.to_string()),
                tail(&[o.stderr, o.stdout].concat())
            ),
            fix,
        )),
        Err(e) => list.push(Check::fail(subject, check, format!("cannot run: {e}"), fix)),
    }
}
