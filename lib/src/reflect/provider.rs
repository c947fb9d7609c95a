//! Providers: what turns a prompt into a proposal. Each runs in the run directory with the
//! prompt on stdin and `CSEP_RUN_DIR`, `CSEP_JOB_ID` and `CSEP_REFLECTION_JOB` (so csep's own
//! hooks inside it do nothing) in its environment, output to `provider.log`, in its own
//! process group so a timeout ends everything it started.
//!
//! `[session_reflection] backend`:
//! * `auto` (the default): `codex` when Codex can run here, else `claude` when Claude Code
//!   can, else `builtin`; and when the model provider it picked fails on a job (not logged
//!   in, say), the builtin provider does that job instead.
//! * `builtin` runs in process, no model: csep's own rules (`reflect::builtin`).
//! * `command` runs `command = [...]` from config.toml.
//! * `codex` runs `codex exec` (the binary: `CSEP_CODEX_BIN`, else `codex` on PATH) in the
//!   run directory with the prompt on stdin: sandbox `workspace-write` rooted at the run
//!   directory (no extra writable roots, `/tmp` and `$TMPDIR` excluded, no network), hooks
//!   off (`-c features.hooks=false`), approvals `never`, `--ephemeral` when `ephemeral = true`
//!   (else the rollout is kept and the job marker in the prompt keeps it out of the index and
//!   the trigger), `-m model`. 1.3.10's `codex-app-server` (its default backend name) runs the
//!   same: one non-interactive turn needs nothing app-server offers over `codex exec`, and exec
//!   takes the sandbox, hooks and ephemeral settings as flags.
//! * `claude` runs `claude -p` (the binary: `CSEP_CLAUDE_BIN`, else `claude` on PATH) in the
//!   run directory with the prompt on stdin: only the file tools (Read, Write, Edit, Glob,
//!   Grep), `--restricted` (file tools confined to the working directory, user and project
//!   settings files ignored), hooks off (`--settings {"disableAllHooks":true}`), edits
//!   accepted without asking (`--permission-mode acceptEdits`), no MCP servers,
//!   `--no-session-persistence` when `ephemeral = true`, `--model model` only when
//!   config.toml names a model (the default one is 1.3.10's, a Codex model).
//!
//! `[session_reflection] sandbox` (1.3.10's default `danger-full-access`) is not used: a
//! provider may write only its run directory, whatever the config says; csep-verify applies.

use crate::config::{Backend, ReflectionConfig};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a provider gets between SIGTERM and SIGKILL after its time is up.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// A provider ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// csep's own rules, in process: no model (`reflect::builtin`).
    Builtin,
    Command {
        argv: Vec<String>,
    },
    /// `codex exec`; `program` is resolved when it runs ([`codex_program`]).
    Codex {
        program: Option<String>,
        model: String,
        ephemeral: bool,
    },
    /// `claude -p`; `program` is resolved when it runs ([`claude_program`]).
    Claude {
        program: Option<String>,
        model: String,
        ephemeral: bool,
    },
}

/// The Codex binary: `CSEP_CODEX_BIN` when set, else `codex` on PATH.
pub fn codex_program() -> String {
    program_from_env("CSEP_CODEX_BIN", "codex")
}

/// The Claude Code binary: `CSEP_CLAUDE_BIN` when set, else `claude` on PATH.
pub fn claude_program() -> String {
    program_from_env("CSEP_CLAUDE_BIN", "claude")
}

fn program_from_env(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => default.to_string(),
    }
}

/// The file tools the Claude provider gets: reading and writing files, nothing that runs
/// commands or reaches the network.
pub const CLAUDE_TOOLS: &str = "Read,Write,Edit,Glob,Grep";

