//! The reflection trigger: after a session's transcript is indexed, decide whether it is time
//! to review the session for memory (rules, preferences, corrections) or for skills (a
//! procedure worth reusing), and if so queue a job in `spool/reflect/new/` for the worker.
//!
//! The policy is csep 1.3.10's. Per session, since the last review of each scope, count
//! stops, readable characters of new user and assistant text, and tool calls. A review of
//! memory is due after `memory_stop_interval` stops or `memory_context_chars` characters, a
//! review of skills after `skill_tool_call_interval` tool calls, and either at once when the
//! human typed a high-signal word ([`words`]). While a job for the session is reserved, a due
//! review is deferred; a reservation older than `active_job_stale_seconds` is released.
//! Queuing does not reset the counters: the worker calls [`complete_job`] when it is done,
//! which subtracts what the job covered when it was reviewed (so counts that arrived while
//! the job ran still count), and clears the reservation.
//!
//! A job that was rejected or failed leaves its review due but backs the session off
//! ([`backoff_ms`]: 15 min, doubling, at most 24 h): until then a due review is deferred,
//! unless the human typed a directive after what that job covered. Without the backoff the
//! same session would go to the model, and be refused, at every Stop.
//!
//! Differences from 1.3.10, on purpose:
//! - the counts come from the recall index (new rows of `messages` past a watermark), not
//!   from re-reading the transcript, so they agree with what recall shows; injected context
//!   (flagged background by the indexer) is neither counted nor scanned for words;
//! - a job reviews only the scopes whose reasons fired (1.3.10 always asks for both);
//! - a high-signal word is remembered until a review of its scope covers it, so a word said
//!   while a job is running is not lost;
//! - `SessionEnd` counts new text and tool calls and may queue, but is not a stop: 1.3.10
//!   only hooks `Stop`, and a session's last turn already ended with one. Since no counter
//!   will grow after it, a waiting high-signal word is due then even with
//!   `high_signal_immediate` off (words are always remembered, only their effect waits);
//! - a word typed while a job runs is queued by that job's [`complete_job`], not left for a
//!   Stop that may never come;
//! - readable characters are those of user and assistant text only; tool calls are counted
//!   as calls, not also as characters.
//!
//! Sessions that reflection itself started are never triggered: see [`crate::provenance`].

mod queue;
mod record;
mod state;
pub mod words;

pub use state::{
    backoff_ms, session_dir, session_key, JobSnapshot, State, BACKOFF_BASE_MS, BACKOFF_MAX_MS,
    DECISION_RETENTION,
};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::index::db;
use crate::index::sessions::{self, MessageFacts};
use crate::timefmt;
use crate::wire::Agent;
use crate::wire::Event;
use rusqlite::Connection;
use serde::Serialize;
use state::{Files, Hit};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::provenance::{is_reflection_source, is_reflection_text, JOB_MARKER};
use queue::{queue_job, Target};
pub use record::{Counters, Decision, Input, Job, Scope, Thresholds, Verdict};

/// The `event` of a decision the worker's [`complete_job`] made (a follow-up job), not a hook.
pub const FOLLOW_UP_EVENT: &str = "JobEnded";

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Decide and report, but write nothing.
    pub dry_run: bool,
    /// How long to wait for another run on the same session before giving up as busy.
    pub lock_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry_run: false,
            lock_wait: Duration::from_secs(2),
        }
    }
}

fn thresholds(config: &Config) -> Thresholds {
    let t = &config.session_reflection.trigger;
    Thresholds {
        memory_stop_interval: t.memory_stop_interval,
        memory_context_chars: t.memory_context_chars,
        skill_tool_call_interval: t.skill_tool_call_interval,
        high_signal_immediate: t.high_signal_immediate,
        active_job_stale_seconds: t.active_job_stale_seconds,
    }
}

/// The session's row in the index.
struct Session {
    rowid: i64,
    session_id: String,
    agent: Option<Agent>,
    cwd: Option<String>,
    repo_root: Option<String>,
    thread_source: Option<String>,
}

