//! Claude Code transcripts: `<project>/<uuid>.jsonl` main files (with v1 inline
//! `isSidechain` lines), v2 `<uuid>/subagents/agent-*.jsonl` files (whose `sessionId` is the
//! parent's, so they join the parent session), compaction summaries and `summary` lines.
//!
//! Tool results arrive as `user` lines; their tool name comes from the `tool_use` that
//! opened them. Thinking blocks are skipped.

use super::{content_text, count_bad_line, for_each_line, Body, Builder};
use crate::wire::Role;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::path::Path;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cwd: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    git_branch: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(default)]
    is_meta: Option<bool>,
    #[serde(default)]
    is_compact_summary: Option<bool>,
    #[serde(borrow, default)]
    agent_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    summary: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ai_title: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    custom_title: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    attachment: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_use_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

/// Line types Claude Code writes that hold nothing to index.
const KNOWN_TYPES: &[&str] = &[
    "system",
    "progress",
    "file-history-snapshot",
    "queue-operation",
    "last-prompt",
    "permission-mode",
    "mode",
    "agent-name",
    "pr-link",
    "worktree-state",
    "saved_hook_context",
    "frame-link",
    "bridge-session",
    "atis-latch",
    "relocated",
    "started",
    "result",
];

pub(super) fn parse(out: &mut Builder, head: &[u8], body: &mut Body, start: u64) {
    out.format = "claude";
    let path = Path::new(&out.session.source).to_path_buf();
    if let Some(agent) = subagent_id(&path) {
        out.session.subagent = Some(agent);
    }
    if start > 0 {
        // Resuming: find the session facts in the file's head.
        let mut scratch = crate::wire::SkipCounts::default();
        for_each_line(head, 0, &mut scratch, |_, line| {
            if out.session.session_id.is_empty() {
                if let Ok(l) = serde_json::from_slice::<Line>(line) {
                    session_facts(out, &l);
                }
            }
        });
    }
    let mut skipped = std::mem::take(&mut out.skipped);
    let end = body.for_each_line(&mut skipped, |offset, line| handle_line(out, offset, line));
    out.skipped.add(&skipped);
    out.end_offset = end;
    if out.session.session_id.is_empty() {
        // No line named the session: the file name (or the subagent's parent dir) does.
        let stem = match out.session.subagent {
            Some(_) => path
                .parent()
                .and_then(Path::parent)
                .and_then(|p| p.file_name()),
            None => path.file_stem(),
        };
        if let Some(s) = stem.and_then(|s| s.to_str()) {
            out.session.session_id = format!("claude:{s}");
        }
    }
}

/// `<session>/subagents/agent-<id>.jsonl` → `<id>`.
fn subagent_id(path: &Path) -> Option<String> {
    let parent = path.parent()?;
    if parent.file_name()? != "subagents" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    Some(stem.strip_prefix("agent-").unwrap_or(stem).to_string())
}

fn session_facts(out: &mut Builder, l: &Line) {
    if out.session.session_id.is_empty() {
        if let Some(sid) = l.session_id.as_deref().filter(|s| !s.is_empty()) {
            out.session.session_id = format!("claude:{sid}");
        }
    }
    if let Some(cwd) = l.cwd.as_deref() {
        out.set_cwd(cwd, l.git_branch.as_deref());
    }
    if out.session.subagent.is_none() {
        if let Some(a) = l.agent_id.as_deref() {
            out.session.subagent = Some(a.to_string());
        }
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
    session_facts(out, &l);
    let ts = l.timestamp.as_deref();
    let Some(kind) = l.kind.as_deref() else {
        out.skipped.unknown_types += 1;
        return;
    };
    match kind {
        "user" | "assistant" => {
            out.see_time(ts);
            let Some(raw) = l.message else { return };
            let Ok(msg) = serde_json::from_str::<Message>(raw.get()) else {
                out.skipped.bad_json += 1;
                return;
            };
            let meta = l.is_meta.unwrap_or(false) || l.is_compact_summary.unwrap_or(false);
            if kind == "user" {
                user_content(out, msg.content, meta, ts, offset);
            } else {
                assistant_content(out, msg.content, ts, offset);
            }
        }
        "summary" => {
            if let Some(s) = l.summary.as_deref() {
                out.set_title(s, 1);
            }
        }
        "ai-title" => {
            if let Some(s) = l.ai_title.as_deref() {
                out.set_title(s, 2);
            }
        }
        "custom-title" => {
            if let Some(s) = l.custom_title.as_deref() {
                out.set_title(s, 3);
            }
        }
        "attachment" => {
            out.see_time(ts);
            if let Some(a) = l
                .attachment
                .and_then(|a| serde_json::from_str::<Value>(a.get()).ok())
            {
                if a.get("type").and_then(Value::as_str) == Some("hook_additional_context") {
                    let text = a.get("content").map(content_text).unwrap_or_default();
                    out.push(Role::Developer, None, &text, ts, offset, true);
                }
            }
        }
        k if KNOWN_TYPES.contains(&k) => {
            out.see_time(ts);
        }
        _ => out.skipped.unknown_types += 1,
    }
}

pub(super) fn is_injected(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("<system-reminder>")
        || t.starts_with("<local-command-stdout>")
        || t.starts_with("<local-command-caveat>")
        || t.starts_with("Caveat: The messages below were generated")
}

fn blocks(raw: &RawValue) -> Result<Vec<Block<'_>>, String> {
    match serde_json::from_str::<Vec<Block>>(raw.get()) {
        Ok(b) => Ok(b),
        Err(_) => match serde_json::from_str::<String>(raw.get()) {
            Ok(s) => Err(s),
            Err(_) => Ok(Vec::new()),
        },
    }
}

