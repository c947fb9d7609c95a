//! The maildir-style queue under `$CSEP_HOME/spool/<name>/` that hands work from one stage to
//! the next: a producer writes `tmp/<item>` and renames it into `new/`
//! ([`crate::fsutil::enqueue`]); the one consumer holding `.lock` renames an item into `cur/`
//! to claim it, and moves it on (`done/`, `failed/`) or deletes it when it is through.
//! Since only the lock holder claims, anything in `cur/` while the lock is free belongs to a
//! consumer that died. The archive queue (`index::spool`) and the reflection job queue
//! (`reflect::queue`) are both this type; what an item means is theirs. The lock file is
//! never deleted. A leaf: it needs only `fsutil` and `error`.

use crate::error::{Error, Result};
use crate::fsutil::Patience;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// The queue directory for `name` under the state dir.
pub fn queue_dir(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("spool").join(name)
}

/// One queue: its directory and the subdirectories it keeps.
#[derive(Debug, Clone)]
pub struct Maildir {
    dir: PathBuf,
    subdirs: &'static [&'static str],
}

impl Maildir {
    /// `spool/<name>/` with `subdirs` (created when the lock is taken).
    pub fn new(state_dir: &Path, name: &str, subdirs: &'static [&'static str]) -> Maildir {
        Maildir {
            dir: queue_dir(state_dir, name),
            subdirs,
        }
    }

    /// The queue at `dir` (any directory, for a caller that has one already).
    pub fn at(dir: PathBuf, subdirs: &'static [&'static str]) -> Maildir {
        Maildir { dir, subdirs }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `spool/<name>/<sub>/`.
    pub fn sub(&self, sub: &str) -> PathBuf {
        self.dir.join(sub)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(".lock")
    }

    /// Creates the subdirectories and takes the consumer's lock as patiently as `patience`
    /// says; `Busy` (`… is held by <holder>`) when another consumer keeps it.
    pub fn lock(&self, patience: Patience, holder: &str) -> Result<File> {
        for d in self.subdirs {
            crate::fsutil::create_dir_private(&self.dir.join(d))?;
        }
        crate::fsutil::lock_exclusive(&self.lock_path(), patience, holder)
    }

    /// Whether a consumer holds the lock now (looked at without disturbing it).
    pub fn is_locked(&self) -> bool {
        crate::fsutil::is_locked(&self.lock_path())
    }

    /// The regular files in `<sub>/`, sorted by name (oldest first: names start with a time).
    pub fn files(&self, sub: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(self.sub(sub))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Whether `<sub>/` holds a name that is neither hidden (a temporary file of an atomic
    /// rewrite) nor in `known`.
    pub fn has_besides(&self, sub: &str, known: &HashSet<OsString>) -> bool {
        fs::read_dir(self.sub(sub))
            .map(|rd| {
                rd.flatten()
                    .any(|e| !known.contains(&e.file_name()) && !is_hidden(&e.path()))
            })
            .unwrap_or(false)
    }

    /// Claims `item` by renaming it into `cur/`. `None` when someone else got it first.
    pub fn claim(&self, item: &Path) -> Option<PathBuf> {
        let name = item.file_name()?;
        let cur = self.sub("cur").join(name);
        fs::rename(item, &cur).ok().map(|_| cur)
    }

    /// Moves `item` into `<sub>/` (created if missing) and syncs that directory; returns
    /// where it went.
    pub fn move_to(&self, item: &Path, sub: &str) -> Result<PathBuf> {
        let to = self.sub(sub);
        crate::fsutil::create_dir_private(&to)?;
        let dest = to.join(item.file_name().unwrap_or_default());
        fs::rename(item, &dest).map_err(|e| Error::io(dest.display(), e))?;
        if let Ok(d) = File::open(&to) {
            let _ = d.sync_all();
        }
        Ok(dest)
    }
}

/// A hidden name is a temporary file of an atomic rewrite, never an item.
pub fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_consumer_is_busy_and_claims_move_items_through() {
        let dir = tempfile::tempdir().unwrap();
        let q = Maildir::new(dir.path(), "q", &["tmp", "new", "cur", "done"]);
        let lock = q.lock(Patience::ONCE, "another consumer").unwrap();
        assert!(q.is_locked());
        let e = q.lock(Patience::ONCE, "another consumer").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Busy);
        assert!(e.message.ends_with(".lock is held by another consumer"));
        drop(lock);
        assert!(!q.is_locked());

        fs::write(q.sub("new").join("2.json"), "{}").unwrap();
        fs::write(q.sub("new").join("1.json"), "{}").unwrap();
        fs::write(q.sub("new").join(".tmp"), "").unwrap();
        assert_eq!(q.files("new").len(), 3);
        assert!(q.has_besides("new", &HashSet::new()));
        let first = q.files("new").into_iter().find(|p| !is_hidden(p)).unwrap();
        assert!(first.ends_with("1.json"));
        let cur = q.claim(&first).unwrap();
        assert!(q.claim(&first).is_none(), "claimed twice");
        let done = q.move_to(&cur, "done").unwrap();
        assert_eq!(done, q.sub("done").join("1.json"));
        let known: HashSet<OsString> = [OsString::from("2.json")].into();
        assert!(!q.has_besides("new", &known));
    }
}
