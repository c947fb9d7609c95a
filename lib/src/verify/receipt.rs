//! What verify answers: the receipt (`runs/<job>/receipt.json`), its statuses, changes and
//! named rejection reasons, and the run's `base.json` it checks against.

use super::{quality, DraftSummary};
use crate::timefmt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why a proposal (or an undo) was refused. The names are stable: scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    PathTraversal,
    AbsolutePath,
    Symlink,
    HiddenFile,
    UnexpectedFile,
    BadFileName,
    SkillPrefix,
    UserSkill,
    MissingFrontMatter,
    NameMismatch,
    MissingDescription,
    MissingSections,
    MemoryOverBudget,
    FileTooLarge,
    InvalidUtf8,
    Secret,
    NoopEntry,
    /// A new line runs code fetched from the network (`curl … | sh`).
    RemoteCode,
    /// A new line sends environment, keys, tokens or private files out.
    Exfiltration,
    /// A new line poses as instructions or as a message boundary.
    PromptInjection,
    /// A control character other than tab and newline, anywhere in the file.
    ControlCharacter,
    /// A bidirectional control or direction mark, anywhere in the file.
    BidiOverride,
    /// A new memory line whose distinctive tokens the session has only in tool output.
    UnsupportedBySession,
    /// A new MEMORY.md line that repeats another line of the file.
    Duplicate,
    /// A line a person pinned is gone.
    PinnedLineRemoved,
    /// Many lines removed outside a consolidation job.
    MassRemoval,
    StaleBase,
    UnsafeLivePath,
    MalformedDraft,
    MissingDraft,
    DraftMismatch,
    BaseMismatch,
    /// Undo: the live file no longer carries the job's after-hash.
    ChangedSinceApply,
    /// Undo: the copy of the before-bytes is gone or does not hash as recorded.
    BackupMissing,
}

impl Reason {
    pub const ALL: &'static [Reason] = &[
        Reason::PathTraversal,
        Reason::AbsolutePath,
        Reason::Symlink,
        Reason::HiddenFile,
        Reason::UnexpectedFile,
        Reason::BadFileName,
        Reason::SkillPrefix,
        Reason::UserSkill,
        Reason::MissingFrontMatter,
        Reason::NameMismatch,
        Reason::MissingDescription,
        Reason::MissingSections,
        Reason::MemoryOverBudget,
        Reason::FileTooLarge,
        Reason::InvalidUtf8,
        Reason::Secret,
        Reason::NoopEntry,
        Reason::RemoteCode,
        Reason::Exfiltration,
        Reason::PromptInjection,
        Reason::ControlCharacter,
        Reason::BidiOverride,
        Reason::UnsupportedBySession,
        Reason::Duplicate,
        Reason::PinnedLineRemoved,
        Reason::MassRemoval,
        Reason::StaleBase,
        Reason::UnsafeLivePath,
        Reason::MalformedDraft,
        Reason::MissingDraft,
        Reason::DraftMismatch,
        Reason::BaseMismatch,
        Reason::ChangedSinceApply,
        Reason::BackupMissing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::PathTraversal => "path_traversal",
            Reason::AbsolutePath => "absolute_path",
            Reason::Symlink => "symlink",
            Reason::HiddenFile => "hidden_file",
            Reason::UnexpectedFile => "unexpected_file",
            Reason::BadFileName => "bad_file_name",
            Reason::SkillPrefix => "skill_prefix",
            Reason::UserSkill => "user_skill",
            Reason::MissingFrontMatter => "missing_front_matter",
            Reason::NameMismatch => "name_mismatch",
            Reason::MissingDescription => "missing_description",
            Reason::MissingSections => "missing_sections",
            Reason::MemoryOverBudget => "memory_over_budget",
            Reason::FileTooLarge => "file_too_large",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::Secret => "secret",
            Reason::NoopEntry => "noop_entry",
            Reason::RemoteCode => "remote_code",
            Reason::Exfiltration => "exfiltration",
            Reason::PromptInjection => "prompt_injection",
            Reason::ControlCharacter => "control_character",
            Reason::BidiOverride => "bidi_override",
            Reason::UnsupportedBySession => "unsupported_by_session",
            Reason::Duplicate => "duplicate",
            Reason::PinnedLineRemoved => "pinned_line_removed",
            Reason::MassRemoval => "mass_removal",
            Reason::StaleBase => "stale_base",
            Reason::UnsafeLivePath => "unsafe_live_path",
            Reason::MalformedDraft => "malformed_draft",
            Reason::MissingDraft => "missing_draft",
            Reason::DraftMismatch => "draft_mismatch",
            Reason::BaseMismatch => "base_mismatch",
            Reason::ChangedSinceApply => "changed_since_apply",
            Reason::BackupMissing => "backup_missing",
        }
    }
}

