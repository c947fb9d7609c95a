//! `csep-trigger`: one hook payload on stdin → one `trigger_decision` line on stdout. The
//! policy, the state files and the job queue are `csep_lib::trigger`'s; this file only reads
//! the input, reports config warnings and prints the answer.

use crate::args::{AgentArg, StateArgs};
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::Args;
use csep_lib::trigger::{self, Input, Options};
use csep_lib::wire::Agent;
use csep_lib::{config, Error};
use std::io::Read;

pub const TOOL: &str = shared::CSEP_TRIGGER;

#[derive(Debug, Clone, Args)]
pub struct TriggerArgs {
    /// Which host the payload came from [default: the input's "agent", else whichever form
    /// of the session id the index has]
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<AgentArg>,
    /// Decide and print the decision, but write nothing (no state, no decision log, no job)
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn run(args: &TriggerArgs) -> Result<Exit, Failure> {
    if args.dry_run {
        crate::out::no_run_log();
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::input(format!("reading stdin: {e}")))?;
    let input = Input::from_slice(&bytes, args.agent.map(Agent::from))?;
    let dir = args.state.dir();
    let (config, warnings) = config::load(&dir);
    for w in warnings {
        warn(TOOL, w);
    }
    let opts = Options {
        dry_run: args.dry_run,
        ..Options::default()
    };
    let decision = trigger::evaluate(&dir, &config, &input, &opts)?;
    let mut out = Out::new();
    out.json(&decision)?;
    out.flush()?;
    Ok(Exit::Ok)
}
