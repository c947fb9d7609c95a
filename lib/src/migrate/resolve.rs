//! Which directory each bucket of migrate-worktrees was made for: the evidence (the recall
//! index's sessions, 1.3.10's `.canonical_cwd`, the filesystem, the repositories' worktree
//! lists) and the one directory it must point to.

use super::{is_archived, Report, Skip, Unresolved, PROBE_BUDGET};
use crate::index::db;
use crate::{memory, paths, repo};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A bucket whose directory was found, before its files are looked at.
pub(super) struct Resolved {
    pub(super) bucket: String,
    pub(super) cwd: PathBuf,
    pub(super) from: Vec<String>,
    pub(super) id: repo::RepoIdentity,
    pub(super) target: String,
}

pub(super) fn resolve(state_dir: &Path, projects: &Path, report: &mut Report) -> Vec<Resolved> {
    let mut names = Vec::new();
    if let Ok(rd) = fs::read_dir(projects) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_archived(&name) {
                report.skipped.push(Skip {
                    bucket: name,
                    reason: "already archived".into(),
                });
            } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                names.push(name);
            } else {
                report.skipped.push(Skip {
                    bucket: name,
                    reason: "not a directory".into(),
                });
            }
        }
    }
    names.sort();
    let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
    type Found = HashMap<String, BTreeMap<PathBuf, BTreeSet<&'static str>>>;
    let mut found: Found = HashMap::new();
    let add = |found: &mut Found, path: &Path, from: &'static str| {
        let name = memory::bucket_name(&path.to_string_lossy());
        if wanted.contains(name.as_str()) {
            found
                .entry(name)
                .or_default()
                .entry(path.to_path_buf())
                .or_default()
                .insert(from);
        }
    };

    let mut repos: BTreeSet<PathBuf> = BTreeSet::new();
    for (cwd, worktree, root) in indexed_dirs(state_dir) {
        for p in [&cwd, &worktree, &root].into_iter().flatten() {
            add(&mut found, Path::new(p), "index");
        }
        repos.extend(root.map(PathBuf::from));
    }
    for name in &names {
        let note = projects.join(name).join(".canonical_cwd");
        if let Ok(text) = fs::read_to_string(note) {
            let p = text.trim();
            if !p.is_empty() {
                add(&mut found, Path::new(p), "canonical_cwd");
            }
        }
        for p in unmangle(name) {
            add(&mut found, &p, "filesystem");
        }
    }
    // The worktrees of every repository seen, even those whose directory is gone: they
    // say which missing directory was a worktree.
    let existing: Vec<PathBuf> = found
        .values()
        .flat_map(|m| m.keys())
        .filter(|p| p.is_dir())
        .cloned()
        .collect();
    for p in existing {
        repos.insert(PathBuf::from(
            repo::identify(&p.to_string_lossy()).repo_root,
        ));
    }
    for r in &repos {
        for wt in linked_worktrees(r) {
            add(&mut found, &wt, "git_worktrees");
        }
    }

    let mut out = Vec::new();
    for name in names {
        let cands = found.remove(&name).unwrap_or_default();
        let listed: Vec<String> = cands
            .keys()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let live: Vec<(&PathBuf, &BTreeSet<&str>)> =
            cands.iter().filter(|(p, _)| p.is_dir()).collect();
        if live.is_empty() {
            report.unresolved.push(Unresolved {
                bucket: name,
                reason: if listed.is_empty() {
                    "no existing directory has this bucket's name".into()
                } else {
                    "the directory it was made for no longer exists".into()
                },
                candidates: listed,
            });
            continue;
        }
        let ids: Vec<(&PathBuf, &BTreeSet<&str>, repo::RepoIdentity)> = live
            .into_iter()
            .map(|(p, f)| (p, f, repo::identify(&p.to_string_lossy())))
            .collect();
        let targets: BTreeSet<String> = ids
            .iter()
            .map(|(_, _, id)| memory::bucket_name(&id.repo_root))
            .collect();
        if targets.len() > 1 {
            report.unresolved.push(Unresolved {
                bucket: name,
                reason: "several existing directories of different repositories have this name"
                    .into(),
                candidates: listed,
            });
            continue;
        }
        let (cwd, from, id) = ids.into_iter().next().expect("one candidate at least");
        let target = memory::bucket_name(&id.repo_root);
        if target == name {
            let reason = if Path::new(&id.repo_root).join(".git").exists() {
                "already the repository's bucket"
            } else {
                "not in a git repository"
            };
            report.skipped.push(Skip {
                bucket: name,
                reason: reason.into(),
            });
            continue;
        }
        out.push(Resolved {
            bucket: name,
            cwd: cwd.clone(),
            from: from.iter().map(|s| s.to_string()).collect(),
            id,
            target,
        });
    }
    out
}

/// Every (cwd, worktree_root, repo_root) the recall index knows. A missing or unreadable
/// index is no evidence, not an error. Opened so that even a dry run leaves no file behind.
fn indexed_dirs(state_dir: &Path) -> Vec<crate::index::sessions::SessionDirs> {
    let Ok(Some(conn)) = db::open_ro(&paths::index_db(state_dir), db::ReadOnly::Untouched) else {
        return Vec::new();
    };
    crate::index::sessions::session_dirs(&conn).unwrap_or_default()
}

/// The existing directories whose path mangles to `name`: each `-` tried as `/` and as
/// itself, keeping only prefixes that exist.
pub(super) fn unmangle(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, tokens: &[&str], budget: &mut usize, out: &mut Vec<PathBuf>) {
        for j in 1..=tokens.len() {
            if *budget == 0 {
                return;
            }
            let part = tokens[..j].join("-");
            if part.is_empty() || part == "." || part == ".." {
                continue;
            }
            *budget -= 1;
            let p = dir.join(&part);
            if !p.is_dir() {
                continue;
            }
            if j == tokens.len() {
                out.push(p);
            } else {
                walk(&p, &tokens[j..], budget, out);
            }
        }
    }
    let Some(rest) = name.strip_prefix('-') else {
        return Vec::new();
    };
    let tokens: Vec<&str> = rest.split('-').collect();
    let mut out = Vec::new();
    let mut budget = PROBE_BUDGET;
    walk(Path::new("/"), &tokens, &mut budget, &mut out);
    out
}

/// The linked worktrees git records for the repository at `root`
/// (`.git/worktrees/<id>/gitdir` names the worktree's `.git` file), whether or not they
/// still exist.
fn linked_worktrees(root: &Path) -> Vec<PathBuf> {
    let dir = root.join(".git").join("worktrees");
    let Ok(rd) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Ok(text) = fs::read_to_string(e.path().join("gitdir")) else {
            continue;
        };
        let dot_git = PathBuf::from(text.trim());
        let dot_git = if dot_git.is_absolute() {
            dot_git
        } else {
            e.path().join(dot_git)
        };
        if let Some(wt) = dot_git.parent() {
            out.push(wt.to_path_buf());
        }
    }
    out.sort();
    out
}
