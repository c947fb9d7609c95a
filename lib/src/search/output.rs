//! What a recall answers: the options it runs with and the sessions, windows and budget it
//! returns (its JSON is `docs/WIRE.md`'s "Recall output").

use crate::wire::{Agent, Role};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Sessions of one repo (all its worktrees): the fingerprint and the root, for display.
    Repo {
        fingerprint: String,
        root: String,
    },
    Global,
}

#[derive(Debug, Clone)]
pub struct RecallOptions {
    pub query: Option<String>,
    pub scope: Scope,
    pub recent: bool,
    pub limit: usize,
    pub before: usize,
    pub after: usize,
    pub windows_per_session: usize,
    pub budget_chars: usize,
    pub message_chars: usize,
    pub tool_message_chars: usize,
    pub current_session_id: Option<String>,
    pub all_terms: bool,
    pub include_background: bool,
    pub agent: Option<Agent>,
    pub roles: Vec<Role>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl Default for RecallOptions {
    fn default() -> Self {
        RecallOptions {
            query: None,
            scope: Scope::Global,
            recent: false,
            limit: 3,
            before: 3,
            after: 5,
            windows_per_session: 2,
            budget_chars: 12_000,
            message_chars: 1200,
            tool_message_chars: 600,
            current_session_id: None,
            all_terms: false,
            include_background: false,
            agent: None,
            roles: Vec::new(),
            since_ms: None,
            until_ms: None,
        }
    }
}

/// One message of a window. Field names follow csep 1.3.10 (`message_index`, `tool_name`,
/// `content`) so its users' scripts keep working.
#[derive(Debug, Clone, Serialize)]
pub struct WindowMessage {
    pub message_index: i64,
    pub role: String,
    pub tool_name: Option<String>,
    pub timestamp: Option<String>,
    pub content: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anchor: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Anchor {
    pub message_index: i64,
    pub role: String,
    pub tool_name: Option<String>,
    /// `fts` (word index) or `trigram` (substring index).
    pub matched_by: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub matched: String,
    pub anchor: Anchor,
    /// The transcript file the window comes from (a subagent file, say).
    pub source: Option<String>,
    /// The subagent whose transcript `source` is (`csep show --subagent` reads it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
    pub messages: Vec<WindowMessage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OtherHit {
    pub message_index: i64,
    pub role: String,
    pub snippet: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecallResult {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub session_id: String,
    pub agent: String,
    pub score: f64,
    /// How the best hit matched: `phrase`, `all_words`, `prefix`, `substring` or `any_word`
    /// (`recent` for a listing without a query).
    pub query_mode: &'static str,
    /// Where the best hit is: `conversation`, or `background` (injected context, searched
    /// when nothing else matched or with `--include-background`).
    pub matched_in: &'static str,
    /// The best match, with the matched text marked `>>>…<<<`.
    pub matched: String,
    /// Which alternatives of the query this session matched.
    pub matched_terms: Vec<String>,
    pub source: Option<String>,
    pub repo: Option<String>,
    pub cwd: Option<String>,
    pub repo_fingerprint: Option<String>,
    pub worktree: Option<String>,
    pub branch: Option<String>,
    pub title: Option<String>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub hit_count: usize,
    pub other_hits: Vec<OtherHit>,
    pub windows: Vec<Window>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub budget_chars: usize,
    pub used_chars: usize,
    pub message_chars: usize,
    pub tool_message_chars: usize,
    pub truncated: bool,
    /// `""` or `budget_exceeded`.
    pub truncation_reason: &'static str,
}

impl Budget {
    /// A budget of these sizes with nothing spent yet.
    pub fn unspent(budget_chars: usize, message_chars: usize, tool_message_chars: usize) -> Budget {
        Budget {
            budget_chars,
            used_chars: 0,
            message_chars,
            tool_message_chars,
            truncated: false,
            truncation_reason: "",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RecallOutput {
    pub query: String,
    /// `repo` or `global`.
    pub scope: &'static str,
    /// The repo root when the scope is `repo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// `matched`, `no_match`, or `no_index` (nothing backfilled yet).
    pub status: &'static str,
    pub count: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recent: bool,
    pub results: Vec<RecallResult>,
    pub budget: Budget,
}
