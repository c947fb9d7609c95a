//! `csep migrate-worktrees`: folding buckets that belong to a linked worktree (or any other
//! directory whose repository root is elsewhere) into their repository's bucket.
//!
//! All worktrees of a repo share the main repo's bucket (`memory::bucket_for_cwd`), but
//! buckets made by csep 1.3.10 before it keyed by repository, or by hand, may sit under a
//! worktree's own path, where SessionStart no longer reads them. A bucket name cannot be
//! un-mangled reliably (`-` is both `/` and itself), so each bucket's directory is found from
//! evidence, and only a directory that exists and mangles to exactly the bucket's name counts:
//! the recall index's sessions (`cwd`, `worktree_root`, `repo_root`), csep 1.3.10's
//! `.canonical_cwd` note in the bucket, the filesystem (every `-` tried as `/` and as `-`),
//! and the worktree lists of the repositories found (`.git/worktrees/*/gitdir`, read without
//! running git). A bucket whose directory is gone, or whose name two directories of different
//! repositories share, is reported `unresolved` and left alone: never a guess.
//!
//! Merging (with `apply`), per source bucket, holding the source's `.lock`: `MEMORY.md` keeps
//! the target's text as it is and gains each source line it does not have yet (compared
//! without trailing whitespace; a fenced code block counts as one unit): lines under a heading
//! the target also has go at the end of that section, lines under a new heading go at the end
//! with their heading, lines before any heading go to the top. Refs (`memory/refs/**.md`) are
//! copied; one whose name is taken by a different file is copied as
//! `<stem>.from-<bucket>.md`. The writes go through `csep-verify`'s journalled apply (the
//! target bucket's lock, a before-copy, one `journal_entry` per file, atomic writes), so
//! `csep-verify --undo <job>` puts the target back. Then the source directory is renamed
//! `<name>.archived` (`.archived.2`, … when taken), which is never a source again.

use crate::config::REFLECT_SKILL_PREFIX;
use crate::error::Result;
use crate::index::db;
use crate::setup::sha256_hex;
use crate::verify::{self, Applied, Base, Planned};
use crate::{memory, paths, repo, timefmt};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The suffix of a bucket that was merged away. csep 1.3.10 adds a time after it
/// (`.archived.<ts>`); both forms are never a source.
pub const ARCHIVED_SUFFIX: &str = ".archived";

/// How many directories the filesystem search may look at per bucket name.
const PROBE_BUDGET: usize = 4096;

/// Whether a bucket name is an archive of a merged bucket.
pub fn is_archived(name: &str) -> bool {
    name.ends_with(ARCHIVED_SUFFIX) || name.contains(".archived.")
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Merge and archive; without it nothing is written (not even a lock file).
    pub apply: bool,
    /// How long to wait for a bucket lock before reporting the bucket `busy`.
    pub lock_wait: Duration,
    /// The MEMORY.md budget (`[memory] inject_max_chars`), to flag a merge that exceeds it.
    pub memory_max_chars: u64,
}

/// What `csep migrate-worktrees` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub home: String,
    pub dry_run: bool,
    /// Whether at least one bucket was merged.
    pub applied: bool,
    pub plans: Vec<Plan>,
    pub unresolved: Vec<Unresolved>,
    pub skipped: Vec<Skip>,
    pub counts: Counts,
    pub apply_results: Vec<ApplyResult>,
}

