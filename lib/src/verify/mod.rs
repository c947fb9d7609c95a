//! Verifying and applying a reflection proposal (`csep-verify`; the safety model is
//! `docs/SAFETY.md`).
//!
//! The reflection model never writes a live file. It writes `runs/<job>/proposal/` and a
//! `draft.json`; [`verify_run`] checks every proposed byte against hard boundaries (path
//! shapes, no symlinks or hidden files, the skill prefix, UTF-8, size caps, the MEMORY.md
//! budget, the skill format, secrets, no-op entries, a base that is still current, an honest
//! draft, and no planted instruction: remote code, exfiltration, injection phrasing, control
//! or bidi characters, memory that only tool output supports) and applies the proposal only
//! when every check passes: under the bucket lock, file
//! by file with atomic writes, after a journal record per change and a copy of each file's
//! before-bytes. [`undo`] puts a job's before-state back when the files still carry its
//! after-hashes. Everything ends in a receipt with a named reason for each rejection.

mod content;
mod draft;
mod journal;
mod live;
mod planted;
pub mod quality;
mod receipt;
mod support;
mod walk;

pub use content::{NOOP_PHRASES, SKILL_SECTIONS};
pub use draft::DraftSummary;
pub(crate) use journal::{apply, lock, Applied, Planned};
pub use journal::{journal_path, undo, JournalEntry, UndoChange, UndoReceipt, UndoStatus};
pub(crate) use planted::{exfiltration, is_bidi, is_control, prompt_injection, remote_code};
pub use receipt::{Base, Change, Reason, Receipt, Rejection, Status};

use crate::error::{Error, Result};
use crate::{config, fsutil, timefmt};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Every proposed file (and the draft) is at most this big.
pub const SIZE_CAP_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Options {
    /// Check and write the receipt, apply nothing.
    pub dry_run: bool,
    /// How long to wait for the bucket and skills locks before giving up as busy.
    pub lock_wait: Duration,
    pub size_cap_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dry_run: false,
            lock_wait: Duration::from_secs(30),
            size_cap_bytes: SIZE_CAP_BYTES,
        }
    }
}

/// The skills root, as csep 1.3.10 finds it: `$CSEP_CODEX_SKILLS_DIR`, else
/// `$CODEX_HOME/skills`.
pub fn default_skills_dir() -> PathBuf {
    std::env::var_os("CSEP_CODEX_SKILLS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::paths::codex_home().join("skills"))
}

/// In the id of every job `csep memory` writes (`<time>Z-user-<hex>`): `mode: user` in
/// base.json is believed only under such a name, which a reflection run cannot take (its run
/// directory is named by the worker).
pub const USER_JOB_MARK: &str = "Z-user-";

/// Whether a job id is safe to use as a file name.
pub fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Which live root a proposal path belongs to, and the path below that root.
pub(crate) fn split_rel(rel: &str) -> Option<(bool, &str)> {
    if let Some(r) = rel.strip_prefix("skills/") {
        Some((true, r))
    } else if rel.starts_with("memory/") {
        Some((false, rel))
    } else {
        None
    }
}

/// Two directory paths name the same place (lexically, or once resolved).
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

fn read_small(path: &Path, cap: u64) -> std::result::Result<Option<Vec<u8>>, String> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(m) if m.file_type().is_symlink() => return Err("is a symlink".into()),
        Ok(m) if !m.is_file() => return Err("is not a regular file".into()),
        Ok(_) => {}
    }
    match live::read_capped(path, cap, None) {
        Ok(Some(b)) => Ok(Some(b)),
        Ok(None) => Err(format!("is bigger than {cap} bytes")),
        Err(e) => Err(e.to_string()),
    }
}

