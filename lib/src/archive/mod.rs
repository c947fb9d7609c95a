//! `csep-archive`: one transcript file → a `session` record, `message` records, and a closing
//! `source` record. Format detection, byte-range reading, caps and fingerprints live here;
//! the host formats live in `codex.rs` and `claude.rs`.
//!
//! Parsing is line-oriented and resumable: it starts at a byte offset, stops after the last
//! complete line, and reports where it stopped, so a grown file costs only its new bytes.

mod claude;
mod codex;

use crate::error::{Error, Result};
use crate::redact::{redact, redact_string};
use crate::repo;
use crate::timefmt;
use crate::wire::{Agent, MessageRecord, Role, SessionRecord, SkipCounts, SourceRecord};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::UNIX_EPOCH;

/// Size caps. A tool output longer than `tool_head + tool_tail` keeps its head and its tail,
/// because the error that matters is usually at the end.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub tool_head: usize,
    pub tool_tail: usize,
    pub text_head: usize,
    pub text_tail: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            tool_head: 8 * 1024,
            tool_tail: 8 * 1024,
            text_head: 32 * 1024,
            text_tail: 8 * 1024,
        }
    }
}

/// What to parse and from where.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `None` sniffs the content.
    pub agent: Option<Agent>,
    pub start_offset: u64,
    /// Tool calls open at `start_offset` (from the previous parse's source record).
    pub pending_calls: BTreeMap<String, String>,
    pub caps: Caps,
}

/// One parsed file.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub session: SessionRecord,
    pub messages: Vec<MessageRecord>,
    pub source: SourceRecord,
}

/// Bytes hashed at each end of the parsed prefix for the fingerprint.
const FP_WINDOW: u64 = 4096;

/// A cheap fingerprint of `file[0..end]`: its first and last 4 KiB and its length. A file
/// that was only appended to keeps the fingerprint of its old prefix; a rewrite changes it.
pub fn fingerprint(file: &File, end: u64) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let head_len = end.min(FP_WINDOW) as usize;
    let mut buf = vec![0u8; head_len];
    file.read_exact_at(&mut buf, 0)?;
    h.update(&buf);
    let tail_start = end.saturating_sub(FP_WINDOW).max(head_len as u64);
    let mut tail = vec![0u8; (end - tail_start) as usize];
    file.read_exact_at(&mut tail, tail_start)?;
    h.update(&tail);
    h.update(end.to_le_bytes());
    Ok(h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// File facts the indexer compares to decide whether a file needs parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub mtime_ms: i64,
}

pub fn stat(path: &Path) -> Result<Stat> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path.display(), e))?;
    if meta.is_dir() {
        return Err(Error::input(format!(
            "{}: is a directory, not a transcript",
            path.display()
        )));
    }
    let mtime_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Ok(Stat {
        size: meta.len(),
        mtime_ms,
    })
}

/// Parses `path` from `req.start_offset`.
pub fn parse_file(path: &Path, req: &Request) -> Result<Parsed> {
    // Records name the file by one canonical path, however the caller spelled it.
    let canonical = fs::canonicalize(path).ok();
    let path = canonical.as_deref().unwrap_or(path);
    let st = stat(path)?;
    if st.size == 0 {
        return Err(Error::input(format!("{}: empty file", path.display())));
    }
    let mut file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let start = req.start_offset.min(st.size);
    let mut head = vec![0u8; st.size.min(64 * 1024) as usize];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| Error::io(path.display(), e))?;
    let agent = match req.agent {
        Some(a) => a,
        None => sniff_agent(path, &head).ok_or_else(|| {
            Error::input(format!(
                "{}: not a Codex or Claude Code transcript",
                path.display()
            ))
        })?,
    };
    let mut data = Vec::with_capacity((st.size - start) as usize);
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start))
        .map_err(|e| Error::io(path.display(), e))?;
    (&mut file)
        .take(st.size - start)
        .read_to_end(&mut data)
        .map_err(|e| Error::io(path.display(), e))?;

    let mut out = Builder::new(path, agent, req, start);
    match agent {
        Agent::Codex => codex::parse(&mut out, &head, &data, start),
        Agent::Claude => claude::parse(&mut out, &head, &data, start),
    }
    if start == 0 && out.valid_lines == 0 {
        return Err(Error::input(format!(
            "{}: no usable records ({} line(s) skipped: {} invalid UTF-8, {} bad JSON, {} not objects, {} torn)",
            path.display(),
            out.skipped.total(),
            out.skipped.invalid_utf8,
            out.skipped.bad_json,
            out.skipped.non_object,
            out.skipped.torn_lines
        )));
    }
    if out.session.session_id.is_empty() {
        return Err(Error::input(format!(
            "{}: no session id found in the transcript",
            path.display()
        )));
    }
    let end = out.end_offset.max(start);
    let fp = fingerprint(&file, end).map_err(|e| Error::io(path.display(), e))?;
    out.finish(st, end, fp)
}

