//! csep 1.3.10's compatibility commands, which the umbrella's dispatch calls: `csep recall`
//! with its command words (`bootstrap`, `sync-claude`, `rebuild`, `forget`, and csep's own
//! `import-legacy`, which reads 1.3.10's database, and `sync HOST`, which backfills any host),
//! `csep session-archive` and `csep session-ingest`. They answer with 1.3.10's record and
//! Markdown shapes over the same library operations the small tools run (`csep recall` is
//! `csep-recall`, `csep recall bootstrap` is `csep-index --backfill codex`, `csep recall
//! rebuild` is `csep-index --rebuild`, …), so users of 1.3.10 switch without relearning.

use crate::args::{CapsArgs, FormatArg, HistoryArgs, RecallArgs, RecallCommand, StateArgs};
use crate::cmd::shared::{
    self, backfill, forget, forget_list, import_legacy, rebuild, report, search_and_print,
};
use crate::exit::Exit;
use crate::human;
use crate::out::{warn, Failure, Out};
use clap::Args;
use csep_lib::index::forget::Target;
use csep_lib::index::{db, sessions, Summary};
use csep_lib::wire::Agent;
use csep_lib::Error;
use std::io::IsTerminal;
use std::path::PathBuf;

const TOOL: &str = shared::CSEP;

#[derive(Debug, Args)]
#[command(disable_help_subcommand = true, args_conflicts_with_subcommands = true)]
pub struct UmbrellaRecall {
    #[command(flatten)]
    pub recall: RecallArgs,
    /// Backfill Codex sessions (same as the query word `bootstrap`)
    #[arg(long)]
    pub bootstrap: bool,
    /// Backfill Claude Code sessions (same as the query word `sync-claude`)
    #[arg(long)]
    pub sync_claude: bool,
    /// Transcript root for a backfill [default: $CODEX_HOME/sessions, $CLAUDE_CONFIG_DIR/projects, or the host's own]
    #[arg(long, visible_alias = "bootstrap-root", value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub history: HistoryArgs,
    #[command(flatten)]
    pub caps: CapsArgs,
    /// With `forget`: forget the session this transcript file belongs to (and tombstone the path)
    #[arg(long, value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// With `forget`: print the tombstones of the forgotten sessions
    #[arg(long)]
    pub list: bool,
    /// With `import-legacy`: the csep 1.3.10 database to import [default: session_recall/state.db in the state dir]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Words after `--` are always a query, never a command word: `csep recall -- forget x`
    /// searches for "forget x"
    #[arg(last = true, value_name = "WORDS")]
    pub after_dashdash: Vec<String>,
    /// `show SESSION_ID …` in place of a query (the umbrella runs `csep show`)
    #[command(subcommand)]
    pub command: Option<RecallCommand>,
}

/// What `csep recall forget …` asks for.
enum ForgetRequest {
    Target(Target),
    List,
}

/// `csep recall forget ID`, `forget --source PATH`, `forget --list`: `forget` is the first
/// query word, on its own (a quoted `"forget"` phrase, a query word after `--`, or any query
/// with `--recent` still searches). `None` when this is not a forget.
fn forget_request(a: &UmbrellaRecall) -> Result<Option<ForgetRequest>, Error> {
    let words = &a.recall.query;
    let is_forget = !a.recall.recent && words.first().map(String::as_str) == Some("forget");
    if !is_forget {
        if a.list || a.source.is_some() {
            return Err(Error::usage(
                "--list and --source go with `csep recall forget`",
            ));
        }
        return Ok(None);
    }
    let ids = &words[1..];
    if a.bootstrap || a.sync_claude {
        return Err(Error::usage(
            "forget cannot be combined with --bootstrap or --sync-claude",
        ));
    }
    let hint = "to search for the word, quote it (csep recall '\"forget\" …') or put it after --";
    match (ids, &a.source, a.list) {
        ([], None, true) if a.after_dashdash.is_empty() => Ok(Some(ForgetRequest::List)),
        (_, _, true) => Err(Error::usage(
            "forget --list takes no session id or --source",
        )),
        ([], Some(p), false) if a.after_dashdash.is_empty() => {
            Ok(Some(ForgetRequest::Target(Target::Source(p.clone()))))
        }
        (_, Some(_), false) => Err(Error::usage(
            "forget takes a session id or --source PATH, not both",
        )),
        ([id], None, false) if a.after_dashdash.is_empty() => {
            if id.trim().is_empty() {
                return Err(Error::usage("forget: the session id is empty"));
            }
            Ok(Some(ForgetRequest::Target(Target::Session(id.clone()))))
        }
        ([], None, false) => Err(Error::usage(format!(
            "forget needs a SESSION_ID, --source PATH or --list; {hint}"
        ))),
        _ => Err(Error::usage(format!("forget takes one session id; {hint}"))),
    }
}

