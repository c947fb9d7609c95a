//! The hook commands: `csep hook <agent> [<event>]` (what plugin/hooks/csep-hook.sh runs),
//! 1.3.10's `csep session-start --from-stdin` / `csep session-stop --from-stdin`, and
//! `csep drain`, the detached worker a Stop hook starts.
//!
//! A hook never fails the host: whatever happens it exits 0 and prints only what the host
//! accepts; what went wrong goes to `$CSEP_HOME/logs/hook.log`. The policy and the drain are
//! the library's (`csep_lib::hook`); this file parses arguments, calls it and prints.

use crate::args::{AgentArg, CapsArgs, StateArgs};
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{Failure, Out};
use clap::Args;
use csep_lib::hook::{self, Call, Drain};
use csep_lib::wire::Agent;
use std::io::Read;

/// Larger payloads are cut: no real hook payload comes near this.
const MAX_PAYLOAD: u64 = 64 << 20;

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The host: codex, claude, copilot, qwen, droid, gemini, opencode or cursor
    #[arg(value_name = "AGENT")]
    pub agent: AgentArg,
    /// SessionStart, Stop or SessionEnd, or the host's own name for one (agentStop,
    /// AfterAgent, stop, …) [default: the payload's hook_event_name]
    #[arg(value_name = "EVENT")]
    pub event: Option<String>,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct SessionStartArgs {
    /// Read the SessionStart hook payload from stdin
    #[arg(long)]
    pub from_stdin: bool,
    /// The session's directory [default: the payload's cwd, else the current directory]
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// The host
    #[arg(long, value_name = "AGENT", default_value = "codex")]
    pub agent: AgentArg,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct SessionStopArgs {
    /// Read the Stop (or SessionEnd) hook payload from stdin
    #[arg(long)]
    pub from_stdin: bool,
    /// The host
    #[arg(long, value_name = "AGENT", default_value = "codex")]
    pub agent: AgentArg,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// How the drainer a hook starts runs: a payload waiting out its retry backoff after a
    /// fault (a full disk, a read-only index) is left for later, unless another payload gets
    /// indexed first [default: every queued payload is tried now]
    #[arg(long)]
    pub from_hook: bool,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub caps: CapsArgs,
}

fn read_stdin() -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD)
        .read_to_end(&mut buf);
    buf
}

fn print(output: &str) -> Result<Exit, Failure> {
    if !output.is_empty() {
        let mut out = Out::new();
        out.text(output)?;
        out.text("\n")?;
        // A host that closed its end is not our failure.
        let _ = out.flush();
    }
    Ok(Exit::Ok)
}

pub fn run_hook(a: &HookArgs) -> Result<Exit, Failure> {
    crate::out::no_run_log();
    let agent = Agent::from(a.agent);
    let bytes = read_stdin();
    let state_dir = a.state.dir();
    // A panic is answered by the library like any other trouble; its message is not for the
    // host's stderr.
    std::panic::set_hook(Box::new(|_| {}));
    print(&hook::run(Call {
        agent,
        event: a.event.as_deref(),
        state_dir: &state_dir,
        payload: &bytes,
        cwd: None,
    }))
}

pub fn run_session_start(a: &SessionStartArgs) -> Result<Exit, Failure> {
    crate::out::no_run_log();
    let agent = Agent::from(a.agent);
    let bytes = if a.from_stdin {
        read_stdin()
    } else {
        b"{}".to_vec()
    };
    print(&hook::run(Call {
        agent,
        event: Some("SessionStart"),
        state_dir: &a.state.dir(),
        payload: &bytes,
        cwd: a.cwd.as_deref(),
    }))
}

pub fn run_session_stop(a: &SessionStopArgs) -> Result<Exit, Failure> {
    crate::out::no_run_log();
    let agent = Agent::from(a.agent);
    let bytes = if a.from_stdin {
        read_stdin()
    } else {
        b"{}".to_vec()
    };
    print(&hook::run(Call {
        agent,
        event: Some(hook::run::stop_event(&bytes).name()),
        state_dir: &a.state.dir(),
        payload: &bytes,
        cwd: None,
    }))
}

/// The drainer (`csep_lib::hook::drain`): prints a `drain_summary` per pass. Exits 0 even when
/// the environment kept payloads queued, for the drainer a hook starts; a person's
/// `csep drain` is told (75, or 2 for a damaged index), and `csep status` tells a person too.
pub fn run_drain(a: &DrainArgs) -> Result<Exit, Failure> {
    let state_dir = a.state.dir();
    let db = a.state.db();
    let mut out = Out::new();
    let mut drain = Drain::start(&state_dir, &db, a.caps.caps(), a.from_hook);
    while let Some(summary) = drain.round()? {
        out.json(&summary)?;
    }
    let end = drain.finish();
    out.flush()?;
    if let Some(message) = end.kept {
        if !a.from_hook {
            crate::out::warn(
                shared::CSEP,
                format_args!("payloads kept in the queue, to be retried: {message}"),
            );
            // A damaged index does not heal by waiting: it takes `csep recall rebuild`.
            return Ok(if end.damaged { Exit::Error } else { Exit::Busy });
        }
    }
    Ok(Exit::Ok)
}
