//! Black-box tests of `csep recall forget` and `csep-index --forget`: a forgotten session
//! leaves the index (and the database file's bytes) and no ingest path brings it back: a
//! backfill, `--file`, records piped from `csep-archive`, the spool drainer, a grown or moved
//! transcript, a new subagent file. Also `--source`, unknown ids, `--list`, bad usage, and
//! the ways to still search for the word "forget".

use crate::common;

use common::{append_lines, codex_path, codex_rollout, codex_turn, walk, write_lines, Env};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// `csep recall forget ARGS…`, which must exit 0 and print one JSON object on one line; the
/// object and stderr.
#[track_caller]
fn forget(env: &Env, args: &[&str]) -> (Value, String) {
    let out = env
        .cmd("csep")
        .args(["recall", "forget"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "forget {args:?}: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("{\"type\":"), "{text}");
    (serde_json::from_str(&text).unwrap(), stderr)
}

/// Sessions a global recall of `needle` finds.
fn found(env: &Env, needle: &str) -> u64 {
    env.recall_json(&["--global", "--limit", "10", "--", needle])["count"]
        .as_u64()
        .unwrap()
}

/// `csep ARGS…` (a backfill with `--format json`), which must succeed; its summary.
#[track_caller]
fn umbrella_json(env: &Env, args: &[&str]) -> Value {
    let out = env.cmd("csep").args(args).assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// `csep-index ARGS…` with `stdin`, which must succeed; its one JSON object.
#[track_caller]
fn index(env: &Env, args: &[&str], stdin: Option<Vec<u8>>) -> Value {
    let mut c = env.cmd("csep-index");
    c.args(args);
    if let Some(input) = stdin {
        c.write_stdin(input);
    }
    serde_json::from_slice(&c.assert().success().get_output().stdout).unwrap()
}

/// Every byte csep keeps under its state dir's `index/` (database, WAL, shared memory), as the
/// forget left them: no test-side checkpoint.
fn index_bytes(env: &Env) -> Vec<(PathBuf, Vec<u8>)> {
    walk(&env.state().join("index"))
        .into_iter()
        .map(|p| {
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// Asserts that no needle is in the index's files. Full-text terms are stored with the prefix
/// they share with the previous term left out, so each needle's tail past its first three
/// letters is looked for too.
#[track_caller]
fn assert_no_trace(env: &Env, needles: &[&str]) {
    let files = index_bytes(env);
    assert!(!files.is_empty());
    for (path, bytes) in &files {
        for n in needles.iter().flat_map(|n| [*n, &n[3..]]) {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} is still in {}",
                path.display()
            );
        }
    }
}

#[track_caller]
fn assert_trace(env: &Env, needle: &str) {
    let files = index_bytes(env);
    assert!(
        files
            .iter()
            .any(|(_, b)| b.windows(needle.len()).any(|w| w == needle.as_bytes())),
        "{needle} should be in the index files before the forget"
    );
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// A Claude Code transcript: user/assistant turns of session `sid` (a subagent's when
/// `agent_id` is given).
fn claude_lines(sid: &str, agent_id: Option<&str>, texts: &[&str]) -> Vec<Value> {
    texts
        .iter()
        .enumerate()
        .map(|(n, text)| {
            let role = if n % 2 == 0 { "user" } else { "assistant" };
            let content = if role == "user" {
                json!(text)
            } else {
                json!([{"type": "text", "text": text}])
            };
            let mut l = json!({"type": role, "sessionId": sid, "uuid": format!("{sid}-{n}"), "parentUuid": null,
                "cwd": "/nonexistent/repo", "timestamp": "2026-11-01T10:00:00.000Z", "message": {"role": role, "content": content}});
            if let Some(a) = agent_id {
                l["agentId"] = json!(a);
                l["isSidechain"] = json!(true);
            }
            l
        })
        .collect()
}

fn canonical(p: &Path) -> String {
    fs::canonicalize(p).unwrap().display().to_string()
}

/// A session far larger than the forgotten one, indexed in the same full-text segments: a
/// delete there only marks the forgotten rows, so their terms stay in the file unless the
/// forget rewrites the segments (a small segment would be rewritten anyway).
fn big_keeper() -> Vec<Value> {
    let mut lines = codex_rollout(
        KEEPER,
        "/nonexistent/repo",
        "keep the heron_keeper session",
        "o",
        "a",
    );
    for n in 0..150 {
        lines.extend(codex_turn(
            &format!("keeper turn {n}"),
            &[],
            &format!("reply {n}"),
        ));
    }
    lines
}

const VICTIM: &str = "0197f000-0000-7000-8000-00000000f001";
const KEEPER: &str = "0197f000-0000-7000-8000-00000000f002";

#[test]
fn a_forgotten_codex_session_stays_gone_through_every_ingest_path() {
    let env = Env::new();
    let root = env.path("home/.codex/sessions");
    let victim = codex_path(&root, VICTIM);
    write_lines(
        &victim,
        &codex_rollout(
            VICTIM,
            "/nonexistent/repo",
            "the secret plan is zqxplover7731",
            "output mentions zqxplover7731 too",
            "noted zqxplover7731",
        ),
    );
    write_lines(&codex_path(&root, KEEPER), &big_keeper());
    let s = umbrella_json(
        &env,
        &["recall", "bootstrap", "--all-history", "--format", "json"],
    );
    assert_eq!(s["new_sessions"], 2, "{s}");
    assert_eq!(s["forgotten_sessions"], 0, "{s}");
    assert_eq!(found(&env, "zqxplover7731"), 1);
    // Records read before the forget, to be piped in after it (a drainer that lost the race).
    let early = env.cmd("csep-archive").arg(&victim).assert().success();
    let early = early.get_output().stdout.clone();
    let keeper_messages = env.sql_count(&format!(
        "SELECT message_count FROM sessions WHERE session_id = '{KEEPER}'"
    ));
    let total = env.sql_count("SELECT COUNT(*) FROM messages");
    assert_trace(&env, "zqxplover7731");
    // A reflection run that quoted the session: reported, not deleted.
    let run = env.state().join("runs/20261124T130626Z-43a2f7f9");
    fs::create_dir_all(run.join("inputs")).unwrap();
    fs::write(
        run.join("job.json"),
        json!({"type": "reflect_job", "job_id": "20261124T130626Z-43a2f7f9", "session_id": VICTIM})
            .to_string(),
    )
    .unwrap();
    fs::write(run.join("inputs/messages.md"), "zqxplover7731").unwrap();

    let (r, stderr) = forget(&env, &[VICTIM]);
    assert_eq!(r["type"], "forget_result");
    assert_eq!(r["session_id"], VICTIM);
    assert_eq!(r["agent"], "codex");
    assert_eq!(r["was_indexed"], true);
    assert_eq!(r["already_forgotten"], false);
    assert_eq!(r["wal_checkpointed"], true);
    let removed = r["removed_messages"].as_i64().unwrap();
    assert_eq!(removed, total - keeper_messages);
    assert_eq!(strings(&r["removed_sources"]), vec![canonical(&victim)]);
    assert_eq!(r["tombstone"]["type"], "forgotten_session");
    assert_eq!(r["tombstone"]["was_indexed"], true);
    assert_eq!(
        strings(&r["tombstone"]["source_paths"]),
        vec![canonical(&victim)]
    );
    assert_eq!(r["other_copies"][0]["kind"], "reflection_run");
    assert_eq!(r["other_copies"][0]["path"], run.display().to_string());
    assert!(run.join("inputs/messages.md").exists());
    assert!(stderr.starts_with("csep: reflection runs"), "{stderr}");
    assert!(!stderr.contains("not in the index"), "{stderr}");

    // Gone from recall and from the database file's bytes; the other session untouched.
    assert_eq!(found(&env, "zqxplover7731"), 0);
    assert_eq!(found(&env, "heron_keeper"), 1);
    assert_no_trace(&env, &["zqxplover7731"]);
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages"),
        keeper_messages
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 1);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sources"), 1);

    // A backfill of all history skips it without reading it.
    let s = umbrella_json(
        &env,
        &["recall", "bootstrap", "--all-history", "--format", "json"],
    );
    assert_eq!(
        (
            s["forgotten_sessions"].as_u64(),
            s["unchanged_sessions"].as_u64(),
            s["new_sessions"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{s}"
    );
    assert_eq!(s["bytes_read"], 0, "{s}");
    // The transcript grows; indexing the file says so and writes nothing.
    append_lines(
        &victim,
        &codex_turn("more zqxplover7731 and zqxsandpiper", &[], "ok"),
    );
    let s = index(&env, &["--file", victim.to_str().unwrap()], None);
    assert_eq!(
        (s["forgotten_sessions"].as_u64(), s["messages"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );
    // Records piped from csep-archive: the grown file, and the ones read before the forget.
    let records = env.cmd("csep-archive").arg(&victim).assert().success();
    let records = records.get_output().stdout.clone();
    for stdin in [records, early] {
        let s = index(&env, &[], Some(stdin));
        assert_eq!(
            (s["forgotten_sessions"].as_u64(), s["messages"].as_u64()),
            (Some(1), Some(0)),
            "{s}"
        );
    }
    // The Stop hook's drainer: the payload is consumed, the trigger is not run for it.
    let new = env.archive_queue().join("new");
    fs::create_dir_all(&new).unwrap();
    fs::write(
        new.join("0001.json"),
        json!({"type": "archive_request", "agent": "codex", "event": "Stop", "received_ms": 0,
               "payload": {"session_id": VICTIM, "transcript_path": victim}})
        .to_string(),
    )
    .unwrap();
    let d = index(&env, &["--spool"], None);
    assert_eq!(
        (
            d["done"].as_u64(),
            d["forgotten_sessions"].as_u64(),
            d["messages"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{d}"
    );
    assert!(!env.state().join("triggers").join(VICTIM).exists());
    // `csep session-archive` says why it did nothing.
    let a = umbrella_json(
        &env,
        &[
            "session-archive",
            "--transcript-path",
            victim.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (a["status"].as_str(), a["reason"].as_str()),
        (Some("skipped"), Some("forgotten")),
        "{a}"
    );
    // Codex moves the rollout to archived_sessions/: a new path, the same session.
    let archived = env.path("home/.codex/archived_sessions");
    let moved = codex_path(&archived, VICTIM);
    fs::create_dir_all(moved.parent().unwrap()).unwrap();
    fs::rename(&victim, &moved).unwrap();
    let s = env.backfill("codex", &archived);
    assert_eq!(
        (s["forgotten_sessions"].as_u64(), s["messages"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );

    for needle in ["zqxplover7731", "zqxsandpiper"] {
        assert_eq!(found(&env, needle), 0, "{needle}");
    }
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages"),
        keeper_messages
    );
    assert_eq!(
        env.sql_count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE session_id = '{VICTIM}'"
        )),
        0
    );
    assert_no_trace(&env, &["zqxplover7731", "zqxsandpiper"]);
    // The tombstone learned the moved path.
    let l = umbrella_json(&env, &["recall", "forget", "--list"]);
    assert_eq!(l["type"], "forget_list");
    assert_eq!(l["count"], 1);
    let paths = strings(&l["tombstones"][0]["source_paths"]);
    assert!(paths.contains(&canonical(&moved)), "{paths:?}");
}

#[test]
fn a_forgotten_claude_session_loses_its_subagent_files_too_by_either_id_form() {
    let env = Env::new();
    let project = env.path("home/.claude/projects/-work");
    let sid = "7e57c1a0-0000-4000-8000-00000000c001";
    let main = project.join(format!("{sid}.jsonl"));
    let sub = project.join(sid).join("subagents/agent-a1.jsonl");
    write_lines(
        &main,
        &claude_lines(
            sid,
            None,
            &["where is zqxgrebe5521", "zqxgrebe5521 is in the attic"],
        ),
    );
    write_lines(
        &sub,
        &claude_lines(
            sid,
            Some("a1"),
            &["search for zqjtern8812", "found zqjtern8812"],
        ),
    );
    let other = "7e57c1a0-0000-4000-8000-00000000c002";
    let mut texts = vec!["keep kittiwake_keeper".to_string()];
    texts.extend((0..300).map(|n| format!("keeper line {n}")));
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    write_lines(
        &project.join(format!("{other}.jsonl")),
        &claude_lines(other, None, &texts),
    );
    let s = umbrella_json(
        &env,
        &["recall", "sync-claude", "--all-history", "--format", "json"],
    );
    assert_eq!(
        (s["new_sessions"].as_u64(), s["processed_files"].as_u64()),
        (Some(2), Some(3)),
        "{s}"
    );
    let v = env.recall_json(&["--global", "zqjtern8812"]);
    assert_eq!(v["results"][0]["session_id"], format!("claude:{sid}"));
    let kept = env.sql_count("SELECT COUNT(*) FROM messages WHERE session_rowid = (SELECT id FROM sessions WHERE session_id = 'claude:7e57c1a0-0000-4000-8000-00000000c002')");
    assert_trace(&env, "zqjtern8812");

    // The bare id, as Claude Code names the session, finds `claude:<id>`.
    let (r, stderr) = forget(&env, &[sid]);
    assert_eq!(r["session_id"], format!("claude:{sid}"));
    assert_eq!(r["agent"], "claude");
    assert_eq!(r["was_indexed"], true);
    assert_eq!(r["removed_messages"], 4);
    let mut both = vec![canonical(&main), canonical(&sub)];
    both.sort();
    assert_eq!(strings(&r["removed_sources"]), both);
    assert_eq!(stderr, "");
    for needle in ["zqxgrebe5521", "zqjtern8812"] {
        assert_eq!(found(&env, needle), 0, "{needle}");
    }
    assert_eq!(found(&env, "kittiwake_keeper"), 1);
    assert_no_trace(&env, &["zqxgrebe5521", "zqjtern8812"]);

    // sync-claude again, and a new subagent file of the forgotten session.
    let s = umbrella_json(
        &env,
        &["recall", "sync-claude", "--all-history", "--format", "json"],
    );
    assert_eq!(s["forgotten_sessions"], 2, "{s}");
    let late = project.join(sid).join("subagents/agent-a2.jsonl");
    write_lines(
        &late,
        &claude_lines(sid, Some("a2"), &["a late zqxskua3301", "ok"]),
    );
    let s = umbrella_json(
        &env,
        &["recall", "sync-claude", "--all-history", "--format", "json"],
    );
    assert_eq!(
        (s["forgotten_sessions"].as_u64(), s["messages"].as_u64()),
        (Some(3), Some(0)),
        "{s}"
    );
    assert_eq!(found(&env, "zqxskua3301"), 0);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), kept);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 1);

    // The `claude:<uuid>` form recall prints names the same tombstone.
    let (r, stderr) = forget(&env, &[&format!("claude:{sid}")]);
    assert_eq!(
        (r["was_indexed"].as_bool(), r["already_forgotten"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(r["tombstone"]["was_indexed"], true);
    assert!(strings(&r["tombstone"]["source_paths"]).contains(&canonical(&late)));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("csep: claude:{sid} is not in the index; ")),
        "{stderr}"
    );
    assert_eq!(
        umbrella_json(&env, &["recall", "forget", "--list"])["count"],
        1
    );
}

#[test]
fn forget_by_source_an_unknown_id_and_the_small_tool() {
    let env = Env::new();
    let root = env.path("codex");
    let a = "0197f000-0000-7000-8000-00000000a001";
    let b = "0197f000-0000-7000-8000-00000000b001";
    let unknown = "0197f000-0000-7000-8000-00000000d001";
    let pa = codex_path(&root, a);
    write_lines(
        &pa,
        &codex_rollout(a, "/nonexistent/repo", "alpha_avocet", "o", "a"),
    );
    env.backfill("codex", &root);
    // --source, spelled through a relative path: the indexed session it belongs to.
    let rel = pa
        .strip_prefix(env.root())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let (r, _) = forget(&env, &["--source", &format!("./{rel}")]);
    assert_eq!(
        (r["session_id"].as_str(), r["was_indexed"].as_bool()),
        (Some(a), Some(true)),
        "{r}"
    );
    assert_eq!(found(&env, "alpha_avocet"), 0);
    // --source of a file not indexed yet: its session is read from it and tombstoned.
    let pb = codex_path(&root, b);
    write_lines(
        &pb,
        &codex_rollout(b, "/nonexistent/repo", "bravo_bittern", "o", "a"),
    );
    let (r, stderr) = forget(&env, &["--source", pb.to_str().unwrap()]);
    assert_eq!(
        (
            r["session_id"].as_str(),
            r["agent"].as_str(),
            r["was_indexed"].as_bool()
        ),
        (Some(b), Some("codex"), Some(false)),
        "{r}"
    );
    assert!(
        stderr.contains("is not in the index; tombstoned anyway"),
        "{stderr}"
    );
    // --source of a file that is not there: only the path is tombstoned.
    let gone = env.path("codex/rollout-gone.jsonl");
    let (r, stderr) = forget(&env, &["--source", gone.to_str().unwrap()]);
    assert_eq!(r["session_id"], Value::Null);
    assert_eq!(
        strings(&r["tombstone"]["source_paths"]),
        vec![gone.display().to_string()]
    );
    assert!(stderr.contains("only this path is tombstoned"), "{stderr}");
    // An id never indexed: exit 0, said so once on stderr and in the answer.
    let (r, stderr) = forget(&env, &[unknown]);
    assert_eq!(
        (r["was_indexed"].as_bool(), r["removed_messages"].as_u64()),
        (Some(false), Some(0))
    );
    assert_eq!(r["agent"], Value::Null);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("csep: {unknown} is not in the index; ")),
        "{stderr}"
    );
    // Both later appear under the root: a backfill skips them.
    write_lines(
        &codex_path(&root, unknown),
        &codex_rollout(unknown, "/nonexistent/repo", "delta_dunlin", "o", "a"),
    );
    let s = env.backfill("codex", &root);
    assert_eq!(
        (s["forgotten_sessions"].as_u64(), s["new_sessions"].as_u64()),
        (Some(3), Some(0)),
        "{s}"
    );
    for needle in ["bravo_bittern", "delta_dunlin"] {
        assert_eq!(found(&env, needle), 0, "{needle}");
    }
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 0);
    let l = umbrella_json(&env, &["recall", "forget", "--list"]);
    assert_eq!(l["count"], 4, "{l}");
    let ids: Vec<Value> = l["tombstones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["session_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(a), json!(b), Value::Null, json!(unknown)]);

    // The small tool does the same: --forget, --forget-source, --list-forgotten.
    let c = "0197f000-0000-7000-8000-00000000c0c1";
    let pc = codex_path(&root, c);
    write_lines(
        &pc,
        &codex_rollout(c, "/nonexistent/repo", "charlie_curlew", "o", "a"),
    );
    env.backfill("codex", &root);
    assert_eq!(found(&env, "charlie_curlew"), 1);
    let r = index(&env, &["--forget", c], None);
    assert_eq!(
        (r["type"].as_str(), r["was_indexed"].as_bool()),
        (Some("forget_result"), Some(true)),
        "{r}"
    );
    assert_eq!(found(&env, "charlie_curlew"), 0);
    let r = index(&env, &["--forget-source", pc.to_str().unwrap()], None);
    assert_eq!(
        (r["session_id"].as_str(), r["already_forgotten"].as_bool()),
        (Some(c), Some(true)),
        "{r}"
    );
    let l = index(&env, &["--list-forgotten"], None);
    assert_eq!(
        (l["type"].as_str(), l["count"].as_u64()),
        (Some("forget_list"), Some(5)),
        "{l}"
    );
    env.cmd("csep-index")
        .args(["--forget", ""])
        .assert()
        .code(2);
    env.cmd("csep-index")
        .args(["--forget", c, "--spool"])
        .assert()
        .code(2);
}

#[test]
fn bad_usage_is_exit_2_and_the_word_forget_can_still_be_searched() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "0197f000-0000-7000-8000-00000000e001";
    write_lines(
        &codex_path(&root, id),
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "please forget the old cache",
            "o",
            "a",
        ),
    );
    env.backfill("codex", &root);
    let p = codex_path(&root, id);
    let p = p.to_str().unwrap();
    let bad: [&[&str]; 8] = [
        &["recall", "forget"],
        &["recall", "forget", ""],
        &["recall", "forget", "  "],
        &["recall", "forget", "a", "b"],
        &["recall", "forget", id, "--source", p],
        &["recall", "forget", "--list", id],
        &["recall", "--list", "cache"],
        &["recall", "forget", id, "--bootstrap"],
    ];
    for args in bad {
        let out = env.cmd("csep").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "csep {args:?}");
        assert!(out.stdout.is_empty(), "csep {args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("csep: "), "csep {args:?}: {stderr}");
    }
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM forgotten"), 0);
    // After `--`, as a quoted phrase, or not first: a search, not a forget.
    for query in [
        &["--", "forget"][..],
        &["--", "forget", "cache"][..],
        &["\"forget\""][..],
        &["cache", "forget"][..],
    ] {
        let out = env
            .cmd("csep")
            .args(["recall", "--global", "--format", "json"])
            .args(query)
            .assert()
            .success();
        let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(v["status"], "matched", "{query:?}: {v}");
        assert_eq!(v["results"][0]["session_id"], id, "{query:?}");
    }
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM forgotten"), 0);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 1);
}

#[test]
fn a_forget_waits_for_a_writer_holding_the_index() {
    let env = Env::new();
    let root = env.path("codex");
    write_lines(
        &codex_path(&root, VICTIM),
        &codex_rollout(VICTIM, "/nonexistent/repo", "ruff_wait_4411", "o", "a"),
    );
    env.backfill("codex", &root);
    // A writer (a backfill batch, a drainer) holds the write lock for a moment.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("csep"))
        .args(["recall", "forget", VICTIM])
        .env("CSEP_HOME", env.state())
        .env("HOME", env.path("home"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the forget did not wait for the writer"
    );
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["was_indexed"], true);
    assert_eq!(found(&env, "ruff_wait_4411"), 0);
}
