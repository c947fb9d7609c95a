//! The memory benchmark's own parts (scripts/bench_memory.py, run by scripts/bench-memory.sh):
//! its self-test (scenario against its ground truth, the naive model, the scorer on drives
//! whose figures are known) passes, and the rollouts it writes are Codex rollouts csep reads
//! as the scenario says. The benchmark itself is a script, not a test: nothing here is timed.

use crate::common;

use common::Env;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench_memory.py");

fn python(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 runs (the benchmark and the e2e mocks need it)")
}

#[test]
fn the_memory_benchmarks_generator_naive_model_and_scorer_pass_their_self_test() {
    let env = Env::new();
    let out = python(&["selftest"], env.root());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "selftest failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("selftest: ok (32 sessions"), "{stdout}");
}

#[test]
fn the_memory_benchmarks_rollouts_are_indexed_as_its_scenario_says() {
    let env = Env::new();
    let out_dir = env.path("scenario");
    let repo = env.path("repo");
    let out = python(
        &[
            "scenario",
            "--out",
            out_dir.to_str().unwrap(),
            "--cwd",
            repo.to_str().unwrap(),
        ],
        env.root(),
    );
    assert!(out.status.success(), "{out:?}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["sessions"].as_i64().unwrap() >= 30, "{summary}");

    env.backfill("codex", &out_dir.join("sessions"));
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM sessions"),
        summary["sessions"].as_i64().unwrap()
    );
    // Every turn's user text is a user message (the injected context is background), and
    // every tool call's output is indexed as tool output.
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages WHERE role = 'user' AND (flags & 1) = 0"),
        summary["turns"].as_i64().unwrap()
    );
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages WHERE role = 'tool'"),
        summary["tool_calls"].as_i64().unwrap()
    );
    // The planted README line is tool output, never something a user said.
    let truth: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("truth.json")).unwrap()).unwrap();
    let poison = truth["poison"][0]["said"].as_str().unwrap();
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let roles: Vec<String> = conn
        .prepare("SELECT role FROM messages WHERE instr(text, ?1) > 0")
        .unwrap()
        .query_map([poison], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(roles, ["tool"], "{poison}");
}
