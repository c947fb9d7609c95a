//! Black-box tests of `csep-index`: backfills of the real transcripts, incremental indexing
//! (torn lines, appended tails, rewrites, deleted and moved transcripts, reflection sessions),
//! bad input and the caps, a kill -9 in the middle of a backfill, the history flags, the
//! state-dir variables, the progress line, and draining the archive spool.
//!
//! Each test gets its own state dir and transcript roots (`Env`); nothing touches $HOME.

use crate::common;

use common::{codex_path, codex_rollout, top_session, write_lines, Env};
use predicates::prelude::*;
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::path::Path;

// ---------------------------------------------------------------------------------------
// Backfills of the real transcripts.

#[test]
fn every_fixture_transcript_indexes_without_error() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let codex = env.backfill("codex", &fixtures.join("codex"));
    let claude = env.backfill("claude", &fixtures.join("claude"));
    assert_eq!(codex["error_count"], 0);
    assert_eq!(claude["error_count"], 0);
    assert_eq!(codex["processed_files"], 6);
    assert_eq!(claude["processed_files"], 6);
    assert!(codex["messages"].as_u64().unwrap() > 1000);
    // Unchanged files cost a stat: nothing is re-read.
    let again = env.backfill("codex", &fixtures.join("codex"));
    assert_eq!(again["unchanged_sessions"], 6);
    assert_eq!(again["bytes_read"], 0);
}

// ---------------------------------------------------------------------------------------
// Incremental indexing.

#[test]
fn a_torn_last_line_waits_and_an_appended_tail_costs_only_its_bytes() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "11111111-0000-4000-8000-000000000001";
    let path = codex_path(&root, id);
    let lines = codex_rollout(
        id,
        "/nonexistent/repo",
        "first question",
        "first output",
        "first answer",
    );
    write_lines(&path, &lines);
    // A torn write: half a line, no newline.
    let extra = json!({"timestamp": "2026-11-01T10:05:00.000Z", "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "zanzibar_followup_question"}]}}).to_string();
    let (half, rest) = extra.split_at(extra.len() / 2);
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(half.as_bytes())
        .unwrap();
    let first = env.backfill("codex", &root);
    assert_eq!(first["skipped_lines"], 1, "{first}");
    let before = env.sql_count("SELECT COUNT(*) FROM messages");
    let end: i64 = env.sql_count("SELECT end_offset FROM sources");
    let size_before = fs::metadata(&path).unwrap().len() as i64;
    assert!(end < size_before, "the torn line is not consumed");

    // The writer finishes the line and appends more.
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(f, "{rest}").unwrap();
    drop(f);
    let second = env.backfill("codex", &root);
    assert_eq!(second["updated_sessions"], 1, "{second}");
    assert_eq!(second["messages"], 1);
    let size_after = fs::metadata(&path).unwrap().len() as i64;
    assert_eq!(
        second["bytes_read"].as_i64().unwrap(),
        size_after - end,
        "only the new bytes were read"
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), before + 1);
    let v = env.recall_json(&["--global", "zanzibar_followup_question"]);
    assert_eq!(top_session(&v), id);
}

#[test]
fn a_rewritten_file_is_reindexed_whole_without_duplicates() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "11111111-0000-4000-8000-000000000002";
    let path = codex_path(&root, id);
    write_lines(
        &path,
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "original wording kestrel",
            "out",
            "answer",
        ),
    );
    env.backfill("codex", &root);
    let n = env.sql_count("SELECT COUNT(*) FROM messages");
    write_lines(
        &path,
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "rewritten wording osprey!",
            "out",
            "answer",
        ),
    );
    let s = env.backfill("codex", &root);
    assert_eq!(s["updated_sessions"], 1, "{s}");
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), n);
    assert_eq!(env.recall_json(&["--global", "kestrel"])["count"], 0);
    assert_eq!(env.recall_json(&["--global", "osprey"])["count"], 1);
}

