//! Writing: stdout carries data (JSON Lines or Markdown), stderr carries one-line messages
//! prefixed `csep-<tool>:`. A closed stdout (`| head`) ends the program with success. When a
//! run ends, [`run`] appends its line to the run log (`logs/runs.jsonl`).

use crate::exit::Exit;
use csep_lib::Error;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What [`run`] appends to `logs/runs.jsonl` when the command is done (see
/// `csep_lib::logs`): counts only, never text.
#[derive(Default)]
struct RunLog {
    state_dir: Option<PathBuf>,
    command: Option<String>,
    counts: Map<String, Value>,
    lines: u64,
    off: bool,
}

static RUN_LOG: Mutex<Option<RunLog>> = Mutex::new(None);

fn with_log(f: impl FnOnce(&mut RunLog)) {
    if let Ok(mut g) = RUN_LOG.lock() {
        f(g.get_or_insert_with(RunLog::default));
    }
}

/// The state directory this run uses (its log goes there). `StateArgs::dir` calls it.
pub fn log_state_dir(dir: &Path) {
    with_log(|l| l.state_dir = Some(dir.to_path_buf()));
}

/// The umbrella's subcommand, for the log line.
pub fn log_command(name: &str) {
    with_log(|l| l.command = Some(name.to_string()));
}

/// A count for the log line, for output that is not a summary record (recall's results).
pub fn log_count(key: &str, value: impl Into<Value>) {
    with_log(|l| {
        l.counts.insert(key.to_string(), value.into());
    });
}

/// This run writes no log line: it promised to change nothing (`status`, dry runs), or it
/// has a log of its own (the hooks' `hook.log`).
pub fn no_run_log() {
    with_log(|l| l.off = true);
}

/// Whether a printed line is a summary record, whose numbers (and status words) are the
/// run's counts. `"type"` comes first in every record, so the bytes tell without parsing
/// (a backfill's thousands of message records are not parsed again).
fn summary_type(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"{\"type\":\"") else {
        return false;
    };
    let Some(end) = rest.iter().position(|&b| b == b'"') else {
        return false;
    };
    let t = &rest[..end];
    [&b"_summary"[..], b"_result", b"_receipt", b"_decision"]
        .iter()
        .any(|s| t.ends_with(s))
        || t == b"session_archive"
}

fn note_printed(line: &[u8]) {
    let summary = summary_type(line)
        .then(|| serde_json::from_slice::<Map<String, Value>>(line).ok())
        .flatten();
    with_log(|l| {
        l.lines += 1;
        let Some(o) = summary else { return };
        l.counts.clear();
        for (k, v) in o {
            if k == "type" {
                // Not `type`: `counts` is not a record of that type.
                l.counts.insert("record".into(), v);
            } else if v.is_number()
                || (["status", "decision", "mode"].contains(&k.as_str()) && v.is_string())
            {
                l.counts.insert(k, v);
            }
        }
    });
}

fn write_run_log(tool: &str, code: Exit, started: std::time::Instant) {
    let mut l = RUN_LOG
        .lock()
        .ok()
        .and_then(|mut g| g.take())
        .unwrap_or_default();
    if l.off {
        return;
    }
    let dir = l
        .state_dir
        .take()
        .unwrap_or_else(|| csep_lib::paths::state_dir(None));
    append_run_line(&dir, tool, l, code, started);
}

fn append_run_line(dir: &Path, tool: &str, l: RunLog, code: Exit, started: std::time::Instant) {
    // Logging never creates a state directory of its own.
    if !dir.is_dir() {
        return;
    }
    let mut line = Map::new();
    line.insert(
        "ts".into(),
        csep_lib::timefmt::format_iso_ms(csep_lib::timefmt::now_ms()).into(),
    );
    line.insert("tool".into(), tool.into());
    if let Some(c) = l.command {
        line.insert("command".into(), c.into());
    }
    line.insert("exit_code".into(), code.code().into());
    line.insert(
        "elapsed_ms".into(),
        (started.elapsed().as_millis() as u64).into(),
    );
    line.insert("lines".into(), l.lines.into());
    line.insert("counts".into(), Value::Object(l.counts));
    csep_lib::logs::append(
        dir,
        csep_lib::logs::RUNS,
        &Value::Object(line).to_string(),
        || csep_lib::config::load(dir).0.log.retention_days,
    );
}

/// Buffered stdout. Write errors are kept so `run` can tell a broken pipe from a failure.
pub struct Out {
    inner: io::BufWriter<io::StdoutLock<'static>>,
}

impl Default for Out {
    fn default() -> Self {
        Self::new()
    }
}

