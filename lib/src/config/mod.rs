//! `$STATE_DIR/config.toml`: every knob, typed, with csep 1.3.10's key names and defaults so
//! a 1.3.10 user's file keeps working unchanged.
//!
//! Loading never fails. A hook must not break because someone mistyped a key, so a missing
//! file means defaults, an unreadable or unparsable file means defaults plus a warning, and
//! every unknown key, wrong type or out-of-range value is a warning while the rest of the file
//! still applies. Callers decide where warnings go (the CLI prints them on stderr). A string
//! value that looks like a credential is a warning too, under any key: secrets belong in
//! `.env.provider` (see `envfile`). [`check`] gives each warning its key and kind, for
//! `csep config validate`; [`TEMPLATE`] is what `csep config init` writes.
//!
//! Known keys (dotted path = default):
//!
//! ```toml
//! schema_version = 2
//! [memory]
//! inject_max_chars = 8000                 # csep only: MEMORY.md characters injected at start
//! [session_reflection]
//! enabled = true
//! backend = "auto"                       # csep: auto, builtin, codex (1.3.10: codex-app-server), claude, command
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
//! [redact]
//! patterns = []                           # csep only: more secret patterns (regexes)
//! ```

use crate::redact::redact;
use serde::Serialize;
use std::borrow::Cow;
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
    pub redact: RedactConfig,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RedactConfig {
    /// The user's own secret patterns (not a 1.3.10 key), redacted as `user_pattern` on top
    /// of the built-in rules (`csep_lib::redact`). Only those that compile are kept.
    pub patterns: Vec<String>,
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
                backend: "auto".into(),
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
            redact: RedactConfig::default(),
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

/// What is wrong with one key (or, with `key` null, with the whole file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The dotted key (`session_reflection.trigger.memory_stop_interval`); null when the
    /// warning is about the file as a whole.
    pub key: Option<String>,
    pub kind: WarningKind,
    /// What is wrong and what csep does instead; never the value of a secret.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(k) => write!(f, "{k}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The kinds of [`Warning`]; the names are stable (scripts match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A key csep does not know (a typo, or a key of a newer version).
    UnknownKey,
    /// A key named like a credential, or a value that looks like one.
    Secret,
    /// A value of the wrong type.
    WrongType,
    /// A value of the right type outside what the key allows.
    OutOfRange,
    /// A `schema_version` other than [`SCHEMA_VERSION`].
    SchemaVersion,
    /// The file is not TOML; every value is a default.
    ParseError,
    /// The file cannot be read; every value is a default.
    Unreadable,
    /// `.env.provider` can be read by others (see `envfile`).
    EnvFileMode,
    /// A `[redact] patterns` entry that is not a usable regular expression.
    InvalidPattern,
}

impl WarningKind {
    /// Whether the file as a whole could not be used (`csep config validate` exits 2).
    pub fn is_fatal(self) -> bool {
        matches!(self, WarningKind::ParseError | WarningKind::Unreadable)
    }
}

/// The file as [`check`] found it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub path: PathBuf,
    pub exists: bool,
    /// What csep uses: the file's values where they are good, defaults elsewhere.
    pub config: Config,
    pub warnings: Vec<Warning>,
}

/// Reads and checks `config.toml` under `state_dir`: [`load`] with warnings that name their
/// key and kind.
pub fn check(state_dir: &Path) -> Checked {
    let file = path(state_dir);
    let whole = |kind, message: String| Warning {
        key: None,
        kind,
        message,
    };
    let (config, warnings) = match std::fs::read_to_string(&file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), vec![]),
        Err(e) => (
            Config::default(),
            vec![whole(
                WarningKind::Unreadable,
                format!("unreadable ({e}); using defaults"),
            )],
        ),
        Ok(text) => match parse_checked(&text) {
            Ok(r) => r,
            Err(e) => (
                Config::default(),
                vec![whole(
                    WarningKind::ParseError,
                    format!("not valid TOML ({}); using defaults", e.trim()),
                )],
            ),
        },
    };
    Checked {
        exists: file.exists(),
        path: file,
        config,
        warnings,
    }
}

