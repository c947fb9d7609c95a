//! `csep-archive`: one transcript file → a `session` record, `message` records, and a closing
//! `source` record. Format detection, byte-range reading, caps and fingerprints live here;
//! the host formats live in `codex.rs` and `claude.rs`; `legacy.rs` makes the same records from
//! csep 1.3.10's stored rows.
//!
//! Parsing is line-oriented and resumable: it starts at a byte offset, stops after the last
//! complete line, and reports where it stopped, so a grown file costs only its new bytes.

pub mod aider;
mod antigravity;
mod claude;
mod codex;
pub mod copilot;
mod cursor;
mod droid;
mod gemini;
mod jsonl;
pub mod legacy;
pub mod opencode;
pub mod qwen;
pub mod stored;

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

impl Caps {
    /// The caps everywhere none are given: the CLI's flag defaults, setup's backfill.
    pub const DEFAULT: Caps = Caps {
        tool_head: 8 * 1024,
        tool_tail: 8 * 1024,
        text_head: 32 * 1024,
        text_tail: 8 * 1024,
    };
}

impl Default for Caps {
    fn default() -> Self {
        Caps::DEFAULT
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
    let file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let start = req.start_offset.min(st.size);
    let mut head = vec![0u8; st.size.min(64 * 1024) as usize];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| Error::io(path.display(), e))?;
    let agent = match req.agent {
        Some(a) => a,
        None => sniff_agent(path, &head).ok_or_else(|| {
            Error::input(format!(
                "{}: not a transcript of a known host (name it with --agent)",
                path.display()
            ))
        })?,
    };
    let mid_line =
        resumes_mid_line(&file, start, MAX_LINE_BYTES).map_err(|e| Error::io(path.display(), e))?;
    let mut body = Body {
        file: &file,
        start,
        end: st.size,
        mid_line,
        error: None,
    };

