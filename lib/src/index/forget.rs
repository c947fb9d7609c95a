//! Forgetting a session (`csep recall forget`, `csep-index --forget`), and the tombstones
//! (`forgotten`, `forgotten_paths`) that keep it forgotten.
//!
//! A forget removes, in one write transaction, the session's messages, their postings in both
//! full-text indexes, every `sources` row of the session (main transcript, subagent files, a
//! moved rollout) and its `sessions` row, and leaves a tombstone: the session id (matched
//! without its `claude:` prefix, so either spelling works) and every path it had. Each ingest
//! path checks the tombstones inside its own write transaction ([`blocking_tombstone`], from
//! `ingest::apply_parts`), so a drainer or backfill that read the transcript before the forget
//! cannot write it back after; a backfill also skips known paths without reading them.
//!
//! Privacy, not only search: the transaction runs with `PRAGMA secure_delete`, so SQLite
//! overwrites freed cells and pages with zeros. Both FTS5 tables are `contentless_delete`
//! tables, whose deletes only mark rows as gone while the terms stay in their segments; so the
//! same transaction merges each table (`optimize`), which rewrites the segments without the
//! forgotten rows. Afterwards the write-ahead log, which can still hold older page images, is
//! checkpointed and truncated.

use super::ingest;
use crate::archive::{self, Request};
use crate::error::{Error, Result};
use crate::timefmt;
use crate::wire::Agent;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// What to forget.
#[derive(Debug, Clone)]
pub enum Target {
    /// A session id, bare or in the index's `claude:<uuid>` form.
    Session(String),
    /// A transcript file: the session it belongs to (and the path itself).
    Source(PathBuf),
}

/// A `forgotten_session` record: one tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    #[serde(rename = "type")]
    pub kind: String,
    /// The session as the index named it (`claude:<uuid>` for Claude Code), else as given;
    /// `None` for a path whose session could not be read.
    pub session_id: Option<String>,
    pub agent: Option<Agent>,
    /// Every transcript path of the session that csep knew, or met after the forget.
    pub source_paths: Vec<String>,
    pub forgotten_at: String,
    /// Whether the session was in the index when it was first forgotten.
    pub was_indexed: bool,
    /// Messages removed by every forget of it.
    pub removed_messages: u64,
}

/// Another copy of the session's text that csep keeps outside the index (reported, not
/// deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherCopy {
    /// `reflection_run`: a `runs/<job>/` directory whose `inputs/messages.md` quotes the session.
    pub kind: String,
    pub path: String,
    pub job_id: String,
}

/// A `forget_result` record: what one forget did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetResult {
    #[serde(rename = "type")]
    pub kind: String,
    pub session_id: Option<String>,
    pub agent: Option<Agent>,
    pub was_indexed: bool,
    pub already_forgotten: bool,
    pub removed_messages: u64,
    pub removed_sources: Vec<String>,
    pub tombstone: Tombstone,
    pub other_copies: Vec<OtherCopy>,
    /// The write-ahead log was checkpointed into the database and truncated.
    pub wal_checkpointed: bool,
    pub db_path: String,
}

/// The key a tombstone matches on: the id without Claude Code's `claude:` prefix.
pub fn session_key(session_id: &str) -> &str {
    let id = session_id.trim();
    id.strip_prefix("claude:").unwrap_or(id)
}

/// The tombstone that keeps this session or this file out of the index, if any. Called
/// inside the ingest's write transaction.
pub fn blocking_tombstone(tx: &Connection, session_id: &str, path: &str) -> Result<Option<i64>> {
    let key = session_key(session_id);
    Ok(tx
        .prepare_cached(
            "SELECT id FROM forgotten WHERE session_key = ?1 AND ?1 <> ''
             UNION ALL SELECT forgotten_id FROM forgotten_paths WHERE path = ?2 LIMIT 1",
        )?
        .query_row(params![key, path], |r| r.get(0))
        .optional()?)
}

