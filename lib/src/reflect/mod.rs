//! The reflection worker: takes a job the trigger queued in `spool/reflect/`, lets a model
//! propose memory and skill changes in a run directory of its own, hands the proposal to a
//! [`Verifier`] (csep-verify: check every byte, then apply atomically or not at all), and
//! records how the job ended.
//!
//! One job, step by step ([`run`]):
//! 1. Take `spool/reflect/.lock` (try-lock: one reflection at a time; `Busy` otherwise) and
//!    claim the job by renaming it from `new/` into `cur/`. A job already in `cur/` belongs
//!    to a worker that died: it is taken first (see [`queue`]).
//! 2. Create `runs/<job>/`: `job.json`; `base.json`, the sha256 of every live file the
//!    proposal may replace (the bucket's MEMORY.md and refs, the `csep-reflect-*` skills);
//!    and the job's mode (`consolidate` at 80 % of the budget or after an over-budget
//!    rejection, see [`record`]); read-only copies of them under `inputs/` with the
//!    session's new messages (`inputs/messages.md`, from the recall index, chosen by kind:
//!    [`select`]); `prompt.md`; an empty `proposal/`. `status.json` says `running`.
//! 3. Run the provider ([`Provider`]) in the run directory with the prompt on stdin and a
//!    timeout (`[session_reflection] timeout_seconds`); its output goes to `provider.log`.
//! 4. Unless the provider failed, put the worker's own `base.json` back (the provider could
//!    write it), fit an over-budget consolidation ([`overflow`]), and run the verifier on the
//!    run directory; it writes `receipt.json` and applies a passing proposal.
//! 5. Tell the trigger how the job ended ([`trigger::complete_job`]): succeeded or skipped
//!    resets the job's scopes; rejected or failed leaves the review due but backs the
//!    session off; a directive typed while the job ran is queued at once as a follow-up.
//!    Write the final `status.json` (and, for a memory job, the bucket's `reflection.json`),
//!    and move the job to `done/` (succeeded, partial, skipped) or `failed/` (rejected,
//!    failed).
//!
//! The model never writes a live file: only the verifier does, and only after its checks.
//!
//! Recovery: a job found in `cur/` is run again from scratch (its provider's process group,
//! if still alive, is killed first), unless its run already has a receipt or a final status,
//! in which case only step 5 is redone. A job whose worker died [`MAX_ATTEMPTS`] times fails
//! with `worker_died`.
//!
//! Lock order: `spool/reflect/.lock` (held for the whole run) → the bucket's lock (taken by
//! the verifier) → the session's `trigger.lock` (taken by `complete_job`, after the verifier
//! has let go of the bucket).

pub mod builtin;
pub mod curate;
mod outcome;
pub mod overflow;
pub mod prompt;
pub mod provider;
pub mod queue;
pub mod record;
pub mod rundir;
pub mod select;
mod status;

pub use outcome::*;
pub use provider::{Provider, ProviderRun};
pub use rundir::{skills_dir, Base};
pub use status::{status, QueueDepths, ResumedJob, StatusReport};

use crate::config::{Backend, Config};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::timefmt;
use crate::trigger::{self, Job, JobEnd, Scope};
use crate::wire::Agent;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a job may take its worker down with it before it is given up.
pub const MAX_ATTEMPTS: u32 = 3;

/// `runs/<job_id>/`.
pub fn run_dir(state_dir: &Path, job_id: &str) -> PathBuf {
    state_dir.join("runs").join(job_id)
}

/// A job id is used as a file and directory name; csep-verify's rule is the one rule.
pub use crate::verify::valid_job_id;

fn now() -> (i64, String) {
    let ms = timefmt::now_ms();
    (ms, timefmt::format_iso_ms(ms))
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| Error::input(e.to_string()))?;
    b.push(b'\n');
    Ok(b)
}

fn write_status(run: &Path, o: &Outcome) -> Result<()> {
    write_atomic(&run.join("status.json"), &to_json(o)?)
}

