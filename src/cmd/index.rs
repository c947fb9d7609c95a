//! `csep-index`: records from stdin, a backfill of a transcript root, specific files, or the
//! archive spool → the recall database. Prints one JSON summary. Also forgets a session
//! (`--forget`, `--forget-source`), lists the forgotten ones (`--list-forgotten`), and
//! rebuilds the index (`--rebuild`).

use crate::args::{AgentArg, CapsArgs, HistoryArgs, StateArgs};
use crate::exit::Exit;
use crate::out::{warn, Failure, Out, ProgressLine};
use clap::Args;
use csep_lib::archive::Caps;
use csep_lib::index::{self, db, BackfillOptions, Summary};
use csep_lib::wire::Agent;
use csep_lib::Error;
use std::path::PathBuf;

pub const TOOL: &str = "csep-index";

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Walk a transcript root instead of reading records from stdin
    #[arg(long, value_name = "AGENT", conflicts_with_all = ["file", "spool", "forget", "forget_source", "list_forgotten"])]
    pub backfill: Option<AgentArg>,
    /// The root to walk [default: $CODEX_HOME/sessions, or $CLAUDE_CONFIG_DIR/projects]
    #[arg(long, value_name = "DIR", requires = "backfill")]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub history: HistoryArgs,
    /// Parser threads; 0 means one per core
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Index these transcript files incrementally
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with_all = ["spool", "forget", "forget_source", "list_forgotten"])]
    pub file: Vec<PathBuf>,
    /// Drain queued hook payloads from spool/archive/
    #[arg(long, conflicts_with_all = ["forget", "forget_source", "list_forgotten"])]
    pub spool: bool,
    /// Remove this session from the index for good and leave a tombstone (as `csep recall forget`)
    #[arg(long, value_name = "SESSION_ID", conflicts_with_all = ["forget_source", "list_forgotten"])]
    pub forget: Option<String>,
    /// Forget the session this transcript file belongs to, and tombstone the path
    #[arg(long, value_name = "PATH", conflicts_with = "list_forgotten")]
    pub forget_source: Option<PathBuf>,
    /// Print the tombstones of forgotten sessions
    #[arg(long)]
    pub list_forgotten: bool,
    /// Replace the index (damaged or not) with one rebuilt from every known transcript root,
    /// keeping the old files aside and every forgotten session forgotten
    #[arg(long, conflicts_with_all = ["backfill", "file", "spool", "forget", "forget_source", "list_forgotten"])]
    pub rebuild: bool,
    #[command(flatten)]
    pub caps: CapsArgs,
}

/// The backfill half, shared with `csep recall bootstrap` and `csep session-ingest`, which
/// pass their own flags' values: how far back (`None`: every transcript), how many files.
pub fn backfill(
    state: &StateArgs,
    agent: Agent,
    root: Option<PathBuf>,
    since_days: Option<u64>,
    limit_files: Option<usize>,
    threads: usize,
    caps: Caps,
) -> Result<Summary, Error> {
    let root = root.unwrap_or_else(|| match agent {
        Agent::Codex => csep_lib::paths::codex_sessions_root(),
        Agent::Claude => csep_lib::paths::claude_projects_root(),
    });
    let mut conn = db::open_rw(&state.db())?;
    let opts = BackfillOptions {
        agent,
        root,
        since_days,
        limit_files,
        caps,
        threads,
    };
    let mut bar = ProgressLine::new(TOOL);
    let summary = index::backfill(&mut conn, &opts, &mut |p| bar.update(p));
    bar.finish();
    summary
}

/// Reports per-file errors on stderr and picks the exit code for a summary.
pub fn report(tool: &str, summary: &Summary) -> Exit {
    crate::out::log_count("processed_files", summary.processed_files);
    crate::out::log_count("messages", summary.messages);
    crate::out::log_count("error_count", summary.error_count);
    for e in &summary.errors {
        warn(tool, format_args!("{}: {}", e.path, e.message));
    }
    let unlisted =
        summary.error_count as usize - summary.errors.len().min(summary.error_count as usize);
    if unlisted > 0 {
        warn(
            tool,
            format_args!(
                "… and {unlisted} more error(s), recorded in the index's ingest_errors table"
            ),
        );
    }
    if summary.error_count > 0 {
        Exit::Error
    } else {
        Exit::Ok
    }
}