    let mut out = Builder::new(path, agent, req, start);
    match agent {
        Agent::Codex => codex::parse(&mut out, &head, &mut body, start),
        Agent::Claude => claude::parse(&mut out, &head, &mut body, start),
        Agent::Copilot => copilot::parse(&mut out, &head, &mut body, start),
        Agent::Qwen => qwen::parse(&mut out, &head, &mut body, start),
        Agent::Droid => droid::parse(&mut out, &head, &mut body, start),
        Agent::Gemini => gemini::parse(&mut out, &head, &mut body, start),
        Agent::Cursor => cursor::parse(&mut out, &head, &mut body, start),
        other => {
            // OpenCode and Aider keep many sessions in one store: `index::read_store` reads it.
            return Err(Error::input(format!(
                "{}: not one of {}'s stores (name opencode.db, a storage/ session or \
                 .aider.chat.history.md, or run `csep-index --backfill {}`)",
                path.display(),
                other.display_name(),
                other.as_str()
            )));
        }
    }
    if let Some(e) = body.error {
        return Err(Error::io(path.display(), e));
    }
    if start == 0 && out.valid_lines == 0 {
        return Err(Error::input(format!(
            "{}: no usable records ({} line(s) skipped: {} invalid UTF-8, {} bad JSON, {} not objects, {} torn, {} over {} MiB)",
            path.display(),
            out.skipped.total(),
            out.skipped.invalid_utf8,
            out.skipped.bad_json,
            out.skipped.non_object,
            out.skipped.torn_lines,
            out.skipped.oversized_lines,
            MAX_LINE_BYTES >> 20
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
    if let Some(a) = jsonl::sniff(path, &name, &text) {
        return Some(a);
    }
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

/// The longest line a parse holds in memory. A longer line is read through without being
/// kept, counted in `skipped.oversized_lines`, and the lines after it are parsed as usual, so
/// peak memory does not grow with what a transcript holds (a tool that printed 2 GB without a
/// newline, say). No real host line comes near it: tool outputs are capped far below.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// How much of the file is read at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// The bytes of a transcript from the resume offset to the size seen when it was opened,
/// handed to a host parser. Read as a stream, never whole.
pub(crate) struct Body<'f> {
    file: &'f File,
    start: u64,
    end: u64,
    /// `start` is inside an oversized line left torn by the previous parse.
    mid_line: bool,
    /// The first read error; `parse_file` reports it.
    error: Option<std::io::Error>,
}

impl Body<'_> {
    /// Calls `f` with each complete line's file offset and bytes; returns the offset to
    /// resume from (see `scan_lines`).
    pub(crate) fn for_each_line(
        &mut self,
        skipped: &mut SkipCounts,
        mut f: impl FnMut(u64, &[u8]),
    ) -> u64 {
        let read = (|| {
            let mut r = self.file;
            std::io::Seek::seek(&mut r, std::io::SeekFrom::Start(self.start))?;
            let mut r = r.take(self.end - self.start);
            scan_lines(
                &mut r,
                self.end - self.start,
                self.start,
                self.mid_line,
                MAX_LINE_BYTES,
                skipped,
                &mut f,
            )
        })();
        match read {
            Ok(end) => end,
            Err(e) => {
                self.error.get_or_insert(e);
                self.start
            }
        }
    }

    /// The whole body, for the one format that is a single JSON document. `None` (counted as
    /// an oversized line) when it is longer than `MAX_LINE_BYTES`.
    pub(crate) fn whole(&mut self, skipped: &mut SkipCounts) -> Option<Vec<u8>> {
        let len = self.end - self.start;
        if len > MAX_LINE_BYTES as u64 {
            skipped.oversized_lines += 1;
            return None;
        }
        let mut data = vec![0u8; len as usize];
        match self.file.read_exact_at(&mut data, self.start) {
            Ok(()) => Some(data),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
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
    let mut r = data;
    // Reading a slice cannot fail.
    scan_lines(
        &mut r,
        data.len() as u64,
        base,
        false,
        MAX_LINE_BYTES,
        skipped,
        &mut f,
    )
    .unwrap_or(base)
}

/// The line splitter behind both: reads `r` (which begins at file offset `base`) in chunks,
/// keeping at most `max_line` bytes of one line. Returns the offset to resume from: past the
/// last complete line; at the start of a torn last line (a complete JSON value without its
/// newline counts as complete), so that the next parse reads it whole; but past a torn last
/// line that is already oversized, so that a growing giant is never read twice. The next parse
/// then starts inside that line (`mid_line`, see `resumes_mid_line`) and skips to its end.
///
/// `len` is how many bytes `r` should hold; it only sizes the read buffer, so that a small
/// file costs no 1 MiB buffer.
fn scan_lines(
    r: &mut impl Read,
    len: u64,
    base: u64,
    mid_line: bool,
    max_line: usize,
    skipped: &mut SkipCounts,
    f: &mut dyn FnMut(u64, &[u8]),
) -> std::io::Result<u64> {
    let mut emit = |offset: u64, line: &[u8]| {
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        if !trimmed.iter().all(u8::is_ascii_whitespace) {
            f(offset, trimmed);
        }
    };
    let mut chunk = vec![0u8; len.clamp(1, CHUNK_BYTES as u64) as usize];
    let mut line: Vec<u8> = Vec::new();
    let mut pos = base;
    let mut line_start = base;
    let mut oversized = mid_line;
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut i = 0;
        while i < n {
            match chunk[i..n].iter().position(|&b| b == b'\n') {
                Some(j) => {
                    let seg = &chunk[i..i + j];
                    if oversized || line.len() + seg.len() > max_line {
                        skipped.oversized_lines += 1;
                        oversized = false;
                        line = Vec::new();
                    } else if line.is_empty() {
                        emit(line_start, seg);
                    } else {
                        line.extend_from_slice(seg);
                        emit(line_start, &line);
                        line.clear();
                    }
                    i += j + 1;
                    line_start = pos + i as u64;
                }
                None => {
                    if !oversized {
                        if line.len() + (n - i) > max_line {
                            oversized = true;
                            // Give the memory back now, not at the line's end.
                            line = Vec::new();
                        } else {
                            line.extend_from_slice(&chunk[i..n]);
                        }
                    }
                    i = n;
                }
            }
        }
        pos += n as u64;
    }
    if line_start == pos {
        return Ok(pos);
    }
    let trimmed = line.strip_suffix(b"\r").unwrap_or(&line);
    if !oversized && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok() {
        emit(line_start, &line);
        return Ok(pos);
    }
    skipped.torn_lines += 1;
    Ok(if oversized { pos } else { line_start })
}

/// Whether a parse resuming at `start` begins inside a line: the previous parse stopped past
/// the torn part of an oversized line (`scan_lines`). Without a newline just before `start`
/// that is told apart from the other stop not after a newline (a complete JSON value without
/// its newline, never longer than `max_line`) by the line's length: only an oversized line
/// has no newline in the `max_line + 1` bytes before `start`.
fn resumes_mid_line(file: &File, start: u64, max_line: usize) -> std::io::Result<bool> {
    if start == 0 {
        return Ok(false);
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, start - 1)?;
    if last[0] == b'\n' || start <= max_line as u64 {
        return Ok(false);
    }
    let from = start - max_line as u64 - 1;
    let mut buf = vec![0u8; CHUNK_BYTES.min(max_line + 1)];
    let mut at = start;
    while at > from {
        let n = (at - from).min(buf.len() as u64) as usize;
        at -= n as u64;
        file.read_exact_at(&mut buf[..n], at)?;
        if buf[..n].contains(&b'\n') {
            return Ok(false);
        }
    }
    Ok(true)
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
            && crate::provenance::is_reflection_text(text)
        {
            self.excluded = Some("reflection_session");
        }
        let (head, tail) = match role {
            Role::Tool => (self.caps.tool_head, self.caps.tool_tail),
            _ if tool.is_some() => (self.caps.tool_head, self.caps.tool_tail),
            _ => (self.caps.text_head, self.caps.text_tail),
        };
        let (text, truncated, index_text) = cap_indexed(text, head, tail);
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
            index_text,
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
                    crate::provenance::is_reflection_source(src).then_some("reflection_session")
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

/// A cut text up to this size is indexed whole (`index_text`): a word in the middle of a
/// long tool output is found, though only its head and tail are kept to show.
pub const INDEX_WHOLE_MAX: usize = 1 << 20;

/// The text to keep (redacted, cut to the caps), whether it was cut, and, when it was cut
/// and is at most [`INDEX_WHOLE_MAX`] bytes, the whole redacted text to index. A longer
/// text keeps only its head and tail, in the index too.
pub fn cap_indexed(text: &str, head: usize, tail: usize) -> (String, bool, Option<String>) {
    if text.len() <= head + tail || text.len() > INDEX_WHOLE_MAX {
        let (kept, cut) = cap_redacted(text, head, tail);
        return (kept, cut, None);
    }
    let whole = redact(text).into_owned();
    let (kept, cut) = cap_text(&whole, head, tail);
    (kept, cut, cut.then_some(whole))
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
mod tests;