#[test]
fn a_session_whose_transcript_is_deleted_stays_searchable() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "11111111-0000-4000-8000-000000000003";
    let path = codex_path(&root, id);
    write_lines(
        &path,
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "remember the albatross flag",
            "o",
            "a",
        ),
    );
    env.backfill("codex", &root);
    fs::remove_file(&path).unwrap();
    env.backfill("codex", &root);
    assert_eq!(
        top_session(&env.recall_json(&["--global", "albatross"])),
        id
    );
}

#[test]
fn a_root_spelled_differently_or_a_moved_transcript_never_duplicates() {
    let env = Env::new();
    let root = env.path("home/.codex/sessions");
    let id = "12121212-0000-4000-8000-000000000001";
    write_lines(
        &codex_path(&root, id),
        &codex_rollout(id, "/nonexistent/repo", "moving target cormorant", "o", "a"),
    );
    env.backfill("codex", &root);
    let n = env.sql_count("SELECT COUNT(*) FROM messages");
    // A relative spelling of the same root.
    env.cmd("csep-index")
        .args([
            "--backfill",
            "codex",
            "--all-history",
            "--root",
            "home/.codex/../.codex/sessions",
        ])
        .assert()
        .success();
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), n);
    // Codex moves an archived thread to archived_sessions/: same file, new path.
    let archived = env.path("home/.codex/archived_sessions");
    fs::create_dir_all(codex_path(&archived, id).parent().unwrap()).unwrap();
    fs::rename(codex_path(&root, id), codex_path(&archived, id)).unwrap();
    env.backfill("codex", &archived);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), n);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sources"), 1);
    assert_eq!(env.sql_count("SELECT SUM(message_count) FROM sessions"), n);
    assert_eq!(
        top_session(&env.recall_json(&["--global", "cormorant"])),
        id
    );
}

#[test]
fn user_and_assistant_text_is_indexed_once() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "13131313-0000-4000-8000-000000000001";
    write_lines(
        &codex_path(&root, id),
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "only once please: merganser",
            "o",
            "reply about shearwater",
        ),
    );
    env.backfill("codex", &root);
    assert_eq!(
        env.recall_json(&["--global", "merganser"])["results"][0]["hit_count"],
        1
    );
    assert_eq!(
        env.recall_json(&["--global", "shearwater"])["results"][0]["hit_count"],
        1
    );
}

#[test]
fn reflection_sessions_are_remembered_but_never_archived() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "15151515-0000-4000-8000-000000000001";
    let path = codex_path(&root, id);
    let prompt = "csep-reflection-job: 20261124T100000Z-abcd1234\nReview this session and propose memory about the ocelot_cache.";
    write_lines(
        &path,
        &codex_rollout(
            id,
            "/nonexistent/repo",
            prompt,
            "o",
            "proposal about ocelot_cache",
        ),
    );
    let s = env.backfill("codex", &root);
    assert_eq!(
        (s["excluded_sessions"].as_u64(), s["new_sessions"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );
    assert_eq!(env.recall_json(&["--global", "ocelot_cache"])["count"], 0);
    // Growing the file does not sneak its new lines in.
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(f, "{}", json!({"timestamp": "2026-11-01T10:01:00.000Z", "type": "response_item", "payload": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "more about ocelot_cache"}]}})).unwrap();
    drop(f);
    let s = env.backfill("codex", &root);
    assert_eq!(s["excluded_sessions"], 1, "{s}");
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), 0);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 0);
    // Unchanged: one stat, nothing read.
    assert_eq!(env.backfill("codex", &root)["unchanged_sessions"], 1);
}

// ---------------------------------------------------------------------------------------
// Bad input and the caps.

