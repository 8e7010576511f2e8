//! The one place `publish` runs an ecosystem client (cargo, twine, npm, git, a build command):
//! the command is echoed with every secret redacted, its output is captured, redacted, and shown
//! under `-v` or when it fails. Tokens reach clients through their environment, never their
//! arguments, and are never printed.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::report::Output;
use crate::secrets::Secrets;

/// What a finished command said (already redacted).
#[derive(Debug, Clone)]
pub(crate) struct Ran {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// stdout and stderr together.
    pub fn output(&self) -> String {
        let mut text = self.stdout.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.stderr);
        text
    }

    /// The last `lines` lines of the output, indented, for an error message.
    pub fn tail(&self, lines: usize) -> String {
        let text = self.output();
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let start = all.len().saturating_sub(lines);
        all[start..]
            .iter()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs commands for one product (its name prefixes every echoed line).
pub(crate) struct Runner<'a> {
    pub secrets: &'a Secrets,
    pub out: &'a Output,
    pub prefix: String,
}

impl Runner<'_> {
    /// How `cmd` is shown: program and arguments, shell-quoted, secrets redacted.
    pub fn show(&self, cmd: &Command) -> String {
        let mut words = vec![quote(cmd.get_program())];
        words.extend(cmd.get_args().map(quote));
        self.secrets.redact(&words.join(" "))
    }

    /// Run `cmd` to completion, echoing it first; output is captured (stdin is closed).
    pub fn run(&self, cmd: &mut Command) -> Result<Ran> {
        let shown = self.show(cmd);
        self.out.say(format!("{}$ {shown}", self.prefix));
        let output = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("could not start `{shown}`"))?;
        let ran = Ran {
            success: output.status.success(),
            code: output.status.code(),
            stdout: self
                .secrets
                .redact(&String::from_utf8_lossy(&output.stdout)),
            stderr: self
                .secrets
                .redact(&String::from_utf8_lossy(&output.stderr)),
        };
        if self.out.verbosity >= 1 {
            for line in ran.output().lines() {
                self.out.detail(format!("{}  {line}", self.prefix));
            }
        }
        Ok(ran)
    }

    /// [`Self::run`], failing with the command's last lines of output unless it succeeded.
    pub fn check(&self, cmd: &mut Command) -> Result<Ran> {
        let shown = self.show(cmd);
        let ran = self.run(cmd)?;
        if !ran.success {
            anyhow::bail!(
                "`{shown}` failed ({}):\n{}",
                ran.code
                    .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}")),
                ran.tail(25)
            );
        }
        Ok(ran)
    }
}

fn quote(word: &OsStr) -> String {
    let text = word.to_string_lossy();
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,%^{}".contains(c))
    {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_and_output_are_redacted() {
        let secrets = Secrets::new();
        secrets.add("s3cr3t-token-value");
        let out = Output::plain();
        let runner = Runner {
            secrets: &secrets,
            out: &out,
            prefix: String::new(),
        };
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo s3cr3t-token-value; echo x >&2; exit 3"]);
        assert_eq!(runner.show(&cmd), "sh -c 'echo ***; echo x >&2; exit 3'");
        let error = runner.check(&mut cmd).unwrap_err().to_string();
        assert!(error.contains("exit 3") && error.contains("***"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
    }
}
