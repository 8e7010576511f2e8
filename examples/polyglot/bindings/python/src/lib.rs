//! Native part of the `polyglot` Python package.
//!
//! The real project uses PyO3 here; the example stays dependency-free so it
//! builds offline, and exposes a plain C ABI instead.

/// Adds two numbers with the engine.
#[no_mangle]
pub extern "C" fn polyglot_py_add(a: i64, b: i64) -> i64 {
    polyglot_engine::add(a, b)
}

/// Length in bytes of the engine's greeting for an empty name.
#[no_mangle]
pub extern "C" fn polyglot_py_greeting_len() -> usize {
    polyglot_engine::greet("").len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::polyglot_py_add(1, 1), 2);
    }
}