/// Cross-checks base.json's trusted fields against the configuration: a provider can write
/// in the run directory, so base.json must not be able to move the bucket, the skills root
/// or the prefix.
fn check_base(state_dir: &Path, run_dir: &Path, base: &Base, r: &mut Receipt) {
    let mut bad = |detail: String| r.reject("base.json", Reason::BaseMismatch, detail);
    let dir_name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    if !valid_job_id(&base.job_id) || dir_name.as_deref() != Some(base.job_id.as_str()) {
        bad(format!(
            "job_id {:?} is not the run directory's name {:?}",
            base.job_id,
            dir_name.unwrap_or_default()
        ));
    }
    let projects = state_dir.join("projects");
    let name_ok = base.bucket.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        !n.is_empty() && n != "." && n != ".."
    });
    let parent_ok = base.bucket.parent().is_some_and(|p| same_dir(p, &projects));
    if !name_ok || !parent_ok {
        bad(format!(
            "bucket {} is not a repo bucket under {}",
            base.bucket.display(),
            projects.display()
        ));
    }
    let skills = default_skills_dir();
    if !same_dir(&base.skills_dir, &skills) {
        bad(format!(
            "skills_dir {} is not the skills root {}",
            base.skills_dir.display(),
            skills.display()
        ));
    }
    if base.mode.as_deref() == Some("user") && !base.job_id.contains(USER_JOB_MARK) {
        bad(format!(
            "mode \"user\" is for a person's change through csep memory (job ids with {USER_JOB_MARK:?}), not job {:?}",
            base.job_id
        ));
    }
    let (cfg, _) = config::load(state_dir);
    let prefix = &cfg.session_reflection.skill_prefix;
    if base.skill_prefix.is_empty() || &base.skill_prefix != prefix {
        bad(format!(
            "skill_prefix {:?} is not the configured {prefix:?}",
            base.skill_prefix
        ));
    }
}

/// Maps a path as the draft wrote it to a proposal path, or the reason it cannot be one.
fn resolve_claim(
    raw: &str,
    list: &str,
    run_dir: &Path,
    base: &Base,
) -> std::result::Result<String, (Reason, String)> {
    let p = raw.trim();
    if p.is_empty() {
        return Err((Reason::DraftMismatch, "an empty path".into()));
    }
    if p.contains('\0') {
        return Err((Reason::BadFileName, "the path holds a NUL".into()));
    }
    if p.split(['/', '\\']).any(|c| c == "..") {
        return Err((
            Reason::PathTraversal,
            "the path climbs out with `..`".into(),
        ));
    }
    let path = Path::new(p);
    if p.starts_with('~') || path.is_absolute() {
        let proposal = run_dir.join("proposal");
        let mapped = if let Ok(r) = path.strip_prefix(&proposal) {
            Some(r.to_path_buf())
        } else if let Ok(r) = path.strip_prefix(&base.bucket) {
            Some(r.to_path_buf())
        } else if let Ok(r) = path.strip_prefix(&base.skills_dir) {
            Some(Path::new("skills").join(r))
        } else {
            None
        };
        return match mapped {
            Some(r) => Ok(r.to_string_lossy().into_owned()),
            None => Err((
                Reason::AbsolutePath,
                "an absolute path outside the proposal, the bucket and the skills root".into(),
            )),
        };
    }
    let mut rel: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if rel.first().map(String::as_str) == Some("proposal") {
        rel.remove(0);
    }
    let mut rel = rel.join("/");
    if list == "memory_changes" && (rel == "MEMORY.md" || rel.starts_with("refs/")) {
        rel = format!("memory/{rel}");
    }
    if list == "skill_changes" && !rel.starts_with("skills/") && !rel.starts_with("memory/") {
        rel = format!("skills/{rel}");
    }
    Ok(rel)
}

