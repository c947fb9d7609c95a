//! OpenCode's sessions turned into records: the rows of its `opencode.db` (which
//! `index::stores` reads) and its pre-1.2 JSON files (`storage/session|message|part/`, read
//! here). One OpenCode session is one source, named `STORE#SESSION_ID` (see
//! [`super::stored`]); its parts, in order, are the items a resumed read counts.
//!
//! Kept: user and assistant text parts, tool parts (the call's command or input, then its
//! output with the exit code when it failed). Skipped: `reasoning`, `step-start`,
//! `step-finish`, `snapshot`, `patch` and other bookkeeping parts, and the title generator's
//! messages (agent `title`). A sub-agent session (`parent_id`) joins its parent session as a
//! subagent source, as Claude Code's subagent files do.

use super::stored::{Item, StoreRead};
use super::{Builder, Caps, Parsed, Request};
use crate::error::Result;
use crate::timefmt;
use crate::wire::{Agent, Role};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// `sources.format` of a session read from `opencode.db`.
pub const FORMAT_DB: &str = "opencode-db";
/// `sources.format` of a session read from the pre-1.2 `storage/` JSON files.
pub const FORMAT_JSON: &str = "opencode-json";

/// One OpenCode session's row (or `storage/session/…/<id>.json`).
#[derive(Debug, Clone, Default)]
pub struct OcSession {
    pub id: String,
    pub parent_id: Option<String>,
    pub directory: Option<String>,
    pub title: Option<String>,
    /// Epoch ms or an ISO text, as stored.
    pub time_created: Option<Value>,
    pub time_updated: Option<Value>,
}

/// One message with its parts, in order.
#[derive(Debug, Clone, Default)]
pub struct OcMessage {
    pub id: String,
    /// The message's `data` JSON (role, agent, time, …).
    pub data: Value,
    pub time_created: Option<Value>,
    pub parts: Vec<OcPart>,
}

#[derive(Debug, Clone, Default)]
pub struct OcPart {
    pub id: String,
    pub data: Value,
    /// What changes when the part is rewritten: its `time_updated`, else its length.
    pub version: String,
}

/// A time as OpenCode stores it (epoch ms, epoch s, or ISO text) as ISO text.
pub fn iso(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => {
            let n = n.as_i64()?;
            // Seconds before 2001-09-09 in ms would be below 1e12: anything smaller is seconds.
            Some(timefmt::format_iso_ms(if n < 1_000_000_000_000 {
                n * 1000
            } else {
                n
            }))
        }
        Value::String(s) => timefmt::parse_iso_ms(s).map(timefmt::format_iso_ms),
        _ => None,
    }
}

/// One part as an item of the resume check: which part of which message, and its version.
pub fn item(message_id: &str, part_id: &str, version: &str) -> Item {
    format!("{message_id}/{part_id}:{version}")
}

/// The items of a session, one per part, for the resume check.
pub fn items(messages: &[OcMessage]) -> Vec<Item> {
    messages
        .iter()
        .flat_map(|m| m.parts.iter().map(move |p| item(&m.id, &p.id, &p.version)))
        .collect()
}

fn text_of(data: &Value) -> &str {
    data.get("text").and_then(Value::as_str).unwrap_or("")
}

/// `opencode run "…"` stored the user's words inside quotes.
fn unquote(s: &str) -> &str {
    let t = s.trim();
    match t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if t.len() >= 2 && !inner.contains('"') => inner,
        _ => t,
    }
}

