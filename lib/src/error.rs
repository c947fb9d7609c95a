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

/// What in the environment failed when an error is not the fault of the item being worked
/// on: the same item can succeed later (once the disk has room, the index is writable or
/// repaired, the lock is free), so a queue keeps it instead of giving up on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No space left (ENOSPC, EDQUOT, EFBIG, SQLITE_FULL).
    Full,
    /// A read-only file system, file or database (EROFS, SQLITE_READONLY).
    ReadOnly,
    /// Permission denied (EACCES, EPERM, SQLITE_PERM).
    Permission,
    /// The device or SQLite's I/O failed (EIO, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_NOMEM).
    Io,
    /// The database is damaged (SQLITE_CORRUPT, SQLITE_NOTADB).
    Damaged,
    /// Someone else holds a lock.
    Busy,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Full => "disk_full",
            Fault::ReadOnly => "read_only",
            Fault::Permission => "permission_denied",
            Fault::Io => "io_error",
            Fault::Damaged => "damaged_index",
            Fault::Busy => "busy",
        }
    }

    /// The fault an I/O error stands for, if it is one.
    pub fn of_io(err: &std::io::Error) -> Option<Fault> {
        use std::io::ErrorKind as K;
        match (err.raw_os_error(), err.kind()) {
            (Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG), _) | (_, K::StorageFull) => {
                Some(Fault::Full)
            }
            (Some(libc::EROFS), _) | (_, K::ReadOnlyFilesystem) => Some(Fault::ReadOnly),
            (_, K::PermissionDenied) => Some(Fault::Permission),
            (Some(libc::EIO), _) => Some(Fault::Io),
            _ => None,
        }
    }

    /// The fault an SQLite error stands for, if it is one.
    pub fn of_sqlite(err: &rusqlite::Error) -> Option<Fault> {
        use rusqlite::ErrorCode as C;
        let rusqlite::Error::SqliteFailure(e, _) = err else {
            return None;
        };
        match e.code {
            C::DiskFull => Some(Fault::Full),
            C::ReadOnly => Some(Fault::ReadOnly),
            C::PermissionDenied => Some(Fault::Permission),
            C::SystemIoFailure | C::CannotOpen | C::FileLockingProtocolFailed | C::OutOfMemory => {
                Some(Fault::Io)
            }
            C::DatabaseCorrupt | C::NotADatabase => Some(Fault::Damaged),
            C::DatabaseBusy | C::DatabaseLocked => Some(Fault::Busy),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Set when the environment, not the input, failed (see [`Error::fault`]).
    pub fault: Option<Fault>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            fault: None,
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{context}: {err}")).with_fault(Fault::of_io(&err))
    }
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Busy, message)
    }
    pub fn with_fault(mut self, fault: Option<Fault>) -> Self {
        self.fault = fault;
        self
    }
    /// Whether this error is the environment's fault (full disk, read-only or damaged index,
    /// I/O error, a busy lock) rather than the item's: what decides between "keep it queued
    /// and retry" and "give up on it" (the archive spool). The one place that classifies.
    pub fn fault(&self) -> Option<Fault> {
        match self.kind {
            ErrorKind::Busy => Some(Fault::Busy),
            ErrorKind::Damaged => Some(Fault::Damaged),
            ErrorKind::Usage | ErrorKind::Input | ErrorKind::Io | ErrorKind::Db => self.fault,
        }
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
        let fault = Fault::of_sqlite(&err);
        Error::from_sqlite(err).with_fault(fault)
    }
}

impl Error {
    fn from_sqlite(err: rusqlite::Error) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None).into()
    }

    #[test]
    fn the_environment_is_told_apart_from_the_item() {
        use rusqlite::ffi;
        for (code, fault) in [
            (ffi::SQLITE_FULL, Fault::Full),
            (ffi::SQLITE_READONLY, Fault::ReadOnly),
            (ffi::SQLITE_IOERR_WRITE, Fault::Io),
            (ffi::SQLITE_CANTOPEN, Fault::Io),
            (ffi::SQLITE_CORRUPT, Fault::Damaged),
            (ffi::SQLITE_NOTADB, Fault::Damaged),
            (ffi::SQLITE_BUSY, Fault::Busy),
        ] {
            assert_eq!(sqlite(code).fault(), Some(fault), "{code}");
        }
        assert_eq!(sqlite(ffi::SQLITE_BUSY).kind, ErrorKind::Busy);
        for code in [
            ffi::SQLITE_CONSTRAINT,
            ffi::SQLITE_ERROR,
            ffi::SQLITE_MISMATCH,
        ] {
            assert_eq!(sqlite(code).fault(), None, "{code}");
        }
        let io = |errno| Error::io("x", std::io::Error::from_raw_os_error(errno));
        assert_eq!(io(libc::ENOSPC).fault(), Some(Fault::Full));
        assert_eq!(io(libc::EFBIG).fault(), Some(Fault::Full));
        assert_eq!(io(libc::EROFS).fault(), Some(Fault::ReadOnly));
        assert_eq!(io(libc::EACCES).fault(), Some(Fault::Permission));
        assert_eq!(io(libc::EIO).fault(), Some(Fault::Io));
        assert_eq!(io(libc::ENOENT).fault(), None);
        assert_eq!(Error::input("bad").fault(), None);
        assert_eq!(Error::busy("held").fault(), Some(Fault::Busy));
    }
}
