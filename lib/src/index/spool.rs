//! The archive spool: hook payloads queued maildir-style under `spool/archive/`
//! (`tmp/` → `new/` → `cur/` → deleted once indexed, or `failed/`). One drainer at a time holds
//! `spool/archive/.lock` (tried for a quarter second, past a `csep status` look: a second
//! drainer is then told "busy" and consumes nothing).
//! Anything left in `cur/` belongs to a drainer that died, and is retried first.
//!
//! Faults lose nothing: a payload that cannot be indexed because of the environment (a full
//! disk, a read-only or damaged index, an I/O error, a busy database; `Error::fault`) goes
//! back to `new/` with a [`Retry`] record written into it (attempts, why, when next), and only
//! a payload that is bad in itself goes to `failed/`, with a `<name>.reason.json` beside it.

use crate::archive::Caps;
use crate::error::{Error, Result};
use crate::fsutil::Patience;
use crate::spool::{is_hidden, Maildir};
use crate::wire::{Agent, ArchiveRequest, Event};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

pub const QUEUE_DIRS: &[&str] = &["tmp", "new", "cur", "failed"];

pub use crate::spool::queue_dir;

/// `spool/<name>/` as a queue with the archive queue's directories.
fn maildir(state_dir: &Path, name: &str) -> Maildir {
    Maildir::new(state_dir, name, QUEUE_DIRS)
}

/// Holds the queue's lock until dropped. The lock file itself is never deleted.
pub struct QueueLock {
    _file: std::fs::File,
}

pub fn try_lock(queue: &Path) -> Result<QueueLock> {
    let file = Maildir::at(queue.to_path_buf(), QUEUE_DIRS)
        .lock(Patience::PAST_A_LOOK, "another drainer")?;
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
    /// Payloads put back into `new/` after a fault of the environment, with a `retry` record.
    #[serde(skip_serializing_if = "is_zero")]
    pub retrying: u64,
    /// Payloads left in `new/` to wait out their backoff (not tried; not counted in `items`).
    #[serde(skip_serializing_if = "is_zero")]
    pub waiting: u64,
    /// The last fault met (`disk_full`, `read_only`, …) and what it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_message: Option<String>,
    /// Why each failed item failed (it stays in `failed/`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<super::FileError>,
    /// The names this drain put back into `new/` (so a second look skips them).
    #[serde(skip)]
    pub put_back: HashSet<OsString>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn transcript_of(request: &ArchiveRequest) -> (Option<PathBuf>, Option<Agent>) {
    (
        request.transcript_path().map(PathBuf::from),
        request.agent(),
    )
}

/// The payloads in one queue directory, oldest first. Hidden names are temporary files of an
/// atomic rewrite (a dead drainer's), never payloads.
fn sorted_entries(queue: &Maildir, sub: &str) -> Vec<PathBuf> {
    let mut v = queue.files(sub);
    v.retain(|p| !is_hidden(p));
    v
}

/// Claude Code writes a turn's last transcript line up to ~1.5 s after its Stop hook runs; a
/// Stop payload younger than this waits before its transcript is read. Nothing is lost either
/// way (the next Stop or SessionEnd reads the rest), this only makes recall current sooner.
const SETTLE_MS: i64 = 500;

/// How long a payload waits at most for a host to finish writing what its hook announced:
/// a host killed meanwhile never does, and what is there is read then.
const FINISH_MS: i64 = 5_000;

/// How much earlier than its Stop hook reached csep a turn's answer may be stamped (the
/// host stamps it, then runs the hook, which starts csep): older is an earlier turn's.
const ANSWER_BEFORE_HOOK_MS: i64 = 2_000;

/// Waits, for the hosts that write after their hook, until the transcript holds what the
/// hook announced (read as soon as it does):
/// - Qwen Code 0.24.4 can run Stop before the turn's records are in its chat, and a `qwen -p`
///   run fires no SessionEnd after it (tests/csep/e2e_qwen.rs lost the answer under load, even
///   after a fixed 0.5 s): until the newest record is this turn's answer.
/// - Copilot CLI 1.0.102 writes a resumed run's events only as it shuts down, after its
///   `sessionEnd` hook (tests/csep/e2e_copilot.rs lost the second prompt's answer): a
///   SessionEnd waits for the run's `session.shutdown` event.
fn settle(request: &ArchiveRequest, transcript: &Path) {
    let Some(received) = request.received_ms() else {
        return;
    };
    let now = crate::timefmt::now_ms;
    let wait_for = |done: &dyn Fn() -> bool| {
        let deadline = received + FINISH_MS;
        while transcript.is_file() && !done() && now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(
                (deadline - now()).clamp(1, 50) as u64,
            ));
        }
    };
    match request.agent() {
        Some(Agent::Claude) => {
            let wait = received + SETTLE_MS - now();
            if wait > 0 {
                std::thread::sleep(std::time::Duration::from_millis(wait.min(SETTLE_MS) as u64));
            }
        }
        Some(Agent::Qwen) => wait_for(&|| {
            crate::archive::qwen::turn_answered(transcript, received - ANSWER_BEFORE_HOOK_MS)
        }),
        Some(Agent::Copilot)
            if request.top_str("event").map(Event::parse) == Some(Event::SessionEnd) =>
        {
            wait_for(&|| crate::archive::copilot::shut_down_since(transcript, received))
        }
        _ => {}
    }
}

