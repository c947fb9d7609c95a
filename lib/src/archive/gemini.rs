//! Gemini CLI chats: `tmp/<project slug>/chats/session-<time>-<id8>.jsonl` (sub-agents in
//! `chats/<parent id>/<id>.jsonl`), and the legacy whole-document `session-*.json`.
//!
//! JSONL: a metadata line `{sessionId, projectHash, startTime, kind}`, `{"$set":{…}}` patches
//! (a `messages` snapshot, `summary`), `{"$rewindTo":"<id>"}` (drops that message and all
//! after it), and messages `{id, timestamp, type: user|gemini|info|error|warning, content,
//! toolCalls[{id, name, args, result[{functionResponse}]}], thoughts}`. A message is
//! re-appended whole on every update, so the last record with an id wins: the file is
//! replayed from its start on every parse ([`Replay`]), indexing only what is new when the
//! indexed part did not change, and re-indexing the file when it did. 0.61 also writes each
//! tool result as a `user` record holding the `functionResponse`: dropped when the call's
//! result is already kept. `<session_context>` (the environment preamble) and a leading
//! `<hook_context>` (what a hook injected) are background; `info/error/warning` and
//! `thoughts` are skipped.
//!
//! The legacy `.json` is rewritten whole: it is always re-read and re-indexed whole.
//!
//! A `--resume` in a later minute than the session began (0.61.0) goes on in the first file
//! and also writes a second `session-<that minute>-<id8>.jsonl` with the same `sessionId`
//! and only the session context: both are sources of the one session.
//!
//! Records name no cwd: the project root comes from `tmp/<slug>/.project_root`, else from
//! `projects.json` (`{"projects":{"<path>":"<slug>"}}`) in the Gemini home, else from the
//! metadata's `directories`.
//!
//! Antigravity's step logs (`brain/<id>/…/transcript.jsonl`) are read as Gemini too, by
//! `antigravity.rs`.

use super::jsonl::{
    from_file_start, id_from_file_stem, render_args, replay_lines, str_of, Msg, Replay,
};
use super::{count_bad_line, Body, Builder};
use crate::wire::{Agent, Role};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

pub(super) fn parse(out: &mut Builder, _head: &[u8], body: &mut Body, start: u64) {
    let path = Path::new(&out.session.source).to_path_buf();
    if super::antigravity::is_step_log(&path) {
        return super::antigravity::parse(out, body);
    }
    from_file_start(body);
    if path.extension().is_some_and(|e| e == "json") {
        out.format = "gemini-json";
        parse_document(out, body);
    } else {
        out.format = "gemini-jsonl";
        let mut st = State {
            replay: Replay::new(start),
            results: HashSet::new(),
        };
        replay_lines(out, body, start, &mut st, record);
    }
    id_from_file_stem(out, Agent::Gemini);
    if out.session.cwd.is_none() {
        if let Some(root) = project_root(&path) {
            out.set_cwd(&root, None);
        }
    }
}

fn parse_document(out: &mut Builder, body: &mut Body) {
    let Some(data) = body.whole(&mut out.skipped) else {
        out.end_offset = 0;
        return;
    };
    let doc: Value = match serde_json::from_slice(&data) {
        Ok(d @ Value::Object(_)) => d,
        _ => {
            count_bad_line(&data, &mut out.skipped);
            out.end_offset = 0;
            return;
        }
    };
    out.valid_lines += 1;
    // Rewritten whole: never resumed, always re-indexed whole. (Only once it parsed: a
    // document caught mid-rewrite must not empty what the index holds.)
    out.start = 0;
    let mut st = State {
        replay: Replay::new(0),
        results: HashSet::new(),
    };
    metadata(out, &doc);
    if let Some(msgs) = doc["messages"].as_array() {
        for m in msgs {
            message(out, &mut st, 0, m);
        }
    }
    out.end_offset = data.len() as u64;
    st.replay.finish(out);
}

struct State {
    replay: Replay,
    /// Tool calls whose result is kept (0.61 writes each result a second time).
    results: HashSet<String>,
}

impl AsMut<Replay> for State {
    fn as_mut(&mut self) -> &mut Replay {
        &mut self.replay
    }
}

fn metadata(out: &mut Builder, v: &Value) {
    if let Some(id) = str_of(v, "sessionId") {
        if out.session.session_id.is_empty() {
            let path = Path::new(&out.session.source);
            // A sub-agent's file sits in `chats/<parent id>/`: it joins the parent session.
            let parent = (str_of(v, "kind") == Some("subagent"))
                .then(|| path.parent()?.file_name()?.to_str())
                .flatten()
                .filter(|p| *p != "chats");
            match parent {
                Some(p) => {
                    out.session.session_id = Agent::Gemini.session_key(p);
                    out.session.subagent = Some(id.to_string());
                }
                None => out.session.session_id = Agent::Gemini.session_key(id),
            }
        }
    }
    if let Some(dir) = v["directories"]
        .as_array()
        .and_then(|d| d.first())
        .and_then(Value::as_str)
    {
        out.set_cwd(dir, None);
    }
    if let Some(s) = str_of(v, "summary") {
        out.set_title(s, 2);
    }
    if let Some(ts) = str_of(v, "startTime") {
        out.see_time(Some(ts));
    }
}

