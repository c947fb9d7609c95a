//! The builtin provider (`backend = "builtin"`): reflection without a model. Deterministic
//! and fast; it keeps what the user explicitly asked to be kept, and nothing else.
//!
//! [`directives`] finds explicit directives in what the human typed: `remember …`, `always
//! …`, `never …`, `don't …`, `from now on …`, `every time …`, `ask before …`, `prefer …`,
//! `use X instead of Y`; 记住 / 以后 / 不要 / 别再 / 一律 / 总是 / 每次 / 优先 … — at the start
//! of a sentence (after `please`, `you should`, `ok,` and the like), never in a question ("can
//! you remember what we did?") or a description ("the test always fails on CI"). Tool output
//! and assistant text are never read: memory comes from the user.
//!
//! [`propose`] turns them into a proposal like a model's (`proposal/memory/MEMORY.md`, and
//! `refs/archive.md` when lines had to move out, and `draft.json`), which csep-verify then
//! checks and applies like any other: a restated directive confirms the existing line instead
//! of adding one; a newer directive about the same subject (`lines::Subject`) replaces the
//! older lines, pinned ones excepted; memory stays within its budget (`memory::fit`).

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::memory::fit::{archive_note, fit};
use crate::memory::ledger::Ledger;
use crate::memory::lines::{entries, is_duplicate, subject};
use serde_json::json;
use std::path::Path;

/// One explicit directive in a user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The message it was said in.
    pub message_id: i64,
    /// The word that made it a directive (`remember`, `always`, `不要`, …).
    pub keyword: String,
    /// The sentence as the user said it.
    pub said: String,
    /// The memory line csep writes for it (`- Always run …`).
    pub line: String,
}

/// Longest sentence taken as a directive, in characters: longer text is a paste, not a rule.
const MAX_SENTENCE: usize = 300;

/// Words before a directive word that keep it a directive (`please always`, `you should
/// never`, `ok, from now on`).
const LEAD_INS: &[&str] = &[
    "ok",
    "okay",
    "also",
    "and",
    "so",
    "btw",
    "fyi",
    "oh",
    "hey",
    "hi",
    "thanks",
    "great",
    "good",
    "cool",
    "yes",
    "yeah",
    "no",
    "nope",
    "actually",
    "important",
    "please",
    "again",
    "one more thing",
    "note",
    "but",
    "then",
    "just",
    "alright",
    "right",
    "wait",
];
const SUBJECTS: &[&str] = &["you", "we", "i"];
const MODALS: &[&str] = &[
    "should", "must", "will", "'ll", "need to", "have to", "shall", "always", "really",
];

/// A question, not a request: ends with a question mark, or opens like one.
fn is_question(l: &str) -> bool {
    let t = l.trim_end();
    if t.ends_with('?') || t.ends_with('？') {
        return true;
    }
    let t = t.trim_end_matches(['。', '.', '!', '！']);
    if t.ends_with('吗') || t.ends_with('呢') || t.ends_with('么') {
        return true;
    }
    const OPENERS: &[&str] = &[
        "can ",
        "could ",
        "would ",
        "will ",
        "do you",
        "does ",
        "did ",
        "is ",
        "are ",
        "was ",
        "were ",
        "what ",
        "why ",
        "how ",
        "when ",
        "where ",
        "who ",
        "which ",
        "shall ",
        "have you",
        "has ",
        "should i ",
        "should we ",
        "do we ",
    ];
    OPENERS.iter().any(|o| l.starts_with(o))
}

