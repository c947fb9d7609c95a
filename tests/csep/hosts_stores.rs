//! The hosts that keep many sessions in one store (OpenCode's `opencode.db` and `storage/`,
//! Copilot CLI's `session-store.db`, Aider's `.aider.chat.history.md`, Cursor's
//! `chats/*/store.db`), read from the host fixtures in `../shared/fixtures/hosts/` on temp
//! copies: every store indexes without an error, a user line and a tool output are found
//! first, a second backfill reads only what is new, and a store another process holds open
//! (WAL, a write transaction pending) is read without being changed or blocking it.

use crate::common::{self, copy_dir, Env};
use predicates::prelude::*;
use serde_json::Value;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `hosts/<host>` of the shared fixtures, or `None` (the test is skipped) without them.
fn hosts(host: &str) -> Option<PathBuf> {
    Some(common::shared_fixtures()?.join("hosts").join(host))
}

/// A writable copy of `from` (the fixtures are read-only) at `env`'s `rel`.
fn copy(env: &Env, from: &Path, rel: &str) -> PathBuf {
    let to = env.path(rel);
    if from.is_dir() {
        copy_dir(from, &to);
    } else {
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(from, &to).unwrap();
    }
    writable(&to);
    to
}

fn writable(p: &Path) {
    let dir = p.is_dir();
    let mode = if dir { 0o755 } else { 0o644 };
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    if dir {
        for e in fs::read_dir(p).unwrap().flatten() {
            writable(&e.path());
        }
    }
}