/// Reads `config.toml` under `state_dir`. Never fails: see the module doc. Each warning is
/// one line naming the file.
pub fn load(state_dir: &Path) -> (Config, Vec<String>) {
    let c = check(state_dir);
    let shown = c.path.display();
    let warnings = c.warnings.iter().map(|w| format!("{shown}: {w}")).collect();
    (c.config, warnings)
}

/// Only `[redact] patterns` under `state_dir`: the usable patterns, and a warning (naming
/// the file) for each one left out. For redaction itself, which must not redact while it
/// loads its rules, as [`load`] does (it looks for secrets in the file). Never fails: a
/// missing or broken file has no patterns.
pub fn redact_patterns(state_dir: &Path) -> (Vec<String>, Vec<String>) {
    let file = path(state_dir);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return (Vec::new(), Vec::new());
    };
    let Ok(root) = text.parse::<Table>() else {
        return (Vec::new(), Vec::new());
    };
    let mut r = Reader::default();
    let mut patterns = Vec::new();
    if let Some(Value::Table(t)) = root.get("redact") {
        r.patterns(t, &mut patterns);
    }
    let shown = file.display();
    let warnings = r.warnings.iter().map(|w| format!("{shown}: {w}")).collect();
    (patterns, warnings)
}

/// Parses the file's text. `Err` only when it is not TOML at all; everything else is a warning.
pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
    parse_checked(text).map(|(c, w)| (c, w.iter().map(Warning::to_string).collect()))
}

/// [`parse`] with structured warnings.
pub fn parse_checked(text: &str) -> Result<(Config, Vec<Warning>), String> {
    let root: Table = text
        .parse()
        .map_err(|e: toml::de::Error| one_line_error(&e, text))?;
    let mut r = Reader::default();
    let mut config = Config::default();
    r.read_root(&root, &mut config);
    r.secret_values(&Value::Table(root), "");
    config.from_file = r.from_file;
    Ok((config, r.warnings))
}

/// A TOML error as one line (`line 1, column 3: unclosed table, expected ']'`): the
/// parser's own text quotes the offending lines, and a warning is one line.
fn one_line_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

impl Config {
    /// Every dotted key with a value (`log.retention_days`, …), sorted, and whether that
    /// value came from the file (`true`) or is a default.
    pub fn sources(&self) -> Vec<(String, bool)> {
        fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(o) => {
                    for (k, child) in o {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(child, &key, out);
                    }
                }
                _ => out.push(prefix.to_string()),
            }
        }
        let mut keys = Vec::new();
        walk(
            &serde_json::to_value(self).unwrap_or_default(),
            "",
            &mut keys,
        );
        keys.sort();
        keys.into_iter()
            .map(|k| {
                let from_file = self.from_file.contains(&k);
                (k, from_file)
            })
            .collect()
    }
}

/// What `csep config init` writes: every key, commented out at its default value, with what
/// it does. Commented out so that writing the file changes nothing: a value written into the
/// file is no longer a default (`session_reflection.model` from the file reaches Claude Code
/// as `--model`; a default changed in a later csep would not reach the user).
pub const TEMPLATE: &str = r##"# csep configuration. Every key is listed below, commented out at its default
# value: remove the "# " in front of a key to set it. `csep config show` prints
# what is in effect and where each value comes from; `csep config validate`
# checks this file. Provider secrets never go here: they belong in
# .env.provider next to this file (mode 0600).

# The layout of this file; csep reads version 2, as csep 1.3.10 did.
# schema_version = 2

[memory]
# How many characters of the repository's MEMORY.md go into each new session.
# A longer file is cut at a line end, with a note saying where the rest is.
# inject_max_chars = 8000

