//! Codex CLI rollouts, every era: the `{"timestamp","type","payload"}` envelope (0.32+), the
//! legacy bare-meta + `record_type` lines (0.8–0.31), and the TS-era single JSON document.
//!
//! Only `response_item`s are indexed: `event_msg` repeats the same user and assistant text,
//! and indexing one copy keeps ranking honest. Reasoning (encrypted or not) is skipped.

use super::{content_text, count_bad_line, Body, Builder};
use crate::wire::Role;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::path::Path;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    record_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cwd: Option<Cow<'a, str>>,
    #[serde(default)]
    source: Option<Value>,
    #[serde(borrow, default)]
    originator: Option<Cow<'a, str>>,
    #[serde(default)]
    git: Option<Git>,
    #[serde(borrow, default)]
    agent_nickname: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Git {
    #[serde(default)]
    branch: Option<String>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow, default)]
    call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    output: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    action: Option<&'a RawValue>,
    #[serde(borrow, default)]
    revised_prompt: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Compacted<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

const ENVELOPE_TYPES: &[&str] = &[
    "session_meta",
    "response_item",
    "event_msg",
    "compacted",
    "turn_context",
    "world_state",
    "security_risk_score",
    "inter_agent_communication",
    "inter_agent_communication_metadata",
];

const ITEM_TYPES: &[&str] = &[
    "message",
    "agent_message",
    "reasoning",
    "local_shell_call",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "tool_search_call",
    "tool_search_output",
    "web_search_call",
    "image_generation_call",
    "compaction",
    "compaction_summary",
    "context_compaction",
    "ghost_snapshot",
    "other",
];

/// Text that Codex injects as a `user` message: context, not what the human typed.
const INJECTED_PREFIXES: &[&str] = &[
    "<environment_context>",
    "# AGENTS.md instructions",
    "<user_instructions>",
    "<INSTRUCTIONS>",
    "<turn_aborted>",
    "<skill>",
    "<permissions instructions>",
    "<collaboration_mode>",
];

pub(super) fn parse(out: &mut Builder, head: &[u8], body: &mut Body, start: u64) {
    if is_ts_document(head) {
        out.format = "codex-ts";
        parse_ts_document(out, body, start);
        return;
    }
    out.format = "codex-envelope";
    if start > 0 {
        // Resuming: the session facts are on the first line, which we did not re-read.
        let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
        header_line(out, first);
    }
    let mut skipped = std::mem::take(&mut out.skipped);
    let end = body.for_each_line(&mut skipped, |offset, line| {
        handle_line(out, offset, line);
    });
    // `handle_line` counts into `out.skipped`; merge the line-splitter's counts.
    out.skipped.add(&skipped);
    out.end_offset = end;
    if out.session.session_id.is_empty() {
        if let Some(id) = id_from_file_name(Path::new(&out.session.source)) {
            out.session.session_id = id;
        }
    }
}

fn header_line(out: &mut Builder, line: &[u8]) {
    let Ok(l) = serde_json::from_slice::<Line>(line) else {
        return;
    };
    match (l.kind.as_deref(), l.payload) {
        (Some("session_meta"), Some(p)) => session_meta(out, p.get(), true),
        (None, _) if l.id.is_some() && l.record_type.is_none() => {
            out.format = "codex-legacy";
            if let Ok(text) = std::str::from_utf8(line) {
                session_meta(out, text, true);
            }
        }
        _ => {}
    }
}

