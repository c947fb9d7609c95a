//! Qwen Code chats: `projects/<encoded cwd>/chats/<sessionId>.jsonl`. Every line carries
//! `{uuid, parentUuid, sessionId, timestamp, type, cwd, …}`; messages hold Gemini-style
//! `message.parts[]` (`text`, `functionCall`, `functionResponse`; `thought:true` parts are
//! reasoning, skipped). `type:"system"` lines (telemetry, attribution, titles, rewinds) hold
//! nothing to index.
//!
//! A UserPromptSubmit hook's context arrives as a last `<qwen:user-prompt-submit-context>`
//! part (kept as background); `systemPayload.displayText` then holds the clean prompt. A uuid
//! can repeat (the later record wins) and a `rewind` record drops what followed its target,
//! so the file is replayed from its start on every parse ([`Replay`]). Two objects glued on
//! one line are both read.

use super::jsonl::{
    from_file_start, id_from_file_stem, render_args, replay_lines, str_of, Msg, Replay,
};
use super::{Body, Builder};
use crate::wire::{Agent, Role};
use serde_json::Value;
use std::collections::HashMap;

const HOOK_CONTEXT: &str = "<qwen:user-prompt-submit-context>";

pub(super) fn parse(out: &mut Builder, _head: &[u8], body: &mut Body, start: u64) {
    out.format = "qwen";
    from_file_start(body);
    let mut st = State {
        replay: Replay::new(start),
        pos: HashMap::new(),
        calls: HashMap::new(),
    };
    replay_lines(out, body, start, &mut st, record);
    id_from_file_stem(out, Agent::Qwen);
}

struct State {
    replay: Replay,
    /// How many replayed entries stood once each uuid was read: a rewind to a uuid keeps
    /// that many.
    pos: HashMap<String, usize>,
    /// Tool call id → name, for results that do not name their tool.
    calls: HashMap<String, String>,
}

impl AsMut<Replay> for State {
    fn as_mut(&mut self) -> &mut Replay {
        &mut self.replay
    }
}

fn record(out: &mut Builder, st: &mut State, offset: u64, v: &Value) {
    if out.session.session_id.is_empty() {
        if let Some(id) = str_of(v, "sessionId") {
            out.session.session_id = Agent::Qwen.session_key(id);
        }
    }
    if let Some(cwd) = str_of(v, "cwd").filter(|c| c.starts_with('/')) {
        out.set_cwd(cwd, str_of(v, "gitBranch"));
    }
    let ts = str_of(v, "timestamp");
    out.see_time(ts);
    let uuid = str_of(v, "uuid").map(str::to_string);
    let kind = str_of(v, "type").unwrap_or("");
    let parts = v["message"]["parts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let msgs = match kind {
        "user" => {
            let msgs = user(v, parts, ts);
            // Read from the start every time: the first prompt is always seen.
            if out.session.title.is_none() && !msgs[0].background {
                out.set_title(&msgs[0].text, 0);
            }
            msgs
        }
        "assistant" => assistant(st, parts, ts),
        "tool_result" => tool_results(st, v, parts, ts),
        "system" => {
            system(out, st, v);
            Vec::new()
        }
        _ => {
            out.skipped.unknown_types += 1;
            Vec::new()
        }
    };
    match &uuid {
        Some(id) if !msgs.is_empty() => st.replay.upsert(id, offset, msgs),
        _ => st.replay.append(offset, msgs),
    }
    if let Some(id) = uuid {
        st.pos.insert(id, st.replay.len());
    }
}

fn user(v: &Value, parts: &[Value], ts: Option<&str>) -> Vec<Msg> {
    let payload = &v["systemPayload"];
    let notification = str_of(v, "subtype") == Some("notification");
    let mut said = Vec::new();
    let mut msgs = Vec::new();
    for p in parts {
        let Some(text) = str_of(p, "text") else {
            continue;
        };
        if text.trim_start().starts_with(HOOK_CONTEXT) {
            let inner = text
                .trim()
                .trim_start_matches(HOOK_CONTEXT)
                .trim_end_matches("</qwen:user-prompt-submit-context>");
            msgs.push(Msg::new(Role::Developer, inner, ts).background(true));
        } else {
            said.push(text);
        }
    }
    let prompt = match str_of(payload, "displayText") {
        Some(clean) if !msgs.is_empty() => clean.to_string(),
        _ => said.join("\n"),
    };
    msgs.insert(0, Msg::new(Role::User, prompt, ts).background(notification));
    msgs
}

fn assistant(st: &mut State, parts: &[Value], ts: Option<&str>) -> Vec<Msg> {
    let mut msgs = Vec::new();
    for p in parts {
        if p.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(text) = str_of(p, "text") {
            msgs.push(Msg::new(Role::Assistant, text, ts));
        } else if let Some(call) = p.get("functionCall") {
            let name = str_of(call, "name").unwrap_or("tool");
            if let Some(id) = str_of(call, "id") {
                st.calls.insert(id.to_string(), name.to_string());
            }
            msgs.push(Msg::new(Role::Assistant, render_args(&call["args"]), ts).tool(name));
        }
    }
    msgs
}

