//! `csep recall rebuild` / `csep-index --rebuild`: replaces the recall index (damaged or
//! not) with a fresh one built from the transcripts, keeping the old files and every
//! tombstone.
//!
//! Under the archive queue's lock (so no drainer writes meanwhile; held elsewhere → busy):
//! what the old index still holds is salvaged where it can be read (its tombstones go to the
//! tombstone file, its transcript paths are re-read later), then the index and its `-wal`,
//! `-shm` and damage marker are moved, never deleted, into `index/damaged-<time>/` (or
//! `index/replaced-<time>/` for a healthy one). A fresh index is opened, which imports the
//! tombstone file, and every known root is backfilled: the default Codex and Claude Code
//! roots and every root a backfill used before (`index/roots.jsonl`, kept outside the index
//! for this), then the history the old index had imported from csep 1.3.10's database is
//! imported again from it. Then the lock is let go and the archive queue drained.

use super::{db, forget, health, spool, BackfillOptions};
use crate::archive::Caps;
use crate::error::{Error, Result};
use crate::wire::Agent;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One root a backfill walked, as kept in `roots.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct KnownRoot {
    agent: Agent,
    root: String,
}

fn roots_path(db: &Path) -> PathBuf {
    db.with_file_name("roots.jsonl")
}

fn known_roots(db: &Path) -> Vec<KnownRoot> {
    fs::read_to_string(roots_path(db))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Remembers a backfilled root beside the index `db` (best effort: a root not remembered is
/// only one a rebuild will not walk again unless it is a default one).
pub fn remember_root(db: &Path, agent: Agent, root: &Path) {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let entry = KnownRoot {
        agent,
        root: root.display().to_string(),
    };
    if known_roots(db).contains(&entry) {
        return;
    }
    let Ok(line) = serde_json::to_string(&entry) else {
        return;
    };
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(roots_path(db))
    {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// What a rebuild did with one root.
#[derive(Debug, Clone, Serialize)]
pub struct RootRun {
    pub agent: Agent,
    pub root: String,
    /// False for a default root that does not exist (nothing to walk).
    pub exists: bool,
    pub processed_files: u64,
    pub new_sessions: u64,
    pub forgotten_sessions: u64,
    pub messages: u64,
    pub error_count: u64,
}

/// The `rebuild_summary` record.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `rebuilt`, or `completed_with_errors` when a file or queued payload failed.
    pub status: &'static str,
    /// Whether the replaced index was damaged.
    pub was_damaged: bool,
    /// What was wrong with it (`null` when healthy or missing).
    pub damage: Option<String>,
    /// The directory the old index files were moved into (`null` when there was none).
    pub moved_aside: Option<String>,
    /// The files moved there (the database and whichever of its `-wal`, `-shm` and damage
    /// marker existed).
    pub moved_files: Vec<String>,
    pub roots: Vec<RootRun>,
    /// Transcripts the old index named outside these roots, read again.
    pub other_files: u64,
    /// Sessions imported again from the csep 1.3.10 databases the old index had imported
    /// (`csep recall import-legacy`), those whose transcripts the backfills did not find.
    pub legacy_imported: u64,
    /// In the new index, once built.
    pub sessions: u64,
    pub messages: u64,
    /// Tombstones in the new index: forgotten sessions that stay forgotten.
    pub forgotten: u64,
    /// Queued hook payloads archived after the rebuild, and those that failed.
    pub drained: u64,
    pub drain_failed: u64,
    pub error_count: u64,
    pub elapsed_ms: u64,
    pub db_path: String,
}

/// The transcript roots a rebuild walks: the hosts' default ones, then every root
/// remembered beside `db`, each once.
fn roots(db: &Path) -> Vec<(Agent, PathBuf, bool)> {
    let mut out: Vec<(Agent, PathBuf, bool)> = Vec::new();
    let defaults = Agent::ALL
        .into_iter()
        .filter_map(|a| crate::paths::history_root(a).map(|root| (a, root, true)));
    let known = known_roots(db)
        .into_iter()
        .map(|k| (k.agent, PathBuf::from(k.root), false));
    for (agent, root, default) in defaults.chain(known) {
        let root = fs::canonicalize(&root).unwrap_or(root);
        if !out.iter().any(|(a, r, _)| *a == agent && *r == root) {
            out.push((agent, root, default));
        }
    }
    out
}

/// What can still be read from the old index: its tombstones, transcript paths and the csep
/// 1.3.10 databases it imported.
fn salvage(db: &Path) -> (Vec<forget::Tombstone>, Vec<String>, Vec<String>) {
    let Ok(conn) = db::open_read_only(db) else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let tombstones = forget::list(&conn).unwrap_or_default();
    let strings = |sql: &str| {
        conn.prepare(sql)
            .and_then(|mut st| {
                st.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap_or_default()
    };
    let paths = strings("SELECT path FROM sources WHERE session_rowid IS NOT NULL ORDER BY path");
    let imported = strings(
        "SELECT DISTINCT root FROM runs WHERE mode = 'import-legacy' AND root IS NOT NULL ORDER BY root",
    );
    (tombstones, paths, imported)
}

/// Moves the index files aside into a new dated directory beside them.
fn move_aside(db: &Path, damaged: bool) -> Result<(Option<PathBuf>, Vec<String>)> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    let files: Vec<PathBuf> = [
        db.to_path_buf(),
        wal.into(),
        shm.into(),
        health::marker_path(db),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect();
    if files.is_empty() {
        return Ok((None, Vec::new()));
    }
    let parent = db.parent().unwrap_or(Path::new("."));
    let stamp = crate::timefmt::compact_ms(crate::timefmt::now_ms());
    let base = format!("{}-{stamp}", if damaged { "damaged" } else { "replaced" });
    let mut dir = parent.join(&base);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = parent.join(format!("{base}-{n}"));
    }
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io(dir.display(), e))?;
    let mut moved = Vec::new();
    for f in files {
        let to = dir.join(f.file_name().unwrap_or_default());
        fs::rename(&f, &to).map_err(|e| Error::io(f.display(), e))?;
        moved.push(to.display().to_string());
    }
    if let Ok(d) = fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok((Some(dir), moved))
}

fn count(conn: &Connection, sql: &str) -> u64 {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .map_or(0, |n| n as u64)
}

/// Rebuilds the index of `state_dir` (see the module doc). `on_indexed` sees each queued
/// payload the drain after the rebuild archived (the drainer's trigger).
pub fn rebuild(
    state_dir: &Path,
    caps: Caps,
    threads: usize,
    on_indexed: &mut dyn FnMut(&crate::wire::ArchiveRequest) -> Result<()>,
) -> Result<RebuildSummary> {
    let started = Instant::now();
    let db = crate::paths::index_db(state_dir);
    let lock = spool::try_lock(&spool::queue_dir(state_dir, "archive")).map_err(|e| {
        Error::busy(format!(
            "{}; the index is not rebuilt while a drainer writes to it, retry when it is done",
            e.message
        ))
    })?;
    let damage = health::diagnose(&db);
    let (tombstones, old_paths, imported) = salvage(&db);
    forget::export(&db, &tombstones)?;
    let (moved_aside, moved_files) = move_aside(&db, damage.is_some())?;

    let mut conn = db::open_rw(&db)?;
    let mut summary = RebuildSummary {
        kind: "rebuild_summary",
        status: "rebuilt",
        was_damaged: damage.is_some(),
        damage,
        moved_aside: moved_aside.map(|d| d.display().to_string()),
        moved_files,
        roots: Vec::new(),
        other_files: 0,
        legacy_imported: 0,
        sessions: 0,
        messages: 0,
        forgotten: 0,
        drained: 0,
        drain_failed: 0,
        error_count: 0,
        elapsed_ms: 0,
        db_path: db.display().to_string(),
    };
    for (agent, root, default) in roots(&db) {
        // A store host's root may be one file (`$AIDER_CHAT_HISTORY_FILE`).
        let exists = root.is_dir() || (root.is_file() && super::stores::has_stores(agent));
        let mut run = RootRun {
            agent,
            root: root.display().to_string(),
            exists,
            processed_files: 0,
            new_sessions: 0,
            forgotten_sessions: 0,
            messages: 0,
            error_count: 0,
        };
        if exists {
            let opts = BackfillOptions {
                agent,
                root,
                since_days: None,
                limit_files: None,
                caps,
                threads,
            };
            let s = super::backfill(&mut conn, &opts, &mut |_| {})?;
            run.processed_files = s.processed_files;
            run.new_sessions = s.new_sessions;
            run.forgotten_sessions = s.forgotten_sessions;
            run.messages = s.messages;
            run.error_count = s.error_count;
            summary.error_count += s.error_count;
        } else if !default {
            // A remembered root that is gone is worth a line; a host never installed is not.
            summary.error_count += 1;
        }
        summary.roots.push(run);
    }
    // Transcripts the old index held from outside every root (`--file`, a moved root).
    let others: Vec<PathBuf> = old_paths
        .into_iter()
        .filter(|p| {
            Path::new(p).is_file()
                && !conn
                    .prepare_cached("SELECT 1 FROM sources WHERE path = ?1")
                    .and_then(|mut st| st.exists([p]))
                    .unwrap_or(true)
        })
        .map(PathBuf::from)
        .collect();
    if !others.is_empty() {
        let s = super::index_paths(&mut conn, &others, None, caps, &mut |_| {})?;
        summary.other_files = s.processed_files;
        summary.error_count += s.error_count;
    }
    // The history imported from csep 1.3.10 (its transcripts gone) comes from there again;
    // what the backfills above found a transcript for is left as they indexed it.
    for legacy in imported {
        match super::legacy::open(Path::new(&legacy))
            .and_then(|l| super::legacy::import(&mut conn, &l, caps))
        {
            Ok(s) => {
                summary.legacy_imported += s.imported_sessions;
                summary.error_count += s.error_count;
            }
            Err(e) if e.kind == crate::ErrorKind::Input => summary.error_count += 1,
            Err(e) => return Err(e),
        }
    }
    drop(lock);

    let now = spool::DrainOptions { now: true };
    match spool::drain_archive(&db, state_dir, caps, now, on_indexed) {
        Ok(d) => {
            summary.drained = d.done;
            summary.drain_failed = d.failed;
            summary.error_count += d.failed;
        }
        // Another drainer took the queue as soon as it was free: it drains it.
        Err(e) if e.kind == crate::ErrorKind::Busy => {}
        Err(e) => return Err(e),
    }
    summary.sessions = count(&conn, "SELECT COUNT(*) FROM sessions");
    summary.messages = count(&conn, "SELECT COUNT(*) FROM messages");
    summary.forgotten = count(&conn, "SELECT COUNT(*) FROM forgotten");
    if summary.error_count > 0 {
        summary.status = "completed_with_errors";
    }
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}
