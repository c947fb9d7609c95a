//! The pipeline from a hook to the index: what `plugin/hooks/csep-hook.sh` runs for
//! SessionStart, Stop and SessionEnd ([`run`]: the hook policy), and the drainer a Stop starts
//! ([`drain`]: archive queue → index → trigger → reflection worker), with the hook log both
//! write ([`log`]). The hook must be fast and must never break the host: payloads are read
//! leniently, the only stdout is what the host accepts, and the slow work (archiving, the
//! trigger) is handed to a detached drainer through the spool. `src/cmd/hook.rs` only parses
//! arguments, calls these and prints.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::redact::redact;
use crate::text;
use crate::wire::{Agent, ArchiveRequest};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub mod drain;
pub mod host;
pub mod log;
pub mod run;

pub use crate::provenance::REFLECTION_ENV;
pub use crate::wire::Event;
pub use drain::{run_trigger, Drain, DrainEnd};
pub use log::log;
pub use run::{run, Call};

/// What a hook call or a drain works in: the state dir, and its `config.toml`, read at most
/// once (a Stop that logs nothing special never reads it).
pub struct Ctx<'a> {
    pub state_dir: &'a Path,
    config: std::cell::OnceCell<Config>,
}

impl<'a> Ctx<'a> {
    pub fn new(state_dir: &'a Path) -> Ctx<'a> {
        Ctx {
            state_dir,
            config: std::cell::OnceCell::new(),
        }
    }

    /// With the config the caller has loaded already.
    pub fn with_config(state_dir: &'a Path, config: Config) -> Ctx<'a> {
        Ctx {
            state_dir,
            config: std::cell::OnceCell::from(config),
        }
    }

    pub fn config(&self) -> &Config {
        self.config
            .get_or_init(|| crate::config::load(self.state_dir).0)
    }
}

/// A payload read leniently: anything that is not a JSON object becomes an empty object, so
/// the host still gets a valid answer.
pub fn parse_payload(bytes: &[u8]) -> (Map<String, Value>, Option<String>) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => (m, None),
        Ok(_) => (Map::new(), Some("payload is not a JSON object".into())),
        Err(e) if bytes.iter().all(u8::is_ascii_whitespace) => {
            (Map::new(), Some(format!("empty payload ({e})")))
        }
        Err(e) => (Map::new(), Some(format!("payload is not JSON: {e}"))),
    }
}

/// A string field, if it is one.
pub fn field<'a>(payload: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    payload
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A check a payload field must pass (see [`drop_invalid_fields`]).
type Check = fn(&str) -> std::result::Result<&str, &'static str>;

/// The payload fields that name a path or an id, each with its check.
const CHECKED_FIELDS: &[(&str, Check)] = &[
    ("cwd", text::check_path),
    ("transcript_path", text::check_path),
    ("session_id", text::check_id),
];

/// Drops the payload fields that fail their check: `cwd` and `transcript_path` must be
/// absolute, normalized paths without control characters, `session_id` a plain id
/// (`text::check_path`, `text::check_id`). A value that fails is not half-used: from here on
/// the payload reads as if the field were missing, before it can reach a bucket name, the
/// context, the archive queue or a prompt. Returns `field: why` for each one dropped, for
/// hook.log (never the value).
pub fn drop_invalid_fields(payload: &mut Map<String, Value>) -> Vec<String> {
    let mut dropped = Vec::new();
    for (key, check) in CHECKED_FIELDS {
        let why = match payload.get(*key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => match check(s) {
                Ok(_) => continue,
                Err(why) => why,
            },
            Some(_) => "not a string",
        };
        payload.remove(*key);
        dropped.push(format!("{key}: {why}"));
    }
    dropped
}

/// The SessionStart answer `agent` accepts ([`host::session_start_value`]).
pub fn session_start_output(agent: Agent, context: &str) -> String {
    let out = host::session_start_value(agent, context).to_string();
    text::json_safe(&out).into_owned()
}

/// What to print for Stop / SessionEnd: Codex's Stop accepts exactly `{"continue":true}` (or
/// nothing); everything else gets nothing.
pub fn stop_output(agent: Agent, event: Event) -> &'static str {
    match (agent, event) {
        (Agent::Codex, Event::Stop) => "{\"continue\":true}",
        _ => "",
    }
}

/// The payload fields the archive queue keeps. `last_assistant_message` and prompts are left
/// out: the transcript has them, and the spool must not hold conversation text.
const KEPT_FIELDS: &[&str] = &[
    "session_id",
    "transcript_path",
    "cwd",
    "hook_event_name",
    "source",
    "reason",
    "turn_id",
    "stop_hook_active",
    "agent_id",
    "agent_type",
    "model",
];

/// Queues a Stop/SessionEnd payload for the drainer. Returns the queued file.
pub fn enqueue_archive(
    state_dir: &Path,
    agent: Agent,
    event: Event,
    payload: &Map<String, Value>,
) -> Result<PathBuf> {
    let mut kept = Map::new();
    for k in KEPT_FIELDS {
        if let Some(v) = payload.get(*k) {
            let v = match v {
                Value::String(s) => Value::String(redact(s).into_owned()),
                Value::Bool(_) | Value::Number(_) | Value::Null => v.clone(),
                _ => continue,
            };
            kept.insert((*k).to_string(), v);
        }
    }
    let item = ArchiveRequest::new(agent, event, crate::timefmt::now_ms(), kept);
    let queue = crate::spool::queue_dir(state_dir, "archive");
    fsutil::enqueue(
        &queue,
        &fsutil::unique_name(".json"),
        &item.to_bytes(),
        fsutil::Durability::Notice,
    )
}

/// Starts `exe args…` detached from the hook: its own session (so `claude -p` exiting does not
/// kill it), stdio closed, not waited for.
pub fn spawn_detached(exe: &Path, args: &[&str], state_dir: &Path) -> Result<()> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env("CSEP_HOME", state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
        .map(drop)
        .map_err(|e| Error::io(format!("starting {}", exe.display()), e))
}
