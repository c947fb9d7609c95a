//! Backfill of the hosts that keep many sessions in one store: OpenCode (`opencode.db`, and
//! the pre-1.2 `storage/` JSON files), Copilot CLI's `session-store.db` (only the sessions
//! whose event log is gone), Aider's `.aider.chat.history.md`, and Cursor's
//! `chats/*/store.db` (its meta only: see [`cursor_meta`]).
//!
//! Each session is its own source under a virtual path `STORE#SESSION` (see
//! `archive::stored`), read incrementally: a store whose size and mtime (with its `-wal`)
//! match what every one of its sessions remembers is not opened; otherwise each session is
//! compared item by item (parts, turns, bytes) and only what is new is read.
//!
//! A host's SQLite store is opened read-only (`db::open_read_only`: `mode=ro`, `immutable`
//! only without side files), so nothing of the host's is written or locked against its
//! writer; a busy store is a retry-later fault, the sessions it holds wait for the next run.

mod hosts;

use super::backfill::{FileError, Summary};
use super::ingest::{self, SourceState};
use crate::archive::{self, aider, opencode, stored, Caps, Parsed, Stat};
use crate::error::{Error, Fault, Result};
use crate::wire::Agent;
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// Whether `agent` keeps (some of) its history in stores this module reads.
pub fn has_stores(agent: Agent) -> bool {
    matches!(
        agent,
        Agent::OpenCode | Agent::Aider | Agent::Copilot | Agent::Cursor
    )
}

/// Whether the file a source names is still there: a transcript, or the store of a
/// virtual path `STORE#SESSION` (the session itself may be gone from it).
pub fn source_exists(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok()
        || path
            .rsplit_once(stored::SEP)
            .is_some_and(|(store, _)| std::fs::symlink_metadata(store).is_ok())
}

/// The store a path names, with its host: a store file itself, or a session's virtual path
/// `STORE#SESSION` (both as a hook or `--file` may name them). `agent` is the host the
/// caller knows, if any; otherwise the store's file name tells.
pub fn store_of(path: &Path, agent: Option<Agent>) -> Option<StoreRef> {
    let text = path.to_string_lossy();
    let (file, session) = match text.rsplit_once(stored::SEP) {
        Some((store, session)) if Path::new(store).is_file() => {
            (PathBuf::from(store), Some(session.to_string()))
        }
        _ => (path.to_path_buf(), None),
    };
    let name = file.file_name()?.to_string_lossy().into_owned();
    let by_name = if is_opencode_db(&name) {
        Some(Agent::OpenCode)
    } else if name == "session-store.db" {
        Some(Agent::Copilot)
    } else if name == aider::FILE_NAME {
        Some(Agent::Aider)
    } else {
        None
    };
    let agent = match (agent, by_name) {
        (Some(a), Some(b)) if a == b => a,
        (None, Some(b)) => b,
        (Some(Agent::Cursor), None) if name == "store.db" => Agent::Cursor,
        _ => return None,
    };
    file.is_file().then_some(StoreRef {
        file,
        agent,
        session,
    })
}

/// A store named by a path (see [`store_of`]).
#[derive(Debug, Clone)]
pub struct StoreRef {
    pub file: PathBuf,
    pub agent: Agent,
    /// The one session the path named, if it named one.
    pub session: Option<String>,
}

/// Reads the store `path` names (a store, or one session of it as `STORE#SESSION`) without
/// an index, for `csep-archive`: every session's records go to `emit` as it is read, whole
/// (nothing is known, so nothing is skipped as unchanged). The scratch index the reader needs
/// for its bookkeeping is in memory and holds no message. `None` when `path` is no store.
pub fn read_store(
    path: &Path,
    agent: Option<Agent>,
    caps: Caps,
    emit: &mut Emit,
) -> Option<Result<Summary>> {
    let mut store = store_of(path, agent)?;
    // Records name a store by its canonical path, as the index and the hooks do.
    if let Ok(file) = std::fs::canonicalize(&store.file) {
        store.file = file;
    }
    Some((|| {
        let mut conn = Connection::open_in_memory()?;
        super::db::migrate(&conn)?;
        let mut summary = Summary::new("files".into(), 0);
        let (states, forgotten) = (HashMap::new(), HashSet::new());
        let mut ctx = Ctx {
            conn: &mut conn,
            states: &states,
            forgotten: &forgotten,
            caps,
            summary: &mut summary,
            emit: Some(emit),
        };
        backfill(&mut ctx, store.agent, &store.file, store.session.as_deref())?;
        Ok(summary)
    })())
}

