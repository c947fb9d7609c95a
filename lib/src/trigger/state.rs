//! One session's trigger files under `triggers/<session-key>/`: `state.json` (counters since
//! the last review, the counting watermark, the job reservation), `decisions.jsonl` (the last
//! [`DECISION_RETENTION`] decisions) and `trigger.lock`.
//!
//! Every read-modify-write of `state.json` happens under `trigger.lock` (an exclusive `flock`
//! on a file that is never deleted), and every write is atomic (`fsutil::write_atomic`), so
//! two runs for one session never lose each other's counts and a crash leaves the old file.
//! Lock order: a session's `trigger.lock` is taken alone; nothing else is locked while it is
//! held (the recall database is only read, in WAL mode, which takes no lock that waits).

use super::{Counters, Scope};
use crate::error::{Error, Result};
use crate::fsutil;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Decisions kept per session (1.3.10 keeps the same number).
pub const DECISION_RETENTION: usize = 200;
/// High-signal hits remembered per session; older ones are dropped first.
const HIT_RETENTION: usize = 64;
/// Queued jobs remembered per session, so `complete_job` can find a job's counter snapshot
/// even after a stale reservation let a newer job be queued.
const JOB_RETENTION: usize = 8;

/// The first backoff after an unsuccessful job; each further one in a row doubles it.
pub const BACKOFF_BASE_MS: i64 = 15 * 60 * 1000;
/// The longest backoff.
pub const BACKOFF_MAX_MS: i64 = 24 * 60 * 60 * 1000;

/// How long a due review waits after the `n`th unsuccessful job in a row (n ≥ 1):
/// 15 min × 2^(n−1), at most 24 h.
pub fn backoff_ms(n: u32) -> i64 {
    let doublings = n.saturating_sub(1).min(16);
    (BACKOFF_BASE_MS << doublings).min(BACKOFF_MAX_MS)
}

/// `session_id` made into one safe path component: `claude:<uuid>` → `claude_<uuid>`.
/// Anything but ASCII letters, digits, `.`, `-` and `_` becomes `_`; a very long id is cut
/// and keeps a hash of the whole so two long ids cannot collide.
pub fn session_key(session_id: &str) -> String {
    let mut key: String = session_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() || key.chars().all(|c| c == '.') {
        key = format!("_{key}");
    }
    if key.len() > 120 {
        let hash = crate::repo::fingerprint(session_id);
        key.truncate(100);
        key = format!("{key}-{hash}");
    }
    key
}

/// `triggers/<session-key>/` under the state dir.
pub fn session_dir(state_dir: &Path, session_id: &str) -> PathBuf {
    state_dir.join("triggers").join(session_key(session_id))
}

/// A high-signal word in a user message, kept until a review of its scope covers the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub message_id: i64,
    pub scope: Scope,
    pub keyword: String,
}

/// What a queued job covered, so its completion can subtract exactly that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSnapshot {
    pub job_id: String,
    pub scopes: Vec<Scope>,
    pub counters: Counters,
    pub watermark_message_id: i64,
    pub created_at: String,
}

/// `state.json`. Field names follow 1.3.10's trigger state where it has the same idea.
/// Unknown fields are ignored and missing ones default, so older files still load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub schema_version: u32,
    pub session_id: String,
    pub agent: Option<String>,
    /// The newest `messages.id` already counted (the counting watermark).
    pub last_counted_message_id: i64,
    pub stops_since_memory_review: u64,
    pub readable_chars_since_memory_review: u64,
    pub tool_calls_since_skill_review: u64,
    /// The newest message a successful review of each scope covered.
    pub memory_reviewed_through_message_id: i64,
    pub skill_reviewed_through_message_id: i64,
    pub last_memory_review_at: Option<String>,
    pub last_skill_review_at: Option<String>,
    pub high_signal: Vec<Hit>,
    pub active_job_id: Option<String>,
    pub active_job_reserved_at: Option<String>,
    pub recent_jobs: Vec<JobSnapshot>,
    /// How the newest job that ended ended (`succeeded`, `partial`, `skipped`, `rejected`,
    /// `failed`).
    pub last_job_status: Option<String>,
    /// Jobs in a row that ended rejected or failed; one that did not resets it.
    pub unsuccessful_jobs_in_a_row: u32,
    /// After an unsuccessful job, a due review waits until then ([`backoff_ms`]), unless the
    /// human typed a directive after `backoff_through_message_id`.
    pub backoff_until: Option<String>,
    /// The newest message the unsuccessful job covered: what it has already seen.
    pub backoff_through_message_id: i64,
    /// The newest event was a `SessionEnd`: no counter will grow any more, so a waiting
    /// directive is due even when `high_signal_immediate` is off. A later Stop clears it.
    pub session_ended: bool,
    pub updated_at: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            schema_version: 1,
            session_id: String::new(),
            agent: None,
            last_counted_message_id: 0,
            stops_since_memory_review: 0,
            readable_chars_since_memory_review: 0,
            tool_calls_since_skill_review: 0,
            memory_reviewed_through_message_id: 0,
            skill_reviewed_through_message_id: 0,
            last_memory_review_at: None,
            last_skill_review_at: None,
            high_signal: Vec::new(),
            active_job_id: None,
            active_job_reserved_at: None,
            recent_jobs: Vec::new(),
            last_job_status: None,
            unsuccessful_jobs_in_a_row: 0,
            backoff_until: None,
            backoff_through_message_id: 0,
            session_ended: false,
            updated_at: None,
        }
    }
}

