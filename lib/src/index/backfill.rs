//! Backfill: find transcripts under a root, decide per file what must be read (nothing, only
//! the bytes past the recorded offset, or everything), parse on all cores, and write from one
//! thread in batched transactions.
//!
//! Decision per file, from the remembered size, mtime, parsed offset and prefix fingerprint:
//! same size and mtime → unchanged (one stat); prefix fingerprint still matches → resume at
//! the offset; anything else → the file was rewritten and is re-indexed whole.

use super::discover::discover;
use super::forget;
use super::ingest::{self, SourceState};
use crate::archive::{self, Caps, Parsed, Request, Stat};
use crate::error::{Error, Fault, Result};
use crate::timefmt;
use crate::wire::Agent;
use rusqlite::Connection;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    pub agent: Agent,
    pub root: PathBuf,
    /// Only files modified within this many days; `None` is all history.
    pub since_days: Option<u64>,
    /// Only the newest N files.
    pub limit_files: Option<usize>,
    pub caps: Caps,
    /// Parser threads; 0 means one per core.
    pub threads: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    pub path: String,
    pub message: String,
    /// Set when the environment failed rather than the file (see `Error::fault`): the
    /// archive spool keeps such a payload queued.
    #[serde(skip)]
    pub fault: Option<Fault>,
}

impl FileError {
    /// Library errors name their file; the record names it once, in `path`.
    pub fn new(path: &Path, message: &str) -> Self {
        let path = path.display().to_string();
        let message = message
            .strip_prefix(&format!("{path}: "))
            .unwrap_or(message)
            .to_string();
        FileError {
            path,
            message,
            fault: None,
        }
    }

    /// [`FileError::new`] keeping whether the environment was at fault.
    pub fn from_error(path: &Path, err: &Error) -> Self {
        FileError {
            fault: err.fault(),
            ..FileError::new(path, &err.message)
        }
    }
}

/// The one JSON object `csep-index` prints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mode: String,
    pub processed_files: u64,
    pub new_sessions: u64,
    pub updated_sessions: u64,
    pub unchanged_sessions: u64,
    /// Sessions csep's own reflection started: remembered, not archived.
    pub excluded_sessions: u64,
    /// Files of forgotten sessions (`csep recall forget`), skipped: read or not, never written.
    pub forgotten_sessions: u64,
    pub error_count: u64,
    pub messages: u64,
    pub elapsed_ms: u64,
    pub files_seen: u64,
    pub bytes_read: u64,
    pub skipped_lines: u64,
    pub run_id: i64,
    /// csep 1.3.10's names for the same counts, kept for its users' scripts.
    pub processed_successfully: u64,
    pub archived_sessions: u64,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_days: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_files: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
}

impl Summary {
    pub(super) fn new(mode: String, run_id: i64) -> Self {
        Summary {
            kind: "index_summary",
            mode,
            run_id,
            status: "completed",
            ..Default::default()
        }
    }
    /// Lists one more error (up to [`MAX_LISTED_ERRORS`]) and counts it.
    pub(super) fn push_error(&mut self, e: FileError) {
        self.processed_files += 1;
        self.error_count += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(e);
        }
    }

    pub(super) fn count_applied(
        &mut self,
        applied: ingest::Applied,
        source: &crate::wire::SourceRecord,
    ) {
        self.processed_files += 1;
        self.processed_successfully += 1;
        self.messages += applied.messages;
        self.skipped_lines += source.skipped.total();
        if applied.forgotten {
            self.forgotten_sessions += 1;
        } else if applied.excluded {
            self.excluded_sessions += 1;
        } else if applied.new_session {
            self.new_sessions += 1;
        } else if applied.updated_session {
            self.updated_sessions += 1;
        } else {
            self.unchanged_sessions += 1;
        }
    }

    /// Errors found before parsing (walk, stat): kept in the database and the summary.
    fn record_errors(&mut self, conn: &mut Connection, errors: Vec<FileError>) -> Result<()> {
        if errors.is_empty() {
            return Ok(());
        }
        let tx = conn.transaction()?;
        for e in &errors {
            ingest::record_error(&tx, Some(self.run_id), &e.path, None, &e.message)?;
        }
        tx.commit()?;
        self.error_count += errors.len() as u64;
        let room = MAX_LISTED_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(errors.into_iter().take(room));
        Ok(())
    }

    /// Finishes the counts and the run record.
    fn close(&mut self, conn: &Connection, started: Instant) -> Result<()> {
        self.finish(started);
        ingest::finish_run(
            conn,
            self.run_id,
            &serde_json::to_value(&*self).unwrap_or_default(),
        )
    }

    fn finish(&mut self, started: Instant) {
        self.elapsed_ms = started.elapsed().as_millis() as u64;
        if self.error_count > 0 {
            self.status = "completed_with_errors";
        }
        self.archived_sessions = self.new_sessions + self.updated_sessions;
    }
}

