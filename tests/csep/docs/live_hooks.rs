//! What the trigger, the hooks and `csep setup`/`uninstall` really print, queue and log,
//! checked against docs/WIRE.md's tables.

use super::wire::*;
use super::*;
use crate::common::{self, copy_dir};
use serde_json::Value;

#[test]
fn what_the_trigger_prints_and_queues_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let tmp = live.root();
    let state = live.state();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let mut problems = Vec::new();
    let index = |path: &str, problems: &mut Vec<String>| -> Value {
        let mut c = live.cmd("csep-index");
        c.args(["--file", path]);
        printed_record(&wire, c, &format!("csep-index --file {path}"), problems)
    };
    index(fixture, &mut problems);

    // A session csep's reflection started: archived with `excluded`, remembered, not indexed.
    let reflection_id = "019ab5c2-7d41-7e30-9a1f-3c2e8d90b417";
    let reflection = tmp.join(format!(
        "sessions/rollout-2026-11-24T10-15-02-{reflection_id}.jsonl"
    ));
    small_rollout(
        &reflection,
        reflection_id,
        "csep-reflection-job: 20261124T101500Z-5e0c2a91\nReview the session below and propose memory for this repository.",
    );
    let reflection = reflection.to_str().unwrap();
    let records = live.json_lines("csep-archive", &[reflection], None);
    for r in &records {
        let t = wire.typed_table(r).expect("a documented record type");
        wire.check(
            r,
            &[t],
            "csep-archive (a reflection session)",
            &mut problems,
        );
    }
    let source = records.last().unwrap();
    assert_eq!(source["excluded"], "reflection_session", "{source}");
    let summary = index(reflection, &mut problems);
    assert_eq!(summary["excluded_sessions"], 1, "{summary}");

    // A session whose human typed high-signal words.
    let keyword_id = "019ab5c2-7d41-7e30-9a1f-3c2e8d90b418";
    let keywords = tmp.join(format!(
        "sessions/rollout-2026-11-24T10-15-02-{keyword_id}.jsonl"
    ));
    small_rollout(
        &keywords,
        keyword_id,
        "From now on, remember to run the release workflow before tagging.",
    );
    let keywords = keywords.to_str().unwrap();
    index(keywords, &mut problems);

    let printed = std::cell::RefCell::new(Vec::new());
    let trigger = |payload: &Value, args: &[&str], problems: &mut Vec<String>| -> Value {
        let mut c = live.cmd("csep-trigger");
        c.args(args).write_stdin(payload.to_string());
        let what = format!("csep-trigger {args:?} < {payload}");
        let d = printed_record(&wire, c, &what, problems);
        round_trip::<csep_lib::trigger::Decision>(
            &d,
            "csep_lib::trigger::Decision",
            &what,
            problems,
        );
        printed.borrow_mut().push(d.clone());
        d
    };
    let stop = serde_json::json!({"session_id": FIXTURE_ID, "transcript_path": fixture, "cwd": "/home/user/projects/temp/chatbot-ui", "hook_event_name": "Stop"});
    let d = trigger(&stop, &["--dry-run"], &mut problems);
    assert_eq!(
        (&d["decision"], &d["dry_run"]),
        (&"queued".into(), &true.into()),
        "{d}"
    );
    let d = trigger(&stop, &[], &mut problems);
    assert_eq!(d["decision"], "queued", "{d}");
    let job_id = d["job_id"]
        .as_str()
        .expect("a queued decision names its job");

    // The job file: pretty-printed, "type" first.
    let job_path = state.join(format!("spool/reflect/new/{job_id}.json"));
    let raw = std::fs::read_to_string(&job_path)
        .unwrap_or_else(|e| panic!("{}: {e}", job_path.display()));
    let what = job_path.display().to_string();
    if !raw.trim_start()[1..].trim_start().starts_with("\"type\"") {
        problems.push(format!("{what}: \"type\" is not the first field"));
    }
    let job: Value = serde_json::from_str(&raw).unwrap();
    match wire.typed_table(&job) {
        Some(t) => wire.check(&job, &[t], &what, &mut problems),
        None => problems.push(format!("{what}: a job of no documented type")),
    }
    round_trip::<csep_lib::trigger::Job>(&job, "csep_lib::trigger::Job", &what, &mut problems);
    printed.borrow_mut().push(job);

    let d = trigger(&stop, &[], &mut problems);
    assert_eq!(
        (&d["decision"], &d["active_job_id"]),
        (&"deferred".into(), &job_id.into()),
        "{d}"
    );
    // A reservation past its time is released, and the decision says so.
    std::fs::write(
        state.join("config.toml"),
        "[session_reflection.trigger]\nactive_job_stale_seconds = 1\n",
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let d = trigger(&stop, &[], &mut problems);
    assert_eq!(d["released_job_id"], job_id, "{d}");
    assert!(d.get("notes").is_some(), "{d}");
    std::fs::remove_file(state.join("config.toml")).unwrap();

    let stop_of = |id: &str, path: &str| serde_json::json!({"session_id": id, "transcript_path": path, "hook_event_name": "Stop"});
    let d = trigger(&stop_of(keyword_id, keywords), &[], &mut problems);
    assert!(d.get("matched_keywords").is_some(), "{d}");
    // As if its job had been rejected just now, having seen every message: it backs off.
    let state_file = state.join("triggers").join(keyword_id).join("state.json");
    let mut s: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    s["active_job_id"] = Value::Null;
    s["backoff_until"] = "2999-01-01T00:00:00.000Z".into();
    s["backoff_through_message_id"] = i64::MAX.into();
    std::fs::write(&state_file, s.to_string()).unwrap();
    let d = trigger(&stop_of(keyword_id, keywords), &[], &mut problems);
    assert_eq!(
        (&d["decision"], &d["backoff_until"]),
        (&"deferred".into(), &"2999-01-01T00:00:00.000Z".into()),
        "{d}"
    );
    let d = trigger(&stop_of(reflection_id, reflection), &[], &mut problems);
    assert_eq!(
        (&d["decision"], &d["reasons"][0]),
        (&"skipped".into(), &"reflection_session".into()),
        "{d}"
    );

    // The decision log holds the same records.
    let log = state
        .join("triggers")
        .join(FIXTURE_ID)
        .join("decisions.jsonl");
    let log = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(log.lines().count() >= 3);
    for (n, line) in log.lines().enumerate() {
        let what = format!("decisions.jsonl:{}", n + 1);
        if !line.starts_with("{\"type\":") {
            problems.push(format!("{what}: \"type\" is not the first field"));
        }
        let v: Value = serde_json::from_str(line).unwrap();
        let t = wire.typed_table(&v).expect("a documented record type");
        wire.check(&v, &[t], &what, &mut problems);
    }
    all_fields_seen(
        &wire,
        &["trigger_decision", "reflect_job"],
        &printed.borrow(),
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_the_hooks_queue_and_log_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let state = live.state();
    let queue = live.archive_queue();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let mut problems = Vec::new();
    // Holding the drainer's lock keeps the drainer each hook starts away from the queue.
    let lock = live.lock_archive_queue();
    let hook = |args: &[&str], stdin: String| -> String {
        let out = live
            .cmd("csep")
            .arg("hook")
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "csep hook {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let said = "the tests pass; the key was sk-proj-Zx81QmV0aLpW3nR7tY5uB2cD4eF6gH8j";
    let stop = serde_json::json!({"session_id": FIXTURE_ID, "turn_id": "t-1", "transcript_path": fixture, "cwd": "/home/user/projects/temp/chatbot-ui", "hook_event_name": "Stop", "model": "gpt-5.1-codex", "stop_hook_active": false, "permission_mode": "default", "agent_id": "a1b2c3", "agent_type": "explorer", "last_assistant_message": said});
    assert_eq!(hook(&["codex"], stop.to_string()), "{\"continue\":true}\n");
    // No session id: queued all the same; the drainer's trigger then fails, and logs it.
    let end = serde_json::json!({"transcript_path": fixture, "hook_event_name": "SessionEnd", "source": "exec", "reason": "other"});
    assert_eq!(hook(&["codex"], end.to_string()), "");
    assert_eq!(hook(&["claude", "Stop"], "not json".into()), "");
    hook(&["codex", "SessionStart"], "{}".into());
    // A cwd that fails its check is dropped, and the log says so.
    hook(
        &["codex", "SessionStart"],
        serde_json::json!({"cwd": "/a\nb", "hook_event_name": "SessionStart"}).to_string(),
    );

    let mut queued: Vec<PathBuf> = std::fs::read_dir(queue.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    queued.sort();
    assert_eq!(queued.len(), 2, "{queued:?}");
    let mut requests = Vec::new();
    for p in &queued {
        let what = p.display().to_string();
        let raw = std::fs::read_to_string(p).unwrap();
        if !raw.starts_with("{\"type\":") || raw.trim_end().contains('\n') {
            problems.push(format!("{what}: not one line with \"type\" first: {raw}"));
        }
        let v: Value = serde_json::from_str(&raw).unwrap();
        match wire.typed_table(&v) {
            Some(t) => wire.check(&v, &[t], &what, &mut problems),
            None => problems.push(format!("{what}: a request of no documented type: {raw}")),
        }
        requests.push(v);
        assert!(
            !raw.contains("sk-proj") && !raw.contains("permission_mode"),
            "{raw}"
        );
    }

    drop(lock);
    live.cmd("csep").arg("drain").assert().success();
    live.wait_drained();
    // A fault keeps a payload queued, and the drainer logs it (`event` `drain`): here a
    // damaged index, as a writer that found it damaged marks it.
    std::fs::write(
        state.join("index/recall.sqlite3.damaged"),
        "quick_check: a test fault\n",
    )
    .unwrap();
    let lock = live.lock_archive_queue();
    hook(&["codex"], stop.to_string());
    drop(lock);
    live.cmd("csep")
        .args(["drain", "--from-hook"])
        .assert()
        .success();
    // The drainer the hook started may have taken the queue instead: wait for its line.
    let log_path = state.join("logs/hook.log");
    for _ in 0..400 {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("\"event\":\"drain\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let log_table = example_table(&wire, "\"tool\": \"csep hook\"");
    let log = std::fs::read_to_string(state.join("logs/hook.log")).unwrap();
    let lines = checked_log_lines(
        &wire,
        log_table,
        &state.join("logs/hook.log"),
        &mut problems,
    );
    let events: BTreeSet<String> = lines
        .iter()
        .map(|v| v["event"].as_str().unwrap_or_default().to_string())
        .collect();
    all_fields_seen(&wire, &["archive_request"], &requests, &mut problems);
    all_fields_seen_in(&wire, log_table, &lines, &mut problems);
    for event in ["SessionStart", "Stop", "SessionEnd", "trigger"] {
        assert!(
            events.contains(event),
            "no {event} line in the hook log:\n{log}"
        );
    }
    assert!(
        log.contains("\"payload_problem\":\"payload is not JSON"),
        "{log}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_setup_and_uninstall_print_now_match_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let tmp = live.root();
    let home = tmp.join("home");
    copy_dir(
        &fixtures.join("codex/sessions"),
        &home.join(".codex/sessions"),
    );
    copy_dir(
        &fixtures.join("claude/projects"),
        &home.join(".claude/projects"),
    );
    let settings = home.join(".claude/settings.json");
    std::fs::write(&settings, r#"{"model": "opus"}"#).unwrap();
    // No codex on PATH: setup installs the hooks and leaves their trust to the user.
    let no_codex = tmp.join("empty-bin");
    std::fs::create_dir_all(&no_codex).unwrap();
    let mut problems = Vec::new();
    let printed = std::cell::RefCell::new(Vec::new());
    let csep = |args: &[&str], problems: &mut Vec<String>| -> Value {
        let mut c = live.cmd("csep");
        c.env("PATH", &no_codex).args(args);
        let v = printed_record(&wire, c, &format!("csep {args:?}"), problems);
        printed.borrow_mut().push(v.clone());
        v
    };

    let s = csep(&["setup", "--dry-run"], &mut problems);
    assert_eq!(s["dry_run"], true, "{s}");
    assert!(s["plan"].as_array().is_some_and(|p| p.len() == 5), "{s}");
    // csep 1.3.10's database in the state dir: setup names it (`legacy`).
    let legacy_db = live.state().join("session_recall/state.db");
    common::write_legacy_db(&legacy_db, &[("019b-0001", "/w", &[("user", "hi")])]);
    // Every other host's default history root, empty: setup backfills each one found.
    for root in [
        ".copilot",
        ".qwen/projects",
        ".factory/sessions",
        ".gemini/tmp",
        ".local/share/opencode",
        ".cursor",
    ] {
        std::fs::create_dir_all(home.join(root)).unwrap();
    }
    // OpenCode's config folder without `plugins/`: setup makes it (the manifest's
    // `created_dirs`) and uninstall takes it away (`removed_dirs`).
    std::fs::create_dir_all(home.join(".config/opencode")).unwrap();
    let s = csep(&["setup"], &mut problems);
    assert_eq!(s["legacy"]["sessions"], 1, "{s}");
    assert_eq!(s["codex"]["trust"], "manual", "{s}");
    assert!(s["claude"].is_object(), "{s}");
    assert!(
        s["backfill"]["codex"].is_object() && s["backfill"]["claude"].is_object(),
        "{s}"
    );

    let manifest = tmp.join("state/install/manifest.json");
    let m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let what = manifest.display().to_string();
    let manifest_table = example_table(&wire, "\"version\": ");
    wire.check(&m, &[manifest_table], &what, &mut problems);
    all_fields_seen_in(
        &wire,
        manifest_table,
        std::slice::from_ref(&m),
        &mut problems,
    );
    round_trip::<csep_lib::setup::Manifest>(&m, "csep_lib::setup::Manifest", &what, &mut problems);

    // One that cannot be read: `legacy.error`.
    std::fs::write(&legacy_db, b"not a database").unwrap();
    let s = csep(&["setup", "--no-backfill", "--no-claude"], &mut problems);
    assert!(s["legacy"]["error"].is_string(), "{s}");
    std::fs::remove_file(&legacy_db).unwrap();
    assert_eq!(
        (&s["claude"], &s["backfill"]),
        (&Value::Null, &serde_json::json!({})),
        "{s}"
    );
    let s = csep(
        &["setup", "--dry-run", "--no-codex", "--no-claude"],
        &mut problems,
    );
    assert_eq!(s["codex_trust"], Value::Null, "{s}");

    // A settings.json the user changed since setup is cleaned, not restored.
    std::fs::write(
        &settings,
        std::fs::read_to_string(&settings)
            .unwrap()
            .replacen('{', "{\"theme\": \"dark\",", 1),
    )
    .unwrap();
    let u = csep(&["uninstall"], &mut problems);
    assert_eq!(u["status"], "uninstalled", "{u}");
    assert!(
        u["changed_since_setup"]
            .as_array()
            .is_some_and(|c| c.len() == 1),
        "{u}"
    );
    let u = csep(&["uninstall"], &mut problems);
    assert_eq!(u["status"], "nothing_to_uninstall", "{u}");

    // The hosts csep added later: each home there, each file broken and OpenCode's plugin
    // path taken by a directory (their `error`, exit 2), then all fixed.
    let broken = [
        ".copilot/settings.json",
        ".qwen/settings.json",
        ".factory/hooks.json",
        ".gemini/settings.json",
        ".cursor/hooks.json",
    ]
    .map(|f| home.join(f));
    for f in &broken {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "{ // not JSON\n}").unwrap();
    }
    let blocker = home.join(".config/opencode/plugins/csep.js");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    let more = ["setup", "--no-backfill", "--no-codex", "--no-claude"];
    let out = live
        .cmd("csep")
        .env("PATH", &no_codex)
        .args(more)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    wire.check(
        &s,
        &[wire.typed_table(&s).unwrap()],
        "csep setup (broken hosts)",
        &mut problems,
    );
    assert!(
        s["gemini"]["error"].is_string() && s["opencode"]["error"].is_string(),
        "{s}"
    );
    printed.borrow_mut().push(s);
    for f in &broken {
        std::fs::remove_file(f).unwrap();
    }
    std::fs::remove_dir_all(&blocker).unwrap();
    let s = csep(&more, &mut problems);
    assert!(
        s["opencode"]["plugin"].is_string() && s["copilot"]["events"].is_array(),
        "{s}"
    );
    let u = csep(&["uninstall"], &mut problems);
    assert_eq!(u["status"], "uninstalled", "{u}");
    all_fields_seen(
        &wire,
        &["setup_summary", "uninstall_summary"],
        &printed.borrow(),
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
