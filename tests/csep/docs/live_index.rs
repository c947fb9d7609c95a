//! What the archive and index tools, the umbrella's recall commands, `forget` and `rebuild`
//! really print, checked against docs/WIRE.md's tables.

use super::wire::*;
use crate::common;
use serde_json::Value;

#[test]
fn what_the_tools_print_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let mut problems = Vec::new();
    let check = |what: &str, v: &Value, problems: &mut Vec<String>| {
        let t = wire
            .typed_table(v)
            .unwrap_or_else(|| panic!("{what}: printed an object of no documented type: {v}"));
        wire.check(v, &[t], what, problems);
    };

    let records = live.json_lines("csep-archive", &[fixture], None);
    assert!(records.len() > 2);
    for r in &records {
        check("csep-archive output", r, &mut problems);
    }
    let piped: Vec<u8> = records
        .iter()
        .flat_map(|r| format!("{r}\n").into_bytes())
        .collect();
    let summary = live.json_lines("csep-index", &[], Some(piped));
    check("csep-index (stdin) summary", &summary[0], &mut problems);
    let summary = live.json_lines(
        "csep-index",
        &["--file", fixture, "/nonexistent/x.jsonl"],
        None,
    );
    check("csep-index --file summary", &summary[0], &mut problems);
    assert!(summary[0].get("errors").is_some());

    let spool = live.state().join("spool/archive/new");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        spool.join("1.json"),
        serde_json::json!({"payload": {"transcript_path": fixture}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        spool.join("2.json"),
        serde_json::json!({"transcript_path": "/nonexistent/x.jsonl"}).to_string(),
    )
    .unwrap();
    let drain = live.json_lines("csep-index", &["--spool"], None);
    check("csep-index --spool summary", &drain[0], &mut problems);
    assert!(drain[0].get("errors").is_some());

    let query = "lmstudio instead of|apiEndpoint";
    let recall_table = wire
        .examples
        .iter()
        .find(|ex| ex.raw.contains("\"query\"") && ex.raw.contains("\"results\""))
        .and_then(|ex| ex.table)
        .expect("the recall answer's field table");
    // The global scope, the repo scope (the fixture's cwd, which does not exist here and so
    // stands for itself) and --recent: between them every optional field appears.
    for args in [
        vec!["--global"],
        vec!["--cwd", "/home/user/projects/temp/chatbot-ui"],
        vec!["--global", "--recent"],
    ] {
        let out = live
            .cmd("csep-recall")
            .args(&args)
            .args(["--format", "json", query])
            .output()
            .unwrap();
        let answer: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("csep-recall {args:?} --format json: {e}"));
        assert_eq!(answer["status"], "matched", "csep-recall {args:?}");
        let what = format!("csep-recall {args:?} --format json");
        wire.check(&answer, &[recall_table], &what, &mut problems);
    }
    let lines = live.json_lines(
        "csep-recall",
        &["--global", "--format", "jsonl", query],
        None,
    );
    assert!(!lines.is_empty());
    for l in &lines {
        check("csep-recall --format jsonl", l, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_the_umbrella_prints_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let claude_root = fixtures.join("claude/projects");
    let codex_root = fixtures.join("codex/sessions");
    let umbrella_table = wire
        .examples
        .iter()
        .find(|ex| ex.raw.contains("\"command\""))
        .and_then(|ex| ex.table)
        .expect("the umbrella summaries' field table");
    let summary_table = wire.by_type["index_summary"];
    let mut problems = Vec::new();
    // One line, one object, "type" first on the wire (not only after parsing).
    let answer = |args: &[&str], problems: &mut Vec<String>| -> Value {
        let out = live.cmd("csep").args(args).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "csep {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        if !text.starts_with("{\"type\":") {
            problems.push(format!(
                "csep {args:?}: \"type\" is not the first field: {text}"
            ));
        }
        serde_json::from_str(text.trim_end())
            .unwrap_or_else(|e| panic!("csep {args:?}: {e}: {text}"))
    };

    let claude_root = claude_root.to_str().unwrap();
    let codex_root = codex_root.to_str().unwrap();
    let backfills: [&[&str]; 4] = [
        &[
            "recall",
            "sync-claude",
            "--all-history",
            "--format",
            "json",
            "--root",
            claude_root,
        ],
        &[
            "recall",
            "--bootstrap",
            "--all-history",
            "--format",
            "jsonl",
            "--root",
            codex_root,
        ],
        &["session-ingest", "--backfill", "--root", codex_root],
        &[
            "recall",
            "sync",
            "claude",
            "--all-history",
            "--format",
            "json",
            "--root",
            claude_root,
        ],
    ];
    for args in backfills {
        let v = answer(args, &mut problems);
        assert_eq!(v["type"], "index_summary", "csep {args:?}");
        wire.check(
            &v,
            &[summary_table, umbrella_table],
            &format!("csep {args:?}"),
            &mut problems,
        );
    }

    let session_archive = wire.by_type["session_archive"];
    let payload = live.root().join("payload.json");
    std::fs::write(&payload, r#"{"session_id": "x"}"#).unwrap();
    let p = payload.to_str().unwrap();
    let archives: [&[&str]; 3] = [
        &["session-archive", "--transcript-path", fixture],
        &[
            "session-archive",
            "--transcript-path",
            "/nonexistent/x.jsonl",
        ],
        &[
            "session-archive",
            "--from-hook-payload",
            p,
            "--cleanup-payload",
        ],
    ];
    for args in archives {
        let v = answer(args, &mut problems);
        assert_eq!(v["type"], "session_archive", "csep {args:?}");
        wire.check(
            &v,
            &[session_archive],
            &format!("csep {args:?}"),
            &mut problems,
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_forget_prints_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let fixture = fixtures.join(FIXTURE);
    let codex_root = fixtures.join("codex/sessions");
    let mut problems = Vec::new();
    let mut values = Vec::new();
    let state = live.state();
    let summary = live.json_lines(
        "csep-index",
        &[
            "--backfill",
            "codex",
            "--all-history",
            "--root",
            codex_root.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(summary[0]["forgotten_sessions"], 0);
    // A reflection run that quoted the session.
    let run = state.join("runs/20261124T130626Z-43a2f7f9");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("job.json"),
        serde_json::json!({"type": "reflect_job", "job_id": "20261124T130626Z-43a2f7f9", "session_id": FIXTURE_ID}).to_string(),
    )
    .unwrap();
    let gone = live.root().join("rollout-gone.jsonl");
    let forgets: [&[&str]; 4] = [
        &["recall", "forget", FIXTURE_ID],
        &["recall", "forget", "019c9d12-5b7e-7a41-8c33-0d2e6f1a9b77"],
        &["recall", "forget", "--source", gone.to_str().unwrap()],
        &["recall", "forget", "--list"],
    ];
    for args in forgets {
        let mut c = live.cmd("csep");
        c.args(args);
        values.push(printed_record(
            &wire,
            c,
            &format!("csep {args:?}"),
            &mut problems,
        ));
    }
    assert_eq!(values[0]["was_indexed"], true);
    assert_eq!(values[0]["other_copies"][0]["kind"], "reflection_run");
    for args in [&["--forget", "claude:0000"][..], &["--list-forgotten"][..]] {
        let mut c = live.cmd("csep-index");
        c.args(args);
        values.push(printed_record(
            &wire,
            c,
            &format!("csep-index {args:?}"),
            &mut problems,
        ));
    }
    // Every field of the three records is written by some call above; the tombstones are
    // checked inside their answers.
    let tombstones: Vec<Value> = values
        .iter()
        .flat_map(|v| v["tombstones"].as_array().cloned().unwrap_or_default())
        .collect();
    all_fields_seen(
        &wire,
        &["forget_result", "forget_list"],
        &values,
        &mut problems,
    );
    all_fields_seen(&wire, &["forgotten_session"], &tombstones, &mut problems);

    // What the ingest paths print once they meet the forgotten session.
    let fixture = fixture.to_str().unwrap();
    let s = live.json_lines("csep-index", &["--file", fixture], None);
    assert_eq!(s[0]["forgotten_sessions"], 1);
    wire.check(
        &s[0],
        &[wire.by_type["index_summary"]],
        "csep-index --file",
        &mut problems,
    );
    let spool = state.join("spool/archive/new");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        spool.join("1.json"),
        serde_json::json!({"payload": {"transcript_path": fixture}}).to_string(),
    )
    .unwrap();
    let d = live.json_lines("csep-index", &["--spool"], None);
    assert_eq!(d[0]["forgotten_sessions"], 1);
    wire.check(
        &d[0],
        &[wire.by_type["drain_summary"]],
        "csep-index --spool",
        &mut problems,
    );
    let mut c = live.cmd("csep");
    c.args(["session-archive", "--transcript-path", fixture]);
    let a = printed_record(&wire, c, "csep session-archive (forgotten)", &mut problems);
    assert_eq!(a["reason"], "forgotten");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_rebuild_prints_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let codex_root = fixtures.join("codex/sessions");
    let mut problems = Vec::new();
    live.json_lines(
        "csep-index",
        &[
            "--backfill",
            "codex",
            "--all-history",
            "--root",
            codex_root.to_str().unwrap(),
        ],
        None,
    );
    live.json_lines("csep", &["recall", "forget", FIXTURE_ID], None);
    let spool = live.state().join("spool/archive/new");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        spool.join("1.json"),
        serde_json::json!({"payload": {"transcript_path": fixtures.join(FIXTURE)}}).to_string(),
    )
    .unwrap();
    let mut c = live.cmd("csep");
    c.args(["recall", "rebuild"]);
    let healthy = printed_record(&wire, c, "csep recall rebuild (healthy)", &mut problems);
    assert_eq!(healthy["forgotten"], 1, "{healthy}");
    let remembered = healthy["roots"]
        .as_array()
        .and_then(|roots| roots.iter().find(|r| r["exists"] == true))
        .cloned()
        .unwrap_or_default();
    assert!(
        remembered["forgotten_sessions"].as_u64() > Some(0),
        "{healthy}"
    );
    // A damaged one, and none at all.
    std::fs::write(live.state().join("index/recall.sqlite3"), b"not a database").unwrap();
    let mut c = live.cmd("csep-index");
    c.arg("--rebuild");
    let damaged = printed_record(&wire, c, "csep-index --rebuild (damaged)", &mut problems);
    assert_eq!(damaged["was_damaged"], true, "{damaged}");
    all_fields_seen(
        &wire,
        &["rebuild_summary"],
        &[healthy, damaged],
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_csep_show_prints_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    live.backfill("codex", &fixtures.join("codex"));
    live.backfill("claude", &fixtures.join("claude"));
    let mut problems = Vec::new();
    let mut printed = Vec::new();
    let mut check = |what: String, v: Value, problems: &mut Vec<String>| {
        let t = wire
            .typed_table(&v)
            .unwrap_or_else(|| panic!("{what}: printed an object of no documented type: {v}"));
        wire.check(&v, &[t], &what, problems);
        if let Some(m) = v.get("messages").and_then(Value::as_array) {
            printed.extend(m.iter().cloned());
        }
        printed.push(v);
    };
    // A subagent's window names its subagent; `csep show` reads that transcript.
    let recall = live.recall_json(&["--global", "teleporting"]);
    let result = &recall["results"][0];
    let result_table = wire.typed_table(result).expect("the result table");
    wire.check(result, &[result_table], "recall", &mut problems);
    let w = &recall["results"][0]["windows"][0];
    let sub = w["subagent"]
        .as_str()
        .expect("a subagent window")
        .to_string();
    let id = recall["results"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    for args in [
        vec![
            FIXTURE_ID,
            "--message",
            "76",
            "--around",
            "1",
            "--message-chars",
            "120",
        ],
        vec![&id, "--subagent", &sub],
        vec!["00000000-0000-4000-8000-000000000000"],
    ] {
        for format in ["json", "jsonl"] {
            let mut a = vec!["show"];
            a.extend(&args);
            a.extend(["--format", format]);
            if format == "json" {
                let out = live.cmd("csep").args(&a).output().unwrap();
                let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                check(format!("csep {a:?}"), v, &mut problems);
            } else {
                for l in live.json_lines("csep", &a, None) {
                    check(format!("csep {a:?}"), l, &mut problems);
                }
            }
        }
    }
    all_fields_seen(
        &wire,
        &["session_show", "show_message"],
        &printed,
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_import_legacy_prints_now_matches_the_wire_tables() {
    let wire = wire();
    let live = live();
    let legacy_db = live.state().join("session_recall/state.db");
    let question: &[(&str, &str)] = &[("user", "where is the config"), ("assistant", "in ~/.x")];
    common::write_legacy_db(
        &legacy_db,
        &[
            ("019b-0001", "/w", question),
            ("claude:0b1c", "/w", &[("user", "hello")]),
            // No id: the one session that cannot be imported (`errors`).
            ("", "/w", &[("user", "lost")]),
        ],
    );
    let mut problems = Vec::new();
    let mut printed = Vec::new();
    for (bin, args) in [
        ("csep", &["recall", "import-legacy", "--format", "json"][..]),
        ("csep-index", &["--import-legacy"][..]),
    ] {
        let out = live.cmd(bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let what = format!("{bin} {args:?}");
        match wire.typed_table(&v) {
            Some(t) => wire.check(&v, &[t], &what, &mut problems),
            None => problems.push(format!("{what}: no documented type: {v}")),
        }
        assert_eq!(v["error_count"], 1, "{v}");
        printed.push(v);
    }
    assert_eq!(printed[0]["imported_sessions"], 2, "{}", printed[0]);
    assert_eq!(printed[1]["unchanged_sessions"], 2, "{}", printed[1]);
    all_fields_seen(&wire, &["legacy_import_summary"], &printed, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
