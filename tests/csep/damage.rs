//! Black-box tests of a damaged recall index: a truncated file, garbage, and broken pages
//! under a valid header. Every command that opens the index names the file and `csep recall
//! rebuild` and exits 2, and no writer writes into it; `csep status` reports it and keeps
//! reporting the rest. `csep recall rebuild` / `csep-index --rebuild` moves it aside (kept
//! byte-identical), re-indexes every session from the transcript roots, drains the queue,
//! and keeps forgotten sessions forgotten; so do a deleted index, a restored old copy and an
//! install whose tombstones predate `forgotten.jsonl`.

use crate::common;

use common::{codex_path, codex_rollout, walk, write_lines, Env};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// Three Codex sessions under the default Codex root (`$CODEX_HOME/sessions`), each with its
/// own needle, backfilled. Returns (session id, needle, rollout path) for each.
fn indexed(env: &Env) -> Vec<(String, String, PathBuf)> {
    let root = env.path("home/.codex/sessions");
    let sessions: Vec<(String, String, PathBuf)> = (1..=3)
        .map(|n| {
            let id = format!("019a0000-0000-7000-8000-00000000000{n}");
            let needle = format!("zqdamage{n}needle");
            let path = codex_path(&root, &id);
            write_lines(
                &path,
                &codex_rollout(
                    &id,
                    "/nonexistent/repo",
                    &format!("why does {needle} fail"),
                    "test result: ok",
                    "fixed it",
                ),
            );
            (id, needle, path)
        })
        .collect();
    env.backfill("codex", &root);
    for (_, needle, _) in &sessions {
        assert_eq!(found(env, needle), 1, "{needle} before any damage");
    }
    sessions
}

/// Sessions a global recall of `needle` finds.
fn found(env: &Env, needle: &str) -> u64 {
    env.recall_json(&["--global", "--limit", "10", "--", needle])["count"]
        .as_u64()
        .unwrap()
}

fn truncate(db: &Path) {
    let b = fs::read(db).unwrap();
    fs::write(db, &b[..b.len() / 2]).unwrap();
}

fn garbage(db: &Path) {
    let len = fs::metadata(db).unwrap().len() as usize;
    fs::write(db, vec![0x5a; len]).unwrap();
}

/// Overwrites every third page after the first with garbage: the header stays valid.
fn break_pages(db: &Path) {
    let mut b = fs::read(db).unwrap();
    let page = u16::from_be_bytes([b[16], b[17]]) as usize;
    let pages = b.len() / page;
    assert!(pages > 4, "a test index of {pages} pages is too small");
    for p in (2..pages).step_by(3) {
        b[p * page..(p + 1) * page].fill(0x5a);
    }
    fs::write(db, &b).unwrap();
}

/// Queues a Stop payload for `transcript`, as the hook does.
fn queue(env: &Env, name: &str, transcript: &Path) -> PathBuf {
    let new = env.archive_queue().join("new");
    fs::create_dir_all(&new).unwrap();
    let p = new.join(name);
    fs::write(
        &p,
        json!({"agent": "codex", "payload": {"transcript_path": transcript}}).to_string(),
    )
    .unwrap();
    p
}

/// Runs `bin args…` with `stdin`; asserts exit 2 and that stderr names the index file and
/// the fix.
#[track_caller]
fn refused(env: &Env, bin: &str, args: &[&str], stdin: &str) -> String {
    let out = env.cmd(bin).args(args).write_stdin(stdin).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {stderr}");
    let db = env.db().display().to_string();
    assert!(
        stderr.contains(&format!("{db}: the recall index is damaged")),
        "{bin} {args:?} does not name {db}: {stderr}"
    );
    assert!(
        stderr.contains("csep recall rebuild"),
        "{bin} {args:?}: {stderr}"
    );
    stderr
}

