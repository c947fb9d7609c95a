//! `csep-index`: records from stdin, a backfill of a transcript root, specific files, or the
//! archive spool → the recall database. Prints one JSON summary. Also forgets a session
//! (`--forget`, `--forget-source`), lists the forgotten ones (`--list-forgotten`),
//! rebuilds the index (`--rebuild`), and imports csep 1.3.10's database (`--import-legacy`).

use crate::args::{AgentArg, CapsArgs, HistoryArgs, StateArgs};
use crate::cmd::shared::{self, backfill, forget, forget_list, import_legacy, rebuild, report};
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::Args;
use csep_lib::index::{self, db};
use std::path::PathBuf;

pub const TOOL: &str = shared::CSEP_INDEX;

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
    /// Import sessions from csep 1.3.10's database (as `csep recall import-legacy`) [default
    /// PATH: session_recall/state.db in the state dir]
    #[arg(long, value_name = "PATH", num_args = 0..=1, conflicts_with_all = ["backfill", "file", "spool", "forget", "forget_source", "list_forgotten", "rebuild"])]
    pub import_legacy: Option<Option<PathBuf>>,
    #[command(flatten)]
    pub caps: CapsArgs,
}

pub fn run(args: &IndexArgs) -> Result<Exit, Failure> {
    use csep_lib::index::forget::Target;
    if args.rebuild {
        return rebuild(TOOL, &args.state, &args.caps, args.threads);
    }
    if let Some(legacy) = &args.import_legacy {
        return import_legacy(TOOL, &args.state, legacy.clone(), args.caps.caps(), false);
    }
    if let Some(id) = &args.forget {
        return forget(TOOL, &args.state, &Target::Session(id.clone()));
    }
    if let Some(p) = &args.forget_source {
        return forget(TOOL, &args.state, &Target::Source(p.clone()));
    }
    if args.list_forgotten {
        return forget_list(&args.state);
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
