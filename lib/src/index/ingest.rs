//! Applying parsed files to the database. One file's records (session, messages, source
//! state) always land in the same transaction, so a crash at any moment leaves each file
//! either fully indexed up to a recorded offset or not at all: a re-run finishes the job
//! with no lost and no duplicated message.

use super::db::{FLAG_BACKGROUND, FLAG_TRUNCATED};
use crate::archive::Parsed;
use crate::error::Result;
use crate::timefmt;
use crate::wire::{MessageRecord, SessionRecord, SourceRecord};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};

/// What the database remembers about one transcript file.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    pub size: u64,
    pub mtime_ms: i64,
    pub end_offset: u64,
    pub fingerprint: String,
    pub pending_calls: BTreeMap<String, String>,
    pub error: Option<String>,
    /// The file is one csep must not archive; it is re-read whole when it changes.
    pub excluded: bool,
}

/// Every known source file's state, for deciding what a backfill must read.
pub fn load_source_states(conn: &Connection) -> Result<HashMap<String, SourceState>> {
    let mut stmt = conn.prepare(
        "SELECT path, size, mtime_ms, end_offset, fingerprint, pending_calls, error, excluded IS NOT NULL FROM sources",
    )?;
    let rows = stmt.query_map([], |r| {
        let pending: Option<String> = r.get(5)?;
        Ok((
            r.get::<_, String>(0)?,
            SourceState {
                size: r.get::<_, i64>(1)? as u64,
                mtime_ms: r.get(2)?,
                end_offset: r.get::<_, i64>(3)? as u64,
                fingerprint: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                pending_calls: pending
                    .and_then(|p| serde_json::from_str(&p).ok())
                    .unwrap_or_default(),
                error: r.get(6)?,
                excluded: r.get(7)?,
            },
        ))
    })?;
    let mut map = HashMap::new();
    for row in rows {
        let (path, state) = row?;
        map.insert(path, state);
    }
    Ok(map)
}

/// One source's state, by path.
pub fn source_state(conn: &Connection, path: &str) -> Result<Option<SourceState>> {
    let mut stmt = conn.prepare_cached(
        "SELECT size, mtime_ms, end_offset, fingerprint, pending_calls, error, excluded IS NOT NULL FROM sources WHERE path = ?1",
    )?;
    Ok(stmt
        .query_row([path], |r| {
            let pending: Option<String> = r.get(4)?;
            Ok(SourceState {
                size: r.get::<_, i64>(0)? as u64,
                mtime_ms: r.get(1)?,
                end_offset: r.get::<_, i64>(2)? as u64,
                fingerprint: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                pending_calls: pending
                    .and_then(|p| serde_json::from_str(&p).ok())
                    .unwrap_or_default(),
                error: r.get(5)?,
                excluded: r.get(6)?,
            })
        })
        .optional()?)
}

/// What applying one file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The session (or the file) was forgotten (`csep recall forget`): nothing was written.
    pub forgotten: bool,
    /// The source is one csep must not archive (see `SourceRecord::excluded`).
    pub excluded: bool,
    pub new_session: bool,
    pub updated_session: bool,
    pub messages: u64,
}

fn opt_ms(s: &Option<String>) -> Option<i64> {
    s.as_deref().and_then(timefmt::parse_iso_ms)
}