#[test]
fn a_missing_root_is_a_clear_usage_error() {
    let env = Env::new();
    env.cmd("csep-index")
        .args(["--backfill", "codex", "--root", "/nonexistent/csep-root"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::starts_with("csep-index: ")
                .and(predicate::str::contains("/nonexistent/csep-root")),
        );
}

#[test]
fn bad_files_are_recorded_and_good_sessions_still_index() {
    let env = Env::new();
    let root = env.path("claude");
    let proj = root.join("-work-app");
    fs::create_dir_all(proj.join("x.jsonl")).unwrap();
    fs::write(proj.join("empty.jsonl"), b"").unwrap();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(proj.join("garbage.jsonl"), garbage).unwrap();
    fs::write(proj.join("nonobject.jsonl"), "[1,2]\n\"str\"\n42\n").unwrap();
    let good = json!({"type": "user", "sessionId": "aaaaaaaa-0000-4000-8000-000000000001", "uuid": "u1", "parentUuid": null, "cwd": "/nonexistent/app", "timestamp": "2026-11-01T10:00:00.000Z", "message": {"role": "user", "content": "the good session mentions quokka_migration"}});
    fs::write(
        proj.join("aaaaaaaa-0000-4000-8000-000000000001.jsonl"),
        format!("[1]\n{good}\nnot json\n"),
    )
    .unwrap();
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "claude", "--all-history", "--root"])
        .arg(&root)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("x.jsonl: is a directory"))
        .stderr(predicate::str::contains("empty.jsonl: empty file"))
        .stderr(predicate::str::contains("garbage.jsonl: no usable records"))
        .stderr(predicate::str::contains(
            "nonobject.jsonl: no usable records",
        ))
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(s["error_count"], 4, "{s}");
    assert_eq!(s["new_sessions"], 1);
    assert_eq!(s["skipped_lines"], 2);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM ingest_errors"), 4);
    assert_eq!(
        top_session(&env.recall_json(&["--global", "quokka_migration"])),
        "claude:aaaaaaaa-0000-4000-8000-000000000001"
    );
    // An unchanged bad file is not re-read or re-reported; the directory still is.
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "claude", "--all-history", "--root"])
        .arg(&root)
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let again: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(again["error_count"].as_u64().unwrap(), 1, "{again}");
}

#[test]
fn a_30_mb_single_line_is_indexed_within_the_caps() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "22222222-0000-4000-8000-000000000001";
    let mut big = String::with_capacity(31 << 20);
    while big.len() < 30 << 20 {
        big.push_str("compiling crate number 0042 ok\n");
    }
    big.push_str("error[E0499]: cannot borrow `walrus_buffer` as mutable more than once");
    write_lines(
        &codex_path(&root, id),
        &codex_rollout(id, "/nonexistent/repo", "build it", &big, "done"),
    );
    let s = env.backfill("codex", &root);
    assert_eq!(s["error_count"], 0);
    let longest = env.sql_count("SELECT MAX(LENGTH(text)) FROM messages");
    assert!(longest < 20_000, "stored {longest} chars");
    let v = env.recall_json(&["--global", "walrus_buffer"]);
    assert_eq!(top_session(&v), id);
    assert!(v["results"][0]["matched"]
        .as_str()
        .unwrap()
        .contains(">>>walrus_buffer<<<"));
}

// ---------------------------------------------------------------------------------------
// Crash safety.

fn many_sessions(root: &Path, n: usize) {
    for i in 0..n {
        let id = format!("33333333-0000-4000-8000-{i:012}");
        let mut lines = codex_rollout(
            &id,
            "/nonexistent/repo",
            &format!("question {i} about the pelican_{i} module"),
            "output",
            "answer",
        );
        for k in 0..40 {
            lines.push(json!({"timestamp": "2026-11-01T10:00:00.000Z", "type": "response_item", "payload": {"type": "function_call_output", "call_id": format!("x{k}"), "output": format!("line {k} of session {i}: {}", "test result ok; ".repeat(40))}}));
        }
        write_lines(&codex_path(root, &id), &lines);
    }
}

