//! What `csep mcp` really answers (`tools/call` results, `memory_read`), checked against
//! docs/WIRE.md's "MCP tool results" tables; the recall answers in them against "Recall
//! output".

use super::wire::*;
use crate::common::git_repo;
use crate::mcp::Client;
use serde_json::{json, Value};

#[test]
fn what_csep_mcp_answers_now_matches_the_wire_tables() {
    let wire = wire();
    let live = live();
    let mut problems = Vec::new();
    let repo = live.root().join("app");
    git_repo(&repo);
    let repo = std::fs::canonicalize(&repo).unwrap();
    live.seed_memory(&repo, "- Run `make db-up` before the integration tests.\n");
    let bucket = live
        .state()
        .join("projects")
        .join(repo.to_string_lossy().replace('/', "-"));
    std::fs::create_dir_all(bucket.join("memory/refs")).unwrap();
    std::fs::write(bucket.join("memory/refs/testing.md"), "# Testing\n").unwrap();
    let id = "019ab5c2-7d41-7e30-9a1f-3c2e8d90b420";
    let rollout = live
        .root()
        .join(format!("sessions/rollout-2026-11-24T10-15-02-{id}.jsonl"));
    small_rollout(&rollout, id, "the quokka migration failed");
    live.cmd("csep-index")
        .arg("--file")
        .arg(&rollout)
        .assert()
        .success();

    let mut c = Client::start(&live);
    c.request("initialize", json!({"protocolVersion": "2025-06-18"}));
    let cwd = repo.to_str().unwrap();
    let results = [
        c.call("read_memory", json!({"cwd": cwd})),
        c.call("recall", json!({"query": "quokka", "global": true})),
        c.call("list_sessions", json!({"global": true})),
        c.call("recall", json!({"cwd": cwd})),
        c.call("show_session", json!({"session_id": id})),
    ];
    c.finish();
    let envelope = example_table(&wire, "\"structuredContent\": {");
    for (n, r) in results.iter().enumerate() {
        let ctx = format!("tools/call #{n}");
        wire.check(r, &[envelope], &ctx, &mut problems);
        let Some(structured) = r.get("structuredContent") else {
            continue;
        };
        match wire.typed_table(structured) {
            Some(t) => wire.check(structured, &[t], &ctx, &mut problems),
            None => {
                let recall = example_table(&wire, "\"query\": \"");
                wire.check(structured, &[recall], &ctx, &mut problems);
            }
        }
    }
    assert_eq!(
        results[1]["structuredContent"]["count"], 1,
        "{}",
        results[1]
    );
    assert_eq!(results[3]["isError"], true, "{}", results[3]);
    assert_eq!(
        results[4]["structuredContent"]["type"], "session_show",
        "{}",
        results[4]
    );
    all_fields_seen_in(&wire, envelope, &results, &mut problems);
    let records: Vec<Value> = results
        .iter()
        .filter_map(|r| r.get("structuredContent").cloned())
        .collect();
    all_fields_seen(&wire, &["memory_read"], &records, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