/// OpenCode's peer fixture is SQL text: the database it builds.
fn opencode_sql_db(env: &Env, sql: &Path) -> PathBuf {
    let dir = env.path("peer-oc");
    fs::create_dir_all(&dir).unwrap();
    let db = dir.join("opencode.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&fs::read_to_string(sql).unwrap())
        .unwrap();
    db
}

fn n(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {v}"))
}

/// What a run did to the sessions it read.
const SESSIONS: [&str; 4] = [
    "messages",
    "new_sessions",
    "updated_sessions",
    "unchanged_sessions",
];

/// The summary's `fields`, in order: one assertion says how a run went.
fn counts<const N: usize>(v: &Value, fields: [&str; N]) -> [u64; N] {
    fields.map(|f| n(v, f))
}

fn append(file: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(bytes).unwrap();
}

#[track_caller]
fn assert_clean(v: &Value, what: &str) {
    assert_eq!(n(v, "error_count"), 0, "{what}: {v}");
}

#[track_caller]
fn assert_read(v: &Value, what: &str) {
    assert_clean(v, what);
    assert!(n(v, "new_sessions") > 0, "{what}: {v}");
    assert!(n(v, "messages") > 0, "{what}: {v}");
}

/// The anchor of the first result of `csep-recall --global --agent AGENT QUERY`: its role,
/// its text, and the session's source.
fn top(env: &Env, agent: &str, query: &str) -> (String, String, String) {
    let v = env.recall_json(&["--global", "--agent", agent, query]);
    let r = &v["results"][0];
    let w = &r["windows"][0];
    let anchor = w["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["anchor"] == true))
        .unwrap_or_else(|| panic!("no result for {query:?}: {v}"));
    (
        anchor["role"].as_str().unwrap_or_default().to_string(),
        // Without the match's highlight.
        anchor["content"]
            .as_str()
            .unwrap_or_default()
            .replace(">>>", "")
            .replace("<<<", ""),
        r["source"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn every_store_fixture_indexes_without_an_error() {
    let (Some(oc), Some(aider), Some(cursor), Some(copilot)) = (
        hosts("opencode"),
        hosts("aider"),
        hosts("cursor"),
        hosts("copilot"),
    ) else {
        return;
    };
    let env = Env::new();
    let v = env.backfill("opencode", &copy(&env, &oc.join("generated"), "oc-gen"));
    assert_read(&v, "opencode generated");
    let peers = copy(&env, &oc.join("peers"), "oc-peers");
    let v = env.backfill("opencode", &peers);
    assert_read(&v, "opencode storage/");
    let db = opencode_sql_db(&env, &oc.join("peers/opencode.sql"));
    let v = env.backfill("opencode", db.parent().unwrap());
    assert_read(&v, "opencode peer SQL");
    for kind in ["generated", "real", "peers"] {
        let v = env.backfill(
            "aider",
            &copy(&env, &aider.join(kind), &format!("aider-{kind}")),
        );
        assert_read(&v, &format!("aider {kind}"));
    }
    // The peer store.db holds its meta only: nothing of it is a session of its own.
    let v = env.backfill("cursor", &copy(&env, &cursor.join("peers/chats"), "cursor"));
    assert_clean(&v, "cursor store.db");
    // Copilot's store alone, its event logs gone: its sessions come from the store.
    let home = env.path("copilot-home");
    fs::create_dir_all(&home).unwrap();
    copy(
        &env,
        &copilot.join("generated/session-store.db"),
        "copilot-home/session-store.db",
    );
    let v = env.backfill("copilot", &home);
    assert_read(&v, "copilot session-store.db");
    assert_eq!(n(&v, "new_sessions"), 2, "{v}");
    // With the event logs beside it, the store stands in for none of its sessions.
    let full = copy(&env, &copilot.join("generated"), "copilot-full");
    let v = env.backfill("copilot", &full);
    assert_clean(&v, "copilot with its event logs");
    let prefix = format!(
        "{}/session-store.db#%",
        full.canonicalize().unwrap().display()
    );
    let sql = format!("SELECT COUNT(*) FROM sources WHERE path LIKE '{prefix}'");
    assert_eq!(env.sql_count(&sql), 0, "{v}");
    for agent in ["opencode", "aider", "copilot"] {
        let sql = format!("SELECT COUNT(*) FROM sessions WHERE agent = '{agent}'");
        assert!(env.sql_count(&sql) > 0, "{agent}");
    }
}

#[test]
fn a_user_line_and_a_tool_output_are_found_first() {
    let (Some(oc), Some(aider), Some(copilot)) =
        (hosts("opencode"), hosts("aider"), hosts("copilot"))
    else {
        return;
    };
    let env = Env::new();
    env.backfill("opencode", &copy(&env, &oc.join("generated"), "oc"));
    env.backfill("aider", &copy(&env, &aider.join("real"), "aider"));
    let home = env.path("copilot");
    fs::create_dir_all(&home).unwrap();
    copy(
        &env,
        &copilot.join("generated/session-store.db"),
        "copilot/session-store.db",
    );
    env.backfill("copilot", &home);

    let (role, text, source) = top(&env, "opencode", "Show me does-not-exist.txt");
    assert_eq!(
        (role.as_str(), text.as_str()),
        ("user", "Show me does-not-exist.txt")
    );
    assert!(source.contains("opencode.db#ses_"), "{source}");
    let (role, text, _) = top(&env, "opencode", "No such file or directory");
    assert_eq!(role, "tool");
    assert!(text.starts_with("Exit code: 1"), "{text}");

    let (role, text, source) = top(&env, "aider", "GraphQL API curl requests");
    assert_eq!(role, "user");
    assert!(text.contains("I want to check for these metrics"), "{text}");
    assert!(source.ends_with(".aider.chat.history.md#1"), "{source}");
    let (role, text, _) = top(&env, "aider", "Applied edit to metrics_check.sh");
    assert_eq!(role, "tool");
    assert!(text.contains("Applied edit to metrics_check.sh"), "{text}");

    let (role, text, source) = top(&env, "copilot", "contents of does-not-exist.txt");
    assert_eq!(role, "user");
    assert_eq!(text, "Now show me the contents of does-not-exist.txt");
    assert!(source.ends_with("session-store.db#ca6f70a3-86ed-4e9c-8b09-55fe748af656"));
}

#[test]
fn opencode_a_second_backfill_reads_only_the_new_part() {
    let Some(oc) = hosts("opencode") else { return };
    let env = Env::new();
    let dir = copy(&env, &oc.join("generated"), "oc");
    let first = env.backfill("opencode", &dir);
    assert_read(&first, "first");
    let before = env.sql_count("SELECT COUNT(*) FROM messages");

    let host = rusqlite::Connection::open(dir.join("opencode.db")).unwrap();
    host.execute_batch(
        "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES
           ('msg_zz_later', 'ses_db00f4e64ffeeNL4r1luwRloNk', 1796637600000, 1796637600000,
            '{\"role\":\"user\",\"time\":{\"created\":1796637600000}}');
         INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES
           ('prt_zz_later', 'msg_zz_later', 'ses_db00f4e64ffeeNL4r1luwRloNk', 1796637600000,
            1796637600000, '{\"type\":\"text\",\"text\":\"a later question about flamingos\"}');",
    )
    .unwrap();
    drop(host);
    let second = env.backfill("opencode", &dir);
    assert_clean(&second, "second");
    assert_eq!(
        counts(
            &second,
            [
                "messages",
                "updated_sessions",
                "unchanged_sessions",
                "new_sessions"
            ]
        ),
        [1, 1, 1, 0],
        "{second}"
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), before + 1);
    let (role, text, _) = top(&env, "opencode", "flamingos");
    assert_eq!(
        (role.as_str(), text.as_str()),
        ("user", "a later question about flamingos")
    );

    // A session's virtual path names a store that is there: not a missing source.
    let out = env
        .cmd("csep")
        .arg("status")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let status: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        status["session_recall"]["missing_source_count"], 0,
        "{status}"
    );

    // Nothing changed since: the store is not read again.
    let third = env.backfill("opencode", &dir);
    assert_eq!(
        counts(
            &third,
            ["processed_files", "messages", "unchanged_sessions"]
        ),
        [0, 0, 2],
        "{third}"
    );
}

#[test]
fn aider_an_appended_turn_and_a_new_session_are_read_once() {
    let Some(aider) = hosts("aider") else { return };
    let env = Env::new();
    let dir = copy(&env, &aider.join("peers/myrepo"), "repo");
    let file = dir.join(".aider.chat.history.md");
    let first = env.backfill("aider", &dir);
    assert_read(&first, "first");
    // The third header has nothing after it yet: no session until it has.
    assert_eq!(n(&first, "new_sessions"), 2, "{first}");
    let before = env.sql_count("SELECT COUNT(*) FROM messages");

    append(
        &file,
        b"\n#### what about the pelican timeout\nIt is 30 seconds.\n\n\
          > Applied edit to src/pelican.py\n\n\
          # aider chat started at 2026-06-10 09:00:00\n\n\
          #### a brand new albatross session\n",
    );
    let second = env.backfill("aider", &dir);
    assert_clean(&second, "second");
    assert_eq!(counts(&second, SESSIONS), [4, 2, 0, 2], "{second}");
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), before + 4);
    let (role, text, source) = top(&env, "aider", "pelican timeout");
    assert_eq!(
        (role.as_str(), text.as_str()),
        ("user", "what about the pelican timeout")
    );
    assert!(source.ends_with("#3"), "{source}");
    let (role, _, source) = top(&env, "aider", "src/pelican.py");
    assert_eq!(role, "tool");
    assert!(source.ends_with("#3"), "{source}");
    let (_, _, source) = top(&env, "aider", "albatross");
    assert!(source.ends_with("#4"), "{source}");

    // The last session grows: only its new lines are read, the rest is left alone.
    append(
        &file,
        b"Albatrosses glide.\n\n> Applied edit to src/albatross.py\n",
    );
    let third = env.backfill("aider", &dir);
    assert_clean(&third, "third");
    assert_eq!(counts(&third, SESSIONS), [2, 0, 1, 3], "{third}");
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), before + 6);
    let (role, text, source) = top(&env, "aider", "src/albatross.py");
    assert_eq!(
        (role.as_str(), text.as_str()),
        ("tool", "Applied edit to src/albatross.py")
    );
    assert!(source.ends_with("#4"), "{source}");

    let fourth = env.backfill("aider", &dir);
    assert_eq!(
        (n(&fourth, "processed_files"), n(&fourth, "messages")),
        (0, 0),
        "{fourth}"
    );
}

