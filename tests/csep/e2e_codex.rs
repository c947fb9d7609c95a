//! The acceptance test of issue #3 (live hooks) for Codex: the real Codex CLI, offline,
//! against a scripted model (tests/support/mock_responses.py), with csep installed the way a
//! user installs it (`csep setup`, hooks trusted through Codex itself, no bypass flag).
//!
//! The whole loop: one session, two prompts: the repo's MEMORY.md reaches the model, the Stop
//! hook's drainer makes the session findable with `csep recall`, the user's correction queues
//! a reflection job and the drainer starts the worker, which runs the real Codex as the
//! `codex` provider (the scripted model writes the proposal); csep-verify applies it, and the
//! next session starts with the new memory line. `csep uninstall` leaves Codex's config
//! byte-identical.
//!
//! The Codex binary comes from `CSEP_CODEX_BIN` (scripts/install-hosts.sh prints it; CI sets
//! it). Without it the test fails: it is required, never skipped. Everything runs in a temp
//! dir (HOME, CODEX_HOME, CSEP_HOME, TMPDIR); set `CSEP_E2E_KEEP=1` to keep it for a look.

use crate::common;

use common::{hook_scripts, unique_token, walk, Host, RUN_TIMEOUT};
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const MOCK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/mock_responses.py"
);
/// The provider's `env_key`: Codex needs the variable set, the mock ignores its value.
const KEY_VAR: &str = "CSEP_E2E_MOCK_KEY";
const PROMPT_1: &str =
    "Run `echo kumquat-token-one` in the shell, then tell me what the kumquat step printed.";
const PROMPT_2: &str = "no, don't do that, remember: always run cargo test before committing";

const PROMPT_3: &str = "What do you know about committing in this repo?";
/// The line the reflection adds to the repo's memory.
const NEW_LINE: &str = "- Always run cargo test before committing (a rule the user gave).";

/// What the model answers, one entry per model request: a shell call, the answer after its
/// output (prompt 1), the answer to the resumed prompt 2; then the reflection session the
/// drainer's worker starts (a shell call that writes the proposal, a final message); then the
/// answer to prompt 3 in a new session.
fn script() -> String {
    let propose = format!(
        r#"mkdir -p "$CSEP_RUN_DIR/proposal/memory"
cat "$CSEP_RUN_DIR/inputs/MEMORY.md" > "$CSEP_RUN_DIR/proposal/memory/MEMORY.md"
echo '{NEW_LINE}' >> "$CSEP_RUN_DIR/proposal/memory/MEMORY.md"
printf '%s' '{{"status": "succeeded", "memory_changes": [{{"path": "memory/MEMORY.md", "action": "update"}}], "skill_changes": [], "skipped_candidates": [], "validation_notes": [], "errors": []}}' > "$CSEP_RUN_DIR/draft.json"
echo proposal-written
"#
    );
    serde_json::json!([
        [{"type": "shell", "command": "echo kumquat-token-one"}],
        [{"type": "message", "text": "It printed kumquat-token-one, so the kumquat step is done; I will commit next."}],
        [{"type": "message", "text": "Understood: I will always run cargo test before committing."}],
        [{"type": "shell", "command": propose}],
        [{"type": "message", "text": "Proposed one memory line."}],
        [{"type": "message", "text": "Run cargo test before every commit."}]
    ])
    .to_string()
}

/// The Codex CLI, with its home at `codex-home/` and the model at the mock.
struct Codex;

type World = common::World<Codex>;

impl Host for Codex {
    const NAME: &'static str = "e2e_codex";
    const CONFIG_DIR: &'static str = "codex-home";
    const MOCK: &'static str = MOCK;
    const MAX_REQUESTS: u32 = 30;
    fn env(w: &World, c: &mut Command) {
        c.env("CODEX_HOME", w.codex_home())
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
        let input = v["body"]["input"].as_array().cloned().unwrap_or_default();
        // The base instructions come first and are long: show the conversation part.
        for item in input.iter().skip(1) {
            d.push_str(&format!("    {}\n", describe_item(item)));
        }
        d
    }
    fn diagnose(w: &World, _mock_log: &str, d: &mut String) {
        d.push_str("--- files in CODEX_HOME (top level)\n");
        if let Ok(rd) = fs::read_dir(w.codex_home()) {
            for e in rd.flatten() {
                d.push_str(&format!("    {}\n", e.path().display()));
            }
        }
    }
}

