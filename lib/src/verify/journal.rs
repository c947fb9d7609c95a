//! Applying a checked proposal, and undoing it.
//!
//! Per job, in the repo bucket: `journal/<job>.jsonl` (one `journal_entry` per change, for
//! memory files and skills alike) and `journal/<job>/before/<rel>` (the before-bytes of every
//! updated file). Order of an apply, all under the locks: re-check the live hashes, write the
//! before-copies, write the journal, then the live files one atomic write each; an I/O error
//! part-way rolls back what was written and journals the rollback. Lock order: the bucket's
//! `.lock`, then `<state>/locks/skills.lock` (only when skills change). Undo takes the same
//! locks in the same order. `csep migrate-worktrees` writes its merges through [`apply`] too
//! (holding the source bucket's `.lock` first; a source bucket is never a target), so they
//! are journalled and undone the same way.

use super::live::{self, Live};
use super::{split_rel, valid_job_id, Base, Change, Reason, Rejection};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::setup::sha256_hex;
use crate::timefmt;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One line of a job's journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub job_id: String,
    pub session_id: Option<String>,
    /// The live file.
    pub path: String,
    /// The proposal path (`memory/MEMORY.md`, `skills/<dir>/SKILL.md`, …).
    pub rel: String,
    /// `create` or `update` (an apply); `rollback` (an apply that failed part-way, put
    /// back); `undo`.
    pub action: String,
    /// The file's hash before this entry's write; null when it did not exist.
    pub before_sha256: Option<String>,
    /// The file's hash after it; null when the entry deleted the file.
    pub after_sha256: Option<String>,
    /// A copy of the before-bytes (`update` only).
    pub backup: Option<String>,
    /// Directories the write created, deepest first (`create` only), removed again by undo
    /// when they are empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<String>,
    pub at: String,
}

/// `<bucket>/journal/<job>.jsonl`.
pub fn journal_path(bucket: &Path, job_id: &str) -> PathBuf {
    bucket.join("journal").join(format!("{job_id}.jsonl"))
}

fn backup_path(bucket: &Path, job_id: &str, rel: &str) -> PathBuf {
    bucket.join("journal").join(job_id).join("before").join(rel)
}

/// One change that passed every check.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub rel: String,
    /// `rel` below its root.
    pub below: String,
    pub root: PathBuf,
    pub live: PathBuf,
    pub skill: bool,
    pub before: Option<Vec<u8>>,
    pub before_sha256: Option<String>,
    pub after: Vec<u8>,
    pub after_sha256: String,
    pub mode: Option<u32>,
}

impl Planned {
    pub(crate) fn change(&self) -> Change {
        Change {
            path: self.live.to_string_lossy().into_owned(),
            rel: self.rel.clone(),
            action: if self.before.is_some() {
                "update"
            } else {
                "create"
            }
            .into(),
            before_sha256: self.before_sha256.clone(),
            after_sha256: self.after_sha256.clone(),
            size_bytes: self.after.len() as u64,
            lines: (self.rel == "memory/MEMORY.md").then(|| {
                super::quality::diff(
                    self.before
                        .as_deref()
                        .map(|b| String::from_utf8_lossy(b))
                        .as_deref(),
                    &String::from_utf8_lossy(&self.after),
                )
            }),
        }
    }
}

pub(crate) enum Applied {
    Done(PathBuf),
    /// A live file changed between the check and the lock: nothing was written.
    Stale(Vec<Rejection>),
    /// An I/O error part-way; everything written was put back.
    RolledBack(PathBuf, String),
}

/// Takes an exclusive lock on `path`, retrying for up to `wait` (`Busy` after that).
pub(crate) fn lock(path: &Path, wait: Duration) -> Result<File> {
    fsutil::lock_wait(path, wait)
}

/// The locks a change set needs, in the documented order: bucket, then skills.
fn take_locks(state_dir: &Path, bucket: &Path, skills: bool, wait: Duration) -> Result<Vec<File>> {
    let mut held = vec![lock(&bucket.join(".lock"), wait)?];
    if skills {
        held.push(lock(&state_dir.join("locks").join("skills.lock"), wait)?);
    }
    Ok(held)
}

fn now() -> String {
    timefmt::format_iso_ms(timefmt::now_ms())
}

fn write_journal(path: &Path, entries: &[JournalEntry]) -> Result<()> {
    let mut bytes = Vec::new();
    for e in entries {
        bytes.extend(serde_json::to_vec(e).map_err(|e| Error::input(e.to_string()))?);
        bytes.push(b'\n');
    }
    fsutil::write_atomic(path, &bytes)
}

/// Gives a written file back the owner's bits it had (an executable stays executable); what
/// csep writes is never readable by others, whatever mode the old file had.
fn set_mode(path: &Path, mode: Option<u32>) {
    if let Some(mode) = mode {
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700));
    }
}

