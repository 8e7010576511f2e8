//! TOML: find string values by key path in a span-keeping parse (`toml_edit::Document`), so a
//! version is replaced in place without re-serialising the document.

use std::ops::Range;

use toml_edit::{Document, Item, Value};

use super::{line_of, Found};

/// Parse TOML keeping spans. The error message carries line and column.
pub fn parse(text: &str) -> Result<Document<&str>, String> {
    Document::parse(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                format!(
                    "line {}, column {}: ",
                    line_of(text, s.start),
                    super::column_of(text, s.start)
                )
            })
            .unwrap_or_default();
        format!("{at}{}", e.message().trim())
    })
}

/// The item at `path` (tables, inline tables and dotted keys alike), if present.
pub fn item_at<'a>(root: &'a Item, path: &[&str]) -> Option<&'a Item> {
    let mut item = root;
    for key in path {
        item = item.as_table_like()?.get(key)?;
    }
    Some(item)
}

/// Where a string value sits. Errors when it is not a plain single-line string whose raw text equals
/// its value (an escape sequence inside a version would make a span edit unsafe).
pub fn string_of(text: &str, value: &Value) -> Result<Found, String> {
    let Value::String(s) = value else {
        return Err(format!("expected a string, found {}", value.type_name()));
    };
    let span: Range<usize> = value
        .span()
        .ok_or_else(|| "value has no position in the file".to_string())?;
    let raw = text.get(span.clone()).unwrap_or_default();
    let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        return Err("a multi-line string cannot hold a version".into());
    } else {
        raw.chars().next()
    };
    if !matches!(quote, Some('"') | Some('\'')) || raw.len() < 2 {
        return Err("value is not a quoted string".into());
    }
    let inner = (span.start + 1)..(span.end - 1);
    let inner_text = &text[inner.clone()];
    if inner_text != s.value() {
        return Err(format!(
            "string `{}` contains escape sequences; write it plainly",
            s.value()
        ));
    }
    Ok(Found {
        line: line_of(text, span.start),
        span: inner,
        text: inner_text.to_string(),
    })
}

/// The string at `path`: `Ok(None)` when the path is absent, an error when it is not a plain string.
pub fn find_string<S>(
    text: &str,
    doc: &Document<S>,
    path: &[&str],
) -> Result<Option<Found>, String> {
    match item_at(doc.as_item(), path) {
        None | Some(Item::None) => Ok(None),
        Some(Item::Value(v)) => string_of(text, v).map(Some),
        Some(other) => Err(format!("expected a string, found {}", other.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_strings_in_tables_inline_tables_and_dotted_keys() {
        let text = "[package]\nname = \"a\"\nversion = '1.2.3' # keep\n\n[dependencies]\nb = { path = \"../b\", version = \"=1.2.3\" }\nc.path = \"../c\"\nc.version = \"1.2.3\"\n";
        let doc = parse(text).unwrap();
        let v = find_string(text, &doc, &["package", "version"])
            .unwrap()
            .unwrap();
        assert_eq!((v.text.as_str(), v.line), ("1.2.3", 3));
        assert_eq!(&text[v.span.clone()], "1.2.3");
        let b = find_string(text, &doc, &["dependencies", "b", "version"])
            .unwrap()
            .unwrap();
        assert_eq!((b.text.as_str(), b.line), ("=1.2.3", 6));
        let c = find_string(text, &doc, &["dependencies", "c", "version"])
            .unwrap()
            .unwrap();
        assert_eq!(c.line, 8);
        assert!(find_string(text, &doc, &["package", "nope"])
            .unwrap()
            .is_none());
        assert!(find_string(text, &doc, &["package"]).is_err());
    }

    #[test]
    fn refuses_escapes_and_non_strings() {
        let text = "a = \"1.2\\u002e3\"\nb = 3\n";
        let doc = parse(text).unwrap();
        assert!(find_string(text, &doc, &["a"])
            .unwrap_err()
            .contains("escape"));
        assert!(find_string(text, &doc, &["b"])
            .unwrap_err()
            .contains("integer"));
        assert!(parse("a = \n").unwrap_err().starts_with("line 1"));
    }
}