/// Whether `spool/<name>/new/` holds anything.
pub fn has_new(state_dir: &Path, name: &str) -> bool {
    has_new_besides(state_dir, name, &HashSet::new())
}

/// Whether `spool/<name>/new/` holds anything but `known` (what a drainer itself put back).
pub fn has_new_besides(state_dir: &Path, name: &str, known: &HashSet<OsString>) -> bool {
    maildir(state_dir, name).has_besides("new", known)
}

/// Whether `spool/<name>/cur/` holds anything (a dead consumer's items).
pub fn has_cur(state_dir: &Path, name: &str) -> bool {
    !sorted_entries(&maildir(state_dir, name), "cur").is_empty()
}

/// How often a payload is retried on its own schedule after a fault; after that only a
/// payload indexed in the same drain (proof the fault has cleared) or a person's
/// `csep drain` sends it round again. It is never dropped.
pub const MAX_RETRIES: u32 = 10;
const BACKOFF_FIRST_MS: i64 = 10_000;
const BACKOFF_MAX_MS: i64 = 15 * 60_000;

/// The wait after `attempts` failed attempts: 10 s, doubling, at most 15 minutes.
pub fn backoff_ms(attempts: u32) -> i64 {
    (BACKOFF_FIRST_MS << attempts.saturating_sub(1).min(16)).min(BACKOFF_MAX_MS)
}

/// Why a queued payload is back in `new/`: the `retry` field the drainer writes into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    /// Failed attempts so far.
    pub attempts: u32,
    /// What failed: `disk_full`, `read_only`, `permission_denied`, `io_error`,
    /// `damaged_index`, `busy` (see `Fault`).
    pub fault: String,
    pub last_error: String,
    pub last_attempt_ms: i64,
    /// A drainer a hook starts leaves the payload alone until then.
    pub next_attempt_ms: i64,
}

impl Retry {
    /// Read from a queued payload; `None` when it has never failed.
    pub fn of(payload: &Value) -> Option<Retry> {
        serde_json::from_value(payload.get("retry")?.clone()).ok()
    }
    /// Read from a queued request; `None` when it has never failed.
    pub fn in_request(request: &ArchiveRequest) -> Option<Retry> {
        serde_json::from_value(request.raw().get("retry")?.clone()).ok()
    }
    /// Whether a drainer started by a hook should try it now.
    pub fn due(&self, now_ms: i64) -> bool {
        self.attempts < MAX_RETRIES && self.next_attempt_ms <= now_ms
    }
}

