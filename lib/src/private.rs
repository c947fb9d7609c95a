//! The state directory is the owner's alone: finding what under it another user could read
//! (for `csep status`) and tightening an install made before csep created everything private
//! (dirs to 0700, files to 0600, an executable file to 0700). New files are private from the
//! start (`fsutil`'s modes and the binaries' umask); this is for what older versions, a
//! person's `cp` under umask 022 or an editor left behind.
//!
//! Symlinks are never followed or changed (chmod would change their target, which may be
//! anywhere), and neither is anything owned by another user: status names it instead.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What `csep status` reports: how many paths under the state dir are wider than private,
/// and how many belong to someone else, each with the first one found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audit {
    pub wide: u64,
    pub first_wide: Option<(PathBuf, u32)>,
    pub foreign: u64,
    pub first_foreign: Option<PathBuf>,
}

fn too_wide(mode: u32) -> bool {
    mode & 0o077 != 0
}

/// The metadata of a walked entry: the state dir itself is what its path names (a symlinked
/// `~/.codex-self-evolution` is still the state dir, and walkdir descends into it), anything
/// below it is looked at without following a symlink; `None` for a symlink below.
fn meta(e: &walkdir::DirEntry) -> Option<fs::Metadata> {
    if e.depth() == 0 {
        fs::metadata(e.path()).ok()
    } else if e.path_is_symlink() {
        None
    } else {
        e.metadata().ok()
    }
}

fn walker(state_dir: &Path) -> walkdir::IntoIter {
    walkdir::WalkDir::new(state_dir)
        .follow_links(false)
        .follow_root_links(true)
        .into_iter()
}

/// Every entry under `state_dir` (itself included, symlinks below it not followed), with its
/// metadata.
fn walk(state_dir: &Path) -> impl Iterator<Item = (PathBuf, fs::Metadata)> {
    walker(state_dir)
        .flatten()
        .filter_map(|e| meta(&e).map(|m| (e.into_path(), m)))
}

/// The directories whose entries [`audit`] always looks at, even when private: what csep
/// writes most and what must stay writable by its owner (a file `sudo csep …` left there
/// would break every later run).
const ALWAYS_LISTED: [&str; 5] = ["index", "logs", "install", "bin", "locks"];

/// Looks for what another user could read under `state_dir`, and what belongs to someone
/// else; never writes. A directory others cannot traverse hides everything below it, so it
/// is not descended into (a private install of thousands of sessions costs a few dozen
/// `lstat`s), except the state dir itself and [`ALWAYS_LISTED`]; a wide tree is walked
/// whole.
pub fn audit(state_dir: &Path) -> Audit {
    let me = crate::fsutil::current_uid();
    let mut a = Audit::default();
    // `.env.provider` has a warning of its own (`envfile`), with the same fix.
    let env = crate::envfile::path(state_dir);
    let mut it = walker(state_dir);
    while let Some(entry) = it.next() {
        let Ok(e) = entry else { continue };
        let Some(m) = meta(&e) else { continue };
        if m.uid() != me {
            a.foreign += 1;
            a.first_foreign
                .get_or_insert_with(|| e.path().to_path_buf());
        } else if too_wide(m.mode()) && e.path() != env {
            a.wide += 1;
            a.first_wide
                .get_or_insert((e.path().to_path_buf(), m.mode() & 0o7777));
        }
        let traversable = m.mode() & 0o011 != 0;
        let listed = e.depth() == 0
            || (e.depth() == 1
                && ALWAYS_LISTED
                    .iter()
                    .any(|d| e.file_name() == std::ffi::OsStr::new(d)));
        if m.is_dir() && !traversable && !listed {
            it.skip_current_dir();
        }
    }
    a
}