fn find_session(conn: &Connection, id: &str) -> Result<Option<Session>> {
    Ok(sessions::find_session(conn, id)?.map(|r| Session {
        rowid: r.rowid,
        session_id: r.session_id,
        agent: r.agent.as_deref().and_then(Agent::parse),
        cwd: r.cwd,
        repo_root: r.repo_root,
        thread_source: r.thread_source,
    }))
}

/// The index's name for the input's session: Claude Code sessions are `claude:<id>`. With
/// no agent given, whichever form the index has.
fn index_ids(input: &Input) -> Vec<String> {
    let raw = input.session_id.as_str();
    let claude = if raw.starts_with("claude:") {
        raw.to_string()
    } else {
        format!("claude:{raw}")
    };
    match input.agent {
        Some(agent) => vec![agent.session_key(raw)],
        None if Agent::of_session_key(raw).is_some() => vec![raw.to_string()],
        None => vec![raw.to_string(), claude],
    }
}

/// What the messages past the watermark add up to.
#[derive(Default)]
struct Delta {
    newest_id: i64,
    messages: u64,
    readable_chars: u64,
    tool_calls: u64,
    hits: Vec<Hit>,
    reflection_marker: bool,
}

fn scan(conn: &Connection, session: i64, after: i64) -> Result<Delta> {
    let mut d = Delta {
        newest_id: after,
        ..Delta::default()
    };
    sessions::messages_after(conn, session, after, |m| {
        let MessageFacts {
            id,
            role,
            is_call,
            background,
            chars,
            text,
        } = m;
        d.newest_id = d.newest_id.max(id);
        d.messages += 1;
        if let Some(t) = &text {
            if is_reflection_text(t) {
                d.reflection_marker = true;
            }
        }
        match role.as_str() {
            "assistant" if is_call => d.tool_calls += 1,
            "user" | "assistant" if !background => {
                d.readable_chars += chars.max(0) as u64;
                // Words are remembered even when they do not fire at once: a SessionEnd
                // makes a waiting one due.
                if role == "user" {
                    for (scope, keyword) in words::find(text.as_deref().unwrap_or("")) {
                        d.hits.push(Hit {
                            message_id: id,
                            scope,
                            keyword: keyword.to_string(),
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(d)
}

/// A review that is due: why, what it looks at, and the words that made it due.
#[derive(Debug, Default)]
struct Due {
    reasons: Vec<String>,
    scopes: Vec<Scope>,
    keywords: Vec<String>,
}

/// What is due for `state`. Pending high-signal words count when `words_count`: with
/// `high_signal_immediate`, or once the session has ended.
fn due(state: &State, t: &Thresholds, words_count: bool) -> Due {
    let mut reasons = Vec::new();
    if state.stops_since_memory_review >= t.memory_stop_interval {
        reasons.push("memory_stop_interval");
    }
    if state.readable_chars_since_memory_review >= t.memory_context_chars {
        reasons.push("memory_context_chars");
    }
    if state.tool_calls_since_skill_review >= t.skill_tool_call_interval {
        reasons.push("skill_tool_call_interval");
    }
    let mut keywords: Vec<String> = Vec::new();
    if words_count {
        let pending: Vec<&Hit> = state.pending_hits().collect();
        if pending.iter().any(|h| h.scope == Scope::Memory) {
            reasons.push("high_signal_memory_keyword");
        }
        if pending.iter().any(|h| h.scope == Scope::Skill) {
            reasons.push("high_signal_skill_keyword");
        }
        keywords = pending.iter().map(|h| h.keyword.clone()).collect();
        keywords.sort();
        keywords.dedup();
    }
    let mut scopes: Vec<Scope> = reasons
        .iter()
        .map(|r| {
            if r.contains("skill") {
                Scope::Skill
            } else {
                Scope::Memory
            }
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    Due {
        reasons: reasons.into_iter().map(String::from).collect(),
        scopes,
        keywords,
    }
}

fn decision(input: &Input, session_id: String, agent: Option<Agent>, config: &Config) -> Decision {
    Decision {
        kind: "trigger_decision".into(),
        session_id,
        agent,
        event: input.event_name.clone(),
        decision: Verdict::Skipped,
        reasons: Vec::new(),
        scopes: Vec::new(),
        matched_keywords: Vec::new(),
        counters: Counters::default(),
        thresholds: thresholds(config),
        new_messages: 0,
        watermark_message_id: 0,
        job_id: None,
        active_job_id: None,
        released_job_id: None,
        backoff_until: None,
        notes: Vec::new(),
        dry_run: false,
        at: timefmt::format_iso_ms(timefmt::now_ms()),
    }
}

fn skipped(mut d: Decision, reason: &str) -> Decision {
    d.decision = Verdict::Skipped;
    d.reasons = vec![reason.to_string()];
    d
}

/// Decides for one input: counts what is new, and queues a job when one is due. `skipped`
/// decisions write nothing; every other one updates `state.json` and `decisions.jsonl`
/// (unless `dry_run`). Errors: `Busy` when another run holds the session's lock past
/// `opts.lock_wait`; `Db`/`Io` when the index or the state dir cannot be read or written.
pub fn evaluate(
    state_dir: &Path,
    config: &Config,
    input: &Input,
    opts: &Options,
) -> Result<Decision> {
    let ids = index_ids(input);
    let mut d = decision(input, ids[0].clone(), input.agent, config);
    d.dry_run = opts.dry_run;
    if !config.session_reflection.enabled {
        return Ok(skipped(d, "reflection_disabled"));
    }
    if !config.session_reflection.trigger.enabled {
        return Ok(skipped(d, "trigger_disabled"));
    }
    if crate::provenance::in_reflection_job()
        || input
            .thread_source
            .as_deref()
            .is_some_and(is_reflection_source)
    {
        return Ok(skipped(d, "reflection_session"));
    }
    if !matches!(input.event, Event::Stop | Event::SessionEnd) {
        return Ok(skipped(d, "not_a_stop_event"));
    }
    let Some(conn) = db::open_ro(&crate::paths::index_db(state_dir), db::ReadOnly::Upgrade)? else {
        return Ok(skipped(d, "not_indexed"));
    };
    let mut session = None;
    for id in &ids {
        if let Some(s) = find_session(&conn, id)? {
            session = Some(s);
            break;
        }
    }
    let Some(session) = session else {
        // The indexer remembers, but does not archive, csep's own reflection sessions.
        let excluded = match &input.transcript_path {
            Some(path) => {
                let canonical = std::fs::canonicalize(path)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| path.clone());
                sessions::excluded_source(&conn, &canonical)?
            }
            None => None,
        };
        return Ok(skipped(
            d,
            if excluded.is_some() {
                "reflection_session"
            } else {
                "not_indexed"
            },
        ));
    };
    d.session_id = session.session_id.clone();
    d.agent = input.agent.or(session.agent);
    if session
        .thread_source
        .as_deref()
        .is_some_and(is_reflection_source)
    {
        return Ok(skipped(d, "reflection_session"));
    }

    let t = thresholds(config);
    let max_id = sessions::max_message_id(&conn)?;
    let read = |files: &Files| -> Result<(State, Vec<String>, Delta)> {
        let (mut state, reset) = files.load(&session.session_id)?;
        let mut notes = Vec::new();
        if reset {
            notes.push("state_reset".to_string());
        }
        // A rebuilt index numbers messages from 1 again; a watermark past its end would
        // otherwise hide every new message of the session.
        if state.last_counted_message_id > max_id {
            state.last_counted_message_id = 0;
            notes.push("watermark_reset".to_string());
        }
        let delta = scan(&conn, session.rowid, state.last_counted_message_id)?;
        Ok((state, notes, delta))
    };
    // Look before taking the lock, which creates the session's directory: reflection's own
    // sessions must leave no trace.
    let unlocked = Files::unlocked(state_dir, &session.session_id);
    let peek = read(&unlocked)?;
    if peek.2.reflection_marker {
        return Ok(skipped(d, "reflection_session"));
    }
    let (files, (mut state, notes, delta)) = if opts.dry_run {
        (unlocked, peek)
    } else {
        let files = Files::lock(state_dir, &session.session_id, opts.lock_wait)?;
        // Another run may have counted in between: then count again from its watermark.
        let again = match files.load(&session.session_id)? {
            (s, false) if s == peek.0 => peek,
            _ => read(&files)?,
        };
        if again.2.reflection_marker {
            return Ok(skipped(d, "reflection_session"));
        }
        (files, again)
    };
    d.notes.extend(notes);
    state.agent = d.agent.map(|a| a.as_str().to_string());
    if input.event == Event::Stop {
        state.stops_since_memory_review += 1;
    }
    // A Stop after a SessionEnd: the session was resumed, and its counters grow again.
    state.session_ended = input.event == Event::SessionEnd;
    state.readable_chars_since_memory_review += delta.readable_chars;
    state.tool_calls_since_skill_review += delta.tool_calls;
    state.last_counted_message_id = delta.newest_id;
    state.add_hits(delta.hits);
    d.new_messages = delta.messages;
    d.watermark_message_id = state.last_counted_message_id;

    let now = timefmt::now_ms();
    if let Some(job) = state.active_job_id.clone() {
        let age_ms = state
            .active_job_reserved_at
            .as_deref()
            .and_then(timefmt::parse_iso_ms)
            .map(|at| now - at);
        // An unreadable reservation time counts as fresh, as in 1.3.10: better to wait for
        // the staleness window of a later, readable one than to queue twice.
        if age_ms.is_some_and(|age| age > t.active_job_stale_seconds as i64 * 1000) {
            state.active_job_id = None;
            state.active_job_reserved_at = None;
            d.released_job_id = Some(job);
            d.notes.push("stale_reservation_released".into());
        }
    }

    let due = due(&state, &t, t.high_signal_immediate || state.session_ended);
    if state.session_ended && !t.high_signal_immediate && state.pending_hits().next().is_some() {
        d.notes.push("session_end_review".into());
    }
    d.counters = state.counters();
    d.matched_keywords = due.keywords.clone();
    d.active_job_id = state.active_job_id.clone();
    let backoff = state.backoff_in_force(now);
    if backoff.is_none() {
        state.backoff_until = None;
    }
    d.decision = if due.reasons.is_empty() {
        Verdict::BelowThreshold
    } else if state.active_job_id.is_some() {
        Verdict::Deferred
    } else if backoff.is_some() {
        d.backoff_until = backoff;
        // What the failed job never saw is worth a try; what it saw waits.
        if !due.keywords.is_empty() && state.new_since_backoff() {
            d.notes.push("new_directive_during_backoff".into());
            Verdict::Queued
        } else {
            Verdict::Deferred
        }
    } else {
        Verdict::Queued
    };
    if d.decision != Verdict::BelowThreshold {
        d.reasons = due.reasons.clone();
        d.scopes = due.scopes.clone();
    }
    if opts.dry_run {
        return Ok(d);
    }

    if d.decision == Verdict::Queued {
        let target = Target {
            session_id: session.session_id.clone(),
            agent: d.agent,
            transcript_path: input
                .transcript_path
                .clone()
                .or_else(|| sessions::transcript_of(&conn, session.rowid).ok().flatten()),
            cwd: input.cwd.clone().or(session.cwd.clone()),
            repo_root: session.repo_root.clone(),
        };
        d.job_id = Some(queue_job(state_dir, config, &mut state, &due, target, now)?);
        d.active_job_id = None;
    }
    files.save(&mut state)?;
    let line = serde_json::to_string(&d).map_err(|e| Error::input(e.to_string()))?;
    files.log_decision(&line)?;
    Ok(d)
}

/// `spool/reflect/`: where queued jobs go (`new/`) for the reflection worker.
pub fn reflect_queue(state_dir: &Path) -> PathBuf {
    crate::spool::queue_dir(state_dir, "reflect")
}

/// How a job ended, as the worker tells [`complete_job`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEnd {
    /// Applied: the job's scopes are reviewed.
    Succeeded,
    /// Part applied: nothing counts as reviewed, but nothing backs off either.
    Partial,
    /// Nothing to propose: the job's scopes are reviewed.
    Skipped,
    /// The verifier refused the proposal: the session backs off.
    Rejected,
    /// The job could not be done: the session backs off.
    Failed,
}

impl JobEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            JobEnd::Succeeded => "succeeded",
            JobEnd::Partial => "partial",
            JobEnd::Skipped => "skipped",
            JobEnd::Rejected => "rejected",
            JobEnd::Failed => "failed",
        }
    }
    /// Whether the job's scopes count as reviewed (their counters are reset).
    pub fn reviewed(self) -> bool {
        matches!(self, JobEnd::Succeeded | JobEnd::Skipped)
    }
    /// Whether the session backs off before the next review.
    pub fn unsuccessful(self) -> bool {
        matches!(self, JobEnd::Rejected | JobEnd::Failed)
    }
}

/// What [`complete_job`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completion {
    /// The job was one this session queued (recently enough to be remembered).
    pub known_job: bool,
    /// The scopes whose counters were reset.
    pub reset_scopes: Vec<Scope>,
    /// The session's reservation was this job's and is now clear.
    pub reservation_cleared: bool,
    /// The job was rejected or failed: a due review of the session waits until then.
    pub backoff_until: Option<String>,
    /// The job queued at once for directives the human typed while this one ran.
    pub followup_job_id: Option<String>,
    /// Why that job could not be queued (the next Stop will try again).
    pub followup_error: Option<String>,
}

/// Called by the reflection worker when job `job_id` of `session_id` (the job file's
/// `session_id`) has ended.
///
/// When the job was reviewed ([`JobEnd::reviewed`]), for each of its scopes subtracts the
/// counts the job covered (later counts stay), marks the scope reviewed through the job's
/// watermark (dropping the high-signal words it covered) and stamps the review time; an
/// unsuccessful job leaves everything due and starts a backoff ([`state::backoff_ms`]), a
/// successful or partial one ends it. Clears the session's reservation if it is this job's.
///
/// Then, if the human typed a directive after the job's watermark (the review of it was
/// deferred while the job ran) and it counts (`high_signal_immediate`, or the session has
/// ended), the follow-up job is queued at once, as [`evaluate`] would queue it: a session
/// that never stops again would otherwise never have it reviewed.
pub fn complete_job(
    state_dir: &Path,
    config: &Config,
    session_id: &str,
    job_id: &str,
    end: JobEnd,
) -> Result<Completion> {
    let files = Files::lock(state_dir, session_id, Options::default().lock_wait)?;
    if !files.state_path().exists() {
        return Err(Error::input(format!(
            "no trigger state for session {session_id} in {}",
            files.dir.display()
        )));
    }
    let (mut state, _) = files.load(session_id)?;
    let mut done = Completion {
        known_job: false,
        reset_scopes: Vec::new(),
        reservation_cleared: false,
        backoff_until: None,
        followup_job_id: None,
        followup_error: None,
    };
    let now_ms = timefmt::now_ms();
    let mut finished = None;
    if let Some(pos) = state.recent_jobs.iter().position(|j| j.job_id == job_id) {
        let job = state.recent_jobs.remove(pos);
        done.known_job = true;
        let now = timefmt::format_iso_ms(now_ms);
        let c = &job.counters;
        for scope in [Scope::Memory, Scope::Skill] {
            if !(job.scopes.contains(&scope) && end.reviewed()) {
                continue;
            }
            match scope {
                Scope::Memory => {
                    state.stops_since_memory_review = state
                        .stops_since_memory_review
                        .saturating_sub(c.stops_since_memory_review);
                    state.readable_chars_since_memory_review = state
                        .readable_chars_since_memory_review
                        .saturating_sub(c.readable_chars_since_memory_review);
                    state.memory_reviewed_through_message_id = state
                        .memory_reviewed_through_message_id
                        .max(job.watermark_message_id);
                    state.last_memory_review_at = Some(now.clone());
                }
                Scope::Skill => {
                    state.tool_calls_since_skill_review = state
                        .tool_calls_since_skill_review
                        .saturating_sub(c.tool_calls_since_skill_review);
                    state.skill_reviewed_through_message_id = state
                        .skill_reviewed_through_message_id
                        .max(job.watermark_message_id);
                    state.last_skill_review_at = Some(now.clone());
                }
            }
            done.reset_scopes.push(scope);
        }
        // Words a review has covered are done with.
        let (m, s) = (
            state.memory_reviewed_through_message_id,
            state.skill_reviewed_through_message_id,
        );
        state.high_signal.retain(|h| match h.scope {
            Scope::Memory => h.message_id > m,
            Scope::Skill => h.message_id > s,
        });
        state.last_job_status = Some(end.as_str().to_string());
        if end.unsuccessful() {
            state.unsuccessful_jobs_in_a_row = state.unsuccessful_jobs_in_a_row.saturating_add(1);
            let until = timefmt::format_iso_ms(
                now_ms + state::backoff_ms(state.unsuccessful_jobs_in_a_row),
            );
            state.backoff_until = Some(until.clone());
            state.backoff_through_message_id = job.watermark_message_id;
            done.backoff_until = Some(until);
        } else {
            state.unsuccessful_jobs_in_a_row = 0;
            state.backoff_until = None;
        }
        finished = Some(job);
    }
    if state.active_job_id.as_deref() == Some(job_id) {
        state.active_job_id = None;
        state.active_job_reserved_at = None;
        done.reservation_cleared = true;
    }
    if let Some(job) = finished.filter(|_| state.active_job_id.is_none()) {
        match follow_up(state_dir, config, &mut state, &job, now_ms) {
            Ok(Some(d)) => {
                done.followup_job_id = d.job_id.clone();
                files.save(&mut state)?;
                let line = serde_json::to_string(&d).map_err(|e| Error::input(e.to_string()))?;
                files.log_decision(&line)?;
                return Ok(done);
            }
            Ok(None) => {}
            Err(e) => done.followup_error = Some(e.message),
        }
    }
    files.save(&mut state)?;
    Ok(done)
}

/// The job for directives typed after `job`'s watermark, queued as [`evaluate`] queues one,
/// with the decision to log; `None` when there are none, they do not count, or reflection
/// is off. The session's lock is held.
fn follow_up(
    state_dir: &Path,
    config: &Config,
    state: &mut State,
    job: &JobSnapshot,
    now: i64,
) -> Result<Option<Decision>> {
    let t = thresholds(config);
    let words_count = t.high_signal_immediate || state.session_ended;
    let enabled = config.session_reflection.enabled && config.session_reflection.trigger.enabled;
    let waiting = state
        .pending_hits()
        .any(|h| h.message_id > job.watermark_message_id);
    if !(enabled && words_count && waiting) {
        return Ok(None);
    }
    let Some(conn) = db::open_ro(&crate::paths::index_db(state_dir), db::ReadOnly::Upgrade)? else {
        return Ok(None);
    };
    let Some(session) = find_session(&conn, &state.session_id)? else {
        return Ok(None);
    };
    let due = due(state, &t, words_count);
    let agent = state
        .agent
        .as_deref()
        .and_then(Agent::parse)
        .or(session.agent);
    let target = Target {
        session_id: session.session_id.clone(),
        agent,
        transcript_path: sessions::transcript_of(&conn, session.rowid)?,
        cwd: session.cwd.clone(),
        repo_root: session.repo_root.clone(),
    };
    let job_id = queue_job(state_dir, config, state, &due, target, now)?;
    let mut notes = vec!["follow_up".to_string()];
    if state.session_ended && !t.high_signal_immediate {
        notes.push("session_end_review".into());
    }
    let backoff = state.backoff_in_force(now);
    if backoff.is_some() {
        notes.push("new_directive_during_backoff".into());
    }
    Ok(Some(Decision {
        kind: "trigger_decision".into(),
        session_id: session.session_id,
        agent,
        event: FOLLOW_UP_EVENT.into(),
        decision: Verdict::Queued,
        reasons: due.reasons,
        scopes: due.scopes,
        matched_keywords: due.keywords,
        counters: state.counters(),
        thresholds: t,
        new_messages: 0,
        watermark_message_id: state.last_counted_message_id,
        job_id: Some(job_id),
        active_job_id: None,
        released_job_id: None,
        backoff_until: backoff,
        notes,
        dry_run: false,
        at: timefmt::format_iso_ms(now),
    }))
}

#[cfg(test)]
mod tests;