[session_reflection]
# Whether sessions are reviewed at all (false: no review is queued or run).
# enabled = true
# Who proposes memory and skill changes: "auto" (Codex when it can run here,
# else Claude Code, else "builtin"; a model that fails on a job, logged out say,
# leaves that job to "builtin"), "builtin" (no model: csep keeps the directives
# the user typed, such as "remember: …", "always …", "never …"), "codex" (codex
# exec; "codex-app-server" is csep 1.3.10's name for the same), "claude"
# (claude -p) or "command" (the program named by `command` below).
# backend = "auto"
# The model the backend asks. Claude Code uses its own default model unless
# this key is set here.
# model = "gpt-5.3-codex-spark"
# Keep the review out of the host's saved sessions.
# ephemeral = true
# Read for csep 1.3.10 compatibility; not used: a review may only ever write
# its own run directory, whatever this says.
# sandbox = "danger-full-access"
# Read for csep 1.3.10 compatibility; not used: the codex backend never asks
# for approval.
# approval_policy = "never"
# Generated skills are named with this prefix. It must start with
# "csep-reflect-", so a review never touches a skill of yours.
# skill_prefix = "csep-reflect-"
# A review still running after this many seconds is stopped.
# timeout_seconds = 900.0
# Read for csep 1.3.10 compatibility; not used: one review runs at a time.
# max_concurrent_jobs = 1
# With backend = "command": the program to run, as a list of arguments. It
# gets the prompt on stdin and CSEP_RUN_DIR in its environment. No default.
# command = ["sh", "/path/to/reflect.sh"]

[session_reflection.trigger]
# Whether the hooks count stops and queue reviews.
# enabled = true
# Queue a memory review after this many stops since the last one,
# memory_stop_interval = 3
# or after this many characters of new user and assistant text.
# memory_context_chars = 16000
# Queue a skill review after this many tool calls since the last one.
# skill_tool_call_interval = 15
# Queue a review at once when the user says something like "remember ..." or
# "from now on ...".
# high_signal_immediate = true
# "one_shot_active": one session is enough evidence for a new skill;
# "evidence_first": a new skill needs evidence from more than one session.
# skill_generation_mode = "one_shot_active"
# A review reserved longer ago than this many seconds no longer holds back
# new ones, so a crashed worker cannot switch reviews off for a session.
# active_job_stale_seconds = 1800

[session_recall]
# Read for csep 1.3.10 compatibility; not used: recall is always available.
# enabled = true
# Read for csep 1.3.10 compatibility; not used: the Stop hook always archives.
# stop_hook_archive = true

[log]
# Read for csep 1.3.10 compatibility; not used yet.
# retention_days = 14

[redact]
# More secret patterns, on top of csep's built-in rules: regular expressions
# (RE2 syntax, as in gitleaks) whose matches are replaced by
# [REDACTED:user_pattern] before anything is stored or printed, and which
# csep-verify rejects in proposed memory. With capture groups, only the groups
# are hidden. A pattern that does not compile is skipped with a warning.
# patterns = ['acme_[A-Za-z0-9]{32}', '(?i)internal-password:\s*(\S+)']
"##;

#[derive(Default)]
struct Reader {
    warnings: Vec<Warning>,
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
    fn warn(&mut self, key: &str, kind: WarningKind, message: impl Into<String>) {
        self.warnings.push(Warning {
            key: Some(key.to_string()),
            kind,
            message: message.into(),
        });
    }

    fn unknown(&mut self, key: &str) {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        if looks_like_secret(leaf) {
            self.warn(
                key,
                WarningKind::Secret,
                "unknown key that looks like a secret; secrets belong in .env.provider",
            );
        } else {
            self.warn(key, WarningKind::UnknownKey, "unknown key (ignored)");
        }
    }

