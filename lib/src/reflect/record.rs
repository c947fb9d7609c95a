//! `projects/<bucket>/reflection.json`: how the bucket's last memory job ended, written by the
//! worker when a job that reviewed memory ends (0600, atomic; only the worker writes it, and
//! it holds `spool/reflect/.lock` while it does). The next memory job of the bucket reads it:
//! a `memory_over_budget` rejection makes that job a consolidation job, and the rejection's
//! reasons go into its prompt, so the model learns why its last proposal was refused.
//!
//! Also here: whether a job is a consolidation job ([`job_mode`]).

use super::{JobStatus, Rejection};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// From this share of the budget on, a memory job consolidates (in percent).
pub const CONSOLIDATE_AT_PERCENT: u64 = 80;

/// The verify reason that makes the next memory job a consolidation job.
pub const OVER_BUDGET: &str = "memory_over_budget";

/// `reflection.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub last_memory_job: LastJob,
}

/// How the bucket's last memory job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastJob {
    pub job_id: String,
    pub session_id: String,
    pub status: JobStatus,
    /// The job's `reason` (`verify_rejected`, `provider_timeout`, …), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `review` or `consolidate`.
    pub mode: String,
    /// The verifier's rejections (empty unless rejected).
    #[serde(default)]
    pub rejections: Vec<Rejection>,
    pub at: String,
}

impl LastJob {
    /// The distinct rejection reasons, in the receipt's order.
    pub fn reasons(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rejections {
            if !out.contains(&r.reason.as_str()) {
                out.push(&r.reason);
            }
        }
        out
    }
}

pub fn path(bucket: &Path) -> PathBuf {
    bucket.join("reflection.json")
}

/// The record, if there is a readable one (a missing or broken file is no record).
pub fn load(bucket: &Path) -> Option<BucketRecord> {
    let bytes = std::fs::read(path(bucket)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn save(bucket: &Path, last: LastJob) -> Result<()> {
    let record = BucketRecord {
        kind: "bucket_reflection".into(),
        last_memory_job: last,
    };
    let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| Error::input(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(&path(bucket), &bytes)
}

/// A memory job's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Review,
    Consolidate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Review => "review",
            Mode::Consolidate => "consolidate",
        }
    }
}

/// Whether a job that reviews memory consolidates, and why: memory at
/// [`CONSOLIDATE_AT_PERCENT`] of its budget or more, or the bucket's last memory job was
/// rejected [`OVER_BUDGET`].
pub fn job_mode(
    reviews_memory: bool,
    memory_chars: u64,
    budget: u64,
    last: Option<&LastJob>,
) -> (Mode, Option<String>) {
    if !reviews_memory {
        return (Mode::Review, None);
    }
    if let Some(l) = last.filter(|l| {
        l.status == JobStatus::Rejected && l.rejections.iter().any(|r| r.reason == OVER_BUDGET)
    }) {
        return (
            Mode::Consolidate,
            Some(format!(
                "the last memory job ({}) was rejected {OVER_BUDGET}",
                l.job_id
            )),
        );
    }
    if budget > 0 && memory_chars * 100 >= budget * CONSOLIDATE_AT_PERCENT {
        return (
            Mode::Consolidate,
            Some(format!(
                "MEMORY.md is at {}% of its budget ({memory_chars}/{budget} characters)",
                memory_chars * 100 / budget
            )),
        );
    }
    (Mode::Review, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(status: JobStatus, reasons: &[&str]) -> LastJob {
        LastJob {
            job_id: "j1".into(),
            session_id: "s".into(),
            status,
            reason: None,
            mode: "review".into(),
            rejections: reasons
                .iter()
                .map(|r| Rejection {
                    path: "memory/MEMORY.md".into(),
                    reason: r.to_string(),
                    detail: None,
                })
                .collect(),
            at: String::new(),
        }
    }

    #[test]
    fn consolidation_at_eighty_percent_or_after_an_over_budget_rejection() {
        assert_eq!(job_mode(true, 799, 1000, None).0, Mode::Review);
        let (m, why) = job_mode(true, 800, 1000, None);
        assert_eq!(m, Mode::Consolidate);
        assert!(why.unwrap().contains("80% of its budget (800/1000"));
        let over = last(JobStatus::Rejected, &["duplicate", OVER_BUDGET]);
        let (m, why) = job_mode(true, 10, 1000, Some(&over));
        assert_eq!(m, Mode::Consolidate);
        assert!(why.unwrap().contains("rejected memory_over_budget"));
        assert_eq!(over.reasons(), vec!["duplicate", OVER_BUDGET]);
        // Another rejection, or a job that did not review memory, is a review.
        let other = last(JobStatus::Rejected, &["secret"]);
        assert_eq!(job_mode(true, 10, 1000, Some(&other)).0, Mode::Review);
        assert_eq!(job_mode(false, 900, 1000, Some(&over)).0, Mode::Review);
    }

    #[test]
    fn the_record_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_none());
        save(dir.path(), last(JobStatus::Rejected, &[OVER_BUDGET])).unwrap();
        let r = load(dir.path()).unwrap();
        assert_eq!(r.kind, "bucket_reflection");
        assert_eq!(r.last_memory_job.reasons(), vec![OVER_BUDGET]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(path(dir.path()), "{").unwrap();
        assert!(load(dir.path()).is_none());
    }
}
