//! The `shiplane` binary: the same CLI as `cargo xtask`, plus `-C DIR`.
fn main() -> std::process::ExitCode {
    shiplane::cli::main()
}
