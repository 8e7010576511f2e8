//! Shell-style glob matching of one path segment, shared by Cargo workspace member globs and the
//! artifact content rules.

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
