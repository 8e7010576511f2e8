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
