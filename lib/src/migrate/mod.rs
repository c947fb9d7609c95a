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
use crate::setup::sha256_hex;
use crate::verify::{self, Applied, Base, Planned};
use crate::{memory, timefmt};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod merge;
mod resolve;

pub use merge::{merge_memory, MergeResult};
use resolve::{resolve, Resolved};

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

#[cfg(test)]
mod tests;
