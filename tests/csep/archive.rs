//! Black-box tests of `csep-archive`: its records piped into csep-index and resumed from an
//! offset, a bad file beside a good one, a closed stdout, giant and torn giant lines, and the
//! Codex eras no fixture shows.
//!
//! Each test gets its own state dir and transcript roots (`Env`); nothing touches $HOME.

use crate::common;

use common::{codex_path, codex_rollout, top_session, write_lines, Env};
use predicates::prelude::*;
use serde_json::{json, Value};
use std::fs;
use std::io::Write;

#[test]
fn archive_piped_into_index_equals_a_backfill_and_resumes_from_an_offset() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let file =
        fixtures.join("claude/projects/-path-to-Demo/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl");
    let records = env
        .cmd("csep-archive")
        .arg(&file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = records
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines.last().unwrap()["type"], "source");
    assert!(lines[1..lines.len() - 1]
        .iter()
        .all(|l| l["type"] == "message"));
    let out = env
        .cmd("csep-index")
        .write_stdin(records.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(s["new_sessions"], 1);
    let n = s["messages"].as_i64().unwrap();
    assert_eq!(n as usize, lines.len() - 2);
    // Piping the same records again adds nothing.
    env.cmd("csep-index")
        .write_stdin(records)
        .assert()
        .success();
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), n);
    // --from-offset at the end yields no messages, and a backfill then sees the file unchanged.
    let end = lines.last().unwrap()["end_offset"].as_u64().unwrap();
    let tail = env
        .cmd("csep-archive")
        .arg(&file)
        .args(["--from-offset", &end.to_string()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8_lossy(&tail)
            .matches("\"type\":\"message\"")
            .count(),
        0
    );
}

#[test]
fn csep_archive_reports_a_bad_file_and_still_emits_the_good_one() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let bad = env.path("rollout-2026-01-01T00-00-00-bad.jsonl");
    fs::write(&bad, b"\xff\xfe\x00garbage\n").unwrap();
    let good = fixtures.join("codex/sessions/2026/02/23/rollout-2026-02-23T13-19-38-019c8a70-dda7-7f33-98ea-f30553347322.jsonl");
    env.cmd("csep-archive")
        .arg(&bad)
        .arg(&good)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("csep-archive: ")
                .and(predicate::str::contains("invalid UTF-8")),
        )
        .stdout(predicate::str::contains(
            "\"session_id\":\"019c8a70-dda7-7f33-98ea-f30553347322\"",
        ));
}

#[test]
fn a_closed_stdout_is_success() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let file = fixtures.join("codex/sessions/2026/02/23/rollout-2026-02-23T12-54-34-019c8a59-e9dd-71f0-9ae3-4079fe9726a9.jsonl");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("csep-archive"))
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    common::assert_ok(&out);
    let _ = env;
}

// ---------------------------------------------------------------------------------------
// Giant lines.

#[test]
fn a_200_mb_line_is_skipped_and_counted_and_what_follows_is_indexed() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "22222222-0000-4000-8000-000000000002";
    let path = codex_path(&root, id);
    write_lines(
        &path,
        &codex_rollout(id, "/nonexistent/repo", "build it", "ok", "done"),
    );
    {
        // Written in pieces: the test itself must not hold the line either.
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"timestamp":"2026-11-01T10:00:00.000Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":""#)
            .unwrap();
        let piece = "x".repeat(1 << 20);
        for _ in 0..200 {
            f.write_all(piece.as_bytes()).unwrap();
        }
        f.write_all(b"\"}}\n").unwrap();
    }
    common::append_lines(
        &path,
        &common::codex_turn("after the giant", &[], "the needle is quokka_after_giant"),
    );
    let out = env.cmd("csep-archive").arg(&path).assert().success();
    let source = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "source")
        .unwrap();
    assert_eq!(source["skipped"]["oversized_lines"], 1, "{source}");
    assert_eq!(source["end_offset"], fs::metadata(&path).unwrap().len());
    let s = env.backfill("codex", &root);
    assert_eq!(s["error_count"], 0, "{s}");
    let v = env.recall_json(&["--global", "quokka_after_giant"]);
    assert_eq!(top_session(&v), id);
}

