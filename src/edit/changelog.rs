//! Editing of keep-a-changelog files (<https://keepachangelog.com> 1.1 layout).
//!
//! Every byte that is not deliberately changed is preserved: line endings (CRLF or LF, detected
//! from the file and reused for inserted lines), the presence or absence of a trailing newline,
//! spacing, case of the Unreleased heading, and so on.

use regex::Regex;
use std::sync::LazyLock;

/// `## [Unreleased]` or `## Unreleased`, case-insensitive, optional trailing spaces.
static UNRELEASED_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^##[ \t]+(\[unreleased\]|unreleased)[ \t]*$").expect("constant regex")
});

/// A link reference definition such as `[1.2.3]: https://...`.
static LINK_DEF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[[^\]]+\]: \S+").expect("constant regex"));

/// The `[Unreleased]: URL` link reference definition (label, URL, whatever follows the URL).
static UNRELEASED_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(\[unreleased\]:[ \t]+)(\S+)(.*)$").expect("constant regex")
});

/// The result of [`release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogRelease {
    /// The new text.
    pub text: String,
    /// Human warnings, e.g. "CHANGELOG.md:7: the Unreleased section is empty; the 1.3.0 entry will have no notes".
    pub warnings: Vec<String>,
}

/// Why [`release`] could not edit the changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangelogError {
    /// No `## [Unreleased]` (or `## Unreleased`, case-insensitive, optional trailing spaces) heading.
    NoUnreleased,
    /// A section for this version already exists (line of it) — the caller decides whether that's "already done".
    AlreadyReleased { line: usize },
}

impl std::fmt::Display for ChangelogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangelogError::NoUnreleased => write!(
                f,
                "the changelog has no `## [Unreleased]` heading; add one (followed by the notes \
                 for the next release) above the newest release section, \
                 see https://keepachangelog.com"
            ),
            ChangelogError::AlreadyReleased { line } => write!(
                f,
                "the changelog already has a section for this version (line {line}); \
                 if the release was already prepared there is nothing to do, otherwise remove \
                 that section or release a different version"
            ),
        }
    }
}

impl std::error::Error for ChangelogError {}

/// One line of the text: where it starts, its content without the line ending, and the ending
/// itself (`"\n"`, `"\r\n"` or `""` for a last line without newline).
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    start: usize,
    content: &'a str,
    ending: &'a str,
}

fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let rest = &text[pos..];
        match rest.find('\n') {
            Some(i) => {
                let raw = &rest[..i];
                let (content, ending) = match raw.strip_suffix('\r') {
                    Some(content) => (content, &rest[i - 1..=i]),
                    None => (raw, &rest[i..=i]),
                };
                lines.push(Line {
                    start: pos,
                    content,
                    ending,
                });
                pos += i + 1;
            }
            None => {
                lines.push(Line {
                    start: pos,
                    content: rest,
                    ending: "",
                });
                pos = text.len();
            }
        }
    }
    lines
}

