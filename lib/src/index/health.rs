//! Whether the recall index is damaged, and what a damaged one does to its users: the error
//! names the file, says what is wrong and what to run; a writer that meets the damage leaves
//! a marker beside the index (`recall.sqlite3.damaged`) so every later writer refuses it
//! without looking again, until `csep recall rebuild` moves both aside.
//!
//! The check a writer pays on open is cheap on purpose (the hook's drainer opens the index
//! at every Stop): the 100-byte header (SQLite's magic, a valid page size, a page count the
//! file is long enough to hold when no log is pending), then SQLite's own open (schema parse, `user_version`), and
//! `PRAGMA quick_check` only while the file is small enough for it to stay in the
//! milliseconds ([`QUICK_CHECK_MAX_BYTES`]). On a bigger index, broken pages are found by
//! the statement that reads them; the error then marks the index the same way
//! ([`note`]). Readers (`csep recall`) pay nothing beyond naming the file in an error.

use crate::error::{Error, ErrorKind, Result};
use rusqlite::Connection;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `PRAGMA quick_check` reads every page: 8–12 ms for a 6 MB index, 310–440 ms for the
/// 147 MB index of a 3000-session corpus (a busy 2-core machine), so a writer runs it on
/// open only below this size (≤ about 16 ms), where a new user's index spends its first
/// weeks.
pub const QUICK_CHECK_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// What to run, said in every damage message.
pub const FIX: &str = "run `csep recall rebuild` (it keeps the damaged file aside and re-indexes every transcript; forgotten sessions stay forgotten)";

/// The marker a writer leaves beside a database it found damaged.
pub fn marker_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".damaged");
    p.into()
}

/// Why the index was marked damaged, if it was.
pub fn marked(db: &Path) -> Option<String> {
    let text = fs::read_to_string(marker_path(db)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    Some(
        v.get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or("reason not recorded")
            .to_string(),
    )
}

/// Leaves the marker (best effort: a read-only state dir still gets the error itself).
pub fn mark(db: &Path, reason: &str) {
    if marker_path(db).exists() {
        return;
    }
    let body = serde_json::json!({
        "reason": reason,
        "at": crate::timefmt::format_iso_ms(crate::timefmt::now_ms()),
        "fix": "csep recall rebuild",
    });
    let _ = crate::fsutil::write_atomic(&marker_path(db), format!("{body}\n").as_bytes());
}

/// The error for a damaged index at `db`, saying what is wrong (`detail`) and the fix.
pub fn damaged(db: &Path, detail: &str) -> Error {
    Error::damaged(format!(
        "{}: the recall index is damaged ({detail}); {FIX}",
        db.display()
    ))
}

/// `err` with the file and the fix named, when it is a damage error that does not name
/// them yet; any other error unchanged.
pub fn named(db: &Path, err: Error) -> Error {
    if err.kind != ErrorKind::Damaged || err.message.contains("csep recall rebuild") {
        return err;
    }
    damaged(db, &err.message)
}

/// For a writer: a damage error from `conn`'s database marks it ([`mark`]) and is
/// [`named`]; anything else passes through.
pub fn note<T>(conn: &Connection, result: Result<T>) -> Result<T> {
    match result {
        Err(e) if e.kind == ErrorKind::Damaged && !e.message.contains("csep recall rebuild") => {
            let Some(db) = conn.path().filter(|p| !p.is_empty()).map(PathBuf::from) else {
                return Err(e);
            };
            mark(&db, &e.message);
            Err(named(&db, e))
        }
        other => other,
    }
}

/// Looks at the database header without SQLite: `Err(what is wrong)` for a file SQLite
/// would call corrupt or not a database, or a truncated one. A missing or empty file is
/// fine (SQLite makes a new database of it).
pub fn check_header(db: &Path) -> std::result::Result<(), String> {
    let Ok(mut f) = fs::File::open(db) else {
        return Ok(());
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok(());
    }
    let mut h = [0u8; 100];
    let mut got = 0;
    while got < h.len() {
        match f.read(&mut h[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("its header cannot be read: {e}")),
        }
    }
    if &h[..16] != b"SQLite format 3\0" {
        return Err(if got < 16 {
            format!("truncated to {len} bytes")
        } else {
            "not a SQLite database: its first bytes are not SQLite's header".into()
        });
    }
    if got < 100 {
        return Err(format!(
            "truncated to {len} bytes, shorter than SQLite's header"
        ));
    }
    let page_size = match u16::from_be_bytes([h[16], h[17]]) {
        1 => 65536u64,
        n => n as u64,
    };
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!(
            "its header names an invalid page size ({page_size})"
        ));
    }
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
    // The page count is only valid when the "version valid for" field matches the change
    // counter (SQLite's own rule); an old writer may have left it stale. And only a file
    // whose write-ahead log is empty must hold every page: while the log has frames, a
    // checkpoint (running now in another process, or cut short by a crash) may have written
    // page 1 before the pages past the file's end, which the log still holds.
    let pages = be32(28);
    let log_empty = fs::metadata(super::db::wal_path(db)).map_or(true, |m| m.len() == 0);
    if pages > 0 && be32(92) == be32(24) && log_empty && len < pages * page_size {
        return Err(format!(
            "truncated: its header says {pages} pages of {page_size} bytes, the file holds {len} bytes"
        ));
    }
    Ok(())
}

