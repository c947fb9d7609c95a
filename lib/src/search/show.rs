//! `csep show`: one archived session read back from the index (so also after its host
//! deleted the transcript): from its start, from message N on, or the window of K messages
//! around message N; within a character budget, secrets redacted as recall redacts them,
//! background (injected) messages hidden unless asked for. When the budget cuts the answer,
//! it names the message to read on from (`next_message`, and a `csep show … --message N` line
//! in the Markdown). Its JSON is `docs/WIRE.md`'s `session_show`; `show_render` prints it.
//!
//! A session's messages are numbered per transcript file (recall's `message_index`): the main
//! transcript by default, a Claude Code subagent's file with `subagent`.

use super::output::{Budget, WindowMessage};
use super::recall::{excerpt, session_row, window_rows, MsgRow};
use crate::error::{Error, Result};
use crate::index::db::{FLAG_BACKGROUND, FLAG_TRUNCATED};
use crate::index::sessions;
use crate::redact::redact;
use crate::timefmt;
use crate::wire::Role;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

/// What to show. [`ShowOptions::new`] has the defaults, sized for reading a session on.
#[derive(Debug, Clone)]
pub struct ShowOptions {
    /// As recall prints it, with or without Claude Code's `claude:` prefix.
    pub session_id: String,
    /// A subagent's transcript of the session instead of the main one.
    pub subagent: Option<String>,
    /// Start at (or, with `around`, centre on) this message; `None`: from the first.
    pub message: Option<i64>,
    /// Show the `around` messages before and after `message`, instead of reading on from it.
    pub around: Option<usize>,
    /// Only messages with these roles (the message asked for is always shown).
    pub roles: Vec<Role>,
    pub include_background: bool,
    pub budget_chars: usize,
    pub message_chars: usize,
    pub tool_message_chars: usize,
}

pub const DEFAULT_BUDGET_CHARS: usize = 40_000;
pub const DEFAULT_MESSAGE_CHARS: usize = 8_000;
pub const DEFAULT_TOOL_MESSAGE_CHARS: usize = 4_000;

impl ShowOptions {
    pub fn new(session_id: impl Into<String>) -> Self {
        ShowOptions {
            session_id: session_id.into(),
            subagent: None,
            message: None,
            around: None,
            roles: Vec::new(),
            include_background: false,
            budget_chars: DEFAULT_BUDGET_CHARS,
            message_chars: DEFAULT_MESSAGE_CHARS,
            tool_message_chars: DEFAULT_TOOL_MESSAGE_CHARS,
        }
    }
}

/// One message shown: recall's window message (`message_index`, `role`, `tool_name`,
/// `timestamp`, `content`, `anchor`, `truncated`), typed so a JSON Lines reader can tell it
/// from the header.
#[derive(Debug, Clone, Serialize)]
pub struct ShowMessage {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub message: WindowMessage,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShowOutput {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `found`, `not_found` (the index holds no such session) or `no_index`.
    pub status: &'static str,
    /// As the index names it (as asked, when not found).
    pub session_id: String,
    pub agent: Option<String>,
    pub title: Option<String>,
    pub repo: Option<String>,
    pub cwd: Option<String>,
    pub worktree: Option<String>,
    pub branch: Option<String>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    /// The transcript file shown (it may no longer exist).
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
    /// The subagents whose transcripts the index also holds for this session.
    pub subagents: Vec<String>,
    /// Messages the index holds of this transcript, and the last one's index.
    pub message_count: i64,
    pub last_message: Option<i64>,
    pub message: Option<i64>,
    pub around: Option<usize>,
    /// The `--role` filter (empty: every role) and whether background messages are shown.
    pub roles: Vec<&'static str>,
    pub include_background: bool,
    /// Messages shown.
    pub count: usize,
    /// Messages in the range read that `--role` or the background rule left out.
    pub hidden: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ShowMessage>>,
    /// Where to read on from (`csep show ID --message N`); `None` at the session's end.
    pub next_message: Option<i64>,
    pub budget: Budget,
}

impl ShowOutput {
    /// An answer with no session in it: `not_found`, or `no_index` (nothing indexed yet).
    pub fn empty(opts: &ShowOptions, status: &'static str) -> ShowOutput {
        ShowOutput {
            kind: "session_show",
            status,
            session_id: opts.session_id.trim().to_string(),
            agent: None,
            title: None,
            repo: None,
            cwd: None,
            worktree: None,
            branch: None,
            started_at: None,
            updated_at: None,
            source: None,
            subagent: opts.subagent.clone(),
            subagents: Vec::new(),
            message_count: 0,
            last_message: None,
            message: opts.message,
            around: opts.around,
            roles: opts.roles.iter().map(|r| r.as_str()).collect(),
            include_background: opts.include_background,
            count: 0,
            hidden: 0,
            messages: Some(Vec::new()),
            next_message: None,
            budget: Budget::unspent(
                opts.budget_chars,
                opts.message_chars,
                opts.tool_message_chars,
            ),
        }
    }