/// The file's line ending: that of its first line; LF when it has none.
fn detect_eol(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

fn is_blank(content: &str) -> bool {
    content.trim().is_empty()
}

/// A level-2 heading: `## ` at the start of the line (not `###`).
fn is_h2(content: &str) -> bool {
    content
        .strip_prefix("##")
        .is_some_and(|rest| rest.starts_with([' ', '\t']))
}

/// Whether `content` is the heading of the section for `version` (matched literally):
/// `## [1.2.3] - 2026-01-02`, `## [1.2.3]`, `## 1.2.3 - ...`, `## [1.2.3] - 2026-01-02 [YANKED]`.
fn is_version_heading(content: &str, version: &str) -> bool {
    if version.is_empty() || !is_h2(content) {
        return false;
    }
    let rest = content[2..].trim_start_matches([' ', '\t']);
    if let Some(inner) = rest.strip_prefix('[') {
        return inner
            .strip_prefix(version)
            .is_some_and(|after| after.starts_with(']'));
    }
    rest.strip_prefix(version)
        .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t']))
}

/// Index of the first line of the link-reference block at the end of the file (trailing link
/// definitions, possibly interleaved with blank lines); `lines.len()` when there is none.
fn link_block_start(lines: &[Line<'_>]) -> usize {
    let mut start = lines.len();
    for (i, line) in lines.iter().enumerate().rev() {
        if LINK_DEF.is_match(line.content) {
            start = i;
        } else if !is_blank(line.content) {
            break;
        }
    }
    start
}

/// The trimmed body of the section whose heading is at `heading`, as a half-open range of line
/// indices (empty when the section has only blank lines).
fn body_range(lines: &[Line<'_>], heading: usize) -> (usize, usize) {
    let links = link_block_start(lines);
    let mut end = lines[heading + 1..]
        .iter()
        .position(|l| is_h2(l.content))
        .map_or(lines.len(), |p| heading + 1 + p)
        .min(links.max(heading + 1));
    let mut start = heading + 1;
    while start < end && is_blank(lines[start].content) {
        start += 1;
    }
    while end > start && is_blank(lines[end - 1].content) {
        end -= 1;
    }
    (start, end)
}

fn body_str<'a>(text: &'a str, lines: &[Line<'a>], heading: usize) -> &'a str {
    let (start, end) = body_range(lines, heading);
    if start >= end {
        return "";
    }
    let last = &lines[end - 1];
    &text[lines[start].start..last.start + last.content.len()]
}

/// The body of the section for `version` (lines after its heading up to the next `## ` heading or the link-reference
/// block), trimmed of leading/trailing blank lines, and the 1-based line of its heading. None when absent.
pub fn section<'a>(text: &'a str, version: &str) -> Option<(usize, &'a str)> {
    let lines = split_lines(text);
    let heading = lines
        .iter()
        .position(|l| is_version_heading(l.content, version))?;
    Some((heading + 1, body_str(text, &lines, heading)))
}

/// The body of the Unreleased section (same trimming) and its heading line; None when there is no Unreleased heading.
pub fn unreleased(text: &str) -> Option<(usize, &str)> {
    let lines = split_lines(text);
    let heading = lines
        .iter()
        .position(|l| UNRELEASED_HEADING.is_match(l.content))?;
    Some((heading + 1, body_str(text, &lines, heading)))
}

/// What to do about the compare links.
enum LinkPlan {
    /// No `[Unreleased]:` link: change nothing, say nothing.
    Absent,
    /// Replace line `index` by `rewritten` and insert `added` after it.
    Update {
        index: usize,
        rewritten: String,
        added: String,
    },
    /// The link exists but cannot be updated.
    Warn(String),
}

/// Replace the occurrence of `previous` inside the tag `from` by `version`. The occurrence must
/// stand on its own: not preceded by a digit or `.`, not followed by an alphanumeric, `.`, `-` or
/// `+` (so `1.2.3` is found in `v1.2.3` and `engine-v1.2.3`, but not in `11.2.3` or `v1.2.3-rc.1`).
fn retag(from: &str, previous: &str, version: &str) -> Option<String> {
    if previous.is_empty() {
        return None;
    }
    let index = from
        .match_indices(previous)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before_ok = from[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_digit() || c == '.'));
            let after_ok = from[i + previous.len()..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')));
            before_ok && after_ok
        })
        .last()?;
    Some(format!(
        "{}{}{}",
        &from[..index],
        version,
        &from[index + previous.len()..]
    ))
}

fn plan_links(lines: &[Line<'_>], file: &str, previous: &str, version: &str) -> LinkPlan {
    let Some((index, caps)) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| UNRELEASED_LINK.captures(l.content).map(|c| (i, c)))
    else {
        return LinkPlan::Absent;
    };
    let (label, url, trailer) = (&caps[1], &caps[2], &caps[3]);
    let not_updated = |why: String| {
        LinkPlan::Warn(format!(
            "{file}:{}: the [Unreleased] compare link was not updated: {why}; \
             update it and add a [{version}] link by hand",
            index + 1
        ))
    };
    let Some((head, sep)) = url.strip_suffix("HEAD").and_then(|u| {
        u.strip_suffix("...")
            .map(|h| (h, "..."))
            .or_else(|| u.strip_suffix("..").map(|h| (h, "..")))
    }) else {
        return not_updated(format!(
            "`{url}` does not end in `<tag>...HEAD` or `<tag>..HEAD`"
        ));
    };
    let split = head
        .rfind("/compare/")
        .map(|p| p + "/compare/".len())
        .or_else(|| head.rfind('/').map(|p| p + 1))
        .unwrap_or(0);
    let (prefix, from) = head.split_at(split);
    let Some(new_from) = retag(from, previous, version) else {
        return not_updated(format!(
            "it compares from `{from}`, which is not a tag of the previous version {previous}"
        ));
    };
    LinkPlan::Update {
        index,
        rewritten: format!("{label}{prefix}{new_from}{sep}HEAD{trailer}"),
        added: format!("[{version}]: {prefix}{from}{sep}{new_from}"),
    }
}

/// Turn the Unreleased section into the section for `version`.
/// `file` is the display path used in warnings. `previous` is the version being released from (used for compare links),
/// `date` is "YYYY-MM-DD".
pub fn release(
    text: &str,
    file: &str,
    previous: &str,
    version: &str,
    date: &str,
) -> Result<ChangelogRelease, ChangelogError> {
    if let Some((line, _)) = section(text, version) {
        return Err(ChangelogError::AlreadyReleased { line });
    }
    let lines = split_lines(text);
    let (heading, bracketed) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            UNRELEASED_HEADING
                .captures(l.content)
                .map(|c| (i, c[1].starts_with('[')))
        })
        .ok_or(ChangelogError::NoUnreleased)?;
    let eol = detect_eol(text);
    let mut warnings = Vec::new();

    let (body_start, body_end) = body_range(&lines, heading);
    if body_start >= body_end {
        warnings.push(format!(
            "{file}:{}: the Unreleased section is empty; the {version} entry will have no notes",
            heading + 1
        ));
    }
    let new_heading = if bracketed {
        format!("## [{version}] - {date}")
    } else {
        format!("## {version} - {date}")
    };

    let links = plan_links(&lines, file, previous, version);
    let link_edit = match links {
        LinkPlan::Absent => None,
        LinkPlan::Warn(warning) => {
            warnings.push(warning);
            None
        }
        LinkPlan::Update {
            index,
            rewritten,
            added,
        } => Some((index, rewritten, added)),
    };

    let mut out = String::with_capacity(text.len() + new_heading.len() + 128);
    for (i, line) in lines.iter().enumerate() {
        if i == heading {
            // The Unreleased heading stays (a fresh, empty Unreleased section); the old body
            // follows the new version heading, which takes over the heading's own line ending.
            out.push_str(line.content);
            out.push_str(eol);
            out.push_str(eol);
            out.push_str(&new_heading);
        } else if let Some((_, rewritten, added)) = link_edit.as_ref().filter(|e| e.0 == i) {
            out.push_str(rewritten);
            out.push_str(eol);
            out.push_str(added);
        } else {
            out.push_str(line.content);
        }
        out.push_str(line.ending);
    }
    Ok(ChangelogRelease {
        text: out,
        warnings,
    })
}

