//! The hosts' side of `csep status`: whether csep's hooks are in Codex (`$CODEX_HOME/hooks.json`)
//! and Claude Code (`settings.json`), whether Codex trusts them, whether they are current
//! (they run this csep, this state directory and the hook script this csep ships), the plugin
//! bundle, and Claude Code's transcript retention against what the index holds.
//!
//! Codex's trust is checked offline: the hash Codex stores for a trusted hook
//! (`[hooks.state."<hooks.json>:<event>:<group>:<handler>"] trusted_hash` in config.toml) is
//! the sha256 of the handler's identity JSON (harness README, "Trust"), so csep computes it
//! the same way instead of starting `codex app-server`.

use crate::setup::{self, codex::EVENTS, HookTarget, HOOK_MARK, HOOK_SCRIPT};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// csep's hooks in one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostHooks {
    /// `$CODEX_HOME` or Claude Code's config directory.
    pub home: String,
    pub home_exists: bool,
    /// The file the hooks are in (`hooks.json`, `settings.json`).
    pub file: String,
    pub file_exists: bool,
    /// A csep handler for every event csep hooks (SessionStart, Stop, SessionEnd).
    pub installed: bool,
    /// Codex only: every csep handler is trusted with its current hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    /// Codex only: `[features] hooks` in config.toml (`null`: not set, Codex's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features_hooks: Option<Option<bool>>,
    /// Every csep handler runs this csep with this state directory, and the hook script is
    /// the one this csep ships: `csep setup` would change nothing.
    pub current: bool,
    pub events: Vec<HookEvent>,
    /// Why a file could not be read.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookEvent {
    pub event: &'static str,
    pub installed: bool,
    /// Codex only, when installed: `trusted`, `untrusted` (no stored hash) or `changed` (a
    /// stored hash for another definition: Codex skips the hook until it is trusted again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<&'static str>,
    pub current: bool,
    /// The command csep's handler runs, when there is one.
    pub command: Option<String>,
}

/// What a current installation's handlers run, and the script they run.
pub struct Expected {
    target: HookTarget,
    script_current: bool,
}

impl Expected {
    /// The MCP server registration setup would write for this csep and state directory.
    pub fn mcp_server(&self) -> setup::mcp::Server {
        setup::mcp::Server {
            csep_bin: self.target.csep_bin.clone(),
            state_dir: self.target.state_dir.clone(),
        }
    }

    pub fn new(state_dir: &Path) -> Expected {
        let state_dir = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.into());
        let csep_bin = std::env::current_exe()
            .map(|p| fs::canonicalize(&p).unwrap_or(p))
            .unwrap_or_else(|_| PathBuf::from("csep"));
        let script = state_dir.join("bin").join("csep-hook.sh");
        let script_current = fs::read(&script).is_ok_and(|b| b == HOOK_SCRIPT.as_bytes());
        Expected {
            target: HookTarget {
                csep_bin,
                state_dir,
                script,
            },
            script_current,
        }
    }
}

/// The first csep handler of `event` in a `{"hooks": {event: [groups]}}` document, with its
/// group and handler index.
fn our_handler<'a>(doc: &'a Value, event: &str) -> Option<(usize, usize, &'a Value)> {
    let groups = doc.get("hooks")?.get(event)?.as_array()?;
    groups.iter().enumerate().find_map(|(g, group)| {
        group
            .get("hooks")?
            .as_array()?
            .iter()
            .enumerate()
            .find(|(_, h)| {
                h.get("command")
                    .and_then(Value::as_str)
                    .is_some_and(|c| c.contains(HOOK_MARK))
            })
            .map(|(h, handler)| (g, h, handler))
    })
}

