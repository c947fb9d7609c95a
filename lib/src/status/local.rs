//! csep's own state for `csep status`: the recall index, the spool queues, the trigger's
//! latest session, and the logs. Everything is read, nothing is created.
//!
//! The index's figures come from `index::stats`, which creates and changes no file.

use crate::index::{spool, stats};
use crate::timefmt;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

/// The recall index (1.3.10's `session_recall` section, with more in it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionRecall {
    pub db_path: String,
    pub db_exists: bool,
    /// The database file and its write-ahead log.
    pub size_bytes: u64,
    pub schema_version: Option<i64>,
    pub session_count: u64,
    pub message_count: u64,
    pub sessions_by_agent: BTreeMap<String, u64>,
    pub messages_by_agent: BTreeMap<String, u64>,
    /// When each host's newest session was last active (ms), for `hosts`; not printed here.
    #[serde(skip)]
    pub newest_ms_by_agent: BTreeMap<String, i64>,
    /// Transcript files the index has read.
    pub source_count: u64,
    /// Of those, csep's own reflection sessions (remembered, not archived).
    pub excluded_source_count: u64,
    /// Sources whose last read failed (they are retried).
    pub ingest_error_count: u64,
    /// Every error ever recorded.
    pub ingest_error_count_total: u64,
    pub latest_error: Option<IngestError>,
    pub latest_ingest_run: Option<IngestRun>,
    /// Indexed transcripts whose file is gone (Claude Code's cleanup, a deleted rollout):
    /// still searchable, nothing to do; shown so a missing file is not a mystery.
    pub missing_source_count: u64,
    pub missing_source_examples: Vec<String>,
    /// Sessions imported from csep 1.3.10 (`csep recall import-legacy`) whose messages are
    /// still the imported ones: no transcript has replaced them.
    pub imported_session_count: u64,
    pub error: Option<String>,
    /// What is wrong with a damaged index (a writer's marker, a bad header, SQLite's
    /// "malformed" or "not a database"); `null` when none was seen. Fixed by `csep recall
    /// rebuild`.
    pub damage: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestError {
    pub path: String,
    pub message: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestRun {
    /// `backfill-codex`, `backfill-claude`, `files`, `stdin`, …
    pub mode: String,
    pub root: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub elapsed_ms: Option<u64>,
    /// The run's summary as it recorded it (`null` while it runs, or when it died).
    pub summary: Option<Value>,
}

const MISSING_EXAMPLES: usize = 5;

/// The index figures. `indexed` gets every source path with the size the index holds of it.
pub fn session_recall(db: &Path, indexed: &mut HashMap<String, u64>) -> SessionRecall {
    let mut r = SessionRecall {
        db_path: db.display().to_string(),
        db_exists: db.is_file(),
        ..SessionRecall::default()
    };
    if !r.db_exists {
        return r;
    }
    let size = |p: &Path| fs::metadata(p).map_or(0, |m| m.len());
    r.size_bytes = size(db) + size(&crate::index::db::wal_path(db));
    use crate::index::health;
    r.damage = health::marked(db).or_else(|| health::check_header(db).err());
    if r.damage.is_none() {
        if let Err(e) = fill(db, &mut r, indexed) {
            let text = e.to_string();
            if crate::Error::from(e).kind == crate::ErrorKind::Damaged {
                r.damage = Some(text);
            } else {
                r.error = Some(text);
            }
        }
    }
    r
}

fn fill(
    db: &Path,
    r: &mut SessionRecall,
    indexed: &mut HashMap<String, u64>,
) -> rusqlite::Result<()> {
    let mut f = stats::Figures::default();
    let read = stats::figures(db, &mut f);
    r.schema_version = f.schema_version;
    for a in f.agents {
        r.session_count += a.sessions as u64;
        r.message_count += a.messages as u64;
        r.sessions_by_agent
            .insert(a.agent.clone(), a.sessions as u64);
        if let Some(ms) = a.newest_ms {
            r.newest_ms_by_agent.insert(a.agent.clone(), ms);
        }
        r.messages_by_agent.insert(a.agent, a.messages as u64);
    }
    for s in f.sources {
        r.source_count += 1;
        r.ingest_error_count += s.failed as u64;
        r.excluded_source_count += s.excluded as u64;
        if !crate::index::source_exists(&s.path) {
            r.missing_source_count += 1;
            if r.missing_source_examples.len() < MISSING_EXAMPLES {
                r.missing_source_examples.push(s.path.clone());
            }
        }
        indexed.insert(s.path, s.size.max(0) as u64);
    }
    r.imported_session_count = f.imported_sessions.unwrap_or(0).max(0) as u64;
    if let Some(n) = f.ingest_error_count_total {
        r.ingest_error_count_total = n as u64;
    }
    r.latest_error = f.latest_error.map(|e| IngestError {
        path: e.path,
        message: e.message,
        at: timefmt::format_iso_ms(e.at_ms),
    });
    r.latest_ingest_run = f.latest_run.map(|run| IngestRun {
        mode: run.mode,
        root: run.root,
        started_at: timefmt::format_iso_ms(run.started_ms),
        finished_at: run.finished_ms.map(timefmt::format_iso_ms),
        elapsed_ms: run.finished_ms.map(|f| (f - run.started_ms).max(0) as u64),
        summary: run.summary.and_then(|s| serde_json::from_str(&s).ok()),
    });
    read
}

/// One spool queue.
#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub dir: String,
    pub new: u64,
    pub cur: u64,
    pub failed: u64,
    /// `spool/reflect/` keeps finished jobs; the archive queue deletes what it indexed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    /// Age of the oldest item waiting in `new/` or `cur/`.
    pub oldest_age_seconds: Option<u64>,
    /// A drainer (archive) or worker (reflect) holds the queue's lock now.
    pub locked: bool,
    /// Archive only: payloads in `new/` kept there by a fault (they carry a `retry` record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrying: Option<u64>,
    /// Archive only: the oldest of those, and why it is waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_retry: Option<RetryInfo>,
    /// Archive only: the oldest failed payload and the reason kept beside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_failure: Option<FailureInfo>,
}

