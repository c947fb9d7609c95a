//! Repo identity: which repository a working directory belongs to. All worktrees of a repo
//! share one identity (the parent of the git common dir), so memory and recall scope follow
//! the repo, not the checkout. Read straight from `.git` files; no `git` process is spawned.

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoIdentity {
    pub repo_root: String,
    pub worktree_root: String,
    pub branch: Option<String>,
    pub fingerprint: String,
}

/// A short stable hash of a repo root, used as the scope key.
pub fn fingerprint(repo_root: &str) -> String {
    let digest = Sha256::digest(repo_root.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn branch_of(git_dir: &Path) -> Option<String> {
    let head = read_trimmed(&git_dir.join("HEAD"))?;
    head.strip_prefix("ref: refs/heads/").map(str::to_string)
}

/// Resolves `cwd` to its repo. Outside any git repo (or for a path that no longer exists)
/// the directory itself is the identity.
pub fn identify(cwd: &str) -> RepoIdentity {
    let start = Path::new(cwd);
    // A vanished directory must not be attributed to whatever repo encloses its parent
    // (a dotfiles repo in $HOME, say): it stands for itself.
    let mut dir: Option<&Path> = if start.is_dir() { Some(start) } else { None };
    while let Some(d) = dir {
        let dot_git = d.join(".git");
        if let Ok(meta) = fs::metadata(&dot_git) {
            if meta.is_dir() {
                let root = fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf());
                let root = root.to_string_lossy().into_owned();
                return RepoIdentity {
                    fingerprint: fingerprint(&root),
                    worktree_root: root.clone(),
                    repo_root: root,
                    branch: branch_of(&dot_git),
                };
            }
            if let Some(id) = linked_worktree(d, &dot_git) {
                return id;
            }
        }
        dir = d.parent();
    }
    let root = start.to_string_lossy().into_owned();
    RepoIdentity {
        fingerprint: fingerprint(&root),
        worktree_root: root.clone(),
        repo_root: root,
        branch: None,
    }
}

/// A linked worktree (or submodule) has a `.git` file: `gitdir: <path>`. For worktrees that
/// gitdir has a `commondir` file pointing at the main repo's `.git`.
fn linked_worktree(worktree: &Path, dot_git: &Path) -> Option<RepoIdentity> {
    let content = read_trimmed(dot_git)?;
    let gitdir = PathBuf::from(content.strip_prefix("gitdir:")?.trim());
    let gitdir = if gitdir.is_absolute() {
        gitdir
    } else {
        worktree.join(gitdir)
    };
    let common = match read_trimmed(&gitdir.join("commondir")) {
        Some(rel) => {
            let p = PathBuf::from(rel);
            let p = if p.is_absolute() { p } else { gitdir.join(p) };
            fs::canonicalize(&p).unwrap_or(p)
        }
        None => gitdir.clone(),
    };
    let repo_root = if common.file_name().is_some_and(|n| n == ".git") {
        common.parent()?.to_path_buf()
    } else {
        common.clone()
    };
    let repo_root = repo_root.to_string_lossy().into_owned();
    Some(RepoIdentity {
        fingerprint: fingerprint(&repo_root),
        repo_root,
        worktree_root: worktree.to_string_lossy().into_owned(),
        branch: branch_of(&gitdir),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worktrees_share_the_main_repo_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let main = tmp.path().join("repo");
        fs::create_dir_all(main.join(".git/worktrees/wt")).unwrap();
        fs::write(main.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(
            main.join(".git/worktrees/wt/HEAD"),
            "ref: refs/heads/feature\n",
        )
        .unwrap();
        fs::write(main.join(".git/worktrees/wt/commondir"), "../..\n").unwrap();
        let wt = tmp.path().join("wt");
        fs::create_dir_all(wt.join("sub")).unwrap();
        fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", main.join(".git/worktrees/wt").display()),
        )
        .unwrap();

        let a = identify(main.to_str().unwrap());
        let b = identify(wt.join("sub").to_str().unwrap());
        assert_eq!(
            a.repo_root,
            fs::canonicalize(&main).unwrap().to_string_lossy()
        );
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!(b.worktree_root, wt.to_string_lossy());
        assert_eq!(a.branch.as_deref(), Some("main"));
        assert_eq!(b.branch.as_deref(), Some("feature"));
    }

    #[test]
    fn a_missing_directory_is_its_own_identity() {
        let id = identify("/nonexistent/csep/dir");
        assert_eq!(id.repo_root, "/nonexistent/csep/dir");
        assert_eq!(id.fingerprint, fingerprint("/nonexistent/csep/dir"));
    }
}
