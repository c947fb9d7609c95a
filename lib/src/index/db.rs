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
    // 3: tombstones of forgotten sessions (`csep recall forget`), which every ingest path
    // checks inside its write transaction so nothing brings a forgotten session back.
    // `session_key` is the id without the `claude:` prefix, so either spelling matches;
    // it is NULL for a tombstone of a path whose session could not be read.
    r#"
CREATE TABLE forgotten (
    id INTEGER PRIMARY KEY,
    session_key TEXT UNIQUE,
    session_id TEXT,
    agent TEXT,
    forgotten_ms INTEGER NOT NULL,
    was_indexed INTEGER NOT NULL,
    removed_messages INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE forgotten_paths (
    path TEXT PRIMARY KEY,
    forgotten_id INTEGER NOT NULL
);
"#,
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
    // `fast`: SQLite zeroes the space a deleted or moved cell leaves in a page, whenever it
    // costs no extra I/O. Without it, rows that a page split or defragmentation moved keep a
    // stale copy in the page's free space, which a later forget (secure_delete on) cannot
    // reach: a forgotten message's text would stay in the file's bytes.
    conn.pragma_update(None, "secure_delete", "FAST")?;
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

/// Opens an existing database read-only without creating or changing any file (`csep
/// status`, dry runs). [`open_ro`] lets SQLite create the `-wal` and `-shm` files of a
/// database nobody has open, and migrates an old schema. Here, when the `-wal` file is absent
/// or empty (every page is in the main file) the database is opened `immutable`, which
/// touches nothing; a checkpoint running meanwhile can at worst make this one read fail.
/// When the log holds transactions it is opened `mode=ro`: the only bytes that read touches
/// are SQLite's read marks in the existing `-shm`, as for any reader. No migration either way.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let log_empty = std::fs::metadata(wal_path(path)).map_or(true, |m| m.len() == 0);
    let conn = Connection::open_with_flags(
        sqlite_uri(path, log_empty),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_millis(500))?;
    Ok(conn)
}

/// The database's write-ahead log, beside it.
pub fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

fn sqlite_uri(path: &Path, immutable: bool) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str(if immutable {
        "?mode=ro&immutable=1"
    } else {
        "?mode=ro"
    });
    uri
}

/// [`open_read_only`] for a reader that needs this csep's schema: `Ok(None)` when there is
/// no database, or its schema is another version.
pub fn open_untouched(path: &Path) -> Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = open_read_only(path)?;
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
    fn uris_escape_what_sqlite_would_read_as_syntax() {
        assert_eq!(
            sqlite_uri(Path::new("/a b/x?y#z%.db"), true),
            "file:/a%20b/x%3Fy%23z%25.db?mode=ro&immutable=1"
        );
        assert_eq!(
            sqlite_uri(Path::new("/s/i.db"), false),
            "file:/s/i.db?mode=ro"
        );
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
