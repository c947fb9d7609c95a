//! Sessions kept in a host's many-session store (OpenCode's `opencode.db`, Copilot's
//! `session-store.db`, Aider's history file): how one of them is read incrementally, and the
//! records of Copilot's stored turns and Cursor's chat meta.
//!
//! Each session is its own source, named `STORE#SESSION` (a virtual path: the store's path,
//! `#`, the session's id or ordinal). Its state is the transcript's, counted in items instead
//! of bytes: `end_offset` is how many items (OpenCode parts, Copilot turns) were read,
//! `fingerprint` a hash of those items' keys and versions, `size_bytes`/`mtime_ms` the
//! store's own, so an unchanged store is skipped with one stat. A read resumes after the
//! items already indexed when they are still the same (same keys, same versions, same order);
//! anything else re-reads the session whole, and its messages replace the old ones.

use super::{Builder, Caps, Parsed, Request, Stat};
use crate::error::Result;
use crate::wire::{Agent, Role};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

/// One item of a session (a part, a turn): its stable key and version, as text.
pub type Item = String;

/// `sources.format` of a Copilot session read from `session-store.db`.
pub const FORMAT_COPILOT_DB: &str = "copilot-db";

/// The separator between a store's path and a session in a virtual source path.
pub const SEP: char = '#';

/// The virtual source path of `session` in the store at `store`.
pub fn virtual_path(store: &Path, session: &str) -> String {
    format!("{}{SEP}{session}", store.display())
}

/// Where a read of one stored session starts and what it records.
#[derive(Debug, Clone)]
pub struct StoreRead {
    /// The virtual source path.
    pub path: String,
    pub format: &'static str,
    /// Items before this one are indexed already.
    pub start: u64,
    /// The store's stat (with its `-wal`).
    pub stat: Stat,
    /// [`fingerprint`] of all the session's items.
    pub fingerprint: String,
}

/// A hash of the first `n` items: their keys, versions and order.
pub fn fingerprint(items: &[Item], n: usize) -> String {
    let mut h = Sha256::new();
    for i in &items[..n.min(items.len())] {
        h.update(i.as_bytes());
        h.update(b"\n");
    }
    h.update((n as u64).to_le_bytes());
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a backfill does with one stored session, given what the index remembers of it
/// (`end_offset`, `fingerprint`, and whether it was read cleanly and archived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Unchanged,
    /// Read from this item on (0: whole).
    Read(u64),
}

pub fn plan(items: &[Item], known: Option<(u64, &str, bool)>) -> Plan {
    let Some((end, fp, clean)) = known else {
        return Plan::Read(0);
    };
    let end_n = end as usize;
    if !clean || end_n > items.len() || fingerprint(items, end_n) != fp {
        return Plan::Read(0);
    }
    if end_n == items.len() {
        Plan::Unchanged
    } else {
        Plan::Read(end)
    }
}

