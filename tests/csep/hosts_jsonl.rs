//! The JSONL hosts (Copilot CLI, Qwen Code, Factory Droid, Gemini CLI, Cursor): every
//! transcript in the shared host fixtures indexes without an error, what a person said and
//! what a tool printed come back first from recall, a torn last line waits for its end, an
//! appended tail is indexed once, Gemini's re-appended messages replace what they update,
//! and a Gemini session resumed in a later minute (two files) stays one session. Fixtures are
//! read from ../shared/fixtures and copied to a temp dir, or from tests/fixtures/hosts.

use crate::common::{self, Env};
use serde_json::Value;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// (fixture folder, the agent that reads it): Antigravity's step logs are read as Gemini.
const HOSTS: &[(&str, &str)] = &[
    ("copilot", "copilot"),
    ("qwen", "qwen"),
    ("droid", "droid"),
    ("gemini", "gemini"),
    ("cursor", "cursor"),
    ("antigravity", "gemini"),
];

/// `hosts/<host>/` of the shared fixtures; `None` skips the test.
fn host_fixtures(host: &str) -> Option<PathBuf> {
    let dir = common::shared_fixtures()?.join("hosts").join(host);
    assert!(dir.is_dir(), "{} is missing", dir.display());
    Some(dir)
}

/// Copies `from` to `to`, leaving the copies writable (the shared files are read-only).
fn copy_writable(from: &Path, to: &Path) {
    common::copy_dir(from, to);
    for f in common::walk(to) {
        let mut perm = fs::metadata(&f).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        fs::set_permissions(&f, perm).unwrap();
    }
}

/// Every kind of fixture a host has (`generated`, `real`, `peers`) merged into one root.
fn merged_root(env: &Env, folder: &str) -> Option<PathBuf> {
    let src = host_fixtures(folder)?;
    let root = env.path(&format!("roots/{folder}"));
    for kind in ["generated", "real", "peers"] {
        if src.join(kind).is_dir() {
            copy_writable(&src.join(kind), &root);
        }
    }
    Some(root)
}

fn message_count(env: &Env) -> i64 {
    env.sql_count("SELECT COUNT(*) FROM messages")
}

#[test]
fn every_transcript_of_every_jsonl_host_indexes_without_errors() {
    for (folder, host) in HOSTS {
        let Some(src) = host_fixtures(folder) else {
            return;
        };
        for kind in ["generated", "real", "peers"] {
            if !src.join(kind).is_dir() {
                continue;
            }
            let env = Env::new();
            let root = env.path("root");
            copy_writable(&src.join(kind), &root);
            let s = env.backfill(host, &root);
            assert_eq!(s["error_count"], 0, "{folder}/{kind}: {s}");
            assert!(
                s["new_sessions"].as_u64().unwrap() > 0,
                "{folder}/{kind}: {s}"
            );
            assert!(s["messages"].as_u64().unwrap() > 0, "{folder}/{kind}: {s}");
            // Only transcripts: no side file (settings, runtime status, workspace, hook log).
            let conn = rusqlite::Connection::open(env.db()).unwrap();
            let mut st = conn.prepare("SELECT path, format FROM sources").unwrap();
            let rows: Vec<(String, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                rows.len() as u64,
                s["files_seen"].as_u64().unwrap(),
                "{rows:?}"
            );
            for (path, format) in &rows {
                assert!(
                    !path.ends_with(".settings.json")
                        && !path.ends_with(".runtime.json")
                        && !path.ends_with("workspace.yaml")
                        && !path.ends_with("hook-payloads.jsonl")
                        && !path.ends_with("projects.json"),
                    "{folder}/{kind} indexed a side file: {path}"
                );
                let expected: &[&str] = match *host {
                    "copilot" => &["copilot-events"],
                    "gemini" => &["gemini-jsonl", "gemini-json", "antigravity-jsonl"],
                    "cursor" => &["cursor-jsonl"],
                    other => &[other],
                };
                assert!(expected.contains(&format.as_str()), "{path}: {format}");
            }
        }
    }
}

