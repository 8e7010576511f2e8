//! Core engine of the polyglot example.

/// Adds two numbers, saturating instead of overflowing.
pub fn add(a: i64, b: i64) -> i64 {
    a.saturating_add(b)
}

/// Returns a greeting for `name`.
pub fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

/// The engine's own version, as compiled in by Cargo.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds() {
        assert_eq!(add(2, 3), 5);
        assert_eq!(add(i64::MAX, 1), i64::MAX);
    }

    #[test]
    fn greets() {
        assert_eq!(greet("polyglot"), "Hello, polyglot!");
    }
}