/// What `failed/<stem>.reason.json` says about the payload beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureNote {
    #[serde(rename = "type")]
    pub kind: String,
    /// The payload's file name in `failed/`.
    pub payload: String,
    /// `unreadable`, `not_json`, `not_an_object`, `transcript_missing`,
    /// `transcript_unreadable`, `index_error`.
    pub reason: String,
    pub message: String,
    pub failed_at: String,
    /// Earlier attempts that failed for a fault of the environment.
    pub attempts: u32,
}

/// The reason file kept beside the failed payload `payload` (a path in `failed/`).
pub fn reason_path(payload: &Path) -> PathBuf {
    let name = payload
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    payload.with_file_name(format!("{stem}.reason.json"))
}

/// Whether `path` (in `failed/`) is a reason file rather than a payload.
pub fn is_reason_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".reason.json"))
}

/// How a drain treats payloads waiting out a backoff.
#[derive(Debug, Clone, Copy, Default)]
pub struct DrainOptions {
    /// Try every payload now (a person's `csep drain`, `csep-index --spool`). Without it (the
    /// drainer a hook starts) a payload is tried when its backoff has passed, or once another
    /// payload has been indexed in the same drain.
    pub now: bool,
}

/// How one payload's attempt ended.
enum Verdict {
    /// Indexed (or nothing to index): the payload is deleted.
    Done { indexed: bool },
    /// The environment failed: back to `new/` with a retry record.
    Fault(Error),
    /// Bad in itself: to `failed/`, with a reason.
    Bad(&'static str, String),
}

/// One payload: parse, index its transcript, run `on_indexed`.
fn attempt(
    conn: &mut Connection,
    payload: Option<&ArchiveRequest>,
    caps: Caps,
    summary: &mut DrainSummary,
    on_indexed: &mut dyn FnMut(&ArchiveRequest) -> Result<()>,
) -> Verdict {
    let Some(payload) = payload else {
        return Verdict::Bad("not_an_object", "the payload is not a JSON object".into());
    };
    let (path, agent) = transcript_of(payload);
    let indexed = match (path, agent) {
        (Some(path), _) => {
            settle(payload, &path);
            super::index_paths(conn, std::slice::from_ref(&path), agent, caps, &mut |_| {})
                .map(|s| (s, path))
        }
        // OpenCode keeps every session in one store, and its hook names no file: the drain
        // reads the store's new rows (the reader is incremental).
        (None, Some(Agent::OpenCode)) => match crate::paths::history_root(Agent::OpenCode) {
            Some(root) if root.is_dir() => {
                let opts = super::BackfillOptions {
                    agent: Agent::OpenCode,
                    root: root.clone(),
                    since_days: None,
                    limit_files: None,
                    caps,
                    threads: 1,
                };
                super::backfill(conn, &opts, &mut |_| {}).map(|s| (s, root))
            }
            _ => return Verdict::Done { indexed: false },
        },
        (None, _) => return Verdict::Done { indexed: false },
    };
    let (s, path) = match indexed {
        Ok(x) => x,
        Err(e) if e.fault().is_some() => return Verdict::Fault(e),
        Err(e) => return Verdict::Bad("index_error", e.message),
    };
    if let Some(e) = s.errors.first() {
        let message = format!("{}: {}", e.path, e.message);
        return match e.fault {
            // A transcript this user may not read (written under `sudo`, say) is the
            // payload's problem, not the environment's: waiting does not fix it.
            Some(crate::Fault::Permission)
                if fs::File::open(&path)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied) =>
            {
                Verdict::Bad("transcript_unreadable", message)
            }
            Some(f) => {
                Verdict::Fault(Error::new(crate::ErrorKind::Io, message).with_fault(Some(f)))
            }
            None if !path.exists() => Verdict::Bad("transcript_missing", message),
            None => Verdict::Bad("transcript_unreadable", message),
        };
    }
    summary.messages += s.messages;
    summary.new_sessions += s.new_sessions;
    summary.updated_sessions += s.updated_sessions;
    summary.forgotten_sessions += s.forgotten_sessions;
    // A forgotten session is not reviewed either: the trigger would keep state about it.
    if s.forgotten_sessions == 0 {
        // The trigger's own faults (its state cannot be saved) keep the payload queued
        // too: indexing it again is a no-op, and the trigger then runs.
        // A trigger lock held too long is not a fault worth a retry: the next Stop's trigger
        // counts these messages anyway (it counts from its watermark in the index).
        if let Err(e) = on_indexed(payload) {
            if e.fault().is_some_and(|f| f != crate::Fault::Busy) {
                return Verdict::Fault(e);
            }
        }
    }
    Verdict::Done { indexed: true }
}