/// `csep recall sync HOST`: `sync` is the first query word, on its own, followed by one host
/// name (a quoted `"sync"` phrase, a query word after `--`, or `--recent` still searches).
/// `None` when this is not a sync.
fn sync_request(a: &UmbrellaRecall) -> Result<Option<Agent>, Error> {
    let words = &a.recall.query;
    if a.recall.recent || words.first().map(String::as_str) != Some("sync") {
        return Ok(None);
    }
    let hosts = Agent::ALL.map(Agent::as_str).join(", ");
    let hint = "to search for the word, quote it (csep recall '\"sync\" …') or put it after --";
    if a.bootstrap || a.sync_claude {
        return Err(Error::usage(
            "sync cannot be combined with --bootstrap or --sync-claude",
        ));
    }
    match &words[1..] {
        [host] if a.after_dashdash.is_empty() => match Agent::parse(host) {
            Some(agent) => Ok(Some(agent)),
            None => Err(Error::usage(format!(
                "sync: {} is not a host csep reads (one of {hosts}); {hint}",
                csep_lib::text::clean_line(host)
            ))),
        },
        _ => Err(Error::usage(format!(
            "sync takes one HOST ({hosts}); {hint}"
        ))),
    }
}

#[derive(Debug, Args)]
pub struct SessionArchive {
    /// A hook payload file (JSON with transcript_path, session_id, cwd)
    #[arg(long, value_name = "FILE")]
    pub from_hook_payload: Option<PathBuf>,
    /// Delete the payload file once archived
    #[arg(long, requires = "from_hook_payload")]
    pub cleanup_payload: bool,
    /// The transcript to archive
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "from_hook_payload"
    )]
    pub transcript_path: Option<PathBuf>,
    /// Accepted for compatibility with 1.3.10; the transcript names its own cwd
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Accepted for compatibility with 1.3.10; the transcript names its own id
    #[arg(long, value_name = "ID")]
    pub session_id: Option<String>,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub caps: CapsArgs,
}

#[derive(Debug, Args)]
pub struct SessionIngest {
    /// Backfill (required, as in 1.3.10)
    #[arg(long, required = true)]
    pub backfill: bool,
    /// Codex sessions root [default: $CODEX_HOME/sessions]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Accepted for compatibility; each transcript's own cwd is used
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Only transcripts modified in the last N days [default: all history]
    #[arg(long, value_name = "N")]
    pub since_days: Option<u64>,
    /// Only the newest N transcripts
    #[arg(long, value_name = "N")]
    pub limit_files: Option<usize>,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub caps: CapsArgs,
}

fn backfill_markdown(title: &str, s: &Summary, db: &std::path::Path) -> String {
    let none = || "none".to_string();
    format!(
        "## {title}\n\nStatus: {}\nRoot: {}\nSince days: {}\nLimit files: {}\nProcessed files: {}\nProcessed successfully: {}\n\
         New sessions: {}\nUpdated sessions: {}\nUnchanged sessions: {}\nMessages: {}\nErrors: {}\nElapsed: {} ms\nDB: {}\n",
        s.status,
        s.root.clone().unwrap_or_else(none),
        s.since_days.map(|d| d.to_string()).unwrap_or_else(|| "all history".into()),
        s.limit_files.map(|d| d.to_string()).unwrap_or_else(none),
        s.processed_files,
        s.processed_successfully,
        s.new_sessions,
        s.updated_sessions,
        s.unchanged_sessions,
        s.messages,
        s.error_count,
        s.elapsed_ms,
        db.display()
    )
}

