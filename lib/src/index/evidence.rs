//! A session's text split by who wrote it, for csep-verify's `unsupported_by_session` check:
//! what the user and the assistant wrote (the assistant's tool-call arguments included) on one
//! side, tool output on the other. Injected context (hook context, AGENTS.md, environment
//! blocks: messages flagged background) is on neither side: nobody in the session typed it.

use super::db::FLAG_BACKGROUND;
use crate::error::Result;
use rusqlite::Connection;

/// Every message of one session, by author. Each message's text ends with a newline, so a
/// token never spans two messages.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionText {
    /// User and assistant messages, and the assistant's tool calls.
    pub said: String,
    /// Tool output.
    pub tool: String,
}

/// The text of session `session_id` (as the index names it); `None` when the index does not
/// hold that session.
pub fn session_text(conn: &Connection, session_id: &str) -> Result<Option<SessionText>> {
    let Some(rowid) = super::sessions::rowid(conn, session_id)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT role, tool, text FROM messages
         WHERE session_rowid = ?1 AND (flags & ?2) = 0 ORDER BY id",
    )?;
    let rows = stmt.query_map(rusqlite::params![rowid, FLAG_BACKGROUND], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = SessionText::default();
    for row in rows {
        let (role, tool, text) = row?;
        let side = match role.as_str() {
            "user" | "assistant" => &mut out.said,
            "tool" => &mut out.tool,
            _ => continue,
        };
        side.push_str(&text);
        side.push('\n');
        // A tool call's arguments are JSON: its strings, unescaped, are what the assistant
        // typed (`grep "x"` is stored as `grep \"x\"`).
        if tool.is_some() && role == "assistant" {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                push_strings(&v, side);
            }
        }
    }
    Ok(Some(out))
}

fn push_strings(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| push_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| push_strings(x, out)),
        _ => {}
    }
}
