//! Factory Droid sessions: `sessions/<encoded cwd>/<id>.jsonl`, a first `session_start` line
//! `{id, title, cwd, …}` then `{type:"message", id, parentId, timestamp, message:{role,
//! content[]}}` lines with Anthropic-shaped blocks (`text`, `tool_use`, `tool_result`,
//! `thinking`, skipped). Tool results arrive in the next user message; their tool name comes
//! from the `tool_use` that opened them (kept across resumes in `pending`).
//!
//! Hook records (a user message with empty content and `hookEventName`) are skipped, except
//! the context a SessionStart hook injected, kept as background; the `context-…` user
//! message (a `<system-reminder>` tool list) and `agent_turn_outcome` lines are skipped. The
//! `<id>.settings.json` beside the file (model, token usage) is not read.

use super::jsonl::{each_object, id_from_file_stem, read_lines, str_of, tool_block};
use super::{for_each_line, Body, Builder};
use crate::wire::{Agent, Role};
use serde_json::Value;

pub(super) fn parse(out: &mut Builder, head: &[u8], body: &mut Body, start: u64) {
    out.format = "droid";
    if start > 0 {
        let mut scratch = crate::wire::SkipCounts::default();
        for_each_line(head, 0, &mut scratch.clone(), |_, line| {
            if out.session.session_id.is_empty() {
                each_object(line, &mut scratch, |v| {
                    if str_of(&v, "type") == Some("session_start") {
                        session_start(out, &v);
                    }
                });
            }
        });
    }
    read_lines(out, body, record);
    id_from_file_stem(out, Agent::Droid);
}

fn session_start(out: &mut Builder, v: &Value) {
    if let Some(id) = str_of(v, "id") {
        out.session.session_id = Agent::Droid.session_key(id);
    }
    if let Some(cwd) = str_of(v, "cwd") {
        out.set_cwd(cwd, None);
    }
    if let Some(t) = str_of(v, "sessionTitle").or_else(|| str_of(v, "title")) {
        out.set_title(t, 1);
    }
}

fn record(out: &mut Builder, offset: u64, v: &Value) {
    match str_of(v, "type").unwrap_or("") {
        "session_start" => session_start(out, v),
        "message" => message(out, offset, v),
        "agent_turn_outcome" => {}
        _ => out.skipped.unknown_types += 1,
    }
}

fn message(out: &mut Builder, offset: u64, v: &Value) {
    let ts = str_of(v, "timestamp");
    out.see_time(ts);
    let msg = &v["message"];
    let role = str_of(msg, "role").unwrap_or("");
    if msg.get("hookEventName").is_some() {
        hook_context(out, msg, ts, offset);
        return;
    }
    if str_of(v, "id").is_some_and(|id| id.starts_with("context-")) {
        return;
    }
    let blocks = match &msg["content"] {
        Value::String(s) => vec![serde_json::json!({"type": "text", "text": s})],
        Value::Array(a) => a.clone(),
        _ => return,
    };
    for b in &blocks {
        match str_of(b, "type").unwrap_or("") {
            "text" => {
                let text = str_of(b, "text").unwrap_or("");
                if role == "assistant" {
                    out.push(Role::Assistant, None, text, ts, offset, false);
                } else {
                    let bg = super::claude::is_injected(text);
                    out.push(Role::User, None, text, ts, offset, bg);
                }
            }
            _ => tool_block(out, b, ts, offset),
        }
    }
}

/// The context a hook injected: `hookSpecificOutput.additionalContext` in a hook's stdout.
fn hook_context(out: &mut Builder, msg: &Value, ts: Option<&str>, offset: u64) {
    let Some(results) = msg["hookResults"].as_array() else {
        return;
    };
    for r in results {
        let Some(stdout) = str_of(r, "stdout") else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(stdout) else {
            continue;
        };
        if let Some(ctx) = str_of(&doc["hookSpecificOutput"], "additionalContext") {
            out.push(Role::Developer, None, ctx, ts, offset, true);
        }
    }
}
