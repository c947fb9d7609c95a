//! Unit tests of the trigger over a small database written directly, so each case controls
//! exactly which messages are new. The binary is tested end to end in `tests/trigger.rs`.

use super::*;
use crate::index::db;
use serde_json::json;

struct Fixture {
    dir: tempfile::TempDir,
    next_ordinal: i64,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open_rw(&crate::paths::index_db(dir.path())).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions (id, session_id, agent, cwd) VALUES (1, 's1', 'codex', '/w');
             INSERT INTO sources (id, path, session_rowid) VALUES (1, '/t/s1.jsonl', 1);",
        )
        .unwrap();
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
        conn.execute(
            "INSERT INTO messages (session_rowid, source_rowid, ordinal, role, tool, byte_offset, flags, text)
             VALUES (1, 1, ?1, ?2, ?3, 0, ?4, ?5)",
            params![self.next_ordinal, role, tool, flags, text],
        )
        .unwrap();
        self.next_ordinal += 1;
    }
    fn stop(&self, config: &Config) -> Decision {
        let input = Input::from_value(
            &json!({"session_id": "s1", "hook_event_name": "Stop"}),
            None,
        )
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
fn complete_job_resets_only_the_scopes_that_succeeded_and_keeps_later_counts() {
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

    // Memory succeeded, skills did not.
    let done = complete_job(f.state_dir(), "s1", &job, &[Scope::Memory]).unwrap();
    assert_eq!(
        done,
        Completion {
            known_job: true,
            reset_scopes: vec![Scope::Memory],
            reservation_cleared: true
        }
    );
    let s = f.state();
    assert_eq!(
        s.stops_since_memory_review, 1,
        "the stop after queueing stays"
    );
    assert_eq!(s.readable_chars_since_memory_review, 0);
    assert_eq!(
        s.tool_calls_since_skill_review, 3,
        "skills failed: nothing reset"
    );
    assert_eq!(s.memory_reviewed_through_message_id, 3);
    assert_eq!(s.skill_reviewed_through_message_id, 0);
    assert!(s.last_memory_review_at.is_some() && s.last_skill_review_at.is_none());
    assert!(s.high_signal.is_empty(), "the memory word was reviewed");
    assert!(s.active_job_id.is_none() && s.recent_jobs.is_empty());

    // The skill review is still due, and is queued on the next stop, for skills only.
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued);
    assert_eq!(d.scopes, vec![Scope::Skill]);
    let job2 = d.job_id.unwrap();
    let done = complete_job(f.state_dir(), "s1", &job2, &[Scope::Memory, Scope::Skill]).unwrap();
    assert_eq!(
        done.reset_scopes,
        vec![Scope::Skill],
        "the job did not review memory"
    );
    let s = f.state();
    assert_eq!(s.tool_calls_since_skill_review, 0);
    assert_eq!(s.stops_since_memory_review, 2);
    assert_eq!(s.skill_reviewed_through_message_id, 4);

    // An unknown job changes nothing but is not an error; an unknown session is.
    let done = complete_job(f.state_dir(), "s1", "nope", &[Scope::Memory]).unwrap();
    assert_eq!(
        done,
        Completion {
            known_job: false,
            reset_scopes: vec![],
            reservation_cleared: false
        }
    );
    assert_eq!(f.state().stops_since_memory_review, 2);
    assert!(complete_job(f.state_dir(), "other", "x", &[]).is_err());
}

#[test]
fn a_failed_job_clears_the_reservation_and_the_review_stays_due() {
    let mut f = Fixture::new();
    let config = Config::default();
    f.add("user", None, 0, "以后不要直接改 main 分支");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued);
    assert_eq!(d.matched_keywords, vec!["以后不要".to_string()]);
    let job = d.job_id.unwrap();
    let done = complete_job(f.state_dir(), "s1", &job, &[]).unwrap();
    assert!(done.known_job && done.reservation_cleared && done.reset_scopes.is_empty());
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued, "retried: {d:?}");
    assert_eq!(d.reasons, vec!["high_signal_memory_keyword"]);
}

#[test]
fn a_word_said_while_a_job_runs_waits_for_the_next_review() {
    let mut f = Fixture::new();
    let config = Config::default();
    f.add("user", None, 0, "remember to use pnpm");
    let job = f.stop(&config).job_id.unwrap();
    f.add("user", None, 0, "and write a runbook for releases");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Deferred);
    assert_eq!(d.matched_keywords, vec!["remember", "runbook"]);
    complete_job(f.state_dir(), "s1", &job, &[Scope::Memory]).unwrap();
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::Queued);
    assert_eq!(d.scopes, vec![Scope::Skill]);
    assert_eq!(d.matched_keywords, vec!["runbook"]);
}

#[test]
fn high_signal_immediate_off_ignores_words() {
    let mut f = Fixture::new();
    let mut config = Config::default();
    config.session_reflection.trigger.high_signal_immediate = false;
    f.add("user", None, 0, "remember this workflow");
    let d = f.stop(&config);
    assert_eq!(d.decision, Verdict::BelowThreshold);
    assert!(d.matched_keywords.is_empty() && f.state().high_signal.is_empty());
}
