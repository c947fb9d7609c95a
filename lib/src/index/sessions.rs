//! Named reads of sessions, sources and messages for the modules above the store: the
//! trigger's counters (a session's row, what came after its watermark, its transcript),
//! migrate-worktrees' evidence (the directories the index knows) and `csep session-archive`'s
//! answer (a transcript's session and its message count), and a session as a user names it
//! (`csep recall forget`, `csep show`). The SQL stays here; the policy
//! (what counts, what a reflection session is) stays with the caller.

use super::db::FLAG_BACKGROUND;
use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// A session's row in the index.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub rowid: i64,
    pub session_id: String,
    /// As stored (`codex`, `claude`); `None` when it cannot be read as text.
    pub agent: Option<String>,
    pub cwd: Option<String>,
    pub repo_root: Option<String>,
    pub thread_source: Option<String>,
}

/// The row id of the session the index names `session_id`.
pub fn rowid(conn: &Connection, session_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM sessions WHERE session_id = ?1",
            [session_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The row id of the session a user named `id`: as the index names it, else (a bare id) as
/// Claude Code's `claude:<id>`, so either spelling works (`csep recall forget`, `csep show`).
pub fn rowid_as_named(conn: &Connection, id: &str) -> Result<Option<i64>> {
    if let Some(rowid) = rowid(conn, id)? {
        return Ok(Some(rowid));
    }
    if id.starts_with("claude:") {
        return Ok(None);
    }
    rowid(conn, &format!("claude:{id}"))
}

/// The session the index names `session_id`.
pub fn find_session(conn: &Connection, session_id: &str) -> Result<Option<SessionRow>> {
    Ok(conn
        .query_row(
            "SELECT id, session_id, agent, cwd, repo_root, thread_source
             FROM sessions WHERE session_id = ?1",
            [session_id],
            |r| {
                Ok(SessionRow {
                    rowid: r.get(0)?,
                    session_id: r.get(1)?,
                    agent: r.get::<_, String>(2).ok(),
                    cwd: r.get(3)?,
                    repo_root: r.get(4)?,
                    thread_source: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Why the source at `path` is remembered but not archived (csep's own reflection sessions);
/// `None` when it is archived or unknown.
pub fn excluded_source(conn: &Connection, path: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT excluded FROM sources WHERE path = ?1",
            [path],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// The highest message id in the index (0 when it holds none).
pub fn max_message_id(conn: &Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?,
    )
}

/// The session's main transcript: its first source that is not a subagent's.
pub fn transcript_of(conn: &Connection, session_rowid: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT path FROM sources WHERE session_rowid = ?1
             ORDER BY subagent IS NOT NULL, id LIMIT 1",
            [session_rowid],
            |r| r.get(0),
        )
        .optional()?)
}

/// One message after a watermark, as [`messages_after`] hands it over.
#[derive(Debug)]
pub struct MessageFacts {
    pub id: i64,
    pub role: String,
    /// A tool call (`tool` is set).
    pub is_call: bool,
    /// Injected context (flagged background).
    pub background: bool,
    /// The text's length in characters.
    pub chars: i64,
    /// The text, only for user, developer and system messages (what is searched for words).
    pub text: Option<String>,
}

/// Every message of the session with an id above `after`, in id order.
pub fn messages_after(
    conn: &Connection,
    session_rowid: i64,
    after: i64,
    mut each: impl FnMut(MessageFacts) -> Result<()>,
) -> Result<()> {
    // Through `sources` so SQLite walks this session's rows by the (source, ordinal) index
    // instead of every message in the database; only text that is searched is fetched.
    let mut stmt = conn.prepare_cached(
        "SELECT id, role, tool IS NOT NULL, flags, length(text),
                CASE WHEN role IN ('user', 'developer', 'system') THEN text END
         FROM messages
         WHERE source_rowid IN (SELECT id FROM sources WHERE session_rowid = ?1)
           AND session_rowid = ?1 AND id > ?2
         ORDER BY id",
    )?;
    let mut rows = stmt.query(params![session_rowid, after])?;
    while let Some(r) = rows.next()? {
        each(MessageFacts {
            id: r.get(0)?,
            role: r.get(1)?,
            is_call: r.get(2)?,
            background: r.get::<_, i64>(3)? & FLAG_BACKGROUND != 0,
            chars: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            text: r.get(5)?,
        })?;
    }
    Ok(())
}

/// (cwd, worktree root, repo root) as a session recorded them.
pub type SessionDirs = (Option<String>, Option<String>, Option<String>);

/// Every distinct (cwd, worktree root, repo root) the index knows.
pub fn session_dirs(conn: &Connection) -> Result<Vec<SessionDirs>> {
    let mut stmt = conn.prepare("SELECT DISTINCT cwd, worktree_root, repo_root FROM sessions")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.flatten().collect())
}

/// The id of the session the transcript at `path` belongs to.
pub fn session_of_source(conn: &Connection, path: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT s.session_id FROM sources src JOIN sessions s ON s.id = src.session_rowid WHERE src.path = ?1",
            [path],
            |r| r.get(0),
        )
        .optional()?)
}

/// How many messages the index holds of session `session_id`.
pub fn message_count(conn: &Connection, session_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT message_count FROM sessions WHERE session_id = ?1",
            [session_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Rows written directly, for unit tests that need exact control over which messages exist.
#[cfg(test)]
pub(crate) mod fixture {
    use rusqlite::{params, Connection};

    /// Session `id` (rowid `rowid`) of agent `agent` in `cwd`, with one source at `path`
    /// (source rowid `rowid` too).
    pub(crate) fn session(
        conn: &Connection,
        rowid: i64,
        id: &str,
        agent: &str,
        cwd: &str,
        path: &str,
    ) {
        conn.execute(
            "INSERT INTO sessions (id, session_id, agent, cwd) VALUES (?1, ?2, ?3, ?4)",
            params![rowid, id, agent, cwd],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO sources (id, path, session_rowid) VALUES (?1, ?2, ?1)",
            params![rowid, path],
        )
        .unwrap();
    }

    /// A message of session (and source) `rowid` at `ordinal`.
    pub(crate) fn message(
        conn: &Connection,
        rowid: i64,
        ordinal: i64,
        role: &str,
        tool: Option<&str>,
        flags: i64,
        text: &str,
    ) {
        conn.execute(
            "INSERT INTO messages (session_rowid, source_rowid, ordinal, role, tool, byte_offset, flags, text)
             VALUES (?1, ?1, ?2, ?3, ?4, 0, ?5, ?6)",
            params![rowid, ordinal, role, tool, flags, text],
        )
        .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_reads_find_what_the_rows_hold() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::db::open_rw(&dir.path().join("recall.sqlite3")).unwrap();
        assert!(find_session(&conn, "s1").unwrap().is_none());
        assert_eq!(max_message_id(&conn).unwrap(), 0);
        fixture::session(&conn, 1, "s1", "codex", "/w", "/t/s1.jsonl");
        fixture::message(&conn, 1, 0, "user", None, 0, "remember pnpm");
        fixture::message(&conn, 1, 1, "assistant", Some("exec"), 0, "ls");
        fixture::message(&conn, 1, 2, "tool", Some("exec"), FLAG_BACKGROUND, "output");
        // A subagent's transcript of the same session is never its main one.
        conn.execute(
            "INSERT INTO sources (id, path, session_rowid, subagent) VALUES (0, '/t/agent.jsonl', 1, 'a')",
            [],
        )
        .unwrap();
        conn.execute("UPDATE sessions SET message_count = 3", [])
            .unwrap();
        let s = find_session(&conn, "s1").unwrap().unwrap();
        assert_eq!(
            (s.rowid, s.agent.as_deref(), s.cwd.as_deref()),
            (1, Some("codex"), Some("/w"))
        );
        assert_eq!(
            transcript_of(&conn, 1).unwrap().as_deref(),
            Some("/t/s1.jsonl")
        );
        assert_eq!(max_message_id(&conn).unwrap(), 3);
        let mut seen = Vec::new();
        messages_after(&conn, 1, 1, |m| {
            seen.push((m.id, m.role, m.is_call, m.background, m.chars, m.text));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (2, "assistant".to_string(), true, false, 2, None),
                (3, "tool".to_string(), true, true, 6, None),
            ]
        );
        let mut first = None;
        messages_after(&conn, 1, 0, |m| {
            first.get_or_insert(m.text);
            Ok(())
        })
        .unwrap();
        assert_eq!(first, Some(Some("remember pnpm".to_string())));
        assert_eq!(
            session_of_source(&conn, "/t/s1.jsonl").unwrap().as_deref(),
            Some("s1")
        );
        assert_eq!(session_of_source(&conn, "/t/none.jsonl").unwrap(), None);
        assert_eq!(message_count(&conn, "s1").unwrap(), Some(3));
        assert_eq!(excluded_source(&conn, "/t/s1.jsonl").unwrap(), None);
        conn.execute(
            "UPDATE sources SET excluded = 'reflection' WHERE id = 1",
            [],
        )
        .unwrap();
        assert_eq!(
            excluded_source(&conn, "/t/s1.jsonl").unwrap().as_deref(),
            Some("reflection")
        );
        assert_eq!(
            session_dirs(&conn).unwrap(),
            vec![(Some("/w".to_string()), None, None)]
        );
    }
}
