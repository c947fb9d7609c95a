//! What the integration tests share: the hermetic [`Env`] the black-box tests run csep's
//! binaries in, the Codex rollouts they write, waiting for the archive drainer, git repos and
//! worktrees, csep 1.3.10 (the real one, or a database shaped like its own), small file
//! helpers, and the [`World`] harness the two real-host end-to-end
//! tests (tests/csep/e2e_codex.rs, tests/csep/e2e_claude.rs) drive Codex and Claude Code with.
//!
//! `tests/csep/main.rs` declares it once for the one test binary; each test module says
//! `use crate::common;`.

pub mod chat_hosts;

use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `../shared/fixtures` beside the repository root: real transcripts from other public
/// projects (`transcripts/`, `wild/`, `hosts/`), which this repository must not carry
/// (tests/csep/shared_fixtures.rs checks that it holds no copy of them). Absent on a machine
/// outside the project; CI always has it.
pub const SHARED_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");
/// The hook script a host runs (the one `csep setup` installs).
pub const HOOK_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plugin/hooks/csep-hook.sh");
/// How long the drainer a hook starts may take to empty the archive queue.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// [`SHARED_FIXTURES`], canonical, or `None` when it is absent: the calling test then
/// returns at once, after saying on stderr (past the harness's capture, so the skip shows)
/// that it was skipped. Only an absent folder skips: a test never passes without the data
/// it is about while that data is there.
pub fn shared_fixtures() -> Option<PathBuf> {
    let root = Path::new(SHARED_FIXTURES);
    if !root.is_dir() {
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map_or_else(|| "a test".to_string(), str::to_string);
        let _ = writeln!(
            std::io::stderr(),
            "skipped {test}: it reads real transcripts from ../shared/fixtures, which is absent"
        );
        return None;
    }
    Some(
        root.canonicalize()
            .unwrap_or_else(|e| panic!("{SHARED_FIXTURES}: {e}")),
    )
}

/// The real transcripts: `transcripts/` of [`SHARED_FIXTURES`], a `codex/` and a `claude/`
/// root in the hosts' on-disk layout (its SOURCES.md says where each file comes from).
/// `None`: skip the test (see [`shared_fixtures`]).
pub fn transcripts() -> Option<PathBuf> {
    let dir = shared_fixtures()?.join("transcripts");
    assert!(
        dir.is_dir(),
        "{} is missing although {SHARED_FIXTURES} is there",
        dir.display()
    );
    Some(dir)
}

// ---------------------------------------------------------------------------------------
// The hermetic environment.

/// A hermetic environment: a temp dir holding csep's state dir (`state/`), a home (`home/`)
/// and whatever transcript roots a test writes. Every command it makes runs in the temp dir
/// with `CSEP_HOME`, `HOME` and both hosts' config dirs pointed into it, so nothing touches
/// the caller's own files. [`Env::builder`] changes where the hosts' dirs are.
pub struct Env {
    dir: tempfile::TempDir,
    codex_home: Option<&'static str>,
    claude_dir: Option<&'static str>,
    path_var: Option<&'static str>,
}

/// Builds an [`Env`]; the default is [`Env::new`]'s.
pub struct EnvBuilder {
    codex_home: Option<&'static str>,
    claude_dir: Option<&'static str>,
    path_var: Option<&'static str>,
}

impl EnvBuilder {
    /// `CODEX_HOME` and `CLAUDE_CONFIG_DIR` at these dirs of the temp dir (the default is
    /// `home/.codex` and `home/.claude`).
    pub fn host_dirs(mut self, codex_home: &'static str, claude_dir: &'static str) -> Self {
        self.codex_home = Some(codex_home);
        self.claude_dir = Some(claude_dir);
        self
    }
    /// Neither `CODEX_HOME` nor `CLAUDE_CONFIG_DIR` set: csep finds the hosts' dirs from
    /// `HOME`, as for a user who set neither.
    pub fn hosts_from_home(mut self) -> Self {
        self.codex_home = None;
        self.claude_dir = None;
        self
    }
    /// `PATH` for every command (to leave a host's binary off it, say).
    pub fn path_var(mut self, path: &'static str) -> Self {
        self.path_var = Some(path);
        self
    }
    pub fn build(self) -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            codex_home: self.codex_home,
            claude_dir: self.claude_dir,
            path_var: self.path_var,
        }
    }
}