/// Progress for a terminal bar; the library never prints it.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub messages: u64,
}

/// How much of a file to read.
#[derive(Debug, Clone)]
enum Plan {
    Full,
    Resume(SourceState),
}

struct Job {
    path: PathBuf,
    stat: Stat,
    plan: Plan,
    agent: Option<Agent>,
}

enum Outcome {
    Parsed {
        parsed: Box<Parsed>,
        bytes: u64,
    },
    Failed {
        path: PathBuf,
        stat: Option<Stat>,
        message: String,
        fault: Option<Fault>,
    },
}

/// Errors shown in the summary; the rest are counted and kept in the database.
const MAX_LISTED_ERRORS: usize = 50;

fn plan_for(stat: Stat, state: Option<&SourceState>) -> Option<Plan> {
    match state {
        Some(s) if s.size == stat.size && s.mtime_ms == stat.mtime_ms => None,
        Some(s)
            if s.error.is_none()
                && !s.excluded
                && s.end_offset > 0
                && stat.size >= s.end_offset =>
        {
            Some(Plan::Resume(s.clone()))
        }
        _ => Some(Plan::Full),
    }
}

fn run_job(job: &Job, caps: Caps) -> Outcome {
    let mut req = Request {
        agent: job.agent,
        caps,
        ..Default::default()
    };
    if let Plan::Resume(state) = &job.plan {
        let same_prefix = File::open(&job.path)
            .and_then(|f| archive::fingerprint(&f, state.end_offset))
            .map(|fp| fp == state.fingerprint)
            .unwrap_or(false);
        if same_prefix {
            req.start_offset = state.end_offset;
            req.pending_calls = state.pending_calls.clone();
        }
    }
    match archive::parse_file(&job.path, &req) {
        Ok(parsed) => {
            let bytes = parsed
                .source
                .end_offset
                .saturating_sub(parsed.source.start_offset);
            Outcome::Parsed {
                parsed: Box::new(parsed),
                bytes,
            }
        }
        Err(e) => Outcome::Failed {
            stat: Some(job.stat),
            message: FileError::new(&job.path, &e.message).message,
            fault: e.fault(),
            path: job.path.clone(),
        },
    }
}

/// Runs `jobs` on parser threads and applies results from this thread.
fn run_pipeline(
    conn: &Connection,
    jobs: Vec<Job>,
    caps: Caps,
    threads: usize,
    summary: &mut Summary,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    // Files skipped before parsing (unchanged, or of a forgotten session) count as done.
    let skipped = summary.unchanged_sessions + summary.forgotten_sessions;
    let total = jobs.len() as u64 + skipped;
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        threads
    }
    .clamp(1, 16)
    .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Outcome>(threads * 4);
    let run_id = summary.run_id;
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads {
            let tx = tx.clone();
            let jobs = &jobs;
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if tx.send(run_job(job, caps)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut batch = Batch::new(conn)?;
        for (done, outcome) in (skipped + 1..).zip(rx) {
            match outcome {
                Outcome::Parsed { parsed, bytes, .. } => {
                    let applied = ingest::apply(batch.conn, &parsed)?;
                    summary.count_applied(applied, &parsed.source);
                    summary.bytes_read += bytes;
                    batch.count(parsed.messages.len());
                }
                Outcome::Failed {
                    path,
                    stat,
                    message,
                    fault,
                } => {
                    let p = path.display().to_string();
                    ingest::record_error(batch.conn, Some(run_id), &p, stat, &message)?;
                    summary.processed_files += 1;
                    summary.error_count += 1;
                    if summary.errors.len() < MAX_LISTED_ERRORS {
                        summary.errors.push(FileError {
                            path: p,
                            message,
                            fault,
                        });
                    }
                    batch.count(0);
                }
            }
            if batch.full() {
                batch.renew()?;
            }
            progress(Progress {
                done,
                total,
                messages: summary.messages,
            });
        }
        batch.commit()?;
        Ok(())
    })
}

/// A write transaction that commits every few thousand messages or second and a half, so a
/// crash loses little work and readers see progress. Rolls back if dropped while open.
struct Batch<'c> {
    conn: &'c Connection,
    files: usize,
    messages: usize,
    since: Instant,
    open: bool,
}

