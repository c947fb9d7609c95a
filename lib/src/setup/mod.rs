//! `csep setup` / `csep uninstall`: install csep's hooks into Codex and Claude Code, and take
//! them out again. Every file csep touches is recorded in an install manifest with its bytes
//! before (a backup) and a hash after, so uninstall can restore exactly what was there when
//! nobody else changed the file since, and otherwise removes only csep's own parts and says
//! which files the user changed meanwhile.
//!
//! One setup or uninstall at a time: each holds the install lock (`locks/install.lock`) from
//! reading the manifest to saving it, so a second one reads what the first recorded and adds
//! to it. The first backup of a host file (the user's original bytes) is the one uninstall
//! restores, however many setups ran since.
//!
//! Codex gets a `hooks.json` in `$CODEX_HOME` (not a plugin): hooks.json needs no marketplace
//! registration, its trust keys are plain file paths, and the user's own hooks.json is merged
//! rather than replaced. The hooks are then trusted through `codex app-server`.

pub mod claude;
pub mod codex;
pub mod hostfile;
pub mod hosts;
pub mod mcp;
pub mod opencode;

use crate::error::{Error, ErrorKind, Result};
use crate::fsutil;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The hook script every hook runs, as shipped in plugin/hooks/.
pub const HOOK_SCRIPT: &str = include_str!("../../../plugin/hooks/csep-hook.sh");

/// What identifies csep's own hook entries in a host's config.
pub const HOOK_MARK: &str = "csep-hook.sh";

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One file csep changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileChange {
    pub path: String,
    /// `created` or `modified`.
    pub action: String,
    /// A copy of the file as it was before csep first touched it (`modified` only).
    pub backup: Option<String>,
    pub before_sha256: Option<String>,
    pub after_sha256: String,
    /// What csep added, for a person (and for surgical removal): hook events, TOML keys.
    pub added: Vec<String>,
    /// The user changed the file between two setups: uninstall must never put the old
    /// backup back over their edits, only take csep's parts out.
    #[serde(default)]
    pub user_changed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub created_at: String,
    pub updated_at: String,
    pub changes: Vec<FileChange>,
    /// Folders setup made to hold a file it wrote (a host's home or plugin folder that was
    /// not there), outermost first: uninstall takes each away once it is empty again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<String>,
}

pub fn manifest_path(state_dir: &Path) -> PathBuf {
    state_dir.join("install").join("manifest.json")
}

/// The hook script setup installs, which every hook it adds runs.
pub fn hook_script_path(state_dir: &Path) -> PathBuf {
    state_dir.join("bin").join(HOOK_MARK)
}

pub fn install_lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("locks").join("install.lock")
}

/// Takes the install lock, which setup and uninstall hold while they read, change and record
/// the hosts' files. When another holds it, `on_wait` is called once and the lock is waited
/// for up to `wait`; `Busy` (exit 75) after that, with nothing changed.
pub fn lock_install(state_dir: &Path, wait: Duration, on_wait: &mut dyn FnMut()) -> Result<File> {
    let path = install_lock_path(state_dir);
    match fsutil::lock_wait(&path, Duration::ZERO) {
        Err(e) if e.kind == ErrorKind::Busy => {
            on_wait();
            fsutil::lock_wait(&path, wait).map_err(|e| match e.kind {
                ErrorKind::Busy => Error::busy(format!(
                    "another csep setup or uninstall is still running (it holds {}); retry when it is done",
                    path.display()
                )),
                _ => e,
            })
        }
        other => other,
    }
}

