//! `csep-archive FILE…`: transcripts → JSON Lines records on stdout; a host's store of many
//! sessions (OpenCode's database, Copilot's `session-store.db`, Aider's chat history) → one
//! group of records per session.

use crate::args::{AgentArg, CapsArgs};
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::Args;
use csep_lib::archive::{self, Parsed, Request};
use csep_lib::index;
use csep_lib::wire::{Agent, Record};
use std::path::PathBuf;

pub const TOOL: &str = shared::CSEP_ARCHIVE;

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Transcript files, or a host's store of sessions (a store's one session as STORE#SESSION)
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
        let mut write_io: Option<std::io::Error> = None;
        let mut emit = |parsed: &Parsed| {
            if let Err(e) = print(&mut out, parsed.clone(), "record") {
                write_io.get_or_insert(e);
            }
            Ok(())
        };
        if let Some(read) = index::read_store(file, req.agent, req.caps, &mut emit) {
            match read {
                Ok(s) => {
                    for e in &s.errors {
                        warn(TOOL, format_args!("{}: {}", e.path, e.message));
                    }
                    failed |= !s.errors.is_empty();
                }
                Err(e) => {
                    warn(TOOL, &e);
                    failed = true;
                }
            }
            if let Some(e) = write_io {
                return Err(e.into());
            }
            continue;
        }
        match archive::parse_file(file, &req) {
            Ok(parsed) => print(&mut out, parsed, "line")?,
            Err(e) => {
                warn(TOOL, &e);
                failed = true;
            }
        }
    }
    out.flush()?;
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

/// One session's group: its `session`, its `message`s, the closing `source`. `unit` is what
/// the reader skips: a transcript's lines, a store's records.
fn print(out: &mut Out, parsed: Parsed, unit: &str) -> std::io::Result<()> {
    out.json(&Record::Session(parsed.session))?;
    for m in parsed.messages {
        out.json(&Record::Message(m))?;
    }
    let skipped = parsed.source.skipped.total();
    if skipped > 0 {
        warn(
            TOOL,
            format_args!(
                "{}: skipped {skipped} unusable {unit}(s)",
                parsed.source.path
            ),
        );
    }
    out.json(&Record::Source(parsed.source))
}
