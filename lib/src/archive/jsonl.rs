//! Pieces the JSONL host readers (Copilot, Qwen, Droid, Gemini, Cursor, Antigravity) share:
//! lines holding more than one JSON object ("glued" writes), a replay of messages keyed by the
//! host's own id (a later record with the same id replaces the earlier one, a rewind drops a
//! tail) that still indexes only what is new when the prefix is unchanged, and tool
//! arguments shown as a person would recognise them.

use super::{content_text, count_bad_line, Body, Builder};
use crate::wire::{Agent, Role, SkipCounts};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Calls `f` with each JSON object on `line`. A line is normally one object; two objects
/// written without a newline between them (seen in Qwen transcripts) are both recovered.
/// Returns whether any object was found; a line with none is counted in `skipped`.
pub(crate) fn each_object(line: &[u8], skipped: &mut SkipCounts, mut f: impl FnMut(Value)) -> bool {
    if let Ok(v) = serde_json::from_slice::<Value>(line) {
        if v.is_object() {
            f(v);
            return true;
        }
        skipped.non_object += 1;
        return false;
    }
    let mut found = false;
    let mut stream = serde_json::Deserializer::from_slice(line).into_iter::<Value>();
    for item in stream.by_ref() {
        match item {
            Ok(v) if v.is_object() => {
                found = true;
                f(v);
            }
            _ => break,
        }
    }
    if !found {
        count_bad_line(line, skipped);
    } else if stream.byte_offset() < line.len() {
        // What follows the recovered objects is damage: counted, not fatal.
        skipped.bad_json += 1;
    }
    found
}

/// The objects on the complete lines among the last `max` bytes of the file at `path`, newest
/// first (read as [`each_object`] reads them; anything else skipped): what a drainer looks at
/// to tell whether a host has finished writing a turn. Empty when the file cannot be read.
pub(crate) fn last_objects(path: &std::path::Path, max: u64) -> Vec<Value> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max);
    let mut tail = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.take(max).read_to_end(&mut tail).is_err() {
        return Vec::new();
    }
    // A torn last line has no newline yet: it is not a record.
    let complete = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    // Cut mid-line at the front, the first line is a fragment: not a record either.
    let first = match start {
        0 => 0,
        _ => tail
            .iter()
            .position(|b| *b == b'\n')
            .map_or(complete, |i| i + 1),
    };
    let mut objects = Vec::new();
    let mut skipped = SkipCounts::default();
    for line in tail[first.min(complete)..complete]
        .split(|b| *b == b'\n')
        .rev()
    {
        let newest = objects.len();
        each_object(line, &mut skipped, |v| objects.push(v));
        objects[newest..].reverse();
    }
    objects
}

/// A string field of `v`, if present and non-empty.
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A tool call's arguments as a person would recognise them: the shell command, the file
/// path, the search pattern; otherwise the arguments JSON. A string holding JSON (some hosts
/// write `arguments` encoded) is decoded first.
pub(crate) fn render_args(v: &Value) -> String {
    if let Value::String(s) = v {
        return match serde_json::from_str::<Value>(s) {
            Ok(inner @ Value::Object(_)) => render_args(&inner),
            _ => s.clone(),
        };
    }
    let Value::Object(o) = v else {
        return match v {
            Value::Null => String::new(),
            other => other.to_string(),
        };
    };
    let mut parts = Vec::new();
    for key in [
        "command",
        "file_path",
        "filePath",
        "absolute_path",
        "path",
        "TargetFile",
        "DirectoryPath",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ] {
        if let Some(Value::String(s)) = o.get(key) {
            parts.push(s.trim_matches('"'));
        }
    }
    if parts.is_empty() {
        v.to_string()
    } else {
        parts.join("\n")
    }
}

/// An Anthropic-style `tool_use` or `tool_result` content block (Cursor and Droid write
/// Claude's block shapes in serde `Value`s): a call is pushed as the assistant's and its name
/// kept by id so the result that answers it is named after the tool. Other block types are
/// ignored.
pub(crate) fn tool_block(out: &mut Builder, b: &Value, ts: Option<&str>, offset: u64) {
    match str_of(b, "type").unwrap_or("") {
        "tool_use" => {
            let name = str_of(b, "name").unwrap_or("tool").to_string();
            if let Some(id) = str_of(b, "id") {
                out.pending.insert(id.to_string(), name.clone());
            }
            let input = render_args(&b["input"]);
            out.push(Role::Assistant, Some(&name), &input, ts, offset, false);
        }
        "tool_result" => {
            let name = str_of(b, "tool_use_id")
                .and_then(|id| out.pending.remove(id))
                .unwrap_or_else(|| "tool".to_string());
            let text = content_text(&b["content"]);
            out.push(Role::Tool, Some(&name), &text, ts, offset, false);
        }
        _ => {}
    }
}