pub fn load_manifest(state_dir: &Path) -> Result<Option<Manifest>> {
    let path = manifest_path(state_dir);
    match fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::input(format!(
                "{}: unreadable install manifest: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

/// Saves `m`, merged with the manifest on disk: an entry only the disk has (recorded by
/// another setup since `m` was loaded) is kept, never overwritten. Under the install lock the
/// disk holds nothing `m` lacks; the merge is what keeps a manifest whole even without it.
pub fn save_manifest(state_dir: &Path, m: &Manifest) -> Result<()> {
    let merged = match load_manifest(state_dir) {
        Ok(Some(disk)) => merge(disk, m),
        _ => m.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&merged).map_err(|e| Error::input(e.to_string()))?;
    fsutil::write_atomic(&manifest_path(state_dir), &bytes)
}

/// `ours` laid over `disk`: ours is newer for a file both record, but what csep added and
/// whether the user changed the file accumulate; files only the disk records stay, first.
fn merge(disk: Manifest, ours: &Manifest) -> Manifest {
    let mut out = disk;
    out.version = out.version.max(ours.version);
    if out.created_at.is_empty()
        || (!ours.created_at.is_empty() && ours.created_at < out.created_at)
    {
        out.created_at = ours.created_at.clone();
    }
    out.updated_at = out.updated_at.clone().max(ours.updated_at.clone());
    for d in &ours.created_dirs {
        if !out.created_dirs.contains(d) {
            out.created_dirs.push(d.clone());
        }
    }
    for c in &ours.changes {
        match out.changes.iter_mut().find(|d| d.path == c.path) {
            Some(d) => {
                let mut added = d.added.clone();
                for a in &c.added {
                    if !added.contains(a) {
                        added.push(a.clone());
                    }
                }
                let user_changed = d.user_changed || c.user_changed;
                *d = c.clone();
                d.added = added;
                d.user_changed = user_changed;
            }
            None => out.changes.push(c.clone()),
        }
    }
    out
}

/// Makes `dir` (private, with any missing parents) and records each folder it made in
/// `manifest`, so that uninstall can take away what setup alone put there.
pub fn create_dir_recorded(manifest: &mut Manifest, dir: &Path) -> Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    fsutil::create_dir_private(dir)?;
    for d in missing.into_iter().rev() {
        let d = d.to_string_lossy().into_owned();
        if !manifest.created_dirs.contains(&d) {
            manifest.created_dirs.push(d);
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` and records the change in `manifest`. The first recorded state of
/// a file (its original bytes) is kept across repeated setups.
pub fn write_recorded(
    state_dir: &Path,
    manifest: &mut Manifest,
    path: &Path,
    bytes: &[u8],
    added: &[String],
) -> Result<()> {
    let before = fs::read(path).ok();
    let key = path.to_string_lossy().into_owned();
    if let Some(c) = manifest.changes.iter_mut().find(|c| c.path == key) {
        if before.as_deref().map(sha256_hex).as_deref() != Some(c.after_sha256.as_str()) {
            c.user_changed = true;
        }
    }
    if before.as_deref() == Some(bytes) {
        if let Some(c) = manifest
            .changes
            .iter_mut()
            .find(|c| c.path == path.to_string_lossy())
        {
            c.after_sha256 = sha256_hex(bytes);
            return Ok(());
        }
        // Already as csep would leave it, yet unrecorded (an earlier manifest was lost): it
        // is recorded all the same, so uninstall still takes csep's parts out.
    }
    let existing = manifest.changes.iter().position(|c| c.path == key);
    if existing.is_none() {
        let (action, backup, before_sha) = match &before {
            None => ("created".to_string(), None, None),
            Some(b) => {
                let backup = state_dir.join("install").join("backup").join(format!(
                    "{}.{}",
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    &sha256_hex(key.as_bytes())[..12]
                ));
                fsutil::write_atomic(&backup, b)?;
                (
                    "modified".to_string(),
                    Some(backup.to_string_lossy().into_owned()),
                    Some(sha256_hex(b)),
                )
            }
        };
        manifest.changes.push(FileChange {
            path: key.clone(),
            action,
            backup,
            before_sha256: before_sha,
            after_sha256: String::new(),
            added: Vec::new(),
            user_changed: false,
        });
    }
    let c = manifest
        .changes
        .iter_mut()
        .find(|c| c.path == key)
        .expect("just recorded");
    c.after_sha256 = sha256_hex(bytes);
    for a in added {
        if !c.added.contains(a) {
            c.added.push(a.clone());
        }
    }
    // The manifest knows of the change before the file does: after a crash between the two,
    // uninstall still finds the backup, and a file that does not carry the recorded hash is
    // only cleaned of csep's parts, never overwritten.
    save_manifest(state_dir, manifest)?;
    if before.as_deref() == Some(bytes) {
        return Ok(());
    }
    fsutil::write_atomic_keep_mode(path, bytes)
}

/// Re-reads a recorded file's hash after someone else (Codex's own config writer) changed it on
/// csep's behalf.
pub fn refresh_recorded(manifest: &mut Manifest, path: &Path, added: &[String]) {
    let key = path.to_string_lossy().into_owned();
    if let (Some(c), Ok(bytes)) = (
        manifest.changes.iter_mut().find(|c| c.path == key),
        fs::read(path),
    ) {
        c.after_sha256 = sha256_hex(&bytes);
        for a in added {
            if !c.added.contains(a) {
                c.added.push(a.clone());
            }
        }
    }
}

/// Installs the hook script into the state dir; returns its path.
pub fn install_hook_script(state_dir: &Path, manifest: &mut Manifest) -> Result<PathBuf> {
    let path = hook_script_path(state_dir);
    write_recorded(
        state_dir,
        manifest,
        &path,
        HOOK_SCRIPT.as_bytes(),
        &["hook script".into()],
    )?;
    use std::os::unix::fs::PermissionsExt;
    // Executable, and like everything in the state dir the owner's alone.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(path.display(), e))?;
    Ok(path)
}

/// What the installed hooks run: the csep binary, the state dir and the hook script.
#[derive(Debug, Clone)]
pub struct HookTarget {
    pub csep_bin: PathBuf,
    pub state_dir: PathBuf,
    pub script: PathBuf,
}

impl HookTarget {
    /// The hook command for a host: `CSEP_BIN=… CSEP_HOME=… '…/csep-hook.sh' <agent>`.
    pub fn command(&self, agent: &str) -> String {
        fn q(p: &Path) -> String {
            crate::text::shell_quote(&p.to_string_lossy())
        }
        format!(
            "CSEP_BIN={} CSEP_HOME={} {} {agent}",
            q(&self.csep_bin),
            q(&self.state_dir),
            q(&self.script)
        )
    }
}

/// How one recorded file was put back.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub path: String,
    /// `restored` (original bytes back), `removed` (csep created it), `cleaned` (the user
    /// changed it since setup: only csep's parts were taken out), `missing`.
    pub how: String,
}

/// What uninstall undid.
#[derive(Debug, Clone)]
pub struct Uninstalled {
    pub files: Vec<Restored>,
    /// The folders setup had made that were empty again and are gone.
    pub removed_dirs: Vec<String>,
}

/// Reverses a manifest, newest change first. `clean` removes csep's parts from a file the user
/// changed since. The hook script goes last, and only when no file the manifest records still
/// names it: a host must never be left with a hook that runs a missing script.
pub fn uninstall(
    state_dir: &Path,
    manifest: &Manifest,
    clean: &dyn Fn(&Path, &FileChange) -> Result<()>,
) -> Result<Uninstalled> {
    let script = hook_script_path(state_dir);
    let mut out = Vec::new();
    let mut script_change = None;
    for c in manifest.changes.iter().rev() {
        let path = Path::new(&c.path);
        if path == script {
            script_change = Some(c);
            continue;
        }
        let current = match fs::read(path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(path.display(), e)),
        };
        let mut how = match current {
            None => "missing",
            // Already the user's original bytes (an uninstall that stopped part-way got here
            // first): writing them again, or cleaning them, could only change them.
            Some(b) if c.before_sha256.as_deref() == Some(sha256_hex(&b).as_str()) => "restored",
            Some(b) if sha256_hex(&b) == c.after_sha256 && !c.user_changed => {
                match (&c.action[..], &c.backup) {
                    ("modified", Some(backup)) => {
                        let original = fs::read(backup).map_err(|e| Error::io(backup, e))?;
                        fsutil::write_atomic_keep_mode(path, &original)?;
                        "restored"
                    }
                    _ => {
                        fs::remove_file(path).map_err(|e| Error::io(path.display(), e))?;
                        "removed"
                    }
                }
            }
            Some(_) => {
                clean(path, c)?;
                "cleaned"
            }
        };
        // A backup that still runs the script was taken of csep's own edit (by a setup that
        // raced another, or lost an earlier manifest): put back, it would point the host at
        // the script about to be deleted.
        if how == "restored" && references(path, &script) {
            clean(path, c)?;
            how = "cleaned";
        }
        out.push(Restored {
            path: c.path.clone(),
            how: how.into(),
        });
    }
    let still_named: Vec<&FileChange> = manifest
        .changes
        .iter()
        .filter(|c| Path::new(&c.path) != script && references(Path::new(&c.path), &script))
        .collect();
    if let Some(c) = script_change {
        let how = if !still_named.is_empty() {
            "kept"
        } else {
            match fs::remove_file(&script) {
                Ok(()) => "removed",
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing",
                Err(e) => return Err(Error::io(script.display(), e)),
            }
        };
        out.push(Restored {
            path: c.path.clone(),
            how: how.into(),
        });
    }
    // Deepest first, and only when empty: the host or the user may have put files there since.
    let mut dirs = manifest.created_dirs.clone();
    dirs.sort_by_key(|d| std::cmp::Reverse(Path::new(d).components().count()));
    let removed_dirs: Vec<String> = dirs
        .into_iter()
        .filter(|d| fs::remove_dir(d).is_ok())
        .collect();
    let _ = fs::remove_dir_all(state_dir.join("install").join("backup"));
    let _ = fs::remove_file(manifest_path(state_dir));
    if !still_named.is_empty() {
        // What is left to undo: the script and the files that still run it, to be cleaned
        // (never restored) by the next uninstall once the user took csep's hooks out.
        let rest = Manifest {
            changes: manifest
                .changes
                .iter()
                .filter(|c| Path::new(&c.path) == script || still_named.contains(c))
                .map(|c| FileChange {
                    user_changed: true,
                    ..c.clone()
                })
                .collect(),
            created_dirs: manifest
                .created_dirs
                .iter()
                .filter(|d| !removed_dirs.contains(d))
                .cloned()
                .collect(),
            ..manifest.clone()
        };
        save_manifest(state_dir, &rest)?;
    }
    Ok(Uninstalled {
        files: out,
        removed_dirs,
    })
}

/// Whether the file at `path` still names `script`, as a hook command that runs it does (the
/// path plain, or shell-quoted as [`HookTarget::command`] writes it). JSON is looked at
/// string by string, so escaping cannot hide it; anything else as text.
pub fn references(path: &Path, script: &Path) -> bool {
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    let plain = script.to_string_lossy();
    let quoted = plain.replace('\'', "'\\''");
    let hit = |s: &str| s.contains(&*plain) || s.contains(&quoted);
    fn any(v: &serde_json::Value, hit: &dyn Fn(&str) -> bool) -> bool {
        match v {
            serde_json::Value::String(s) => hit(s),
            serde_json::Value::Array(a) => a.iter().any(|x| any(x, hit)),
            serde_json::Value::Object(o) => o.iter().any(|(k, x)| hit(k) || any(x, hit)),
            _ => false,
        }
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => any(&v, &hit),
        Err(_) => hit(&String::from_utf8_lossy(&bytes)),
    }
}

/// A host's JSON settings file csep edits: `None` when there is none yet; a file that is not
/// JSON is the user's to fix, never overwritten.
pub(crate) fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::input(format!(
                "{}: not valid JSON ({e}); fix it, csep will not overwrite it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_on_disk_knows_of_a_change_before_the_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let target = dir.path().join("settings.json");
        fs::write(&target, b"{}").unwrap();
        // A directory where the file should be: the write fails after the manifest is saved,
        // as a crash between the two would leave things.
        let blocked = dir.path().join("blocked");
        fs::create_dir_all(blocked.join("x")).unwrap();
        let mut m = Manifest::default();
        write_recorded(
            &state,
            &mut m,
            &target,
            b"{\"hooks\":{}}",
            &["hooks".into()],
        )
        .unwrap();
        assert!(write_recorded(&state, &mut m, &blocked, b"new", &[]).is_err());
        let saved = load_manifest(&state).unwrap().unwrap();
        let paths: Vec<&str> = saved.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, [target.to_str().unwrap(), blocked.to_str().unwrap()]);
        assert_eq!(saved.changes[0].action, "modified");
        assert!(Path::new(saved.changes[0].backup.as_ref().unwrap()).is_file());
        assert_eq!(saved.changes[0].after_sha256, sha256_hex(b"{\"hooks\":{}}"));
    }

    fn change(path: &str, added: &str) -> FileChange {
        FileChange {
            path: path.into(),
            action: "created".into(),
            backup: None,
            before_sha256: None,
            after_sha256: sha256_hex(path.as_bytes()),
            added: vec![added.into()],
            user_changed: false,
        }
    }

    #[test]
    fn saving_a_manifest_keeps_what_another_setup_recorded_since_it_was_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        // Both loaded an empty manifest; the other saved first.
        let mut other = Manifest::default();
        other.changes.push(change("/h/hooks.json", "hooks.Stop"));
        other.changes.push(change("/h/settings.json", "hooks.Stop"));
        other.changes[1].user_changed = true;
        save_manifest(state, &other).unwrap();
        let mut ours = Manifest::default();
        ours.changes
            .push(change("/h/settings.json", "hooks.SessionStart"));
        ours.changes
            .push(change("/h/config.toml", "features.hooks"));
        save_manifest(state, &ours).unwrap();
        let saved = load_manifest(state).unwrap().unwrap();
        let paths: Vec<&str> = saved.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/h/hooks.json", "/h/settings.json", "/h/config.toml"]
        );
        assert_eq!(saved.changes[1].added, ["hooks.Stop", "hooks.SessionStart"]);
        assert!(
            saved.changes[1].user_changed,
            "a user's change is never forgotten"
        );
    }
}
