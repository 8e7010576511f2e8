use std::{env, fs, path::PathBuf};

fn main() {
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("version.rs"), polyglot_codegen::version_module(&version))
        .expect("write version.rs");

    // The checked-in header must agree with the crate version.
    let header = fs::read_to_string("include/polyglot.h").expect("read include/polyglot.h");
    let define = polyglot_codegen::header_define(&version);
    if !header.contains(&define) {
        println!("cargo:warning=include/polyglot.h does not contain `{define}`");
    }
    println!("cargo:rerun-if-changed=include/polyglot.h");
    println!("cargo:rerun-if-changed=build.rs");
}
