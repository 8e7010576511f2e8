//! `cargo xtask <args>` runs `shiplane -C <workspace root> <args>`.

use std::path::Path;
use std::process::{exit, Command};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace");
    let status = Command::new("shiplane")
        .arg("-C")
        .arg(root)
        .args(std::env::args_os().skip(1))
        .status()
        .unwrap_or_else(|e| {
            eprintln!("xtask: cannot run shiplane: {e}");
            exit(127)
        });
    exit(status.code().unwrap_or(1));
}