/// Adds a path met after the forget (a grown or moved transcript, a new subagent file) to the
/// tombstone, so the next backfill skips it without reading it.
pub fn remember_path(tx: &Connection, tombstone: i64, path: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO forgotten_paths (path, forgotten_id) VALUES (?1, ?2)",
    )?
    .execute(params![path, tombstone])?;
    Ok(())
}

/// Every tombstoned path, for a backfill to skip without reading.
pub fn forgotten_paths(conn: &Connection) -> Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT path FROM forgotten_paths")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect::<rusqlite::Result<_>>().map_err(Into::into)
}

/// Every tombstone, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<Tombstone>> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM forgotten ORDER BY forgotten_ms, id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter().map(|id| tombstone(conn, id)).collect()
}

fn tombstone(conn: &Connection, id: i64) -> Result<Tombstone> {
    let (session_id, agent, ms, was_indexed, removed): (Option<String>, Option<String>, i64, bool, i64) =
        conn.query_row(
            "SELECT session_id, agent, forgotten_ms, was_indexed, removed_messages FROM forgotten WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
    let source_paths = conn
        .prepare_cached("SELECT path FROM forgotten_paths WHERE forgotten_id = ?1 ORDER BY path")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Tombstone {
        kind: "forgotten_session".into(),
        session_id,
        agent: agent.as_deref().and_then(Agent::parse),
        source_paths,
        forgotten_at: timefmt::format_iso_ms(ms),
        was_indexed,
        removed_messages: removed as u64,
    })
}

struct SessionRow {
    rowid: i64,
    session_id: String,
    agent: Option<Agent>,
}

fn session_row(tx: &Connection, sql: &str, arg: &str) -> Result<Option<SessionRow>> {
    Ok(tx
        .query_row(sql, [arg], |r| {
            Ok(SessionRow {
                rowid: r.get(0)?,
                session_id: r.get(1)?,
                agent: r.get::<_, String>(2).ok().as_deref().and_then(Agent::parse),
            })
        })
        .optional()?)
}

/// The indexed session named `id`: as given, else (for a bare id) as Claude Code's
/// `claude:<id>`.
fn find_session(tx: &Connection, id: &str) -> Result<Option<SessionRow>> {
    const SQL: &str = "SELECT id, session_id, agent FROM sessions WHERE session_id = ?1";
    if let Some(s) = session_row(tx, SQL, id)? {
        return Ok(Some(s));
    }
    if id.starts_with("claude:") {
        return Ok(None);
    }
    session_row(tx, SQL, &format!("claude:{id}"))
}

/// Forgets `target` (see the module doc). `state_dir` is searched for other copies of the
/// session's text; `db_path` is only reported.
pub fn forget(
    conn: &mut Connection,
    target: &Target,
    state_dir: &Path,
    db_path: &Path,
) -> Result<ForgetResult> {
    let (given_id, path) = match target {
        Target::Session(id) => {
            let id = id.trim();
            if session_key(id).is_empty() {
                return Err(Error::usage("forget: the session id is empty"));
            }
            (Some(id.to_string()), None)
        }
        Target::Source(p) => {
            if p.as_os_str().is_empty() {
                return Err(Error::usage("forget: the --source path is empty"));
            }
            // Sources are stored by canonical path, however the caller spells it.
            let p = fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            (None, Some(p.to_string_lossy().into_owned()))
        }
    };
    // A file the index does not know is read for its session id before the write lock is
    // taken: parsing a long transcript must not hold up the drainer.
    let mut read_id: Option<(String, Option<Agent>)> = None;
    if let Some(p) = &path {
        let known: bool = conn
            .prepare_cached("SELECT 1 FROM sources WHERE path = ?1 AND session_rowid IS NOT NULL")?
            .exists([p])?;
        if !known {
            read_id = archive::parse_file(Path::new(p), &Request::default())
                .ok()
                .map(|parsed| (parsed.session.session_id, parsed.session.agent));
        }
    }

    conn.pragma_update(None, "secure_delete", "ON")?;
    let result = forget_in_tx(conn, given_id, path, read_id);
    let _ = conn.pragma_update(None, "secure_delete", "OFF");
    let mut result = result?;
    result.wal_checkpointed = checkpoint(conn);
    if let Some(id) = &result.session_id {
        result.other_copies = reflection_runs(state_dir, session_key(id));
    }
    result.db_path = db_path.display().to_string();
    Ok(result)
}

