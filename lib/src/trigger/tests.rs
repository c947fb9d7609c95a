//! Unit tests of the trigger over a small database written directly, so each case controls
//! exactly which messages are new. The binary is tested end to end in `tests/csep/trigger.rs`.

use super::*;
use crate::index::db;
use crate::index::sessions::fixture;
use serde_json::json;

struct Fixture {
    dir: tempfile::TempDir,
    next_ordinal: i64,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open_rw(&crate::paths::index_db(dir.path())).unwrap();
        fixture::session(&conn, 1, "s1", "codex", "/w", "/t/s1.jsonl");
        Fixture {
            dir,
            next_ordinal: 0,
        }
    }
    fn state_dir(&self) -> &Path {
        self.dir.path()
    }
    fn add(&mut self, role: &str, tool: Option<&str>, flags: i64, text: &str) {
        let conn = db::open_rw(&crate::paths::index_db(self.dir.path())).unwrap();
        fixture::message(&conn, 1, self.next_ordinal, role, tool, flags, text);
        self.next_ordinal += 1;
    }
    fn stop(&self, config: &Config) -> Decision {
        self.event(config, "Stop")
    }
    fn event(&self, config: &Config, event: &str) -> Decision {
        let input = Input::from_value(&json!({"session_id": "s1", "hook_event_name": event}), None)
            .unwrap();
        evaluate(self.state_dir(), config, &input, &Options::default()).unwrap()
    }
    fn state(&self) -> State {
        let p = session_dir(self.state_dir(), "s1").join("state.json");
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }
}

#[test]
fn inputs_are_read_leniently_and_the_wrapper_is_unwrapped() {
    let raw = json!({"session_id": "abc", "transcript_path": "/t", "cwd": "/w", "extra": [1]});
    let i = Input::from_value(&raw, None).unwrap();
    assert_eq!((i.session_id.as_str(), i.event), ("abc", Event::Stop));
    assert_eq!(i.agent, None);
    let wrapped = json!({"type": "archive_request", "agent": "claude", "event": "SessionEnd",
                         "payload": {"session_id": "u-1", "hook_event_name": "Stop"}});
    let i = Input::from_value(&wrapped, None).unwrap();
    assert_eq!((i.agent, i.event), (Some(Agent::Claude), Event::SessionEnd));
    assert_eq!(index_ids(&i), vec!["claude:u-1".to_string()]);
    let i = Input::from_value(&wrapped, Some(Agent::Codex)).unwrap();
    assert_eq!(index_ids(&i), vec!["u-1".to_string()]);
    assert!(Input::from_value(&json!([1]), None).is_err());
    assert!(Input::from_value(&json!({"cwd": "/w"}), None).is_err());
    assert!(Input::from_slice(b"  \n", None).is_err());
    assert!(Input::from_slice(b"{nope", None).is_err());
}

#[test]
fn unclean_paths_are_not_used_and_an_unclean_session_id_is_refused() {
    let raw = json!({"session_id": "abc", "transcript_path": "/t/../etc/x", "cwd": "/a\nb"});
    let i = Input::from_value(&raw, None).unwrap();
    assert_eq!((i.transcript_path, i.cwd), (None, None));
    let raw = json!({"session_id": "abc", "transcript_path": "/t/x.jsonl", "cwd": "/w"});
    let i = Input::from_value(&raw, None).unwrap();
    assert_eq!(i.transcript_path.as_deref(), Some("/t/x.jsonl"));
    assert_eq!(i.cwd.as_deref(), Some("/w"));
    for bad in ["..", "a/b", "x\x1b[2J"] {
        assert!(Input::from_value(&json!({ "session_id": bad }), None).is_err());
    }
}

#[test]
fn session_keys_are_single_safe_path_components() {
    assert_eq!(session_key("claude:1b2c-3d"), "claude_1b2c-3d");
    assert_eq!(session_key("019a93b9-f380"), "019a93b9-f380");
    assert_eq!(session_key("../x/y"), ".._x_y");
    assert_eq!(session_key(".."), "_..");
    assert_eq!(session_key(""), "_");
    let long = "x".repeat(300);
    let k = session_key(&long);
    assert!(k.len() <= 120 && k != session_key(&"x".repeat(301)));
}