fn status(env: &Env) -> Value {
    let out = env.cmd("csep").arg("status").assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// Every command that opens the index, against a damaged one.
fn every_command_names_the_file_and_the_fix(env: &Env, sessions: &[(String, String, PathBuf)]) {
    let db = env.db();
    let before = fs::read(&db).unwrap();
    let (id, needle, rollout) = &sessions[0];
    let rollout = rollout.to_str().unwrap();
    let payload = queue(env, "1.json", Path::new(rollout));
    refused(env, "csep-recall", &["--global", needle], "");
    refused(env, "csep", &["recall", "--global", needle], "");
    refused(env, "csep-index", &["--file", rollout], "");
    refused(env, "csep-index", &["--spool"], "");
    refused(env, "csep", &["drain"], "");
    refused(env, "csep", &["recall", "forget", id], "");
    refused(env, "csep-index", &["--list-forgotten"], "");
    let stop = json!({"hook_event_name": "Stop", "session_id": id, "transcript_path": rollout, "cwd": "/nonexistent/repo"});
    refused(
        env,
        "csep-trigger",
        &["--agent", "codex"],
        &stop.to_string(),
    );
    // The payload stays queued for after the rebuild: not consumed, not in failed/.
    assert!(payload.is_file(), "the queued payload was consumed");
    assert!(walk(&env.archive_queue().join("failed")).is_empty());
    // Status reports it, and the rest still.
    let s = status(env);
    assert!(s["session_recall"]["damage"].is_string(), "{s}");
    let db_text = db.display().to_string();
    assert!(
        s["warnings"].as_array().unwrap().iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains(&db_text) && w.contains("csep recall rebuild")
        }),
        "{}",
        s["warnings"]
    );
    assert!(s["queues"].is_object() || s["spool"].is_object(), "{s}");
    assert_eq!(fs::read(&db).unwrap(), before, "something wrote into it");
}

#[test]
fn a_truncated_index_is_named_and_left_alone_by_every_command() {
    let env = Env::new();
    let sessions = indexed(&env);
    truncate(&env.db());
    every_command_names_the_file_and_the_fix(&env, &sessions);
}

#[test]
fn a_garbage_index_is_named_and_left_alone_by_every_command() {
    let env = Env::new();
    let sessions = indexed(&env);
    garbage(&env.db());
    every_command_names_the_file_and_the_fix(&env, &sessions);
}

#[test]
fn broken_pages_under_a_valid_header_make_writers_refuse_until_rebuilt() {
    let env = Env::new();
    let sessions = indexed(&env);
    let db = env.db();
    break_pages(&db);
    let before = fs::read(&db).unwrap();
    let rollout = sessions[1].2.to_str().unwrap().to_string();
    refused(&env, "csep-index", &["--file", &rollout], "");
    // Found once; from then on every writer refuses without looking again.
    let marker = env.state().join("index/recall.sqlite3.damaged");
    assert!(marker.is_file());
    // The drainer opens the index only when it has work.
    queue(&env, "1.json", &sessions[1].2);
    let stderr = refused(&env, "csep-index", &["--spool"], "");
    assert!(stderr.contains("found by an earlier run"), "{stderr}");
    assert_eq!(fs::read(&db).unwrap(), before, "something wrote into it");

    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .success();
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(s["was_damaged"], true, "{s}");
    let aside = PathBuf::from(s["moved_aside"].as_str().unwrap());
    assert!(aside.join("recall.sqlite3.damaged").is_file(), "{s}");
    assert!(!marker.exists());
    for (_, needle, _) in &sessions {
        assert_eq!(found(&env, needle), 1, "{needle} after the rebuild");
    }
}

