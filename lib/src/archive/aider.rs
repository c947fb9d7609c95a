//! Aider's `.aider.chat.history.md`: many sessions in one append-only Markdown file.
//!
//! `# aider chat started at YYYY-MM-DD HH:MM:SS` opens a session; `#### ` lines are the
//! user's (commands too), `> ` lines aider's own output (tool results, edits applied, the
//! command line it was started with), everything else the assistant's Markdown. Inside a
//! fenced block (```` ``` ````) every line is the assistant's, whatever it starts with.
//!
//! Sessions have no ids: a session is `aider:<hash of the file's path>-<ordinal>` (1 for the
//! first header), stable while the file only grows, and its source is `FILE#<ordinal>`.
//! Offsets are the file's bytes: a grown last session is read from where the last read
//! stopped (when the file's bytes up to there are unchanged), a new header starts a new
//! session. Only complete lines are read; a torn last line waits for the next read.
//!
//! Header times carry no zone: they are aider's local time, read here in the local zone of
//! the machine csep runs on (`TZ`), which is the machine aider ran on for a local history.
//! Messages carry no time of their own: the session's start is the header's.

use super::{fingerprint, Builder, Caps, Parsed, Request, Stat};
use crate::error::{Error, Result};
use crate::wire::{Agent, Role};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::Path;

/// `sources.format` of an Aider session.
pub const FORMAT: &str = "aider-md";

/// The file name aider writes by default.
pub const FILE_NAME: &str = ".aider.chat.history.md";

const HEADER: &str = "# aider chat started at ";

/// One session's place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// 1 for the first header.
    pub ordinal: u64,
    /// Offset of its header line.
    pub start: u64,
    /// Offset just past its last complete line.
    pub end: u64,
    /// The header's time as written (local, no zone).
    pub started: String,
}

/// The sessions of a history file's complete lines.
pub fn spans(data: &[u8]) -> Vec<Span> {
    let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut out: Vec<Span> = Vec::new();
    let mut pos = 0usize;
    let mut fence = false;
    while pos < complete {
        let nl = data[pos..complete]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(complete, |i| pos + i + 1);
        let line = String::from_utf8_lossy(&data[pos..nl]);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        if let Some(t) = line.strip_prefix(HEADER) {
            fence = false;
            if let Some(last) = out.last_mut() {
                last.end = pos as u64;
            }
            out.push(Span {
                ordinal: out.len() as u64 + 1,
                start: pos as u64,
                end: complete as u64,
                started: t.trim().to_string(),
            });
        }
        pos = nl;
    }
    out
}

/// The session id of the `ordinal`th session of the file at `path`.
pub fn session_id(path: &Path, ordinal: u64) -> String {
    let h = Sha256::digest(path.to_string_lossy().as_bytes());
    let hex: String = h[..6].iter().map(|b| format!("{b:02x}")).collect();
    Agent::Aider.session_key(&format!("{hex}-{ordinal}"))
}

