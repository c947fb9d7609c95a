//! The hosts `csep setup` installs into besides Codex and Claude Code: GitHub Copilot CLI,
//! Qwen Code, Factory Droid, Gemini CLI and Cursor CLI (a JSON hook file each,
//! [`super::hostfile`]) and OpenCode (a plugin file, [`super::opencode`]). Setup installs
//! into each one whose home exists; a dry run installs into a scratch copy and compares.

use super::{hostfile, opencode, HookTarget, Manifest};
use crate::error::{Error, Result};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The hosts, in the order setup reports them.
pub const NAMES: [&str; 6] = ["copilot", "qwen", "droid", "gemini", "opencode", "cursor"];

/// Where `agent` keeps the file csep's hooks go in: its home (`$COPILOT_HOME`, `~/.qwen`,
/// `~/.factory`, `~/.gemini`, `~/.cursor`) or OpenCode's config directory.
pub fn home(agent: &str) -> Option<PathBuf> {
    match agent {
        "opencode" => Some(crate::paths::opencode_config_dir()),
        _ => hostfile::spec(agent).map(|s| (s.home)()),
    }
}

/// The file csep's hooks are in, under `home`.
pub fn file(agent: &str, home: &Path) -> Option<PathBuf> {
    match agent {
        "opencode" => Some(opencode::plugin_path(home)),
        _ => hostfile::spec(agent).map(|s| s.file(home)),
    }
}

/// Installs (or refreshes) csep's hooks for `agent` in `home`; the report setup prints.
pub fn install(
    agent: &str,
    home: &Path,
    target: &HookTarget,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Result<Value> {
    let report = match agent {
        "opencode" => serde_json::to_value(opencode::install(home, target, rec_dir, manifest)?),
        _ => {
            let spec = hostfile::spec(agent)
                .ok_or_else(|| Error::input(format!("no hooks for {agent}")))?;
            serde_json::to_value(spec.install(home, target, rec_dir, manifest)?)
        }
    };
    report.map_err(|e| Error::input(e.to_string()))
}

/// What setup would leave in `agent`'s hook file under `home`: installs into a copy in
/// `scratch` (changing nothing of the host's). `(file, bytes after)`.
pub fn plan(
    agent: &str,
    home: &Path,
    target: &HookTarget,
    scratch: &Path,
) -> Result<(PathBuf, Vec<u8>)> {
    let real = file(agent, home).ok_or_else(|| Error::input(format!("no hooks for {agent}")))?;
    let copy_home = scratch.join(agent);
    let copy = file(agent, &copy_home).expect("known host");
    if let Some(dir) = copy.parent() {
        crate::fsutil::create_dir_private(dir)?;
    }
    if real.exists() {
        fs::copy(&real, &copy).map_err(|e| Error::io(real.display(), e))?;
    }
    install(
        agent,
        &copy_home,
        target,
        &scratch.join("state"),
        &mut Manifest::default(),
    )?;
    let after = fs::read(&copy).map_err(|e| Error::io(copy.display(), e))?;
    Ok((real, after))
}

/// Takes csep's part out of a file of these hosts that the user changed after setup;
/// `false` when the file is none of theirs. The OpenCode plugin is all csep's: it goes.
pub fn clean(path: &Path, added: &[String]) -> Result<bool> {
    if added.iter().any(|a| a == opencode::ADDED) {
        return match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(Error::io(path.display(), e)),
        };
    }
    match hostfile::spec_of_change(path, added) {
        Some(spec) => spec.clean(path).map(|()| true),
        None => Ok(false),
    }
}
