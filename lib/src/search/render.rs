//! Printing a recall: Markdown for a model to read, one JSON object, or JSON Lines (one
//! result per line, for `jq`). Everything printed was redacted when it was built.
//!
//! Transcript text is data, and the Markdown keeps it from posing as anything else: control
//! characters and terminal escapes are cleaned (`text::clean`), every header field stays on
//! its line, and a message's lines after its first are indented by two spaces, so a line that
//! starts at the margin (`[user] …`, `### 2. …`, `Window 2 matched: …`) is always csep's own.
//! JSON keeps the text as it is, escaped (`text::json_safe`). Each window ends with the
//! `csep show` command that reads the session on from it.

use super::recall::RecallOutput;
use super::show::read_on_command;
use crate::text::{clean, clean_line, json_safe};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    Jsonl,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "markdown" | "md" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

pub fn render(out: &RecallOutput, format: Format) -> String {
    match format {
        Format::Json => {
            let mut s =
                json_safe(&serde_json::to_string_pretty(out).unwrap_or_default()).into_owned();
            s.push('\n');
            s
        }
        Format::Jsonl => {
            let mut s = String::new();
            for r in &out.results {
                s.push_str(&json_safe(&serde_json::to_string(r).unwrap_or_default()));
                s.push('\n');
            }
            s
        }
        Format::Markdown => markdown(out),
    }
}

/// A field on one line: cleaned, whitespace runs (newlines too) as one space.
pub(crate) fn one_line(s: &str) -> String {
    clean(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A message's tag: `role` or `role:tool`, with no bracket that could close it early.
pub(crate) fn tag(role: &str, tool: Option<&str>) -> String {
    let t = match tool {
        Some(t) => format!("{role}:{t}"),
        None => role.to_string(),
    };
    clean_line(&t).replace('[', "(").replace(']', ")")
}

/// One message: `[tag] first line`, then every further line indented by two spaces (a
/// blank line stays blank), so no line of it starts at the margin.
pub(crate) fn push_message(s: &mut String, tag: &str, content: &str) {
    let content = clean(content.trim_end());
    let mut lines = content.split('\n');
    let _ = writeln!(s, "[{tag}] {}", lines.next().unwrap_or_default());
    for line in lines {
        if line.trim().is_empty() {
            s.push('\n');
        } else {
            let _ = writeln!(s, "  {line}");
        }
    }
}

fn markdown(out: &RecallOutput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Session recall");
    let _ = writeln!(s);
    let _ = writeln!(s, "Status: {}", clean_line(out.status));
    match &out.repo {
        Some(root) => {
            let _ = writeln!(s, "Scope: repo {}", clean_line(root));
        }
        None => {
            let _ = writeln!(s, "Scope: {}", clean_line(out.scope));
        }
    }
    let _ = writeln!(s, "Results: {}", out.count);
    let _ = writeln!(
        s,
        "Budget: {}/{} chars",
        out.budget.used_chars, out.budget.budget_chars
    );
    if !out.query.is_empty() {
        let _ = writeln!(s, "Query: {}", clean_line(&out.query));
    }
    if out.status == "no_index" {
        let _ = writeln!(s);
        let _ = writeln!(s, "No sessions are indexed yet. Run `csep recall bootstrap --all-history` to index past sessions.");
    }
    for (i, r) in out.results.iter().enumerate() {
        let when = r
            .updated_at
            .as_deref()
            .or(r.started_at.as_deref())
            .unwrap_or("unknown time");
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "### {}. {} session {} ({})",
            i + 1,
            clean_line(when),
            clean_line(&r.session_id),
            clean_line(&r.agent)
        );
        if let Some(t) = &r.title {
            let _ = writeln!(s, "Title: {}", one_line(t));
        }
        if !r.matched.is_empty() {
            let _ = writeln!(s, "Matched: {}", one_line(&r.matched));
        }
        if r.matched_in == "background" {
            let _ = writeln!(
                s,
                "Matched in: injected context only (environment, AGENTS.md, hook context)"
            );
        }
        for (label, v) in [
            ("Source", &r.source),
            ("Repo", &r.repo),
            ("Worktree", &r.worktree),
            ("Branch", &r.branch),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                if label != "Worktree" || r.worktree != r.repo {
                    let _ = writeln!(s, "{label}: {}", clean_line(v));
                }
            }
        }
        if r.hit_count > 1 {
            let _ = writeln!(s, "Other hits: {}", r.hit_count - 1);
        }
        for (k, w) in r.windows.iter().enumerate() {
            let _ = writeln!(s);
            if r.windows.len() > 1 {
                let _ = writeln!(s, "Window {} matched: {}", k + 1, one_line(&w.matched));
            }
            for m in &w.messages {
                push_message(&mut s, &tag(&m.role, m.tool_name.as_deref()), &m.content);
            }
            if let Some(first) = w.messages.first() {
                let cmd = read_on_command(
                    &r.session_id,
                    w.subagent.as_deref(),
                    first.message_index,
                    "",
                );
                let _ = writeln!(s, "Read on: {}", clean_line(&cmd));
            }
        }
    }
    if out.budget.truncated {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "(Some messages were left out to stay within {} chars.)",
            out.budget.budget_chars
        );
    }
    s
}
