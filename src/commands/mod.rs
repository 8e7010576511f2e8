//! One module per command.

pub mod bump;
pub mod ci;
pub mod init;
pub mod preflight;
pub mod publish;
pub mod verify_install;
pub mod versions;
pub mod workflows;
