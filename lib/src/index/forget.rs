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
//!
//! Tombstones also live outside the index, in `forgotten.jsonl` beside it (one
//! `forgotten_session` line per forget, appended and fsynced before the forget commits), so
//! a rebuilt, restored or deleted-and-backfilled index cannot bring a forgotten session back:
//! every writer's open ([`sync_file`]) merges the file and the index's tables whenever the
//! file's length differs from what the index last saw (an existing install's first writer
//! thereby exports its tombstones to the file).

use super::ingest;
use crate::archive::{self, Request};
use crate::error::{Error, Result};
use crate::timefmt;
use crate::wire::Agent;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
    /// `reflection_run`: a `runs/<job>/` directory whose `inputs/messages.md` quotes the
    /// session; `old_index`: an index `csep recall rebuild` moved aside that holds it (or is
    /// too damaged to tell).
    pub kind: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
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

pub use super::tombstone::{blocking_tombstone, remember_path, session_key};

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

fn session_row(
    tx: &Connection,
    sql: &str,
    arg: impl rusqlite::ToSql,
) -> Result<Option<SessionRow>> {
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

/// The indexed session named `id`, either spelling (see [`super::sessions::rowid_as_named`]).
fn find_session(tx: &Connection, id: &str) -> Result<Option<SessionRow>> {
    match super::sessions::rowid_as_named(tx, id)? {
        Some(rowid) => session_row(
            tx,
            "SELECT id, session_id, agent FROM sessions WHERE id = ?1",
            rowid,
        ),
        None => Ok(None),
    }
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
    let file = tombstones_path(db_path);
    let result = forget_in_tx(conn, given_id, path, read_id, Some(&file));
    let _ = conn.pragma_update(None, "secure_delete", "OFF");
    let mut result = super::health::note(conn, result)?;
    result.wal_checkpointed = checkpoint(conn);
    if let Some(id) = &result.session_id {
        result.other_copies = reflection_runs(state_dir, session_key(id));
        result
            .other_copies
            .extend(old_indexes(db_path, session_key(id)));
    }
    result.db_path = db_path.display().to_string();
    Ok(result)
}

/// `file`: where the tombstone is also appended before the commit (the tombstone file);
/// `None` while importing from it.
fn forget_in_tx(
    conn: &mut Connection,
    given_id: Option<String>,
    path: Option<String>,
    read_id: Option<(String, Option<Agent>)>,
    file: Option<&Path>,
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
             INSERT INTO fts_tri(fts_tri) VALUES('optimize');
             INSERT INTO fts_middle(fts_middle) VALUES('optimize');",
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
    if let Some(file) = file {
        // Durable outside the index before the index commits: if the commit fails, the next
        // writer imports it, so the session is forgotten either way.
        let before = file_len(file)?;
        append(file, std::slice::from_ref(&tombstone))?;
        tx.execute(
            "UPDATE meta SET value = ?2 WHERE key = ?1 AND value = ?3",
            params![SYNCED_KEY, file_len(file)? as i64, before as i64],
        )?;
    }
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

/// The tombstones kept outside the index: `forgotten.jsonl` beside it.
pub fn tombstones_path(db: &Path) -> PathBuf {
    db.with_file_name("forgotten.jsonl")
}

/// `meta` key: the tombstone file's length when the index last matched it.
const SYNCED_KEY: &str = "tombstone_file_bytes";

fn file_len(file: &Path) -> Result<u64> {
    match fs::metadata(file) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(file.display(), e)),
    }
}

/// Appends tombstones to the file in one write, and syncs it.
fn append(file: &Path, tombstones: &[Tombstone]) -> Result<()> {
    if tombstones.is_empty() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    for t in tombstones {
        serde_json::to_writer(&mut bytes, t).map_err(|e| Error::input(e.to_string()))?;
        bytes.push(b'\n');
    }
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    }
    let mut f = fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| Error::io(file.display(), e))?;
    // A torn last line (a crash mid-write) must not swallow this one.
    let len = f.metadata().map_or(0, |m| m.len());
    let mut last = [b'\n'];
    if len > 0 {
        use std::os::unix::fs::FileExt;
        let _ = f.read_at(&mut last, len - 1);
    }
    if last[0] != b'\n' {
        bytes.insert(0, b'\n');
    }
    f.write_all(&bytes)
        .and_then(|()| f.sync_data())
        .map_err(|e| Error::io(file.display(), e))
}