/// A payload the archive queue keeps after a fault.
#[derive(Debug, Clone, Serialize)]
pub struct RetryInfo {
    pub path: String,
    pub attempts: u32,
    pub fault: String,
    pub last_error: String,
    pub next_attempt_at: String,
}

/// A payload in `spool/archive/failed/` and its reason.
#[derive(Debug, Clone, Serialize)]
pub struct FailureInfo {
    pub path: String,
    /// From `<stem>.reason.json`; `None` for a payload failed by an older csep (no reason file).
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// What the archive queue keeps after faults and failures (reads every payload in `new/`;
/// there are few).
fn archive_faults(dir: &Path, q: &mut Queue) {
    let mut retrying = 0;
    let mut oldest: Option<(PathBuf, spool::Retry)> = None;
    for p in sorted_files(&dir.join("new")) {
        let Some(r) = fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| spool::Retry::of(&v))
        else {
            continue;
        };
        retrying += 1;
        if oldest.is_none() {
            oldest = Some((p, r));
        }
    }
    q.retrying = Some(retrying);
    q.oldest_retry = oldest.map(|(p, r)| RetryInfo {
        path: p.display().to_string(),
        attempts: r.attempts,
        fault: r.fault,
        last_error: r.last_error,
        next_attempt_at: timefmt::format_iso_ms(r.next_attempt_ms),
    });
    let failed: Vec<PathBuf> = sorted_files(&dir.join("failed"))
        .into_iter()
        .filter(|p| !spool::is_reason_file(p))
        .collect();
    q.failed = failed.len() as u64;
    q.oldest_failure = failed.first().map(|p| {
        let note = fs::read(spool::reason_path(p))
            .ok()
            .and_then(|b| serde_json::from_slice::<spool::FailureNote>(&b).ok());
        FailureInfo {
            path: p.display().to_string(),
            reason: note.as_ref().map(|n| n.reason.clone()),
            message: note.map(|n| n.message),
        }
    });
}

/// The files of a queue directory (no hidden ones), by name: queue names sort by time.
fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[derive(Debug, Clone, Serialize)]
pub struct Spool {
    pub archive: Queue,
    pub reflect: Queue,
}

