//! What several commands print or decide alike, so that commands call only the library and
//! these helpers, never each other (`umbrella.rs` only dispatches): the tools' names, and a
//! library answer printed with its exit code: an index summary (a backfill, a rebuild), an
//! import of csep 1.3.10's database, a forget, a recall, a verify receipt.

use crate::args::{CapsArgs, RecallArgs, ShowArgs, StateArgs};
use crate::exit::Exit;
use crate::out::{warn, Failure, Out, ProgressLine};
use csep_lib::archive::Caps;
use csep_lib::index::forget::{self, Target, Tombstone};
use csep_lib::index::{self, db, BackfillOptions, Summary};
use csep_lib::search;
use csep_lib::search::render;
use csep_lib::search::show::ShowOutput;
use csep_lib::verify::{self, Status};
use csep_lib::wire::Agent;
use csep_lib::Error;
use serde::Serialize;
use std::path::PathBuf;

/// The binaries' names, which start their messages on stderr. A helper below names the tool
/// whose work it does wherever it runs: a backfill's progress line is csep-index's.
pub const CSEP: &str = "csep";
pub const CSEP_ARCHIVE: &str = "csep-archive";
pub const CSEP_INDEX: &str = "csep-index";
pub const CSEP_RECALL: &str = "csep-recall";
pub const CSEP_REFLECT: &str = "csep-reflect";
pub const CSEP_TRIGGER: &str = "csep-trigger";
pub const CSEP_VERIFY: &str = "csep-verify";

// ---------------------------------------------------------------------------------------
// Index summaries: `csep-index`, `csep recall bootstrap|sync-claude|rebuild`,
// `csep session-ingest`.

/// A backfill, for `csep-index --backfill`, `csep recall bootstrap` and `csep session-ingest`,
/// which pass their own flags' values: how far back (`None`: every transcript), how many files.
pub fn backfill(
    state: &StateArgs,
    agent: Agent,
    root: Option<PathBuf>,
    since_days: Option<u64>,
    limit_files: Option<usize>,
    threads: usize,
    caps: Caps,
) -> Result<Summary, Error> {
    let root = match root.or_else(|| csep_lib::paths::history_root(agent)) {
        Some(root) => root,
        None => {
            return Err(Error::usage(format!(
                "{} keeps no history in one place; name it with --root",
                agent.display_name()
            )))
        }
    };
    let mut conn = db::open_rw(&state.db())?;
    let opts = BackfillOptions {
        agent,
        root,
        since_days,
        limit_files,
        caps,
        threads,
    };
    let mut bar = ProgressLine::new(CSEP_INDEX);
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

// ---------------------------------------------------------------------------------------
// Importing csep 1.3.10's database: `csep recall import-legacy`, `csep-index --import-legacy`.

/// Imports the 1.3.10 database `legacy` (default: `session_recall/state.db` in the state
/// dir) and prints one `legacy_import_summary` (or, with `markdown`, a section for a person
/// or a model); stderr says what happened in a line. The 1.3.10 database is checked before
/// the index is opened, so a missing or broken one changes nothing.
pub fn import_legacy(
    tool: &str,
    state: &StateArgs,
    legacy: Option<PathBuf>,
    caps: Caps,
    markdown: bool,
) -> Result<Exit, Failure> {
    let legacy = legacy.unwrap_or_else(|| csep_lib::paths::legacy_db(&state.dir()));
    let source = index::legacy::open(&legacy)?;
    let db_path = state.db();
    let mut conn = db::open_rw(&db_path)?;
    let s = index::legacy::import(&mut conn, &source, caps)?;
    crate::out::log_count("imported_sessions", s.imported_sessions);
    crate::out::log_count("messages", s.messages);
    crate::out::log_count("error_count", s.error_count);
    for e in &s.errors {
        warn(tool, format_args!("{}: {}", e.session_id, e.message));
    }
    warn(
        tool,
        format_args!(
            "imported {} session(s) ({} updated, {} messages) from csep 1.3.10's {}; {} already indexed from their transcripts and {} forgotten left as they are",
            s.imported_sessions,
            s.updated_sessions,
            s.messages,
            s.legacy_db,
            s.indexed_sessions,
            s.forgotten_sessions
        ),
    );
    if s.with_transcript > 0 {
        warn(
            tool,
            format_args!(
                "{} of them still have their transcript: the next backfill (csep recall bootstrap, csep recall sync-claude) reads it in their place",
                s.with_transcript
            ),
        );
    }
    let mut out = Out::new();
    if markdown {
        out.text(&csep_lib::text::clean(&format!(
            "## Import from csep 1.3.10\n\nStatus: {}\nFrom: {}\nSessions in it: {}\nImported: {}\nUpdated: {}\n\
             Unchanged: {}\nAlready indexed from their transcripts: {}\nForgotten (left out): {}\n\
             Messages: {}\nErrors: {}\nElapsed: {} ms\nDB: {}\n",
            s.status,
            s.legacy_db,
            s.legacy_sessions,
            s.imported_sessions,
            s.updated_sessions,
            s.unchanged_sessions,
            s.indexed_sessions,
            s.forgotten_sessions,
            s.messages,
            s.error_count,
            s.elapsed_ms,
            db_path.display()
        )))?;
    } else {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("db_path".into(), db_path.display().to_string().into());
        }
        out.json(&v)?;
    }
    out.flush()?;
    Ok(if s.error_count > 0 {
        Exit::Error
    } else {
        Exit::Ok
    })
}