impl Provider {
    /// The provider `[session_reflection] backend` names. `Usage` for one that does not
    /// exist or lacks its settings: no job is consumed for those.
    pub fn from_config(c: &ReflectionConfig) -> Result<Provider> {
        match &c.backend {
            Backend::Builtin => Ok(Provider::Builtin),
            Backend::Auto => Ok(Provider::auto(c)),
            Backend::Command if c.command.is_empty() => Err(Error::usage(
                "[session_reflection] backend = \"command\" needs command = [\"program\", \"arg\", …] in config.toml",
            )),
            Backend::Command => Ok(Provider::Command {
                argv: c.command.clone(),
            }),
            // 1.3.10's default drove `codex app-server`; `codex exec` does the same job here
            // (see the module doc).
            Backend::Codex | Backend::CodexAppServer => Ok(Provider::Codex {
                program: None,
                model: c.model.trim().to_string(),
                ephemeral: c.ephemeral,
            }),
            Backend::Claude => Ok(Provider::Claude {
                program: None,
                model: c.model.trim().to_string(),
                ephemeral: c.ephemeral,
            }),
            Backend::Unknown(other) => Err(Error::usage(format!(
                "[session_reflection] backend = {other:?}: unknown; expected auto, builtin, codex, claude or command"
            ))),
        }
    }

    /// `backend = "auto"`: Codex when it can run here, else Claude Code, else the builtin
    /// provider. (A model provider that is installed but fails, logged out say, is replaced
    /// by the builtin one for that job: see `reflect::run`.)
    pub fn auto(c: &ReflectionConfig) -> Provider {
        let model = c.model.trim().to_string();
        let codex = Provider::Codex {
            program: None,
            model: model.clone(),
            ephemeral: c.ephemeral,
        };
        if codex.problem().is_none() {
            return codex;
        }
        let claude = Provider::Claude {
            program: None,
            model,
            ephemeral: c.ephemeral,
        };
        if claude.problem().is_none() {
            return claude;
        }
        Provider::Builtin
    }