    /// Every string anywhere in the file that holds something [`redact`] would hide: a
    /// credential pasted into a world-readable file, under whatever key. Names the kind of
    /// secret, never the value.
    fn secret_values(&mut self, v: &Value, key: &str) {
        // A pattern describes secrets; it is not one (and may well look like one).
        if key == "redact.patterns" {
            return;
        }
        match v {
            Value::String(s) => {
                let Cow::Owned(redacted) = redact(s) else {
                    return;
                };
                if self
                    .warnings
                    .iter()
                    .any(|w| w.kind == WarningKind::Secret && w.key.as_deref() == Some(key))
                {
                    return;
                }
                let kinds: BTreeSet<&str> = redacted
                    .split("[REDACTED:")
                    .skip(1)
                    .filter_map(|rest| rest.split(']').next())
                    .collect();
                self.warn(
                    key,
                    WarningKind::Secret,
                    format!(
                        "the value looks like a secret ({}); secrets belong in .env.provider",
                        kinds.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            Value::Array(items) => items.iter().for_each(|i| self.secret_values(i, key)),
            Value::Table(t) => {
                for (k, v) in t {
                    let dotted = if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    };
                    self.secret_values(v, &dotted);
                }
            }
            _ => {}
        }
    }

    fn table<'a>(&mut self, parent: &'a Table, key: &str, dotted: &str) -> Option<&'a Table> {
        match parent.get(key)? {
            Value::Table(t) => Some(t),
            _ => {
                self.warn(dotted, WarningKind::WrongType, "must be a table (ignored)");
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
            Some(_) => self.warn(
                dotted,
                WarningKind::WrongType,
                "must be true or false (default kept)",
            ),
        }
    }

    fn string(&mut self, t: &Table, key: &str, dotted: &str, slot: &mut String) {
        match t.get(key) {
            None => {}
            Some(Value::String(s)) if !s.is_empty() => {
                *slot = s.clone();
                self.from_file.insert(dotted.to_string());
            }
            Some(Value::String(_)) => self.warn(
                dotted,
                WarningKind::OutOfRange,
                "must be a non-empty string (default kept)",
            ),
            Some(_) => self.warn(
                dotted,
                WarningKind::WrongType,
                "must be a non-empty string (default kept)",
            ),
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
            Some(Value::Integer(_)) => self.warn(
                dotted,
                WarningKind::OutOfRange,
                "must be positive (default kept)",
            ),
            Some(_) => self.warn(
                dotted,
                WarningKind::WrongType,
                "must be a whole number (default kept)",
            ),
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
                    Some(_) => self.warn(
                        dotted,
                        WarningKind::OutOfRange,
                        "must be a non-empty list of non-empty strings (default kept)",
                    ),
                    None => self.warn(
                        dotted,
                        WarningKind::WrongType,
                        "must be a non-empty list of non-empty strings (default kept)",
                    ),
                }
            }
            Some(_) => self.warn(
                dotted,
                WarningKind::WrongType,
                "must be a list of strings, such as [\"sh\", \"reflect.sh\"] (default kept)",
            ),
        }
    }

    fn seconds(&mut self, t: &Table, key: &str, dotted: &str, slot: &mut f64) {
        let v = match t.get(key) {
            None => return,
            Some(Value::Integer(n)) => *n as f64,
            Some(Value::Float(f)) => *f,
            Some(_) => {
                self.warn(
                    dotted,
                    WarningKind::WrongType,
                    "must be a number (default kept)",
                );
                return;
            }
        };
        if v > 0.0 && v.is_finite() {
            *slot = v;
            self.from_file.insert(dotted.to_string());
        } else {
            self.warn(
                dotted,
                WarningKind::OutOfRange,
                "must be positive (default kept)",
            );
        }
    }

    /// An enumerated string outside its set falls back to the default, as in 1.3.10.
    fn one_of(&mut self, dotted: &str, slot: &mut String, allowed: &[&str], default: &str) {
        if !allowed.contains(&slot.as_str()) {
            // Redacted: the value is echoed, and someone may have pasted a token here.
            let shown = redact(slot);
            self.warn(
                dotted,
                WarningKind::OutOfRange,
                format!(
                    "{shown:?} is not one of {}; using {default:?}",
                    allowed.join(", ")
                ),
            );
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
                "redact",
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
                    self.warn(
                        "schema_version",
                        WarningKind::SchemaVersion,
                        format!(
                            "is {v}, but this csep reads version {SCHEMA_VERSION}; \
                             keys it knows still apply"
                        ),
                    );
                }
            }
            Some(_) => self.warn(
                "schema_version",
                WarningKind::WrongType,
                "must be a whole number (ignored)",
            ),
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
        if let Some(t) = self.table(root, "redact", "redact") {
            self.known(t, "redact", &["patterns"]);
            self.patterns(t, &mut c.redact.patterns);
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
            self.warn(
                "session_reflection.skill_prefix",
                WarningKind::OutOfRange,
                format!("must start with {REFLECT_SKILL_PREFIX:?}; using it"),
            );
            r.skill_prefix = REFLECT_SKILL_PREFIX.into();
            self.from_file.remove("session_reflection.skill_prefix");
        }
    }

    /// `[redact] patterns`: a list of regexes. One that does not compile is left out with a
    /// warning naming its index; the others apply.
    fn patterns(&mut self, t: &Table, slot: &mut Vec<String>) {
        const KEY: &str = "redact.patterns";
        let Some(v) = t.get("patterns") else { return };
        let Value::Array(items) = v else {
            self.warn(
                KEY,
                WarningKind::WrongType,
                "must be a list of strings, such as ['acme_[A-Za-z0-9]{32}'] (ignored)",
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(p) = item.as_str() else {
                self.warn(
                    &format!("{KEY}[{i}]"),
                    WarningKind::WrongType,
                    "must be a string (ignored)",
                );
                continue;
            };
            match crate::redact::check_pattern(p) {
                Ok(()) => slot.push(p.to_string()),
                Err(e) => self.warn(
                    &format!("{KEY}[{i}]"),
                    WarningKind::InvalidPattern,
                    format!("not a usable pattern ({e}); ignored"),
                ),
            }
        }
        self.from_file.insert(KEY.to_string());
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
        assert!(w[0].starts_with("schema_version: is 3"), "{w:?}");
        assert!(w[1].contains("session_reflection: must be a table"));
        assert_eq!(c.schema_version, 3);
        assert!(c.session_reflection.enabled);
    }

    /// The template with every `# key = value` line uncommented.
    fn uncommented(template: &str) -> String {
        template
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest.to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_starter_template_loads_clean_and_names_every_key_at_its_default() {
        let (c, w) = parse_checked(TEMPLATE).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c, Config::default());
        assert!(c.sources().iter().all(|(_, from_file)| !from_file));

        // Uncommented, every key is set, to its default (`command` has none).
        let (c, w) = parse_checked(&uncommented(TEMPLATE)).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let sources = c.sources();
        let unset: Vec<&String> = sources.iter().filter(|(_, f)| !f).map(|(k, _)| k).collect();
        assert!(unset.is_empty(), "the template lacks {unset:?}");
        let mut expected = Config::default();
        expected.session_reflection.command = vec!["sh".into(), "/path/to/reflect.sh".into()];
        expected.redact.patterns = vec![
            "acme_[A-Za-z0-9]{32}".into(),
            r"(?i)internal-password:\s*(\S+)".into(),
        ];
        expected.from_file = c.from_file.clone();
        assert_eq!(c, expected);
    }

    #[test]
    fn warnings_name_their_key_and_kind() {
        let text = "colour = 1\nschema_version = 3\n[log]\nretention_days = 0\n\
                    [session_reflection]\nenabled = \"yes\"\napi_token = \"x\"\n\
                    model = \"ghp_0123456789abcdefghijABCDEFGHIJ\"\n";
        let (_, w) = parse_checked(text).unwrap();
        let got: Vec<(Option<&str>, WarningKind)> =
            w.iter().map(|w| (w.key.as_deref(), w.kind)).collect();
        assert_eq!(
            got,
            vec![
                (Some("colour"), WarningKind::UnknownKey),
                (Some("schema_version"), WarningKind::SchemaVersion),
                (Some("session_reflection.api_token"), WarningKind::Secret),
                (Some("session_reflection.enabled"), WarningKind::WrongType),
                (Some("log.retention_days"), WarningKind::OutOfRange),
                (Some("session_reflection.model"), WarningKind::Secret),
            ]
        );
        let all = format!("{w:?}");
        assert!(
            !all.contains("ghp_0123"),
            "a warning shows the secret: {all}"
        );
        assert!(all.contains("github_token"), "{all}");
    }

    #[test]
    fn an_echoed_bad_value_is_redacted() {
        let (_, w) =
            parse_checked("[session_reflection]\nsandbox = \"sk-proj-AbCdEfGhIjKlMnOpQrSt\"\n")
                .unwrap();
        let all = format!("{w:?}");
        assert!(!all.contains("AbCdEfGh"), "{all}");
        assert!(w.iter().any(|w| w.kind == WarningKind::OutOfRange), "{all}");
        assert!(w.iter().any(|w| w.kind == WarningKind::Secret), "{all}");
    }

    #[test]
    fn redact_patterns_keep_the_good_ones_and_name_the_bad_ones() {
        let text = "[redact]\npatterns = ['acme_[a-z0-9]{20}', 'acme_[a-z', 'x*', 7, 'password=(\\S+)']\nother = 1\n";
        let (c, w) = parse_checked(text).unwrap();
        assert_eq!(c.redact.patterns, ["acme_[a-z0-9]{20}", "password=(\\S+)"]);
        assert!(c.from_file.contains("redact.patterns"));
        let got: Vec<(Option<&str>, WarningKind)> =
            w.iter().map(|w| (w.key.as_deref(), w.kind)).collect();
        assert_eq!(
            got,
            [
                (Some("redact.other"), WarningKind::UnknownKey),
                (Some("redact.patterns[1]"), WarningKind::InvalidPattern),
                (Some("redact.patterns[2]"), WarningKind::InvalidPattern),
                (Some("redact.patterns[3]"), WarningKind::WrongType),
            ]
        );
        // A pattern that describes a secret is not itself reported as one.
        assert!(!w.iter().any(|w| w.kind == WarningKind::Secret), "{w:?}");
        let (_, w) = parse_checked("[redact]\npatterns = 'acme'\n").unwrap();
        assert_eq!(w[0].kind, WarningKind::WrongType);

        let dir = tempfile::tempdir().unwrap();
        assert_eq!(redact_patterns(dir.path()), (vec![], vec![]));
        std::fs::write(path(dir.path()), text).unwrap();
        let (p, w) = redact_patterns(dir.path());
        assert_eq!(p, ["acme_[a-z0-9]{20}", "password=(\\S+)"]);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].contains("config.toml: redact.patterns[1]: not a usable pattern ("),
            "{w:?}"
        );
    }

    #[test]
    fn check_tells_a_broken_file_from_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let c = check(dir.path());
        assert!(!c.exists && c.warnings.is_empty());
        std::fs::write(path(dir.path()), "a = 1\n[x\n").unwrap();
        let c = check(dir.path());
        assert!(c.exists);
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0]
                .message
                .starts_with("not valid TOML (line 2, column 3: ")
                && !c.warnings[0].message.contains('\n'),
            "{:?}",
            c.warnings[0]
        );
        assert_eq!(c.warnings[0].kind, WarningKind::ParseError);
        assert!(c.warnings[0].kind.is_fatal() && c.warnings[0].key.is_none());
    }

    #[test]
    fn sources_list_every_key_sorted() {
        let (c, _) = parse("[log]\nretention_days = 3\n").unwrap();
        let s = c.sources();
        assert_eq!(
            s.first().map(|(k, _)| k.as_str()),
            Some("log.retention_days")
        );
        assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(s.contains(&("log.retention_days".into(), true)));
        assert!(s.contains(&("session_reflection.command".into(), false)));
        assert!(s.contains(&("session_reflection.trigger.enabled".into(), false)));
        assert_eq!(s.len(), 23);
    }
}
