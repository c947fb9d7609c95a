//! Reading the live side: the file a proposal would replace, reached from its root (the repo
//! bucket or the skills root) one component at a time without following a symlink, so a
//! planted link can neither redirect a write nor make a stale check read the wrong file.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What is at a live path now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Live {
    Missing,
    File {
        bytes: Vec<u8>,
        sha256: String,
        mode: u32,
    },
    /// A symlink on the way, or something other than a directory or a regular file.
    Unsafe(String),
}

impl Live {
    pub(crate) fn sha256(&self) -> Option<&str> {
        match self {
            Live::File { sha256, .. } => Some(sha256),
            _ => None,
        }
    }
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Live::File { bytes, .. } => Some(bytes),
            _ => None,
        }
    }
}

/// Opens a file for reading without following a final symlink (and without blocking on a
/// FIFO swapped in after the caller looked).
pub(crate) fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Reads `path` (a regular file, not a symlink) up to `cap` bytes; `Ok(None)` when it is
/// bigger. `expect` is the (dev, ino) the caller saw, so a file swapped in between is refused.
pub(crate) fn read_capped(
    path: &Path,
    cap: u64,
    expect: Option<(u64, u64)>,
) -> std::io::Result<Option<Vec<u8>>> {
    let f = open_nofollow(path)?;
    let m = f.metadata()?;
    if !m.is_file() || expect.is_some_and(|(d, i)| (m.dev(), m.ino()) != (d, i)) {
        return Err(std::io::Error::other(
            "the file changed while it was being read",
        ));
    }
    if m.len() > cap {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    f.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// The live state of `root/rel` (`rel` uses `/`). `root` itself may be a symlink (a user's
/// skills root often is); nothing below it may be.
pub(crate) fn inspect(root: &Path, rel: &str) -> Result<Live> {
    match fs::metadata(root) {
        Ok(m) if !m.is_dir() => {
            return Ok(Live::Unsafe(format!(
                "{} is not a directory",
                root.display()
            )))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Live::Missing),
        Err(e) => return Err(Error::io(root.display(), e)),
    }
    let parts: Vec<&str> = rel.split('/').collect();
    let mut p = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        p.push(part);
        let last = i + 1 == parts.len();
        let m = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Live::Missing),
            Err(e) => return Err(Error::io(p.display(), e)),
        };
        if m.file_type().is_symlink() {
            return Ok(Live::Unsafe(format!("{} is a symlink", p.display())));
        }
        if !last && !m.is_dir() {
            return Ok(Live::Unsafe(format!("{} is not a directory", p.display())));
        }
        if last {
            if !m.is_file() {
                return Ok(Live::Unsafe(format!(
                    "{} is not a regular file",
                    p.display()
                )));
            }
            let bytes = read_capped(&p, u64::MAX, Some((m.dev(), m.ino())))
                .map_err(|e| Error::io(p.display(), e))?
                .unwrap_or_default();
            return Ok(Live::File {
                sha256: crate::setup::sha256_hex(&bytes),
                bytes,
                mode: m.mode() & 0o7777,
            });
        }
    }
    Ok(Live::Missing)
}

/// The directories a write to `root/rel` would create, deepest first (`root` included when
/// it does not exist yet). `claimed` holds directories an earlier write already counts.
pub(crate) fn dirs_to_create(root: &Path, rel: &str, claimed: &mut Vec<PathBuf>) -> Vec<PathBuf> {
    let mut chain = vec![root.to_path_buf()];
    let parts: Vec<&str> = rel.split('/').collect();
    let mut p = root.to_path_buf();
    for part in &parts[..parts.len().saturating_sub(1)] {
        p.push(part);
        chain.push(p.clone());
    }
    let mut out = Vec::new();
    for dir in chain {
        if fs::symlink_metadata(&dir).is_ok() || claimed.contains(&dir) {
            continue;
        }
        claimed.push(dir.clone());
        out.push(dir);
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_refuses_symlinks_below_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("bucket");
        fs::create_dir_all(root.join("memory")).unwrap();
        fs::write(d.path().join("user.md"), "mine").unwrap();
        std::os::unix::fs::symlink(d.path().join("user.md"), root.join("memory/MEMORY.md"))
            .unwrap();
        assert!(matches!(
            inspect(&root, "memory/MEMORY.md").unwrap(),
            Live::Unsafe(_)
        ));
        std::os::unix::fs::symlink(d.path(), root.join("memory/refs")).unwrap();
        assert!(matches!(
            inspect(&root, "memory/refs/user.md").unwrap(),
            Live::Unsafe(_)
        ));
        assert_eq!(inspect(&root, "memory/none.md").unwrap(), Live::Missing);
        assert_eq!(inspect(&d.path().join("no"), "a/b").unwrap(), Live::Missing);
    }

    #[test]
    fn dirs_to_create_lists_missing_dirs_once_deepest_first() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("skills");
        let mut claimed = Vec::new();
        assert_eq!(
            dirs_to_create(&root, "csep-reflect-a/SKILL.md", &mut claimed),
            vec![root.join("csep-reflect-a"), root.clone()]
        );
        assert_eq!(
            dirs_to_create(&root, "csep-reflect-b/SKILL.md", &mut claimed),
            vec![root.join("csep-reflect-b")]
        );
    }
}
