//! Black-box tests of what recall reaches beyond the conversation's kept text: the middle
//! of a long tool output (indexed whole up to 1 MiB, kept as head and tail), and injected
//! context when nothing else matches (`matched_in: background`).

use crate::common;

use common::{codex_path, codex_rollout, top_session, write_lines, Env};
use serde_json::{json, Value};

/// A tool output of `len` bytes of filler words with `needle` at byte `at`.
fn long_output(len: usize, at: usize, needle: &str) -> String {
    let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit ";
    let mut s = String::with_capacity(len + needle.len());
    while s.len() < at {
        s.push_str(filler);
    }
    s.push_str(needle);
    s.push(' ');
    while s.len() < len {
        s.push_str(filler);
    }
    s
}

#[test]
fn a_needle_in_the_middle_of_a_long_tool_output_is_found_and_its_place_shown() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "00000000-0000-4000-8000-0000000000a1";
    let output = long_output(30 * 1024, 15 * 1024, "quokkafern_middle_marker");
    write_lines(
        &codex_path(&root, id),
        &codex_rollout(id, "/nonexistent/repo", "run the tests", &output, "done"),
    );
    // Another session, so the needle has to pick the right one.
    let other = "00000000-0000-4000-8000-0000000000a2";
    write_lines(
        &codex_path(&root, other),
        &codex_rollout(other, "/nonexistent/repo", "hello", "ok", "hi"),
    );
    env.backfill("codex", &root);
    // Kept: head and tail only (the middle is not stored).
    assert_eq!(
        env.sql_count("SELECT count(*) FROM messages WHERE text LIKE '%quokkafern%'"),
        0
    );
    let v = env.recall_json(&["--global", "quokkafern_middle_marker"]);
    assert_eq!(top_session(&v), id, "{v}");
    assert_eq!(v["count"], 1, "{v}");
    let w = &v["results"][0]["windows"][0];
    assert_eq!(w["anchor"]["role"], "tool", "{v}");
    // The window shows where the match was left out.
    assert!(
        w["matched"].as_str().unwrap().contains(">>>[… ")
            && w["matched"].as_str().unwrap().contains("omitted …]<<<"),
        "{v}"
    );
    // A word from the kept head is found as before, and shown.
    let v = env.recall_json(&["--global", "run the tests"]);
    assert_eq!(top_session(&v), id, "{v}");
    // A forget removes the middle's words too.
    let in_middle = "SELECT count(*) FROM fts_middle WHERE fts_middle MATCH 'quokkafern'";
    assert_eq!(env.sql_count(in_middle), 1);
    env.cmd("csep")
        .args(["recall", "forget", id])
        .assert()
        .success();
    assert_eq!(env.sql_count(in_middle), 0);
    let v = env.recall_json(&[
        "--global",
        "--include-background",
        "quokkafern_middle_marker",
    ]);
    assert_eq!(v["count"], 0, "{v}");
}

#[test]
fn an_output_over_one_mebibyte_keeps_only_its_head_and_tail_searchable() {
    let env = Env::new();
    let root = env.path("codex");
    let id = "00000000-0000-4000-8000-0000000000b1";
    let mut output = long_output(1200 * 1024, 600 * 1024, "wombatglade_deep_middle");
    output.insert_str(0, "wallabymoss_at_the_head ");
    write_lines(
        &codex_path(&root, id),
        &codex_rollout(id, "/nonexistent/repo", "dump it", &output, "done"),
    );
    env.backfill("codex", &root);
    let v = env.recall_json(&["--global", "wallabymoss_at_the_head"]);
    assert_eq!(top_session(&v), id, "{v}");
    let v = env.recall_json(&["--global", "wombatglade_deep_middle"]);
    assert_eq!(v["count"], 0, "{v}");
}

/// A Codex rollout whose injected environment context names `project`, and whose user
/// message is `user`.
fn rollout_in(id: &str, project: &str, user: &str) -> Vec<Value> {
    let ts = "2026-11-01T10:00:00.000Z";
    let mut lines = codex_rollout(id, "/nonexistent/repo", user, "ok", "done");
    lines[1] = json!({"timestamp": ts, "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": format!("<environment_context>\n  <cwd>/home/me/src/{project}</cwd>\n</environment_context>")}]}});
    lines
}

#[test]
fn a_name_only_in_injected_context_finds_its_sessions_and_says_where() {
    let env = Env::new();
    let root = env.path("codex");
    let a = "00000000-0000-4000-8000-0000000000c1";
    let b = "00000000-0000-4000-8000-0000000000c2";
    write_lines(
        &codex_path(&root, a),
        &rollout_in(a, "zephyrkiln", "fix the flaky test"),
    );
    write_lines(
        &codex_path(&root, b),
        &rollout_in(b, "otherproj", "update the readme"),
    );
    env.backfill("codex", &root);
    // Nothing in the conversation says it: the environment context does.
    let v = env.recall_json(&["--global", "zephyrkiln"]);
    assert_eq!(v["status"], "matched", "{v}");
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(top_session(&v), a, "{v}");
    assert_eq!(v["results"][0]["matched_in"], "background", "{v}");
    let md = env
        .cmd("csep-recall")
        .args(["--global", "zephyrkiln"])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("Matched in: injected context only"), "{md}");
    // Once the conversation says it, that match is the answer, and background is not
    // searched.
    let c = "00000000-0000-4000-8000-0000000000c3";
    write_lines(
        &codex_path(&root, c),
        &rollout_in(c, "otherproj", "port zephyrkiln to the new api"),
    );
    env.backfill("codex", &root);
    let v = env.recall_json(&["--global", "zephyrkiln"]);
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(top_session(&v), c, "{v}");
    assert_eq!(v["results"][0]["matched_in"], "conversation", "{v}");
    // --include-background lets both match, as before.
    let v = env.recall_json(&["--global", "--include-background", "zephyrkiln"]);
    assert_eq!(v["count"], 2, "{v}");
}
