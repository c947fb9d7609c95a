//! The hook policy: what one hook call does and answers. SessionStart gets the repo's memory
//! as context; Stop and SessionEnd queue an [`ArchiveRequest`](crate::wire::ArchiveRequest)
//! and start the drainer; a session csep's own reflection started gets nothing and queues
//! nothing ([`crate::provenance`]). Whatever happens, the answer is one the host accepts, and
//! what went wrong goes to the hook log.

use super::{log, Ctx, Event};
use crate::wire::Agent;
use std::path::Path;

/// One hook call, as the CLI read it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub agent: Agent,
    /// The event argument [default: the payload's `hook_event_name`].
    pub event: Option<&'a str>,
    pub state_dir: &'a Path,
    /// The payload, as read from stdin (any bytes).
    pub payload: &'a [u8],
    /// 1.3.10's `session-start --cwd`.
    pub cwd: Option<&'a str>,
}

/// Handles one hook call and returns what to print (maybe nothing). Never fails: a panic in
/// here is answered like any other trouble, with the host-valid minimum, and logged.
pub fn run(call: Call) -> String {
    std::panic::catch_unwind(|| handle(call)).unwrap_or_else(|_| {
        let (payload, _) = super::parse_payload(call.payload);
        let named = call
            .event
            .or_else(|| super::field(&payload, "hook_event_name"));
        let event = super::host::event(call.agent, named.unwrap_or(""));
        log(
            &Ctx::new(call.state_dir),
            serde_json::json!({"agent": call.agent.as_str(), "event": event.name(), "outcome": "panic"}),
        );
        super::stop_output(call.agent, event).to_string()
    })
}

/// The event 1.3.10's `session-stop --from-stdin` handles: the payload's `SessionEnd`, else
/// `Stop`.
pub fn stop_event(payload: &[u8]) -> Event {
    let (payload, _) = super::parse_payload(payload);
    super::field(&payload, "hook_event_name")
        .map(Event::parse)
        .filter(|e| *e == Event::SessionEnd)
        .unwrap_or(Event::Stop)
}

fn handle(call: Call) -> String {
    let Call {
        agent,
        event: event_arg,
        state_dir,
        payload: bytes,
        cwd: cwd_arg,
    } = call;
    let ctx = Ctx::new(state_dir);
    let started = std::time::Instant::now();
    let (mut payload, problem) = super::parse_payload(bytes);
    let event_name = event_arg
        .or_else(|| super::field(&payload, "hook_event_name"))
        .unwrap_or("")
        .to_string();
    super::host::normalize(
        agent,
        Some(&event_name)
            .filter(|n| !n.is_empty())
            .map(String::as_str),
        &mut payload,
    );
    let dropped = super::drop_invalid_fields(&mut payload);
    let event = super::host::event(agent, &event_name);
    let session = super::field(&payload, "session_id")
        .unwrap_or("")
        .to_string();
    let mut outcome = "ok".to_string();
    let output = if crate::provenance::in_reflection_job() {
        // A session csep's own reflection started: no memory, no archive.
        outcome = "reflection_session".into();
        match event {
            Event::SessionStart => String::new(),
            _ => super::stop_output(agent, event).to_string(),
        }
    } else {
        match event {
            Event::SessionStart => {
                // Each candidate must be a clean absolute path; one that is not is passed
                // over as if missing (the library gives a stub context if none is left).
                let clean = |p: String| crate::text::check_path(&p).is_ok().then_some(p);
                let cwd = cwd_arg
                    .map(|c| {
                        std::fs::canonicalize(c)
                            .map_or_else(|_| c.to_string(), |p| p.to_string_lossy().into_owned())
                    })
                    .and_then(clean)
                    .or_else(|| super::field(&payload, "cwd").map(str::to_string))
                    .or_else(|| {
                        std::env::current_dir()
                            .ok()
                            .map(|d| d.to_string_lossy().into_owned())
                            .and_then(clean)
                    })
                    .unwrap_or_default();
                let config = ctx.config();
                let skills = crate::reflect::skills_dir();
                let inject = crate::memory::Inject {
                    max_chars: usize::try_from(config.memory.inject_max_chars)
                        .unwrap_or(usize::MAX),
                    skills_dir: Some(&skills),
                    skill_prefix: &config.session_reflection.skill_prefix,
                };
                let mut context = crate::memory::session_start_context(state_dir, &cwd, &inject);
                if let Ok(exe) = std::env::current_exe() {
                    context.push_str(&crate::memory::recall_binary_note(&exe));
                }
                super::session_start_output(agent, &context)
            }
            Event::Stop | Event::SessionEnd => {
                super::host::fill_transcript(agent, &mut payload);
                super::host::key_session(agent, &mut payload);
                if payload.is_empty() {
                    outcome = "nothing_to_archive".into();
                } else {
                    match super::enqueue_archive(state_dir, agent, event, &payload) {
                        Ok(_) => {
                            let exe = std::env::current_exe().unwrap_or_else(|_| "csep".into());
                            if let Err(e) =
                                super::spawn_detached(&exe, &["drain", "--from-hook"], state_dir)
                            {
                                outcome = format!("drainer not started: {e}");
                            }
                        }
                        Err(e) => outcome = format!("not queued: {e}"),
                    }
                }
                super::stop_output(agent, event).to_string()
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
    log(&ctx, fields);
    output
}
