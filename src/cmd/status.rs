//! `csep status`: the read-only diagnostic snapshot (`csep_lib::status`) as one JSON object,
//! or on a terminal a summary for a person (`crate::human`).

use crate::args::HomeArgs;
use crate::exit::Exit;
use crate::human::{self, HumanFormat};
use crate::out::{Failure, Out};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub state: HomeArgs,
    /// `json` (the csep_status record) or `human` (a summary) [default: human on a terminal, else json]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<HumanFormat>,
}

pub fn run(args: &StatusArgs) -> Result<Exit, Failure> {
    // It promises to change nothing: not even a log line.
    crate::out::no_run_log();
    let mut out = Out::new();
    let status = csep_lib::status::collect(
        &args.state.dir(),
        &csep_lib::paths::codex_home(),
        &csep_lib::paths::claude_config_dir(),
    );
    if human::wanted(args.format) {
        let v = serde_json::to_value(&status).unwrap_or_default();
        out.human(&v, &human::status(&v, human::Style::detect()))?;
    } else {
        out.json(&status)?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}
