//! `spool/reflect/`: the job queue between the trigger and the worker, maildir-style.
//!
//! `csep-trigger` writes `tmp/<job>.json` and renames it into `new/`. A worker holding
//! `spool/reflect/.lock` (exclusive, try-lock: one reflection at a time) renames a job into
//! `cur/` to claim it, and when the job has ended moves it to `done/` (succeeded, partial,
//! skipped) or `failed/` (rejected, failed). Since only the lock holder claims, anything in
//! `cur/` while the lock is free belongs to a worker that died: the next worker takes it first.
//! The queue mechanics are [`crate::spool::Maildir`]'s; this module knows what a job file is.

use crate::error::Result;
use crate::fsutil::Patience;
use crate::spool::Maildir;
use std::fs::File;
use std::path::{Path, PathBuf};

pub const DIRS: &[&str] = &["tmp", "new", "cur", "done", "failed"];

/// The queue directory (`spool/reflect/`).
pub fn dir(state_dir: &Path) -> PathBuf {
    maildir(state_dir).dir().to_path_buf()
}

fn maildir(state_dir: &Path) -> Maildir {
    Maildir::new(state_dir, "reflect", DIRS)
}

/// The worker lock's path.
pub fn lock_path(state_dir: &Path) -> PathBuf {
    maildir(state_dir).lock_path()
}

/// Held while a worker runs; dropping it lets the next one in. The file is never deleted.
pub struct WorkerLock {
    _file: File,
}

/// Takes the worker lock, waiting out a look at it ([`Patience::PAST_A_LOOK`]): `Busy` when
/// another worker has it.
pub fn try_lock(state_dir: &Path) -> Result<WorkerLock> {
    let file = maildir(state_dir).lock(Patience::PAST_A_LOOK, "another reflection worker")?;
    Ok(WorkerLock { _file: file })
}

/// Whether a worker holds the lock now (looked at without disturbing it).
pub fn is_locked(state_dir: &Path) -> bool {
    maildir(state_dir).is_locked()
}

/// `*.json` files of one queue directory, oldest job first (job ids sort by time).
pub fn entries(state_dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut v = maildir(state_dir).files(sub);
    v.retain(|p| p.extension().is_some_and(|x| x == "json"));
    v
}

/// How many jobs each directory holds.
pub fn count(state_dir: &Path, sub: &str) -> u64 {
    entries(state_dir, sub).len() as u64
}

/// The job id a queue file stands for (its name without `.json`).
pub fn job_id_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Claims a job in `new/` by renaming it into `cur/`. `None` when someone else got it first.
pub fn claim(state_dir: &Path, new: &Path) -> Option<PathBuf> {
    maildir(state_dir).claim(new)
}

/// The next job to run: one a dead worker left in `cur/`, else the oldest in `new/` (claimed).
pub fn next(state_dir: &Path) -> Option<(PathBuf, bool)> {
    if let Some(p) = entries(state_dir, "cur").into_iter().next() {
        return Some((p, true));
    }
    for p in entries(state_dir, "new") {
        if let Some(c) = claim(state_dir, &p) {
            return Some((c, false));
        }
    }
    None
}

/// Finds job `job_id` in `cur/` (a dead worker's) or `new/` (claimed now).
pub fn find(state_dir: &Path, job_id: &str) -> Option<(PathBuf, bool)> {
    let name = format!("{job_id}.json");
    let q = dir(state_dir);
    let cur = q.join("cur").join(&name);
    if cur.is_file() {
        return Some((cur, true));
    }
    claim(state_dir, &q.join("new").join(&name)).map(|c| (c, false))
}

/// Where a finished job's file is now, if it has finished (`done/` or `failed/`).
pub fn finished(state_dir: &Path, job_id: &str) -> Option<PathBuf> {
    let name = format!("{job_id}.json");
    ["done", "failed"]
        .iter()
        .map(|d| dir(state_dir).join(d).join(&name))
        .find(|p| p.is_file())
}

/// Moves a claimed job to `done/` or `failed/`; returns where it went.
pub fn finish(state_dir: &Path, cur: &Path, ok: bool) -> Result<PathBuf> {
    maildir(state_dir).move_to(cur, if ok { "done" } else { "failed" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs2::FileExt;
    use std::fs;

    #[test]
    fn a_second_lock_is_busy_and_a_dead_workers_job_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        let lock = try_lock(s).unwrap();
        assert!(is_locked(s));
        let e = try_lock(s).err().unwrap();
        assert_eq!(e.kind, crate::ErrorKind::Busy);
        drop(lock);
        assert!(!is_locked(s));

        let q = super::dir(s);
        fs::write(q.join("new/20261101T100000Z-aaaaaaaa.json"), "{}").unwrap();
        fs::write(q.join("new/20261101T090000Z-bbbbbbbb.json"), "{}").unwrap();
        fs::write(q.join("cur/20261101T110000Z-cccccccc.json"), "{}").unwrap();
        let (p, recovered) = next(s).unwrap();
        assert!(recovered && job_id_of(&p).ends_with("cccccccc"));
        finish(s, &p, true).unwrap();
        let (p, recovered) = next(s).unwrap();
        assert!(!recovered && job_id_of(&p).ends_with("bbbbbbbb"));
        assert!(p.starts_with(q.join("cur")));
        finish(s, &p, false).unwrap();
        assert_eq!(count(s, "failed"), 1);
        assert!(finished(s, "20261101T090000Z-bbbbbbbb")
            .unwrap()
            .starts_with(q.join("failed")));
        let (p, _) = find(s, "20261101T100000Z-aaaaaaaa").unwrap();
        assert!(p.starts_with(q.join("cur")));
        assert!(find(s, "nope").is_none());
    }

    #[test]
    fn a_look_at_the_lock_does_not_turn_a_new_worker_away() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        drop(try_lock(s).unwrap());
        // What `is_locked` does, held a little longer than it ever is.
        let looker = crate::fsutil::open_lock_file(&lock_path(s)).unwrap();
        FileExt::try_lock_shared(&looker).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            FileExt::unlock(&looker).unwrap();
        });
        assert!(try_lock(s).is_ok());
        release.join().unwrap();
    }
}