fn remove_empty_dirs(dirs: &[String]) {
    for d in dirs {
        // Fails (and is left alone) when something else lives there now.
        let _ = fs::remove_dir(d);
    }
}

pub(crate) fn apply(
    state_dir: &Path,
    base: &Base,
    planned: &[Planned],
    wait: Duration,
) -> Result<Applied> {
    let skills = planned.iter().any(|p| p.skill);
    let _locks = take_locks(state_dir, &base.bucket, skills, wait)?;

    // The check ran without the locks: the live files must still be what it saw.
    let mut stale = Vec::new();
    for p in planned {
        match live::inspect(&p.root, &p.below)? {
            Live::Unsafe(d) => stale.push(Rejection {
                path: p.rel.clone(),
                reason: Reason::UnsafeLivePath,
                detail: d,
            }),
            l if l.sha256().map(str::to_string) != p.before_sha256 => stale.push(Rejection {
                path: p.rel.clone(),
                reason: Reason::StaleBase,
                detail: "the live file changed while the proposal was being checked".into(),
            }),
            _ => {}
        }
    }
    if !stale.is_empty() {
        return Ok(Applied::Stale(stale));
    }

    let jpath = journal_path(&base.bucket, &base.job_id);
    let at = now();
    let mut claimed = Vec::new();
    let mut entries = Vec::new();
    for p in planned {
        let backup = match &p.before {
            Some(bytes) => {
                let b = backup_path(&base.bucket, &base.job_id, &p.rel);
                fsutil::write_atomic(&b, bytes)?;
                Some(b.to_string_lossy().into_owned())
            }
            None => None,
        };
        let created_dirs = if p.before.is_none() {
            live::dirs_to_create(&p.root, &p.below, &mut claimed)
                .into_iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect()
        } else {
            Vec::new()
        };
        entries.push(JournalEntry {
            kind: "journal_entry".into(),
            job_id: base.job_id.clone(),
            session_id: base.session_id.clone(),
            path: p.live.to_string_lossy().into_owned(),
            rel: p.rel.clone(),
            action: if p.before.is_some() {
                "update"
            } else {
                "create"
            }
            .into(),
            before_sha256: p.before_sha256.clone(),
            after_sha256: Some(p.after_sha256.clone()),
            backup,
            created_dirs,
            at: at.clone(),
        });
    }
    write_journal(&jpath, &entries)?;

    for (i, p) in planned.iter().enumerate() {
        if let Err(e) = fsutil::write_atomic(&p.live, &p.after) {
            let mut rollback = Vec::new();
            for (q, entry) in planned[..i].iter().zip(&entries).rev() {
                let undone = match &q.before {
                    Some(bytes) => {
                        fsutil::write_atomic(&q.live, bytes).map(|_| set_mode(&q.live, q.mode))
                    }
                    None => fs::remove_file(&q.live)
                        .map(|_| remove_empty_dirs(&entry.created_dirs))
                        .map_err(|e| Error::io(q.live.display(), e)),
                };
                if undone.is_ok() {
                    rollback.push(JournalEntry {
                        action: "rollback".into(),
                        before_sha256: Some(q.after_sha256.clone()),
                        after_sha256: q.before_sha256.clone(),
                        backup: None,
                        created_dirs: Vec::new(),
                        at: now(),
                        ..entry.clone()
                    });
                }
            }
            remove_empty_dirs(&entries[i].created_dirs);
            entries.extend(rollback);
            write_journal(&jpath, &entries)?;
            return Ok(Applied::RolledBack(jpath, e.to_string()));
        }
        set_mode(&p.live, p.mode);
    }
    Ok(Applied::Done(jpath))
}

// ---------------------------------------------------------------------------------------
// Undo.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoStatus {
    /// Every change of the job is back to its before-state.
    Undone,
    /// At least one file cannot be put back; nothing was changed.
    Refused,
    /// The job was already undone, or its apply was rolled back.
    NothingToUndo,
}

/// What undo did (or would do) to one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoChange {
    pub path: String,
    pub rel: String,
    /// `restore` (put the before-bytes back), `delete` (the job created the file), or
    /// `already_restored` (the file already has its before-state).
    pub action: String,
    pub before_sha256: Option<String>,
    pub after_sha256: Option<String>,
}

/// Printed by `csep-verify --undo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoReceipt {
    #[serde(rename = "type")]
    pub kind: String,
    pub job_id: String,
    pub status: UndoStatus,
    pub dry_run: bool,
    pub changes: Vec<UndoChange>,
    pub refusals: Vec<Rejection>,
    pub journal: String,
    pub at: String,
}

