//! The last resort for the budget: in a consolidation job whose proposed MEMORY.md is still
//! over its budget, csep itself moves the least recently confirmed unpinned lines into
//! `proposal/memory/refs/archive.md` (after the live archive's text, or the one the model
//! proposed), with [`crate::memory::fit`], so that no fact is lost to the budget: recall and
//! the injected refs list still find an archived line. The draft gains the archive as a
//! memory change and a note saying what moved. The verifier then checks the proposal as
//! usual; nothing here touches a live file.
//!
//! The proposal directory is the provider's: a path in it that is a symbolic link, or
//! anything else than a regular file or directory, makes this step do nothing (the verifier
//! rejects such a proposal anyway).

use super::rundir::Base;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::memory::fit::{archive_note, fit, ARCHIVE_REL};
use crate::memory::ledger::Ledger;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// What csep moved out of the proposed MEMORY.md (`memory_fit` in `reflect_result`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryFit {
    /// The proposed MEMORY.md's characters before and after.
    pub chars_before: u64,
    pub chars_after: u64,
    pub budget: u64,
    /// The lines moved to `archive`, as they were written, least recently confirmed first.
    pub archived: Vec<String>,
    /// The proposal path they went to (`memory/refs/archive.md`).
    pub archive: String,
    /// Whether MEMORY.md fits now (it does not when pinned and new lines alone exceed it).
    pub fits: bool,
}

/// A regular file's text under `root`; `Ok(None)` when it is missing; `Err` when any part of
/// the path is a link or not what it should be, or the file is not UTF-8.
fn read_plain(root: &Path, rel: &str) -> std::result::Result<Option<String>, ()> {
    let mut p = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        p.push(part);
        match fs::symlink_metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(_) => return Err(()),
            Ok(m) if i + 1 < parts.len() && !m.file_type().is_dir() => return Err(()),
            Ok(m) if i + 1 == parts.len() && !m.file_type().is_file() => return Err(()),
            Ok(_) => {}
        }
    }
    let bytes = fs::read(&p).map_err(|_| ())?;
    String::from_utf8(bytes).map(Some).map_err(|_| ())
}

