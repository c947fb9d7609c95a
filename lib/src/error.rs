//! The library's one error type. Each error carries a kind that the CLI maps to an exit
//! code (see `src/exit.rs`), so the mapping lives in exactly one place.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something malformed (bad flag value, bad query, missing root).
    Usage,
    /// Input data could not be used (unreadable transcript, bad record on stdin).
    Input,
    /// The filesystem failed us.
    Io,
    /// SQLite failed us.
    Db,
    /// A lock is held by someone else; nothing was consumed, retry later.
    Busy,
    /// The recall index is damaged (SQLite's CORRUPT or NOTADB: a truncated file, garbage,
    /// broken pages): nothing is written into it until `csep recall rebuild` replaces it.
    Damaged,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{context}: {err}"))
    }
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Busy, message)
    }
    pub fn damaged(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Damaged, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(e, _) = &err {
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) {
                return Error::busy(format!("database is busy: {err}"));
            }
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) {
                // Without the file's name: `index::health::named` adds it and the fix.
                return Error::damaged(err.to_string());
            }
        }
        Error::new(ErrorKind::Db, format!("database: {err}"))
    }
}