fn print_summary(
    s: &Summary,
    command: &str,
    extra: &[(&str, serde_json::Value)],
    db: &std::path::Path,
) -> Result<(), Failure> {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    // `type` stays first (preserve_order); the 1.3.10 fields follow.
    if let Some(o) = v.as_object_mut() {
        o.insert("command".into(), command.into());
        o.insert("db_path".into(), db.display().to_string().into());
        for (k, val) in extra {
            o.insert((*k).into(), val.clone());
        }
    }
    let mut out = Out::new();
    out.json(&v)?;
    out.flush()?;
    Ok(())
}

pub fn recall_cmd(a: &UmbrellaRecall) -> Result<Exit, Failure> {
    match forget_request(a)? {
        Some(ForgetRequest::List) => return forget_list(&a.recall.state),
        Some(ForgetRequest::Target(t)) => return forget(TOOL, &a.recall.state, &t),
        None => {}
    }
    // The words after `--` join the query, as they did before `--` had a meaning of its own.
    let mut recall_args = a.recall.clone();
    recall_args.query.extend(a.after_dashdash.iter().cloned());
    let q = recall_args.query_text();
    let word = q.as_deref().filter(|_| !recall_args.recent);
    let synced = sync_request(a)?;
    let backfill_agent = if synced.is_some() {
        synced
    } else if a.bootstrap || word == Some("bootstrap") {
        Some(Agent::Codex)
    } else if a.sync_claude || word == Some("sync-claude") {
        Some(Agent::Claude)
    } else {
        None
    };
    if (a.bootstrap || a.sync_claude) && q.is_some() {
        return Err(Error::usage("--bootstrap and --sync-claude take no query").into());
    }
    if recall_args.recent && (a.bootstrap || a.sync_claude) {
        return Err(
            Error::usage("--recent cannot be combined with --bootstrap or --sync-claude").into(),
        );
    }
    if word == Some("rebuild") && !a.bootstrap && !a.sync_claude {
        return rebuild(TOOL, &recall_args.state, &a.caps, 0);
    }
    let importing = word == Some("import-legacy") && !a.bootstrap && !a.sync_claude;
    if a.db.is_some() && !importing {
        return Err(Error::usage("--db goes with `csep recall import-legacy`").into());
    }
    if importing {
        let markdown = recall_args.format() == FormatArg::Markdown;
        return import_legacy(
            TOOL,
            &recall_args.state,
            a.db.clone(),
            a.caps.caps(),
            markdown,
        );
    }
    let Some(agent) = backfill_agent else {
        // 1.3.10 exits 0 whether or not anything matched; errors still exit 2.
        search_and_print(&recall_args)?;
        return Ok(Exit::Ok);
    };
    let s = backfill(
        &recall_args.state,
        agent,
        a.root.clone(),
        a.history.since(),
        a.history.limit_files,
        0,
        a.caps.caps(),
    )?;
    let exit = report(TOOL, &s);
    let (command, title, source) = match agent {
        Agent::Codex => ("recall bootstrap", "Recall bootstrap", "codex"),
        Agent::Claude => (
            "recall sync-claude",
            "Claude Code recall sync",
            "claude_code",
        ),
        other => ("recall sync", "Recall sync", other.as_str()),
    };
    // `sync HOST` names the host as csep does, Codex and Claude Code too.
    let source = if synced.is_some() {
        agent.as_str()
    } else {
        source
    };
    let (command, title) = match synced {
        Some(_) => ("recall sync", "Recall sync"),
        None => (command, title),
    };
    let db = recall_args.state.db();
    // No --format on a terminal: a summary for a person.
    if recall_args.format.is_none() && std::io::stdout().is_terminal() {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        v["source"] = source.into();
        let mut out = Out::new();
        out.human(&v, &human::backfill(&v, agent, human::Style::detect()))?;
        out.flush()?;
    } else if recall_args.format() == FormatArg::Markdown {
        let mut out = Out::new();
        out.text(&csep_lib::text::clean(&backfill_markdown(title, &s, &db)))?;
        out.flush()?;
    } else {
        print_summary(&s, command, &[("source", source.into())], &db)?;
    }
    Ok(exit)
}

