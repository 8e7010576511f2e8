//! The GitHub workflows generated from the lane (`workflows --write`), and the checks every
//! workflow must pass (`workflows --check`): no drift from what shiplane.toml generates, the lane
//! run in full, and the hygiene rules of [`audit`].
//!
//! YAML is written as text and read by a line-oriented scanner ([`scan`]): no YAML crate.

pub mod audit;
pub mod coverage;
pub mod generate;
pub mod scan;

pub use generate::generate;

/// Where GitHub reads workflows, relative to the repository root.
pub const DIR: &str = ".github/workflows";

/// The fix for a drifted or missing generated workflow.
pub const FIX: &str = "run `cargo xtask workflows --write` and commit";

/// A step the generated ci.yml runs: a lane step of shiplane.toml, or a Rust step of the xtask
/// (which `cargo xtask ci` runs after them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStep {
    pub name: String,
    pub timeout: std::time::Duration,
}

/// A generated workflow: its path relative to the repository root and its whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub rel: String,
    pub text: String,
}
