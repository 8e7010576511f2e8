//! Keeps the documentation from drifting away from the code. Every list checked here comes from the
//! code itself, not from a copy kept by hand:
//!
//! 1. the keys `shiplane.toml` accepts, from the config parser's "unknown field" error, must each
//!    appear in docs/config.md as `` `key` ``;
//! 2. every subcommand of the CLI must have a heading in docs/cli.md, and every option must appear
//!    there;
//! 3. every relative link in docs/ must point at a file that exists (and, for `#anchor` links to a
//!    Markdown file, at a heading of that file).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use shiplane::config::LoadedConfig;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_doc(rel: &str) -> String {
    let path = manifest_dir().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every backticked name in an "expected one of `a`, `b`" (or "expected `a` or `b`") message.
fn expected_names(message: &str) -> Vec<String> {
    let Some((_, list)) = message.split_once("expected") else {
        return Vec::new();
    };
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The keys a table accepts: parse a config with an unknown key there and read the parser's list.
fn accepted_keys(table_header: &str) -> Vec<String> {
    let text = format!("{table_header}\nno-such-key-for-docs-test = 1\n");
    let err = LoadedConfig::parse(
        PathBuf::from("shiplane.toml"),
        "shiplane.toml".into(),
        text.clone(),
    )
    .expect_err("a config with an unknown key must not parse");
    let message = err
        .problems
        .iter()
        .map(|p| p.message.as_str())
        .find(|m| m.contains("unknown field"))
        .unwrap_or_else(|| panic!("no \"unknown field\" problem for:\n{text}\ngot: {err}"));
    let keys = expected_names(message);
    assert!(
        !keys.is_empty(),
        "cannot read the accepted keys of {table_header:?} from: {message}"
    );
    keys
}

#[test]
fn config_reference_documents_every_key() {
    let doc = read_doc("docs/config.md");
    let mut missing = Vec::new();

    // Top-level tables: `[release]`, `[[product]]`, `[[version-file]]`.
    for table in accepted_keys("") {
        let forms = [
            format!("`[{table}]`"),
            format!("`[[{table}]]`"),
            format!("`[{table}.NAME]`"),
        ];
        if !forms.iter().any(|f| doc.contains(f.as_str())) {
            missing.push(format!("table `{table}` (as {})", forms.join(" or ")));
        }
    }

    // (heading, the TOML that opens the table for the probe)
    let tables = [
        ("[release]", "[release]"),
        ("[[product]]", "[[product]]"),
        ("[[version-file]]", "[[version-file]]"),
        ("[registry.NAME]", "[registry.x]"),
        (
            "[product.verify]",
            "[[product]]\nname = \"a\"\necosystem = \"go\"\n[product.verify]",
        ),
        ("[ci]", "[ci]"),
        ("[[ci.step]]", "[[ci.step]]"),
        ("[ci.actions]", "[ci.actions.\"owner/repo\"]"),
    ];
    for (table, opener) in tables {
        if !doc
            .lines()
            .any(|l| l.starts_with('#') && l.contains(&format!("`{table}`")))
        {
            missing.push(format!("a heading for `{table}`"));
        }
        for key in accepted_keys(opener) {
            if !doc.contains(&format!("`{key}`")) {
                missing.push(format!("{table} `{key}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/config.md does not document these shiplane.toml keys:\n  {}",
        missing.join("\n  ")
    );
}

/// The option as docs write it: `--long`, or `-s` for an option that has only a short form.
fn option_spellings(arg: &clap::Arg) -> Vec<String> {
    match (arg.get_long(), arg.get_short()) {
        (Some(long), _) => vec![format!("--{long}")],
        (None, Some(short)) => vec![format!("-{short}")],
        (None, None) => Vec::new(),
    }
}

/// Whether `doc` mentions `option` in backticks: `` `--dry-run` `` or `` `--format json` ``.
fn mentions_option(doc: &str, option: &str) -> bool {
    doc.match_indices(&format!("`{option}")).any(|(i, m)| {
        doc[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| matches!(c, '`' | ' ' | '='))
    })
}

#[test]
fn cli_reference_documents_every_command_and_option() {
    let doc = read_doc("docs/cli.md");
    let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with('#')).collect();
    let cli = shiplane::cli::Cli::command();
    let mut missing = Vec::new();

    let mut commands = vec![&cli];
    commands.extend(cli.get_subcommands());
    for command in &commands {
        let is_root = std::ptr::eq(*command, &cli);
        let name = command.get_name();
        if !is_root && !headings.iter().any(|h| h.contains(&format!("`{name}`"))) {
            missing.push(format!("a heading for the `{name}` command"));
        }
        for arg in command.get_arguments() {
            if arg.is_positional() {
                continue;
            }
            for option in option_spellings(arg) {
                if !mentions_option(&doc, &option) {
                    missing.push(format!("option `{option}` of `{name}`"));
                }
            }
            for value in arg.get_possible_values() {
                if !value.is_hide_set() && !doc.contains(&format!(" {}`", value.get_name())) {
                    missing.push(format!(
                        "value `{}` of `{name}`'s option {:?}",
                        value.get_name(),
                        arg.get_id()
                    ));
                }
            }
        }
    }
    assert!(
        commands.len() > 1,
        "the CLI has no subcommands: is this the right command?"
    );
    assert!(
        missing.is_empty(),
        "docs/cli.md lacks:\n  {}",
        missing.join("\n  ")
    );
}

/// Every Markdown file under `dir`, recursively.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The text outside fenced code blocks and inline code, where links live.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop inline code spans (of any number of backticks).
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            out.push_str(&rest[..start]);
            let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
            let fence = &rest[start..start + ticks];
            let after = &rest[start + ticks..];
            match after.find(fence) {
                Some(end) => rest = &after[end + ticks..],
                None => {
                    rest = after;
                    break;
                }
            }
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// The targets of inline links `[text](target)`.
fn link_targets(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or_default();
        targets.push(target.trim_matches(['<', '>']).to_string());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(anchor_of(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn relative_links_in_docs_resolve() {
    let docs = manifest_dir().join("docs");
    let mut files = Vec::new();
    markdown_files(&docs, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no Markdown files under docs/");
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(manifest_dir()).unwrap_or(file).display();
        for target in link_targets(&text) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            if !resolved.exists() {
                broken.push(format!("{shown}: ({target}): no such file"));
                continue;
            }
            if let (Some(fragment), true) =
                (fragment, resolved.extension().is_some_and(|e| e == "md"))
            {
                let target_text = fs::read_to_string(&resolved).unwrap();
                if !anchors(&target_text).contains(fragment) {
                    broken.push(format!("{shown}: ({target}): no heading for #{fragment}"));
                }
            }
        }
    }
    assert!(checked > 0, "found no relative links to check in docs/");
    assert!(
        broken.is_empty(),
        "broken links in docs/:\n  {}",
        broken.join("\n  ")
    );
}
