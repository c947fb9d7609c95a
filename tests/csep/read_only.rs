//! Recall where csep's state dir is read-only to it, as inside Codex's `read-only` and
//! `workspace-write` sandboxes or Claude Code's: `csep-recall`, `csep recall` and `csep
//! status` answer from the index without creating or changing a file, whether the index's
//! `-wal`/`-shm` are there or not, while a writer holds the log open or has died with it full,
//! while a writer commits outside, and on an older schema nobody can migrate there.
//!
//! "Read-only" is a real read-only bind mount in a private mount namespace
//! ([`common::read_only_command`]): the tests run as root in CI, and root ignores file modes.

use crate::common;

use common::{changed_paths, codex_path, codex_rollout, disk_state, write_lines, Env};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// Writes a one-turn Codex session whose tool output holds `needle` and indexes it.
fn index_session(env: &Env, id: &str, needle: &str) -> PathBuf {
    let path = codex_path(&env.path("codex"), id);
    write_lines(
        &path,
        &codex_rollout(
            id,
            "/w/app",
            "run the tests",
            &format!("error: {needle} failed"),
            "fixed",
        ),
    );
    env.cmd("csep-index")
        .arg("--file")
        .arg(&path)
        .assert()
        .success();
    path
}

/// `csep-recall NEEDLE --global --format json` with the state dir read-only: its exit code,
/// answer and stderr.
fn recall_read_only(env: &Env, state: &Path, needle: &str) -> (Option<i32>, Value, String) {
    let out = env
        .cmd_read_only(state, "csep-recall")
        .args([needle, "--global", "--format", "json", "--state-dir"])
        .arg(state)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn assert_found(env: &Env, state: &Path, needle: &str, session: &str) {
    let (code, v, stderr) = recall_read_only(env, state, needle);
    assert_eq!(
        code,
        Some(0),
        "recall {needle} on a read-only {state:?}: {stderr} {v}"
    );
    assert_eq!(v["results"][0]["session_id"], session, "{v}");
    assert_eq!(stderr, "", "nothing to say when the log cannot be written");
}

fn side_files(db: &Path) -> [PathBuf; 2] {
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    ["-wal", "-shm"].map(|s| db.with_file_name(format!("{name}{s}")))
}

#[test]
fn the_read_only_wrapper_really_makes_the_dir_read_only() {
    let env = Env::new();
    fs::create_dir_all(env.state()).unwrap();
    let out = env
        .command("unshare")
        .args(common::read_only_command(&env.state(), Path::new("touch")))
        .arg(env.state().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    assert!(!env.state().join("x").exists());
}

#[test]
fn recall_and_status_work_on_a_read_only_state_dir_with_or_without_side_files() {
    let env = Env::new();
    let state = env.state();
    // Nothing indexed yet: no match, not an error.
    fs::create_dir_all(&state).unwrap();
    let (code, v, stderr) = recall_read_only(&env, &state, "quince");
    assert_eq!(
        (code, v["status"].as_str()),
        (Some(1), Some("no_index")),
        "{stderr}"
    );

    index_session(
        &env,
        "11111111-0000-4000-8000-000000000001",
        "quince-ro-needle",
    );
    // The writer left the log and its index in place (persistent WAL), the log empty.
    let [wal, shm] = side_files(&env.db());
    assert!(
        wal.exists() && shm.exists(),
        "a closed writer keeps -wal and -shm"
    );
    assert_eq!(
        fs::metadata(&wal).unwrap().len(),
        0,
        "and truncates the log"
    );

    let before = disk_state(&state);
    assert_found(
        &env,
        &state,
        "quince-ro-needle",
        "11111111-0000-4000-8000-000000000001",
    );
    // The umbrella's recall and status too.
    env.cmd_read_only(&state, "csep")
        .args(["recall", "quince-ro-needle", "--global"])
        .assert()
        .success()
        .stdout(predicates::str::contains("quince-ro-needle"))
        .stderr("");
    let out = env
        .cmd_read_only(&state, "csep")
        .arg("status")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let st: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(st["session_recall"]["session_count"], 1, "{st}");
    assert!(st["session_recall"]["error"].is_null(), "{st}");
    assert_eq!(
        changed_paths(&before, &disk_state(&state)),
        Vec::<PathBuf>::new()
    );

    // An index last closed by a writer that deleted its side files (csep before this
    // change): recall opens it immutable.
    fs::remove_file(&wal).unwrap();
    fs::remove_file(&shm).unwrap();
    assert_found(
        &env,
        &state,
        "quince-ro-needle",
        "11111111-0000-4000-8000-000000000001",
    );
    assert!(!wal.exists() && !shm.exists());
}

#[test]
fn recall_reads_a_full_log_of_a_live_writer_and_of_a_dead_one() {
    let env = Env::new();
    let state = env.state();
    index_session(
        &env,
        "22222222-0000-4000-8000-000000000001",
        "medlar-in-main-file",
    );
    // A connection held open keeps the next writer from checkpointing on close: the second
    // session is only in the log.
    let holder = rusqlite::Connection::open(env.db()).unwrap();
    let _: i64 = holder
        .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    index_session(
        &env,
        "22222222-0000-4000-8000-000000000002",
        "medlar-in-log-only",
    );
    let [wal, shm] = side_files(&env.db());
    assert!(
        fs::metadata(&wal).unwrap().len() > 0,
        "the second session is in the log"
    );

    // A live writer holds the WAL index: the reader maps it read-only.
    assert_found(
        &env,
        &state,
        "medlar-in-log-only",
        "22222222-0000-4000-8000-000000000002",
    );

    // The same files with nobody holding them (a writer that died): SQLite rebuilds the WAL
    // index from the log in private memory.
    let copy = env.path("copy");
    fs::create_dir_all(copy.join("index")).unwrap();
    for f in [env.db(), wal.clone(), shm.clone()] {
        fs::copy(&f, copy.join("index").join(f.file_name().unwrap())).unwrap();
    }
    drop(holder);
    assert_found(
        &env,
        &copy,
        "medlar-in-log-only",
        "22222222-0000-4000-8000-000000000002",
    );
    assert_found(
        &env,
        &copy,
        "medlar-in-main-file",
        "22222222-0000-4000-8000-000000000001",
    );

    // A full log without its index, which cannot be made: what the main file holds (the
    // database as of its last checkpoint) is still found.
    fs::remove_file(copy.join("index/recall.sqlite3-shm")).unwrap();
    assert_found(
        &env,
        &copy,
        "medlar-in-main-file",
        "22222222-0000-4000-8000-000000000001",
    );
}

#[test]
fn recall_stays_correct_while_a_writer_commits_outside_the_sandbox() {
    let env = Env::new();
    let state = env.state();
    index_session(&env, "33333333-0000-4000-8000-000000000000", "loquat-first");
    // Start as an index last written by an older csep (no side files): the first reads are
    // immutable, until the writer below creates the log.
    for f in side_files(&env.db()) {
        fs::remove_file(f).unwrap();
    }
    let rollouts: Vec<PathBuf> = (1..=30)
        .map(|n| {
            let id = format!("33333333-0000-4000-8000-{n:012}");
            let path = codex_path(&env.path("codex"), &id);
            write_lines(
                &path,
                &codex_rollout(
                    &id,
                    "/w/app",
                    "again",
                    &format!("loquat-{n} {}", "x ".repeat(4000)),
                    "ok",
                ),
            );
            path
        })
        .collect();
    let mut writer = std::process::Command::new("sh");
    writer
        .arg("-c")
        .arg(r#"bin=$1; shift; for f in "$@"; do "$bin" --file "$f" >/dev/null || exit 1; done"#)
        .arg("sh")
        .arg(assert_cmd::cargo::cargo_bin("csep-index"))
        .args(&rollouts)
        .env("CSEP_HOME", &state);
    let mut writer = writer.spawn().unwrap();
    let mut seen = 0u64;
    let mut rounds = 0;
    loop {
        let done = writer.try_wait().unwrap();
        let out = env
            .cmd_read_only(&state, "csep-recall")
            .args(["--recent", "--global", "--limit", "100", "--format", "json"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(out.status.code(), Some(0), "round {rounds}: {out:?}");
        let n = v["results"].as_array().map_or(0, |r| r.len()) as u64;
        assert!(
            n >= seen.max(1),
            "round {rounds}: {n} sessions after {seen}: {v}"
        );
        seen = n;
        rounds += 1;
        if let Some(status) = done {
            assert!(status.success());
            break;
        }
    }
    assert_eq!(
        seen, 31,
        "the last read, after the writer ended, sees every session"
    );
    assert_found(
        &env,
        &state,
        "loquat-30",
        "33333333-0000-4000-8000-000000000030",
    );
}

#[test]
fn an_older_schema_is_read_as_it_is_where_it_cannot_be_migrated() {
    let env = Env::new();
    let state = env.state();
    index_session(
        &env,
        "44444444-0000-4000-8000-000000000001",
        "sapote-old-schema",
    );
    // Schema 2: before tombstones (3), the meta table (4) and the middles' index (5).
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch(
        "DROP TABLE forgotten; DROP TABLE forgotten_paths; DROP TABLE meta; DROP TABLE fts_middle;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    assert_found(
        &env,
        &state,
        "sapote-old-schema",
        "44444444-0000-4000-8000-000000000001",
    );
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 2, "nothing was migrated");
    drop(conn);
    // Where it can write, recall brings the schema up to date as before.
    env.cmd("csep-recall")
        .args(["sapote-old-schema", "--global"])
        .assert()
        .success();
    assert!(env.sql_count("PRAGMA user_version") > 2);
}