impl Audit {
    /// Status warnings, each with what to run.
    pub fn warnings(&self, state_dir: &Path) -> Vec<String> {
        let mut w = Vec::new();
        let dir = state_dir.display();
        if let Some((p, mode)) = &self.first_wide {
            w.push(format!(
                "{} path{} under {dir} can be read by other users (first: {} has mode {mode:04o}): the next `csep drain` or `csep setup` makes them private, or run `chmod -R go= '{dir}'`",
                self.wide,
                if self.wide == 1 { "" } else { "s" },
                p.display(),
            ));
        }
        if let Some(p) = &self.first_foreign {
            w.push(format!(
                "{} path{} under {dir} belong{} to another user (first: {}): csep cannot keep {} private; chown {} back to yourself",
                self.foreign,
                if self.foreign == 1 { "" } else { "s" },
                if self.foreign == 1 { "s" } else { "" },
                p.display(),
                if self.foreign == 1 { "it" } else { "them" },
                if self.foreign == 1 { "it" } else { "them" },
            ));
        }
        w
    }
}

/// The private mode for a path that has `mode`: only the owner's bits kept (so 0755 → 0700,
/// 0644 → 0600).
fn private_mode(mode: u32) -> u32 {
    mode & 0o700
}

/// Makes every path under `state_dir` the owner's alone; returns how many it changed.
/// The state dir itself is done last, so an interrupted pass leaves it wide and
/// [`tighten_if_wide`] runs again.
pub fn tighten(state_dir: &Path) -> u64 {
    let me = crate::fsutil::current_uid();
    let mut changed = 0;
    let mut top = None;
    for (path, m) in walk(state_dir) {
        if m.uid() != me || !too_wide(m.mode()) {
            continue;
        }
        if path == state_dir {
            top = Some(m);
            continue;
        }
        let mode = private_mode(m.mode());
        if fs::set_permissions(&path, fs::Permissions::from_mode(mode)).is_ok() {
            changed += 1;
        }
    }
    if let Some(m) = top {
        let mode = private_mode(m.mode());
        if fs::set_permissions(state_dir, fs::Permissions::from_mode(mode)).is_ok() {
            changed += 1;
        }
    }
    changed
}

/// Makes the skills csep generated (the `csep-reflect-*` directories under `skills_root`, real
/// directories only) private as [`tighten`] does; the user's own skills are never touched.
pub fn tighten_generated_skills(skills_root: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(skills_root) else {
        return 0;
    };
    rd.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(crate::config::REFLECT_SKILL_PREFIX)
                && e.file_type().is_ok_and(|t| t.is_dir())
        })
        .map(|e| tighten(&e.path()))
        .sum()
}

