//! Printing a recall: Markdown for a model to read, one JSON object, or JSON Lines (one
//! result per line, for `jq`). Everything printed was redacted when it was built.

use super::recall::RecallOutput;
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
            let mut s = serde_json::to_string_pretty(out).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Jsonl => {
            let mut s = String::new();
            for r in &out.results {
                s.push_str(&serde_json::to_string(r).unwrap_or_default());
                s.push('\n');
            }
            s
        }
        Format::Markdown => markdown(out),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn markdown(out: &RecallOutput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Session recall");
    let _ = writeln!(s);
    let _ = writeln!(s, "Status: {}", out.status);
    match &out.repo {
        Some(root) => {
            let _ = writeln!(s, "Scope: repo {root}");
        }
        None => {
            let _ = writeln!(s, "Scope: {}", out.scope);
        }
    }
    let _ = writeln!(s, "Results: {}", out.count);
    let _ = writeln!(
        s,
        "Budget: {}/{} chars",
        out.budget.used_chars, out.budget.budget_chars
    );
    if !out.query.is_empty() {
        let _ = writeln!(s, "Query: {}", out.query);
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
            "### {}. {when} session {} ({})",
            i + 1,
            r.session_id,
            r.agent
        );
        if let Some(t) = &r.title {
            let _ = writeln!(s, "Title: {}", one_line(t));
        }
        if !r.matched.is_empty() {
            let _ = writeln!(s, "Matched: {}", one_line(&r.matched));
        }
        for (label, v) in [
            ("Source", &r.source),
            ("Repo", &r.repo),
            ("Worktree", &r.worktree),
            ("Branch", &r.branch),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                if label != "Worktree" || r.worktree != r.repo {
                    let _ = writeln!(s, "{label}: {v}");
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
                let tag = match &m.tool_name {
                    Some(t) => format!("{}:{t}", m.role),
                    None => m.role.clone(),
                };
                let _ = writeln!(s, "[{tag}] {}", m.content.trim_end());
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