/// A run's `status.json`, if readable.
pub fn read_status(run: &Path) -> Option<Outcome> {
    let bytes = fs::read(run.join("status.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The receipt in short, if there is one. Lenient: unknown fields are skipped.
pub fn read_receipt(run: &Path) -> Option<Validation> {
    let path = run.join("receipt.json");
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
    let s = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    let changes = v
        .get("changes")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    let rejections = v
        .get("rejections")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    Some(Validation {
        status: s(&v, "status"),
        changes: changes.len() as u64,
        changed_paths: changes.iter().filter_map(|c| s(c, "path")).collect(),
        rejections: rejections
            .iter()
            .map(|r| Rejection {
                path: s(r, "path").unwrap_or_default(),
                reason: s(r, "reason").unwrap_or_else(|| "unnamed".into()),
                detail: s(r, "detail"),
            })
            .collect(),
        receipt: Some(path.display().to_string()),
    })
}

/// How to run the worker.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run at most one job.
    pub once: bool,
    /// Run this job (from `new/`, or a dead worker's from `cur/`) and nothing else.
    pub job: Option<String>,
}

/// What the worker needs for each job.
struct Ctx<'a> {
    state_dir: &'a Path,
    config: &'a Config,
    provider: Provider,
    /// `backend = "auto"`: a failing model provider leaves the job to the builtin one.
    auto: bool,
    verifier: &'a dyn Verifier,
}

/// The provider the config asks for, or why it cannot run. Also refuses when reflection
/// is switched off. Nothing is consumed when this fails.
pub fn provider_for(config: &Config) -> Result<Provider> {
    if !config.session_reflection.enabled {
        return Err(Error::usage(
            "reflection is switched off ([session_reflection] enabled = false)",
        ));
    }
    let mut p = Provider::from_config(&config.session_reflection)?;
    if let Provider::Claude { model, .. } = &mut p {
        // The default model is 1.3.10's, a Codex model: Claude Code gets its own default
        // unless config.toml names one.
        if !config.from_file.contains("session_reflection.model") {
            model.clear();
        }
    }
    Ok(p)
}

/// [`provider_for`], and also `Usage` when its program cannot be found here: what decides
/// whether a worker is worth starting in the background, and `provider_ready` in the status.
pub fn ready_provider(config: &Config) -> Result<Provider> {
    let p = provider_for(config)?;
    match p.problem() {
        Some(problem) => Err(Error::usage(problem)),
        None => Ok(p),
    }
}

/// Runs queued jobs: all of them, or one with `once`, or job `opts.job`. Each finished job's
/// [`Outcome`] goes to `on_result` as soon as it is known. Returns how many jobs ran.
///
/// Errors (nothing was consumed): `Busy` when another worker holds the lock; `Usage` when
/// the configured provider cannot run, or `opts.job` is not queued. A job that fails is
/// not an error: its outcome says so.
pub fn run(
    state_dir: &Path,
    config: &Config,
    verifier: &dyn Verifier,
    opts: &Options,
    on_result: &mut dyn FnMut(&Outcome),
) -> Result<u64> {
    // The provider runs in the run directory: every path it is given must be absolute.
    let state_dir =
        &std::path::absolute(state_dir).map_err(|e| Error::io(state_dir.display(), e))?;
    let ctx = Ctx {
        state_dir,
        config,
        provider: provider_for(config)?,
        auto: config.session_reflection.backend == Backend::Auto,
        verifier,
    };
    if let Some(id) = &opts.job {
        if !valid_job_id(id) {
            return Err(Error::usage(format!("{id:?} is not a job id")));
        }
        let _lock = queue::try_lock(state_dir)?;
        let Some((cur, recovered)) = queue::find(state_dir, id) else {
            return Err(Error::usage(match queue::finished(state_dir, id) {
                Some(p) => format!("job {id} has already run (now {})", p.display()),
                None => format!(
                    "no job {id} in {}",
                    queue::dir(state_dir).join("new").display()
                ),
            }));
        };
        let o = process(&ctx, &cur, recovered)?;
        on_result(&o);
        return Ok(1);
    }
    let mut ran = 0;
    let mut seen = std::collections::HashSet::new();
    loop {
        let lock = queue::try_lock(state_dir);
        let lock = match lock {
            // Someone else has taken over the queue after we let go: they will see our jobs.
            Err(e) if e.kind == crate::ErrorKind::Busy && ran > 0 => return Ok(ran),
            other => other?,
        };
        while let Some((cur, recovered)) = queue::next(state_dir) {
            // A job that could not be moved out of cur/ would come back forever.
            if !seen.insert(cur.clone()) {
                return Err(Error::input(format!(
                    "{} could not be moved out of the queue",
                    cur.display()
                )));
            }
            let o = process(&ctx, &cur, recovered)?;
            on_result(&o);
            ran += 1;
            if opts.once {
                return Ok(ran);
            }
        }
        drop(lock);
        // A job queued between our last look and letting go must not wait for the next one.
        if !crate::index::spool::has_new(state_dir, "reflect") {
            return Ok(ran);
        }
    }
}

fn bad_job(ctx: &Ctx, cur: &Path, detail: String) -> Result<Outcome> {
    let (ms, at) = now();
    let id = queue::job_id_of(cur);
    let mut o = Outcome {
        kind: "reflect_result".into(),
        job_id: id.clone(),
        session_id: String::new(),
        agent: None,
        repo_root: None,
        status: JobStatus::Failed,
        reason: Some("bad_job".into()),
        detail: Some(detail),
        scopes: vec![],
        trigger_reasons: vec![],
        run_dir: String::new(),
        attempt: 1,
        recovered: false,
        started_at: at.clone(),
        finished_at: Some(at),
        elapsed_ms: Some((timefmt::now_ms() - ms).max(0) as u64),
        provider: None,
        provider_pgid: None,
        validation: None,
        memory_fit: None,
        completion: None,
        completion_error: None,
        job_file: None,
    };
    o.job_file = Some(
        queue::finish(ctx.state_dir, cur, false)?
            .display()
            .to_string(),
    );
    Ok(o)
}

/// Runs one claimed job (in `cur/`) to its end. `Err` only when the job's own files cannot
/// be written or moved.
fn process(ctx: &Ctx, cur: &Path, recovered: bool) -> Result<Outcome> {
    let (started_ms, started_at) = now();
    let job: Job = match fs::read(cur)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(j) => j,
        Err(e) => return bad_job(ctx, cur, format!("unreadable job file: {e}")),
    };
    if !valid_job_id(&job.job_id) || job.job_id != queue::job_id_of(cur) {
        return bad_job(
            ctx,
            cur,
            format!(
                "job id {:?} is not usable or does not match the file name",
                job.job_id
            ),
        );
    }
    let run = run_dir(ctx.state_dir, &job.job_id);
    let mut o = Outcome {
        kind: "reflect_result".into(),
        job_id: job.job_id.clone(),
        session_id: job.session_id.clone(),
        agent: job.agent,
        repo_root: rundir::repo_root_of(&job),
        status: JobStatus::Running,
        reason: None,
        detail: None,
        scopes: job.scopes.clone(),
        trigger_reasons: job.reasons.clone(),
        run_dir: run.display().to_string(),
        attempt: 1,
        recovered,
        started_at,
        finished_at: None,
        elapsed_ms: None,
        provider: None,
        provider_pgid: None,
        validation: None,
        memory_fit: None,
        completion: None,
        completion_error: None,
        job_file: None,
    };

    if let Some(prev) = read_status(&run) {
        o.attempt = prev.attempt + 1;
        if let Some(pgid) = prev.provider_pgid {
            if provider::runs_job(pgid, &job.job_id) {
                provider::kill_group(pgid, libc::SIGKILL);
            }
        }
        if recovered {
            // The dead worker got as far as a verdict: only the bookkeeping is left.
            if prev.status != JobStatus::Running {
                let mut prev = prev;
                prev.recovered = true;
                return finish(ctx, &job, cur, &run, prev, started_ms);
            }
            if let Some(v) = read_receipt(&run) {
                o.provider = prev.provider;
                let status = v.status.as_deref().and_then(VerifyStatus::parse);
                o.validation = Some(v);
                match status {
                    Some(s) => verdict(&mut o, s),
                    None => fail(&mut o, "verify_error", "the receipt has no known status"),
                }
                return finish(ctx, &job, cur, &run, o, started_ms);
            }
            if prev.attempt >= MAX_ATTEMPTS {
                fail(
                    &mut o,
                    "worker_died",
                    format!("the worker died {} times running this job", prev.attempt),
                );
                return finish(ctx, &job, cur, &run, o, started_ms);
            }
        }
    }
    if let Err(e) = rundir::remove(&run) {
        fail(&mut o, "prepare_failed", e.message);
        return finish(ctx, &job, cur, &run, o, started_ms);
    }

    let base = match prepare(ctx, &job, &run, &o) {
        Ok((base, _)) => base,
        Err(e) => {
            fail(&mut o, "prepare_failed", e.message);
            return finish(ctx, &job, cur, &run, o, started_ms);
        }
    };

    let ran = if ctx.provider == Provider::Builtin {
        run_builtin(ctx, &job, &run, None)
    } else {
        let timeout = Duration::from_secs_f64(ctx.config.session_reflection.timeout_seconds);
        let running = o.clone();
        let ran = provider::run(
            &ctx.provider,
            &run,
            &job.job_id,
            &run.join("prompt.md"),
            timeout,
            &mut |pgid| {
                let mut r = running.clone();
                r.provider_pgid = Some(pgid);
                let _ = write_status(&run, &r);
            },
        );
        // `auto`: a model provider that could not do the job leaves it to the builtin one.
        let failed = match &ran {
            Err(e) => Some(("provider_spawn", e.message.clone())),
            Ok(p) => p.failure().map(|r| (r, failure_detail(p))),
        };
        match failed {
            Some((reason, detail)) if ctx.auto => run_builtin(
                ctx,
                &job,
                &run,
                Some((ctx.provider.backend(), reason, detail)),
            ),
            _ => ran.map(Ran::Model),
        }
    };
    match ran {
        Err(e) => {
            fail(&mut o, "provider_spawn", e.message);
            return finish(ctx, &job, cur, &run, o, started_ms);
        }
        Ok(Ran::BuiltinFailed(p, message)) => {
            o.provider = Some(p);
            fail(&mut o, "builtin_failed", message);
            return finish(ctx, &job, cur, &run, o, started_ms);
        }
        Ok(Ran::Model(p)) => {
            if let Some(reason) = p.failure() {
                let detail = failure_detail(&p);
                o.provider = Some(p);
                fail(&mut o, reason, detail);
                return finish(ctx, &job, cur, &run, o, started_ms);
            }
            o.provider = Some(p);
        }
        Ok(Ran::Builtin(p)) => o.provider = Some(p),
    }
    // The provider could write in the run directory, base.json included: the verifier gets
    // the worker's own (a `mode` of `consolidate` would let a proposal remove most lines).
    if let Err(e) = write_atomic(&run.join("base.json"), &to_json(&base)?) {
        fail(
            &mut o,
            "prepare_failed",
            format!("base.json: {}", e.message),
        );
        return finish(ctx, &job, cur, &run, o, started_ms);
    }
    // The last resort for the budget, before the verifier sees the proposal. When it cannot
    // be done, MEMORY.md is left over its budget (it is written last), and rejected as such.
    o.memory_fit = overflow::fit_proposal(&run, &base, &now().1).unwrap_or(None);
    // Recorded before the verifier runs, so a successor knows the provider is done.
    let _ = write_status(&run, &o);

    match ctx.verifier.verify(&run) {
        Ok(s) => {
            o.validation = read_receipt(&run);
            verdict(&mut o, s);
        }
        Err(e) => {
            o.validation = read_receipt(&run);
            fail(&mut o, "verify_error", e.message);
        }
    }
    finish(ctx, &job, cur, &run, o, started_ms)
}

