//! `csep-verify RUN_DIR [--dry-run]` and `csep-verify --undo JOB`: check a reflection
//! proposal and apply it, or put a job's changes back. The checks, the apply and the journal
//! are `csep_lib::verify`'s; this file prints the receipt and picks the exit code.

use crate::args::StateArgs;
use crate::cmd::shared::{self, exit_for, warn_receipt};
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::Args;
use csep_lib::verify::{self, Options, UndoStatus};
use std::path::PathBuf;

pub const TOOL: &str = shared::CSEP_VERIFY;

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The run directory (`$CSEP_HOME/runs/<job>/`) holding base.json, proposal/ and draft.json
    #[arg(
        value_name = "RUN_DIR",
        required_unless_present = "undo",
        conflicts_with = "undo"
    )]
    pub run_dir: Option<PathBuf>,
    /// Check and write the receipt, but change no live file (with --undo: check only)
    #[arg(long)]
    pub dry_run: bool,
    /// Put back the before-state of every change job JOB applied
    #[arg(long, value_name = "JOB")]
    pub undo: Option<String>,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn run(args: &VerifyArgs) -> Result<Exit, Failure> {
    if args.dry_run {
        crate::out::no_run_log();
    }
    let state_dir = args.state.dir();
    let opts = Options {
        dry_run: args.dry_run,
        ..Options::default()
    };
    let mut out = Out::new();
    if let Some(job) = &args.undo {
        let r = verify::undo(&state_dir, job, args.dry_run, opts.lock_wait)?;
        for refusal in &r.refusals {
            warn(
                TOOL,
                format_args!(
                    "{}: {}: {}",
                    refusal.path,
                    refusal.reason.as_str(),
                    refusal.detail
                ),
            );
        }
        out.json(&r)?;
        out.flush()?;
        return Ok(match r.status {
            UndoStatus::Undone | UndoStatus::NothingToUndo => Exit::Ok,
            UndoStatus::Refused => Exit::Negative,
        });
    }
    let run_dir = args
        .run_dir
        .as_ref()
        .expect("clap requires RUN_DIR without --undo");
    let r = verify::verify_run(&state_dir, run_dir, &opts)?;
    warn_receipt(TOOL, &r);
    out.json(&r)?;
    out.flush()?;
    Ok(exit_for(r.status))
}
