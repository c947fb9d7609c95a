//! The acceptance test of issue #4 for the `codex` provider: the real Codex CLI, offline,
//! against a scripted model (tests/support/mock_responses.py), runs a reflection job that
//! the real `csep-trigger` queued for an indexed user session.
//!
//! The scripted model writes the proposal with its shell tool (inside Codex's
//! `workspace-write` sandbox, rooted at the run directory), and also tries to write outside
//! it (the live MEMORY.md, CODEX_HOME, the repository): those writes must fail. csep-verify
//! applies the proposal; the reflection session (when Codex keeps its rollout) must not show
//! up in `csep recall` and must not trigger a reflection of its own.
//!
//! The Codex binary comes from `CSEP_CODEX_BIN` (scripts/install-hosts.sh prints it). Without
//! it the test fails: it is required, never skipped. Set `CSEP_E2E_KEEP=1` to keep the temp
//! dir for a look.

use crate::common;

use common::{Host, RUN_TIMEOUT};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const MOCK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/mock_responses.py"
);
/// The provider's `env_key`: Codex needs the variable set, the mock ignores its value.
const KEY_VAR: &str = "CSEP_E2E_MOCK_KEY";
/// The user's session, already over when the test starts.
const USER_SESSION: &str = "019a0000-0000-7000-8000-00000000e2e1";
const USER_SAYS: &str = "no, don't do that, remember: always run cargo test before committing";
const NEW_LINE: &str = "- Always run cargo test before committing.";
const SEED: &str = "# Memory\n\n- Use pnpm, not npm.\n";

struct Codex;

type World = common::World<Codex>;

impl Host for Codex {
    const NAME: &'static str = "e2e_reflect";
    const CONFIG_DIR: &'static str = "codex-home";
    const MOCK: &'static str = MOCK;
    const MAX_REQUESTS: u32 = 20;
    fn env(w: &World, c: &mut Command) {
        c.env("CODEX_HOME", w.config_dir())
            .env(KEY_VAR, "csep-e2e-not-a-real-key");
    }
    fn is_model_request(path: &str) -> bool {
        path.ends_with("/responses")
    }
    fn describe_request(v: &Value) -> String {
        let mut d = format!(
            "#{} {} {} served={}\n",
            v["seq"], v["method"], v["path"], v["served"]
        );
        for item in v["body"]["input"].as_array().into_iter().flatten().skip(1) {
            let text = item.to_string();
            d.push_str(&format!(
                "    {}\n",
                text.chars().take(300).collect::<String>()
            ));
        }
        d
    }
    fn diagnose(w: &World, _mock_log: &str, d: &mut String) {
        d.push_str("--- files under CSEP_HOME/runs and CODEX_HOME/sessions\n");
        for f in common::walk(&w.csep_home().join("runs"))
            .into_iter()
            .chain(common::walk(&w.config_dir().join("sessions")))
        {
            d.push_str(&format!("    {}\n", f.display()));
        }
        for f in common::walk(&w.csep_home().join("runs")) {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            if ["provider.log", "status.json", "receipt.json", "draft.json"].contains(&&*name) {
                d.push_str(&format!(
                    "--- {}\n{}\n",
                    f.display(),
                    common::tail(&common::read_lossy(&f), 4000)
                ));
            }
        }
    }
}

/// The provider settings the Codex harness README verified for 0.169.0 offline.
fn codex_config(port: u16) -> String {
    format!(
        r#"model = "gpt-5.5"
model_provider = "mock"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false
apps = false
remote_plugin = false
unbounded_connection_retries = false

[model_providers.mock]
name = "Mock Responses (127.0.0.1)"
base_url = "http://127.0.0.1:{port}/v1"
env_key = "{KEY_VAR}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 30000
"#
    )
}

/// What the model does: one shell call that tries to write outside the run directory (each
/// attempt must fail in the sandbox) and then writes the proposal and the draft inside it,
/// then a final message.
fn script(w: &World, live_memory: &Path) -> String {
    let escapes = [
        live_memory.to_path_buf(),
        w.config_dir().join("escaped.txt"),
        w.work().join("escaped.txt"),
        w.p("tmp/escaped.txt"),
    ];
    let mut cmd = String::new();
    for (n, p) in escapes.iter().enumerate() {
        cmd.push_str(&format!(
            "if echo escaped >> '{}' 2>/dev/null; then echo ESCAPE-{n}-WROTE; else echo escape-{n}-blocked; fi\n",
            p.display()
        ));
    }
    cmd.push_str(&format!(
        r#"echo "run dir: $CSEP_RUN_DIR job: $CSEP_REFLECTION_JOB"
mkdir -p "$CSEP_RUN_DIR/proposal/memory"
cat "$CSEP_RUN_DIR/inputs/MEMORY.md" > "$CSEP_RUN_DIR/proposal/memory/MEMORY.md"
echo '{NEW_LINE}' >> "$CSEP_RUN_DIR/proposal/memory/MEMORY.md"
cat > "$CSEP_RUN_DIR/draft.json" <<'EOF'
{{"status": "succeeded",
 "memory_changes": [{{"path": "memory/MEMORY.md", "action": "update", "summary": "The user's rule: cargo test before every commit."}}],
 "skill_changes": [],
 "skipped_candidates": [],
 "validation_notes": ["one durable rule from the user's correction"],
 "errors": []}}
EOF
echo proposal-written
"#
    ));
    json!([
        [{"type": "shell", "command": cmd}],
        [{"type": "message", "text": "Proposed one memory line: always run cargo test before committing.", "phase": "final_answer"}]
    ])
    .to_string()
}