impl<'c> Batch<'c> {
    fn new(conn: &'c Connection) -> Result<Self> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Batch {
            conn,
            files: 0,
            messages: 0,
            since: Instant::now(),
            open: true,
        })
    }
    fn count(&mut self, messages: usize) {
        self.files += 1;
        self.messages += messages;
    }
    fn full(&self) -> bool {
        self.messages >= 20_000
            || self.files >= 500
            || self.since.elapsed() > Duration::from_millis(1500)
    }
    fn renew(&mut self) -> Result<()> {
        self.commit()?;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.open = true;
        (self.files, self.messages, self.since) = (0, 0, Instant::now());
        Ok(())
    }
    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Backfills one agent's transcripts under `opts.root`, and remembers the root for
/// `csep recall rebuild`.
pub fn backfill(
    conn: &mut Connection,
    opts: &BackfillOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let r = backfill_unnoted(conn, opts, progress);
    if let (Ok(_), Some(db)) = (&r, conn.path().filter(|p| !p.is_empty())) {
        super::rebuild::remember_root(Path::new(db), opts.agent, &opts.root);
    }
    super::health::note(conn, r)
}

fn backfill_unnoted(
    conn: &mut Connection,
    opts: &BackfillOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let started = Instant::now();
    // One spelling per file, whatever root spelling the caller used (relative, symlinked).
    let root = std::fs::canonicalize(&opts.root).unwrap_or_else(|_| opts.root.clone());
    // A store host's root may be one store file (`$AIDER_CHAT_HISTORY_FILE`); OpenCode and
    // Aider keep no transcript file at all, so their root is walked for stores only.
    let stores_only = matches!(opts.agent, Agent::OpenCode | Agent::Aider) && root.exists();
    let (mut files, walk_errors) =
        if stores_only || (root.is_file() && super::stores::has_stores(opts.agent)) {
            (Vec::new(), Vec::new())
        } else {
            discover(opts.agent, &root)?
        };
    if let Some(days) = opts.since_days {
        let cutoff = timefmt::now_ms() - days as i64 * 86_400_000;
        files.retain(|(_, st)| st.mtime_ms >= cutoff);
    }
    if let Some(n) = opts.limit_files {
        files.truncate(n);
    }
    let mode = format!("backfill-{}", opts.agent.as_str());
    let run_id = ingest::start_run(conn, &mode, Some(&root.to_string_lossy()))?;
    let mut summary = Summary::new(mode, run_id);
    summary.root = Some(root.display().to_string());
    summary.since_days = opts.since_days;
    summary.limit_files = opts.limit_files;
    summary.files_seen = files.len() as u64 + walk_errors.len() as u64;
    let states = ingest::load_source_states(conn)?;
    let forgotten = forget::forgotten_paths(conn)?;
    let jobs = plan_jobs(files, &states, &forgotten, Some(opts.agent), &mut summary);
    summary.record_errors(conn, walk_errors)?;
    run_pipeline(conn, jobs, opts.caps, opts.threads, &mut summary, progress)?;
    if super::stores::has_stores(opts.agent) {
        let mut ctx = super::stores::Ctx {
            conn,
            states: &states,
            forgotten: &forgotten,
            caps: opts.caps,
            summary: &mut summary,
            emit: None,
        };
        super::stores::backfill(&mut ctx, opts.agent, &root, None)?;
    }
    summary.close(conn, started)?;
    Ok(summary)
}

/// What must be read. A file already known to belong to a forgotten session is not read at
/// all (one that is not yet known is read, and `ingest` keeps it out and remembers it).
fn plan_jobs(
    files: Vec<(PathBuf, Stat)>,
    states: &HashMap<String, SourceState>,
    forgotten: &HashSet<String>,
    agent: Option<Agent>,
    summary: &mut Summary,
) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(files.len());
    for (path, stat) in files {
        let key = path.to_string_lossy();
        if forgotten.contains(key.as_ref()) {
            summary.forgotten_sessions += 1;
            continue;
        }
        match plan_for(stat, states.get(key.as_ref())) {
            None => summary.unchanged_sessions += 1,
            Some(plan) => jobs.push(Job {
                path,
                stat,
                plan,
                agent,
            }),
        }
    }
    jobs
}

/// Indexes the given files incrementally (the hook and `session-archive` path).
pub fn index_paths(
    conn: &mut Connection,
    paths: &[PathBuf],
    agent: Option<Agent>,
    caps: Caps,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let r = index_paths_unnoted(conn, paths, agent, caps, progress);
    super::health::note(conn, r)
}

