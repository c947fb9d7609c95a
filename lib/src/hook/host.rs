//! What differs between the hosts at a hook call: their event names (Copilot's `agentStop`,
//! Gemini's `AfterAgent` are csep's Stop), their payload field names (Copilot's camelCase
//! `sessionId`/`transcriptPath`, Cursor's `conversation_id`/`workspace_roots`), where the
//! transcript is when the payload does not say (Copilot's `sessionEnd`, Cursor's null
//! `transcript_path`), and the SessionStart answer each accepts (docs/HOOKS.md). Everything
//! after this reads one payload shape: Claude Code's.

use crate::wire::{Agent, Event};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// csep's event for a host's event name.
pub fn event(agent: Agent, name: &str) -> Event {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    match agent {
        Agent::Copilot if is("agentStop") => Event::Stop,
        Agent::Gemini if is("AfterAgent") => Event::Stop,
        _ => Event::parse(name),
    }
}

/// Moves `from` to `to` unless `to` is there already.
fn rename(payload: &mut Map<String, Value>, from: &str, to: &str) {
    if payload.contains_key(to) {
        return;
    }
    if let Some(v) = payload.remove(from) {
        payload.insert(to.to_string(), v);
    }
}

/// Gives a host's payload Claude Code's field names (`session_id`, `transcript_path`, `cwd`,
/// `hook_event_name`), before the fields are checked. A `null` transcript path is no path.
pub fn normalize(agent: Agent, event_name: Option<&str>, payload: &mut Map<String, Value>) {
    match agent {
        Agent::Copilot => {
            rename(payload, "sessionId", "session_id");
            rename(payload, "transcriptPath", "transcript_path");
        }
        Agent::Cursor => {
            rename(payload, "conversation_id", "session_id");
            if !payload.contains_key("cwd") {
                let root = payload
                    .get("workspace_roots")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .cloned();
                if let Some(root) = root {
                    payload.insert("cwd".into(), root);
                }
            }
        }
        _ => {}
    }
    if payload.get("transcript_path").is_some_and(Value::is_null) {
        payload.remove("transcript_path");
    }
    if let (Some(name), false) = (event_name, payload.contains_key("hook_event_name")) {
        if !payload.is_empty() {
            payload.insert("hook_event_name".into(), name.into());
        }
    }
}

/// Fills in the transcript path a host leaves out, from the (checked) session id: Copilot's
/// `session-state/<id>/events.jsonl` (only `agentStop` carries the path), Cursor's newest
/// transcript for the conversation under `projects/`, OpenCode's session in its store.
/// Nothing when there is no such file.
pub fn fill_transcript(agent: Agent, payload: &mut Map<String, Value>) {
    if payload.contains_key("transcript_path") {
        return;
    }
    let Some(id) = super::field(payload, "session_id") else {
        return;
    };
    let found = match agent {
        Agent::Copilot => Some(
            crate::paths::copilot_home()
                .join("session-state")
                .join(id)
                .join("events.jsonl"),
        )
        .filter(|p| p.is_file()),
        Agent::Cursor => newest_cursor_transcript(&crate::paths::cursor_config_dir(), id),
        // One session of OpenCode's store, `STORE#SESSION`: the drain reads that session
        // (and its sub-agents) alone instead of walking the whole store.
        Agent::OpenCode => {
            let db = crate::paths::opencode_data_dir().join("opencode.db");
            let db = std::fs::canonicalize(&db).unwrap_or(db);
            db.is_file()
                .then(|| PathBuf::from(format!("{}#{id}", db.display())))
        }
        _ => None,
    };
    if let Some(p) = found
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| crate::text::check_path(p).is_ok())
    {
        payload.insert("transcript_path".into(), p.into());
    }
}

