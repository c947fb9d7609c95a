//! The JSON Lines records that pass between the tools (`csep-archive | csep-index`), and the
//! summaries the tools print. Documented with examples in `docs/WIRE.md`.
//!
//! Compatibility: fields are only ever added; readers skip fields and record types they do
//! not know. Every record starts with `"type"`. Times are RFC 3339 UTC strings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which host wrote a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    Codex,
    Claude,
    Copilot,
    Qwen,
    Droid,
    Gemini,
    #[serde(rename = "opencode")]
    OpenCode,
    Cursor,
    Aider,
}

impl Agent {
    /// Every host csep reads, in the order people see them listed.
    pub const ALL: [Agent; 9] = [
        Agent::Codex,
        Agent::Claude,
        Agent::Copilot,
        Agent::Qwen,
        Agent::Droid,
        Agent::Gemini,
        Agent::OpenCode,
        Agent::Cursor,
        Agent::Aider,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Codex => "codex",
            Agent::Claude => "claude",
            Agent::Copilot => "copilot",
            Agent::Qwen => "qwen",
            Agent::Droid => "droid",
            Agent::Gemini => "gemini",
            Agent::OpenCode => "opencode",
            Agent::Cursor => "cursor",
            Agent::Aider => "aider",
        }
    }

    pub fn parse(s: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The product name, for people.
    pub fn display_name(self) -> &'static str {
        match self {
            Agent::Codex => "Codex CLI",
            Agent::Claude => "Claude Code",
            Agent::Copilot => "GitHub Copilot CLI",
            Agent::Qwen => "Qwen Code",
            Agent::Droid => "Factory Droid",
            Agent::Gemini => "Gemini CLI",
            Agent::OpenCode => "OpenCode",
            Agent::Cursor => "Cursor CLI",
            Agent::Aider => "Aider",
        }
    }

    /// The index's session id for the host's own id `raw`. Codex thread ids stay as they are
    /// (csep 1.3.10's form); every other host's ids are prefixed with its name, so two hosts'
    /// ids never collide. An id that already carries the prefix is returned unchanged.
    pub fn session_key(self, raw: &str) -> String {
        if self == Agent::Codex {
            return raw.to_string();
        }
        let prefix = self.as_str();
        match raw.strip_prefix(prefix) {
            Some(rest) if rest.starts_with(':') => raw.to_string(),
            _ => format!("{prefix}:{raw}"),
        }
    }

    /// The host a prefixed session id (`qwen:…`) names; `None` for an unprefixed (Codex) id.
    pub fn of_session_key(id: &str) -> Option<Agent> {
        let (prefix, _) = id.split_once(':')?;
        Agent::parse(prefix).filter(|a| *a != Agent::Codex)
    }
}

/// Who said a message. Tool calls are `assistant` messages with a `tool`; tool output is `tool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    Tool,
    Developer,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Developer => "developer",
            Role::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            "developer" => Some(Role::Developer),
            "system" => Some(Role::System),
            _ => None,
        }
    }
}

/// One session (a Codex thread or a Claude Code session), as far as one source file tells.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Codex: the thread id. Claude Code: `claude:<sessionId>` (csep 1.3.10's form).
    pub session_id: String,
    pub agent: Option<Agent>,
    /// The transcript file this record was read from.
    pub source: String,
    pub cwd: Option<String>,
    /// The repository's main root (parent of the git common dir): shared by all worktrees.
    pub repo_root: Option<String>,
    /// The worktree the session ran in (equal to `repo_root` outside linked worktrees).
    pub worktree_root: Option<String>,
    pub branch: Option<String>,
    /// A stable short hash of `repo_root`: the repo identity used for scoping.
    pub repo_fingerprint: Option<String>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub title: Option<String>,
    /// Codex `source`/`originator`, e.g. `cli`, `exec`, `subagent`: lets later stages skip
    /// threads that csep itself started.
    pub thread_source: Option<String>,
    /// Set for Claude Code subagent files (`agent-<id>.jsonl`) and Codex subagent threads.
    pub subagent: Option<String>,
}

