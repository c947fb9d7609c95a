//! Black-box tests of `csep migrate-worktrees`: buckets left under a worktree's own path are
//! planned, merged into the repository's bucket without losing a line, archived, journalled
//! for `csep-verify --undo`, and then read by SessionStart; a second run finds nothing.

use crate::common;

use common::{codex_path, codex_rollout, git_repo, git_worktree, walk, write_lines, Env};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

fn bucket(env: &Env, dir: &Path) -> PathBuf {
    env.state()
        .join("projects")
        .join(dir.to_string_lossy().replace('/', "-"))
}

fn plant(env: &Env, dir: &Path, memory: &str, refs: &[(&str, &str)]) -> PathBuf {
    let b = bucket(env, dir);
    fs::create_dir_all(b.join("memory")).unwrap();
    fs::write(b.join("memory/MEMORY.md"), memory).unwrap();
    for (rel, text) in refs {
        let p = b.join("memory/refs").join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    b
}

/// Every file and directory under `dir`, with the bytes of each file.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            // The run log: every `--apply` appends its line there.
            if p == dir.join("logs") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                out.insert(p.clone(), None);
                stack.push(p);
            } else {
                out.insert(p.clone(), Some(fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Fails naming every path that differs between two snapshots. SQLite's read marks in a
/// `-shm` that was already there are how any reader takes its place: they do not count.
#[track_caller]
fn assert_unchanged(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    what: &str,
) {
    let changed: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|p| !(p.to_string_lossy().ends_with("-shm") && before.contains_key(*p)))
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(changed.is_empty(), "{what} changed {changed:?}");
}

fn migrate(env: &Env, args: &[&str]) -> (Output, Value) {
    let out = env
        .cmd("csep")
        .arg("migrate-worktrees")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.starts_with("{\"type\":\"migrate_worktrees\"") && text.trim_end().lines().count() == 1,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_str(text.trim_end()).unwrap();
    (out, v)
}

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap().to_string())
        .collect()
}

const MAIN: &str = "# Memory\n\n## Build\n- Run cargo build --locked.\n- Run cargo test before committing.\n\n## Style\n- Keep functions small.\n";
const FEAT: &str = "# Memory\n\n## Build\n- Run cargo test before committing.   \n- Use cargo nextest for the slow suite.\n\n## Release\n- Tag only from main.\n";
const FIX: &str = "- The CI runner has 2 cores.\n\n## Style\n- Keep functions small.\n- No unwrap in library code.\n## Release\n- Tag only from main.\n- Bump the version first.\n";

