//! The repository carries no copy of the third-party files in `../shared/fixtures` (real
//! transcripts from other public projects): tests read them from there. A copy is found by
//! its bytes, whatever it is called and wherever it sits, among the files a commit could
//! carry (tracked, or untracked and not ignored).

use crate::common;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Every regular file under `dir`; symlinks are not followed (a link is no copy).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The files of the checkout at `root` a commit could carry: tracked, and untracked but not
/// ignored (so build output is left out, and a copy just dropped in is not).
fn checkout_files(root: &Path) -> Vec<PathBuf> {
    let out = std::process::Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git ls-files in {}: {}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root.join(OsStr::from_bytes(p)))
        .collect()
}

/// Each of `files` whose bytes equal a non-empty file under `shared`, with that file.
fn copies(files: &[PathBuf], shared: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut by_len: HashMap<u64, Vec<PathBuf>> = HashMap::new();
    for s in files_under(shared) {
        let len = fs::metadata(&s).unwrap().len();
        if len > 0 {
            by_len.entry(len).or_default().push(s);
        }
    }
    let mut found = Vec::new();
    for f in files {
        // A tracked file deleted in the worktree, or a link: nothing to compare.
        let Ok(m) = fs::symlink_metadata(f) else {
            continue;
        };
        let Some(same_len) = by_len.get(&m.len()).filter(|_| m.is_file()) else {
            continue;
        };
        let bytes = fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for s in same_len {
            if fs::read(s).unwrap() == bytes {
                found.push((f.clone(), s.clone()));
            }
        }
    }
    found
}

#[test]
fn the_repository_holds_no_copy_of_a_shared_fixture() {
    let Some(shared) = common::shared_fixtures() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = checkout_files(root);
    assert!(
        files.iter().any(|f| f.ends_with("Cargo.toml")),
        "git ls-files listed no Cargo.toml in {}",
        root.display()
    );
    let found = copies(&files, &shared);
    assert!(
        found.is_empty(),
        "byte copies of ../shared/fixtures in the repository (tests read them from there):\n{}",
        found
            .iter()
            .map(|(f, s)| format!("  {} = {}", f.display(), s.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_copy_is_found_by_its_bytes_whatever_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    let tree = tmp.path().join("tree");
    for d in [shared.join("transcripts/codex"), tree.join("tests/data")] {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(
        shared.join("transcripts/codex/rollout.jsonl"),
        "{\"a\":1}\n",
    )
    .unwrap();
    fs::write(shared.join("empty"), "").unwrap();
    fs::write(tree.join("tests/data/renamed.jsonl"), "{\"a\":1}\n").unwrap();
    fs::write(tree.join("same-length.jsonl"), "{\"b\":2}\n").unwrap();
    fs::write(tree.join("empty.txt"), "").unwrap();
    std::os::unix::fs::symlink(
        shared.join("transcripts/codex/rollout.jsonl"),
        tree.join("link.jsonl"),
    )
    .unwrap();
    let found = copies(&files_under(&tree), &shared);
    assert_eq!(
        found,
        vec![(
            tree.join("tests/data/renamed.jsonl"),
            shared.join("transcripts/codex/rollout.jsonl")
        )]
    );
}

#[test]
fn the_checkout_lists_untracked_files_but_not_ignored_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    common::git_repo(&repo);
    fs::write(repo.join(".gitignore"), "/target\n").unwrap();
    fs::write(repo.join("tracked.rs"), "fn main() {}\n").unwrap();
    common::git(&repo, &["add", "."]);
    common::git(&repo, &["commit", "-q", "-m", "tracked"]);
    fs::create_dir_all(repo.join("tests/fixtures")).unwrap();
    fs::write(repo.join("tests/fixtures/dropped.jsonl"), "{}\n").unwrap();
    fs::create_dir_all(repo.join("target")).unwrap();
    fs::write(repo.join("target/built.jsonl"), "{}\n").unwrap();
    let mut listed: Vec<String> = checkout_files(&repo)
        .iter()
        .map(|p| p.strip_prefix(&repo).unwrap().display().to_string())
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [".gitignore", "tests/fixtures/dropped.jsonl", "tracked.rs"]
    );
}