fn sniff_agent(path: &Path, head: &[u8]) -> Option<Agent> {
    let name = path.file_name()?.to_string_lossy();
    if name.starts_with("rollout-") {
        return Some(Agent::Codex);
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(16 * 1024)]);
    if text.contains("\"sessionId\"")
        || text.contains("\"parentUuid\"")
        || text.contains("\"leafUuid\"")
    {
        return Some(Agent::Claude);
    }
    if text.contains("\"session_meta\"")
        || text.contains("\"record_type\"")
        || text.contains("\"instructions\"")
    {
        return Some(Agent::Codex);
    }
    None
}

/// Splits `data` (which begins at file offset `base`) into complete lines, calling `f` with
/// each line's file offset and bytes. Returns the offset just past the last complete line.
/// A final line without a newline counts only if it is a complete JSON value; otherwise it is
/// a torn write and is left for the next parse.
pub(crate) fn for_each_line(
    data: &[u8],
    base: u64,
    skipped: &mut SkipCounts,
    mut f: impl FnMut(u64, &[u8]),
) -> u64 {
    let mut pos = 0usize;
    while pos < data.len() {
        let (line, next, complete) = match data[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&data[pos..pos + i], pos + i + 1, true),
            None => (&data[pos..], data.len(), false),
        };
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        if !complete && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_err() {
            skipped.torn_lines += 1;
            return base + pos as u64;
        }
        if !trimmed.iter().all(u8::is_ascii_whitespace) {
            f(base + pos as u64, trimmed);
        }
        pos = next;
    }
    base + pos as u64
}

/// Classifies a line that failed to parse, for the skip counts.
pub(crate) fn count_bad_line(line: &[u8], skipped: &mut SkipCounts) {
    if std::str::from_utf8(line).is_err() {
        skipped.invalid_utf8 += 1;
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
        skipped.non_object += 1;
    } else {
        skipped.bad_json += 1;
    }
}

/// Collects records while a host parser walks a file.
pub(crate) struct Builder {
    pub session: SessionRecord,
    pub messages: Vec<MessageRecord>,
    pub skipped: SkipCounts,
    pub pending: BTreeMap<String, String>,
    pub end_offset: u64,
    pub format: &'static str,
    /// Lines that parsed as JSON objects; a file with none is not a transcript.
    pub valid_lines: u64,
    /// A branch named before the cwd is known (legacy Codex meta has git but no cwd).
    pub branch_hint: Option<String>,
    /// Why this session must not be archived, once known.
    pub excluded: Option<&'static str>,
    caps: Caps,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    agent: Agent,
    title_rank: u8,
    start: u64,
}

impl Builder {
    fn new(path: &Path, agent: Agent, req: &Request, start: u64) -> Self {
        Builder {
            session: SessionRecord {
                agent: Some(agent),
                source: path.to_string_lossy().into_owned(),
                ..Default::default()
            },
            messages: Vec::new(),
            skipped: SkipCounts::default(),
            pending: req.pending_calls.clone(),
            end_offset: start,
            format: "",
            valid_lines: 0,
            branch_hint: None,
            excluded: None,
            caps: req.caps,
            start_ms: None,
            end_ms: None,
            agent,
            title_rank: 0,
            start,
        }
    }

    pub fn see_time(&mut self, ts: Option<&str>) -> Option<i64> {
        let ms = timefmt::parse_iso_ms(ts?)?;
        self.start_ms = Some(self.start_ms.map_or(ms, |v| v.min(ms)));
        self.end_ms = Some(self.end_ms.map_or(ms, |v| v.max(ms)));
        Some(ms)
    }

    /// Keeps the best title seen: a higher `rank` wins, later wins at equal rank.
    pub fn set_title(&mut self, title: &str, rank: u8) {
        let t = title.trim();
        if !t.is_empty() && rank >= self.title_rank {
            self.title_rank = rank;
            let mut s: String = t.chars().take(200).collect();
            redact_string(&mut s);
            self.session.title = Some(s);
        }
    }

    /// Adds one message; the text is capped, redacted and dropped when empty.
    pub fn push(
        &mut self,
        role: Role,
        tool: Option<&str>,
        text: &str,
        ts: Option<&str>,
        offset: u64,
        background: bool,
    ) {
        let text = text.trim();
        if text.is_empty() && tool.is_none() {
            return;
        }
        if self.excluded.is_none()
            && matches!(role, Role::User | Role::Developer | Role::System)
            && crate::trigger::is_reflection_text(text)
        {
            self.excluded = Some("reflection_session");
        }
        let (head, tail) = match role {
            Role::Tool => (self.caps.tool_head, self.caps.tool_tail),
            _ if tool.is_some() => (self.caps.tool_head, self.caps.tool_tail),
            _ => (self.caps.text_head, self.caps.text_tail),
        };
        let (text, truncated) = cap_redacted(text, head, tail);
        let timestamp = ts
            .and_then(timefmt::parse_iso_ms)
            .map(timefmt::format_iso_ms);
        let ordinal = self.messages.len() as u64;
        self.messages.push(MessageRecord {
            session_id: String::new(),
            ordinal,
            role,
            tool: tool.map(str::to_string),
            text,
            timestamp,
            offset,
            background,
            truncated,
        });
    }

