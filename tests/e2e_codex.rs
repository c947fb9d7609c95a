//! The acceptance test of issue #3 (live hooks) for Codex: the real Codex CLI, offline,
//! against a scripted model (tests/support/mock_responses.py), with csep installed the way a
//! user installs it (`csep setup`, hooks trusted through Codex itself, no bypass flag).
//!
//! One session, two prompts: the repo's MEMORY.md reaches the model, the Stop hook's drainer
//! makes the session findable with `csep recall`, the user's correction queues a reflection
//! job, and `csep uninstall` leaves Codex's config byte-identical.
//!
//! The Codex binary comes from `CSEP_CODEX_BIN` (scripts/install-hosts.sh prints it; CI sets
//! it). Without it the test fails: it is required, never skipped. Everything runs in a temp
//! dir (HOME, CODEX_HOME, CSEP_HOME, TMPDIR); set `CSEP_E2E_KEEP=1` to keep it for a look.

use serde_json::Value;
use std::cell::RefCell;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MOCK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/mock_responses.py"
);
/// The provider's `env_key`: Codex needs the variable set, the mock ignores its value.
const KEY_VAR: &str = "CSEP_E2E_MOCK_KEY";
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
const PROMPT_1: &str =
    "Run `echo kumquat-token-one` in the shell, then tell me what the kumquat step printed.";
const PROMPT_2: &str = "no, don't do that, remember: always run cargo test before committing";

/// What the model answers, one entry per model request: a shell call, the answer after its
/// output (prompt 1), then the answer to the resumed prompt 2.
const SCRIPT: &str = r#"[
  [{"type": "shell", "command": "echo kumquat-token-one"}],
  [{"type": "message", "text": "It printed kumquat-token-one, so the kumquat step is done; I will commit next."}],
  [{"type": "message", "text": "Understood: I will always run cargo test before committing."}]
]"#;

/// One finished (or killed) process.
struct Run {
    code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// The temp world of one test run, and the diagnostics shown when an assertion fails.
struct World {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    codex_bin: PathBuf,
    mock: Option<Child>,
    notes: RefCell<Vec<String>>,
}

impl World {
    fn new(codex_bin: PathBuf) -> World {
        let dir = tempfile::tempdir().unwrap();
        // Canonical, so paths compare equal to what Codex and csep report.
        let root = fs::canonicalize(dir.path()).unwrap();
        for d in ["home", "codex-home", "csep-home", "tmp", "work", "logs"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        World {
            dir: Some(dir),
            root,
            codex_bin,
            mock: None,
            notes: RefCell::new(Vec::new()),
        }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn codex_home(&self) -> PathBuf {
        self.p("codex-home")
    }
    fn csep_home(&self) -> PathBuf {
        self.p("csep-home")
    }
    fn work(&self) -> PathBuf {
        self.p("work")
    }

    /// The environment every process of the test gets: the temp dirs, never the real home,
    /// and none of the caller's csep / Codex / OpenAI settings.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if ["CSEP_", "CODEX_", "OPENAI_", "XDG_", "CLAUDE_", "GIT_"]
                .iter()
                .any(|p| k.starts_with(p))
                || k == "RUST_LOG"
            {
                c.env_remove(&k);
            }
        }
        c.env("HOME", self.p("home"))
            .env("CODEX_HOME", self.codex_home())
            .env("CSEP_HOME", self.csep_home())
            .env("TMPDIR", self.p("tmp"))
            .env(KEY_VAR, "csep-e2e-not-a-real-key")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .current_dir(self.work())
            .stdin(Stdio::null());
        c
    }

    fn note(&self, s: String) {
        self.notes.borrow_mut().push(s);
    }

    /// Runs `cmd` to the end or kills its whole process group after `timeout`. Output goes
    /// to files under logs/ (no pipe can fill up), then is read back.
    fn run(&self, label: &str, mut cmd: Command, timeout: Duration) -> Run {
        use std::os::unix::process::CommandExt;
        let out_path = self.p(&format!("logs/{label}.stdout"));
        let err_path = self.p(&format!("logs/{label}.stderr"));
        cmd.stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| self.fail(&format!("{label}: cannot start {cmd:?}: {e}")));
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                kill_group(&child);
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let run = Run {
            code: status.code(),
            timed_out,
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        };
        self.note(format!(
            "--- {label}: exit {:?}{}\n{cmd:?}\n[stdout]\n{}\n[stderr]\n{}",
            run.code,
            if timed_out {
                " (killed: timed out)"
            } else {
                ""
            },
            tail(&run.stdout, 3000),
            tail(&run.stderr, 4000)
        ));
        run
    }