/// A second process (the host) that opens `db` in `journal` mode, runs `sql` inside a write
/// transaction (`begin`: `IMMEDIATE` or `EXCLUSIVE`) it keeps open, says "ready", and commits
/// when told.
struct Holder {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Holder {
    fn start(db: &Path, journal: &str, begin: &str, sql: &str) -> Holder {
        let script = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=" + sys.argv[3])
c.execute("BEGIN " + sys.argv[4])
for stmt in sys.argv[2].split(";"):
    if stmt.strip():
        c.execute(stmt)
print("ready", flush=True)
sys.stdin.readline()
c.execute("COMMIT")
print("committed", flush=True)
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(db)
            .args([sql, journal, begin])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the holder started");
        Holder { child, out }
    }

    /// Lets it commit; true when it did.
    fn commit(mut self) -> bool {
        writeln!(self.child.stdin.take().unwrap()).unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        self.child.wait().unwrap().success() && line.trim() == "committed"
    }
}

fn snapshot(p: &Path) -> (Vec<u8>, std::time::SystemTime) {
    (
        fs::read(p).unwrap(),
        fs::metadata(p).unwrap().modified().unwrap(),
    )
}

#[test]
fn stores_held_open_by_their_host_are_read_and_left_alone() {
    let (Some(oc), Some(copilot)) = (hosts("opencode"), hosts("copilot")) else {
        return;
    };
    let env = Env::new();
    let oc_dir = copy(&env, &oc.join("generated"), "oc");
    let oc_db = oc_dir.join("opencode.db");
    let cp_dir = env.path("copilot");
    fs::create_dir_all(&cp_dir).unwrap();
    let cp_db = copy(
        &env,
        &copilot.join("generated/session-store.db"),
        "copilot/session-store.db",
    );
    let cases = [
        (
            "opencode",
            &oc_dir,
            &oc_db,
            "INSERT INTO session (id, project_id, slug, directory, title, version, time_created, time_updated) VALUES ('ses_pending', 'p', 's', '/w', 'pending', '1', 1, 1)",
            "SELECT COUNT(*) FROM session",
        ),
        (
            "copilot",
            &cp_dir,
            &cp_db,
            "INSERT INTO sessions (id, cwd) VALUES ('pending-session', '/w'); INSERT INTO turns (session_id, turn_index, user_message) VALUES ('pending-session', 0, 'an uncommitted question')",
            "SELECT COUNT(*) FROM sessions",
        ),
    ];
    for (agent, root, db, sql, count) in cases {
        let holder = Holder::start(db, "WAL", "IMMEDIATE", sql);
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        let (bytes, mtime) = snapshot(db);
        let (wal_bytes, _) = snapshot(&wal);
        let v = env.backfill(agent, root);
        assert_read(&v, agent);
        assert_eq!(
            n(&v, "new_sessions"),
            2,
            "{agent}: only committed sessions: {v}"
        );
        assert_eq!(
            snapshot(db),
            (bytes, mtime),
            "{agent}: the store is unchanged"
        );
        assert_eq!(snapshot(&wal).0, wal_bytes, "{agent}: its log is unchanged");
        assert!(holder.commit(), "{agent}: the host still commits");
        let host = rusqlite::Connection::open(db).unwrap();
        let rows: i64 = host.query_row(count, [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 3, "{agent}: the host's row landed");
    }
}

#[test]
fn a_store_or_one_of_its_sessions_can_be_named_as_a_file() {
    let Some(aider) = hosts("aider") else { return };
    let env = Env::new();
    let dir = copy(&env, &aider.join("generated/demo"), "demo");
    let file = dir.join(".aider.chat.history.md").canonicalize().unwrap();
    let named = format!("{}#1", file.display());
    let out = env
        .cmd("csep-index")
        .args(["--file", &named])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_read(&v, "--file STORE#SESSION");
    let (role, text, _) = top(&env, "aider", "Explain what main.py does");
    assert_eq!(
        (role.as_str(), text.as_str()),
        ("user", "Explain what main.py does.")
    );
    let again = env
        .cmd("csep-index")
        .arg("--file")
        .arg(&file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&again).unwrap();
    assert_eq!(
        (n(&v, "messages"), n(&v, "unchanged_sessions")),
        (0, 1),
        "{v}"
    );
}

#[test]
fn a_store_its_host_holds_exclusively_is_left_for_the_next_run() {
    let Some(copilot) = hosts("copilot") else {
        return;
    };
    let env = Env::new();
    let home = env.path("copilot");
    fs::create_dir_all(&home).unwrap();
    let db = copy(
        &env,
        &copilot.join("generated/session-store.db"),
        "copilot/session-store.db",
    );
    // A host in rollback-journal mode in the middle of writing: no reader may look.
    let holder = Holder::start(
        &db,
        "DELETE",
        "EXCLUSIVE",
        "INSERT INTO sessions (id, cwd) VALUES ('pending-session', '/w')",
    );
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "copilot", "--all-history", "--root"])
        .arg(&home)
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!((n(&v, "error_count"), n(&v, "new_sessions")), (1, 0), "{v}");
    let message = v["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("locked") || message.contains("busy"),
        "{v}"
    );
    assert!(holder.commit(), "the host still commits");
    let v = env.backfill("copilot", &home);
    assert_read(&v, "after the host let go");
    assert_eq!(n(&v, "new_sessions"), 2, "{v}");
}

