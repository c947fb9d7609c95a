//! The recall database: opening it (WAL, busy timeout), and its schema under `user_version`
//! migrations. Message text is stored once in `messages`; both full-text indexes are
//! contentless (`contentless_delete=1`) so they add postings, not copies.
//!
//! `fts_words` (unicode61, full detail) answers words, identifiers and phrases: `snake_case`,
//! dotted names, paths, `--flags` and `error[E0382]` all become phrases of their parts.
//! `fts_tri` (trigram, no detail) answers substrings and CJK; its candidates are confirmed
//! against the stored text, since `detail=none` cannot check adjacency. It holds user,
//! assistant and tool-call text whole, and of tool output only the CJK (unspaced-script)
//! runs: tool output is most of the bytes, and its words are in `fts_words` already.

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// Each entry moves the schema from version `i` to `i + 1`. Never edit a shipped entry.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL,
    source TEXT,
    cwd TEXT,
    repo_root TEXT,
    worktree_root TEXT,
    branch TEXT,
    repo_fp TEXT,
    started_ms INTEGER,
    updated_ms INTEGER,
    title TEXT,
    thread_source TEXT,
    message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_repo ON sessions(repo_fp);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    session_rowid INTEGER,
    agent TEXT,
    format TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    mtime_ms INTEGER NOT NULL DEFAULT 0,
    end_offset INTEGER NOT NULL DEFAULT 0,
    fingerprint TEXT,
    next_ordinal INTEGER NOT NULL DEFAULT 0,
    pending_calls TEXT,
    subagent TEXT,
    skipped_lines INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    indexed_ms INTEGER
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    session_rowid INTEGER NOT NULL,
    source_rowid INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    role TEXT NOT NULL,
    tool TEXT,
    ts_ms INTEGER,
    byte_offset INTEGER NOT NULL,
    flags INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_position ON messages(source_rowid, ordinal);
CREATE VIRTUAL TABLE fts_words USING fts5(
    text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE fts_tri USING fts5(
    text, content='', contentless_delete=1, tokenize='trigram', detail=none
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    mode TEXT NOT NULL,
    root TEXT,
    summary TEXT
);
CREATE TABLE ingest_errors (
    id INTEGER PRIMARY KEY,
    run_id INTEGER,
    path TEXT NOT NULL,
    message TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
"#,
    // 2: sources csep must not archive (its own reflection sessions) are remembered, so a
    // backfill does not read them again, but hold no message.
    "ALTER TABLE sources ADD COLUMN excluded TEXT;",
];

/// Message flag bits.
pub const FLAG_BACKGROUND: i64 = 1;
pub const FLAG_TRUNCATED: i64 = 2;

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    Ok(())
}

/// Opens (creating if needed) the database for writing and brings the schema up to date.
pub fn open_rw(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    }
    let conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate(&conn)?;
    Ok(conn)
}

/// Opens an existing database for reading; `Ok(None)` when there is none yet.
pub fn open_ro(path: &Path) -> Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        return Err(Error::usage(format!(
            "{}: schema version {version} is newer than this csep understands ({})",
            path.display(),
            MIGRATIONS.len()
        )));
    }
    if (version as usize) < MIGRATIONS.len() {
        drop(conn);
        return open_rw(path).map(Some);
    }
    Ok(Some(conn))
}

/// Opens an existing database for a read that must leave the state directory exactly as it
/// was (a dry run). [`open_ro`] lets SQLite create the `-wal` and `-shm` files of a database
/// nobody has open, and migrates an old schema. Here, when there is no `-wal` file (no
/// writer has the database open, and every page is in the main file) it is opened
/// immutable, which creates nothing; otherwise the files are there already and [`open_ro`]
/// is used. `Ok(None)` when there is no database, or its schema is not this csep's.
pub fn open_untouched(path: &Path) -> Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        return open_ro(path);
    }
    let Some(text) = path.to_str() else {
        return Ok(None);
    };
    let mut uri = String::from("file:");
    for c in text.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok((version as usize == MIGRATIONS.len()).then_some(conn))
}

fn user_version(conn: &Connection) -> Result<usize> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(v as usize)
}

/// Brings the schema up to date. Two processes may open a fresh database at once (a hook's
/// drainer and a recall, say): the version is read again inside an IMMEDIATE transaction, so
/// only one of them migrates and the other sees its work.
fn migrate(conn: &Connection) -> Result<()> {
    if user_version(conn)? == MIGRATIONS.len() {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<()> {
        let version = user_version(conn)?;
        if version > MIGRATIONS.len() {
            return Err(Error::usage(format!(
                "the index has schema version {version}, newer than this csep ({}); upgrade csep",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(Into::into),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untouched_open_reads_and_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd?#%name.sqlite3");
        assert!(open_untouched(&path).unwrap().is_none());
        let conn = open_rw(&path).unwrap();
        conn.execute(
            "INSERT INTO sessions (session_id, agent, cwd) VALUES ('s', 'codex', '/w')",
            [],
        )
        .unwrap();
        drop(conn);
        let files = || std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files(), 1, "a closed database keeps no -wal");
        let conn = open_untouched(&path).unwrap().unwrap();
        let cwd: String = conn
            .query_row("SELECT cwd FROM sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(cwd, "/w");
        drop(conn);
        assert_eq!(files(), 1);
    }

    #[test]
    fn migrations_apply_once_and_record_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i/recall.sqlite3");
        drop(open_rw(&path).unwrap());
        let conn = open_rw(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
    }

    #[test]
    fn concurrent_first_opens_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recall.sqlite3");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let p = path.clone();
                std::thread::spawn(move || open_rw(&p).map(drop))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let conn = open_rw(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), MIGRATIONS.len());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recall.sqlite3");
        let conn = open_rw(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(open_rw(&path).is_err());
    }
}