    fn start_mock(&mut self) -> u16 {
        let script = self.p("script.json");
        fs::write(&script, SCRIPT).unwrap();
        let port_file = self.p("mock.port");
        let child = Command::new("python3")
            .arg(MOCK)
            .arg("--script")
            .arg(&script)
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(self.p("mock-requests.jsonl"))
            .args(["--max-requests", "30", "--timeout", "600"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(self.p("logs/mock.stderr")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3 {MOCK}: {e}"));
        self.mock = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(s) = fs::read_to_string(&port_file) {
                if let Ok(port) = s.trim().parse() {
                    return port;
                }
            }
            if let Some(st) = self.mock.as_mut().unwrap().try_wait().unwrap() {
                self.fail(&format!("the mock model server exited early ({st})"));
            }
            if Instant::now() > deadline {
                self.fail("the mock model server wrote no port within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every request the model got, as logged by the mock.
    fn requests(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.p("mock-requests.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["type"] == "request"
                    && v["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with("/responses"))
            })
            .collect()
    }

    /// Waits until the archive queue is empty and no drainer holds its lock.
    fn wait_drained(&self) {
        let queue = self.csep_home().join("spool/archive");
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let empty = |d: &str| {
            fs::read_dir(queue.join(d))
                .map(|mut r| r.next().is_none())
                .unwrap_or(true)
        };
        loop {
            let unlocked = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(queue.join(".lock"))
                .map(|f| fs2::FileExt::try_lock_exclusive(&f).is_ok())
                .unwrap_or(false);
            if empty("new") && empty("cur") && unlocked {
                return;
            }
            if Instant::now() > deadline {
                self.fail("the drainer did not finish within 60 s (spool/archive/new or cur not empty, or .lock held)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.diagnostics())
    }

    fn diagnostics(&self) -> String {
        let mut d = String::from("\n========== e2e_codex diagnostics ==========\n");
        d.push_str(&format!(
            "temp dir: {} (set CSEP_E2E_KEEP=1 to keep it)\n",
            self.root.display()
        ));
        for n in self.notes.borrow().iter() {
            d.push_str(n);
            d.push('\n');
        }
        d.push_str("--- model requests (mock log, summarized)\n");
        let log = fs::read_to_string(self.p("mock-requests.jsonl")).unwrap_or_default();
        for l in log.lines() {
            let Ok(v) = serde_json::from_str::<Value>(l) else {
                d.push_str(&format!("(unparsed) {}\n", tail(l, 300)));
                continue;
            };
            if v["type"] != "request" {
                d.push_str(&format!("{v}\n"));
                continue;
            }
            d.push_str(&format!(
                "#{} {} {} served={}\n",
                v["seq"], v["method"], v["path"], v["served"]
            ));
            let input = v["body"]["input"].as_array().cloned().unwrap_or_default();
            // The base instructions come first and are long: show the conversation part.
            for item in input.iter().skip(1) {
                d.push_str(&format!("    {}\n", describe_item(item)));
            }
        }
        d.push_str(&format!(
            "--- mock stderr\n{}\n",
            tail(&read_lossy(&self.p("logs/mock.stderr")), 2000)
        ));
        let logs = self.csep_home().join("logs");
        if let Ok(rd) = fs::read_dir(&logs) {
            for e in rd.flatten() {
                d.push_str(&format!(
                    "--- {}\n{}\n",
                    e.path().display(),
                    tail(&read_lossy(&e.path()), 4000)
                ));
            }
        } else {
            d.push_str(&format!("--- {}: missing\n", logs.display()));
        }
        d.push_str("--- files under CSEP_HOME/spool and CODEX_HOME (top level)\n");
        for f in walk(&self.csep_home().join("spool")) {
            d.push_str(&format!("    {}\n", f.display()));
        }
        if let Ok(rd) = fs::read_dir(self.codex_home()) {
            for e in rd.flatten() {
                d.push_str(&format!("    {}\n", e.path().display()));
            }
        }
        d
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(mut m) = self.mock.take() {
            let _ = m.kill();
            let _ = m.wait();
        }
        if std::env::var_os("CSEP_E2E_KEEP").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("e2e_codex: kept {}", dir.keep().display());
            }
        }
    }
}

/// Kills the process group a child leads (the npm launcher and the native codex under it).
fn kill_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn read_lossy(p: &Path) -> String {
    let mut f = match fs::File::open(p) {
        Ok(f) => f,
        Err(e) => return format!("({e})"),
    };
    // Only the end matters, and logs can be large.
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 << 10)));
    let mut b = Vec::new();
    let _ = f.read_to_end(&mut b);
    String::from_utf8_lossy(&b).into_owned()
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

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn unique_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
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

/// The hook script path in each command of a hooks.json (the quoted `…/csep-hook.sh` word).
fn hook_scripts(hooks_json: &Value) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Some(events) = hooks_json["hooks"].as_object() else {
        return out;
    };
    for groups in events.values() {
        for g in groups.as_array().into_iter().flatten() {
            for h in g["hooks"].as_array().into_iter().flatten() {
                let cmd = h["command"].as_str().unwrap_or_default();
                for word in cmd.split_whitespace() {
                    let word = word.trim_matches(|c| c == '\'' || c == '"');
                    if word.ends_with("csep-hook.sh") {
                        out.push(PathBuf::from(word));
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn codex_session_gets_memory_is_recalled_triggers_reflection_and_uninstalls_cleanly() {
    let codex_bin = match std::env::var_os("CSEP_CODEX_BIN") {
        Some(b) if !b.is_empty() => PathBuf::from(b),
        _ => panic!(
            "CSEP_CODEX_BIN is not set. This test drives the real Codex CLI and is required, not optional: \
             run `export CSEP_CODEX_BIN=\"$(scripts/install-hosts.sh)\"` and rerun \
             (on the dev machines: CSEP_CODEX_BIN=/tmp/codexcli/node_modules/.bin/codex)."
        ),
    };
    assert!(
        codex_bin.is_file(),
        "CSEP_CODEX_BIN={} is not a file: run scripts/install-hosts.sh",
        codex_bin.display()
    );
    let mut w = World::new(codex_bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");

    // (a) The model, and a Codex config with a comment and a key of the user's own.
    let port = w.start_mock();
    let config_path = w.codex_home().join("config.toml");
    fs::write(&config_path, config_toml(port)).unwrap();
    let config_before = fs::read(&config_path).unwrap();
    let hooks_path = w.codex_home().join("hooks.json");
    assert!(!hooks_path.exists());

    // (b) A git repo whose memory holds a marker only this run knows.
    let git = |args: &[&str]| {
        let mut c = w.command("git");
        c.args(["-c", "user.name=csep-e2e", "-c", "user.email=e2e@localhost"])
            .args(args);
        let r = w.run(&format!("git-{}", args[0]), c, RUN_TIMEOUT);
        assert_eq!(r.code, Some(0), "git {args:?}: {}", r.stderr);
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "init"]);
    let repo_root = fs::canonicalize(w.work()).unwrap();
    let marker = format!("CSEP-E2E-MEMORY-{}", unique_token());
    let bucket = w
        .csep_home()
        .join("projects")
        .join(repo_root.to_string_lossy().replace('/', "-"));
    fs::create_dir_all(bucket.join("memory")).unwrap();
    fs::write(
        bucket.join("memory/MEMORY.md"),
        format!("- {marker}: in this repo, run the kumquat check before committing\n"),
    )
    .unwrap();

    // (c) Install csep as a user would; Codex itself must report the hooks as trusted.
    let mut c = w.command(&csep);
    c.arg("setup")
        .arg("--codex-home")
        .arg(w.codex_home())
        .args(["--no-claude", "--no-backfill", "--codex-bin"])
        .arg(&w.codex_bin);
    let r = w.run("csep-setup", c, RUN_TIMEOUT);
    if r.code != Some(0) {
        w.fail(&format!("csep setup exited {:?}", r.code));
    }
    let summary = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "setup_summary")
        .or_else(|| {
            serde_json::from_str::<Value>(&r.stdout)
                .ok()
                .filter(|v| v["type"] == "setup_summary")
        })
        .unwrap_or_else(|| {
            w.fail("csep setup printed no {\"type\":\"setup_summary\",...} on stdout")
        });
    if summary["codex"]["trust"] != "trusted"
        || summary["codex"]["trusted_hooks"].as_u64().unwrap_or(0) < 3
    {
        w.fail(&format!(
            "csep setup did not get Codex to trust its hooks (want codex.trust = \"trusted\", codex.trusted_hooks >= 3): {}",
            summary["codex"]
        ));
    }
    let hooks: Value = match fs::read(&hooks_path) {
        Ok(b) => serde_json::from_slice(&b)
            .unwrap_or_else(|e| w.fail(&format!("hooks.json after setup: {e}"))),
        Err(e) => w.fail(&format!("{} after setup: {e}", hooks_path.display())),
    };
    let scripts = hook_scripts(&hooks);
    if scripts.is_empty() {
        w.fail(&format!("no hook in hooks.json runs csep-hook.sh: {hooks}"));
    }
    for s in &scripts {
        if !s.is_file() || !s.starts_with(&w.root) {
            w.fail(&format!(
                "hook script {} must be a file csep setup installed (under CSEP_HOME or CODEX_HOME)",
                s.display()
            ));
        }
    }

    // (d) Prompt 1, then the correction in the same session: no hook-trust bypass.
    let mut c = w.command(&w.codex_bin);
    c.args([
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        PROMPT_1,
    ]);
    let t1 = w.run("codex-turn1", c, RUN_TIMEOUT);
    if t1.code != Some(0) || t1.timed_out {
        w.fail("codex exec (prompt 1) failed");
    }
    let session_id = t1
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("session id: "))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| w.fail("no `session id: <uuid>` line in codex's stderr"));
    if !t1.stderr.contains("hook: SessionStart Completed") {
        w.fail("csep's SessionStart hook did not run to completion in prompt 1 (an untrusted hook is skipped silently)");
    }
    if !t1.stdout.contains("kumquat") {
        w.fail("codex did not print the scripted final answer of prompt 1");
    }
    let mut c = w.command(&w.codex_bin);
    c.args([
        "exec",
        "resume",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        &session_id,
        PROMPT_2,
    ]);
    let t2 = w.run("codex-turn2", c, RUN_TIMEOUT);
    if t2.code != Some(0) || t2.timed_out {
        w.fail("codex exec resume (prompt 2) failed");
    }

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

    // (g) The correction ("remember: ...") queued a reflection job for this session.
    let reflect = w.csep_home().join("spool/reflect");
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let found = ["new", "cur", "done", "failed"]
            .iter()
            .flat_map(|d| walk(&reflect.join(d)))
            .filter_map(|f| {
                Some((
                    f.clone(),
                    serde_json::from_slice::<Value>(&fs::read(&f).ok()?).ok()?,
                ))
            })
            .find(|(_, j)| j["type"] == "reflect_job" && j["session_id"] == session_id.as_str());
        if let Some(found) = found {
            break found;
        }
        if Instant::now() > deadline {
            w.fail(&format!(
                "no reflect_job for session {session_id} under {}",
                reflect.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let reasons = job.1["reasons"].to_string().to_lowercase();
    if !(reasons.contains("signal") || reasons.contains("remember")) {
        w.fail(&format!(
            "reflect job {} has no high-signal reason: {}",
            job.0.display(),
            job.1
        ));
    }
    if !job.0.starts_with(reflect.join("new")) {
        w.note(format!(
            "note: the reflect job was already picked up: {}",
            job.0.display()
        ));
    }

    // (h) Uninstall restores Codex's config byte for byte and removes what setup added.
    let mut c = w.command(&csep);
    c.arg("uninstall").arg("--codex-home").arg(w.codex_home());
    let r = w.run("csep-uninstall", c, RUN_TIMEOUT);
    if r.code != Some(0) {
        w.fail(&format!("csep uninstall exited {:?}", r.code));
    }
    let config_after = fs::read(&config_path).unwrap_or_default();
    if config_after != config_before {
        w.fail(&format!(
            "config.toml differs after uninstall.\n[before]\n{}\n[after]\n{}",
            String::from_utf8_lossy(&config_before),
            String::from_utf8_lossy(&config_after)
        ));
    }
    if hooks_path.exists() {
        w.fail(&format!(
            "{} is still there after uninstall (it did not exist before setup)",
            hooks_path.display()
        ));
    }
    for s in &scripts {
        if s.exists() {
            w.fail(&format!(
                "the hook script {} is still there after uninstall",
                s.display()
            ));
        }
    }
}
