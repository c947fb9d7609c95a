//! `csep status`: the read-only diagnostic snapshot (`csep_lib::status`) as one JSON object.

use crate::args::HomeArgs;
use crate::exit::Exit;
use crate::out::{Failure, Out};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub state: HomeArgs,
}

pub fn run(args: &StatusArgs) -> Result<Exit, Failure> {
    // It promises to change nothing: not even a log line.
    crate::out::no_run_log();
    let mut out = Out::new();
    out.json(&csep_lib::status::collect(
        &args.state.dir(),
        &csep_lib::paths::codex_home(),
        &csep_lib::paths::claude_config_dir(),
    ))?;
    out.flush()?;
    Ok(Exit::Ok)
}