/// One searchable message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub session_id: String,
    /// Position in the source file's message sequence, counted from the parse start.
    pub ordinal: u64,
    pub role: Role,
    /// Tool name for tool calls (`assistant`) and tool output (`tool`).
    pub tool: Option<String>,
    pub text: String,
    pub timestamp: Option<String>,
    /// Byte offset of the source line this message came from.
    pub offset: u64,
    /// Injected context (environment, AGENTS.md, hook context, developer messages): kept,
    /// but it does not anchor recall results unless asked to.
    #[serde(default, skip_serializing_if = "is_false")]
    pub background: bool,
    /// The text was cut to the caps (head and tail kept).
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// The whole text (redacted) of a cut message up to 1 MiB, which the index searches but
    /// does not keep (see `archive::cap_indexed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_text: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Counts of what a parse skipped. Skipping is never fatal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipCounts {
    #[serde(default)]
    pub torn_lines: u64,
    #[serde(default)]
    pub invalid_utf8: u64,
    #[serde(default)]
    pub bad_json: u64,
    #[serde(default)]
    pub non_object: u64,
    #[serde(default)]
    pub unknown_types: u64,
    /// Lines longer than the line cap (`archive::MAX_LINE_BYTES`), read through unbuffered.
    #[serde(default)]
    pub oversized_lines: u64,
}

impl SkipCounts {
    pub fn total(&self) -> u64 {
        self.torn_lines
            + self.invalid_utf8
            + self.bad_json
            + self.non_object
            + self.unknown_types
            + self.oversized_lines
    }
    pub fn add(&mut self, other: &SkipCounts) {
        self.torn_lines += other.torn_lines;
        self.invalid_utf8 += other.invalid_utf8;
        self.bad_json += other.bad_json;
        self.non_object += other.non_object;
        self.unknown_types += other.unknown_types;
        self.oversized_lines += other.oversized_lines;
    }
}

/// Closes one file's records: what was parsed, so the indexer can resume after `end_offset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub path: String,
    pub agent: Option<Agent>,
    pub session_id: String,
    /// `codex-envelope`, `codex-legacy`, `codex-ts`, `claude`.
    pub format: String,
    pub size_bytes: u64,
    pub mtime_ms: i64,
    pub start_offset: u64,
    /// Just past the last complete line parsed; a torn last line is left for next time.
    pub end_offset: u64,
    /// Fingerprint of the parsed prefix (see `archive::fingerprint`).
    pub fingerprint: String,
    pub messages: u64,
    pub skipped: SkipCounts,
    /// Tool calls still waiting for their output at `end_offset` (call id → tool name), so a
    /// parse that resumes there can name the output's tool.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_calls: BTreeMap<String, String>,
    /// Set when the session must not be archived (`reflection_session`: csep's own
    /// reflection started it). The indexer then remembers the file but stores no message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
}

/// A record on the `csep-archive | csep-index` pipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Session(SessionRecord),
    Message(MessageRecord),
    Source(SourceRecord),
}

/// Hook events csep handles (a hook payload's `hook_event_name`, or the event argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SessionStart,
    Stop,
    SessionEnd,
    Other,
}

impl Event {
    pub fn parse(s: &str) -> Event {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "sessionstart" => Event::SessionStart,
            "stop" => Event::Stop,
            "sessionend" => Event::SessionEnd,
            _ => Event::Other,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Event::SessionStart => "SessionStart",
            Event::Stop => "Stop",
            Event::SessionEnd => "SessionEnd",
            Event::Other => "Other",
        }
    }
}

/// `archive_request`: what a Stop or SessionEnd hook queues in `spool/archive/new/` for the
/// drainer (docs/WIRE.md), and how a queued file is read back: once, by the drainer, which
/// hands the same value to the indexer and to the trigger.
///
/// Read leniently: a wrapper without `type`, or a bare hook payload (csep 1.3.10's queue, one
/// put there by hand), is a request too. The object as read is kept, so that a payload put
/// back after a fault is written again with every field it had, plus its `retry`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveRequest {
    /// The object as read (or as it will be written).
    raw: serde_json::Map<String, serde_json::Value>,
}

/// How an [`ArchiveRequest`]'s hook payload sits in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadForm {
    /// `{"agent": …, "event": …, "payload": {…}}` (what the hook writes).
    Wrapped,
    /// The hook payload itself.
    Bare,
    /// A `payload` field that is not an object: read as bare, but it names no transcript.
    Malformed,
}

impl ArchiveRequest {
    /// A new request from the hook: `payload` is the kept part of the hook's payload.
    pub fn new(
        agent: Agent,
        event: Event,
        received_ms: i64,
        payload: serde_json::Map<String, serde_json::Value>,
    ) -> ArchiveRequest {
        let mut raw = serde_json::Map::new();
        raw.insert("type".into(), "archive_request".into());
        raw.insert("agent".into(), agent.as_str().into());
        raw.insert("event".into(), event.name().into());
        raw.insert("received_ms".into(), received_ms.into());
        raw.insert("payload".into(), serde_json::Value::Object(payload));
        ArchiveRequest { raw }
    }

    /// A queued object; `None` when it is not a JSON object.
    pub fn read(v: serde_json::Value) -> Option<ArchiveRequest> {
        match v {
            serde_json::Value::Object(raw) => Some(ArchiveRequest { raw }),
            _ => None,
        }
    }

