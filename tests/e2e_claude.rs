//! The acceptance test of issue #3 (live hooks) for Claude Code: the real Claude Code CLI,
//! offline, against a scripted Messages API (tests/support/mock_messages.py), with csep
//! installed the way a user installs it (`csep setup`).
//!
//! One session, two `claude -p` processes (the second one `--resume`s the first): the repo's
//! MEMORY.md reaches the model through the SessionStart hook, the Stop/SessionEnd hooks'
//! drainer makes both prompts and both final answers findable with `csep recall` (nothing is
//! lost to the transcript's write lag at Stop), and `csep uninstall` leaves the user's
//! settings.json byte-identical.
//!
//! The Claude Code binary comes from `CSEP_CLAUDE_BIN` (scripts/install-claude.sh prints
//! it; CI sets it). Without it the test fails: it is required, never skipped. Everything
//! runs in a temp dir (HOME, CLAUDE_CONFIG_DIR, CSEP_HOME, TMPDIR); set `CSEP_E2E_KEEP=1`
//! to keep it for a look.

use serde_json::Value;
use std::cell::RefCell;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MOCK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/mock_messages.py"
);
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
const PROMPT_1: &str =
    "Do the tamarind step: run `echo step-one-done` in the shell, then tell me how it went.";
const PROMPT_2: &str = "no, don't do that, remember: always run cargo test before committing";

/// The model's side. Each turn is tied (`match`) to the last user message it answers, so
/// only this session's requests can take them. Both prompts get a Bash call first and the
/// answer after its output: the final line of such a turn is the one Claude Code tends to
/// write to the transcript only after the Stop hook ran (harness README, "Write lag at
/// Stop"). "kiwano" and "persimmon" occur only in those final answers.
const SCRIPT: &str = r#"[
  {"match": "tamarind step", "blocks": [
    {"type": "text", "text": "Running the step first."},
    {"type": "bash", "command": "echo step-one-done", "description": "Run the step"}]},
  {"match": "step-one-done", "blocks": [
    {"type": "text", "text": "The tamarind step printed step-one-done and the kiwano check passed; I will commit next."}]},
  {"match": "cargo test before committing", "blocks": [
    {"type": "text", "text": "Noted. Checking the rule file first."},
    {"type": "bash", "command": "echo rule-noted", "description": "Note the rule"}]},
  {"match": "rule-noted", "blocks": [
    {"type": "text", "text": "Understood, persimmon rule noted: I will always run cargo test before committing."}]}
]"#;

/// The user's own settings.json, in their own formatting: uninstall must give back exactly
/// these bytes.
const USER_SETTINGS: &str = r#"{
    "cleanupPeriodDays": 99,
    "hooks": {
        "Notification": [ { "hooks": [ { "type": "command", "command": "true" } ] } ]
    }
}
"#;

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
    claude_bin: PathBuf,
    mock: Option<Child>,
    port: u16,
    notes: RefCell<Vec<String>>,
}

impl World {
    fn new(claude_bin: PathBuf) -> World {
        let dir = tempfile::tempdir().unwrap();
        // Canonical, so paths compare equal to what Claude Code and csep report.
        let root = fs::canonicalize(dir.path()).unwrap();
        for d in ["home", "claude-config", "csep-home", "tmp", "work", "logs"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        World {
            dir: Some(dir),
            root,
            claude_bin,
            mock: None,
            port: 0,
            notes: RefCell::new(Vec::new()),
        }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn claude_dir(&self) -> PathBuf {
        self.p("claude-config")
    }
    fn csep_home(&self) -> PathBuf {
        self.p("csep-home")
    }
    fn work(&self) -> PathBuf {
        self.p("work")
    }

    /// The environment every process of the test gets: the temp dirs, never the real home,
    /// none of the caller's csep / Claude / Anthropic settings, and the model at the mock
    /// (the variables the harness README verified for offline `claude -p`).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if [
                "CSEP_",
                "CODEX_",
                "OPENAI_",
                "XDG_",
                "CLAUDE",
                "ANTHROPIC_",
                "GIT_",
                "DISABLE_",
            ]
            .iter()
            .any(|p| k.starts_with(p))
                || ["RUST_LOG", "IS_SANDBOX", "NODE_OPTIONS"].contains(&k.as_str())
            {
                c.env_remove(&k);
            }
        }
        c.env("HOME", self.p("home"))
            .env("CLAUDE_CONFIG_DIR", self.claude_dir())
            .env("CSEP_HOME", self.csep_home())
            .env("TMPDIR", self.p("tmp"))
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("ANTHROPIC_API_KEY", "sk-ant-csep-e2e-not-a-real-key")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .env("TERM", "dumb")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .current_dir(self.work())
            .stdin(Stdio::null());
        if is_root() {
            // bypassPermissions as uid 0 is refused unless Claude Code is told it is sandboxed.
            c.env("IS_SANDBOX", "1");
        }
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

    fn start_mock(&mut self) {
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
            .args(["--max-requests", "40", "--timeout", "600"])
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
                    self.port = port;
                    return;
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

    /// Every `/v1/messages` request the model got, as logged by the mock.
    fn requests(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.p("mock-requests.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["type"] == "request"
                    && v["path"]
                        .as_str()
                        .is_some_and(|p| p.split('?').next() == Some("/v1/messages"))
            })
            .collect()
    }

