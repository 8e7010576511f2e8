//! Shiplane: release engineering for many-product repositories, in plain Rust.
//!
//! Run as `cargo xtask <command>` in a repository that adopts it, or as `shiplane -C DIR <command>`.
//! `shiplane.toml` + the files on disk → [`repo::Repo`] → a command builds a [`plan::Plan`] →
//! [`exec`] carries it out (or prints it under `--dry-run`) → a report.

pub mod checksum;
pub mod cli;
pub mod commands;
pub mod config;
pub mod edit;
pub mod exec;
pub mod forge;
pub mod git;
pub mod glob;
pub mod lane;
pub mod oidc;
pub mod plan;
pub mod registry;
pub mod repo;
pub mod report;
pub mod secrets;
pub mod txn;
pub mod version;
pub mod workflows;
