//! A Plan is data: the steps a command will take, built without side effects. People read it
//! (Display, with a unified diff of every file), machines read it (`--format json`), tests assert
//! on it, and [`crate::exec`] is the one place that carries it out.

use std::fmt;

use serde::Serialize;

/// Everything a command will do, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// One step of a plan.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// Replace several files' contents at once, all or nothing (see [`crate::txn`]).
    EditFiles {
        purpose: String,
        files: Vec<FileEdit>,
    },
}

/// A file's old and new contents, and the value changes that turn one into the other.
#[derive(Debug, Clone, Serialize)]
pub struct FileEdit {
    pub path: String,
    pub changes: Vec<Change>,
    #[serde(skip)]
    pub before: String,
    #[serde(skip)]
    pub after: String,
}

/// One value changed in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub line: usize,
    pub what: String,
    pub old: String,
    pub new: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.iter().all(|s| match s {
            Step::EditFiles { files, .. } => files.is_empty(),
        })
    }

    /// Every file edit of the plan.
    pub fn file_edits(&self) -> impl Iterator<Item = &FileEdit> {
        self.steps.iter().flat_map(|s| match s {
            Step::EditFiles { files, .. } => files.iter(),
        })
    }

    /// The unified diff of every file the plan writes (`a/` and `b/` prefixes, like git).
    pub fn diff(&self) -> String {
        self.file_edits().map(FileEdit::diff).collect()
    }
}

impl FileEdit {
    pub fn diff(&self) -> String {
        let diff = similar::TextDiff::from_lines(&self.before, &self.after);
        diff.unified_diff()
            .context_radius(3)
            .header(&format!("a/{}", self.path), &format!("b/{}", self.path))
            .to_string()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            match step {
                Step::EditFiles { purpose, files } => {
                    writeln!(f, "{purpose}: {} file(s), all or nothing", files.len())?;
                    for file in files {
                        for c in &file.changes {
                            writeln!(
                                f,
                                "  {}:{}  {}  {} → {}",
                                file.path, c.line, c.what, c.old, c.new
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
