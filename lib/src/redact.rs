//! Secret redaction: the one secret rule set of csep. Every text csep stores or prints passes
//! through [`redact`] first, so a token pasted into a session never reaches the index, a log
//! or a recall answer; csep-verify's `secret` check asks [`find`] the same rules about a
//! proposed file.
//!
//! The built-in rules live in `redact_rules.toml` beside this file (their format, sources
//! and the meaning of a capture group are described there); lib/build.rs turns them into a
//! Rust table, so reading them costs nothing at run time. A
//! user adds patterns with `[redact] patterns` in config.toml; the CLI registers where they
//! come from with [`set_user_patterns_source`], and they are read on first use.
//!
//! Speed: redaction runs on every message, tool outputs included. One Aho-Corasick pass over
//! the rules' keywords (ASCII case-insensitive) picks the rules that can match; only those
//! regexes run, and each is compiled the first time it is needed, so a process that never
//! sees a `curl` never builds the curl rule. The regex crate is linear-time in the text.
//! Measured on a 300-session generated corpus (19k message texts, 13 MB, CPU time): about
//! 185 MB/s, 5–20% below the older 17-pattern list; the first redaction in a process costs
//! about 0.2 ms (building the keyword search).
//!
//! A redaction names its kind (`[REDACTED:github_token]`) so a reader knows something was
//! there. Redacting a redacted text changes nothing.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

// The built-in rules, `RULES` and `KEYWORDS`: `redact_rules.toml` as lib/build.rs turned it
// into Rust (see the file's header for what a rule is).
include!(concat!(env!("OUT_DIR"), "/redact_rules.rs"));

/// What a user pattern's redactions are called.
pub const USER_KIND: &str = "user_pattern";

const MARKER: &str = "[REDACTED:";

/// A compiled regex may take this much memory; a user pattern over it is refused.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

struct Rule {
    kind: Cow<'static, str>,
    pattern: Cow<'static, str>,
    re: OnceLock<Option<Regex>>,
    /// A found text that matches this is not a secret (`$TOKEN`, `self.password`).
    allow: Option<(&'static str, OnceLock<Option<Regex>>)>,
}

impl Rule {
    fn new(
        kind: Cow<'static, str>,
        pattern: Cow<'static, str>,
        allow: Option<&'static str>,
    ) -> Rule {
        Rule {
            kind,
            pattern,
            re: OnceLock::new(),
            allow: allow.map(|a| (a, OnceLock::new())),
        }
    }

    fn regex(&self) -> Option<&Regex> {
        self.re.get_or_init(|| compile(&self.pattern).ok()).as_ref()
    }

    fn allows(&self, found: &str) -> bool {
        self.allow.as_ref().is_some_and(|(p, re)| {
            re.get_or_init(|| compile(p).ok())
                .as_ref()
                .is_some_and(|re| re.is_match(found))
        })
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&ascii_word_boundaries(pattern))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

/// `\b` and `\B` as ASCII word boundaries. A Unicode word boundary stops the regex crate's
/// fast (lazy DFA) search at the first non-ASCII byte, and the slow one it falls back to
/// made redaction most of a recall's time on text with any CJK or accented letter in it.
/// For a secret the ASCII boundary is the right one anyway: `é` or `中` next to a token
/// ends it.
fn ascii_word_boundaries(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains("\\b") && !pattern.contains("\\B") {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(b @ ('b' | 'B')) => {
                out.push_str("(?-u:\\");
                out.push(b);
                out.push(')');
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

struct Builtin {
    rules: Vec<Rule>,
    /// The keywords, for short texts: an NFA, quick to build (a hook redacts only a few
    /// short fields, and builds nothing more).
    keywords: AhoCorasick,
    /// The same for longer texts: a DFA, slower to build (~0.4 ms) but about 2.5 times
    /// faster to search, since with this many case-insensitive keywords no prefilter applies.
    keywords_dfa: OnceLock<AhoCorasick>,
}

fn builtin() -> &'static Builtin {
    static CELL: OnceLock<Builtin> = OnceLock::new();
    CELL.get_or_init(|| Builtin {
        rules: RULES
            .iter()
            .map(|(id, re, allow)| Rule::new(Cow::Borrowed(id), Cow::Borrowed(re), *allow))
            .collect(),
        keywords: keyword_searcher(AhoCorasickKind::NoncontiguousNFA),
        keywords_dfa: OnceLock::new(),
    })
}

fn keyword_searcher(kind: AhoCorasickKind) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(kind))
        .build(KEYWORDS.iter().map(|(w, _)| w))
        .expect("redaction keywords build")
}

/// From this many bytes on, a text is searched with the DFA.
const LONG_TEXT: usize = 256;

type Source = Box<dyn Fn() -> Vec<String> + Send + Sync>;
static USER_SOURCE: OnceLock<Source> = OnceLock::new();
static USER_RULES: OnceLock<Vec<Rule>> = OnceLock::new();

/// Registers where this process's user patterns come from (config.toml's `[redact]
/// patterns`). Called once by the CLI when it knows the state directory; the first call
/// wins, and `source` runs when the first text is redacted. A pattern that does not compile
/// is skipped (the source is where to warn about it: see [`check_pattern`]).
pub fn set_user_patterns_source(source: impl Fn() -> Vec<String> + Send + Sync + 'static) {
    let _ = USER_SOURCE.set(Box::new(source));
}

fn user_rules() -> &'static [Rule] {
    USER_RULES.get_or_init(|| {
        let patterns = USER_SOURCE.get().map(|f| f()).unwrap_or_default();
        patterns
            .into_iter()
            .filter(|p| check_pattern(p).is_ok())
            .map(|p| Rule::new(Cow::Borrowed(USER_KIND), Cow::Owned(p), None))
            .collect()
    })
}

/// Whether `pattern` can be a user pattern: a regex (Rust `regex` syntax, which is RE2's)
/// that compiles within the size limit and cannot match an empty text. The error is one
/// line.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let re = compile(pattern).map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => "the pattern is too large".to_string(),
        e => e
            .to_string()
            .lines()
            .last()
            .unwrap_or("not a regular expression")
            .trim()
            .trim_start_matches("error: ")
            .to_string(),
    })?;
    if re.is_match("") {
        return Err("the pattern matches an empty text".into());
    }
    Ok(())
}