fn handle_line(out: &mut Builder, offset: u64, line: &[u8]) {
    let l: Line = match serde_json::from_slice(line) {
        Ok(l) => l,
        Err(_) => {
            count_bad_line(line, &mut out.skipped);
            return;
        }
    };
    out.valid_lines += 1;
    let ts = l.timestamp.as_deref();
    match (l.kind.as_deref(), l.payload) {
        (Some("session_meta"), Some(p)) => {
            out.see_time(ts);
            session_meta(out, p.get(), offset == 0);
        }
        (Some("response_item"), Some(p)) => {
            out.see_time(ts);
            match serde_json::from_str::<Item>(p.get()) {
                Ok(item) => response_item(out, &item, ts, offset),
                Err(_) => out.skipped.bad_json += 1,
            }
        }
        (Some("compacted"), Some(p)) => {
            out.see_time(ts);
            if let Ok(c) = serde_json::from_str::<Compacted>(p.get()) {
                let text = c.message.as_deref().unwrap_or("");
                out.push(Role::System, None, text, ts, offset, true);
            }
        }
        (Some("turn_context"), Some(p)) => {
            out.see_time(ts);
            if out.session.cwd.is_none() {
                if let Ok(v) = serde_json::from_str::<Value>(p.get()) {
                    if let Some(cwd) = v.get("cwd").and_then(Value::as_str) {
                        out.set_cwd(cwd, None);
                    }
                }
            }
        }
        (Some(k), Some(_)) if ENVELOPE_TYPES.contains(&k) => {
            out.see_time(ts);
        }
        (Some(_), Some(_)) => out.skipped.unknown_types += 1,
        _ if l.record_type.is_some() => {}
        (None, None) if l.id.is_some() && offset == 0 => {
            out.format = "codex-legacy";
            if let Ok(text) = std::str::from_utf8(line) {
                session_meta(out, text, true);
            }
        }
        (Some(k), None) if ITEM_TYPES.contains(&k) => {
            // Legacy era: bare response items, one per line, no timestamps.
            out.format = "codex-legacy";
            match serde_json::from_slice::<Item>(line) {
                Ok(item) => response_item(out, &item, None, offset),
                Err(_) => out.skipped.bad_json += 1,
            }
        }
        _ => out.skipped.unknown_types += 1,
    }
}

fn session_meta(out: &mut Builder, json: &str, primary: bool) {
    let Ok(m) = serde_json::from_str::<Meta>(json) else {
        return;
    };
    if !primary && !out.session.session_id.is_empty() {
        return;
    }
    if let Some(id) = m.id.as_deref().or(m.session_id.as_deref()) {
        if out.session.session_id.is_empty() {
            out.session.session_id = id.to_string();
        }
    }
    out.see_time(m.timestamp.as_deref());
    let branch = m.git.as_ref().and_then(|g| g.branch.clone());
    match m.cwd.as_deref() {
        Some(cwd) => out.set_cwd(cwd, branch.as_deref()),
        None => out.branch_hint = branch.filter(|b| !b.is_empty()),
    }
    let source = match &m.source {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.keys().next().cloned(),
        _ => None,
    };
    if let Some(Value::Object(o)) = &m.source {
        if o.contains_key("subagent") {
            out.session.subagent = Some(
                m.agent_nickname
                    .as_deref()
                    .unwrap_or("subagent")
                    .to_string(),
            );
        }
    }
    out.session.thread_source = match (source, m.originator.as_deref()) {
        (Some(s), Some(o)) => Some(format!("{s}/{o}")),
        (Some(s), None) => Some(s),
        (None, Some(o)) => Some(o.to_string()),
        (None, None) => None,
    };
    if let Some(title) = super::codex_title(&out.session.session_id, Path::new(&out.session.source))
    {
        out.set_title(&title, 2);
    }
}