#[test]
fn worktree_buckets_merge_into_the_repository_bucket_without_losing_a_line() {
    let env = Env::new();
    let root = fs::canonicalize(env.root()).unwrap();
    // Names with dashes: a bucket name cannot simply be un-mangled.
    let repo = root.join("my-repo");
    let feat = root.join("my-repo-feat");
    let fix = root.join("my-repo-fix");
    let old = root.join("my-repo-old");
    git_repo(&repo);
    git_worktree(&repo, &feat, "feat");
    git_worktree(&repo, &fix, "fix");
    git_worktree(&repo, &old, "old");
    fs::remove_dir_all(&old).unwrap();
    // A session the index knows ran in a directory that is gone now.
    let gone = root.join("gone-dir");
    let id = "77777777-0000-4000-8000-000000000001";
    let sessions = env.path("codex");
    write_lines(
        &codex_path(&sessions, id),
        &codex_rollout(id, gone.to_str().unwrap(), "hello", "o", "a"),
    );
    env.backfill("codex", &sessions);

    let main_bucket = plant(&env, &repo, MAIN, &[("a.md", "main's a\n")]);
    let feat_bucket = plant(
        &env,
        &feat,
        FEAT,
        &[("a.md", "feat's a\n"), ("deep/n.md", "feat's note\n")],
    );
    fs::create_dir_all(feat_bucket.join("journal")).unwrap();
    fs::write(feat_bucket.join("journal/old-job.jsonl"), "{}\n").unwrap();
    let fix_bucket = plant(
        &env,
        &fix,
        FIX,
        &[("a.md", "main's a\n"), ("c.md", "fix's c\n")],
    );
    plant(&env, &old, "- From a removed worktree.\n", &[]);
    plant(&env, &gone, "- From a removed directory.\n", &[]);

    // A dry run prints the plan and changes nothing.
    let before = snapshot(&env.state());
    let (out, plan) = migrate(&env, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_unchanged(&before, &snapshot(&env.state()), "the dry run");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["applied"], false);
    let main_name = main_bucket.file_name().unwrap().to_str().unwrap();
    let feat_name = feat_bucket.file_name().unwrap().to_str().unwrap();
    let fix_name = fix_bucket.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        names(&plan, "plans", "source_bucket"),
        vec![feat_name, fix_name]
    );
    assert_eq!(
        names(&plan, "plans", "target_bucket"),
        vec![main_name, main_name]
    );
    let p0 = &plan["plans"][0];
    assert_eq!(p0["source_cwd"], feat.to_str().unwrap());
    assert_eq!(p0["worktree_root"], feat.to_str().unwrap());
    assert_eq!(p0["target_cwd"], repo.to_str().unwrap());
    assert_eq!(p0["resolved_from"], json!(["filesystem", "git_worktrees"]));
    assert_eq!(
        p0["lines_to_add"],
        json!([
            "- Use cargo nextest for the slow suite.",
            "## Release",
            "- Tag only from main."
        ])
    );
    assert_eq!(p0["lines_already_present"], 3);
    assert_eq!(
        p0["refs"],
        json!([
            {"source": "a.md", "target": format!("a.from-{}.md", &feat_name[1..]), "action": "rename"},
            {"source": "deep/n.md", "target": "deep/n.md", "action": "copy"},
        ])
    );
    assert_eq!(p0["left_in_archive"], json!(["journal/old-job.jsonl"]));
    assert_eq!(p0["archive_as"], format!("{feat_name}.archived"));
    // The second plan sees what the first would add.
    let p1 = &plan["plans"][1];
    assert_eq!(
        p1["lines_to_add"],
        json!([
            "- The CI runner has 2 cores.",
            "- No unwrap in library code.",
            "- Bump the version first."
        ])
    );
    assert_eq!(
        p1["refs"],
        json!([
            {"source": "a.md", "target": "a.md", "action": "identical"},
            {"source": "c.md", "target": "c.md", "action": "copy"},
        ])
    );
    let unresolved: BTreeMap<String, Value> = plan["unresolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["bucket"].as_str().unwrap().to_string(), u.clone()))
        .collect();
    let old_name = bucket(&env, &old)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let gone_name = bucket(&env, &gone)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(unresolved.len(), 2, "{unresolved:?}");
    for (name, dir) in [(&old_name, &old), (&gone_name, &gone)] {
        assert_eq!(
            unresolved[name]["reason"], "the directory it was made for no longer exists",
            "{name}"
        );
        assert_eq!(
            unresolved[name]["candidates"],
            json!([dir.to_str().unwrap()])
        );
    }
    assert_eq!(
        plan["skipped"],
        json!([{"bucket": main_name, "reason": "already the repository's bucket"}])
    );
    assert_eq!(
        plan["counts"],
        json!({"to_migrate": 2, "unresolved": 2, "skipped": 1})
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unresolved, left alone"));

    // --apply merges and archives.
    let (out, applied) = migrate(&env, &["--apply"]);
    common::assert_ok(&out);
    assert_eq!(applied["applied"], true);
    assert_eq!(
        names(&applied, "apply_results", "status"),
        vec!["merged", "merged"]
    );
    let merged = fs::read_to_string(main_bucket.join("memory/MEMORY.md")).unwrap();
    for text in [MAIN, FEAT, FIX] {
        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            let n = merged.lines().filter(|l| l.trim_end() == line).count();
            assert_eq!(n, 1, "{line:?} is there {n} times in:\n{merged}");
        }
    }
    assert!(
        merged.starts_with("# Memory\n- The CI runner has 2 cores.\n"),
        "{merged}"
    );
    let refs = main_bucket.join("memory/refs");
    let read = |rel: &str| fs::read_to_string(refs.join(rel)).unwrap();
    assert_eq!(read("a.md"), "main's a\n");
    assert_eq!(
        read(&format!("a.from-{}.md", &feat_name[1..])),
        "feat's a\n"
    );
    assert_eq!(read("deep/n.md"), "feat's note\n");
    assert_eq!(read("c.md"), "fix's c\n");
    assert_eq!(walk(&refs).len(), 4);
    for (b, text) in [(&feat_bucket, FEAT), (&fix_bucket, FIX)] {
        assert!(!b.exists());
        let archived = PathBuf::from(format!("{}.archived", b.display()));
        assert_eq!(
            fs::read_to_string(archived.join("memory/MEMORY.md")).unwrap(),
            text
        );
    }
    assert!(PathBuf::from(format!(
        "{}.archived/journal/old-job.jsonl",
        feat_bucket.display()
    ))
    .exists());

    // A second run finds nothing to do and changes nothing.
    let before = snapshot(&env.state());
    let (out, again) = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(again["plans"], json!([]));
    assert_eq!(again["apply_results"], json!([]));
    assert_eq!(again["applied"], false);
    assert_unchanged(&before, &snapshot(&env.state()), "a second --apply");

    // SessionStart in a worktree now injects the merged memory.
    let out = env
        .cmd("csep")
        .args(["session-start", "--cwd", feat.to_str().unwrap()])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ctx = v["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    for line in [
        "- Use cargo nextest for the slow suite.",
        "- No unwrap in library code.",
        "- Run cargo build --locked.",
    ] {
        assert!(ctx.contains(line), "{line} not injected:\n{ctx}");
    }

    // Each merge is journalled: csep-verify --undo, newest first, puts MAIN back.
    for r in applied["apply_results"].as_array().unwrap().iter().rev() {
        let job = r["job_id"].as_str().unwrap();
        let out = env
            .cmd("csep-verify")
            .args(["--undo", job])
            .output()
            .unwrap();
        common::assert_ok(&out);
    }
    assert_eq!(
        fs::read_to_string(main_bucket.join("memory/MEMORY.md")).unwrap(),
        MAIN
    );
    assert_eq!(walk(&refs), vec![refs.join("a.md")]);
}