/// The file's tombstones, one per session (or per path for a session-less one): a torn or
/// unreadable line is skipped, repeated forgets of one session are folded together.
pub fn read_file(file: &Path) -> Vec<Tombstone> {
    let Ok(text) = fs::read_to_string(file) else {
        return Vec::new();
    };
    let mut out: Vec<Tombstone> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for line in text.lines() {
        let Ok(t) = serde_json::from_str::<Tombstone>(line) else {
            continue;
        };
        let key = match &t.session_id {
            Some(id) if !session_key(id).is_empty() => format!("s:{}", session_key(id)),
            _ => match t.source_paths.first() {
                Some(p) => format!("p:{p}"),
                None => continue,
            },
        };
        match by_key.get(&key) {
            Some(&i) => {
                let known = &mut out[i];
                for p in t.source_paths {
                    if !known.source_paths.contains(&p) {
                        known.source_paths.push(p);
                    }
                }
                known.was_indexed |= t.was_indexed;
                known.removed_messages = known.removed_messages.max(t.removed_messages);
            }
            None => {
                by_key.insert(key, out.len());
                out.push(t);
            }
        }
    }
    out
}

/// Whether `t` is already fully held by the tombstones `have` (keys and paths).
fn covered(t: &Tombstone, keys: &HashSet<String>, paths: &HashSet<String>) -> bool {
    let key_ok = match &t.session_id {
        Some(id) if !session_key(id).is_empty() => keys.contains(session_key(id)),
        _ => true,
    };
    key_ok && t.source_paths.iter().all(|p| paths.contains(p))
}

fn key_and_path_sets(ts: &[Tombstone]) -> (HashSet<String>, HashSet<String>) {
    let keys = ts
        .iter()
        .filter_map(|t| t.session_id.as_deref())
        .map(|id| session_key(id).to_string())
        .collect();
    let paths = ts
        .iter()
        .flat_map(|t| t.source_paths.iter().cloned())
        .collect();
    (keys, paths)
}

/// Adds to the tombstone file beside `db` those of `tombstones` it lacks (a rebuild saves an
/// old index's tombstones this way before moving it aside).
pub fn export(db: &Path, tombstones: &[Tombstone]) -> Result<()> {
    let file = tombstones_path(db);
    let (keys, paths) = key_and_path_sets(&read_file(&file));
    let missing: Vec<Tombstone> = tombstones
        .iter()
        .filter(|t| !covered(t, &keys, &paths))
        .cloned()
        .collect();
    append(&file, &missing)
}

/// Merges the tombstone file beside `db` and the index's tombstone tables, both ways, when
/// the file changed since the index last matched it (one `stat` and one query otherwise).
/// A tombstone the index lacks is applied as a forget: a session a restored index still
/// holds is removed. Called by every writer's open (`db::open_rw`).
pub fn sync_file(conn: &mut Connection, db: &Path) -> Result<()> {
    let file = tombstones_path(db);
    let len = file_len(&file)?;
    let synced: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [SYNCED_KEY], |r| {
            r.get(0)
        })
        .optional()?;
    if synced == Some(len as i64) {
        return Ok(());
    }
    let in_file = read_file(&file);
    let in_index = list(conn)?;
    let (file_keys, file_paths) = key_and_path_sets(&in_file);
    let missing_in_file: Vec<Tombstone> = in_index
        .iter()
        .filter(|t| !covered(t, &file_keys, &file_paths))
        .cloned()
        .collect();
    append(&file, &missing_in_file)?;
    let (index_keys, index_paths) = key_and_path_sets(&in_index);
    let missing_in_index: Vec<&Tombstone> = in_file
        .iter()
        .filter(|t| !covered(t, &index_keys, &index_paths))
        .collect();
    if !missing_in_index.is_empty() {
        conn.pragma_update(None, "secure_delete", "ON")?;
        let imported = missing_in_index
            .into_iter()
            .try_for_each(|t| import(conn, t));
        let _ = conn.pragma_update(None, "secure_delete", "OFF");
        imported?;
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![SYNCED_KEY, file_len(&file)? as i64],
    )?;
    Ok(())
}

