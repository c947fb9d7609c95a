//! csep 1.3.10's stored sessions (its `session_recall/state.db` rows, which `index::legacy`
//! reads) turned into the records a transcript gives, through the same [`Builder`] the host
//! readers fill: the same caps, redaction, background rules, reflection exclusion and repo
//! identity (from the session's cwd, looked up now), so an imported session reads like an
//! ingested one. 1.3.10 kept its text unredacted and uncapped; nothing of it is trusted.
//!
//! The source record names the session's transcript (where 1.3.10 read it) with the
//! [`FORMAT`] marker and no byte offsets: the file, if it is still there, is read whole by the
//! next backfill, and its messages replace the imported ones (`index::ingest`).

use super::{claude, codex, Builder, Caps, Parsed, Request, Stat};
use crate::error::Result;
use crate::wire::{Agent, Role};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// `sources.format` of a session imported from csep 1.3.10, until its transcript replaces it.
pub const FORMAT: &str = "csep-1.3.10";

/// One row of 1.3.10's `sessions` table, as read.
#[derive(Debug, Clone, Default)]
pub struct LegacySession {
    pub session_id: String,
    /// `session_path`: the transcript 1.3.10 read.
    pub path: Option<String>,
    /// `source`: Codex's session source (`cli`, `exec`, …) or `claude_code_jsonl`.
    pub source: Option<String>,
    pub cwd: Option<String>,
    pub branch: Option<String>,
    pub started_at: Option<String>,
    /// `metadata_json`: the Codex session meta it kept (source, originator).
    pub metadata: Option<String>,
}

/// One row of 1.3.10's `messages` table, as read.
#[derive(Debug, Clone, Default)]
pub struct LegacyMessage {
    pub index: i64,
    pub role: String,
    pub content: String,
    /// The transcript line the message came from.
    pub raw_json: Option<String>,
    /// `metadata_json`: which content block of the line it is (`block_index`).
    pub metadata: Option<String>,
    pub timestamp: Option<String>,
    /// The tool's name on a tool call; on Claude Code's tool results, the call's id.
    pub tool_name: Option<String>,
}

/// The host of a 1.3.10 session: its Claude Code ids carry a `claude:` prefix.
pub fn agent_of(s: &LegacySession) -> Agent {
    let claude_source = s.source.as_deref().is_some_and(|x| x.starts_with("claude"));
    if s.session_id.starts_with("claude:") || claude_source {
        Agent::Claude
    } else {
        Agent::Codex
    }
}

/// The id the host readers give the same session (`claude:<uuid>` for Claude Code).
pub fn session_id_of(s: &LegacySession) -> String {
    let id = s.session_id.trim();
    match agent_of(s) {
        Agent::Claude if !id.starts_with("claude:") => format!("claude:{id}"),
        _ => id.to_string(),
    }
}