impl Env {
    /// The default environment: `CODEX_HOME` and `CLAUDE_CONFIG_DIR` under `home/`.
    pub fn new() -> Env {
        Env::builder().build()
    }
    pub fn builder() -> EnvBuilder {
        EnvBuilder {
            codex_home: Some("home/.codex"),
            claude_dir: Some("home/.claude"),
            path_var: None,
        }
    }
    /// The temp dir itself.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// csep's state dir (`CSEP_HOME`).
    pub fn state(&self) -> PathBuf {
        self.path("state")
    }
    pub fn db(&self) -> PathBuf {
        self.state().join("index/recall.sqlite3")
    }
    /// `program` with this environment and nothing else of the caller's (hermetic: no csep,
    /// host, model or git settings leak in), `PATH` aside, and the temp dir as its working
    /// dir.
    pub fn command(&self, program: impl AsRef<OsStr>) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_command(program))
    }
    /// [`Env::command`] as a plain `std::process::Command`, for a test that spawns it and
    /// goes on while it runs.
    pub fn std_command(&self, program: impl AsRef<OsStr>) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        // Nothing of the caller's: scripts/test.sh exports CSEP_CODEX_BIN, and a reflection
        // worker a hook starts must not find a real Codex through it.
        c.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            c.env("PATH", path);
        }
        c.env("CSEP_HOME", self.state())
            .env("HOME", self.path("home"))
            .env_remove("CODEX_SELF_EVOLUTION_HOME")
            .current_dir(self.dir.path());
        for (var, dir) in [
            ("CODEX_HOME", self.codex_home),
            ("CLAUDE_CONFIG_DIR", self.claude_dir),
        ] {
            match dir {
                Some(rel) => c.env(var, self.path(rel)),
                None => c.env_remove(var),
            };
        }
        if let Some(path) = self.path_var {
            c.env("PATH", path);
        }
        c
    }
    /// One of this package's binaries (`csep`, `csep-index`, …) with this environment.
    pub fn cmd(&self, bin: &str) -> assert_cmd::Command {
        self.command(assert_cmd::cargo::cargo_bin(bin))
    }
    /// One of this package's binaries run with `dir` mounted read-only for it and everything
    /// it starts, as a host's sandbox leaves csep's state dir. See [`read_only_command`].
    pub fn cmd_read_only(&self, dir: &Path, bin: &str) -> assert_cmd::Command {
        let mut c = self.command("unshare");
        c.args(read_only_command(dir, &assert_cmd::cargo::cargo_bin(bin)));
        c
    }
    /// `csep-index --backfill AGENT --all-history --root ROOT`, which must succeed; its
    /// summary.
    #[track_caller]
    pub fn backfill(&self, agent: &str, root: &Path) -> Value {
        let out = self
            .cmd("csep-index")
            .args(["--backfill", agent, "--all-history", "--root"])
            .arg(root)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap()
    }
    /// `csep-recall --format json ARGS…`, which must exit 0 (matched) or 1 (no match); its
    /// answer.
    #[track_caller]
    pub fn recall_json(&self, args: &[&str]) -> Value {
        let out = self
            .cmd("csep-recall")
            .args(["--format", "json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(1),
            "{out:?}"
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    /// The one number `sql` selects from the index database.
    pub fn sql_count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
    /// Writes the state dir's config.toml.
    pub fn config(&self, toml: &str) {
        fs::create_dir_all(self.state()).unwrap();
        fs::write(self.state().join("config.toml"), toml).unwrap();
    }
    /// Stores `text` as the MEMORY.md of the repository at `repo_root`.
    pub fn seed_memory(&self, repo_root: &Path, text: &str) {
        seed_memory(&self.state(), repo_root, text);
    }
    /// The archive queue the hooks fill and the drainer empties.
    pub fn archive_queue(&self) -> PathBuf {
        self.state().join("spool/archive")
    }
    /// Takes the drainer's lock of the archive queue (made if missing), as a running drainer
    /// holds it, so no drainer touches the queue until the returned file is dropped.
    pub fn lock_archive_queue(&self) -> fs::File {
        let queue = self.archive_queue();
        fs::create_dir_all(&queue).unwrap();
        let lock = open_queue_lock(&queue).unwrap();
        fs2::FileExt::try_lock_exclusive(&lock).unwrap();
        lock
    }
    /// Waits until the archive queue is drained (see [`archive_drained`]).
    #[track_caller]
    pub fn wait_drained(&self) {
        let queue = self.archive_queue();
        if wait_drained(&queue, DRAIN_TIMEOUT) {
            return;
        }
        // What is left, and what the hooks and the drainers said, so a failure explains itself.
        let mut report = String::new();
        for f in walk(&queue) {
            report.push_str(&format!("--- {}\n{}\n", f.display(), read_lossy(&f)));
        }
        for log in ["logs/hook.log", "logs/runs.jsonl"] {
            let p = self.state().join(log);
            report.push_str(&format!("--- {}\n{}\n", p.display(), read_lossy(&p)));
        }
        let locked = csep_lib::fsutil::is_locked(&queue.join(".lock"));
        panic!("the drainer did not finish (queue lock held: {locked})\n{report}");
    }
    /// Waits until the archive queue is drained and the reflection worker the drainer may
    /// have started is done: nothing csep started has the index open any more (a test that
    /// damages the index must not leave a csep process using it, which can write over the
    /// damage).
    #[track_caller]
    pub fn wait_idle(&self) {
        self.wait_drained();
        let reflect = self.state().join("spool/reflect");
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        loop {
            let empty =
                |d: &str| fs::read_dir(reflect.join(d)).map_or(true, |mut r| r.next().is_none());
            let unlocked = !csep_lib::fsutil::is_locked(&reflect.join(".lock"));
            if empty("new") && empty("cur") && unlocked {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the reflection worker did not finish"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The session id of a recall answer's first result, or "" when it has none.
pub fn top_session(v: &Value) -> String {
    v["results"][0]["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The arguments to `unshare` that run `program` with `dir` read-only: a private mount
/// namespace (`-m`, in a user namespace, `-r`, so no privilege is needed) in which `dir` is
/// bind-mounted onto itself read-only. Unlike a chmod, that holds for root too (tests run as
/// root in CI). The wrapper first proves `dir` is read-only and exits 99 if it is not, so a
/// test cannot pass on a writable dir.
pub fn read_only_command(dir: &Path, program: &Path) -> Vec<std::ffi::OsString> {
    let script = r#"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 98
if touch "$1/.csep-rw-probe" 2>/dev/null; then echo "read_only_command: $1 is writable" >&2; exit 99; fi
shift; exec "$@""#;
    ["-rm", "sh", "-c", script, "sh"]
        .iter()
        .map(Into::into)
        .chain([dir.as_os_str().to_owned(), program.as_os_str().to_owned()])
        .collect()
}

/// Stores `text` as the MEMORY.md of the repository at `repo_root`, in the state dir
/// `csep_home`, where SessionStart reads it.
pub fn seed_memory(csep_home: &Path, repo_root: &Path, text: &str) {
    let bucket = csep_home
        .join("projects")
        .join(repo_root.to_string_lossy().replace('/', "-"));
    fs::create_dir_all(bucket.join("memory")).unwrap();
    fs::write(bucket.join("memory/MEMORY.md"), text).unwrap();
}

// ---------------------------------------------------------------------------------------
// The archive drainer.

/// Whether the archive queue at `queue` (`…/spool/archive`) is drained: `new/` and `cur/`
/// empty, and no drainer holding `.lock` (a lock that cannot be opened counts as held).
pub fn archive_drained(queue: &Path) -> bool {
    let empty = |d: &str| {
        fs::read_dir(queue.join(d))
            .map(|mut r| r.next().is_none())
            .unwrap_or(true)
    };
    let unlocked = open_queue_lock(queue)
        .map(|f| fs2::FileExt::try_lock_exclusive(&f).is_ok())
        .unwrap_or(false);
    empty("new") && empty("cur") && unlocked
}

/// Takes the exclusive lock on the lock file `path` (made if missing), as a running csep
/// process holds it, until the returned file is dropped.
pub fn hold_lock(path: &Path) -> fs::File {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    fs2::FileExt::try_lock_exclusive(&f).unwrap();
    f
}

/// The archive queue's `.lock`, which a drainer holds while it works.
fn open_queue_lock(queue: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(queue.join(".lock"))
}

/// Polls [`archive_drained`] until it holds (true) or `timeout` has passed (false).
pub fn wait_drained(queue: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if archive_drained(queue) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// Codex rollouts.

/// The timestamp of every line [`codex_rollout`] and [`codex_turn`] write.
pub const TS: &str = "2026-11-01T10:00:00.000Z";

/// Where Codex keeps the rollout of session `id` (started at [`TS`]) under a sessions root.
pub fn codex_path(root: &Path, id: &str) -> PathBuf {
    root.join(format!("2026/11/01/rollout-2026-11-01T10-00-00-{id}.jsonl"))
}

/// A small interactive Codex rollout: meta, injected context, then one [`codex_turn`]: a
/// user message, a `cargo test` call and its output, a reply.
pub fn codex_rollout(id: &str, cwd: &str, user: &str, output: &str, reply: &str) -> Vec<Value> {
    let mut v = vec![
        json!({"timestamp": TS, "type": "session_meta", "payload": {"id": id, "timestamp": TS, "cwd": cwd, "originator": "codex_cli_rs", "cli_version": "0.169.0", "source": "cli"}}),
        json!({"timestamp": TS, "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/x</cwd>\n</environment_context>"}]}}),
    ];
    v.extend(codex_turn(user, &[("cargo test", output)], reply));
    v
}

/// One turn of a Codex rollout: the user's text, shell calls (command, output), the reply.
pub fn codex_turn(user: &str, calls: &[(&str, &str)], reply: &str) -> Vec<Value> {
    let mut v = vec![
        json!({"timestamp": TS, "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]}}),
        json!({"timestamp": TS, "type": "event_msg", "payload": {"type": "user_message", "message": user}}),
    ];
    for (n, (cmd, output)) in calls.iter().enumerate() {
        let call_id = format!("c{}-{n}", user.len());
        let args = json!({ "cmd": cmd }).to_string();
        v.push(json!({"timestamp": TS, "type": "response_item", "payload": {"type": "function_call", "name": "exec_command", "arguments": args, "call_id": call_id}}));
        v.push(json!({"timestamp": TS, "type": "response_item", "payload": {"type": "function_call_output", "call_id": call_id, "output": output}}));
    }
    v.push(json!({"timestamp": TS, "type": "response_item", "payload": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": reply}]}}));
    v.push(json!({"timestamp": TS, "type": "event_msg", "payload": {"type": "agent_message", "message": reply}}));
    v
}

/// What `codex exec` writes for a one-prompt session: its meta, the prompt, the answer.
pub fn codex_exec_rollout(id: &str, cwd: &str, prompt: &str, answer: &str) -> Vec<Value> {
    let ts = "2026-11-24T10:15:02.114Z";
    vec![
        json!({"timestamp": ts, "type": "session_meta", "payload": {"id": id, "timestamp": ts, "cwd": cwd, "originator": "codex_exec", "cli_version": "0.169.0", "source": "exec"}}),
        json!({"timestamp": ts, "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}}),
        json!({"timestamp": ts, "type": "response_item", "payload": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]}}),
    ]
}

/// Writes `lines` as a JSON Lines file (its dirs made, any old content replaced).
pub fn write_lines(path: &Path, lines: &[Value]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = fs::File::create(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Appends `lines` to a JSON Lines file (made, with its dirs, if missing).
pub fn append_lines(path: &Path, lines: &[Value]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// csep 1.3.10's database.

/// The real csep 1.3.10 that `CSEP_LEGACY_BIN` names (`scripts/install-legacy.sh` installs it
/// and prints the path; `scripts/test.sh` exports it). Unset: with `CI=true` the test fails,
/// as CI must run it; elsewhere it is skipped, saying so on stderr.
#[track_caller]
pub fn legacy_bin() -> Option<PathBuf> {
    match std::env::var_os("CSEP_LEGACY_BIN").filter(|b| !b.is_empty()) {
        Some(b) => {
            let bin = PathBuf::from(b);
            assert!(
                bin.is_file(),
                "CSEP_LEGACY_BIN={} is not a file: run scripts/install-legacy.sh",
                bin.display()
            );
            Some(bin)
        }
        None if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "CSEP_LEGACY_BIN is not set, and CI must run this test against the real csep 1.3.10: \
             run `export CSEP_LEGACY_BIN=\"$(scripts/install-legacy.sh)\"` and rerun"
        ),
        None => {
            let test = std::thread::current()
                .name()
                .map_or_else(|| "a test".to_string(), str::to_string);
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: CSEP_LEGACY_BIN is not set (scripts/install-legacy.sh installs csep 1.3.10)"
            );
            None
        }
    }
}

/// One session of [`write_legacy_db`]: `(id, cwd, [(role, content)])`.
pub type LegacySession<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// A database with the tables and columns of csep 1.3.10's `session_recall/state.db` that
/// `csep recall import-legacy` reads, written by hand (for the checks that need no real
/// 1.3.10: the docs, a rebuild).
pub fn write_legacy_db(path: &Path, sessions: &[LegacySession]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, session_path TEXT, source TEXT,
           cwd TEXT, git_branch TEXT, started_at TEXT, metadata_json TEXT);
         CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
           message_index INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
           raw_json TEXT, metadata_json TEXT, timestamp TEXT, tool_name TEXT);",
    )
    .unwrap();
    for (id, cwd, messages) in sessions {
        let source = if id.starts_with("claude:") {
            "claude_code_jsonl"
        } else {
            "cli"
        };
        conn.execute(
            "INSERT INTO sessions VALUES (?1, ?2, ?3, ?4, '', ?5, NULL)",
            rusqlite::params![id, format!("/gone/{id}.jsonl"), source, cwd, TS],
        )
        .unwrap();
        for (n, (role, content)) in messages.iter().enumerate() {
            conn.execute(
                "INSERT INTO messages (session_id, message_index, role, content, timestamp)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![id, n as i64, role, content, TS],
            )
            .unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// git.

/// Runs git in `dir` with a fixed identity and default branch; it must succeed.
#[track_caller]
pub fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@localhost",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(ok.status.success(), "git {args:?}: {ok:?}");
}

/// A new git repository at `dir` with one (empty) commit.
pub fn git_repo(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "init"]);
}

/// A worktree of the repository at `repo`, at `wt`, on a new branch.
pub fn git_worktree(repo: &Path, wt: &Path, branch: &str) {
    git(
        repo,
        &["worktree", "add", "-q", "-b", branch, wt.to_str().unwrap()],
    );
}

// ---------------------------------------------------------------------------------------
// Files.

/// Every file under `dir`, sorted (none if it is missing).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    collect(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
    }
    let mut out = Vec::new();
    collect(dir, &mut out);
    out.sort();
    out
}

/// Copies the tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A JSON file's document.
#[track_caller]
pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The last `max` bytes of `s` (cut at a character boundary).
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The last 64 KiB of a file, lossily decoded (or why it cannot be read).
pub fn read_lossy(p: &Path) -> String {
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

/// A token no other run has: the time and this process's id.
pub fn unique_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

// ---------------------------------------------------------------------------------------
// Hooks files.

/// How many of a hooks document's handlers for `event` run csep-hook.sh.
pub fn csep_handlers(doc: &Value, event: &str) -> usize {
    doc["hooks"][event]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
                .filter(|h| {
                    h["command"]
                        .as_str()
                        .is_some_and(|c| c.contains("csep-hook.sh"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// The hook script path in each command of a hooks document (Codex's hooks.json, Claude
/// Code's settings.json): the quoted `…/csep-hook.sh` word.
pub fn hook_scripts(doc: &Value) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Some(events) = doc["hooks"].as_object() else {
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

// ---------------------------------------------------------------------------------------
// The real-host end-to-end harness.

/// How long one host or csep process of an end-to-end test may run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What differs between the hosts an end-to-end test drives: a marker type per host.
pub trait Host: Sized {
    /// The test's name, in the diagnostics and the kept-dir note.
    const NAME: &'static str;
    /// The host's config dir in the world (`CODEX_HOME`, `CLAUDE_CONFIG_DIR`).
    const CONFIG_DIR: &'static str;
    /// The mock model server (a script under tests/support/).
    const MOCK: &'static str;
    /// The model requests the mock serves at most.
    const MAX_REQUESTS: u32;
    /// Sets the host's own variables on a command [`World::command`] made: its config dir,
    /// the model at the mock.
    fn env(w: &World<Self>, c: &mut std::process::Command);
    /// Whether a request path in the mock's log is one of the model's API.
    fn is_model_request(path: &str) -> bool;
    /// One request of the mock's log, summarized in a line or a few.
    fn describe_request(request: &Value) -> String;
    /// The host's own part of the diagnostics (the mock's log is given): the host's files.
    fn diagnose(w: &World<Self>, mock_log: &str, d: &mut String);
}

/// A finished command exited 0; its stderr is the failure's message.
#[track_caller]
pub fn assert_ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The host binary `var` names, which must be set, to a file: the end-to-end tests are
/// required, never skipped. `install` is the script that installs the host and prints the
/// path, `note` a last hint.
#[track_caller]
pub fn host_bin(var: &str, host: &str, install: &str, note: &str) -> PathBuf {
    let bin = match std::env::var_os(var) {
        Some(b) if !b.is_empty() => PathBuf::from(b),
        _ => panic!(
            "{var} is not set. This test drives {host} and is required, not optional: \
             run `export {var}=\"$({install})\"` and rerun ({note})."
        ),
    };
    assert!(
        bin.is_file(),
        "{var}={} is not a file: run {install}",
        bin.display()
    );
    bin
}

/// One finished (or killed) process.
pub struct Run {
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

/// The temp world of one end-to-end run (home, the host's config dir, CSEP_HOME, TMPDIR, a
/// work dir, logs), the mock model, and the diagnostics shown when an assertion fails. Set
/// `CSEP_E2E_KEEP=1` to keep the temp dir for a look.
pub struct World<H: Host> {
    dir: Option<tempfile::TempDir>,
    /// The temp dir, canonical, so paths compare equal to what the host and csep report.
    pub root: PathBuf,
    /// The host's binary.
    pub bin: PathBuf,
    mock: Option<Child>,
    /// The mock's port, once started.
    pub port: u16,
    notes: RefCell<Vec<String>>,
    host: PhantomData<H>,
}

impl<H: Host> World<H> {
    pub fn new(bin: PathBuf) -> World<H> {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        for d in ["home", H::CONFIG_DIR, "csep-home", "tmp", "work", "logs"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        World {
            dir: Some(dir),
            root,
            bin,
            mock: None,
            port: 0,
            notes: RefCell::new(Vec::new()),
            host: PhantomData,
        }
    }
    pub fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    /// The host's config dir.
    pub fn config_dir(&self) -> PathBuf {
        self.p(H::CONFIG_DIR)
    }
    pub fn csep_home(&self) -> PathBuf {
        self.p("csep-home")
    }
    /// The working dir every process starts in (a git repository once
    /// [`World::git_repo_with_memory`] ran).
    pub fn work(&self) -> PathBuf {
        self.p("work")
    }

    /// The environment every process of the test gets: `PATH`, the temp dirs, never the real
    /// home, nothing else of the caller's (no csep, host, model or git settings), then the
    /// host's own ([`Host::env`]).
    pub fn command(&self, program: impl AsRef<OsStr>) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        // Hermetic: nothing of the caller's but PATH (the host CLIs and git need it).
        c.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            c.env("PATH", path);
        }
        c.env("HOME", self.p("home"))
            .env("CSEP_HOME", self.csep_home())
            .env("TMPDIR", self.p("tmp"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .current_dir(self.work())
            .stdin(Stdio::null());
        H::env(self, &mut c);
        c
    }

    pub fn note(&self, s: String) {
        self.notes.borrow_mut().push(s);
    }

    /// Runs `cmd` to the end or kills its whole process group after `timeout`. Output goes
    /// to files under logs/ (no pipe can fill up), then is read back.
    pub fn run(&self, label: &str, mut cmd: std::process::Command, timeout: Duration) -> Run {
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

    /// Starts the host's mock model server on `script` (its answers, as JSON) and returns
    /// its port once it listens.
    pub fn start_mock(&mut self, script: &str) -> u16 {
        let script_path = self.p("script.json");
        fs::write(&script_path, script).unwrap();
        let port_file = self.p("mock.port");
        let child = std::process::Command::new("python3")
            .arg(H::MOCK)
            .arg("--script")
            .arg(&script_path)
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(self.p("mock-requests.jsonl"))
            .args(["--max-requests", &H::MAX_REQUESTS.to_string()])
            .args(["--timeout", "600"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(self.p("logs/mock.stderr")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3 {}: {e}", H::MOCK));
        self.mock = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(s) = fs::read_to_string(&port_file) {
                if let Ok(port) = s.trim().parse() {
                    self.port = port;
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

    /// Every model request the mock got ([`Host::is_model_request`]), as it logged them.
    pub fn requests(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.p("mock-requests.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["type"] == "request" && v["path"].as_str().is_some_and(H::is_model_request)
            })
            .collect()
    }

    /// Runs git in the work dir, which must succeed.
    #[track_caller]
    pub fn git(&self, args: &[&str]) {
        let mut c = self.command("git");
        c.args(["-c", "user.name=csep-e2e", "-c", "user.email=e2e@localhost"])
            .args(args);
        let r = self.run(&format!("git-{}", args[0]), c, RUN_TIMEOUT);
        assert_eq!(r.code, Some(0), "git {args:?}: {}", r.stderr);
    }

    /// Makes the work dir a git repository whose csep memory is `memory`; its root.
    pub fn git_repo_with_memory(&self, memory: &str) -> PathBuf {
        self.git(&["init", "-q"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "init"]);
        let repo_root = fs::canonicalize(self.work()).unwrap();
        seed_memory(&self.csep_home(), &repo_root, memory);
        repo_root
    }

    /// The `setup_summary` a successful `csep setup` run printed (alone, or among lines).
    pub fn setup_summary(&self, r: &Run) -> Value {
        if r.code != Some(0) {
            self.fail(&format!("csep setup exited {:?}", r.code));
        }
        r.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["type"] == "setup_summary")
            .or_else(|| {
                serde_json::from_str::<Value>(&r.stdout)
                    .ok()
                    .filter(|v| v["type"] == "setup_summary")
            })
            .unwrap_or_else(|| {
                self.fail("csep setup printed no {\"type\":\"setup_summary\",...} on stdout")
            })
    }

    /// A JSON file csep setup wrote (`what` names it in a failure).
    pub fn read_json(&self, path: &Path, what: &str) -> Value {
        match fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .unwrap_or_else(|e| self.fail(&format!("{what} after setup: {e}"))),
            Err(e) => self.fail(&format!("{} after setup: {e}", path.display())),
        }
    }

    /// The hook scripts csep setup installed: each must be a file in the temp dir.
    pub fn check_installed(&self, scripts: &[PathBuf]) {
        for s in scripts {
            if !s.is_file() || !s.starts_with(&self.root) {
                self.fail(&format!(
                    "hook script {} must be a file csep setup installed (under CSEP_HOME or the host's dir)",
                    s.display()
                ));
            }
        }
    }

    /// `csep uninstall ARGS…`, which must succeed; then `file` must hold `before` again and
    /// every one of `scripts` be gone.
    pub fn uninstall(&self, args: &[&str], file: &Path, before: &[u8], scripts: &[PathBuf]) {
        let mut c = self.command(assert_cmd::cargo::cargo_bin("csep"));
        c.arg("uninstall").args(args);
        let r = self.run("csep-uninstall", c, RUN_TIMEOUT);
        if r.code != Some(0) {
            self.fail(&format!("csep uninstall exited {:?}", r.code));
        }
        let after = fs::read(file).unwrap_or_default();
        if after != before {
            self.fail(&format!(
                "{} differs after uninstall.\n[before]\n{}\n[after]\n{}",
                file.file_name().unwrap_or_default().to_string_lossy(),
                String::from_utf8_lossy(before),
                String::from_utf8_lossy(&after)
            ));
        }
        for s in scripts {
            if s.exists() {
                self.fail(&format!(
                    "the hook script {} is still there after uninstall",
                    s.display()
                ));
            }
        }
    }

    /// Waits until the archive queue is empty and no drainer holds its lock.
    pub fn wait_drained(&self) {
        if !wait_drained(&self.csep_home().join("spool/archive"), DRAIN_TIMEOUT) {
            self.fail("the drainer did not finish within 60 s (spool/archive/new or cur not empty, or .lock held)");
        }
    }

    #[track_caller]
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.diagnostics())
    }

    fn diagnostics(&self) -> String {
        let mut d = format!("\n========== {} diagnostics ==========\n", H::NAME);
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
            match serde_json::from_str::<Value>(l) {
                Ok(v) if v["type"] == "request" => d.push_str(&H::describe_request(&v)),
                Ok(v) => d.push_str(&format!("{v}\n")),
                Err(_) => d.push_str(&format!("(unparsed) {}\n", tail(l, 300))),
            }
        }
        H::diagnose(self, &log, &mut d);
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
        d.push_str("--- files under CSEP_HOME/spool\n");
        for f in walk(&self.csep_home().join("spool")) {
            d.push_str(&format!("    {}\n", f.display()));
        }
        d
    }
}

impl<H: Host> Drop for World<H> {
    fn drop(&mut self) {
        if let Some(mut m) = self.mock.take() {
            let _ = m.kill();
            let _ = m.wait();
        }
        if std::env::var_os("CSEP_E2E_KEEP").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("{}: kept {}", H::NAME, dir.keep().display());
            }
        }
    }
}

/// Kills the process group a child leads (the host's launcher, the host, the hooks and
/// tools under it).
fn kill_group(child: &Child) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
}

/// Every entry under `dir` with its kind, bytes and modification time: what "changes nothing
/// on disk" is checked against.
pub fn disk_state(dir: &Path) -> BTreeMap<PathBuf, (String, Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let (kind, bytes) = if m.is_dir() {
                stack.push(p.clone());
                ("dir", vec![])
            } else if m.is_file() {
                ("file", fs::read(&p).unwrap())
            } else {
                ("other", vec![])
            };
            out.insert(p, (kind.to_string(), bytes, m.modified().unwrap()));
        }
    }
    out
}

/// The paths that differ between two [`disk_state`]s. SQLite's read marks in a `-shm` that
/// was already there are how any SQLite reader takes its place, so they do not count.
pub fn changed_paths(
    before: &BTreeMap<PathBuf, (String, Vec<u8>, SystemTime)>,
    after: &BTreeMap<PathBuf, (String, Vec<u8>, SystemTime)>,
) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = after
        .keys()
        .chain(before.keys())
        .filter(|k| !(k.to_string_lossy().ends_with("-shm") && before.contains_key(*k)))
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    v.dedup();
    v
}