/// Inserts or merges a session row; returns (rowid, created).
fn upsert_session(tx: &Connection, s: &SessionRecord, primary: bool) -> Result<(i64, bool)> {
    let existing: Option<i64> = tx
        .prepare_cached("SELECT id FROM sessions WHERE session_id = ?1")?
        .query_row([&s.session_id], |r| r.get(0))
        .optional()?;
    let agent = s.agent.map(|a| a.as_str()).unwrap_or("codex");
    match existing {
        None => {
            tx.prepare_cached(
                "INSERT INTO sessions (session_id, agent, source, cwd, repo_root, worktree_root, branch, repo_fp,
                 started_ms, updated_ms, title, thread_source) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
            )?
            .execute(params![
                s.session_id,
                agent,
                s.source,
                s.cwd,
                s.repo_root,
                s.worktree_root,
                s.branch,
                s.repo_fingerprint,
                opt_ms(&s.started_at),
                opt_ms(&s.updated_at),
                s.title,
                s.thread_source
            ])?;
            Ok((tx.last_insert_rowid(), true))
        }
        Some(id) => {
            // The main transcript's facts win over a subagent file's; times only widen.
            let sql = if primary {
                "UPDATE sessions SET source = ?2, cwd = COALESCE(?3, cwd), repo_root = COALESCE(?4, repo_root),
                   worktree_root = COALESCE(?5, worktree_root), branch = COALESCE(?6, branch),
                   repo_fp = COALESCE(?7, repo_fp), title = COALESCE(?8, title),
                   thread_source = COALESCE(?9, thread_source),
                   started_ms = MIN(COALESCE(started_ms, ?10), COALESCE(?10, started_ms)),
                   updated_ms = MAX(COALESCE(updated_ms, ?11), COALESCE(?11, updated_ms)) WHERE id = ?1"
            } else {
                "UPDATE sessions SET source = COALESCE(source, ?2), cwd = COALESCE(cwd, ?3),
                   repo_root = COALESCE(repo_root, ?4), worktree_root = COALESCE(worktree_root, ?5),
                   branch = COALESCE(branch, ?6), repo_fp = COALESCE(repo_fp, ?7), title = COALESCE(title, ?8),
                   thread_source = COALESCE(thread_source, ?9),
                   started_ms = MIN(COALESCE(started_ms, ?10), COALESCE(?10, started_ms)),
                   updated_ms = MAX(COALESCE(updated_ms, ?11), COALESCE(?11, updated_ms)) WHERE id = ?1"
            };
            tx.prepare_cached(sql)?.execute(params![
                id,
                s.source,
                s.cwd,
                s.repo_root,
                s.worktree_root,
                s.branch,
                s.repo_fingerprint,
                s.title,
                s.thread_source,
                opt_ms(&s.started_at),
                opt_ms(&s.updated_at)
            ])?;
            Ok((id, false))
        }
    }
}

fn delete_source_messages(tx: &Connection, source_rowid: i64) -> Result<u64> {
    delete_messages(tx, "source_rowid", source_rowid)
}

/// Deletes every message of a session and its postings (a forget); returns how many.
pub(crate) fn delete_session_messages(tx: &Connection, session_rowid: i64) -> Result<u64> {
    delete_messages(tx, "session_rowid", session_rowid)
}

/// Deletes the messages whose `column` (`source_rowid` or `session_rowid`) is `value`, with
/// their postings in every full-text index; returns how many.
fn delete_messages(tx: &Connection, column: &'static str, value: i64) -> Result<u64> {
    // Only a cut message has a row in fts_middle.
    for (table, only) in [
        ("fts_words", String::new()),
        ("fts_tri", String::new()),
        ("fts_middle", format!(" AND flags & {FLAG_TRUNCATED} <> 0")),
    ] {
        tx.prepare_cached(&format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT id FROM messages WHERE {column} = ?1{only})"
        ))?
        .execute([value])?;
    }
    let n = tx
        .prepare_cached(&format!("DELETE FROM messages WHERE {column} = ?1"))?
        .execute([value])?;
    Ok(n as u64)
}

/// Applies one parsed file inside `tx`.
pub fn apply(tx: &Connection, parsed: &Parsed) -> Result<Applied> {
    apply_parts(tx, &parsed.session, &parsed.messages, &parsed.source)
}

