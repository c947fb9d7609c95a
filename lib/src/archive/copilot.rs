//! GitHub Copilot CLI event logs: `$COPILOT_HOME/session-state/<id>/events.jsonl`, one
//! `{type, data, id, timestamp, parentId}` event a line, appended to by `--resume` (after a
//! `session.resume` event) in the same file.
//!
//! The user's words are `user.message.data.content` (`transformedContent` adds a datetime
//! preamble). A tool call is announced twice (`assistant.message.data.toolRequests[]` and
//! `tool.execution_start`, in either order): it is kept once, by `toolCallId`, which also joins
//! `tool.execution_complete` to its name. `system.message` (the whole system prompt), usage,
//! turn and reasoning events are skipped; a hook's injected `additionalContext` is kept as
//! background. Events of a sub-agent carry a top-level `agentId`: kept as background.
//!
//! This file is the primary source for a Copilot session; `session-store.db` (read by the
//! stores reader) only stands in for sessions whose `events.jsonl` is gone.

use super::jsonl::{each_object, read_lines, render_args, str_of};
use super::{for_each_line, Body, Builder};
use crate::wire::{Agent, Role};
use serde_json::Value;

pub(super) fn parse(out: &mut Builder, head: &[u8], body: &mut Body, start: u64) {
    out.format = "copilot-events";
    if start > 0 {
        // Resuming: the session facts are in the file's first events.
        let mut scratch = crate::wire::SkipCounts::default();
        for_each_line(head, 0, &mut scratch.clone(), |_, line| {
            if out.session.session_id.is_empty() {
                each_object(line, &mut scratch, |v| session_facts(out, &v));
            }
        });
    }
    read_lines(out, body, |out, offset, v| {
        event(out, offset, v, start == 0)
    });
    if out.session.session_id.is_empty() {
        // The folder is named after the session.
        let dir = std::path::Path::new(&out.session.source)
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .map(str::to_string);
        if let Some(d) = dir {
            out.session.session_id = Agent::Copilot.session_key(&d);
        }
    }
}

fn session_facts(out: &mut Builder, v: &Value) {
    let kind = str_of(v, "type").unwrap_or("");
    if kind != "session.start" && kind != "session.resume" {
        return;
    }
    let data = &v["data"];
    if out.session.session_id.is_empty() {
        if let Some(id) = str_of(data, "sessionId") {
            out.session.session_id = Agent::Copilot.session_key(id);
        }
    }
    let ctx = &data["context"];
    if let Some(cwd) = str_of(ctx, "cwd") {
        out.set_cwd(cwd, str_of(ctx, "branch"));
    }
}

fn event(out: &mut Builder, offset: u64, v: &Value, whole: bool) {
    let kind = str_of(v, "type").unwrap_or("");
    let ts = str_of(v, "timestamp");
    let data = &v["data"];
    let sub = v.get("agentId").is_some_and(|a| !a.is_null());
    out.see_time(ts);
    match kind {
        "session.start" | "session.resume" => session_facts(out, v),
        "user.message" => {
            let text = str_of(data, "content").unwrap_or("");
            if whole && out.session.title.is_none() && !sub {
                out.set_title(text, 0);
            }
            out.push(Role::User, None, text, ts, offset, sub);
        }
        "assistant.message" => {
            let text = str_of(data, "content").unwrap_or("");
            out.push(Role::Assistant, None, text, ts, offset, sub);
            if let Some(reqs) = data.get("toolRequests").and_then(Value::as_array) {
                for r in reqs {
                    let name = str_of(r, "name").unwrap_or("tool");
                    call(
                        out,
                        str_of(r, "toolCallId"),
                        name,
                        &r["arguments"],
                        ts,
                        offset,
                        sub,
                    );
                }
            }
        }
        "tool.execution_start" => {
            let name = str_of(data, "toolName").unwrap_or("tool");
            call(
                out,
                str_of(data, "toolCallId"),
                name,
                &data["arguments"],
                ts,
                offset,
                sub,
            );
        }
        "tool.execution_complete" => {
            let name = str_of(data, "toolCallId")
                .and_then(|id| out.pending.remove(id))
                .or_else(|| str_of(data, "toolName").map(str::to_string))
                .unwrap_or_else(|| "tool".to_string());
            out.push(Role::Tool, Some(&name), &tool_output(data), ts, offset, sub);
        }
        "hook.end" => {
            if let Some(ctx) = str_of(&data["output"], "additionalContext") {
                out.push(Role::Developer, None, ctx, ts, offset, true);
            }
        }
        k if KNOWN_PREFIXES.iter().any(|p| k.starts_with(p)) => {}
        _ => out.skipped.unknown_types += 1,
    }
}

/// Event families that hold nothing to index (system prompt, usage, turns, reasoning,
/// deltas, sub-agent lifecycle, session bookkeeping).
const KNOWN_PREFIXES: &[&str] = &[
    "session.",
    "assistant.",
    "system.",
    "hook.",
    "subagent.",
    "tool.",
    "skill.",
    "abort",
];

/// Keeps a tool call once: the first of its two announcements.
fn call(
    out: &mut Builder,
    id: Option<&str>,
    name: &str,
    args: &Value,
    ts: Option<&str>,
    offset: u64,
    sub: bool,
) {
    if let Some(id) = id {
        if out.pending.contains_key(id) {
            return;
        }
        out.pending.insert(id.to_string(), name.to_string());
    }
    out.push(
        Role::Assistant,
        Some(name),
        &render_args(args),
        ts,
        offset,
        sub,
    );
}

