//! Queuing a job: the `reflect_job` file written into `spool/reflect/new/` and the session's
//! reservation for it, in that order.

use super::{reflect_queue, Due, Job, JobSnapshot, Scope, State};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::timefmt;
use crate::wire::Agent;
use std::path::Path;

/// Where a job's session is: what a [`Job`] says besides the review itself.
pub(super) struct Target {
    pub(super) session_id: String,
    pub(super) agent: Option<Agent>,
    pub(super) transcript_path: Option<String>,
    pub(super) cwd: Option<String>,
    pub(super) repo_root: Option<String>,
}

/// Writes the job for `due` into `spool/reflect/new/` and reserves the session for it.
/// The caller holds the session's lock and saves `state`. Returns the job id.
pub(super) fn queue_job(
    state_dir: &Path,
    config: &Config,
    state: &mut State,
    due: &Due,
    target: Target,
    now: i64,
) -> Result<String> {
    let job_id = new_job_id(now);
    let created_at = timefmt::format_iso_ms(now);
    let since = due
        .scopes
        .iter()
        .map(|s| match s {
            Scope::Memory => state.memory_reviewed_through_message_id,
            Scope::Skill => state.skill_reviewed_through_message_id,
        })
        .min()
        .unwrap_or(0);
    let job = Job {
        kind: "reflect_job".into(),
        job_id: job_id.clone(),
        session_id: target.session_id,
        agent: target.agent,
        transcript_path: target.transcript_path,
        cwd: target.cwd,
        repo_root: target.repo_root,
        scopes: due.scopes.clone(),
        reasons: due.reasons.clone(),
        matched_keywords: due.keywords.clone(),
        counters: state.counters(),
        since_message_id: since,
        watermark_message_id: state.last_counted_message_id,
        skill_generation_mode: config
            .session_reflection
            .trigger
            .skill_generation_mode
            .to_string(),
        created_at: created_at.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&job).map_err(|e| Error::input(e.to_string()))?;
    // The job goes first: a crash before the state is saved can at worst queue the same
    // review twice, never reserve a slot for a job that does not exist.
    crate::fsutil::enqueue(
        &reflect_queue(state_dir),
        &format!("{job_id}.json"),
        &bytes,
        crate::fsutil::Durability::Durable,
    )?;
    state.active_job_id = Some(job_id.clone());
    state.active_job_reserved_at = Some(created_at.clone());
    state.remember_job(JobSnapshot {
        job_id: job_id.clone(),
        scopes: job.scopes,
        counters: job.counters,
        watermark_message_id: job.watermark_message_id,
        created_at,
    });
    Ok(job_id)
}

/// `20261101T100000Z-1a2b3c4d`: sortable by time, unique by the random tail (1.3.10's shape).
fn new_job_id(now_ms: i64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let stamp: String = timefmt::format_iso_ms(now_ms)
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(crate::fsutil::unique_name("").as_bytes());
    format!("{stamp}Z-{:08x}", h.finish() as u32)
}