#[test]
fn opencode_a_session_named_by_its_virtual_path_is_read_alone() {
    let Some(oc) = hosts("opencode") else { return };
    let env = Env::new();
    let dir = copy(&env, &oc.join("generated"), "oc");
    env.backfill("opencode", &dir);
    let db = dir.join("opencode.db").canonicalize().unwrap();
    let host = rusqlite::Connection::open(&db).unwrap();
    for (n, ses) in [
        "ses_db00f4e64ffeeNL4r1luwRloNk",
        "ses_db00e4af7ffeTIabQqeCbxUCS3",
    ]
    .iter()
    .enumerate()
    {
        host.execute(
            "INSERT INTO message (id, session_id, time_created, time_updated, data)
             VALUES (?1, ?2, 1796637600000, 1796637600000, '{\"role\":\"user\"}')",
            [format!("msg_zz_{n}"), ses.to_string()],
        )
        .unwrap();
        host.execute(
            "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data)
             VALUES (?1, ?2, ?3, 1796637600000, 1796637600000, ?4)",
            [
                format!("prt_zz_{n}"),
                format!("msg_zz_{n}"),
                ses.to_string(),
                format!("{{\"type\":\"text\",\"text\":\"later words {n}\"}}"),
            ],
        )
        .unwrap();
    }
    drop(host);
    let named = format!("{}#ses_db00e4af7ffeTIabQqeCbxUCS3", db.display());
    let out = env
        .cmd("csep-index")
        .args(["--file", &named])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        counts(&v, ["updated_sessions", "unchanged_sessions", "messages"]),
        [1, 0, 1],
        "{v}"
    );
    let (_, _, source) = top(&env, "opencode", "later words 1");
    assert_eq!(source, named);
    // The other session's new part waits for the next read of the whole store.
    let v = env.backfill("opencode", &dir);
    assert_eq!(
        counts(&v, ["updated_sessions", "unchanged_sessions", "messages"]),
        [1, 1, 1],
        "{v}"
    );
}

