//! `$STATE_DIR/config.toml`: every knob, typed, with csep 1.3.10's key names and defaults so
//! a 1.3.10 user's file keeps working unchanged.
//!
//! Loading never fails. A hook must not break because someone mistyped a key, so a missing
//! file means defaults, an unreadable or unparsable file means defaults plus a warning, and
//! every unknown key, wrong type or out-of-range value is a warning while the rest of the file
//! still applies. Callers decide where warnings go (the CLI prints them on stderr).
//!
//! Known keys (dotted path = default):
//!
//! ```toml
//! schema_version = 2
//! [memory]
//! inject_max_chars = 8000                 # csep only: MEMORY.md characters injected at start
//! [session_reflection]
//! enabled = true
//! backend = "codex-app-server"
//! model = "gpt-5.3-codex-spark"
//! ephemeral = true
//! sandbox = "danger-full-access"
//! approval_policy = "never"
//! skill_prefix = "csep-reflect-"
//! timeout_seconds = 900.0
//! max_concurrent_jobs = 1
//! command = []                            # csep only: the argv of backend = "command"
//! [session_reflection.trigger]
//! enabled = true
//! memory_stop_interval = 3
//! memory_context_chars = 16000
//! skill_tool_call_interval = 15
//! high_signal_immediate = true
//! skill_generation_mode = "one_shot_active"
//! active_job_stale_seconds = 1800
//! [session_recall]
//! enabled = true
//! stop_hook_archive = true
//! [log]
//! retention_days = 14
//! ```

use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The schema version 1.3.10 writes and reads; other versions load with a warning.
pub const SCHEMA_VERSION: i64 = 2;

/// Generated skills must live under this prefix so reflection never touches a user's skills.
pub const REFLECT_SKILL_PREFIX: &str = "csep-reflect-";

/// The values `skill_generation_mode` may take (1.3.10's two modes).
pub const SKILL_GENERATION_MODES: &[&str] = &["one_shot_active", "evidence_first"];
pub const SANDBOXES: &[&str] = &["read-only", "workspace-write", "danger-full-access"];
pub const APPROVAL_POLICIES: &[&str] = &["untrusted", "on-failure", "on-request", "never"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub schema_version: i64,
    pub memory: MemoryConfig,
    pub session_reflection: ReflectionConfig,
    pub session_recall: RecallConfig,
    pub log: LogConfig,
    /// Dotted keys whose value came from the file (everything else is a default), so
    /// `csep config show` can say where each value came from.
    #[serde(skip)]
    pub from_file: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryConfig {
    /// Characters of `MEMORY.md` injected at SessionStart (not a 1.3.10 key).
    pub inject_max_chars: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReflectionConfig {
    pub enabled: bool,
    pub backend: String,
    pub model: String,
    pub ephemeral: bool,
    pub sandbox: String,
    pub approval_policy: String,
    pub skill_prefix: String,
    pub timeout_seconds: f64,
    pub max_concurrent_jobs: u64,
    /// The program `backend = "command"` runs (not a 1.3.10 key): argv, prompt on stdin.
    pub command: Vec<String>,
    pub trigger: TriggerConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerConfig {
    pub enabled: bool,
    /// Stops since the last memory review that queue a memory review.
    pub memory_stop_interval: u64,
    /// Characters of new user and assistant text that queue a memory review.
    pub memory_context_chars: u64,
    /// Tool calls since the last skill review that queue a skill review.
    pub skill_tool_call_interval: u64,
    /// Whether a high-signal word in what the human typed queues at once.
    pub high_signal_immediate: bool,
    pub skill_generation_mode: String,
    /// A reservation older than this no longer defers new jobs (a crashed worker must not
    /// switch reflection off for the session forever).
    pub active_job_stale_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecallConfig {
    pub enabled: bool,
    pub stop_hook_archive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogConfig {
    pub retention_days: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            schema_version: SCHEMA_VERSION,
            memory: MemoryConfig {
                inject_max_chars: 8000,
            },
            session_reflection: ReflectionConfig {
                enabled: true,
                backend: "codex-app-server".into(),
                model: "gpt-5.3-codex-spark".into(),
                ephemeral: true,
                sandbox: "danger-full-access".into(),
                approval_policy: "never".into(),
                skill_prefix: REFLECT_SKILL_PREFIX.into(),
                timeout_seconds: 900.0,
                max_concurrent_jobs: 1,
                command: Vec::new(),
                trigger: TriggerConfig::default(),
            },
            session_recall: RecallConfig {
                enabled: true,
                stop_hook_archive: true,
            },
            log: LogConfig { retention_days: 14 },
            from_file: BTreeSet::new(),
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
            skill_generation_mode: "one_shot_active".into(),
            active_job_stale_seconds: 1800,
        }
    }
}

/// Where the file is.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("config.toml")
}

/// Reads `config.toml` under `state_dir`. Never fails: see the module doc.
pub fn load(state_dir: &Path) -> (Config, Vec<String>) {
    let file = path(state_dir);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Config::default(), vec![]),
        Err(e) => {
            return (
                Config::default(),
                vec![format!(
                    "{}: unreadable ({e}); using defaults",
                    file.display()
                )],
            )
        }
    };
    match parse(&text) {
        Ok((config, warnings)) => {
            let shown = file.display();
            (
                config,
                warnings
                    .into_iter()
                    .map(|w| format!("{shown}: {w}"))
                    .collect(),
            )
        }
        Err(e) => (
            Config::default(),
            vec![format!(
                "{}: not valid TOML ({}); using defaults",
                file.display(),
                e.trim()
            )],
        ),
    }
}

