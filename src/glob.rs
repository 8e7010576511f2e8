//! Shell-style globs, shared by Cargo workspace member globs, the artifact content rules and the
//! release assets: one path segment ([`segment_match`]), a path of segments with `**`
//! ([`segments_match`]), and expansion against the file system ([`expand`]).

use std::path::Path;

/// Shell-style match of one path segment: `*` any run, `?` one char, `[abc]`/`[a-z]`/`[!a]` a class.
pub fn segment_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let (negated, class) = match p[1] {
                    '!' | '^' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negated && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Whether the glob `pattern` (split at `/`; `**` spans any number of segments, none included)
/// matches the path `parts`.
pub fn segments_match(pattern: &[String], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((p, rest)) if p == "**" => {
            (0..=parts.len()).any(|k| segments_match(rest, &parts[k..]))
        }
        Some((p, rest)) => parts
            .split_first()
            .is_some_and(|(first, others)| segment_match(p, first) && segments_match(rest, others)),
    }
}

/// The files under `root` whose path relative to it matches `pattern` (`dist/*.tar.gz`,
/// `target/**/app-*.AppImage`), `/`-separated and sorted. Hidden directories are entered only when
/// the pattern names them; symbolic links to directories are not followed.
pub fn expand(root: &Path, pattern: &str) -> std::io::Result<Vec<String>> {
    let segments: Vec<String> = pattern
        .trim_start_matches("./")
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .map(str::to_string)
        .collect();
    let mut found = Vec::new();
    walk(root, "", &segments, &mut found)?;
    found.sort();
    found.dedup();
    Ok(found)
}

fn is_literal(segment: &str) -> bool {
    !segment.contains(['*', '?', '['])
}

fn walk(root: &Path, rel: &str, rest: &[String], found: &mut Vec<String>) -> std::io::Result<()> {
    let join = |name: &str| {
        if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        }
    };
    let Some((first, tail)) = rest.split_first() else {
        if root.join(rel).is_file() {
            found.push(rel.to_string());
        }
        return Ok(());
    };
    if is_literal(first) {
        let next = join(first);
        if root.join(&next).exists() {
            walk(root, &next, tail, found)?;
        }
        return Ok(());
    }
    let dir = root.join(rel);
    if !dir.is_dir() {
        return Ok(());
    }
    if first == "**" {
        walk(root, rel, tail, found)?;
    }
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let kind = entry.file_type()?;
        if first == "**" {
            if kind.is_dir() && !name.starts_with('.') {
                walk(root, &join(&name), rest, found)?;
            }
        } else if segment_match(first, &name)
            && (kind.is_dir() || kind.is_file() || kind.is_symlink())
        {
            walk(root, &join(&name), tail, found)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::segment_match;

    #[test]
    fn segments() {
        assert!(segment_match("*", "engine"));
        assert!(segment_match("eng*", "engine"));
        assert!(segment_match("c?d*", "codegen"));
        assert!(segment_match("[a-c]x", "bx"));
        assert!(!segment_match("[a-c]x", "dx"));
        assert!(segment_match("[!a]x", "bx") && !segment_match("[!a]x", "ax"));
        assert!(segment_match("[a-c]?", "bz"));
        assert!(!segment_match("eng", "engine"));
        assert!(segment_match("[x", "[x"), "an unclosed class is a literal");
    }
}