fn forget_in_tx(
    conn: &mut Connection,
    given_id: Option<String>,
    path: Option<String>,
    read_id: Option<(String, Option<Agent>)>,
) -> Result<ForgetResult> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut session = match &path {
        Some(p) => session_row(
            &tx,
            "SELECT s.id, s.session_id, s.agent FROM sources src JOIN sessions s ON s.id = src.session_rowid WHERE src.path = ?1",
            p,
        )?,
        None => None,
    };
    let wanted = given_id.or_else(|| read_id.as_ref().map(|(id, _)| id.clone()));
    if session.is_none() {
        if let Some(id) = &wanted {
            session = find_session(&tx, id)?;
        }
    }
    let (session_id, agent) = match &session {
        Some(s) => (Some(s.session_id.clone()), s.agent),
        None => {
            let agent = read_id.and_then(|(_, a)| a).or_else(|| {
                wanted
                    .as_deref()
                    .filter(|id| id.starts_with("claude:"))
                    .map(|_| Agent::Claude)
            });
            (wanted, agent)
        }
    };
    let key = session_id.as_deref().map(session_key).map(str::to_string);

    let existing: Option<i64> = match (&key, &path) {
        (Some(k), _) => tx
            .query_row(
                "SELECT id FROM forgotten WHERE session_key = ?1",
                [k],
                |r| r.get(0),
            )
            .optional()?,
        (None, Some(p)) => tx
            .query_row(
                "SELECT forgotten_id FROM forgotten_paths WHERE path = ?1",
                [p],
                |r| r.get(0),
            )
            .optional()?,
        (None, None) => None,
    };

    let mut removed_sources: Vec<String> = Vec::new();
    let mut removed_messages = 0u64;
    if let Some(s) = &session {
        removed_sources = tx
            .prepare("SELECT path FROM sources WHERE session_rowid = ?1 ORDER BY path")?
            .query_map([s.rowid], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        removed_messages = ingest::delete_session_messages(&tx, s.rowid)?;
        tx.execute("DELETE FROM sources WHERE session_rowid = ?1", [s.rowid])?;
        tx.execute("DELETE FROM sessions WHERE id = ?1", [s.rowid])?;
    }
    if let Some(p) = &path {
        // An error or excluded row of the file itself holds no message, but names it.
        tx.execute("DELETE FROM sources WHERE path = ?1", [p])?;
    }
    {
        let mut del = tx.prepare("DELETE FROM ingest_errors WHERE path = ?1")?;
        for p in removed_sources.iter().chain(&path) {
            del.execute([p])?;
        }
    }
    if session.is_some() {
        // Deletes from a contentless_delete table leave the terms in their segments; merging
        // rewrites the segments without them (and secure_delete zeroes what that frees).
        tx.execute_batch(
            "INSERT INTO fts_words(fts_words) VALUES('optimize');
             INSERT INTO fts_tri(fts_tri) VALUES('optimize');",
        )?;
    }

    let was_indexed = session.is_some();
    let tombstone_id = match existing {
        Some(id) => {
            tx.execute(
                "UPDATE forgotten SET was_indexed = MAX(was_indexed, ?2),
                 removed_messages = removed_messages + ?3,
                 session_id = COALESCE(session_id, ?4), agent = COALESCE(agent, ?5) WHERE id = ?1",
                params![
                    id,
                    was_indexed,
                    removed_messages as i64,
                    session_id,
                    agent.map(Agent::as_str)
                ],
            )?;
            id
        }
        None => {
            tx.execute(
                "INSERT INTO forgotten (session_key, session_id, agent, forgotten_ms, was_indexed, removed_messages)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    key,
                    session_id,
                    agent.map(Agent::as_str),
                    timefmt::now_ms(),
                    was_indexed,
                    removed_messages as i64
                ],
            )?;
            tx.last_insert_rowid()
        }
    };
    {
        let mut add = tx.prepare(
            "INSERT INTO forgotten_paths (path, forgotten_id) VALUES (?1, ?2)
             ON CONFLICT(path) DO UPDATE SET forgotten_id = excluded.forgotten_id",
        )?;
        for p in removed_sources.iter().chain(&path) {
            add.execute(params![p, tombstone_id])?;
        }
    }
    // A path tombstoned alone earlier now belongs to this session's tombstone.
    tx.execute(
        "DELETE FROM forgotten WHERE session_key IS NULL
         AND id NOT IN (SELECT forgotten_id FROM forgotten_paths)",
        [],
    )?;
    let tombstone = tombstone(&tx, tombstone_id)?;
    tx.commit()?;
    Ok(ForgetResult {
        kind: "forget_result".into(),
        session_id,
        agent,
        was_indexed,
        already_forgotten: existing.is_some(),
        removed_messages,
        removed_sources,
        tombstone,
        other_copies: Vec::new(),
        wal_checkpointed: false,
        db_path: String::new(),
    })
}

