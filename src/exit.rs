//! The one exit-code table for all csep tools (documented in every man page under EXIT
//! STATUS, and checked against them by `tests/csep/docs/man.rs`).

use csep_lib::{Error, ErrorKind};

/// Exit codes. `Busy` is sysexits' EX_TEMPFAIL: retry later, nothing was consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, including "nothing to do".
    Ok = 0,
    /// A negative answer where documented: no match, a check failed.
    Negative = 1,
    /// Bad usage, bad input, or a failed item (the rest of the batch still ran).
    Error = 2,
    /// A lock is held by someone else; retry later.
    Busy = 75,
}

/// Every code with its meaning, as the man pages print it.
pub const TABLE: &[(Exit, &str)] = &[
    (Exit::Ok, "success, including nothing to do"),
    (
        Exit::Negative,
        "a negative answer where documented (no match)",
    ),
    (
        Exit::Error,
        "bad usage, bad input, or at least one failed item",
    ),
    (
        Exit::Busy,
        "busy: a lock is held elsewhere; nothing was consumed, retry later",
    ),
];

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl From<&Error> for Exit {
    fn from(e: &Error) -> Exit {
        match e.kind {
            ErrorKind::Busy => Exit::Busy,
            ErrorKind::Usage
            | ErrorKind::Input
            | ErrorKind::Io
            | ErrorKind::Db
            | ErrorKind::Damaged => Exit::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            TABLE.iter().map(|(e, _)| e.code()).collect::<Vec<_>>(),
            vec![0, 1, 2, 75]
        );
        assert_eq!(Exit::from(&Error::busy("x")), Exit::Busy);
        assert_eq!(Exit::from(&Error::input("x")), Exit::Error);
        assert_eq!(Exit::from(&Error::damaged("x")), Exit::Error);
    }
}