/// The newest of `projects/*/agent-transcripts/<id>.{jsonl,txt}` and `…/<id>/<id>.jsonl`.
pub fn newest_cursor_transcript(cursor_dir: &Path, id: &str) -> Option<PathBuf> {
    let projects = std::fs::read_dir(cursor_dir.join("projects")).ok()?;
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for project in projects.flatten() {
        let dir = project.path().join("agent-transcripts");
        for p in [
            dir.join(format!("{id}.jsonl")),
            dir.join(id).join(format!("{id}.jsonl")),
            dir.join(format!("{id}.txt")),
        ] {
            let Ok(m) = std::fs::metadata(&p) else {
                continue;
            };
            let t = m.modified().unwrap_or(std::time::UNIX_EPOCH);
            if m.is_file() && best.as_ref().is_none_or(|(b, _)| t > *b) {
                best = Some((t, p));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// The index's session id, for the hosts csep added after Codex and Claude Code (whose
/// queued payloads keep the host's own id, as before).
pub fn key_session(agent: Agent, payload: &mut Map<String, Value>) {
    if matches!(agent, Agent::Codex | Agent::Claude) {
        return;
    }
    if let Some(id) = super::field(payload, "session_id").map(|id| agent.session_key(id)) {
        payload.insert("session_id".into(), id.into());
    }
}

/// The SessionStart answer `agent` accepts: Copilot's `{"additionalContext"}` (camelCase at
/// the top), Cursor's `{"additional_context"}`, OpenCode's plugin reads `additionalContext`;
/// the others take Claude Code's `hookSpecificOutput`.
pub fn session_start_value(agent: Agent, context: &str) -> Value {
    match agent {
        Agent::Copilot | Agent::OpenCode => json!({"additionalContext": context}),
        Agent::Cursor => json!({"additional_context": context}),
        _ => {
            json!({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn host_event_names_map_to_csep_events() {
        assert_eq!(event(Agent::Copilot, "agentStop"), Event::Stop);
        assert_eq!(event(Agent::Copilot, "sessionStart"), Event::SessionStart);
        assert_eq!(event(Agent::Copilot, "sessionEnd"), Event::SessionEnd);
        assert_eq!(event(Agent::Gemini, "AfterAgent"), Event::Stop);
        assert_eq!(event(Agent::Cursor, "stop"), Event::Stop);
        assert_eq!(event(Agent::Claude, "AfterAgent"), Event::Other);
        assert_eq!(event(Agent::Copilot, "preToolUse"), Event::Other);
    }

    #[test]
    fn payloads_get_claude_code_field_names() {
        let mut p = obj(
            json!({"sessionId": "s1", "transcriptPath": "/t/e.jsonl", "cwd": "/w", "timestamp": 1}),
        );
        normalize(Agent::Copilot, Some("agentStop"), &mut p);
        assert_eq!(p["session_id"], "s1");
        assert_eq!(p["transcript_path"], "/t/e.jsonl");
        assert_eq!(p["hook_event_name"], "agentStop");
        let mut c = obj(
            json!({"conversation_id": "c1", "workspace_roots": ["/w/a", "/w/b"], "transcript_path": null}),
        );
        normalize(Agent::Cursor, Some("stop"), &mut c);
        assert_eq!(c["session_id"], "c1");
        assert_eq!(c["cwd"], "/w/a");
        assert!(!c.contains_key("transcript_path"));
        key_session(Agent::Cursor, &mut c);
        assert_eq!(c["session_id"], "cursor:c1");
        let mut claude = obj(json!({"session_id": "x"}));
        key_session(Agent::Claude, &mut claude);
        assert_eq!(claude["session_id"], "x");
    }

    #[test]
    fn the_newest_cursor_transcript_of_a_conversation_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("projects/p1/agent-transcripts");
        let b = dir.path().join("projects/p2/agent-transcripts/c1");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("c1.jsonl"), "{}\n").unwrap();
        std::fs::write(a.join("other.jsonl"), "{}\n").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(a.join("c1.jsonl"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::write(b.join("c1.jsonl"), "{}\n").unwrap();
        assert_eq!(
            newest_cursor_transcript(dir.path(), "c1"),
            Some(b.join("c1.jsonl"))
        );
        assert_eq!(newest_cursor_transcript(dir.path(), "nope"), None);
    }
}