/// `csep recall WORDS --agent HOST --format json`, the answer.
fn recall(env: &Env, host: &str, words: &str) -> Value {
    let out = env
        .cmd("csep")
        .args([
            "recall", words, "--agent", host, "--global", "--format", "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_user_line_and_a_tool_output_are_the_top_result_for_each_host() {
    // (fixture folder, words a person said, session; words a tool printed, session)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "antigravity",
            "sanitized fixture prompt",
            "gemini:fixture-current-cli",
            "Created file notes.md",
            "gemini:as-cli-small",
        ),
        (
            "copilot",
            "why is the connection pool exhausted",
            "copilot:7cf44517-55ca-435c-893a-3fde1973a44e",
            "file1 file2",
            "copilot:aaaabbbb-1111-2222-3333-ccccddddeeee",
        ),
        (
            "qwen",
            "Inspect the synthetic fixture",
            "qwen:019f0000-0000-7000-8000-000000000001",
            "Synthetic file contents",
            "qwen:019f0000-0000-7000-8000-000000000001",
        ),
        (
            "droid",
            "Show me does-not-exist.txt",
            "droid:d8756052-9c5f-49fc-aa29-c175ff3691b3",
            "line1 line2 line3",
            "droid:droid_large",
        ),
        (
            "gemini",
            "Fix the login bug",
            "gemini:sess-uuid-1",
            "Agentstrove One-Pager",
            "gemini:sess-uuid-tool-results",
        ),
        (
            "cursor",
            "now show me the git status",
            "cursor:0d9c3d1e-0000-4000-8000-000000000001",
            "file1.txt file2.txt",
            "cursor:0d9c3d1e-0000-4000-8000-000000000003",
        ),
    ];
    for (folder, said, said_in, printed, printed_in) in cases {
        let host = &HOSTS.iter().find(|(f, _)| f == folder).unwrap().1;
        let env = Env::new();
        let Some(root) = merged_root(&env, folder) else {
            return;
        };
        let s = env.backfill(host, &root);
        assert_eq!(s["error_count"], 0, "{s}");
        for (words, sid, role) in [(said, said_in, "user"), (printed, printed_in, "tool")] {
            let v = recall(&env, host, words);
            let top = &v["results"][0];
            assert_eq!(top["session_id"], **sid, "{host} {words}: {v}");
            assert_eq!(top["agent"], **host, "{host} {words}: {v}");
            let roles: Vec<&str> = top["windows"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w["anchor"]["role"].as_str())
                .collect();
            assert!(
                roles.contains(&role),
                "{host} {words}: no {role} match in {top}"
            );
        }
    }
}

/// One transcript per host, as (path under the host's fixtures, relative path kept in the
/// copy so discovery finds it).
const TRANSCRIPTS: &[(&str, &str)] = &[
    (
        "copilot",
        "generated/session-state/ca6f70a3-86ed-4e9c-8b09-55fe748af656/events.jsonl",
    ),
    (
        "qwen",
        "peers/projects/-tmp-as-qwen-fixture-project/chats/019f0000-0000-7000-8000-000000000004.jsonl",
    ),
    (
        "droid",
        "generated/sessions/-workspace-demo/37c5d0c4-efbe-449b-9759-327ebb1a0060.jsonl",
    ),
    (
        "gemini",
        // Without re-appended messages (those re-index the file: see the test below).
        "peers/tmp/proj/chats/session-2026-04-29T21-39-gemini_s.jsonl",
    ),
    (
        "cursor",
        "peers/projects/tmp-demo/agent-transcripts/0d9c3d1e-0000-4000-8000-000000000003/0d9c3d1e-0000-4000-8000-000000000003.jsonl",
    ),
];

#[test]
fn a_torn_last_line_waits_and_an_appended_tail_is_indexed_once() {
    for (host, rel) in TRANSCRIPTS {
        let Some(src) = host_fixtures(host) else {
            return;
        };
        let whole = fs::read(src.join(rel)).unwrap();
        // The number of messages the whole file gives, indexed at once.
        let fresh = Env::new();
        let target = fresh.path("root").join(rel);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(&target, &whole).unwrap();
        fresh.backfill(host, &fresh.path("root"));
        let expected = message_count(&fresh);

        // Cut in the middle of a line past the first half: a torn write.
        let env = Env::new();
        let target = env.path("root").join(rel);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        let newlines: Vec<usize> = whole
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let k = newlines.len() / 2;
        let cut = newlines[k] + 1 + (newlines[k + 1] - newlines[k]) / 2;
        fs::write(&target, &whole[..cut]).unwrap();
        let first = env.backfill(host, &env.path("root"));
        assert_eq!(first["error_count"], 0, "{host}: {first}");
        assert!(
            first["skipped_lines"].as_u64().unwrap() >= 1,
            "{host}: {first}"
        );
        let before = message_count(&env);
        assert!(
            before > 0 && before < expected,
            "{host}: {before} of {expected}"
        );
        let recorded: i64 = env.sql_count("SELECT end_offset FROM sources");
        assert_eq!(
            recorded as usize,
            newlines[k] + 1,
            "{host}: stops before the torn line"
        );

        // The rest of the line and the tail arrive.
        fs::OpenOptions::new()
            .append(true)
            .open(&target)
            .unwrap()
            .write_all(&whole[cut..])
            .unwrap();
        let second = env.backfill(host, &env.path("root"));
        assert_eq!(second["error_count"], 0, "{host}: {second}");
        assert_eq!(
            message_count(&env),
            expected,
            "{host}: no duplicates, nothing lost"
        );
        assert_eq!(
            second["messages"].as_i64().unwrap(),
            expected - before,
            "{host}: only the new messages were written: {second}"
        );
    }
}