    /// Runs `claude -p` in WORKDIR (one more prompt of the session `resume`, if given) and
    /// returns the `--output-format json` result object.
    fn claude(&self, label: &str, prompt: &str, resume: Option<&str>) -> Value {
        let mut c = self.command(&self.claude_bin);
        c.args([
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
        let mut d = String::from("\n========== e2e_claude diagnostics ==========\n");
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
                "#{} {} {} served={} session={}\n",
                v["seq"],
                v["method"],
                v["path"],
                v["served"],
                v["headers"]["x-claude-code-session-id"]
            ));
            for m in v["body"]["messages"].as_array().into_iter().flatten() {
                let text: String = message_text(m).chars().take(300).collect();
                d.push_str(&format!(
                    "    {}: {:?}\n",
                    m["role"].as_str().unwrap_or("?"),
                    text
                ));
            }
        }
        d.push_str("--- mock log tail (last 6 lines, request bodies left out)\n");
        let lines: Vec<&str> = log.lines().collect();
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
        d.push_str(&format!(
            "--- settings.json now\n{}\n",
            read_lossy(&self.claude_dir().join("settings.json"))
        ));
        d.push_str("--- files under CSEP_HOME/spool\n");
        for f in walk(&self.csep_home().join("spool")) {
            d.push_str(&format!("    {}\n", f.display()));
        }
        d.push_str("--- transcripts under CLAUDE_CONFIG_DIR/projects (line types of each)\n");
        for f in walk(&self.claude_dir().join("projects")) {
            let types: Vec<String> = fs::read_to_string(&f)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .map(|v| v["type"].as_str().unwrap_or("?").to_string())
                .collect();
            d.push_str(&format!("    {} {:?}\n", f.display(), types));
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
                eprintln!("e2e_claude: kept {}", dir.keep().display());
            }
        }
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Kills the process group a child leads (claude and the hooks and tools under it).
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
    out.sort();
    out
}

fn unique_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

/// The hook script path in each command of a settings.json (the quoted `…/csep-hook.sh` word).
fn hook_scripts(settings: &Value) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Some(events) = settings["hooks"].as_object() else {
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

/// Whether an event of a settings.json has a hook whose command runs csep-hook.sh.
fn has_csep_hook(settings: &Value, event: &str) -> bool {
    settings["hooks"][event]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
        .any(|h| {
            h["command"]
                .as_str()
                .is_some_and(|c| c.contains("csep-hook.sh"))
        })
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
    let claude_bin = match std::env::var_os("CSEP_CLAUDE_BIN") {
        Some(b) if !b.is_empty() => PathBuf::from(b),
        _ => panic!(
            "CSEP_CLAUDE_BIN is not set. This test drives the real Claude Code CLI and is required, not optional: \
             run `export CSEP_CLAUDE_BIN=\"$(scripts/install-claude.sh)\"` and rerun \
             (it installs @anthropic-ai/claude-code@2.1.328 into ~/.cache/csep-hosts/claude)."
        ),
    };
    assert!(
        claude_bin.is_file(),
        "CSEP_CLAUDE_BIN={} is not a file: run scripts/install-claude.sh",
        claude_bin.display()
    );
    let mut w = World::new(claude_bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");

    // (a) The model, and a settings.json of the user's own.
    w.start_mock();
    let settings_path = w.claude_dir().join("settings.json");
    fs::write(&settings_path, USER_SETTINGS).unwrap();
    let settings_before = fs::read(&settings_path).unwrap();

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
        format!("- {marker}: in this repo, run the tamarind check before committing\n"),
    )
    .unwrap();

    // (c) Install csep as a user would, for Claude Code only.
    let mut c = w.command(&csep);
    c.arg("setup")
        .arg("--claude-dir")
        .arg(w.claude_dir())
        .args(["--no-codex", "--no-backfill"]);
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
    let settings: Value = match fs::read(&settings_path) {
        Ok(b) => serde_json::from_slice(&b)
            .unwrap_or_else(|e| w.fail(&format!("settings.json after setup: {e}"))),
        Err(e) => w.fail(&format!("{} after setup: {e}", settings_path.display())),
    };
    for event in ["SessionStart", "Stop", "SessionEnd"] {
        if !has_csep_hook(&settings, event) {
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
    for s in &scripts {
        if !s.is_file() || !s.starts_with(&w.root) {
            w.fail(&format!(
                "hook script {} must be a file csep setup installed (under CSEP_HOME)",
                s.display()
            ));
        }
    }

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

    // (g) Uninstall gives back the user's settings.json byte for byte and removes the script.
    let mut c = w.command(&csep);
    c.arg("uninstall");
    let r = w.run("csep-uninstall", c, RUN_TIMEOUT);
    if r.code != Some(0) {
        w.fail(&format!("csep uninstall exited {:?}", r.code));
    }
    let settings_after = fs::read(&settings_path).unwrap_or_default();
    if settings_after != settings_before {
        w.fail(&format!(
            "settings.json differs after uninstall.\n[before]\n{}\n[after]\n{}",
            String::from_utf8_lossy(&settings_before),
            String::from_utf8_lossy(&settings_after)
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
