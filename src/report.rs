//! Reporting: problems with their location and fix, exit codes, output format and colour.

use std::fmt;
use std::io::IsTerminal;

use serde::Serialize;

/// Process exit codes (documented in docs/cli.md).
pub mod exit {
    /// Everything worked (including "nothing to do").
    pub const SUCCESS: u8 = 0;
    /// A check or step failed; the output says how to fix it.
    pub const FAILURE: u8 = 1;
    /// Bad command-line usage or configuration.
    pub const USAGE: u8 = 2;
}

/// One thing wrong, where it is, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            file: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at(file: &str, line: usize, message: impl Into<String>) -> Problem {
        Problem {
            file: Some(file.to_string()),
            line: Some(line),
            ..Problem::new(message)
        }
    }

    pub fn in_file(file: &str, message: impl Into<String>) -> Problem {
        Problem {
            file: Some(file.to_string()),
            ..Problem::new(message)
        }
    }

    pub fn column(mut self, column: usize) -> Problem {
        self.column = Some(column);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line` (or `file`), for listings.
    pub fn location(&self) -> Option<String> {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => Some(format!("{f}:{l}")),
            (Some(f), None) => Some(f.clone()),
            _ => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location() {
            write!(f, "{loc}: ")?;
        }
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  fix: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem a check found; the command fails once with the whole list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Problems {
    pub problems: Vec<Problem>,
    /// Exit code class: usage/configuration (2) or a failed check (1).
    #[serde(skip)]
    pub usage: bool,
}

impl Problems {
    pub fn one(problem: Problem) -> Problems {
        Problems {
            problems: vec![problem],
            usage: true,
        }
    }

    /// A list of failed checks (exit 1) rather than configuration errors (exit 2).
    pub fn checks(problems: Vec<Problem>) -> Problems {
        Problems {
            problems,
            usage: false,
        }
    }

    pub fn push(&mut self, problem: Problem) {
        self.usage = true;
        self.problems.push(problem);
    }

    pub fn extend(&mut self, other: Problems) {
        self.usage |= other.usage;
        self.problems.extend(other.problems);
    }

    pub fn len(&self) -> usize {
        self.problems.len()
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn into_result(self) -> Result<(), Problems> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    pub fn exit_code(&self) -> u8 {
        if self.usage {
            exit::USAGE
        } else {
            exit::FAILURE
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// A usage error (exit code 2) with its message, e.g. an invalid version argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A failed check (exit code 1) whose message already says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailed(pub String);

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckFailed {}

/// The exit code an error maps to: configuration and usage errors give 2, everything else 1.
pub fn exit_code_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(Reported(code)) = cause.downcast_ref::<Reported>() {
            return *code;
        }
        if let Some(p) = cause.downcast_ref::<Problems>() {
            return p.exit_code();
        }
        if cause.downcast_ref::<UsageError>().is_some()
            || cause
                .downcast_ref::<crate::version::VersionInputError>()
                .is_some()
        {
            return exit::USAGE;
        }
    }
    exit::FAILURE
}

/// Write `text` to stdout. A closed pipe (`shiplane versions | head`) is not an error worth a
/// panic: the rest of the output is dropped.
pub fn stdout(text: &str) {
    use std::io::Write;
    let mut lock = std::io::stdout().lock();
    let _ = lock.write_all(text.as_bytes()).and_then(|()| lock.flush());
}

/// [`stdout`] with a line break.
pub fn stdout_line(text: &str) {
    stdout(&format!("{text}\n"));
}

/// An error whose report was already printed (e.g. a JSON document that carries the failure):
/// only its exit code remains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported(pub u8);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed (exit {}; reported above)", self.0)
    }
}

impl std::error::Error for Reported {}

/// Output format for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// How a command talks to the person (or machine) running it. Passed down explicitly; no globals.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    /// -1 quiet, 0 normal, 1+ verbose.
    pub verbosity: i8,
    pub color: bool,
}

impl Output {
    /// Colours only on a terminal and never under `NO_COLOR` (any non-empty value).
    pub fn new(format: Format, verbosity: i8) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            format,
            verbosity,
            color: !no_color && std::io::stdout().is_terminal() && format == Format::Text,
        }
    }

    pub fn plain() -> Output {
        Output {
            format: Format::Text,
            verbosity: 0,
            color: false,
        }
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// Print a line of normal text output (suppressed by -q and in JSON mode).
    pub fn say(&self, line: impl AsRef<str>) {
        if self.format == Format::Text && self.verbosity >= 0 {
            stdout_line(line.as_ref());
        }
    }

    /// Print a detail shown only with -v.
    pub fn detail(&self, line: impl AsRef<str>) {
        if self.format == Format::Text && self.verbosity > 0 {
            stdout_line(line.as_ref());
        }
    }

    /// A warning, always to stderr (even with -q, even in JSON mode).
    pub fn warn(&self, line: impl AsRef<str>) {
        eprintln!("{}{}", self.paint("warning: ", "33"), line.as_ref());
    }

    /// Wrap `text` in an ANSI colour when colours are on.
    pub fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Print a value as pretty JSON on stdout.
    pub fn emit_json(&self, value: &impl Serialize) -> anyhow::Result<()> {
        stdout_line(&serde_json::to_string_pretty(value)?);
        Ok(())
    }
}

/// One check of a checklist command (`verify-install`, `preflight`): what was checked, on what,
/// whether it passed, and the fix when it did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What the check is about: `product`, or `product/package@version`.
    pub subject: String,
    /// Short name of the check: `install`, `import`, `version`, `license`, ...
    pub check: String,
    pub ok: bool,
    /// What was found.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(subject: &str, check: &str, detail: impl Into<String>) -> Check {
        Check {
            subject: subject.to_string(),
            check: check.to_string(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(
        subject: &str,
        check: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            subject: subject.to_string(),
            check: check.to_string(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// A checklist: every check, reported as text (✓/✗ with the fix), JSON, and under GitHub Actions
/// as `::error::` annotations plus a Markdown table appended to `$GITHUB_STEP_SUMMARY`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checklist {
    pub title: String,
    pub checks: Vec<Check>,
    /// The parts the checks came from, in order, with their timing (`preflight`); left out of the
    /// JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<CheckGroup>,
    /// Wall time of the whole checklist, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// A named part of a [`Checklist`]: how many checks it gave, how many failed, how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckGroup {
    pub name: String,
    pub duration_ms: u64,
    pub checks: usize,
    pub failed: usize,
}

impl Checklist {
    pub fn new(title: impl Into<String>) -> Checklist {
        Checklist {
            title: title.into(),
            ..Checklist::default()
        }
    }

    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }

    /// The text report: one line per check.
    pub fn text(&self, out: &Output) -> String {
        let mut s = String::new();
        for c in &self.checks {
            let mark = if c.ok {
                out.paint("✓", "32")
            } else {
                out.paint("✗", "31;1")
            };
            s.push_str(&format!(
                "{mark} {}  {}: {}\n",
                c.subject, c.check, c.detail
            ));
            if let Some(fix) = &c.fix {
                s.push_str(&format!("    fix: {fix}\n"));
            }
        }
        let failed = self.failed();
        s.push_str(&if failed == 0 {
            format!("{}: all {} checks passed\n", self.title, self.checks.len())
        } else {
            format!(
                "{}: {failed} of {} checks failed\n",
                self.title,
                self.checks.len()
            )
        });
        s
    }

    /// The Markdown table for `$GITHUB_STEP_SUMMARY`.
    pub fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut s = format!(
            "### {}\n\n| | subject | check | detail | fix |\n|---|---|---|---|---|\n",
            cell(&self.title)
        );
        for c in &self.checks {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                if c.ok { "✅" } else { "❌" },
                cell(&c.subject),
                cell(&c.check),
                cell(&c.detail),
                cell(c.fix.as_deref().unwrap_or(""))
            ));
        }
        s
    }

    /// Print the report in the chosen format; under GitHub Actions also annotate failures and
    /// append the table to the step summary. Returns an error (exit 1) when any check failed.
    pub fn finish(&self, out: &Output) -> anyhow::Result<()> {
        if out.json() {
            out.emit_json(self)?;
        } else if out.verbosity >= 0 || self.failed() > 0 {
            stdout(&self.text(out));
        }
        if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
            for c in self.checks.iter().filter(|c| !c.ok) {
                let message = format!(
                    "{} {}: {} (fix: {})",
                    c.subject,
                    c.check,
                    c.detail,
                    c.fix.as_deref().unwrap_or("")
                );
                eprintln!(
                    "::error title=shiplane {}::{}",
                    c.check,
                    github_escape(&message)
                );
            }
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "appending to $GITHUB_STEP_SUMMARY ({}): {e}",
                            std::path::Path::new(&path).display()
                        )
                    })?;
                f.write_all(self.markdown().as_bytes())?;
            }
        }
        if self.failed() == 0 {
            Ok(())
        } else if out.json() {
            Err(Reported(exit::FAILURE).into())
        } else {
            Err(CheckFailed(format!(
                "{}: {} of {} checks failed",
                self.title,
                self.failed(),
                self.checks.len()
            ))
            .into())
        }
    }
}

/// Escape a message for a GitHub Actions workflow command (`%`, CR, LF).
pub fn github_escape(message: &str) -> String {
    message
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checklist_text_and_markdown() {
        let mut list = Checklist::new("verify-install 1.2.3");
        list.push(Check::pass(
            "engine/polyglot-engine@1.2.3",
            "install",
            "builds from the registry",
        ));
        list.push(Check::fail(
            "python/polyglot@1.2.3",
            "license",
            "no License metadata",
            "set [project].license",
        ));
        let text = list.text(&Output::plain());
        assert!(
            text.contains("✓ engine/polyglot-engine@1.2.3  install: builds from the registry\n"),
            "{text}"
        );
        assert!(text.contains("✗ python/polyglot@1.2.3  license: no License metadata\n    fix: set [project].license\n"), "{text}");
        assert!(
            text.ends_with("verify-install 1.2.3: 1 of 2 checks failed\n"),
            "{text}"
        );
        let md = list.markdown();
        assert!(md.contains("| ❌ | python/polyglot@1.2.3 | license | no License metadata | set [project].license |"), "{md}");
        assert_eq!(github_escape("a%b\nc"), "a%25b%0Ac");
    }
}
