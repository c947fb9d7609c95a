//! TEMPORARY stand-in for the lead's `ledger.rs` (design12.md); replaced by main's file at
//! the merge.

use super::lines::normalize;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ledger {
    pub lines: Vec<LineMeta>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LineMeta {
    pub key: String,
    pub text: String,
    pub pinned: bool,
    pub added_at: Option<String>,
    pub confirmed_at: Option<String>,
    pub confirmed_by: Option<String>,
}

impl Ledger {
    pub fn load(bucket: &Path) -> Ledger {
        std::fs::read(bucket.join("lines.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
    pub fn save(&self, bucket: &Path) -> Result<()> {
        let b = serde_json::to_vec_pretty(self).unwrap_or_default();
        crate::fsutil::write_atomic(&bucket.join("lines.json"), &b)
    }
    fn get_mut(&mut self, line: &str) -> &mut LineMeta {
        let key = normalize(line);
        if let Some(i) = self.lines.iter().position(|m| m.key == key) {
            return &mut self.lines[i];
        }
        self.lines.push(LineMeta {
            key,
            text: line.to_string(),
            ..LineMeta::default()
        });
        self.lines.last_mut().unwrap()
    }
    pub fn is_pinned(&self, line: &str) -> bool {
        let key = normalize(line);
        self.lines.iter().any(|m| m.key == key && m.pinned)
    }
    pub fn pin(&mut self, line: &str) {
        self.get_mut(line).pinned = true;
    }
    pub fn unpin(&mut self, line: &str) -> bool {
        let key = normalize(line);
        match self.lines.iter_mut().find(|m| m.key == key && m.pinned) {
            Some(m) => {
                m.pinned = false;
                true
            }
            None => false,
        }
    }
    pub fn confirm(&mut self, line: &str, by: &str, at: &str) {
        let m = self.get_mut(line);
        m.confirmed_at = Some(at.to_string());
        m.confirmed_by = Some(by.to_string());
    }
    pub fn last_confirmed(&self, line: &str) -> Option<&str> {
        let key = normalize(line);
        self.lines
            .iter()
            .find(|m| m.key == key)
            .and_then(|m| m.confirmed_at.as_deref())
    }
}