/// Puts a claimed payload back into `new/`; with `fault`, first records it in the payload's
/// `retry` field (best effort: on a disk too full even for that, the payload goes back as it
/// was, and is still never lost).
fn put_back(
    queue: &Path,
    item: &Path,
    payload: Option<&mut ArchiveRequest>,
    fault: Option<&Error>,
    summary: &mut DrainSummary,
) {
    if let (Some(request), Some(e)) = (payload, fault) {
        let map = request.raw_mut();
        let now = crate::timefmt::now_ms();
        let attempts = map
            .get("retry")
            .and_then(|r| serde_json::from_value::<Retry>(r.clone()).ok())
            .map_or(0, |r| r.attempts)
            + 1;
        let retry = Retry {
            attempts,
            fault: e.fault().map_or("unknown", |f| f.as_str()).to_string(),
            last_error: e.message.clone(),
            last_attempt_ms: now,
            next_attempt_ms: now + backoff_ms(attempts),
        };
        if let Ok(v) = serde_json::to_value(&retry) {
            map.insert("retry".into(), v);
        }
        if let Ok(bytes) = serde_json::to_vec(&map) {
            let _ = crate::fsutil::write_atomic(item, &bytes);
        }
    }
    if let Some(name) = item.file_name() {
        if fs::rename(item, queue.join("new").join(name)).is_ok() {
            summary.put_back.insert(name.to_os_string());
        }
    }
}

/// Moves a payload that is bad in itself to `failed/`, with `<stem>.reason.json` beside it.
fn fail(
    queue: &Path,
    item: &Path,
    payload: Option<&ArchiveRequest>,
    reason: &str,
    message: String,
    summary: &mut DrainSummary,
) {
    // Gone meanwhile (removed by hand): nothing to keep, nothing to explain.
    if !item.exists() {
        return;
    }
    let kept = item
        .file_name()
        .map(|n| queue.join("failed").join(n))
        .unwrap_or_else(|| item.to_path_buf());
    let note = FailureNote {
        kind: "spool_failure".into(),
        payload: kept
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        reason: reason.into(),
        message: message.clone(),
        failed_at: crate::timefmt::format_iso_ms(crate::timefmt::now_ms()),
        attempts: payload
            .and_then(Retry::in_request)
            .map_or(0, |r| r.attempts),
    };
    // The reason goes first: a payload in failed/ always has one, unless the disk is full.
    if let Ok(mut bytes) = serde_json::to_vec_pretty(&note) {
        bytes.push(b'\n');
        let _ = crate::fsutil::write_atomic(&reason_path(&kept), &bytes);
    }
    let _ = fs::rename(item, &kept);
    let mut e = super::FileError::new(item, &message);
    e.path = kept.display().to_string();
    summary.errors.push(e);
    summary.failed += 1;
}

