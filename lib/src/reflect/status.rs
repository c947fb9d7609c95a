//! `csep session-reflect --status`: the job queue's depths, the running or resumable job, and
//! the recent outcomes, read without taking any lock.

use super::*;

/// Queue depths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueDepths {
    pub new: u64,
    pub cur: u64,
    pub done: u64,
    pub failed: u64,
}

/// `csep session-reflect --status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    #[serde(rename = "type")]
    pub kind: String,
    pub state_dir: String,
    pub enabled: bool,
    /// `[session_reflection] backend` as configured (`auto` by default).
    pub backend: String,
    /// The provider the next job gets (`builtin`, `codex`, `claude`, `command`), and why
    /// (for `auto`: which programs it found).
    pub provider: Option<String>,
    pub provider_reason: String,
    /// Whether the configured provider can run; `provider_problem` says why not.
    pub provider_ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_problem: Option<String>,
    pub timeout_seconds: f64,
    pub skills_dir: String,
    pub worker_running: bool,
    pub lock_path: String,
    pub queue: QueueDepths,
    /// The newest job's result (`status.json` of the newest run), if any job has run.
    pub latest: Option<Outcome>,
    pub runs: u64,
    /// Sessions the trigger keeps counters for.
    pub trigger_sessions: u64,
    /// Jobs a worker resumed from `cur/` after the worker running them died (`recovered` in
    /// their result), and the newest of them.
    pub resumed_jobs: u64,
    pub latest_resumed: Option<ResumedJob>,
}

/// A job resumed after its worker died, in short.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResumedJob {
    pub job_id: String,
    pub session_id: String,
    pub status: JobStatus,
    pub attempt: u32,
    pub finished_at: Option<String>,
}

/// The state of reflection: the queue, the worker, the latest job with its verdict and why.
pub fn status(state_dir: &Path, config: &Config) -> StatusReport {
    let locked = queue::is_locked(state_dir);
    let mut latest: Option<Outcome> = None;
    let mut runs = 0;
    let mut resumed_jobs = 0;
    let mut latest_resumed: Option<Outcome> = None;
    if let Ok(rd) = fs::read_dir(state_dir.join("runs")) {
        for e in rd.flatten() {
            let Some(o) = read_status(&e.path()) else {
                continue;
            };
            runs += 1;
            if o.recovered {
                resumed_jobs += 1;
                if latest_resumed
                    .as_ref()
                    .is_none_or(|l| o.started_at > l.started_at)
                {
                    latest_resumed = Some(o.clone());
                }
            }
            if latest.as_ref().is_none_or(|l| o.started_at > l.started_at) {
                latest = Some(o);
            }
        }
    }
    if let Some(l) = latest.as_mut() {
        if l.status == JobStatus::Running && !locked {
            l.status = JobStatus::Interrupted;
        }
    }
    // Resolved once (`auto` looks for programs on PATH); `ready_provider`'s answer from it.
    let resolved = provider_for(config);
    let problem = match &resolved {
        Ok(p) => p.problem(),
        Err(e) => Some(e.message.clone()),
    };
    let (provider, provider_reason) = match resolved {
        Ok(p) => {
            let why = match (&config.session_reflection.backend, &p) {
                (Backend::Auto, Provider::Builtin) => "auto: neither Codex nor Claude Code can run here, so csep's builtin rules keep the user's explicit directives".to_string(),
                (Backend::Auto, p) => format!(
                    "auto: {} can run here (a job it fails is left to the builtin provider)",
                    p.argv(Path::new("."))[0]
                ),
                (b, _) => format!("configured: backend = {:?}", b.as_str()),
            };
            (Some(p.backend().to_string()), why)
        }
        Err(e) => (None, e.message),
    };
    let trigger_sessions = fs::read_dir(state_dir.join("triggers"))
        .map(|rd| rd.flatten().filter(|e| e.path().is_dir()).count() as u64)
        .unwrap_or(0);
    StatusReport {
        kind: "session_reflect_status".into(),
        state_dir: state_dir.display().to_string(),
        enabled: config.session_reflection.enabled,
        backend: config.session_reflection.backend.to_string(),
        provider,
        provider_reason,
        provider_ready: problem.is_none(),
        provider_problem: problem,
        timeout_seconds: config.session_reflection.timeout_seconds,
        skills_dir: skills_dir().display().to_string(),
        worker_running: locked,
        lock_path: queue::lock_path(state_dir).display().to_string(),
        queue: QueueDepths {
            new: queue::count(state_dir, "new"),
            cur: queue::count(state_dir, "cur"),
            done: queue::count(state_dir, "done"),
            failed: queue::count(state_dir, "failed"),
        },
        latest,
        runs,
        trigger_sessions,
        resumed_jobs,
        latest_resumed: latest_resumed.map(|o| ResumedJob {
            job_id: o.job_id,
            session_id: o.session_id,
            status: o.status,
            attempt: o.attempt,
            finished_at: o.finished_at,
        }),
    }
}
