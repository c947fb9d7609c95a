//! What each key of `config.toml` accepts: the enumerations (`backend`, `sandbox`, …) with
//! their spellings, and one `deserialize_with` rule per kind of value (a flag, a positive
//! count, an argv, …) with the words a warning uses when a value breaks it.
//!
//! A rule that refuses a value fails the field with a [`Problem`]: serde's error is its only
//! way out, so the problem travels as JSON in the error's message and `read.rs` turns it into
//! a [`Warning`](super::Warning) for the key serde_path_to_error names. Every value is read
//! as a `toml::Value` first, so a rule sees what was written (a date is not a string).

use super::{Warning, WarningKind, REFLECT_SKILL_PREFIX};
use crate::redact::{check_pattern, redact};
use serde::de::{Deserialize, Deserializer};
use serde::{Serialize, Serializer};
use std::fmt;
use toml::Value;

/// Why a value was not taken.
#[derive(Debug, Serialize, serde::Deserialize)]
pub(super) struct Problem {
    pub kind: WarningKind,
    pub message: String,
    #[serde(default)]
    pub order: Order,
}

/// Where a warning is listed among the others (the order csep has always listed them in).
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
pub(super) enum Order {
    /// Where its key is in the schema.
    #[default]
    InPlace,
    /// After those: an enumerated value outside its set.
    Choice,
    /// After those too: a skill prefix outside csep's own (secrets in values come last).
    Prefix,
}

impl Problem {
    /// The problem a rule's error carries; `None` for an error of serde's own.
    pub fn decode(message: &str) -> Option<Problem> {
        serde_json::from_str(message).ok()
    }
}

fn fail<E: serde::de::Error>(kind: WarningKind, message: impl Into<String>) -> E {
    fail_at(kind, message, Order::InPlace)
}

fn fail_at<E: serde::de::Error>(kind: WarningKind, message: impl Into<String>, order: Order) -> E {
    let p = Problem {
        kind,
        message: message.into(),
        order,
    };
    E::custom(serde_json::to_string(&p).unwrap_or_default())
}

/// `true` or `false`.
pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Boolean(b) => Ok(b),
        _ => Err(fail(
            WarningKind::WrongType,
            "must be true or false (default kept)",
        )),
    }
}

/// A non-empty string.
pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    const MESSAGE: &str = "must be a non-empty string (default kept)";
    match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::String(_) => Err(fail(WarningKind::OutOfRange, MESSAGE)),
        _ => Err(fail(WarningKind::WrongType, MESSAGE)),
    }
}

/// A positive whole number (1.3.10 refuses zero and negatives for every count).
pub(super) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Integer(n) if n > 0 => Ok(n as u64),
        Value::Integer(_) => Err(fail(
            WarningKind::OutOfRange,
            "must be positive (default kept)",
        )),
        _ => Err(fail(
            WarningKind::WrongType,
            "must be a whole number (default kept)",
        )),
    }
}

/// A positive number of seconds, whole or not.
pub(super) fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = match Value::deserialize(d)? {
        Value::Integer(n) => n as f64,
        Value::Float(f) => f,
        _ => {
            return Err(fail(
                WarningKind::WrongType,
                "must be a number (default kept)",
            ))
        }
    };
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(fail(
            WarningKind::OutOfRange,
            "must be positive (default kept)",
        ))
    }
}

/// A non-empty list of non-empty strings (an argv).
pub(super) fn argv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    const MESSAGE: &str = "must be a non-empty list of non-empty strings (default kept)";
    let Value::Array(items) = Value::deserialize(d)? else {
        return Err(fail(
            WarningKind::WrongType,
            "must be a list of strings, such as [\"sh\", \"reflect.sh\"] (default kept)",
        ));
    };
    let argv: Option<Vec<String>> = items
        .iter()
        .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
        .collect();
    match argv {
        Some(argv) if !argv.is_empty() => Ok(argv),
        Some(_) => Err(fail(WarningKind::OutOfRange, MESSAGE)),
        None => Err(fail(WarningKind::WrongType, MESSAGE)),
    }
}