/// Copies the write-ahead log into the database and truncates it, so no page image from
/// before the forget stays in it. False when a reader kept it from finishing.
fn checkpoint(conn: &Connection) -> bool {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|busy| busy == 0)
    .unwrap_or(false)
}

/// `runs/<job>/` directories whose `job.json` names the session: the reflection worker copied
/// the session's messages into their `inputs/messages.md`.
fn reflection_runs(state_dir: &Path, key: &str) -> Vec<OtherCopy> {
    let Ok(rd) = fs::read_dir(state_dir.join("runs")) else {
        return Vec::new();
    };
    let mut found: Vec<OtherCopy> = rd
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let bytes = fs::read(dir.join("job.json")).ok()?;
            let job: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            let sid = job.get("session_id")?.as_str()?;
            (session_key(sid) == key).then(|| OtherCopy {
                kind: "reflection_run".into(),
                job_id: job
                    .get("job_id")
                    .and_then(|j| j.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| e.file_name().to_string_lossy().into_owned()),
                path: dir.display().to_string(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_drops_the_claude_prefix_only() {
        assert_eq!(session_key("claude:1b2c"), "1b2c");
        assert_eq!(session_key(" 1b2c "), "1b2c");
        assert_eq!(session_key("019a-codex"), "019a-codex");
        assert_eq!(session_key("claude:"), "");
    }

    #[test]
    fn an_unknown_id_is_tombstoned_once_and_blocks_both_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("recall.sqlite3");
        let mut conn = super::super::db::open_rw(&db).unwrap();
        let target = Target::Session("u-1".into());
        let first = forget(&mut conn, &target, dir.path(), &db).unwrap();
        assert!(!first.was_indexed && !first.already_forgotten);
        assert_eq!(first.tombstone.session_id.as_deref(), Some("u-1"));
        let again = forget(&mut conn, &target, dir.path(), &db).unwrap();
        assert!(again.already_forgotten);
        assert_eq!(list(&conn).unwrap().len(), 1);
        for id in ["u-1", "claude:u-1"] {
            assert!(blocking_tombstone(&conn, id, "/x").unwrap().is_some());
        }
        assert!(blocking_tombstone(&conn, "u-2", "/x").unwrap().is_none());
        assert!(blocking_tombstone(&conn, "", "/x").unwrap().is_none());
        assert!(forget(
            &mut conn,
            &Target::Session("claude:".into()),
            dir.path(),
            &db
        )
        .is_err());
    }
}