/// One secret found in a text: its byte range and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub range: Range<usize>,
    pub kind: &'static str,
}

/// Every secret in `text`, in order, ranges not overlapping (overlapping finds are merged,
/// keeping the first one's kind). Text already redacted is not found again.
pub fn find(text: &str) -> Vec<Found> {
    let mut found = scan(text);
    found.extend(wrapped(text));
    normalize(text, found)
}

/// Runs every rule that can match `text` (by keyword) plus the user's patterns.
fn scan(text: &str) -> Vec<Found> {
    let b = builtin();
    let mut wanted = vec![false; b.rules.len()];
    let mut any = false;
    // Leftmost-longest with a restart one byte after each match start finds every position
    // where a keyword starts (faster than an overlapping search, which has no prefilter).
    let searcher = if text.len() < LONG_TEXT {
        &b.keywords
    } else {
        b.keywords_dfa
            .get_or_init(|| keyword_searcher(AhoCorasickKind::DFA))
    };
    let mut at = 0;
    while let Some(m) = searcher.find(aho_corasick::Input::new(text).range(at..)) {
        for &r in KEYWORDS[m.pattern().as_usize()].1 {
            wanted[r] = true;
            any = true;
        }
        at = m.start() + 1;
    }
    let user = user_rules();
    let mut out = Vec::new();
    if !any && user.is_empty() {
        return out;
    }
    let chosen = b
        .rules
        .iter()
        .zip(&wanted)
        .filter(|(_, w)| **w)
        .map(|(r, _)| r)
        .chain(user);
    for rule in chosen {
        let Some(re) = rule.regex() else { continue };
        let mut keep = |m: regex::Match<'_>| {
            if !rule.allows(m.as_str()) {
                out.push(Found {
                    range: m.range(),
                    kind: &rule.kind,
                });
            }
        };
        if re.captures_len() == 1 {
            re.find_iter(text).for_each(&mut keep);
            continue;
        }
        for caps in re.captures_iter(text) {
            let mut groups = caps.iter().skip(1).flatten().peekable();
            if groups.peek().is_none() {
                caps.get(0).into_iter().for_each(&mut keep);
            }
            groups.for_each(&mut keep);
        }
    }
    out
}

/// Bytes that can be part of a token, a key or base64 (`=` only as padding at the end).
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'.')
}

/// Whether a line can be the continuation of a wrapped key: token bytes only, then at most
/// two `=`.
fn continuation(line: &[u8]) -> bool {
    let body = line.len()
        - line
            .iter()
            .rev()
            .take(2)
            .take_while(|&&b| b == b'=')
            .count();
    body > 0 && line[..body].iter().all(|&b| token_byte(b))
}

/// A wrapped key is looked for within this many bytes (its pieces joined).
const MAX_WRAPPED: usize = 1024;

