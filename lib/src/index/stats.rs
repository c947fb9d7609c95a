//! The index's figures for `csep status`: sessions and messages by agent, the sources read,
//! ingest errors, the latest ingest run, and the sessions imported from csep 1.3.10. Read
//! without creating or changing any file, from whatever schema the index has (status never
//! migrates).

use rusqlite::OptionalExtension;
use std::path::Path;

/// Sessions and messages of one agent.
#[derive(Debug, Clone)]
pub struct AgentCount {
    pub agent: String,
    pub sessions: i64,
    pub messages: i64,
    /// When its newest session was last active (ms since the epoch), if any session says.
    pub newest_ms: Option<i64>,
}

/// A transcript file the index has read.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    pub path: String,
    /// How many of its bytes the index holds.
    pub size: i64,
    /// Its last read failed.
    pub failed: bool,
    /// Remembered, not archived (csep's own reflection sessions).
    pub excluded: bool,
}

/// The latest recorded ingest error.
#[derive(Debug, Clone)]
pub struct ErrorRow {
    pub path: String,
    pub message: String,
    pub at_ms: i64,
}

/// The latest ingest run.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub mode: String,
    pub root: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// The run's summary as it recorded it (JSON text).
    pub summary: Option<String>,
}

/// What [`figures`] read, field by field: a read that fails part way leaves what it had read
/// before the failure.
#[derive(Debug, Default)]
pub struct Figures {
    pub schema_version: Option<i64>,
    pub agents: Vec<AgentCount>,
    pub sources: Vec<SourceFacts>,
    pub ingest_error_count_total: Option<i64>,
    pub latest_error: Option<ErrorRow>,
    pub latest_run: Option<RunRow>,
    /// Sessions imported from csep 1.3.10 that no transcript has replaced yet.
    pub imported_sessions: Option<i64>,
}

/// Reads the figures of the index at `db` into `f`. SQLite's own error is returned, so the
/// caller can tell a damaged index from any other failure and show SQLite's words.
pub fn figures(db: &Path, f: &mut Figures) -> rusqlite::Result<()> {
    let conn = super::db::open_read_only(db)?;
    f.schema_version = Some(conn.pragma_query_value(None, "user_version", |row| row.get(0))?);
    let mut st = conn.prepare(
        "SELECT agent, COUNT(*), COALESCE(SUM(message_count), 0), MAX(COALESCE(updated_ms, started_ms)) \
         FROM sessions GROUP BY agent",
    )?;
    let rows = st.query_map([], |row| {
        Ok(AgentCount {
            agent: row.get(0)?,
            sessions: row.get(1)?,
            messages: row.get(2)?,
            newest_ms: row.get(3)?,
        })
    })?;
    for row in rows {
        f.agents.push(row?);
    }
    // `excluded` arrived with schema 2; an older index (not migrated yet: status never
    // writes) has none.
    let excluded = if f.schema_version.unwrap_or(0) >= 2 {
        "excluded IS NOT NULL"
    } else {
        "0"
    };
    let mut st = conn.prepare(&format!(
        "SELECT path, size, error IS NOT NULL, {excluded} FROM sources"
    ))?;
    let rows = st.query_map([], |row| {
        Ok(SourceFacts {
            path: row.get(0)?,
            size: row.get(1)?,
            failed: row.get(2)?,
            excluded: row.get(3)?,
        })
    })?;
    for row in rows {
        f.sources.push(row?);
    }
    f.ingest_error_count_total =
        Some(conn.query_row("SELECT COUNT(*) FROM ingest_errors", [], |row| row.get(0))?);
    f.latest_error = conn
        .query_row(
            "SELECT path, message, at_ms FROM ingest_errors ORDER BY id DESC LIMIT 1",
            [],
            |row| {
                Ok(ErrorRow {
                    path: row.get(0)?,
                    message: row.get(1)?,
                    at_ms: row.get(2)?,
                })
            },
        )
        .optional()?;
    f.latest_run = conn
        .query_row(
            "SELECT mode, root, started_ms, finished_ms, summary FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |row| {
                Ok(RunRow {
                    mode: row.get(0)?,
                    root: row.get(1)?,
                    started_ms: row.get(2)?,
                    finished_ms: row.get(3)?,
                    summary: row.get(4)?,
                })
            },
        )
        .optional()?;
    f.imported_sessions = Some(super::legacy::imported_sessions(&conn)?);
    Ok(())
}
