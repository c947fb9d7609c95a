//! The JSON Lines records that pass between the tools (`csep-archive | csep-index`), and the
//! summaries the tools print. Documented with examples in `docs/WIRE.md`.
//!
//! Compatibility: fields are only ever added; readers skip fields and record types they do
//! not know. Every record starts with `"type"`. Times are RFC 3339 UTC strings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which host wrote a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    Codex,
    Claude,
}

impl Agent {
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Codex => "codex",
            Agent::Claude => "claude",
        }
    }
    pub fn parse(s: &str) -> Option<Agent> {
        match s {
            "codex" => Some(Agent::Codex),
            "claude" => Some(Agent::Claude),
            _ => None,
        }
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