fn tool_results(st: &mut State, v: &Value, parts: &[Value], ts: Option<&str>) -> Vec<Msg> {
    let mut msgs = Vec::new();
    for p in parts {
        let Some(resp) = p.get("functionResponse") else {
            continue;
        };
        let name = str_of(resp, "name")
            .map(str::to_string)
            .or_else(|| str_of(resp, "id").and_then(|id| st.calls.get(id).cloned()))
            .unwrap_or_else(|| "tool".to_string());
        let r = &resp["response"];
        let text = str_of(r, "output")
            .or_else(|| str_of(r, "error"))
            .map(str::to_string)
            .or_else(|| display(&v["toolCallResult"]["resultDisplay"]))
            .unwrap_or_default();
        msgs.push(Msg::new(Role::Tool, text, ts).tool(&name));
    }
    msgs
}

fn display(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(_) => str_of(v, "output").map(str::to_string),
        _ => None,
    }
}

fn system(out: &mut Builder, st: &mut State, v: &Value) {
    let payload = &v["systemPayload"];
    match str_of(v, "subtype") {
        Some("custom_title") => {
            if let Some(t) = str_of(payload, "customTitle") {
                out.set_title(t, 3);
            }
        }
        Some("rewind") => {
            // Keeps the target and what came before it.
            if let Some(&n) = str_of(payload, "targetUuid").and_then(|t| st.pos.get(t)) {
                st.replay.truncate(n);
            }
        }
        _ => {}
    }
}

/// Whether the chat at `path` holds the answer that ends the turn a hook announced at
/// `since_ms` or later: its newest conversation record (`user`, `tool_result` or `assistant`,
/// among the last 64 KiB) is the assistant's, with no call in it, stamped then or later.
/// Qwen Code 0.24.4 can run Stop before the turn's records are written (all of them, when
/// run again with `-p` on a session), and a `qwen -p` run fires no SessionEnd after it. When
/// the tail holds no conversation record at all (one long tool output), or the answer no
/// time, there is nothing to wait for: true.
pub fn turn_answered(path: &std::path::Path, since_ms: i64) -> bool {
    let objects = super::jsonl::last_objects(path, 64 * 1024);
    let Some(last) = objects.iter().find(|v| {
        matches!(
            v["type"].as_str(),
            Some("user" | "assistant" | "tool_result")
        )
    }) else {
        return true;
    };
    let calls = last["message"]["parts"]
        .as_array()
        .is_some_and(|parts| parts.iter().any(|p| p.get("functionCall").is_some()));
    let recent = last["timestamp"]
        .as_str()
        .and_then(crate::timefmt::parse_iso_ms)
        .is_none_or(|t| t >= since_ms);
    last["type"] == "assistant" && !calls && recent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_is_answered_once_the_newest_conversation_record_is_its_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let rec = |kind: &str, ts: &str, parts: &str| {
            format!(
                r#"{{"type":"{kind}","timestamp":"2026-12-07T10:00:{ts}Z","message":{{"role":"x","parts":{parts}}}}}"#
            )
        };
        let hook = crate::timefmt::parse_iso_ms("2026-12-07T10:00:30.000Z").unwrap();
        let earlier = rec(
            "assistant",
            "05.000",
            r#"[{"text":"The last turn's answer."}]"#,
        );
        let user = rec("user", "20.000", r#"[{"text":"run the tests"}]"#);
        let call = rec(
            "assistant",
            "21.000",
            r#"[{"text":"I will"},{"functionCall":{"name":"run_shell_command","args":{}}}]"#,
        );
        let result = rec(
            "tool_result",
            "22.000",
            r#"[{"functionResponse":{"name":"run_shell_command"}}]"#,
        );
        let answer = rec("assistant", "29.900", r#"[{"text":"All green."}]"#);
        let telemetry = r#"{"type":"system","subtype":"ui_telemetry","systemPayload":{}}"#;
        let write = |lines: &[&str]| std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        write(&[&earlier]);
        assert!(
            !turn_answered(&path, hook - 2000),
            "the last turn's answer is not this one's"
        );
        write(&[&earlier, &user]);
        assert!(!turn_answered(&path, hook - 2000), "only the prompt");
        write(&[&earlier, &user, &call, telemetry]);
        assert!(
            !turn_answered(&path, hook - 2000),
            "a call is not an answer"
        );
        write(&[&earlier, &user, &call, &result, telemetry]);
        assert!(
            !turn_answered(&path, hook - 2000),
            "nor is the call's result"
        );
        write(&[&earlier, &user, &call, &result, &answer, telemetry]);
        assert!(
            turn_answered(&path, hook - 2000),
            "telemetry after the answer does not matter"
        );
        // A torn answer is not there yet.
        std::fs::write(&path, format!("{user}\n{}", &answer[..20])).unwrap();
        assert!(!turn_answered(&path, hook - 2000));
        // Nothing to tell from: no conversation record in the tail.
        write(&[telemetry]);
        assert!(turn_answered(&path, hook - 2000));
    }
}
