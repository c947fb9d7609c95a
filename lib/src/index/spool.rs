//! The archive spool: hook payloads queued maildir-style under `spool/archive/`
//! (`tmp/` → `new/` → `cur/` → deleted once indexed, or `failed/`). One drainer at a time holds
//! `spool/archive/.lock` (try-lock: a second drainer is told "busy" and consumes nothing).
//! Anything left in `cur/` belongs to a drainer that died, and is retried first.

use crate::archive::Caps;
use crate::error::{Error, Result};
use crate::wire::Agent;
use fs2::FileExt;
use rusqlite::Connection;
use serde::Serialize;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

pub const QUEUE_DIRS: &[&str] = &["tmp", "new", "cur", "failed"];

/// The queue directory for `name` under the state dir.
pub fn queue_dir(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("spool").join(name)
}

/// Holds the queue's lock until dropped. The lock file itself is never deleted.
pub struct QueueLock {
    _file: File,
}

pub fn try_lock(queue: &Path) -> Result<QueueLock> {
    for d in QUEUE_DIRS {
        crate::fsutil::create_dir_private(&queue.join(d))?;
    }
    let path = queue.join(".lock");
    let file = crate::fsutil::open_lock_file(&path)?;
    file.try_lock_exclusive()
        .map_err(|_| Error::busy(format!("{} is held by another drainer", path.display())))?;
    Ok(QueueLock { _file: file })
}

#[derive(Debug, Default, Serialize)]
pub struct DrainSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub items: u64,
    pub done: u64,
    pub failed: u64,
    pub messages: u64,
    pub new_sessions: u64,
    pub updated_sessions: u64,
    /// Transcripts of forgotten sessions (`csep recall forget`), skipped.
    pub forgotten_sessions: u64,
    /// Payloads put back into `new/` because the index stayed busy (a long forget or
    /// backfill held it): the drain stopped there, and the next drainer takes them.
    #[serde(skip_serializing_if = "is_zero")]
    pub requeued: u64,
    /// Why each failed item failed (it stays in `failed/`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<super::FileError>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn transcript_of(payload: &serde_json::Value) -> (Option<PathBuf>, Option<Agent>) {
    let inner = payload.get("payload").unwrap_or(payload);
    let path = inner
        .get("transcript_path")
        .and_then(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let agent = payload
        .get("agent")
        .and_then(|a| a.as_str())
        .and_then(Agent::parse);
    (path, agent)
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Claude Code writes a turn's last transcript line up to ~1.5 s after its Stop hook runs; a
/// Stop payload younger than this waits before its transcript is read. Nothing is lost either
/// way (the next Stop or SessionEnd reads the rest), this only makes recall current sooner.
const CLAUDE_SETTLE_MS: i64 = 500;

fn settle(payload: &serde_json::Value) {
    if payload.get("agent").and_then(|a| a.as_str()) != Some("claude") {
        return;
    }
    if let Some(received) = payload.get("received_ms").and_then(|v| v.as_i64()) {
        let wait = received + CLAUDE_SETTLE_MS - crate::timefmt::now_ms();
        if wait > 0 {
            std::thread::sleep(std::time::Duration::from_millis(
                wait.min(CLAUDE_SETTLE_MS) as u64
            ));
        }
    }
}

/// Whether `spool/<name>/new/` holds anything.
pub fn has_new(state_dir: &Path, name: &str) -> bool {
    fs::read_dir(queue_dir(state_dir, name).join("new"))
        .map(|mut rd| rd.next().is_some())
        .unwrap_or(false)
}

/// Drains `spool/archive`: each payload's transcript is indexed incrementally, and
/// `on_indexed` sees each payload whose transcript was indexed (the drainer runs the trigger
/// there).
pub fn drain_archive(
    conn: &mut Connection,
    state_dir: &Path,
    caps: Caps,
    on_indexed: &mut dyn FnMut(&serde_json::Value),
) -> Result<DrainSummary> {
    let queue = queue_dir(state_dir, "archive");
    let _lock = try_lock(&queue)?;
    let mut summary = DrainSummary {
        kind: "drain_summary",
        ..Default::default()
    };
    let mut items = sorted_entries(&queue.join("cur"));
    for p in sorted_entries(&queue.join("new")) {
        let Some(name) = p.file_name() else { continue };
        let claimed = queue.join("cur").join(name);
        if fs::rename(&p, &claimed).is_ok() {
            items.push(claimed);
        }
    }
    let mut items = items.into_iter();
    while let Some(item) = items.next() {
        summary.items += 1;
        let outcome = fs::read(&item)
            .map_err(|e| Error::io(item.display(), e))
            .and_then(|b| {
                serde_json::from_slice::<serde_json::Value>(&b)
                    .map_err(|e| Error::input(format!("{}: {e}", item.display())))
            })
            .and_then(|payload| match transcript_of(&payload) {
                (None, _) => Ok(None),
                (Some(path), agent) => {
                    settle(&payload);
                    let s = super::index_paths(conn, &[path], agent, caps, &mut |_| {})?;
                    // A forgotten session is not reviewed either: the trigger would keep
                    // state about it.
                    if s.error_count == 0 && s.forgotten_sessions == 0 {
                        on_indexed(&payload);
                    }
                    Ok(Some(s))
                }
            });
        if let Err(e) = &outcome {
            if e.kind == crate::ErrorKind::Busy {
                // Not this payload's fault: it and every payload not yet looked at go back
                // to new/ for the next drainer, instead of into failed/.
                for waiting in std::iter::once(item).chain(items.by_ref()) {
                    if let Some(name) = waiting.file_name() {
                        if fs::rename(&waiting, queue.join("new").join(name)).is_ok() {
                            summary.requeued += 1;
                        }
                    }
                }
                summary.items -= 1;
                break;
            }
        }
        let failure = match outcome {
            Ok(Some(s)) => {
                summary.messages += s.messages;
                summary.new_sessions += s.new_sessions;
                summary.updated_sessions += s.updated_sessions;
                summary.forgotten_sessions += s.forgotten_sessions;
                s.errors
                    .first()
                    .map(|e| format!("{}: {}", e.path, e.message))
            }
            Ok(None) => None,
            Err(e) => Some(e.message),
        };
        // A payload can quote the conversation (`last_assistant_message`), so a processed one
        // is deleted rather than kept; a failed one stays in failed/ for a person to look at.
        match failure {
            None => {
                let _ = fs::remove_file(&item);
                summary.done += 1;
            }
            Some(message) => {
                let kept = item
                    .file_name()
                    .map(|n| queue.join("failed").join(n))
                    .unwrap_or_else(|| item.clone());
                let _ = fs::rename(&item, &kept);
                let mut e = super::FileError::new(&item, &message);
                e.path = kept.display().to_string();
                summary.errors.push(e);
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}