/// One message waiting to be pushed to the [`Builder`].
#[derive(Debug, Clone, PartialEq, Hash)]
pub(crate) struct Msg {
    pub role: Role,
    pub tool: Option<String>,
    pub text: String,
    pub ts: Option<String>,
    pub background: bool,
}

impl Msg {
    pub fn new(role: Role, text: impl Into<String>, ts: Option<&str>) -> Self {
        Msg {
            role,
            tool: None,
            text: text.into(),
            ts: ts.map(str::to_string),
            background: false,
        }
    }
    pub fn tool(mut self, name: &str) -> Self {
        self.tool = Some(name.to_string());
        self
    }
    pub fn background(mut self, bg: bool) -> Self {
        self.background = bg;
        self
    }
}

#[derive(Debug)]
struct Entry {
    id: String,
    offset: u64,
    msgs: Vec<Msg>,
}

/// Messages keyed by the host's id, replayed from the start of the file. Formats where a
/// later line can change an earlier message (Gemini re-appends a message whole on every
/// update; Qwen repeats a uuid and rewinds) are read from offset 0 on every parse, but only
/// the new tail is indexed when what was indexed before is unchanged: the state as of the
/// resume offset is kept, and if the final state merely extends it, only the extension is
/// pushed (resume stays incremental for the index); otherwise the whole file is re-indexed
/// (`start_offset` 0, which replaces the source's messages). Correct whatever the host
/// rewrites, at the cost of reading (not indexing) the prefix again.
pub(crate) struct Replay {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    start: u64,
    /// Each entry's id and a hash of its messages, as of the resume offset.
    snapshot: Option<Vec<(String, u64)>>,
}

impl Replay {
    pub fn new(start: u64) -> Self {
        Replay {
            entries: Vec::new(),
            index: HashMap::new(),
            start,
            snapshot: None,
        }
    }

    /// Called before each line: the state before the first line at or past the resume
    /// offset is what the index already holds.
    pub fn at(&mut self, offset: u64) {
        if self.snapshot.is_none() && offset >= self.start {
            self.snapshot = Some(self.digest());
        }
    }

    fn digest(&self) -> Vec<(String, u64)> {
        use std::hash::{Hash, Hasher};
        self.entries
            .iter()
            .map(|e| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                e.msgs.hash(&mut h);
                (e.id.clone(), h.finish())
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sets the messages of `id`: replaces them in place when `id` was seen (last wins),
    /// appends otherwise.
    pub fn upsert(&mut self, id: &str, offset: u64, msgs: Vec<Msg>) {
        match self.index.get(id) {
            Some(&i) => self.entries[i].msgs = msgs,
            None => {
                self.index.insert(id.to_string(), self.entries.len());
                self.entries.push(Entry {
                    id: id.to_string(),
                    offset,
                    msgs,
                });
            }
        }
    }

    /// Appends messages under no host id.
    pub fn append(&mut self, offset: u64, msgs: Vec<Msg>) {
        if msgs.is_empty() {
            return;
        }
        let id = format!("\0@{offset}:{}", self.entries.len());
        self.upsert(&id, offset, msgs);
    }

    /// Keeps the first `len` entries.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.entries.len() {
            return;
        }
        for e in self.entries.drain(len..) {
            self.index.remove(&e.id);
        }
    }

    /// Drops `id` and everything after it (Gemini's `$rewindTo`); unknown ids change nothing.
    pub fn rewind_to(&mut self, id: &str) {
        if let Some(&i) = self.index.get(id) {
            self.truncate(i);
        }
    }

    /// Pushes the replayed messages. `out`'s start becomes 0 when the part already indexed
    /// changed, so the source is re-indexed whole.
    pub fn finish(mut self, out: &mut Builder) {
        let now = self.digest();
        let snapshot = self.snapshot.take().unwrap_or_else(|| now.clone());
        let from = if self.start == 0 {
            0
        } else if snapshot.len() <= now.len() && snapshot.iter().zip(&now).all(|(a, b)| a == b) {
            snapshot.len()
        } else {
            out.start = 0;
            0
        };
        let floor = out.start;
        for e in self.entries.drain(from..) {
            for m in e.msgs {
                out.push(
                    m.role,
                    m.tool.as_deref(),
                    &m.text,
                    m.ts.as_deref(),
                    e.offset.max(floor),
                    m.background,
                );
            }
        }
    }
}