#[test]
fn counting_follows_the_watermark_and_skips_background_and_tool_output() {
    let mut f = Fixture::new();
    let config = Config::default();
    f.add(
        "user",
        None,
        1,
        "<environment_context>remember 记住</environment_context>",
    );
    f.add("user", None, 0, "hello");
    f.add("assistant", Some("exec_command"), 0, "cargo test");
    f.add("tool", Some("exec_command"), 0, "a very long tool output");
    f.add("assistant", None, 0, "done!");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::BelowThreshold);
    assert_eq!(d.new_messages, 5);
    assert_eq!(d.counters.readable_chars_since_memory_review, 10);
    assert_eq!(d.counters.tool_calls_since_skill_review, 1);
    assert_eq!(d.counters.high_signal_messages, 0);
    // Nothing new: only the stop counts.
    let d = f.stop(&config);
    assert_eq!(d.new_messages, 0);
    assert_eq!(d.counters.readable_chars_since_memory_review, 10);
    assert_eq!(d.counters.stops_since_memory_review, 2);
}

#[test]
fn a_reviewed_job_resets_its_scopes_and_keeps_later_counts() {
    let mut f = Fixture::new();
    let mut config = Config::default();
    config.session_reflection.trigger.skill_tool_call_interval = 2;
    f.add(
        "user",
        None,
        0,
        "remember: run cargo test before committing",
    );
    for _ in 0..2 {
        f.add("assistant", Some("exec_command"), 0, "cargo test");
    }
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued, "{d:?}");
    assert_eq!(d.scopes, vec![Scope::Memory, Scope::Skill]);
    assert_eq!(
        d.reasons,
        vec!["skill_tool_call_interval", "high_signal_memory_keyword"]
    );
    let job = d.job_id.clone().unwrap();
    let queued = reflect_queue(f.state_dir())
        .join("new")
        .join(format!("{job}.json"));
    let file: Job = serde_json::from_slice(&std::fs::read(&queued).unwrap()).unwrap();
    assert_eq!(file.kind, "reflect_job");
    assert_eq!(file.watermark_message_id, 3);
    assert_eq!(file.since_message_id, 0);
    assert_eq!(file.transcript_path.as_deref(), Some("/t/s1.jsonl"));

    // While the job runs: one more stop and one more tool call; the review is deferred.
    f.add("assistant", Some("exec_command"), 0, "ls");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Deferred);
    assert_eq!(d.active_job_id.as_deref(), Some(job.as_str()));
    assert_eq!(f.state().tool_calls_since_skill_review, 3);

    let done = complete_job(f.state_dir(), &config, "s1", &job, JobEnd::Succeeded).unwrap();
    assert_eq!(
        done,
        Completion {
            known_job: true,
            reset_scopes: vec![Scope::Memory, Scope::Skill],
            reservation_cleared: true,
            backoff_until: None,
            followup_job_id: None,
            followup_error: None,
        }
    );
    let s = f.state();
    assert_eq!(
        s.stops_since_memory_review, 1,
        "the stop after queueing stays"
    );
    assert_eq!(s.readable_chars_since_memory_review, 0);
    assert_eq!(
        s.tool_calls_since_skill_review, 1,
        "the call after queueing stays"
    );
    assert_eq!(s.memory_reviewed_through_message_id, 3);
    assert_eq!(s.skill_reviewed_through_message_id, 3);
    assert!(s.last_memory_review_at.is_some() && s.last_skill_review_at.is_some());
    assert!(s.high_signal.is_empty(), "the memory word was reviewed");
    assert!(s.active_job_id.is_none() && s.recent_jobs.is_empty());
    assert_eq!(s.last_job_status.as_deref(), Some("succeeded"));
    assert_eq!(f.stop(&config).decision, Verdict::BelowThreshold);

    // An unknown job changes nothing but is not an error; an unknown session is.
    let done = complete_job(f.state_dir(), &config, "s1", "nope", JobEnd::Failed).unwrap();
    assert!(!done.known_job && done.reset_scopes.is_empty() && !done.reservation_cleared);
    assert!(
        done.backoff_until.is_none(),
        "no backoff for a job it never queued"
    );
    assert_eq!(f.state().stops_since_memory_review, 2);
    assert!(complete_job(f.state_dir(), &config, "other", "x", JobEnd::Failed).is_err());
}

/// Moves the session's backoff into the past, as time would.
fn expire_backoff(f: &Fixture) {
    let p = session_dir(f.state_dir(), "s1").join("state.json");
    let mut s = f.state();
    s.backoff_until = Some(timefmt::format_iso_ms(timefmt::now_ms() - 1));
    std::fs::write(p, serde_json::to_vec(&s).unwrap()).unwrap();
}

