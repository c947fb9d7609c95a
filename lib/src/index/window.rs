//! A session's messages in a review window, for the reflection worker: everything after one
//! message id and up to another, in order, without injected context (messages flagged
//! background: hook context, AGENTS.md, environment blocks, which nobody in the session typed).

use super::db::FLAG_BACKGROUND;
use crate::error::Result;
use rusqlite::{params, Connection};

/// One message as the reviewer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowMessage {
    pub id: i64,
    /// `user`, `assistant` (its text, or a tool call when `tool` is set), `tool` (output).
    pub role: String,
    pub tool: Option<String>,
    pub ts_ms: Option<i64>,
    pub text: String,
}

/// The messages of session `session_id` (as the index names it) with `after < id <= through`,
/// in order; `None` when the index does not hold the session.
pub fn review_window(
    conn: &Connection,
    session_id: &str,
    after: i64,
    through: i64,
) -> Result<Option<Vec<WindowMessage>>> {
    let Some(session) = super::sessions::rowid(conn, session_id)? else {
        return Ok(None);
    };
    // Through `sources` so SQLite walks this session's rows by the (source, ordinal) index.
    let mut stmt = conn.prepare(
        "SELECT id, role, tool, ts_ms, text FROM messages
         WHERE source_rowid IN (SELECT id FROM sources WHERE session_rowid = ?1)
           AND session_rowid = ?1 AND id > ?2 AND id <= ?3 AND (flags & ?4) = 0
         ORDER BY id",
    )?;
    let rows = stmt.query_map(params![session, after, through, FLAG_BACKGROUND], |r| {
        Ok(WindowMessage {
            id: r.get(0)?,
            role: r.get(1)?,
            tool: r.get(2)?,
            ts_ms: r.get(3)?,
            text: r.get(4)?,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?);
    }
    Ok(Some(out))
}
