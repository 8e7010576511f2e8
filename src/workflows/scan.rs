//! A line-oriented reader of GitHub workflow YAML: just enough structure to audit a workflow and
//! name `file:line` — keys nested by indentation, sequence items, block scalars (`run: |`),
//! multi-line plain scalars and trailing comments. No YAML crate: workflows are regular enough, and
//! a rule only needs "this key, under that path, on this line, with this text".
//!
//! Flow collections (`[push, pull_request]`, `{}`) stay one scalar value; anchors and aliases are
//! not resolved (GitHub rejects them in most places anyway).

/// One key (or sequence item) of a workflow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The 1-based line the key (or item) is on.
    pub line: usize,
    /// Keys from the document root down to this one. A sequence item is a segment `[N]`, with `N`
    /// unique in the file, so the keys of one step share a prefix no other step has.
    pub path: Vec<String>,
    /// A scalar item of a sequence (`- push`) rather than a key.
    pub item: bool,
    /// The value on the key's line, without its comment and quotes: "" for a nested mapping or
    /// sequence, and for a block scalar (whose text is in `lines`).
    pub value: String,
    /// The comment after the value (`v4.2.2` in `uses: a/b@sha # v4.2.2`), if any.
    pub comment: Option<String>,
    /// Every line of the value's text with its line number: the inline value, then the lines of
    /// a block scalar or of a plain or quoted scalar continued on the next lines.
    pub lines: Vec<(usize, String)>,
}

impl Entry {
    /// The key (the last segment of the path), or `[N]` for an item.
    pub fn key(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    /// Whether the path ends with these keys.
    pub fn ends_with(&self, keys: &[&str]) -> bool {
        self.path.len() >= keys.len()
            && self.path[self.path.len() - keys.len()..]
                .iter()
                .zip(keys)
                .all(|(a, b)| a == b)
    }

    /// The path without its last segment: the entry's parent (a step's `[N]` for `run`).
    pub fn parent(&self) -> &[String] {
        &self.path[..self.path.len().saturating_sub(1)]
    }

    /// The value's whole text (every line, joined with newlines).
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Whether a path segment is a sequence item (`[N]`).
pub fn is_item(segment: &str) -> bool {
    segment.starts_with('[') && segment.ends_with(']')
}

struct Frame {
    indent: usize,
    segment: String,
    item: bool,
}

/// What the lines after an entry may continue.
enum Open {
    None,
    /// A block scalar: lines indented deeper than `indent` (and blank lines) belong to entry `at`.
    Block {
        indent: usize,
        at: usize,
    },
    /// A plain or quoted scalar: deeper lines that are not keys continue it.
    Scalar {
        indent: usize,
        at: usize,
    },
}

/// Read a workflow file into its entries, in file order.
pub fn scan(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut open = Open::None;
    let mut items = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        match open {
            Open::Block { indent: parent, at } => {
                if content.trim().is_empty() || indent > parent {
                    entries[at].lines.push((number, content.to_string()));
                    continue;
                }
                open = Open::None;
            }
            Open::Scalar { indent: parent, at } => {
                if indent > parent && !content.is_empty() && !content.starts_with('#') {
                    let (text, _) = split_comment(content);
                    entries[at].lines.push((number, text.to_string()));
                    continue;
                }
                if !content.trim().is_empty() {
                    open = Open::None;
                }
            }
            Open::None => {}
        }
        let trimmed = content.trim_end();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed == "..." {
            continue;
        }
        let (mut column, mut rest) = (indent, trimmed);
        let mut item_here = false;
        if rest == "-" || rest.starts_with("- ") {
            while stack
                .last()
                .is_some_and(|f| f.indent > column || (f.indent == column && f.item))
            {
                stack.pop();
            }
            items += 1;
            stack.push(Frame {
                indent: column,
                segment: format!("[{items}]"),
                item: true,
            });
            let after = rest[1..].trim_start();
            column += rest.len() - after.len();
            rest = after;
            item_here = true;
            if rest.is_empty() {
                continue;
            }
        }
        match split_key(rest) {
            Some((key, value)) => {
                while stack
                    .last()
                    .is_some_and(|f| f.indent >= column && !(item_here && f.item))
                {
                    stack.pop();
                }
                let mut path: Vec<String> = stack.iter().map(|f| f.segment.clone()).collect();
                path.push(key.clone());
                stack.push(Frame {
                    indent: column,
                    segment: key,
                    item: false,
                });
                let (value, comment) = split_comment(value);
                let value = value.trim();
                let at = entries.len();
                if is_block_indicator(value) {
                    entries.push(Entry {
                        line: number,
                        path,
                        item: false,
                        value: String::new(),
                        comment,
                        lines: Vec::new(),
                    });
                    open = Open::Block { indent: column, at };
                } else {
                    let lines = if value.is_empty() {
                        Vec::new()
                    } else {
                        vec![(number, value.to_string())]
                    };
                    entries.push(Entry {
                        line: number,
                        path,
                        item: false,
                        value: unquote(value),
                        comment,
                        lines,
                    });
                    if !value.is_empty() {
                        open = Open::Scalar { indent: column, at };
                    }
                }
            }
            None if item_here => {
                let path: Vec<String> = stack.iter().map(|f| f.segment.clone()).collect();
                let (value, comment) = split_comment(rest);
                let value = value.trim();
                entries.push(Entry {
                    line: number,
                    path,
                    item: true,
                    value: unquote(value),
                    comment,
                    lines: vec![(number, value.to_string())],
                });
                open = Open::Scalar {
                    indent: column,
                    at: entries.len() - 1,
                };
            }
            // A line that is neither a key nor an item, and continues nothing: not a workflow
            // shape this reader knows. The rules look at keys, so it is skipped.
            None => {}
        }
    }
    entries
}

/// `key: value` → (key, value) for a plain or quoted key followed by `:` and a space or the end.
fn split_key(text: &str) -> Option<(String, &str)> {
    let first = text.chars().next()?;
    if first == '"' || first == '\'' {
        let close = text[1..].find(first)? + 1;
        let after = &text[close + 1..];
        let value = after.strip_prefix(':')?;
        if !(value.is_empty() || value.starts_with(' ')) {
            return None;
        }
        return Some((text[1..close].to_string(), value));
    }
    if matches!(
        first,
        '[' | '{' | '#' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`'
    ) {
        return None;
    }
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && i > 0 && bytes[i - 1] == b' ' {
            return None;
        }
        if b == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ') {
            let key = text[..i].trim_end();
            if key.is_empty() {
                return None;
            }
            return Some((key.to_string(), &text[i + 1..]));
        }
    }
    None
}

/// Split a value from its trailing comment: a `#` after whitespace, outside a quoted scalar.
fn split_comment(value: &str) -> (&str, Option<String>) {
    let trimmed = value.trim_start();
    let offset = value.len() - trimmed.len();
    let search_from = match trimmed.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let mut end = None;
            let bytes = trimmed.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == q as u8 {
                    if q == '\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    end = Some(i);
                    break;
                }
                if q == '"' && bytes[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            end.map_or(trimmed.len(), |e| e + 1)
        }
        _ => 0,
    };
    let bytes = trimmed.as_bytes();
    for i in search_from..bytes.len() {
        if bytes[i] == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            let comment = trimmed[i + 1..].trim();
            return (
                value[..offset + i].trim_end(),
                (!comment.is_empty()).then(|| comment.to_string()),
            );
        }
    }
    (value.trim_end(), None)
}

fn is_block_indicator(value: &str) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some('|' | '>'))
        && chars.all(|c| c == '-' || c == '+' || c.is_ascii_digit())
}