/// The records of one 1.3.10 session. `source_path` names the source row (the transcript
/// path, or a stand-in where there is none), `fingerprint` what was imported, so importing
/// the same rows again changes nothing.
pub fn records(
    s: &LegacySession,
    messages: &[LegacyMessage],
    source_path: &str,
    fingerprint: String,
    caps: Caps,
) -> Result<Parsed> {
    let agent = agent_of(s);
    let req = Request {
        agent: Some(agent),
        caps,
        ..Default::default()
    };
    let mut out = Builder::new(Path::new(source_path), agent, &req, 0);
    out.format = FORMAT;
    out.session.session_id = session_id_of(s);
    if let Some(cwd) = s.cwd.as_deref() {
        out.set_cwd(cwd, s.branch.as_deref());
    }
    if agent == Agent::Codex {
        codex_meta(&mut out, s.metadata.as_deref());
    }
    out.see_time(s.started_at.as_deref());
    // Tool-call ids to tool names, as the readers pair a result with its call.
    let mut calls: BTreeMap<String, String> = BTreeMap::new();
    for m in messages {
        let ts = m.timestamp.as_deref();
        out.see_time(ts);
        let offset = m.index.max(0) as u64;
        let raw = m
            .raw_json
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok());
        let Some(role) = Role::parse(m.role.trim()) else {
            out.skipped.unknown_types += 1;
            continue;
        };
        match role {
            Role::Assistant if m.tool_name.is_some() => {
                let name = m.tool_name.as_deref().unwrap_or("tool");
                let (id, input) = tool_block(raw.as_ref(), m.metadata.as_deref());
                if let Some(id) = id {
                    calls.insert(id, name.to_string());
                }
                let text = input.unwrap_or_else(|| m.content.clone());
                out.push(Role::Assistant, Some(name), &text, ts, offset, false);
            }
            Role::Tool => {
                let named = m.tool_name.as_deref().filter(|n| !n.is_empty());
                let name = match named.and_then(|id| calls.get(id)) {
                    Some(n) => n.clone(),
                    // Claude Code's results name the call's id, never the tool.
                    None if agent == Agent::Claude => "tool".to_string(),
                    None => named.unwrap_or("tool").to_string(),
                };
                out.push(Role::Tool, Some(&name), &m.content, ts, offset, false);
            }
            Role::User => {
                let meta = raw.as_ref().is_some_and(|r| {
                    r.get("isMeta").and_then(Value::as_bool) == Some(true)
                        || r.get("isCompactSummary").and_then(Value::as_bool) == Some(true)
                });
                let injected = match agent {
                    Agent::Codex => codex::is_injected(&m.content),
                    // 1.3.10 read only Codex and Claude Code.
                    _ => claude::is_injected(&m.content),
                };
                out.push(Role::User, None, &m.content, ts, offset, meta || injected);
            }
            Role::Developer | Role::System => {
                out.push(role, None, &m.content, ts, offset, true);
            }
            Role::Assistant => out.push(Role::Assistant, None, &m.content, ts, offset, false),
        }
    }
    let stat = Stat {
        size: 0,
        mtime_ms: 0,
    };
    out.finish(stat, 0, fingerprint)
}

/// What Codex's session meta said, as the reader keeps it: `source/originator`, and whether
/// it was a subagent's.
fn codex_meta(out: &mut Builder, metadata: Option<&str>) {
    let Some(m) = metadata.and_then(|m| serde_json::from_str::<Value>(m).ok()) else {
        return;
    };
    let source = match m.get("source") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => {
            if o.contains_key("subagent") {
                let nick = m.get("agent_nickname").and_then(Value::as_str);
                out.session.subagent = Some(nick.unwrap_or("subagent").to_string());
            }
            o.keys().next().cloned()
        }
        _ => None,
    };
    let originator = m.get("originator").and_then(Value::as_str);
    out.session.thread_source = match (source, originator) {
        (Some(s), Some(o)) => Some(format!("{s}/{o}")),
        (Some(s), None) => Some(s),
        (None, Some(o)) => Some(o.to_string()),
        (None, None) => None,
    };
}

