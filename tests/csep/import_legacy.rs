//! `csep recall import-legacy` against a database the real csep 1.3.10 wrote
//! (`CSEP_LEGACY_BIN`, see `common::legacy_bin`): its sessions come back after their
//! transcripts are gone, redacted, in their repository; a backfill of the transcripts, before
//! or after, never makes a second copy; a second import changes nothing; a forgotten session
//! stays out; a missing or broken database is an error that changes nothing; `csep setup`
//! offers the import. The transcripts are written here (a Codex rollout in a git repository,
//! a Claude Code session with a tool call).

use crate::common::{self, codex_path, codex_turn, git_repo, write_lines, Env, TS};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

const CODEX_ID: &str = "019a7e11-5c2d-7aa0-9d4e-1e6a2f3b4c5d";
const CLAUDE_UUID: &str = "7d0c2b9e-4f1a-4e3b-8c6d-5a4b3c2d1e0f";
/// Only in the Codex session's user text (1.3.10 keeps it).
const CODEX_NEEDLE: &str = "zanzibarquokka";
/// Only in the Codex session's tool output, which 1.3.10 does not keep: found only once the
/// transcript is indexed.
const CODEX_TOOL_NEEDLE: &str = "marzipanturbine";
/// Only in the Claude Code session's tool output.
const CLAUDE_NEEDLE: &str = "ocelotmarmalade";
/// A GitHub token in the Codex session's user text: 1.3.10 stored it as it was.
const SECRET: &str = "ghp_9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT9uV8w";

/// Where the two transcripts are, and where they go while "deleted".
struct Transcripts {
    codex_root: PathBuf,
    claude_root: PathBuf,
    repo: PathBuf,
}

