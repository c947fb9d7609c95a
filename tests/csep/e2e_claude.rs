//! The acceptance test of issue #3 (live hooks) for Claude Code: the real Claude Code CLI,
//! offline, against a scripted Messages API (tests/support/mock_messages.py), with csep
//! installed the way a user installs it (`csep setup`).
//!
//! One session, two `claude -p` processes (the second one `--resume`s the first): the repo's
//! MEMORY.md reaches the model through the SessionStart hook, the Stop/SessionEnd hooks'
//! drainer makes both prompts and both final answers findable with `csep recall` (nothing is
//! lost to the transcript's write lag at Stop). The user's correction queues a reflection
//! job and the drainer starts the worker, which runs the real Claude Code as the `claude`
//! provider (the scripted model writes the proposal with the Write tool); csep-verify
//! applies it and a new session starts with the new memory line. `csep uninstall` leaves the
//! user's settings.json byte-identical.
//!
//! The Claude Code binary comes from `CSEP_CLAUDE_BIN` (scripts/install-claude.sh prints
//! it; CI sets it). Without it the test fails: it is required, never skipped. Everything
//! runs in a temp dir (HOME, CLAUDE_CONFIG_DIR, CSEP_HOME, TMPDIR); set `CSEP_E2E_KEEP=1`
//! to keep it for a look.

use crate::common;

use common::{
    csep_handlers, hook_scripts, read_lossy, tail, unique_token, walk, Host, RUN_TIMEOUT,
};
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

const MOCK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/mock_messages.py"
);
const PROMPT_1: &str =
    "Do the tamarind step: run `echo step-one-done` in the shell, then tell me how it went.";
const PROMPT_2: &str = "no, don't do that, remember: always run cargo test before committing";

const PROMPT_3: &str = "What do you know about committing in this repo?";
/// The line the reflection adds to the repo's memory.
const NEW_LINE: &str = "- Always run cargo test before committing (a rule the user gave).";

/// The model's side. Each turn is tied (`match`) to the last user message it answers, so
/// only this session's requests can take them. Both prompts get a Bash call first and the
/// answer after its output: the final line of such a turn is the one Claude Code tends to
/// write to the transcript only after the Stop hook ran (harness README, "Write lag at
/// Stop"). "kiwano" and "persimmon" occur only in those final answers.
///
/// Then the reflection session the worker starts: its prompt names the run directory
/// (captured), and the model writes the proposal (the whole new MEMORY.md: `memory` plus
/// one line) and the draft there with the Write tool. Then prompt 3, in a new session.
fn script(memory: &str) -> String {
    let draft = r#"{"status": "succeeded", "memory_changes": [{"path": "memory/MEMORY.md", "action": "update"}], "skill_changes": [], "skipped_candidates": [], "validation_notes": [], "errors": []}"#;
    serde_json::json!([
      {"match": "tamarind step", "blocks": [
        {"type": "text", "text": "Running the step first."},
        {"type": "bash", "command": "echo step-one-done", "description": "Run the step"}]},
      {"match": "step-one-done", "blocks": [
        {"type": "text", "text": "The tamarind step printed step-one-done and the kiwano check passed; I will commit next."}]},
      {"match": "cargo test before committing", "blocks": [
        {"type": "text", "text": "Noted. Checking the rule file first."},
        {"type": "bash", "command": "echo rule-noted", "description": "Note the rule"}]},
      {"match": "rule-noted", "blocks": [
        {"type": "text", "text": "Understood, persimmon rule noted: I will always run cargo test before committing."}]},
      {"match": "csep-reflection-job", "capture": r"also in \$CSEP_RUN_DIR\): (\S+)", "blocks": [
        {"type": "text", "text": "One durable rule: cargo test before every commit."},
        {"type": "tool_use", "name": "Write", "input": {
            "file_path": "{capture}/proposal/memory/MEMORY.md",
            "content": format!("{memory}{NEW_LINE}\n")}},
        {"type": "tool_use", "name": "Write", "input": {
            "file_path": "{capture}/draft.json", "content": draft}}]},
      {"match": "draft.json", "blocks": [
        {"type": "text", "text": "Proposed one memory line."}]},
      {"match": "What do you know about committing", "blocks": [
        {"type": "text", "text": "Run cargo test before every commit."}]}
    ])
    .to_string()
}