/// A finished tool's output, with the shell's exit code first when there is one (as the
/// Codex reader shows it).
fn tool_output(data: &Value) -> String {
    let result = &data["result"];
    let mut body = str_of(result, "content")
        .or_else(|| str_of(result, "detailedContent"))
        .map(str::to_string)
        .unwrap_or_default();
    if body.is_empty() {
        if let Some(msg) = str_of(&data["error"], "message").or_else(|| str_of(data, "error")) {
            body = msg.to_string();
        }
    }
    match data["shellExecution"]
        .get("exitCode")
        .and_then(Value::as_i64)
    {
        Some(c) => format!("Exit code: {c}\n{body}"),
        None => body,
    }
}

/// Whether the events log at `path` ends a run that stopped at or after `since_ms`: a
/// `session.shutdown` event stamped then or later is in its last 256 KiB. Copilot CLI 1.0.102
/// writes a resumed run's events to the log only as it shuts down, after its `sessionEnd`
/// hook has returned, so until this holds the log may not have the run's turns yet.
pub fn shut_down_since(path: &std::path::Path, since_ms: i64) -> bool {
    super::jsonl::last_objects(path, 256 * 1024)
        .iter()
        .filter(|v| v["type"] == "session.shutdown")
        .filter_map(|v| {
            v["timestamp"]
                .as_str()
                .and_then(crate::timefmt::parse_iso_ms)
        })
        .any(|t| t >= since_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{parse_file, Request};

    fn parse_lines(lines: &[&str], start: u64) -> crate::archive::Parsed {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let req = Request {
            agent: Some(Agent::Copilot),
            start_offset: start,
            ..Default::default()
        };
        parse_file(&path, &req).unwrap()
    }

    #[test]
    fn a_call_announced_twice_is_kept_once_and_joins_its_output() {
        let start =
            r#"{"type":"session.start","data":{"sessionId":"s1","context":{"cwd":"/tmp"}}}"#;
        // The execution start may come first (older builds) or second.
        for (a, b) in [(0, 1), (1, 0)] {
            let events = [
                r#"{"type":"assistant.message","data":{"content":"","toolRequests":[{"toolCallId":"c1","name":"bash","arguments":{"command":"ls"}}]}}"#,
                r#"{"type":"tool.execution_start","data":{"toolCallId":"c1","toolName":"bash","arguments":{"command":"ls"}}}"#,
            ];
            let p = parse_lines(
                &[
                    start,
                    events[a],
                    events[b],
                    r#"{"type":"tool.execution_complete","data":{"toolCallId":"c1","success":true,"result":{"content":"a.txt"}}}"#,
                ],
                0,
            );
            let got: Vec<_> = p
                .messages
                .iter()
                .map(|m| (m.role, m.tool.as_deref(), m.text.as_str()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (Role::Assistant, Some("bash"), "ls"),
                    (Role::Tool, Some("bash"), "a.txt")
                ]
            );
            assert!(p.source.pending_calls.is_empty());
            assert_eq!(p.session.session_id, "copilot:s1");
        }
    }

    #[test]
    fn output_shows_the_exit_code_first() {
        let d: Value = serde_json::from_str(
            r#"{"success":true,"shellExecution":{"exitCode":1},"result":{"content":"cat: x: No such file"}}"#,
        )
        .unwrap();
        assert_eq!(tool_output(&d), "Exit code: 1\ncat: x: No such file");
        let d: Value = serde_json::from_str(r#"{"result":{"content":"hi\n"}}"#).unwrap();
        assert_eq!(tool_output(&d), "hi\n");
    }

    #[test]
    fn only_a_shutdown_stamped_since_the_hook_ends_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        assert!(!shut_down_since(&path, 0), "no file, no shutdown");
        let shutdown = |ts: &str| {
            format!(
                r#"{{"type":"session.shutdown","data":{{"reason":"session.shutdown"}},"timestamp":"{ts}"}}"#
            )
        };
        // A resumed session: the last line is the previous run's shutdown.
        let old = shutdown("2026-12-07T20:11:27.705Z");
        let resume =
            r#"{"type":"session.resume","data":{},"timestamp":"2026-12-07T20:11:30.061Z"}"#;
        std::fs::write(&path, format!("{old}\n")).unwrap();
        let hook = crate::timefmt::parse_iso_ms("2026-12-07T20:11:30.700Z").unwrap();
        assert!(!shut_down_since(&path, hook));
        std::fs::write(&path, format!("{old}\n{resume}\n")).unwrap();
        assert!(!shut_down_since(&path, hook));
        // A torn last line is not a shutdown yet.
        let new = shutdown("2026-12-07T20:11:30.815Z");
        std::fs::write(&path, format!("{old}\n{resume}\n{}", &new[..40])).unwrap();
        assert!(!shut_down_since(&path, hook));
        std::fs::write(&path, format!("{old}\n{resume}\n{new}\n")).unwrap();
        assert!(shut_down_since(&path, hook));
        // Text that merely mentions the event is not one.
        let said = r#"{"type":"user.message","data":{"content":"session.shutdown"},"timestamp":"2026-12-07T20:11:31.000Z"}"#;
        std::fs::write(&path, format!("{old}\n{said}\n")).unwrap();
        assert!(!shut_down_since(&path, hook));
    }
}