#[test]
fn cursor_a_chats_store_names_the_transcripts_session() {
    let Some(cursor) = hosts("cursor") else {
        return;
    };
    let env = Env::new();
    let root = copy(&env, &cursor.join("peers"), "cursor");
    let id = "0d9c3d1e-0000-4000-8000-000000000003";
    let dir = root.join("chats/0123456789abcdef0123456789abcdef").join(id);
    fs::create_dir_all(&dir).unwrap();
    let meta = format!(
        r#"{{"agentId":"{id}","name":"Pelican migration chat","mode":"default","createdAt":1775522590321}}"#
    );
    let hex: String = meta.bytes().map(|b| format!("{b:02x}")).collect();
    let store = rusqlite::Connection::open(dir.join("store.db")).unwrap();
    store
        .execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
             CREATE TABLE blobs (id TEXT PRIMARY KEY, data BLOB);",
        )
        .unwrap();
    store
        .execute("INSERT INTO meta VALUES ('0', ?1)", [hex])
        .unwrap();
    drop(store);
    let v = env.backfill("cursor", &root);
    assert_read(&v, "cursor");
    let out = env
        .cmd("csep")
        .args(["show", &format!("cursor:{id}"), "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let shown: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(shown["title"], "Pelican migration chat", "{shown}");
    assert_eq!(shown["started_at"], "2026-04-07T00:43:10.321Z", "{shown}");
}

#[test]
fn copilot_an_event_log_takes_its_stored_sessions_place() {
    let Some(copilot) = hosts("copilot") else {
        return;
    };
    let env = Env::new();
    let home = copy(&env, &copilot.join("generated"), "copilot");
    fs::rename(home.join("session-state"), env.path("logs-away")).unwrap();
    let v = env.backfill("copilot", &home);
    assert_read(&v, "the store alone");
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM sources WHERE format = 'copilot-db'"),
        2
    );
    // The logs come back: they replace the stored turns, nothing is there twice.
    fs::rename(env.path("logs-away"), home.join("session-state")).unwrap();
    let v = env.backfill("copilot", &home);
    assert_clean(&v, "with the logs");
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM sources WHERE format = 'copilot-db'"),
        0
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 2);
    let fresh = Env::new();
    fresh.backfill(
        "copilot",
        &copy(&fresh, &copilot.join("generated"), "copilot"),
    );
    let count = "SELECT COUNT(*) FROM messages";
    assert_eq!(env.sql_count(count), fresh.sql_count(count));
    assert_eq!(
        env.sql_count("SELECT SUM(message_count) FROM sessions"),
        fresh.sql_count(count)
    );
}

