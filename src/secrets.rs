//! Secrets of a run: every token Shiplane holds or can see, and the one function that takes them
//! out of text before it is shown anywhere (echoed commands, their output, errors, the release
//! record, the step summary).
//!
//! Values are collected from the environment (variables whose name says they hold a credential)
//! and added as they are made (tokens from trusted publishing). Redaction replaces each value
//! with `***`, longest first so a secret that contains another is removed whole.

use std::sync::RwLock;

/// Environment variable names (upper-cased) that hold credentials when they contain one of these.
const SECRET_NAME_PARTS: [&str; 7] = [
    "TOKEN",
    "PASSWORD",
    "SECRET",
    "_AUTH",
    "API_KEY",
    "CREDENTIAL",
    "PRIVATE_KEY",
];

/// Shorter values are not redacted (they would mangle ordinary text); no real token is this short.
const MIN_SECRET_LEN: usize = 6;

/// The secrets of one run.
#[derive(Debug, Default)]
pub struct Secrets {
    values: RwLock<Vec<String>>,
}

impl Secrets {
    /// No secrets yet.
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Every credential-looking variable of this process's environment.
    pub fn from_env() -> Secrets {
        let secrets = Secrets::new();
        for (key, value) in std::env::vars_os() {
            let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
                continue;
            };
            if is_secret_name(key) {
                secrets.add(value);
            }
        }
        secrets
    }

    /// Also redact `value` (and, for a `user:password` pair, the password on its own).
    pub fn add(&self, value: &str) {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        let mut values = match self.values.write() {
            Ok(values) => values,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !values.iter().any(|v| v == value) {
            values.push(value.to_string());
            values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let values = match self.values.read() {
            Ok(values) => values,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut text = text.to_string();
        for value in values.iter() {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), "***");
            }
        }
        text
    }

    /// How many values are held (for tests and `-v` output; never the values).
    pub fn len(&self) -> usize {
        match self.values.read() {
            Ok(values) => values.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether an environment variable named `key` holds a credential.
pub fn is_secret_name(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    SECRET_NAME_PARTS.iter().any(|part| key.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_longest_first_and_ignores_short_values() {
        let secrets = Secrets::new();
        secrets.add("abcdef");
        secrets.add("xxabcdefyy");
        secrets.add("abc");
        assert_eq!(secrets.len(), 2);
        assert_eq!(
            secrets.redact("t=xxabcdefyy u=abcdef v=abc"),
            "t=*** u=*** v=abc"
        );
    }

    #[test]
    fn secret_names() {
        for key in [
            "GITHUB_TOKEN",
            "CARGO_REGISTRIES_LOCAL_TOKEN",
            "TWINE_PASSWORD",
            "NODE_AUTH_TOKEN",
            "npm_config__auth",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ] {
            assert!(is_secret_name(key), "{key}");
        }
        for key in ["PATH", "HOME", "CARGO_HOME", "TWINE_USERNAME"] {
            assert!(!is_secret_name(key), "{key}");
        }
    }
}