/// The user's own settings.json, in their own formatting: uninstall must give back exactly
/// these bytes.
const USER_SETTINGS: &str = r#"{
    "cleanupPeriodDays": 99,
    "hooks": {
        "Notification": [ { "hooks": [ { "type": "command", "command": "true" } ] } ]
    }
}
"#;

/// Claude Code, with its config dir at `claude-config/` and the model at the mock (the
/// variables the harness README verified for offline `claude -p`).
struct Claude;

type World = common::World<Claude>;

impl Host for Claude {
    const NAME: &'static str = "e2e_claude";
    const CONFIG_DIR: &'static str = "claude-config";
    const MOCK: &'static str = MOCK;
    const MAX_REQUESTS: u32 = 40;
    fn env(w: &World, c: &mut Command) {
        c.env("CLAUDE_CONFIG_DIR", w.claude_dir())
            .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{}", w.port))
            .env("ANTHROPIC_API_KEY", "sk-ant-csep-e2e-not-a-real-key")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .env("TERM", "dumb");
        if is_root() {
            // bypassPermissions as uid 0 is refused unless Claude Code is told it is sandboxed.
            c.env("IS_SANDBOX", "1");
        }
    }
    fn is_model_request(path: &str) -> bool {
        path.split('?').next() == Some("/v1/messages")
    }
    fn describe_request(v: &Value) -> String {
        let mut d = format!(
            "#{} {} {} served={} session={}\n",
            v["seq"], v["method"], v["path"], v["served"], v["headers"]["x-claude-code-session-id"]
        );
        for m in v["body"]["messages"].as_array().into_iter().flatten() {
            let text: String = message_text(m).chars().take(300).collect();
            d.push_str(&format!(
                "    {}: {:?}\n",
                m["role"].as_str().unwrap_or("?"),
                text
            ));
        }
        d
    }
    fn diagnose(w: &World, mock_log: &str, d: &mut String) {
        d.push_str("--- mock log tail (last 6 lines, request bodies left out)\n");
        let lines: Vec<&str> = mock_log.lines().collect();
        for l in &lines[lines.len().saturating_sub(6)..] {
            match serde_json::from_str::<Value>(l) {
                Ok(mut v) => {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("body");
                    }
                    d.push_str(&format!("{}\n", tail(&v.to_string(), 3000)));
                }
                Err(_) => d.push_str(&format!("{}\n", tail(l, 300))),
            }
        }
        d.push_str(&format!(
            "--- settings.json now\n{}\n",
            read_lossy(&w.claude_dir().join("settings.json"))
        ));
        d.push_str("--- transcripts under CLAUDE_CONFIG_DIR/projects (line types of each)\n");
        for f in walk(&w.claude_dir().join("projects")) {
            let types: Vec<String> = fs::read_to_string(&f)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .map(|v| v["type"].as_str().unwrap_or("?").to_string())
                .collect();
            d.push_str(&format!("    {} {:?}\n", f.display(), types));
        }
    }
}

impl World {
    fn claude_dir(&self) -> PathBuf {
        self.config_dir()
    }

    /// Runs `claude -p` in WORKDIR (one more prompt of the session `resume`, if given) and
    /// returns the `--output-format json` result object.
    fn claude(&self, label: &str, prompt: &str, resume: Option<&str>) -> Value {
        let mut c = self.command(&self.bin);
        // The reflection worker a hook starts finds Claude Code through this.
        c.env("CSEP_CLAUDE_BIN", &self.bin).args([
            "-p",
            "--output-format",
            "json",
            "--permission-mode",
            "bypassPermissions",
        ]);
        if let Some(id) = resume {
            c.args(["--resume", id]);
        }
        c.arg("--").arg(prompt);
        let r = self.run(label, c, RUN_TIMEOUT);
        if r.code != Some(0) || r.timed_out {
            self.fail(&format!("{label}: claude -p failed"));
        }
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
            self.fail(&format!(
                "{label}: claude -p --output-format json printed no JSON object ({e})"
            ))
        });
        if v["type"] != "result" || v["is_error"] != false {
            self.fail(&format!("{label}: claude -p reported an error: {v}"));
        }
        v
    }

    /// `csep recall QUERY… --format json --cwd WORKDIR`; the parsed answer.
    fn recall(&self, label: &str, query: &[&str]) -> Value {
        let mut c = self.command(assert_cmd::cargo::cargo_bin("csep"));
        c.arg("recall")
            .args(query)
            .args(["--format", "json", "--cwd"])
            .arg(self.work());
        let r = self.run(label, c, RUN_TIMEOUT);
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
            self.fail(&format!(
                "csep recall {query:?} printed no JSON ({e}), exit {:?}",
                r.code
            ))
        });
        if r.code != Some(0) {
            self.fail(&format!("csep recall {query:?} exited {:?}: {v}", r.code));
        }
        v
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The text of one Messages API message: a string content, or its text blocks and
/// tool_result contents.
fn message_text(m: &Value) -> String {
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match (&b["text"], &b["content"]) {
                (Value::String(t), _) => t.clone(),
                (_, Value::String(t)) => t.clone(),
                (_, Value::Array(inner)) => inner
                    .iter()
                    .filter_map(|i| i["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => format!("[{}]", b["type"].as_str().unwrap_or("?")),
            })
            .collect::<Vec<_>>()
            .join(" | "),
        _ => String::new(),
    }
}

