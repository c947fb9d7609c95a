//! Durable file writes: tmp file in the same directory → fsync → rename → fsync the
//! directory. No state file is ever written in place, so a reader (or a crash) sees the old
//! bytes or the new ones, never a mix. Also the modes things are created with: everything
//! csep makes is the owner's alone (dirs 0700, files 0600) whatever the caller's umask, and a
//! host's file csep rewrites keeps the mode and owner it had. And the locks: lock files and
//! the one way csep takes and looks at a lock ([`lock_exclusive`], [`is_locked`]).

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The mode of every directory csep creates.
pub const PRIVATE_DIR: u32 = 0o700;
/// The mode of every file csep creates (an executable one gets 0700).
pub const PRIVATE_FILE: u32 = 0o600;

/// Sets the process umask to 077, so what this process and its children create (SQLite's
/// `-wal`/`-shm`, a provider's files in a run directory, logs) is the owner's alone even
/// where no explicit mode is given. Every binary calls it first; the library's own writers
/// pass explicit modes too, so they stay private for another caller.
pub fn private_umask() {
    // SAFETY: umask(2) cannot fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// `create_dir_all` with mode 0700 for every directory it creates (existing ones are left as
/// they are; the state dir's are tightened by [`crate::private`]).
pub fn create_dir_private(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
        .map_err(|e| Error::io(dir.display(), e))
}

/// Opens a new file for writing, failing when it exists, with `mode` (before the umask).
fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

/// Opens (creating with mode 0600) a file for appending: logs.
pub fn open_append_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PRIVATE_FILE)
        .open(path)
}

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
        .mode(PRIVATE_FILE)
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
        create_dir_private(dir)?;
    }
    lock_exclusive(
        path,
        Patience::wait(wait, std::time::Duration::from_millis(20)),
        "another csep process; retry later",
    )
}

/// How long a lock is tried for: until `wait` has passed and `tries` attempts were made,
/// `poll` apart. Attempts, not only time: a process slowed down by a loaded machine still
/// gets its tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub wait: std::time::Duration,
    pub tries: u32,
    pub poll: std::time::Duration,
}

impl Patience {
    /// One attempt: a hook path never waits.
    pub const ONCE: Patience = Patience {
        wait: std::time::Duration::ZERO,
        tries: 1,
        poll: std::time::Duration::ZERO,
    };

    /// A queue's consumer starting (the archive drainer, the reflection worker): `is_locked`
    /// (`csep status`, the drainer looking for a worker) holds a shared lock for an instant
    /// to look, and a consumer that gave up on that would strand what is queued until the
    /// next hook. So a few short tries; one that really runs is waited for a quarter second.
    pub const PAST_A_LOOK: Patience = Patience {
        wait: std::time::Duration::from_millis(250),
        tries: 10,
        poll: std::time::Duration::from_millis(10),
    };

    /// Tries every `poll` for up to `wait` (a zero `wait` tries once).
    pub fn wait(wait: std::time::Duration, poll: std::time::Duration) -> Patience {
        Patience {
            wait,
            tries: 1,
            poll,
        }
    }
}