fn write_transcripts(env: &Env) -> Transcripts {
    let repo = env.path("repo");
    fs::create_dir_all(&repo).unwrap();
    git_repo(&repo);
    let repo = repo.canonicalize().unwrap();
    let codex_root = env.path("home/.codex/sessions");
    let mut lines = vec![
        json!({"timestamp": TS, "type": "session_meta", "payload": {"id": CODEX_ID, "timestamp": TS, "cwd": repo, "originator": "codex_cli_rs", "cli_version": "0.169.0", "source": "cli"}}),
        json!({"timestamp": TS, "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/x</cwd>\n</environment_context>"}]}}),
    ];
    lines.extend(codex_turn(
        &format!("why does the {CODEX_NEEDLE} build fail? my token is {SECRET}"),
        &[(
            "cargo build",
            &format!("error: {CODEX_TOOL_NEEDLE} overheated"),
        )],
        "the build script needed a feature flag",
    ));
    write_lines(&codex_path(&codex_root, CODEX_ID), &lines);

    let claude_root = env.path("home/.claude/projects");
    let cwd = env.path("proj").display().to_string();
    let line = |kind: &str, uuid: &str, parent: Value, message: Value| json!({"type": kind, "uuid": uuid, "parentUuid": parent, "sessionId": CLAUDE_UUID, "cwd": cwd, "timestamp": TS, "message": message});
    let claude = vec![
        line(
            "user",
            "u1",
            Value::Null,
            json!({"role": "user", "content": "list the widgets"}),
        ),
        line(
            "assistant",
            "a1",
            json!("u1"),
            json!({"role": "assistant", "content": [{"type": "text", "text": "listing them"}, {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls widgets"}}]}),
        ),
        line(
            "user",
            "u2",
            json!("a1"),
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": format!("{CLAUDE_NEEDLE}.txt")}]}),
        ),
        line(
            "assistant",
            "a2",
            json!("u2"),
            json!({"role": "assistant", "content": [{"type": "text", "text": "one widget"}]}),
        ),
    ];
    write_lines(
        &claude_root.join(format!("-proj/{CLAUDE_UUID}.jsonl")),
        &claude,
    );
    Transcripts {
        codex_root,
        claude_root,
        repo,
    }
}

/// Runs the real csep 1.3.10 in `env` with the same state dir csep uses; it must succeed.
#[track_caller]
fn legacy(env: &Env, bin: &Path, args: &[&str]) {
    env.command(bin)
        .env("CODEX_SELF_EVOLUTION_HOME", env.state())
        .args(args)
        .assert()
        .success();
}

/// 1.3.10's backfill of both transcript roots: its `session_recall/state.db`.
fn legacy_backfill(env: &Env, bin: &Path, t: &Transcripts) -> PathBuf {
    let codex = t.codex_root.to_str().unwrap();
    let claude = t.claude_root.to_str().unwrap();
    legacy(
        env,
        bin,
        &["recall", "bootstrap", "--all-history", "--root", codex],
    );
    legacy(
        env,
        bin,
        &["recall", "sync-claude", "--all-history", "--root", claude],
    );
    let db = env.state().join("session_recall/state.db");
    assert!(db.is_file(), "csep 1.3.10 wrote no {}", db.display());
    db
}

/// `csep recall import-legacy --format json`, which must succeed: its summary.
#[track_caller]
fn import(env: &Env) -> Value {
    let out = env
        .cmd("csep")
        .args(["recall", "import-legacy", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

/// The session ids a recall of `needle` over every repo finds.
fn found(env: &Env, needle: &str) -> Vec<String> {
    env.recall_json(&["--global", needle])["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["session_id"].as_str().unwrap().to_string())
        .collect()
}

fn status(env: &Env) -> Value {
    let out = env.cmd("csep").arg("status").output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every file of a directory with its bytes and modification time.
fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            (
                p.clone(),
                fs::read(&p).unwrap(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn sessions(env: &Env) -> i64 {
    env.sql_count("SELECT COUNT(*) FROM sessions")
}

fn messages(env: &Env) -> i64 {
    env.sql_count("SELECT COUNT(*) FROM messages")
}

const CLAUDE_ID: &str = concat!("claude:", "7d0c2b9e-4f1a-4e3b-8c6d-5a4b3c2d1e0f");

#[test]
fn a_real_1_3_10_database_is_imported_after_its_transcripts_are_gone_then_superseded_by_them() {
    let Some(bin) = common::legacy_bin() else {
        return;
    };
    let env = Env::new();
    let t = write_transcripts(&env);
    let legacy_db = legacy_backfill(&env, &bin, &t);
    // The hosts deleted the transcripts (Claude Code after 30 days, say).
    let kept = env.path("kept");
    fs::rename(env.path("home"), &kept).unwrap();
    let before = files_of(legacy_db.parent().unwrap());

    let s = import(&env);
    assert_eq!(s["type"], "legacy_import_summary", "{s}");
    assert_eq!(
        (
            &s["legacy_sessions"],
            &s["imported_sessions"],
            &s["with_transcript"]
        ),
        (&json!(2), &json!(2), &json!(0)),
        "{s}"
    );
    assert_eq!(
        s["legacy_db"],
        json!(legacy_db.canonicalize().unwrap()),
        "{s}"
    );
    assert!(s["messages"].as_u64() > Some(3), "{s}");
    assert_eq!(
        files_of(legacy_db.parent().unwrap()),
        before,
        "the 1.3.10 database and its directory are untouched"
    );

    assert_eq!(found(&env, CODEX_NEEDLE), [CODEX_ID]);
    assert_eq!(found(&env, CLAUDE_NEEDLE), [CLAUDE_ID]);
    assert!(
        found(&env, CODEX_TOOL_NEEDLE).is_empty(),
        "1.3.10 kept no Codex tool output"
    );
    // In its repository, as ingest would place it: found without --global from the repo.
    let repo = t.repo.to_str().unwrap();
    let v = env.recall_json(&["--cwd", repo, CODEX_NEEDLE]);
    assert_eq!(common::top_session(&v), CODEX_ID, "{v}");
    let v = env.recall_json(&["--cwd", repo, CLAUDE_NEEDLE]);
    assert_eq!(v["results"].as_array().map(Vec::len), Some(0), "{v}");
    // The token 1.3.10 stored as it was is redacted, in the text and in the file's bytes.
    let secret = SECRET.trim_start_matches("ghp_");
    assert_eq!(
        env.sql_count(&format!(
            "SELECT COUNT(*) FROM messages WHERE text LIKE '%{secret}%'"
        )),
        0
    );
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages WHERE text LIKE '%[REDACTED:github_token]%'"),
        1
    );
    for f in ["recall.sqlite3", "recall.sqlite3-wal"] {
        let bytes = fs::read(env.state().join("index").join(f)).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{f} holds the token"
        );
    }
    // The injected context is background, as the reader flags it.
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages WHERE text LIKE '<environment_context>%' AND flags & 1 = 0"),
        0
    );
    assert_eq!(status(&env)["session_recall"]["imported_session_count"], 2);

    // Idempotent.
    let (n_sessions, n_messages) = (sessions(&env), messages(&env));
    let again = import(&env);
    assert_eq!(
        (
            &again["imported_sessions"],
            &again["unchanged_sessions"],
            &again["messages"]
        ),
        (&json!(0), &json!(2), &json!(0)),
        "{again}"
    );
    assert_eq!((sessions(&env), messages(&env)), (n_sessions, n_messages));

    // The transcripts come back: the backfill replaces the imported messages with theirs.
    fs::rename(&kept, env.path("home")).unwrap();
    env.cmd("csep")
        .args(["recall", "bootstrap", "--all-history"])
        .assert()
        .success();
    env.cmd("csep")
        .args(["recall", "sync-claude", "--all-history"])
        .assert()
        .success();
    assert_eq!(sessions(&env), 2, "no session twice");
    assert_eq!(
        found(&env, CODEX_TOOL_NEEDLE),
        [CODEX_ID],
        "read from the transcript"
    );
    assert_eq!(found(&env, CODEX_NEEDLE), [CODEX_ID]);
    assert_eq!(status(&env)["session_recall"]["imported_session_count"], 0);
    // Exactly what a backfill alone gives: no imported message is left beside the transcript's.
    let fresh = Env::new();
    fresh.backfill("codex", &env.path("home/.codex/sessions"));
    fresh.backfill("claude", &env.path("home/.claude/projects"));
    assert_eq!(messages(&env), messages(&fresh));
    let after = import(&env);
    assert_eq!(
        (&after["imported_sessions"], &after["indexed_sessions"]),
        (&json!(0), &json!(2)),
        "{after}"
    );
    assert_eq!(messages(&env), messages(&fresh));
}

#[test]
fn an_import_after_the_backfill_adds_no_duplicate() {
    let Some(bin) = common::legacy_bin() else {
        return;
    };
    let env = Env::new();
    let t = write_transcripts(&env);
    legacy_backfill(&env, &bin, &t);
    env.backfill("codex", &t.codex_root);
    env.backfill("claude", &t.claude_root);
    let (n_sessions, n_messages) = (sessions(&env), messages(&env));
    let s = import(&env);
    assert_eq!(
        (
            &s["imported_sessions"],
            &s["indexed_sessions"],
            &s["messages"]
        ),
        (&json!(0), &json!(2), &json!(0)),
        "{s}"
    );
    assert_eq!((sessions(&env), messages(&env)), (n_sessions, n_messages));
    assert_eq!(status(&env)["session_recall"]["imported_session_count"], 0);
}

#[test]
fn a_forgotten_session_is_not_imported_and_stays_out() {
    let Some(bin) = common::legacy_bin() else {
        return;
    };
    let env = Env::new();
    let t = write_transcripts(&env);
    legacy_backfill(&env, &bin, &t);
    fs::remove_dir_all(env.path("home")).unwrap();
    // Forgotten before the import (the index knew nothing of it: tombstoned all the same).
    env.cmd("csep")
        .args(["recall", "forget", CODEX_ID])
        .assert()
        .success();
    let s = import(&env);
    assert_eq!(
        (&s["imported_sessions"], &s["forgotten_sessions"]),
        (&json!(1), &json!(1)),
        "{s}"
    );
    assert!(found(&env, CODEX_NEEDLE).is_empty());
    assert_eq!(found(&env, CLAUDE_NEEDLE), [CLAUDE_ID]);
    // Forgotten after it: a second import does not bring it back.
    env.cmd("csep")
        .args(["recall", "forget", CLAUDE_ID])
        .assert()
        .success();
    let s = import(&env);
    assert_eq!(
        (&s["imported_sessions"], &s["forgotten_sessions"]),
        (&json!(0), &json!(2)),
        "{s}"
    );
    assert!(found(&env, CLAUDE_NEEDLE).is_empty());
    assert_eq!(sessions(&env), 0);
}

#[test]
fn setup_says_a_1_3_10_database_is_there_and_imports_it_when_asked() {
    let Some(bin) = common::legacy_bin() else {
        return;
    };
    let env = Env::new();
    let t = write_transcripts(&env);
    let legacy_db = legacy_backfill(&env, &bin, &t);
    fs::remove_dir_all(env.path("home")).unwrap();
    let setup = |args: &[&str]| {
        let out = env
            .cmd("csep")
            .args(["setup", "--no-codex", "--no-claude"])
            .args(args)
            .assert()
            .success()
            .get_output()
            .clone();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, String::from_utf8(out.stderr).unwrap())
    };
    let (v, stderr) = setup(&[]);
    assert_eq!(v["legacy"]["db_path"], json!(legacy_db), "{v}");
    assert_eq!(v["legacy"]["sessions"], 2, "{v}");
    assert_eq!(v["legacy"]["command"], "csep recall import-legacy", "{v}");
    assert_eq!(v["legacy"]["imported"], Value::Null, "{v}");
    assert!(
        stderr.contains("found csep 1.3.10's recall database")
            && stderr.contains("`csep recall import-legacy`"),
        "{stderr}"
    );
    assert!(
        !env.db().exists() || sessions(&env) == 0,
        "setup imported nothing"
    );
    let (v, _) = setup(&["--import-legacy"]);
    assert_eq!(
        v["legacy"]["imported"]["type"], "legacy_import_summary",
        "{v}"
    );
    assert_eq!(v["legacy"]["imported"]["imported_sessions"], 2, "{v}");
    assert_eq!(found(&env, CODEX_NEEDLE), [CODEX_ID]);
    // Given a state dir, the command names it.
    let (v, _) = setup(&["--state-dir", env.state().to_str().unwrap()]);
    assert_eq!(
        v["legacy"]["command"],
        format!(
            "csep recall import-legacy --state-dir {}",
            env.state().display()
        ),
        "{v}"
    );
}

/// A missing database, one that is not SQLite, and a SQLite file that is not 1.3.10's: each
/// exits 2 with a message naming the file, and the index is left as it was (or not made).
#[test]
fn a_missing_or_broken_database_is_a_clear_error_that_changes_nothing() {
    let env = Env::new();
    let out = env
        .cmd("csep")
        .args(["recall", "import-legacy"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("session_recall/state.db: no csep 1.3.10 database here"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(!env.state().join("index").exists(), "no index was made");

    // With an index in place: it stays byte for byte.
    let root = env.path("home/.codex/sessions");
    write_lines(
        &codex_path(&root, CODEX_ID),
        &common::codex_rollout(CODEX_ID, "/w", "hello there", "ok", "done"),
    );
    env.backfill("codex", &root);
    let index_files = files_of(&env.state().join("index"));
    let garbage = env.path("garbage.db");
    fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let not_legacy = env.path("other.db");
    rusqlite::Connection::open(&not_legacy)
        .unwrap()
        .execute_batch("CREATE TABLE sessions (id INTEGER);")
        .unwrap();
    for (db, says) in [
        (&garbage, "not a SQLite database"),
        (&not_legacy, "no such column"),
    ] {
        for tool in [["csep", "recall"], ["csep-index", ""]] {
            let mut c = env.cmd(tool[0]);
            if tool[1].is_empty() {
                c.arg("--import-legacy").arg(db);
            } else {
                c.args([tool[1], "import-legacy", "--db"]).arg(db);
            }
            let out = c.assert().code(2).get_output().clone();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&format!(
                    "{}: cannot be read as a csep 1.3.10 database: ",
                    db.display()
                )) && stderr.contains(says),
                "{stderr}"
            );
            assert!(
                !stderr.contains("rebuild"),
                "not the index's damage: {stderr}"
            );
        }
        assert_eq!(files_of(&env.state().join("index")), index_files);
    }
    // `--db` only goes with the import.
    env.cmd("csep")
        .args(["recall", "--db", "x.db", "needle"])
        .assert()
        .code(2);
}

/// A rebuild (a new index from the transcripts) imports the 1.3.10 history again, since no
/// transcript holds it; a session forgotten since stays out. A database shaped like 1.3.10's,
/// so this runs without the real one.
#[test]
fn a_rebuild_imports_the_1_3_10_history_again() {
    let env = Env::new();
    let legacy_db = env.state().join("session_recall/state.db");
    common::write_legacy_db(
        &legacy_db,
        &[
            ("019b-0001", "/w", &[("user", "the wombatlantern question")]),
            ("019b-0002", "/w", &[("user", "the gravelpelican question")]),
        ],
    );
    assert_eq!(import(&env)["imported_sessions"], 2);
    env.cmd("csep")
        .args(["recall", "forget", "019b-0002"])
        .assert()
        .success();
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (&r["legacy_imported"], &r["sessions"]),
        (&json!(1), &json!(1)),
        "{r}"
    );
    assert_eq!(found(&env, "wombatlantern"), ["019b-0001"]);
    assert!(found(&env, "gravelpelican").is_empty());
    // Gone since: the rebuild says so and still rebuilds.
    fs::remove_file(&legacy_db).unwrap();
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&r["legacy_imported"], &r["error_count"]),
        (&json!(0), &json!(1)),
        "{r}"
    );
}