impl World {
    fn codex_home(&self) -> PathBuf {
        self.config_dir()
    }

    /// `codex exec [ARGS…]` in the repo, which must succeed. Hooks run as installed (no
    /// trust bypass); the reflection worker a hook starts finds this Codex through
    /// `CSEP_CODEX_BIN`, which the hooks inherit.
    fn codex_exec(&self, label: &str, args: &[&str]) -> common::Run {
        self.codex_exec_in(label, &["--dangerously-bypass-approvals-and-sandbox"], args)
    }

    /// [`World::codex_exec`] with these sandbox flags instead of the bypass.
    fn codex_exec_in(&self, label: &str, sandbox: &[&str], args: &[&str]) -> common::Run {
        let (sub, args) = match args.split_first() {
            Some((&"resume", rest)) => (vec!["exec", "resume"], rest),
            _ => (vec!["exec"], args),
        };
        let mut c = self.command(&self.bin);
        c.env("CSEP_CODEX_BIN", &self.bin)
            .args(sub)
            .arg("--skip-git-repo-check")
            .args(sandbox)
            .args(args);
        let r = self.run(label, c, RUN_TIMEOUT);
        if r.code != Some(0) || r.timed_out {
            self.fail(&format!("{label}: codex exec failed"));
        }
        r
    }
    /// The `reflect_job` of `session_id` (its file and contents) once the worker the drainer
    /// started has finished it (moved to `done/` or `failed/`); fails after 150 s.
    fn wait_for_job(&self, session_id: &str) -> (PathBuf, Value) {
        let reflect = self.csep_home().join("spool/reflect");
        let deadline = Instant::now() + Duration::from_secs(150);
        loop {
            let found = ["new", "cur", "done", "failed"]
                .iter()
                .flat_map(|d| walk(&reflect.join(d)).into_iter().map(move |f| (*d, f)))
                .filter_map(|(d, f)| {
                    Some((
                        d,
                        f.clone(),
                        serde_json::from_slice::<Value>(&fs::read(&f).ok()?).ok()?,
                    ))
                })
                .find(|(_, _, j)| j["type"] == "reflect_job" && j["session_id"] == session_id);
            match found {
                Some((d, f, j)) if d == "done" || d == "failed" => return (f, j),
                _ if Instant::now() > deadline => self.fail(&format!(
                    "the reflect_job for session {session_id} did not finish under {} within 150 s",
                    reflect.display()
                )),
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// `csep setup` for Codex only, as a user runs it; Codex must report the hooks trusted.
    /// Returns the hook scripts it installed.
    fn install_csep(&self) -> Vec<PathBuf> {
        let mut c = self.command(assert_cmd::cargo::cargo_bin("csep"));
        c.arg("setup")
            .arg("--codex-home")
            .arg(self.codex_home())
            .args(["--no-claude", "--no-backfill", "--codex-bin"])
            .arg(&self.bin);
        let r = self.run("csep-setup", c, RUN_TIMEOUT);
        let summary = self.setup_summary(&r);
        if summary["codex"]["trust"] != "trusted"
            || summary["codex"]["trusted_hooks"].as_u64().unwrap_or(0) < 3
        {
            self.fail(&format!(
                "csep setup did not get Codex to trust its hooks (want codex.trust = \"trusted\", codex.trusted_hooks >= 3): {}",
                summary["codex"]
            ));
        }
        let hooks = self.read_json(&self.codex_home().join("hooks.json"), "hooks.json");
        let scripts = hook_scripts(&hooks);
        if scripts.is_empty() {
            self.fail(&format!("no hook in hooks.json runs csep-hook.sh: {hooks}"));
        }
        self.check_installed(&scripts);
        scripts
    }

    /// The session id Codex printed on stderr (`session id: <uuid>`).
    fn session_id(&self, run: &common::Run) -> String {
        run.stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("session id: "))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| self.fail("no `session id: <uuid>` line in codex's stderr"))
    }
}

/// One input item of a model request, in a line.
fn describe_item(item: &Value) -> String {
    let text: String = match item["content"].as_array() {
        Some(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        None => item["output"]
            .as_str()
            .or(item["arguments"].as_str())
            .unwrap_or_default()
            .to_string(),
    };
    let short: String = text.chars().take(240).collect();
    format!(
        "{} {} {:?}",
        item["type"].as_str().unwrap_or("?"),
        item["role"].as_str().unwrap_or(""),
        short
    )
}

/// The texts of the developer messages in a request's input.
fn developer_texts(request: &Value) -> Vec<String> {
    request["body"]["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message" && i["role"] == "developer")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect()
}

/// The provider and feature settings the harness README ("What the driver configures")
/// verified for Codex 0.169.0 offline, plus a comment and a key of the user's own.
fn config_toml(port: u16) -> String {
    format!(
        r#"# my own settings: csep must leave this file exactly as it found it
model = "gpt-5.5"
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

[tui]
notifications = false
"#
    )
}

#[test]
fn codex_session_gets_memory_is_recalled_reflected_into_the_next_session_and_uninstalls_cleanly() {
    let codex_bin = common::host_bin(
        "CSEP_CODEX_BIN",
        "the real Codex CLI",
        "scripts/install-hosts.sh",
        "on the dev machines: CSEP_CODEX_BIN=/tmp/codexcli/node_modules/.bin/codex",
    );
    let mut w = World::new(codex_bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");

    // (a) The model, and a Codex config with a comment and a key of the user's own.
    let port = w.start_mock(&script());
    let config_path = w.codex_home().join("config.toml");
    fs::write(&config_path, config_toml(port)).unwrap();
    let config_before = fs::read(&config_path).unwrap();
    let hooks_path = w.codex_home().join("hooks.json");
    assert!(!hooks_path.exists());

    // (b) A git repo whose memory holds a marker only this run knows.
    let marker = format!("CSEP-E2E-MEMORY-{}", unique_token());
    w.git_repo_with_memory(&format!(
        "- {marker}: in this repo, run the kumquat check before committing\n"
    ));

    // csep's reflection runs the real Codex too (hooks off, sandboxed to the run dir): the
    // worker the drainer starts finds it through CSEP_CODEX_BIN, which the hooks inherit.
    fs::write(
        w.csep_home().join("config.toml"),
        "[session_reflection]\nbackend = \"codex\"\nmodel = \"gpt-5.5\"\ntimeout_seconds = 100\n",
    )
    .unwrap();

    // (c) Install csep as a user would; Codex itself must report the hooks as trusted.
    let scripts = w.install_csep();
    // csep status computes Codex's trust hashes offline: they must be the ones Codex stored.
    let mut c = w.command(&csep);
    c.arg("status");
    let r = w.run("csep-status", c, RUN_TIMEOUT);
    let st: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
    let hooks = &st["hooks"]["codex"];
    if hooks["installed"] != true || hooks["trusted"] != true || hooks["current"] != true {
        w.fail(&format!(
            "csep status after setup: want codex hooks installed, trusted and current: {hooks}"
        ));
    }

    // (d) Prompt 1, then the correction in the same session: no hook-trust bypass.
    let t1 = w.codex_exec("codex-turn1", &[PROMPT_1]);
    let session_id = w.session_id(&t1);
    if !t1.stderr.contains("hook: SessionStart Completed") {
        w.fail("csep's SessionStart hook did not run to completion in prompt 1 (an untrusted hook is skipped silently)");
    }
    if !t1.stdout.contains("kumquat") {
        w.fail("codex did not print the scripted final answer of prompt 1");
    }
    w.codex_exec("codex-turn2", &["resume", &session_id, PROMPT_2]);

    // (e) What reached the model: the shell call ran, and the memory came in as a developer
    // message from the first request on.
    // Only this session's requests (Codex sets prompt_cache_key to the session id): a
    // reflection worker, should one run meanwhile, is another session.
    let reqs: Vec<Value> = w
        .requests()
        .into_iter()
        .filter(|r| r["body"]["prompt_cache_key"] == session_id.as_str())
        .collect();
    if reqs.len() != 3 || reqs.iter().any(|r| r["served"] == "exhausted") {
        w.fail(&format!(
            "expected exactly the 3 scripted model requests for session {session_id}, got {}",
            reqs.len()
        ));
    }
    let tool_output_seen = reqs[1]["body"]["input"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|i| {
            i["type"] == "function_call_output"
                && i["output"]
                    .as_str()
                    .is_some_and(|o| o.contains("kumquat-token-one"))
        });
    if !tool_output_seen {
        w.fail("the shell call's output (kumquat-token-one) did not come back to the model");
    }
    for (n, req) in reqs.iter().enumerate() {
        if !developer_texts(req).iter().any(|t| t.contains(&marker)) {
            w.fail(&format!(
                "model request #{} has no developer message holding the memory marker {marker}",
                n + 1
            ));
        }
    }
    let last_user = reqs[2]["body"]["input"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|i| {
            i["role"] == "user"
                && i.to_string()
                    .contains("always run cargo test before committing")
        });
    if !last_user {
        w.fail("the resumed prompt did not reach the model");
    }

    // (f) The Stop hooks' drainer archived the session: recall finds it for this repo.
    w.wait_drained();
    let mut c = w.command(&csep);
    c.args(["recall", "kumquat", "--format", "json", "--cwd"])
        .arg(w.work());
    let r = w.run("csep-recall", c, RUN_TIMEOUT);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        w.fail(&format!(
            "csep recall printed no JSON ({e}), exit {:?}",
            r.code
        ))
    });
    if r.code != Some(0) || v["results"][0]["session_id"] != session_id.as_str() {
        w.fail(&format!(
            "csep recall kumquat: want session {session_id} first, got exit {:?}: {v}",
            r.code
        ));
    }

    // (g) The correction ("remember: ...") queued a reflection job for this session, and the
    // drainer started the worker, which ran it to the end.
    let job = w.wait_for_job(&session_id);
    let reasons = job.1["reasons"].to_string().to_lowercase();
    if !(reasons.contains("signal") || reasons.contains("remember")) {
        w.fail(&format!(
            "reflect job {} has no high-signal reason: {}",
            job.0.display(),
            job.1
        ));
    }
    let job_id = job.1["job_id"].as_str().unwrap_or_default().to_string();
    let status = w.read_json(
        &w.csep_home().join("runs").join(&job_id).join("status.json"),
        "status.json",
    );
    if status["status"] != "succeeded" || status["provider"]["backend"] != "codex" {
        w.fail(&format!(
            "the reflection job did not succeed with the codex provider: {status}"
        ));
    }
    let memory = fs::read_to_string(
        w.csep_home()
            .join("projects")
            .join(w.work().to_string_lossy().replace('/', "-"))
            .join("memory/MEMORY.md"),
    )
    .unwrap_or_default();
    if !memory.contains(&marker) || !memory.ends_with(&format!("{NEW_LINE}\n")) {
        w.fail(&format!(
            "MEMORY.md should keep the marker and end with the new line:\n{memory}"
        ));
    }
    let mut c = w.command(&csep);
    c.args(["session-reflect", "--status"]);
    let r = w.run("csep-session-reflect-status", c, RUN_TIMEOUT);
    let s: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
    if s["latest"]["job_id"] != job_id.as_str()
        || s["latest"]["validation"]["status"] != "succeeded"
    {
        w.fail(&format!(
            "csep session-reflect --status does not show the job: {s}"
        ));
    }

    // (h) A new session starts with the memory the reflection wrote.
    w.codex_exec("codex-turn3", &[PROMPT_3]);
    let asked = w.requests().into_iter().rev().find(|r| {
        r["body"]["input"]
            .to_string()
            .contains("What do you know about committing")
    });
    match asked {
        Some(r) if developer_texts(&r).iter().any(|t| t.contains(NEW_LINE)) => {}
        Some(_) => w.fail("the new session's memory does not hold the reflected line"),
        None => w.fail("prompt 3 never reached the model"),
    }
    w.wait_drained();

    // (i) Uninstall restores Codex's config byte for byte and removes what setup added.
    let codex_home = w.codex_home();
    w.uninstall(
        &["--codex-home", codex_home.to_str().unwrap()],
        &config_path,
        &config_before,
        &scripts,
    );
    if hooks_path.exists() {
        w.fail(&format!(
            "{} is still there after uninstall (it did not exist before setup)",
            hooks_path.display()
        ));
    }
}

/// Item 0 of issue #11: the model runs `csep recall` through Codex's shell tool inside
/// Codex's own sandbox, with no bypass flag, and gets the planted session back. Under
/// `--sandbox read-only` nothing is writable; under `workspace-write` only the work dir is
/// (`/tmp` and `$TMPDIR`, where the state dir lives, are excluded). Nothing runs a recall
/// outside the sandbox first: the index's side files are whatever the Stop hook's drainer
/// left. Each sandboxed session first proves the state dir is read-only to its commands.
#[test]
fn the_model_recalls_a_past_session_from_inside_codexs_sandbox() {
    let codex_bin = common::host_bin(
        "CSEP_CODEX_BIN",
        "the real Codex CLI",
        "scripts/install-hosts.sh",
        "on the dev machines: CSEP_CODEX_BIN=/tmp/codexcli/node_modules/.bin/codex",
    );
    let mut w = World::new(codex_bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");
    let needle = format!("persimmon-sandbox-{}", unique_token());
    let probe = r#"if touch "$CSEP_HOME/.sandbox-probe" 2>/dev/null; then echo STATE-DIR-WRITABLE; else echo STATE-DIR-READ-ONLY; fi"#;
    let recall = format!("csep recall {needle}");
    let sandboxed = |label: &str| {
        serde_json::json!([
            [{"type": "shell", "command": probe}],
            [{"type": "shell", "command": recall}],
            [{"type": "message", "text": format!("{label}: recalled.")}]
        ])
    };
    let mut script = vec![
        serde_json::json!([{"type": "shell", "command": format!("echo {needle}")}]),
        serde_json::json!([{"type": "message", "text": "The persimmon step printed its token."}]),
    ];
    for label in ["read-only", "workspace-write"] {
        script.extend(sandboxed(label).as_array().unwrap().iter().cloned());
    }
    let port = w.start_mock(&Value::Array(script).to_string());
    fs::write(w.codex_home().join("config.toml"), config_toml(port)).unwrap();
    w.git_repo_with_memory("- persimmon: nothing to remember yet\n");

    // `csep` on the user's PATH as after `cargo install`: Codex runs commands in a login
    // shell, which takes PATH from /etc/profile and then the user's ~/.profile.
    let bin_dir = csep.parent().unwrap().to_string_lossy().into_owned();
    fs::write(
        w.p("home/.profile"),
        format!("PATH='{}':\"$PATH\"\n", bin_dir.replace('\'', "'\\''")),
    )
    .unwrap();
    // Installed as a user installs it.
    let mut c = w.command(&csep);
    c.arg("setup")
        .arg("--codex-home")
        .arg(w.codex_home())
        .args(["--no-claude", "--no-backfill", "--codex-bin"])
        .arg(&w.bin);
    let r = w.run("csep-setup", c, RUN_TIMEOUT);
    if w.setup_summary(&r)["codex"]["trust"] != "trusted" {
        w.fail("csep setup did not get Codex to trust its hooks");
    }

    // The first session plants the needle; its Stop hook's drainer archives it.
    let first = w.codex_exec_in(
        "codex-plant",
        &["--sandbox", "read-only"],
        &["Run `echo` with the persimmon token, then tell me what it printed."],
    );
    let planted = first
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("session id: "))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| w.fail("no `session id: <uuid>` line in codex's stderr"));
    w.wait_drained();