/// Applies one tombstone from the file: forgets its session (removing it if this index holds
/// it) or its path, then gives the tombstone the file's paths and time.
fn import(conn: &mut Connection, t: &Tombstone) -> Result<()> {
    let id = t
        .session_id
        .clone()
        .filter(|id| !session_key(id).is_empty());
    let first_path = t.source_paths.first().cloned();
    if id.is_none() && first_path.is_none() {
        return Ok(());
    }
    let path = if id.is_some() { None } else { first_path };
    let r = forget_in_tx(conn, id, path, None, None)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let tombstone_id: i64 = match &r.session_id {
        Some(sid) => tx.query_row(
            "SELECT id FROM forgotten WHERE session_key = ?1",
            [session_key(sid)],
            |row| row.get(0),
        )?,
        None => tx.query_row(
            "SELECT forgotten_id FROM forgotten_paths WHERE path = ?1",
            [&t.source_paths[0]],
            |row| row.get(0),
        )?,
    };
    for p in &t.source_paths {
        tx.execute(
            "DELETE FROM sources WHERE path = ?1 AND session_rowid IS NULL",
            [p],
        )?;
        remember_path(&tx, tombstone_id, p)?;
    }
    if let Some(ms) = timefmt::parse_iso_ms(&t.forgotten_at) {
        tx.execute(
            "UPDATE forgotten SET forgotten_ms = MIN(forgotten_ms, ?2), agent = COALESCE(agent, ?3),
             was_indexed = MAX(was_indexed, ?4), removed_messages = MAX(removed_messages, ?5)
             WHERE id = ?1",
            params![
                tombstone_id,
                ms,
                t.agent.map(Agent::as_str),
                t.was_indexed,
                t.removed_messages as i64
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
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
                job_id: Some(
                    job.get("job_id")
                        .and_then(|j| j.as_str())
                        .map(str::to_string)
                        .unwrap_or_else(|| e.file_name().to_string_lossy().into_owned()),
                ),
                path: dir.display().to_string(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Old indexes a rebuild moved aside (`index/damaged-*/`, `index/replaced-*/`) that hold
/// the session, or that cannot be read to tell.
fn old_indexes(db_path: &Path, key: &str) -> Vec<OtherCopy> {
    let Some(Ok(rd)) = db_path.parent().map(fs::read_dir) else {
        return Vec::new();
    };
    let name = db_path.file_name().unwrap_or_default();
    let mut found: Vec<OtherCopy> = rd
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("damaged-") || n.starts_with("replaced-")
        })
        .filter_map(|e| {
            let old = e.path().join(name);
            if !old.is_file() {
                return None;
            }
            let holds = super::db::open_read_only(&old)
                .and_then(|c| {
                    c.query_row(
                        "SELECT COUNT(*) FROM sessions WHERE session_id IN (?1, 'claude:' || ?1)",
                        [key],
                        |r| r.get::<_, i64>(0),
                    )
                })
                .map_or(true, |n| n > 0);
            holds.then(|| OtherCopy {
                kind: "old_index".into(),
                path: e.path().display().to_string(),
                job_id: None,
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

    #[test]
    fn the_tombstone_file_folds_repeats_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("recall.sqlite3");
        let mut conn = super::super::db::open_rw(&db).unwrap();
        forget(&mut conn, &Target::Session("u-1".into()), dir.path(), &db).unwrap();
        forget(
            &mut conn,
            &Target::Session("claude:u-1".into()),
            dir.path(),
            &db,
        )
        .unwrap();
        forget(
            &mut conn,
            &Target::Source("/gone.jsonl".into()),
            dir.path(),
            &db,
        )
        .unwrap();
        let file = tombstones_path(&db);
        let mut f = fs::OpenOptions::new().append(true).open(&file).unwrap();
        f.write_all(b"{\"type\":\"forgotten_session\",\"sess")
            .unwrap();
        forget(&mut conn, &Target::Session("u-2".into()), dir.path(), &db).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap().lines().count(), 5);
        let read = read_file(&file);
        assert_eq!(read.len(), 3, "{read:?}");
        assert_eq!(read[0].session_id.as_deref(), Some("u-1"));
        assert_eq!(read[1].source_paths, vec!["/gone.jsonl".to_string()]);
        assert_eq!(read[2].session_id.as_deref(), Some("u-2"));
        // A fresh index beside the same file starts with every tombstone.
        drop(conn);
        fs::remove_file(&db).unwrap();
        let conn = super::super::db::open_rw(&db).unwrap();
        assert_eq!(list(&conn).unwrap().len(), 3);
        assert!(blocking_tombstone(&conn, "u-1", "/x").unwrap().is_some());
        assert!(blocking_tombstone(&conn, "x", "/gone.jsonl")
            .unwrap()
            .is_some());
    }
}
