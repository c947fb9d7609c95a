//! What a person does to a repo's memory (`csep memory`): show it with its usage, list its
//! lines with where each came from, and add, forget or edit lines, or pin them.
//!
//! A change is never written here. It becomes a run directory, `runs/<job>/`, exactly as a
//! reflection worker leaves one (`base.json` with `"mode": "user"`, `proposal/`, `draft.json`),
//! and [`crate::verify::verify_run`] checks it like any proposal (secrets, control
//! characters, planted instructions, the budget, a stale base…), applies it under the bucket
//! lock and journals it, so `csep-verify --undo JOB` puts the exact bytes back. A person's
//! jobs are named `<time>Z-user-<hex>`: that is how `list` tells their lines from
//! reflection's. Pins live in the bucket's ledger (`lines.json`), changed under the bucket's
//! `.lock`; they change no memory file, so they make no job.
//!
//! Provenance is read from the journal alone: the bucket's jobs that changed MEMORY.md are
//! replayed in order (a job's before-text is its backup copy, its after-text whichever
//! known text has its after-hash: the next job's backup, the live file, or the job's own
//! proposal while its run directory is kept); a line's origin is the last job that added or
//! changed it. Undone and rolled-back jobs are left out.

use crate::error::{Error, Result};
use crate::memory::fit::{self, ARCHIVE_REL};
use crate::memory::ledger::Ledger;
use crate::memory::lines::{self, entries};
use crate::setup::sha256_hex;
use crate::verify::{self, Options, Receipt, Rejection, Status};
use crate::{config, fsutil, repo, timefmt};
use serde::Serialize;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

mod provenance;

pub use provenance::{is_user_job, list, List, Listed, Origin, USER_JOB_MARK};

/// The proposal path of the injected file.
pub const MEMORY_REL: &str = "memory/MEMORY.md";

/// The repo a `csep memory` command works on.
#[derive(Debug, Clone)]
pub struct Repo {
    pub repo_root: String,
    pub bucket: PathBuf,
    pub memory: PathBuf,
    /// `[memory] inject_max_chars`.
    pub budget: u64,
}

/// The memory of the repo `cwd` belongs to.
pub fn repo_of(state_dir: &Path, cwd: &str) -> Repo {
    let id = repo::identify(cwd);
    let bucket = crate::memory::bucket_dir(state_dir, &id.repo_root);
    Repo {
        memory: crate::memory::memory_file(&bucket),
        bucket,
        repo_root: id.repo_root,
        budget: config::load(state_dir).0.memory.inject_max_chars,
    }
}

/// A regular file's bytes; `None` when it does not exist. A symlink is refused, not followed.
fn read_live(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path.display(), e)),
        Ok(m) if !m.file_type().is_file() => Err(Error::input(format!(
            "{} is not a regular file; not followed",
            path.display()
        ))),
        Ok(_) => fs::read(path)
            .map(Some)
            .map_err(|e| Error::io(path.display(), e)),
    }
}

fn text_of(bytes: &Option<Vec<u8>>) -> String {
    bytes
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn chars(s: &str) -> u64 {
    s.chars().count() as u64
}

fn now() -> String {
    timefmt::format_iso_ms(timefmt::now_ms())
}

// ---------------------------------------------------------------------------------------
// show

/// `memory_show`: the file and its usage.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub repo_root: String,
    pub path: String,
    pub exists: bool,
    pub chars: u64,
    pub budget_chars: u64,
    /// Memory lines (`lines::entries`).
    pub lines: usize,
    /// Of those, pinned in the ledger.
    pub pinned: usize,
    pub text: String,
}

pub fn show(repo: &Repo) -> Result<Shown> {
    let bytes = read_live(&repo.memory)?;
    let text = text_of(&bytes);
    let ledger = Ledger::load(&repo.bucket);
    let es = entries(&text);
    Ok(Shown {
        kind: "memory_show",
        repo_root: repo.repo_root.clone(),
        path: repo.memory.display().to_string(),
        exists: bytes.is_some(),
        chars: chars(&text),
        budget_chars: repo.budget,
        lines: es.len(),
        pinned: es.iter().filter(|e| ledger.is_pinned(e.body)).count(),
        text,
    })
}