    pub fn messages(&self) -> &[ShowMessage] {
        self.messages.as_deref().unwrap_or_default()
    }
}

/// The session's transcripts that hold messages: the main one first, then subagents'.
fn sources(conn: &Connection, session: i64) -> Result<Vec<(i64, String, Option<String>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, path, subagent FROM sources WHERE session_rowid = ?1 AND excluded IS NULL
         ORDER BY subagent IS NOT NULL, id",
    )?;
    let rows = stmt.query_map([session], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// How many messages a transcript has in the index, and the last one's index.
fn extent(conn: &Connection, source: i64) -> Result<(i64, Option<i64>)> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*), MAX(ordinal) FROM messages WHERE source_rowid = ?1")?
        .query_row([source], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, None)))
}

/// Rows read at a time while reading on, so a long session is never loaded whole.
const PAGE: i64 = 200;

/// Shows a session (see the module doc). An unknown id is an answer (`not_found`), not an
/// error; a subagent or message the session does not have is an input error.
pub fn show(conn: &Connection, opts: &ShowOptions) -> Result<ShowOutput> {
    let id = opts.session_id.trim();
    if id.is_empty() {
        return Err(Error::usage("the session id is empty"));
    }
    let Some(session) = sessions::rowid_as_named(conn, id)? else {
        return Ok(ShowOutput::empty(opts, "not_found"));
    };
    let row = session_row(conn, session)?;
    let mut out = ShowOutput::empty(opts, "found");
    let all = sources(conn, session)?;
    out.subagents = all.iter().filter_map(|s| s.2.clone()).collect();
    out.subagents.dedup();
    let chosen = match &opts.subagent {
        Some(a) => Some(
            all.iter()
                .find(|s| s.2.as_deref() == Some(a))
                .ok_or_else(|| {
                    Error::input(format!(
                        "session {} has no subagent {a:?} in the index (it has: {})",
                        row.session_id,
                        if out.subagents.is_empty() {
                            "none".to_string()
                        } else {
                            out.subagents.join(", ")
                        }
                    ))
                })?,
        ),
        None => all.first(),
    };
    out.session_id = row.session_id;
    out.agent = Some(row.agent);
    out.title = row.title.map(|t| redact(&t).into_owned());
    out.repo = row.repo;
    out.cwd = row.cwd;
    out.worktree = row.worktree;
    out.branch = row.branch;
    out.started_at = row.started.map(timefmt::format_iso_ms);
    out.updated_at = row.updated.map(timefmt::format_iso_ms);
    let Some((source, path, subagent)) = chosen else {
        return Ok(out);
    };
    out.source = Some(path.clone());
    out.subagent.clone_from(subagent);
    let (count, last) = extent(conn, *source)?;
    out.message_count = count;
    out.last_message = last;
    let Some(last) = last else {
        return Ok(out);
    };
    if let Some(n) = opts.message.filter(|n| !(0..=last).contains(n)) {
        return Err(Error::input(format!(
            "session {} has messages 0 to {last}; there is no message {n}",
            out.session_id
        )));
    }
    let mut reader = Reader::new(opts);
    match (opts.message, opts.around) {
        (Some(n), Some(k)) => {
            // No window is wider than the transcript (and a huge K stays a positive number).
            let k = k.min(last as usize + 1) as i64;
            let rows = window_rows(conn, *source, n.saturating_sub(k), n.saturating_add(k))?;
            reader.window(rows, n);
        }
        (from, _) => {
            let mut from = from.unwrap_or(0);
            while from <= last && reader.stopped_at.is_none() {
                let rows = window_rows(conn, *source, from, from + PAGE - 1)?;
                reader.read_on(rows);
                from += PAGE;
            }
        }
    }
    out.next_message = reader.next(last);
    out.count = reader.shown.len();
    out.hidden = reader.hidden;
    out.budget.used_chars = reader.used;
    out.budget.truncated = reader.cut;
    out.budget.truncation_reason = if reader.cut { "budget_exceeded" } else { "" };
    out.messages = Some(reader.shown);
    Ok(out)
}