/// `schema_version`: any whole number (another version is a warning of `read.rs`, and
/// the value still applies).
pub(super) fn version<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Integer(v) => Ok(v),
        _ => Err(fail(
            WarningKind::WrongType,
            "must be a whole number (ignored)",
        )),
    }
}

/// `skill_prefix`: a non-empty string that starts with [`REFLECT_SKILL_PREFIX`].
pub(super) fn skill_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let prefix = text(d)?;
    if prefix.starts_with(REFLECT_SKILL_PREFIX) {
        return Ok(prefix);
    }
    Err(fail_at(
        WarningKind::OutOfRange,
        format!("must start with {REFLECT_SKILL_PREFIX:?}; using it"),
        Order::Prefix,
    ))
}

/// `[redact] patterns`: a list; the patterns that compile are kept. The others are each a
/// warning of their own (see [`read_patterns`]), so one bad entry does not cost the rest.
pub(super) fn patterns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match read_patterns(&Value::deserialize(d)?) {
        Ok((usable, _)) => Ok(usable),
        Err(message) => Err(fail(WarningKind::WrongType, message)),
    }
}

/// `[redact] patterns` as written: the entries that are usable, and a warning for each one
/// that is not, naming its index. `Err`, the warning's message, when it is not a list.
pub(super) fn read_patterns(v: &Value) -> Result<(Vec<String>, Vec<Warning>), &'static str> {
    let Value::Array(items) = v else {
        return Err("must be a list of strings, such as ['acme_[A-Za-z0-9]{32}'] (ignored)");
    };
    let mut usable = Vec::new();
    let mut warnings = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let warning = |kind, message| Warning {
            key: Some(format!("redact.patterns[{i}]")),
            kind,
            message,
        };
        let Some(p) = item.as_str() else {
            warnings.push(warning(
                WarningKind::WrongType,
                "must be a string (ignored)".to_string(),
            ));
            continue;
        };
        match check_pattern(p) {
            Ok(()) => usable.push(p.to_string()),
            Err(e) => warnings.push(warning(
                WarningKind::InvalidPattern,
                format!("not a usable pattern ({e}); ignored"),
            )),
        }
    }
    Ok((usable, warnings))
}

/// A key whose value is one of a fixed set of names. A name outside the set falls back to
/// the default, as in 1.3.10.
pub trait Choice: Copy + Default + PartialEq + 'static {
    /// Every value with its name in `config.toml`, in the order a warning lists them.
    const NAMES: &'static [(Self, &'static str)];

    fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("", |(_, name)| name)
    }
}

/// One of a [`Choice`]'s names.
pub(super) fn choice<'de, D: Deserializer<'de>, T: Choice>(d: D) -> Result<T, D::Error> {
    let name = text(d)?;
    if let Some((v, _)) = T::NAMES.iter().find(|(_, n)| *n == name) {
        return Ok(*v);
    }
    let names: Vec<&str> = T::NAMES.iter().map(|(_, n)| *n).collect();
    Err(fail_at(
        WarningKind::OutOfRange,
        format!(
            // Redacted: the value is echoed, and someone may have pasted a token here.
            "{:?} is not one of {}; using {:?}",
            redact(&name),
            names.join(", "),
            T::default().as_str()
        ),
        Order::Choice,
    ))
}

/// `[session_reflection] sandbox`: read for csep 1.3.10 compatibility; a review may only
/// ever write its own run directory, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sandbox {
    ReadOnly,
    WorkspaceWrite,
    #[default]
    DangerFullAccess,
}

impl Choice for Sandbox {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Sandbox::ReadOnly, "read-only"),
        (Sandbox::WorkspaceWrite, "workspace-write"),
        (Sandbox::DangerFullAccess, "danger-full-access"),
    ];
}

/// `[session_reflection] approval_policy`: read for csep 1.3.10 compatibility; the codex
/// backend never asks for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApprovalPolicy {
    Untrusted,
    OnFailure,
    OnRequest,
    #[default]
    Never,
}

impl Choice for ApprovalPolicy {
    const NAMES: &'static [(Self, &'static str)] = &[
        (ApprovalPolicy::Untrusted, "untrusted"),
        (ApprovalPolicy::OnFailure, "on-failure"),
        (ApprovalPolicy::OnRequest, "on-request"),
        (ApprovalPolicy::Never, "never"),
    ];
}