#[test]
fn rebuild_moves_the_damaged_index_aside_and_reindexes_every_session() {
    let env = Env::new();
    let sessions = indexed(&env);
    // A session outside every root, indexed with --file, and one only queued: both come back.
    let elsewhere = env.path("elsewhere/rollout.jsonl");
    let id4 = "019a0000-0000-7000-8000-000000000004";
    write_lines(
        &elsewhere,
        &codex_rollout(id4, "/nonexistent/repo", "zqelsewhereneedle", "ok", "done"),
    );
    env.cmd("csep-index")
        .args(["--file"])
        .arg(&elsewhere)
        .assert()
        .success();
    let queued = env.path("queued/rollout.jsonl");
    let id5 = "019a0000-0000-7000-8000-000000000005";
    write_lines(
        &queued,
        &codex_rollout(id5, "/nonexistent/repo", "zqqueuedneedle", "ok", "done"),
    );
    // The --file session is only read back when the old index can still name it; a truncated
    // one cannot, so this rebuild is of a healthy index first.
    let out = env.cmd("csep-index").arg("--rebuild").assert().success();
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(s["type"], "rebuild_summary");
    assert_eq!(s["was_damaged"], false, "{s}");
    assert_eq!(s["other_files"], 1, "{s}");
    assert_eq!(s["sessions"], 4, "{s}");
    assert!(s["moved_aside"]
        .as_str()
        .unwrap()
        .contains("/index/replaced-"));
    assert_eq!(found(&env, "zqelsewhereneedle"), 1);

    truncate(&env.db());
    let damaged = fs::read(env.db()).unwrap();
    queue(&env, "5.json", &queued);
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(s["was_damaged"], true, "{s}");
    assert!(s["damage"].as_str().unwrap().contains("truncated"), "{s}");
    let aside = PathBuf::from(s["moved_aside"].as_str().unwrap());
    assert!(aside.starts_with(env.state().join("index")), "{s}");
    assert!(aside
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("damaged-"));
    assert_eq!(
        fs::read(aside.join("recall.sqlite3")).unwrap(),
        damaged,
        "the damaged file is kept byte-identical"
    );
    assert!(stderr.contains(&aside.display().to_string()), "{stderr}");
    assert_eq!(s["drained"], 1, "{s}");
    assert!(walk(&env.archive_queue().join("new")).is_empty());
    for (_, needle, _) in &sessions {
        assert_eq!(found(&env, needle), 1, "{needle} after the rebuild");
    }
    assert_eq!(found(&env, "zqqueuedneedle"), 1);
    let s = status(&env);
    assert!(s["session_recall"]["damage"].is_null(), "{s}");
    assert_eq!(s["session_recall"]["session_count"], 4, "{s}");
}

#[test]
fn a_missing_index_is_rebuilt_from_the_roots() {
    let env = Env::new();
    let sessions = indexed(&env);
    for f in walk(&env.state().join("index")) {
        if f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("recall.sqlite3")
        {
            fs::remove_file(f).unwrap();
        }
    }
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .success();
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(s["moved_aside"].is_null(), "{s}");
    assert_eq!(s["sessions"], 3, "{s}");
    assert_eq!(found(&env, &sessions[2].1), 1);
}

#[test]
fn rebuild_keeps_a_forgotten_session_forgotten() {
    let env = Env::new();
    let sessions = indexed(&env);
    let (id, needle, _) = &sessions[0];
    env.cmd("csep")
        .args(["recall", "forget", id])
        .assert()
        .success();
    assert_eq!(found(&env, needle), 0);
    garbage(&env.db());
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .success();
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(s["forgotten"], 1, "{s}");
    assert_eq!(s["sessions"], 2, "{s}");
    assert_eq!(found(&env, needle), 0, "the rebuild brought it back");
    assert_eq!(found(&env, &sessions[1].1), 1);
    // What the rebuild keeps outside the index is private, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let index = env.state().join("index");
    assert_eq!(mode(&index.join("forgotten.jsonl")), 0o600);
    assert_eq!(mode(&index.join("roots.jsonl")), 0o600);
    assert_eq!(mode(Path::new(s["moved_aside"].as_str().unwrap())), 0o700);
}

