//! Black-box tests of the hooks of the hosts csep added after Codex and Claude Code, fed the
//! stdin payloads the real CLIs sent (`../shared/fixtures/hosts/<host>/generated/
//! hook-payloads.jsonl`; Cursor's, which no CLI here could send, are hand-written in
//! tests/fixtures/hosts/cursor/): SessionStart answers in exactly the host's shape with the
//! repo's memory, the archive events queue one request naming the transcript and the session,
//! other events and garbage get nothing a host would reject; the drainer waits for a Copilot
//! run's events that arrive after its hook. OpenCode's plugin is run with `node` against a
//! fake OpenCode.

use crate::common;

use common::{git_repo, read_json, shared_fixtures, Env, HOOK_SCRIPT};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// (host, its SessionStart event, its archive events) for the hosts with command hooks.
const HOSTS: &[(&str, &str, &[&str])] = &[
    ("copilot", "sessionStart", &["agentStop", "sessionEnd"]),
    ("qwen", "SessionStart", &["Stop"]),
    ("droid", "SessionStart", &["Stop", "SessionEnd"]),
    ("gemini", "SessionStart", &["AfterAgent", "SessionEnd"]),
    ("cursor", "sessionStart", &["stop", "sessionEnd"]),
];

const MARKER: &str = "HOSTS-MEMORY-MARKER: run the linter before committing";

/// The recorded `(event, stdin)` pairs of `host`; `None` when ../shared is absent.
fn payloads(host: &str) -> Option<Vec<(String, Value)>> {
    let file = if host == "cursor" {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hosts/cursor/hook-payloads.jsonl")
    } else {
        shared_fixtures()?.join(format!("hosts/{host}/generated/hook-payloads.jsonl"))
    };
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["event"].as_str().unwrap().to_string(), v["stdin"].clone())
            })
            .collect(),
    )
}

impl Env {
    /// The hook script as `csep setup` has the host run it: `csep-hook.sh HOST EVENT`.
    fn host_hook(
        &self,
        host: &str,
        event: &str,
        stdin: impl Into<Vec<u8>>,
    ) -> std::process::Output {
        self.command("sh")
            .arg(HOOK_SCRIPT)
            .args([host, event])
            .env("CSEP_BIN", assert_cmd::cargo::cargo_bin("csep"))
            .write_stdin(stdin.into())
            .output()
            .unwrap()
    }
    /// The requests waiting in the archive queue.
    fn queued(&self) -> Vec<Value> {
        let dir = self.archive_queue().join("new");
        let mut v: Vec<Value> = fs::read_dir(&dir)
            .map(|rd| rd.flatten().map(|e| read_json(&e.path())).collect())
            .unwrap_or_default();
        v.sort_by_key(|r| r["received_ms"].as_i64());
        v
    }
    fn clear_queue(&self) {
        let _ = fs::remove_dir_all(self.archive_queue().join("new"));
    }
}

/// The context in a SessionStart answer, checked to be exactly `host`'s shape.
fn context_of(host: &str, stdout: &[u8]) -> String {
    let v: Value = serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("{host}: {e}: {}", String::from_utf8_lossy(stdout)));
    let o = v.as_object().unwrap();
    let keys: Vec<&str> = o.keys().map(String::as_str).collect();
    match host {
        "copilot" | "opencode" => {
            assert_eq!(keys, ["additionalContext"], "{host}");
            o["additionalContext"].as_str().unwrap().to_string()
        }
        "cursor" => {
            assert_eq!(keys, ["additional_context"], "{host}");
            o["additional_context"].as_str().unwrap().to_string()
        }
        _ => {
            assert_eq!(keys, ["hookSpecificOutput"], "{host}");
            let inner = &o["hookSpecificOutput"];
            assert_eq!(inner["hookEventName"], "SessionStart", "{host}");
            assert_eq!(inner.as_object().unwrap().len(), 2, "{host}");
            inner["additionalContext"].as_str().unwrap().to_string()
        }
    }
}

/// The recorded payload with `cwd` (and Cursor's `workspace_roots`) pointing at `repo`.
fn in_repo(mut stdin: Value, repo: &Path) -> Value {
    let repo = repo.to_str().unwrap();
    if stdin.get("cwd").is_some() {
        stdin["cwd"] = repo.into();
    }
    if stdin.get("workspace_roots").is_some() {
        stdin["workspace_roots"] = json!([repo]);
    }
    stdin
}

