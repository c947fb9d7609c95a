//! Cursor agent transcripts: `projects/<flattened cwd>/agent-transcripts/<id>.jsonl` (CLI),
//! `<id>/<id>.jsonl` (IDE), sub-agents in `<id>/subagents/<sub id>.jsonl` (joining the
//! parent session). Lines are `{"role", "message":{"content":[…]}}` with Anthropic-shaped
//! blocks; user text is wrapped in `<user_query>…</user_query>`; `{"type":"turn_ended"}`
//! separators and thinking blocks are skipped.
//!
//! The format has no ids and no timestamps: the session's time is the file's mtime. The
//! flattened folder name cannot be turned back into a path (`/` and `.` both became `-`), so
//! the cwd is known only when a record names `workspace_roots` or `cwd`. The older `.txt`
//! form is not read.

use super::jsonl::{read_lines, str_of, tool_block};
use super::{Body, Builder};
use crate::timefmt;
use crate::wire::{Agent, Role};
use serde_json::Value;
use std::path::Path;

pub(super) fn parse(out: &mut Builder, _head: &[u8], body: &mut Body, _start: u64) {
    out.format = "cursor-jsonl";
    let path = Path::new(&out.session.source).to_path_buf();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let parent = path.parent();
    let in_subagents = parent
        .and_then(Path::file_name)
        .is_some_and(|n| n == "subagents");
    let id = if in_subagents {
        out.session.subagent = Some(stem.to_string());
        parent
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .and_then(|s| s.to_str())
            .unwrap_or(stem)
    } else {
        stem
    };
    out.session.session_id = Agent::Cursor.session_key(id);
    if let Ok(st) = super::stat(&path) {
        let iso = timefmt::format_iso_ms(st.mtime_ms);
        out.see_time(Some(&iso));
    }
    read_lines(out, body, record);
}

fn record(out: &mut Builder, offset: u64, v: &Value) {
    if let Some(root) = v["workspace_roots"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .or_else(|| str_of(v, "cwd"))
    {
        out.set_cwd(root, None);
    }
    if str_of(v, "type").is_some_and(|t| t == "turn_ended") {
        return;
    }
    let role = str_of(v, "role").or_else(|| str_of(&v["message"], "role"));
    let blocks = match &v["message"]["content"] {
        Value::String(s) => vec![serde_json::json!({"type": "text", "text": s})],
        Value::Array(a) => a.clone(),
        _ => {
            if role.is_none() {
                out.skipped.unknown_types += 1;
            }
            return;
        }
    };
    for b in &blocks {
        match str_of(b, "type").unwrap_or("") {
            "text" => {
                let text = str_of(b, "text").unwrap_or("");
                if role == Some("assistant") {
                    out.push(Role::Assistant, None, text, None, offset, false);
                } else {
                    let said = unwrap_query(text);
                    let bg = super::claude::is_injected(said);
                    // Only a parse from the start sees the first prompt.
                    if out.first_offset() == 0 && out.session.title.is_none() && !bg {
                        out.set_title(said, 0);
                    }
                    out.push(Role::User, None, said, None, offset, bg);
                }
            }
            _ => tool_block(out, b, None, offset),
        }
    }
}

/// `<user_query>\nwords\n</user_query>` → `words`.
fn unwrap_query(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix("<user_query>")
        .and_then(|r| r.strip_suffix("</user_query>"))
        .map(str::trim)
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_query_wrapper_is_dropped() {
        assert_eq!(
            super::unwrap_query("<user_query>\nrun ls\n</user_query>"),
            "run ls"
        );
        assert_eq!(super::unwrap_query("plain"), "plain");
    }
}