/// Where to read a session from, given what the index remembers (`end_offset`,
/// `fingerprint`, read cleanly): `None` when nothing is new.
pub fn plan(file: &File, span: &Span, known: Option<(u64, &str, bool)>) -> Option<u64> {
    let Some((end, fp, clean)) = known else {
        return Some(span.start);
    };
    if !clean || end <= span.start || end > span.end {
        return Some(span.start);
    }
    match fingerprint(file, end) {
        Ok(now) if now == fp && end == span.end => None,
        Ok(now) if now == fp => Some(end),
        _ => Some(span.start),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    User,
    Output,
    Assistant,
}

/// The records of one session, read from `from` (its header's offset: whole).
pub fn records(
    path: &Path,
    file: &File,
    data: &[u8],
    span: &Span,
    from: u64,
    stat: Stat,
    caps: Caps,
) -> Result<Parsed> {
    let vpath = super::stored::virtual_path(path, &span.ordinal.to_string());
    let req = Request {
        agent: Some(Agent::Aider),
        caps,
        ..Default::default()
    };
    // A whole read starts at 0, so the index replaces what it had of the session.
    let resume = if from > span.start { from } else { 0 };
    let mut out = Builder::new(Path::new(&vpath), Agent::Aider, &req, resume);
    out.format = FORMAT;
    out.session.session_id = session_id(path, span.ordinal);
    if let Some(dir) = path.parent() {
        out.set_cwd(&dir.to_string_lossy(), None);
    }
    out.see_time(local_to_iso(&span.started).as_deref());
    let mut group: Option<(Kind, u64, String)> = None;
    let flush = |out: &mut Builder, g: Option<(Kind, u64, String)>| {
        let Some((kind, offset, text)) = g else {
            return;
        };
        if offset < resume {
            return;
        }
        match kind {
            Kind::User => out.push(Role::User, None, &text, None, offset, false),
            Kind::Output => out.push(Role::Tool, Some("aider"), &text, None, offset, false),
            Kind::Assistant => out.push(Role::Assistant, None, &text, None, offset, false),
        }
    };
    let body = &data[span.start as usize..span.end as usize];
    let mut pos = span.start;
    let mut fence = false;
    for raw in body.split_inclusive(|&b| b == b'\n') {
        let at = pos;
        pos += raw.len() as u64;
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if at == span.start {
            continue; // the header
        }
        let (kind, text) = if fence {
            (Kind::Assistant, line)
        } else if let Some(t) = line.strip_prefix("#### ") {
            (Kind::User, t.trim_end())
        } else if line == "####" {
            (Kind::User, "")
        } else if let Some(t) = line.strip_prefix("> ") {
            (Kind::Output, t.trim_end())
        } else if line == ">" {
            (Kind::Output, "")
        } else {
            (Kind::Assistant, line)
        };
        if line.trim_start().starts_with("```") {
            fence = !fence;
        }
        let blank = line.trim().is_empty();
        match &mut group {
            // A blank line belongs to whatever it follows; the resume point always cuts.
            Some((k, _, buf)) if at != resume && (*k == kind || blank) => {
                buf.push('\n');
                buf.push_str(text);
            }
            _ if blank => {}
            _ => {
                flush(&mut out, group.take());
                group = Some((kind, at, text.to_string()));
            }
        }
    }
    flush(&mut out, group.take());
    if let Some(first) = out.messages.iter().find(|m| m.role == Role::User) {
        let t = first.text.lines().next().unwrap_or_default().to_string();
        out.set_title(&t, 0);
    }
    let fp = fingerprint(file, span.end).map_err(|e| Error::io(path.display(), e))?;
    out.finish(stat, span.end, fp)
}

/// `YYYY-MM-DD HH:MM:SS` in the local zone as ISO UTC text.
pub fn local_to_iso(s: &str) -> Option<String> {
    let b = s.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        std::str::from_utf8(&b[r]).ok()?.parse().ok()
    };
    // SAFETY: `tm` is a plain C struct, zeroed then filled; mktime only reads and normalises
    // it (and reads the zone from the environment).
    let secs = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_year = num(0..4)? - 1900;
        tm.tm_mon = num(5..7)? - 1;
        tm.tm_mday = num(8..10)?;
        tm.tm_hour = num(11..13)?;
        tm.tm_min = num(14..16)?;
        tm.tm_sec = num(17..19)?;
        tm.tm_isdst = -1;
        libc::mktime(&mut tm)
    };
    (secs != -1).then(|| crate::timefmt::format_iso_ms(secs as i64 * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &str = "\
# aider chat started at 2026-06-09 14:01:00

> aider --model x
> Aider v0.86.2

#### add a retry
#### to the webhook

I'll add backoff.

```python
#### not a user line
> not output
```

> Applied edit to src/webhook.py

# aider chat started at 2026-06-09 15:30:00

#### make the timeout configurable
Done.
";

    fn parse(data: &[u8], span: &Span, from: u64) -> Parsed {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(data)
            .unwrap();
        let f = File::open(&path).unwrap();
        let st = super::super::stat(&path).unwrap();
        records(&path, &f, data, span, from, st, Caps::DEFAULT).unwrap()
    }

    #[test]
    fn sessions_split_at_headers_and_lines_are_classified() {
        let s = spans(TEXT.as_bytes());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].started, "2026-06-09 14:01:00");
        assert_eq!(s[1].start, s[0].end);
        let p = parse(TEXT.as_bytes(), &s[0], s[0].start);
        let got: Vec<(Role, &str)> = p
            .messages
            .iter()
            .map(|m| (m.role, m.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Role::Tool, "aider --model x\nAider v0.86.2"),
                (Role::User, "add a retry\nto the webhook"),
                (
                    Role::Assistant,
                    "I'll add backoff.\n\n```python\n#### not a user line\n> not output\n```"
                ),
                (Role::Tool, "Applied edit to src/webhook.py"),
            ]
        );
        assert_eq!(p.source.start_offset, 0);
        assert_eq!(p.source.end_offset, s[0].end);
        assert!(p.session.session_id.starts_with("aider:"));
        assert!(p.session.session_id.ends_with("-1"));
        assert_eq!(p.session.title.as_deref(), Some("add a retry"));
        assert!(p.session.started_at.is_some());
    }

    #[test]
    fn a_torn_last_line_waits_and_a_resume_reads_only_new_lines() {
        let torn = format!("{TEXT}#### half a li");
        let s = spans(torn.as_bytes());
        assert_eq!(s[1].end as usize, TEXT.len());
        let grown = format!("{TEXT}#### a later question\nA later answer.\n");
        let s2 = spans(grown.as_bytes());
        let p = parse(grown.as_bytes(), &s2[1], s[1].end);
        let texts: Vec<&str> = p.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["a later question", "A later answer."]);
        assert_eq!(p.source.start_offset, s[1].end);
    }

    #[test]
    fn local_header_times_follow_the_zone() {
        // Whatever the zone, the same wall time reads back to the same instant it names.
        let iso = local_to_iso("2026-06-09 14:01:00").unwrap();
        assert!(iso.starts_with("2026-06-0"), "{iso}");
        assert_eq!(local_to_iso("not a time"), None);
    }
}