fn payload_fields(path: &std::path::Path) -> Result<(Option<PathBuf>, Option<String>), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::input(format!("{}: not a JSON hook payload: {e}", path.display())))?;
    // The hook's archive_request, or a bare payload; a `payload` that is not an object names
    // nothing.
    let request = csep_lib::wire::ArchiveRequest::read(v);
    let payload = request
        .as_ref()
        .filter(|r| r.form() != csep_lib::wire::PayloadForm::Malformed)
        .map(|r| r.payload());
    let s = |k: &str| {
        payload
            .and_then(|p| p.get(k))
            .and_then(|x| x.as_str())
            .filter(|x| !x.is_empty())
            .map(str::to_string)
    };
    // Checked as the hook checks them: a value that fails is treated as missing.
    let transcript = s("transcript_path")
        .or_else(|| s("codex_transcript_path"))
        .filter(|p| csep_lib::text::check_path(p).is_ok())
        .map(PathBuf::from);
    let session = s("session_id")
        .or_else(|| s("thread_id"))
        .filter(|id| csep_lib::text::check_id(id).is_ok());
    Ok((transcript, session))
}

pub fn session_archive(a: &SessionArchive) -> Result<Exit, Failure> {
    let (transcript, hinted_id) = match &a.from_hook_payload {
        Some(p) => payload_fields(p)?,
        None => (a.transcript_path.clone(), a.session_id.clone()),
    };
    let db = a.state.db();
    let mut out = Out::new();
    let Some(transcript) = transcript else {
        if a.cleanup_payload {
            if let Some(p) = &a.from_hook_payload {
                let _ = std::fs::remove_file(p);
            }
        }
        out.json(&serde_json::json!({
            "type": "session_archive",
            "status": "skipped", "reason": "no_transcript_path", "session_id": hinted_id,
            "detail": "the hook payload names no transcript (an ephemeral session?)", "db_path": db.display().to_string(),
        }))?;
        out.flush()?;
        return Ok(Exit::Ok);
    };
    let mut conn = db::open_rw(&db)?;
    let s = csep_lib::index::index_paths(
        &mut conn,
        std::slice::from_ref(&transcript),
        None,
        a.caps.caps(),
        &mut |_| {},
    )?;
    if s.forgotten_sessions > 0 {
        if a.cleanup_payload {
            if let Some(p) = &a.from_hook_payload {
                let _ = std::fs::remove_file(p);
            }
        }
        out.json(&serde_json::json!({
            "type": "session_archive",
            "status": "skipped", "reason": "forgotten", "session_id": hinted_id,
            "detail": "the session was forgotten (csep recall forget); it is not archived again", "db_path": db.display().to_string(),
        }))?;
        out.flush()?;
        return Ok(Exit::Ok);
    }
    let session_id: Option<String> =
        sessions::session_of_source(&conn, &transcript.to_string_lossy())
            .ok()
            .flatten()
            .or(hinted_id);
    let count: i64 = match &session_id {
        Some(id) => sessions::message_count(&conn, id)
            .ok()
            .flatten()
            .unwrap_or(0),
        None => 0,
    };
    let ok = s.error_count == 0;
    let mut v = serde_json::json!({
        "type": "session_archive",
        "status": if ok { "archived" } else { "error" },
        "session_id": session_id,
        "message_count": count,
        "inserted_messages": s.messages,
        "new_session": s.new_sessions > 0,
        "updated_session": s.updated_sessions > 0,
        "unchanged_session": ok && s.new_sessions == 0 && s.updated_sessions == 0,
        "db_path": db.display().to_string(),
    });
    if let Some(e) = s.errors.first() {
        v["error"] = e.message.clone().into();
        warn(TOOL, format_args!("{}: {}", e.path, e.message));
    }
    out.json(&v)?;
    out.flush()?;
    if ok && a.cleanup_payload {
        if let Some(p) = &a.from_hook_payload {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(if ok { Exit::Ok } else { Exit::Error })
}

pub fn session_ingest(a: &SessionIngest) -> Result<Exit, Failure> {
    let s = backfill(
        &a.state,
        Agent::Codex,
        a.root.clone(),
        a.since_days,
        a.limit_files,
        0,
        a.caps.caps(),
    )?;
    let exit = report(TOOL, &s);
    print_summary(&s, "session-ingest", &[], &a.state.db())?;
    Ok(exit)
}