#[test]
fn opencode_a_session_in_both_the_database_and_the_old_files_is_indexed_once() {
    let Some(oc) = hosts("opencode") else { return };
    let env = Env::new();
    let root = copy(&env, &oc.join("peers"), "oc");
    fs::remove_file(root.join("opencode.sql")).unwrap();
    // Read from the pre-1.2 files first, as before OpenCode moved to its database.
    let v = env.backfill("opencode", &root);
    assert_read(&v, "storage/ alone");
    // OpenCode 1.2 copied the session into opencode.db and left the files.
    let db = rusqlite::Connection::open(root.join("opencode.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE session (id TEXT PRIMARY KEY, directory TEXT, title TEXT,
           time_created INTEGER, time_updated INTEGER);
         CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER,
           data TEXT);
         CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT, data TEXT);
         INSERT INTO session VALUES ('s_stage0_small', '/tmp/repo', 'OpenCode Small',
           1730000000000, 1730000005000);
         INSERT INTO message VALUES ('m_user_small', 's_stage0_small', 1730000001000,
           '{\"role\":\"user\"}');
         INSERT INTO part VALUES ('p_user_1', 'm_user_small',
           '{\"type\":\"text\",\"text\":\"Hello from the database copy\"}');",
    )
    .unwrap();
    drop(db);
    let v = env.backfill("opencode", &root);
    assert_clean(&v, "both");
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 1);
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM sources WHERE format = 'opencode-json'"),
        0
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM messages"), 1);
    // Both found in one run: the database's copy only.
    let fresh = Env::new();
    let v = fresh.backfill("opencode", &root);
    assert_clean(&v, "both at once");
    assert_eq!(fresh.sql_count("SELECT COUNT(*) FROM sources"), 1);
    assert_eq!(fresh.sql_count("SELECT COUNT(*) FROM messages"), 1);
}