#[test]
fn each_hosts_recorded_session_start_is_answered_in_its_own_shape_with_the_repos_memory() {
    let env = Env::new();
    let repo = env.path("repo");
    git_repo(&repo);
    let repo = repo.canonicalize().unwrap();
    env.seed_memory(&repo, &format!("- {MARKER}\n"));
    for (host, start, _) in HOSTS {
        let Some(recorded) = payloads(host) else {
            return;
        };
        let starts: Vec<&Value> = recorded
            .iter()
            .filter(|(e, _)| e == start)
            .map(|(_, s)| s)
            .collect();
        assert!(!starts.is_empty(), "{host}: no {start} payload recorded");
        for stdin in starts {
            let out = env.host_hook(host, start, in_repo(stdin.clone(), &repo).to_string());
            assert_eq!(out.status.code(), Some(0), "{host}");
            let ctx = context_of(host, &out.stdout);
            assert!(ctx.contains(MARKER), "{host}: no memory in {ctx}");
            assert!(ctx.contains("csep recall"), "{host}: no recall policy");
        }
    }
    assert!(env.queued().is_empty(), "SessionStart queues nothing");
}

#[test]
fn each_hosts_archive_events_queue_one_request_with_its_transcript_and_session_id() {
    let env = Env::new();
    // Held as a running drainer holds it: what the hooks queue stays in new/ to be read.
    let _lock = env.lock_archive_queue();
    for (host, _, archive_events) in HOSTS {
        let Some(recorded) = payloads(host) else {
            return;
        };
        for (event, stdin) in recorded
            .iter()
            .filter(|(e, _)| archive_events.contains(&e.as_str()))
        {
            env.clear_queue();
            let raw_id = stdin
                .get("session_id")
                .or_else(|| stdin.get("sessionId"))
                .or_else(|| stdin.get("conversation_id"))
                .and_then(Value::as_str)
                .unwrap();
            // Copilot's sessionEnd names no transcript: the hook finds it in $COPILOT_HOME.
            let copilot_events = env.path(&format!(
                "home/.copilot/session-state/{raw_id}/events.jsonl"
            ));
            // Cursor's CLI sends a null path: the newest transcript of the conversation.
            let cursor_transcript = env.path(&format!(
                "home/.cursor/projects/workspace-demo/agent-transcripts/{raw_id}.jsonl"
            ));
            for p in [&copilot_events, &cursor_transcript] {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(p, "{}\n").unwrap();
            }
            let out = env.host_hook(host, event, stdin.to_string());
            assert_eq!(out.status.code(), Some(0), "{host} {event}");
            assert!(
                out.stdout.is_empty(),
                "{host} {event}: printed {:?}",
                out.stdout
            );
            let queued = env.queued();
            assert_eq!(queued.len(), 1, "{host} {event}: {queued:?}");
            let r = &queued[0];
            assert_eq!(r["type"], "archive_request");
            assert_eq!(r["agent"], *host);
            let want_event = if event.eq_ignore_ascii_case("sessionEnd") {
                "SessionEnd"
            } else {
                "Stop"
            };
            assert_eq!(r["event"], want_event, "{host} {event}");
            assert_eq!(r["payload"]["session_id"], format!("{host}:{raw_id}"));
            let given = stdin
                .get("transcript_path")
                .or_else(|| stdin.get("transcriptPath"))
                .and_then(Value::as_str);
            let want_path = match (given, *host) {
                (Some(p), _) => PathBuf::from(p),
                (None, "copilot") => copilot_events.clone(),
                (None, "cursor") => cursor_transcript.clone(),
                (None, _) => panic!("{host} {event}: no transcript path recorded"),
            };
            assert_eq!(
                r["payload"]["transcript_path"],
                want_path.to_str().unwrap(),
                "{host} {event}"
            );
            // The spool never holds conversation text (Gemini's prompt_response, Qwen's
            // last_assistant_message) nor Cursor's user_email.
            let bytes = serde_json::to_string(r).unwrap();
            for text in ["csep-mock-marker", "CSEP-INJECT-MARKER", "example.invalid"] {
                assert!(!bytes.contains(text), "{host} {event}: {text} in {bytes}");
            }
        }
    }
}

