//! Span-preserving lookup of string values in JSON documents.
//!
//! Shiplane edits version strings in place: it locates the exact byte span of
//! one string value and swaps only those bytes, so indentation, key order, line
//! endings, a trailing newline (or its absence) and a UTF-8 BOM all survive.
//!
//! The scanner below is a strict RFC 8259 validator that walks the whole
//! document once (O(n), recursion bounded by `MAX_DEPTH`) and records the
//! span of the value at the requested path on the way.

use std::fmt;
use std::ops::Range;

/// Deepest nesting of objects/arrays accepted before reporting a syntax error.
const MAX_DEPTH: usize = 512;

/// Where a string value sits in a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonString {
    /// Byte range of the string's contents, quotes excluded: `text[content]` is the raw (still-escaped) contents.
    pub content: Range<usize>,
    /// 1-based line of the opening quote.
    pub line: usize,
    /// The decoded value.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// The text is not valid JSON: 1-based line and column (in chars) of the problem and what was expected.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// `path[..depth+1]` does not exist; `depth` is the index of the first missing key; `line` is the line of the object/array that lacks it.
    Missing { depth: usize, line: usize },
    /// The value at the path exists but is not a string (say what it is: "number", "object", ...).
    NotAString { line: usize, found: &'static str },
    /// An object along the path has the key twice, so the path is ambiguous (line of the second occurrence).
    DuplicateKey { key: String, line: usize },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax {
                line,
                column,
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            JsonError::Missing { depth, line } => write!(
                f,
                "line {line}: path element #{} does not exist here",
                depth + 1
            ),
            JsonError::NotAString { line, found } => {
                write!(f, "line {line}: expected a string, found {found}")
            }
            JsonError::DuplicateKey { key, line } => write!(
                f,
                "line {line}: duplicate key `{key}` makes the path ambiguous"
            ),
        }
    }
}

impl std::error::Error for JsonError {}

/// Find the string value at `path` (object keys compared after unescaping; keys may contain `/`, `@`, `.`, spaces;
/// a path element addressing an ARRAY must be a decimal index like "0").
///
/// The whole document is validated, even when the value appears early.
/// Errors are reported with this precedence: [`JsonError::Syntax`], then
/// [`JsonError::DuplicateKey`], then [`JsonError::Missing`] /
/// [`JsonError::NotAString`]. A scalar where the path needs to go deeper is
/// reported as `Missing` at that depth, with the scalar's line.
pub fn find_string(text: &str, path: &[&str]) -> Result<JsonString, JsonError> {
    let mut scanner = Scanner::new(text, path);
    scanner.run()?;
    if let Some(duplicate) = scanner.duplicate {
        return Err(duplicate);
    }
    // The top-level value is always on the path, so an outcome is always
    // recorded; the fallback only keeps this free of `unwrap`.
    scanner
        .outcome
        .unwrap_or(Err(JsonError::Missing { depth: 0, line: 1 }))
}

