//! `csep-reflect` (the reflection worker) and `csep session-reflect` (1.3.10's
//! `--status`, `--job ID`, `--hook-payload FILE`). The worker itself is
//! `csep_lib::reflect`; this file reads flags, picks the verifier, prints one
//! `reflect_result` line per job and maps outcomes to exit codes.

use crate::args::{HomeArgs, StateArgs};
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::{ArgGroup, Args};
use csep_lib::reflect::{self, JobStatus, Outcome, VerifyStatus};
use csep_lib::trigger::{self, Input, Verdict};
use csep_lib::{config, verify, Error};
use std::path::{Path, PathBuf};

pub const TOOL: &str = shared::CSEP_REFLECT;

#[derive(Debug, Clone, Args)]
pub struct ReflectArgs {
    /// Run at most one job, then exit [default: run every queued job]
    #[arg(long, conflicts_with = "job")]
    pub once: bool,
    /// Run this queued job now (its file name in spool/reflect/new/, without .json)
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["status", "job", "hook_payload"])))]
pub struct SessionReflectArgs {
    /// Print the state of reflection (JSON): queue depths, the worker, the latest job with
    /// its verdict and why
    #[arg(long)]
    pub status: bool,
    /// Run this queued job now, as csep-reflect --job does
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
    /// Index the payload's transcript, run the trigger on it, and run the job now if one is
    /// queued
    #[arg(long, value_name = "FILE")]
    pub hook_payload: Option<PathBuf>,
    #[command(flatten)]
    pub state: HomeArgs,
}

/// The exit code a job's outcome asks for: 0 applied or nothing to do, 1 rejected, 2 failed.
fn exit_for(o: &Outcome) -> Exit {
    match o.status {
        JobStatus::Rejected => Exit::Negative,
        JobStatus::Failed | JobStatus::Running | JobStatus::Interrupted => Exit::Error,
        JobStatus::Succeeded | JobStatus::Partial | JobStatus::Skipped => Exit::Ok,
    }
}

fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Ok => 0,
        Exit::Negative => 1,
        Exit::Busy => 2,
        Exit::Error => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// The verifier: `csep_lib::verify::verify_run`, as `csep-verify RUN_DIR` runs it. It writes
/// `receipt.json` into the run directory; its verdict becomes the job's.
fn verify(state_dir: &Path, run_dir: &Path) -> csep_lib::Result<VerifyStatus> {
    let receipt = verify::verify_run(state_dir, run_dir, &verify::Options::default())?;
    Ok(match receipt.status {
        verify::Status::Succeeded => VerifyStatus::Succeeded,
        verify::Status::Partial => VerifyStatus::Partial,
        verify::Status::Skipped => VerifyStatus::Skipped,
        verify::Status::Rejected => VerifyStatus::Rejected,
        verify::Status::Failed => VerifyStatus::Failed,
    })
}

/// Runs the worker and prints each job's result as it ends.
fn run_jobs(state_dir: &Path, opts: &reflect::Options) -> Result<Exit, Failure> {
    let (config, warnings) = config::load(state_dir);
    for w in warnings {
        warn(TOOL, w);
    }
    let verifier = |run: &Path| verify(state_dir, run);
    let mut out = Out::new();
    let mut exit = Exit::Ok;
    let mut write_error: Option<std::io::Error> = None;
    reflect::run(state_dir, &config, &verifier, opts, &mut |o| {
        exit = worse(exit, exit_for(o));
        if exit_for(o) != Exit::Ok {
            warn(
                TOOL,
                format_args!(
                    "job {}: {} ({}){}",
                    o.job_id,
                    o.status.as_str(),
                    o.reason.as_deref().unwrap_or("no reason given"),
                    o.detail
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ),
            );
        }
        if write_error.is_none() {
            if let Err(e) = out.json(o).and_then(|_| out.flush()) {
                write_error = Some(e);
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    Ok(exit)
}

/// `csep-reflect`.
pub fn run(args: &ReflectArgs) -> Result<Exit, Failure> {
    run_jobs(
        &args.state.dir(),
        &reflect::Options {
            once: args.once,
            job: args.job.clone(),
        },
    )
}

/// `csep session-reflect`.
pub fn run_session_reflect(args: &SessionReflectArgs) -> Result<Exit, Failure> {
    let state_dir = args.state.dir();
    if args.status {
        let (config, warnings) = config::load(&state_dir);
        for w in warnings {
            warn("csep", w);
        }
        let mut out = Out::new();
        out.json(&reflect::status(&state_dir, &config))?;
        out.flush()?;
        return Ok(Exit::Ok);
    }
    if let Some(id) = &args.job {
        return run_jobs(
            &state_dir,
            &reflect::Options {
                once: true,
                job: Some(id.clone()),
            },
        );
    }
    let Some(path) = &args.hook_payload else {
        return Err(Error::usage("one of --status, --job or --hook-payload is required").into());
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let input = Input::from_slice(&bytes, None)?;
    let (config, warnings) = config::load(&state_dir);
    for w in warnings {
        warn("csep", w);
    }
    // What the drainer does before the trigger: bring the transcript's index up to date.
    if let Some(t) = input.transcript_path.as_deref().map(PathBuf::from) {
        if t.is_file() {
            let mut conn = csep_lib::index::db::open_rw(&csep_lib::paths::index_db(&state_dir))?;
            let s = csep_lib::index::index_paths(
                &mut conn,
                std::slice::from_ref(&t),
                input.agent,
                csep_lib::archive::Caps::default(),
                &mut |_| {},
            )?;
            for e in &s.errors {
                warn("csep", format_args!("{}: {}", e.path, e.message));
            }
        }
    }
    let decision = trigger::evaluate(&state_dir, &config, &input, &trigger::Options::default())?;
    let mut out = Out::new();
    out.json(&decision)?;
    out.flush()?;
    let (Verdict::Queued, Some(job_id)) = (decision.decision, decision.job_id.clone()) else {
        return Ok(Exit::Ok);
    };
    drop(out);
    match run_jobs(
        &state_dir,
        &reflect::Options {
            once: true,
            job: Some(job_id.clone()),
        },
    ) {
        Err(Failure::Lib(e)) if e.kind == csep_lib::ErrorKind::Busy => {
            warn(
                "csep",
                format_args!(
                    "job {job_id} is queued; the reflection worker that is running will take it"
                ),
            );
            Ok(Exit::Ok)
        }
        other => other,
    }
}
