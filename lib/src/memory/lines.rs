//! Memory lines as text: which lines of a MEMORY.md are memory, when two lines say the same
//! thing (a duplicate), and when they are about the same thing (the newer one wins). Pure and
//! deterministic; used by the builtin provider, csep-verify's quality checks, the budget fit
//! and `csep memory`.
//!
//! Two lines are **duplicates** when their normalized text is equal, or when their word sets
//! are at least [`NEAR_DUPLICATE`] alike (Dice), they forbid or allow alike, and they do not
//! each name something the other does not (`cargo fmt` vs `cargo clippy`, Node 20 vs 22):
//! a reworded repeat, not a second fact.
//!
//! Two lines have the **same subject** when they name the same version of a runtime (`Node
//! 20` / `Node 22`); or the same command, tool or path (a tool counts only when the lines do
//! not name two different subcommands of it: `make migrate` is not `make openapi`) and either
//! the same topic (test, build, lint, …) or no topic on one side; or the same first topic with
//! tools of one ecosystem on both sides (`npm test` / `pnpm test -- --run`, `cargo nextest
//! run` / `cargo test`, but not `cargo test` / `pnpm test`). Lines naming no tool, command,
//! path or version are never the same subject unless they are duplicates: a newer rule
//! replaces an older one only when what they are about is unmistakable.

use std::collections::BTreeSet;

mod subject;

use subject::TOOLS;
pub use subject::{subject, Subject};

/// How alike two lines' word sets must be (Dice coefficient) to be one fact said twice.
pub const NEAR_DUPLICATE: f64 = 0.8;

/// One memory line of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// 1-based line number in the file.
    pub line_no: usize,
    /// The line as written (no line end).
    pub raw: &'a str,
    /// The line without its list marker and surrounding spaces.
    pub body: &'a str,
}

/// The memory lines of a MEMORY.md: every non-blank line that is not a heading, a code
/// fence (or inside one), or an HTML comment.
pub fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            continue;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with("<!--") {
            continue;
        }
        let body = strip_marker(t);
        if body.is_empty() {
            continue;
        }
        out.push(Entry {
            line_no: i + 1,
            raw,
            body,
        });
    }
    out
}

/// `t` without a leading list marker (`- `, `* `, `+ `, `1. `, `1) `) or task box.
fn strip_marker(t: &str) -> &str {
    let mut s = t;
    for m in ["- ", "* ", "+ "] {
        if let Some(r) = s.strip_prefix(m) {
            s = r;
            break;
        }
    }
    if s.len() == t.len() {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && digits < 4 {
            let rest = &s[digits..];
            if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
                s = r;
            }
        }
    }
    for b in ["[ ] ", "[x] ", "[X] "] {
        if let Some(r) = s.strip_prefix(b) {
            s = r;
        }
    }
    s.trim()
}

/// The comparable form of a line: lowercase, no list marker, no emphasis or backticks,
/// typographic quotes folded, trailing punctuation dropped, whitespace collapsed.
pub fn normalize(s: &str) -> String {
    let body = strip_marker(s.trim());
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len());
    let mut space = false;
    for (i, &c) in chars.iter().enumerate() {
        let c = match c {
            '*' | '`' => continue,
            '‘' | '’' | '\'' => {
                // An apostrophe inside a word is text ("don't"); a quote around one is not.
                let prev = i.checked_sub(1).map(|j| chars[j]);
                let next = chars.get(i + 1).copied();
                if prev.is_some_and(char::is_alphabetic) && next.is_some_and(char::is_alphabetic) {
                    '\''
                } else {
                    continue;
                }
            }
            '“' | '”' | '„' => '"',
            c => c,
        };
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out.trim_end_matches(['.', '。', '!', '！', ';', '；', ':', '：', ',', '，', ' '])
        .to_string()
}

/// Function words and the verbs a rule is phrased with: words that do not make one fact
/// another when only they differ.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "to",
    "of",
    "for",
    "in",
    "on",
    "with",
    "and",
    "or",
    "is",
    "are",
    "be",
    "it",
    "its",
    "this",
    "that",
    "these",
    "we",
    "you",
    "i",
    "me",
    "my",
    "our",
    "your",
    "by",
    "at",
    "as",
    "so",
    "please",
    "run",
    "use",
    "using",
    "used",
    "make",
    "sure",
    "do",
    "should",
    "must",
    "need",
    "always",
    "every",
    "time",
    "each",
    "just",
    "also",
    "here",
    "repo",
    "repository",
    "project",
    "now",
    "then",
    "when",
    "via",
    "from",
    "all",
    "any",
    "can",
    "will",
    "remember",
    "note",
    "that's",
    "it's",
    "we're",
    "you're",
    "let's",
    "via",
    "on",
    "instead",
    "prefer",
    "preferred",
    "rule",
    "rules",
    "going",
    "forward",
    "from now on",
];