// ---------------------------------------------------------------------------------------
// Forgetting a session, for `csep recall forget` and `csep-index --forget`: one
// `forget_result` (or, for a list, one `forget_list`) on stdout, and a line on stderr for
// what a person should know (the session was not indexed, other copies of its text remain).

/// `forget_list`: every tombstone.
#[derive(Serialize)]
struct ForgetList {
    #[serde(rename = "type")]
    kind: &'static str,
    count: usize,
    tombstones: Vec<Tombstone>,
    db_path: String,
}

/// Forgets `target` for good (a tombstone keeps it out) and prints the `forget_result`.
pub fn forget(tool: &str, state: &StateArgs, target: &Target) -> Result<Exit, Failure> {
    let db_path = state.db();
    let mut conn = db::open_rw(&db_path)?;
    let r = forget::forget(&mut conn, target, &state.dir(), &db_path)?;
    if !r.was_indexed {
        let what = match (target, &r.session_id) {
            (Target::Session(id), _) => id.trim().to_string(),
            (Target::Source(p), Some(id)) => format!("{} (session {id})", p.display()),
            (Target::Source(p), None) => p.display().to_string(),
        };
        let why = match (&r.session_id, r.already_forgotten) {
            (_, true) => "it was already forgotten; the tombstone stays",
            (Some(_), false) => "tombstoned anyway, so no backfill or hook will add it",
            (None, false) => "no session could be read from it, so only this path is tombstoned",
        };
        warn(tool, format_args!("{what} is not in the index; {why}"));
    }
    for (kind, what) in [
        ("reflection_run", "reflection runs"),
        ("old_index", "indexes a rebuild moved aside"),
    ] {
        let paths: Vec<&str> = r
            .other_copies
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.path.as_str())
            .collect();
        if !paths.is_empty() {
            warn(
                tool,
                format_args!(
                    "{what} still hold this session's text (not deleted): {}",
                    paths.join(" ")
                ),
            );
        }
    }
    if !r.wal_checkpointed {
        warn(
            tool,
            format_args!(
                "{}-wal could not be truncated (a reader was busy) and may hold older copies until it is reused; run the forget again later",
                db_path.display()
            ),
        );
    }
    let mut out = Out::new();
    out.json(&r)?;
    out.flush()?;
    Ok(Exit::Ok)
}

/// Prints every tombstone as one `forget_list`.
pub fn forget_list(state: &StateArgs) -> Result<Exit, Failure> {
    let db_path = state.db();
    let tombstones = match db::open_ro(&db_path, db::ReadOnly::Upgrade)? {
        Some(conn) => forget::list(&conn)?,
        None => Vec::new(),
    };
    let mut out = Out::new();
    out.json(&ForgetList {
        kind: "forget_list",
        count: tombstones.len(),
        tombstones,
        db_path: db_path.display().to_string(),
    })?;
    out.flush()?;
    Ok(Exit::Ok)
}

// ---------------------------------------------------------------------------------------
// Recall, for `csep-recall` and `csep recall`.

/// Runs a recall with `args` (the index opened read-only for it, never locked), for
/// `csep-recall`, `csep recall` and `csep mcp`'s `recall` and `list_sessions` tools.
pub fn recall(args: &RecallArgs) -> Result<search::RecallOutput, Error> {
    let opts = args.options()?;
    if opts.query.is_none() && !opts.recent {
        return Err(Error::usage("a query is required unless --recent is given"));
    }
    db::read(&args.state.db(), |conn| search::recall(conn, &opts))
}

/// Reads the session `args` names back from the index (opened read-only for it), for `csep
/// show` and `csep mcp`'s `show_session` tool; `no_index` when nothing is indexed yet.
pub fn show(args: &ShowArgs) -> Result<ShowOutput, Error> {
    let opts = args.options()?;
    db::read(&args.state.db(), |conn| match conn {
        Some(conn) => search::show::show(conn, &opts),
        None => Ok(ShowOutput::empty(&opts, "no_index")),
    })
}

/// Runs a recall and prints it; returns the status for the caller's exit-code policy.
pub fn search_and_print(args: &RecallArgs) -> Result<&'static str, Failure> {
    let result = recall(args)?;
    crate::out::log_count("results", result.results.len());
    crate::out::log_count("status", result.status);
    let mut out = Out::new();
    out.text(&render::render(&result, args.format().into()))?;
    out.flush()?;
    Ok(result.status)
}

// ---------------------------------------------------------------------------------------
// Verify receipts, for `csep-verify` and `csep session-reflection write-receipt`.

/// One stderr line per rejection and error of a receipt, for a person reading along.
pub fn warn_receipt(tool: &str, r: &verify::Receipt) {
    for rej in &r.rejections {
        warn(
            tool,
            format_args!("{}: {}: {}", rej.path, rej.reason.as_str(), rej.detail),
        );
    }
    for e in &r.errors {
        warn(tool, e);
    }
}

/// The exit code for a receipt: 0 applied or nothing to do, 1 rejected, 2 failed.
pub fn exit_for(status: Status) -> Exit {
    match status {
        Status::Succeeded | Status::Skipped => Exit::Ok,
        Status::Rejected | Status::Partial => Exit::Negative,
        Status::Failed => Exit::Error,
    }
}
