//! Reading `config.toml` without ever failing: the file's values where they are good,
//! defaults elsewhere, and one [`Warning`] per key that is not (see the module doc of
//! `config`).
//!
//! The schema's types are deserialized by serde. `serde_ignored` names every key the schema
//! does not have; a value a rule of `values.rs` refuses fails the deserialization, and
//! `serde_path_to_error` names its key (toml's spans would locate the value in the text, but
//! a warning names a key): that key is left out and the file read again, so each bad value
//! costs only itself and a clean file is deserialized once. The document is read by toml's
//! own deserializer, which keeps a date a date. Tables that are not tables, `[redact]
//! patterns` entry by entry, and secrets under any key are checked beside serde.

use super::values::{read_patterns, Order, Problem};
use super::{path, schema, Config, SCHEMA_VERSION};
use crate::redact::redact;
use serde::{Deserialize, Serialize};

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use toml::de::{DeTable, DeValue};
use toml::{Spanned, Table, Value};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    let Some(v) = root.get("redact").and_then(|r| r.get("patterns")) else {
        return (Vec::new(), Vec::new());
    };
    let (patterns, warnings) = match read_patterns(v) {
        Ok(read) => read,
        Err(message) => {
            let key = Some("redact.patterns".to_string());
            let kind = WarningKind::WrongType;
            let message = message.to_string();
            (Vec::new(), vec![Warning { key, kind, message }])
        }
    };
    let shown = file.display();
    let warnings = warnings.iter().map(|w| format!("{shown}: {w}")).collect();
    (patterns, warnings)
}

/// Parses the file's text. `Err` only when it is not TOML at all; everything else is a warning.
pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
    parse_checked(text).map(|(c, w)| (c, w.iter().map(Warning::to_string).collect()))
}

/// [`parse`] with structured warnings.
pub fn parse_checked(text: &str) -> Result<(Config, Vec<Warning>), String> {
    let doc = DeTable::parse(text).map_err(|e| one_line_error(&e, text))?;
    // The same document as plain values, for the checks beside serde.
    let root = Table::deserialize(toml::de::Deserializer::from(doc.clone()))
        .map_err(|e| one_line_error(&e, text))?;
    let mut r = Reader::default();
    let config = r.read(&doc, &root);
    let mut warnings = r.sorted();
    secret_values(&Value::Table(root), "", &mut warnings);
    Ok((config, warnings))
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

/// A warning and where it is listed.
struct Found {
    order: Order,
    /// The key's place in [`listing`] (0: the file's top level), and whether the key is
    /// unknown there (listed after the table's own warning, before its keys').
    place: (usize, bool),
    warning: Warning,
}

/// The schema's keys in the order their warnings are listed: the fields' order, but
/// `[log]` after `[redact]`, as csep has always listed them.
fn listing() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<&str> = schema().iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_by_key(|k| within(k, "log"));
        keys
    })
}

#[derive(Default)]
struct Reader {
    found: Vec<Found>,
    /// Keys left out of the file: a value refused, a table that is not one.
    dropped: Vec<Vec<String>>,
}

impl Reader {
    /// A warning about a key of the schema (or an entry of one: `redact.patterns[1]`).
    fn warn(&mut self, key: &str, kind: WarningKind, message: String, order: Order) {
        let known = key.split('[').next().unwrap_or(key);
        self.found.push(Found {
            order,
            place: (place(known), false),
            warning: Warning {
                key: Some(key.to_string()),
                kind,
                message,
            },
        });
    }

    /// A key the schema does not have, listed with its table.
    fn unknown(&mut self, key: &str) {
        let (table, leaf) = key.rsplit_once('.').unwrap_or(("", key));
        let (kind, message) = if looks_like_secret(leaf) {
            (
                WarningKind::Secret,
                "unknown key that looks like a secret; secrets belong in .env.provider",
            )
        } else {
            (WarningKind::UnknownKey, "unknown key (ignored)")
        };
        self.found.push(Found {
            order: Order::InPlace,
            place: (place(table), true),
            warning: Warning {
                key: Some(key.to_string()),
                kind,
                message: message.to_string(),
            },
        });
    }

