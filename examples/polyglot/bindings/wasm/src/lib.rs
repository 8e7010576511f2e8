//! WebAssembly entry points of the polyglot engine.

/// Adds two numbers with the engine.
#[no_mangle]
pub extern "C" fn polyglot_wasm_add(a: i64, b: i64) -> i64 {
    polyglot_engine::add(a, b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn agrees_with_ffi() {
        assert_eq!(
            super::polyglot_wasm_add(20, 22),
            polyglot_ffi::polyglot_add(20, 22)
        );
    }
}