/// The session ids of a recall answer, best first.
fn recalled_ids(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["session_id"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn claude_session_gets_memory_is_recalled_without_loss_and_uninstalls_cleanly() {
    let claude_bin = common::host_bin(
        "CSEP_CLAUDE_BIN",
        "the real Claude Code CLI",
        "scripts/install-claude.sh",
        "it installs @anthropic-ai/claude-code@2.1.332 into ~/.cache/csep-hosts/claude",
    );
    let mut w = World::new(claude_bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");

    // (a) The model, and a settings.json of the user's own; csep reflects with Claude Code.
    let marker = format!("CSEP-E2E-MEMORY-{}", unique_token());
    let memory = format!("- {marker}: in this repo, run the tamarind check before committing\n");
    w.start_mock(&script(&memory));
    fs::write(
        w.csep_home().join("config.toml"),
        "[session_reflection]\nbackend = \"claude\"\ntimeout_seconds = 100\n",
    )
    .unwrap();
    let settings_path = w.claude_dir().join("settings.json");
    fs::write(&settings_path, USER_SETTINGS).unwrap();
    let settings_before = fs::read(&settings_path).unwrap();

    // (b) A git repo whose memory holds a marker only this run knows.
    w.git_repo_with_memory(&memory);

    // (c) Install csep as a user would, for Claude Code only.
    let mut c = w.command(&csep);
    c.arg("setup")
        .arg("--claude-dir")
        .arg(w.claude_dir())
        .args(["--no-codex", "--no-backfill"]);
    let r = w.run("csep-setup", c, RUN_TIMEOUT);
    let summary = w.setup_summary(&r);
    if !summary["claude"].is_object() || !summary["codex"].is_null() {
        w.fail(&format!(
            "setup_summary: want a \"claude\" report and no \"codex\" one (--no-codex): {summary}"
        ));
    }
    if summary["claude"]["settings_json"].as_str() != Some(&*settings_path.to_string_lossy()) {
        w.fail(&format!(
            "setup_summary.claude.settings_json is not {}: {}",
            settings_path.display(),
            summary["claude"]
        ));
    }
    let settings = w.read_json(&settings_path, "settings.json");
    for event in ["SessionStart", "Stop", "SessionEnd"] {
        if csep_handlers(&settings, event) == 0 {
            w.fail(&format!(
                "settings.json after setup has no csep hook for {event}"
            ));
        }
    }
    if settings["cleanupPeriodDays"] != 99
        || settings["hooks"]["Notification"][0]["hooks"][0]["command"] != "true"
    {
        w.fail(
            "csep setup lost the user's own settings (cleanupPeriodDays, the Notification hook)",
        );
    }
    let scripts = hook_scripts(&settings);
    w.check_installed(&scripts);

    // (d) Prompt 1 (a Bash call, then the answer), then the correction in the same session.
    let t1 = w.claude("claude-turn1", PROMPT_1, None);
    let session_id = t1["session_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| w.fail("claude -p printed no session_id"));
    if !t1["result"].as_str().unwrap_or("").contains("kiwano") {
        w.fail("claude did not print the scripted final answer of prompt 1");
    }
    let t2 = w.claude("claude-turn2", PROMPT_2, Some(&session_id));
    if t2["session_id"] != session_id.as_str() {
        w.fail(&format!(
            "claude -p --resume {session_id} ran another session: {}",
            t2["session_id"]
        ));
    }
    if !t2["result"].as_str().unwrap_or("").contains("persimmon") {
        w.fail("claude did not print the scripted answer of prompt 2");
    }

    // (e) What reached the model: all three scripted turns, in this session, and csep's
    // memory (SessionStart's additionalContext) in a system message of every request.
    let reqs: Vec<Value> = w
        .requests()
        .into_iter()
        .filter(|r| r["headers"]["x-claude-code-session-id"] == session_id.as_str())
        .collect();
    let served: Vec<&Value> = reqs.iter().map(|r| &r["served"]).collect();
    if served != [0, 1, 2, 3].map(Value::from).iter().collect::<Vec<_>>() {
        w.fail(&format!(
            "want exactly the 4 scripted model requests (turns 0 to 3) for session {session_id}, got served = {served:?}"
        ));
    }
    for (n, req) in reqs.iter().enumerate() {
        let injected = req["body"]["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "system")
            .map(message_text)
            .any(|t| t.contains("SessionStart hook additional context") && t.contains(&marker));
        if !injected {
            w.fail(&format!(
                "model request #{} has no system message with csep's SessionStart context holding the memory marker {marker}",
                n + 1
            ));
        }
    }
    for (n, out) in [(1, "step-one-done"), (3, "rule-noted")] {
        let seen = reqs[n]["body"]["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["role"] == "user" && message_text(m).contains(out));
        if !seen {
            w.fail(&format!(
                "the Bash call's output ({out}) did not come back to the model"
            ));
        }
    }

    // (f) The Stop/SessionEnd hooks' drainer archived the whole session: recall finds it for
    // this repo by prompt 1, by both final answers (the last lines Claude Code writes, late
    // at Stop) and by the correction.
    w.wait_drained();
    let want = format!("claude:{session_id}");
    let v = w.recall("csep-recall-tamarind", &["tamarind"]);
    if recalled_ids(&v).first() != Some(&want) {
        w.fail(&format!(
            "csep recall tamarind: want session {want} first, got {:?}: {v}",
            recalled_ids(&v)
        ));
    }
    for (label, query) in [
        ("csep-recall-kiwano", vec!["kiwano"]),
        ("csep-recall-persimmon", vec!["persimmon"]),
        (
            "csep-recall-correction",
            vec!["\"cargo test before committing\"", "--role", "user"],
        ),
    ] {
        let v = w.recall(label, &query);
        if !recalled_ids(&v).contains(&want) {
            w.fail(&format!(
                "csep recall {query:?}: session {want} is not among the results {:?} (a final answer or prompt was lost to the transcript's write lag at Stop, or SessionEnd was not archived): {v}",
                recalled_ids(&v)
            ));
        }
    }

    // (g) The correction queued a reflection job; the drainer started the worker, which ran
    // Claude Code as the provider; csep-verify applied the proposal.
    let reflect = w.csep_home().join("spool/reflect");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(150);
    let job_id = loop {
        let done = walk(&reflect.join("done"))
            .into_iter()
            .chain(walk(&reflect.join("failed")))
            .filter_map(|f| serde_json::from_slice::<Value>(&fs::read(&f).ok()?).ok())
            .find(|j| j["session_id"] == format!("claude:{session_id}").as_str());
        if let Some(j) = done {
            break j["job_id"].as_str().unwrap_or_default().to_string();
        }
        if std::time::Instant::now() > deadline {
            w.fail(&format!(
                "the reflect_job for session {session_id} did not finish within 150 s"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let run = w.csep_home().join("runs").join(&job_id);
    let status = w.read_json(&run.join("status.json"), "status.json");
    if status["status"] != "succeeded" || status["provider"]["backend"] != "claude" {
        w.fail(&format!(
            "the reflection job did not succeed with the claude provider: {status}\n--- provider.log\n{}",
            tail(&read_lossy(&run.join("provider.log")), 4000)
        ));
    }
    let live_memory = w
        .csep_home()
        .join("projects")
        .join(w.work().to_string_lossy().replace('/', "-"))
        .join("memory/MEMORY.md");
    let now = read_lossy(&live_memory);
    if now != format!("{memory}{NEW_LINE}\n") {
        w.fail(&format!("MEMORY.md after the reflection:\n{now}"));
    }

    // (h) A new session starts with the memory the reflection wrote.
    w.claude("claude-turn3", PROMPT_3, None);
    let injected = w
        .requests()
        .into_iter()
        .filter(|r| r["served"] == 6)
        .any(|r| {
            r["body"]["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["role"] == "system")
                .map(message_text)
                .any(|t| t.contains(NEW_LINE))
        });
    if !injected {
        w.fail("the new session's SessionStart context does not hold the reflected line");
    }
    w.wait_drained();

    // (i) Uninstall gives back the user's settings.json byte for byte and removes the script.
    w.uninstall(&[], &settings_path, &settings_before, &scripts);
}

/// Issue #14's MCP acceptance for Claude Code: `csep setup` registers `csep mcp` as the
/// user-scope MCP server `csep` (`.claude.json` in CLAUDE_CONFIG_DIR), Claude Code starts it
/// and lists its tools in the model request (`mcp__csep__recall`), the scripted model calls
/// `recall`, and the tool result Claude Code sends back to the model names the planted
/// session (a Codex rollout indexed before the session).
#[test]
fn the_model_calls_csep_mcp_recall_tool_inside_claude_code() {
    let claude_bin = common::host_bin(
        "CSEP_CLAUDE_BIN",
        "the real Claude Code CLI",
        "scripts/install-claude.sh",
        "it installs @anthropic-ai/claude-code@2.1.332 into ~/.cache/csep-hosts/claude",
    );
    let mut w = World::new(claude_bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");
    let needle = format!("mcp-loquat-{}", unique_token());
    let tool = "mcp__csep__recall";
    w.start_mock(
        &serde_json::json!([
            {"match": "loquat session", "blocks": [
                {"type": "text", "text": "Loading csep's recall tool."},
                {"type": "tool_use", "name": "ToolSearch", "input": {"query": format!("select:{tool}")}}]},
            // The ToolSearch result is a tool_reference block, no text to match.
            {"blocks": [
                {"type": "text", "text": "Searching past sessions."},
                {"type": "tool_use", "name": tool, "input": {"query": needle, "global": true}}]},
            {"match": needle, "blocks": [{"type": "text", "text": "Found the loquat session."}]}
        ])
        .to_string(),
    );
    w.git_repo_with_memory("- loquat: nothing to remember yet\n");
    let planted = "019b0000-0000-7000-8000-0000000c1a14";
    let rollouts = w.p("rollouts");
    let work = w.work().to_string_lossy().into_owned();
    common::write_lines(
        &common::codex_path(&rollouts, planted),
        &common::codex_rollout(
            planted,
            &work,
            "what did the loquat step print?",
            &format!("loquat step: {needle}"),
            "It printed the loquat token.",
        ),
    );
    let mut c = w.command(assert_cmd::cargo::cargo_bin("csep-index"));
    c.args(["--backfill", "codex", "--all-history", "--root"])
        .arg(&rollouts);
    let r = w.run("csep-index", c, RUN_TIMEOUT);
    if r.code != Some(0) {
        w.fail("csep-index --backfill of the planted session failed");
    }

    let mut c = w.command(&csep);
    c.arg("setup")
        .arg("--claude-dir")
        .arg(w.claude_dir())
        .args(["--no-codex", "--no-backfill"]);
    let r = w.run("csep-setup", c, RUN_TIMEOUT);
    let summary = w.setup_summary(&r);
    let registered = w.claude_dir().join(".claude.json");
    if summary["mcp"]["claude"].as_str() != Some(&*registered.to_string_lossy()) {
        w.fail(&format!(
            "setup_summary.mcp.claude is not {}: {summary}",
            registered.display()
        ));
    }

    w.claude("claude-mcp", "Recall the loquat session with csep.", None);
    let reqs: Vec<Value> = w
        .requests()
        .into_iter()
        .filter(|r| r["served"].is_u64())
        .collect();
    let Some(first) = reqs.first() else {
        w.fail("no scripted model request reached the mock");
    };
    // Claude Code defers MCP tools: the first request names them in a system message (the
    // model loads one with ToolSearch, "select:<name>"), and lists them once loaded.
    let named = first["body"].to_string().contains(&format!("\\n{tool}\\n"));
    let listed = reqs.iter().any(|r| {
        r["body"]["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == tool))
    });
    if !named || !listed {
        w.fail(&format!(
            "Claude Code did not offer {tool} to the model (named among the deferred tools: {named}, listed after ToolSearch: {listed})"
        ));
    }
    let results: Vec<String> = reqs
        .iter()
        .flat_map(|r| {
            r["body"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_result")
        .map(|b| b["content"].to_string())
        .collect();
    if !results
        .iter()
        .any(|r| r.contains(planted) && r.contains(&needle))
    {
        w.fail(&format!(
            "the recall tool's result that Claude Code sent back names no session {planted}: {results:?}"
        ));
    }
}