#[test]
fn a_held_bucket_lock_is_busy_and_nothing_moves() {
    let env = Env::new();
    let root = fs::canonicalize(env.root()).unwrap();
    let repo = root.join("repo");
    let wt = root.join("wt");
    git_repo(&repo);
    git_worktree(&repo, &wt, "wt");
    let main_bucket = plant(&env, &repo, "- main\n", &[]);
    let wt_bucket = plant(&env, &wt, "- wt\n", &[]);
    let lock = common::hold_lock(&wt_bucket.join(".lock"));
    let before = snapshot(&env.state());
    let (out, v) = migrate(&env, &["--apply"]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["apply_results"][0]["status"], "busy");
    assert_eq!(v["applied"], false);
    assert_unchanged(&before, &snapshot(&env.state()), "a busy --apply");
    drop(lock);
    let (out, v) = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(v["apply_results"][0]["status"], "merged");
    assert_eq!(
        fs::read_to_string(main_bucket.join("memory/MEMORY.md")).unwrap(),
        "- main\n- wt\n"
    );
}

#[test]
fn a_bucket_no_repository_claims_is_left_alone() {
    let env = Env::new();
    let root = fs::canonicalize(env.root()).unwrap();
    let plain = root.join("plain-dir");
    fs::create_dir_all(plain.join("sub")).unwrap();
    plant(&env, &plain, "- plain\n", &[]);
    plant(&env, &plain.join("sub"), "- sub\n", &[]);
    let before = snapshot(&env.state());
    let (out, v) = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(v["plans"], json!([]));
    assert_eq!(
        names(&v, "skipped", "reason"),
        vec!["not in a git repository"; 2]
    );
    assert_unchanged(&before, &snapshot(&env.state()), "--apply");
}