/// The cheap check for every writer that runs often (the drainer, in the background): what
/// [`audit`] looks at (the state dir, its entries and those of [`ALWAYS_LISTED`], or the
/// whole tree where a directory is open to others: a few dozen `lstat`s on a private
/// install). Only when it finds something others can reach (an install from before csep made
/// everything private, a `cp` under umask 022, an interrupted tightening) is the tree walked
/// and tightened, so what `csep status` warns about is gone after the next drain. Never
/// fails: a read-only state dir stays as it is.
pub fn tighten_if_wide(state_dir: &Path) -> u64 {
    match fs::metadata(state_dir) {
        Ok(m)
            if m.is_dir()
                && m.uid() == crate::fsutil::current_uid()
                && audit(state_dir).wide > 0 =>
        {
            tighten(state_dir)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn tightening_takes_group_and_other_bits_off_and_leaves_symlinks_alone() {
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("state");
        fs::create_dir_all(state.join("logs")).unwrap();
        fs::write(state.join("logs/runs.jsonl"), "x").unwrap();
        fs::write(state.join("hook.sh"), "x").unwrap();
        let outside = d.path().join("outside");
        fs::write(&outside, "x").unwrap();
        std::os::unix::fs::symlink(&outside, state.join("link")).unwrap();
        for (p, m) in [
            (state.clone(), 0o755),
            (state.join("logs"), 0o775),
            (state.join("logs/runs.jsonl"), 0o644),
            (state.join("hook.sh"), 0o755),
            (outside.clone(), 0o644),
        ] {
            fs::set_permissions(&p, fs::Permissions::from_mode(m)).unwrap();
        }
        let before = audit(&state);
        assert_eq!(before.wide, 4);
        assert_eq!(before.first_wide, Some((state.clone(), 0o755)));
        assert!(before.warnings(&state)[0].starts_with("4 paths under"));

        assert_eq!(tighten_if_wide(&state), 4);
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join("logs")), 0o700);
        assert_eq!(mode(&state.join("logs/runs.jsonl")), 0o600);
        assert_eq!(mode(&state.join("hook.sh")), 0o700);
        assert_eq!(mode(&outside), 0o644, "a symlink's target is not csep's");
        assert_eq!(audit(&state), Audit::default());
        assert!(audit(&state).warnings(&state).is_empty());
        // Private already, and what is wide hides in a private directory (out of others'
        // reach): the cheap look finds nothing, so nothing is walked or changed.
        let hidden = state.join("triggers/x");
        fs::create_dir_all(&hidden).unwrap();
        for d in [state.join("triggers"), hidden.clone()] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
        }
        fs::write(hidden.join("state.json"), "{}").unwrap();
        fs::set_permissions(hidden.join("state.json"), fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(tighten_if_wide(&state), 0);
        assert_eq!(tighten(&state), 1);
        // What the cheap look does see (an entry of the state dir) is tightened.
        fs::set_permissions(state.join("hook.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(tighten_if_wide(&state), 1);
        assert_eq!(mode(&state.join("hook.sh")), 0o700);

        // A state dir reached through a symlink is still the state dir.
        let alias = d.path().join("alias");
        std::os::unix::fs::symlink(&state, &alias).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(state.join("logs"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(audit(&alias).wide, 2);
        assert_eq!(tighten_if_wide(&alias), 2);
        assert_eq!((mode(&state), mode(&state.join("logs"))), (0o700, 0o700));
    }

    #[test]
    fn only_generated_skills_are_tightened() {
        let d = tempfile::tempdir().unwrap();
        for name in ["csep-reflect-tests", "my-skill"] {
            let dir = d.path().join(name);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("SKILL.md"), "x").unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
            fs::set_permissions(dir.join("SKILL.md"), fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::os::unix::fs::symlink(
            d.path().join("my-skill"),
            d.path().join("csep-reflect-link"),
        )
        .unwrap();
        assert_eq!(tighten_generated_skills(d.path()), 2);
        assert_eq!(mode(&d.path().join("csep-reflect-tests")), 0o700);
        assert_eq!(mode(&d.path().join("csep-reflect-tests/SKILL.md")), 0o600);
        assert_eq!(mode(&d.path().join("my-skill")), 0o755);
        assert_eq!(mode(&d.path().join("my-skill/SKILL.md")), 0o644);
    }

    #[test]
    fn the_audit_skips_what_a_private_directory_hides_but_lists_the_index() {
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("state");
        for dir in ["triggers/s1", "index"] {
            fs::create_dir_all(state.join(dir)).unwrap();
        }
        let hidden = state.join("triggers/s1/state.json");
        let index = state.join("index/recall.sqlite3");
        for f in [&hidden, &index] {
            fs::write(f, "x").unwrap();
            fs::set_permissions(f, fs::Permissions::from_mode(0o644)).unwrap();
        }
        for dir in ["", "triggers", "triggers/s1", "index"] {
            fs::set_permissions(state.join(dir), fs::Permissions::from_mode(0o700)).unwrap();
        }
        // Nobody else can reach triggers/s1/state.json; the index is looked at anyway.
        assert_eq!(audit(&state).first_wide, Some((index.clone(), 0o644)));
        assert_eq!(audit(&state).wide, 1);
        // Once triggers/ can be traversed, what is below it is found too.
        fs::set_permissions(state.join("triggers"), fs::Permissions::from_mode(0o711)).unwrap();
        assert_eq!(audit(&state).wide, 2);
        fs::set_permissions(state.join("triggers/s1"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(audit(&state).wide, 4);
    }
}
