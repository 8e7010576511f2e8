//! One module per command.

pub mod bump;
pub mod init;
pub mod versions;
