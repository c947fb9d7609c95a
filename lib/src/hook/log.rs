//! `logs/hook.log`: one JSON line per hook call and per drainer event (docs/WIRE.md, "The hook
//! log"), rotated daily (see [`crate::logs`]). Best effort: a log that cannot be written never
//! fails the hook. Only metadata (event, agent, session id, outcome) is logged, never payload
//! text.

use super::Ctx;
use serde_json::Value;

/// Appends one line: `ts` and `tool` first, then `fields`. The retention, needed only when the
/// file is rotated, comes from the call's config (loaded at most once per call).
pub fn log(ctx: &Ctx, fields: Value) {
    let mut line = serde_json::json!({"ts": crate::timefmt::format_iso_ms(crate::timefmt::now_ms()), "tool": "csep hook"});
    if let (Some(o), Value::Object(f)) = (line.as_object_mut(), fields) {
        o.extend(f);
    }
    crate::logs::append(ctx.state_dir, crate::logs::HOOKS, &line.to_string(), || {
        ctx.config().log.retention_days
    });
}