#[test]
fn a_deleted_index_and_a_backfill_keep_a_forgotten_session_forgotten() {
    let env = Env::new();
    let sessions = indexed(&env);
    let (id, needle, _) = &sessions[1];
    env.cmd("csep-index")
        .args(["--forget", id])
        .assert()
        .success();
    for f in walk(&env.state().join("index")) {
        if f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("recall.sqlite3")
        {
            fs::remove_file(f).unwrap();
        }
    }
    let s = env.backfill("codex", &env.path("home/.codex/sessions"));
    assert_eq!(s["forgotten_sessions"], 1, "{s}");
    assert_eq!(found(&env, needle), 0, "the backfill brought it back");
    let out = env
        .cmd("csep-index")
        .arg("--list-forgotten")
        .assert()
        .success();
    let l: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(l["tombstones"][0]["session_id"], id.as_str(), "{l}");
}

#[test]
fn a_restored_old_index_loses_the_sessions_forgotten_since() {
    let env = Env::new();
    let sessions = indexed(&env);
    let backup = env.path("backup.sqlite3");
    fs::copy(env.db(), &backup).unwrap();
    let (id, needle, _) = &sessions[2];
    env.cmd("csep")
        .args(["recall", "forget", id])
        .assert()
        .success();
    for f in walk(&env.state().join("index")) {
        if f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("recall.sqlite3")
        {
            fs::remove_file(f).unwrap();
        }
    }
    fs::copy(&backup, env.db()).unwrap();
    // Any writer's open applies the tombstone file to the restored copy (the drainer opens
    // the index only when it has work, so a `--file` run is the writer here).
    env.cmd("csep-index")
        .arg("--file")
        .arg(&sessions[0].2)
        .assert()
        .success();
    assert_eq!(found(&env, needle), 0, "the restored copy brought it back");
    assert_eq!(found(&env, &sessions[0].1), 1);
}

#[test]
fn an_existing_install_exports_its_tombstones_on_the_next_write() {
    let env = Env::new();
    let sessions = indexed(&env);
    let (id, needle, _) = &sessions[0];
    env.cmd("csep")
        .args(["recall", "forget", id])
        .assert()
        .success();
    // An install from before the tombstone file: it has only the index's tables.
    let file = env.state().join("index/forgotten.jsonl");
    assert!(fs::read_to_string(&file).unwrap().contains(id.as_str()));
    fs::remove_file(&file).unwrap();
    env.cmd("csep-index")
        .arg("--file")
        .arg(&sessions[1].2)
        .assert()
        .success();
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains(id.as_str()), "{text}");
    assert!(
        !text.contains(needle.as_str()),
        "a tombstone holds no message text"
    );
    garbage(&env.db());
    env.cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .success();
    assert_eq!(found(&env, needle), 0, "the rebuild brought it back");
}

#[test]
fn rebuild_while_a_drainer_holds_the_queue_is_busy_and_changes_nothing() {
    let env = Env::new();
    indexed(&env);
    let before = fs::read(env.db()).unwrap();
    let lock = env.lock_archive_queue();
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("retry"));
    drop(lock);
    assert_eq!(fs::read(env.db()).unwrap(), before);
    let aside: Vec<_> = fs::read_dir(env.state().join("index"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(aside.is_empty(), "nothing is moved aside");
}

#[test]
fn a_forget_after_a_rebuild_names_the_old_index_that_still_holds_the_session() {
    let env = Env::new();
    let sessions = indexed(&env);
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .assert()
        .success();
    let s: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let aside = s["moved_aside"].as_str().unwrap().to_string();
    let out = env
        .cmd("csep")
        .args(["recall", "forget", &sessions[0].0])
        .assert()
        .success();
    let r: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let copies = r["other_copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{r}");
    assert_eq!(copies[0]["kind"], "old_index");
    assert_eq!(copies[0]["path"], aside.as_str());
    assert!(copies[0].get("job_id").is_none(), "{r}");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&aside), "{stderr}");
    // The old copy is left as it was: reported, not deleted.
    assert!(Path::new(&aside).join("recall.sqlite3").is_file());
}