/// Reads `body` from offset 0 whatever the resume offset (see [`Replay`]).
pub(crate) fn from_file_start(body: &mut Body) {
    body.start = 0;
    body.mid_line = false;
}

/// Reads `body` line by line through `record`, each JSON object of a line in turn (an
/// append-only format: a resume reads only what is new).
pub(crate) fn read_lines(
    out: &mut Builder,
    body: &mut Body,
    mut record: impl FnMut(&mut Builder, u64, &Value),
) {
    let mut skipped = std::mem::take(&mut out.skipped);
    let end = body.for_each_line(&mut skipped, |offset, line| {
        let mut local = std::mem::take(&mut out.skipped);
        each_object(line, &mut local, |v| {
            out.valid_lines += 1;
            record(out, offset, &v);
        });
        out.skipped = local;
    });
    out.skipped.add(&skipped);
    out.end_offset = end;
}

/// Reads `body` line by line into `st` through `record`, for a format replayed from the
/// start ([`Replay`]): lines before the resume offset `start` rebuild the state but add
/// nothing to the skip counts (they were counted when first read); then pushes what changed.
pub(crate) fn replay_lines<S: AsMut<Replay>>(
    out: &mut Builder,
    body: &mut Body,
    start: u64,
    st: &mut S,
    mut record: impl FnMut(&mut Builder, &mut S, u64, &Value),
) {
    let mut skipped = std::mem::take(&mut out.skipped);
    let end = body.for_each_line(&mut skipped, |offset, line| {
        st.as_mut().at(offset);
        let mut local = SkipCounts::default();
        each_object(line, &mut local, |v| {
            out.valid_lines += 1;
            record(out, st, offset, &v);
        });
        if offset >= start {
            out.skipped.add(&local);
        }
    });
    out.skipped.add(&skipped);
    out.end_offset = end;
    std::mem::replace(st.as_mut(), Replay::new(start)).finish(out);
}

/// A session that never named its id is known by its file's name (`<id>.jsonl`).
pub(crate) fn id_from_file_stem(out: &mut Builder, agent: Agent) {
    if !out.session.session_id.is_empty() {
        return;
    }
    if let Some(stem) = Path::new(&out.session.source)
        .file_stem()
        .and_then(|s| s.to_str())
    {
        out.session.session_id = agent.session_key(stem);
    }
}