#[test]
fn a_torn_giant_last_line_is_passed_once_and_counted_when_it_ends() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "22222222-0000-4000-8000-000000000004";
    let path = codex_path(&root, id);
    write_lines(
        &path,
        &codex_rollout(id, "/nonexistent/repo", "build it", "ok", "done"),
    );
    {
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"timestamp":"2026-11-01T10:00:00.000Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":""#)
            .unwrap();
        let piece = "y".repeat(1 << 20);
        for _ in 0..65 {
            f.write_all(piece.as_bytes()).unwrap();
        }
    }
    let source = |args: &[&str]| -> Value {
        let out = env
            .cmd("csep-archive")
            .args(args)
            .arg(&path)
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|r| r["type"] == "source")
            .unwrap()
    };
    // Still being written: torn, not yet oversized, and passed rather than left to re-read.
    let first = source(&[]);
    let torn_end = fs::metadata(&path).unwrap().len();
    assert_eq!(first["skipped"]["torn_lines"], 1, "{first}");
    assert_eq!(first["skipped"]["oversized_lines"], 0, "{first}");
    assert_eq!(first["end_offset"], torn_end);
    env.backfill("codex", &root);
    // The line ends and the session goes on.
    {
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"yyyy\"}}\n").unwrap();
    }
    common::append_lines(
        &path,
        &common::codex_turn("go on", &[], "the needle is wombat_after_torn_giant"),
    );
    let next = source(&["--from-offset", &torn_end.to_string()]);
    assert_eq!(next["skipped"]["oversized_lines"], 1, "{next}");
    assert_eq!(next["skipped"]["torn_lines"], 0, "{next}");
    assert_eq!(next["messages"], 2, "{next}");
    let s = env.backfill("codex", &root);
    assert_eq!(s["error_count"], 0, "{s}");
    let v = env.recall_json(&["--global", "wombat_after_torn_giant"]);
    assert_eq!(top_session(&v), id);
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages WHERE text LIKE '%yyyyyyyy%'"),
        0
    );
}

// ---------------------------------------------------------------------------------------
// Codex eras no fixture shows.

#[test]
fn legacy_rollouts_with_bare_meta_and_record_type_lines_index() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "0197a000-0000-7000-8000-000000000001";
    let path = root.join(format!("2025/08/06/rollout-2025-08-06T10-00-00-{id}.jsonl"));
    write_lines(
        &path,
        &[
            json!({"id": id, "timestamp": "2025-08-06T10:00:00.000Z", "instructions": null, "git": {"commit_hash": "abc", "branch": "legacy-branch", "repository_url": "git@example:x.git"}}),
            json!({"record_type": "state"}),
            json!({"type": "message", "id": null, "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n<cwd>/nonexistent/legacy</cwd>\n</environment_context>"}]}),
            json!({"type": "message", "id": null, "role": "user", "content": [{"type": "input_text", "text": "list the gannet files"}]}),
            json!({"type": "reasoning", "id": "r1", "summary": [{"type": "summary_text", "text": "thinking about skua"}], "encrypted_content": "gAAAA"}),
            json!({"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"bash\",\"-lc\",\"ls gannet\"]}", "call_id": "call_1"}),
            json!({"record_type": "state"}),
            json!({"type": "function_call_output", "call_id": "call_1", "output": "{\"output\":\"gannet_nest.rs\\n\",\"metadata\":{\"exit_code\":0,\"duration_seconds\":0.1}}"}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "found one gannet file"}]}),
        ],
    );
    let out = env
        .cmd("csep-archive")
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let recs: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs[0]["session_id"], id);
    assert_eq!(recs[0]["cwd"], "/nonexistent/legacy");
    assert_eq!(recs[0]["branch"], "legacy-branch");
    assert_eq!(recs.last().unwrap()["format"], "codex-legacy");
    let msgs: Vec<&Value> = recs.iter().filter(|r| r["type"] == "message").collect();
    let shapes: Vec<(String, String)> = msgs
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().into(),
                m["tool"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("user".into(), "".into()),
            ("user".into(), "".into()),
            ("assistant".into(), "shell".into()),
            ("tool".into(), "shell".into()),
            ("assistant".into(), "".into())
        ]
    );
    assert_eq!(msgs[0]["background"], true);
    assert_eq!(msgs[2]["text"], "ls gannet");
    assert_eq!(msgs[3]["text"], "Exit code: 0\ngannet_nest.rs");
    assert!(!String::from_utf8_lossy(&fs::read(&path).unwrap()).is_empty());
    env.backfill("codex", &root);
    assert_eq!(
        env.recall_json(&["--global", "skua"])["count"],
        0,
        "reasoning is not indexed"
    );
    let v = env.recall_json(&["--cwd", "/nonexistent/legacy", "gannet_nest"]);
    assert_eq!(top_session(&v), id);
}

#[test]
fn ts_era_single_json_documents_index() {
    let env = Env::new();
    let root = env.path("codex");
    let doc = json!({
        "session": {"timestamp": "2025-05-01T09:00:00.000Z", "id": "ts-era-0001", "instructions": "be brief"},
        "items": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "why does the puffin job fail"}]},
            {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"make\",\"puffin\"]}", "call_id": "c1"},
            {"type": "function_call_output", "call_id": "c1", "output": "{\"output\":\"make: *** [puffin] Error 2\",\"metadata\":{\"exit_code\":2}}"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "the puffin target is missing a dependency"}]}
        ]
    });
    let path = root.join("rollout-2025-05-01-ts-era-0001.json");
    fs::create_dir_all(&root).unwrap();
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = env
        .cmd("csep-archive")
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"format\":\"codex-ts\""));
    assert_eq!(text.matches("\"type\":\"message\"").count(), 4);
    let s = env.backfill("codex", &root);
    assert_eq!(s["new_sessions"], 1, "{s}");
    let v = env.recall_json(&["--global", "[puffin] Error 2"]);
    assert_eq!(top_session(&v), "ts-era-0001");
    assert_eq!(v["results"][0]["windows"][0]["anchor"]["role"], "tool");
}
