//! The line ledger, `projects/<bucket>/lines.json`: what csep knows about memory lines beyond
//! their text. A person's pins (a pinned line is never moved out by the budget fit, and a
//! proposal may not drop it), and confirmations (when a later session restated a line, so
//! the fit moves the least recently confirmed lines first). Keyed by
//! [`lines::normalize`](super::lines::normalize), so rewording markup does not lose a pin.
//!
//! Which job added or changed a line is not kept here: the journal says that (`csep memory
//! list` reads it). Writers hold the bucket's `.lock`; a missing or unreadable ledger reads
//! as empty, so it can never stop memory from being used.

use super::lines::normalize;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What the ledger knows about one line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LineMeta {
    /// `lines::normalize` of the line.
    pub key: String,
    /// The line as last seen.
    pub text: String,
    pub pinned: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_at: Option<String>,
    /// When a session last restated the line (or it was added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
    /// The job (or `csep memory` change) that did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
}

/// `lines.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ledger {
    #[serde(rename = "type")]
    pub kind: String,
    pub lines: Vec<LineMeta>,
}

/// `<bucket>/lines.json`.
pub fn path(bucket: &Path) -> PathBuf {
    bucket.join("lines.json")
}

impl Ledger {
    /// The bucket's ledger; empty when there is none or it cannot be read.
    pub fn load(bucket: &Path) -> Ledger {
        std::fs::read(path(bucket))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes the ledger (atomically, 0600). The caller holds the bucket's `.lock`.
    pub fn save(&self, bucket: &Path) -> Result<()> {
        let mut me = self.clone();
        me.kind = "memory_lines".into();
        // Entries that say nothing are not worth keeping.
        me.lines
            .retain(|l| l.pinned || l.confirmed_at.is_some() || l.added_at.is_some());
        let mut bytes = serde_json::to_vec_pretty(&me).map_err(|e| Error::input(e.to_string()))?;
        bytes.push(b'\n');
        crate::fsutil::create_dir_private(bucket)?;
        crate::fsutil::write_atomic(&path(bucket), &bytes)
    }

    fn get(&self, line: &str) -> Option<&LineMeta> {
        let key = normalize(line);
        self.lines.iter().find(|l| l.key == key)
    }

    fn entry(&mut self, line: &str) -> &mut LineMeta {
        let key = normalize(line);
        match self.lines.iter().position(|l| l.key == key) {
            Some(i) => &mut self.lines[i],
            None => {
                self.lines.push(LineMeta {
                    key,
                    text: line.trim().to_string(),
                    ..LineMeta::default()
                });
                self.lines.last_mut().expect("just pushed")
            }
        }
    }

    pub fn is_pinned(&self, line: &str) -> bool {
        self.get(line).is_some_and(|l| l.pinned)
    }

    pub fn pin(&mut self, line: &str) {
        let e = self.entry(line);
        e.pinned = true;
        e.text = line.trim().to_string();
    }

    /// Unpins a line; `false` when it was not pinned.
    pub fn unpin(&mut self, line: &str) -> bool {
        let key = normalize(line);
        match self.lines.iter_mut().find(|l| l.key == key && l.pinned) {
            Some(l) => {
                l.pinned = false;
                true
            }
            None => false,
        }
    }

    /// Records that a line was added (and so confirmed) by `by` at `at`.
    pub fn added(&mut self, line: &str, by: &str, at: &str) {
        let e = self.entry(line);
        if e.added_at.is_none() {
            e.added_at = Some(at.to_string());
        }
        e.confirmed_at = Some(at.to_string());
        e.confirmed_by = Some(by.to_string());
        e.text = line.trim().to_string();
    }

    /// Records that a later session (job `by`) restated the line at `at`.
    pub fn confirm(&mut self, line: &str, by: &str, at: &str) {
        let e = self.entry(line);
        e.confirmed_at = Some(at.to_string());
        e.confirmed_by = Some(by.to_string());
    }

    /// When the line was last confirmed (or added), if the ledger knows.
    pub fn last_confirmed(&self, line: &str) -> Option<&str> {
        self.get(line).and_then(|l| l.confirmed_at.as_deref())
    }

    /// Forgets what it knows about lines not in `present` (keys of MEMORY.md's lines);
    /// pins stay.
    pub fn keep_present(&mut self, present: &HashSet<String>) {
        self.lines.retain(|l| l.pinned || present.contains(&l.key));
    }

    /// The pinned lines.
    pub fn pinned(&self) -> impl Iterator<Item = &LineMeta> {
        self.lines.iter().filter(|l| l.pinned)
    }
}

/// Drops what the ledger says about lines no longer in the bucket's MEMORY.md (pins stay),
/// and the file itself when nothing is left; after an undo, say. Best effort: the ledger
/// only orders the budget fit. The caller holds the bucket's `.lock`.
pub fn prune(bucket: &Path) {
    let file = path(bucket);
    if !file.exists() {
        return;
    }
    let mut ledger = Ledger::load(bucket);
    let before = ledger.lines.len();
    ledger.keep_present(&present(bucket));
    if ledger.lines.is_empty() {
        let _ = std::fs::remove_file(&file);
    } else if ledger.lines.len() != before {
        let _ = ledger.save(bucket);
    }
}

/// The keys of the lines the bucket's MEMORY.md holds now.
pub fn present(bucket: &Path) -> HashSet<String> {
    let memory = std::fs::read_to_string(super::memory_file(bucket)).unwrap_or_default();
    super::lines::entries(&memory)
        .iter()
        .map(|e| normalize(e.body))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pins_and_confirmations_survive_a_save_and_markup_changes() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("b");
        let mut l = Ledger::load(&bucket);
        assert!(l.lines.is_empty());
        l.pin("- Never push to `main`.");
        l.added("- Run `cargo test`.", "job-1", "2026-12-01T00:00:00.000Z");
        l.confirm("Run cargo test", "job-2", "2026-12-02T00:00:00.000Z");
        l.save(&bucket).unwrap();
        let mode = std::fs::metadata(path(&bucket))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let l = Ledger::load(&bucket);
        assert!(l.is_pinned("* never push to main"));
        assert!(!l.is_pinned("Run cargo test"));
        assert_eq!(
            l.last_confirmed("- run `cargo test`"),
            Some("2026-12-02T00:00:00.000Z")
        );
        let mut l = l;
        assert!(l.unpin("Never push to main."));
        assert!(!l.unpin("Never push to main."));
    }

    #[test]
    fn an_unreadable_ledger_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), b"{not json").unwrap();
        assert_eq!(Ledger::load(dir.path()), Ledger::default());
    }
}
