//! The SQL that reads the hosts' stores (OpenCode's `opencode.db`, Copilot's
//! `session-store.db`, Cursor's `store.db`), each opened read-only by the caller, and the two
//! statements on the index the store readers need. Columns a host's older or newer schema
//! lacks are asked for only when `PRAGMA table_info` shows them.

use crate::archive::opencode::{self, OcMessage, OcPart, OcSession};
use crate::archive::stored::{CopilotSession, CopilotTurn, Item};
use crate::error::Result;
use crate::timefmt;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<HashSet<String>> {
    let mut st = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
    let rows = st.query_map([], |r| r.get::<_, String>(1))?;
    rows.collect()
}

/// A column as JSON: numbers stay numbers, text stays text.
fn json_of(v: ValueRef<'_>) -> Option<Value> {
    match v {
        ValueRef::Integer(i) => Some(Value::from(i)),
        ValueRef::Real(f) => Some(Value::from(f)),
        ValueRef::Text(t) => Some(Value::String(String::from_utf8_lossy(t).into_owned())),
        _ => None,
    }
}

fn text_col(cols: &HashSet<String>, name: &str) -> String {
    if cols.contains(name) {
        format!("\"{name}\"")
    } else {
        "NULL".into()
    }
}

/// Every OpenCode session with its items (one per part, then one per `session_message`
/// row), without reading the parts' data; with `only`, that session and its sub-agents'.
pub(super) fn opencode_sessions(
    conn: &Connection,
    only: Option<&str>,
) -> rusqlite::Result<Vec<(OcSession, Vec<Item>)>> {
    let scols = columns(conn, "session")?;
    let parent = text_col(&scols, "parent_id");
    let mine = format!(
        "(?1 IS NULL OR session_id = ?1 OR session_id IN (SELECT id FROM session WHERE {parent} = ?1))"
    );
    let sql = format!(
        "SELECT id, {}, {}, {}, {}, {} FROM session WHERE ?1 IS NULL OR id = ?1 OR {parent} = ?1
         ORDER BY {}, id",
        text_col(&scols, "parent_id"),
        text_col(&scols, "directory"),
        text_col(&scols, "title"),
        text_col(&scols, "time_created"),
        text_col(&scols, "time_updated"),
        text_col(&scols, "time_created"),
    );
    let mut st = conn.prepare(&sql)?;
    let mut sessions: BTreeMap<String, (usize, OcSession, Vec<Item>)> = BTreeMap::new();
    let rows = st.query_map([only], |r| {
        Ok(OcSession {
            id: r.get(0)?,
            parent_id: r.get(1)?,
            directory: r.get(2)?,
            title: r.get(3)?,
            time_created: json_of(r.get_ref(4)?),
            time_updated: json_of(r.get_ref(5)?),
        })
    })?;
    for (i, s) in rows.enumerate() {
        let s = s?;
        sessions.insert(s.id.clone(), (i, s, Vec::new()));
    }
    let pcols = columns(conn, "part")?;
    let version = if pcols.contains("time_updated") {
        "p.time_updated"
    } else {
        "length(p.data)"
    };
    let mcols = columns(conn, "message")?;
    let order = message_order(&mcols);
    let mut st = conn.prepare(&format!(
        "SELECT m.session_id, m.id, p.id, {version} FROM message m JOIN part p ON p.message_id = m.id
         WHERE {} ORDER BY m.session_id, {order}, p.id",
        mine.replace("session_id", "m.session_id")
    ))?;
    let rows = st.query_map([only], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            version_text(r.get_ref(3)?),
        ))
    })?;
    for row in rows {
        let (sid, mid, pid, v) = row?;
        if let Some((_, _, items)) = sessions.get_mut(&sid) {
            items.push(opencode::item(&mid, &pid, &v));
        }
    }
    if has_table(conn, "session_message")? {
        let mut st = conn.prepare(&format!(
            "SELECT session_id, id, time_updated FROM session_message WHERE {mine}
             ORDER BY session_id, seq, id"
        ))?;
        let rows = st.query_map([only], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                version_text(r.get_ref(2)?),
            ))
        })?;
        for row in rows {
            let (sid, id, v) = row?;
            if let Some((_, _, items)) = sessions.get_mut(&sid) {
                items.push(opencode::item("v2", &id, &v));
            }
        }
    }
    let mut out: Vec<(usize, OcSession, Vec<Item>)> = sessions.into_values().collect();
    out.sort_by_key(|(i, _, _)| *i);
    Ok(out.into_iter().map(|(_, s, items)| (s, items)).collect())
}

fn message_order(mcols: &HashSet<String>) -> &'static str {
    if mcols.contains("time_created") {
        "m.time_created, m.id"
    } else {
        "m.id"
    }
}

fn version_text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        _ => String::new(),
    }
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// A `session_message` row: its `type` and its `data`.
pub(super) type V2Row = (String, Value);

