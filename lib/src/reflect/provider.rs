//! Providers: what turns a prompt into a proposal. Each runs in the run directory with the
//! prompt on stdin and `CSEP_RUN_DIR`, `CSEP_JOB_ID` and `CSEP_REFLECTION_JOB` (so csep's own
//! hooks inside it do nothing) in its environment, output to `provider.log`, in its own
//! process group so a timeout ends everything it started.
//!
//! `[session_reflection] backend`: `command` runs `command = [...]` from config.toml.
//! `codex` (and 1.3.10's `codex-app-server`) and `claude` are not implemented yet.

use crate::config::ReflectionConfig;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a provider gets between SIGTERM and SIGKILL after its time is up.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// A provider ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Command { argv: Vec<String> },
}

impl Provider {
    /// The provider `[session_reflection] backend` names. `Usage` for one that does not
    /// exist, is not implemented yet, or lacks its settings: no job is consumed for those.
    pub fn from_config(c: &ReflectionConfig) -> Result<Provider> {
        match c.backend.as_str() {
            "command" if c.command.is_empty() => Err(Error::usage(
                "[session_reflection] backend = \"command\" needs command = [\"program\", \"arg\", …] in config.toml",
            )),
            "command" => Ok(Provider::Command {
                argv: c.command.clone(),
            }),
            b @ ("codex" | "codex-app-server" | "claude") => Err(Error::usage(format!(
                "[session_reflection] backend = {b:?}: not yet implemented (see #4); \
                 use backend = \"command\" with command = [...] for now"
            ))),
            other => Err(Error::usage(format!(
                "[session_reflection] backend = {other:?}: unknown; expected codex, claude or command"
            ))),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Provider::Command { .. } => "command",
        }
    }
}

/// How a provider run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRun {
    pub backend: String,
    /// The program run (argv[0]); arguments are in config.toml.
    pub program: String,
    /// The process group the provider ran in (its pid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<i32>,
    /// The exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub timeout_seconds: f64,
    pub elapsed_ms: u64,
}

impl ProviderRun {
    /// `None` when it did its part (exit 0 in time), else the failure's reason.
    pub fn failure(&self) -> Option<&'static str> {
        if self.timed_out {
            Some("provider_timeout")
        } else if self.exit_code != Some(0) {
            Some("provider_exit")
        } else {
            None
        }
    }
}

/// Signals a whole process group; a group that is gone already is not an error.
pub fn kill_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Whether process group `pgid` still has a member whose environment names job `job_id`
/// (on Linux, read from /proc; elsewhere assumed, since our own worker recorded the group).
/// Guards against signalling a group whose id was reused by something else.
pub fn runs_job(pgid: i32, job_id: &str) -> bool {
    let Ok(rd) = fs::read_dir("/proc") else {
        return true;
    };
    let want = format!("CSEP_JOB_ID={job_id}");
    rd.flatten().any(|e| {
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let in_group = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(2).map(str::to_string))
            .is_some_and(|g| g == pgid.to_string());
        in_group
            && fs::read(e.path().join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
    })
}