impl State {
    fn reviewed_through(&self, scope: Scope) -> i64 {
        match scope {
            Scope::Memory => self.memory_reviewed_through_message_id,
            Scope::Skill => self.skill_reviewed_through_message_id,
        }
    }

    /// Hits newer than the last review of their scope.
    pub fn pending_hits(&self) -> impl Iterator<Item = &Hit> {
        self.high_signal
            .iter()
            .filter(|h| h.message_id > self.reviewed_through(h.scope))
    }

    pub fn add_hits(&mut self, hits: impl IntoIterator<Item = Hit>) {
        for h in hits {
            if !self.high_signal.contains(&h) {
                self.high_signal.push(h);
            }
        }
        let extra = self.high_signal.len().saturating_sub(HIT_RETENTION);
        self.high_signal.drain(..extra);
    }

    pub fn counters(&self) -> Counters {
        let mut ids: Vec<i64> = self.pending_hits().map(|h| h.message_id).collect();
        ids.sort_unstable();
        ids.dedup();
        Counters {
            stops_since_memory_review: self.stops_since_memory_review,
            readable_chars_since_memory_review: self.readable_chars_since_memory_review,
            tool_calls_since_skill_review: self.tool_calls_since_skill_review,
            high_signal_messages: ids.len() as u64,
        }
    }

    /// Until when a backoff holds at `now_ms`; `None` when none does. A time that cannot be
    /// read (edited by hand) holds none: a review waiting for ever is worse than one retry.
    pub fn backoff_in_force(&self, now_ms: i64) -> Option<String> {
        let until = self.backoff_until.as_deref()?;
        crate::timefmt::parse_iso_ms(until)
            .filter(|at| *at > now_ms)
            .map(|_| until.to_string())
    }

    /// Pending directives the human typed after what the last unsuccessful job covered.
    pub fn new_since_backoff(&self) -> bool {
        self.pending_hits()
            .any(|h| h.message_id > self.backoff_through_message_id)
    }

    pub fn remember_job(&mut self, job: JobSnapshot) {
        self.recent_jobs.retain(|j| j.job_id != job.job_id);
        self.recent_jobs.push(job);
        let extra = self.recent_jobs.len().saturating_sub(JOB_RETENTION);
        self.recent_jobs.drain(..extra);
    }
}

/// The session's files, and the lock while it is held.
pub struct Files {
    pub dir: PathBuf,
    _lock: Option<File>,
}

impl Files {
    /// Without the lock: for reading only (`--dry-run`).
    pub fn unlocked(state_dir: &Path, session_id: &str) -> Files {
        Files {
            dir: session_dir(state_dir, session_id),
            _lock: None,
        }
    }

    /// Takes `trigger.lock`, retrying for up to `wait`; still held by someone else after that
    /// is `Busy` (exit 75), with nothing changed.
    pub fn lock(state_dir: &Path, session_id: &str, wait: Duration) -> Result<Files> {
        let dir = session_dir(state_dir, session_id);
        crate::fsutil::create_dir_private(&dir)?;
        let path = dir.join("trigger.lock");
        let file = crate::fsutil::lock_exclusive(
            &path,
            fsutil::Patience::wait(wait, Duration::from_millis(10)),
            "another trigger run for this session",
        )?;
        Ok(Files {
            dir,
            _lock: Some(file),
        })
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn decisions_path(&self) -> PathBuf {
        self.dir.join("decisions.jsonl")
    }

    /// The state, or a fresh one. A file that is not a state (torn by hand, another schema)
    /// starts over, as in 1.3.10; the bool says so, for the decision's notes.
    pub fn load(&self, session_id: &str) -> Result<(State, bool)> {
        let path = self.state_path();
        let fresh = || State {
            session_id: session_id.to_string(),
            ..State::default()
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((fresh(), false)),
            Err(e) => return Err(Error::io(path.display(), e)),
        };
        match serde_json::from_slice::<State>(&bytes) {
            Ok(s) if s.schema_version == 1 && s.session_id == session_id => Ok((s, false)),
            _ => Ok((fresh(), true)),
        }
    }

    pub fn save(&self, state: &mut State) -> Result<()> {
        state.updated_at = Some(crate::timefmt::format_iso_ms(crate::timefmt::now_ms()));
        let mut bytes =
            serde_json::to_vec_pretty(state).map_err(|e| Error::input(e.to_string()))?;
        bytes.push(b'\n');
        fsutil::write_atomic(&self.state_path(), &bytes)
    }

    /// Appends one line to `decisions.jsonl`, keeping the newest [`DECISION_RETENTION`].
    /// The file is rewritten whole (atomically): it is small, and an append that a crash
    /// tears would leave a line that is not JSON.
    pub fn log_decision(&self, line: &str) -> Result<()> {
        let path = self.decisions_path();
        let old = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(path.display(), e)),
        };
        let mut lines: Vec<&str> = old.lines().filter(|l| !l.trim().is_empty()).collect();
        lines.push(line);
        let keep = &lines[lines.len().saturating_sub(DECISION_RETENTION)..];
        let mut text = keep.join("\n");
        text.push('\n');
        fsutil::write_atomic(&path, text.as_bytes())
    }
}