/// The hosts added after Codex and Claude Code, told apart where it is unambiguous: by their
/// layout or their first record (backfill and hooks always name the host).
pub(crate) fn sniff(path: &Path, name: &str, text: &str) -> Option<Agent> {
    let first = text.trim_start();
    let under = |dir: &str| path.components().any(|c| c.as_os_str() == dir);
    if name == "events.jsonl" && first.starts_with(r#"{"type":"session.start""#) {
        Some(Agent::Copilot)
    } else if first.starts_with(r#"{"type":"session_start""#) {
        Some(Agent::Droid)
    } else if under("agent-transcripts") {
        Some(Agent::Cursor)
    } else if (under("chats") && name.starts_with("session-"))
        || (under("brain") && name == "transcript.jsonl")
    {
        Some(Agent::Gemini)
    } else if under("chats") && text.contains(r#""parts":["#) && text.contains(r#""uuid""#) {
        Some(Agent::Qwen)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glued_objects_on_one_line_are_both_read() {
        let mut skipped = SkipCounts::default();
        let mut seen = Vec::new();
        let line = br#"{"a":1}{"b":"x {\"c\":2}"}"#;
        assert!(each_object(line, &mut skipped, |v| seen.push(v)));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1]["b"], "x {\"c\":2}");
        assert_eq!(skipped.total(), 0);
        // Damage after a recovered object is counted, and the object kept.
        let mut seen = 0;
        assert!(each_object(br#"{"a":1}{"b":"#, &mut skipped, |_| seen += 1));
        assert_eq!((seen, skipped.bad_json), (1, 1));
        assert!(!each_object(b"not json", &mut skipped, |_| {}));
        assert_eq!(skipped.bad_json, 2);
    }

    #[test]
    fn encoded_arguments_show_the_command() {
        let v = Value::String(r#"{"command":"ls -la"}"#.into());
        assert_eq!(render_args(&v), "ls -la");
        let v: Value = serde_json::from_str(r#"{"TargetFile":"\"/tmp/a.md\""}"#).unwrap();
        assert_eq!(render_args(&v), "/tmp/a.md");
    }

    #[test]
    fn the_newer_hosts_are_told_apart_only_where_unambiguous() {
        let sniff_at = |p: &str, text: &str| {
            let path = Path::new(p);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            sniff(path, &name, text)
        };
        let start = r#"{"type":"session.start","data":{}}"#;
        assert_eq!(
            sniff_at("/c/session-state/x/events.jsonl", start),
            Some(Agent::Copilot)
        );
        assert_eq!(sniff_at("/x/events.jsonl", "{}"), None);
        let droid = r#"{"type":"session_start","id":"d"}"#;
        assert_eq!(
            sniff_at("/f/sessions/-x/d.jsonl", droid),
            Some(Agent::Droid)
        );
        assert_eq!(
            sniff_at("/g/tmp/p/chats/session-2026-01-01T00-00-ab.jsonl", "{}"),
            Some(Agent::Gemini)
        );
        let qwen = r#"{"uuid":"u","message":{"parts":[{"text":"hi"}]}}"#;
        assert_eq!(
            sniff_at("/q/projects/-x/chats/q.jsonl", qwen),
            Some(Agent::Qwen)
        );
        assert_eq!(
            sniff_at("/c/projects/x/agent-transcripts/a.jsonl", "{}"),
            Some(Agent::Cursor)
        );
        // A Claude Code line is left to the older rules.
        let claude = r#"{"type":"user","sessionId":"s","parentUuid":null,"uuid":"u"}"#;
        assert_eq!(sniff_at("/c/projects/-x/s.jsonl", claude), None);
    }

    fn replayed(lines: &[(&str, u64, &str)], start: u64) -> Builder {
        let req = super::super::Request::default();
        let mut out = Builder::new(Path::new("/x.jsonl"), Agent::Gemini, &req, start);
        let mut r = Replay::new(start);
        for (id, offset, text) in lines {
            r.at(*offset);
            r.upsert(id, *offset, user(text));
        }
        r.finish(&mut out);
        out
    }

    #[test]
    fn a_resumed_replay_indexes_only_the_new_tail_unless_the_indexed_part_changed() {
        let texts = |b: &Builder| {
            b.messages
                .iter()
                .map(|m| m.text.clone())
                .collect::<Vec<_>>()
        };
        // Grown: only the new message, past the resume offset.
        let out = replayed(
            &[("a", 0, "one"), ("b", 50, "two"), ("c", 120, "three")],
            100,
        );
        assert_eq!((texts(&out), out.start), (vec!["three".to_string()], 100));
        assert!(out.messages[0].offset >= 100);
        // An indexed message re-appended unchanged is no change.
        let out = replayed(
            &[("a", 0, "one"), ("a", 120, "one"), ("c", 130, "three")],
            100,
        );
        assert_eq!((texts(&out), out.start), (vec!["three".to_string()], 100));
        // An indexed message changed: everything again, from 0.
        let out = replayed(&[("a", 0, "one"), ("b", 50, "two"), ("a", 120, "uno")], 100);
        assert_eq!(out.start, 0);
        assert_eq!(texts(&out), vec!["uno".to_string(), "two".to_string()]);
    }

    fn user(t: &str) -> Vec<Msg> {
        vec![Msg::new(Role::User, t, None)]
    }

    #[test]
    fn a_replay_keeps_the_last_version_in_the_first_place_and_rewinds() {
        let mut r = Replay::new(0);
        r.upsert("a", 0, user("one"));
        r.upsert("b", 10, user("two"));
        r.upsert("a", 20, user("one, edited"));
        assert_eq!(r.len(), 2);
        assert_eq!(r.entries[0].msgs[0].text, "one, edited");
        assert_eq!(r.entries[0].offset, 0);
        r.rewind_to("b");
        assert_eq!(r.len(), 1);
        assert!(!r.index.contains_key("b"));
        r.upsert("b", 30, user("two again"));
        assert_eq!(r.entries[1].offset, 30);
    }

    #[test]
    fn the_last_objects_are_newest_first_and_only_whole_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let n = |v: &Value| v["n"].as_i64().unwrap();
        // Two objects glued on one line, and a torn last line.
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2}{\"n\":3}\n{\"n\":4").unwrap();
        let all = last_objects(&path, 1024);
        assert_eq!(all.iter().map(n).collect::<Vec<_>>(), [3, 2, 1]);
        // Cut inside the first line: its fragment (`{"n":1}` from a longer record) is skipped.
        std::fs::write(&path, "{\"a\":{\"n\":9}}\n{\"n\":2}\n").unwrap();
        let cut = last_objects(&path, 17);
        assert_eq!(cut.iter().map(n).collect::<Vec<_>>(), [2]);
        assert!(last_objects(&dir.path().join("none"), 1024).is_empty());
    }
}
