//! `$STATE_DIR/config.toml`: every knob, typed, with csep 1.3.10's key names and defaults so
//! a 1.3.10 user's file keeps working unchanged.
//!
//! The types below are the schema: each struct is a `[table]`, each field a key, and its
//! `Default` impl is the one place a default is written. [`TEMPLATE`] (`template.toml`, what
//! `csep config init` writes) lists every key with what it does; a test checks it names each
//! one at its default.
//!
//! Loading never fails. A hook must not break because someone mistyped a key, so a missing
//! file means defaults, an unreadable or unparsable file means defaults plus a warning, and
//! every unknown key, wrong type or out-of-range value is a warning while the rest of the file
//! still applies (`read.rs`; the rule each key's value must follow is in `values.rs`).
//! Callers decide where warnings go (the CLI prints them on stderr). A string value that
//! looks like a credential is a warning too, under any key: secrets belong in
//! `.env.provider` (see `envfile`). [`check`] gives each warning its key and kind, for
//! `csep config validate`.

mod read;
mod values;

pub use read::{check, load, parse, parse_checked, redact_patterns, Checked, Warning, WarningKind};
pub use values::{ApprovalPolicy, Backend, Sandbox, SkillGenerationMode};

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The schema version 1.3.10 writes and reads; other versions load with a warning.
pub const SCHEMA_VERSION: i64 = 2;

/// Generated skills must live under this prefix so reflection never touches a user's skills.
pub const REFLECT_SKILL_PREFIX: &str = "csep-reflect-";

/// What `csep config init` writes: every key, commented out at its default value, with what
/// it does. Commented out so that writing the file changes nothing: a value written into the
/// file is no longer a default (`session_reflection.model` from the file reaches Claude Code
/// as `--model`; a default changed in a later csep would not reach the user).
pub const TEMPLATE: &str = include_str!("template.toml");

// Field order is the order of `csep config show`'s `resolved` object; `#[serde(default)]`
// takes a missing key's value from the `Default` impl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(deserialize_with = "values::version")]
    pub schema_version: i64,
    pub memory: MemoryConfig,
    pub session_reflection: ReflectionConfig,
    pub session_recall: RecallConfig,
    pub log: LogConfig,
    pub redact: RedactConfig,
    /// Dotted keys whose value came from the file (everything else is a default), so
    /// `csep config show` can say where each value came from.
    #[serde(skip)]
    pub from_file: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryConfig {
    /// Characters of `MEMORY.md` injected at SessionStart (not a 1.3.10 key).
    #[serde(deserialize_with = "values::count")]
    pub inject_max_chars: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReflectionConfig {
    #[serde(deserialize_with = "values::flag")]
    pub enabled: bool,
    #[serde(deserialize_with = "values::backend")]
    pub backend: Backend,
    #[serde(deserialize_with = "values::text")]
    pub model: String,
    #[serde(deserialize_with = "values::flag")]
    pub ephemeral: bool,
    #[serde(deserialize_with = "values::choice")]
    pub sandbox: Sandbox,
    #[serde(deserialize_with = "values::choice")]
    pub approval_policy: ApprovalPolicy,
    #[serde(deserialize_with = "values::skill_prefix")]
    pub skill_prefix: String,
    #[serde(deserialize_with = "values::seconds")]
    pub timeout_seconds: f64,
    #[serde(deserialize_with = "values::count")]
    pub max_concurrent_jobs: u64,
    /// The program `backend = "command"` runs (not a 1.3.10 key): argv, prompt on stdin.
    #[serde(deserialize_with = "values::argv")]
    pub command: Vec<String>,
    pub trigger: TriggerConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriggerConfig {
    #[serde(deserialize_with = "values::flag")]
    pub enabled: bool,
    /// Stops since the last memory review that queue a memory review.
    #[serde(deserialize_with = "values::count")]
    pub memory_stop_interval: u64,
    /// Characters of new user and assistant text that queue a memory review.
    #[serde(deserialize_with = "values::count")]
    pub memory_context_chars: u64,
    /// Tool calls since the last skill review that queue a skill review.
    #[serde(deserialize_with = "values::count")]
    pub skill_tool_call_interval: u64,
    /// Whether a high-signal word in what the human typed queues at once.
    #[serde(deserialize_with = "values::flag")]
    pub high_signal_immediate: bool,
    #[serde(deserialize_with = "values::choice")]
    pub skill_generation_mode: SkillGenerationMode,
    /// A reservation older than this no longer defers new jobs (a crashed worker must not
    /// switch reflection off for the session forever).
    #[serde(deserialize_with = "values::count")]
    pub active_job_stale_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecallConfig {
    #[serde(deserialize_with = "values::flag")]
    pub enabled: bool,
    #[serde(deserialize_with = "values::flag")]
    pub stop_hook_archive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// Dated log files older than this many days are deleted (`logs.rs`).
    #[serde(deserialize_with = "values::count")]
    pub retention_days: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedactConfig {
    /// The user's own secret patterns (not a 1.3.10 key), redacted as `user_pattern` on top
    /// of the built-in rules (`csep_lib::redact`). Only those that compile are kept.
    #[serde(deserialize_with = "values::patterns")]
    pub patterns: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            schema_version: SCHEMA_VERSION,
            memory: MemoryConfig::default(),
            session_reflection: ReflectionConfig::default(),
            session_recall: RecallConfig::default(),
            log: LogConfig::default(),
            redact: RedactConfig::default(),
            from_file: BTreeSet::new(),
        }
    }
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            inject_max_chars: 8000,
        }
    }
}

impl Default for ReflectionConfig {
    fn default() -> Self {
        ReflectionConfig {
            enabled: true,
            backend: Backend::Auto,
            model: "gpt-5.3-codex-spark".into(),
            ephemeral: true,
            sandbox: Sandbox::DangerFullAccess,
            approval_policy: ApprovalPolicy::Never,
            skill_prefix: REFLECT_SKILL_PREFIX.into(),
            timeout_seconds: 900.0,
            max_concurrent_jobs: 1,
            command: Vec::new(),
            trigger: TriggerConfig::default(),
        }
    }
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            enabled: true,
            memory_stop_interval: 3,
            memory_context_chars: 16000,
            skill_tool_call_interval: 15,
            high_signal_immediate: true,
            skill_generation_mode: SkillGenerationMode::OneShotActive,
            active_job_stale_seconds: 1800,
        }
    }
}

impl Default for RecallConfig {
    fn default() -> Self {
        RecallConfig {
            enabled: true,
            stop_hook_archive: true,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { retention_days: 14 }
    }
}

/// Where the file is.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("config.toml")
}

/// Every dotted key of the schema, tables included, in field order, each with whether it is
/// a table: read off the defaults, so a new field is known everywhere at once.
fn schema() -> &'static [(String, bool)] {
    static KEYS: OnceLock<Vec<(String, bool)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<(String, bool)>) {
            let serde_json::Value::Object(o) = v else {
                return;
            };
            for (k, child) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push((key.clone(), child.is_object()));
                walk(child, &key, out);
            }
        }
        let mut keys = Vec::new();
        let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
        walk(&defaults, "", &mut keys);
        keys
    })
}

impl Config {
    /// Every dotted key with a value (`log.retention_days`, …), sorted, and whether that
    /// value came from the file (`true`) or is a default.
    pub fn sources(&self) -> Vec<(String, bool)> {
        let mut keys: Vec<&String> = schema()
            .iter()
            .filter(|(_, table)| !table)
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.into_iter()
            .map(|k| (k.clone(), self.from_file.contains(k)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