#[test]
fn a_rejected_job_backs_off_until_a_new_directive_or_the_window_ends() {
    let mut f = Fixture::new();
    let config = Config::default();
    f.add("user", None, 0, "以后不要直接改 main 分支");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued);
    assert_eq!(d.matched_keywords, vec!["以后不要".to_string()]);
    let job = d.job_id.unwrap();
    let before = timefmt::now_ms();
    let done = complete_job(f.state_dir(), &config, "s1", &job, JobEnd::Rejected).unwrap();
    assert!(done.known_job && done.reservation_cleared && done.reset_scopes.is_empty());
    assert!(done.followup_job_id.is_none());
    let until = timefmt::parse_iso_ms(done.backoff_until.as_deref().unwrap()).unwrap();
    assert!(until >= before + BACKOFF_BASE_MS && until <= timefmt::now_ms() + BACKOFF_BASE_MS);
    let s = f.state();
    assert_eq!(
        (s.unsuccessful_jobs_in_a_row, s.backoff_through_message_id),
        (1, 1)
    );

    // The same material, still due: deferred, and the decision says until when.
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Deferred, "{d:?}");
    assert_eq!(d.reasons, vec!["high_signal_memory_keyword"]);
    assert_eq!(d.backoff_until, done.backoff_until);
    assert!(d.active_job_id.is_none());

    // Talk without a directive changes nothing; a new directive is worth a try.
    f.add("user", None, 0, "thanks, looks good");
    assert_eq!(f.stop(&config).decision, Verdict::Deferred);
    f.add("user", None, 0, "from now on use pnpm, not npm");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued, "{d:?}");
    assert!(d
        .notes
        .contains(&"new_directive_during_backoff".to_string()));
    let job = d.job_id.unwrap();

    // A second failure in a row doubles the wait.
    let done = complete_job(f.state_dir(), &config, "s1", &job, JobEnd::Failed).unwrap();
    let until = timefmt::parse_iso_ms(done.backoff_until.as_deref().unwrap()).unwrap();
    assert!(until >= before + 2 * BACKOFF_BASE_MS);
    assert_eq!(f.state().unsuccessful_jobs_in_a_row, 2);
    assert_eq!(f.stop(&config).decision, Verdict::Deferred);

    // A time that cannot be read holds no backoff (set and put back here).
    let mut s = f.state();
    s.backoff_until = Some("soon".into());
    assert_eq!(s.backoff_in_force(timefmt::now_ms()), None);

    // Once the window has passed, the review is queued again; a success ends the backoff.
    expire_backoff(&f);
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued, "{d:?}");
    assert!(d.backoff_until.is_none());
    let job = d.job_id.unwrap();
    let done = complete_job(f.state_dir(), &config, "s1", &job, JobEnd::Succeeded).unwrap();
    assert!(done.backoff_until.is_none());
    let s = f.state();
    assert_eq!((s.unsuccessful_jobs_in_a_row, s.backoff_until), (0, None));
}

#[test]
fn the_backoff_doubles_up_to_a_day() {
    assert_eq!(backoff_ms(1), 15 * 60 * 1000);
    assert_eq!(backoff_ms(2), 30 * 60 * 1000);
    assert_eq!(backoff_ms(4), 2 * 60 * 60 * 1000);
    assert_eq!(backoff_ms(7), 16 * 60 * 60 * 1000);
    assert_eq!(backoff_ms(8), BACKOFF_MAX_MS);
    assert_eq!(backoff_ms(u32::MAX), BACKOFF_MAX_MS);
}

#[test]
fn a_state_written_before_backoff_existed_still_loads() {
    let f = Fixture::new();
    let dir = session_dir(f.state_dir(), "s1");
    std::fs::create_dir_all(&dir).unwrap();
    let old = json!({"schema_version": 1, "session_id": "s1", "agent": "codex",
        "last_counted_message_id": 4, "stops_since_memory_review": 2,
        "readable_chars_since_memory_review": 10, "tool_calls_since_skill_review": 1,
        "memory_reviewed_through_message_id": 0, "skill_reviewed_through_message_id": 0,
        "last_memory_review_at": null, "last_skill_review_at": null, "high_signal": [],
        "active_job_id": null, "active_job_reserved_at": null, "recent_jobs": [],
        "updated_at": "2026-11-24T13:06:26.520Z"});
    std::fs::write(dir.join("state.json"), old.to_string()).unwrap();
    let (s, reset) = Files::unlocked(f.state_dir(), "s1").load("s1").unwrap();
    assert!(!reset);
    assert_eq!(s.stops_since_memory_review, 2);
    assert_eq!((s.unsuccessful_jobs_in_a_row, s.backoff_until), (0, None));
}

