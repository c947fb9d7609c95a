//! Black-box tests of `csep-trigger`: small synthetic Codex rollouts are indexed with the real
//! `csep-index`, then Stop payloads go through the real binary, and the decisions, the state
//! files and the job queue are checked.
//!
//! Each test gets its own state dir (`Env`); nothing touches $HOME.

use crate::common;

use common::{append_lines, codex_rollout, codex_turn, Env, TS};
use predicates::prelude::*;
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

impl Env {
    /// Writes (or extends) a rollout and indexes it, as the drainer does before the trigger.
    fn rollout(&self, id: &str, lines: &[Value]) -> PathBuf {
        let path = self.path(&format!("sessions/rollout-2026-11-01T10-00-00-{id}.jsonl"));
        append_lines(&path, lines);
        self.index(&path);
        path
    }
    fn index(&self, path: &Path) {
        self.cmd("csep-index")
            .arg("--file")
            .arg(path)
            .assert()
            .success();
    }
    /// Runs the trigger on `input`; returns the decision.
    fn trigger_with(&self, input: &Value, args: &[&str]) -> Value {
        let out = self
            .cmd("csep-trigger")
            .args(args)
            .write_stdin(input.to_string())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("{\"type\":\"trigger_decision\""), "{text}");
        serde_json::from_str(&text).unwrap()
    }
    fn stop(&self, id: &str) -> Value {
        self.trigger_with(&stop_payload(id), &[])
    }
    fn session_dir(&self, id: &str) -> PathBuf {
        self.state().join("triggers").join(id.replace(':', "_"))
    }
    fn state_json(&self, id: &str) -> Value {
        let p = self.session_dir(id).join("state.json");
        serde_json::from_slice(&fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .unwrap()
    }
    fn decisions(&self, id: &str) -> Vec<Value> {
        fs::read_to_string(self.session_dir(id).join("decisions.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn jobs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(self.state().join("spool/reflect/new"))
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn stop_payload(id: &str) -> Value {
    json!({"session_id": id, "transcript_path": "/somewhere/rollout.jsonl", "cwd": "/work/app",
           "hook_event_name": "Stop", "model": "gpt-5", "turn_id": "t1", "stop_hook_active": false})
}

const ID: &str = "019a0000-0000-7000-8000-000000000001";

fn plain_session(env: &Env) {
    env.rollout(
        ID,
        &codex_rollout(ID, "/work/app", "fix the build", "ok", "fixed"),
    );
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Thresholds and scopes.

#[test]
fn a_quiet_stop_is_below_threshold_and_counts() {
    let env = Env::new();
    plain_session(&env);
    let d = env.stop(ID);
    assert_eq!(d["decision"], "below_threshold");
    assert_eq!(d["session_id"], ID);
    assert_eq!(d["agent"], "codex");
    assert_eq!(d["event"], "Stop");
    assert!(strs(&d["reasons"]).is_empty() && strs(&d["scopes"]).is_empty());
    let c = &d["counters"];
    assert_eq!(c["stops_since_memory_review"], 1);
    // "fix the build" + "fixed": the injected context and the tool output do not count.
    assert_eq!(c["readable_chars_since_memory_review"], 13 + 5);
    assert_eq!(c["tool_calls_since_skill_review"], 1);
    assert_eq!(c["high_signal_messages"], 0);
    let t = &d["thresholds"];
    assert_eq!(t["memory_stop_interval"], 3);
    assert_eq!(t["memory_context_chars"], 16000);
    assert_eq!(t["skill_tool_call_interval"], 15);
    assert_eq!(t["active_job_stale_seconds"], 1800);
    assert!(d.get("job_id").is_none());
    assert!(d["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(env.state_json(ID)["stops_since_memory_review"], 1);
    assert_eq!(env.decisions(ID), vec![d]);
    assert!(env.jobs().is_empty());
}

#[test]
fn the_third_stop_queues_a_memory_review_and_writes_the_job() {
    let env = Env::new();
    plain_session(&env);
    assert_eq!(env.stop(ID)["decision"], "below_threshold");
    env.rollout(ID, &codex_turn("now the docs", &[], "done"));
    assert_eq!(env.stop(ID)["decision"], "below_threshold");
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued", "{d}");
    assert_eq!(strs(&d["reasons"]), vec!["memory_stop_interval"]);
    assert_eq!(strs(&d["scopes"]), vec!["memory"]);
    assert_eq!(d["counters"]["stops_since_memory_review"], 3);
    let job_id = d["job_id"].as_str().unwrap();
    assert!(job_id.len() > 18 && job_id.contains("Z-"), "{job_id}");

    let jobs = env.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].file_name().unwrap().to_str().unwrap(),
        format!("{job_id}.json")
    );
    let job: Value = serde_json::from_slice(&fs::read(&jobs[0]).unwrap()).unwrap();
    assert_eq!(job["type"], "reflect_job");
    assert_eq!(job["job_id"], job_id);
    assert_eq!(job["session_id"], ID);
    assert_eq!(job["agent"], "codex");
    assert_eq!(job["transcript_path"], "/somewhere/rollout.jsonl");
    assert_eq!(job["cwd"], "/work/app");
    assert_eq!(job["repo_root"], "/work/app");
    assert_eq!(strs(&job["scopes"]), vec!["memory"]);
    assert_eq!(strs(&job["reasons"]), vec!["memory_stop_interval"]);
    assert_eq!(job["counters"], d["counters"]);
    assert_eq!(job["watermark_message_id"], d["watermark_message_id"]);
    assert!(job["watermark_message_id"].as_i64().unwrap() > 0);
    assert_eq!(job["since_message_id"], 0);
    assert!(job["created_at"].is_string());
    assert!(env
        .state()
        .join("spool/reflect/tmp")
        .read_dir()
        .unwrap()
        .next()
        .is_none());

    // Counters are not reset by queuing (the worker resets them on success); the slot is
    // reserved for the job.
    let s = env.state_json(ID);
    assert_eq!(s["stops_since_memory_review"], 3);
    assert_eq!(s["active_job_id"], job_id);
    assert!(s["active_job_reserved_at"].is_string());
    assert_eq!(env.decisions(ID).len(), 3);
}

#[test]
fn enough_new_text_queues_a_memory_review_on_the_first_stop() {
    let env = Env::new();
    let long_user = "please refactor the parser ".repeat(350); // 9450 chars, 9449 trimmed
    let long_reply = "我已经重构了解析器。".repeat(700); // 7000 chars
    env.rollout(
        ID,
        &codex_rollout(ID, "/work/app", &long_user, "ok", &long_reply),
    );
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued", "{d}");
    assert_eq!(strs(&d["reasons"]), vec!["memory_context_chars"]);
    assert_eq!(strs(&d["scopes"]), vec!["memory"]);
    assert_eq!(
        d["counters"]["readable_chars_since_memory_review"],
        9449 + 7000
    );
}

#[test]
fn fifteen_tool_calls_queue_a_skill_review() {
    let env = Env::new();
    let calls: Vec<(String, &str)> = (0..14).map(|i| (format!("step {i}"), "ok")).collect();
    let calls: Vec<(&str, &str)> = calls.iter().map(|(c, o)| (c.as_str(), *o)).collect();
    let mut lines = codex_rollout(ID, "/work/app", "deploy it", "ok", "deploying");
    lines.extend(codex_turn("go on", &calls, "deployed"));
    env.rollout(ID, &lines);
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued", "{d}");
    assert_eq!(d["counters"]["tool_calls_since_skill_review"], 15);
    assert_eq!(strs(&d["reasons"]), vec!["skill_tool_call_interval"]);
    assert_eq!(strs(&d["scopes"]), vec!["skill"]);
}

#[test]
fn a_configured_threshold_applies() {
    let env = Env::new();
    env.config("[session_reflection.trigger]\nmemory_stop_interval = 1\n");
    plain_session(&env);
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued");
    assert_eq!(d["thresholds"]["memory_stop_interval"], 1);
}

// ---------------------------------------------------------------------------------------
// High-signal words.

/// A standing rule said in a directive word queues a review, in both languages; the bare
/// topic words "memory", "skill" and "workflow" are everyday talk and do not.
#[test]
fn directive_words_queue_and_bare_topic_words_do_not() {
    let cases = [
        (
            "the memory usage is high; which skill and workflow file?",
            "below_threshold",
            vec![],
        ),
        (
            "never push to main without a review",
            "queued",
            vec!["never"],
        ),
        (
            "Don\u{2019}t call docker compose here",
            "queued",
            vec!["don't"],
        ),
        ("一律用 pnpm，别再用 npm", "queued", vec!["一律", "别再"]),
        ("make this a skill", "queued", vec!["make this a skill"]),
    ];
    for (said, decision, keywords) in cases {
        let env = Env::new();
        env.rollout(ID, &codex_rollout(ID, "/work/app", said, "ok", "noted"));
        let d = env.stop(ID);
        assert_eq!(d["decision"], decision, "{said}: {d}");
        let matched: Vec<&str> = d.get("matched_keywords").map(strs).unwrap_or_default();
        assert_eq!(matched, keywords, "{said}: {d}");
    }
}

#[test]
fn a_high_signal_word_in_english_queues_at_once() {
    let env = Env::new();
    env.rollout(
        ID,
        &codex_rollout(
            ID,
            "/work/app",
            "remember: always run cargo test before committing",
            "ok",
            "noted",
        ),
    );
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued", "{d}");
    assert_eq!(strs(&d["reasons"]), vec!["high_signal_memory_keyword"]);
    assert_eq!(strs(&d["scopes"]), vec!["memory"]);
    assert_eq!(strs(&d["matched_keywords"]), vec!["always", "remember"]);
    assert_eq!(d["counters"]["high_signal_messages"], 1);
    let job: Value = serde_json::from_slice(&fs::read(&env.jobs()[0]).unwrap()).unwrap();
    assert_eq!(strs(&job["matched_keywords"]), vec!["always", "remember"]);
}

#[test]
fn high_signal_words_in_chinese_queue_at_once_with_their_scopes() {
    let env = Env::new();
    env.rollout(
        ID,
        &codex_rollout(
            ID,
            "/work/app",
            "以后不要直接推 main；把发布流程沉淀成一个 runbook",
            "ok",
            "好的",
        ),
    );
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued", "{d}");
    assert_eq!(
        strs(&d["reasons"]),
        vec!["high_signal_memory_keyword", "high_signal_skill_keyword"]
    );
    assert_eq!(strs(&d["scopes"]), vec!["memory", "skill"]);
    assert_eq!(
        strs(&d["matched_keywords"]),
        vec!["runbook", "以后不要", "沉淀"]
    );
}

#[test]
fn words_inside_injected_context_or_tool_output_do_not_count() {
    let env = Env::new();
    let mut lines = vec![
        json!({"timestamp": TS, "type": "session_meta", "payload": {"id": ID, "timestamp": TS, "cwd": "/work/app", "originator": "codex_cli_rs", "source": "cli"}}),
        json!({"timestamp": TS, "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  remember 记住 以后不要 workflow skill runbook\n</environment_context>"}]}}),
        json!({"timestamp": TS, "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "# AGENTS.md instructions for /work/app\n\nremember the handoff workflow; 下次 use the runbook"}]}}),
    ];
    lines.extend(codex_turn(
        "list the files",
        &[("ls", "REMEMBER.md workflow.md 记住.txt")],
        "Here they are; remember to check the runbook.",
    ));
    env.rollout(ID, &lines);
    let d = env.stop(ID);
    assert_eq!(d["decision"], "below_threshold", "{d}");
    assert_eq!(d["counters"]["high_signal_messages"], 0);
    assert!(d.get("matched_keywords").is_none());
}

// ---------------------------------------------------------------------------------------
// Reservations.

#[test]
fn a_due_review_is_deferred_while_a_job_is_reserved() {
    let env = Env::new();
    env.rollout(
        ID,
        &codex_rollout(ID, "/work/app", "remember to use pnpm", "ok", "ok"),
    );
    let first = env.stop(ID);
    let job_id = first["job_id"].as_str().unwrap().to_string();
    env.rollout(ID, &codex_turn("also write a runbook", &[], "ok"));
    let d = env.stop(ID);
    assert_eq!(d["decision"], "deferred", "{d}");
    assert_eq!(d["active_job_id"], job_id.as_str());
    assert_eq!(
        strs(&d["reasons"]),
        vec!["high_signal_memory_keyword", "high_signal_skill_keyword"]
    );
    assert!(d.get("job_id").is_none());
    assert_eq!(env.jobs().len(), 1, "no second job");
    // The new text was still counted.
    assert_eq!(d["counters"]["high_signal_messages"], 2);
    assert_eq!(env.state_json(ID)["active_job_id"], job_id.as_str());
}

#[test]
fn a_stale_reservation_is_released_and_the_review_queued_again() {
    let env = Env::new();
    env.config("[session_reflection.trigger]\nactive_job_stale_seconds = 1\n");
    env.rollout(
        ID,
        &codex_rollout(ID, "/work/app", "记住：先跑测试", "ok", "好"),
    );
    let first = env.stop(ID)["job_id"].as_str().unwrap().to_string();
    assert_eq!(env.stop(ID)["decision"], "deferred");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued", "{d}");
    assert_eq!(d["released_job_id"], first.as_str());
    assert_eq!(strs(&d["notes"]), vec!["stale_reservation_released"]);
    let second = d["job_id"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(env.jobs().len(), 2);
    assert_eq!(env.state_json(ID)["active_job_id"], second);
}

// ---------------------------------------------------------------------------------------
// Skips.

#[test]
fn reflection_sessions_are_skipped_and_leave_no_trace() {
    let env = Env::new();
    // Our marker in the worker's prompt.
    let path = env.rollout(
        ID,
        &codex_rollout(
            ID,
            "/work/app",
            "csep-reflection-job: 20261101T100000Z-1a2b3c4d\nReview this session; remember rules.",
            "ok",
            "done",
        ),
    );
    // The indexer keeps no trace of it but the file's verdict, found by the payload's path.
    let mut payload = stop_payload(ID);
    payload["transcript_path"] = json!(path);
    let d = env.trigger_with(&payload, &[]);
    assert_eq!(d["decision"], "skipped");
    assert_eq!(strs(&d["reasons"]), vec!["reflection_session"]);
    // Started by csep: its thread source says so.
    let other = "019a0000-0000-7000-8000-000000000002";
    let mut lines = codex_rollout(other, "/work/app", "remember this", "ok", "ok");
    lines[0]["payload"]["originator"] = json!("csep_reflect");
    lines[0]["payload"]["source"] = json!("exec");
    let path = env.rollout(other, &lines);
    let mut payload = stop_payload(other);
    payload["transcript_path"] = json!(path);
    let d = env.trigger_with(&payload, &[]);
    assert_eq!(d["decision"], "skipped", "{d}");
    assert_eq!(strs(&d["reasons"]), vec!["reflection_session"]);
    // Run from inside a reflection job.
    let third = "019a0000-0000-7000-8000-000000000003";
    env.rollout(
        third,
        &codex_rollout(third, "/work/app", "remember this", "ok", "ok"),
    );
    let out = env
        .cmd("csep-trigger")
        .env("CSEP_REFLECTION_JOB", "job-1")
        .write_stdin(stop_payload(third).to_string())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let d: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(strs(&d["reasons"]), vec!["reflection_session"]);

    assert!(!env.state().join("triggers").exists());
    assert!(env.jobs().is_empty());
}

#[test]
fn a_session_that_only_talks_about_the_marker_is_not_skipped() {
    let env = Env::new();
    env.rollout(
        ID,
        &codex_rollout(
            ID,
            "/work/app",
            "why does grep find nothing?",
            "src/x.rs: const M = \"csep-reflection-job:\";",
            "The marker csep-reflection-job: is defined in src/x.rs.",
        ),
    );
    assert_eq!(env.stop(ID)["decision"], "below_threshold");
}

#[test]
fn nothing_indexed_yet_is_skipped() {
    let env = Env::new();
    let d = env.stop(ID);
    assert_eq!(d["decision"], "skipped");
    assert_eq!(strs(&d["reasons"]), vec!["not_indexed"]);
    // An index that does not have this session yet.
    plain_session(&env);
    let d = env.stop("019a0000-0000-7000-8000-0000000000ff");
    assert_eq!(strs(&d["reasons"]), vec!["not_indexed"]);
    assert!(!env.state().join("triggers").exists());
}

#[test]
fn other_events_and_a_disabled_trigger_are_skipped() {
    let env = Env::new();
    plain_session(&env);
    let mut p = stop_payload(ID);
    p["hook_event_name"] = json!("SessionStart");
    let d = env.trigger_with(&p, &[]);
    assert_eq!(strs(&d["reasons"]), vec!["not_a_stop_event"]);
    env.config("[session_reflection.trigger]\nenabled = false\n");
    assert_eq!(strs(&env.stop(ID)["reasons"]), vec!["trigger_disabled"]);
    env.config("[session_reflection]\nenabled = false\n");
    assert_eq!(strs(&env.stop(ID)["reasons"]), vec!["reflection_disabled"]);
}

#[test]
fn session_end_counts_new_text_but_not_a_stop() {
    let env = Env::new();
    plain_session(&env);
    env.stop(ID);
    env.rollout(ID, &codex_turn("one more thing", &[], "sure"));
    let mut p = stop_payload(ID);
    p["hook_event_name"] = json!("SessionEnd");
    let d = env.trigger_with(&p, &[]);
    assert_eq!(d["event"], "SessionEnd");
    assert_eq!(d["decision"], "below_threshold");
    assert_eq!(d["counters"]["stops_since_memory_review"], 1);
    assert_eq!(
        d["counters"]["readable_chars_since_memory_review"],
        18 + 14 + 4
    );
}

#[test]
fn session_end_reviews_a_waiting_directive_even_with_high_signal_immediate_off() {
    let env = Env::new();
    env.config("[session_reflection.trigger]\nhigh_signal_immediate = false\n");
    env.rollout(
        ID,
        &codex_rollout(ID, "/work/app", "fix the build", "ok", "fixed"),
    );
    env.rollout(
        ID,
        &codex_turn("remember: never push straight to main", &[], "noted"),
    );
    // At a Stop the word only waits for the counters.
    let d = env.stop(ID);
    assert_eq!(d["decision"], "below_threshold", "{d}");
    assert_eq!(d["counters"]["high_signal_messages"], 1);
    assert!(d.get("matched_keywords").is_none());
    assert!(env.jobs().is_empty());
    // The session ends: those counters will never fill, so the directive is reviewed now.
    let mut p = stop_payload(ID);
    p["hook_event_name"] = json!("SessionEnd");
    let d = env.trigger_with(&p, &[]);
    assert_eq!(d["decision"], "queued", "{d}");
    assert_eq!(strs(&d["reasons"]), vec!["high_signal_memory_keyword"]);
    assert_eq!(strs(&d["matched_keywords"]), vec!["never", "remember"]);
    assert_eq!(strs(&d["notes"]), vec!["session_end_review"]);
    assert_eq!(env.jobs().len(), 1);
    assert_eq!(env.state_json(ID)["session_ended"], true);
}

#[test]
fn session_end_with_no_directive_waiting_queues_nothing() {
    let env = Env::new();
    env.config("[session_reflection.trigger]\nhigh_signal_immediate = false\n");
    plain_session(&env);
    let mut p = stop_payload(ID);
    p["hook_event_name"] = json!("SessionEnd");
    let d = env.trigger_with(&p, &[]);
    assert_eq!(d["decision"], "below_threshold", "{d}");
    assert!(env.jobs().is_empty());
}

// ---------------------------------------------------------------------------------------
// Inputs.

#[test]
fn the_spool_wrapper_and_claude_sessions_are_understood() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let fixture =
        fixtures.join("claude/projects/-path-to-Demo/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl");
    let copy = env.path("claude/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl");
    fs::create_dir_all(copy.parent().unwrap()).unwrap();
    fs::copy(&fixture, &copy).unwrap();
    env.index(&copy);
    let sid = "1af7fc5e-8455-4414-9ccd-011d40f70b2a";
    let wrapped = json!({"type": "archive_request", "agent": "claude", "event": "Stop",
                         "received_ms": 1, "payload": {"session_id": sid, "cwd": "/path/to/Demo"}});
    let d = env.trigger_with(&wrapped, &[]);
    assert_eq!(d["session_id"], format!("claude:{sid}"), "{d}");
    assert_eq!(d["agent"], "claude");
    assert_ne!(d["decision"], "skipped");
    assert!(env
        .session_dir(&format!("claude:{sid}"))
        .join("state.json")
        .is_file());
    assert!(env.state().join(format!("triggers/claude_{sid}")).is_dir());
    // A raw payload with no agent finds the same session; --agent codex looks for the
    // Codex form, which the index does not have.
    let d = env.trigger_with(&json!({"session_id": sid}), &[]);
    assert_eq!(d["session_id"], format!("claude:{sid}"));
    assert_eq!(d["counters"]["stops_since_memory_review"], 2);
    let d = env.trigger_with(&json!({"session_id": sid}), &["--agent", "codex"]);
    assert_eq!(strs(&d["reasons"]), vec!["not_indexed"]);
}

#[test]
fn bad_input_exits_2_with_the_tool_prefix() {
    let env = Env::new();
    plain_session(&env);
    for input in [
        "",
        "   \n",
        "{not json",
        "[1, 2]",
        "\"Stop\"",
        "{\"cwd\": \"/x\"}",
    ] {
        env.cmd("csep-trigger")
            .write_stdin(input)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with("csep-trigger: "));
    }
    env.cmd("csep-trigger")
        .args(["--agent", "notepad"])
        .write_stdin(stop_payload(ID).to_string())
        .assert()
        .code(2);
    assert!(!env.state().join("triggers").exists());
}

#[test]
fn config_problems_are_warnings_not_failures() {
    let env = Env::new();
    env.config("[session_reflection.trigger]\nmemory_stop_interval = 0\nspeed = 3\n");
    plain_session(&env);
    let out = env
        .cmd("csep-trigger")
        .write_stdin(stop_payload(ID).to_string())
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.lines().all(|l| l.starts_with("csep-trigger: ")),
        "{err}"
    );
    assert!(
        err.contains("memory_stop_interval: must be positive"),
        "{err}"
    );
    assert!(
        err.contains("session_reflection.trigger.speed: unknown key"),
        "{err}"
    );
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["thresholds"]["memory_stop_interval"], 3);
}

// ---------------------------------------------------------------------------------------
// Files.

#[test]
fn dry_run_decides_but_writes_nothing() {
    let env = Env::new();
    env.rollout(
        ID,
        &codex_rollout(ID, "/work/app", "remember: tabs, not spaces", "ok", "ok"),
    );
    let d = env.trigger_with(&stop_payload(ID), &["--dry-run"]);
    assert_eq!(d["decision"], "queued");
    assert_eq!(d["dry_run"], true);
    assert!(d.get("job_id").is_none());
    assert!(!env.state().join("triggers").exists());
    assert!(!env.state().join("spool/reflect").exists());
    // A real run after it sees the same thing, once.
    let d = env.stop(ID);
    assert_eq!(d["decision"], "queued");
    assert!(d.get("dry_run").is_none());
    assert_eq!(d["counters"]["stops_since_memory_review"], 1);
    // A dry run now reports the deferral and still changes nothing.
    let before = fs::read(env.session_dir(ID).join("state.json")).unwrap();
    let d = env.trigger_with(&stop_payload(ID), &["--dry-run"]);
    assert_eq!(d["decision"], "deferred");
    assert_eq!(
        fs::read(env.session_dir(ID).join("state.json")).unwrap(),
        before
    );
    assert_eq!(env.decisions(ID).len(), 1);
}

#[test]
fn decisions_jsonl_keeps_the_newest_200() {
    let env = Env::new();
    plain_session(&env);
    env.stop(ID);
    let log = env.session_dir(ID).join("decisions.jsonl");
    let old: String = (0..250)
        .map(|i| format!("{}\n", json!({"type": "trigger_decision", "n": i})))
        .collect();
    fs::write(&log, old).unwrap();
    let d = env.stop(ID);
    let lines = env.decisions(ID);
    assert_eq!(lines.len(), 200);
    assert_eq!(lines[0]["n"], 51);
    assert_eq!(lines[199], d);
    let names: Vec<String> = fs::read_dir(env.session_dir(ID))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temp files left: {names:?}"
    );
}

#[test]
fn concurrent_runs_on_one_session_lose_no_count() {
    let env = Env::new();
    plain_session(&env);
    let bin = assert_cmd::cargo::cargo_bin("csep-trigger");
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut c = std::process::Command::new(&bin)
                .env("CSEP_HOME", env.state())
                .env_remove("CSEP_REFLECTION_JOB")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin
                .take()
                .unwrap()
                .write_all(stop_payload(ID).to_string().as_bytes())
                .unwrap();
            c
        })
        .collect();
    let mut ok: u64 = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => ok += 1,
            // Busy is allowed (another run held the lock too long); it changes nothing.
            Some(75) => assert!(out.stdout.is_empty()),
            other => panic!("{other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    assert!(ok >= 1);
    let s = env.state_json(ID);
    assert_eq!(s["stops_since_memory_review"], ok);
    assert_eq!(env.decisions(ID).len() as u64, ok);
    // Exactly one job however the runs interleaved: the rest were deferred.
    let queued = env
        .decisions(ID)
        .iter()
        .filter(|d| d["decision"] == "queued")
        .count();
    assert_eq!(queued, usize::from(ok >= 3));
    assert_eq!(env.jobs().len(), queued);
}