    /// Why this provider cannot run here, if it cannot: its program (argv[0]) is not an
    /// executable file, or not on PATH. Checked before a worker is started in the background
    /// and shown by `csep session-reflect --status`; a worker run by hand still tries, and
    /// its job fails with `provider_spawn`.
    pub fn problem(&self) -> Option<String> {
        let program = match self {
            Provider::Builtin => return None,
            Provider::Command { argv } => argv[0].clone(),
            Provider::Codex { program, .. } => program.clone().unwrap_or_else(codex_program),
            Provider::Claude { program, .. } => program.clone().unwrap_or_else(claude_program),
        };
        if crate::paths::find_program(&program).is_some() {
            return None;
        }
        let hint = match self {
            Provider::Builtin => "",
            Provider::Command { .. } => "fix [session_reflection] command in config.toml",
            Provider::Codex { .. } => "install Codex or set CSEP_CODEX_BIN",
            Provider::Claude { .. } => "install Claude Code or set CSEP_CLAUDE_BIN",
        };
        Some(if program.contains('/') {
            format!("{program}: not an executable file ({hint})")
        } else {
            format!("{program}: not found on PATH ({hint})")
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Provider::Builtin => "builtin",
            Provider::Command { .. } => "command",
            Provider::Codex { .. } => "codex",
            Provider::Claude { .. } => "claude",
        }
    }

    /// The full command line run in `run_dir` (the prompt goes to its stdin).
    pub fn argv(&self, run_dir: &Path) -> Vec<String> {
        let dir = run_dir.display().to_string();
        match self {
            Provider::Builtin => vec!["csep-builtin".into()],
            Provider::Command { argv } => argv.clone(),
            Provider::Codex {
                program,
                model,
                ephemeral,
            } => {
                let mut a: Vec<String> = vec![
                    program.clone().unwrap_or_else(codex_program),
                    "exec".into(),
                    "--skip-git-repo-check".into(),
                    "--cd".into(),
                    dir,
                    "--sandbox".into(),
                    "workspace-write".into(),
                ];
                for kv in [
                    // The run directory (the workspace root) is the only writable place: no
                    // roots from the user's config, not /tmp, not $TMPDIR.
                    "sandbox_workspace_write.writable_roots=[]",
                    "sandbox_workspace_write.exclude_slash_tmp=true",
                    "sandbox_workspace_write.exclude_tmpdir_env_var=true",
                    "sandbox_workspace_write.network_access=false",
                    "approval_policy=\"never\"",
                    // Not even csep's own hooks: this session must not archive or trigger
                    // itself (CSEP_REFLECTION_JOB in the environment guards them too).
                    "features.hooks=false",
                ] {
                    a.push("-c".into());
                    a.push(kv.into());
                }
                a.extend(["--color".into(), "never".into()]);
                if !model.is_empty() {
                    a.extend(["--model".into(), model.clone()]);
                }
                if *ephemeral {
                    a.push("--ephemeral".into());
                }
                // The prompt: stdin.
                a.push("-".into());
                a
            }
            Provider::Claude {
                program,
                model,
                ephemeral,
            } => {
                let mut a: Vec<String> = vec![
                    program.clone().unwrap_or_else(claude_program),
                    "-p".into(),
                    "--output-format".into(),
                    "text".into(),
                    "--restricted".into(),
                    "--tools".into(),
                    CLAUDE_TOOLS.into(),
                    "--allowedTools".into(),
                    CLAUDE_TOOLS.into(),
                    "--permission-mode".into(),
                    "acceptEdits".into(),
                    "--settings".into(),
                    r#"{"disableAllHooks":true}"#.into(),
                    "--strict-mcp-config".into(),
                ];
                if !model.is_empty() {
                    a.extend(["--model".into(), model.clone()]);
                }
                if *ephemeral {
                    a.push("--no-session-persistence".into());
                }
                a
            }
        }
    }
}

/// How a provider run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRun {
    pub backend: String,
    /// The program run (argv[0]).
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
    /// With `backend = "auto"`: the model provider that failed, so the builtin one ran
    /// instead, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
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
    let argv = provider.argv(run_dir);
    let log_path = run_dir.join("provider.log");
    let log = crate::fsutil::open_append_private(&log_path)
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
        .env(crate::provenance::REFLECTION_ENV, job_id)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .process_group(0);
    // What the provider writes into the run directory (session text) is the owner's alone,
    // whatever umask this library's caller runs with.
    // SAFETY: umask(2) is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        });
    }
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
        fallback_from: None,
        fallback_reason: None,
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
    fn backends_from_config() {
        assert_eq!(
            Provider::from_config(&config("command", &["sh", "x"])).unwrap(),
            Provider::Command {
                argv: vec!["sh".into(), "x".into()]
            }
        );
        let e = Provider::from_config(&config("command", &[])).unwrap_err();
        assert!(e.message.contains("needs command"), "{e}");
        for b in ["codex", "codex-app-server"] {
            let p = Provider::from_config(&config(b, &[])).unwrap();
            assert_eq!(p.backend(), "codex");
            assert!(
                matches!(
                    p,
                    Provider::Codex {
                        ephemeral: true,
                        ..
                    }
                ),
                "{p:?}"
            );
        }
        let p = Provider::from_config(&config("claude", &[])).unwrap();
        assert_eq!(p.backend(), "claude");
        let e = Provider::from_config(&config("gpt", &[])).unwrap_err();
        assert!(e.message.contains("unknown"), "{e}");
    }

    /// The flag and its value, if `flag` is in `argv`.
    fn value_of<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
        let i = argv.iter().position(|a| a == flag)?;
        argv.get(i + 1).map(String::as_str)
    }

    #[test]
    fn codex_runs_exec_sandboxed_to_the_run_dir_without_hooks() {
        let p = Provider::Codex {
            program: Some("/opt/codex".into()),
            model: "gpt-5.5".into(),
            ephemeral: true,
        };
        let a = p.argv(Path::new("/state/runs/j1"));
        assert_eq!(&a[..2], ["/opt/codex", "exec"]);
        assert_eq!(value_of(&a, "--cd"), Some("/state/runs/j1"));
        assert_eq!(value_of(&a, "--sandbox"), Some("workspace-write"));
        assert_eq!(value_of(&a, "--model"), Some("gpt-5.5"));
        let overrides: Vec<&str> = a
            .iter()
            .enumerate()
            .filter(|(i, _)| *i > 0 && a[i - 1] == "-c")
            .map(|(_, v)| v.as_str())
            .collect();
        for want in [
            "features.hooks=false",
            "sandbox_workspace_write.writable_roots=[]",
            "sandbox_workspace_write.exclude_slash_tmp=true",
            "sandbox_workspace_write.exclude_tmpdir_env_var=true",
            "sandbox_workspace_write.network_access=false",
            "approval_policy=\"never\"",
        ] {
            assert!(overrides.contains(&want), "{want} missing: {a:?}");
        }
        assert!(a.contains(&"--ephemeral".to_string()));
        assert!(a.contains(&"--skip-git-repo-check".to_string()));
        assert!(!a.iter().any(|x| x.contains("dangerously")), "{a:?}");
        assert_eq!(a.last().map(String::as_str), Some("-"), "prompt on stdin");
        let kept = Provider::Codex {
            program: Some("codex".into()),
            model: String::new(),
            ephemeral: false,
        }
        .argv(Path::new("/r"));
        assert!(!kept.contains(&"--ephemeral".to_string()));
        assert!(!kept.contains(&"--model".to_string()));
    }

    #[test]
    fn claude_gets_only_file_tools_and_no_hooks() {
        let p = Provider::Claude {
            program: Some("/opt/claude".into()),
            model: "claude-x".into(),
            ephemeral: true,
        };
        let a = p.argv(Path::new("/state/runs/j1"));
        assert_eq!(&a[..2], ["/opt/claude", "-p"]);
        assert_eq!(value_of(&a, "--tools"), Some(CLAUDE_TOOLS));
        assert_eq!(value_of(&a, "--allowedTools"), Some(CLAUDE_TOOLS));
        assert_eq!(value_of(&a, "--permission-mode"), Some("acceptEdits"));
        assert_eq!(value_of(&a, "--model"), Some("claude-x"));
        let settings: serde_json::Value =
            serde_json::from_str(value_of(&a, "--settings").unwrap()).unwrap();
        assert_eq!(settings["disableAllHooks"], true);
        for f in [
            "--restricted",
            "--strict-mcp-config",
            "--no-session-persistence",
        ] {
            assert!(a.contains(&f.to_string()), "{f} missing: {a:?}");
        }
        assert!(!CLAUDE_TOOLS.contains("Bash") && !CLAUDE_TOOLS.contains("Web"));
        assert!(!a
            .iter()
            .any(|x| x.contains("bypass") || x.contains("dangerously")));
    }

    #[test]
    fn a_missing_codex_binary_cannot_start() {
        let dir = tempfile::tempdir().unwrap();
        let prompt = dir.path().join("prompt.md");
        fs::write(&prompt, "x").unwrap();
        let p = Provider::Codex {
            program: Some("/nonexistent/codex".into()),
            model: String::new(),
            ephemeral: true,
        };
        let e = run(
            &p,
            dir.path(),
            "j",
            &prompt,
            Duration::from_secs(5),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(e.message.contains("/nonexistent/codex"), "{e}");
    }

    #[test]
    fn what_the_provider_writes_is_private_whatever_the_callers_umask() {
        let dir = tempfile::tempdir().unwrap();
        let prompt = dir.path().join("prompt.md");
        fs::write(&prompt, "x").unwrap();
        // The umask the provider starts with, and a file it makes with the default mode.
        let p = Provider::Command {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "umask > umask.txt; mkdir d; echo x > d/f".into(),
            ],
        };
        let r = run(
            &p,
            dir.path(),
            "j",
            &prompt,
            Duration::from_secs(30),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(r.failure(), None);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            fs::read_to_string(dir.path().join("umask.txt"))
                .unwrap()
                .trim(),
            "0077"
        );
        assert_eq!(
            (mode("d"), mode("d/f"), mode("provider.log")),
            (0o700, 0o600, 0o600)
        );
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