/// What a walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Store {
    OpenCodeDb(PathBuf),
    OpenCodeJson(PathBuf),
    CopilotDb(PathBuf),
    Aider(PathBuf),
    CursorDb(PathBuf),
}

/// Directories never walked into: a project's dependencies and build output, and
/// OpenCode's git snapshots.
fn skipped_dir(name: &str) -> bool {
    matches!(name, "node_modules" | ".git" | "target" | "snapshot")
}

fn discover(agent: Agent, root: &Path) -> Vec<Store> {
    // A host's home holds its store in one known place: not walked through (Cursor's home
    // holds its IDE extensions, Copilot's every session's side files).
    match agent {
        Agent::Copilot if root.join("session-store.db").is_file() => {
            return vec![Store::CopilotDb(root.join("session-store.db"))];
        }
        Agent::Cursor if root.join("chats").is_dir() => {
            return discover_in(agent, &root.join("chats"))
        }
        _ => {}
    }
    discover_in(agent, root)
}

fn discover_in(agent: Agent, root: &Path) -> Vec<Store> {
    let mut out = Vec::new();
    let walk = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir() && skipped_dir(&e.file_name().to_string_lossy()))
        });
    for e in walk.flatten() {
        let name = e.file_name().to_string_lossy();
        let p = e.path().to_path_buf();
        let is_file = e.file_type().is_file();
        let found = match agent {
            Agent::OpenCode if is_file && is_opencode_db(&name) => Some(Store::OpenCodeDb(p)),
            Agent::OpenCode
                if e.file_type().is_dir() && name == "storage" && p.join("session").is_dir() =>
            {
                Some(Store::OpenCodeJson(p))
            }
            Agent::Copilot if is_file && name == "session-store.db" => Some(Store::CopilotDb(p)),
            Agent::Aider if is_file && name == aider::FILE_NAME => Some(Store::Aider(p)),
            Agent::Cursor if is_file && name == "store.db" => Some(Store::CursorDb(p)),
            _ => None,
        };
        out.extend(found);
    }
    out
}

/// `opencode.db`, or a channel's `opencode-<channel>.db`.
fn is_opencode_db(name: &str) -> bool {
    name == "opencode.db" || (name.starts_with("opencode-") && name.ends_with(".db"))
}

/// A store's size and mtime, its `-wal`'s included (a WAL writer changes only that file).
fn store_stat(path: &Path) -> Result<Stat> {
    let main = archive::stat(path)?;
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    Ok(match archive::stat(&wal) {
        Ok(w) => Stat {
            size: main.size + w.size,
            mtime_ms: main.mtime_ms.max(w.mtime_ms),
        },
        Err(_) => main,
    })
}

/// Where [`read_store`] sends each session it reads.
pub type Emit<'a> = dyn FnMut(&Parsed) -> Result<()> + 'a;

/// Shared by every store read in one backfill.
pub(super) struct Ctx<'a> {
    pub conn: &'a mut Connection,
    pub states: &'a HashMap<String, SourceState>,
    pub forgotten: &'a HashSet<String>,
    pub caps: Caps,
    pub summary: &'a mut Summary,
    /// Set by [`read_store`]: each session read goes here instead of into the index.
    pub emit: Option<&'a mut Emit<'a>>,
}

/// Writes of one store's sessions are batched: the caller's transaction commits every second
/// or so, so a store of thousands of sessions costs few commits and keeps other writers
/// waiting little. A store that fails is rolled back to the last commit: what was not
/// committed is read again next run.
struct Batch {
    since: std::time::Instant,
}

impl Batch {
    fn tick(&mut self, conn: &Connection) -> Result<()> {
        if self.since.elapsed() > std::time::Duration::from_millis(1000) {
            conn.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
            self.since = std::time::Instant::now();
        }
        Ok(())
    }
}