#[test]
fn kill_9_during_a_backfill_never_corrupts_or_duplicates() {
    let env = Env::new();
    let root = env.path("codex");
    many_sessions(&root, 300);
    // The reference: an uninterrupted run in a separate state dir.
    let clean = env.path("clean");
    let t0 = std::time::Instant::now();
    let reference: Value = serde_json::from_slice(
        &env.cmd("csep-index")
            .env("CSEP_HOME", &clean)
            .args(["--backfill", "codex", "--all-history", "--root"])
            .arg(&root)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let full = t0.elapsed();
    let count = |db: &Path, sql: &str| -> i64 {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    };
    let clean_db = clean.join("index/recall.sqlite3");
    let want_msgs = count(&clean_db, "SELECT COUNT(*) FROM messages");
    assert_eq!(want_msgs as u64, reference["messages"].as_u64().unwrap());

    let bin = assert_cmd::cargo::cargo_bin("csep-index");
    for round in 1..=10u32 {
        let mut child = std::process::Command::new(&bin)
            .env("CSEP_HOME", env.state())
            .args(["--backfill", "codex", "--all-history", "--root"])
            .arg(&root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the run, round by round.
        std::thread::sleep(full.mul_f64(f64::from(round) / 12.0));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if env.db().exists() {
            let conn = rusqlite::Connection::open(env.db()).unwrap();
            let ok: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(ok, "ok", "round {round}");
        }
    }
    env.backfill("codex", &root);
    let db = env.db();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messages"), want_msgs);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM sessions"),
        count(&clean_db, "SELECT COUNT(*) FROM sessions")
    );
    assert_eq!(
        count(&db, "SELECT SUM(message_count) FROM sessions"),
        want_msgs
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM (SELECT source_rowid, byte_offset FROM messages GROUP BY 1, 2 HAVING COUNT(*) > 1 AND MIN(ordinal) = MAX(ordinal))"), 0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    // The full-text index agrees with the messages table.
    let fts: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM fts_words WHERE fts_words MATCH 'pelican'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let fts_clean = count(
        &clean_db,
        "SELECT COUNT(*) FROM fts_words WHERE fts_words MATCH 'pelican'",
    );
    assert_eq!(fts, fts_clean);
}

// ---------------------------------------------------------------------------------------
// Which files, which state dir, and what a person sees.

#[test]
fn since_days_and_limit_files_pick_the_newest_files() {
    let env = Env::new();
    let root = env.path("codex");
    let now = std::time::SystemTime::now();
    for (i, age_days) in [(1, 0u64), (2, 3), (3, 40)] {
        let id = format!("14141414-0000-4000-8000-00000000000{i}");
        let p = codex_path(&root, &id);
        write_lines(
            &p,
            &codex_rollout(
                &id,
                "/nonexistent/repo",
                &format!("aged file {i}"),
                "o",
                "a",
            ),
        );
        let t = now - std::time::Duration::from_secs(age_days * 86_400);
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "codex", "--limit-files", "1", "--root"])
        .arg(&root)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(s["new_sessions"], 1);
    assert_eq!(
        top_session(&env.recall_json(&["--global", "aged file"])),
        "14141414-0000-4000-8000-000000000001"
    );
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "codex", "--since-days", "30", "--root"])
        .arg(&root)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (s["new_sessions"].as_u64(), s["unchanged_sessions"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 2);
    env.cmd("csep-index")
        .args(["--backfill", "codex", "--since-days", "3", "--all-history"])
        .assert()
        .code(2);
}