/// Splits a message into sentences: by line, then after `.`, `!`, `?` and their CJK forms when a space or the end follows (never inside a code span). Fenced code, quoted
/// lines and indented code are skipped: they are pasted, not said.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence || t.starts_with('>') || line.starts_with("    ") || line.starts_with('\t') {
            continue;
        }
        let t = t
            .trim_start_matches(['-', '*', '+'])
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(['.', ')'])
            .trim();
        let chars: Vec<char> = t.chars().collect();
        let mut cur = String::new();
        let mut in_code = false;
        for (i, &c) in chars.iter().enumerate() {
            cur.push(c);
            if c == '`' {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            let next = chars.get(i + 1).copied();
            let ends = match c {
                '。' | '！' | '？' => true,
                '.' | '!' | '?' => next.is_none_or(char::is_whitespace),
                _ => false,
            };
            if ends {
                out.push(std::mem::take(&mut cur).trim().to_string());
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_string());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Strips lead-in words (`ok, please`) and returns the rest, byte offsets kept.
fn strip_lead_ins(s: &str) -> &str {
    let mut rest = s.trim_start();
    loop {
        let l = rest.to_ascii_lowercase();
        let mut moved = false;
        for w in LEAD_INS {
            if let Some(after) = l.strip_prefix(w) {
                if after.is_empty() || after.starts_with([' ', ',', ':', '!', '-', '—']) {
                    rest = rest[w.len()..]
                        .trim_start_matches([' ', ',', ':', '!', '-', '—'])
                        .trim_start_matches('—')
                        .trim_start();
                    moved = true;
                    break;
                }
            }
        }
        if !moved {
            return rest;
        }
    }
}

/// `s` without a leading `you should` / `we must` / `i`: the subject and modal before a
/// directive word.
fn strip_subject(s: &str) -> &str {
    let mut rest = s;
    let l = rest.to_ascii_lowercase();
    for w in SUBJECTS {
        if l.starts_with(w) && l[w.len()..].starts_with(' ') {
            rest = rest[w.len()..].trim_start();
            break;
        }
    }
    loop {
        let l = rest.to_ascii_lowercase();
        let Some(m) = MODALS
            .iter()
            .find(|m| l.starts_with(*m) && l[m.len()..].starts_with(' ') && **m != "always")
        else {
            return rest;
        };
        rest = rest[m.len()..].trim_start();
    }
}

/// Whole-word prefix match, ASCII case-insensitive; the rest after it.
fn after_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let l = s.to_ascii_lowercase();
    let l = l.replace('’', "'");
    if !l.starts_with(word) {
        return None;
    }
    // `’` is three bytes where `'` is one: find the same point in `s`.
    let mut end = word.len();
    if s.contains('’') {
        let mut count = 0;
        end = s
            .char_indices()
            .find(|(_, _)| {
                count += 1;
                count > word.chars().count()
            })
            .map_or(s.len(), |(i, _)| i);
    }
    let rest = &s[end..];
    if rest.is_empty() || rest.starts_with(|c: char| !c.is_alphanumeric() && c != '\'') {
        Some(rest)
    } else {
        None
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The memory line for `content`: a list item, first letter capitalized, ending in a stop.
fn to_line(content: &str) -> String {
    let t = content
        .trim()
        .trim_start_matches([':', ',', '-', '—', ' ', '：', '，'])
        .trim_end_matches([',', ';', ':', '，', '；', '：', ' '])
        .trim();
    let mut line = format!("- {}", capitalize(t));
    let last = line.chars().last().unwrap_or(' ');
    if !matches!(last, '.' | '!' | '。' | '！' | ')' | '"') {
        let cjk = last as u32 >= 0x2e80;
        line.push(if cjk { '。' } else { '.' });
    }
    line
}

/// English: the keyword and the memory line's content, if `s` (lead-ins stripped) is one.
fn english(s: &str) -> Option<(&'static str, String)> {
    let l = s.to_ascii_lowercase().replace('’', "'");
    // `remember` and its kin: the rest is the fact.
    for (w, kw) in [
        ("remember", "remember"),
        ("don't forget", "remember"),
        ("do not forget", "remember"),
        ("keep in mind", "remember"),
        ("for future reference", "remember"),
        ("note for the future", "remember"),
    ] {
        if let Some(rest) = after_word(s, w) {
            let rest = rest.trim_start_matches([':', ',', '-', '—', ' ']);
            let rl = rest.to_ascii_lowercase();
            const NOT_A_FACT: &[&str] = &[
                "what",
                "when",
                "how",
                "why",
                "where",
                "who",
                "which",
                "if ",
                "whether",
                "the time",
                "yesterday",
                "last time",
                "me ",
                "us ",
            ];
            if rest.trim().is_empty() || NOT_A_FACT.iter().any(|n| rl.starts_with(n)) {
                return None;
            }
            let rest = rest
                .strip_prefix("that ")
                .or_else(|| rest.strip_prefix("this: "))
                .or_else(|| rest.strip_prefix("to "))
                .unwrap_or(rest);
            return Some((kw, rest.to_string()));
        }
    }
    for (w, kw) in [
        ("from now on", "from now on"),
        ("going forward", "from now on"),
        ("from here on", "from now on"),
        ("in the future", "from now on"),
        ("in future", "from now on"),
        ("henceforth", "from now on"),
    ] {
        if let Some(rest) = after_word(s, w) {
            let rest = strip_subject(rest.trim_start_matches([',', ':', ' ', '—', '-']));
            return (!rest.trim().is_empty()).then(|| (kw, rest.to_string()));
        }
    }
    if let Some(rest) = after_word(s, "every time").or_else(|| after_word(s, "each time")) {
        return (!rest.trim().is_empty()).then(|| ("every time", format!("Every time{rest}")));
    }
    if let Some(rest) = after_word(s, "whenever") {
        return (!rest.trim().is_empty()).then(|| ("every time", format!("Whenever{rest}")));
    }
    let core = strip_subject(s);
    let cl = core.to_ascii_lowercase().replace('’', "'");
    for (w, kw, lead) in [
        ("always", "always", "Always"),
        ("never", "never", "Never"),
        ("don't", "don't", "Don't"),
        ("dont", "don't", "Don't"),
        ("do not", "don't", "Don't"),
        ("shouldn't", "don't", "Don't"),
        ("should not", "don't", "Don't"),
        ("must not", "don't", "Don't"),
        ("mustn't", "don't", "Don't"),
        ("stop", "don't", "Stop"),
    ] {
        if let Some(rest) = after_word(core, w) {
            if rest.trim().is_empty() {
                return None;
            }
            // `stop` is a directive only as `stop doing X`.
            if w == "stop"
                && !rest
                    .split_whitespace()
                    .next()
                    .is_some_and(|x| x.to_ascii_lowercase().ends_with("ing"))
            {
                return None;
            }
            return Some((kw, format!("{lead}{rest}")));
        }
    }
    if let Some(rest) = after_word(core, "ask")
        .map(|r| r.trim_start())
        .and_then(|r| after_word(r, "me").map(str::trim_start).or(Some(r)))
        .and_then(|r| after_word(r, "before"))
    {
        return (!rest.trim().is_empty()).then(|| ("ask before", format!("Ask before{rest}")));
    }
    if let Some(rest) = after_word(core, "check with me before") {
        return (!rest.trim().is_empty()).then(|| ("ask before", format!("Ask before{rest}")));
    }
    for w in ["prefer", "'d prefer", "would prefer"] {
        if let Some(rest) = after_word(core, w) {
            let rest = rest.trim_start();
            if rest.is_empty() {
                return None;
            }
            return Some(("prefer", format!("Prefer {rest}")));
        }
    }
    let _ = &l;
    // `use X instead of Y`, `use X, not Y`, `use X rather than Y`: a correction.
    if after_word(&cl, "use").is_some()
        && [
            " instead of ",
            ", not ",
            " not ",
            " rather than ",
            " instead",
        ]
        .iter()
        .any(|m| cl.contains(m))
    {
        return Some(("instead", core.to_string()));
    }
    None
}

/// Chinese: the keyword and the content, if `s` is one.
fn chinese(s: &str) -> Option<(&'static str, String)> {
    let mut t = s.trim();
    for p in [
        "请", "麻烦", "另外", "还有", "对了", "注意", "好的", "好", "嗯", "记得",
    ] {
        if let Some(r) = t.strip_prefix(p) {
            // `记得` opens a request to remember only before a fact, not `记得吗`.
            t = r.trim_start_matches(['，', ',', '：', ':', ' ']);
            if p == "记得" {
                return (!t.is_empty()).then(|| ("记住", t.to_string()));
            }
        }
    }
    if let Some(r) = t.strip_prefix("记住") {
        let r = r.trim_start_matches(['，', ',', '：', ':', ' ', '了']);
        return (!r.is_empty()).then(|| ("记住", r.to_string()));
    }
    let core = ["你", "我们", "咱们"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t);
    for (w, kw) in [
        ("以后", "以后"),
        ("今后", "以后"),
        ("从现在起", "以后"),
        ("从现在开始", "以后"),
        ("从今以后", "以后"),
        ("往后", "以后"),
        ("不要", "不要"),
        ("别再", "别再"),
        ("不许", "不要"),
        ("禁止", "不要"),
        ("永远不要", "不要"),
        ("千万不要", "不要"),
        ("别", "别再"),
        ("一律", "一律"),
        ("总是", "总是"),
        ("每次", "每次"),
        ("始终", "总是"),
        ("务必", "总是"),
        ("优先", "优先"),
        ("先问我", "ask before"),
    ] {
        if let Some(rest) = core.strip_prefix(w) {
            if rest.trim().is_empty() {
                return None;
            }
            return Some((kw, core.to_string()));
        }
    }
    None
}

/// The explicit directives in one user message (see the module doc), in order.
pub fn directives(message_id: i64, text: &str) -> Vec<Directive> {
    let mut out: Vec<Directive> = Vec::new();
    for said in sentences(text) {
        if said.chars().count() > MAX_SENTENCE {
            continue;
        }
        let s = strip_lead_ins(&said);
        let l = s.to_ascii_lowercase().replace('’', "'");
        let negated_do = l.starts_with("do not ") || l.starts_with("don't ");
        if is_question(&said.to_ascii_lowercase()) && !negated_do {
            continue;
        }
        let found = if s.chars().next().is_some_and(|c| c as u32 >= 0x2e80) {
            chinese(s)
        } else {
            english(s)
        };
        let Some((keyword, content)) = found else {
            continue;
        };
        let line = to_line(&content);
        if !acceptable(&line) || out.iter().any(|d| is_duplicate(&d.line, &line)) {
            continue;
        }
        out.push(Directive {
            message_id,
            keyword: keyword.to_string(),
            said: said.clone(),
            line,
        });
    }
    out
}

/// A line the verifier would refuse (a secret, remote code, exfiltration, injection
/// phrasing, a control or bidi character) or too short to mean anything is not proposed:
/// one bad sentence must not sink the whole proposal.
fn acceptable(line: &str) -> bool {
    use crate::verify::{exfiltration, prompt_injection, remote_code};
    line.chars().filter(|c| c.is_alphanumeric()).count() >= 4
        && crate::redact::find(line).is_empty()
        && !line.chars().any(crate::text::is_unsafe)
        && !remote_code(line)
        && !exfiltration(line)
        && !prompt_injection(line)
}

/// What [`propose`] did, for the draft and the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proposed {
    /// Lines added.
    pub added: Vec<String>,
    /// Existing lines a directive restated (confirmed, not added again).
    pub confirmed: Vec<String>,
    /// Older lines a newer directive about the same subject replaced.
    pub replaced: Vec<String>,
    /// Lines moved to refs/archive.md to stay within the budget.
    pub archived: Vec<String>,
}

/// The heading builtin lines go under.
pub const RULES_HEADING: &str = "## Rules and preferences";

/// Applies `directives` to `live` (the MEMORY.md text, `None` when there is none): returns
/// the new text (unchanged when nothing is new) and what happened. Pure.
pub fn merge(live: Option<&str>, directives: &[Directive], ledger: &Ledger) -> (String, Proposed) {
    let mut text = live.unwrap_or("").to_string();
    let mut done = Proposed::default();
    for d in directives {
        let es = entries(&text);
        if let Some(e) = es.iter().find(|e| is_duplicate(e.body, &d.line)) {
            done.confirmed.push(e.raw.trim().to_string());
            continue;
        }
        let subj = subject(&d.line);
        let stale: Vec<usize> = es
            .iter()
            .filter(|e| !ledger.is_pinned(e.body) && subject(e.body).same_as(&subj))
            .map(|e| e.line_no)
            .collect();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for n in stale.iter().rev() {
            done.replaced.push(lines[n - 1].trim().to_string());
            lines.remove(n - 1);
        }
        done.added.retain(|a| !done.replaced.contains(a));
        // After the last line of the rules section, or a new section at the end.
        match lines.iter().position(|l| l.trim() == RULES_HEADING) {
            Some(h) => {
                let end = lines[h + 1..]
                    .iter()
                    .position(|l| l.starts_with("# ") || l.starts_with("## "))
                    .map_or(lines.len(), |i| h + 1 + i);
                let mut at = end;
                while at > h + 1 && lines[at - 1].trim().is_empty() {
                    at -= 1;
                }
                if at == h + 1 {
                    lines.insert(at, String::new());
                    at += 1;
                }
                lines.insert(at, d.line.clone());
            }
            None => {
                while lines.last().is_some_and(|l| l.trim().is_empty()) {
                    lines.pop();
                }
                if lines.is_empty() {
                    lines.push("# Repository memory".into());
                }
                lines.push(String::new());
                lines.push(RULES_HEADING.into());
                lines.push(String::new());
                lines.push(d.line.clone());
            }
        }
        done.added.push(d.line.clone());
        text = lines.join("\n");
        text.push('\n');
    }
    if done.added.is_empty() && done.replaced.is_empty() {
        return (live.unwrap_or("").to_string(), done);
    }
    (text, done)
}

/// The builtin provider's run: reads what the user typed in the job's window from the index,
/// writes the proposal and `draft.json` into `run` (the verifier does the rest). `budget` is
/// MEMORY.md's character budget.
pub fn propose(
    state_dir: &Path,
    run: &Path,
    job: &crate::trigger::Job,
    bucket: &Path,
    budget: u64,
) -> Result<Proposed> {
    let upto = if job.watermark_message_id > job.since_message_id {
        job.watermark_message_id
    } else {
        i64::MAX
    };
    // What the human typed in the window: the worker's own window, user text only.
    let messages: Vec<(i64, String)> =
        crate::index::db::read(&crate::paths::index_db(state_dir), |conn| match conn {
            Some(c) => {
                crate::index::window::review_window(c, &job.session_id, job.since_message_id, upto)
            }
            None => Ok(None),
        })?
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.role == "user" && m.tool.is_none())
        .map(|m| (m.id, m.text))
        .collect();
    let found: Vec<Directive> = if job.scopes.contains(&crate::trigger::Scope::Memory) {
        messages
            .iter()
            .flat_map(|(id, text)| directives(*id, text))
            .collect()
    } else {
        Vec::new()
    };
    let live_path = crate::memory::memory_file(bucket);
    let live = std::fs::read(&live_path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let ledger = Ledger::load(bucket);
    let (text, mut done) = merge(live.as_deref(), &found, &ledger);
    let mut changes = Vec::new();
    if !done.added.is_empty() || !done.replaced.is_empty() {
        let fitted = fit(&text, budget, &ledger, live.as_deref().or(Some("")));
        let proposal = run.join("proposal").join("memory");
        write_atomic(&proposal.join("MEMORY.md"), fitted.memory.as_bytes())?;
        changes.push(json!({
            "path": "memory/MEMORY.md",
            "action": if live.is_some() { "update" } else { "create" },
            "summary": summary(&done),
        }));
        if !fitted.archived.is_empty() {
            let archive = bucket.join("memory").join("refs").join("archive.md");
            let existing = std::fs::read(&archive)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let at = crate::timefmt::format_iso_ms(crate::timefmt::now_ms());
            let note = archive_note(existing.as_deref(), &fitted.archived, &at);
            write_atomic(&proposal.join("refs").join("archive.md"), note.as_bytes())?;
            changes.push(json!({
                "path": crate::memory::fit::ARCHIVE_REL,
                "action": if existing.is_some() { "update" } else { "create" },
                "summary": format!("{} lines moved out of MEMORY.md to stay within {budget} characters", fitted.archived.len()),
            }));
            done.archived = fitted.archived;
        }
    }
    let draft = json!({
        "status": if changes.is_empty() { "skipped" } else { "succeeded" },
        "memory_changes": changes,
        "skill_changes": [],
        "skipped_candidates": [],
        "confirmed": done.confirmed,
        "validation_notes": notes(&found, &done),
        "errors": [],
    });
    let mut bytes = serde_json::to_vec_pretty(&draft).map_err(|e| Error::input(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(&run.join("draft.json"), &bytes)?;
    Ok(done)
}

fn summary(done: &Proposed) -> String {
    let mut parts = vec![format!("{} directive(s) added", done.added.len())];
    if !done.replaced.is_empty() {
        parts.push(format!("{} older line(s) replaced", done.replaced.len()));
    }
    if !done.confirmed.is_empty() {
        parts.push(format!("{} confirmed", done.confirmed.len()));
    }
    parts.join(", ")
}

fn notes(found: &[Directive], done: &Proposed) -> Vec<String> {
    let mut out = vec![format!(
        "builtin: {} explicit directive(s) in the user's messages",
        found.len()
    )];
    out.extend(
        done.replaced
            .iter()
            .map(|l| format!("replaced by a newer directive: {l}")),
    );
    out.extend(
        done.confirmed
            .iter()
            .map(|l| format!("restated, kept once: {l}")),
    );
    out
}

#[cfg(test)]
mod tests;