/// Today's date as YYYY-MM-DD in UTC, from `SOURCE_DATE_EPOCH` (seconds, decimal) when set and valid, else the system clock.
/// An empty `SOURCE_DATE_EPOCH` counts as unset; any other value that is not a non-negative decimal
/// number of seconds is an error.
pub fn release_date() -> Result<String, String> {
    match std::env::var_os("SOURCE_DATE_EPOCH") {
        Some(value) => match value.to_str() {
            Some(value) => date_from_source_date_epoch(Some(value)),
            None => Err(
                "SOURCE_DATE_EPOCH is not valid UTF-8; set it to a decimal number of seconds \
                 since 1970-01-01 UTC, or unset it"
                    .to_string(),
            ),
        },
        None => date_from_source_date_epoch(None),
    }
}

/// [`release_date`] with the environment variable's value passed in.
fn date_from_source_date_epoch(value: Option<&str>) -> Result<String, String> {
    match value {
        Some(v) if !v.is_empty() => {
            let secs = if v.bytes().all(|b| b.is_ascii_digit()) {
                v.parse::<i64>().ok()
            } else {
                None
            };
            secs.map(date_from_unix_seconds).ok_or_else(|| {
                format!(
                    "SOURCE_DATE_EPOCH is `{v}`, which is not a decimal number of seconds since \
                     1970-01-01 UTC; fix it (e.g. `git log -1 --format=%ct`) or unset it"
                )
            })
        }
        _ => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| format!("the system clock is before 1970-01-01: {e}"))?;
            let secs = i64::try_from(now.as_secs())
                .map_err(|_| "the system clock is implausibly far in the future".to_string())?;
            Ok(date_from_unix_seconds(secs))
        }
    }
}

/// The UTC calendar date (YYYY-MM-DD) of a Unix timestamp.
pub fn date_from_unix_seconds(secs: i64) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DATE: &str = "2026-11-21";

    const EXAMPLE: &str = "# Changelog

All notable changes to this project will be documented in this file.

## [Unreleased]
### Added
- thing

## [1.2.3] - 2026-01-02
### Fixed
- bug

[Unreleased]: https://github.com/acme/polyglot/compare/v1.2.3...HEAD
[1.2.3]: https://github.com/acme/polyglot/compare/v1.2.2...v1.2.3
";

    const EXAMPLE_RELEASED: &str = "# Changelog

All notable changes to this project will be documented in this file.

## [Unreleased]

## [1.3.0] - 2026-11-21
### Added
- thing

## [1.2.3] - 2026-01-02
### Fixed
- bug