/// The records of one session; `read` names the source and where a resumed read starts.
/// `v2` are the session's `session_message` rows (OpenCode 2.x), already parsed: those that
/// repeat a V1 message are dropped.
pub fn records(
    s: &OcSession,
    messages: &[OcMessage],
    v2: &[(String, Value)],
    read: &StoreRead,
    caps: Caps,
) -> Result<Parsed> {
    let req = Request {
        agent: Some(Agent::OpenCode),
        caps,
        ..Default::default()
    };
    let mut out = Builder::new(Path::new(&read.path), Agent::OpenCode, &req, read.start);
    out.format = read.format;
    let main = s.parent_id.as_deref().filter(|p| !p.is_empty());
    out.session.session_id = Agent::OpenCode.session_key(main.unwrap_or(&s.id));
    if main.is_some() {
        out.session.subagent = Some(s.id.clone());
    }
    if let Some(dir) = s.directory.as_deref() {
        out.set_cwd(dir, None);
    }
    if let Some(t) = s.title.as_deref() {
        out.set_title(t, 1);
    }
    for t in [&s.time_created, &s.time_updated].into_iter().flatten() {
        out.see_time(iso(t).as_deref());
    }
    let mut seen: HashSet<(Role, String)> = HashSet::new();
    let mut index = 0u64;
    for m in messages {
        let role = match m.data.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            _ => Role::System,
        };
        let title_call = ["agent", "mode"]
            .iter()
            .any(|k| m.data.get(*k).and_then(Value::as_str) == Some("title"));
        let msg_ts = m
            .data
            .get("time")
            .and_then(|t| t.get("created"))
            .or(m.time_created.as_ref())
            .and_then(iso);
        if m.data.get("path").and_then(|p| p.get("cwd")).is_some() {
            if let Some(cwd) = m.data["path"]["cwd"].as_str() {
                out.set_cwd(cwd, None);
            }
        }
        for p in &m.parts {
            let offset = index;
            index += 1;
            if title_call {
                continue;
            }
            // A tool part keeps its times in its state.
            let ts = [
                p.data.get("time"),
                p.data.get("state").and_then(|s| s.get("time")),
            ]
            .into_iter()
            .flatten()
            .find_map(|t| t.get("start").and_then(iso))
            .or_else(|| msg_ts.clone());
            out.see_time(ts.as_deref());
            if offset < read.start {
                // Already indexed: only seen for the dedupe of V2 rows and the times.
                if p.data.get("type").and_then(Value::as_str) == Some("text") {
                    seen.insert((role, unquote(text_of(&p.data)).to_string()));
                }
                continue;
            }
            push_part(
                &mut out,
                role,
                &p.data,
                ts.as_deref(),
                offset,
                &mut seen,
                false,
            );
        }
    }
    for (kind, data) in v2 {
        let offset = index;
        index += 1;
        if offset < read.start {
            continue;
        }
        let role = match data.get("role").and_then(Value::as_str).unwrap_or(kind) {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => continue,
        };
        let ts = data
            .get("time")
            .and_then(|t| t.get("created"))
            .and_then(iso);
        out.see_time(ts.as_deref());
        let parts: Vec<Value> = match data.get("parts").and_then(Value::as_array) {
            Some(p) => p.clone(),
            None => vec![data.clone()],
        };
        for p in &parts {
            push_part(&mut out, role, p, ts.as_deref(), offset, &mut seen, true);
        }
    }
    if let Some(first) = out
        .messages
        .iter()
        .find(|m| m.role == Role::User && !m.background)
    {
        let t = first.text.clone();
        out.set_title(&t, 0);
    }
    out.finish(read.stat, index, read.fingerprint.clone())
}

