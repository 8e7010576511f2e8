//! Native part of the `@polyglot/engine` npm package (napi-style layout).

/// Adds two numbers with the engine.
#[cfg(unix)]
#[no_mangle]
pub extern "C" fn polyglot_node_add(a: i64, b: i64) -> i64 {
    polyglot_engine::add(a, b)
}

/// Stub for targets without a native build.
#[cfg(not(unix))]
#[no_mangle]
pub extern "C" fn polyglot_node_add(a: i64, b: i64) -> i64 {
    a.saturating_add(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::polyglot_node_add(2, 2), 4);
    }
}