fn record(out: &mut Builder, st: &mut State, offset: u64, v: &Value) {
    if let Some(set) = v.get("$set") {
        if let Some(msgs) = set["messages"].as_array() {
            for m in msgs {
                message(out, st, offset, m);
            }
        }
        if let Some(s) = str_of(set, "summary") {
            out.set_title(s, 2);
        }
    } else if let Some(id) = v.get("$rewindTo").and_then(Value::as_str) {
        st.replay.rewind_to(id);
    } else if v.get("sessionId").is_some() && v.get("type").is_none() {
        metadata(out, v);
    } else {
        message(out, st, offset, v);
    }
}

fn message(out: &mut Builder, st: &mut State, offset: u64, v: &Value) {
    let ts = str_of(v, "timestamp");
    out.see_time(ts);
    let msgs = match str_of(v, "type").unwrap_or("") {
        "user" => {
            let msgs = user(st, &v["content"], ts);
            // Read from the start every time: the first prompt is always seen.
            if out.session.title.is_none() {
                if let Some(m) = msgs.iter().find(|m| m.role == Role::User && !m.background) {
                    out.set_title(&m.text, 0);
                }
            }
            msgs
        }
        "gemini" => gemini(st, v, ts),
        "info" | "error" | "warning" => return,
        _ => {
            out.skipped.unknown_types += 1;
            return;
        }
    };
    match str_of(v, "id") {
        Some(id) => st.replay.upsert(id, offset, msgs),
        None => st.replay.append(offset, msgs),
    }
}

fn user(st: &mut State, content: &Value, ts: Option<&str>) -> Vec<Msg> {
    let mut msgs = Vec::new();
    let parts: Vec<Value> = match content {
        Value::String(s) => vec![serde_json::json!({ "text": s })],
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    for p in &parts {
        if let Some(resp) = p.get("functionResponse") {
            let id = str_of(resp, "id").unwrap_or("");
            if !id.is_empty() && !st.results.insert(id.to_string()) {
                continue;
            }
            msgs.push(tool_result(resp, ts));
        } else if let Some(text) = str_of(p, "text") {
            user_text(&mut msgs, text, ts);
        }
    }
    msgs
}

/// A user text: a leading `<hook_context>…</hook_context>` is background, as is the
/// `<session_context>` preamble.
fn user_text(msgs: &mut Vec<Msg>, text: &str, ts: Option<&str>) {
    let t = text.trim_start();
    if t.starts_with("<session_context>") {
        msgs.push(Msg::new(Role::User, text, ts).background(true));
        return;
    }
    if let Some(rest) = t.strip_prefix("<hook_context>") {
        if let Some((ctx, said)) = rest.split_once("</hook_context>") {
            msgs.push(Msg::new(Role::Developer, ctx, ts).background(true));
            msgs.push(Msg::new(Role::User, said, ts));
            return;
        }
    }
    msgs.push(Msg::new(Role::User, text, ts));
}

fn gemini(st: &mut State, v: &Value, ts: Option<&str>) -> Vec<Msg> {
    let mut msgs = Vec::new();
    let text = match &v["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
            .filter_map(|p| str_of(p, "text"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    msgs.push(Msg::new(Role::Assistant, text, ts));
    for call in v["toolCalls"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let name = str_of(call, "name").unwrap_or("tool");
        let cts = str_of(call, "timestamp").or(ts);
        msgs.push(Msg::new(Role::Assistant, render_args(&call["args"]), cts).tool(name));
        let mut kept = false;
        for r in call["result"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(resp) = r.get("functionResponse") {
                msgs.push(tool_result(resp, cts));
                kept = true;
            }
        }
        if !kept {
            if let Some(d) = str_of(call, "resultDisplay") {
                msgs.push(Msg::new(Role::Tool, d, cts).tool(name));
                kept = true;
            }
        }
        if kept {
            if let Some(id) = str_of(call, "id") {
                st.results.insert(id.to_string());
            }
        }
    }
    msgs
}

fn tool_result(resp: &Value, ts: Option<&str>) -> Msg {
    let name = str_of(resp, "name").unwrap_or("tool");
    let r = &resp["response"];
    let text = match str_of(r, "output").or_else(|| str_of(r, "error")) {
        Some(t) => t.to_string(),
        None => super::content_text(r),
    };
    Msg::new(Role::Tool, text, ts).tool(name)
}

/// The project root of a chat file under `tmp/<slug>/chats/`.
fn project_root(path: &Path) -> Option<String> {
    let chats = path
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "chats"))?;
    let slug_dir = chats.parent()?;
    if let Ok(root) = std::fs::read_to_string(slug_dir.join(".project_root")) {
        let root = root.trim();
        if !root.is_empty() {
            return Some(root.to_string());
        }
    }
    let slug = slug_dir.file_name()?.to_str()?;
    // `<gemini home>/tmp/<slug>`: the registry sits in the home.
    let home = slug_dir.parent()?.parent()?;
    let doc: Value =
        serde_json::from_slice(&std::fs::read(home.join("projects.json")).ok()?).ok()?;
    doc["projects"]
        .as_object()?
        .iter()
        .find(|(_, v)| v.as_str() == Some(slug))
        .map(|(k, _)| k.clone())
}
