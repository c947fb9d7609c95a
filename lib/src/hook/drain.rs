//! The drainer a Stop starts (`csep drain`): one at a time (a second one finds the queue
//! locked and ends), it indexes every queued transcript ([`crate::index::spool`]), runs the
//! trigger on each request whose transcript was indexed ([`crate::trigger`]), looks again
//! after letting go of the lock, so a payload queued meanwhile is never stranded, and then
//! starts the reflection worker when jobs wait ([`crate::reflect`]). A payload the environment
//! kept from being indexed (a full disk, a read-only index) stays queued with its reason.

use super::{log, Ctx};
use crate::archive::Caps;
use crate::error::{ErrorKind, Result};
use crate::index::spool::{self, DrainOptions, DrainSummary};
use crate::wire::ArchiveRequest;
use std::path::Path;

/// A drain in progress: take [`Drain::round`] until it gives `None`, then [`Drain::finish`].
pub struct Drain<'a> {
    ctx: Ctx<'a>,
    db: &'a Path,
    caps: Caps,
    opts: DrainOptions,
    done: bool,
    kept: Option<String>,
    damaged: bool,
}

/// How a drain ended, for the CLI's exit status.
#[derive(Debug, Clone, Default)]
pub struct DrainEnd {
    /// Why payloads were kept in the queue to be retried (the last fault's message).
    pub kept: Option<String>,
    /// The index is damaged: waiting does not heal it (`csep recall rebuild` does).
    pub damaged: bool,
}

impl<'a> Drain<'a> {
    /// `from_hook`: the drainer a hook starts, which leaves a payload waiting out its backoff
    /// alone (see [`DrainOptions`]).
    pub fn start(state_dir: &'a Path, db: &'a Path, caps: Caps, from_hook: bool) -> Drain<'a> {
        // An install from before csep made everything private is tightened here, off the
        // hook's foreground, within one Stop; a few dozen lstats when it is private already.
        crate::private::tighten_if_wide(state_dir);
        // Read once per drain, not once per queued payload.
        let ctx = Ctx::new(state_dir);
        ctx.config();
        Drain {
            ctx,
            db,
            caps,
            opts: DrainOptions { now: !from_hook },
            done: false,
            kept: None,
            damaged: false,
        }
    }

    /// One pass over the queue; `None` once nothing is left to look at (or another drainer
    /// holds the queue). `Err` when the index cannot be opened for a reason that is not a
    /// fault (a schema from a newer csep).
    pub fn round(&mut self) -> Result<Option<DrainSummary>> {
        if self.done {
            return Ok(None);
        }
        let ctx = &self.ctx;
        let summary =
            match spool::drain_archive(self.db, ctx.state_dir, self.caps, self.opts, &mut |item| {
                run_trigger(ctx, item)
            }) {
                Ok(s) => s,
                Err(e) if e.kind == ErrorKind::Busy => {
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
        self.kept = (summary.retrying + summary.requeued > 0)
            .then(|| summary.fault_message.clone())
            .flatten();
        self.damaged = summary.fault.as_deref() == Some(crate::Fault::Damaged.as_str());
        if let (Some(fault), Some(message)) = (&summary.fault, &summary.fault_message) {
            log(
                ctx,
                serde_json::json!({"event": "drain", "outcome": "kept_queued", "fault": fault,
                    "retrying": summary.retrying, "requeued": summary.requeued, "message": message}),
            );
        }
        // What this drain put back waits for a later one; anything else in new/ arrived while
        // it held the lock.
        if summary.requeued > 0
            || !spool::has_new_besides(ctx.state_dir, "archive", &summary.put_back)
        {
            self.done = true;
        }
        Ok(Some(summary))
    }

    /// Starts the reflection worker if jobs wait, and says how the drain ended.
    pub fn finish(self) -> DrainEnd {
        start_reflection_worker(&self.ctx);
        DrainEnd {
            kept: self.kept,
            damaged: self.damaged,
        }
    }
}

/// Starts the reflection worker (`csep reflect`, detached like the drainer) when jobs wait in
/// `spool/reflect/new/`, or a job sits in `cur/` with no worker holding the queue (its worker
/// died: the new one resumes it first and releases its session's reservation), and none
/// runs. A job queued by hand is picked up the same way. Logged; never fatal to the drain.
fn start_reflection_worker(ctx: &Ctx) {
    use crate::reflect;
    let state_dir = ctx.state_dir;
    let orphaned = spool::has_cur(state_dir, "reflect");
    if !spool::has_new(state_dir, "reflect") && !orphaned {
        return;
    }
    let outcome = if let Err(e) = reflect::ready_provider(ctx.config()) {
        // The job waits in new/ for a config that can run it; `csep session-reflect --status`
        // shows it queued and the provider problem.
        format!("not started: {e}")
    } else if reflect::queue::is_locked(state_dir) {
        // The running worker looks at new/ again before it lets go of the queue.
        "already_running".to_string()
    } else {
        let exe = std::env::current_exe().unwrap_or_else(|_| "csep".into());
        match super::spawn_detached(&exe, &["reflect"], state_dir) {
            Ok(()) if orphaned => "started_to_resume".to_string(),
            Ok(()) => "started".to_string(),
            Err(e) => format!("not started: {e}"),
        }
    };
    log(
        ctx,
        serde_json::json!({"event": "reflect_worker", "outcome": outcome}),
    );
}

/// Runs the trigger for one archived request; a failure is logged, and handed back so that a
/// fault (its state could not be saved) keeps the payload queued for another try.
pub fn run_trigger(ctx: &Ctx, item: &ArchiveRequest) -> Result<()> {
    use crate::trigger;
    let outcome = trigger::Input::from_request(item, None).and_then(|input| {
        trigger::evaluate(
            ctx.state_dir,
            ctx.config(),
            &input,
            &trigger::Options::default(),
        )
    });
    match outcome {
        Ok(_) => Ok(()),
        Err(e) => {
            log(
                ctx,
                serde_json::json!({"event": "trigger", "outcome": format!("error: {e}")}),
            );
            Err(e)
        }
    }
}
