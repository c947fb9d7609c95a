//! The trigger's records: what it reads ([`Input`]: a hook payload or the drainer's
//! [`ArchiveRequest`]), what it decides ([`Decision`], the `trigger_decision` line) and what
//! it queues ([`Job`], the `reflect_job` file), with the scopes and counters they carry.

use crate::error::{Error, Result};
use crate::wire::{Agent, ArchiveRequest, Event, PayloadForm};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a review looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Memory,
    Skill,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Memory => "memory",
            Scope::Skill => "skill",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "memory" => Some(Scope::Memory),
            "skill" | "skills" => Some(Scope::Skill),
            _ => None,
        }
    }
}

/// The counters since the last review (1.3.10's names), and how many user messages with a
/// high-signal word are still waiting for a review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    pub stops_since_memory_review: u64,
    pub readable_chars_since_memory_review: u64,
    pub tool_calls_since_skill_review: u64,
    pub high_signal_messages: u64,
}

/// The thresholds in force (the config keys' names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    pub memory_stop_interval: u64,
    pub memory_context_chars: u64,
    pub skill_tool_call_interval: u64,
    pub high_signal_immediate: bool,
    pub active_job_stale_seconds: u64,
}

/// The outcome, 1.3.10's statuses renamed for a reader: `queued`; `deferred` (1.3.10's
/// `deferred_active_job`); `below_threshold` (its `archive_only`); `skipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Queued,
    Deferred,
    BelowThreshold,
    Skipped,
}

/// One `trigger_decision` record: printed by `csep-trigger` and kept in `decisions.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(rename = "type")]
    pub kind: String,
    /// The session as the index names it (`claude:<id>` for Claude Code).
    pub session_id: String,
    pub agent: Option<Agent>,
    /// `Stop` or `SessionEnd` (or the event that was skipped).
    pub event: String,
    pub decision: Verdict,
    /// Why it is due (1.3.10's trigger reasons: `memory_stop_interval`,
    /// `memory_context_chars`, `skill_tool_call_interval`, `high_signal_memory_keyword`,
    /// `high_signal_skill_keyword`); for `skipped`, why it was skipped.
    pub reasons: Vec<String>,
    /// The scopes a queued (or deferred) job reviews.
    pub scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_keywords: Vec<String>,
    pub counters: Counters,
    pub thresholds: Thresholds,
    /// Messages counted by this run, and the newest message id counted so far.
    pub new_messages: u64,
    pub watermark_message_id: i64,
    /// The job queued by this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The reserved job a due review waits for (`deferred`), or that is still running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_job_id: Option<String>,
    /// A reservation this run found stale and released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_job_id: Option<String>,
    /// A due review waits until then after a rejected or failed job (`deferred`), unless
    /// the human typed a directive that job never saw (`queued`, noted
    /// `new_directive_during_backoff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_until: Option<String>,
    /// Things worth knowing: `stale_reservation_released`, `state_reset`, `watermark_reset`,
    /// `new_directive_during_backoff`, `session_end_review`, `follow_up`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    pub at: String,
}

/// A `reflect_job`: one file in `spool/reflect/new/<job_id>.json` for the reflection worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    #[serde(rename = "type")]
    pub kind: String,
    pub job_id: String,
    /// The session as the index names it; pass it back to [`complete_job`].
    pub session_id: String,
    pub agent: Option<Agent>,
    pub transcript_path: Option<String>,
    pub cwd: Option<String>,
    pub repo_root: Option<String>,
    pub scopes: Vec<Scope>,
    pub reasons: Vec<String>,
    #[serde(default)]
    pub matched_keywords: Vec<String>,
    pub counters: Counters,
    /// Messages with a larger id are new to the reviewer: the oldest "reviewed through" mark
    /// among the job's scopes (0 when never reviewed).
    pub since_message_id: i64,
    /// The newest message the job covers.
    pub watermark_message_id: i64,
    pub skill_generation_mode: String,
    pub created_at: String,
}

/// One trigger input: a hook payload, however it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The host's id (`session_id`, else `thread_id`), as in the payload.
    pub session_id: String,
    pub agent: Option<Agent>,
    pub event: Event,
    pub event_name: String,
    pub transcript_path: Option<String>,
    pub cwd: Option<String>,
    /// `thread_source`/`threadSource` of the payload, when the host sends one.
    pub thread_source: Option<String>,
}

fn text_field(m: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| m.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Input {
    /// Reads a raw hook payload or the archive spool's wrapper
    /// (`{"agent": …, "event": …, "payload": {…}}`). `agent` overrides what the input says.
    /// Unknown fields are ignored; only a missing object or session id is an error.
    pub fn from_value(v: &Value, agent: Option<Agent>) -> Result<Input> {
        let request = ArchiveRequest::read(v.clone())
            .ok_or_else(|| Error::input("the input is not a JSON object"))?;
        Input::from_request(&request, agent)
    }

    /// Reads a queued [`ArchiveRequest`] (the drainer's, parsed once). `agent` overrides
    /// what the request says.
    pub fn from_request(request: &ArchiveRequest, agent: Option<Agent>) -> Result<Input> {
        let outer = request.raw();
        let payload = request.payload();
        let wrapped = request.form() == PayloadForm::Wrapped;
        let session_id = text_field(payload, &["session_id", "thread_id"])
            .ok_or_else(|| Error::input("the payload has no session_id"))?;
        if let Err(why) = crate::text::check_id(&session_id) {
            return Err(Error::input(format!(
                "the payload's session_id is unusable: {why}"
            )));
        }
        // A path that is not clean and absolute is not used at all (`hook::drop_invalid_fields`).
        let path_field = |keys: &[&str]| {
            text_field(payload, keys).filter(|p| crate::text::check_path(p).is_ok())
        };
        let agent = agent.or_else(|| {
            text_field(outer, &["agent"])
                .as_deref()
                .and_then(Agent::parse)
        });
        let event_name = wrapped
            .then(|| text_field(outer, &["event"]))
            .flatten()
            .or_else(|| text_field(payload, &["hook_event_name"]))
            // A payload piped in by hand is a Stop, as for 1.3.10's `session-stop`.
            .unwrap_or_else(|| "Stop".to_string());
        Ok(Input {
            session_id,
            agent,
            event: Event::parse(&event_name),
            event_name,
            transcript_path: path_field(&["transcript_path"]),
            cwd: path_field(&["cwd"]),
            thread_source: text_field(payload, &["thread_source", "threadSource"]),
        })
    }

    pub fn from_slice(bytes: &[u8], agent: Option<Agent>) -> Result<Input> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::input(
                "no input: expected a hook payload (JSON) on stdin",
            ));
        }
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::input(format!("the input is not JSON: {e}")))?;
        Input::from_value(&v, agent)
    }
}
