//! Black-box tests of the `csep` umbrella's csep 1.3.10 surface (`recall bootstrap`,
//! `recall sync-claude`, `session-ingest`, `session-archive`) and of `csep completions` for
//! every tool.
//!
//! Each test gets its own state dir and transcript roots (`Env`); nothing touches $HOME.

use crate::common;

use common::{codex_path, codex_rollout, copy_dir, top_session, write_lines, Env};
use predicates::prelude::*;
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::path::Path;

#[test]
fn umbrella_bootstrap_sync_claude_ingest_and_session_archive() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let codex_home = env.path("home/.codex/sessions");
    fs::create_dir_all(codex_home.parent().unwrap()).unwrap();
    copy_dir(&fixtures.join("codex/sessions"), &codex_home);
    let out = env
        .cmd("csep")
        .args(["recall", "bootstrap", "--all-history", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(s["command"], "recall bootstrap");
    assert_eq!(s["new_sessions"], 6);
    assert!(s["db_path"]
        .as_str()
        .unwrap()
        .ends_with("index/recall.sqlite3"));
    env.cmd("csep")
        .args(["recall", "sync-claude", "--all-history", "--root"])
        .arg(fixtures.join("claude"))
        .assert()
        .success()
        .stdout(predicate::str::contains("New sessions: 6"));
    let out = env
        .cmd("csep")
        .args(["session-ingest", "--backfill"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(s["unchanged_sessions"], 6);

    // session-archive from a hook payload, and one whose transcript is null (ephemeral).
    let id = "88888888-0000-4000-8000-000000000001";
    let t = codex_path(&env.path("elsewhere"), id);
    write_lines(
        &t,
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "archived by the hook: heron_check",
            "o",
            "a",
        ),
    );
    let payload = env.path("payload.json");
    fs::write(&payload, json!({"session_id": id, "transcript_path": t, "cwd": "/nonexistent/repo", "hook_event_name": "Stop"}).to_string()).unwrap();
    let out = env
        .cmd("csep")
        .args(["session-archive", "--from-hook-payload"])
        .arg(&payload)
        .arg("--cleanup-payload")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let a: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(a["status"], "archived");
    assert_eq!(a["session_id"], id);
    assert_eq!(a["new_session"], true);
    assert!(!payload.exists(), "--cleanup-payload removes the payload");
    fs::write(
        &payload,
        json!({"session_id": "x", "transcript_path": null}).to_string(),
    )
    .unwrap();
    env.cmd("csep")
        .args(["session-archive", "--from-hook-payload"])
        .arg(&payload)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"skipped\""));
    env.cmd("csep")
        .args(["session-archive", "--transcript-path"])
        .arg(&t)
        .args(["--cwd", "/x", "--session-id", id])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"unchanged_session\":true"));
    assert_eq!(
        top_session(&env.recall_json(&["--global", "heron_check"])),
        id
    );
}

#[test]
fn completions_cover_every_tool_and_its_flags() {
    let env = Env::new();
    // The list completions are made from names every binary there is.
    let mut bins: Vec<String> = fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    bins.sort();
    let mut tools: Vec<String> = csep::cli::TOOLS.iter().map(|t| t.to_string()).collect();
    tools.sort();
    assert_eq!(tools, bins);
    for &tool in csep::cli::TOOLS {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let out = env
                .cmd("csep")
                .args(["completions", shell, "--tool", tool])
                .output()
                .unwrap();
            assert!(out.status.success(), "{tool} {shell}: {out:?}");
            let script = String::from_utf8(out.stdout).unwrap();
            assert!(script.contains(tool), "{tool} {shell}");
            if shell == "bash" {
                // The script is valid bash.
                let mut check = std::process::Command::new("bash")
                    .arg("-n")
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                check
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(script.as_bytes())
                    .unwrap();
                assert!(check.wait().unwrap().success(), "{tool}: bash -n failed");
            }
        }
    }
    let recall = env
        .cmd("csep")
        .args(["completions", "bash", "--tool", "csep-recall"])
        .output()
        .unwrap();
    let script = String::from_utf8(recall.stdout).unwrap();
    for flag in ["--global", "--format", "--agent", "--since", "--state-dir"] {
        assert!(script.contains(flag), "{flag} missing");
    }
    let zsh = env
        .cmd("csep")
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    let zsh = String::from_utf8(zsh.stdout).unwrap();
    assert!(zsh.starts_with("#compdef csep"), "{}", &zsh[..40]);
    assert!(zsh.contains("session-reflect") && zsh.contains("completions"));
    env.cmd("csep")
        .args(["completions", "bash", "--tool", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("csep: --tool \"nope\""));
}