/// Applies a session, its messages and the closing source record (the stdin form).
pub fn apply_parts(
    tx: &Connection,
    session: &SessionRecord,
    messages: &[MessageRecord],
    source: &SourceRecord,
) -> Result<Applied> {
    // Checked here, inside the caller's write transaction, so a forget that committed after
    // this file was read still keeps it out.
    if let Some(tombstone) =
        super::tombstone::blocking_tombstone(tx, &session.session_id, &source.path)?
    {
        super::tombstone::remember_path(tx, tombstone, &source.path)?;
        return Ok(Applied {
            forgotten: true,
            ..Default::default()
        });
    }
    if let Some(reason) = &source.excluded {
        return exclude_source(tx, source, reason);
    }
    if source.start_offset > 0 {
        // A resumed parse cannot see the marker earlier in the file: the remembered verdict
        // stands.
        let known: Option<String> = tx
            .prepare_cached("SELECT excluded FROM sources WHERE path = ?1")?
            .query_row([&source.path], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(reason) = known {
            return exclude_source(tx, source, &reason);
        }
    }
    let primary = session.subagent.is_none();
    let (session_rowid, created) = upsert_session(tx, session, primary)?;
    let same: Option<bool> = tx
        .prepare_cached("SELECT end_offset = ?2 AND fingerprint = ?3 AND error IS NULL FROM sources WHERE path = ?1")?
        .query_row(params![source.path, source.end_offset as i64, source.fingerprint], |r| r.get(0))
        .optional()?;
    if source.start_offset == 0 && same == Some(true) {
        // The same bytes again (a re-piped archive, a touched file): nothing changes but
        // the remembered stat.
        tx.prepare_cached("UPDATE sources SET size = ?2, mtime_ms = ?3 WHERE path = ?1")?
            .execute(params![
                source.path,
                source.size_bytes as i64,
                source.mtime_ms
            ])?;
        return Ok(Applied {
            forgotten: false,
            excluded: false,
            new_session: created,
            updated_session: false,
            messages: 0,
        });
    }
    let mut existing: Option<(i64, i64, i64, i64)> = tx
        .prepare_cached("SELECT id, end_offset, next_ordinal, COALESCE(session_rowid, 0) FROM sources WHERE path = ?1")?
        .query_row([&source.path], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    if existing.is_none() {
        // A transcript's file name is unique within its session (`rollout-<ts>-<id>.jsonl`,
        // `<uuid>.jsonl`, `agent-<id>.jsonl`): the same name under another path is the same
        // file moved (Codex's archived_sessions/, a relocated home), not a second copy.
        // A session imported from csep 1.3.10 is replaced by its main transcript: that source
        // row is taken over the same way, its imported messages dropped below.
        if let Some(moved) = moved_source(tx, session_rowid, &source.path, primary)? {
            tx.prepare_cached("UPDATE sources SET path = ?2 WHERE id = ?1")?
                .execute(params![moved.0, source.path])?;
            existing = Some(moved);
        }
    }

    let mut removed = 0u64;
    let (source_rowid, mut next_ordinal, keep_from) = match existing {
        None => {
            tx.prepare_cached("INSERT INTO sources (path, session_rowid) VALUES (?1, ?2)")?
                .execute(params![source.path, session_rowid])?;
            (tx.last_insert_rowid(), 0i64, 0u64)
        }
        Some((id, end, next, old_session)) => {
            if source.start_offset == 0 {
                removed = delete_source_messages(tx, id)?;
                if old_session != 0 && old_session != session_rowid {
                    tx.prepare_cached("UPDATE sessions SET message_count = MAX(0, message_count - ?2) WHERE id = ?1")?
                        .execute(params![old_session, removed as i64])?;
                    removed = 0;
                }
                (id, 0, 0)
            } else {
                // Resuming: whatever lies before the recorded end is already indexed.
                (id, next, end as u64)
            }
        }
    };
    let mut added = 0u64;
    {
        let mut ins_msg = tx.prepare_cached(
            "INSERT INTO messages (session_rowid, source_rowid, ordinal, role, tool, ts_ms, byte_offset, flags, text)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        )?;
        let mut ins_words =
            tx.prepare_cached("INSERT INTO fts_words (rowid, text) VALUES (?1, ?2)")?;
        let mut ins_tri = tx.prepare_cached("INSERT INTO fts_tri (rowid, text) VALUES (?1, ?2)")?;
        let mut ins_middle =
            tx.prepare_cached("INSERT INTO fts_middle (rowid, text) VALUES (?1, ?2)")?;
        for m in messages {
            if m.offset < keep_from {
                continue;
            }
            let flags = if m.background { FLAG_BACKGROUND } else { 0 }
                | if m.truncated { FLAG_TRUNCATED } else { 0 };
            let ts = m.timestamp.as_deref().and_then(timefmt::parse_iso_ms);
            let indexed = match &m.tool {
                Some(tool) if m.role == crate::wire::Role::Assistant => {
                    format!("{tool} {}", m.text)
                }
                _ => m.text.clone(),
            };
            ins_msg.execute(params![
                session_rowid,
                source_rowid,
                next_ordinal,
                m.role.as_str(),
                m.tool,
                ts,
                m.offset as i64,
                flags,
                m.text
            ])?;
            let rowid = tx.last_insert_rowid();
            ins_words.execute(params![rowid, indexed])?;
            // A cut text's whole (its `index_text`) goes to the word set of `fts_middle`.
            if let Some(whole) = &m.index_text {
                ins_middle.execute(params![rowid, whole])?;
            }
            let tri = substring_text(m.role, &indexed);
            if !tri.is_empty() {
                ins_tri.execute(params![rowid, tri])?;
            }
            next_ordinal += 1;
            added += 1;
        }
    }
    let pending = if source.pending_calls.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&source.pending_calls).unwrap_or_default())
    };
    tx.prepare_cached(
        "UPDATE sources SET session_rowid = ?2, agent = ?3, format = ?4, size = ?5, mtime_ms = ?6, end_offset = ?7,
         fingerprint = ?8, next_ordinal = ?9, pending_calls = ?10, subagent = ?11,
         skipped_lines = skipped_lines + ?12, error = NULL, indexed_ms = ?13 WHERE id = ?1",
    )?
    .execute(params![
        source_rowid,
        session_rowid,
        source.agent.map(|a| a.as_str()),
        source.format,
        source.size_bytes as i64,
        source.mtime_ms,
        source.end_offset as i64,
        source.fingerprint,
        next_ordinal,
        pending,
        session.subagent,
        source.skipped.total() as i64,
        timefmt::now_ms()
    ])?;
    tx.prepare_cached(
        "UPDATE sessions SET message_count = MAX(0, message_count + ?2 - ?3) WHERE id = ?1",
    )?
    .execute(params![session_rowid, added as i64, removed as i64])?;
    Ok(Applied {
        forgotten: false,
        excluded: false,
        new_session: created,
        updated_session: !created && (added > 0 || removed > 0),
        messages: added,
    })
}