#[test]
fn without_a_root_the_stores_are_found_where_their_hosts_keep_them() {
    let (Some(oc), Some(aider)) = (hosts("opencode"), hosts("aider")) else {
        return;
    };
    let env = Env::new();
    // OpenCode: $XDG_DATA_HOME/opencode, else ~/.local/share/opencode.
    copy(
        &env,
        &oc.join("generated/opencode.db"),
        "home/.local/share/opencode/opencode.db",
    );
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "opencode", "--all-history"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_read(&v, "opencode's default root");
    assert_eq!(n(&v, "new_sessions"), 2, "{v}");
    // Aider: no default place, but $AIDER_CHAT_HISTORY_FILE names one file.
    let file = copy(
        &env,
        &aider.join("generated/demo/.aider.chat.history.md"),
        "repo/.aider.chat.history.md",
    );
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "aider", "--all-history"])
        .env("AIDER_CHAT_HISTORY_FILE", &file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_read(&v, "$AIDER_CHAT_HISTORY_FILE");
}

/// `csep-archive STORE` prints one record group per stored session (OpenCode's database, a
/// session of it as `STORE#SESSION`, Aider's history), and `csep-index` reading that stream
/// holds what a backfill of the store holds: the stage works alone, as on Codex transcripts.
#[test]
fn csep_archive_prints_a_group_per_stored_session_that_csep_index_takes() {
    let (Some(oc), Some(aider)) = (hosts("opencode"), hosts("aider")) else {
        return;
    };
    let env = Env::new();
    let db = copy(&env, &oc.join("generated/opencode.db"), "oc/opencode.db");
    let history = copy(
        &env,
        &aider.join("real/health-analyzer-poc/.aider.chat.history.md"),
        "repo/.aider.chat.history.md",
    );
    let records = |file: &str| -> Vec<Value> {
        let out = env.cmd("csep-archive").arg(file).output().unwrap();
        common::assert_ok(&out);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let kinds = |rs: &[Value], kind: &str| rs.iter().filter(|r| r["type"] == kind).count();
    let canonical = fs::canonicalize(&db).unwrap();
    let whole = records(db.to_str().unwrap());
    assert_eq!(kinds(&whole, "session"), 2, "{whole:?}");
    assert_eq!(kinds(&whole, "source"), 2);
    for s in whole.iter().filter(|r| r["type"] == "source") {
        let path = s["path"].as_str().unwrap();
        assert!(
            path.starts_with(&format!("{}#ses_", canonical.display())),
            "a stored session's source is STORE#SESSION: {path}"
        );
        assert_eq!(s["format"], "opencode-db");
    }
    let one = records(&format!(
        "{}#ses_db00e4af7ffeTIabQqeCbxUCS3",
        canonical.display()
    ));
    assert_eq!(kinds(&one, "session"), 1, "{one:?}");
    assert_eq!(
        one[0]["session_id"],
        "opencode:ses_db00e4af7ffeTIabQqeCbxUCS3"
    );
    let aider_records = records(history.to_str().unwrap());
    assert!(kinds(&aider_records, "session") >= 2, "{aider_records:?}");

    // The stream indexed as a pipe holds what a backfill of the same stores holds.
    let stream: String = whole
        .iter()
        .chain(&aider_records)
        .map(|r| format!("{r}\n"))
        .collect();
    let piped = env.cmd("csep-index").write_stdin(stream).output().unwrap();
    common::assert_ok(&piped);
    let piped_counts = (
        env.sql_count("SELECT count(*) FROM sessions"),
        env.sql_count("SELECT count(*) FROM messages"),
    );
    let other = Env::new();
    let a = other.backfill("opencode", db.parent().unwrap());
    let b = other.backfill("aider", history.parent().unwrap());
    assert_clean(&a, "opencode");
    assert_clean(&b, "aider");
    assert_eq!(
        piped_counts,
        (
            other.sql_count("SELECT count(*) FROM sessions"),
            other.sql_count("SELECT count(*) FROM messages"),
        )
    );
    // A file that is no store of the host named is a clear error.
    env.cmd("csep-archive")
        .args(["--agent", "opencode"])
        .arg(&history)
        .assert()
        .code(2)
        .stderr(
            predicates::str::contains("csep-archive: ")
                .and(predicates::str::contains("not one of OpenCode's stores")),
        );
}