    /// Sets cwd, repo identity and branch from the first cwd the transcript names.
    pub fn set_cwd(&mut self, cwd: &str, branch: Option<&str>) {
        if self.session.cwd.is_some() || cwd.is_empty() {
            return;
        }
        self.session.cwd = Some(cwd.to_string());
        let id = identify_cached(cwd);
        self.session.repo_root = Some(id.repo_root);
        self.session.worktree_root = Some(id.worktree_root);
        self.session.repo_fingerprint = Some(id.fingerprint);
        let branch = branch
            .filter(|b| !b.is_empty())
            .map(str::to_string)
            .or(id.branch);
        self.session.branch = branch;
    }

    fn finish(mut self, st: Stat, end: u64, fingerprint: String) -> Result<Parsed> {
        let sid = self.session.session_id.clone();
        for m in &mut self.messages {
            m.session_id.clone_from(&sid);
        }
        if self.session.branch.is_none() {
            self.session.branch = self.branch_hint.take();
        }
        self.session.started_at = self.start_ms.map(timefmt::format_iso_ms);
        self.session.updated_at = self.end_ms.map(timefmt::format_iso_ms);
        let source = SourceRecord {
            path: self.session.source.clone(),
            agent: Some(self.agent),
            session_id: sid,
            format: self.format.to_string(),
            size_bytes: st.size,
            mtime_ms: st.mtime_ms,
            start_offset: self.first_offset(),
            end_offset: end,
            fingerprint,
            messages: self.messages.len() as u64,
            skipped: self.skipped.clone(),
            pending_calls: std::mem::take(&mut self.pending),
            excluded: self
                .excluded
                .or_else(|| {
                    let src = self.session.thread_source.as_deref()?;
                    crate::trigger::is_reflection_source(src).then_some("reflection_session")
                })
                .map(str::to_string),
        };
        Ok(Parsed {
            session: self.session,
            messages: self.messages,
            source,
        })
    }

    fn first_offset(&self) -> u64 {
        // The TS-era format is one JSON document: it is always parsed whole.
        if self.format == "codex-ts" {
            0
        } else {
            self.start
        }
    }
}

/// Keeps the first `head` and last `tail` bytes of `text` (on char boundaries).
/// How far past each cap a long text is redacted before it is cut, so that a secret the cut
/// goes through is recognised whole (and dropped with the middle) rather than kept in part.
const REDACT_MARGIN: usize = 4096;

/// [`cap_text`] on a redacted text. Only the two ends (each with [`REDACT_MARGIN`] bytes
/// more) are redacted, so a huge output costs no more than a small one; a secret that spans
/// a cut is seen whole inside the margin. The omitted count is of the original text.
pub fn cap_redacted(text: &str, head: usize, tail: usize) -> (String, bool) {
    let end = |s: &str, mut i: usize| {
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = |s: &str, mut i: usize| {
        while !s.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let hw = end(text, (head + REDACT_MARGIN).min(text.len()));
    let tw = start(text, text.len().saturating_sub(tail + REDACT_MARGIN));
    if text.len() <= head + tail || tw <= hw {
        let mut s = text.to_string();
        redact_string(&mut s);
        return cap_text(&s, head, tail);
    }
    let h = redact(&text[..hw]);
    let t = redact(&text[tw..]);
    let hc = end(&h, head.min(h.len()));
    let tc = start(&t, t.len().saturating_sub(tail));
    let omitted = text.len() - hc.min(hw) - (t.len() - tc).min(text.len() - tw);
    (
        format!("{}\n[… {omitted} bytes omitted …]\n{}", &h[..hc], &t[tc..]),
        true,
    )
}

pub fn cap_text(text: &str, head: usize, tail: usize) -> (String, bool) {
    if text.len() <= head + tail {
        return (text.to_string(), false);
    }
    let mut h = head;
    while !text.is_char_boundary(h) {
        h -= 1;
    }
    let mut t = text.len() - tail;
    while !text.is_char_boundary(t) {
        t += 1;
    }
    let omitted = t - h;
    (
        format!(
            "{}\n[… {omitted} bytes omitted …]\n{}",
            &text[..h],
            &text[t..]
        ),
        true,
    )
}

fn identify_cached(cwd: &str) -> repo::RepoIdentity {
    static CACHE: OnceLock<Mutex<HashMap<String, repo::RepoIdentity>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(cwd).cloned()) {
        return hit;
    }
    let id = repo::identify(cwd);
    if let Ok(mut c) = cache.lock() {
        c.insert(cwd.to_string(), id.clone());
    }
    id
}

/// The thread name Codex keeps in `$CODEX_HOME/session_index.jsonl` (the last entry wins),
/// found from a rollout path under `$CODEX_HOME/sessions/`.
pub(crate) fn codex_title(session_id: &str, rollout: &Path) -> Option<String> {
    type Titles = std::sync::Arc<HashMap<String, String>>;
    static CACHE: OnceLock<Mutex<HashMap<std::path::PathBuf, Titles>>> = OnceLock::new();
    let home = rollout
        .ancestors()
        .find(|a| {
            a.file_name()
                .is_some_and(|n| n == "sessions" || n == "archived_sessions")
        })?
        .parent()?;
    let index = home.join("session_index.jsonl");
    let cache = CACHE.get_or_init(Default::default);
    let titles = {
        let mut guard = cache.lock().ok()?;
        guard
            .entry(index.clone())
            .or_insert_with(|| {
                let mut map = HashMap::new();
                if let Ok(text) = fs::read_to_string(&index) {
                    for line in text.lines() {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                            if let (Some(id), Some(name)) = (
                                v.get("id").and_then(|x| x.as_str()),
                                v.get("thread_name").and_then(|x| x.as_str()),
                            ) {
                                map.insert(id.to_string(), name.to_string());
                            }
                        }
                    }
                }
                std::sync::Arc::new(map)
            })
            .clone()
    };
    titles.get(session_id).cloned()
}

