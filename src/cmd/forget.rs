//! Forgetting a session, shared by `csep recall forget` and `csep-index --forget`: one
//! `forget_result` (or, for a list, one `forget_list`) on stdout, and a line on stderr for
//! what a person should know (the session was not indexed, other copies of its text remain).

use crate::args::StateArgs;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use csep_lib::index::db;
use csep_lib::index::forget::{self, Target, Tombstone};
use serde::Serialize;

/// `forget_list`: every tombstone.
#[derive(Serialize)]
struct ForgetList {
    #[serde(rename = "type")]
    kind: &'static str,
    count: usize,
    tombstones: Vec<Tombstone>,
    db_path: String,
}

pub fn forget(tool: &str, state: &StateArgs, target: &Target) -> Result<Exit, Failure> {
    let db_path = state.db();
    let mut conn = db::open_rw(&db_path)?;
    let r = forget::forget(&mut conn, target, &state.dir(), &db_path)?;
    if !r.was_indexed {
        let what = match (target, &r.session_id) {
            (Target::Session(id), _) => id.trim().to_string(),
            (Target::Source(p), Some(id)) => format!("{} (session {id})", p.display()),
            (Target::Source(p), None) => p.display().to_string(),
        };
        let why = match (&r.session_id, r.already_forgotten) {
            (_, true) => "it was already forgotten; the tombstone stays",
            (Some(_), false) => "tombstoned anyway, so no backfill or hook will add it",
            (None, false) => "no session could be read from it, so only this path is tombstoned",
        };
        warn(tool, format_args!("{what} is not in the index; {why}"));
    }
    for (kind, what) in [
        ("reflection_run", "reflection runs"),
        ("old_index", "indexes a rebuild moved aside"),
    ] {
        let paths: Vec<&str> = r
            .other_copies
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.path.as_str())
            .collect();
        if !paths.is_empty() {
            warn(
                tool,
                format_args!(
                    "{what} still hold this session's text (not deleted): {}",
                    paths.join(" ")
                ),
            );
        }
    }
    if !r.wal_checkpointed {
        warn(
            tool,
            format_args!(
                "{}-wal could not be truncated (a reader was busy) and may hold older copies until it is reused; run the forget again later",
                db_path.display()
            ),
        );
    }
    let mut out = Out::new();
    out.json(&r)?;
    out.flush()?;
    Ok(Exit::Ok)
}

pub fn list(state: &StateArgs) -> Result<Exit, Failure> {
    let db_path = state.db();
    let tombstones = match db::open_ro(&db_path, db::ReadOnly::Upgrade)? {
        Some(conn) => forget::list(&conn)?,
        None => Vec::new(),
    };
    let mut out = Out::new();
    out.json(&ForgetList {
        kind: "forget_list",
        count: tombstones.len(),
        tombstones,
        db_path: db_path.display().to_string(),
    })?;
    out.flush()?;
    Ok(Exit::Ok)
}
