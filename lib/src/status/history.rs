//! The hosts' histories for `csep status`: for every host csep reads, where its history is by
//! default, whether that is there, and what the index holds of it (sessions, messages, the
//! newest session's time). What a person checks after `csep setup` to see each host found.

use crate::paths;
use crate::timefmt;
use crate::wire::Agent;
use serde::Serialize;
use std::path::Path;

/// One host's history and what the index holds of it.
#[derive(Debug, Clone, Serialize)]
pub struct HostHistory {
    /// The host's `--agent` name (`codex`, `copilot`, …).
    pub agent: &'static str,
    /// Its name for people ("GitHub Copilot CLI").
    pub name: &'static str,
    /// Its default history root; `None` for a host that keeps none in one place (Aider).
    pub root: Option<String>,
    pub root_exists: bool,
    /// Sessions and messages of this host the index holds.
    pub sessions: u64,
    pub messages: u64,
    /// When the newest of them was last active; `None` when it holds none.
    pub newest_session_at: Option<String>,
}

impl HostHistory {
    /// Its root is there or the index holds some of its sessions: a host found on this machine.
    pub fn found(&self) -> bool {
        self.root_exists || self.sessions > 0
    }
}

/// Every host, in [`Agent::ALL`]'s order. Codex's and Claude Code's roots are under the
/// homes status was given; the others' come from their environment ([`paths::history_root`]).
pub fn histories(
    codex_home: &Path,
    claude_dir: &Path,
    recall: &super::local::SessionRecall,
) -> Vec<HostHistory> {
    Agent::ALL
        .iter()
        .map(|&agent| {
            let root = match agent {
                Agent::Codex => Some(codex_home.join("sessions")),
                Agent::Claude => Some(claude_dir.join("projects")),
                other => paths::history_root(other),
            };
            let key = agent.as_str();
            HostHistory {
                agent: key,
                name: agent.display_name(),
                root_exists: root.as_deref().is_some_and(Path::exists),
                root: root.map(|r| r.display().to_string()),
                sessions: recall.sessions_by_agent.get(key).copied().unwrap_or(0),
                messages: recall.messages_by_agent.get(key).copied().unwrap_or(0),
                newest_session_at: recall
                    .newest_ms_by_agent
                    .get(key)
                    .map(|&ms| timefmt::format_iso_ms(ms)),
            }
        })
        .collect()
}