fn snake(event: &str) -> String {
    let mut out = String::new();
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The hash Codex stores for a trusted command handler without matcher or status message:
/// sha256 of `{"event_name":…,"hooks":[{"async":false,"command":…,"timeout":…,"type":"command"}]}`
/// (keys sorted, no spaces, non-ASCII kept). `None` for a handler csep did not write in that
/// form (it has a matcher, a status message, or no timeout).
pub fn codex_trust_hash(event: &str, group: &Value, handler: &Value) -> Option<String> {
    if group.get("matcher").is_some() || handler.get("statusMessage").is_some() {
        return None;
    }
    let command = handler.get("command")?.as_str()?;
    let timeout = handler.get("timeout")?.as_u64()?;
    let is_async = handler.get("async").map_or(Some(false), Value::as_bool)?;
    let identity = format!(
        r#"{{"event_name":{},"hooks":[{{"async":{is_async},"command":{},"timeout":{timeout},"type":"command"}}]}}"#,
        Value::from(snake(event)),
        Value::from(command),
    );
    Some(format!("sha256:{}", setup::sha256_hex(identity.as_bytes())))
}

fn read_json(path: &Path) -> (Option<Value>, Option<String>) {
    match fs::read(path) {
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(v) => (Some(v), None),
            Err(e) => (
                None,
                Some(format!("{}: not valid JSON ({e})", path.display())),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(e) => (None, Some(format!("{}: {e}", path.display()))),
    }
}

/// csep's hooks in Codex.
pub fn codex(codex_home: &Path, expected: &Expected) -> HostHooks {
    let file = codex_home.join("hooks.json");
    let (doc, mut error) = read_json(&file);
    let config_path = codex_home.join("config.toml");
    let config: Option<toml::Table> = match fs::read_to_string(&config_path) {
        Ok(t) => match t.parse() {
            Ok(t) => Some(t),
            Err(e) => {
                error.get_or_insert(format!("{}: not valid TOML ({e})", config_path.display()));
                None
            }
        },
        Err(_) => None,
    };
    let stored: HashMap<String, String> = config
        .as_ref()
        .and_then(|c| c.get("hooks")?.get("state")?.as_table().cloned())
        .map(|t| {
            t.into_iter()
                .filter_map(|(k, v)| Some((k, v.get("trusted_hash")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let features_hooks = config
        .as_ref()
        .and_then(|c| c.get("features")?.get("hooks")?.as_bool());
    let file_key = std::path::absolute(&file).unwrap_or_else(|_| file.clone());
    let events: Vec<HookEvent> = EVENTS
        .iter()
        .map(|(event, _)| {
            let found = doc.as_ref().and_then(|d| our_handler(d, event));
            let Some((g, h, handler)) = found else {
                return HookEvent {
                    event,
                    installed: false,
                    trust: None,
                    current: false,
                    command: None,
                };
            };
            let group = &doc.as_ref().unwrap()["hooks"][event][g];
            let key = format!("{}:{}:{g}:{h}", file_key.display(), snake(event));
            let trust = match (stored.get(&key), codex_trust_hash(event, group, handler)) {
                (None, _) => "untrusted",
                (Some(s), Some(now)) if *s == now => "trusted",
                _ => "changed",
            };
            event_of(event, handler, "codex", expected, Some(trust))
        })
        .collect();
    let trusted = events.iter().all(|e| e.trust == Some("trusted"));
    HostHooks {
        trusted: Some(trusted),
        features_hooks: Some(features_hooks),
        ..host_hooks(codex_home, &file, events, error)
    }
}

fn event_of(
    event: &'static str,
    handler: &Value,
    agent: &str,
    expected: &Expected,
    trust: Option<&'static str>,
) -> HookEvent {
    let command = handler.get("command").and_then(Value::as_str);
    HookEvent {
        event,
        installed: true,
        trust,
        current: expected.script_current && command == Some(&expected.target.command(agent)),
        command: command.map(str::to_string),
    }
}

/// csep's hooks in Claude Code's `settings.json`.
pub fn claude(claude_dir: &Path, expected: &Expected) -> HostHooks {
    let file = claude_dir.join("settings.json");
    let (doc, error) = read_json(&file);
    let events: Vec<HookEvent> = EVENTS
        .iter()
        .map(
            |(event, _)| match doc.as_ref().and_then(|d| our_handler(d, event)) {
                Some((_, _, handler)) => event_of(event, handler, "claude", expected, None),
                None => HookEvent {
                    event,
                    installed: false,
                    trust: None,
                    current: false,
                    command: None,
                },
            },
        )
        .collect();
    host_hooks(claude_dir, &file, events, error)
}

/// csep's hooks in one of the hosts csep added after Codex and Claude Code
/// ([`setup::hosts::NAMES`]): its JSON hook file, or OpenCode's plugin file (one pseudo-event,
/// `plugin`, current when it is the plugin this csep would install).
pub fn more_host(agent: &str, expected: &Expected) -> HostHooks {
    let home = setup::hosts::home(agent).unwrap_or_default();
    let file = setup::hosts::file(agent, &home).unwrap_or_default();
    let mut error = None;
    let events: Vec<HookEvent> = match setup::hostfile::spec(agent) {
        Some(spec) => {
            let (doc, e) = read_json(&file);
            error = e;
            spec.events
                .iter()
                .map(|(event, _)| {
                    let handler = doc.as_ref().and_then(|d| spec.find_ours(d, event));
                    let command = handler.and_then(|h| spec.command_of(h));
                    HookEvent {
                        event,
                        installed: handler.is_some(),
                        trust: None,
                        current: expected.script_current
                            && command == Some(&spec.command(&expected.target, event)),
                        command: command.map(str::to_string),
                    }
                })
                .collect()
        }
        None => {
            let bytes = fs::read(&file).ok();
            vec![HookEvent {
                event: "plugin",
                installed: bytes.is_some(),
                trust: None,
                current: bytes.as_deref()
                    == Some(setup::opencode::render(&expected.target).as_bytes()),
                command: None,
            }]
        }
    };
    host_hooks(&home, &file, events, error)
}

/// A host's hooks from its events: installed and current when every event is.
fn host_hooks(
    home: &Path,
    file: &Path,
    events: Vec<HookEvent>,
    error: Option<String>,
) -> HostHooks {
    HostHooks {
        home: home.display().to_string(),
        home_exists: home.is_dir(),
        file: file.display().to_string(),
        file_exists: file.is_file(),
        installed: events.iter().all(|e| e.installed),
        trusted: None,
        features_hooks: None,
        current: events.iter().all(|e| e.current),
        events,
        error,
    }
}

/// The plugin bundle (`plugin/`: the Codex plugin manifest, hooks.json, the recall skill).
#[derive(Debug, Clone, Serialize)]
pub struct PluginBundle {
    /// Where it was looked for, in order: `$CSEP_PLUGIN_ROOT`, `<prefix>/share/csep/plugin`
    /// next to the csep binary (where scripts/install.sh puts it), the source tree csep was
    /// built from.
    pub searched: Vec<String>,
    pub root: Option<String>,
    pub found: bool,
    pub manifest_exists: bool,
    pub hooks_file_exists: bool,
    /// Events its hooks.json declares.
    pub events_declared: Vec<String>,
    /// Its skills (directories holding a SKILL.md).
    pub skills: Vec<String>,
    pub error: Option<String>,
}

pub fn plugin_bundle() -> PluginBundle {
    let mut searched: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os("CSEP_PLUGIN_ROOT").filter(|v| !v.is_empty()) {
        searched.push(PathBuf::from(v));
    }
    if let Some(prefix) = std::env::current_exe()
        .ok()
        .and_then(|e| fs::canonicalize(e).ok())
        .and_then(|e| Some(e.parent()?.parent()?.to_path_buf()))
    {
        searched.push(prefix.join("share/csep/plugin"));
    }
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin");
    searched.push(fs::canonicalize(&source_tree).unwrap_or(source_tree));
    let root = searched
        .iter()
        .find(|r| r.join(".codex-plugin/plugin.json").is_file())
        .map(|r| fs::canonicalize(r).unwrap_or_else(|_| r.clone()));
    let mut b = PluginBundle {
        searched: searched.iter().map(|p| p.display().to_string()).collect(),
        root: root.as_ref().map(|r| r.display().to_string()),
        found: root.is_some(),
        manifest_exists: root.is_some(),
        hooks_file_exists: false,
        events_declared: Vec::new(),
        skills: Vec::new(),
        error: None,
    };
    let Some(root) = root else { return b };
    let hooks = root.join("hooks/hooks.json");
    b.hooks_file_exists = hooks.is_file();
    let (doc, error) = read_json(&hooks);
    b.error = error;
    if let Some(events) = doc.as_ref().and_then(|d| d.get("hooks")?.as_object()) {
        b.events_declared = events.keys().cloned().collect();
    }
    if let Ok(rd) = fs::read_dir(root.join("skills")) {
        b.skills = rd
            .flatten()
            .filter(|e| e.path().join("SKILL.md").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        b.skills.sort();
    }
    b
}

/// Claude Code deletes transcripts older than `cleanupPeriodDays` (30 by default): what is
/// not archived by then is gone.
#[derive(Debug, Clone, Serialize)]
pub struct ClaudeRetention {
    pub settings_json: String,
    pub cleanup_period_days: u64,
    /// `settings` (from settings.json) or `default`.
    pub cleanup_period_source: &'static str,
    pub projects_root: String,
    /// Transcript files (`*.jsonl`, subagent files included) on disk now.
    pub transcripts: u64,
    /// Of those, the ones the index does not hold whole (never indexed, or grown since).
    pub not_archived: u64,
    /// Not archived, and within [`AT_RISK_DAYS`] of Claude Code's cleanup.
    pub at_risk: u64,
    pub oldest_not_archived_age_days: Option<u64>,
}

/// How close to Claude Code's cleanup an unarchived transcript must be to count as at risk.
pub const AT_RISK_DAYS: u64 = 3;

/// `indexed` maps a source path to the size the index holds of it.
pub fn claude_retention(claude_dir: &Path, indexed: &HashMap<String, u64>) -> ClaudeRetention {
    let settings = claude_dir.join("settings.json");
    let days = read_json(&settings)
        .0
        .and_then(|v| v.get("cleanupPeriodDays")?.as_u64());
    let root = claude_dir.join("projects");
    let root = fs::canonicalize(&root).unwrap_or(root);
    let mut r = ClaudeRetention {
        settings_json: settings.display().to_string(),
        cleanup_period_days: days.unwrap_or(30),
        cleanup_period_source: if days.is_some() {
            "settings"
        } else {
            "default"
        },
        projects_root: root.display().to_string(),
        transcripts: 0,
        not_archived: 0,
        at_risk: 0,
        oldest_not_archived_age_days: None,
    };
    let now = std::time::SystemTime::now();
    for entry in walkdir::WalkDir::new(&root)
        .max_depth(4)
        .into_iter()
        .flatten()
    {
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        r.transcripts += 1;
        let path = entry.path().to_string_lossy();
        if indexed.get(path.as_ref()).is_some_and(|&s| s >= meta.len()) {
            continue;
        }
        r.not_archived += 1;
        let age_days = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .map_or(0, |d| d.as_secs() / 86_400);
        r.oldest_not_archived_age_days = Some(
            r.oldest_not_archived_age_days
                .map_or(age_days, |o| o.max(age_days)),
        );
        if age_days + AT_RISK_DAYS >= r.cleanup_period_days {
            r.at_risk += 1;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_and_the_trust_hash_follow_codex() {
        assert_eq!(snake("SessionStart"), "session_start");
        assert_eq!(snake("Stop"), "stop");
        assert_eq!(snake("SessionEnd"), "session_end");
        let group = serde_json::json!({"hooks": []});
        let handler = serde_json::json!({"type": "command", "command": "echo hi", "timeout": 10});
        // The identity string, hashed: what the harness README's Python one-liner gives.
        let want = format!(
            "sha256:{}",
            setup::sha256_hex(
                br#"{"event_name":"stop","hooks":[{"async":false,"command":"echo hi","timeout":10,"type":"command"}]}"#
            )
        );
        assert_eq!(codex_trust_hash("Stop", &group, &handler), Some(want));
        let with_matcher = serde_json::json!({"matcher": "x", "hooks": []});
        assert_eq!(codex_trust_hash("Stop", &with_matcher, &handler), None);
    }
}