/// How the provider step went.
enum Ran {
    Model(ProviderRun),
    Builtin(ProviderRun),
    BuiltinFailed(ProviderRun, String),
}

fn failure_detail(p: &ProviderRun) -> String {
    if p.timed_out {
        format!(
            "the provider ran longer than timeout_seconds = {} and was stopped; see provider.log",
            p.timeout_seconds
        )
    } else {
        match (p.exit_code, p.signal) {
            (Some(c), _) => format!("the provider exited with {c}; see provider.log"),
            (None, Some(s)) => format!("the provider was killed by signal {s}; see provider.log"),
            _ => "the provider ended abnormally; see provider.log".to_string(),
        }
    }
}

/// Runs the builtin provider in the run directory; `fallback` names the model provider it
/// stands in for (`auto`), why that one failed, and the detail. Whatever the model left in
/// `proposal/` and `draft.json` is set aside first: only the builtin's proposal is checked.
fn run_builtin(
    ctx: &Ctx,
    job: &Job,
    run: &Path,
    fallback: Option<(&str, &str, String)>,
) -> Result<Ran> {
    let started = std::time::Instant::now();
    if let Some((backend, reason, detail)) = &fallback {
        let line = format!(
            "csep: {backend} could not do this job ({reason}: {detail}); the builtin provider ran instead\n"
        );
        if let Ok(mut f) = crate::fsutil::open_append_private(&run.join("provider.log")) {
            use std::io::Write;
            let _ = f.write_all(line.as_bytes());
        }
        for leftover in ["proposal", "draft.json"] {
            let p = run.join(leftover);
            let _ = if p.is_dir() {
                rundir::remove(&p)
            } else {
                fs::remove_file(&p).map_err(|e| Error::io(p.display(), e))
            };
        }
        crate::fsutil::create_dir_private(&run.join("proposal"))?;
    }
    let repo_root = rundir::repo_root_of(job)
        .ok_or_else(|| Error::input("the job names neither a repository nor a directory"))?;
    let bucket = crate::memory::bucket_dir(ctx.state_dir, &repo_root);
    let result = builtin::propose(
        ctx.state_dir,
        run,
        job,
        &bucket,
        ctx.config.memory.inject_max_chars,
    );
    let mut p = ProviderRun {
        backend: "builtin".into(),
        program: "csep (builtin)".into(),
        pgid: None,
        exit_code: Some(if result.is_ok() { 0 } else { 1 }),
        signal: None,
        timed_out: false,
        timeout_seconds: ctx.config.session_reflection.timeout_seconds,
        elapsed_ms: started.elapsed().as_millis() as u64,
        fallback_from: None,
        fallback_reason: None,
    };
    if let Some((backend, reason, _)) = fallback {
        p.fallback_from = Some(backend.to_string());
        p.fallback_reason = Some(reason.to_string());
    }
    Ok(match result {
        Ok(_) => Ran::Builtin(p),
        Err(e) => Ran::BuiltinFailed(p, e.message),
    })
}