/// Makes `root/rel` a directory, refusing any part of it that exists as something else.
fn plain_dir(root: &Path, rel: &str) -> Result<PathBuf> {
    let mut p = root.to_path_buf();
    for part in rel.split('/') {
        p.push(part);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Err(Error::input(format!("{} is not a directory", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::fsutil::create_dir_private(&p)?
            }
            Err(e) => return Err(Error::io(p.display(), e)),
        }
    }
    Ok(p)
}

/// The draft as JSON, when it is a bare JSON object or one in a fenced block.
fn parse_draft(text: &str) -> Option<serde_json::Map<String, Value>> {
    let t = text.trim().trim_start_matches('\u{feff}');
    let json = if t.starts_with('{') {
        t
    } else {
        let after = &t[t.find("```")? + 3..];
        let body = &after[after.find('\n')? + 1..];
        body[..body.find("```").unwrap_or(body.len())].trim()
    };
    match serde_json::from_str(json).ok()? {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// Fits the proposal of run `run` (whose trusted base is `base`: the worker's own, not the
/// file the provider could have rewritten) within the budget, if it is a consolidation job's
/// and over it. `Ok(None)`: nothing to do, or nothing that can safely be done (the verifier
/// decides on the proposal as it is).
pub fn fit_proposal(run: &Path, base: &Base, at: &str) -> Result<Option<MemoryFit>> {
    if base.mode != "consolidate" {
        return Ok(None);
    }
    let budget = base.memory_max_chars;
    let Ok(Some(proposed)) = read_plain(run, "proposal/memory/MEMORY.md") else {
        return Ok(None);
    };
    let before = proposed.chars().count() as u64;
    if before <= budget {
        return Ok(None);
    }
    let Ok(Some(draft_text)) = read_plain(run, "draft.json") else {
        return Ok(None);
    };
    let Some(mut draft) = parse_draft(&draft_text) else {
        return Ok(None);
    };
    let Ok(proposed_archive) = read_plain(run, &format!("proposal/{ARCHIVE_REL}")) else {
        return Ok(None);
    };
    let bucket = Path::new(&base.bucket);
    let live_memory = read_plain(bucket, "memory/MEMORY.md").ok().flatten();
    let live_archive = read_plain(bucket, ARCHIVE_REL).ok().flatten();
    let ledger = Ledger::load(bucket);
    let fitted = fit(&proposed, budget, &ledger, live_memory.as_deref());
    if fitted.archived.is_empty() {
        return Ok(None);
    }
    let archive = archive_note(
        proposed_archive.as_deref().or(live_archive.as_deref()),
        &fitted.archived,
        at,
    );

    // The draft first: a draft that cannot say what moved means nothing is moved.
    let changes = draft
        .entry("memory_changes")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(changes) = changes else {
        return Ok(None);
    };
    let claims = |p: &str, v: &Value| match v {
        Value::String(s) => s.trim() == p,
        Value::Object(o) => ["path", "file"]
            .iter()
            .any(|k| o.get(*k).and_then(Value::as_str).map(str::trim) == Some(p)),
        _ => false,
    };
    let moved = fitted.archived.len();
    if !changes.iter().any(|c| claims(ARCHIVE_REL, c)) {
        let exists = base.files.get(ARCHIVE_REL).is_some_and(|h| h.is_some());
        changes.push(serde_json::json!({
            "path": ARCHIVE_REL,
            "action": if exists { "update" } else { "create" },
            "summary": format!("csep moved {moved} least recently confirmed lines here to fit the budget"),
        }));
    }
    let note = Value::String(format!(
        "csep moved {moved} lines from MEMORY.md to refs/archive.md ({before} → {} of {budget} characters)",
        fitted.memory.chars().count()
    ));
    match draft
        .entry("validation_notes")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(notes) => notes.push(note),
        _ => return Ok(None),
    }
    // MEMORY.md last: if anything before it fails, the proposal stays over its budget and
    // the verifier rejects it as such.
    let refs = plain_dir(run, "proposal/memory/refs")?;
    write_atomic(&refs.join("archive.md"), archive.as_bytes())?;
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(draft))
        .map_err(|e| Error::input(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(&run.join("draft.json"), &bytes)?;
    write_atomic(
        &run.join("proposal/memory/MEMORY.md"),
        fitted.memory.as_bytes(),
    )?;
    Ok(Some(MemoryFit {
        chars_before: before,
        chars_after: fitted.memory.chars().count() as u64,
        budget,
        fits: fitted.fits(budget),
        archived: fitted.archived,
        archive: ARCHIVE_REL.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn base(bucket: &Path, mode: &str, budget: u64) -> Base {
        Base {
            kind: "reflect_base".into(),
            job_id: "j".into(),
            session_id: "s".into(),
            repo_root: "/work/app".into(),
            bucket: bucket.display().to_string(),
            skills_dir: "/nonexistent".into(),
            skill_prefix: "csep-reflect-".into(),
            memory_max_chars: budget,
            files: BTreeMap::new(),
            created_at: String::new(),
            mode: mode.into(),
        }
    }

    fn proposal(run: &Path, memory: &str, draft: &str) {
        fs::create_dir_all(run.join("proposal/memory")).unwrap();
        fs::write(run.join("proposal/memory/MEMORY.md"), memory).unwrap();
        fs::write(run.join("draft.json"), draft).unwrap();
    }

    const DRAFT: &str =
        "```json\n{\"status\": \"succeeded\", \"memory_changes\": [\"memory/MEMORY.md\"]}\n```\n";

    #[test]
    fn an_over_budget_consolidation_is_fitted_and_the_draft_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let (run, bucket) = (dir.path().join("run"), dir.path().join("bucket"));
        fs::create_dir_all(bucket.join("memory/refs")).unwrap();
        fs::write(
            bucket.join("memory/refs/archive.md"),
            "# Archived memory\n\nOld.\n",
        )
        .unwrap();
        let memory = "# Memory\n\n- first fact about the build\n- second fact about the tests\n- third fact about the deploy\n";
        proposal(&run, memory, DRAFT);
        let f = fit_proposal(
            &run,
            &base(&bucket, "consolidate", 70),
            "2026-12-07T10:00:00Z",
        )
        .unwrap()
        .unwrap();
        assert!(f.fits && f.chars_after <= 70, "{f:?}");
        assert_eq!(f.archived[0], "- first fact about the build");
        let new = fs::read_to_string(run.join("proposal/memory/MEMORY.md")).unwrap();
        assert!(!new.contains("first fact"), "{new}");
        let archive = fs::read_to_string(run.join("proposal/memory/refs/archive.md")).unwrap();
        assert!(
            archive.starts_with("# Archived memory\n\nOld.\n")
                && archive.contains("- first fact about the build"),
            "{archive}"
        );
        let draft: Value =
            serde_json::from_slice(&fs::read(run.join("draft.json")).unwrap()).unwrap();
        assert_eq!(draft["memory_changes"][1]["path"], ARCHIVE_REL, "{draft}");
        assert_eq!(draft["memory_changes"][1]["action"], "create");
        assert!(draft["validation_notes"][0]
            .as_str()
            .unwrap()
            .starts_with("csep moved"));
    }

    #[test]
    fn nothing_happens_in_a_review_within_budget_or_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let (run, bucket) = (dir.path().join("run"), dir.path().join("bucket"));
        let memory = "# Memory\n\n- first fact about the build\n- second fact about the tests\n";
        proposal(&run, memory, DRAFT);
        let at = "2026-12-07T10:00:00Z";
        assert_eq!(
            fit_proposal(&run, &base(&bucket, "review", 10), at).unwrap(),
            None
        );
        assert_eq!(
            fit_proposal(&run, &base(&bucket, "consolidate", 1000), at).unwrap(),
            None
        );
        // refs/ is a link to somewhere else: nothing is written through it.
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, run.join("proposal/memory/refs")).unwrap();
        assert_eq!(
            fit_proposal(&run, &base(&bucket, "consolidate", 10), at).unwrap(),
            None
        );
        assert!(fs::read_dir(&elsewhere).unwrap().next().is_none());
        assert_eq!(
            fs::read_to_string(run.join("proposal/memory/MEMORY.md")).unwrap(),
            memory
        );
        // A draft that is not JSON: nothing moves.
        fs::remove_file(run.join("proposal/memory/refs")).unwrap();
        fs::write(run.join("draft.json"), "not json").unwrap();
        assert_eq!(
            fit_proposal(&run, &base(&bucket, "consolidate", 10), at).unwrap(),
            None
        );
    }
}