/// Checks the run directory's proposal and, unless `opts.dry_run`, applies it. Writes
/// `receipt.json` into the run directory and returns it. `Err` only when there is no run
/// directory to write a receipt into, when the job was already applied, or when the locks
/// stay busy (nothing was written then).
pub fn verify_run(state_dir: &Path, run_dir: &Path, opts: &Options) -> Result<Receipt> {
    match fs::metadata(run_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::usage(format!(
                "{}: not a directory",
                run_dir.display()
            )))
        }
        Err(e) => return Err(Error::usage(format!("{}: {e}", run_dir.display()))),
    }
    let dir_name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut r = Receipt::new(dir_name, opts.dry_run);
    let base = match read_small(&run_dir.join("base.json"), opts.size_cap_bytes) {
        Ok(Some(b)) => serde_json::from_slice::<Base>(&b)
            .map_err(|e| format!("base.json is not a reflect_base: {e}")),
        Ok(None) => Err("base.json is missing".to_string()),
        Err(e) => Err(format!("base.json {e}")),
    };
    let base = match base {
        Ok(b) => b,
        Err(e) => {
            r.status = Status::Failed;
            r.errors.push(e);
            write_receipt(run_dir, &r)?;
            return Ok(r);
        }
    };
    r.job_id = base.job_id.clone();
    r.session_id = base.session_id.clone();
    check_base(state_dir, run_dir, &base, &mut r);
    if !r.rejections.is_empty() {
        r.status = Status::Rejected;
        write_receipt(run_dir, &r)?;
        return Ok(r);
    }
    let jpath = journal_path(&base.bucket, &base.job_id);
    if fs::symlink_metadata(&jpath).is_ok() {
        return Err(Error::input(format!(
            "job {} was already applied (journal {}); see its receipt, or undo it with --undo",
            base.job_id,
            jpath.display()
        )));
    }
    match check_and_apply(state_dir, run_dir, &base, opts, &mut r) {
        Ok(()) => {}
        Err(e) if e.kind == crate::error::ErrorKind::Busy => return Err(e),
        Err(e) => {
            r.status = Status::Failed;
            r.changes.clear();
            r.errors.push(e.message);
        }
    }
    if !opts.dry_run {
        scrub_secrets(run_dir, &r);
    }
    write_receipt(run_dir, &r)?;
    Ok(r)
}

/// A proposal rejected for a secret stays in the run directory as the evidence of what the
/// model wrote, but with the secret redacted, so that no secret is kept under the state dir.
/// Only regular files the walk accepted are rewritten (atomically: a link is never followed).
fn scrub_secrets(run_dir: &Path, r: &Receipt) {
    let proposal = run_dir.join("proposal");
    for rej in r.rejections.iter().filter(|x| x.reason == Reason::Secret) {
        let p = proposal.join(&rej.path);
        if !p.starts_with(&proposal) || rej.path.split('/').any(|c| c == "..") {
            continue;
        }
        if !fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(text) = fs::read_to_string(&p) else {
            continue;
        };
        if let std::borrow::Cow::Owned(clean) = crate::redact::redact(&text) {
            let _ = fsutil::write_atomic(&p, clean.as_bytes());
        }
    }
}