impl Ctx<'_> {
    fn known(&self, vpath: &str) -> Option<(u64, &str, bool)> {
        self.states.get(vpath).map(|s| {
            (
                s.end_offset,
                s.fingerprint.as_str(),
                s.error.is_none() && !s.excluded,
            )
        })
    }

    /// Every session of the store remembers this stat: nothing changed since.
    fn unchanged_store(&mut self, store: &Path, stat: Stat) -> bool {
        let prefix = format!("{}{}", store.display(), stored::SEP);
        let mine: Vec<&SourceState> = self
            .states
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v)
            .collect();
        let same = !mine.is_empty()
            && mine
                .iter()
                .all(|s| s.size == stat.size && s.mtime_ms == stat.mtime_ms && s.error.is_none());
        if same {
            self.summary.unchanged_sessions += mine.len() as u64;
            self.summary.files_seen += mine.len() as u64;
        }
        same
    }

    fn forgotten(&mut self, vpath: &str) -> bool {
        let hit = self.forgotten.contains(vpath);
        if hit {
            self.summary.forgotten_sessions += 1;
        }
        hit
    }

    /// An unchanged session: only the store's stat it remembers moves on.
    fn touch(&mut self, vpath: &str, stat: Stat) -> Result<()> {
        ingest::touch_source(self.conn, vpath, stat)?;
        self.summary.unchanged_sessions += 1;
        Ok(())
    }

    /// Inside the store's [`Batch`].
    fn apply(&mut self, parsed: &Parsed) -> Result<()> {
        if let Some(emit) = self.emit.as_mut() {
            self.summary.messages += parsed.messages.len() as u64;
            return emit(parsed);
        }
        let applied = ingest::apply(self.conn, parsed)?;
        self.summary.count_applied(applied, &parsed.source);
        Ok(())
    }

    fn fail(&mut self, path: &Path, err: &Error) -> Result<()> {
        let e = FileError::from_error(path, err);
        ingest::record_error(
            self.conn,
            Some(self.summary.run_id),
            &e.path,
            None,
            &e.message,
        )?;
        self.summary.push_error(e);
        Ok(())
    }
}