/// The line `[start, end)` without its `\r`, and where the next line starts (if any).
fn line_at(bytes: &[u8], start: usize) -> (usize, Option<usize>) {
    let nl = memchr(bytes, b'\n', start);
    let mut end = nl.unwrap_or(bytes.len());
    if end > start && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    (end, nl.map(|n| n + 1))
}

/// Secrets that line breaks split: a long token wrapped by a terminal or an editor
/// (`ghp_0123456789` / `abcdefghijABCDEF`). Where a line ends in token bytes and the lines
/// after it are nothing but token bytes, the rules run once more on the pieces joined (with
/// up to 256 bytes of the first line, where a `password=` or a `curl -u` sits); a find
/// that crosses a break is mapped back and hides the pieces and the breaks between them.
fn wrapped(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut line_start = 0;
    while let (end, Some(next)) = line_at(bytes, line_start) {
        if end == line_start || !(token_byte(bytes[end - 1]) || bytes[end - 1] == b'=') {
            line_start = next;
            continue;
        }
        let mut from = end.saturating_sub(256).max(line_start);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        // Pieces as byte ranges of `text`; the first is the end of the head line.
        let mut pieces: Vec<Range<usize>> = Vec::with_capacity(4);
        pieces.push(from..end);
        let mut total = end - from;
        let mut at_line = next;
        loop {
            let (e, after) = line_at(bytes, at_line);
            if total + (e - at_line) > MAX_WRAPPED || !continuation(&bytes[at_line..e]) {
                break;
            }
            pieces.push(at_line..e);
            total += e - at_line;
            match after {
                Some(a) => at_line = a,
                None => break,
            }
        }
        if pieces.len() > 1 {
            let joined: String = pieces.iter().map(|r| &text[r.clone()]).collect();
            // Where each piece starts in `joined`.
            let mut at = Vec::with_capacity(pieces.len());
            let mut n = 0;
            for r in &pieces {
                at.push(n);
                n += r.len();
            }
            let piece_of = |p: usize| at.partition_point(|&s| s <= p) - 1;
            for f in scan(&joined).into_iter().filter(|f| !f.range.is_empty()) {
                let (i, j) = (piece_of(f.range.start), piece_of(f.range.end - 1));
                if i != j {
                    out.push(Found {
                        range: pieces[i].start + (f.range.start - at[i])
                            ..pieces[j].start + (f.range.end - at[j]),
                        kind: f.kind,
                    });
                }
            }
        }
        // Every line is a head in turn: a key can start on a line that continues another.
        line_start = next;
    }
    out
}

fn memchr(bytes: &[u8], needle: u8, from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b == needle)
        .map(|i| from + i)
}

/// Sorts, drops finds that are (or start inside) an earlier redaction, and merges overlaps.
fn normalize(text: &str, mut found: Vec<Found>) -> Vec<Found> {
    let markers: Vec<Range<usize>> = if text.contains(MARKER) {
        text.match_indices(MARKER)
            .filter_map(|(i, _)| text[i..].find(']').map(|j| i..i + j + 1))
            .collect()
    } else {
        Vec::new()
    };
    found.retain(|f| {
        !f.range.is_empty()
            && !text[f.range.clone()].starts_with(MARKER)
            && !markers
                .iter()
                .any(|m| m.start < f.range.start && f.range.start < m.end)
    });
    found.sort_by(|a, b| {
        a.range
            .start
            .cmp(&b.range.start)
            .then(b.range.end.cmp(&a.range.end))
    });
    let mut out: Vec<Found> = Vec::with_capacity(found.len());
    for f in found {
        match out.last_mut() {
            Some(last) if f.range.start < last.range.end => {
                last.range.end = last.range.end.max(f.range.end);
            }
            _ => out.push(f),
        }
    }
    out
}

/// Returns `text` with every secret replaced by `[REDACTED:<kind>]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let found = find(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len());
    let mut last = 0;
    for f in found {
        s.push_str(&text[last..f.range.start]);
        s.push_str(MARKER);
        s.push_str(f.kind);
        s.push(']');
        last = f.range.end;
    }
    s.push_str(&text[last..]);
    Cow::Owned(s)
}

/// Redacts in place, allocating only when something was found.
pub fn redact_string(text: &mut String) {
    if let Cow::Owned(s) = redact(text) {
        *text = s;
    }
}

/// The kinds of the built-in rules, each once, in file order (for documentation and tests).
pub fn builtin_kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = Vec::new();
    for r in &builtin().rules {
        if !kinds.contains(&&*r.kind) {
            kinds.push(&r.kind);
        }
    }
    kinds
}

#[cfg(test)]
pub(crate) mod tests;
