//! Durable file writes: tmp file in the same directory → fsync → rename → fsync the
//! directory. No state file is ever written in place, so a reader (or a crash) sees the old
//! bytes or the new ones, never a mix.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A name unique within this machine for a temp or spool file: time, pid and a counter.
pub fn unique_name(suffix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{t}.{}.{n}{suffix}", std::process::id())
}

fn sync_dir(dir: &Path) {
    // Best effort: some filesystems refuse to fsync a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Opens (creating) a lock file for `fs2` locking. Lock files are never truncated or deleted:
/// deleting one while another process waits on it would let two holders in.
pub fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path.display(), e))
}

/// Whether someone holds the lock on `path` now: looked at with a shared lock taken and
/// dropped at once, through a read-only handle, so the file is never created or changed.
pub fn is_locked(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    match fs2::FileExt::try_lock_shared(&f) {
        Ok(()) => {
            let _ = fs2::FileExt::unlock(&f);
            false
        }
        Err(_) => true,
    }
}

/// Takes an exclusive lock on the lock file `path` (creating it and its directory), retrying
/// for up to `wait`; still held by someone else after that is `Busy` (exit 75). A zero `wait`
/// tries once.
pub fn lock_wait(path: &Path, wait: std::time::Duration) -> Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    }
    let file = open_lock_file(path)?;
    let start = std::time::Instant::now();
    while fs2::FileExt::try_lock_exclusive(&file).is_err() {
        if start.elapsed() >= wait {
            return Err(Error::busy(format!(
                "{} is held by another csep process; retry later",
                path.display()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically, creating the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::usage(format!("{}: no parent directory", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    let tmp = dir.join(format!(".{}", unique_name(".tmp")));
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path.display(), e));
    }
    sync_dir(dir);
    Ok(())
}

/// Whether a queued item must survive a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the item and the directory: the item is state (a reflection job).
    Durable,
    /// Atomic but not synced: the item only says "look at this file again" and the file it
    /// names is the data, so losing it to a crash loses nothing a later run will not redo.
    /// Keeps the Stop hook's foreground free of fsyncs.
    Notice,
}

/// Hands a file to a maildir-style queue: written into `queue/tmp/`, then renamed into
/// `queue/new/`, so a consumer never sees a partial item. Returns the final path.
pub fn enqueue(
    queue: &Path,
    name: &str,
    bytes: &[u8],
    durability: Durability,
) -> Result<std::path::PathBuf> {
    let tmp_dir = queue.join("tmp");
    let new_dir = queue.join("new");
    for d in [&tmp_dir, &new_dir] {
        fs::create_dir_all(d).map_err(|e| Error::io(d.display(), e))?;
    }
    let tmp = tmp_dir.join(name);
    let dest = new_dir.join(name);
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        if durability == Durability::Durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, &dest)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(dest.display(), e));
    }
    if durability == Durability::Durable {
        sync_dir(&new_dir);
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn enqueue_lands_in_new_only() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("spool/archive");
        let dest = enqueue(&q, "x.json", b"{}", Durability::Durable).unwrap();
        assert_eq!(dest, q.join("new/x.json"));
        assert_eq!(fs::read_dir(q.join("tmp")).unwrap().count(), 0);
        assert!(enqueue(&q, "y.json", b"{}", Durability::Notice).is_ok());
        assert!(q.join("new/y.json").exists());
    }
}