/// Reads every store of `agent` under `root` (a directory, or one store file) into the
/// index, counting into `summary`.
/// With `only` (a session's id), an OpenCode store reads that session (and its sub-agents')
/// alone, as a hook names it; the other stores are read whole.
pub(super) fn backfill(ctx: &mut Ctx, agent: Agent, root: &Path, only: Option<&str>) -> Result<()> {
    let stores = if root.is_file() {
        let name = root.file_name().unwrap_or_default().to_string_lossy();
        match agent {
            Agent::Aider => vec![Store::Aider(root.to_path_buf())],
            Agent::OpenCode if is_opencode_db(&name) => vec![Store::OpenCodeDb(root.to_path_buf())],
            Agent::Copilot => vec![Store::CopilotDb(root.to_path_buf())],
            Agent::Cursor => vec![Store::CursorDb(root.to_path_buf())],
            _ => Vec::new(),
        }
    } else {
        discover(agent, root)
    };
    for store in stores {
        ctx.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut batch = Batch {
            since: std::time::Instant::now(),
        };
        let r = match &store {
            Store::OpenCodeDb(p) => opencode_db(ctx, &mut batch, p, only),
            Store::OpenCodeJson(p) => opencode_json(ctx, &mut batch, p),
            Store::CopilotDb(p) => copilot_db(ctx, &mut batch, p),
            Store::Aider(p) => aider_file(ctx, &mut batch, p),
            Store::CursorDb(p) => cursor_meta(ctx, p),
        };
        let r = match r {
            Ok(()) => ctx.conn.execute_batch("COMMIT").map_err(|e| {
                let _ = ctx.conn.execute_batch("ROLLBACK");
                Error::from(e)
            }),
            Err(e) => {
                let _ = ctx.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        };
        if let Err((path, e)) = r.map_err(|e| (store_path(&store).to_path_buf(), e)) {
            // The index's own failure stops the run; the store's is this store's error.
            use crate::error::ErrorKind as K;
            if !(is_store_error(&e) || matches!(e.kind, K::Input | K::Io)) {
                return Err(e);
            }
            ctx.fail(&path, &e)?;
        }
    }
    Ok(())
}

fn store_path(s: &Store) -> &Path {
    match s {
        Store::OpenCodeDb(p)
        | Store::OpenCodeJson(p)
        | Store::CopilotDb(p)
        | Store::Aider(p)
        | Store::CursorDb(p) => p,
    }
}

/// Errors of a host's store are made input errors (or busy faults) where they are read;
/// the rest came from the index.
fn is_store_error(e: &Error) -> bool {
    e.message.starts_with(STORE_ERROR)
}

const STORE_ERROR: &str = "cannot be read: ";

/// A failure reading a host's store: the store's, never the index's.
fn store_error(path: &Path, e: rusqlite::Error) -> Error {
    let fault = Fault::of_sqlite(&e);
    let kind = if fault == Some(Fault::Busy) {
        crate::error::ErrorKind::Busy
    } else {
        crate::error::ErrorKind::Input
    };
    Error::new(kind, format!("{STORE_ERROR}{}: {e}", path.display())).with_fault(fault)
}

fn open_store(path: &Path) -> Result<Connection> {
    super::health::check_header(path)
        .map_err(|e| Error::input(format!("{STORE_ERROR}{}: {e}", path.display())))?;
    super::db::open_foreign_read_only(path).map_err(|e| store_error(path, e))
}

/// One session of a many-session store, by its items (turns, messages): touched when they
/// are what the index holds, else parsed by `parse` from the first new item and applied.
fn read_session(
    ctx: &mut Ctx,
    batch: &mut Batch,
    vpath: String,
    items: &[stored::Item],
    stat: Stat,
    format: &'static str,
    parse: impl FnOnce(&stored::StoreRead, Caps) -> Result<Parsed>,
) -> Result<()> {
    let start = match stored::plan(items, ctx.known(&vpath)) {
        stored::Plan::Unchanged => return ctx.touch(&vpath, stat),
        stored::Plan::Read(start) => start,
    };
    let read = stored::StoreRead {
        path: vpath,
        format,
        start,
        stat,
        fingerprint: stored::fingerprint(items, items.len()),
    };
    let parsed = parse(&read, ctx.caps)?;
    ctx.apply(&parsed)?;
    batch.tick(ctx.conn)
}

fn opencode_db(ctx: &mut Ctx, batch: &mut Batch, path: &Path, only: Option<&str>) -> Result<()> {
    let stat = store_stat(path)?;
    // One session's read cannot tell that the others are unchanged.
    if only.is_none() && ctx.unchanged_store(path, stat) {
        return Ok(());
    }
    let conn = open_store(path)?;
    let listed = hosts::opencode_sessions(&conn, only).map_err(|e| store_error(path, e))?;
    for (session, items) in listed {
        let vpath = stored::virtual_path(path, &session.id);
        if items.is_empty() && ctx.known(&vpath).is_none() {
            continue; // nothing in it yet: not a session to show
        }
        ctx.summary.files_seen += 1;
        if ctx.forgotten(&vpath) {
            continue;
        }
        let format = opencode::FORMAT_DB;
        read_session(ctx, batch, vpath, &items, stat, format, |read, caps| {
            let (messages, v2) =
                hosts::opencode_messages(&conn, &session.id).map_err(|e| store_error(path, e))?;
            opencode::records(&session, &messages, &v2, read, caps)
        })?;
    }
    Ok(())
}

fn opencode_json(ctx: &mut Ctx, batch: &mut Batch, storage: &Path) -> Result<()> {
    for (file, session) in opencode::read_storage(storage) {
        ctx.summary.files_seen += 1;
        let session = match session {
            Ok(s) if !s.id.is_empty() => s,
            Ok(_) => {
                ctx.fail(
                    &file,
                    &Error::input("an OpenCode session file without an id"),
                )?;
                continue;
            }
            Err(e) => {
                ctx.fail(&file, &Error::io(file.display(), e))?;
                continue;
            }
        };
        // OpenCode 1.2 copied these files into opencode.db and left them: the database's
        // copy is the session's (and takes a file-read one's place, `ingest`).
        let key = crate::wire::Agent::OpenCode
            .session_key(session.parent_id.as_deref().unwrap_or(&session.id));
        if session.parent_id.is_none()
            && hosts::indexed_from_elsewhere(ctx.conn, &key, opencode::FORMAT_JSON)?
        {
            continue;
        }
        let vpath = stored::virtual_path(storage, &session.id);
        if ctx.forgotten(&vpath) {
            continue;
        }
        let stat = archive::stat(&file)?;
        let messages = opencode::storage_messages(storage, &session.id);
        let items = opencode::items(&messages);
        if items.is_empty() && ctx.known(&vpath).is_none() {
            continue; // nothing in it yet: not a session to show
        }
        let format = opencode::FORMAT_JSON;
        read_session(ctx, batch, vpath, &items, stat, format, |read, caps| {
            opencode::storage_read(&session, &messages, read, caps)
        })?;
    }
    Ok(())
}

fn copilot_db(ctx: &mut Ctx, batch: &mut Batch, path: &Path) -> Result<()> {
    let stat = store_stat(path)?;
    if ctx.unchanged_store(path, stat) {
        return Ok(());
    }
    let conn = open_store(path)?;
    let sessions = hosts::copilot_sessions(&conn).map_err(|e| store_error(path, e))?;
    let state_dir = path.with_file_name("session-state");
    for session in sessions {
        // The event log is the primary source (the JSONL reader's); the store only stands in
        // for a session whose log is gone, and never for one indexed from its log before.
        if state_dir.join(&session.id).join("events.jsonl").is_file()
            || hosts::indexed_from_elsewhere(
                ctx.conn,
                &Agent::Copilot.session_key(&session.id),
                stored::FORMAT_COPILOT_DB,
            )?
        {
            continue;
        }
        let vpath = stored::virtual_path(path, &session.id);
        let turns = hosts::copilot_turns(&conn, &session.id).map_err(|e| store_error(path, e))?;
        let items: Vec<stored::Item> = turns.iter().map(stored::copilot_item).collect();
        if items.is_empty() && ctx.known(&vpath).is_none() {
            continue; // nothing in it yet: not a session to show
        }
        ctx.summary.files_seen += 1;
        if ctx.forgotten(&vpath) {
            continue;
        }
        let format = stored::FORMAT_COPILOT_DB;
        read_session(ctx, batch, vpath, &items, stat, format, |read, caps| {
            stored::copilot_records(&session, &turns, read, caps)
        })?;
    }
    Ok(())
}

fn aider_file(ctx: &mut Ctx, batch: &mut Batch, path: &Path) -> Result<()> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let stat = archive::stat(&path)?;
    if ctx.unchanged_store(&path, stat) {
        return Ok(());
    }
    let data = std::fs::read(&path).map_err(|e| Error::io(path.display(), e))?;
    let file = std::fs::File::open(&path).map_err(|e| Error::io(path.display(), e))?;
    let spans = aider::spans(&data);
    if spans.is_empty() {
        return Err(Error::input(format!(
            "{}: no `# aider chat started at` header",
            path.display()
        )));
    }
    for span in &spans {
        let vpath = stored::virtual_path(&path, &span.ordinal.to_string());
        let known = ctx.known(&vpath);
        let plan = aider::plan(&file, span, known);
        let parsed = match plan {
            Some(from) => Some(aider::records(
                &path, &file, &data, span, from, stat, ctx.caps,
            )?),
            None => None,
        };
        if known.is_none() && parsed.as_ref().is_some_and(|p| p.messages.is_empty()) {
            continue; // a header with nothing after it yet: not a session to show
        }
        ctx.summary.files_seen += 1;
        if ctx.forgotten(&vpath) {
            continue;
        }
        let Some(parsed) = parsed else {
            ctx.touch(&vpath, stat)?;
            continue;
        };
        ctx.apply(&parsed)?;
        batch.tick(ctx.conn)?;
    }
    Ok(())
}

/// Cursor's `store.db` names its chat (`meta`), and its `blobs` are content-addressed
/// protobuf or JSON whose message shape no fixture shows: the chat's transcript is the
/// JSONL the JSONL reader indexes. What the meta adds is the chat's name (the title Cursor
/// shows) and its start, given to that session when it is indexed.
fn cursor_meta(ctx: &mut Ctx, path: &Path) -> Result<()> {
    let conn = open_store(path)?;
    let Some(meta) = hosts::cursor_meta(&conn).map_err(|e| store_error(path, e))? else {
        return Ok(());
    };
    let Some(meta) = stored::cursor_meta(&meta) else {
        return Ok(());
    };
    hosts::enrich_session(
        ctx.conn,
        &Agent::Cursor.session_key(&meta.agent_id),
        meta.name.as_deref(),
        meta.created_at.as_deref(),
    )
}