/// The text of a quoted scalar (`"a"` → `a`, `'it''s'` → `it's`); a plain scalar as it is.
fn unquote(value: &str) -> String {
    let v = value.trim();
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].replace("''", "'");
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        return v[1..v.len() - 1].replace("\\\"", "\"");
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(entries: &'a [Entry], key: &str) -> Vec<&'a Entry> {
        entries.iter().filter(|e| e.key() == key).collect()
    }

    #[test]
    fn keys_items_blocks_and_comments() {
        let text = "\
# a comment
name: ci
'on':
  push:
    branches: [main]
  pull_request_target:
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: Check out # the repository
        uses: actions/checkout@0123456789abcdef0123456789abcdef01234567 # v4.2.2
        with:
          ref: \"${{ github.head_ref }}\"
      - run: |
          echo one
          # not a comment: shell text

          echo ${{ github.event.issue.title }}
        env:
          A: b
    - run: echo ${{ inputs.x }}
        continued
  other:
    uses: ./.github/workflows/reusable.yml
";
        let entries = scan(text);
        let on: Vec<_> = entries.iter().filter(|e| e.path[0] == "on").collect();
        assert_eq!(on.len(), 4);
        assert_eq!(on[2].path, ["on", "push", "branches"]);
        assert_eq!(on[2].value, "[main]");
        assert_eq!(on[3].path, ["on", "pull_request_target"]);
        let uses = find(&entries, "uses");
        assert_eq!(uses[0].line, 13);
        assert_eq!(
            uses[0].value,
            "actions/checkout@0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(uses[0].comment.as_deref(), Some("v4.2.2"));
        assert_eq!(uses[0].path[..3], ["jobs", "build", "steps"]);
        assert_eq!(uses[1].path, ["jobs", "other", "uses"]);
        let name = find(&entries, "name");
        assert_eq!(name[1].value, "Check out");
        let reference = find(&entries, "ref")[0];
        assert_eq!(reference.value, "${{ github.head_ref }}");
        assert!(reference.ends_with(&["with", "ref"]));
        assert_eq!(reference.parent()[..3], uses[0].parent()[..3]);
        let runs = find(&entries, "run");
        assert_eq!(runs[0].line, 16);
        assert_eq!(
            runs[0].lines,
            vec![
                (17, "echo one".to_string()),
                (18, "# not a comment: shell text".to_string()),
                (19, String::new()),
                (20, "echo ${{ github.event.issue.title }}".to_string()),
            ]
        );
        assert_ne!(runs[0].parent(), uses[0].parent());
        let env = find(&entries, "A")[0];
        assert_eq!(env.parent().last().unwrap(), "env");
        assert_eq!(env.path[..4], runs[0].path[..4]);
        assert_eq!(runs[1].lines.len(), 2);
        assert_eq!(runs[1].lines[1], (24, "continued".to_string()));
        assert_eq!(runs[1].path[..3], ["jobs", "build", "steps"]);
        let perms = find(&entries, "permissions")[0];
        assert_eq!((perms.path.len(), perms.value.as_str()), (1, "{}"));
    }

    #[test]
    fn sequence_items_at_the_parent_indent_and_scalar_items() {
        let text = "on:\n- push\n- pull_request_target\njobs:\n  a:\n    steps:\n    - uses: x/y@v1\n    - run: 'it''s # not a comment' # but this is\n";
        let entries = scan(text);
        let items: Vec<_> = entries.iter().filter(|e| e.item).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].value, "pull_request_target");
        assert_eq!(items[1].path[0], "on");
        let run = entries.iter().find(|e| e.key() == "run").unwrap();
        assert_eq!(run.value, "it's # not a comment");
        assert_eq!(run.comment.as_deref(), Some("but this is"));
        assert_eq!(run.path[..3], ["jobs", "a", "steps"]);
    }
}
