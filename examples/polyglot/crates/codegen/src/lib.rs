//! Build-time helpers used by `polyglot-ffi`'s build script.

/// Rust source declaring the version as a `&str` and a NUL-terminated byte string.
pub fn version_module(version: &str) -> String {
    format!(
        "pub const VERSION: &str = {version:?};\n\
         pub const VERSION_CSTR: &[u8] = b\"{version}\\0\";\n"
    )
}

/// The C preprocessor line the FFI header carries for `version`.
pub fn header_define(version: &str) -> String {
    format!("#define POLYGLOT_VERSION \"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_has_both_constants() {
        let src = version_module("9.9.9");
        assert!(src.contains("pub const VERSION: &str = \"9.9.9\";"));
        assert!(src.contains("b\"9.9.9\\0\""));
    }

    #[test]
    fn define_line() {
        assert_eq!(header_define("9.9.9"), "#define POLYGLOT_VERSION \"9.9.9\"");
    }
}