    /// The object, as it is written.
    pub fn raw(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.raw
    }

    pub fn raw_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value> {
        &mut self.raw
    }

    pub fn form(&self) -> PayloadForm {
        match self.raw.get("payload") {
            Some(serde_json::Value::Object(_)) => PayloadForm::Wrapped,
            Some(_) => PayloadForm::Malformed,
            None => PayloadForm::Bare,
        }
    }

    /// The hook payload: the wrapper's `payload`, else the object itself.
    pub fn payload(&self) -> &serde_json::Map<String, serde_json::Value> {
        match self.raw.get("payload") {
            Some(serde_json::Value::Object(p)) => p,
            _ => &self.raw,
        }
    }

    /// A non-empty string field of the object itself (`agent`, `event`, …).
    pub fn top_str(&self, key: &str) -> Option<&str> {
        self.raw
            .get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The host the hook ran for, from the wrapper's `agent`.
    pub fn agent(&self) -> Option<Agent> {
        self.raw
            .get("agent")
            .and_then(serde_json::Value::as_str)
            .and_then(Agent::parse)
    }

    /// When the hook queued it (milliseconds since the epoch).
    pub fn received_ms(&self) -> Option<i64> {
        self.raw
            .get("received_ms")
            .and_then(serde_json::Value::as_i64)
    }

    /// The transcript to index: the payload's non-empty `transcript_path`.
    pub fn transcript_path(&self) -> Option<&str> {
        if self.form() == PayloadForm::Malformed {
            return None;
        }
        self.payload()
            .get("transcript_path")
            .and_then(serde_json::Value::as_str)
            .filter(|p| !p.is_empty())
    }

    /// The bytes of the file (one JSON object, no newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.raw).unwrap_or_default()
    }
}

#[cfg(test)]
mod archive_request_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_new_request_is_the_documented_record_and_reads_back() {
        let payload = json!({"session_id": "s-1", "transcript_path": "/t/r.jsonl"});
        let serde_json::Value::Object(map) = payload.clone() else {
            unreachable!()
        };
        let r = ArchiveRequest::new(Agent::Claude, Event::SessionEnd, 7, map);
        let want = json!({"type": "archive_request", "agent": "claude", "event": "SessionEnd",
            "received_ms": 7, "payload": payload});
        assert_eq!(r.to_bytes(), serde_json::to_vec(&want).unwrap());
        let back = ArchiveRequest::read(serde_json::from_slice(&r.to_bytes()).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.form(), PayloadForm::Wrapped);
        assert_eq!(back.agent(), Some(Agent::Claude));
        assert_eq!(back.received_ms(), Some(7));
        assert_eq!(back.top_str("event"), Some("SessionEnd"));
        assert_eq!(back.transcript_path(), Some("/t/r.jsonl"));
    }

    #[test]
    fn a_bare_payload_is_a_request_and_a_bad_wrapper_names_no_transcript() {
        let bare = ArchiveRequest::read(json!({"transcript_path": "/t/r.jsonl"})).unwrap();
        assert_eq!(bare.form(), PayloadForm::Bare);
        assert_eq!(bare.transcript_path(), Some("/t/r.jsonl"));
        assert_eq!(bare.agent(), None);
        let bad =
            ArchiveRequest::read(json!({"payload": 3, "transcript_path": "/t/r.jsonl"})).unwrap();
        assert_eq!(bad.form(), PayloadForm::Malformed);
        assert_eq!(bad.transcript_path(), None);
        assert!(bad.payload().contains_key("transcript_path"));
        assert!(ArchiveRequest::read(json!([1])).is_none());
        let empty = ArchiveRequest::read(json!({"transcript_path": ""})).unwrap();
        assert_eq!(empty.transcript_path(), None);
    }

    #[test]
    fn every_host_but_codex_prefixes_its_session_ids_once() {
        assert_eq!(Agent::Codex.session_key("019a"), "019a");
        assert_eq!(Agent::Claude.session_key("abc"), "claude:abc");
        assert_eq!(Agent::Qwen.session_key("abc"), "qwen:abc");
        assert_eq!(Agent::Qwen.session_key("qwen:abc"), "qwen:abc");
        assert_eq!(Agent::OpenCode.session_key("ses_1"), "opencode:ses_1");
        assert_eq!(Agent::of_session_key("gemini:x"), Some(Agent::Gemini));
        assert_eq!(Agent::of_session_key("codex:x"), None);
        assert_eq!(Agent::of_session_key("019a-77"), None);
        for a in Agent::ALL {
            assert_eq!(Agent::parse(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
    }
}