#[test]
fn events_csep_does_not_hook_and_garbage_stdin_get_nothing_a_host_would_reject() {
    let env = Env::new();
    let _lock = env.lock_archive_queue();
    for (host, start, archive_events) in HOSTS {
        let Some(recorded) = payloads(host) else {
            return;
        };
        // Tool and prompt events (wired to csep by a user, say) answer nothing, queue nothing.
        for (event, stdin) in recorded
            .iter()
            .filter(|(e, _)| e != start && !archive_events.contains(&e.as_str()))
        {
            let out = env.host_hook(host, event, stdin.to_string());
            assert_eq!(out.status.code(), Some(0), "{host} {event}");
            assert!(out.stdout.is_empty(), "{host} {event}");
        }
        for garbage in [
            &b""[..],
            b"\xff\xfe{not json",
            b"[1,2]",
            b"{\"sessionId\": 7, \"transcript_path\": \"../x\"}",
        ] {
            let out = env.host_hook(host, start, garbage);
            assert_eq!(out.status.code(), Some(0), "{host}");
            context_of(host, &out.stdout);
            for event in *archive_events {
                let out = env.host_hook(host, event, garbage);
                assert_eq!(out.status.code(), Some(0), "{host} {event}");
                assert!(out.stdout.is_empty(), "{host} {event}");
            }
        }
    }
    // Nothing with a usable path or id was queued from garbage.
    for r in env.queued() {
        assert!(r["payload"].get("transcript_path").is_none(), "{r}");
    }
}

#[test]
fn opencode_plugin_appends_csep_context_once_per_session_and_archives_on_idle() {
    let env = Env::new();
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("node is needed to run OpenCode's plugin");
    }
    let repo = env.path("repo");
    git_repo(&repo);
    let repo = repo.canonicalize().unwrap();
    env.seed_memory(&repo, &format!("- {MARKER}\n"));
    fs::create_dir_all(env.path("home/.config/opencode")).unwrap();
    let out = env
        .cmd("csep")
        .args([
            "setup",
            "--no-backfill",
            "--no-codex",
            "--no-claude",
            "--no-mcp",
        ])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let installed = env.path("home/.config/opencode/plugins/csep.js");
    // Node 20 loads ES modules by extension; OpenCode (Bun) takes the .js as it is.
    let module = env.path("csep-plugin.mjs");
    fs::copy(&installed, &module).unwrap();
    let _lock = env.lock_archive_queue();
    let driver = format!(
        r#"
const {{ CsepPlugin }} = await import({module});
const hooks = await CsepPlugin({{ directory: {repo}, worktree: {repo} }});
const results = [];
for (const call of ["title", "turn 1", "turn 2"]) {{
  const output = {{ system: ["You are OpenCode."] }};
  await hooks["experimental.chat.system.transform"]({{ sessionID: "ses_plugin1", model: {{}} }}, output);
  results.push(output.system);
}}
await hooks.event({{ event: {{ type: "session.updated", properties: {{ sessionID: "ses_plugin1" }} }} }});
await hooks.event({{ event: {{ type: "session.idle", properties: {{ sessionID: "ses_plugin1" }} }} }});
await hooks.event({{}});
await hooks.event({{ event: null }});
console.log(JSON.stringify(results));
"#,
        module = json!(module.to_str().unwrap()),
        repo = json!(repo.to_str().unwrap()),
    );
    let out = env
        .command("node")
        .args(["--input-type=module", "-e", &driver])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let results: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), 3);
    for system in &results {
        assert_eq!(system.len(), 2, "{system:?}");
        assert_eq!(system[0], "You are OpenCode.");
        assert!(system[1].contains(MARKER), "{}", system[1]);
    }
    // One `csep hook opencode SessionStart` for the three model calls of the session.
    let log = fs::read_to_string(env.state().join("logs/hook.log")).unwrap();
    let starts = log
        .lines()
        .filter(|l| {
            l.contains("\"agent\":\"opencode\"") && l.contains("\"event\":\"SessionStart\"")
        })
        .count();
    assert_eq!(starts, 1, "{log}");
    // The idle event's Stop runs detached: wait for its request to land (never timed).
    let deadline = std::time::Instant::now() + common::DRAIN_TIMEOUT;
    while env.queued().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let queued = env.queued();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["agent"], "opencode");
    assert_eq!(queued[0]["event"], "Stop");
    assert_eq!(queued[0]["payload"]["session_id"], "opencode:ses_plugin1");
    assert_eq!(queued[0]["payload"]["cwd"], repo.to_str().unwrap());
    assert!(queued[0]["payload"].get("transcript_path").is_none());
}