fn queue(state_dir: &Path, name: &str, with_done: bool) -> Queue {
    let dir = spool::queue_dir(state_dir, name);
    let now = std::time::SystemTime::now();
    let mut oldest: Option<u64> = None;
    let mut count = |sub: &str, track_age: bool| -> u64 {
        let Ok(rd) = fs::read_dir(dir.join(sub)) else {
            return 0;
        };
        let mut n = 0;
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            n += 1;
            if track_age {
                let age = e
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|m| now.duration_since(m).ok())
                    .map_or(0, |d| d.as_secs());
                oldest = Some(oldest.map_or(age, |o| o.max(age)));
            }
        }
        n
    };
    let new = count("new", true);
    let cur = count("cur", true);
    let failed = count("failed", false);
    let done = with_done.then(|| count("done", false));
    let mut q = Queue {
        dir: dir.display().to_string(),
        new,
        cur,
        failed,
        done,
        oldest_age_seconds: oldest,
        locked: crate::fsutil::is_locked(&dir.join(".lock")),
        retrying: None,
        oldest_retry: None,
        oldest_failure: None,
    };
    if name == "archive" {
        archive_faults(&dir, &mut q);
    }
    q
}

pub fn spool(state_dir: &Path) -> Spool {
    Spool {
        archive: queue(state_dir, "archive", false),
        reflect: queue(state_dir, "reflect", true),
    }
}

/// The trigger's most recently updated session (1.3.10: `session_reflection.trigger`).
#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    pub root: String,
    pub session_count: u64,
    pub latest_state: Option<Value>,
    pub latest_decision: Option<Value>,
}

/// The state fields worth showing (counters and the reservation, not the hit list).
const STATE_FIELDS: &[&str] = &[
    "session_id",
    "agent",
    "stops_since_memory_review",
    "readable_chars_since_memory_review",
    "tool_calls_since_skill_review",
    "last_memory_review_at",
    "last_skill_review_at",
    "active_job_id",
    "active_job_reserved_at",
    "last_job_status",
    "backoff_until",
    "updated_at",
];

pub fn trigger(state_dir: &Path) -> Trigger {
    let root = state_dir.join("triggers");
    let mut count = 0;
    let mut newest: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    if let Ok(rd) = fs::read_dir(&root) {
        for e in rd.flatten() {
            let state = e.path().join("state.json");
            let Ok(m) = fs::metadata(&state).and_then(|m| m.modified()) else {
                continue;
            };
            count += 1;
            if newest.as_ref().is_none_or(|(t, _)| m > *t) {
                newest = Some((m, e.path()));
            }
        }
    }
    let (latest_state, latest_decision) = match newest {
        None => (None, None),
        Some((_, dir)) => {
            let state = fs::read(dir.join("state.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .map(|v| {
                    let mut out = serde_json::Map::new();
                    for k in STATE_FIELDS {
                        out.insert((*k).into(), v.get(*k).cloned().unwrap_or(Value::Null));
                    }
                    let pending = v
                        .get("high_signal")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    out.insert("high_signal_hits".into(), pending.into());
                    Value::Object(out)
                })
                .unwrap_or_else(|| serde_json::json!({"unreadable": true}));
            let decision = fs::read_to_string(dir.join("decisions.jsonl"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .rev()
                        .find_map(|l| serde_json::from_str::<Value>(l).ok())
                });
            (Some(state), decision)
        }
    };
    Trigger {
        root: root.display().to_string(),
        session_count: count,
        latest_state,
        latest_decision,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    pub dir: String,
    pub exists: bool,
    pub files: u64,
    pub size_bytes: u64,
    pub retention_days: u64,
}

pub fn logs(state_dir: &Path, retention_days: u64) -> Logs {
    let dir = state_dir.join("logs");
    let (mut files, mut size) = (0, 0);
    for e in walkdir::WalkDir::new(&dir).into_iter().flatten() {
        if e.file_type().is_file() {
            files += 1;
            size += e.metadata().map_or(0, |m| m.len());
        }
    }
    Logs {
        exists: dir.is_dir(),
        dir: dir.display().to_string(),
        files,
        size_bytes: size,
        retention_days,
    }
}