/// Every string value at `path`, same rules, but returns Ok(None) instead of Missing when any key along the path
/// is absent (used for optional locations such as package-lock.json's `packages[""].version`).
pub fn find_optional_string(text: &str, path: &[&str]) -> Result<Option<JsonString>, JsonError> {
    match find_string(text, path) {
        Ok(found) => Ok(Some(found)),
        Err(JsonError::Missing { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Replace the contents of the string at `content` by `new_contents` (which the caller guarantees needs no escaping:
/// version strings). Returns the new document. Every byte outside `content` is unchanged.
///
/// # Panics
///
/// Like [`String::replace_range`], panics if `content` is out of bounds or not
/// on char boundaries; ranges returned by [`find_string`] always are valid.
pub fn replace_contents(text: &str, content: Range<usize>, new_contents: &str) -> String {
    let mut out = String::with_capacity(text.len() + new_contents.len());
    out.push_str(text);
    out.replace_range(content, new_contents);
    out
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    path: &'a [&'a str],
    /// Result for the path (found, missing or wrong type); first one wins.
    outcome: Option<Result<JsonString, JsonError>>,
    /// First duplicate of a path key seen in an object on the path.
    duplicate: Option<JsonError>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str, path: &'a [&'a str]) -> Self {
        let bom = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        Scanner {
            text,
            bytes: text.as_bytes(),
            pos: bom,
            line: 1,
            line_start: bom,
            path,
            outcome: None,
            duplicate: None,
        }
    }

    fn run(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        self.value(0, Some(0))?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(self.error_at(
                self.pos,
                "expected end of input after the JSON value".to_string(),
            ));
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                _ => break,
            }
        }
    }

    /// Syntax error at byte `pos`, which must lie on the current line.
    fn error_at(&self, pos: usize, message: String) -> JsonError {
        let end = pos.min(self.bytes.len());
        let start = self.line_start.min(end);
        // Count chars by counting non-continuation bytes.
        let column = self.bytes[start..end]
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count()
            + 1;
        JsonError::Syntax {
            line: self.line,
            column,
            message,
        }
    }

    /// "expected X" at the current position, naming what was found instead.
    fn expected(&self, what: &str) -> JsonError {
        let message = match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            None => format!("unexpected end of input, expected {what}"),
            Some(c) => format!("expected {what}, found {}", describe_char(c)),
        };
        self.error_at(self.pos, message)
    }

    fn set_outcome(&mut self, outcome: Result<JsonString, JsonError>) {
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
        }
    }

    /// A non-string value starting on `line` was seen; `target` says whether it is on the path.
    fn non_string(&mut self, target: Option<usize>, line: usize, found: &'static str) {
        if let Some(depth) = target {
            if depth == self.path.len() {
                self.set_outcome(Err(JsonError::NotAString { line, found }));
            } else if !matches!(found, "object" | "array") {
                self.set_outcome(Err(JsonError::Missing { depth, line }));
            }
        }
    }

    /// Parse one value starting at the current (non-whitespace) position.
    /// `target` is `Some(d)` when the value sits at `path[..d]`.
    fn value(&mut self, depth: usize, target: Option<usize>) -> Result<(), JsonError> {
        let line = self.line;
        match self.peek() {
            Some(b'{') => self.object(depth, target),
            Some(b'[') => self.array(depth, target),
            Some(b'"') => {
                let is_target = target == Some(self.path.len());
                let mut decoded = String::new();
                let content = self.string(is_target.then_some(&mut decoded))?;
                if is_target {
                    self.set_outcome(Ok(JsonString {
                        content,
                        line,
                        value: decoded,
                    }));
                } else {
                    self.non_string(target, line, "string");
                }
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                self.non_string(target, line, "number");
                Ok(())
            }
            Some(b't') => {
                self.literal("true")?;
                self.non_string(target, line, "boolean");
                Ok(())
            }
            Some(b'f') => {
                self.literal("false")?;
                self.non_string(target, line, "boolean");
                Ok(())
            }
            Some(b'n') => {
                self.literal("null")?;
                self.non_string(target, line, "null");
                Ok(())
            }
            _ => Err(self.expected("a JSON value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            Err(self.error_at(self.pos, format!("nesting deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize, target: Option<usize>) -> Result<(), JsonError> {
        self.enter(depth)?;
        let open_line = self.line;
        self.pos += 1; // `{`
        self.non_string(target, open_line, "object");
        let path = self.path;
        let wanted: Option<(usize, &str)> = target
            .filter(|&d| d < path.len())
            .and_then(|d| path.get(d).map(|key| (d, *key)));
        let mut found = false;

        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.expected("a string key"));
                }
                let key_line = self.line;
                let mut key = String::new();
                self.string(wanted.is_some().then_some(&mut key))?;
                let child = match wanted {
                    Some((d, want)) if key == want => {
                        if found {
                            if self.duplicate.is_none() {
                                self.duplicate = Some(JsonError::DuplicateKey {
                                    key,
                                    line: key_line,
                                });
                            }
                            None
                        } else {
                            found = true;
                            Some(d + 1)
                        }
                    }
                    _ => None,
                };
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(self.expected("`:`"));
                }
                self.pos += 1;
                self.skip_ws();
                self.value(depth + 1, child)?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                    }
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.expected("`,` or `}`")),
                }
            }
        }
        if let (Some((d, _)), false) = (wanted, found) {
            self.set_outcome(Err(JsonError::Missing {
                depth: d,
                line: open_line,
            }));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize, target: Option<usize>) -> Result<(), JsonError> {
        self.enter(depth)?;
        let open_line = self.line;
        self.pos += 1; // `[`
        self.non_string(target, open_line, "array");
        let path = self.path;
        // `Some((d, None))`: the path continues here but not with an index.
        let wanted: Option<(usize, Option<usize>)> = target
            .filter(|&d| d < path.len())
            .and_then(|d| path.get(d).map(|element| (d, parse_index(element))));
        let mut found = false;

        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            let mut index = 0usize;
            loop {
                let child = match wanted {
                    Some((d, Some(want))) if want == index => {
                        found = true;
                        Some(d + 1)
                    }
                    _ => None,
                };
                self.value(depth + 1, child)?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        index += 1;
                    }
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.expected("`,` or `]`")),
                }
            }
        }
        if let (Some((d, _)), false) = (wanted, found) {
            self.set_outcome(Err(JsonError::Missing {
                depth: d,
                line: open_line,
            }));
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        for expected in word.bytes() {
            if self.peek() != Some(expected) {
                return Err(self.expected(&format!("`{word}`")));
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn digits(&mut self, what: &str) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.expected(what));
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error_at(
                    self.pos - 1,
                    "leading zeros are not allowed in numbers".to_string(),
                ));
            }
        } else {
            self.digits("a digit")?;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits("a digit after `.`")?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits("a digit in the exponent")?;
        }
        Ok(())
    }

    /// Four hex digits at `pos`.
    fn hex4(&self, pos: usize) -> Result<u32, JsonError> {
        let mut code = 0u32;
        for at in pos..pos + 4 {
            let digit = match self.bytes.get(at) {
                None => {
                    return Err(
                        self.error_at(at, "unexpected end of input in `\\u` escape".to_string())
                    )
                }
                Some(&b) => (b as char).to_digit(16).ok_or_else(|| {
                    self.error_at(at, "expected 4 hex digits after `\\u`".to_string())
                })?,
            };
            code = code * 16 + digit;
        }
        Ok(code)
    }

    /// Parse a string starting at the opening quote; returns the content range
    /// and pushes the decoded value into `out` when given.
    fn string(&mut self, mut out: Option<&mut String>) -> Result<Range<usize>, JsonError> {
        self.pos += 1; // opening quote
        let start = self.pos;
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            if let (Some(out), Some(run)) = (out.as_deref_mut(), self.text.get(run_start..self.pos))
            {
                out.push_str(run);
            }
            match self.peek() {
                None => {
                    return Err(self.error_at(
                        self.pos,
                        "unexpected end of input inside a string".to_string(),
                    ))
                }
                Some(b'"') => {
                    let content = start..self.pos;
                    self.pos += 1;
                    return Ok(content);
                }
                Some(b'\\') => {
                    let c = self.escape()?;
                    if let Some(out) = out.as_deref_mut() {
                        out.push(c);
                    }
                }
                Some(_) => {
                    return Err(self.error_at(
                        self.pos,
                        "control character in string (must be escaped)".to_string(),
                    ))
                }
            }
        }
    }

    /// Parse one escape sequence starting at the backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let backslash = self.pos;
        let c = match self.bytes.get(backslash + 1) {
            None => {
                return Err(self.error_at(
                    backslash + 1,
                    "unexpected end of input inside a string".to_string(),
                ))
            }
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let first = self.hex4(backslash + 2)?;
                self.pos = backslash + 6;
                let code = match first {
                    0xD800..=0xDBFF => {
                        let lone = || {
                            self.error_at(backslash, "lone surrogate in `\\u` escape".to_string())
                        };
                        if self.bytes.get(self.pos) != Some(&b'\\')
                            || self.bytes.get(self.pos + 1) != Some(&b'u')
                        {
                            return Err(lone());
                        }
                        let second = self.hex4(self.pos + 2)?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(lone());
                        }
                        self.pos += 6;
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => {
                        return Err(
                            self.error_at(backslash, "lone surrogate in `\\u` escape".to_string())
                        )
                    }
                    _ => first,
                };
                return char::from_u32(code).ok_or_else(|| {
                    self.error_at(backslash, "invalid code point in `\\u` escape".to_string())
                });
            }
            Some(_) => {
                let found = self
                    .text
                    .get(backslash + 1..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                return Err(
                    self.error_at(backslash, format!("invalid escape `\\{found}` in string"))
                );
            }
        };
        self.pos = backslash + 2;
        Ok(c)
    }
}