// ---------------------------------------------------------------------------------------
// Choosing a line

/// Which line a `forget` or `pin` means.
#[derive(Debug, Clone)]
pub enum Select {
    /// The one memory line holding this text (case-insensitive).
    Pattern(String),
    /// The memory line at this 1-based line number.
    Line(usize),
}

/// The one memory line `sel` names: `(line_no, raw, body)`.
pub fn select(text: &str, sel: &Select) -> Result<(usize, String, String)> {
    let es = entries(text);
    let found: Vec<_> = match sel {
        Select::Line(n) => es.iter().filter(|e| e.line_no == *n).collect(),
        Select::Pattern(p) => {
            let p = p.trim().to_lowercase();
            if p.is_empty() {
                return Err(Error::usage("the pattern is empty"));
            }
            es.iter()
                .filter(|e| e.raw.to_lowercase().contains(&p))
                .collect()
        }
    };
    match (found.as_slice(), sel) {
        ([e], _) => Ok((e.line_no, e.raw.to_string(), e.body.to_string())),
        ([], Select::Line(n)) => Err(Error::usage(format!(
            "line {n} is not a memory line (see `csep memory list`)"
        ))),
        ([], Select::Pattern(p)) => Err(Error::usage(format!(
            "no memory line holds {p:?} (see `csep memory list`)"
        ))),
        (many, _) => Err(Error::usage(format!(
            "{} memory lines match (lines {}); name one with --line N",
            many.len(),
            many.iter()
                .map(|e| e.line_no.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `text` without its line `line_no`; every other byte is kept.
fn without_line(text: &str, line_no: usize) -> String {
    text.split_inclusive('\n')
        .enumerate()
        .filter(|(i, _)| i + 1 != line_no)
        .map(|(_, l)| l)
        .collect()
}

/// The line a person's TEXT becomes: one list item.
pub fn memory_line(text: &str) -> Result<String> {
    let t = text.trim();
    if t.contains('\n') || t.contains('\r') {
        return Err(Error::usage(
            "a memory line is one line; add several with several `csep memory add`",
        ));
    }
    let body = entries(t)
        .first()
        .map(|e| e.body.trim().to_string())
        .unwrap_or_default();
    if body.is_empty() {
        return Err(Error::usage(
            "nothing to add (a memory line is not empty, a heading or a comment)",
        ));
    }
    Ok(format!("- {body}"))
}

/// `text` with `line` appended as its last line.
fn with_line(text: &str, line: &str) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------
// Changes through the verifier

/// `memory_result`: what a change did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `add`, `forget`, `edit`, `pin` or `unpin`.
    pub action: &'static str,
    /// `succeeded`, `skipped` (nothing to change), `rejected` or `failed`.
    pub status: Status,
    /// The job that applied (or would have applied) the change; undo it with
    /// `csep-verify --undo JOB`. Null for a pin.
    pub job_id: Option<String>,
    pub repo_root: String,
    pub path: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Lines moved to refs/archive.md to stay within the budget.
    pub archived: Vec<String>,
    /// The line pinned or unpinned (pin, unpin, add --pin).
    pub pinned: Option<String>,
    /// MEMORY.md's characters after the change (before it, when nothing was applied).
    pub chars: u64,
    pub budget_chars: u64,
    pub rejections: Vec<Rejection>,
    pub errors: Vec<String>,
    /// `runs/<job>/receipt.json`.
    pub receipt: Option<String>,
}

impl Outcome {
    fn new(action: &'static str, repo: &Repo) -> Outcome {
        Outcome {
            kind: "memory_result",
            action,
            status: Status::Skipped,
            job_id: None,
            repo_root: repo.repo_root.clone(),
            path: repo.memory.display().to_string(),
            added: Vec::new(),
            removed: Vec::new(),
            archived: Vec::new(),
            pinned: None,
            chars: 0,
            budget_chars: repo.budget,
            rejections: Vec::new(),
            errors: Vec::new(),
            receipt: None,
        }
    }
}

/// `<time>Z-user-<hex>`: sortable like the trigger's job ids, and a person's by its name.
pub fn user_job_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let stamp: String = now()
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(fsutil::unique_name("").as_bytes());
    format!("{stamp}{USER_JOB_MARK}{:08x}", h.finish() as u32)
}

/// The live files a change starts from, read under the bucket lock.
struct Live {
    memory: Option<Vec<u8>>,
    archive: Option<Vec<u8>>,
    ledger: Ledger,
}

fn read_state(repo: &Repo, wait: std::time::Duration) -> Result<Live> {
    let _lock = fsutil::lock_wait(&repo.bucket.join(".lock"), wait)?;
    Ok(Live {
        memory: read_live(&repo.memory)?,
        archive: read_live(&repo.bucket.join(ARCHIVE_REL))?,
        ledger: Ledger::load(&repo.bucket),
    })
}

/// Writes `runs/<job>/` for `files` (proposal path → new text, with the live bytes they
/// replace) as the worker would, and hands it to the verifier.
fn propose(
    state_dir: &Path,
    repo: &Repo,
    job_id: &str,
    files: &[(&str, &str, Option<&[u8]>)],
    summary: &str,
    opts: &Options,
) -> Result<Receipt> {
    let run = crate::reflect::run_dir(state_dir, job_id);
    // A run directory is used once (an edit's holds only its copy so far).
    if fs::symlink_metadata(run.join("base.json")).is_ok() {
        return Err(Error::input(format!("{} is already used", run.display())));
    }
    fsutil::create_dir_private(&run.join("proposal"))?;
    let (cfg, _) = config::load(state_dir);
    let mut hashes = serde_json::Map::new();
    let mut changes = Vec::new();
    for (rel, text, before) in files {
        hashes.insert(rel.to_string(), before.map(sha256_hex).into());
        fsutil::write_atomic(&run.join("proposal").join(rel), text.as_bytes())?;
        changes.push(serde_json::json!({
            "path": rel,
            "action": if before.is_some() { "update" } else { "create" },
            "summary": summary,
        }));
    }
    let base = serde_json::json!({
        "type": "reflect_base",
        "job_id": job_id,
        "session_id": null,
        "repo_root": repo.repo_root,
        "bucket": repo.bucket,
        "skills_dir": verify::default_skills_dir(),
        "skill_prefix": cfg.session_reflection.skill_prefix,
        "memory_max_chars": repo.budget,
        "files": hashes,
        "created_at": now(),
        "mode": "user",
    });
    let draft = serde_json::json!({
        "status": "succeeded",
        "memory_changes": changes,
        "skill_changes": [],
        "skipped_candidates": [],
        "validation_notes": [format!("csep memory: {summary}")],
        "errors": [],
    });
    let pretty = |v: &serde_json::Value| {
        let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
        b.push(b'\n');
        b
    };
    fsutil::write_atomic(&run.join("base.json"), &pretty(&base))?;
    fsutil::write_atomic(&run.join("draft.json"), &pretty(&draft))?;
    verify::verify_run(state_dir, &run, opts)
}

/// Fills an outcome from the verifier's receipt. The lines it reports are redacted: a line
/// rejected for a secret must not reach stdout either.
fn settle(o: &mut Outcome, r: Receipt, run: &Path, before: &str, after: &str) {
    for list in [&mut o.added, &mut o.removed, &mut o.archived] {
        list.iter_mut().for_each(crate::redact::redact_string);
    }
    o.status = r.status;
    o.rejections = r.rejections;
    o.errors = r.errors;
    o.receipt = Some(run.join("receipt.json").display().to_string());
    o.chars = chars(if r.status == Status::Succeeded && !r.dry_run {
        after
    } else {
        before
    });
    if r.status != Status::Succeeded {
        o.archived.clear();
    }
}

/// `csep memory add TEXT [--pin]`: appends one line. Over the budget, the least recently
/// confirmed unpinned lines move to refs/archive.md (never the new line, never a pinned
/// one), in the same job.
pub fn add(
    state_dir: &Path,
    repo: &Repo,
    text: &str,
    pin: bool,
    opts: &Options,
) -> Result<Outcome> {
    let line = memory_line(text)?;
    let body = lines::normalize(&line);
    let mut o = Outcome::new("add", repo);
    let live = read_state(repo, opts.lock_wait)?;
    let before = text_of(&live.memory);
    if let Some(e) = entries(&before)
        .into_iter()
        .find(|e| lines::normalize(e.body) == body)
    {
        let hint = if pin {
            format!("; pin it with `csep memory pin --line {}`", e.line_no)
        } else {
            String::new()
        };
        return Err(Error::usage(format!(
            "line {} already says this: {}{hint}",
            e.line_no,
            e.raw.trim()
        )));
    }
    let mut after = with_line(&before, &line);
    let mut archive_text = None;
    if chars(&after) > repo.budget {
        let mut keep = live.ledger.clone();
        keep.pin(&line);
        let fitted = fit::fit(&after, repo.budget, &keep, Some(&before));
        if !fitted.archived.is_empty() {
            let existing = live.archive.as_deref().map(String::from_utf8_lossy);
            archive_text = Some(fit::archive_note(
                existing.as_deref(),
                &fitted.archived,
                &now(),
            ));
            o.archived = fitted.archived;
            after = fitted.memory;
        }
    }
    let job = user_job_id();
    let mut files = vec![(MEMORY_REL, after.as_str(), live.memory.as_deref())];
    if let Some(a) = &archive_text {
        files.push((ARCHIVE_REL, a.as_str(), live.archive.as_deref()));
    }
    let r = propose(state_dir, repo, &job, &files, "a line added by hand", opts)?;
    let run = crate::reflect::run_dir(state_dir, &job);
    o.job_id = Some(job.clone());
    o.added = vec![line.clone()];
    o.removed = o.archived.clone();
    settle(&mut o, r, &run, &before, &after);
    if o.status == Status::Succeeded && !opts.dry_run {
        let _lock = fsutil::lock_wait(&repo.bucket.join(".lock"), opts.lock_wait)?;
        let mut ledger = Ledger::load(&repo.bucket);
        ledger.added(&line, &job, &now());
        if pin {
            ledger.pin(&line);
            o.pinned = Some(line);
        }
        ledger.save(&repo.bucket)?;
    }
    Ok(o)
}

/// `csep memory forget PATTERN | --line N`: removes one line. A pinned line is unpinned
/// first, on purpose.
pub fn forget(state_dir: &Path, repo: &Repo, sel: &Select, opts: &Options) -> Result<Outcome> {
    let mut o = Outcome::new("forget", repo);
    let live = read_state(repo, opts.lock_wait)?;
    let before = text_of(&live.memory);
    let (n, raw, body) = select(&before, sel)?;
    if live.ledger.is_pinned(&body) {
        return Err(Error::usage(format!(
            "line {n} is pinned; unpin it first (csep memory unpin --line {n})"
        )));
    }
    let after = without_line(&before, n);
    let job = user_job_id();
    let r = propose(
        state_dir,
        repo,
        &job,
        &[(MEMORY_REL, &after, live.memory.as_deref())],
        "a line forgotten by hand",
        opts,
    )?;
    o.job_id = Some(job.clone());
    o.removed = vec![raw];
    settle(
        &mut o,
        r,
        &crate::reflect::run_dir(state_dir, &job),
        &before,
        &after,
    );
    Ok(o)
}

/// `csep memory pin|unpin PATTERN | --line N`, under the bucket lock.
pub fn pin(repo: &Repo, sel: &Select, on: bool, opts: &Options) -> Result<Outcome> {
    let mut o = Outcome::new(if on { "pin" } else { "unpin" }, repo);
    let _lock = fsutil::lock_wait(&repo.bucket.join(".lock"), opts.lock_wait)?;
    let text = text_of(&read_live(&repo.memory)?);
    let (_, raw, body) = select(&text, sel)?;
    o.chars = chars(&text);
    let mut ledger = Ledger::load(&repo.bucket);
    let changed = if on {
        let was = ledger.is_pinned(&body);
        ledger.pin(&body);
        !was
    } else {
        ledger.unpin(&body)
    };
    if changed && !opts.dry_run {
        ledger.save(&repo.bucket)?;
    }
    o.status = if changed {
        Status::Succeeded
    } else {
        Status::Skipped
    };
    o.pinned = Some(raw);
    Ok(o)
}

/// A `csep memory edit` in progress: a private copy for the editor, and the bytes it was
/// made from.
pub struct Edit {
    pub job_id: String,
    /// The copy to edit: `runs/<job>/edit/MEMORY.md` (0600, in a 0700 directory, outside
    /// `proposal/` so an editor's swap files are never proposed).
    pub file: PathBuf,
    before: Option<Vec<u8>>,
}

/// Copies the live MEMORY.md for editing.
pub fn begin_edit(state_dir: &Path, repo: &Repo, opts: &Options) -> Result<Edit> {
    let live = read_state(repo, opts.lock_wait)?;
    let job_id = user_job_id();
    let file = crate::reflect::run_dir(state_dir, &job_id)
        .join("edit")
        .join("MEMORY.md");
    fsutil::write_atomic(&file, live.memory.as_deref().unwrap_or_default())?;
    Ok(Edit {
        job_id,
        file,
        before: live.memory,
    })
}

/// Drops an edit that will not be proposed (the editor failed): its run directory goes.
pub fn abandon_edit(state_dir: &Path, edit: Edit) {
    let _ = fs::remove_dir_all(crate::reflect::run_dir(state_dir, &edit.job_id));
}

/// Proposes the edited copy. Unchanged: `skipped`, nothing is proposed (the run directory is
/// removed).
pub fn finish_edit(state_dir: &Path, repo: &Repo, edit: Edit, opts: &Options) -> Result<Outcome> {
    let mut o = Outcome::new("edit", repo);
    let run = crate::reflect::run_dir(state_dir, &edit.job_id);
    let bytes = fs::read(&edit.file).map_err(|e| Error::io(edit.file.display(), e))?;
    let before = text_of(&edit.before);
    if bytes == edit.before.as_deref().unwrap_or_default() {
        o.chars = chars(&before);
        let _ = fs::remove_dir_all(&run);
        return Ok(o);
    }
    let Ok(after) = String::from_utf8(bytes) else {
        return Err(Error::input(format!(
            "{} is not UTF-8 after the edit; nothing was changed",
            edit.file.display()
        )));
    };
    let (old, new) = (entries(&before), entries(&after));
    let old_raw: HashSet<&str> = old.iter().map(|e| e.raw).collect();
    let new_raw: HashSet<&str> = new.iter().map(|e| e.raw).collect();
    o.added = new
        .iter()
        .filter(|e| !old_raw.contains(e.raw))
        .map(|e| e.raw.to_string())
        .collect();
    o.removed = old
        .iter()
        .filter(|e| !new_raw.contains(e.raw))
        .map(|e| e.raw.to_string())
        .collect();
    let r = propose(
        state_dir,
        repo,
        &edit.job_id,
        &[(MEMORY_REL, &after, edit.before.as_deref())],
        "edited by hand",
        opts,
    );
    // The copy is not needed once it is in proposal/ (and must not outlive a secret).
    let _ = fs::remove_dir_all(run.join("edit"));
    o.job_id = Some(edit.job_id);
    settle(&mut o, r?, &run, &before, &after);
    Ok(o)
}

#[cfg(test)]
mod tests;