/// Runs the provider in `run_dir` with `prompt` (a file) on stdin, waits at most `timeout`,
/// and then makes sure nothing it started is left running. `on_spawn` sees the process
/// group id as soon as it exists (the worker records it so a successor can clean up).
/// `Err` only when the provider could not be started.
pub fn run(
    provider: &Provider,
    run_dir: &Path,
    job_id: &str,
    prompt: &Path,
    timeout: Duration,
    on_spawn: &mut dyn FnMut(i32),
) -> Result<ProviderRun> {
    let Provider::Command { argv } = provider;
    let log_path = run_dir.join("provider.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io(log_path.display(), e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| Error::io(log_path.display(), e))?;
    let stdin = File::open(prompt).map_err(|e| Error::io(prompt.display(), e))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(run_dir)
        .env("CSEP_RUN_DIR", run_dir)
        .env("CSEP_JOB_ID", job_id)
        .env(crate::hook::REFLECTION_ENV, job_id)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::input(format!("starting {:?}: {e}", argv[0])))?;
    let pgid = child.id() as i32;
    on_spawn(pgid);
    let mut timed_out = false;
    let mut nap = Duration::from_millis(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if !timed_out && started.elapsed() >= timeout {
            timed_out = true;
            kill_group(pgid, libc::SIGTERM);
            let grace = Instant::now();
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if grace.elapsed() >= KILL_GRACE {
                    kill_group(pgid, libc::SIGKILL);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            continue;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(100));
    };
    let status = match status {
        Some(s) => Some(s),
        None => child.wait().ok(),
    };
    // Whatever the provider left behind in its group must not touch the proposal while it
    // is checked.
    kill_group(pgid, libc::SIGKILL);
    Ok(ProviderRun {
        backend: provider.backend().to_string(),
        program: argv[0].clone(),
        pgid: Some(pgid),
        exit_code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out,
        timeout_seconds: timeout.as_secs_f64(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(backend: &str, command: &[&str]) -> ReflectionConfig {
        let mut c = crate::config::Config::default().session_reflection;
        c.backend = backend.into();
        c.command = command.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn only_the_command_backend_is_implemented_so_far() {
        assert_eq!(
            Provider::from_config(&config("command", &["sh", "x"])).unwrap(),
            Provider::Command {
                argv: vec!["sh".into(), "x".into()]
            }
        );
        let e = Provider::from_config(&config("command", &[])).unwrap_err();
        assert!(e.message.contains("needs command"), "{e}");
        for b in ["codex", "codex-app-server", "claude"] {
            let e = Provider::from_config(&config(b, &[])).unwrap_err();
            assert!(e.message.contains("not yet implemented"), "{e}");
        }
        let e = Provider::from_config(&config("gpt", &[])).unwrap_err();
        assert!(e.message.contains("unknown"), "{e}");
    }

    #[test]
    fn a_slow_provider_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let prompt = dir.path().join("prompt.md");
        fs::write(&prompt, "hello").unwrap();
        let p = Provider::Command {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "cat > got.txt; (sleep 30; echo late > late.txt) & sleep 30".into(),
            ],
        };
        let mut seen = 0;
        let r = run(
            &p,
            dir.path(),
            "job-1",
            &prompt,
            Duration::from_millis(300),
            &mut |g| seen = g,
        )
        .unwrap();
        assert!(r.timed_out && seen > 0);
        assert_eq!(r.failure(), Some("provider_timeout"));
        assert_eq!(
            fs::read_to_string(dir.path().join("got.txt")).unwrap(),
            "hello"
        );
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            live_members(seen).is_empty(),
            "the provider's group is alive"
        );
        assert!(r.elapsed_ms < 10_000);
    }

    /// Processes of group `pgid` that are not zombies (a zombie whose parent is gone waits
    /// for init to reap it, which in a container may never happen).
    fn live_members(pgid: i32) -> Vec<String> {
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid pgrp ...
            let Some(after) = stat.rsplit_once(") ").map(|(_, a)| a.to_string()) else {
                continue;
            };
            let f: Vec<&str> = after.split_whitespace().collect();
            if f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z" {
                out.push(stat);
            }
        }
        out
    }

    #[test]
    fn exit_codes_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let prompt = dir.path().join("prompt.md");
        fs::write(&prompt, "").unwrap();
        let p = Provider::Command {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "echo \"$CSEP_RUN_DIR|$CSEP_JOB_ID|$CSEP_REFLECTION_JOB|$(pwd)\"; exit 3".into(),
            ],
        };
        let r = run(
            &p,
            dir.path(),
            "job-2",
            &prompt,
            Duration::from_secs(20),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((r.exit_code, r.timed_out), (Some(3), false));
        assert_eq!(r.failure(), Some("provider_exit"));
        let log = fs::read_to_string(dir.path().join("provider.log")).unwrap();
        let d = dir.path().display();
        assert!(log.contains(&format!("{d}|job-2|job-2|")), "{log}");
        let missing = Provider::Command {
            argv: vec!["/nonexistent/provider".into()],
        };
        assert!(run(
            &missing,
            dir.path(),
            "j",
            &prompt,
            Duration::from_secs(1),
            &mut |_| {}
        )
        .is_err());
    }
}