/// Step 2: the run directory's files. Returns what went into `inputs/`.
fn prepare(ctx: &Ctx, job: &Job, run: &Path, o: &Outcome) -> Result<(Base, rundir::Inputs)> {
    let runs = ctx.state_dir.join("runs");
    crate::fsutil::create_dir_private(&runs)?;
    // Run directories hold session text: for the owner only.
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&runs, fs::Permissions::from_mode(0o700));
    }
    let proposal = run.join("proposal");
    crate::fsutil::create_dir_private(&proposal)?;
    write_status(run, o)?;
    write_atomic(&run.join("job.json"), &to_json(job)?)?;
    let repo_root = rundir::repo_root_of(job)
        .ok_or_else(|| Error::input("the job names neither a repository nor a directory"))?;
    let bucket = crate::memory::bucket_dir(ctx.state_dir, &repo_root);
    let r = &ctx.config.session_reflection;
    let (base, mut inputs) = rundir::snapshot(
        run,
        job,
        &repo_root,
        &bucket,
        &std::path::absolute(skills_dir()).unwrap_or_else(|_| skills_dir()),
        &r.skill_prefix,
        ctx.config.memory.inject_max_chars,
    )?;
    let mut base = base;
    let last = record::load(&bucket).map(|r| r.last_memory_job);
    let (mode, why) = record::job_mode(
        job.scopes.contains(&Scope::Memory),
        inputs.memory_chars.unwrap_or(0),
        base.memory_max_chars,
        last.as_ref(),
    );
    base.mode = mode.as_str().to_string();
    inputs.mode_reason = why;
    if job.scopes.contains(&Scope::Memory) {
        inputs.last_rejected = last.filter(|l| l.status == JobStatus::Rejected);
    }
    write_atomic(&run.join("base.json"), &to_json(&base)?)?;
    let messages = rundir::messages_markdown(ctx.state_dir, job)?;
    rundir::write_messages(run, &messages.markdown)?;
    inputs.messages = messages.shown;
    inputs.messages_omitted = messages.omitted;
    inputs.user_messages = messages.user.len() as u64;
    inputs.candidates = rundir::candidates(&messages.user);
    let mode = r.trigger.skill_generation_mode.as_str();
    let text = prompt::render(job, &base, &inputs, run, mode);
    write_atomic(&run.join("prompt.md"), text.as_bytes())?;
    Ok((base, inputs))
}