/// Parses the file's text. `Err` only when it is not TOML at all; everything else is a warning.
pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
    let root: Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut r = Reader::default();
    let mut config = Config::default();
    r.read_root(&root, &mut config);
    config.from_file = r.from_file;
    Ok((config, r.warnings))
}

#[derive(Default)]
struct Reader {
    warnings: Vec<String>,
    from_file: BTreeSet<String>,
}

/// Key names that look like credentials: 1.3.10 keeps those in `.env.provider`, and a value
/// here would sit in a world-readable file.
fn looks_like_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "api_key", "api-key", "apikey", "token", "secret", "password", "bearer",
    ]
    .iter()
    .any(|s| k == *s || k.ends_with(&format!("_{s}")))
}

impl Reader {
    fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    fn unknown(&mut self, key: &str) {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        if looks_like_secret(leaf) {
            self.warn(format!(
                "{key}: unknown key that looks like a secret; secrets belong in .env.provider"
            ));
        } else {
            self.warn(format!("{key}: unknown key (ignored)"));
        }
    }

    fn table<'a>(&mut self, parent: &'a Table, key: &str, dotted: &str) -> Option<&'a Table> {
        match parent.get(key)? {
            Value::Table(t) => Some(t),
            _ => {
                self.warn(format!("{dotted}: must be a table (ignored)"));
                None
            }
        }
    }

    fn bool(&mut self, t: &Table, key: &str, dotted: &str, slot: &mut bool) {
        match t.get(key) {
            None => {}
            Some(Value::Boolean(b)) => {
                *slot = *b;
                self.from_file.insert(dotted.to_string());
            }
            Some(_) => self.warn(format!("{dotted}: must be true or false (default kept)")),
        }
    }

    fn string(&mut self, t: &Table, key: &str, dotted: &str, slot: &mut String) {
        match t.get(key) {
            None => {}
            Some(Value::String(s)) if !s.is_empty() => {
                *slot = s.clone();
                self.from_file.insert(dotted.to_string());
            }
            Some(_) => self.warn(format!(
                "{dotted}: must be a non-empty string (default kept)"
            )),
        }
    }

    /// A positive whole number (1.3.10 refuses zero and negatives for every count).
    fn count(&mut self, t: &Table, key: &str, dotted: &str, slot: &mut u64) {
        match t.get(key) {
            None => {}
            Some(Value::Integer(n)) if *n > 0 => {
                *slot = *n as u64;
                self.from_file.insert(dotted.to_string());
            }
            Some(Value::Integer(_)) => {
                self.warn(format!("{dotted}: must be positive (default kept)"))
            }
            Some(_) => self.warn(format!("{dotted}: must be a whole number (default kept)")),
        }
    }

    /// A non-empty list of non-empty strings (an argv).
    fn argv(&mut self, t: &Table, key: &str, dotted: &str, slot: &mut Vec<String>) {
        match t.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                let argv: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                    .collect();
                match argv {
                    Some(argv) if !argv.is_empty() => {
                        *slot = argv;
                        self.from_file.insert(dotted.to_string());
                    }
                    _ => self.warn(format!(
                        "{dotted}: must be a non-empty list of non-empty strings (default kept)"
                    )),
                }
            }
            Some(_) => self.warn(format!(
                "{dotted}: must be a list of strings, such as [\"sh\", \"reflect.sh\"] (default kept)"
            )),
        }
    }

    fn seconds(&mut self, t: &Table, key: &str, dotted: &str, slot: &mut f64) {
        let v = match t.get(key) {
            None => return,
            Some(Value::Integer(n)) => *n as f64,
            Some(Value::Float(f)) => *f,
            Some(_) => {
                self.warn(format!("{dotted}: must be a number (default kept)"));
                return;
            }
        };
        if v > 0.0 && v.is_finite() {
            *slot = v;
            self.from_file.insert(dotted.to_string());
        } else {
            self.warn(format!("{dotted}: must be positive (default kept)"));
        }
    }

    /// An enumerated string outside its set falls back to the default, as in 1.3.10.
    fn one_of(&mut self, dotted: &str, slot: &mut String, allowed: &[&str], default: &str) {
        if !allowed.contains(&slot.as_str()) {
            self.warn(format!(
                "{dotted}: {slot:?} is not one of {}; using {default:?}",
                allowed.join(", ")
            ));
            *slot = default.to_string();
            self.from_file.remove(dotted);
        }
    }

    fn read_root(&mut self, root: &Table, c: &mut Config) {
        for key in root.keys() {
            if ![
                "schema_version",
                "memory",
                "session_reflection",
                "session_recall",
                "log",
            ]
            .contains(&key.as_str())
            {
                self.unknown(key);
            }
        }
        match root.get("schema_version") {
            None => {}
            Some(Value::Integer(v)) => {
                c.schema_version = *v;
                self.from_file.insert("schema_version".into());
                if *v != SCHEMA_VERSION {
                    self.warn(format!(
                        "schema_version = {v}: this csep reads version {SCHEMA_VERSION}; \
                         keys it knows still apply"
                    ));
                }
            }
            Some(_) => self.warn("schema_version: must be a whole number (ignored)".into()),
        }
        if let Some(t) = self.table(root, "memory", "memory") {
            self.known(t, "memory", &["inject_max_chars"]);
            self.count(
                t,
                "inject_max_chars",
                "memory.inject_max_chars",
                &mut c.memory.inject_max_chars,
            );
        }
        if let Some(t) = self.table(root, "session_reflection", "session_reflection") {
            self.read_reflection(t, &mut c.session_reflection);
        }
        if let Some(t) = self.table(root, "session_recall", "session_recall") {
            self.known(t, "session_recall", &["enabled", "stop_hook_archive"]);
            let r = &mut c.session_recall;
            self.bool(t, "enabled", "session_recall.enabled", &mut r.enabled);
            self.bool(
                t,
                "stop_hook_archive",
                "session_recall.stop_hook_archive",
                &mut r.stop_hook_archive,
            );
        }
        if let Some(t) = self.table(root, "log", "log") {
            self.known(t, "log", &["retention_days"]);
            self.count(
                t,
                "retention_days",
                "log.retention_days",
                &mut c.log.retention_days,
            );
        }
        let r = &mut c.session_reflection;
        self.one_of(
            "session_reflection.sandbox",
            &mut r.sandbox,
            SANDBOXES,
            "danger-full-access",
        );
        self.one_of(
            "session_reflection.approval_policy",
            &mut r.approval_policy,
            APPROVAL_POLICIES,
            "never",
        );
        self.one_of(
            "session_reflection.trigger.skill_generation_mode",
            &mut r.trigger.skill_generation_mode,
            SKILL_GENERATION_MODES,
            "one_shot_active",
        );
        if !r.skill_prefix.starts_with(REFLECT_SKILL_PREFIX) {
            self.warn(format!(
                "session_reflection.skill_prefix: must start with {REFLECT_SKILL_PREFIX:?}; using it"
            ));
            r.skill_prefix = REFLECT_SKILL_PREFIX.into();
            self.from_file.remove("session_reflection.skill_prefix");
        }
    }

    /// Warns about every key of `t` not in `keys`.
    fn known(&mut self, t: &Table, prefix: &str, keys: &[&str]) {
        for k in t.keys() {
            if !keys.contains(&k.as_str()) {
                self.unknown(&format!("{prefix}.{k}"));
            }
        }
    }

    fn read_reflection(&mut self, t: &Table, r: &mut ReflectionConfig) {
        const P: &str = "session_reflection";
        self.known(
            t,
            P,
            &[
                "enabled",
                "backend",
                "model",
                "ephemeral",
                "sandbox",
                "approval_policy",
                "skill_prefix",
                "timeout_seconds",
                "max_concurrent_jobs",
                "command",
                "trigger",
            ],
        );
        self.bool(t, "enabled", "session_reflection.enabled", &mut r.enabled);
        self.string(t, "backend", "session_reflection.backend", &mut r.backend);
        self.string(t, "model", "session_reflection.model", &mut r.model);
        self.bool(
            t,
            "ephemeral",
            "session_reflection.ephemeral",
            &mut r.ephemeral,
        );
        self.string(t, "sandbox", "session_reflection.sandbox", &mut r.sandbox);
        self.string(
            t,
            "approval_policy",
            "session_reflection.approval_policy",
            &mut r.approval_policy,
        );
        self.string(
            t,
            "skill_prefix",
            "session_reflection.skill_prefix",
            &mut r.skill_prefix,
        );
        self.seconds(
            t,
            "timeout_seconds",
            "session_reflection.timeout_seconds",
            &mut r.timeout_seconds,
        );
        self.count(
            t,
            "max_concurrent_jobs",
            "session_reflection.max_concurrent_jobs",
            &mut r.max_concurrent_jobs,
        );
        self.argv(t, "command", "session_reflection.command", &mut r.command);
        let Some(tt) = self.table(t, "trigger", "session_reflection.trigger") else {
            return;
        };
        const T: &str = "session_reflection.trigger";
        self.known(
            tt,
            T,
            &[
                "enabled",
                "memory_stop_interval",
                "memory_context_chars",
                "skill_tool_call_interval",
                "high_signal_immediate",
                "skill_generation_mode",
                "active_job_stale_seconds",
            ],
        );
        let g = &mut r.trigger;
        self.bool(tt, "enabled", &format!("{T}.enabled"), &mut g.enabled);
        self.count(
            tt,
            "memory_stop_interval",
            &format!("{T}.memory_stop_interval"),
            &mut g.memory_stop_interval,
        );
        self.count(
            tt,
            "memory_context_chars",
            &format!("{T}.memory_context_chars"),
            &mut g.memory_context_chars,
        );
        self.count(
            tt,
            "skill_tool_call_interval",
            &format!("{T}.skill_tool_call_interval"),
            &mut g.skill_tool_call_interval,
        );
        self.bool(
            tt,
            "high_signal_immediate",
            &format!("{T}.high_signal_immediate"),
            &mut g.high_signal_immediate,
        );
        self.string(
            tt,
            "skill_generation_mode",
            &format!("{T}.skill_generation_mode"),
            &mut g.skill_generation_mode,
        );
        self.count(
            tt,
            "active_job_stale_seconds",
            &format!("{T}.active_job_stale_seconds"),
            &mut g.active_job_stale_seconds,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_all_defaults_and_no_warning() {
        let dir = tempfile::tempdir().unwrap();
        let (c, w) = load(dir.path());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c, Config::default());
        let t = &c.session_reflection.trigger;
        assert_eq!(
            (
                t.memory_stop_interval,
                t.memory_context_chars,
                t.skill_tool_call_interval
            ),
            (3, 16000, 15)
        );
        assert_eq!(t.active_job_stale_seconds, 1800);
        assert!(t.enabled && t.high_signal_immediate);
        assert_eq!(c.memory.inject_max_chars, 8000);
        assert_eq!(c.schema_version, 2);
    }

    #[test]
    fn the_1_3_10_template_loads_without_a_warning() {
        // What `csep config init` of 1.3.10 writes, plus our [memory] table.
        let text = r#"
schema_version = 2
[memory]
inject_max_chars = 6000
[session_reflection]
enabled = true
backend = "codex-app-server"
model = "gpt-5.3-codex-spark"
ephemeral = true
sandbox = "danger-full-access"
approval_policy = "never"
skill_prefix = "csep-reflect-"
timeout_seconds = 900
max_concurrent_jobs = 1
[session_reflection.trigger]
enabled = true
memory_stop_interval = 5
memory_context_chars = 16000
skill_tool_call_interval = 15
high_signal_immediate = false
skill_generation_mode = "evidence_first"
active_job_stale_seconds = 60
[session_recall]
enabled = true
stop_hook_archive = true
[log]
retention_days = 14
"#;
        let (c, w) = parse(text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.memory.inject_max_chars, 6000);
        let t = &c.session_reflection.trigger;
        assert_eq!(t.memory_stop_interval, 5);
        assert!(!t.high_signal_immediate);
        assert_eq!(t.skill_generation_mode, "evidence_first");
        assert_eq!(t.active_job_stale_seconds, 60);
        assert!(c
            .from_file
            .contains("session_reflection.trigger.memory_stop_interval"));
        assert!(c.from_file.contains("memory.inject_max_chars"));
        assert!(c.from_file.contains("schema_version"));
    }

    #[test]
    fn unknown_keys_and_bad_values_warn_and_keep_the_rest() {
        let text = r#"
colour = "red"
[session_reflection]
modle = "x"
openai_api_key = "sk-nope"
[session_reflection.trigger]
memory_stop_interval = 0
memory_context_chars = "lots"
skill_tool_call_interval = 7
skill_generation_mode = "always"
[log]
retention_days = true
"#;
        let (c, w) = parse(text).unwrap();
        let all = w.join("\n");
        assert!(all.contains("colour: unknown key"), "{all}");
        assert!(
            all.contains("session_reflection.modle: unknown key"),
            "{all}"
        );
        assert!(
            all.contains("openai_api_key: unknown key that looks like a secret"),
            "{all}"
        );
        assert!(
            all.contains("memory_stop_interval: must be positive"),
            "{all}"
        );
        assert!(
            all.contains("memory_context_chars: must be a whole number"),
            "{all}"
        );
        assert!(
            all.contains("skill_generation_mode: \"always\" is not one of"),
            "{all}"
        );
        assert!(
            all.contains("log.retention_days: must be a whole number"),
            "{all}"
        );
        assert_eq!(w.len(), 7, "{all}");
        let t = &c.session_reflection.trigger;
        assert_eq!(t.memory_stop_interval, 3);
        assert_eq!(t.memory_context_chars, 16000);
        assert_eq!(t.skill_tool_call_interval, 7);
        assert_eq!(t.skill_generation_mode, "one_shot_active");
        assert!(!c
            .from_file
            .contains("session_reflection.trigger.skill_generation_mode"));
    }

    #[test]
    fn a_broken_or_unreadable_file_is_defaults_plus_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "[session_reflection\nenabled = ").unwrap();
        let (c, w) = load(dir.path());
        assert_eq!(c, Config::default());
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("not valid TOML") && w[0].contains("config.toml"),
            "{w:?}"
        );

        std::fs::remove_file(path(dir.path())).unwrap();
        std::fs::create_dir(path(dir.path())).unwrap();
        let (c, w) = load(dir.path());
        assert_eq!(c, Config::default());
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("unreadable"), "{w:?}");
    }

    #[test]
    fn the_command_backend_takes_an_argv() {
        let (c, w) = parse(
            "[session_reflection]\nbackend = \"command\"\ncommand = [\"sh\", \"reflect.sh\"]\n",
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.session_reflection.command, vec!["sh", "reflect.sh"]);
        assert!(c.from_file.contains("session_reflection.command"));
        for bad in [
            "command = \"sh x\"",
            "command = []",
            "command = [\"sh\", 1]",
        ] {
            let (c, w) = parse(&format!("[session_reflection]\n{bad}\n")).unwrap();
            assert_eq!(w.len(), 1, "{bad}: {w:?}");
            assert!(
                w[0].starts_with("session_reflection.command: must be"),
                "{w:?}"
            );
            assert!(c.session_reflection.command.is_empty());
        }
    }

    #[test]
    fn a_non_table_section_and_another_schema_version_warn() {
        let (c, w) = parse("schema_version = 3\nsession_reflection = 1\n").unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("schema_version = 3"));
        assert!(w[1].contains("session_reflection: must be a table"));
        assert_eq!(c.schema_version, 3);
        assert!(c.session_reflection.enabled);
    }
}