/// Everything after the base: the walk, the draft, the per-file checks, and the apply.
fn check_and_apply(
    state_dir: &Path,
    run_dir: &Path,
    base: &Base,
    opts: &Options,
    r: &mut Receipt,
) -> Result<()> {
    let (cfg, _) = config::load(state_dir);
    let budget = base.memory_max_chars.min(cfg.memory.inject_max_chars);
    let walked = walk::walk(
        &run_dir.join("proposal"),
        &walk::Rules {
            skills_dir: &base.skills_dir,
            prefix: &base.skill_prefix,
            size_cap: opts.size_cap_bytes,
        },
    )?;
    r.rejections.extend(walked.rejections);

    // The draft, and the changes it claims.
    match read_small(&run_dir.join("draft.json"), opts.size_cap_bytes) {
        Ok(None) => {
            if !walked.seen.is_empty() {
                r.reject(
                    "draft.json",
                    Reason::MissingDraft,
                    "files were proposed but there is no draft.json",
                );
            }
        }
        Err(e) if e.starts_with("is bigger") => r.reject("draft.json", Reason::FileTooLarge, e),
        Err(e) if e == "is a symlink" => r.reject(
            "draft.json",
            Reason::Symlink,
            "draft.json is a symlink; not followed",
        ),
        Err(e) => r.reject(
            "draft.json",
            Reason::MalformedDraft,
            format!("draft.json {e}"),
        ),
        Ok(Some(bytes)) => match draft::parse(&bytes) {
            Err(e) => r.reject("draft.json", Reason::MalformedDraft, e),
            Ok((summary, claims)) => {
                r.draft = Some(summary);
                for c in claims {
                    if c.action.as_deref().is_some_and(|a| {
                        matches!(
                            a.to_ascii_lowercase().as_str(),
                            "delete" | "deleted" | "remove" | "removed"
                        )
                    }) {
                        r.reject(
                            &c.path,
                            Reason::DraftMismatch,
                            format!(
                                "{} claims a deletion; proposals cannot delete files",
                                c.list
                            ),
                        );
                        continue;
                    }
                    match resolve_claim(&c.path, c.list, run_dir, base) {
                        Err((reason, detail)) => {
                            r.reject(&c.path, reason, format!("{}: {detail}", c.list))
                        }
                        Ok(rel) if !walked.seen.contains(&rel) => r.reject(
                            &c.path,
                            Reason::DraftMismatch,
                            format!("{} lists {rel}, which is not in proposal/", c.list),
                        ),
                        Ok(_) => {}
                    }
                }
            }
        },
    }

    // Each file against its live counterpart, then its content.
    let mut session = support::Session::new(
        state_dir,
        base.session_id.as_deref(),
        &base.bucket,
        opts.size_cap_bytes,
    );
    let mode = base.mode.as_deref().unwrap_or("review");
    let ledger = crate::memory::ledger::Ledger::load(&base.bucket);
    // Lines the proposal writes into refs notes are moved there, not removed.
    let kept_elsewhere: std::collections::HashSet<String> = walked
        .files
        .iter()
        .filter(|f| f.rel.starts_with("memory/refs/"))
        .filter_map(|f| std::str::from_utf8(&f.bytes).ok())
        .flat_map(|t| {
            crate::memory::lines::entries(t)
                .into_iter()
                .map(|e| crate::memory::lines::normalize(e.body))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut planned = Vec::new();
    for f in &walked.files {
        let Some((skill, below)) = split_rel(&f.rel) else {
            continue;
        };
        let root = if skill {
            &base.skills_dir
        } else {
            &base.bucket
        };
        let livestate = live::inspect(root, below)?;
        if let live::Live::Unsafe(d) = &livestate {
            r.reject(&f.rel, Reason::UnsafeLivePath, d.clone());
            continue;
        }
        if livestate.bytes() == Some(f.bytes.as_slice()) {
            r.unchanged.push(f.rel.clone());
            continue;
        }
        let expected = base.files.get(&f.rel).cloned().flatten();
        let now = livestate.sha256().map(str::to_string);
        if expected != now {
            let show = |h: &Option<String>| {
                h.as_deref()
                    .map_or("absent".to_string(), |h| format!("sha256 {h}"))
            };
            r.reject(
                &f.rel,
                Reason::StaleBase,
                format!(
                    "the live file is {} but the run was based on {}",
                    show(&now),
                    show(&expected)
                ),
            );
            continue;
        }
        let text = match std::str::from_utf8(&f.bytes) {
            Ok(t) => t,
            Err(e) => {
                r.reject(
                    &f.rel,
                    Reason::InvalidUtf8,
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                );
                continue;
            }
        };
        let live_text = livestate.bytes().map(String::from_utf8_lossy);
        let mut problems =
            content::check(&f.kind, text, live_text.as_deref(), budget, &mut session);
        if f.kind == content::Kind::Memory {
            // What a duplicate restates is not confirmed: a refused run writes nothing
            // outside its run directory, the ledger included.
            let (q, warnings, _restated) = quality::check(
                &f.rel,
                text,
                live_text.as_deref(),
                mode,
                &ledger,
                &kept_elsewhere,
            );
            problems.extend(q);
            r.warnings.extend(warnings);
        }
        if !problems.is_empty() {
            for (reason, detail) in problems {
                r.reject(&f.rel, reason, detail);
            }
            continue;
        }
        planned.push(journal::Planned {
            rel: f.rel.clone(),
            below: below.to_string(),
            root: root.clone(),
            live: root.join(below),
            skill,
            before: livestate.bytes().map(<[u8]>::to_vec),
            before_sha256: now,
            after_sha256: crate::setup::sha256_hex(&f.bytes),
            after: f.bytes.clone(),
            mode: match livestate {
                live::Live::File { mode, .. } => Some(mode),
                _ => None,
            },
        });
    }

    r.session_evidence = session.status();
    if !r.rejections.is_empty() {
        r.status = Status::Rejected;
    } else if planned.is_empty() {
        r.status = Status::Skipped;
    } else if opts.dry_run {
        r.status = Status::Succeeded;
        r.changes = planned.iter().map(journal::Planned::change).collect();
    } else {
        match journal::apply(state_dir, base, &planned, opts.lock_wait)? {
            journal::Applied::Done(path) => {
                r.status = Status::Succeeded;
                r.changes = planned.iter().map(journal::Planned::change).collect();
                r.journal = Some(path.to_string_lossy().into_owned());
            }
            journal::Applied::Stale(rejections) => {
                r.status = Status::Rejected;
                r.rejections = rejections;
            }
            journal::Applied::RolledBack(path, error) => {
                r.status = Status::Failed;
                r.errors.push(format!(
                    "applying failed and every change was rolled back: {error}"
                ));
                r.journal = Some(path.to_string_lossy().into_owned());
            }
        }
    }
    if !opts.dry_run {
        update_ledger(base, r, opts.lock_wait);
    }
    Ok(())
}

/// Brings the bucket's line ledger up to date after a run that passed: lines the applied
/// MEMORY.md added are dated, lines a later session restated (the draft's `confirmed` list,
/// of lines that are in MEMORY.md) are confirmed, and lines MEMORY.md no longer has are
/// forgotten. MEMORY.md is read once, under the bucket's lock. The ledger
/// only orders what the budget fit moves out first, so a failure here is a receipt error,
/// never a reason to undo anything.
fn update_ledger(base: &Base, r: &mut Receipt, wait: Duration) {
    use crate::memory::ledger::{self, Ledger};
    // A refused run leaves everything outside its run directory as it was.
    if !matches!(r.status, Status::Succeeded | Status::Skipped) {
        return;
    }
    let added: Vec<String> = r
        .changes
        .iter()
        .filter(|c| c.rel == "memory/MEMORY.md")
        .filter_map(|c| c.lines.as_ref())
        .flat_map(|d| {
            d.added
                .iter()
                .chain(d.changed.iter().map(|c| &c.to))
                .cloned()
        })
        .collect();
    let claimed = r.draft.as_ref().map_or(&[][..], |d| &d.confirmed[..]);
    if added.is_empty() && claimed.is_empty() {
        return;
    }
    let result = lock(&base.bucket.join(".lock"), wait).and_then(|_lock| {
        let present = ledger::present(&base.bucket);
        let confirmed: Vec<&String> = claimed
            .iter()
            .filter(|l| present.contains(&crate::memory::lines::normalize(l)))
            .collect();
        if added.is_empty() && confirmed.is_empty() {
            return Ok(());
        }
        let mut ledger = Ledger::load(&base.bucket);
        let at = timefmt::format_iso_ms(timefmt::now_ms());
        for l in &added {
            ledger.added(l, &base.job_id, &at);
        }
        for l in confirmed {
            ledger.confirm(l, &base.job_id, &at);
        }
        // Lines MEMORY.md no longer has are done with.
        ledger.keep_present(&present);
        ledger.save(&base.bucket)
    });
    if let Err(e) = result {
        r.errors
            .push(format!("the line ledger was not updated: {}", e.message));
    }
}

fn write_receipt(run_dir: &Path, r: &Receipt) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(r).map_err(|e| Error::input(e.to_string()))?;
    bytes.push(b'\n');
    fsutil::write_atomic(&run_dir.join("receipt.json"), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_stable_and_distinct() {
        let names: std::collections::BTreeSet<&str> =
            Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len());
        for r in Reason::ALL {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
        }
    }

    #[test]
    fn job_ids() {
        assert!(valid_job_id("20261101T100000Z-1a2b3c4d"));
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(!valid_job_id(bad), "{bad}");
        }
    }
}
