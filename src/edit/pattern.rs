//! Plain-text version locations: a literal pattern around `{version}` (source constants such as
//! `__version__ = "{version}"` or mix.exs's `@version "{version}"`), YAML-ish `key: value` lines
//! (CITATION.cff), and whole-file VERSION files.

use regex::Regex;

use super::{line_of, Found};

/// What a version-looking value may contain: it starts with a digit and runs over the characters
/// semver and PEP 440 use.
const VERSIONISH: &str = r"[0-9][0-9A-Za-z.+_\-]*";

/// Why a pattern did not identify exactly one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// The template lacks `{version}` or has it more than once.
    BadTemplate,
    NoMatch,
    /// More than one match: the 1-based lines of each.
    Ambiguous(Vec<usize>),
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternError::BadTemplate => {
                f.write_str("the pattern must contain `{version}` exactly once")
            }
            PatternError::NoMatch => f.write_str("the pattern matches nothing in the file"),
            PatternError::Ambiguous(lines) => {
                write!(
                f,
                "the pattern matches {} times (lines {}); make it specific enough to match once",
                lines.len(),
                lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
            )
            }
        }
    }
}

/// Compile a template such as `__version__ = "{version}"` into a regex capturing the version.
pub fn compile(template: &str) -> Result<Regex, PatternError> {
    let mut parts = template.split("{version}");
    let (Some(before), Some(after), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(PatternError::BadTemplate);
    };
    Regex::new(&format!(
        "{}(?P<v>{VERSIONISH}){}",
        regex::escape(before),
        regex::escape(after)
    ))
    .map_err(|_| PatternError::BadTemplate)
}

/// The one place `regex` (from [`compile`]) matches in `text`.
pub fn find_once(text: &str, regex: &Regex) -> Result<Found, PatternError> {
    let mut found: Vec<regex::Match> = regex
        .captures_iter(text)
        .filter_map(|c| c.name("v"))
        .collect();
    match found.len() {
        0 => Err(PatternError::NoMatch),
        1 => {
            let m = found.remove(0);
            Ok(Found {
                span: m.range(),
                line: line_of(text, m.start()),
                text: m.as_str().to_string(),
            })
        }
        _ => Err(PatternError::Ambiguous(
            found.iter().map(|m| line_of(text, m.start())).collect(),
        )),
    }
}

/// A top-level `key: value` line of a YAML-ish file (CITATION.cff, `pubspec.yaml`), the value bare or
/// quoted, an optional trailing comment. `Ok(None)` when the key is absent; an error when it appears
/// more than once at top level.
pub fn find_yaml_key(text: &str, key: &str) -> Result<Option<Found>, String> {
    let regex = Regex::new(&format!(
        r#"(?m)^{}[ \t]*:[ \t]*(?:"(?P<dq>[^"\r\n]*)"|'(?P<sq>[^'\r\n]*)'|(?P<bare>[^\s#"'][^\r\n#]*?))[ \t]*(?:#[^\r\n]*)?\r?$"#,
        regex::escape(key)
    ))
    .map_err(|e| e.to_string())?;
    let hits: Vec<regex::Match> = regex
        .captures_iter(text)
        .filter_map(|c| {
            c.name("dq")
                .or_else(|| c.name("sq"))
                .or_else(|| c.name("bare"))
        })
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [m] => Ok(Some(Found {
            span: m.range(),
            line: line_of(text, m.start()),
            text: m.as_str().to_string(),
        })),
        many => Err(format!(
            "key `{key}` appears {} times at top level (lines {})",
            many.len(),
            many.iter()
                .map(|m| line_of(text, m.start()).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A whole-file value (a VERSION file): the text without surrounding whitespace.
pub fn find_whole(text: &str) -> Found {
    let start = text.len() - text.trim_start().len();
    let end = text.trim_end().len().max(start);
    Found {
        span: start..end,
        line: line_of(text, start),
        text: text[start..end].to_string(),
    }
}

/// A Python assignment `NAME = "..."` (either quote, optional `: str` annotation) at the start of a
/// line: how `__version__` is found for a package whose version is dynamic.
pub fn find_python_assignment(text: &str, name: &str) -> Result<Option<Found>, String> {
    let regex = Regex::new(&format!(
        r#"(?m)^{}[ \t]*(?::[ \t]*str[ \t]*)?=[ \t]*(?:"(?P<dq>[^"\r\n]*)"|'(?P<sq>[^'\r\n]*)')"#,
        regex::escape(name)
    ))
    .map_err(|e| e.to_string())?;
    let hits: Vec<regex::Match> = regex
        .captures_iter(text)
        .filter_map(|c| c.name("dq").or_else(|| c.name("sq")))
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [m] => Ok(Some(Found {
            span: m.range(),
            line: line_of(text, m.start()),
            text: m.as_str().to_string(),
        })),
        many => Err(format!(
            "`{name}` is assigned {} times (lines {})",
            many.len(),
            many.iter()
                .map(|m| line_of(text, m.start()).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matches_exactly_once() {
        let text = "# first shipped in 0.4.1\n_SCOPE_VERSION = \"0.4.1\"\n";
        let re = compile("_SCOPE_VERSION = \"{version}\"").unwrap();
        let found = find_once(text, &re).unwrap();
        assert_eq!((found.text.as_str(), found.line), ("0.4.1", 2));
        assert_eq!(&text[found.span], "0.4.1");
        let twice = "@version \"1.0.0\"\n@version \"1.0.0\"\n";
        let re = compile("@version \"{version}\"").unwrap();
        assert_eq!(
            find_once(twice, &re),
            Err(PatternError::Ambiguous(vec![1, 2]))
        );
        assert_eq!(find_once("nothing", &re), Err(PatternError::NoMatch));
        assert_eq!(
            compile("no placeholder").unwrap_err(),
            PatternError::BadTemplate
        );
        assert_eq!(
            compile("{version}{version}").unwrap_err(),
            PatternError::BadTemplate
        );
        let c = find_once(
            "#define V \"1.2.0-rc.1\"",
            &compile("#define V \"{version}\"").unwrap(),
        );
        assert_eq!(c.unwrap().text, "1.2.0-rc.1");
    }

    #[test]
    fn yaml_keys_bare_quoted_and_crlf() {
        let text = "cff-version: 1.2.0\r\nversion: 0.4.1\r\ndate-released: \"2026-03-02\" # day\r\nauthors:\r\n  - version: 9.9.9\r\n";
        let v = find_yaml_key(text, "version").unwrap().unwrap();
        assert_eq!((v.text.as_str(), v.line), ("0.4.1", 2));
        let d = find_yaml_key(text, "date-released").unwrap().unwrap();
        assert_eq!(d.text, "2026-03-02");
        assert!(find_yaml_key(text, "title").unwrap().is_none());
        assert!(find_yaml_key("version: 1\nversion: 2\n", "version").is_err());
    }

    #[test]
    fn whole_file_and_python_assignment() {
        let w = find_whole("\n2.0.0\n\n");
        assert_eq!((w.text.as_str(), w.span, w.line), ("2.0.0", 1..6, 2));
        let p = find_python_assignment("x = 1\n__version__: str = '1.0a1'", "__version__")
            .unwrap()
            .unwrap();
        assert_eq!((p.text.as_str(), p.line), ("1.0a1", 2));
        assert!(find_python_assignment("__version__ = get()", "__version__")
            .unwrap()
            .is_none());
    }
}
