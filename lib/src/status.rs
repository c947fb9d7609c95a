//! `csep status`: one read-only snapshot of csep's state, for a person asking "why didn't
//! this happen?". Field names follow csep 1.3.10's `csep status` where it had the same
//! thing. Collecting never writes a file (no lock file, no directory, no database) and never
//! fails: what cannot be read is reported in place.

use crate::config::{self, Config};
use crate::envfile::{self, ProviderKeys};
use crate::reflect::{self, Outcome, StatusReport};
use crate::timefmt;
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

/// The whole snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub timestamp: String,
    pub home: String,
    pub config: ConfigStatus,
    /// `.env.provider`: which provider keys it sets (names only) and its mode.
    pub env_provider: ProviderKeys,
    pub stable_memory: StableMemory,
    pub session_reflection: StatusReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigStatus {
    pub path: String,
    pub exists: bool,
    /// Unknown keys, bad values, a file that does not parse: each one line.
    pub warnings: Vec<String>,
}

/// The repo buckets under `projects/`.
#[derive(Debug, Clone, Serialize)]
pub struct StableMemory {
    pub projects_root: String,
    pub exists: bool,
    pub bucket_count: u64,
    pub total_refs_count: u64,
    pub buckets: Vec<Bucket>,
    /// The latest reflection job's verdict when it reviewed memory, and the first reason
    /// it gave against a memory file.
    pub latest_memory_validation_status: Option<String>,
    pub latest_memory_validation_warning: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub bucket: String,
    pub memory_dir: String,
    pub memory_file_exists: bool,
    pub memory_size_bytes: u64,
    /// Characters (what the budget counts), `None` when the file is not UTF-8.
    pub memory_chars: Option<u64>,
    /// The MEMORY.md budget (`[memory] inject_max_chars`).
    pub memory_max_chars: u64,
    pub over_budget: bool,
    pub refs_count: u64,
}

/// Collects the snapshot for `state_dir`.
pub fn collect(state_dir: &Path) -> Status {
    let (config, warnings) = config::load(state_dir);
    let file = config::path(state_dir);
    let session_reflection = reflect::status(state_dir, &config);
    Status {
        kind: "csep_status",
        timestamp: timefmt::format_iso_ms(timefmt::now_ms()),
        home: state_dir.display().to_string(),
        config: ConfigStatus {
            path: file.display().to_string(),
            exists: file.is_file(),
            warnings,
        },
        env_provider: envfile::provider_keys(state_dir),
        stable_memory: stable_memory(state_dir, &config, session_reflection.latest.as_ref()),
        session_reflection,
    }
}

fn stable_memory(state_dir: &Path, config: &Config, latest: Option<&Outcome>) -> StableMemory {
    let root = state_dir.join("projects");
    let budget = config.memory.inject_max_chars;
    let mut buckets: Vec<Bucket> = fs::read_dir(&root)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| bucket(&e.path(), budget))
                .collect()
        })
        .unwrap_or_default();
    buckets.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    let (status, warning) = latest_memory_validation(latest);
    StableMemory {
        projects_root: root.display().to_string(),
        exists: root.is_dir(),
        bucket_count: buckets.len() as u64,
        total_refs_count: buckets.iter().map(|b| b.refs_count).sum(),
        buckets,
        latest_memory_validation_status: status,
        latest_memory_validation_warning: warning,
    }
}

fn bucket(dir: &Path, budget: u64) -> Bucket {
    let memory_dir = dir.join("memory");
    let file = memory_dir.join("MEMORY.md");
    let bytes = fs::read(&file).ok();
    let chars = bytes
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(|s| s.chars().count() as u64);
    Bucket {
        bucket: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        memory_dir: memory_dir.display().to_string(),
        memory_file_exists: bytes.is_some(),
        memory_size_bytes: bytes.as_ref().map_or(0, |b| b.len() as u64),
        memory_chars: chars,
        memory_max_chars: budget,
        over_budget: chars.is_some_and(|c| c > budget),
        refs_count: count_md(&memory_dir.join("refs")),
    }
}

/// `*.md` files below `dir` (symlinks not followed).
fn count_md(dir: &Path) -> u64 {
    let mut n = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() && e.path().extension().is_some_and(|x| x == "md") => n += 1,
                _ => {}
            }
        }
    }
    n
}

fn latest_memory_validation(latest: Option<&Outcome>) -> (Option<String>, Option<String>) {
    let Some(o) = latest.filter(|o| o.scopes.contains(&crate::trigger::Scope::Memory)) else {
        return (None, None);
    };
    let Some(v) = &o.validation else {
        return (Some(o.status.as_str().to_string()), o.reason.clone());
    };
    let warning = v
        .rejections
        .iter()
        .find(|r| r.path.starts_with("memory/"))
        .map(|r| format!("{}: {}", r.path, r.reason));
    (v.status.clone(), warning)
}