/// One refused path and why. `path` is relative to `proposal/` (or `draft.json`,
/// `base.json`, or a path as the draft wrote it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub path: String,
    pub reason: Reason,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every check passed and the changes were applied (or, with `dry_run`, would be).
    Succeeded,
    /// Part of a proposal applied. Never produced: a run is all-or-nothing.
    Partial,
    /// Nothing to do: no proposed file, or every proposed file equals the live one.
    Skipped,
    /// At least one check failed; nothing was applied.
    Rejected,
    /// Verify itself could not finish (unreadable base, an I/O error while applying, after
    /// which every change already written was rolled back).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Partial => "partial",
            Status::Skipped => "skipped",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
        }
    }
}

/// One applied (or, in a dry run, applicable) change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The live file.
    pub path: String,
    /// The proposal path it came from.
    pub rel: String,
    /// `create` or `update`.
    pub action: String,
    pub before_sha256: Option<String>,
    pub after_sha256: String,
    pub size_bytes: u64,
    /// For MEMORY.md: the memory lines added, removed and changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<quality::LineDiff>,
}

/// `runs/<job>/receipt.json`, also printed as one line on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(rename = "type")]
    pub kind: String,
    pub job_id: String,
    pub session_id: Option<String>,
    pub status: Status,
    pub dry_run: bool,
    pub changes: Vec<Change>,
    /// Proposed files identical to the live ones: nothing to write.
    pub unchanged: Vec<String>,
    pub rejections: Vec<Rejection>,
    /// What stopped verify itself (status `failed`).
    pub errors: Vec<String>,
    /// A summary of draft.json; null when there was none or it did not parse.
    pub draft: Option<DraftSummary>,
    /// The journal that records the applied changes (null when nothing was applied).
    pub journal: Option<String>,
    /// Whether the `unsupported_by_session` check could read the session: `checked`, or why
    /// not (`no_index`, `no_session`, `unreadable`); null when no new memory line needed it.
    #[serde(default)]
    pub session_evidence: Option<String>,
    /// What deserves a look but is no reason to refuse (a kept line that a new line about
    /// the same subject likely outdates).
    #[serde(default)]
    pub warnings: Vec<quality::Warning>,
    pub checked_at: String,
}

impl Receipt {
    pub(super) fn new(job_id: String, dry_run: bool) -> Receipt {
        Receipt {
            kind: "reflect_receipt".into(),
            job_id,
            session_id: None,
            status: Status::Skipped,
            dry_run,
            changes: Vec::new(),
            unchanged: Vec::new(),
            rejections: Vec::new(),
            errors: Vec::new(),
            draft: None,
            journal: None,
            session_evidence: None,
            warnings: Vec::new(),
            checked_at: timefmt::format_iso_ms(timefmt::now_ms()),
        }
    }
    pub(super) fn reject(&mut self, path: &str, reason: Reason, detail: impl Into<String>) {
        self.rejections.push(Rejection {
            path: path.to_string(),
            reason,
            detail: detail.into(),
        });
    }
}

/// `runs/<job>/base.json`, written by csep-reflect before the provider runs (see the run
/// directory contract in `docs/SAFETY.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Base {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub job_id: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub repo_root: Option<String>,
    pub bucket: PathBuf,
    pub skills_dir: PathBuf,
    pub skill_prefix: String,
    pub memory_max_chars: u64,
    /// Proposal-relative path → the live file's sha256 when the run started (null: absent).
    pub files: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub created_at: Option<String>,
    /// `review` (a reflection job; the default), `consolidate` (a consolidation job: may
    /// remove many lines) or `user` (a person's change through `csep memory`).
    #[serde(default)]
    pub mode: Option<String>,
}