fn index_paths_unnoted(
    conn: &mut Connection,
    paths: &[PathBuf],
    agent: Option<Agent>,
    caps: Caps,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let started = Instant::now();
    let run_id = ingest::start_run(conn, "files", None)?;
    let mut summary = Summary::new("files".into(), run_id);
    let mut files = Vec::new();
    let mut failed = Vec::new();
    // A host's store (or one session of it, `STORE#SESSION`) is read as a backfill reads it.
    let (stores, paths): (Vec<_>, Vec<_>) = paths
        .iter()
        .map(|p| (p, super::stores::store_of(p, agent)))
        .partition(|(_, s)| s.is_some());
    summary.files_seen = paths.len() as u64;
    for (p, _) in paths {
        let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        match archive::stat(&p) {
            Ok(st) => files.push((p, st)),
            Err(e) => failed.push(FileError::from_error(&p, &e)),
        }
    }
    let mut states = HashMap::new();
    for (p, _) in &files {
        let key = p.to_string_lossy().into_owned();
        if let Some(s) = ingest::source_state(conn, &key)? {
            states.insert(key, s);
        }
    }
    let forgotten = forget::forgotten_paths(conn)?;
    let jobs = plan_jobs(files, &states, &forgotten, agent, &mut summary);
    summary.record_errors(conn, failed)?;
    run_pipeline(conn, jobs, caps, 1, &mut summary, progress)?;
    if !stores.is_empty() {
        let states = ingest::load_source_states(conn)?;
        let mut ctx = super::stores::Ctx {
            conn,
            states: &states,
            forgotten: &forgotten,
            caps,
            summary: &mut summary,
            emit: None,
        };
        for s in stores.into_iter().filter_map(|(_, s)| s) {
            let only = s.session.as_deref();
            super::stores::backfill(&mut ctx, s.agent, &s.file, only)?;
        }
    }
    summary.close(conn, started)?;
    Ok(summary)
}

/// Indexes records from a `csep-archive` stream: each `session`, its `message`s and the
/// closing `source` record are applied together in one transaction. A bad line or an
/// incomplete group is reported through `on_error` and skipped; the rest still lands.
pub fn index_records(
    conn: &mut Connection,
    reader: impl std::io::BufRead,
    on_error: &mut dyn FnMut(&str),
) -> Result<Summary> {
    let r = index_records_unnoted(conn, reader, on_error);
    super::health::note(conn, r)
}

fn index_records_unnoted(
    conn: &mut Connection,
    reader: impl std::io::BufRead,
    on_error: &mut dyn FnMut(&str),
) -> Result<Summary> {
    use crate::wire::{MessageRecord, Record, SessionRecord};
    let started = Instant::now();
    let run_id = ingest::start_run(conn, "stdin", None)?;
    let mut summary = Summary::new("stdin".into(), run_id);
    let mut session: Option<SessionRecord> = None;
    let mut messages: Vec<MessageRecord> = Vec::new();
    let mut batch = Batch::new(conn)?;
    let fail = |summary: &mut Summary, msg: String, on_error: &mut dyn FnMut(&str)| {
        on_error(&msg);
        summary.error_count += 1;
        if summary.errors.len() < MAX_LISTED_ERRORS {
            summary.errors.push(FileError {
                path: "-".into(),
                message: msg,
                fault: None,
            });
        }
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io("reading stdin", e))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(&line) {
            Ok(Record::Session(s)) => {
                if session.is_some() {
                    fail(&mut summary, format!("line {}: session record before the previous group's source record; previous group dropped", n + 1), on_error);
                }
                messages.clear();
                session = Some(s);
            }
            Ok(Record::Message(m)) => match &session {
                Some(s) if s.session_id == m.session_id => messages.push(m),
                _ => fail(
                    &mut summary,
                    format!(
                        "line {}: message for a session that has no session record",
                        n + 1
                    ),
                    on_error,
                ),
            },
            Ok(Record::Source(src)) => {
                let Some(s) = session.take() else {
                    fail(
                        &mut summary,
                        format!("line {}: source record without a session record", n + 1),
                        on_error,
                    );
                    continue;
                };
                let applied = ingest::apply_parts(batch.conn, &s, &messages, &src)?;
                summary.count_applied(applied, &src);
                batch.count(messages.len());
                messages.clear();
                if batch.full() {
                    batch.renew()?;
                }
            }
            Err(e) => {
                // Unknown record types are skipped quietly: newer writers may add some.
                let known = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
                match known.as_deref() {
                    Some("session" | "message" | "source") | None => {
                        fail(&mut summary, format!("line {}: {e}", n + 1), on_error)
                    }
                    Some(_) => {}
                }
            }
        }
    }
    if session.is_some() {
        fail(
            &mut summary,
            "input ended inside a group (no source record); that group was not indexed".into(),
            on_error,
        );
    }
    batch.commit()?;
    drop(batch);
    summary.files_seen = summary.processed_files;
    summary.close(conn, started)?;
    Ok(summary)
}