/// What the substring (trigram) index holds for a message. Tool output is most of the text
/// and the slowest part to index, and its words, paths, flags and error codes are already
/// found through the word index, so only its unspaced-script runs (CJK, where the word index
/// sees one long token) go in; everything else is indexed whole.
fn substring_text(role: crate::wire::Role, text: &str) -> std::borrow::Cow<'_, str> {
    use crate::text::is_unspaced_script;
    if role != crate::wire::Role::Tool {
        return std::borrow::Cow::Borrowed(text);
    }
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed("");
    }
    let mut runs = String::new();
    let mut in_run = false;
    for c in text.chars() {
        if is_unspaced_script(c) {
            runs.push(c);
            in_run = true;
        } else if in_run {
            runs.push('\n');
            in_run = false;
        }
    }
    std::borrow::Cow::Owned(runs)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Another source of the same session with the same file name; for a main transcript
/// (`primary`), also the session's source imported from csep 1.3.10.
fn moved_source(
    tx: &Connection,
    session_rowid: i64,
    path: &str,
    primary: bool,
) -> Result<Option<(i64, i64, i64, i64)>> {
    let name = file_name(path);
    let mut stmt = tx.prepare_cached(
        "SELECT id, end_offset, next_ordinal, COALESCE(session_rowid, 0), path, format FROM sources WHERE session_rowid = ?1",
    )?;
    let rows = stmt.query_map([session_rowid], |r| {
        Ok((
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    for row in rows {
        let (found, p, format) = row?;
        // A stand-in read from a host's store (csep 1.3.10's, Copilot's session-store.db,
        // OpenCode's pre-1.2 files) gives way to the session's main transcript.
        let imported = primary
            && matches!(
                format.as_deref(),
                Some(
                    crate::archive::legacy::FORMAT
                        | crate::archive::stored::FORMAT_COPILOT_DB
                        | crate::archive::opencode::FORMAT_JSON
                )
            );
        if file_name(&p) == name || imported {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Remembers a source that must not be archived, and forgets anything indexed from it before
/// it was known to be excluded.
fn exclude_source(tx: &Connection, source: &SourceRecord, reason: &str) -> Result<Applied> {
    let existing: Option<(i64, i64)> = tx
        .prepare_cached("SELECT id, COALESCE(session_rowid, 0) FROM sources WHERE path = ?1")?
        .query_row([&source.path], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let id = match existing {
        Some((id, session)) => {
            let removed = delete_source_messages(tx, id)?;
            if session != 0 {
                tx.prepare_cached(
                    "UPDATE sessions SET message_count = MAX(0, message_count - ?2) WHERE id = ?1",
                )?
                .execute(params![session, removed as i64])?;
            }
            id
        }
        None => {
            tx.prepare_cached("INSERT INTO sources (path) VALUES (?1)")?
                .execute([&source.path])?;
            tx.last_insert_rowid()
        }
    };
    tx.prepare_cached(
        "UPDATE sources SET session_rowid = NULL, agent = ?2, format = ?3, size = ?4, mtime_ms = ?5, end_offset = ?6,
         fingerprint = ?7, next_ordinal = 0, pending_calls = NULL, error = NULL, excluded = ?8, indexed_ms = ?9 WHERE id = ?1",
    )?
    .execute(params![
        id,
        source.agent.map(|a| a.as_str()),
        source.format,
        source.size_bytes as i64,
        source.mtime_ms,
        source.end_offset as i64,
        source.fingerprint,
        reason,
        timefmt::now_ms()
    ])?;
    Ok(Applied {
        excluded: true,
        ..Default::default()
    })
}

/// A stored session found unchanged in a changed store: it remembers the store's new stat,
/// so the next backfill skips the store unopened.
pub fn touch_source(tx: &Connection, path: &str, st: crate::archive::Stat) -> Result<()> {
    tx.prepare_cached("UPDATE sources SET size = ?2, mtime_ms = ?3 WHERE path = ?1")?
        .execute(params![path, st.size as i64, st.mtime_ms])?;
    Ok(())
}

/// Remembers a file that could not be indexed, so an unchanged bad file is not re-read (or
/// re-reported) by every backfill, and records the error for `csep status`.
pub fn record_error(
    tx: &Connection,
    run_id: Option<i64>,
    path: &str,
    stat: Option<crate::archive::Stat>,
    message: &str,
) -> Result<()> {
    let now = timefmt::now_ms();
    tx.prepare_cached(
        "INSERT INTO ingest_errors (run_id, path, message, at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![run_id, path, message, now])?;
    if let Some(st) = stat {
        tx.prepare_cached(
            "INSERT INTO sources (path, size, mtime_ms, end_offset, error, indexed_ms) VALUES (?1, ?2, ?3, 0, ?4, ?5)
             ON CONFLICT(path) DO UPDATE SET size = ?2, mtime_ms = ?3, error = ?4, indexed_ms = ?5",
        )?
        .execute(params![path, st.size as i64, st.mtime_ms, message, now])?;
    }
    Ok(())
}

/// Starts a run record; returns its id.
pub fn start_run(conn: &Connection, mode: &str, root: Option<&str>) -> Result<i64> {
    conn.execute(
        "INSERT INTO runs (started_ms, mode, root) VALUES (?1, ?2, ?3)",
        params![timefmt::now_ms(), mode, root],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn finish_run(conn: &Connection, run_id: i64, summary: &serde_json::Value) -> Result<()> {
    conn.execute(
        "UPDATE runs SET finished_ms = ?2, summary = ?3 WHERE id = ?1",
        params![run_id, timefmt::now_ms(), summary.to_string()],
    )?;
    Ok(())
}
