//! Antigravity (Gemini CLI's successor) step logs:
//! `~/.gemini/antigravity*/brain/<id>/.system_generated/logs/transcript.jsonl`, one step a
//! line `{step_index, source: USER_EXPLICIT|MODEL|SYSTEM, type, status, created_at, content,
//! thinking?, tool_calls?}`. Read as agent `gemini` with `thread_source: "antigravity"`.
//!
//! `USER_INPUT` steps wrap the request in `<USER_REQUEST>`; what surrounds it (settings
//! changes, metadata) is background. `PLANNER_RESPONSE` is the model's text and tool calls
//! (its `thinking` is skipped); the other model steps (`RUN_COMMAND`, `VIEW_FILE`, …) are
//! tool output named by their type; system steps (checkpoints, system messages, history)
//! are skipped.

use super::jsonl::{read_lines, render_args, str_of};
use super::{Body, Builder};
use crate::wire::{Agent, Role};
use serde_json::Value;
use std::path::Path;

/// Whether `path` is an Antigravity step log.
pub(super) fn is_step_log(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "transcript.jsonl")
        && path.components().any(|c| c.as_os_str() == "brain")
}

pub(super) fn parse(out: &mut Builder, body: &mut Body) {
    out.format = "antigravity-jsonl";
    out.session.thread_source = Some("antigravity".to_string());
    // `brain/<id>/.system_generated/logs/transcript.jsonl`.
    let id = Path::new(&out.session.source)
        .ancestors()
        .find(|a| {
            a.parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "brain")
        })
        .and_then(Path::file_name)
        .and_then(|s| s.to_str())
        .unwrap_or("unknown")
        .to_string();
    out.session.session_id = Agent::Gemini.session_key(&id);
    read_lines(out, body, step);
}

fn step(out: &mut Builder, offset: u64, v: &Value) {
    let ts = str_of(v, "created_at");
    out.see_time(ts);
    let content = str_of(v, "content").unwrap_or("");
    let kind = str_of(v, "type").unwrap_or("");
    match (str_of(v, "source").unwrap_or(""), kind) {
        (_, "USER_INPUT") => {
            let (said, around) = user_request(content);
            out.push(Role::User, None, said, ts, offset, false);
            if !around.trim().is_empty() {
                out.push(Role::Developer, None, &around, ts, offset, true);
            }
        }
        ("MODEL", "PLANNER_RESPONSE" | "GENERIC") => {
            out.push(Role::Assistant, None, content, ts, offset, false);
            for call in v["tool_calls"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                let name = str_of(call, "name").unwrap_or("tool");
                let args = render_args(&call["args"]);
                out.push(Role::Assistant, Some(name), &args, ts, offset, false);
            }
        }
        ("MODEL", tool) if !tool.is_empty() => {
            let name = tool.to_ascii_lowercase();
            out.push(Role::Tool, Some(&name), content, ts, offset, false);
        }
        ("SYSTEM", _) => {}
        _ => out.skipped.unknown_types += 1,
    }
}

/// `<USER_REQUEST>words</USER_REQUEST>` and what surrounds it.
fn user_request(content: &str) -> (&str, String) {
    let Some((before, rest)) = content.split_once("<USER_REQUEST>") else {
        return (content, String::new());
    };
    let Some((said, after)) = rest.split_once("</USER_REQUEST>") else {
        return (content, String::new());
    };
    (said.trim(), format!("{}{}", before.trim(), after.trim()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_request_is_unwrapped_and_the_rest_kept_apart() {
        let (said, around) = super::user_request(
            "<USER_REQUEST>\nList the files.\n</USER_REQUEST>\n<USER_SETTINGS_CHANGE>x</USER_SETTINGS_CHANGE>",
        );
        assert_eq!(said, "List the files.");
        assert_eq!(around, "<USER_SETTINGS_CHANGE>x</USER_SETTINGS_CHANGE>");
    }
}