    let modes: [(&str, Vec<&str>); 2] = [
        ("read-only", vec!["--sandbox", "read-only"]),
        (
            "workspace-write",
            vec![
                "--sandbox",
                "workspace-write",
                "-c",
                "sandbox_workspace_write.exclude_slash_tmp=true",
                "-c",
                "sandbox_workspace_write.exclude_tmpdir_env_var=true",
            ],
        ),
    ];
    for (label, flags) in modes {
        let prompt = format!("Recall the persimmon session ({label}).");
        w.codex_exec_in(&format!("codex-{label}"), &flags, &[&prompt]);
        let outputs: Vec<String> = w
            .requests()
            .into_iter()
            .rev()
            .find(|r| r["body"]["input"].to_string().contains(&prompt))
            .unwrap_or_else(|| w.fail(&format!("{label}: the prompt never reached the model")))
            ["body"]["input"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["type"] == "function_call_output")
            .filter_map(|i| i["output"].as_str().map(str::to_string))
            .collect();
        if !outputs.iter().any(|o| o.contains("STATE-DIR-READ-ONLY")) {
            w.fail(&format!(
                "{label}: the probe did not find the state dir read-only inside the sandbox: {outputs:?}"
            ));
        }
        let found = outputs.iter().any(|o| {
            o.contains("Process exited with code 0")
                && o.contains("Status: matched")
                && o.contains(&format!("session {planted}"))
                && o.contains(&needle)
        });
        if !found {
            w.fail(&format!(
                "{label}: `{recall}` inside the sandbox did not return session {planted}: {outputs:?}"
            ));
        }
    }
    w.wait_drained();
}