#[test]
fn the_1_3_10_state_dir_variable_is_honoured() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let legacy = env.path("legacy-home");
    let root = fixtures.join("codex");
    env.cmd("csep-index")
        .env_remove("CSEP_HOME")
        .env("CODEX_SELF_EVOLUTION_HOME", &legacy)
        .args(["--backfill", "codex", "--all-history", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(legacy.join("index/recall.sqlite3").exists());
    // --state-dir beats both variables.
    let explicit = env.path("explicit");
    env.cmd("csep-index")
        .arg("--state-dir")
        .arg(&explicit)
        .args(["--backfill", "codex", "--all-history", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(explicit.join("index/recall.sqlite3").exists());
    assert!(!env.db().exists());
}

#[test]
fn a_progress_bar_only_on_a_terminal_and_runs_are_recorded() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = Env::new();
    let root = fixtures.join("codex");
    // Piped: stderr stays empty.
    env.cmd("csep-index")
        .args(["--backfill", "codex", "--all-history", "--root"])
        .arg(&root)
        .assert()
        .success()
        .stderr("");
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM runs WHERE finished_ms IS NOT NULL AND summary LIKE '%new_sessions%'"), 1);
    // On a terminal (util-linux `script` gives it a pty): a progress line.
    let bin = assert_cmd::cargo::cargo_bin("csep-index");
    let state = env.path("tty-state");
    let cmdline = format!(
        "{} --state-dir {} --backfill codex --all-history --root {} >/dev/null",
        bin.display(),
        state.display(),
        root.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .output()
        .expect("util-linux script");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("csep-index: [") && shown.contains("6/6 files"),
        "{shown:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The archive spool (`csep-index --spool`).

#[test]
fn the_spool_drains_once_and_a_second_drainer_is_busy() {
    let env = Env::new();
    let id = "99999999-0000-4000-8000-000000000001";
    let t = codex_path(&env.path("codex"), id);
    write_lines(
        &t,
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "spooled session mentions ibis_gate",
            "o",
            "a",
        ),
    );
    let new = env.state().join("spool/archive/new");
    fs::create_dir_all(&new).unwrap();
    fs::write(
        new.join("0001.json"),
        json!({"agent": "codex", "payload": {"session_id": id, "transcript_path": t}}).to_string(),
    )
    .unwrap();
    fs::write(new.join("0002.json"), b"{not json").unwrap();
    // Hold the queue lock as another drainer would: this one must not consume anything.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.state().join("spool/archive/.lock"))
        .unwrap();
    fs2::FileExt::try_lock_exclusive(&lock).unwrap();
    env.cmd("csep-index")
        .arg("--spool")
        .assert()
        .code(75)
        .stderr(predicate::str::contains("csep-index: "));
    assert!(new.join("0001.json").exists());
    fs2::FileExt::unlock(&lock).unwrap();
    let out = env
        .cmd("csep-index")
        .arg("--spool")
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(env.state().join("spool/archive/failed/0002.json").exists());
    assert_eq!(
        top_session(&env.recall_json(&["--global", "ibis_gate"])),
        id
    );
}

/// Regression: a payload the drainer could not index because the database stayed busy (a long
/// forget or backfill) went to failed/ and was never retried. It goes back to new/.
#[test]
fn a_busy_index_puts_the_payloads_back_for_the_next_drainer() {
    let env = Env::new();
    let id = "99999999-0000-4000-8000-000000000002";
    let t = codex_path(&env.path("codex"), id);
    write_lines(
        &t,
        &codex_rollout(
            id,
            "/nonexistent/repo",
            "busy spool mentions heron_gate",
            "o",
            "a",
        ),
    );
    env.cmd("csep-index")
        .arg("--file")
        .arg(&t)
        .assert()
        .success();
    let new = env.state().join("spool/archive/new");
    fs::create_dir_all(&new).unwrap();
    for name in ["0001.json", "0002.json"] {
        fs::write(
            new.join(name),
            json!({"agent": "codex", "payload": {"session_id": id, "transcript_path": t}})
                .to_string(),
        )
        .unwrap();
    }
    // Another writer holds the index longer than the drainer's 10 s wait.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let out = env.cmd("csep-index").arg("--spool").output().unwrap();
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&s["requeued"], &s["items"], &s["failed"]),
        (&json!(2), &json!(0), &json!(0)),
        "{s}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("put back into the queue"));
    let mut waiting: Vec<String> = fs::read_dir(&new)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    waiting.sort();
    assert_eq!(waiting, ["0001.json", "0002.json"]);
    assert_eq!(
        fs::read_dir(env.state().join("spool/archive/failed"))
            .unwrap()
            .count(),
        0
    );
    // The next drainer takes them.
    let out = env.cmd("csep-index").arg("--spool").assert().success();
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(s["done"], 2, "{s}");
    assert!(s.get("requeued").is_none());
}