fn user_content(
    out: &mut Builder,
    content: Option<&RawValue>,
    meta: bool,
    ts: Option<&str>,
    offset: u64,
) {
    let Some(raw) = content else { return };
    match blocks(raw) {
        Err(text) => {
            let bg = meta || is_injected(&text);
            out.push(Role::User, None, &text, ts, offset, bg);
        }
        Ok(list) => {
            for b in list {
                match b.kind.as_ref() {
                    "text" => {
                        let text = b.text.as_deref().unwrap_or("");
                        let bg = meta || is_injected(text);
                        out.push(Role::User, None, text, ts, offset, bg);
                    }
                    "tool_result" => {
                        let name = b
                            .tool_use_id
                            .as_deref()
                            .and_then(|id| out.pending.remove(id));
                        let text = b
                            .content
                            .and_then(|c| serde_json::from_str::<Value>(c.get()).ok())
                            .map(|v| content_text(&v))
                            .unwrap_or_default();
                        out.push(
                            Role::Tool,
                            Some(name.as_deref().unwrap_or("tool")),
                            &text,
                            ts,
                            offset,
                            false,
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}

fn assistant_content(out: &mut Builder, content: Option<&RawValue>, ts: Option<&str>, offset: u64) {
    let Some(raw) = content else { return };
    match blocks(raw) {
        Err(text) => out.push(Role::Assistant, None, &text, ts, offset, false),
        Ok(list) => {
            for b in list {
                match b.kind.as_ref() {
                    "text" => out.push(
                        Role::Assistant,
                        None,
                        b.text.as_deref().unwrap_or(""),
                        ts,
                        offset,
                        false,
                    ),
                    "tool_use" | "server_tool_use" => {
                        let name = b.name.as_deref().unwrap_or("tool").to_string();
                        if let Some(id) = &b.id {
                            out.pending.insert(id.to_string(), name.clone());
                        }
                        let input = b.input.map(render_input).unwrap_or_default();
                        out.push(Role::Assistant, Some(&name), &input, ts, offset, false);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A tool call's input as a person would recognise it: the Bash command, the file path, the
/// search pattern; otherwise the input JSON.
pub(super) fn render_input(raw: &RawValue) -> String {
    let Ok(v) = serde_json::from_str::<Value>(raw.get()) else {
        return String::new();
    };
    let Value::Object(o) = &v else {
        return v.to_string();
    };
    let mut parts = Vec::new();
    for key in [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ] {
        if let Some(Value::String(s)) = o.get(key) {
            parts.push(s.as_str());
        }
    }
    if parts.is_empty() {
        v.to_string()
    } else {
        parts.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subagent_ids_come_from_the_layout() {
        let p = Path::new("/p/proj/258c7280/subagents/agent-a881341.jsonl");
        assert_eq!(subagent_id(p).as_deref(), Some("a881341"));
        assert_eq!(subagent_id(Path::new("/p/proj/258c7280.jsonl")), None);
    }

    #[test]
    fn bash_input_shows_the_command() {
        let raw =
            RawValue::from_string(r#"{"command":"cargo test","description":"run tests"}"#.into())
                .unwrap();
        assert_eq!(render_input(&raw), "cargo test\nrun tests");
    }
}
