//! The hook commands: `csep hook <agent> [<event>]` (what plugin/hooks/csep-hook.sh runs),
//! 1.3.10's `csep session-start --from-stdin` / `csep session-stop --from-stdin`, and
//! `csep drain`, the detached worker a Stop hook starts.
//!
//! A hook never fails the host: whatever happens it exits 0 and prints only what the host
//! accepts; what went wrong goes to `$CSEP_HOME/logs/hook.log`.

use crate::args::{CapsArgs, StateArgs};
use crate::exit::Exit;
use crate::out::{Failure, Out};
use clap::Args;
use csep_lib::hook::{self, Event};
use csep_lib::index::spool;
use csep_lib::memory;
use csep_lib::wire::Agent;
use std::io::Read;
use std::path::Path;

/// Larger payloads are cut: no real hook payload comes near this.
const MAX_PAYLOAD: u64 = 64 << 20;

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The host: codex or claude
    #[arg(value_name = "AGENT", value_parser = ["codex", "claude"])]
    pub agent: String,
    /// SessionStart, Stop or SessionEnd [default: the payload's hook_event_name]
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
    #[arg(long, value_name = "AGENT", default_value = "codex", value_parser = ["codex", "claude"])]
    pub agent: String,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct SessionStopArgs {
    /// Read the Stop (or SessionEnd) hook payload from stdin
    #[arg(long)]
    pub from_stdin: bool,
    /// The host
    #[arg(long, value_name = "AGENT", default_value = "codex", value_parser = ["codex", "claude"])]
    pub agent: String,
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

/// Appends one line to `logs/hook.log` (rotated daily, see `csep_lib::logs`); best effort,
/// never fails the hook. Only metadata (event, agent, session id, outcome) is logged, never
/// payload text.
fn log(state_dir: &Path, fields: serde_json::Value) {
    let mut line = serde_json::json!({"ts": csep_lib::timefmt::format_iso_ms(csep_lib::timefmt::now_ms()), "tool": "csep hook"});
    if let (Some(o), serde_json::Value::Object(f)) = (line.as_object_mut(), fields) {
        o.extend(f);
    }
    csep_lib::logs::append(state_dir, csep_lib::logs::HOOKS, &line.to_string(), || {
        csep_lib::config::load(state_dir).0.log.retention_days
    });
}

/// Handles one hook call; returns what to print. Never fails.
fn handle(
    agent: Agent,
    event_arg: Option<&str>,
    state_dir: &Path,
    bytes: &[u8],
    cwd_arg: Option<&str>,
) -> String {
    let started = std::time::Instant::now();
    let (mut payload, problem) = hook::parse_payload(bytes);
    let dropped = hook::drop_invalid_fields(&mut payload);
    let event = Event::parse(
        event_arg
            .or_else(|| hook::field(&payload, "hook_event_name"))
            .unwrap_or(""),
    );
    let session = hook::field(&payload, "session_id")
        .unwrap_or("")
        .to_string();
    let mut outcome = "ok".to_string();
    let output = if std::env::var_os(hook::REFLECTION_ENV).is_some() {
        // A session csep's own reflection started: no memory, no archive.
        outcome = "reflection_session".into();
        match event {
            Event::SessionStart => String::new(),
            _ => hook::stop_output(agent, event).to_string(),
        }
    } else {
        match event {
            Event::SessionStart => {
                // Each candidate must be a clean absolute path; one that is not is passed
                // over as if missing (the library gives a stub context if none is left).
                let clean = |p: String| csep_lib::text::check_path(&p).is_ok().then_some(p);
                let cwd = cwd_arg
                    .map(|c| {
                        std::fs::canonicalize(c)
                            .map_or_else(|_| c.to_string(), |p| p.to_string_lossy().into_owned())
                    })
                    .and_then(clean)
                    .or_else(|| hook::field(&payload, "cwd").map(str::to_string))
                    .or_else(|| {
                        std::env::current_dir()
                            .ok()
                            .map(|d| d.to_string_lossy().into_owned())
                            .and_then(clean)
                    })
                    .unwrap_or_default();
                let config = csep_lib::config::load(state_dir).0;
                let skills = csep_lib::reflect::skills_dir();
                let inject = memory::Inject {
                    max_chars: usize::try_from(config.memory.inject_max_chars)
                        .unwrap_or(usize::MAX),
                    skills_dir: Some(&skills),
                    skill_prefix: &config.session_reflection.skill_prefix,
                };
                let mut context = memory::session_start_context(state_dir, &cwd, &inject);
                if let Ok(exe) = std::env::current_exe() {
                    context.push_str(&memory::recall_binary_note(&exe));
                }
                hook::session_start_output(&context)
            }
            Event::Stop | Event::SessionEnd => {
                if payload.is_empty() {
                    outcome = "nothing_to_archive".into();
                } else {
                    match hook::enqueue_archive(state_dir, agent, event, &payload) {
                        Ok(_) => {
                            let exe = std::env::current_exe().unwrap_or_else(|_| "csep".into());
                            if let Err(e) =
                                hook::spawn_detached(&exe, &["drain", "--from-hook"], state_dir)
                            {
                                outcome = format!("drainer not started: {e}");
                            }
                        }
                        Err(e) => outcome = format!("not queued: {e}"),
                    }
                }
                hook::stop_output(agent, event).to_string()
            }
            Event::Other => String::new(),
        }
    };
    let mut fields = serde_json::json!({
        "agent": agent.as_str(), "event": event.name(), "session_id": session, "outcome": outcome,
        "payload_problem": problem, "elapsed_ms": started.elapsed().as_millis() as u64,
    });
    if !dropped.is_empty() {
        fields["invalid_fields"] = dropped.into();
    }
    log(state_dir, fields);
    output
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
    let agent = Agent::parse(&a.agent).unwrap_or(Agent::Codex);
    let bytes = read_stdin();
    let state_dir = a.state.dir();
    // A bug must not become a failed hook in the host: a panic is answered like any other
    // trouble, with the host-valid minimum, and logged.
    std::panic::set_hook(Box::new(|_| {}));
    let output = std::panic::catch_unwind(|| {
        handle(agent, a.event.as_deref(), &state_dir, &bytes, None)
    })
    .unwrap_or_else(|_| {
        let (payload, _) = hook::parse_payload(&bytes);
        let named = a
            .event
            .as_deref()
            .or_else(|| hook::field(&payload, "hook_event_name"));
        let event = Event::parse(named.unwrap_or(""));
        log(
            &state_dir,
            serde_json::json!({"agent": agent.as_str(), "event": event.name(), "outcome": "panic"}),
        );
        hook::stop_output(agent, event).to_string()
    });
    print(&output)
}

pub fn run_session_start(a: &SessionStartArgs) -> Result<Exit, Failure> {
    crate::out::no_run_log();
    let agent = Agent::parse(&a.agent).unwrap_or(Agent::Codex);
    let bytes = if a.from_stdin {
        read_stdin()
    } else {
        b"{}".to_vec()
    };
    print(&handle(
        agent,
        Some("SessionStart"),
        &a.state.dir(),
        &bytes,
        a.cwd.as_deref(),
    ))
}

pub fn run_session_stop(a: &SessionStopArgs) -> Result<Exit, Failure> {
    crate::out::no_run_log();
    let agent = Agent::parse(&a.agent).unwrap_or(Agent::Codex);
    let bytes = if a.from_stdin {
        read_stdin()
    } else {
        b"{}".to_vec()
    };
    let (payload, _) = hook::parse_payload(&bytes);
    let event = hook::field(&payload, "hook_event_name")
        .map(Event::parse)
        .filter(|e| *e == Event::SessionEnd);
    print(&handle(
        agent,
        Some(event.unwrap_or(Event::Stop).name()),
        &a.state.dir(),
        &bytes,
        None,
    ))
}

/// The drainer: one at a time (a second one finds the queue locked and exits 0), it indexes
/// every queued transcript, runs the trigger for each, and looks again after letting go of
/// the lock, so a payload queued meanwhile is never stranded. A payload the environment kept
/// from being indexed (a full disk, a read-only index) stays queued with its reason; the exit
/// status is still 0, and `csep status` tells a person.
pub fn run_drain(a: &DrainArgs) -> Result<Exit, Failure> {
    let state_dir = a.state.dir();
    // An install from before csep made everything private is tightened here, off the hook's
    // foreground, within one Stop; a few dozen lstats when it is private already.
    csep_lib::private::tighten_if_wide(&state_dir);
    let mut out = Out::new();
    // Read once per drain, not once per queued payload.
    let (config, _) = csep_lib::config::load(&state_dir);
    let opts = spool::DrainOptions { now: !a.from_hook };
    let mut kept = None;
    let mut damaged = false;
    loop {
        let summary = match spool::drain_archive(
            &a.state.db(),
            &state_dir,
            a.caps.caps(),
            opts,
            &mut |item| run_trigger(&state_dir, &config, item),
        ) {
            Ok(s) => s,
            Err(e) if e.kind == csep_lib::ErrorKind::Busy => break,
            Err(e) => return Err(e.into()),
        };
        out.json(&summary)?;
        kept = (summary.retrying + summary.requeued > 0)
            .then(|| summary.fault_message.clone())
            .flatten();
        damaged = summary.fault.as_deref() == Some(csep_lib::Fault::Damaged.as_str());
        if let (Some(fault), Some(message)) = (&summary.fault, &summary.fault_message) {
            log(
                &state_dir,
                serde_json::json!({"event": "drain", "outcome": "kept_queued", "fault": fault,
                    "retrying": summary.retrying, "requeued": summary.requeued, "message": message}),
            );
        }
        // What this drain put back waits for a later one; anything else in new/ arrived while
        // it held the lock.
        if summary.requeued > 0 || !spool::has_new_besides(&state_dir, "archive", &summary.put_back)
        {
            break;
        }
    }
    start_reflection_worker(&state_dir, &config);
    out.flush()?;
    if let Some(message) = kept {
        if !a.from_hook {
            crate::out::warn(
                "csep",
                format_args!("payloads kept in the queue, to be retried: {message}"),
            );
            // A damaged index does not heal by waiting: it takes `csep recall rebuild`.
            return Ok(if damaged { Exit::Error } else { Exit::Busy });
        }
    }
    Ok(Exit::Ok)
}

/// Starts the reflection worker (`csep reflect`, detached like the drainer) when jobs wait in
/// `spool/reflect/new/`, or a job sits in `cur/` with no worker holding the queue (its worker
/// died: the new one resumes it first and releases its session's reservation), and none
/// runs. A job queued by hand is picked up the same way. Logged; never fatal to the drain.
fn start_reflection_worker(state_dir: &Path, config: &csep_lib::config::Config) {
    use csep_lib::reflect;
    let orphaned = spool::has_cur(state_dir, "reflect");
    if !spool::has_new(state_dir, "reflect") && !orphaned {
        return;
    }
    let outcome = if let Err(e) = reflect::ready_provider(config) {
        // The job waits in new/ for a config that can run it; `csep session-reflect --status`
        // shows it queued and the provider problem.
        format!("not started: {e}")
    } else if reflect::queue::is_locked(state_dir) {
        // The running worker looks at new/ again before it lets go of the queue.
        "already_running".to_string()
    } else {
        let exe = std::env::current_exe().unwrap_or_else(|_| "csep".into());
        match hook::spawn_detached(&exe, &["reflect"], state_dir) {
            Ok(()) if orphaned => "started_to_resume".to_string(),
            Ok(()) => "started".to_string(),
            Err(e) => format!("not started: {e}"),
        }
    };
    log(
        state_dir,
        serde_json::json!({"event": "reflect_worker", "outcome": outcome}),
    );
}

/// Runs the trigger for one archived payload; a failure is logged, and handed back so that a
/// fault (its state could not be saved) keeps the payload queued for another try.
pub(crate) fn run_trigger(
    state_dir: &Path,
    config: &csep_lib::config::Config,
    item: &serde_json::Value,
) -> csep_lib::Result<()> {
    use csep_lib::trigger;
    let outcome = trigger::Input::from_value(item, None).and_then(|input| {
        trigger::evaluate(state_dir, config, &input, &trigger::Options::default())
    });
    match outcome {
        Ok(_) => Ok(()),
        Err(e) => {
            log(
                state_dir,
                serde_json::json!({"event": "trigger", "outcome": format!("error: {e}")}),
            );
            Err(e)
        }
    }
}