/// Issue #12's acceptance, with no model at all for reflection: `backend = "builtin"`. The user
/// says "remember: …" in one Codex session; its Stop hook's drainer queues the review and
/// runs the worker, whose builtin provider writes the directive into MEMORY.md (checked by
/// csep-verify like any proposal), and the next session's very first model request carries
/// that line in its context.
#[test]
fn with_the_builtin_provider_a_remembered_rule_reaches_the_next_sessions_first_request() {
    let codex_bin = common::host_bin(
        "CSEP_CODEX_BIN",
        "the real Codex CLI",
        "scripts/install-hosts.sh",
        "on the dev machines: CSEP_CODEX_BIN=/tmp/codexcli/node_modules/.bin/codex",
    );
    let mut w = World::new(codex_bin);
    let token = format!("kiwi-lint-{}", unique_token().to_lowercase());
    let said = format!("remember: always run `make {token}` before committing");
    // Two sessions, one answer each: the model is never asked to reflect.
    let port = w.start_mock(
        &serde_json::json!([
            [{"type": "message", "text": "Understood."}],
            [{"type": "message", "text": "Run the lint target before committing."}]
        ])
        .to_string(),
    );
    fs::write(w.codex_home().join("config.toml"), config_toml(port)).unwrap();
    w.git_repo_with_memory("# Memory\n");
    fs::write(
        w.csep_home().join("config.toml"),
        "[session_reflection]\nbackend = \"builtin\"\n",
    )
    .unwrap();
    w.install_csep();

    let first = w.codex_exec("codex-session1", &[&said]);
    let first_id = w.session_id(&first);
    w.wait_drained();
    let (file, job) = w.wait_for_job(&first_id);
    let job_id = job["job_id"].as_str().unwrap_or_default().to_string();
    let status = w.read_json(
        &w.csep_home().join("runs").join(&job_id).join("status.json"),
        "status.json",
    );
    if status["status"] != "succeeded" || status["provider"]["backend"] != "builtin" {
        w.fail(&format!(
            "the job {} did not succeed with the builtin provider: {status}",
            file.display()
        ));
    }
    let memory_path = w
        .csep_home()
        .join("projects")
        .join(w.work().to_string_lossy().replace('/', "-"))
        .join("memory/MEMORY.md");
    let memory = fs::read_to_string(&memory_path).unwrap_or_default();
    let Some(line) = memory.lines().find(|l| l.contains(&token)) else {
        w.fail(&format!("MEMORY.md holds no line with {token}:\n{memory}"));
    };
    let line = line.to_string();

    let second = w.codex_exec("codex-session2", &["What should I run before committing?"]);
    let second_id = w.session_id(&second);
    let first_request = w
        .requests()
        .into_iter()
        .find(|r| r["body"]["prompt_cache_key"] == second_id.as_str());
    match first_request {
        Some(r) if developer_texts(&r).iter().any(|t| t.contains(&line)) => {}
        Some(_) => w.fail(&format!(
            "the next session's first model request does not carry the remembered line {line:?}"
        )),
        None => w.fail("the next session never reached the model"),
    }
    w.wait_drained();
}

