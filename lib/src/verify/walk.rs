//! Walking `proposal/` without following anything: every entry is looked at with
//! `symlink_metadata`, only the three path shapes are accepted, and each accepted file is read
//! once, here, so the bytes that are checked are the bytes that are applied.

use super::content::Kind;
use super::live::read_capped;
use super::{Reason, Rejection};
use crate::error::{Error, Result};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

/// Deeper `memory/refs/` nesting than this is refused.
const MAX_DEPTH: usize = 12;

/// One proposed file, read.
#[derive(Debug, Clone)]
pub(crate) struct Proposed {
    /// Relative to `proposal/`, with `/`: `memory/MEMORY.md`, `memory/refs/a/b.md`,
    /// `skills/<dir>/SKILL.md`.
    pub rel: String,
    pub kind: Kind,
    pub bytes: Vec<u8>,
}

/// What the walk found: the readable files of an allowed shape, every path seen (for the
/// draft's claims), and the rejections.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub files: Vec<Proposed>,
    pub seen: Vec<String>,
    pub rejections: Vec<Rejection>,
}

pub(crate) struct Rules<'a> {
    pub skills_dir: &'a Path,
    pub prefix: &'a str,
    pub size_cap: u64,
}

impl Walk {
    fn reject(&mut self, path: &str, reason: Reason, detail: impl Into<String>) {
        self.rejections.push(Rejection {
            path: path.to_string(),
            reason,
            detail: detail.into(),
        });
    }
}

/// Whether a name is one a proposal may use: printable, no separators or quoting tricks.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| {
            c.is_control()
                || crate::text::is_bidi_override(c)
                || matches!(c, '\\' | '/' | '\u{feff}')
        })
}

fn skill_dir_name(name: &str, prefix: &str) -> bool {
    name.len() > prefix.len()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Rejections for a symlink's target, besides the symlink itself.
fn link_target(walk: &mut Walk, rel: &str, target: &Path) {
    let shown = target.to_string_lossy();
    if target.is_absolute() {
        walk.reject(
            rel,
            Reason::AbsolutePath,
            format!("symlink to the absolute path {shown:?}"),
        );
    }
    if target.components().any(|c| c == Component::ParentDir) {
        walk.reject(
            rel,
            Reason::PathTraversal,
            format!("symlink target {shown:?} climbs out with `..`"),
        );
    }
}

pub(crate) fn walk(proposal: &Path, rules: &Rules) -> Result<Walk> {
    let mut w = Walk::default();
    match fs::symlink_metadata(proposal) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(w),
        Err(e) => return Err(Error::io(proposal.display(), e)),
        Ok(m) if m.file_type().is_symlink() => {
            w.reject(
                "proposal",
                Reason::Symlink,
                "proposal/ itself is a symlink; not followed",
            );
            if let Ok(t) = fs::read_link(proposal) {
                link_target(&mut w, "proposal", &t);
            }
            return Ok(w);
        }
        Ok(m) if !m.is_dir() => {
            w.reject(
                "proposal",
                Reason::UnexpectedFile,
                "proposal is not a directory",
            );
            return Ok(w);
        }
        Ok(_) => {}
    }
    dir(&mut w, proposal, &mut Vec::new(), rules)?;
    Ok(w)
}