#[test]
fn opencode_plugin_never_throws_into_opencode_when_csep_is_missing() {
    let env = Env::new();
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin/opencode/csep.js");
    let module = env.path("csep-plugin.mjs");
    let text = fs::read_to_string(&plugin).unwrap().replace(
        "const CSEP_BIN = \"csep\";",
        "const CSEP_BIN = \"/nonexistent/csep\";",
    );
    fs::write(&module, text).unwrap();
    let driver = format!(
        r#"
const {{ CsepPlugin }} = await import({module});
const hooks = await CsepPlugin(undefined);
const output = {{ system: ["base"] }};
await hooks["experimental.chat.system.transform"](undefined, output);
await hooks["experimental.chat.system.transform"]({{ sessionID: "s" }}, {{}});
await hooks.event({{ event: {{ type: "session.idle", properties: {{ sessionID: "s" }} }} }});
console.log(JSON.stringify(output.system));
"#,
        module = json!(module.to_str().unwrap()),
    );
    let out = env
        .command("node")
        .args(["--input-type=module", "-e", &driver])
        .output()
        .unwrap();
    common::assert_ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#"["base"]"#);
}

#[test]
fn an_opencode_stop_drains_without_a_transcript_path() {
    let env = Env::new();
    let Some(fixtures) = shared_fixtures() else {
        return;
    };
    // OpenCode's store where the drainer looks for it ($XDG_DATA_HOME unset: ~/.local/share).
    let data = env.path("home/.local/share/opencode");
    fs::create_dir_all(&data).unwrap();
    fs::copy(
        fixtures.join("hosts/opencode/generated/opencode.db"),
        data.join("opencode.db"),
    )
    .unwrap();
    let out = env
        .cmd("csep")
        .args(["hook", "opencode", "Stop"])
        .write_stdin(
            json!({"session_id": "ses_db00e4af7ffeTIabQqeCbxUCS3", "cwd": env.root()}).to_string(),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    env.wait_drained();
    let failed = env.archive_queue().join("failed");
    let left: Vec<_> = fs::read_dir(&failed)
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "an OpenCode request failed: {left:?}");
    // The drainer read OpenCode's store: the session is in the index under its key.
    assert_eq!(
        env.sql_count("SELECT count(*) FROM sessions WHERE session_id = 'opencode:ses_db00e4af7ffeTIabQqeCbxUCS3'"),
        1
    );
    // Only that session: the hook named it in the store (`opencode.db#ses_…`), so the other
    // session of the store waits for a backfill instead of being read on every Stop.
    assert_eq!(
        env.sql_count("SELECT count(*) FROM sessions WHERE agent = 'opencode'"),
        1
    );
}

/// A host that writes after its hook: runs `csep hook HOST EVENT` with `stdin`, and `after`
/// the hook has returned appends `later()` to `transcript`; then, once the queue is drained,
/// how many indexed messages hold `needle`.
fn count_after_late_write(
    env: &Env,
    hook: [&str; 2],
    stdin: Value,
    transcript: &Path,
    after: std::time::Duration,
    later: impl FnOnce() -> Vec<Value>,
    needle: &str,
) -> i64 {
    let out = env
        .cmd("csep")
        .arg("hook")
        .args(hook)
        .write_stdin(stdin.to_string())
        .output()
        .unwrap();
    common::assert_ok(&out);
    std::thread::sleep(after);
    common::append_lines(transcript, &later());
    env.wait_drained();
    env.sql_count(&format!(
        "SELECT count(*) FROM messages WHERE text LIKE '%{needle}%'"
    ))
}

