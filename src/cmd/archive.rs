//! `csep-archive FILE…`: transcripts → JSON Lines records on stdout.

use crate::args::{AgentArg, CapsArgs};
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::Args;
use csep_lib::archive::{self, Request};
use csep_lib::wire::{Agent, Record};
use std::path::PathBuf;

pub const TOOL: &str = shared::CSEP_ARCHIVE;

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Transcript files (Codex rollouts or Claude Code session files)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Which host wrote the files [default: detected from the content]
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<AgentArg>,
    /// Parse only what follows this byte offset (a previous run's end_offset)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub from_offset: u64,
    #[command(flatten)]
    pub caps: CapsArgs,
}

pub fn run(args: &ArchiveArgs) -> Result<Exit, Failure> {
    // No --state-dir here: the user's patterns come from the default state directory.
    crate::args::user_patterns_from(&csep_lib::paths::state_dir(None));
    let mut out = Out::new();
    let mut failed = false;
    let req = Request {
        agent: args.agent.map(Agent::from),
        start_offset: args.from_offset,
        caps: args.caps.caps(),
        ..Default::default()
    };
    for file in &args.files {
        match archive::parse_file(file, &req) {
            Ok(parsed) => {
                out.json(&Record::Session(parsed.session))?;
                for m in parsed.messages {
                    out.json(&Record::Message(m))?;
                }
                let skipped = parsed.source.skipped.total();
                if skipped > 0 {
                    warn(
                        TOOL,
                        format_args!("{}: skipped {skipped} unusable line(s)", file.display()),
                    );
                }
                out.json(&Record::Source(parsed.source))?;
            }
            Err(e) => {
                warn(TOOL, &e);
                failed = true;
            }
        }
    }
    out.flush()?;
    Ok(if failed { Exit::Error } else { Exit::Ok })
}