fn dir(w: &mut Walk, abs: &Path, rel: &mut Vec<String>, rules: &Rules) -> Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(abs)
        .map_err(|e| Error::io(abs.display(), e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(abs.display(), e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let os_name = entry.file_name();
        let Some(name) = os_name.to_str() else {
            let mut shown = rel.join("/");
            if !shown.is_empty() {
                shown.push('/');
            }
            shown.push_str(&os_name.to_string_lossy());
            w.reject(
                &shown,
                Reason::InvalidUtf8,
                "the file name is not valid UTF-8",
            );
            continue;
        };
        rel.push(name.to_string());
        let r = rel.join("/");
        entry_(w, &entry.path(), name, rel, &r, rules)?;
        rel.pop();
    }
    Ok(())
}

fn entry_(
    w: &mut Walk,
    abs: &Path,
    name: &str,
    rel: &mut Vec<String>,
    r: &str,
    rules: &Rules,
) -> Result<()> {
    let m = fs::symlink_metadata(abs).map_err(|e| Error::io(abs.display(), e))?;
    if name.starts_with('.') {
        w.reject(
            r,
            Reason::HiddenFile,
            "hidden files and directories are not allowed",
        );
        return Ok(());
    }
    if !plain_name(name) {
        w.reject(
            r,
            Reason::BadFileName,
            "the name holds a control character, a backslash or a direction mark",
        );
        return Ok(());
    }
    if m.file_type().is_symlink() {
        let target = fs::read_link(abs).unwrap_or_default();
        w.reject(
            r,
            Reason::Symlink,
            format!(
                "symlink to {:?}; symlinks are never followed",
                target.to_string_lossy()
            ),
        );
        link_target(w, r, &target);
        return Ok(());
    }
    let parts: Vec<&str> = rel.iter().map(String::as_str).collect();
    if m.is_dir() {
        let allowed = match parts.as_slice() {
            ["memory"] | ["memory", "refs"] | ["skills"] => true,
            ["memory", "refs", ..] => parts.len() <= MAX_DEPTH,
            ["skills", d] => {
                if !d.starts_with(rules.prefix) {
                    if fs::symlink_metadata(rules.skills_dir.join(d)).is_ok() {
                        w.reject(
                            r,
                            Reason::UserSkill,
                            format!("{d:?} is an existing skill outside the {:?} prefix; reflection never touches it", rules.prefix),
                        );
                    } else {
                        w.reject(
                            r,
                            Reason::SkillPrefix,
                            format!("skill directories must start with {:?}", rules.prefix),
                        );
                    }
                    return Ok(());
                }
                if !skill_dir_name(d, rules.prefix) {
                    w.reject(
                        r,
                        Reason::BadFileName,
                        "a skill directory name is the prefix and then letters, digits, `-`, `_` or `.`",
                    );
                    return Ok(());
                }
                true
            }
            _ => false,
        };
        if !allowed {
            w.reject(
                r,
                Reason::UnexpectedFile,
                "a directory where the proposal has none",
            );
            return Ok(());
        }
        return dir(w, abs, rel, rules);
    }
    let kind = match parts.as_slice() {
        ["memory", "MEMORY.md"] => Some(Kind::Memory),
        ["memory", "refs", .., last] if last.ends_with(".md") && last.len() > 3 => Some(Kind::Ref),
        ["skills", d, "SKILL.md"] => Some(Kind::Skill(d.to_string())),
        _ => None,
    };
    w.seen.push(r.to_string());
    let Some(kind) = kind else {
        w.reject(
            r,
            Reason::UnexpectedFile,
            "only memory/MEMORY.md, memory/refs/**/*.md and skills/<dir>/SKILL.md may be proposed",
        );
        return Ok(());
    };
    if !m.is_file() {
        w.reject(r, Reason::UnexpectedFile, "not a regular file");
        return Ok(());
    }
    if m.len() > rules.size_cap {
        w.reject(
            r,
            Reason::FileTooLarge,
            format!("{} bytes; the cap is {}", m.len(), rules.size_cap),
        );
        return Ok(());
    }
    match read_capped(abs, rules.size_cap, Some((m.dev(), m.ino()))) {
        Ok(Some(bytes)) => w.files.push(Proposed {
            rel: r.to_string(),
            kind,
            bytes,
        }),
        Ok(None) => w.reject(
            r,
            Reason::FileTooLarge,
            format!("more than {} bytes", rules.size_cap),
        ),
        Err(e) => w.reject(
            r,
            Reason::UnexpectedFile,
            format!("could not be read safely: {e}"),
        ),
    }
    Ok(())
}
