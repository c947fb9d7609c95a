//! The tombstone checks every ingest makes inside its own write transaction: is this session
//! or file forgotten ([`blocking_tombstone`]), and remember a path met after the forget
//! ([`remember_path`]). Apart from `forget` so that `ingest` and `forget` do not import each
//! other: `forget` removes and writes tombstones, `ingest` only reads them here.

use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};

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
