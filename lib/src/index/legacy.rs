//! `csep recall import-legacy`: sessions and messages from csep 1.3.10's database
//! (`session_recall/state.db`) into the index, for the history whose transcripts are gone.
//!
//! The 1.3.10 database is opened read-only (`immutable` when it has no `-wal`/`-shm`, so not
//! even a side file is made) and checked before the index is opened, so a missing or broken
//! one changes nothing. Each session then goes through the ingest's own path
//! (`archive::legacy` makes the records, [`ingest::apply_parts`] writes them) in its own
//! transaction: redacted and capped as on ingest, with tombstones checked inside the write.
//!
//! Which sessions are written:
//! - forgotten (a tombstone for the id or the transcript path): none of it;
//! - already in the index from a transcript: kept as it is (the transcript is the better
//!   copy), whichever order the backfill and the import ran in;
//! - imported before: written again only when 1.3.10 has more of it since (the source's
//!   fingerprint is the count and the last row id of its messages), so a second import
//!   changes nothing.
//!
//! An imported session's source row names its transcript with `format` = `csep-1.3.10`, no
//! bytes read: a backfill that finds the transcript reads it whole and its messages replace
//! the imported ones (`ingest`), so the session is never there twice.

use super::ingest;
use crate::archive::legacy::{self as records, LegacyMessage, LegacySession, FORMAT};
use crate::archive::Caps;
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors listed in the summary; the rest are counted.
const MAX_LISTED_ERRORS: usize = 50;

/// A 1.3.10 database, opened read-only and checked, with its sessions listed.
pub struct Legacy {
    conn: Connection,
    path: PathBuf,
    sessions: Vec<LegacySession>,
}

impl Legacy {
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// How many sessions it holds.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
}

/// A failure to read the 1.3.10 database: always the input's (never a fault of the index,
/// and never "damaged", which would name the index and mark it).
fn unreadable(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::input(format!(
        "{}: cannot be read as a csep 1.3.10 database: {what}",
        path.display()
    ))
}

/// Opens the 1.3.10 database at `path` read-only, checks it is one, and lists its sessions.
pub fn open(path: &Path) -> Result<Legacy> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::input(format!(
            "{}: no csep 1.3.10 database here ({e}); name it with --db PATH",
            path.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(unreadable(path, "not a file"));
    }
    if meta.len() == 0 {
        return Err(unreadable(path, "the file is empty"));
    }
    super::health::check_header(path).map_err(|e| unreadable(path, e))?;
    let conn = super::db::open_read_only(path).map_err(|e| unreadable(path, e))?;
    let sessions = list_sessions(&conn).map_err(|e| unreadable(path, e))?;
    Ok(Legacy {
        conn,
        path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        sessions,
    })
}

fn list_sessions(conn: &Connection) -> rusqlite::Result<Vec<LegacySession>> {
    let mut st = conn.prepare(
        "SELECT session_id, session_path, source, cwd, git_branch, started_at, metadata_json
         FROM sessions ORDER BY started_at, session_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(LegacySession {
            session_id: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            path: r.get(1)?,
            source: r.get(2)?,
            cwd: r.get(3)?,
            branch: r.get(4)?,
            started_at: r.get(5)?,
            metadata: r.get(6)?,
        })
    })?;
    let sessions = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // Its messages table must be there, with the columns the import reads.
    conn.prepare(
        "SELECT id, message_index, role, content, raw_json, metadata_json, timestamp, tool_name
         FROM messages LIMIT 0",
    )?;
    Ok(sessions)
}