fn gemini_line(v: Value) -> String {
    format!("{v}\n")
}

#[test]
fn a_gemini_message_appended_again_replaces_the_indexed_one_and_a_rewind_drops_it() {
    let env = Env::new();
    let path = env.path("gemini/tmp/proj/chats/session-2026-12-07T10-00-abcd1234.jsonl");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let meta = serde_json::json!({"sessionId": "abcd1234-0000", "projectHash": "x",
        "startTime": "2026-12-07T10:00:00Z", "lastUpdated": "2026-12-07T10:00:00Z", "kind": "main"});
    let user = serde_json::json!({"id": "u1", "timestamp": "2026-12-07T10:00:01Z",
        "type": "user", "content": [{"text": "summon the quokka_question"}]});
    let draft = serde_json::json!({"id": "g1", "timestamp": "2026-12-07T10:00:02Z",
        "type": "gemini", "content": "a draft about narwhal_draft"});
    fs::write(&path, [meta, user, draft].map(gemini_line).concat()).unwrap();
    let root = env.path("gemini/tmp");
    env.backfill("gemini", &root);
    assert_eq!(message_count(&env), 2);
    assert_eq!(recall(&env, "gemini", "narwhal_draft")["count"], 1);

    // The same id again, finished: it replaces the draft, in place.
    let done = serde_json::json!({"id": "g1", "timestamp": "2026-12-07T10:00:03Z",
        "type": "gemini", "content": "the final word is pangolin_final",
        "toolCalls": [{"id": "c1", "name": "run_shell_command", "args": {"command": "echo hi"},
            "result": [{"functionResponse": {"id": "c1", "name": "run_shell_command",
                "response": {"output": "hi from axolotl_output"}}}]}]});
    // 0.61's second copy of the tool result, to be dropped.
    let dup = serde_json::json!({"id": "u2", "timestamp": "2026-12-07T10:00:04Z", "type": "user",
        "content": [{"functionResponse": {"id": "c1", "name": "run_shell_command",
            "response": {"output": "hi from axolotl_output"}}}]});
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all([done, dup].map(gemini_line).concat().as_bytes())
        .unwrap();
    env.backfill("gemini", &root);
    // user, final answer, tool call, tool output.
    assert_eq!(message_count(&env), 4);
    assert_eq!(
        recall(&env, "gemini", "narwhal_draft")["count"],
        0,
        "the draft is replaced"
    );
    assert_eq!(recall(&env, "gemini", "pangolin_final")["count"], 1);
    let tool = recall(&env, "gemini", "axolotl_output");
    assert_eq!(
        tool["results"][0]["session_id"], "gemini:abcd1234-0000",
        "{tool}"
    );
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM messages WHERE text LIKE '%axolotl_output%'"),
        1,
        "the duplicate tool result is dropped"
    );

    // A new message, then a rewind to the answer: the answer and all after it go.
    let more = serde_json::json!({"id": "u3", "timestamp": "2026-12-07T10:00:05Z",
        "type": "user", "content": "and then the wombat_later"});
    f.write_all(gemini_line(more).as_bytes()).unwrap();
    env.backfill("gemini", &root);
    assert_eq!(message_count(&env), 5);
    f.write_all(gemini_line(serde_json::json!({"$rewindTo": "g1"})).as_bytes())
        .unwrap();
    env.backfill("gemini", &root);
    assert_eq!(message_count(&env), 1, "only the first question is left");
    assert_eq!(recall(&env, "gemini", "quokka_question")["count"], 1);
}

