//! Every host from the umbrella: `csep recall sync HOST` backfills any host csep reads (the
//! summary's `source` is the host), a host with no default root is a usage error naming
//! `--root`, `sync` is a command word only with one host; `csep status` lists every host with
//! its root and counts; `csep setup` backfills every host whose root is there.

use crate::common;

use common::{codex_path, codex_rollout, write_lines, Env};
use serde_json::Value;

const ID: &str = "019a0000-0000-7000-8000-00000000b001";

fn env_with_codex_session() -> Env {
    let env = Env::new();
    write_lines(
        &codex_path(&env.path("home/.codex/sessions"), ID),
        &codex_rollout(ID, "/work/app", "flaky deploy", "exit 1", "Retry it."),
    );
    env
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn recall_sync_backfills_a_host_and_names_it_as_the_source() {
    let env = env_with_codex_session();
    let out = env
        .cmd("csep")
        .args([
            "recall",
            "sync",
            "codex",
            "--all-history",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["type"], "index_summary");
    assert_eq!(v["command"], "recall sync");
    assert_eq!(v["source"], "codex");
    assert_eq!(v["mode"], "backfill-codex");
    assert_eq!(v["new_sessions"], 1, "{v}");
    // Claude Code through sync: `source` is csep's name, not 1.3.10's `claude_code`.
    if let Some(fixtures) = common::transcripts() {
        let out = env
            .cmd("csep")
            .args([
                "recall",
                "sync",
                "claude",
                "--all-history",
                "--format",
                "json",
            ])
            .arg("--root")
            .arg(fixtures.join("claude/projects"))
            .output()
            .unwrap();
        let v = json(&out);
        assert_eq!(
            (&v["command"], &v["source"]),
            (&"recall sync".into(), &"claude".into())
        );
        assert!(v["new_sessions"].as_u64().unwrap() > 0, "{v}");
    }
    // 1.3.10's forms keep their names.
    let out = env
        .cmd("csep")
        .args(["recall", "bootstrap", "--all-history", "--format", "json"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(
        (&v["command"], &v["source"]),
        (&"recall bootstrap".into(), &"codex".into())
    );
    assert_eq!(v["unchanged_sessions"], 1, "{v}");
}

#[test]
fn recall_sync_of_a_host_without_a_root_or_with_an_empty_one() {
    let env = Env::new();
    // Aider keeps no history in one place.
    env.cmd("csep")
        .args(["recall", "sync", "aider"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains(
            "Aider keeps no history in one place; name it with --root",
        ));
    // Copilot CLI's default root (~/.copilot) is not there.
    env.cmd("csep")
        .args(["recall", "sync", "copilot", "--all-history"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains(".copilot does not exist"));
    // There and empty: nothing to do, a summary all the same, from the host's own variable.
    std::fs::create_dir_all(env.path("copilot-home")).unwrap();
    let out = env
        .cmd("csep")
        .env("COPILOT_HOME", env.path("copilot-home"))
        .args([
            "recall",
            "sync",
            "copilot",
            "--all-history",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let v = json(&out);
    assert_eq!(v["source"], "copilot");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["processed_files"], 0);
    assert_eq!(v["root"], env.path("copilot-home").to_str().unwrap());
}

#[test]
fn sync_is_a_command_word_only_with_one_host() {
    let env = env_with_codex_session();
    for args in [
        &["recall", "sync"][..],
        &["recall", "sync", "vim"],
        &["recall", "sync", "codex", "claude"],
        &["recall", "sync", "codex", "--bootstrap"],
    ] {
        env.cmd("csep")
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicates::str::contains("sync"));
    }
    env.cmd("csep")
        .args(["recall", "sync", "vim"])
        .assert()
        .stderr(
            predicates::str::contains("vim is not a host csep reads")
                .and(predicates::str::contains("put it after --")),
        );
    // Quoted, after `--`, or with --recent: a search, which backfills nothing.
    for args in [
        &["recall", "\"sync\"", "--global"][..],
        &["recall", "--global", "--", "sync", "codex"],
        &["recall", "--recent", "--global", "sync", "codex"],
    ] {
        let out = env.cmd("csep").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("Recall sync"),
            "{args:?}"
        );
    }
    assert!(!env.db().exists(), "a search backfilled something");
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn status_lists_every_host_with_its_root_and_counts() {
    let env = env_with_codex_session();
    env.cmd("csep")
        .args(["recall", "sync", "codex", "--all-history"])
        .assert()
        .success();
    std::fs::create_dir_all(env.path("home/.gemini/tmp")).unwrap();
    let out = env
        .cmd("csep")
        .env("COPILOT_HOME", env.path("elsewhere"))
        .arg("status")
        .output()
        .unwrap();
    let s = json(&out);
    let hosts = s["hosts"].as_array().unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h["agent"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["codex", "claude", "copilot", "qwen", "droid", "gemini", "opencode", "cursor", "aider"]
    );
    let host = |a: &str| hosts.iter().find(|h| h["agent"] == a).unwrap();
    let codex = host("codex");
    assert_eq!(codex["name"], "Codex CLI");
    assert_eq!(
        codex["root"],
        env.path("home/.codex/sessions").to_str().unwrap()
    );
    assert_eq!(codex["root_exists"], true);
    assert_eq!(codex["sessions"], 1);
    assert_eq!(
        codex["messages"],
        s["session_recall"]["messages_by_agent"]["codex"]
    );
    assert_eq!(codex["newest_session_at"], "2026-11-01T10:00:00.000Z");
    let copilot = host("copilot");
    assert_eq!(copilot["root"], env.path("elsewhere").to_str().unwrap());
    assert_eq!(
        (
            &copilot["root_exists"],
            &copilot["sessions"],
            &copilot["newest_session_at"]
        ),
        (&false.into(), &0.into(), &Value::Null)
    );
    assert_eq!(host("gemini")["root_exists"], true);
    assert_eq!(
        host("gemini")["root"],
        env.path("home/.gemini/tmp").to_str().unwrap()
    );
    assert_eq!(
        (&host("aider")["root"], &host("aider")["root_exists"]),
        (&Value::Null, &false.into())
    );
}

#[test]
fn setup_backfills_every_host_whose_root_is_there() {
    let env = env_with_codex_session();
    for root in ["home/.qwen/projects", "home/.factory/sessions"] {
        std::fs::create_dir_all(env.path(root)).unwrap();
    }
    let out = env
        .cmd("csep")
        .env("PATH", "/usr/bin:/bin")
        .args(["setup", "--no-claude", "--no-mcp"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let s = json(&out);
    let keys: Vec<&String> = s["backfill"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["codex", "qwen", "droid"], "{s}");
    assert_eq!(s["backfill"]["codex"]["new_sessions"], 1);
    assert_eq!(s["backfill"]["qwen"]["mode"], "backfill-qwen");
    assert_eq!(s["backfill"]["droid"]["error_count"], 0);
}

#[test]
fn a_host_whose_root_cannot_be_walked_does_not_undo_setup() {
    let env = Env::new();
    // Aider's history is one file: until its reader walks a file, setup says so and goes on.
    let history = env.path("work/.aider.chat.history.md");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    std::fs::write(
        &history,
        "# aider chat started at 2026-11-01 10:00:00\n\n#### hi\n",
    )
    .unwrap();
    let out = env
        .cmd("csep")
        .env("PATH", "/usr/bin:/bin")
        .env("AIDER_CHAT_HISTORY_FILE", &history)
        .args(["setup", "--no-claude", "--no-mcp"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let s = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        s["backfill"]["aider"].is_object() || stderr.contains("Aider: not backfilled"),
        "{s}\n{stderr}"
    );
    assert_eq!(s["codex"]["trust"], "manual", "{s}");
}