/// A canonical decimal array index ("0", "17"; no sign, no leading zeros).
fn parse_index(element: &str) -> Option<usize> {
    let canonical = !element.is_empty()
        && element.bytes().all(|b| b.is_ascii_digit())
        && (element == "0" || !element.starts_with('0'));
    if canonical {
        element.parse().ok()
    } else {
        None
    }
}

fn describe_char(c: char) -> String {
    match c {
        '\n' => "a line break".to_string(),
        '\r' => "a carriage return".to_string(),
        '\t' => "a tab".to_string(),
        '\u{feff}' => "a byte order mark".to_string(),
        c if c.is_control() => format!("control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use serde_json::Value;

    fn syntax(text: &str) -> (usize, usize, String) {
        match find_string(text, &[]) {
            Err(JsonError::Syntax {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    const PACKAGE_JSON: &str = r#"{
  "name": "@acme/app",
  "version": "1.4.0",
  "private": true,
  "dependencies": {
    "@scope/engine": "^2.0.1",
    "left-pad": "1.3.0"
  },
  "files": ["dist", "README.md"]
}
"#;

    #[test]
    fn package_json_version() {
        let found = find_string(PACKAGE_JSON, &["version"]).unwrap();
        assert_eq!(found.value, "1.4.0");
        assert_eq!(found.line, 3);
        assert_eq!(&PACKAGE_JSON[found.content.clone()], "1.4.0");
        let updated = replace_contents(PACKAGE_JSON, found.content, "1.5.0");
        assert_eq!(updated, PACKAGE_JSON.replace("1.4.0", "1.5.0"));
    }

    #[test]
    fn nested_scoped_dependency() {
        let found = find_string(PACKAGE_JSON, &["dependencies", "@scope/engine"]).unwrap();
        assert_eq!(found.value, "^2.0.1");
        assert_eq!(found.line, 6);
    }

    #[test]
    fn tauri_v1_package_version() {
        let text = "{\n  \"package\": {\n    \"productName\": \"App\",\n    \"version\": \"0.9.1\"\n  },\n  \"tauri\": {\"bundle\": {\"active\": true}}\n}";
        let found = find_string(text, &["package", "version"]).unwrap();
        assert_eq!(found.value, "0.9.1");
        assert_eq!(found.line, 4);
    }

    const PACKAGE_LOCK: &str = r#"{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "packages": {
    "": {
      "name": "app",
      "version": "1.0.0"
    },
    "node_modules/a": {"version": "2.0.0"}
  }
}"#;

    #[test]
    fn package_lock_empty_key() {
        let found = find_string(PACKAGE_LOCK, &["packages", "", "version"]).unwrap();
        assert_eq!(found.value, "1.0.0");
        assert_eq!(found.line, 8);
        let found = find_string(PACKAGE_LOCK, &["packages", "node_modules/a", "version"]).unwrap();
        assert_eq!(found.value, "2.0.0");
        assert_eq!(found.line, 10);
    }

    #[test]
    fn optional_location() {
        let found = find_optional_string(PACKAGE_LOCK, &["packages", "", "version"]).unwrap();
        assert_eq!(found.map(|f| f.line), Some(8));
        let old_lock =
            r#"{"name": "app", "version": "1.0.0", "lockfileVersion": 1, "dependencies": {}}"#;
        assert_eq!(
            find_optional_string(old_lock, &["packages", "", "version"]),
            Ok(None)
        );
        // Other errors are still errors.
        assert!(matches!(
            find_optional_string("{\"packages\": ", &["packages", "", "version"]),
            Err(JsonError::Syntax { .. })
        ));
        assert!(matches!(
            find_optional_string(
                r#"{"packages": {"": {"version": 1}}}"#,
                &["packages", "", "version"]
            ),
            Err(JsonError::NotAString {
                found: "number",
                ..
            })
        ));
    }

    #[test]
    fn keys_with_dots_slashes_and_spaces() {
        let text = r#"{"a.b": {"c/d": {"with space @x": "1.0.0"}}, "a": {"b": "no"}}"#;
        let found = find_string(text, &["a.b", "c/d", "with space @x"]).unwrap();
        assert_eq!(found.value, "1.0.0");
    }

    #[test]
    fn array_index_path() {
        let text = "[\n  {\"v\": \"0.1.0\"},\n  {\"v\": \"0.2.0\"}\n]";
        assert_eq!(find_string(text, &["1", "v"]).unwrap().value, "0.2.0");
        assert_eq!(find_string(text, &["1", "v"]).unwrap().line, 3);
        assert_eq!(
            find_string(text, &["2", "v"]),
            Err(JsonError::Missing { depth: 0, line: 1 })
        );
        // Not a canonical decimal index.
        for bad in ["01", "-1", "+1", "x", ""] {
            assert_eq!(
                find_string(text, &[bad, "v"]),
                Err(JsonError::Missing { depth: 0, line: 1 }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn escaped_key_matches_unescaped_path() {
        let text = r#"{"a\u002fb": {"\u00e9t\u00E9": "3.0.0"}, "tab\tkey": "x"}"#;
        assert_eq!(find_string(text, &["a/b", "été"]).unwrap().value, "3.0.0");
        assert_eq!(find_string(text, &["tab\tkey"]).unwrap().value, "x");
    }

    #[test]
    fn value_is_decoded_but_span_is_raw() {
        let text = r#"{"v": "1.2\u002e3-\ud83d\ude00"}"#;
        let found = find_string(text, &["v"]).unwrap();
        assert_eq!(found.value, "1.2.3-😀");
        assert_eq!(&text[found.content], r"1.2\u002e3-\ud83d\ude00");
    }

    #[test]
    fn syntax_error_line_and_column() {
        let text = "{\n  \"a\": 1,\n  \"b\": 2\n  \"c\": 3\n}";
        let err = find_string(text, &["a"]).unwrap_err();
        assert_eq!(
            err,
            JsonError::Syntax {
                line: 4,
                column: 3,
                message: "expected `,` or `}`, found `\"`".to_string()
            }
        );
        assert_eq!(
            err.to_string(),
            "line 4, column 3: expected `,` or `}`, found `\"`"
        );
        // Columns count chars, not bytes.
        let (line, column, _) = syntax("{\"é😀\": x}");
        assert_eq!((line, column), (1, 8));
    }

    #[test]
    fn missing_error() {
        let err = find_string(PACKAGE_JSON, &["dependencies", "react"]).unwrap_err();
        assert_eq!(err, JsonError::Missing { depth: 1, line: 5 });
        assert_eq!(
            err.to_string(),
            "line 5: path element #2 does not exist here"
        );
        assert_eq!(
            find_string(PACKAGE_JSON, &["nope"]),
            Err(JsonError::Missing { depth: 0, line: 1 })
        );
        // Going through a scalar: missing at that depth, line of the scalar.
        assert_eq!(
            find_string(PACKAGE_JSON, &["version", "major"]),
            Err(JsonError::Missing { depth: 1, line: 3 })
        );
        assert_eq!(
            find_string("\"1.0.0\"", &["version"]),
            Err(JsonError::Missing { depth: 0, line: 1 })
        );
    }

    #[test]
    fn not_a_string_error() {
        let cases: [(&[&str], usize, &str); 5] = [
            (&["private"], 4, "boolean"),
            (&["dependencies"], 5, "object"),
            (&["files"], 9, "array"),
            (&[], 1, "object"),
            (&["files", "0", "x"], 9, ""),
        ];
        for (path, line, found) in cases {
            let err = find_string(PACKAGE_JSON, path).unwrap_err();
            if found.is_empty() {
                assert_eq!(err, JsonError::Missing { depth: 2, line });
            } else {
                assert_eq!(err, JsonError::NotAString { line, found });
            }
        }
        let text = "{\"n\": 1.5e3, \"z\": null}";
        assert_eq!(
            find_string(text, &["n"]),
            Err(JsonError::NotAString {
                line: 1,
                found: "number"
            })
        );
        let err = find_string(text, &["z"]).unwrap_err();
        assert_eq!(err.to_string(), "line 1: expected a string, found null");
    }

    #[test]
    fn duplicate_key_on_path() {
        let text = "{\n  \"version\": \"1.0.0\",\n  \"version\": \"2.0.0\"\n}";
        let err = find_string(text, &["version"]).unwrap_err();
        assert_eq!(
            err,
            JsonError::DuplicateKey {
                key: "version".to_string(),
                line: 3
            }
        );
        assert_eq!(
            err.to_string(),
            "line 3: duplicate key `version` makes the path ambiguous"
        );
        // Duplicates elsewhere do not matter.
        let text = r#"{"a": {"x": 1, "x": 2}, "v": "1.0.0"}"#;
        assert_eq!(find_string(text, &["v"]).unwrap().value, "1.0.0");
        // Escaped spelling of the same key is still a duplicate.
        let text = "{\"p\": {\"v\": \"1\"},\n\"\\u0070\": {}}";
        assert_eq!(
            find_string(text, &["p", "v"]),
            Err(JsonError::DuplicateKey {
                key: "p".to_string(),
                line: 2
            })
        );
    }

    #[test]
    fn crlf_line_numbers() {
        let text = "{\r\n  \"name\": \"x\",\r\n  \"version\": \"1.0.0\"\r\n}\r\n";
        let found = find_string(text, &["version"]).unwrap();
        assert_eq!(found.line, 3);
        let updated = replace_contents(text, found.content, "1.1.0");
        assert_eq!(updated, text.replace("1.0.0", "1.1.0"));
        assert_eq!(
            find_string("{\r\n\r\n  \"a\": tru\r\n}", &["a"]),
            Err(JsonError::Syntax {
                line: 3,
                column: 11,
                message: "expected `true`, found a carriage return".to_string()
            })
        );
    }

    #[test]
    fn bom_is_accepted_and_kept() {
        let text = "\u{feff}{\"version\": \"1.0.0\"}";
        let found = find_string(text, &["version"]).unwrap();
        assert_eq!(&text[found.content.clone()], "1.0.0");
        let updated = replace_contents(text, found.content, "2.0.0");
        assert_eq!(updated, "\u{feff}{\"version\": \"2.0.0\"}");
        // Column excludes the BOM; a second BOM is not whitespace.
        assert_eq!(syntax("\u{feff}{,}").1, 2);
        assert!(find_string("\u{feff}\u{feff}{}", &[]).is_err());
        assert!(find_string("{}\u{feff}", &[]).is_err());
    }

    #[test]
    fn truncated_document_is_an_error() {
        let full = "{\"version\": \"1.0.0\", \"more\": [1, 2]}";
        for cut in 1..full.len() {
            let err = find_string(&full[..cut], &["version"]).unwrap_err();
            assert!(matches!(err, JsonError::Syntax { .. }), "{cut}: {err:?}");
        }
        let (_, _, message) = syntax("{\"version\": \"1.0.0\"");
        assert_eq!(message, "unexpected end of input, expected `,` or `}`");
    }

    #[test]
    fn trailing_commas_are_rejected() {
        assert_eq!(
            syntax("{\"a\": 1,\n}"),
            (2, 1, "expected a string key, found `}`".to_string())
        );
        assert_eq!(
            syntax("[1, 2,]"),
            (1, 7, "expected a JSON value, found `]`".to_string())
        );
    }

    #[test]
    fn rejects_invalid_json() {
        let bad = [
            "",
            "   \n",
            "{} // c",
            "/* c */ {}",
            "{'a': 1}",
            "{\"a\": 'b'}",
            "NaN",
            "[Infinity]",
            "[01]",
            "[-01]",
            "[1.]",
            "[.5]",
            "[+1]",
            "[1e]",
            "[-]",
            "[\"a\tb\"]",
            "[\"a\nb\"]",
            "[\"\\x\"]",
            "[\"\\u12\"]",
            "[\"\\u12G4\"]",
            "[\"\\ud800\"]",
            "[\"\\ud800\\u0041\"]",
            "[\"\\udc00\"]",
            "[\"\\ud800\\ud800\"]",
            "{} {}",
            "{}x",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\": }",
            "{1: 2}",
            "[tru]",
            "[nul]",
            "[True]",
            "\"abc",
            "{\"a\":1,,\"b\":2}",
            "\u{a0}{}",
        ];
        for text in bad {
            assert!(
                matches!(find_string(text, &[]), Err(JsonError::Syntax { .. })),
                "{text:?} should be rejected"
            );
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn accepts_valid_json() {
        let good = [
            "0",
            "-0",
            "-0.0e+0",
            "1E-7",
            "true",
            " null ",
            "\t[\r\n]\n",
            "{\"\":\"\"}",
            "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\uD83D\\uDE00\"]",
            "\"\u{7f}\u{10ffff}\"",
        ];
        for text in good {
            assert!(
                !matches!(find_string(text, &[]), Err(JsonError::Syntax { .. })),
                "{text:?} should be accepted"
            );
        }
    }

    #[test]
    fn nesting_limit() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(matches!(
            find_string(&nested(MAX_DEPTH), &[]),
            Err(JsonError::NotAString { found: "array", .. })
        ));
        let (line, column, message) = syntax(&nested(MAX_DEPTH + 1));
        assert_eq!((line, column), (1, MAX_DEPTH + 1));
        assert_eq!(message, "nesting deeper than 512 levels");
        // Huge depth must not overflow the stack either.
        assert!(find_string(&nested(100_000), &[]).is_err());
    }

    #[test]
    fn whole_document_is_validated_after_the_value() {
        let text = "{\"version\": \"1.0.0\", \"x\": [1, 2,]}";
        assert!(matches!(
            find_string(text, &["version"]),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn replace_keeps_every_other_byte() {
        let text = "\u{feff}{\r\n\t\"version\" :\"1.0.0\"  }";
        let found = find_string(text, &["version"]).unwrap();
        let updated = replace_contents(text, found.content.clone(), "10.0.0-rc.1");
        assert_eq!(updated, "\u{feff}{\r\n\t\"version\" :\"10.0.0-rc.1\"  }");
        assert_eq!(
            replace_contents(text, found.content, ""),
            "\u{feff}{\r\n\t\"version\" :\"\"  }"
        );
    }

    // ----- property tests -----

    #[derive(Debug, Clone)]
    enum Node {
        Null,
        Bool(bool),
        Num(String),
        Str(String),
        Arr(Vec<Node>),
        Obj(Vec<(String, Node)>),
    }

    impl Node {
        fn to_value(&self) -> Value {
            match self {
                Node::Null => Value::Null,
                Node::Bool(b) => Value::Bool(*b),
                Node::Num(n) => serde_json::from_str(n).unwrap(),
                Node::Str(s) => Value::String(s.clone()),
                Node::Arr(items) => Value::Array(items.iter().map(Node::to_value).collect()),
                Node::Obj(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_value()))
                        .collect(),
                ),
            }
        }
    }

    fn key_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "",
                "version",
                "name",
                "@scope/engine",
                "a.b",
                "a/b",
                "with space",
                "0",
                "1",
                "ünïcödé",
                "日本",
                "😀",
                "\"q\"",
                "back\\slash",
            ])
            .prop_map(String::from),
            "[a-z0-9@/._ é日😀\"\\\\\t\u{1}-]{0,8}",
        ]
    }

    fn leaf_strategy() -> impl Strategy<Value = Node> {
        prop_oneof![
            Just(Node::Null),
            any::<bool>().prop_map(Node::Bool),
            prop_oneof![
                any::<i32>().prop_map(|n| n.to_string()),
                prop::sample::select(vec![
                    "0", "-0", "3.14", "-0.5e10", "1E+2", "2e-3", "10.01", "-12.5E-1",
                ])
                .prop_map(String::from),
            ]
            .prop_map(Node::Num),
            "[a-zA-Z0-9 .:/\\\\\"é😀\n\u{0}\u{7f}-]{0,10}".prop_map(Node::Str),
        ]
    }

    fn node_strategy() -> impl Strategy<Value = Node> {
        leaf_strategy().prop_recursive(6, 64, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Node::Arr),
                prop::collection::vec((key_strategy(), inner), 0..5).prop_map(|entries| {
                    let mut seen = std::collections::HashSet::new();
                    Node::Obj(
                        entries
                            .into_iter()
                            .filter(|(k, _)| seen.insert(k.clone()))
                            .collect(),
                    )
                }),
            ]
        })
    }

    /// Replace a node reached by following `seeds` with the version string; returns the path.
    fn place(node: &mut Node, seeds: &[Index], version: &str, path: &mut Vec<String>) {
        if let Some((seed, rest)) = seeds.split_first() {
            match node {
                Node::Arr(items) if !items.is_empty() => {
                    let i = seed.index(items.len());
                    path.push(i.to_string());
                    return place(&mut items[i], rest, version, path);
                }
                Node::Obj(entries) if !entries.is_empty() => {
                    let i = seed.index(entries.len());
                    path.push(entries[i].0.clone());
                    return place(&mut entries[i].1, rest, version, path);
                }
                _ => {}
            }
        }
        *node = Node::Str(version.to_string());
    }

    struct Render {
        ws: Vec<&'static str>,
        next_ws: usize,
        escape_non_ascii: bool,
        escape_slash: bool,
        out: String,
    }

    impl Render {
        fn ws(&mut self) {
            if !self.ws.is_empty() {
                self.out.push_str(self.ws[self.next_ws % self.ws.len()]);
                self.next_ws += 1;
            }
        }

        fn string(&mut self, s: &str) {
            self.out.push('"');
            for c in s.chars() {
                match c {
                    '"' => self.out.push_str("\\\""),
                    '\\' => self.out.push_str("\\\\"),
                    '\n' => self.out.push_str("\\n"),
                    '\t' => self.out.push_str("\\t"),
                    '/' if self.escape_slash => self.out.push_str("\\/"),
                    c if (c as u32) < 0x20 => self.out.push_str(&format!("\\u{:04x}", c as u32)),
                    c if self.escape_non_ascii && !c.is_ascii() => {
                        for unit in c.encode_utf16(&mut [0; 2]) {
                            self.out.push_str(&format!("\\u{unit:04X}"));
                        }
                    }
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }

        fn node(&mut self, node: &Node) {
            match node {
                Node::Null => self.out.push_str("null"),
                Node::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
                Node::Num(n) => self.out.push_str(n),
                Node::Str(s) => self.string(s),
                Node::Arr(items) => {
                    self.out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.ws();
                        self.node(item);
                        self.ws();
                    }
                    self.ws();
                    self.out.push(']');
                }
                Node::Obj(entries) => {
                    self.out.push('{');
                    for (i, (key, value)) in entries.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.ws();
                        self.string(key);
                        self.ws();
                        self.out.push(':');
                        self.ws();
                        self.node(value);
                        self.ws();
                    }
                    self.ws();
                    self.out.push('}');
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    struct Doc {
        text: String,
        path: Vec<String>,
        version: String,
        expected: Value,
    }

    fn doc_strategy(allow_bom: bool) -> impl Strategy<Value = Doc> {
        (
            node_strategy(),
            prop::collection::vec(any::<Index>(), 0..7),
            prop::sample::select(vec![
                "1.2.3",
                "1.2.3-rc.1",
                "0.0.0",
                "10.20.30-beta.2+build.5",
            ]),
            prop::collection::vec(
                prop::sample::select(vec!["", " ", "  ", "\t", "\n", "\r\n", "\r\n\t  ", " \n"]),
                0..8,
            ),
            any::<(bool, bool, bool)>(),
            prop::sample::select(vec!["", "\n", "\r\n"]),
        )
            .prop_map(
                move |(
                    mut root,
                    seeds,
                    version,
                    ws,
                    (bom, escape_non_ascii, escape_slash),
                    end,
                )| {
                    let mut path = Vec::new();
                    place(&mut root, &seeds, version, &mut path);
                    let mut render = Render {
                        ws,
                        next_ws: 0,
                        escape_non_ascii,
                        escape_slash,
                        out: String::new(),
                    };
                    if bom && allow_bom {
                        render.out.push('\u{feff}');
                    }
                    render.ws();
                    render.node(&root);
                    render.ws();
                    render.out.push_str(end);
                    Doc {
                        text: render.out,
                        path,
                        version: version.to_string(),
                        expected: root.to_value(),
                    }
                },
            )
    }

    fn strip_bom(text: &str) -> &str {
        text.strip_prefix('\u{feff}').unwrap_or(text)
    }

    fn value_at_mut<'v>(mut value: &'v mut Value, path: &[String]) -> &'v mut Value {
        for element in path {
            value = match value {
                Value::Object(map) => map.get_mut(element).unwrap(),
                Value::Array(items) => &mut items[element.parse::<usize>().unwrap()],
                other => panic!("path goes through a scalar: {other:?}"),
            };
        }
        value
    }

    /// Our validity verdict must match serde_json's (BOM stripped, since
    /// serde_json rejects it; serde_json limits that are not syntax are skipped).
    fn agrees_with_serde(text: &str) -> Result<(), TestCaseError> {
        let ours = find_string(text, &[]);
        let theirs = serde_json::from_str::<Value>(strip_bom(text));
        if let Err(e) = &theirs {
            let message = e.to_string();
            if message.contains("number out of range") || message.contains("recursion limit") {
                return Ok(());
            }
        }
        let ours_valid = !matches!(ours, Err(JsonError::Syntax { .. }));
        prop_assert_eq!(
            ours_valid,
            theirs.is_ok(),
            "input {:?}: ours {:?}, serde_json {:?}",
            text,
            ours,
            theirs
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_find_and_replace(
            doc in doc_strategy(true),
            new_version in prop::sample::select(vec!["2.0.0", "1.2.4-rc.2", "99.99.99", ""]),
        ) {
            let path: Vec<&str> = doc.path.iter().map(String::as_str).collect();
            let text = &doc.text;
            let found = find_string(text, &path);
            prop_assert!(found.is_ok(), "{:?} at {:?}: {:?}", text, path, found);
            let found = found.unwrap();
            prop_assert_eq!(&found.value, &doc.version);
            prop_assert_eq!(&text[found.content.clone()], doc.version.as_str());
            prop_assert_eq!(found.line, 1 + text[..found.content.start].matches('\n').count());
            prop_assert_eq!(&text[found.content.start - 1..found.content.start], "\"");
            prop_assert_eq!(&text[found.content.end..found.content.end + 1], "\"");

            // The original parses to the model.
            let original: Value = serde_json::from_str(strip_bom(text)).unwrap();
            prop_assert_eq!(&original, &doc.expected);

            let updated = replace_contents(text, found.content.clone(), new_version);
            // (a) bytes outside the span are identical
            prop_assert_eq!(&updated.as_bytes()[..found.content.start], &text.as_bytes()[..found.content.start]);
            let new_end = found.content.start + new_version.len();
            prop_assert_eq!(&updated.as_bytes()[new_end..], &text.as_bytes()[found.content.end..]);
            // (b) still valid JSON
            let parsed = serde_json::from_str::<Value>(strip_bom(&updated));
            prop_assert!(parsed.is_ok(), "{:?}", updated);
            let mut parsed = parsed.unwrap();
            // (c) the value at the path is the new version
            prop_assert_eq!(
                value_at_mut(&mut parsed, &doc.path).clone(),
                Value::String(new_version.to_string())
            );
            // (d) everything else is unchanged
            let mut expected = doc.expected.clone();
            *value_at_mut(&mut expected, &doc.path) = Value::String(new_version.to_string());
            prop_assert_eq!(&parsed, &expected);
            // And we find the new value at the same place.
            let again = find_string(&updated, &path).unwrap();
            prop_assert_eq!(again.content, found.content.start..new_end);
            prop_assert_eq!(again.value, new_version);
        }

        #[test]
        fn prop_arbitrary_unicode_never_panics(text in any::<String>()) {
            let _ = find_string(&text, &["a", "0", ""]);
            agrees_with_serde(&text)?;
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = find_string(&text, &["a"]);
            agrees_with_serde(&text)?;
        }

        #[test]
        fn prop_json_alphabet_agrees_with_serde(
            text in "\u{feff}?[\\[\\]{}\":,0-9eE.+\\- \t\r\ntrufalsn\\\\/u'xé]{0,24}"
        ) {
            let _ = find_string(&text, &["a", "0"]);
            agrees_with_serde(&text)?;
        }

        #[test]
        fn prop_mutated_json_agrees_with_serde(
            doc in doc_strategy(false),
            edits in prop::collection::vec(
                (
                    any::<Index>(),
                    0u8..3,
                    prop::sample::select(vec![
                        '{', '}', '[', ']', '"', ':', ',', '0', '1', '-', '.', 'e', '+', ' ',
                        '\n', '\\', 'u', 'd', '8', 'n', 't', '\u{1}', '\'', '/', 'é',
                    ]),
                ),
                0..3,
            ),
        ) {
            let mut chars: Vec<char> = doc.text.chars().collect();
            for (at, op, c) in edits {
                match op {
                    0 => chars.insert(at.index(chars.len() + 1), c),
                    1 if !chars.is_empty() => { chars.remove(at.index(chars.len())); }
                    _ if !chars.is_empty() => { let i = at.index(chars.len()); chars[i] = c; }
                    _ => chars.push(c),
                }
            }
            let text: String = chars.into_iter().collect();
            let path: Vec<&str> = doc.path.iter().map(String::as_str).collect();
            let _ = find_string(&text, &path);
            agrees_with_serde(&text)?;
        }
    }
}