/// What 1.3.10 holds of a session now: its message count and last row id.
fn legacy_fingerprint(conn: &Connection, session_id: &str) -> rusqlite::Result<String> {
    let (n, last): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM messages WHERE session_id = ?1",
        [session_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(format!("{FORMAT}:{n}:{last}"))
}

fn legacy_messages(conn: &Connection, session_id: &str) -> rusqlite::Result<Vec<LegacyMessage>> {
    let mut st = conn.prepare_cached(
        "SELECT message_index, role, content, raw_json, metadata_json, timestamp, tool_name
         FROM messages WHERE session_id = ?1 ORDER BY message_index, id",
    )?;
    let rows = st.query_map([session_id], |r| {
        Ok(LegacyMessage {
            index: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
            role: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            content: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            raw_json: r.get(3)?,
            metadata: r.get(4)?,
            timestamp: r.get(5)?,
            tool_name: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// One session that could not be imported.
#[derive(Debug, Clone, Serialize)]
pub struct SessionError {
    pub session_id: String,
    pub message: String,
}

/// The `legacy_import_summary` record.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `completed`, or `completed_with_errors` when a session could not be read.
    pub status: &'static str,
    pub legacy_db: String,
    /// Sessions in the 1.3.10 database.
    pub legacy_sessions: u64,
    /// Sessions new to the index.
    pub imported_sessions: u64,
    /// Sessions imported before that 1.3.10 has more of since: imported again.
    pub updated_sessions: u64,
    /// Sessions imported before, with nothing new.
    pub unchanged_sessions: u64,
    /// Sessions the index already has from their transcripts: kept as they are.
    pub indexed_sessions: u64,
    /// Forgotten sessions (`csep recall forget`): not imported.
    pub forgotten_sessions: u64,
    /// csep's own reflection sessions: not imported, as ingest leaves them out.
    pub excluded_sessions: u64,
    /// Sessions without a message: nothing to import.
    pub empty_sessions: u64,
    /// Messages written.
    pub messages: u64,
    /// Of the sessions imported or updated, those whose transcript is still on disk: the next
    /// backfill replaces them with it.
    pub with_transcript: u64,
    pub error_count: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<SessionError>,
    pub elapsed_ms: u64,
    pub run_id: i64,
}

/// What the index holds of one session, as the import sees it.
enum Known {
    /// Not there.
    New,
    /// Imported before: the fingerprint of what was imported.
    Imported(String),
    /// Indexed from a transcript.
    Indexed,
}

fn known(tx: &Connection, session_id: &str) -> Result<Known> {
    let mut st = tx.prepare_cached(
        "SELECT src.format, src.fingerprint FROM sessions s
         LEFT JOIN sources src ON src.session_rowid = s.id WHERE s.session_id = ?1",
    )?;
    let rows = st.query_map([session_id], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<String>>(1)?,
        ))
    })?;
    let mut found = Known::New;
    for row in rows {
        match row? {
            (Some(f), fp) if f == FORMAT => {
                if matches!(found, Known::New) {
                    found = Known::Imported(fp.unwrap_or_default());
                }
            }
            _ => return Ok(Known::Indexed),
        }
    }
    Ok(found)
}

/// The path the imported source row goes under: the transcript's, unless the index already
/// has that path for something else (then a stand-in no backfill will meet).
fn source_path(tx: &Connection, s: &LegacySession, session_id: &str) -> Result<String> {
    let stand_in = || format!("{FORMAT}:{session_id}");
    let Some(path) = s.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(stand_in());
    };
    let taken: Option<Option<String>> = tx
        .prepare_cached("SELECT format FROM sources WHERE path = ?1")?
        .query_row([path], |r| r.get(0))
        .optional()?;
    Ok(match taken {
        None => path.to_string(),
        Some(Some(f)) if f == FORMAT => path.to_string(),
        Some(_) => stand_in(),
    })
}

/// Imports every session of `legacy` into the index `conn` (see the module doc).
pub fn import(conn: &mut Connection, legacy: &Legacy, caps: Caps) -> Result<ImportSummary> {
    let r = import_unnoted(conn, legacy, caps);
    super::health::note(conn, r)
}

fn import_unnoted(conn: &mut Connection, legacy: &Legacy, caps: Caps) -> Result<ImportSummary> {
    let started = Instant::now();
    let legacy_db = legacy.path.display().to_string();
    let run_id = ingest::start_run(conn, "import-legacy", Some(&legacy_db))?;
    let mut sum = ImportSummary {
        kind: "legacy_import_summary",
        status: "completed",
        legacy_db,
        legacy_sessions: legacy.sessions.len() as u64,
        imported_sessions: 0,
        updated_sessions: 0,
        unchanged_sessions: 0,
        indexed_sessions: 0,
        forgotten_sessions: 0,
        excluded_sessions: 0,
        empty_sessions: 0,
        messages: 0,
        with_transcript: 0,
        error_count: 0,
        errors: Vec::new(),
        elapsed_ms: 0,
        run_id,
    };
    for s in &legacy.sessions {
        if let Err(message) = import_one(conn, legacy, s, caps, &mut sum)? {
            sum.error_count += 1;
            if sum.errors.len() < MAX_LISTED_ERRORS {
                sum.errors.push(SessionError {
                    session_id: s.session_id.clone(),
                    message,
                });
            }
        }
    }
    if sum.error_count > 0 {
        sum.status = "completed_with_errors";
    }
    sum.elapsed_ms = started.elapsed().as_millis() as u64;
    ingest::finish_run(
        conn,
        run_id,
        &serde_json::to_value(&sum).unwrap_or_default(),
    )?;
    Ok(sum)
}

/// Imports one session in its own transaction. The outer error is the index's (it stops the
/// import); the inner one the 1.3.10 database's for this session (counted, the rest go on).
fn import_one(
    conn: &mut Connection,
    legacy: &Legacy,
    s: &LegacySession,
    caps: Caps,
    sum: &mut ImportSummary,
) -> Result<Result<(), String>> {
    let session_id = records::session_id_of(s);
    if session_id.is_empty() {
        return Ok(Err("the session has no id".into()));
    }
    let tx = conn.transaction()?;
    let path = source_path(&tx, s, &session_id)?;
    if super::tombstone::blocking_tombstone(&tx, &session_id, &path)?.is_some() {
        sum.forgotten_sessions += 1;
        return Ok(Ok(()));
    }
    let fingerprint = match legacy_fingerprint(&legacy.conn, &s.session_id) {
        Ok(fp) => fp,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let update = match known(&tx, &session_id)? {
        Known::Indexed => {
            sum.indexed_sessions += 1;
            return Ok(Ok(()));
        }
        Known::Imported(fp) if fp == fingerprint => {
            sum.unchanged_sessions += 1;
            return Ok(Ok(()));
        }
        Known::Imported(_) => true,
        Known::New => false,
    };
    let messages = match legacy_messages(&legacy.conn, &s.session_id) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let parsed = records::records(s, &messages, &path, fingerprint, caps)?;
    if parsed.source.excluded.is_some() {
        sum.excluded_sessions += 1;
        return Ok(Ok(()));
    }
    if parsed.messages.is_empty() && !update {
        sum.empty_sessions += 1;
        return Ok(Ok(()));
    }
    let applied = ingest::apply_parts(&tx, &parsed.session, &parsed.messages, &parsed.source)?;
    tx.commit()?;
    if applied.forgotten {
        sum.forgotten_sessions += 1;
        return Ok(Ok(()));
    }
    if update {
        sum.updated_sessions += 1;
    } else {
        sum.imported_sessions += 1;
    }
    sum.messages += applied.messages;
    if s.path.as_deref().is_some_and(|p| Path::new(p).is_file()) {
        sum.with_transcript += 1;
    }
    Ok(Ok(()))
}

/// Sessions whose messages are still the ones imported from 1.3.10 (no transcript replaced
/// them yet), for `csep status`.
pub fn imported_sessions(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(DISTINCT session_rowid) FROM sources WHERE format = ?1",
        params![FORMAT],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with the columns of 1.3.10's that the import reads: one Codex session whose
    /// transcript 1.3.10 read under another name than the one it has now.
    fn legacy_db(dir: &Path) -> PathBuf {
        let path = dir.join("state.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE sessions (session_id TEXT, session_path TEXT, source TEXT, cwd TEXT,
               git_branch TEXT, started_at TEXT, metadata_json TEXT);
             CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT, message_index INTEGER,
               role TEXT, content TEXT, raw_json TEXT, metadata_json TEXT, timestamp TEXT,
               tool_name TEXT);
             INSERT INTO sessions VALUES ('019b-0001', '/gone/old-name.jsonl', 'cli', '/w', '',
               '2026-11-01T10:00:00Z', NULL);
             INSERT INTO messages (session_id, message_index, role, content) VALUES
               ('019b-0001', 0, 'user', 'the imported question'),
               ('019b-0001', 1, 'assistant', 'the imported answer');",
        )
        .unwrap();
        path
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_main_transcript_under_another_name_takes_the_imported_session_over() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = open(&legacy_db(dir.path())).unwrap();
        let mut conn = super::super::db::open_rw(&dir.path().join("i/recall.sqlite3")).unwrap();
        let s = import(&mut conn, &legacy, Caps::DEFAULT).unwrap();
        assert_eq!((s.imported_sessions, s.messages), (1, 2));
        assert_eq!(imported_sessions(&conn).unwrap(), 1);

        let rollout = dir
            .path()
            .join("rollout-2026-11-01T10-00-00-019b-0001.jsonl");
        let lines = [
            r#"{"timestamp":"2026-11-01T10:00:00Z","type":"session_meta","payload":{"id":"019b-0001","cwd":"/w"}}"#,
            r#"{"timestamp":"2026-11-01T10:00:01Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"the real question"}]}}"#,
        ];
        std::fs::write(&rollout, lines.join("\n") + "\n").unwrap();
        let done =
            super::super::index_paths(&mut conn, &[rollout], None, Caps::DEFAULT, &mut |_| {})
                .unwrap();
        assert_eq!((done.new_sessions, done.updated_sessions), (0, 1));
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM sessions"), 1);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM sources"), 1);
        assert_eq!(count(&conn, "SELECT message_count FROM sessions"), 1);
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM messages WHERE text LIKE 'the imported%'"
            ),
            0
        );
        assert_eq!(imported_sessions(&conn).unwrap(), 0);
        // And the import then leaves it alone.
        let again = import(&mut conn, &legacy, Caps::DEFAULT).unwrap();
        assert_eq!((again.indexed_sessions, again.messages), (1, 0));
    }

    #[test]
    fn a_grown_session_is_imported_again_and_an_unchanged_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = legacy_db(dir.path());
        let mut conn = super::super::db::open_rw(&dir.path().join("i/recall.sqlite3")).unwrap();
        import(&mut conn, &open(&path).unwrap(), Caps::DEFAULT).unwrap();
        let same = import(&mut conn, &open(&path).unwrap(), Caps::DEFAULT).unwrap();
        assert_eq!((same.unchanged_sessions, same.messages), (1, 0));
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO messages (session_id, message_index, role, content)
                 VALUES ('019b-0001', 2, 'user', 'a later question')",
                [],
            )
            .unwrap();
        let grown = import(&mut conn, &open(&path).unwrap(), Caps::DEFAULT).unwrap();
        assert_eq!((grown.updated_sessions, grown.messages), (1, 3));
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM messages"), 3);
        assert_eq!(count(&conn, "SELECT message_count FROM sessions"), 3);
    }
}