/// One part: text, or a tool call and its output. `seen` holds what V1 parts said, so that a
/// V2 row (`dedupe`) repeating one is dropped; V1 parts themselves are all kept (a user may
/// say "continue" twice).
fn push_part(
    out: &mut Builder,
    role: Role,
    data: &Value,
    ts: Option<&str>,
    offset: u64,
    seen: &mut HashSet<(Role, String)>,
    dedupe: bool,
) {
    match data.get("type").and_then(Value::as_str) {
        Some("text") => {
            if data.get("synthetic").and_then(Value::as_bool) == Some(true) {
                out.push(role, None, text_of(data), ts, offset, true);
                return;
            }
            let text = if role == Role::User {
                unquote(text_of(data))
            } else {
                text_of(data).trim()
            };
            if seen.insert((role, text.to_string())) || !dedupe {
                out.push(role, None, text, ts, offset, false);
            }
        }
        Some("tool") => {
            let name = data.get("tool").and_then(Value::as_str).unwrap_or("tool");
            let state = data.get("state").cloned().unwrap_or(Value::Null);
            let input = state.get("input").cloned().unwrap_or(Value::Null);
            let call = match input.get("command").and_then(Value::as_str) {
                Some(c) => c.to_string(),
                None if input.is_null() => String::new(),
                None => input.to_string(),
            };
            if !seen.insert((Role::Assistant, format!("{name}\u{0}{call}"))) && dedupe {
                return;
            }
            out.push(Role::Assistant, Some(name), &call, ts, offset, false);
            let body = state
                .get("output")
                .or_else(|| state.get("error"))
                .map(super::content_text)
                .unwrap_or_default();
            let exit = state
                .get("metadata")
                .and_then(|m| m.get("exit"))
                .and_then(Value::as_i64);
            let text = match exit {
                Some(c) if c != 0 => format!("Exit code: {c}\n{body}"),
                _ => body,
            };
            if !text.trim().is_empty() {
                out.push(Role::Tool, Some(name), &text, ts, offset, false);
            }
        }
        // reasoning, step-start, step-finish, snapshot, patch, file, agent, compaction, …
        _ => out.skipped.unknown_types += 1,
    }
}

/// A pre-1.2 `storage/` directory: its sessions, each with its messages and parts, read from
/// the JSON files. A file that is not JSON is skipped (counted by the caller as an error only
/// when the session file itself is unreadable).
pub fn read_storage(storage: &Path) -> Vec<(PathBuf, std::io::Result<OcSession>)> {
    let mut out = Vec::new();
    for dir in sorted_dir(&storage.join("session")) {
        for f in sorted_dir(&dir) {
            if f.extension().is_some_and(|e| e == "json") {
                let s = std::fs::read(&f).and_then(|b| {
                    serde_json::from_slice::<Value>(&b)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                });
                out.push((f, s.map(|v| storage_session(&v))));
            }
        }
    }
    out
}

fn storage_session(v: &Value) -> OcSession {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    OcSession {
        id: s("id").unwrap_or_default(),
        parent_id: s("parentID"),
        directory: s("directory"),
        title: s("title"),
        time_created: v.get("time").and_then(|t| t.get("created")).cloned(),
        time_updated: v.get("time").and_then(|t| t.get("updated")).cloned(),
    }
}

/// The messages of a pre-1.2 session, with their parts, ordered by creation time then id.
pub fn storage_messages(storage: &Path, session_id: &str) -> Vec<OcMessage> {
    let mut messages = Vec::new();
    for f in sorted_dir(&storage.join("message").join(session_id)) {
        let Some(v) = read_json(&f) else { continue };
        let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
        if id.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        for pf in sorted_dir(&storage.join("part").join(id)) {
            if let Some(p) = read_json(&pf) {
                let version = std::fs::metadata(&pf)
                    .map(|m| m.len().to_string())
                    .unwrap_or_default();
                parts.push(OcPart {
                    id: p
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    data: p,
                    version,
                });
            }
        }
        messages.push(OcMessage {
            id: id.to_string(),
            time_created: v.get("time").and_then(|t| t.get("created")).cloned(),
            data: v,
            parts,
        });
    }
    messages.sort_by(|a, b| {
        let t = |m: &OcMessage| m.time_created.as_ref().and_then(iso).unwrap_or_default();
        t(a).cmp(&t(b)).then_with(|| a.id.cmp(&b.id))
    });
    messages
}