/// The texts of every input item of a request (messages and tool outputs).
fn request_texts(request: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for item in request["body"]["input"].as_array().into_iter().flatten() {
        for c in item["content"].as_array().into_iter().flatten() {
            if let Some(t) = c["text"].as_str() {
                out.push(t.to_string());
            }
        }
        if let Some(o) = item["output"].as_str() {
            out.push(o.to_string());
        }
    }
    out
}

/// JSON lines of a run's stdout.
fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// Every rollout under `root`.
fn rollouts(root: &Path) -> Vec<PathBuf> {
    common::walk(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect()
}

/// The whole flow with `ephemeral` as the config says; returns nothing, fails with the
/// world's diagnostics.
fn reflect_with_real_codex(ephemeral: bool) {
    let codex_bin = common::host_bin(
        "CSEP_CODEX_BIN",
        "the real Codex CLI",
        "scripts/install-hosts.sh",
        "on the dev machines: CSEP_CODEX_BIN=/root/.cache/csep-hosts/codex/node_modules/.bin/codex",
    );
    let mut w = World::new(codex_bin);
    let bin = |b: &str| assert_cmd::cargo::cargo_bin(b);

    // (a) A repository with a memory, and the user's session in the index.
    let repo_root = w.git_repo_with_memory(SEED);
    let bucket = w
        .csep_home()
        .join("projects")
        .join(repo_root.to_string_lossy().replace('/', "-"));
    let live_memory = bucket.join("memory/MEMORY.md");
    let sessions = w.config_dir().join("sessions");
    let user_rollout = common::codex_path(&sessions, USER_SESSION);
    common::write_lines(
        &user_rollout,
        &common::codex_rollout(
            USER_SESSION,
            &repo_root.display().to_string(),
            USER_SAYS,
            "test result: ok. 12 passed",
            "Understood: I will always run cargo test before committing.",
        ),
    );
    let mut c = w.command(bin("csep-index"));
    c.arg("--file").arg(&user_rollout);
    let r = w.run("csep-index-user", c, RUN_TIMEOUT);
    if r.code != Some(0) {
        w.fail("csep-index --file on the user's rollout failed");
    }

    // (b) Its Stop queues a job.
    let stop = |id: &str, path: &Path| {
        json!({"session_id": id, "transcript_path": path, "cwd": repo_root,
               "hook_event_name": "Stop", "model": "gpt-5.5", "turn_id": "t1",
               "stop_hook_active": false})
        .to_string()
    };
    let payload = w.p("stop-user.json");
    fs::write(&payload, stop(USER_SESSION, &user_rollout)).unwrap();
    let mut c = w.command(bin("csep-trigger"));
    c.stdin(fs::File::open(&payload).unwrap());
    let r = w.run("csep-trigger-user", c, RUN_TIMEOUT);
    let decision = json_lines(&r.stdout).pop().unwrap_or_default();
    if decision["decision"] != "queued" {
        w.fail(&format!("csep-trigger did not queue a job: {decision}"));
    }
    let job_id = decision["job_id"].as_str().unwrap().to_string();

    // (c) The model, Codex's config, csep's config.
    let port = w.start_mock(&script(&w, &live_memory));
    fs::write(w.config_dir().join("config.toml"), codex_config(port)).unwrap();
    fs::write(
        w.csep_home().join("config.toml"),
        format!(
            "[session_reflection]\nbackend = \"codex\"\nmodel = \"gpt-5.5\"\nephemeral = {ephemeral}\ntimeout_seconds = 100\n"
        ),
    )
    .unwrap();
    let live_before = fs::read(&live_memory).unwrap();

    // (d) The worker.
    let mut c = w.command(bin("csep-reflect"));
    c.arg("--once").env("CSEP_CODEX_BIN", &w.bin);
    let r = w.run("csep-reflect", c, RUN_TIMEOUT);
    let result = json_lines(&r.stdout)
        .into_iter()
        .find(|v| v["type"] == "reflect_result")
        .unwrap_or_else(|| w.fail("csep-reflect printed no reflect_result"));
    if result["job_id"] != job_id.as_str() || result["status"] != "succeeded" {
        w.fail(&format!("the job did not succeed: {result}"));
    }
    if r.code != Some(0) {
        w.fail(&format!("csep-reflect exited {:?}", r.code));
    }
    assert_eq!(result["provider"]["backend"], "codex", "{result}");
    assert_eq!(result["provider"]["exit_code"], 0, "{result}");
    let run = w.csep_home().join("runs").join(&job_id);
    let status = w.read_json(&run.join("status.json"), "status.json");
    assert_eq!(status["status"], "succeeded", "{status}");
    let receipt = w.read_json(&run.join("receipt.json"), "receipt.json");
    if receipt["status"] != "succeeded" {
        w.fail(&format!("receipt: {receipt}"));
    }
    let changed: Vec<&str> = receipt["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["rel"].as_str())
        .collect();
    assert_eq!(changed, ["memory/MEMORY.md"], "{receipt}");

    // The live memory: the old text and the new line, nothing the escapes tried to add.
    let live = fs::read_to_string(&live_memory).unwrap();
    let mut want = String::from_utf8(live_before).unwrap();
    want.push_str(NEW_LINE);
    want.push('\n');
    if live != want {
        w.fail(&format!(
            "live MEMORY.md:\n{live}\nwanted:\n{want}\n(provider.log:\n{})",
            common::read_lossy(&run.join("provider.log"))
        ));
    }

    // The model got the prompt with the job marker, and the shell ran in the sandbox.
    let requests = w.requests();
    let texts: Vec<String> = requests.iter().flat_map(request_texts).collect();
    let marker = format!("csep-reflection-job: {job_id}");
    if !texts.iter().any(|t| t.contains(&marker)) {
        w.fail(&format!("no model request carried {marker:?}"));
    }
    let output = texts
        .iter()
        .find(|t| t.contains("proposal-written"))
        .unwrap_or_else(|| w.fail("the shell call's output never reached the model"));
    assert!(
        output.contains(&format!("run dir: {} job: {job_id}", run.display())),
        "CSEP_RUN_DIR / CSEP_REFLECTION_JOB in the shell tool's env: {output}"
    );
    for n in 0..4 {
        assert!(
            output.contains(&format!("escape-{n}-blocked")) && !output.contains("WROTE"),
            "a write outside the run dir got through the sandbox: {output}"
        );
    }
    for p in [
        w.config_dir().join("escaped.txt"),
        w.work().join("escaped.txt"),
        w.p("tmp/escaped.txt"),
    ] {
        assert!(!p.exists(), "{} was written", p.display());
    }

    // (e) The reflection session's own rollout, if Codex kept one.
    let reflection_rollouts: Vec<PathBuf> = rollouts(&sessions)
        .into_iter()
        .filter(|p| *p != user_rollout)
        .collect();
    if ephemeral {
        assert!(
            reflection_rollouts.is_empty(),
            "--ephemeral: Codex wrote {reflection_rollouts:?}"
        );
        return;
    }
    if reflection_rollouts.len() != 1 {
        w.fail(&format!(
            "want exactly one reflection rollout, got {reflection_rollouts:?}"
        ));
    }
    let rollout = &reflection_rollouts[0];
    let meta: Value = serde_json::from_str(
        fs::read_to_string(rollout)
            .unwrap()
            .lines()
            .next()
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let reflection_id = meta["payload"]["id"]
        .as_str()
        .unwrap_or_else(|| w.fail(&format!("no session id in {}", rollout.display())))
        .to_string();
    assert_ne!(reflection_id, USER_SESSION);

    let mut c = w.command(bin("csep-index"));
    c.args(["--backfill", "codex", "--all-history", "--root"])
        .arg(&sessions);
    let r = w.run("csep-index-backfill", c, RUN_TIMEOUT);
    if r.code != Some(0) {
        w.fail("csep-index --backfill failed");
    }
    let mut c = w.command(bin("csep"));
    c.args([
        "recall",
        "cargo test before committing",
        "--global",
        "--format",
        "json",
    ]);
    let r = w.run("csep-recall", c, RUN_TIMEOUT);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| w.fail(&format!("csep recall printed no JSON: {e}")));
    let ids: Vec<&str> = v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["session_id"].as_str())
        .collect();
    if ids != [USER_SESSION] {
        w.fail(&format!(
            "recall must find the user's session only, found {ids:?} (reflection session {reflection_id})"
        ));
    }

    // Its Stop does not queue a reflection of the reflection.
    let payload = w.p("stop-reflection.json");
    fs::write(&payload, stop(&reflection_id, rollout)).unwrap();
    let mut c = w.command(bin("csep-trigger"));
    c.stdin(fs::File::open(&payload).unwrap());
    let r = w.run("csep-trigger-reflection", c, RUN_TIMEOUT);
    let d = json_lines(&r.stdout).pop().unwrap_or_default();
    let reasons: Vec<&str> = d["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if d["decision"] != "skipped"
        || !reasons
            .iter()
            .any(|r| ["reflection_session", "not_indexed"].contains(r))
    {
        w.fail(&format!(
            "the reflection session's Stop must be skipped: {d}"
        ));
    }
    let queued = common::walk(&w.csep_home().join("spool/reflect/new"));
    assert!(queued.is_empty(), "queued: {queued:?}");
}

#[test]
fn codex_reflection_with_a_kept_rollout_is_applied_and_never_recalled_or_retriggered() {
    reflect_with_real_codex(false);
}

#[test]
fn codex_reflection_ephemeral_is_applied_and_leaves_no_rollout() {
    reflect_with_real_codex(true);
}
