//! Black-box tests of the run log: one JSON line per tool run in `logs/runs.jsonl` (tool,
//! exit code, elapsed time, counts), never message text or a query; none for runs that
//! promise to change nothing; none when there is no state directory to put it in.

use crate::common;

use common::{codex_path, codex_rollout, write_lines, Env};
use serde_json::Value;
use std::fs;

fn lines(env: &Env) -> Vec<Value> {
    fs::read_to_string(env.state().join("logs/runs.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_run_leaves_one_line_with_counts_and_no_text() {
    let env = Env::new();
    let secret_query = "zanzibar-ledger-7731";
    let id = "019a0000-0000-7000-8000-0000000010a1";
    let path = codex_path(&env.path("home/.codex/sessions"), id);
    write_lines(
        &path,
        &codex_rollout(
            id,
            "/work/app",
            &format!("find the {secret_query}"),
            "ok",
            "Done.",
        ),
    );
    env.cmd("csep-index")
        .arg("--file")
        .arg(&path)
        .assert()
        .success();
    env.cmd("csep-recall")
        .args(["--global", "--format", "json", secret_query])
        .assert()
        .success();
    env.cmd("csep-recall")
        .args(["--global", "nothing-matches-this-qq"])
        .assert()
        .code(1);
    env.cmd("csep")
        .args(["recall", "--global", secret_query])
        .assert()
        .success();
    env.cmd("csep")
        .args(["recall", "bootstrap", "--all-history", "--format", "json"])
        .assert()
        .success();

    let l = lines(&env);
    assert_eq!(l.len(), 5, "{l:?}");
    let text = fs::read_to_string(env.state().join("logs/runs.jsonl")).unwrap();
    assert!(
        !text.contains("zanzibar") && !text.contains("nothing-matches"),
        "{text}"
    );
    for v in &l {
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec!["ts", "tool", "exit_code", "elapsed_ms", "lines", "counts"];
        if v.get("command").is_some() {
            want.insert(2, "command");
        }
        assert_eq!(keys, want, "{v}");
        assert!(v["elapsed_ms"].is_u64());
    }
    assert_eq!(
        (
            &l[0]["tool"],
            &l[0]["exit_code"],
            &l[0]["counts"]["processed_files"],
            &l[0]["counts"]["record"]
        ),
        (
            &"csep-index".into(),
            &0.into(),
            &1.into(),
            &"index_summary".into()
        ),
        "{}",
        l[0]
    );
    assert_eq!(
        (
            &l[1]["tool"],
            &l[1]["counts"]["results"],
            &l[1]["counts"]["status"]
        ),
        (&"csep-recall".into(), &1.into(), &"matched".into()),
        "{}",
        l[1]
    );
    assert_eq!(
        (&l[2]["exit_code"], &l[2]["counts"]["results"]),
        (&1.into(), &0.into())
    );
    assert_eq!(
        (&l[3]["tool"], &l[3]["command"], &l[3]["counts"]["results"]),
        (&"csep".into(), &"recall".into(), &1.into()),
        "{}",
        l[3]
    );
    assert_eq!(l[4]["counts"]["mode"], "backfill-codex", "{}", l[4]);
}

#[test]
fn runs_that_change_nothing_log_nothing_and_a_missing_state_dir_is_not_made() {
    let env = Env::new();
    // No state dir yet: a recall that finds nothing must not create one to log into.
    env.cmd("csep-recall")
        .args(["--global", "x"])
        .assert()
        .code(1);
    assert!(!env.state().exists());
    fs::create_dir_all(env.state()).unwrap();
    env.cmd("csep").arg("status").assert().success();
    env.cmd("csep")
        .args(["setup", "--dry-run", "--no-codex", "--no-claude"])
        .assert()
        .success();
    env.cmd("csep-trigger")
        .arg("--dry-run")
        .write_stdin(r#"{"session_id":"s1","hook_event_name":"Stop"}"#)
        .assert()
        .success();
    env.cmd("csep")
        .args(["hook", "codex", "SessionStart"])
        .write_stdin("{}")
        .assert()
        .success();
    assert_eq!(lines(&env), Vec::<Value>::new());
    // The hook logs to its own file.
    assert!(env.state().join("logs/hook.log").is_file());
}

#[test]
fn the_run_log_follows_state_dir() {
    let env = Env::new();
    let other = env.path("other-state");
    fs::create_dir_all(&other).unwrap();
    env.cmd("csep-recall")
        .arg("--state-dir")
        .arg(&other)
        .args(["--global", "x"])
        .assert()
        .code(1);
    assert!(other.join("logs/runs.jsonl").is_file());
    assert!(!env.state().join("logs").exists());
}