#[test]
fn without_a_root_each_host_is_found_in_its_default_home_and_nothing_else_is() {
    // (fixture, agent, folder under HOME, transcripts in it)
    let homes = [
        ("copilot/generated", "copilot", ".copilot", 2),
        ("qwen/generated", "qwen", ".qwen", 2),
        ("droid/generated", "droid", ".factory", 2),
        ("gemini/generated", "gemini", ".gemini", 2),
        ("cursor/peers", "cursor", ".cursor", 4),
    ];
    let env = Env::new();
    for (fixture, _, dir, _) in homes {
        let Some(src) = common::shared_fixtures() else {
            return;
        };
        copy_writable(
            &src.join("hosts").join(fixture),
            &env.path("home").join(dir),
        );
    }
    for (fixture, agent, _, files) in homes {
        let out = env
            .cmd("csep-index")
            .args(["--backfill", agent, "--all-history"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let s: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(s["files_seen"], files, "{fixture}: {s}");
        assert_eq!(s["error_count"], 0, "{fixture}: {s}");
    }
    // An env var moves a host's home.
    let moved = env.path("elsewhere");
    fs::rename(env.path("home/.copilot"), &moved).unwrap();
    let s = env
        .cmd("csep-index")
        .env("COPILOT_HOME", &moved)
        .args(["--backfill", "copilot", "--all-history"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s: Value = serde_json::from_slice(&s).unwrap();
    assert_eq!(
        s["root"],
        moved.canonicalize().unwrap().to_str().unwrap(),
        "{s}"
    );
    assert_eq!(s["files_seen"], 2, "{s}");
}

#[test]
fn a_legacy_gemini_json_rewritten_whole_is_reindexed_whole() {
    let env = Env::new();
    let path = env.path("tmp/h/chats/session-2025-01-01T10-00-legacy.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let doc = |msgs: &[(&str, &str, &str)]| {
        let messages: Vec<Value> = msgs
            .iter()
            .map(|(id, kind, text)| {
                serde_json::json!({"id": id, "type": kind, "content": text,
                    "timestamp": "2025-01-01T10:00:00Z"})
            })
            .collect();
        serde_json::to_vec_pretty(&serde_json::json!({"sessionId": "legacy-1",
            "projectHash": "x", "startTime": "2025-01-01T10:00:00Z", "messages": messages}))
        .unwrap()
    };
    fs::write(
        &path,
        doc(&[
            ("u1", "user", "ask about kinkajou_first"),
            ("a1", "gemini", "draft"),
        ]),
    )
    .unwrap();
    let root = env.path("tmp");
    let s = env.backfill("gemini", &root);
    assert_eq!(
        (s["error_count"].as_u64(), message_count(&env)),
        (Some(0), 2)
    );
    // Gemini rewrites the file: the answer changed and a message was added.
    fs::write(
        &path,
        doc(&[
            ("u1", "user", "ask about kinkajou_first"),
            ("a1", "gemini", "final about tapir_final"),
            ("u2", "user", "and more"),
        ]),
    )
    .unwrap();
    let s = env.backfill("gemini", &root);
    assert_eq!(s["error_count"], 0, "{s}");
    assert_eq!(message_count(&env), 3, "no duplicates");
    assert_eq!(recall(&env, "gemini", "kinkajou_first")["count"], 1);
    assert_eq!(recall(&env, "gemini", "tapir_final")["count"], 1);
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM sources WHERE format = 'gemini-json'"),
        1
    );
}

/// Gemini CLI 0.61.0 resumed in a later minute than the session began writes a second file
/// named after that minute, with the same `sessionId` and only the session context, while the
/// turn goes on in the first file (tests/fixtures/hosts/gemini/SOURCES.md). It is one session:
/// both answers are recalled from it, and the stray file adds no second session.
#[test]
fn a_gemini_session_resumed_in_a_later_minute_stays_one_session() {
    let env = Env::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts/gemini/resumed-in-a-later-minute/tmp");
    let out = env
        .cmd("csep-index")
        .args(["--backfill", "gemini", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["processed_files"].as_u64(), s["error_count"].as_u64()),
        (Some(2), Some(0)),
        "{s}"
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM sessions"), 1);
    let id = "gemini:8e5d4ada-72ba-48fc-9f65-a0f545f7b615";
    for words in ["kiwano", "persimmon"] {
        let v = recall(&env, "gemini", words);
        assert_eq!(common::top_session(&v), id, "{words}: {v}");
        assert_eq!(v["count"], 1, "{words}: {v}");
    }
}