impl Out {
    pub fn new() -> Self {
        Out {
            inner: io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        }
    }
    /// Writes one JSON value and a newline.
    pub fn json<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        // Serialize first: serde_json would wrap a write error and hide a broken pipe.
        let json = serde_json::to_string(value).map_err(io::Error::other)?;
        // C1 and bidi characters are legal raw in JSON but not harmless on a terminal.
        let mut bytes = match csep_lib::text::json_safe(&json) {
            std::borrow::Cow::Owned(escaped) => escaped.into_bytes(),
            std::borrow::Cow::Borrowed(_) => json.into_bytes(),
        };
        note_printed(&bytes);
        bytes.push(b'\n');
        self.inner.write_all(&bytes)
    }
    /// `text`, a summary for a person, in place of the record `value`: the run log counts
    /// `value` as printed, as [`Out::json`] would.
    pub fn human<T: Serialize>(&mut self, value: &T, text: &str) -> io::Result<()> {
        if let Ok(json) = serde_json::to_vec(value) {
            note_printed(&json);
        }
        self.inner.write_all(text.as_bytes())
    }
    pub fn text(&mut self, s: &str) -> io::Result<()> {
        self.inner.write_all(s.as_bytes())
    }
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A command failed: either a library error or an I/O error writing stdout.
pub enum Failure {
    Lib(Error),
    Write(io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Lib(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Write(e)
    }
}

/// Prints `csep-<tool>: message` on stderr, on one line: messages quote paths, ids and
/// text from transcripts and payloads, which must not move the cursor or add lines.
pub fn warn(tool: &str, message: impl std::fmt::Display) {
    let message = message.to_string();
    let _ = writeln!(
        io::stderr().lock(),
        "{tool}: {}",
        csep_lib::text::clean_line(&message)
    );
}

/// The tool [`run`] runs, for messages written where it is not at hand.
static TOOL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The running tool's name (`csep-index`), or `csep` before [`run`] starts.
pub fn tool() -> &'static str {
    TOOL.get().map_or("csep", String::as_str)
}

/// Runs a command body, turns its outcome into the process exit code, and logs the run.
pub fn run(tool: &str, body: impl FnOnce() -> Result<Exit, Failure>) -> std::process::ExitCode {
    let _ = TOOL.set(tool.to_string());
    let started = std::time::Instant::now();
    // Before anything is created: what this run and its children make is private.
    csep_lib::fsutil::private_umask();
    let code = match body() {
        Ok(exit) => exit,
        Err(Failure::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(Failure::Write(e)) => {
            warn(tool, format_args!("writing output: {e}"));
            Exit::Error
        }
        Err(Failure::Lib(e)) => {
            let e = name_damage(e);
            warn(tool, &e);
            Exit::from(&e)
        }
    };
    write_run_log(tool, code, started);
    std::process::ExitCode::from(code.code() as u8)
}

/// A damaged-index error that reached the top without its file named (a reader's later
/// statement, the trigger, reflection inputs) gets this run's index named, with the fix.
fn name_damage(e: Error) -> Error {
    if e.kind != csep_lib::ErrorKind::Damaged {
        return e;
    }
    let dir = RUN_LOG
        .lock()
        .ok()
        .and_then(|g| g.as_ref().and_then(|l| l.state_dir.clone()))
        .unwrap_or_else(|| csep_lib::paths::state_dir(None));
    csep_lib::index::health::named(&csep_lib::paths::index_db(&dir), e)
}

/// A one-line progress display on stderr, only when stderr is a terminal.
pub struct ProgressLine {
    tool: &'static str,
    enabled: bool,
    last: std::time::Instant,
    shown: bool,
}

impl ProgressLine {
    pub fn new(tool: &'static str) -> Self {
        ProgressLine {
            tool,
            enabled: io::stderr().is_terminal(),
            last: std::time::Instant::now(),
            shown: false,
        }
    }
    pub fn update(&mut self, p: csep_lib::index::Progress) {
        if !self.enabled || (self.last.elapsed().as_millis() < 100 && p.done < p.total) {
            return;
        }
        self.last = std::time::Instant::now();
        self.shown = true;
        let width = 30usize;
        let filled = if p.total == 0 {
            width
        } else {
            (p.done as usize * width) / p.total as usize
        };
        let _ = write!(
            io::stderr().lock(),
            "\r{}: [{}{}] {}/{} files, {} messages",
            self.tool,
            "#".repeat(filled),
            " ".repeat(width - filled.min(width)),
            p.done,
            p.total,
            p.messages
        );
    }
    pub fn finish(&mut self) {
        if self.shown {
            let _ = writeln!(io::stderr().lock());
        }
    }
}