#[test]
fn a_word_said_while_a_job_runs_is_queued_when_the_job_ends() {
    let mut f = Fixture::new();
    let config = Config::default();
    f.add("user", None, 0, "remember to use pnpm");
    let job = f.stop(&config).job_id.unwrap();
    f.add("user", None, 0, "and write a runbook for releases");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Deferred);
    assert_eq!(d.matched_keywords, vec!["remember", "runbook"]);
    // No further Stop: the worker's completion queues the follow-up itself.
    let done = complete_job(f.state_dir(), &config, "s1", &job, JobEnd::Succeeded).unwrap();
    let next = done.followup_job_id.expect("a follow-up job");
    let file: Job = serde_json::from_slice(
        &std::fs::read(
            reflect_queue(f.state_dir())
                .join("new")
                .join(format!("{next}.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(file.scopes, vec![Scope::Skill]);
    assert_eq!(file.matched_keywords, vec!["runbook"]);
    assert_eq!(
        (file.since_message_id, file.watermark_message_id),
        (0, 2),
        "skills were never reviewed"
    );
    assert_eq!(file.transcript_path.as_deref(), Some("/t/s1.jsonl"));
    assert_eq!(f.state().active_job_id.as_deref(), Some(next.as_str()));
    let log =
        std::fs::read_to_string(session_dir(f.state_dir(), "s1").join("decisions.jsonl")).unwrap();
    let last: Decision = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last.event.as_str(), last.decision, last.job_id.as_deref()),
        (FOLLOW_UP_EVENT, Verdict::Queued, Some(next.as_str()))
    );
    assert!(last.notes.contains(&"follow_up".to_string()));

    // When the follow-up ends with nothing new, nothing more is queued.
    let done = complete_job(f.state_dir(), &config, "s1", &next, JobEnd::Succeeded).unwrap();
    assert!(done.followup_job_id.is_none());
    assert!(f.state().active_job_id.is_none());
}

#[test]
fn a_job_that_saw_every_word_queues_no_follow_up() {
    let mut f = Fixture::new();
    let config = Config::default();
    f.add("user", None, 0, "remember to use pnpm");
    let job = f.stop(&config).job_id.unwrap();
    // A Stop with nothing new while it runs: deferred, but on the words the job has.
    assert_eq!(f.stop(&config).decision, Verdict::Deferred);
    let done = complete_job(f.state_dir(), &config, "s1", &job, JobEnd::Rejected).unwrap();
    assert!(done.followup_job_id.is_none() && done.backoff_until.is_some());
    assert!(!reflect_queue(f.state_dir())
        .join("new")
        .read_dir()
        .unwrap()
        .any(|e| e.unwrap().file_name() != std::ffi::OsString::from(format!("{job}.json"))));
}

#[test]
fn high_signal_immediate_off_waits_for_counters_or_the_session_end() {
    let mut f = Fixture::new();
    let mut config = Config::default();
    config.session_reflection.trigger.high_signal_immediate = false;
    f.add("user", None, 0, "remember this workflow");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::BelowThreshold);
    assert!(d.matched_keywords.is_empty());
    assert_eq!(d.counters.high_signal_messages, 1, "the word is kept");
    // The session is over: its counters will never fill, so the waiting word is due.
    let d = f.event(&config, "SessionEnd");
    assert_eq!(d.decision, Verdict::Queued, "{d:?}");
    assert_eq!(
        d.reasons,
        vec!["high_signal_memory_keyword", "high_signal_skill_keyword"]
    );
    assert!(d.notes.contains(&"session_end_review".to_string()));
    assert_eq!(d.counters.stops_since_memory_review, 1, "not a stop");
    assert!(f.state().session_ended);
    // Resumed: a Stop makes it an ordinary session again.
    complete_job(
        f.state_dir(),
        &config,
        "s1",
        &d.job_id.unwrap(),
        JobEnd::Succeeded,
    )
    .unwrap();
    f.add("user", None, 0, "never push to main");
    assert_eq!(f.stop(&config).decision, Verdict::BelowThreshold);
    assert!(!f.state().session_ended);
}

#[test]
fn a_session_end_with_nothing_waiting_queues_nothing() {
    let mut f = Fixture::new();
    let mut config = Config::default();
    config.session_reflection.trigger.high_signal_immediate = false;
    f.add("user", None, 0, "what does this function do?");
    let d = f.event(&config, "SessionEnd");
    assert_eq!(d.decision, Verdict::BelowThreshold);
    assert!(d.notes.is_empty());
}