/// `PRAGMA quick_check(1)`: `Ok(None)` when it passes, else its first finding.
pub fn quick_check(conn: &Connection) -> Result<Option<String>> {
    let first: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    Ok((first != "ok").then_some(first))
}

/// What a full look finds wrong with `db` (marker, header, SQLite's open and
/// `quick_check`), reading only: `None` when healthy or missing. For `csep recall rebuild`,
/// which reports whether it replaced a damaged index.
pub fn diagnose(db: &Path) -> Option<String> {
    if !db.exists() {
        return None;
    }
    if let Some(reason) = marked(db) {
        return Some(reason);
    }
    if let Err(e) = check_header(db) {
        return Some(e);
    }
    let look = || -> Result<Option<String>> {
        let conn = super::db::open_read_only(db)?;
        quick_check(&conn)
    };
    match look() {
        Ok(found) => found,
        Err(e) if e.kind == ErrorKind::Damaged => Some(e.message),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_check_tells_truncated_and_garbage_from_healthy() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("recall.sqlite3");
        assert_eq!(check_header(&db), Ok(()), "missing is fine");
        drop(super::super::db::open_rw(&db).unwrap());
        assert_eq!(check_header(&db), Ok(()));
        let bytes = fs::read(&db).unwrap();
        fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
        assert!(check_header(&db).unwrap_err().starts_with("truncated"));
        // With frames in the log, a short file may be a checkpoint in progress.
        fs::write(super::super::db::wal_path(&db), b"frames").unwrap();
        assert_eq!(check_header(&db), Ok(()));
        fs::remove_file(super::super::db::wal_path(&db)).unwrap();
        fs::write(&db, &bytes[..40]).unwrap();
        assert!(check_header(&db).unwrap_err().starts_with("truncated"));
        fs::write(&db, vec![0x5au8; 8192]).unwrap();
        assert!(check_header(&db)
            .unwrap_err()
            .contains("not a SQLite database"));
        fs::write(&db, b"").unwrap();
        assert_eq!(check_header(&db), Ok(()), "empty is a new database");
    }

    #[test]
    fn naming_adds_the_file_and_the_fix_once() {
        let db = Path::new("/s/index/recall.sqlite3");
        let e = named(db, Error::damaged("file is not a database"));
        assert!(e.message.starts_with("/s/index/recall.sqlite3: "), "{e}");
        assert!(e.message.contains("csep recall rebuild"));
        assert_eq!(
            named(db, Error::damaged(e.message.clone())).message,
            e.message
        );
        assert_eq!(named(db, Error::input("x")).message, "x");
    }

    #[test]
    fn damage_met_by_a_writers_statement_marks_the_index_for_every_later_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("recall.sqlite3");
        let conn = super::super::db::open_rw(&db).unwrap();
        let met: Result<()> = Err(Error::damaged("database disk image is malformed"));
        let e = note(&conn, met).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Damaged);
        assert!(e.message.contains(&db.display().to_string()), "{e}");
        assert_eq!(
            marked(&db).as_deref(),
            Some("database disk image is malformed")
        );
        drop(conn);
        let again = super::super::db::open_rw(&db).unwrap_err();
        assert_eq!(again.kind, ErrorKind::Damaged);
        assert!(again.message.contains("found by an earlier run"), "{again}");
        // Other errors pass through and mark nothing.
        fs::remove_file(marker_path(&db)).unwrap();
        let conn = super::super::db::open_rw(&db).unwrap();
        assert!(note::<()>(&conn, Err(Error::input("x"))).is_err());
        assert!(marked(&db).is_none());
    }
}