    /// The config in `doc` (read as `root`).
    fn read(&mut self, doc: &Spanned<DeTable<'_>>, root: &Table) -> Config {
        for (key, table) in schema() {
            if *table && lookup(root, key).is_some_and(|v| !v.is_table()) {
                let message = "must be a table (ignored)".to_string();
                self.warn(key, WarningKind::WrongType, message, Order::InPlace);
                self.dropped
                    .push(key.split('.').map(str::to_string).collect());
            }
        }
        let (mut config, unknown) = loop {
            let mut doc = doc.clone();
            for key in &self.dropped {
                drop_key(doc.get_mut(), key);
            }
            let mut unknown = Vec::new();
            let mut ignored = |p: serde_ignored::Path| unknown.push(p.to_string());
            let de = toml::de::Deserializer::from(doc);
            let de = serde_ignored::Deserializer::new(de, &mut ignored);
            let e = match serde_path_to_error::deserialize::<_, Config>(de) {
                Ok(config) => break (config, unknown),
                Err(e) => e,
            };
            let key: Vec<String> = e.path().iter().map(|s| s.to_string()).collect();
            if key.is_empty() || self.dropped.contains(&key) {
                // Cannot happen (a rule fails on one key's value); never loop on it.
                return Config::default();
            }
            let (kind, message, order) = match Problem::decode(e.inner().message()) {
                Some(p) => (p.kind, p.message, p.order),
                None => (
                    WarningKind::WrongType,
                    format!("{} (ignored)", e.inner().message()),
                    Order::InPlace,
                ),
            };
            self.warn(&key.join("."), kind, message, order);
            self.dropped.push(key);
        };
        for key in &unknown {
            self.unknown(key);
        }
        // Its rule kept the usable entries; name the others (compiled again only then).
        if let Some(v @ Value::Array(items)) = lookup(root, "redact.patterns") {
            if items.len() != config.redact.patterns.len() {
                for w in read_patterns(v).map_or(vec![], |r| r.1) {
                    let key = w.key.unwrap_or_default();
                    self.warn(&key, w.kind, w.message, Order::InPlace);
                }
            }
        }
        if config.schema_version != SCHEMA_VERSION {
            let v = config.schema_version;
            let message = format!(
                "is {v}, but this csep reads version {SCHEMA_VERSION}; keys it knows still apply"
            );
            self.warn(
                "schema_version",
                WarningKind::SchemaVersion,
                message,
                Order::InPlace,
            );
        }
        let left_out: Vec<String> = self.dropped.iter().map(|k| k.join(".")).collect();
        config.from_file = leaves(root, "")
            .into_iter()
            .filter(|k| !left_out.iter().chain(&unknown).any(|out| within(k, out)))
            .collect();
        config
    }

    /// The warnings in the order csep has always listed them: by key in [`listing`]'s
    /// order, a table's unknown keys right after the table's own warning, then the
    /// enumerated values outside their set, then a foreign skill prefix.
    fn sorted(mut self) -> Vec<Warning> {
        self.found.sort_by_key(|f| (f.order, f.place));
        self.found.into_iter().map(|f| f.warning).collect()
    }
}

/// Where warnings about `key` are listed: see [`Found::place`].
fn place(key: &str) -> usize {
    if key.is_empty() {
        return 0;
    }
    listing()
        .iter()
        .position(|k| *k == key)
        .map_or(usize::MAX, |i| i + 1)
}

/// Every string anywhere in the file that holds something [`redact`] would hide: a
/// credential pasted into a world-readable file, under whatever key. Names the kind of
/// secret, never the value.
fn secret_values(v: &Value, key: &str, warnings: &mut Vec<Warning>) {
    // A pattern describes secrets; it is not one (and may well look like one).
    if key == "redact.patterns" {
        return;
    }
    match v {
        Value::String(s) => {
            let Cow::Owned(redacted) = redact(s) else {
                return;
            };
            if warnings
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
            warnings.push(Warning {
                key: Some(key.to_string()),
                kind: WarningKind::Secret,
                message: format!(
                    "the value looks like a secret ({}); secrets belong in .env.provider",
                    kinds.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        Value::Array(items) => items.iter().for_each(|i| secret_values(i, key, warnings)),
        Value::Table(t) => {
            for (k, v) in t {
                secret_values(v, &join(key, k), warnings);
            }
        }
        _ => {}
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Whether `key` is `outer` or inside it.
fn within(key: &str, outer: &str) -> bool {
    key.strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The value at a dotted key of the schema (whose names have no dots).
fn lookup<'a>(root: &'a Table, dotted: &str) -> Option<&'a Value> {
    let (table, key) = match dotted.rsplit_once('.') {
        Some((outer, key)) => (lookup(root, outer)?.as_table()?, key),
        None => (root, dotted),
    };
    table.get(key)
}

/// The dotted keys of every value in `t` that is not a table.
fn leaves(t: &Table, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in t {
        let key = join(prefix, k);
        match v {
            Value::Table(inner) => out.extend(leaves(inner, &key)),
            _ => out.push(key),
        }
    }
    out
}

fn drop_key(t: &mut DeTable<'_>, key: &[String]) {
    match key {
        [] => {}
        [last] => {
            t.remove(last.as_str());
        }
        [first, rest @ ..] => {
            if let Some(DeValue::Table(inner)) = t.get_mut(first.as_str()).map(|v| v.get_mut()) {
                drop_key(inner, rest);
            }
        }
    }
}