/// The one lock dance every csep lock goes through (queues, trigger state, buckets, setup):
/// opens (creating) the lock file `path` and takes an exclusive `fs2` lock, as patiently as
/// `patience` says. Still held after that is `Busy`, saying `<path> is held by <holder>`. The
/// lock lasts as long as the returned file.
pub fn lock_exclusive(path: &Path, patience: Patience, holder: &str) -> Result<File> {
    let file = open_lock_file(path)?;
    let start = std::time::Instant::now();
    let mut tries = 0;
    while fs2::FileExt::try_lock_exclusive(&file).is_err() {
        tries += 1;
        if start.elapsed() >= patience.wait && tries >= patience.tries {
            return Err(Error::busy(format!(
                "{} is held by {holder}",
                path.display()
            )));
        }
        std::thread::sleep(patience.poll);
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically with mode 0600, creating the parent directory (0700).
/// A state file is the owner's alone, whatever mode an older file at `path` had.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_as(path, bytes, None)
}

/// Writes `bytes` over a file that is not csep's own (a host's `settings.json`,
/// `config.toml`, `hooks.json`) atomically, keeping the mode and owner the file had: the temp
/// file is created with that mode (and, as root, given that owner) before the rename. A file
/// that did not exist gets 0600.
pub fn write_atomic_keep_mode(path: &Path, bytes: &[u8]) -> Result<()> {
    // A host file that is a symlink (a dotfiles checkout links `~/.claude/settings.json`)
    // stays one: the file it points to is replaced, in its own directory. A dangling link is
    // an error rather than silently turned into a file.
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let target = if is_link {
        fs::canonicalize(path).map_err(|e| Error::io(path.display(), e))?
    } else {
        path.to_path_buf()
    };
    let keep = fs::metadata(&target).ok().filter(|m| m.is_file());
    write_atomic_as(&target, bytes, keep.as_ref())
}

fn write_atomic_as(path: &Path, bytes: &[u8], keep: Option<&fs::Metadata>) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::usage(format!("{}: no parent directory", path.display())))?;
    create_dir_private(dir)?;
    let tmp = dir.join(format!(".{}", unique_name(".tmp")));
    let mode = keep.map_or(PRIVATE_FILE, |m| m.mode() & 0o7777);
    let result = (|| -> std::io::Result<()> {
        let mut f = create_new(&tmp, mode)?;
        if let Some(m) = keep {
            // The umask took bits off at creation; the owner comes first because chown(2)
            // clears set-id bits. Only root (or a member of the file's group) may give the
            // file away: otherwise it becomes the writer's, as any editor's save would.
            if m.uid() != current_uid() || m.gid() != current_gid() {
                let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            }
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
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

/// Gives `path` back the mode and owner `was` records, after another program replaced it
/// (best effort, like the owner in [`write_atomic_keep_mode`]).
pub fn restore_mode_owner(path: &Path, was: &fs::Metadata) {
    let Ok(now) = fs::metadata(path) else { return };
    if (now.uid(), now.gid()) != (was.uid(), was.gid()) {
        let _ = std::os::unix::fs::chown(path, Some(was.uid()), Some(was.gid()));
    }
    if now.mode() & 0o7777 != was.mode() & 0o7777 {
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(was.mode() & 0o7777));
    }
}

/// This process's effective user id.
pub fn current_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() }
}

fn current_gid() -> u32 {
    // SAFETY: getegid(2) cannot fail.
    unsafe { libc::getegid() }
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
        create_dir_private(d)?;
    }
    let tmp = tmp_dir.join(name);
    let dest = new_dir.join(name);
    let result = (|| -> std::io::Result<()> {
        let mut f = create_new(&tmp, PRIVATE_FILE)?;
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

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn csep_files_are_private_and_host_files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/a");
        let p = state.join("state.json");
        write_atomic(&p, b"one").unwrap();
        assert_eq!((mode(&p), mode(&state)), (0o600, 0o700));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(
            mode(&p),
            0o600,
            "an old wide state file is replaced by a private one"
        );

        let host = dir.path().join("settings.json");
        fs::write(&host, b"{}").unwrap();
        fs::set_permissions(&host, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic_keep_mode(&host, b"{\"a\":1}").unwrap();
        assert_eq!(
            (mode(&host), fs::read(&host).unwrap()),
            (0o640, b"{\"a\":1}".to_vec())
        );
        let new = dir.path().join("new.json");
        write_atomic_keep_mode(&new, b"{}").unwrap();
        assert_eq!(mode(&new), 0o600);

        let q = dir.path().join("spool/q");
        let item = enqueue(&q, "x.json", b"{}", Durability::Notice).unwrap();
        assert_eq!((mode(&item), mode(&q.join("tmp"))), (0o600, 0o700));
        let lock = q.join(".lock");
        open_lock_file(&lock).unwrap();
        assert_eq!(mode(&lock), 0o600);
    }

    #[test]
    fn a_held_lock_is_busy_after_its_tries_and_free_once_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let held = lock_exclusive(&path, Patience::ONCE, "x").unwrap();
        assert!(is_locked(&path));
        let patient = Patience {
            wait: std::time::Duration::ZERO,
            tries: 3,
            poll: std::time::Duration::from_millis(1),
        };
        let e = lock_exclusive(&path, patient, "another test").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Busy);
        assert_eq!(
            e.message,
            format!("{} is held by another test", path.display())
        );
        drop(held);
        assert!(!is_locked(&path));
        assert!(lock_exclusive(&path, patient, "another test").is_ok());
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