/// One OpenCode session's messages with their parts (in the order of
/// [`opencode_sessions`]' items), and its `session_message` rows as `(type, data)`.
pub(super) fn opencode_messages(
    conn: &Connection,
    session_id: &str,
) -> rusqlite::Result<(Vec<OcMessage>, Vec<V2Row>)> {
    let mcols = columns(conn, "message")?;
    let pcols = columns(conn, "part")?;
    let version = if pcols.contains("time_updated") {
        "p.time_updated"
    } else {
        "length(p.data)"
    };
    let mut st = conn.prepare(&format!(
        "SELECT m.id, m.data, {}, p.id, p.data, {version}
         FROM message m JOIN part p ON p.message_id = m.id WHERE m.session_id = ?1
         ORDER BY {}, p.id",
        if mcols.contains("time_created") {
            "m.time_created"
        } else {
            "NULL"
        },
        message_order(&mcols)
    ))?;
    let mut messages: Vec<OcMessage> = Vec::new();
    let rows = st.query_map([session_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            json_of(r.get_ref(2)?),
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            version_text(r.get_ref(5)?),
        ))
    })?;
    for row in rows {
        let (mid, mdata, mtime, pid, pdata, version) = row?;
        let parse = |s: Option<String>| {
            s.and_then(|s| serde_json::from_str::<Value>(&s).ok())
                .unwrap_or(Value::Null)
        };
        if messages.last().is_none_or(|m| m.id != mid) {
            messages.push(OcMessage {
                id: mid,
                data: parse(mdata),
                time_created: mtime,
                parts: Vec::new(),
            });
        }
        if let Some(m) = messages.last_mut() {
            m.parts.push(OcPart {
                id: pid,
                data: parse(pdata),
                version,
            });
        }
    }
    let mut v2 = Vec::new();
    if has_table(conn, "session_message")? {
        let mut st = conn.prepare(
            "SELECT type, data FROM session_message WHERE session_id = ?1 ORDER BY seq, id",
        )?;
        let rows = st.query_map([session_id], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                r.get::<_, Option<String>>(1)?,
            ))
        })?;
        for row in rows {
            let (kind, data) = row?;
            let data = data
                .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                .unwrap_or(Value::Null);
            v2.push((kind, data));
        }
    }
    Ok((messages, v2))
}

/// Copilot's stored sessions.
pub(super) fn copilot_sessions(conn: &Connection) -> rusqlite::Result<Vec<CopilotSession>> {
    let mut st = conn.prepare(
        "SELECT id, cwd, branch, summary, created_at, updated_at FROM sessions ORDER BY created_at, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(CopilotSession {
            id: r.get(0)?,
            cwd: r.get(1)?,
            branch: r.get(2)?,
            summary: r.get(3)?,
            created_at: r.get(4)?,
            updated_at: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// One Copilot session's turns, in order.
pub(super) fn copilot_turns(
    conn: &Connection,
    session_id: &str,
) -> rusqlite::Result<Vec<CopilotTurn>> {
    let mut st = conn.prepare_cached(
        "SELECT id, user_message, assistant_response, timestamp FROM turns
         WHERE session_id = ?1 ORDER BY turn_index, id",
    )?;
    let rows = st.query_map([session_id], |r| {
        Ok(CopilotTurn {
            id: r.get(0)?,
            user_message: r.get(1)?,
            assistant_response: r.get(2)?,
            timestamp: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Cursor's `meta` value for key `"0"`.
pub(super) fn cursor_meta(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = '0'", [], |r| {
        r.get::<_, Option<String>>(0)
    })
    .optional()
    .map(Option::flatten)
}

/// Whether the index has `session_id` from a source of another format than `format` (the
/// session's own transcript).
pub(super) fn indexed_from_elsewhere(
    index: &Connection,
    session_id: &str,
    format: &str,
) -> Result<bool> {
    let n: i64 = index
        .prepare_cached(
            "SELECT COUNT(*) FROM sources src JOIN sessions s ON src.session_rowid = s.id
             WHERE s.session_id = ?1 AND COALESCE(src.format, '') <> ?2",
        )?
        .query_row(params![session_id, format], |r| r.get(0))?;
    Ok(n > 0)
}

/// Gives an indexed session the title its host gave the chat and the chat's start, when
/// earlier than what the transcript tells (Cursor's chat meta; its JSONL has no times).
pub(super) fn enrich_session(
    index: &Connection,
    session_id: &str,
    title: Option<&str>,
    started_at: Option<&str>,
) -> Result<()> {
    let started = started_at.and_then(timefmt::parse_iso_ms);
    index
        .prepare_cached(
            "UPDATE sessions SET title = COALESCE(?2, title),
               started_ms = MIN(COALESCE(started_ms, ?3), COALESCE(?3, started_ms))
             WHERE session_id = ?1",
        )?
        .execute(params![session_id, title, started])?;
    Ok(())
}
