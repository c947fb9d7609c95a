//! `csep session-reflection write-receipt`: csep 1.3.10's "validate a draft early". The
//! reflection session (or a person) runs it on a run directory before the run ends, to learn
//! whether csep-verify would accept the proposal: the same checks as `csep-verify --dry-run`
//! (`csep_lib::verify::verify_run` with `dry_run`), so nothing live changes. It prints the
//! dry-run receipt and writes it to the run directory's `receipt.json` (and `--output`).

use crate::args::StateArgs;
use crate::cmd::shared::{self, exit_for, warn_receipt};
use crate::exit::Exit;
use crate::out::{Failure, Out};
use clap::{Args, Subcommand};
use csep_lib::verify::{self, Options};
use csep_lib::{fsutil, Error};
use std::path::{Path, PathBuf};

pub const TOOL: &str = shared::CSEP;

#[derive(Debug, Subcommand)]
pub enum ReflectionCommand {
    /// Check a run directory's proposal and draft as csep-verify would, changing nothing;
    /// print the dry-run receipt (exit 0: it would pass, 1: it would be rejected)
    WriteReceipt(WriteReceiptArgs),
}

#[derive(Debug, Args)]
pub struct SessionReflectionArgs {
    #[command(subcommand)]
    pub command: ReflectionCommand,
}

#[derive(Debug, Args)]
pub struct WriteReceiptArgs {
    /// The run directory (base.json, proposal/, draft.json) [default: $CSEP_HOME/runs/<--job-id>]
    #[arg(long, value_name = "DIR", required_unless_present = "job_id")]
    pub run_dir: Option<PathBuf>,
    /// The job; with --run-dir, it must be the run directory's job
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// Check this draft: it is copied into the run directory as draft.json first
    /// [default: the run directory's draft.json]
    #[arg(long, value_name = "FILE")]
    pub draft: Option<PathBuf>,
    /// Also write the receipt (pretty-printed JSON) to FILE
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn run(args: &SessionReflectionArgs) -> Result<Exit, Failure> {
    // A check that changes nothing logs nothing either.
    crate::out::no_run_log();
    match &args.command {
        ReflectionCommand::WriteReceipt(a) => write_receipt(a),
    }
}

/// The run directory the flags name.
fn run_dir_of(a: &WriteReceiptArgs, state_dir: &Path) -> Result<PathBuf, Error> {
    if let Some(job) = &a.job_id {
        if !verify::valid_job_id(job) {
            return Err(Error::usage(format!("--job-id {job:?} is not a job id")));
        }
    }
    match (&a.run_dir, &a.job_id) {
        (Some(dir), Some(job)) => {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.as_deref() != Some(job.as_str()) {
                return Err(Error::usage(format!(
                    "--job-id {job} is not the job of the run directory {}",
                    dir.display()
                )));
            }
            Ok(dir.clone())
        }
        (Some(dir), None) => Ok(dir.clone()),
        (None, Some(job)) => Ok(csep_lib::reflect::run_dir(state_dir, job)),
        (None, None) => Err(Error::usage("--run-dir or --job-id is required")),
    }
}

/// Installs `draft` as the run directory's draft.json (atomically; a symlink there is
/// replaced, not followed). A draft bigger than verify's size cap is still copied up to the
/// cap plus one byte, so that verify names it `file_too_large`.
fn install_draft(draft: &Path, run_dir: &Path) -> Result<(), Error> {
    let target = run_dir.join("draft.json");
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(draft), std::fs::canonicalize(&target)) {
        if a == b {
            return Ok(());
        }
    }
    let mut bytes = Vec::new();
    let f = std::fs::File::open(draft).map_err(|e| Error::io(draft.display(), e))?;
    std::io::Read::read_to_end(
        &mut std::io::Read::take(f, verify::SIZE_CAP_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| Error::io(draft.display(), e))?;
    if !run_dir.is_dir() {
        return Err(Error::usage(format!(
            "{}: not a run directory",
            run_dir.display()
        )));
    }
    fsutil::write_atomic(&target, &bytes)
}

fn write_receipt(a: &WriteReceiptArgs) -> Result<Exit, Failure> {
    let state_dir = a.state.dir();
    let run_dir = run_dir_of(a, &state_dir)?;
    if let Some(draft) = &a.draft {
        install_draft(draft, &run_dir)?;
    }
    let opts = Options {
        dry_run: true,
        ..Options::default()
    };
    let r = verify::verify_run(&state_dir, &run_dir, &opts)?;
    warn_receipt(TOOL, &r);
    if let Some(path) = &a.output {
        let mut bytes = serde_json::to_vec_pretty(&r).map_err(|e| Error::input(e.to_string()))?;
        bytes.push(b'\n');
        fsutil::write_atomic(path, &bytes)?;
    }
    let mut out = Out::new();
    out.json(&r)?;
    out.flush()?;
    Ok(exit_for(r.status))
}
