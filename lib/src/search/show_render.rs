//! Printing a `csep show` answer: Markdown for a model (each message tagged with its index,
//! so it can ask for the next part), one JSON object, or JSON Lines (the header, then one
//! `show_message` per line). Transcript text is kept from posing as csep's own lines exactly
//! as recall's Markdown keeps it (`render::push_message`, see `render`'s module doc).

use super::render::{one_line, push_message, tag, Format};
use super::show::{read_on_command, ShowOutput};
use crate::text::{clean_line, json_safe};
use std::fmt::Write as _;

/// One compact JSON line.
fn line<T: serde::Serialize>(v: &T) -> String {
    json_safe(&serde_json::to_string(v).unwrap_or_default()).into_owned() + "\n"
}

pub fn render(out: &ShowOutput, format: Format) -> String {
    match format {
        Format::Json => {
            json_safe(&serde_json::to_string_pretty(out).unwrap_or_default()).into_owned() + "\n"
        }
        Format::Jsonl => {
            let mut header = out.clone();
            header.messages = None;
            let mut s = line(&header);
            for m in out.messages() {
                s.push_str(&line(m));
            }
            s
        }
        Format::Markdown => markdown(out),
    }
}

/// The flags a next part needs to show what this one showed.
fn filters(out: &ShowOutput) -> String {
    let mut s = String::new();
    if !out.roles.is_empty() {
        let _ = write!(s, " --role {}", out.roles.join(","));
    }
    if out.include_background {
        s.push_str(" --include-background");
    }
    s
}

pub fn markdown(out: &ShowOutput) -> String {
    let mut s = String::new();
    let id = clean_line(&out.session_id);
    match out.status {
        "found" => {}
        "no_index" => {
            let _ = writeln!(s, "## Session {id}\n\nStatus: no_index\n\nNo sessions are indexed yet. Run `csep recall bootstrap --all-history` to index past sessions.");
            return s;
        }
        status => {
            let _ = writeln!(s, "## Session {id}\n\nStatus: {}\n\nThe index holds no session {id}. Find sessions with `csep recall QUERY` (or `--recent`).", clean_line(status));
            return s;
        }
    }
    let agent = out.agent.as_deref().unwrap_or("unknown agent");
    let _ = writeln!(s, "## Session {id} ({})\n", clean_line(agent));
    if let Some(t) = &out.title {
        let _ = writeln!(s, "Title: {}", one_line(t));
    }
    for (label, v) in [
        ("Repo", &out.repo),
        ("Worktree", &out.worktree),
        ("Branch", &out.branch),
        ("Started", &out.started_at),
        ("Updated", &out.updated_at),
        ("Transcript", &out.source),
        ("Subagent", &out.subagent),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            if label != "Worktree" || out.worktree != out.repo {
                let _ = writeln!(s, "{label}: {}", clean_line(v));
            }
        }
    }
    if !out.subagents.is_empty() && out.subagent.is_none() {
        let names: Vec<String> = out.subagents.iter().map(|a| one_line(a)).collect();
        let _ = writeln!(
            s,
            "Subagents: {} (read one with `csep show {id} --subagent NAME`)",
            names.join(", ")
        );
    }
    let range = match (out.messages().first(), out.messages().last()) {
        (Some(a), Some(b)) => format!("{} to {}", a.message.message_index, b.message.message_index),
        _ => "none".to_string(),
    };
    let last = out
        .last_message
        .map_or_else(|| "none".to_string(), |l| format!("0 to {l}"));
    let _ = writeln!(
        s,
        "Messages: {range} shown ({} of {}, numbered {last})",
        out.count, out.message_count
    );
    match (out.message, out.around) {
        (Some(n), Some(k)) => {
            let _ = writeln!(s, "Asked: message {n} and {k} before and after it");
        }
        (Some(n), None) => {
            let _ = writeln!(s, "Asked: from message {n} on");
        }
        _ => {}
    }
    if out.hidden > 0 {
        let how = if out.include_background {
            "by --role"
        } else {
            "(background, or by --role; --include-background shows injected context)"
        };
        let _ = writeln!(s, "Hidden: {} {how}", out.hidden);
    }
    let _ = writeln!(
        s,
        "Budget: {}/{} chars",
        out.budget.used_chars, out.budget.budget_chars
    );
    let _ = writeln!(s);
    for m in out.messages() {
        let m = &m.message;
        let t = format!(
            "#{} {}",
            m.message_index,
            tag(&m.role, m.tool_name.as_deref())
        );
        push_message(&mut s, &t, &m.content);
    }
    let _ = writeln!(s);
    match out.next_message {
        Some(n) => {
            let cmd = read_on_command(&out.session_id, out.subagent.as_deref(), n, &filters(out));
            let why = if out.budget.truncated {
                format!("Cut to stay within {} chars.", out.budget.budget_chars)
            } else {
                "The session goes on.".to_string()
            };
            let _ = writeln!(s, "({why} Next part: {})", clean_line(&cmd));
        }
        None => {
            let _ = writeln!(s, "(End of the session.)");
        }
    }
    s
}