/// Copilot CLI 1.0.102 writes a resumed run's events to `events.jsonl` only as it shuts down,
/// after its `sessionEnd` hook has returned (the real CLI's e2e test lost the second prompt's
/// answer whenever the drainer was quicker). The drainer waits for that run's
/// `session.shutdown` before it reads, so the run's turn is indexed on this SessionEnd.
#[test]
fn a_copilot_session_end_waits_for_the_runs_events_to_be_written() {
    use csep_lib::timefmt::{format_iso_ms as at, now_ms};
    let env = Env::new();
    let id = "0f3c1a52-6a39-4c61-9d1e-3b0c2b7e8a11";
    let events = env.path(&format!("home/.copilot/session-state/{id}/events.jsonl"));
    let cwd = env.root().display().to_string();
    let line =
        |kind: &str, data: Value, ms: i64| json!({"type": kind, "data": data, "timestamp": at(ms)});
    // The first run, shut down ten seconds ago.
    let now = now_ms();
    common::write_lines(
        &events,
        &[
            line(
                "session.start",
                json!({"sessionId": id, "context": {"cwd": cwd}}),
                now - 12_000,
            ),
            line(
                "user.message",
                json!({"content": "What does the kiwano check do?"}),
                now - 11_500,
            ),
            line(
                "assistant.message",
                json!({"content": "The kiwano check lints."}),
                now - 11_000,
            ),
            line("session.shutdown", json!({}), now - 10_000),
        ],
    );
    // The resumed run's events arrive after the hook has returned, as Copilot writes them.
    let found = count_after_late_write(
        &env,
        ["copilot", "sessionEnd"],
        json!({"sessionId": id, "timestamp": now, "cwd": cwd, "reason": "complete"}),
        &events,
        std::time::Duration::from_millis(300),
        || {
            let t = now_ms();
            vec![
                line("session.resume", json!({}), t - 200),
                line(
                    "user.message",
                    json!({"content": "And the persimmon verdict?"}),
                    t - 150,
                ),
                line(
                    "assistant.message",
                    json!({"content": "The persimmon verdict stands."}),
                    t - 100,
                ),
                line("session.shutdown", json!({}), t),
            ]
        },
        "persimmon verdict stands",
    );
    assert_eq!(
        found, 1,
        "the resumed run's answer was not indexed on its SessionEnd"
    );
}

/// Qwen Code 0.24.4 can run Stop before the turn's records are in its chat, and a `qwen -p`
/// run fires no SessionEnd to read them later (the real CLI's e2e test lost the answer under
/// load, even after a fixed half-second wait). The drainer waits until the newest record is
/// this turn's answer (the last turn's answer, already there, is not), so the turn is
/// indexed on this Stop even when it comes a second late.
#[test]
fn a_qwen_stop_waits_for_the_turns_answer_to_be_written() {
    use csep_lib::timefmt::{format_iso_ms as at, now_ms};
    let env = Env::new();
    let id = "5a0c2f8e-1b7d-4c3e-9a64-2d8e0f1b3c55";
    let chat = env.path(&format!("home/.qwen/projects/-work/chats/{id}.jsonl"));
    let cwd = env.root().display().to_string();
    let rec = |uuid: &str, kind: &str, role: &str, text: &str, ms: i64| {
        json!({"uuid": uuid, "parentUuid": null, "sessionId": id, "timestamp": at(ms),
               "type": kind, "cwd": cwd, "message": {"role": role, "parts": [{"text": text}]}})
    };
    // The first turn, answered ten seconds ago; the second turn's records come after its Stop.
    let t = now_ms();
    common::write_lines(
        &chat,
        &[
            rec(
                "u1",
                "user",
                "user",
                "What did the kiwano check say?",
                t - 11_000,
            ),
            rec(
                "a1",
                "assistant",
                "model",
                "The kiwano check lints.",
                t - 10_000,
            ),
        ],
    );
    // Later than the old fixed wait of half a second.
    let found = count_after_late_write(
        &env,
        ["qwen", "Stop"],
        json!({"session_id": id, "transcript_path": chat, "cwd": cwd,
               "hook_event_name": "Stop", "stop_hook_active": false}),
        &chat,
        std::time::Duration::from_millis(900),
        || {
            vec![
                rec("u2", "user", "user", "And the persimmon verdict?", t - 300),
                rec(
                    "a2",
                    "assistant",
                    "model",
                    "The persimmon verdict stands.",
                    t - 100,
                ),
            ]
        },
        "persimmon verdict stands",
    );
    assert_eq!(found, 1, "the turn's answer was not indexed on its Stop");
}