/// Extracts text from a content value: a string, or a list of parts with `text` fields.
pub(crate) fn content_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            let mut out = String::new();
            for item in items {
                let piece = match item {
                    serde_json::Value::String(s) => Some(s.as_str()),
                    serde_json::Value::Object(o) => o.get("text").and_then(|t| t.as_str()),
                    _ => None,
                };
                if let Some(p) = piece {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(p);
                }
            }
            out
        }
        serde_json::Value::Object(o) => {
            for key in ["output", "content", "text", "stdout"] {
                if let Some(v) = o.get(key) {
                    let t = content_text(v);
                    if !t.is_empty() {
                        return t;
                    }
                }
            }
            value.to_string()
        }
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_head_and_tail_on_char_boundaries() {
        let text = format!("{}{}{}", "a".repeat(10), "中".repeat(100), "tail-error");
        let (out, cut) = cap_text(&text, 12, 12);
        assert!(cut);
        assert!(out.starts_with("aaaaaaaaaa"));
        assert!(out.ends_with("tail-error"));
        assert!(out.contains("bytes omitted"));
        assert_eq!(cap_text("short", 4, 4), ("short".to_string(), false));
    }

    #[test]
    fn a_secret_cut_by_the_cap_is_redacted_whole() {
        let token = "ghp_0123456789abcdefghijABCDEFGHIJklmnopqr";
        for at in [990, 995, 1000, 1005, 1010] {
            // The head cut (1000) and the tail cut go through the token.
            let text = format!(
                "{} {token}{} {token}{}",
                "a".repeat(at - 1),
                "b".repeat(20_000),
                " c".repeat((1000 - (token.len() - 10)) / 2)
            );
            let (out, cut) = cap_redacted(&text, 1000, 1000);
            assert!(cut);
            for piece in token.as_bytes().windows(8) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!out.contains(piece), "{at}: {piece} in {out}");
            }
            assert!(out.starts_with("aaaa") && out.ends_with(" c c"), "{out}");
        }
        // Short texts: redacted, then capped as before.
        assert_eq!(
            cap_redacted(&format!("key {token}"), 100, 100),
            ("key [REDACTED:github_token]".to_string(), false)
        );
        let text = format!("{}\n{}", "x".repeat(30), "y".repeat(30));
        assert_eq!(cap_redacted(&text, 10, 10), cap_text(&text, 10, 10));
    }

    #[test]
    fn torn_last_line_is_left_for_later() {
        let data = b"{\"a\":1}\n{\"b\":2}\n{\"c\":";
        let mut skipped = SkipCounts::default();
        let mut seen = vec![];
        let end = for_each_line(data, 100, &mut skipped, |off, _| seen.push(off));
        assert_eq!(seen, vec![100, 108]);
        assert_eq!(end, 116);
        assert_eq!(skipped.torn_lines, 1);
        let mut skipped = SkipCounts::default();
        let end = for_each_line(b"{\"a\":1}", 0, &mut skipped, |_, _| {});
        assert_eq!((end, skipped.torn_lines), (7, 0));
    }
}