fn find_journal(state_dir: &Path, job_id: &str) -> Result<PathBuf> {
    let projects = state_dir.join("projects");
    let mut found = Vec::new();
    if let Ok(rd) = fs::read_dir(&projects) {
        for e in rd.flatten() {
            let p = journal_path(&e.path(), job_id);
            if fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
                found.push(p);
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::input(format!(
            "no journal for job {job_id} under {}",
            projects.display()
        ))),
        _ => Err(Error::input(format!(
            "job {job_id} has journals in several buckets: {found:?}"
        ))),
    }
}

/// Puts back the before-state of every change job `job_id` applied, when each live file still
/// carries the job's after-hash (or already has its before-state). Otherwise refuses, naming
/// each file, and changes nothing. The undo is journalled.
pub fn undo(state_dir: &Path, job_id: &str, dry_run: bool, wait: Duration) -> Result<UndoReceipt> {
    if !valid_job_id(job_id) {
        return Err(Error::usage(format!("{job_id:?} is not a job id")));
    }
    let jpath = find_journal(state_dir, job_id)?;
    let bucket = jpath
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| Error::input("journal outside a bucket"))?
        .to_path_buf();
    let mut r = UndoReceipt {
        kind: "undo_receipt".into(),
        job_id: job_id.to_string(),
        status: UndoStatus::Undone,
        dry_run,
        changes: Vec::new(),
        refusals: Vec::new(),
        journal: jpath.to_string_lossy().into_owned(),
        at: now(),
    };
    let read = |path: &Path| -> Result<Vec<JournalEntry>> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
        // Lenient: a line that is not a journal entry is skipped.
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<JournalEntry>(l).ok())
            .filter(|e| e.kind == "journal_entry" && e.job_id == job_id)
            .collect())
    };
    let entries = read(&jpath)?;
    let skills = entries.iter().any(|e| e.rel.starts_with("skills/"));
    let _locks = if dry_run {
        Vec::new()
    } else {
        take_locks(state_dir, &bucket, skills, wait)?
    };
    // Re-read under the lock: another undo may have just finished.
    let entries = if dry_run { entries } else { read(&jpath)? };
    if entries
        .iter()
        .any(|e| e.action == "undo" || e.action == "rollback")
    {
        r.status = UndoStatus::NothingToUndo;
        return Ok(r);
    }
    let applied: Vec<&JournalEntry> = entries
        .iter()
        .filter(|e| e.action == "create" || e.action == "update")
        .collect();

    // Check everything first.
    struct Step<'a> {
        entry: &'a JournalEntry,
        restore: Option<Vec<u8>>,
        mode: Option<u32>,
        done: bool,
    }
    let mut steps = Vec::new();
    for e in &applied {
        let mut refuse = |reason: Reason, detail: String| {
            r.refusals.push(Rejection {
                path: e.path.clone(),
                reason,
                detail,
            })
        };
        let live_path = PathBuf::from(&e.path);
        let Some((_, below)) = split_rel(&e.rel) else {
            refuse(
                Reason::UnexpectedFile,
                format!("journal names {:?}, not a proposal path", e.rel),
            );
            continue;
        };
        let depth = below.split('/').count();
        let root = live_path.ancestors().nth(depth).map(Path::to_path_buf);
        let Some(root) = root.filter(|root| root.join(below) == live_path) else {
            refuse(
                Reason::UnexpectedFile,
                format!("{} does not end in {below}", e.path),
            );
            continue;
        };
        let state = live::inspect(&root, below)?;
        if let Live::Unsafe(d) = &state {
            refuse(Reason::UnsafeLivePath, d.clone());
            continue;
        }
        let now = state.sha256().map(str::to_string);
        if now == e.before_sha256 {
            steps.push(Step {
                entry: e,
                restore: None,
                mode: None,
                done: true,
            });
            continue;
        }
        if now != e.after_sha256 {
            refuse(
                Reason::ChangedSinceApply,
                format!(
                    "{} changed after job {job_id} wrote it (now {}); undo it by hand",
                    e.path,
                    now.as_deref()
                        .map_or("absent".to_string(), |h| format!("sha256 {h}"))
                ),
            );
            continue;
        }
        let restore = match (&e.before_sha256, &e.backup) {
            (None, _) => None,
            (Some(want), Some(b)) => match fs::read(b) {
                Ok(bytes) if &sha256_hex(&bytes) == want => Some(bytes),
                Ok(_) => {
                    refuse(
                        Reason::BackupMissing,
                        format!("{b} does not hash as recorded"),
                    );
                    continue;
                }
                Err(err) => {
                    refuse(Reason::BackupMissing, format!("{b}: {err}"));
                    continue;
                }
            },
            (Some(_), None) => {
                refuse(
                    Reason::BackupMissing,
                    "the journal has no backup for this update".into(),
                );
                continue;
            }
        };
        let mode = match &state {
            Live::File { mode, .. } => Some(*mode),
            _ => None,
        };
        steps.push(Step {
            entry: e,
            restore,
            mode,
            done: false,
        });
    }
    for s in &steps {
        r.changes.push(UndoChange {
            path: s.entry.path.clone(),
            rel: s.entry.rel.clone(),
            action: if s.done {
                "already_restored"
            } else if s.entry.before_sha256.is_none() {
                "delete"
            } else {
                "restore"
            }
            .into(),
            before_sha256: s.entry.after_sha256.clone(),
            after_sha256: s.entry.before_sha256.clone(),
        });
    }
    if !r.refusals.is_empty() {
        r.status = UndoStatus::Refused;
        r.changes.clear();
        return Ok(r);
    }
    if dry_run {
        return Ok(r);
    }

    // Then apply, newest change first.
    let mut journal = entries.clone();
    for s in steps.iter().rev() {
        if s.done {
            continue;
        }
        let path = Path::new(&s.entry.path);
        match &s.restore {
            Some(bytes) => {
                fsutil::write_atomic(path, bytes)?;
                set_mode(path, s.mode);
            }
            None => {
                fs::remove_file(path).map_err(|e| Error::io(path.display(), e))?;
                remove_empty_dirs(&s.entry.created_dirs);
            }
        }
        journal.push(JournalEntry {
            action: "undo".into(),
            before_sha256: s.entry.after_sha256.clone(),
            after_sha256: s.entry.before_sha256.clone(),
            backup: None,
            created_dirs: Vec::new(),
            at: now(),
            ..s.entry.clone()
        });
    }
    if !steps.iter().any(|s| !s.done) {
        // Every file already had its before-state: record that the job is undone.
        if let Some(s) = steps.first() {
            journal.push(JournalEntry {
                action: "undo".into(),
                before_sha256: s.entry.before_sha256.clone(),
                after_sha256: s.entry.before_sha256.clone(),
                backup: None,
                created_dirs: Vec::new(),
                at: now(),
                ..s.entry.clone()
            });
        }
    }
    write_journal(&jpath, &journal)?;
    // What the ledger knew about lines this job added goes with them (still under the lock).
    crate::memory::ledger::prune(&bucket);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs2::FileExt;
    use std::collections::BTreeMap;

    fn base(dir: &Path) -> Base {
        Base {
            kind: Some("reflect_base".into()),
            job_id: "job-1".into(),
            session_id: Some("s".into()),
            repo_root: None,
            bucket: dir.join("state/projects/-r"),
            skills_dir: dir.join("skills"),
            skill_prefix: "csep-reflect-".into(),
            memory_max_chars: 8000,
            files: BTreeMap::new(),
            created_at: None,
            mode: None,
        }
    }

    fn planned(b: &Base) -> Planned {
        Planned {
            rel: "memory/MEMORY.md".into(),
            below: "memory/MEMORY.md".into(),
            root: b.bucket.clone(),
            live: b.bucket.join("memory/MEMORY.md"),
            skill: false,
            before: None,
            before_sha256: None,
            after: b"- new\n".to_vec(),
            after_sha256: sha256_hex(b"- new\n"),
            mode: None,
        }
    }

    #[test]
    fn a_held_bucket_lock_is_busy_and_nothing_is_written() {
        let d = tempfile::tempdir().unwrap();
        let b = base(d.path());
        fs::create_dir_all(&b.bucket).unwrap();
        let held = fsutil::open_lock_file(&b.bucket.join(".lock")).unwrap();
        held.try_lock_exclusive().unwrap();
        let state = d.path().join("state");
        let err = match apply(&state, &b, &[planned(&b)], Duration::from_millis(50)) {
            Err(e) => e,
            Ok(_) => panic!("applied under someone else's lock"),
        };
        assert_eq!(err.kind, crate::error::ErrorKind::Busy);
        assert!(!b.bucket.join("memory").exists());
        assert!(!journal_path(&b.bucket, &b.job_id).exists());
    }

    #[test]
    fn a_live_change_after_the_check_is_stale_under_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let b = base(d.path());
        // The check saw no MEMORY.md; one appeared before the lock was taken.
        fsutil::write_atomic(&b.bucket.join("memory/MEMORY.md"), b"- mine\n").unwrap();
        let state = d.path().join("state");
        match apply(&state, &b, &[planned(&b)], Duration::from_secs(1)).unwrap() {
            Applied::Stale(r) => assert_eq!(r[0].reason, Reason::StaleBase),
            _ => panic!("not stale"),
        }
        assert_eq!(
            fs::read(b.bucket.join("memory/MEMORY.md")).unwrap(),
            b"- mine\n"
        );
        assert!(!journal_path(&b.bucket, &b.job_id).exists());
    }
}