fn fail(o: &mut Outcome, reason: &str, detail: impl Into<String>) {
    o.status = JobStatus::Failed;
    o.reason = Some(reason.to_string());
    o.detail = Some(detail.into());
}

/// The job's status from the verifier's verdict.
fn verdict(o: &mut Outcome, s: VerifyStatus) {
    let rejections = o
        .validation
        .as_ref()
        .map(|v| v.rejections.clone())
        .unwrap_or_default();
    let named = || {
        rejections
            .iter()
            .map(|r| format!("{} ({})", r.reason, r.path))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match s {
        VerifyStatus::Succeeded => o.status = JobStatus::Succeeded,
        VerifyStatus::Partial => {
            o.status = JobStatus::Partial;
            if !rejections.is_empty() {
                o.detail = Some(format!("not applied: {}", named()));
            }
        }
        VerifyStatus::Skipped => {
            o.status = JobStatus::Skipped;
            o.reason = Some("nothing_proposed".into());
        }
        VerifyStatus::Rejected => {
            o.status = JobStatus::Rejected;
            o.reason = Some("verify_rejected".into());
            o.detail = Some(if rejections.is_empty() {
                "the proposal was rejected; see receipt.json".into()
            } else {
                format!("rejected: {}", named())
            });
        }
        VerifyStatus::Failed => {
            fail(o, "verify_failed", "the verifier failed; see receipt.json");
        }
    }
}

/// Step 5: reset the counters of what succeeded, record the status, move the job file.
fn finish(
    ctx: &Ctx,
    job: &Job,
    cur: &Path,
    run: &Path,
    mut o: Outcome,
    started_ms: i64,
) -> Result<Outcome> {
    let end = match o.status {
        JobStatus::Succeeded => JobEnd::Succeeded,
        JobStatus::Partial => JobEnd::Partial,
        JobStatus::Skipped => JobEnd::Skipped,
        JobStatus::Rejected => JobEnd::Rejected,
        // Running or interrupted never reach here; counting them as failed is the safe side.
        JobStatus::Failed | JobStatus::Running | JobStatus::Interrupted => JobEnd::Failed,
    };
    match trigger::complete_job(ctx.state_dir, ctx.config, &job.session_id, &job.job_id, end) {
        Ok(c) => {
            o.completion = Some(CompletionReport {
                known_job: c.known_job,
                reset_scopes: c.reset_scopes,
                reservation_cleared: c.reservation_cleared,
                backoff_until: c.backoff_until,
                followup_job_id: c.followup_job_id,
                followup_error: c.followup_error,
            });
            o.completion_error = None;
        }
        Err(e) => o.completion_error = Some(e.message),
    }
    let (ms, at) = now();
    if o.finished_at.is_none() {
        o.finished_at = Some(at);
        o.elapsed_ms = Some((ms - started_ms).max(0) as u64);
    }
    o.provider_pgid = None;
    if job.scopes.contains(&Scope::Memory) {
        remember_memory_job(ctx, job, run, &o);
    }
    let dest = queue::dir(ctx.state_dir)
        .join(if o.status.is_done() { "done" } else { "failed" })
        .join(cur.file_name().unwrap_or_default());
    o.job_file = Some(dest.display().to_string());
    if run.is_dir() {
        write_status(run, &o)?;
    }
    queue::finish(ctx.state_dir, cur, o.status.is_done())?;
    Ok(o)
}

/// Records how this memory job ended in the bucket's `reflection.json` (best effort: the
/// record only steers the next job's mode and prompt).
fn remember_memory_job(ctx: &Ctx, job: &Job, run: &Path, o: &Outcome) {
    let Some(root) = rundir::repo_root_of(job) else {
        return;
    };
    let bucket = crate::memory::bucket_dir(ctx.state_dir, &root);
    let mode = fs::read(run.join("base.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Base>(&b).ok())
        .map_or_else(|| "review".to_string(), |b| b.mode);
    let _ = record::save(
        &bucket,
        record::LastJob {
            job_id: job.job_id.clone(),
            session_id: job.session_id.clone(),
            status: o.status,
            reason: o.reason.clone(),
            mode,
            rejections: o
                .validation
                .as_ref()
                .map(|v| v.rejections.clone())
                .unwrap_or_default(),
            at: o.finished_at.clone().unwrap_or_default(),
        },
    );
}

#[cfg(test)]
mod tests;
