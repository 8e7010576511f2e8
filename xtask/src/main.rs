//! `cargo xtask <command>`: Shiplane's CLI, run on this repository (Shiplane releases itself).
fn main() -> std::process::ExitCode {
    shiplane::cli::main()
}
