//! Writing: stdout carries data (JSON Lines or Markdown), stderr carries one-line messages
//! prefixed `csep-<tool>:`. A closed stdout (`| head`) ends the program with success.

use crate::exit::Exit;
use csep_lib::Error;
use serde::Serialize;
use std::io::{self, IsTerminal, Write};

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
        let mut bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.inner.write_all(&bytes)
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

/// Prints `csep-<tool>: message` on stderr.
pub fn warn(tool: &str, message: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{tool}: {message}");
}

/// Runs a command body and turns its outcome into the process exit code.
pub fn run(tool: &str, body: impl FnOnce() -> Result<Exit, Failure>) -> std::process::ExitCode {
    let code = match body() {
        Ok(exit) => exit,
        Err(Failure::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(Failure::Write(e)) => {
            warn(tool, format_args!("writing output: {e}"));
            Exit::Error
        }
        Err(Failure::Lib(e)) => {
            warn(tool, &e);
            Exit::from(&e)
        }
    };
    std::process::ExitCode::from(code.code() as u8)
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
