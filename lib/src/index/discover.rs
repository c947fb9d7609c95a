//! Which files under a transcript root are a host's transcripts: one rule per host, from the
//! file name and the folders it sits in (hosts.md gives each layout), and the walk that
//! applies it, newest first. Side files beside the transcripts (Droid's `.settings.json`,
//! Qwen's `.runtime.json`, Copilot's `workspace.yaml`) are never candidates.

use super::backfill::FileError;
use crate::archive::{self, Stat};
use crate::error::{Error, Fault, Result};
use crate::wire::Agent;
use std::path::{Path, PathBuf};
use walkdir::{DirEntry, WalkDir};

/// Whether `path` (named `name`) is a transcript of `agent`.
pub(super) fn is_candidate(agent: Agent, path: &Path, name: &str) -> bool {
    let jsonl = name.ends_with(".jsonl");
    let under = |dir: &str| path.components().any(|c| c.as_os_str() == dir);
    let parent_is = |dir: &str| {
        path.parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == dir)
    };
    match agent {
        Agent::Codex => name.starts_with("rollout-") && (jsonl || name.ends_with(".json")),
        Agent::Claude => jsonl,
        // `session-state/<id>/events.jsonl`; `session-store.db` is the stores reader's.
        Agent::Copilot => name == "events.jsonl" && under("session-state"),
        // `projects/<enc>/chats/<id>.jsonl`.
        Agent::Qwen => jsonl && parent_is("chats"),
        // `sessions/<enc>/<id>.jsonl`.
        Agent::Droid => jsonl && under("sessions"),
        // `tmp/<slug>/chats/session-*.jsonl|json`; sub-agents in `chats/<parent>/<id>.jsonl`;
        // Antigravity step logs when the root is the Gemini home.
        Agent::Gemini => {
            let in_chats = parent_is("chats");
            let in_sub = path
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|n| n == "chats");
            (in_chats && name.starts_with("session-") && (jsonl || name.ends_with(".json")))
                || (in_sub && jsonl)
                // Antigravity: `antigravity*/brain/<id>/.system_generated/logs/`.
                || (name == "transcript.jsonl" && under("brain"))
        }
        // `projects/<flat>/agent-transcripts/{<id>.jsonl, <id>/<id>.jsonl, <id>/subagents/…}`.
        Agent::Cursor => jsonl && under("agent-transcripts"),
        _ => false,
    }
}

/// Folders never worth walking into: a host home holds installed extensions and packages
/// beside its history (`~/.cursor/extensions`).
fn is_pruned(agent: Agent, e: &DirEntry) -> bool {
    if !e.file_type().is_dir() {
        return false;
    }
    let name = e.file_name();
    name == "node_modules" || (agent == Agent::Cursor && name == "extensions")
}

/// Transcript files found by a walk, with their stats.
type Found = Vec<(PathBuf, Stat)>;

/// Walks `root` for transcripts of `agent`, newest first. Entries that look like transcripts
/// but are not files (a directory named `x.jsonl`) come back as errors.
pub(super) fn discover(agent: Agent, root: &Path) -> Result<(Found, Vec<FileError>)> {
    if !root.is_dir() {
        return Err(Error::usage(format!(
            "transcript root {} does not exist or is not a directory",
            root.display()
        )));
    }
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let walker = WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_pruned(agent, e));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| root.display().to_string());
                errors.push(FileError {
                    path,
                    message: format!("cannot read: {e}"),
                    fault: e.io_error().and_then(Fault::of_io),
                });
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy();
        if !is_candidate(agent, entry.path(), &name) {
            continue;
        }
        if entry.file_type().is_dir() {
            errors.push(FileError {
                path: entry.path().display().to_string(),
                message: "is a directory, not a transcript".into(),
                fault: None,
            });
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        match archive::stat(entry.path()) {
            Ok(st) => files.push((entry.into_path(), st)),
            Err(e) => errors.push(FileError::from_error(entry.path(), &e)),
        }
    }
    files.sort_by(|a, b| b.1.mtime_ms.cmp(&a.1.mtime_ms).then_with(|| a.0.cmp(&b.0)));
    Ok((files, errors))
}