/// The messages chosen so far and what the budget has left.
struct Reader<'a> {
    opts: &'a ShowOptions,
    shown: Vec<ShowMessage>,
    used: usize,
    hidden: usize,
    /// Reading on stopped here (the budget ran out before this message).
    stopped_at: Option<i64>,
    cut: bool,
}

impl<'a> Reader<'a> {
    fn new(opts: &'a ShowOptions) -> Self {
        Reader {
            opts,
            shown: Vec::new(),
            used: 0,
            hidden: 0,
            stopped_at: None,
            cut: false,
        }
    }

    /// Whether the filters keep `m` (the message asked for is always kept).
    fn keeps(&self, m: &MsgRow, anchor: bool) -> bool {
        anchor
            || ((self.opts.include_background || m.flags & FLAG_BACKGROUND == 0)
                && (self.opts.roles.is_empty()
                    || self.opts.roles.iter().any(|r| r.as_str() == m.role)))
    }

    /// `m` as shown (redacted, cut to its cap) and what it costs, counted as recall counts.
    fn prepare(&self, m: MsgRow, anchor: bool) -> (ShowMessage, usize) {
        let text = redact(&m.text);
        let limit = if m.role == "tool" {
            self.opts.tool_message_chars
        } else {
            self.opts.message_chars
        };
        let (content, cut) = excerpt(&text, None, limit, false);
        let cost = content.len() + m.role.len() + 8;
        let message = WindowMessage {
            message_index: m.ordinal,
            role: m.role,
            tool_name: m.tool,
            timestamp: m.ts.map(timefmt::format_iso_ms),
            content,
            anchor,
            truncated: cut || m.flags & FLAG_TRUNCATED != 0,
        };
        let kind = "show_message";
        (ShowMessage { kind, message }, cost)
    }

    /// Reading on, in order, until the budget runs out (the first message always fits).
    fn read_on(&mut self, rows: Vec<MsgRow>) {
        let first = self.opts.message;
        for m in rows {
            let anchor = first == Some(m.ordinal);
            if !self.keeps(&m, anchor) {
                self.hidden += 1;
                continue;
            }
            let ordinal = m.ordinal;
            let (msg, cost) = self.prepare(m, anchor);
            if !self.shown.is_empty() && self.used + cost > self.opts.budget_chars {
                self.stopped_at = Some(ordinal);
                self.cut = true;
                return;
            }
            self.used += cost;
            self.shown.push(msg);
        }
    }

    /// The window around `n`: nearest messages first while the budget lasts, so what is
    /// shown is contiguous and always holds message `n`; then in order.
    fn window(&mut self, rows: Vec<MsgRow>, n: i64) {
        let mut kept: Vec<MsgRow> = Vec::new();
        for m in rows {
            if self.keeps(&m, m.ordinal == n) {
                kept.push(m);
            } else {
                self.hidden += 1;
            }
        }
        kept.sort_by_key(|m| ((m.ordinal - n).abs(), m.ordinal));
        for m in kept {
            let anchor = m.ordinal == n;
            let (msg, cost) = self.prepare(m, anchor);
            if !anchor && self.used + cost > self.opts.budget_chars {
                self.cut = true;
                break;
            }
            self.used += cost;
            self.shown.push(msg);
        }
        self.shown.sort_by_key(|m| m.message.message_index);
    }

    /// The first message after what was shown, unless that is past the session's end.
    fn next(&self, last: i64) -> Option<i64> {
        let after = match self.stopped_at {
            Some(n) => n,
            None if self.opts.around.is_none() => return None,
            None => self.shown.last().map(|m| m.message.message_index + 1)?,
        };
        (after <= last).then_some(after)
    }
}