[Unreleased]: https://github.com/acme/polyglot/compare/v1.3.0...HEAD
[1.3.0]: https://github.com/acme/polyglot/compare/v1.2.3...v1.3.0
[1.2.3]: https://github.com/acme/polyglot/compare/v1.2.2...v1.2.3
";

    fn crlf(s: &str) -> String {
        s.replace('\n', "\r\n")
    }

    fn rel(text: &str, previous: &str, version: &str) -> ChangelogRelease {
        match release(text, "CHANGELOG.md", previous, version, DATE) {
            Ok(r) => r,
            Err(e) => panic!("release failed: {e}"),
        }
    }

    #[test]
    fn releases_the_example_lf() {
        let r = rel(EXAMPLE, "1.2.3", "1.3.0");
        assert_eq!(r.text, EXAMPLE_RELEASED);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn releases_the_example_crlf() {
        let r = rel(&crlf(EXAMPLE), "1.2.3", "1.3.0");
        assert_eq!(r.text, crlf(EXAMPLE_RELEASED));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn no_trailing_newline_is_preserved() {
        for convert in [|s: &str| s.to_string(), crlf] {
            let input = convert(EXAMPLE.trim_end_matches('\n'));
            let expected = convert(EXAMPLE_RELEASED.trim_end_matches('\n'));
            assert_eq!(rel(&input, "1.2.3", "1.3.0").text, expected);
        }
    }

    #[test]
    fn unreleased_link_as_last_line_without_newline() {
        let input = "## [Unreleased]\n- x\n\n[Unreleased]: https://h/o/r/compare/v1.0.0...HEAD";
        let r = rel(input, "1.0.0", "1.1.0");
        assert_eq!(
            r.text,
            "## [Unreleased]\n\n## [1.1.0] - 2026-11-21\n- x\n\n\
             [Unreleased]: https://h/o/r/compare/v1.1.0...HEAD\n\
             [1.1.0]: https://h/o/r/compare/v1.0.0...v1.1.0"
        );
    }

    #[test]
    fn unreleased_heading_as_only_line() {
        for (input, expected) in [
            (
                "## [Unreleased]",
                "## [Unreleased]\n\n## [2.0.0] - 2026-11-21",
            ),
            (
                "## [Unreleased]\r\n",
                "## [Unreleased]\r\n\r\n## [2.0.0] - 2026-11-21\r\n",
            ),
        ] {
            let r = rel(input, "1.0.0", "2.0.0");
            assert_eq!(r.text, expected);
            assert_eq!(
                r.warnings,
                ["CHANGELOG.md:1: the Unreleased section is empty; the 2.0.0 entry will have no notes"]
            );
        }
    }

    #[test]
    fn crlf_detected_and_used_for_inserted_lines() {
        let input =
            "## [Unreleased]\r\n- a\r\n\r\n[Unreleased]: https://x/compare/1.0.0...HEAD\r\n";
        let r = rel(input, "1.0.0", "1.0.1");
        assert_eq!(
            r.text,
            "## [Unreleased]\r\n\r\n## [1.0.1] - 2026-11-21\r\n- a\r\n\r\n\
             [Unreleased]: https://x/compare/1.0.1...HEAD\r\n\
             [1.0.1]: https://x/compare/1.0.0...1.0.1\r\n"
        );
        assert!(!r.text.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn two_dot_links() {
        let input =
            "## [Unreleased]\n- a\n\n[Unreleased]: https://github.com/a/b/compare/v1.2.3..HEAD\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert!(r.text.ends_with(
            "[Unreleased]: https://github.com/a/b/compare/v1.3.0..HEAD\n\
             [1.3.0]: https://github.com/a/b/compare/v1.2.3..v1.3.0\n"
        ));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn gitlab_links() {
        let input = "## [Unreleased]\n- a\n\n\
                     [Unreleased]: https://gitlab.com/g/sub/p/-/compare/v1.2.3...HEAD\n\
                     [1.2.3]: https://gitlab.com/g/sub/p/-/compare/v1.2.2...v1.2.3\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert!(r.text.ends_with(
            "[Unreleased]: https://gitlab.com/g/sub/p/-/compare/v1.3.0...HEAD\n\
             [1.3.0]: https://gitlab.com/g/sub/p/-/compare/v1.2.3...v1.3.0\n\
             [1.2.3]: https://gitlab.com/g/sub/p/-/compare/v1.2.2...v1.2.3\n"
        ));
    }

    #[test]
    fn tag_prefixes() {
        for tag in ["engine-v", "engine/v", "release_", ""] {
            let input = format!(
                "## [Unreleased]\n- a\n\n[Unreleased]: https://github.com/a/b/compare/{tag}1.2.3...HEAD\n"
            );
            let r = rel(&input, "1.2.3", "1.3.0");
            let expected = format!(
                "[Unreleased]: https://github.com/a/b/compare/{tag}1.3.0...HEAD\n\
                 [1.3.0]: https://github.com/a/b/compare/{tag}1.2.3...{tag}1.3.0\n"
            );
            assert!(r.text.ends_with(&expected), "{tag}: {}", r.text);
            assert!(r.warnings.is_empty());
        }
    }

    #[test]
    fn link_title_and_spacing_kept() {
        let input =
            "## [Unreleased]\n- a\n\n[unreleased]:   https://x/compare/v1.2.3...HEAD  \"diff\"\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert!(r.text.ends_with(
            "[unreleased]:   https://x/compare/v1.3.0...HEAD  \"diff\"\n\
             [1.3.0]: https://x/compare/v1.2.3...v1.3.0\n"
        ));
    }

    #[test]
    fn prerelease_versions() {
        let input = "## [Unreleased]\n- a\n\n[Unreleased]: https://x/compare/v1.2.3...HEAD\n";
        let r = rel(input, "1.2.3", "1.3.0-rc.1");
        assert_eq!(
            r.text,
            "## [Unreleased]\n\n## [1.3.0-rc.1] - 2026-11-21\n- a\n\n\
             [Unreleased]: https://x/compare/v1.3.0-rc.1...HEAD\n\
             [1.3.0-rc.1]: https://x/compare/v1.2.3...v1.3.0-rc.1\n"
        );
        assert_eq!(section(&r.text, "1.3.0-rc.1"), Some((3, "- a")));
        assert_eq!(section(&r.text, "1.3.0"), None);

        // Releasing the final version from the release candidate.
        let r2 = rel(&r.text, "1.3.0-rc.1", "1.3.0");
        assert!(r2.text.contains(
            "[Unreleased]: https://x/compare/v1.3.0...HEAD\n\
             [1.3.0]: https://x/compare/v1.3.0-rc.1...v1.3.0\n\
             [1.3.0-rc.1]: https://x/compare/v1.2.3...v1.3.0-rc.1\n"
        ));
        assert_eq!(r2.warnings.len(), 1, "{:?}", r2.warnings); // the empty Unreleased section
    }

    #[test]
    fn previous_must_match_the_whole_version() {
        // `1.3.0` is not the tag `v1.3.0-rc.1`, nor is `1.2.3` the tag `v11.2.3`.
        for (from, previous) in [("v1.3.0-rc.1", "1.3.0"), ("v11.2.3", "1.2.3")] {
            let input =
                format!("## [Unreleased]\n- a\n\n[Unreleased]: https://x/compare/{from}...HEAD\n");
            let r = rel(&input, previous, "9.9.9");
            assert!(r
                .text
                .ends_with(&format!("[Unreleased]: https://x/compare/{from}...HEAD\n")));
            assert_eq!(r.warnings.len(), 1);
        }
    }

    #[test]
    fn version_with_regex_metacharacters_is_literal() {
        let input = "## [Unreleased]\n- a\n\n## [1x3x0+b] - 2020-01-01\n- old\n";
        let r = rel(input, "1.2.3", "1.3.0+b.1");
        assert!(r.text.contains("## [1.3.0+b.1] - 2026-11-21\n- a\n"));
        assert_eq!(section(input, "1.3.0+b"), None);
        assert_eq!(section(input, "1x3x0+b"), Some((4, "- old")));
    }

    #[test]
    fn bracketless_heading_keeps_its_style() {
        let input = "# Changelog\n\n## Unreleased\n\n- a\n\n## 1.2.3 - 2026-01-02\n\n- b\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert_eq!(
            r.text,
            "# Changelog\n\n## Unreleased\n\n## 1.3.0 - 2026-11-21\n\n- a\n\n## 1.2.3 - 2026-01-02\n\n- b\n"
        );
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn unreleased_heading_case_and_trailing_spaces_kept() {
        for heading in ["## [unreleased]  ", "## UNRELEASED\t", "##  [Unreleased]"] {
            let input = format!("{heading}\n- a\n");
            let r = rel(&input, "1.0.0", "1.1.0");
            let style = if heading.contains('[') {
                "## [1.1.0] - 2026-11-21"
            } else {
                "## 1.1.0 - 2026-11-21"
            };
            assert_eq!(r.text, format!("{heading}\n\n{style}\n- a\n"));
        }
    }

    #[test]
    fn empty_unreleased_warns_with_heading_line() {
        let input = "# Changelog\n\nSome text.\n\nMore text.\n\n## [Unreleased]\n\n  \n\n## [1.2.3] - 2026-01-02\n- b\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert_eq!(
            r.warnings,
            ["CHANGELOG.md:7: the Unreleased section is empty; the 1.3.0 entry will have no notes"]
        );
        assert_eq!(
            r.text,
            "# Changelog\n\nSome text.\n\nMore text.\n\n## [Unreleased]\n\n## [1.3.0] - 2026-11-21\n\n  \n\n## [1.2.3] - 2026-01-02\n- b\n"
        );
        assert_eq!(section(&r.text, "1.3.0"), Some((9, "")));
    }

    #[test]
    fn empty_unreleased_before_link_block() {
        let input = "## [Unreleased]\n\n[Unreleased]: https://x/compare/v1.2.3...HEAD\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].starts_with("CHANGELOG.md:1: the Unreleased section is empty"));
    }

    #[test]
    fn already_released() {
        let input = "## [Unreleased]\n- a\n\n## [1.3.0] - 2026-01-02\n- b\n";
        assert_eq!(
            release(input, "CHANGELOG.md", "1.2.3", "1.3.0", DATE),
            Err(ChangelogError::AlreadyReleased { line: 4 })
        );
        // Also when the Unreleased heading is gone.
        let input = "# C\n\n## 1.3.0\n- b\n";
        assert_eq!(
            release(input, "CHANGELOG.md", "1.2.3", "1.3.0", DATE),
            Err(ChangelogError::AlreadyReleased { line: 3 })
        );
    }

    #[test]
    fn no_unreleased_is_an_error() {
        for input in [
            "",
            "# Changelog\n\n## [1.2.3] - 2026-01-02\n- a\n",
            "### [Unreleased]\n- a\n",
            "## [Unreleased] - soon\n- a\n",
            " ## [Unreleased]\n",
        ] {
            assert_eq!(
                release(input, "CHANGELOG.md", "1.2.3", "1.3.0", DATE),
                Err(ChangelogError::NoUnreleased),
                "{input:?}"
            );
        }
    }

    #[test]
    fn unreleased_link_not_from_previous_warns_and_changes_no_links() {
        let input = "## [Unreleased]\n- a\n\n[Unreleased]: https://x/compare/v1.2.2...HEAD\n[1.2.2]: https://x/tag/v1.2.2\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert_eq!(
            r.text,
            "## [Unreleased]\n\n## [1.3.0] - 2026-11-21\n- a\n\n\
             [Unreleased]: https://x/compare/v1.2.2...HEAD\n[1.2.2]: https://x/tag/v1.2.2\n"
        );
        assert_eq!(
            r.warnings,
            [
                "CHANGELOG.md:4: the [Unreleased] compare link was not updated: it compares from \
              `v1.2.2`, which is not a tag of the previous version 1.2.3; update it and add a \
              [1.3.0] link by hand"
            ]
        );
    }

    #[test]
    fn unreleased_link_not_a_head_compare_warns() {
        let input = "## [Unreleased]\n- a\n\n[Unreleased]: https://x/commits/main\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert!(r.text.ends_with("[Unreleased]: https://x/commits/main\n"));
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("does not end in `<tag>...HEAD`"));
    }

    #[test]
    fn no_unreleased_link_changes_no_links_and_does_not_warn() {
        let input = "## [Unreleased]\n- a\n\n## [1.2.3]\n- b\n\n[1.2.3]: https://x/compare/v1.2.2...v1.2.3\n";
        let r = rel(input, "1.2.3", "1.3.0");
        assert_eq!(
            r.text,
            "## [Unreleased]\n\n## [1.3.0] - 2026-11-21\n- a\n\n## [1.2.3]\n- b\n\n[1.2.3]: https://x/compare/v1.2.2...v1.2.3\n"
        );
        assert!(r.warnings.is_empty());
    }

    const SECTIONS: &str = "# Changelog\n\
\n\
## [Unreleased]\n\
\n\
### Added\n\
- new\n\
\n\
## [1.2.30] - 2026-03-01\n\
- thirty\n\
## [1.2.3] - 2026-01-02 [YANKED]\n\
\n\
### Fixed\n\
- yanked fix\n\
\n\
## [1.2.2]\n\
- bare brackets\n\
## 1.2.1 - 2025-12-01\n\
- no brackets\n\
\n\
#### Deep\n\
- deep\n\
## 1.2.0\n\
\n\
- last\n  continued\n\
\n\
[Unreleased]: https://x/compare/v1.2.30...HEAD\n\
\n\
[1.2.30]: https://x/compare/v1.2.3...v1.2.30\n";

    #[test]
    fn section_extraction() {
        assert_eq!(unreleased(SECTIONS), Some((3, "### Added\n- new")));
        assert_eq!(section(SECTIONS, "1.2.30"), Some((8, "- thirty")));
        assert_eq!(
            section(SECTIONS, "1.2.3"),
            Some((10, "### Fixed\n- yanked fix"))
        );
        assert_eq!(section(SECTIONS, "1.2.2"), Some((15, "- bare brackets")));
        assert_eq!(
            section(SECTIONS, "1.2.1"),
            Some((17, "- no brackets\n\n#### Deep\n- deep"))
        );
        assert_eq!(
            section(SECTIONS, "1.2.0"),
            Some((22, "- last\n  continued"))
        );
        assert_eq!(section(SECTIONS, "1.2"), None);
        assert_eq!(section(SECTIONS, "1.1.0"), None);
        assert_eq!(section(SECTIONS, ""), None);
    }

    #[test]
    fn section_extraction_crlf_and_no_trailing_newline() {
        let text = crlf(SECTIONS.trim_end());
        assert_eq!(unreleased(&text), Some((3, "### Added\r\n- new")));
        assert_eq!(section(&text, "1.2.0"), Some((22, "- last\r\n  continued")));
        let text = "## [Unreleased]\r\n- a\r\n- b";
        assert_eq!(unreleased(text), Some((1, "- a\r\n- b")));
    }

    #[test]
    fn section_ignores_h3_and_indented_headings() {
        let text = "## [Unreleased]\n### 1.0.0\n ## 1.0.0\n";
        assert_eq!(section(text, "1.0.0"), None);
        assert_eq!(unreleased(text), Some((1, "### 1.0.0\n ## 1.0.0")));
        assert_eq!(unreleased("# nothing\n"), None);
    }

    #[test]
    fn link_definitions_inside_a_section_are_body() {
        let text = "## [Unreleased]\n[x]: https://x\n- a\n\n[Unreleased]: https://y\n";
        assert_eq!(unreleased(text), Some((1, "[x]: https://x\n- a")));
    }

    #[test]
    fn error_messages_name_the_fix() {
        let msg = ChangelogError::NoUnreleased.to_string();
        assert!(msg.contains("add one"), "{msg}");
        let msg = ChangelogError::AlreadyReleased { line: 12 }.to_string();
        assert!(msg.contains("line 12") && msg.contains("remove"), "{msg}");
        let err: Box<dyn std::error::Error> = Box::new(ChangelogError::NoUnreleased);
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn dates() {
        assert_eq!(date_from_unix_seconds(0), "1970-01-01");
        assert_eq!(date_from_unix_seconds(86_399), "1970-01-01");
        assert_eq!(date_from_unix_seconds(86_400), "1970-01-02");
        assert_eq!(date_from_unix_seconds(951_782_400), "2000-02-29");
        assert_eq!(date_from_unix_seconds(951_868_799), "2000-02-29");
        assert_eq!(date_from_unix_seconds(951_868_800), "2000-03-01");
        assert_eq!(date_from_unix_seconds(1_795_219_200), "2026-11-21");
        assert_eq!(date_from_unix_seconds(1_795_219_200 + 86_399), "2026-11-21");
        assert_eq!(date_from_unix_seconds(4_107_542_400), "2100-03-01");
        assert_eq!(date_from_unix_seconds(-1), "1969-12-31");
        assert_eq!(date_from_unix_seconds(253_402_300_799), "9999-12-31");
    }

    #[test]
    fn source_date_epoch_parsing() {
        assert_eq!(
            date_from_source_date_epoch(Some("1795219200")),
            Ok("2026-11-21".to_string())
        );
        assert_eq!(
            date_from_source_date_epoch(Some("0")),
            Ok("1970-01-01".to_string())
        );
        for bad in ["-1", "+5", " 5", "5 ", "1.5", "abc", "99999999999999999999"] {
            let err = date_from_source_date_epoch(Some(bad));
            assert!(
                err.as_ref().is_err_and(|e| e.contains("SOURCE_DATE_EPOCH")),
                "{bad}: {err:?}"
            );
        }
        // Unset or empty: the system clock.
        for value in [None, Some("")] {
            let today = date_from_source_date_epoch(value);
            assert!(today
                .as_ref()
                .is_ok_and(|d| d.len() == 10 && d.as_str() >= "2024-01-01"));
        }
        assert!(release_date().is_ok() || std::env::var_os("SOURCE_DATE_EPOCH").is_some());
    }

    /// Naive reference: walk the calendar a year and a month at a time.
    fn naive_date(days: i64) -> String {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let (mut y, mut d) = (1970, days);
        loop {
            let len = if leap(y) { 366 } else { 365 };
            if d < len {
                break;
            }
            d -= len;
            y += 1;
        }
        let months = [
            31,
            if leap(y) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut m = 0;
        while d >= months[m] {
            d -= months[m];
            m += 1;
        }
        format!("{y:04}-{:02}-{:02}", m + 1, d + 1)
    }

    proptest! {
        #[test]
        fn date_matches_naive_calendar(days in 0i64..200_000, extra in 0i64..86_400) {
            prop_assert_eq!(date_from_unix_seconds(days * 86_400 + extra), naive_date(days));
        }
    }

    // ---- property test for `release` ----

    #[derive(Debug, Clone)]
    struct Links {
        prefix: &'static str,
        tag: &'static str,
        sep: &'static str,
    }

    #[derive(Debug, Clone)]
    struct Doc {
        crlf: bool,
        trailing_newline: bool,
        intro: Vec<String>,
        heading: &'static str,
        body: Vec<String>,
        older: Vec<(String, Vec<String>)>,
        links: Option<Links>,
        version: &'static str,
    }

    fn body_line() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-z][a-z ]{0,15}".prop_map(|s| format!("- {s}")),
            1 => "[A-Z][a-z]{0,8}".prop_map(|s| format!("### {s}")),
            2 => Just(String::new()),
            1 => Just("  ".to_string()),
            1 => "[A-Za-z][a-z .,]{0,20}",
        ]
    }

    fn older_heading() -> impl Strategy<Value = String> {
        (0u32..20, 0u32..20, 0usize..4).prop_map(|(a, b, style)| match style {
            0 => format!("## [0.{a}.{b}] - 2020-01-02"),
            1 => format!("## [0.{a}.{b}]"),
            2 => format!("## 0.{a}.{b} - 2021-03-04"),
            _ => format!("## [0.{a}.{b}] - 2022-05-06 [YANKED]"),
        })
    }

    fn doc() -> impl Strategy<Value = Doc> {
        let links = prop_oneof![
            Just(None),
            (
                prop_oneof![
                    Just("https://github.com/acme/polyglot/compare/"),
                    Just("https://gitlab.com/acme/sub/polyglot/-/compare/"),
                ],
                prop_oneof![Just(""), Just("v"), Just("engine-v")],
                prop_oneof![Just("..."), Just("..")],
            )
                .prop_map(|(prefix, tag, sep)| Some(Links { prefix, tag, sep })),
        ];
        (
            (any::<bool>(), any::<bool>()),
            prop::collection::vec("[A-Za-z][a-z ]{0,20}", 0..3),
            prop_oneof![
                Just("## [Unreleased]"),
                Just("## Unreleased"),
                Just("## [unreleased]  "),
                Just("## UNRELEASED"),
            ],
            prop::collection::vec(body_line(), 0..10),
            prop::collection::vec(
                (older_heading(), prop::collection::vec(body_line(), 0..6)),
                0..4,
            ),
            links,
            prop_oneof![Just("1.3.0"), Just("2.0.0-rc.1"), Just("1.2.4+build.7")],
        )
            .prop_map(
                |((crlf, trailing_newline), intro, heading, body, older, links, version)| Doc {
                    crlf,
                    trailing_newline,
                    intro,
                    heading,
                    body,
                    older,
                    links,
                    version,
                },
            )
    }

    fn render(doc: &Doc) -> String {
        let mut lines = vec!["# Changelog".to_string(), String::new()];
        lines.extend(doc.intro.iter().cloned());
        lines.push(doc.heading.to_string());
        lines.extend(doc.body.iter().cloned());
        for (heading, body) in &doc.older {
            lines.push(heading.clone());
            lines.extend(body.iter().cloned());
        }
        if let Some(l) = &doc.links {
            lines.push(String::new());
            lines.push(format!(
                "[Unreleased]: {}{}1.2.3{}HEAD",
                l.prefix, l.tag, l.sep
            ));
            lines.push(format!(
                "[1.2.3]: {}{}1.2.2{}{}1.2.3",
                l.prefix, l.tag, l.sep, l.tag
            ));
        }
        let eol = if doc.crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(eol);
        if doc.trailing_newline {
            text.push_str(eol);
        }
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn release_only_inserts_and_rewrites(doc in doc()) {
            let text = render(&doc);
            let eol = if doc.crlf { "\r\n" } else { "\n" };
            let version = doc.version;
            let r = release(&text, "CHANGELOG.md", "1.2.3", version, DATE);
            prop_assert!(r.is_ok(), "{:?}", r);
            let r = r.unwrap();

            // Remove the fresh Unreleased heading + blank line (equivalently: the blank line and
            // the new heading after the kept Unreleased heading).
            let new_heading = if doc.heading.contains('[') {
                format!("## [{version}] - {DATE}")
            } else {
                format!("## {version} - {DATE}")
            };
            let inserted = format!("{}{eol}{eol}{new_heading}", doc.heading);
            prop_assert_eq!(r.text.matches(&inserted).count(), 1);
            let mut back = r.text.replacen(&inserted, doc.heading, 1);

            // Map the rewritten link back and remove the new one.
            if let Some(l) = &doc.links {
                let (p, t, s) = (l.prefix, l.tag, l.sep);
                let old = format!("[Unreleased]: {p}{t}1.2.3{s}HEAD");
                let new = format!(
                    "[Unreleased]: {p}{t}{version}{s}HEAD{eol}[{version}]: {p}{t}1.2.3{s}{t}{version}"
                );
                prop_assert_eq!(back.matches(&new).count(), 1);
                back = back.replacen(&new, &old, 1);
            }
            prop_assert_eq!(&back, &text);

            // The old Unreleased body is now the version's body.
            let before = unreleased(&text);
            prop_assert!(before.is_some());
            let (heading_line, body) = before.unwrap_or_default();
            prop_assert_eq!(section(&r.text, version), Some((heading_line + 2, body)));
            prop_assert_eq!(unreleased(&r.text), Some((heading_line, "")));

            // Warnings: exactly the empty-section one when the body was empty.
            let expected_warnings = usize::from(body.is_empty());
            prop_assert_eq!(r.warnings.len(), expected_warnings, "{:?}", r.warnings);

            // Releasing again is reported as already done.
            prop_assert_eq!(
                release(&r.text, "CHANGELOG.md", "1.2.3", version, DATE),
                Err(ChangelogError::AlreadyReleased { line: heading_line + 2 })
            );
        }
    }
}