/// A Claude Code tool call's id and its input as the reader renders it, from the transcript
/// line 1.3.10 kept and the block it names; `(None, None)` when the line does not say.
fn tool_block(raw: Option<&Value>, metadata: Option<&str>) -> (Option<String>, Option<String>) {
    let index = metadata
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .and_then(|m| m.get("block_index").and_then(Value::as_u64));
    let block = raw
        .and_then(|r| r.get("message"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .zip(index)
        .and_then(|(blocks, i)| blocks.get(i as usize))
        .filter(|b| {
            matches!(
                b.get("type").and_then(Value::as_str),
                Some("tool_use" | "server_tool_use")
            )
        });
    let Some(block) = block else {
        return (None, None);
    };
    let id = block.get("id").and_then(Value::as_str).map(str::to_string);
    let input = block
        .get("input")
        .and_then(|i| serde_json::value::to_raw_value(i).ok())
        .map(|raw| claude::render_input(&raw));
    (id, input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, source: &str) -> LegacySession {
        LegacySession {
            session_id: id.into(),
            path: Some("/gone/t.jsonl".into()),
            source: Some(source.into()),
            cwd: Some("/nonexistent/legacy-repo".into()),
            ..Default::default()
        }
    }

    fn msg(index: i64, role: &str, content: &str) -> LegacyMessage {
        LegacyMessage {
            index,
            role: role.into(),
            content: content.into(),
            timestamp: Some("2026-11-01T10:00:00.000Z".into()),
            ..Default::default()
        }
    }

    #[test]
    fn claude_rows_become_what_the_reader_gives() {
        let s = session("claude:abc", "claude_code_jsonl");
        let line = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"x"},{"type":"tool_use","id":"toolu_9","name":"Bash","input":{"command":"ls /srv"}}]}}"#;
        let meta_line = r#"{"type":"user","isMeta":true,"message":{"content":"note"}}"#;
        let messages = [
            msg(0, "user", "find the bug"),
            LegacyMessage {
                raw_json: Some(meta_line.into()),
                ..msg(1, "user", "Caveat: generated by a local command")
            },
            LegacyMessage {
                raw_json: Some(meta_line.into()),
                ..msg(2, "user", "plain words, but a meta line")
            },
            LegacyMessage {
                raw_json: Some(line.into()),
                metadata: Some(r#"{"block_index": 1}"#.into()),
                tool_name: Some("Bash".into()),
                ..msg(
                    3,
                    "assistant",
                    "tool_use: Bash\ninput: {\"command\": \"ls /srv\"}",
                )
            },
            LegacyMessage {
                tool_name: Some("toolu_9".into()),
                ..msg(4, "tool", &"y".repeat(40_000))
            },
            msg(5, "narrator", "an unknown role"),
        ];
        let p = records(&s, &messages, "/gone/t.jsonl", "fp".into(), Caps::DEFAULT).unwrap();
        assert_eq!(p.session.session_id, "claude:abc");
        assert_eq!(p.session.agent, Some(Agent::Claude));
        assert_eq!(p.session.cwd.as_deref(), Some("/nonexistent/legacy-repo"));
        assert!(p.session.repo_fingerprint.is_some());
        assert_eq!(p.source.format, FORMAT);
        assert_eq!((p.source.size_bytes, p.source.end_offset), (0, 0));
        assert_eq!(p.source.fingerprint, "fp");
        let bg: Vec<bool> = p.messages.iter().map(|m| m.background).collect();
        assert_eq!(bg, [false, true, true, false, false]);
        assert_eq!(p.messages[3].tool.as_deref(), Some("Bash"));
        assert_eq!(p.messages[3].text, "ls /srv");
        assert_eq!(p.messages[4].tool.as_deref(), Some("Bash"));
        assert!(
            p.messages[4].truncated,
            "tool output is capped as on ingest"
        );
        assert!(p.messages[4].text.len() < 20_000);
        assert_eq!(p.source.skipped.unknown_types, 1);
        assert_eq!(
            p.session.started_at.as_deref(),
            Some("2026-11-01T10:00:00.000Z")
        );
    }

    #[test]
    fn codex_rows_keep_the_meta_and_flag_injected_context() {
        let mut s = session("019a-1", "cli");
        s.metadata = Some(r#"{"source": "exec", "originator": "codex_exec"}"#.into());
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
        let messages = [
            msg(0, "developer", "<permissions instructions>"),
            msg(
                1,
                "user",
                "<environment_context><cwd>/x</cwd></environment_context>",
            ),
            msg(2, "user", &format!("the key is {key}")),
            msg(3, "assistant", "done"),
        ];
        let p = records(&s, &messages, "/gone/r.jsonl", "fp".into(), Caps::DEFAULT).unwrap();
        assert_eq!(p.session.agent, Some(Agent::Codex));
        assert_eq!(p.session.thread_source.as_deref(), Some("exec/codex_exec"));
        let bg: Vec<bool> = p.messages.iter().map(|m| m.background).collect();
        assert_eq!(bg, [true, true, false, false]);
        assert!(!p.messages[2].text.contains(key), "{}", p.messages[2].text);
        assert!(p.source.excluded.is_none());
    }

    #[test]
    fn a_claude_source_without_the_prefix_gets_the_readers_id() {
        let s = session("abc", "claude_code_jsonl");
        assert_eq!(session_id_of(&s), "claude:abc");
        assert_eq!(session_id_of(&session("019a", "vscode")), "019a");
    }
}