/// The command that reads session `id` on from message `n` (a subagent's transcript with
/// `subagent`), as recall's and show's Markdown print it.
pub fn read_on_command(id: &str, subagent: Option<&str>, n: i64, extra: &str) -> String {
    let quote = |s: &str| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            s.to_string()
        } else {
            crate::text::shell_quote(s)
        }
    };
    let mut cmd = format!("csep show {}", quote(id));
    if let Some(a) = subagent {
        cmd.push_str(&format!(" --subagent {}", quote(a)));
    }
    cmd.push_str(&format!(" --message {n}{extra}"));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::sessions::fixture;

    /// A Claude Code session of `n` user/assistant messages (every third one background),
    /// and a subagent file with two.
    fn db(n: i64) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::index::db::open_rw(&dir.path().join("recall.sqlite3")).unwrap();
        fixture::session(&conn, 1, "claude:u-1", "claude", "/w", "/t/u-1.jsonl");
        for i in 0..n {
            let (role, flags) = match i % 3 {
                0 => ("user", 0),
                1 => ("assistant", 0),
                _ => ("developer", FLAG_BACKGROUND),
            };
            fixture::message(
                &conn,
                1,
                i,
                role,
                None,
                flags,
                &format!("message {i} {}", "x".repeat(90)),
            );
        }
        conn.execute(
            "INSERT INTO sources (id, path, session_rowid, subagent) VALUES (2, '/t/u-1/subagents/agent-a7.jsonl', 1, 'a7')",
            [],
        )
        .unwrap();
        for i in 0..2 {
            conn.execute(
                "INSERT INTO messages (session_rowid, source_rowid, ordinal, role, byte_offset, text) VALUES (1, 2, ?1, 'assistant', 0, ?2)",
                rusqlite::params![i, format!("subagent says {i}")],
            )
            .unwrap();
        }
        (dir, conn)
    }

    fn indexes(out: &ShowOutput) -> Vec<i64> {
        out.messages()
            .iter()
            .map(|m| m.message.message_index)
            .collect()
    }

    #[test]
    fn a_bare_id_finds_the_claude_session_and_background_stays_hidden() {
        let (_d, conn) = db(7);
        let out = show(&conn, &ShowOptions::new("u-1")).unwrap();
        assert_eq!(
            (out.status, out.session_id.as_str()),
            ("found", "claude:u-1")
        );
        assert_eq!(indexes(&out), vec![0, 1, 3, 4, 6]);
        assert_eq!(
            (out.hidden, out.message_count, out.last_message),
            (2, 7, Some(6))
        );
        assert_eq!(out.subagents, vec!["a7"]);
        assert_eq!(out.next_message, None);
        assert!(!out.budget.truncated);
        let mut o = ShowOptions::new("claude:u-1");
        o.include_background = true;
        assert_eq!(show(&conn, &o).unwrap().count, 7);
        assert_eq!(
            show(&conn, &ShowOptions::new("u-2")).unwrap().status,
            "not_found"
        );
        assert_eq!(
            show(&conn, &ShowOptions::new("claude:u-1x"))
                .unwrap()
                .status,
            "not_found"
        );
    }

    #[test]
    fn reading_on_stops_at_the_budget_and_names_the_next_message() {
        let (_d, conn) = db(500);
        let mut o = ShowOptions::new("u-1");
        o.include_background = true;
        o.budget_chars = 1000;
        let out = show(&conn, &o).unwrap();
        // Each message costs its ~100 characters plus its role and 8.
        assert!(out.count >= 5 && out.count < 10, "{}", out.count);
        assert_eq!(indexes(&out), (0..out.count as i64).collect::<Vec<_>>());
        assert_eq!(out.next_message, Some(out.count as i64));
        assert!(out.budget.truncated && out.budget.used_chars <= 1000);
        assert_eq!(out.budget.truncation_reason, "budget_exceeded");
        // Reading on from there, past the first page of rows, to the end.
        o.message = Some(out.count as i64);
        o.budget_chars = 1_000_000;
        let rest = show(&conn, &o).unwrap();
        assert_eq!(rest.count, 500 - out.count);
        assert!(rest.messages()[0].message.anchor);
        assert_eq!(rest.next_message, None);
        // The first message is shown even when it alone is over budget.
        o.budget_chars = 10;
        assert_eq!(show(&conn, &o).unwrap().count, 1);
    }

    #[test]
    fn a_window_is_centred_on_its_message_and_says_where_the_session_goes_on() {
        let (_d, conn) = db(40);
        let mut o = ShowOptions::new("u-1");
        o.message = Some(20);
        o.around = Some(3);
        let out = show(&conn, &o).unwrap();
        // 17..=23, background (ordinal % 3 == 2: 17, 20, 23) hidden but the asked-for 20.
        assert_eq!(indexes(&out), vec![18, 19, 20, 21, 22]);
        assert_eq!(out.hidden, 2);
        assert_eq!(out.next_message, Some(23));
        assert!(out.messages()[2].message.anchor);
        // A small budget keeps the nearest messages, contiguous around 20.
        o.budget_chars = 350;
        let out = show(&conn, &o).unwrap();
        assert_eq!(indexes(&out), vec![19, 20, 21]);
        assert!(out.budget.truncated);
        assert_eq!(out.next_message, Some(22));
        // A window wider than the session is the whole session.
        o.around = Some(usize::MAX);
        o.budget_chars = DEFAULT_BUDGET_CHARS;
        assert_eq!(show(&conn, &o).unwrap().count, 40 - 13 + 1);
        // The window at the end: nothing after it.
        o.around = Some(3);
        o.message = Some(39);
        o.budget_chars = DEFAULT_BUDGET_CHARS;
        assert_eq!(show(&conn, &o).unwrap().next_message, None);
    }

    #[test]
    fn roles_subagents_and_bad_positions() {
        let (_d, conn) = db(9);
        let mut o = ShowOptions::new("u-1");
        o.roles = vec![Role::User];
        let out = show(&conn, &o).unwrap();
        assert_eq!(indexes(&out), vec![0, 3, 6]);
        assert_eq!(out.roles, vec!["user"]);
        o.roles.clear();
        o.subagent = Some("a7".into());
        let out = show(&conn, &o).unwrap();
        assert_eq!(
            out.source.as_deref(),
            Some("/t/u-1/subagents/agent-a7.jsonl")
        );
        assert_eq!(out.messages()[1].message.content, "subagent says 1");
        o.subagent = Some("zz".into());
        let e = show(&conn, &o).unwrap_err().to_string();
        assert!(e.contains("no subagent \"zz\"") && e.contains("a7"), "{e}");
        o.subagent = None;
        o.message = Some(9);
        let e = show(&conn, &o).unwrap_err().to_string();
        assert!(e.contains("messages 0 to 8; there is no message 9"), "{e}");
        assert!(show(&conn, &ShowOptions::new(" ")).is_err());
    }

    #[test]
    fn secrets_are_redacted_and_long_messages_cut() {
        let (_d, conn) = db(0);
        fixture::message(
            &conn,
            1,
            0,
            "user",
            None,
            0,
            "key sk-ant-api03-Qw3rTy7uI9oP1aS5dF2gH4jK6lZ8xC0v ok",
        );
        fixture::message(&conn, 1, 1, "tool", Some("exec"), 0, &"y".repeat(5000));
        let out = show(&conn, &ShowOptions::new("u-1")).unwrap();
        let first = &out.messages()[0].message.content;
        assert!(
            !first.contains("Qw3rTy7uI9oP1aS5dF2gH4jK6lZ8xC0v") && first.ends_with(" ok"),
            "{first}"
        );
        let tool = &out.messages()[1].message;
        assert!(
            tool.truncated && tool.content.len() < 4100,
            "{}",
            tool.content.len()
        );
    }

    #[test]
    fn the_read_on_command_quotes_what_a_shell_would_read() {
        assert_eq!(
            read_on_command("claude:u-1", None, 4, ""),
            "csep show claude:u-1 --message 4"
        );
        assert_eq!(
            read_on_command("a b", Some("x;y"), 0, " --include-background"),
            "csep show 'a b' --subagent 'x;y' --message 0 --include-background"
        );
    }
}