/// `[session_reflection.trigger] skill_generation_mode`: 1.3.10's two modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkillGenerationMode {
    /// One session is enough evidence for a new skill.
    #[default]
    OneShotActive,
    /// A new skill needs evidence from more than one session.
    EvidenceFirst,
}

impl Choice for SkillGenerationMode {
    const NAMES: &'static [(Self, &'static str)] = &[
        (SkillGenerationMode::OneShotActive, "one_shot_active"),
        (SkillGenerationMode::EvidenceFirst, "evidence_first"),
    ];
}

/// Written as its name, in `csep config show` and wherever else a config is printed.
macro_rules! by_name {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn as_str(self) -> &'static str {
                Choice::as_str(self)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

by_name!(Sandbox, ApprovalPolicy, SkillGenerationMode);

/// `[session_reflection] backend`: who proposes memory and skill changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Backend {
    /// Codex when it can run here, else Claude Code, else [`Backend::Builtin`].
    #[default]
    Auto,
    /// No model: csep keeps the directives the user typed.
    Builtin,
    /// `codex exec`.
    Codex,
    /// csep 1.3.10's name for the same (it drove `codex app-server`); shown as written.
    CodexAppServer,
    /// `claude -p`.
    Claude,
    /// The program `[session_reflection] command` names.
    Command,
    /// A name this csep does not know. It loads without a warning, as every non-empty
    /// string always has, and `csep-reflect` refuses it (a usage error, no job consumed).
    Unknown(String),
}

impl Backend {
    const KNOWN: [Backend; 6] = [
        Backend::Auto,
        Backend::Builtin,
        Backend::Codex,
        Backend::CodexAppServer,
        Backend::Claude,
        Backend::Command,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Backend::Auto => "auto",
            Backend::Builtin => "builtin",
            Backend::Codex => "codex",
            Backend::CodexAppServer => "codex-app-server",
            Backend::Claude => "claude",
            Backend::Command => "command",
            Backend::Unknown(name) => name,
        }
    }
}

impl From<&str> for Backend {
    fn from(name: &str) -> Backend {
        Backend::KNOWN
            .into_iter()
            .find(|b| b.as_str() == name)
            .unwrap_or_else(|| Backend::Unknown(name.to_string()))
    }
}

impl Serialize for Backend {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `backend`: any non-empty string (see [`Backend::Unknown`]).
pub(super) fn backend<'de, D: Deserializer<'de>>(d: D) -> Result<Backend, D::Error> {
    text(d).map(|name| Backend::from(name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_its_value() {
        fn round_trip<T: Choice + fmt::Debug>() {
            for (v, name) in T::NAMES {
                let got: T = choice(Value::String(name.to_string())).unwrap();
                assert_eq!((got, got.as_str()), (*v, *name));
            }
        }
        round_trip::<Sandbox>();
        round_trip::<ApprovalPolicy>();
        round_trip::<SkillGenerationMode>();
        for b in Backend::KNOWN {
            assert_eq!(Backend::from(b.as_str()), b);
        }
        assert_eq!(
            Backend::from("gemini"),
            Backend::Unknown("gemini".to_string())
        );
        assert_eq!(Backend::from("Codex").as_str(), "Codex");
    }

    #[test]
    fn a_refused_value_carries_its_problem() {
        let e = count(Value::Integer(0)).unwrap_err();
        let p = Problem::decode(e.message()).unwrap();
        assert_eq!(
            (p.kind, p.message.as_str(), p.order),
            (
                WarningKind::OutOfRange,
                "must be positive (default kept)",
                Order::InPlace
            )
        );
        let e = choice::<_, Sandbox>(Value::String("all".into())).unwrap_err();
        let p = Problem::decode(e.message()).unwrap();
        assert_eq!(p.order, Order::Choice);
        assert!(p.message.ends_with("using \"danger-full-access\""), "{p:?}");
        assert!(Problem::decode("invalid type: integer `1`, expected a map").is_none());
    }
}
