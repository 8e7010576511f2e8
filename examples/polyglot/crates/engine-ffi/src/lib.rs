//! C ABI for the polyglot engine. See `include/polyglot.h`.

use std::ffi::c_char;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/version.rs"));
}

pub use generated::VERSION;

/// Returns the library version as a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn polyglot_version() -> *const c_char {
    generated::VERSION_CSTR.as_ptr().cast()
}

/// Adds two numbers with the engine.
#[no_mangle]
pub extern "C" fn polyglot_add(a: i64, b: i64) -> i64 {
    polyglot_engine::add(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn version_matches_engine() {
        let v = unsafe { CStr::from_ptr(polyglot_version()) };
        assert_eq!(v.to_str().unwrap(), polyglot_engine::version());
        assert_eq!(VERSION, polyglot_engine::version());
    }

    #[test]
    fn adds() {
        assert_eq!(polyglot_add(40, 2), 42);
    }
}