/// `csep recall rebuild` and `csep-index --rebuild`: one `rebuild_summary` on stdout, one
/// line for a person on stderr. The drain after it runs the trigger as the hook's drainer
/// does.
pub fn rebuild(
    tool: &str,
    state: &StateArgs,
    caps: &CapsArgs,
    threads: usize,
) -> Result<Exit, Failure> {
    let state_dir = state.dir();
    let (config, _) = csep_lib::config::load(&state_dir);
    let ctx = csep_lib::hook::Ctx::with_config(&state_dir, config);
    let s = csep_lib::index::rebuild::rebuild(&state_dir, caps.caps(), threads, &mut |item| {
        csep_lib::hook::run_trigger(&ctx, item)
    })?;
    let old = match (&s.moved_aside, s.was_damaged) {
        (Some(dir), true) => format!("the damaged index is kept in {dir}"),
        (Some(dir), false) => format!("the old index is kept in {dir}"),
        (None, _) => "there was no index to move aside".to_string(),
    };
    warn(
        tool,
        format_args!(
            "rebuilt {}: {} sessions, {} messages from {} root(s); {} forgotten session(s) stay forgotten; {old}",
            s.db_path,
            s.sessions,
            s.messages,
            s.roots.iter().filter(|r| r.exists).count(),
            s.forgotten
        ),
    );
    if s.error_count > 0 {
        warn(
            tool,
            format_args!(
                "{} file(s), root(s) or queued payload(s) failed; see `csep status`",
                s.error_count
            ),
        );
    }
    let mut out = Out::new();
    out.json(&s)?;
    out.flush()?;
    Ok(if s.error_count > 0 {
        Exit::Error
    } else {
        Exit::Ok
    })
}

pub fn run(args: &IndexArgs) -> Result<Exit, Failure> {
    use csep_lib::index::forget::Target;
    if args.rebuild {
        return rebuild(TOOL, &args.state, &args.caps, args.threads);
    }
    if let Some(id) = &args.forget {
        return crate::cmd::forget::forget(TOOL, &args.state, &Target::Session(id.clone()));
    }
    if let Some(p) = &args.forget_source {
        return crate::cmd::forget::forget(TOOL, &args.state, &Target::Source(p.clone()));
    }
    if args.list_forgotten {
        return crate::cmd::forget::list(&args.state);
    }
    let summary = if let Some(agent) = args.backfill {
        backfill(
            &args.state,
            agent.into(),
            args.root.clone(),
            args.history.since(),
            args.history.limit_files,
            args.threads,
            args.caps.caps(),
        )?
    } else if !args.file.is_empty() {
        let mut conn = db::open_rw(&args.state.db())?;
        index::index_paths(&mut conn, &args.file, None, args.caps.caps(), &mut |_| {})?
    } else if args.spool {
        let s = index::spool::drain_archive(
            &args.state.db(),
            &args.state.dir(),
            args.caps.caps(),
            index::spool::DrainOptions { now: true },
            &mut |_| Ok(()),
        )?;
        for e in &s.errors {
            warn(TOOL, format_args!("{}: {}", e.path, e.message));
        }
        let mut out = Out::new();
        out.json(&s)?;
        out.flush()?;
        if let (true, Some(m)) = (s.retrying > 0, &s.fault_message) {
            warn(
                TOOL,
                format_args!(
                    "{} payload(s) kept in the queue, to be retried: {m}",
                    s.retrying
                ),
            );
        }
        if s.requeued > 0 {
            warn(
                TOOL,
                format_args!(
                    "the index stayed busy: {} payload(s) put back into the queue; retry later",
                    s.requeued
                ),
            );
        }
        // A damaged index does not heal by waiting: it takes `csep recall rebuild`.
        let damaged = s.fault.as_deref() == Some(csep_lib::Fault::Damaged.as_str());
        return Ok(if s.failed > 0 || (damaged && s.retrying > 0) {
            Exit::Error
        } else if s.requeued > 0 || s.retrying > 0 {
            Exit::Busy
        } else {
            Exit::Ok
        });
    } else {
        let mut conn = db::open_rw(&args.state.db())?;
        let stdin = std::io::stdin();
        index::index_records(&mut conn, stdin.lock(), &mut |m| warn(TOOL, m))?
    };
    let exit = report(TOOL, &summary);
    let mut out = Out::new();
    out.json(&summary)?;
    out.flush()?;
    Ok(exit)
}