/// Drains `spool/archive`, writing into the index at `db` (opened only once there is work):
/// each payload's transcript is indexed incrementally, and `on_indexed` sees each payload
/// whose transcript was indexed (the drainer runs the trigger there; a fault it returns keeps
/// the payload queued).
///
/// `Err` only when the queue is held by another drainer (`Busy`), or the index cannot be
/// opened for a reason that is not a fault (a schema from a newer csep): everything claimed
/// is then back in `new/`.
pub fn drain_archive(
    db: &Path,
    state_dir: &Path,
    caps: Caps,
    opts: DrainOptions,
    on_indexed: &mut dyn FnMut(&ArchiveRequest) -> Result<()>,
) -> Result<DrainSummary> {
    let mq = maildir(state_dir, "archive");
    let _lock = mq.lock(Patience::PAST_A_LOOK, "another drainer")?;
    let queue = mq.dir().to_path_buf();
    let mut summary = DrainSummary {
        kind: "drain_summary",
        ..Default::default()
    };
    let mut items = sorted_entries(&mq, "cur");
    for p in sorted_entries(&mq, "new") {
        if let Some(claimed) = mq.claim(&p) {
            items.push(claimed);
        }
    }
    // Read each payload once; sort those waiting out a backoff behind the rest.
    let now = crate::timefmt::now_ms();
    let mut due = Vec::new();
    let mut waiting = Vec::new();
    for item in items {
        let parsed = fs::read(&item)
            .map_err(|e| Error::io(item.display(), e))
            // Parsed here, once: the index and the trigger read the same request.
            .map(|b| serde_json::from_slice::<Value>(&b).map(ArchiveRequest::read));
        match parsed {
            Err(e) => due.push((item, Err(e))),
            Ok(Err(e)) => due.push((item, Ok(Err(e)))),
            Ok(Ok(v)) => {
                let retry = v.as_ref().and_then(Retry::in_request);
                if opts.now || retry.is_none_or(|r| r.due(now)) {
                    due.push((item, Ok(Ok(v))));
                } else {
                    waiting.push((item, Ok(Ok(v))));
                }
            }
        }
    }
    let mut conn: Option<Connection> = None;
    let mut indexed_any = false;
    let mut queue_items: std::collections::VecDeque<_> = due.into();
    let mut waiting_tried = false;
    loop {
        let Some((item, parsed)) = queue_items.pop_front() else {
            // A payload indexed now is proof the fault has cleared: the waiting ones go too.
            if indexed_any && !waiting_tried && !waiting.is_empty() {
                waiting_tried = true;
                queue_items.extend(waiting.drain(..));
                continue;
            }
            break;
        };
        summary.items += 1;
        let mut payload = match parsed {
            // The file could not be read: a fault keeps it, anything else (it vanished)
            // leaves nothing to keep.
            Err(e) if e.fault().is_some() => {
                record_fault(&mut summary, &e, true);
                put_back(&queue, &item, None, None, &mut summary);
                continue;
            }
            Err(e) => {
                fail(&queue, &item, None, "unreadable", e.message, &mut summary);
                continue;
            }
            Ok(Err(e)) => {
                fail(
                    &queue,
                    &item,
                    None,
                    "not_json",
                    format!("not JSON: {e}"),
                    &mut summary,
                );
                continue;
            }
            Ok(Ok(v)) => v,
        };
        if conn.is_none() {
            match super::db::open_rw(db) {
                Ok(c) => conn = Some(c),
                Err(e) if e.fault().is_some() && e.kind != crate::ErrorKind::Busy => {
                    record_fault(&mut summary, &e, true);
                    put_back(&queue, &item, payload.as_mut(), Some(&e), &mut summary);
                    continue;
                }
                Err(e) => {
                    // Not this payload's fault, nor one a retry record would explain: all of
                    // them go back untouched for the next drainer.
                    let before = summary.put_back.len();
                    put_back(&queue, &item, None, None, &mut summary);
                    for (rest, _) in queue_items.drain(..).chain(waiting.drain(..)) {
                        put_back(&queue, &rest, None, None, &mut summary);
                    }
                    summary.items -= 1;
                    if e.kind == crate::ErrorKind::Busy {
                        summary.requeued = (summary.put_back.len() - before) as u64;
                        return Ok(summary);
                    }
                    return Err(e);
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match attempt(c, payload.as_ref(), caps, &mut summary, on_indexed) {
            Verdict::Done { indexed } => {
                // A payload can quote the conversation, so a processed one is deleted.
                let _ = fs::remove_file(&item);
                summary.done += 1;
                indexed_any |= indexed;
            }
            Verdict::Fault(e) if e.fault() == Some(crate::Fault::Busy) => {
                // The index stayed busy past its wait (a long forget): it and every payload
                // not yet looked at go back to new/ for the next drainer, and the drain stops.
                let before = summary.put_back.len();
                put_back(&queue, &item, payload.as_mut(), Some(&e), &mut summary);
                for (rest, _) in queue_items.drain(..).chain(waiting.drain(..)) {
                    put_back(&queue, &rest, None, None, &mut summary);
                }
                summary.requeued += (summary.put_back.len() - before) as u64;
                summary.items -= 1;
                record_fault(&mut summary, &e, false);
                break;
            }
            Verdict::Fault(e) => {
                record_fault(&mut summary, &e, true);
                put_back(&queue, &item, payload.as_mut(), Some(&e), &mut summary);
            }
            Verdict::Bad(reason, message) => {
                fail(
                    &queue,
                    &item,
                    payload.as_ref(),
                    reason,
                    message,
                    &mut summary,
                );
            }
        }
    }
    for (item, _) in waiting {
        put_back(&queue, &item, None, None, &mut summary);
        summary.waiting += 1;
    }
    Ok(summary)
}

fn record_fault(summary: &mut DrainSummary, e: &Error, retrying: bool) {
    if retrying {
        summary.retrying += 1;
    }
    summary.fault = e.fault().map(|f| f.as_str().to_string());
    summary.fault_message = Some(e.message.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_a_retry_is_due_only_within_the_bound() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(4), 80_000);
        assert_eq!(backoff_ms(8), BACKOFF_MAX_MS);
        assert_eq!(backoff_ms(u32::MAX), BACKOFF_MAX_MS);
        let r = |attempts, next_attempt_ms| Retry {
            attempts,
            fault: "disk_full".into(),
            last_error: "x".into(),
            last_attempt_ms: 0,
            next_attempt_ms,
        };
        assert!(r(1, 100).due(100));
        assert!(!r(1, 101).due(100));
        assert!(!r(MAX_RETRIES, 0).due(100));
        let v = serde_json::json!({"type": "archive_request", "retry": r(3, 5)});
        assert_eq!(Retry::of(&v), Some(r(3, 5)));
        assert_eq!(Retry::of(&serde_json::json!({})), None);
    }

    /// A drainer a hook has just started finds `csep status` (or a test) looking at the
    /// queue's lock: it waits that instant out instead of leaving the Stop queued until the
    /// next hook (a full run of the suite beside two others lost one this way).
    #[test]
    fn a_look_at_the_lock_does_not_turn_a_new_drainer_away() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        let queue = queue_dir(state, "archive");
        drop(try_lock(&queue).unwrap());
        let looker = crate::fsutil::open_lock_file(&maildir(state, "archive").lock_path()).unwrap();
        fs2::FileExt::try_lock_shared(&looker).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            fs2::FileExt::unlock(&looker).unwrap();
        });
        let s = drain_archive(
            &state.join("index/recall.sqlite3"),
            state,
            Caps::default(),
            DrainOptions::default(),
            &mut |_| Ok(()),
        );
        assert!(s.is_ok(), "{:?}", s.err());
        release.join().unwrap();
        // One that keeps it is still told "busy".
        let held = try_lock(&queue).unwrap();
        let e = try_lock(&queue).err().unwrap();
        assert_eq!(e.kind, crate::error::ErrorKind::Busy);
        drop(held);
    }

    #[test]
    fn a_reason_file_sits_beside_its_payload_and_is_not_one() {
        let p = Path::new("/s/spool/archive/failed/1795.3.0.json");
        assert_eq!(
            reason_path(p),
            Path::new("/s/spool/archive/failed/1795.3.0.reason.json")
        );
        assert!(is_reason_file(&reason_path(p)));
        assert!(!is_reason_file(p));
    }
}
