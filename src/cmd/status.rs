//! `csep status`: the read-only diagnostic snapshot (`csep_lib::status`) as one JSON object.

use crate::args::HomeArgs;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub state: HomeArgs,
}

pub fn run(args: &StatusArgs) -> Result<Exit, Failure> {
    let status = csep_lib::status::collect(&args.state.dir());
    if let Some(w) = status.env_provider.mode_warning() {
        warn(crate::cmd::umbrella::TOOL, w);
    }
    let mut out = Out::new();
    out.json(&status)?;
    out.flush()?;
    Ok(Exit::Ok)
}
