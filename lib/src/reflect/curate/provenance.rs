//! `csep memory list`: each line of a repo's MEMORY.md with the job that added or last changed
//! it, read from the journal alone (the replay is described in the parent's module doc).

use super::{chars, read_live, text_of, Repo, MEMORY_REL};
use crate::error::Result;
use crate::memory::ledger::Ledger;
use crate::memory::lines::{self, entries};
use crate::setup::sha256_hex;
use crate::verify::JournalEntry;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A `csep memory` job (a person).
    User,
    /// A reflection job (or another journalled writer, such as `csep migrate-worktrees`).
    Reflection,
    /// No journalled job wrote it: written by hand, or before csep journalled changes.
    Unknown,
}

/// `memory_line`: one line of MEMORY.md and the job that added or last changed it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// 1-based, in the live file.
    pub line_no: usize,
    /// The line as written.
    pub text: String,
    pub pinned: bool,
    pub origin: Origin,
    /// `added` or `changed` (a similar line was replaced); null when the origin is unknown.
    pub action: Option<&'static str>,
    /// For `changed`: the line it replaced.
    pub changed_from: Option<String>,
    pub job_id: Option<String>,
    pub session_id: Option<String>,
    /// When the job applied.
    pub at: Option<String>,
    /// When a later session last restated it (the ledger).
    pub confirmed_at: Option<String>,
}

/// `memory_list`: every line (`--format json`).
#[derive(Debug, Clone, Serialize)]
pub struct List {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub repo_root: String,
    pub path: String,
    pub chars: u64,
    pub budget_chars: u64,
    pub count: usize,
    pub lines: Vec<Listed>,
}

/// Whether a job was a person's: `csep memory` names its jobs `<time>Z-user-<hex>` (and
/// csep-verify refuses `mode: user` under any other name), `csep migrate-worktrees`
/// `migrate-…`. Never decided from a run directory, which a provider can write.
pub fn is_user_job(job_id: &str) -> bool {
    job_id.contains(USER_JOB_MARK) || job_id.starts_with("migrate-")
}

/// What sets a person's job id apart from a reflection job's.
pub const USER_JOB_MARK: &str = crate::verify::USER_JOB_MARK;

/// One applied job that changed MEMORY.md.
struct Step {
    job_id: String,
    session_id: Option<String>,
    at: String,
    before_sha256: Option<String>,
    after_sha256: Option<String>,
    backup: Option<String>,
}

fn memory_steps(bucket: &Path) -> Vec<Step> {
    let Ok(rd) = fs::read_dir(bucket.join("journal")) else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "jsonl") || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(text) = fs::read_to_string(&p) else {
            continue;
        };
        // Lenient: a line that is not a journal entry is skipped.
        let es: Vec<JournalEntry> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<JournalEntry>(l).ok())
            .filter(|e| e.kind == "journal_entry" && e.rel == MEMORY_REL)
            .collect();
        if es
            .iter()
            .any(|e| e.action == "undo" || e.action == "rollback")
        {
            continue;
        }
        if let Some(e) = es
            .into_iter()
            .find(|e| e.action == "create" || e.action == "update")
        {
            steps.push(Step {
                job_id: e.job_id,
                session_id: e.session_id,
                at: e.at,
                before_sha256: e.before_sha256,
                after_sha256: e.after_sha256,
                backup: e.backup,
            });
        }
    }
    steps.sort_by(|a, b| (&a.at, &a.job_id).cmp(&(&b.at, &b.job_id)));
    steps
}

struct Prov {
    job_id: String,
    session_id: Option<String>,
    at: String,
    action: &'static str,
    changed_from: Option<String>,
}

/// Each line of the live MEMORY.md with the job that added or last changed it.
pub fn list(state_dir: &Path, repo: &Repo) -> Result<List> {
    let live = text_of(&read_live(&repo.memory)?);
    let steps = memory_steps(&repo.bucket);
    // Every text the journal can name by hash: the backups, and the live file.
    let mut texts: HashMap<String, String> = HashMap::new();
    texts.insert(sha256_hex(live.as_bytes()), live.clone());
    let mut known = |path: &Path, want: &Option<String>| {
        let Some(want) = want else { return };
        if texts.contains_key(want) {
            return;
        }
        if let Ok(bytes) = fs::read(path) {
            if &sha256_hex(&bytes) == want {
                texts.insert(want.clone(), String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    };
    for s in &steps {
        if let Some(b) = &s.backup {
            known(Path::new(b), &s.before_sha256);
        }
        // The job's own proposal is its after-text, while its run directory is kept: so a
        // hand edit after the last job does not hide what that job wrote.
        let proposed = crate::reflect::run_dir(state_dir, &s.job_id)
            .join("proposal")
            .join(MEMORY_REL);
        known(&proposed, &s.after_sha256);
    }
    let mut prov: BTreeMap<String, Prov> = BTreeMap::new();
    for s in &steps {
        let before = match &s.before_sha256 {
            None => Some(String::new()),
            Some(h) => texts.get(h).cloned(),
        };
        let after = s.after_sha256.as_ref().and_then(|h| texts.get(h)).cloned();
        let (Some(before), Some(after)) = (before, after) else {
            // A text the journal no longer holds: this job's lines stay unattributed.
            continue;
        };
        // The same pairing of removed and added lines as the receipt's `changes[].lines`.
        let d = crate::verify::quality::diff(Some(&before), &after);
        for r in d.removed.iter().chain(d.changed.iter().map(|c| &c.from)) {
            prov.remove(&lines::normalize(r));
        }
        let made = d
            .added
            .iter()
            .map(|l| (l, None))
            .chain(d.changed.iter().map(|c| (&c.to, Some(c.from.clone()))));
        for (line, from) in made {
            prov.insert(
                lines::normalize(line),
                Prov {
                    job_id: s.job_id.clone(),
                    session_id: s.session_id.clone(),
                    at: s.at.clone(),
                    action: if from.is_some() { "changed" } else { "added" },
                    changed_from: from,
                },
            );
        }
    }
    let ledger = Ledger::load(&repo.bucket);
    let mut user_jobs: HashMap<String, bool> = HashMap::new();
    let mut out = Vec::new();
    for e in entries(&live) {
        let p = prov.get(&lines::normalize(e.body));
        let origin = match p {
            None => Origin::Unknown,
            Some(p) => {
                let user = *user_jobs
                    .entry(p.job_id.clone())
                    .or_insert_with(|| is_user_job(&p.job_id));
                if user {
                    Origin::User
                } else {
                    Origin::Reflection
                }
            }
        };
        out.push(Listed {
            kind: "memory_line",
            line_no: e.line_no,
            text: e.raw.to_string(),
            pinned: ledger.is_pinned(e.body),
            origin,
            action: p.map(|p| p.action),
            changed_from: p.and_then(|p| p.changed_from.clone()),
            job_id: p.map(|p| p.job_id.clone()),
            session_id: p.and_then(|p| p.session_id.clone()),
            at: p.map(|p| p.at.clone()),
            confirmed_at: ledger.last_confirmed(e.body).map(str::to_string),
        });
    }
    Ok(List {
        kind: "memory_list",
        repo_root: repo.repo_root.clone(),
        path: repo.memory.display().to_string(),
        chars: chars(&live),
        budget_chars: repo.budget,
        count: out.len(),
        lines: out,
    })
}
