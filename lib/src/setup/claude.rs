//! Claude Code: csep's hooks merged into `settings.json` (SessionStart, Stop, SessionEnd),
//! next to whatever hooks and settings the user has.

use super::codex::{add_ours, pretty, strip_ours};
use super::{write_recorded, HookTarget, Manifest};
use crate::error::{Error, Result};
use serde::Serialize;
use std::fs;
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClaudeReport {
    pub claude_dir: String,
    pub settings_json: String,
}

pub fn install(
    claude_dir: &Path,
    target: &HookTarget,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Result<ClaudeReport> {
    super::create_dir_recorded(manifest, claude_dir)?;
    let path = claude_dir.join("settings.json");
    let mut doc = super::read_json(&path)?.unwrap_or_else(|| serde_json::json!({}));
    add_ours(&mut doc, &target.command("claude"))?;
    let added: Vec<String> = super::codex::EVENTS
        .iter()
        .map(|(e, _)| format!("hooks.{e}"))
        .collect();
    write_recorded(rec_dir, manifest, &path, &pretty(&doc), &added)?;
    Ok(ClaudeReport {
        claude_dir: claude_dir.display().to_string(),
        settings_json: path.display().to_string(),
    })
}

/// Takes csep's hooks out of a settings.json the user changed after setup.
pub fn clean(path: &Path) -> Result<()> {
    let bytes = fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::input(format!("{}: not valid JSON ({e})", path.display())))?;
    strip_ours(&mut doc);
    if doc
        .get("hooks")
        .and_then(|h| h.as_object())
        .is_some_and(|h| h.is_empty())
    {
        if let Some(o) = doc.as_object_mut() {
            o.remove("hooks");
        }
    }
    crate::fsutil::write_atomic_keep_mode(path, &pretty(&doc))
}
