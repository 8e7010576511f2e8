//! npm: `npm install NAME@VERSION` into a fresh folder with its own cache and user config, then
//! `require` (or `import`) it, compare its `version`, check the exported symbols, run the smoke
//! code and command.

use std::fs;
use std::path::Path;

use serde::Deserialize;
use xshell::{cmd, Shell};

use super::python::push_run;
use super::{inspection, install_step, Target};
use crate::config::VerifyConfig;
use crate::report::{Check, Checklist};

#[derive(Debug, Deserialize)]
struct Inspection {
    load_error: Option<String>,
    version: Option<String>,
    missing_symbols: Vec<String>,
}

/// Runs in the fresh folder: loads the package (CommonJS, else ESM) and reads its package.json.
const INSPECT: &str = r#"
const [name, mod, symbols] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
const out = { load_error: null, version: null, missing_symbols: [] };
const path = require("path");
try {
  out.version = require(path.join(process.cwd(), "node_modules", name, "package.json")).version;
} catch (e) { out.load_error = "package.json: " + e.message; }
(async () => {
  let m;
  try { m = require(mod); }
  catch (e) {
    if (e.code !== "ERR_REQUIRE_ESM" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") { out.load_error = e.message; }
    else { try { m = await import(mod); } catch (e2) { out.load_error = e2.message; } }
  }
  if (m !== undefined) { out.missing_symbols = symbols.filter((s) => !(s in m)); }
  console.log(JSON.stringify(out));
})();
"#;

pub(super) fn install_and_inspect(
    work: &Path,
    target: &Target<'_>,
    registry: Option<&str>,
    verify: &VerifyConfig,
    list: &mut Checklist,
) {
    let subject = target.subject();
    let project = work.join("npm-project");
    let setup = fs::create_dir_all(&project).and_then(|()| {
        fs::write(
            project.join("package.json"),
            "{\n  \"name\": \"shiplane-verify\",\n  \"private\": true,\n  \"version\": \"0.0.0\"\n}\n",
        )
    });
    if let Err(e) = setup {
        list.push(Check::fail(
            &subject,
            "install",
            format!("cannot prepare a folder: {e}"),
            "check the temp directory",
        ));
        return;
    }
    // A fresh cache, and (when Shiplane knows the registry) a fresh user config: only the
    // registry answers. Without a configured registry the user's npm configuration decides.
    let cache = work.join("npm-cache");
    let mut args: Vec<String> = vec!["--cache".into(), cache.display().to_string()];
    if let Some(url) = registry {
        let userconfig = work.join("npmrc");
        if let Err(e) = fs::write(&userconfig, format!("registry={url}\n")) {
            list.push(Check::fail(
                &subject,
                "install",
                format!("cannot write an npmrc: {e}"),
                "check the temp directory",
            ));
            return;
        }
        args.extend([
            "--userconfig".into(),
            userconfig.display().to_string(),
            "--registry".into(),
            url.to_string(),
        ]);
    }
    // npm runs in the fresh folder: a shell of its own, changed into it.
    let Ok(sh) = Shell::new() else {
        list.push(Check::fail(
            &subject,
            "install",
            "cannot start a shell",
            "check the environment",
        ));
        return;
    };
    sh.change_dir(&project);
    let sh = &sh;
    let spec = format!("{}@{}", target.name, target.registry_version);
    let install = cmd!(
        sh,
        "npm install --no-audit --no-fund --no-save --loglevel=error {args...} {spec}"
    )
    .quiet()
    .ignore_status()
    .output();
    if !install_step(
        list,
        &subject,
        install,
        format!("npm install {spec} into a fresh folder"),
        "check the package's dependencies resolve from the registry",
        "install Node.js and npm",
    ) {
        return;
    }
    let module = verify
        .module
        .clone()
        .unwrap_or_else(|| target.name.to_string());
    let symbols = serde_json::to_string(&verify.symbols).unwrap_or_else(|_| "[]".into());
    let name = target.name;
    let inspected = cmd!(sh, "node -e {INSPECT} {name} {module} {symbols}")
        .quiet()
        .ignore_status()
        .output();
    let Some(inspection) = inspection::<Inspection>(
        list,
        &subject,
        inspected,
        "load the package by hand in a fresh folder",
    ) else {
        return;
    };
    match &inspection.load_error {
        None => list.push(Check::pass(
            &subject,
            "import",
            format!("require/import of {module} works"),
        )),
        Some(e) => list.push(Check::fail(
            &subject,
            "import",
            format!("loading {module} fails: {e}"),
            "check `main`/`exports` and the files published (`files`, .npmignore)",
        )),
    }
    match &inspection.version {
        Some(v) if *v == target.registry_version => list.push(Check::pass(
            &subject,
            "version",
            format!("installed package.json says {v}"),
        )),
        Some(v) => list.push(Check::fail(
            &subject,
            "version",
            format!(
                "installed package.json says {v}, expected {}",
                target.registry_version
            ),
            "publish the version bump created",
        )),
        None => list.push(Check::fail(
            &subject,
            "version",
            "no version in the installed package.json",
            "publish a package.json with a version",
        )),
    }
    if !verify.symbols.is_empty() && inspection.load_error.is_none() {
        if inspection.missing_symbols.is_empty() {
            list.push(Check::pass(
                &subject,
                "symbols",
                format!("{} export(s) present", verify.symbols.len()),
            ));
        } else {
            list.push(Check::fail(
                &subject,
                "symbols",
                format!("missing exports: {}", inspection.missing_symbols.join(", ")),
                "export them, or update [product.verify] symbols",
            ));
        }
    }
    if let Some(smoke) = &verify.smoke {
        let run = cmd!(sh, "node -e {smoke}").quiet().ignore_status().output();
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
            let bin = project.join("node_modules").join(".bin");
            let path = format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let run = cmd!(sh, "{program} {args...}")
                .env("PATH", path)
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