fn response_item(out: &mut Builder, item: &Item, ts: Option<&str>, offset: u64) {
    match item.kind.as_ref() {
        "message" | "agent_message" => {
            let text = item.content.map(raw_text).unwrap_or_default();
            let (role, background) = match item.role.as_deref() {
                Some("assistant") | None => (Role::Assistant, false),
                Some("developer") => (Role::Developer, true),
                Some("system") => (Role::System, true),
                Some(_) => (Role::User, is_injected(&text)),
            };
            if out.session.cwd.is_none() && text.trim_start().starts_with("<environment_context>") {
                // Old rollouts name the cwd only here.
                if let Some(cwd) = text
                    .split("<cwd>")
                    .nth(1)
                    .and_then(|r| r.split("</cwd>").next())
                {
                    out.set_cwd(cwd.trim(), None);
                }
            }
            out.push(role, None, &text, ts, offset, background);
        }
        "function_call" => {
            let name = tool_name(item);
            if let Some(id) = &item.call_id {
                out.pending.insert(id.to_string(), name.clone());
            }
            let args = item.arguments.map(render_arguments).unwrap_or_default();
            out.push(Role::Assistant, Some(&name), &args, ts, offset, false);
        }
        "custom_tool_call" => {
            let name = tool_name(item);
            if let Some(id) = &item.call_id {
                out.pending.insert(id.to_string(), name.clone());
            }
            out.push(
                Role::Assistant,
                Some(&name),
                item.input.as_deref().unwrap_or(""),
                ts,
                offset,
                false,
            );
        }
        "local_shell_call" => {
            let cmd = item
                .action
                .and_then(|a| serde_json::from_str::<Value>(a.get()).ok())
                .map(|a| command_text(a.get("command").unwrap_or(&Value::Null)))
                .unwrap_or_default();
            if let Some(id) = &item.call_id {
                out.pending.insert(id.to_string(), "local_shell".into());
            }
            out.push(
                Role::Assistant,
                Some("local_shell"),
                &cmd,
                ts,
                offset,
                false,
            );
        }
        "function_call_output" | "custom_tool_call_output" => {
            let name = item
                .call_id
                .as_deref()
                .and_then(|id| out.pending.remove(id))
                .or_else(|| item.name.as_deref().map(str::to_string));
            let text = item.output.map(render_output).unwrap_or_default();
            out.push(
                Role::Tool,
                name.as_deref().or(Some("tool")),
                &text,
                ts,
                offset,
                false,
            );
        }
        "web_search_call" => {
            let action = item
                .action
                .and_then(|a| serde_json::from_str::<Value>(a.get()).ok());
            let text = action
                .as_ref()
                .and_then(|a| {
                    a.get("query")
                        .or_else(|| a.get("url"))
                        .or_else(|| a.get("pattern"))
                })
                .and_then(Value::as_str)
                .unwrap_or("");
            if !text.is_empty() {
                out.push(Role::Assistant, Some("web_search"), text, ts, offset, false);
            }
        }
        "tool_search_call" => {
            let args = item.arguments.map(render_arguments).unwrap_or_default();
            out.push(
                Role::Assistant,
                Some("tool_search"),
                &args,
                ts,
                offset,
                false,
            );
        }
        "image_generation_call" => {
            if let Some(p) = &item.revised_prompt {
                out.push(
                    Role::Assistant,
                    Some("image_generation"),
                    p,
                    ts,
                    offset,
                    false,
                );
            }
        }
        k if ITEM_TYPES.contains(&k) => {}
        _ => out.skipped.unknown_types += 1,
    }
}

fn tool_name(item: &Item) -> String {
    match (item.namespace.as_deref(), item.name.as_deref()) {
        (Some(ns), Some(n)) if !ns.is_empty() => format!("{ns}.{n}"),
        (_, Some(n)) => n.to_string(),
        _ => "tool".to_string(),
    }
}

pub(super) fn is_injected(text: &str) -> bool {
    let t = text.trim_start();
    INJECTED_PREFIXES.iter().any(|p| t.starts_with(p))
}

fn raw_text(raw: &RawValue) -> String {
    serde_json::from_str::<Value>(raw.get())
        .map(|v| content_text(&v))
        .unwrap_or_default()
}

/// A shell command as the user would type it: argv `["bash","-lc","cargo test"]` → `cargo test`.
fn command_text(cmd: &Value) -> String {
    match cmd {
        Value::String(s) => s.clone(),
        Value::Array(argv) => {
            let parts: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
            match parts.as_slice() {
                [sh, flag, script]
                    if sh.ends_with("sh") && flag.starts_with('-') && flag.contains('c') =>
                {
                    script.to_string()
                }
                _ => parts.join(" "),
            }
        }
        _ => String::new(),
    }
}

/// Function arguments are a JSON string holding an object: show the command when there is
/// one, else the arguments themselves.
fn render_arguments(raw: &RawValue) -> String {
    let v: Value = match serde_json::from_str(raw.get()) {
        Ok(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Ok(v) => v,
        Err(_) => return raw.get().to_string(),
    };
    match &v {
        Value::Object(o) => {
            for key in ["cmd", "command"] {
                if let Some(c) = o.get(key) {
                    let text = command_text(c);
                    if !text.is_empty() {
                        return text;
                    }
                }
            }
            if o.len() == 1 {
                if let Some(Value::String(s)) = o.values().next() {
                    return s.clone();
                }
            }
            v.to_string()
        }
        Value::String(s) => s.clone(),
        _ => v.to_string(),
    }
}

/// Tool output is a string (possibly the old JSON-encoded `{"output","metadata"}`), an
/// object, or a list of content items.
fn render_output(raw: &RawValue) -> String {
    let v: Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(_) => return String::new(),
    };
    if let Value::String(s) = &v {
        if s.starts_with("{\"output\"") {
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(s) {
                let body = o.get("output").map(content_text).unwrap_or_default();
                let code = o
                    .get("metadata")
                    .and_then(|m| m.get("exit_code"))
                    .and_then(Value::as_i64);
                return match code {
                    Some(c) => format!("Exit code: {c}\n{body}"),
                    None => body,
                };
            }
        }
        return s.clone();
    }
    content_text(&v)
}

