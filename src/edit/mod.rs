//! Format-preserving editors. Each finds the exact byte span of a version value in a file's text;
//! [`apply`] then replaces only those spans, so every other byte of the file is kept as it was
//! (comments, key order, indentation, CRLF, a missing trailing newline).

pub mod changelog;
pub mod json;
pub mod pattern;
pub mod toml;

use std::ops::Range;

/// A value found in a file: the byte span of its editable text, its 1-based line, and that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub span: Range<usize>,
    pub line: usize,
    pub text: String,
}

/// 1-based line number of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// 1-based column (in characters) of byte `offset` in `text`.
pub fn column_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..end].chars().count() + 1
}

/// Replace each span by its new text. Spans must not overlap; their order does not matter.
/// Returns `None` when two spans overlap or one falls outside the text or off a char boundary.
pub fn apply(text: &str, edits: &[(Range<usize>, String)]) -> Option<String> {
    let mut sorted: Vec<&(Range<usize>, String)> = edits.iter().collect();
    sorted.sort_by_key(|(span, _)| (span.start, span.end));
    let mut out = String::with_capacity(text.len() + 16 * edits.len());
    let mut cursor = 0;
    for (span, new) in sorted {
        if span.start < cursor
            || span.end < span.start
            || !text.is_char_boundary(span.start)
            || !text.is_char_boundary(span.end)
        {
            return None;
        }
        out.push_str(text.get(cursor..span.start)?);
        out.push_str(new);
        cursor = span.end;
    }
    out.push_str(text.get(cursor..)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_replaces_only_spans_in_any_order() {
        let text = "a = \"1.0.0\"\r\nb = \"1.0.0\"";
        let edits = vec![(18..23, "2.0.0".to_string()), (5..10, "2.0.0".to_string())];
        assert_eq!(
            apply(text, &edits).unwrap(),
            "a = \"2.0.0\"\r\nb = \"2.0.0\""
        );
        assert!(apply(text, &[(5..10, "x".into()), (8..12, "y".into())]).is_none());
        assert_eq!(line_of(text, 18), 2);
        assert_eq!(column_of(text, 18), 6);
    }
}
