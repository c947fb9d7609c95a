//! `csep migrate-worktrees [--apply]`: csep 1.3.10's command to fold worktree buckets into
//! their repository's bucket (`csep_lib::migrate`). Prints one `migrate_worktrees` object;
//! exit 0, 2 when a merge failed, 75 when a bucket was busy (nothing of it was written).

use crate::args::HomeArgs;
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::Args;
use csep_lib::{config, migrate};
use std::time::Duration;

const TOOL: &str = shared::CSEP;

/// How long a bucket lock is waited for before the bucket counts as busy.
const LOCK_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Merge and archive as planned [default: print the plan, change nothing]
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub state: HomeArgs,
}

pub fn run(a: &MigrateArgs) -> Result<Exit, Failure> {
    if !a.apply {
        // The dry run changes nothing, not even the run log.
        crate::out::no_run_log();
    }
    let state_dir = a.state.dir();
    let (cfg, warnings) = config::load(&state_dir);
    for w in warnings {
        warn(TOOL, w);
    }
    let report = migrate::run(
        &state_dir,
        &migrate::Options {
            apply: a.apply,
            lock_wait: LOCK_WAIT,
            memory_max_chars: cfg.memory.inject_max_chars,
        },
    )?;
    for u in &report.unresolved {
        warn(
            TOOL,
            format_args!("{}: unresolved, left alone: {}", u.bucket, u.reason),
        );
    }
    for p in report.plans.iter().filter(|p| p.over_budget) {
        warn(
            TOOL,
            format_args!(
                "{}: the merged MEMORY.md has {} characters, more than inject_max_chars = {}; \
                 only its start is injected",
                p.target_bucket, p.merged_memory_chars, cfg.memory.inject_max_chars
            ),
        );
    }
    let mut exit = Exit::Ok;
    for r in &report.apply_results {
        if let Some(e) = &r.error {
            warn(
                TOOL,
                format_args!("{} ({}): {e}", r.source_bucket, r.status),
            );
        }
        exit = match (exit, r.status) {
            (_, "failed") | (Exit::Error, _) => Exit::Error,
            (_, "busy") => Exit::Busy,
            (e, _) => e,
        };
    }
    let mut out = Out::new();
    out.json(&report)?;
    out.flush()?;
    Ok(exit)
}