/// Issue #14's MCP acceptance for Codex: `csep setup` registers `csep mcp` as the MCP server
/// `csep` in config.toml, Codex starts it and offers its tools to the model, the scripted
/// model calls the `recall` tool, and what Codex sends back to the model as the tool's
/// output names the planted session. Codex defers MCP tools behind its `tool_search` tool:
/// the model searches first, Codex answers with the matching tools (csep's in the namespace
/// `mcp__csep`), and the model calls `recall` in that namespace. The planted session is a
/// rollout on disk that setup's first backfill indexes, so only one Codex session runs.
#[test]
fn the_model_calls_csep_mcp_recall_tool_inside_codex() {
    let codex_bin = common::host_bin(
        "CSEP_CODEX_BIN",
        "the real Codex CLI",
        "scripts/install-hosts.sh",
        "on the dev machines: CSEP_CODEX_BIN=/tmp/codexcli/node_modules/.bin/codex",
    );
    let mut w = World::new(codex_bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");
    let needle = format!("mcp-quince-{}", unique_token());
    let namespace = "mcp__csep";
    let script = serde_json::json!([
        [{"type": "tool_search", "query": "csep recall past sessions"}],
        [{"type": "function_call", "namespace": namespace, "name": "recall", "arguments": {"query": needle, "global": true}}],
        [{"type": "message", "text": "Found the quince session."}]
    ]);
    let port = w.start_mock(&script.to_string());
    fs::write(w.codex_home().join("config.toml"), config_toml(port)).unwrap();
    w.git_repo_with_memory("- quince: nothing to remember yet\n");
    let planted = "019b0000-0000-7000-8000-0000000e2e14";
    let work = w.work().to_string_lossy().into_owned();
    common::write_lines(
        &common::codex_path(&w.codex_home().join("sessions"), planted),
        &common::codex_rollout(
            planted,
            &work,
            "what did the quince step print?",
            &format!("quince step: {needle}"),
            "It printed the quince token.",
        ),
    );

    let mut c = w.command(&csep);
    c.arg("setup")
        .arg("--codex-home")
        .arg(w.codex_home())
        .args(["--no-claude", "--codex-bin"])
        .arg(&w.bin);
    let r = w.run("csep-setup", c, RUN_TIMEOUT);
    let summary = w.setup_summary(&r);
    if summary["mcp"]["codex"].is_null() || summary["backfill"]["codex"]["sessions"] == 0 {
        w.fail(&format!(
            "csep setup did not register the MCP server or index the planted session: {summary}"
        ));
    }

    w.codex_exec("codex-mcp", &["Recall the quince session with csep."]);
    let inputs: Vec<Value> = w
        .requests()
        .iter()
        .flat_map(|r| r["body"]["input"].as_array().cloned().unwrap_or_default())
        .collect();
    // The tool the model called is one Codex offered it: `recall` in csep's namespace.
    let offered = inputs
        .iter()
        .filter(|i| i["type"] == "tool_search_output")
        .flat_map(|i| i["tools"].as_array().cloned().unwrap_or_default())
        .any(|ns| {
            ns["name"] == namespace
                && ns["tools"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["name"] == "recall"))
        });
    if !offered {
        w.fail(&format!(
            "Codex's tool_search did not offer csep's recall tool (namespace {namespace})"
        ));
    }
    let outputs: Vec<String> = inputs
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| i["output"].to_string())
        .collect();
    if !outputs
        .iter()
        .any(|o| o.contains(planted) && o.contains(&needle))
    {
        w.fail(&format!(
            "the recall tool's output that Codex sent back names no session {planted}: {outputs:?}"
        ));
    }
}