/// The TS-era file is one pretty-printed document `{"session":{…},"items":[…]}`.
fn is_ts_document(head: &[u8]) -> bool {
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.trim_ascii();
    first == b"{"
        || (first.starts_with(b"{")
            && serde_json::from_slice::<serde::de::IgnoredAny>(first).is_err()
            && head
                .windows(10)
                .any(|w| w == b"\"session\":" || w == b"\"items\": ["))
}

fn parse_ts_document(out: &mut Builder, body: &mut Body, start: u64) {
    if start > 0 {
        // A single document cannot be resumed; the caller re-parses from 0 on change.
        out.end_offset = start;
        return;
    }
    #[derive(Deserialize)]
    struct Doc<'a> {
        #[serde(borrow, default)]
        session: Option<&'a RawValue>,
        #[serde(borrow, default)]
        items: Vec<&'a RawValue>,
    }
    let Some(data) = body.whole(&mut out.skipped) else {
        out.end_offset = 0;
        return;
    };
    let doc: Doc = match serde_json::from_slice(&data) {
        Ok(d) => d,
        Err(_) => {
            count_bad_line(&data, &mut out.skipped);
            out.end_offset = 0;
            return;
        }
    };
    if let Some(s) = doc.session {
        session_meta(out, s.get(), true);
    }
    for raw in doc.items {
        match serde_json::from_str::<Item>(raw.get()) {
            Ok(item) => response_item(out, &item, None, 0),
            Err(_) => out.skipped.bad_json += 1,
        }
    }
    out.end_offset = data.len() as u64;
    out.valid_lines += 1;
    if out.session.session_id.is_empty() {
        out.session.session_id =
            id_from_file_name(Path::new(&out.session.source)).unwrap_or_default();
    }
}

/// `rollout-2026-02-23T13-19-38-<id>.jsonl` → `<id>`; TS era `rollout-2025-05-01-<id>.json`.
pub(super) fn id_from_file_name(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?;
    let stem = stem
        .strip_suffix(".jsonl")
        .or_else(|| stem.strip_suffix(".json"))?;
    let rest = stem.strip_prefix("rollout-")?;
    let id = if rest.len() > 20 && rest.as_bytes()[10] == b'T' {
        &rest[20..]
    } else {
        rest.get(11..)?
    };
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_file_names_of_every_era() {
        let p =
            Path::new("/x/rollout-2026-02-23T13-19-38-019c8a70-dda7-7f33-98ea-f30553347322.jsonl");
        assert_eq!(
            id_from_file_name(p).as_deref(),
            Some("019c8a70-dda7-7f33-98ea-f30553347322")
        );
        let p = Path::new("/x/rollout-2025-05-01-abc123.json");
        assert_eq!(id_from_file_name(p).as_deref(), Some("abc123"));
    }

    #[test]
    fn shell_argv_becomes_the_command() {
        let v: Value = serde_json::json!(["bash", "-lc", "cargo test -p x"]);
        assert_eq!(command_text(&v), "cargo test -p x");
        let raw = RawValue::from_string(r#""{\"cmd\":\"rg -n foo\",\"workdir\":\"/r\"}""#.into())
            .unwrap();
        assert_eq!(render_arguments(&raw), "rg -n foo");
    }

    #[test]
    fn old_json_encoded_output_is_unwrapped() {
        let raw = RawValue::from_string(
            serde_json::to_string(
                r#"{"output":"boom\n","metadata":{"exit_code":1,"duration_seconds":0.1}}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(render_output(&raw), "Exit code: 1\nboom\n");
        let list = RawValue::from_string(
            r#"[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]"#.into(),
        )
        .unwrap();
        assert_eq!(render_output(&list), "a\nb");
    }
}
