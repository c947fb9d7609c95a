//! Black-box tests of `csep status` on prepared homes: hooks installed or not, trusted or not,
//! current or not; a broken config; a full and a stuck spool; a failed archive; the index's
//! figures, errors and missing transcripts; Claude Code's retention; the trigger's latest
//! session; and that the status changes nothing on disk, not even SQLite's side files.

use crate::common;

use common::{codex_path, codex_rollout, write_lines, Env};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Hosts' dirs at `codex/` and `claude/`, and no codex on PATH.
fn env() -> Env {
    Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build()
}

impl Env {
    fn status(&self) -> Value {
        let out = self.cmd("csep").arg("status").output().unwrap();
        common::assert_ok(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("{\"type\":\"csep_status\","), "{text}");
        assert_eq!(text.lines().count(), 1);
        serde_json::from_str(&text).unwrap()
    }
    fn setup_both_hosts(&self) {
        self.cmd("csep")
            .args(["setup", "--no-backfill", "--codex-home"])
            .arg(self.path("codex"))
            .arg("--claude-dir")
            .arg(self.path("claude"))
            .assert()
            .success();
    }
}

fn warnings(s: &Value) -> String {
    s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sets a file's modification time `secs` seconds into the past.
fn age(path: &Path, secs: u64) {
    let t = SystemTime::now() - std::time::Duration::from_secs(secs);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// The hash Codex stores for a trusted handler, computed here from the harness README's
/// description (independently of csep's code).
fn codex_hash(event: &str, command: &str, timeout: u64) -> String {
    let identity = serde_json::json!({
        "event_name": event,
        "hooks": [{"async": false, "command": command, "timeout": timeout, "type": "command"}],
    });
    // Keys sorted (the json! map may keep insertion order), compact separators.
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: BTreeMap<_, _> = m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
                Value::Object(b.into_iter().collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let text = serde_json::to_string(&sorted(&identity)).unwrap();
    format!("sha256:{:x}", Sha256::digest(text.as_bytes()))
}

/// Writes the trust entries `codex app-server` would write for csep's handlers.
fn trust(env: &Env) {
    let hooks_json = env.path("codex/hooks.json");
    let doc: Value = serde_json::from_slice(&fs::read(&hooks_json).unwrap()).unwrap();
    let mut toml = fs::read_to_string(env.path("codex/config.toml")).unwrap_or_default();
    for (event, snake) in [
        ("SessionStart", "session_start"),
        ("Stop", "stop"),
        ("SessionEnd", "session_end"),
    ] {
        for (g, group) in doc["hooks"][event].as_array().unwrap().iter().enumerate() {
            for (h, handler) in group["hooks"].as_array().unwrap().iter().enumerate() {
                let hash = codex_hash(
                    snake,
                    handler["command"].as_str().unwrap(),
                    handler["timeout"].as_u64().unwrap(),
                );
                toml.push_str(&format!(
                    "\n[hooks.state.\"{}:{snake}:{g}:{h}\"]\ntrusted_hash = \"{hash}\"\n",
                    hooks_json.display()
                ));
            }
        }
    }
    fs::write(env.path("codex/config.toml"), toml).unwrap();
}

#[test]
fn a_home_without_hosts_warns_about_nothing() {
    let env = env();
    let s = env.status();
    // Not even the provider: with no model here, `auto` reviews with the builtin rules.
    assert_eq!(s["warnings"], serde_json::json!([]), "{s}");
    assert_eq!(s["session_reflection"]["provider"], "builtin", "{s}");
    assert_eq!(s["hooks"]["codex"]["home_exists"], false);
    assert_eq!(s["hooks"]["codex"]["installed"], false);
    assert_eq!(s["session_recall"]["db_exists"], false);
    assert_eq!(s["spool"]["archive"]["new"], 0);
    assert!(s["spool"]["archive"]["oldest_age_seconds"].is_null());
    assert_eq!(s["logs"]["exists"], false);
    assert!(s["trigger"]["latest_state"].is_null());
    // The source tree's plugin bundle (what a checkout has).
    assert_eq!(s["plugin_bundle"]["found"], true, "{}", s["plugin_bundle"]);
    assert_eq!(
        s["plugin_bundle"]["events_declared"],
        serde_json::json!(["SessionStart", "Stop", "SessionEnd"])
    );
    assert_eq!(
        s["plugin_bundle"]["skills"],
        serde_json::json!(["csep-session-recall"])
    );
    assert!(!env.state().exists(), "csep status created the state dir");
    // 1.3.10's set-up check: nothing is set up.
    assert_eq!(
        s["plugin_hooks"],
        serde_json::json!({"manifest_exists": false, "session_start_declared": false, "stop_declared": false})
    );
}

#[test]
fn hosts_without_csep_hooks_are_reported_with_what_to_run() {
    let env = env();
    fs::create_dir_all(env.path("codex")).unwrap();
    fs::create_dir_all(env.path("claude")).unwrap();
    let s = env.status();
    let w = warnings(&s);
    assert!(
        w.contains("Codex: csep's SessionStart, Stop, SessionEnd hooks are not installed")
            && w.contains(
                "Claude Code: csep's SessionStart, Stop, SessionEnd hooks are not installed"
            )
            && w.contains("csep setup"),
        "{w}"
    );
    assert_eq!(s["hooks"]["codex"]["installed"], false);
    assert_eq!(s["hooks"]["claude"]["installed"], false);
}

#[test]
fn installed_hooks_are_current_and_codex_trust_is_checked_per_hook() {
    let env = env();
    env.config(
        "[session_reflection]\nbackend = \"command\"\ncommand = [\"sh\", \"-c\", \"true\"]\n",
    );
    env.setup_both_hosts();
    let s = env.status();
    let codex = &s["hooks"]["codex"];
    assert_eq!(
        (&codex["installed"], &codex["current"], &codex["trusted"]),
        (&true.into(), &true.into(), &false.into()),
        "{codex}"
    );
    assert_eq!(codex["features_hooks"], true, "{codex}");
    assert!(codex["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["trust"] == "untrusted"));
    let claude = &s["hooks"]["claude"];
    assert_eq!(
        (&claude["installed"], &claude["current"]),
        (&true.into(), &true.into()),
        "{claude}"
    );
    // 1.3.10's set-up check, which its README tells users to look at, holds.
    assert_eq!(
        s["plugin_hooks"],
        serde_json::json!({"manifest_exists": true, "session_start_declared": true, "stop_declared": true})
    );
    assert!(claude.get("trusted").is_none());
    let w = warnings(&s);
    assert!(
        w.contains("Codex: csep's SessionStart, Stop, SessionEnd hooks are not trusted"),
        "{w}"
    );
    assert!(!w.contains("Claude Code"), "{w}");

    // Trusted as `codex app-server` would store it: no warning left.
    trust(&env);
    let s = env.status();
    assert_eq!(
        s["hooks"]["codex"]["trusted"], true,
        "{}",
        s["hooks"]["codex"]
    );
    assert_eq!(s["warnings"], serde_json::json!([]), "{s}");

    // A handler edited after it was trusted: Codex skips it; it is not current either.
    let path = env.path("codex/hooks.json");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replacen("csep-hook.sh' codex", "csep-hook.sh'  codex", 1),
    )
    .unwrap();
    let s = env.status();
    let events = s["hooks"]["codex"]["events"].as_array().unwrap();
    assert_eq!(events[0]["trust"], "changed", "{}", s["hooks"]["codex"]);
    assert_eq!(events[0]["current"], false);
    assert_eq!(events[1]["trust"], "trusted");
    let w = warnings(&s);
    assert!(
        w.contains("Codex: csep's SessionStart hook is not trusted")
            && w.contains("do not run this csep"),
        "{w}"
    );

    // A hook script that is not the one this csep ships: nothing is current.
    fs::write(env.state().join("bin/csep-hook.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    let s = env.status();
    assert_eq!(s["hooks"]["claude"]["current"], false);
    assert_eq!(s["plugin_hooks"]["session_start_declared"], false, "{s}");
    assert_eq!(s["plugin_hooks"]["stop_declared"], false, "{s}");
    assert_eq!(s["plugin_hooks"]["manifest_exists"], true, "{s}");

    // [features] hooks = false.
    let config = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    fs::write(
        env.path("codex/config.toml"),
        config.replace("hooks = true", "hooks = false"),
    )
    .unwrap();
    let s = env.status();
    assert_eq!(s["hooks"]["codex"]["features_hooks"], false);
    assert!(warnings(&s).contains("[features] hooks = false"));
}

#[test]
fn a_broken_config_and_unreadable_host_files_are_reported_in_place() {
    let env = env();
    env.config("[session_reflection\nenabled = ");
    fs::create_dir_all(env.path("claude")).unwrap();
    fs::write(env.path("claude/settings.json"), "{ not json").unwrap();
    let s = env.status();
    assert_eq!(s["config"]["exists"], true);
    assert_eq!(s["config"]["parsed"], false, "{}", s["config"]);
    let w = warnings(&s);
    assert!(
        w.contains("config: ") && w.contains("not valid TOML"),
        "{w}"
    );
    assert!(
        s["hooks"]["claude"]["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{}",
        s["hooks"]["claude"]
    );
    assert!(
        w.contains("Claude Code: ") && w.contains("settings.json: not valid JSON"),
        "{w}"
    );
}

#[test]
fn a_full_and_stuck_spool_and_failed_payloads_are_reported() {
    let env = env();
    let q = env.state().join("spool/archive");
    for d in ["new", "cur", "failed"] {
        fs::create_dir_all(q.join(d)).unwrap();
    }
    for n in 0..5 {
        let p = q.join(format!("new/item-{n}.json"));
        fs::write(&p, "{}").unwrap();
        age(&p, 60 * (20 + n));
    }
    fs::write(q.join("failed/bad.json"), "{}").unwrap();
    let r = env.state().join("spool/reflect");
    fs::create_dir_all(r.join("done")).unwrap();
    fs::write(r.join("done/20261101T100000Z-aaaaaaaa.json"), "{}").unwrap();
    let s = env.status();
    let a = &s["spool"]["archive"];
    assert_eq!(
        (a["new"].as_u64(), a["cur"].as_u64(), a["failed"].as_u64()),
        (Some(5), Some(0), Some(1)),
        "{a}"
    );
    let oldest = a["oldest_age_seconds"].as_u64().unwrap();
    assert!((24 * 60..25 * 60).contains(&oldest), "{oldest}");
    assert_eq!(a["locked"], false);
    assert!(a.get("done").is_none());
    assert_eq!(s["spool"]["reflect"]["done"], 1);
    let w = warnings(&s);
    assert!(w.contains("1 hook payload failed to archive"), "{w}");
    assert!(
        w.contains("5 items queued") && w.contains("for 24 minutes") && w.contains("csep drain"),
        "{w}"
    );

    // A drainer at work: the queue is not stuck.
    let _lock = env.lock_archive_queue();
    let s = env.status();
    assert_eq!(s["spool"]["archive"]["locked"], true);
    assert!(!warnings(&s).contains("queued"), "{}", warnings(&s));
}

#[test]
fn the_index_figures_errors_and_missing_transcripts() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = env();
    let codex = env.path("codex/sessions");
    let claude = env.path("claude/projects");
    common::copy_dir(&fixtures.join("codex/sessions"), &codex);
    common::copy_dir(&fixtures.join("claude/projects"), &claude);
    env.backfill("codex", &codex);
    env.backfill("claude", &claude);
    let broken = env
        .path("elsewhere/rollout-2026-01-01T00-00-00-00000000-0000-0000-0000-00000000dead.jsonl");
    fs::create_dir_all(broken.parent().unwrap()).unwrap();
    fs::write(&broken, b"\x00\x01 not a transcript\n").unwrap();
    env.cmd("csep-index")
        .arg("--file")
        .arg(&broken)
        .assert()
        .code(2);
    let s = env.status();
    let r = &s["session_recall"];
    let sessions = env.sql_count("SELECT COUNT(*) FROM sessions");
    let messages = env.sql_count("SELECT COUNT(*) FROM messages");
    assert_eq!(r["session_count"], sessions, "{r}");
    assert_eq!(r["message_count"], messages, "{r}");
    assert_eq!(
        r["sessions_by_agent"]["codex"].as_i64().unwrap()
            + r["sessions_by_agent"]["claude"].as_i64().unwrap(),
        sessions
    );
    for agent in ["codex", "claude"] {
        let n = env.sql_count(&format!(
            "SELECT COUNT(*) FROM messages m JOIN sessions s ON s.id = m.session_rowid WHERE s.agent = '{agent}'"
        ));
        assert_eq!(r["messages_by_agent"][agent], n, "{agent}: {r}");
    }
    assert_eq!(
        r["source_count"],
        env.sql_count("SELECT COUNT(*) FROM sources")
    );
    assert!(r["size_bytes"].as_u64().unwrap() > 0);
    assert_eq!(r["ingest_error_count"], 1, "{r}");
    assert!(
        r["latest_error"]["path"]
            .as_str()
            .unwrap()
            .ends_with("dead.jsonl"),
        "{r}"
    );
    assert_eq!(r["missing_source_count"], 0);
    assert_eq!(r["latest_ingest_run"]["mode"], "files", "{r}");
    assert!(r["latest_ingest_run"]["elapsed_ms"].is_u64(), "{r}");
    assert!(r["latest_ingest_run"]["summary"].is_object(), "{r}");
    assert!(
        warnings(&s).contains("1 transcript could not be read"),
        "{}",
        warnings(&s)
    );

    // Claude Code cleaned one up: still searchable, shown as missing, not a warning.
    let gone = common::walk(&claude)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    fs::remove_file(&gone).unwrap();
    let s = env.status();
    assert_eq!(s["session_recall"]["missing_source_count"], 1);
    assert_eq!(
        s["session_recall"]["missing_source_examples"][0],
        fs::canonicalize(claude.parent().unwrap())
            .unwrap()
            .join("projects")
            .join(gone.strip_prefix(&claude).unwrap())
            .display()
            .to_string()
    );
}

#[test]
fn claude_transcripts_near_their_cleanup_and_not_archived_are_a_warning() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = env();
    let claude = env.path("claude/projects");
    common::copy_dir(&fixtures.join("claude/projects"), &claude);
    fs::write(
        env.path("claude/settings.json"),
        r#"{"cleanupPeriodDays": 10}"#,
    )
    .unwrap();
    let files: Vec<PathBuf> = common::walk(&claude)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert!(files.len() >= 2);
    age(&files[0], 8 * 86_400);
    let s = env.status();
    let c = &s["claude_retention"];
    assert_eq!(
        (&c["cleanup_period_days"], &c["cleanup_period_source"]),
        (&10.into(), &"settings".into())
    );
    assert_eq!(c["transcripts"], files.len() as u64, "{c}");
    assert_eq!(c["not_archived"], files.len() as u64, "{c}");
    assert_eq!(c["at_risk"], 1, "{c}");
    assert_eq!(c["oldest_not_archived_age_days"], 8);
    assert!(
        warnings(&s).contains("Claude Code deletes transcripts after 10 days")
            && warnings(&s).contains("csep recall sync-claude"),
        "{}",
        warnings(&s)
    );
    env.backfill("claude", &claude);
    let s = env.status();
    assert_eq!(
        s["claude_retention"]["not_archived"], 0,
        "{}",
        s["claude_retention"]
    );
    assert_eq!(s["claude_retention"]["at_risk"], 0);
    assert!(
        !warnings(&s).contains("Claude Code deletes"),
        "{}",
        warnings(&s)
    );
}

#[test]
fn the_triggers_latest_session_and_the_logs() {
    let env = env();
    let id = "019a0000-0000-7000-8000-00000000s7a7";
    let path = codex_path(&env.path("codex/sessions"), id);
    write_lines(
        &path,
        &codex_rollout(
            id,
            "/work/app",
            "remember: the tests need make db-up",
            "ok",
            "Done.",
        ),
    );
    env.cmd("csep-index")
        .arg("--file")
        .arg(&path)
        .assert()
        .success();
    env.cmd("csep")
        .args(["hook", "codex"])
        .write_stdin(
            serde_json::json!({"session_id": id, "transcript_path": path, "cwd": "/work/app", "hook_event_name": "Stop"})
                .to_string(),
        )
        .assert()
        .success();
    env.wait_drained();
    let s = env.status();
    let t = &s["trigger"];
    assert_eq!(t["session_count"], 1, "{t}");
    assert_eq!(t["latest_state"]["session_id"], id, "{t}");
    assert!(
        t["latest_state"]["stops_since_memory_review"].is_u64(),
        "{t}"
    );
    assert!(t["latest_state"].get("high_signal").is_none());
    assert_eq!(t["latest_decision"]["type"], "trigger_decision", "{t}");
    assert_eq!(t["latest_decision"]["session_id"], id, "{t}");
    let l = &s["logs"];
    assert_eq!(l["exists"], true);
    assert!(
        l["files"].as_u64().unwrap() >= 1 && l["size_bytes"].as_u64().unwrap() > 0,
        "{l}"
    );
    assert_eq!(l["retention_days"], 14);
}

#[test]
fn status_changes_nothing_on_disk_even_beside_the_index() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = env();
    env.setup_both_hosts();
    let codex = env.path("codex/sessions");
    common::copy_dir(&fixtures.join("codex/sessions"), &codex);
    env.backfill("codex", &codex);
    let q = env.state().join("spool/archive/new");
    fs::create_dir_all(&q).unwrap();
    fs::write(q.join("x.json"), "{}").unwrap();
    env.seed_memory(Path::new("/work/app"), "# Memory\n- one\n");

    // As a writer left it (WAL files there), then with no side files at all.
    let index = env.state().join("index");
    for pass in 0..2 {
        if pass == 1 {
            let conn = rusqlite::Connection::open(env.db()).unwrap();
            conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
                .unwrap();
            drop(conn);
            for side in ["recall.sqlite3-wal", "recall.sqlite3-shm"] {
                let _ = fs::remove_file(index.join(side));
            }
        }
        let before = common::disk_state(env.root());
        let s = env.status();
        assert!(
            s["session_recall"]["session_count"].as_u64().unwrap() > 0,
            "{}",
            s["session_recall"]
        );
        assert!(
            s["session_recall"]["error"].is_null(),
            "{}",
            s["session_recall"]
        );
        let changed = common::changed_paths(&before, &common::disk_state(env.root()));
        assert!(
            changed.is_empty(),
            "pass {pass}: csep status changed {changed:?}"
        );
    }
}
