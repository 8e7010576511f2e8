//! `init`: placeholder replaced below.
use std::path::Path;

use anyhow::Result;

use crate::cli::InitArgs;
use crate::report::Output;

pub fn run(_start: &Path, _args: &InitArgs, _out: &Output) -> Result<()> {
    anyhow::bail!("init: not yet written")
}