fn read_json(p: &Path) -> Option<Value> {
    if p.extension().is_none_or(|e| e != "json") {
        return None;
    }
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The read of one session from a `storage/` directory, for `index::stores`.
pub fn storage_read(
    s: &OcSession,
    messages: &[OcMessage],
    read: &StoreRead,
    caps: Caps,
) -> Result<Parsed> {
    records(s, messages, &[], read, caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn part(id: &str, data: Value) -> OcPart {
        OcPart {
            id: id.into(),
            data,
            version: "1".into(),
        }
    }

    fn read(start: u64) -> StoreRead {
        StoreRead {
            path: "/x/opencode.db#ses_1".into(),
            format: FORMAT_DB,
            start,
            stat: super::super::Stat {
                size: 1,
                mtime_ms: 1,
            },
            fingerprint: "fp".into(),
        }
    }

    fn session() -> (OcSession, Vec<OcMessage>) {
        let s = OcSession {
            id: "ses_1".into(),
            directory: Some("/nonexistent/oc".into()),
            title: Some("a title".into()),
            time_created: Some(json!(1796637503899i64)),
            ..Default::default()
        };
        let m = vec![
            OcMessage {
                id: "msg_1".into(),
                data: json!({"role":"user","time":{"created":1796637504295i64}}),
                parts: vec![part(
                    "p1",
                    json!({"type":"text","text":"\"list the files\""}),
                )],
                ..Default::default()
            },
            OcMessage {
                id: "msg_2".into(),
                data: json!({"role":"assistant"}),
                parts: vec![
                    part("p2", json!({"type":"step-start"})),
                    part("p3", json!({"type":"reasoning","text":"hmm"})),
                    part(
                        "p4",
                        json!({"type":"tool","tool":"bash","state":{"input":{"command":"cat nope"},
                          "output":"cat: nope: No such file","metadata":{"exit":1}}}),
                    ),
                    part("p5", json!({"type":"text","text":"It failed."})),
                ],
                ..Default::default()
            },
            OcMessage {
                id: "msg_3".into(),
                data: json!({"role":"user"}),
                parts: vec![part("p7", json!({"type":"text","text":"list the files"}))],
                ..Default::default()
            },
            OcMessage {
                id: "msg_t".into(),
                data: json!({"role":"assistant","agent":"title"}),
                parts: vec![part("p6", json!({"type":"text","text":"Title words"}))],
                ..Default::default()
            },
        ];
        (s, m)
    }

    #[test]
    fn parts_become_messages_and_bookkeeping_is_skipped() {
        let (s, m) = session();
        let p = records(&s, &m, &[], &read(0), Caps::DEFAULT).unwrap();
        assert_eq!(p.session.session_id, "opencode:ses_1");
        let got: Vec<(Role, Option<&str>, &str)> = p
            .messages
            .iter()
            .map(|m| (m.role, m.tool.as_deref(), m.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Role::User, None, "list the files"),
                (Role::Assistant, Some("bash"), "cat nope"),
                (
                    Role::Tool,
                    Some("bash"),
                    "Exit code: 1\ncat: nope: No such file"
                ),
                (Role::Assistant, None, "It failed."),
                (Role::User, None, "list the files"),
            ]
        );
        assert_eq!(p.source.end_offset, 7);
        assert_eq!(p.source.skipped.unknown_types, 2);
        assert_eq!(p.session.title.as_deref(), Some("a title"));
        assert!(p.session.started_at.is_some());
    }

    #[test]
    fn a_resumed_read_gives_only_the_later_parts_and_v2_rows_are_deduped() {
        let (s, m) = session();
        let v2 = vec![
            (
                "user".to_string(),
                json!({"role":"user","parts":[{"type":"text","text":"list the files"}]}),
            ),
            (
                "user".to_string(),
                json!({"role":"user","parts":[{"type":"text","text":"a v2 only question"}]}),
            ),
        ];
        let p = records(&s, &m, &v2, &read(4), Caps::DEFAULT).unwrap();
        let texts: Vec<&str> = p.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(
            texts,
            ["It failed.", "list the files", "a v2 only question"]
        );
        assert_eq!(p.source.start_offset, 4);
        assert_eq!(p.source.end_offset, 9);
    }

    #[test]
    fn a_subagent_session_joins_its_parent() {
        let (mut s, m) = session();
        s.parent_id = Some("ses_0".into());
        let p = records(&s, &m, &[], &read(0), Caps::DEFAULT).unwrap();
        assert_eq!(p.session.session_id, "opencode:ses_0");
        assert_eq!(p.session.subagent.as_deref(), Some("ses_1"));
    }
}