/// One row of Copilot's `sessions` table.
#[derive(Debug, Clone, Default)]
pub struct CopilotSession {
    pub id: String,
    pub cwd: Option<String>,
    pub branch: Option<String>,
    pub summary: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// One row of Copilot's `turns` table.
#[derive(Debug, Clone, Default)]
pub struct CopilotTurn {
    pub id: i64,
    pub user_message: Option<String>,
    pub assistant_response: Option<String>,
    pub timestamp: Option<String>,
}

/// A turn as an item: its row id and the length of what it holds (an answer written later
/// changes it).
pub fn copilot_item(t: &CopilotTurn) -> Item {
    let len = |s: &Option<String>| s.as_deref().map_or(0, str::len);
    format!(
        "{}:{}:{}",
        t.id,
        len(&t.user_message),
        len(&t.assistant_response)
    )
}

/// The records of a Copilot session from its stored turns (the event log is gone): the
/// user's message and the assistant's answer of each turn. Tools are not in this table.
pub fn copilot_records(
    s: &CopilotSession,
    turns: &[CopilotTurn],
    read: &StoreRead,
    caps: Caps,
) -> Result<Parsed> {
    let req = Request {
        agent: Some(Agent::Copilot),
        caps,
        ..Default::default()
    };
    let mut out = Builder::new(Path::new(&read.path), Agent::Copilot, &req, read.start);
    out.format = read.format;
    out.session.session_id = Agent::Copilot.session_key(&s.id);
    if let Some(cwd) = s.cwd.as_deref() {
        out.set_cwd(cwd, s.branch.as_deref());
    }
    if let Some(t) = s.summary.as_deref() {
        out.set_title(t, 1);
    }
    out.see_time(s.created_at.as_deref());
    out.see_time(s.updated_at.as_deref());
    for (i, t) in turns.iter().enumerate() {
        let ts = t.timestamp.as_deref();
        out.see_time(ts);
        let offset = i as u64;
        if offset < read.start {
            continue;
        }
        if let Some(u) = t.user_message.as_deref() {
            out.push(Role::User, None, u, ts, offset, false);
        }
        if let Some(a) = t.assistant_response.as_deref() {
            out.push(Role::Assistant, None, a, ts, offset, false);
        }
    }
    out.finish(read.stat, turns.len() as u64, read.fingerprint.clone())
}

/// What Cursor's `store.db` says of its chat in `meta` key `"0"`: hex-encoded JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CursorMeta {
    pub agent_id: String,
    pub name: Option<String>,
    /// ISO text, from `createdAt` (epoch ms).
    pub created_at: Option<String>,
}

/// Decodes Cursor's meta value (hex of JSON; plain JSON is taken too).
pub fn cursor_meta(value: &str) -> Option<CursorMeta> {
    let v = value.trim();
    let json: Value = if v.starts_with('{') {
        serde_json::from_str(v).ok()?
    } else {
        let bytes: Option<Vec<u8>> = (0..v.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(v.get(i..i + 2)?, 16).ok())
            .collect();
        serde_json::from_slice(&bytes?).ok()?
    };
    let agent_id = json.get("agentId")?.as_str()?.to_string();
    let name = json.get("name").and_then(Value::as_str).map(|n| {
        let mut n: String = n.chars().take(200).collect();
        crate::redact::redact_string(&mut n);
        n
    });
    let created_at = json.get("createdAt").and_then(super::opencode::iso);
    Some(CursorMeta {
        agent_id,
        name,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_resumes_only_over_the_same_items() {
        let items: Vec<Item> = ["a:1", "b:1", "c:1"].map(String::from).to_vec();
        assert_eq!(plan(&items, None), Plan::Read(0));
        let fp2 = fingerprint(&items, 2);
        let fp3 = fingerprint(&items, 3);
        assert_eq!(plan(&items, Some((2, &fp2, true))), Plan::Read(2));
        assert_eq!(plan(&items, Some((3, &fp3, true))), Plan::Unchanged);
        assert_eq!(plan(&items, Some((3, &fp3, false))), Plan::Read(0));
        let changed: Vec<Item> = ["a:1", "b:2", "c:1"].map(String::from).to_vec();
        assert_eq!(plan(&changed, Some((2, &fp2, true))), Plan::Read(0));
        assert_eq!(plan(&items[..1], Some((2, &fp2, true))), Plan::Read(0));
    }

    #[test]
    fn cursor_meta_is_hex_json() {
        let hex: String = br#"{"agentId":"a1","name":"Test Session","createdAt":1775522590321}"#
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let m = cursor_meta(&hex).unwrap();
        assert_eq!(m.agent_id, "a1");
        assert_eq!(m.name.as_deref(), Some("Test Session"));
        assert_eq!(m.created_at.as_deref(), Some("2026-04-07T00:43:10.321Z"));
        assert_eq!(cursor_meta("zz"), None);
    }
}
