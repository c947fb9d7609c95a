//! How a reflection job ends, in the records the worker writes and prints: the job's
//! [`Outcome`] (`runs/<job>/status.json`, the `reflect_result` line), the verifier's
//! [`Validation`] and the trigger's [`CompletionReport`].

use super::*;

/// How a job ended (or that it is still running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// The worker is at it (in `status.json` while the job runs).
    Running,
    /// `running` in `status.json` but no worker holds the lock: the worker died, and the
    /// next one will recover the job. Only in status reports.
    Interrupted,
    /// The proposal passed and was applied.
    Succeeded,
    /// Part of the proposal was applied (when the verifier allows that).
    Partial,
    /// Nothing was proposed: nothing to do.
    Skipped,
    /// The verifier refused the proposal; no live file changed.
    Rejected,
    /// The job could not be done (see `reason`).
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Interrupted => "interrupted",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Partial => "partial",
            JobStatus::Skipped => "skipped",
            JobStatus::Rejected => "rejected",
            JobStatus::Failed => "failed",
        }
    }
    /// Whether the job goes to `done/` (else `failed/`).
    pub fn is_done(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Partial | JobStatus::Skipped
        )
    }
}

/// The verifier's verdict on a run directory (the receipt's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Succeeded,
    Partial,
    Skipped,
    Rejected,
    Failed,
}

impl VerifyStatus {
    pub fn parse(s: &str) -> Option<VerifyStatus> {
        match s {
            "succeeded" => Some(VerifyStatus::Succeeded),
            "partial" => Some(VerifyStatus::Partial),
            "skipped" => Some(VerifyStatus::Skipped),
            "rejected" => Some(VerifyStatus::Rejected),
            "failed" => Some(VerifyStatus::Failed),
            _ => None,
        }
    }
}

/// Checks the proposal in a run directory and applies it when it passes, writing
/// `receipt.json` there (csep-verify). `Err` when it could not check at all.
pub trait Verifier {
    fn verify(&self, run_dir: &Path) -> Result<VerifyStatus>;
}

impl<F: Fn(&Path) -> Result<VerifyStatus>> Verifier for F {
    fn verify(&self, run_dir: &Path) -> Result<VerifyStatus> {
        self(run_dir)
    }
}

/// One rejection from the receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub path: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the receipt says, in short.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// The receipt's status; `None` when there is no receipt.
    pub status: Option<String>,
    pub changes: u64,
    #[serde(default)]
    pub changed_paths: Vec<String>,
    #[serde(default)]
    pub rejections: Vec<Rejection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

/// What `complete_job` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionReport {
    pub known_job: bool,
    pub reset_scopes: Vec<Scope>,
    pub reservation_cleared: bool,
    /// The job was rejected or failed: the session's next review waits until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_until: Option<String>,
    /// The job queued at once for directives typed while this one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup_error: Option<String>,
}

/// A `reflect_result`: printed for each job, and kept as `runs/<job>/status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    #[serde(rename = "type")]
    pub kind: String,
    pub job_id: String,
    pub session_id: String,
    pub agent: Option<Agent>,
    pub repo_root: Option<String>,
    pub status: JobStatus,
    /// Why it failed or was rejected (`provider_timeout`, `provider_exit`, `provider_spawn`,
    /// `verify_rejected`, `verify_failed`, `verify_error`, `prepare_failed`, `bad_job`,
    /// `worker_died`, `builtin_failed`), or `nothing_proposed` for skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the job reviewed, and why the trigger queued it.
    pub scopes: Vec<Scope>,
    pub trigger_reasons: Vec<String>,
    pub run_dir: String,
    /// 1 for the first run of the job; more when it was recovered or re-queued.
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub elapsed_ms: Option<u64>,
    pub provider: Option<ProviderRun>,
    /// The provider's process group while it runs (for a successor to clean up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_pgid: Option<i32>,
    pub validation: Option<Validation>,
    /// What csep moved out of an over-budget MEMORY.md in a consolidation job, before the
    /// verifier ran ([`overflow`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_fit: Option<overflow::MemoryFit>,
    pub completion: Option<CompletionReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_error: Option<String>,
    /// Where the job file is now (`spool/reflect/done/…` or `failed/…`).
    pub job_file: Option<String>,
}