fn stem(w: &str) -> String {
    let n = w.chars().count();
    if n > 3 && w.ends_with('s') && !w.ends_with("ss") && w.chars().all(char::is_alphabetic) {
        w[..w.len() - 1].to_string()
    } else {
        w.to_string()
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

/// The words of a normalized line: Latin words (stemmed), CJK text as character bigrams.
fn words(norm: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in norm.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | ';'
                    | '('
                    | ')'
                    | '"'
                    | '!'
                    | '?'
                    | '，'
                    | '。'
                    | '；'
                    | '：'
                    | '、'
                    | '（'
                    | '）'
                    | '！'
                    | '？'
            )
    }) {
        let w = raw.trim_matches(|c: char| matches!(c, '.' | ':' | '\'' | '[' | ']'));
        if w.is_empty() {
            continue;
        }
        let mut latin = String::new();
        let mut cjk: Vec<char> = Vec::new();
        let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
            match cjk.len() {
                0 => {}
                1 => out.push(cjk[0].to_string()),
                _ => {
                    for p in cjk.windows(2) {
                        out.push(p.iter().collect());
                    }
                }
            }
            cjk.clear();
        };
        for c in w.chars() {
            if is_cjk(c) {
                if !latin.is_empty() {
                    out.push(stem(&latin));
                    latin.clear();
                }
                cjk.push(c);
            } else {
                flush_cjk(&mut cjk, &mut out);
                latin.push(c);
            }
        }
        flush_cjk(&mut cjk, &mut out);
        if !latin.is_empty() {
            out.push(stem(&latin));
        }
    }
    out
}

/// The words that carry a line's meaning: no filler, no punctuation-only tokens. A line of
/// filler alone keeps all its words.
fn word_set(s: &str) -> BTreeSet<String> {
    let all: BTreeSet<String> = words(&normalize(s))
        .into_iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let content: BTreeSet<String> = all
        .iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .cloned()
        .collect();
    if content.is_empty() {
        all
    } else {
        content
    }
}

fn dice(x: &BTreeSet<String>, y: &BTreeSet<String>) -> f64 {
    if x.is_empty() && y.is_empty() {
        return 1.0;
    }
    2.0 * x.intersection(y).count() as f64 / (x.len() + y.len()) as f64
}

/// How alike two lines are: the Dice coefficient of their meaningful word sets (0 to 1).
pub fn similarity(a: &str, b: &str) -> f64 {
    dice(&word_set(a), &word_set(b))
}

/// Whether `a` and `b` are one fact said twice (see the module doc).
pub fn is_duplicate(a: &str, b: &str) -> bool {
    let (na, nb) = (normalize(a), normalize(b));
    if na == nb {
        return true;
    }
    if na.is_empty() || nb.is_empty() || negative(a) != negative(b) {
        return false;
    }
    let (x, y) = (word_set(a), word_set(b));
    if dice(&x, &y) < NEAR_DUPLICATE {
        return false;
    }
    // Each naming a different command, tool, version or path: two facts sharing most words.
    let technical = |w: &String| {
        w.chars()
            .any(|c| c.is_ascii_digit() || matches!(c, '-' | '_' | '/' | '.'))
            || TOOLS.contains(&w.as_str())
    };
    let (only_x, only_y): (Vec<&String>, Vec<&String>) =
        (x.difference(&y).collect(), y.difference(&x).collect());
    only_x.is_empty() || only_y.is_empty() || !only_x.iter().chain(&only_y).any(|w| technical(w))
}

/// Prohibitions, as whole words (Latin) or as written (Chinese).
const NEGATIVE_WORDS: &[&str] = &[
    "never",
    "don't",
    "dont",
    "do not",
    "does not",
    "doesn't",
    "must not",
    "mustn't",
    "should not",
    "shouldn't",
    "no longer",
    "avoid",
    "stop",
    "not allowed",
    "forbidden",
];
const NEGATIVE_CJK: &[&str] = &[
    "不要", "别", "不能", "禁止", "切勿", "不准", "勿", "不许", "不再",
];

/// Whether the line forbids something (never, don't, do not, avoid, 不要, 别 …).
pub fn negative(s: &str) -> bool {
    let n = normalize(s);
    if NEGATIVE_CJK.iter().any(|w| n.contains(w)) {
        return true;
    }
    let padded = format!(
        " {} ",
        n.chars()
            .map(|c| if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            })
            .collect::<String>()
    );
    NEGATIVE_WORDS
        .iter()
        .any(|w| padded.contains(&format!(" {w} ")))
}

#[cfg(test)]
mod tests;