/// One source bucket to fold into its repository's bucket.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub source_bucket: String,
    pub source_path: String,
    /// The directory the bucket was made for (it mangles to `source_bucket`).
    pub source_cwd: String,
    /// The worktree that directory is in.
    pub worktree_root: String,
    pub target_bucket: String,
    pub target_path: String,
    /// The repository root (the parent of the git common dir).
    pub target_cwd: String,
    /// Which evidence named `source_cwd`: `index`, `canonical_cwd`, `filesystem`,
    /// `git_worktrees`.
    pub resolved_from: Vec<String>,
    /// Non-blank lines in the source MEMORY.md.
    pub source_memory_lines: u64,
    /// The lines the target MEMORY.md gains, in order.
    pub lines_to_add: Vec<String>,
    /// Source lines (and blocks) the target already has.
    pub lines_already_present: u64,
    pub refs: Vec<RefPlan>,
    /// The target MEMORY.md's characters after the merge.
    pub merged_memory_chars: u64,
    /// More than `[memory] inject_max_chars`: SessionStart injects only the start.
    pub over_budget: bool,
    /// Files of the source bucket that are not merged (its journal, csep 1.3.10's
    /// `memory.json`, a ref that is a symlink, …); they stay in the archive.
    pub left_in_archive: Vec<String>,
    /// The name the source bucket gets once merged.
    pub archive_as: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefPlan {
    /// Below the source's `memory/refs/`.
    pub source: String,
    /// Below the target's `memory/refs/`.
    pub target: String,
    /// `copy`, `rename` (the name is taken by a different file) or `identical` (the target
    /// already has these bytes under that name: nothing to do).
    pub action: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unresolved {
    pub bucket: String,
    pub reason: String,
    /// The directories the evidence named for it.
    pub candidates: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skip {
    pub bucket: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub to_migrate: u64,
    pub unresolved: u64,
    pub skipped: u64,
}

/// What `apply` did with one plan.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyResult {
    pub source_bucket: String,
    pub target_bucket: String,
    /// `merged`, `busy` (a lock was held, or the target changed meanwhile: nothing was
    /// written, run again) or `failed` (`error` says why; what was written was put back).
    pub status: &'static str,
    pub archived_as: Option<String>,
    pub lines_added: u64,
    pub refs_copied: u64,
    /// The journal job (`csep-verify --undo <job_id>`); null when nothing was written.
    pub job_id: Option<String>,
    pub journal: Option<String>,
    pub error: Option<String>,
}

/// Plans, and with `opts.apply` carries out, the migration of the buckets under
/// `state_dir/projects`.
pub fn run(state_dir: &Path, opts: &Options) -> Result<Report> {
    let projects = state_dir.join("projects");
    let mut report = Report {
        kind: "migrate_worktrees",
        home: state_dir.display().to_string(),
        dry_run: !opts.apply,
        applied: false,
        plans: Vec::new(),
        unresolved: Vec::new(),
        skipped: Vec::new(),
        counts: Counts {
            to_migrate: 0,
            unresolved: 0,
            skipped: 0,
        },
        apply_results: Vec::new(),
    };
    let resolved = resolve(state_dir, &projects, &mut report);
    preview(&projects, resolved, opts, &mut report);
    report.counts = Counts {
        to_migrate: report.plans.len() as u64,
        unresolved: report.unresolved.len() as u64,
        skipped: report.skipped.len() as u64,
    };
    if opts.apply {
        let stamp = timefmt::compact_ms(timefmt::now_ms());
        for (n, plan) in report.plans.iter().enumerate() {
            let job_id = format!("migrate-{stamp}-{}", n + 1);
            report
                .apply_results
                .push(apply_one(state_dir, plan, &job_id, opts));
        }
        report.applied = report.apply_results.iter().any(|r| r.status == "merged");
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------
// Which directory each bucket was made for.

/// A bucket whose directory was found, before its files are looked at.
struct Resolved {
    bucket: String,
    cwd: PathBuf,
    from: Vec<String>,
    id: repo::RepoIdentity,
    target: String,
}

fn resolve(state_dir: &Path, projects: &Path, report: &mut Report) -> Vec<Resolved> {
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
fn unmangle(name: &str) -> Vec<PathBuf> {
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

// ---------------------------------------------------------------------------------------
// What a merge would change.

/// A merge of one source bucket into the target as it is now (or as earlier plans of the
/// same run will have left it).
struct Prepared {
    source_memory_lines: u64,
    /// The target MEMORY.md now (`None`: missing) and after the merge.
    memory_before: Option<String>,
    memory_after: Option<MergeResult>,
    refs: Vec<(RefPlan, Vec<u8>)>,
    left_in_archive: Vec<String>,
}

/// The target's state as a plan sees it: what is on disk, with what earlier plans of the
/// same target would write on top.
#[derive(Default)]
struct Overlay {
    memory: Option<Option<String>>,
    refs: HashMap<String, Vec<u8>>,
}

fn preview(projects: &Path, resolved: Vec<Resolved>, opts: &Options, report: &mut Report) {
    let mut overlays: HashMap<String, Overlay> = HashMap::new();
    let mut taken: HashSet<String> = HashSet::new();
    for r in resolved {
        let source = projects.join(&r.bucket);
        let target = projects.join(&r.target);
        let overlay = overlays.entry(r.target.clone()).or_default();
        let p = match prepare(&source, &r.bucket, &target, overlay) {
            Ok(p) => p,
            Err(why) => {
                report.unresolved.push(Unresolved {
                    bucket: r.bucket,
                    reason: why,
                    candidates: vec![r.cwd.to_string_lossy().into_owned()],
                });
                continue;
            }
        };
        if let Some(m) = &p.memory_after {
            overlay.memory = Some(Some(m.text.clone()));
        }
        for (rp, bytes) in &p.refs {
            overlay.refs.insert(rp.target.clone(), bytes.clone());
        }
        let merged = p
            .memory_after
            .as_ref()
            .map(|m| m.text.as_str())
            .or(p.memory_before.as_deref())
            .unwrap_or("");
        let merged_chars = merged.trim().chars().count() as u64;
        let (lines_to_add, already) = p
            .memory_after
            .as_ref()
            .map(|m| (m.added.clone(), m.already_present))
            .unwrap_or_default();
        report.plans.push(Plan {
            source_path: source.display().to_string(),
            source_cwd: r.cwd.to_string_lossy().into_owned(),
            worktree_root: r.id.worktree_root.clone(),
            target_path: target.display().to_string(),
            target_cwd: r.id.repo_root.clone(),
            resolved_from: r.from,
            source_memory_lines: p.source_memory_lines,
            lines_to_add,
            lines_already_present: already,
            refs: p.refs.into_iter().map(|(rp, _)| rp).collect(),
            merged_memory_chars: merged_chars,
            over_budget: merged_chars > opts.memory_max_chars,
            left_in_archive: p.left_in_archive,
            archive_as: archive_name(projects, &r.bucket, &mut taken),
            source_bucket: r.bucket,
            target_bucket: r.target,
        });
    }
}

/// `<name>.archived`, or `.archived.2`, … when that is taken (on disk or by this run).
fn archive_name(projects: &Path, name: &str, taken: &mut HashSet<String>) -> String {
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            format!("{name}{ARCHIVED_SUFFIX}")
        } else {
            format!("{name}{ARCHIVED_SUFFIX}.{n}")
        };
        if fs::symlink_metadata(projects.join(&candidate)).is_err()
            && taken.insert(candidate.clone())
        {
            return candidate;
        }
        n += 1;
    }
}

fn read_text(path: &Path) -> std::result::Result<Option<String>, String> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{} is not UTF-8; merge it by hand", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn prepare(
    source: &Path,
    source_name: &str,
    target: &Path,
    overlay: &Overlay,
) -> std::result::Result<Prepared, String> {
    let source_text = read_text(&memory::memory_file(source))?;
    let memory_before = match &overlay.memory {
        Some(m) => m.clone(),
        None => read_text(&memory::memory_file(target))?,
    };
    let source_memory_lines = source_text
        .as_deref()
        .map_or(0, |t| t.lines().filter(|l| !l.trim().is_empty()).count())
        as u64;
    let memory_after = source_text
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|s| merge_memory(memory_before.as_deref().unwrap_or(""), s));

    let refs = ref_files(&source.join("memory").join("refs"));
    let tag = source_name.trim_start_matches('-');
    let target_refs = target.join("memory").join("refs");
    let existing = |rel: &str| -> Option<Vec<u8>> {
        overlay
            .refs
            .get(rel)
            .cloned()
            .or_else(|| fs::read(target_refs.join(rel)).ok())
    };
    let mut planned: Vec<(RefPlan, Vec<u8>)> = Vec::new();
    for rel in refs {
        let bytes = fs::read(source.join("memory/refs").join(&rel))
            .map_err(|e| format!("{}: {e}", source.join("memory/refs").join(&rel).display()))?;
        let mut n = 1;
        loop {
            let name = if n == 1 {
                rel.clone()
            } else {
                let stem = rel.strip_suffix(".md").unwrap_or(&rel);
                let suffix = if n == 2 {
                    String::new()
                } else {
                    format!("-{}", n - 1)
                };
                format!("{stem}.from-{tag}{suffix}.md")
            };
            let now = planned
                .iter()
                .find(|(p, _)| p.target == name)
                .map(|(_, b)| b.clone())
                .or_else(|| existing(&name));
            let action = match now {
                None if n == 1 => "copy",
                None => "rename",
                Some(b) if b == bytes => "identical",
                Some(_) => {
                    n += 1;
                    continue;
                }
            };
            planned.push((
                RefPlan {
                    source: rel.clone(),
                    target: name,
                    action,
                },
                bytes,
            ));
            break;
        }
    }

    let mut left = Vec::new();
    list_files(source, "", &mut left);
    let merged_refs: HashSet<String> = planned
        .iter()
        .map(|(p, _)| format!("memory/refs/{}", p.source))
        .collect();
    left.retain(|rel| rel != ".lock" && rel != "memory/MEMORY.md" && !merged_refs.contains(rel));
    Ok(Prepared {
        source_memory_lines,
        memory_before,
        memory_after,
        refs: planned,
        left_in_archive: left,
    })
}

/// The `*.md` files below `dir` (regular files; hidden names and symlinks left out, they
/// stay in the archive), relative to `dir` with `/`, sorted.
fn ref_files(dir: &Path) -> Vec<String> {
    let mut all = Vec::new();
    list_files(dir, "", &mut all);
    all.retain(|rel| {
        rel.ends_with(".md")
            && !rel.split('/').any(|part| part.starts_with('.'))
            && fs::symlink_metadata(dir.join(rel)).is_ok_and(|m| m.is_file())
    });
    all
}

/// Every non-directory below `dir` (symlinks listed, not followed), relative, sorted.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
        match e.file_type() {
            Ok(t) if t.is_dir() => list_files(&e.path(), &format!("{rel}/"), out),
            _ => out.push(rel),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Applying one plan.

fn apply_one(state_dir: &Path, plan: &Plan, job_id: &str, opts: &Options) -> ApplyResult {
    let mut r = ApplyResult {
        source_bucket: plan.source_bucket.clone(),
        target_bucket: plan.target_bucket.clone(),
        status: "failed",
        archived_as: None,
        lines_added: 0,
        refs_copied: 0,
        job_id: None,
        journal: None,
        error: None,
    };
    let source = PathBuf::from(&plan.source_path);
    let target = PathBuf::from(&plan.target_path);
    // The source first: a source bucket is never a target, so two runs cannot take the two
    // locks in opposite orders.
    let _source_lock = match verify::lock(&source.join(".lock"), opts.lock_wait) {
        Ok(l) => l,
        Err(e) => {
            r.status = "busy";
            r.error = Some(e.message);
            return r;
        }
    };
    // Planned again under the lock, from the files as they are now (earlier plans of this
    // run are on disk already).
    let p = match prepare(&source, &plan.source_bucket, &target, &Overlay::default()) {
        Ok(p) => p,
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    };
    let mut planned = Vec::new();
    if let Some(merged) = &p.memory_after {
        let before = p.memory_before.as_deref().map(str::as_bytes);
        if before != Some(merged.text.as_bytes()) {
            let mode = fs::metadata(memory::memory_file(&target))
                .ok()
                .map(|meta| meta.permissions().mode() & 0o7777);
            planned.push(planned_file(
                &target,
                "memory/MEMORY.md",
                before,
                merged.text.as_bytes(),
                mode,
            ));
            r.lines_added = merged.added.len() as u64;
        }
    }
    for (rp, bytes) in &p.refs {
        if rp.action != "identical" {
            planned.push(planned_file(
                &target,
                &format!("memory/refs/{}", rp.target),
                None,
                bytes,
                None,
            ));
            r.refs_copied += 1;
        }
    }
    if !planned.is_empty() {
        let base = Base {
            kind: None,
            job_id: job_id.to_string(),
            session_id: None,
            repo_root: Some(plan.target_cwd.clone()),
            bucket: target.clone(),
            skills_dir: PathBuf::new(),
            skill_prefix: REFLECT_SKILL_PREFIX.into(),
            memory_max_chars: opts.memory_max_chars,
            files: BTreeMap::new(),
            created_at: None,
            mode: Some("user".into()),
        };
        match verify::apply(state_dir, &base, &planned, opts.lock_wait) {
            Ok(Applied::Done(journal)) => {
                r.job_id = Some(job_id.to_string());
                r.journal = Some(journal.display().to_string());
            }
            Ok(Applied::Stale(rejections)) => {
                r.status = "busy";
                r.lines_added = 0;
                r.refs_copied = 0;
                r.error = Some(
                    rejections
                        .iter()
                        .map(|x| format!("{}: {}", x.path, x.detail))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
                return r;
            }
            Ok(Applied::RolledBack(journal, e)) => {
                r.lines_added = 0;
                r.refs_copied = 0;
                r.journal = Some(journal.display().to_string());
                r.error = Some(format!("writing failed and was rolled back: {e}"));
                return r;
            }
            Err(e) => {
                r.status = if e.kind == crate::ErrorKind::Busy {
                    "busy"
                } else {
                    "failed"
                };
                r.lines_added = 0;
                r.refs_copied = 0;
                r.error = Some(e.message);
                return r;
            }
        }
    }
    let projects = source.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = archive_name(&projects, &plan.source_bucket, &mut HashSet::new());
    match fs::rename(&source, projects.join(&name)) {
        Ok(()) => {
            r.status = "merged";
            r.archived_as = Some(name);
        }
        Err(e) => {
            // The merge itself is done and journalled; a second run finds nothing to add
            // and archives the bucket then.
            r.error = Some(format!(
                "merged, but renaming {} to {name} failed: {e}",
                source.display()
            ));
        }
    }
    r
}

fn planned_file(
    bucket: &Path,
    rel: &str,
    before: Option<&[u8]>,
    after: &[u8],
    mode: Option<u32>,
) -> Planned {
    Planned {
        rel: rel.to_string(),
        below: rel.to_string(),
        root: bucket.to_path_buf(),
        live: bucket.join(rel),
        skill: false,
        before: before.map(<[u8]>::to_vec),
        before_sha256: before.map(sha256_hex),
        after: after.to_vec(),
        after_sha256: sha256_hex(after),
        mode,
    }
}

// ---------------------------------------------------------------------------------------
// Merging two MEMORY.md texts.

/// The merged text and what it gained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeResult {
    pub text: String,
    /// Every line added, in order (a new heading included).
    pub added: Vec<String>,
    /// Source lines or code blocks the target already had.
    pub already_present: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Heading(usize),
    Fence,
    Line,
}

/// A line, or a fenced code block, of a Markdown text.
struct Block {
    start: usize,
    end: usize,
    kind: Kind,
    /// Its lines without trailing whitespace: what "already present" compares.
    key: String,
}

fn heading_level(line: &str) -> Option<usize> {
    let n = line.bytes().take_while(|b| *b == b'#').count();
    let after = line[n..].chars().next();
    ((1..=6).contains(&n) && after.is_none_or(|c| c == ' ' || c == '\t')).then_some(n)
}

fn blocks(lines: &[&str]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        let (kind, end) = if t.is_empty() {
            (Kind::Blank, i + 1)
        } else if t.starts_with("```") || t.starts_with("~~~") {
            let marker = &t[..3];
            let close = (i + 1..lines.len()).find(|&j| lines[j].trim_start().starts_with(marker));
            (Kind::Fence, close.map_or(lines.len(), |j| j + 1))
        } else if let Some(level) = heading_level(line) {
            (Kind::Heading(level), i + 1)
        } else {
            (Kind::Line, i + 1)
        };
        let key = lines[i..end]
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n");
        out.push(Block {
            start: i,
            end,
            kind,
            key,
        });
        i = end;
    }
    out
}

/// A heading (none for the text before the first one) and the blocks under it.
struct Section {
    heading: Option<usize>,
    body: std::ops::Range<usize>,
}

fn sections(blocks: &[Block]) -> Vec<Section> {
    let mut out = vec![Section {
        heading: None,
        body: 0..0,
    }];
    for (i, b) in blocks.iter().enumerate() {
        if matches!(b.kind, Kind::Heading(_)) {
            out.push(Section {
                heading: Some(i),
                body: i + 1..i + 1,
            });
        } else {
            out.last_mut().expect("never empty").body.end = i + 1;
        }
    }
    out
}

/// Merges `source` into `target` without losing a line: the target's lines stay as they
/// are and in order; each non-blank source line (or fenced block) the target does not
/// have yet is added once, under the same heading when the target has it, else at the
/// end under its own heading; lines before the source's first heading go to the top of the
/// target (below a leading `# title`).
pub fn merge_memory(target: &str, source: &str) -> MergeResult {
    let s_lines: Vec<&str> = source.lines().collect();
    let sb = blocks(&s_lines);
    let t_lines: Vec<&str> = target.lines().collect();
    let tb = blocks(&t_lines);
    let non_blank = |b: &&Block| b.kind != Kind::Blank;
    if !tb.iter().any(|b| b.kind != Kind::Blank) {
        let mut text = source.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return MergeResult {
            text,
            added: s_lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.trim_end().to_string())
                .collect(),
            already_present: 0,
        };
    }
    let t_secs = sections(&tb);
    // After which target line a section's new lines go: its last non-blank block, else
    // its heading; -1 is before the first line.
    let anchor = |s: &Section| -> isize {
        tb[s.body.clone()]
            .iter()
            .rfind(non_blank)
            .map(|b| b.end as isize - 1)
            .or(s.heading.map(|h| tb[h].start as isize))
            .unwrap_or(-1)
    };
    let top = if tb[t_secs[0].body.clone()]
        .iter()
        .any(|b| b.kind != Kind::Blank)
    {
        anchor(&t_secs[0])
    } else {
        match t_secs.get(1) {
            Some(s) if s.heading.is_some_and(|h| tb[h].kind == Kind::Heading(1)) => anchor(s),
            _ => -1,
        }
    };

    let mut present: HashSet<&str> = tb
        .iter()
        .filter(non_blank)
        .map(|b| b.key.as_str())
        .collect();
    let mut inserts: BTreeMap<isize, Vec<String>> = BTreeMap::new();
    let mut appended: Vec<(String, Vec<String>)> = Vec::new();
    let mut added = Vec::new();
    let mut already = 0;
    for sec in sections(&sb) {
        let heading = sec.heading.map(|h| &sb[h]);
        let heading_new = heading.is_some_and(|h| !present.contains(h.key.as_str()));
        if let Some(h) = heading {
            if heading_new {
                present.insert(&h.key);
            } else {
                already += 1;
            }
        }
        let mut new_lines = Vec::new();
        for b in sb[sec.body.clone()].iter().filter(non_blank) {
            if present.insert(&b.key) {
                new_lines.extend(
                    s_lines[b.start..b.end]
                        .iter()
                        .map(|l| l.trim_end().to_string()),
                );
            } else {
                already += 1;
            }
        }
        let Some(h) = heading else {
            added.extend(new_lines.iter().cloned());
            inserts.entry(top).or_default().extend(new_lines);
            continue;
        };
        if heading_new {
            added.push(h.key.clone());
            added.extend(new_lines.iter().cloned());
            let mut lines = vec![h.key.clone()];
            lines.extend(new_lines);
            appended.push((h.key.clone(), lines));
            continue;
        }
        added.extend(new_lines.iter().cloned());
        if let Some(ts) = t_secs
            .iter()
            .find(|s| s.heading.is_some_and(|i| tb[i].key == h.key))
        {
            inserts.entry(anchor(ts)).or_default().extend(new_lines);
        } else if let Some((_, lines)) = appended.iter_mut().find(|(k, _)| *k == h.key) {
            lines.extend(new_lines);
        }
    }

    let mut text = String::new();
    let push = |text: &mut String, l: &str| {
        text.push_str(l);
        text.push('\n');
    };
    if let Some(v) = inserts.get(&-1).filter(|v| !v.is_empty()) {
        for l in v {
            push(&mut text, l);
        }
        text.push('\n');
    }
    for (i, l) in t_lines.iter().enumerate() {
        push(&mut text, l);
        if let Some(v) = inserts.get(&(i as isize)) {
            for l in v {
                push(&mut text, l);
            }
        }
    }
    for (_, lines) in appended {
        if !text.ends_with("\n\n") {
            text.push('\n');
        }
        for l in lines {
            push(&mut text, &l);
        }
    }
    MergeResult {
        text,
        added,
        already_present: already,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every non-blank line of `texts`, without trailing whitespace.
    fn lines_of(texts: &[&str]) -> BTreeSet<String> {
        texts
            .iter()
            .flat_map(|t| t.lines())
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    fn count(text: &str, line: &str) -> usize {
        text.lines().filter(|l| l.trim_end() == line).count()
    }

    #[test]
    fn every_line_survives_once_and_lands_under_its_heading() {
        let target = "# Memory\n\n## Build\n- cargo build\n- cargo test\n\n## Style\n- rustfmt\n";
        let source = "- loose fact\n\n# Memory\n\n## Build\n- cargo test   \n- cargo nextest\n\n## Release\n- tag first\n";
        let m = merge_memory(target, source);
        assert_eq!(
            m.text,
            "# Memory\n- loose fact\n\n## Build\n- cargo build\n- cargo test\n- cargo nextest\n\n\
             ## Style\n- rustfmt\n\n## Release\n- tag first\n"
        );
        for l in lines_of(&[target, source]) {
            assert_eq!(count(&m.text, &l), 1, "{l:?} in\n{}", m.text);
        }
        assert_eq!(
            m.added,
            vec![
                "- loose fact",
                "- cargo nextest",
                "## Release",
                "- tag first"
            ]
        );
        assert_eq!(m.already_present, 3);
        // Merging again adds nothing.
        let again = merge_memory(&m.text, source);
        assert_eq!(again.text, m.text);
        assert!(again.added.is_empty());
    }

    #[test]
    fn an_empty_target_takes_the_source_as_it_is() {
        let m = merge_memory("\n", "## A\n- x\n");
        assert_eq!(m.text, "## A\n- x\n");
        assert_eq!(m.added, vec!["## A", "- x"]);
    }

    #[test]
    fn a_target_without_headings_gets_loose_lines_at_its_end_of_preamble() {
        let m = merge_memory("- a\n- b", "- b\n- c\n");
        assert_eq!(m.text, "- a\n- b\n- c\n");
        let m = merge_memory("## Only\n- a\n", "- top\n");
        assert_eq!(m.text, "- top\n\n## Only\n- a\n");
    }

    #[test]
    fn code_blocks_are_compared_and_moved_whole() {
        let target = "## Run\n```sh\ncargo test\n```\n";
        let source = "## Run\n```sh\ncargo test\n```\n```sh\ncargo bench\n```\n";
        let m = merge_memory(target, source);
        assert_eq!(
            m.text,
            "## Run\n```sh\ncargo test\n```\n```sh\ncargo bench\n```\n"
        );
        assert_eq!(m.already_present, 2);
    }

    #[test]
    fn a_heading_the_source_repeats_collects_under_one() {
        let m = merge_memory("- a\n", "## N\n- x\n## N\n- y\n");
        assert_eq!(m.text, "- a\n\n## N\n- x\n- y\n");
    }

    #[test]
    fn unmangle_finds_dirs_whose_names_hold_dashes() {
        let d = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(d.path()).unwrap();
        fs::create_dir_all(root.join("my-repo-feat")).unwrap();
        fs::create_dir_all(root.join("my/repo-feat")).unwrap();
        fs::create_dir_all(root.join("my-repo")).unwrap();
        let name = memory::bucket_name(&root.join("my-repo-feat").to_string_lossy());
        let mut found = unmangle(&name);
        found.sort();
        assert_eq!(
            found,
            vec![root.join("my/repo-feat"), root.join("my-repo-feat")]
        );
        assert!(unmangle("relative").is_empty());
    }

    #[test]
    fn archived_names_are_recognised_in_both_forms() {
        assert!(is_archived("-r-wt.archived"));
        assert!(is_archived("-r-wt.archived.2"));
        assert!(is_archived("-r-wt.archived.20261206T135001"));
        assert!(!is_archived("-r-archived-stuff"));
    }
}
