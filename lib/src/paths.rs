//! Where things live: the state directory (csep 1.3.10's resolution order), the recall
//! database inside it (and csep 1.3.10's), the hosts' transcript roots, and programs on PATH.

use std::env;
use std::path::{Path, PathBuf};

fn home() -> PathBuf {
    env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn non_empty_var(name: &str) -> Option<PathBuf> {
    env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `--state-dir`, else `$CSEP_HOME`, else `$CODEX_SELF_EVOLUTION_HOME`, else
/// `~/.codex-self-evolution`.
pub fn state_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| non_empty_var("CSEP_HOME"))
        .or_else(|| non_empty_var("CODEX_SELF_EVOLUTION_HOME"))
        .unwrap_or_else(|| home().join(".codex-self-evolution"))
}

/// The recall database. Its own file name, so a 1.3.10 database beside it is never touched.
pub fn index_db(state_dir: &Path) -> PathBuf {
    state_dir.join("index").join("recall.sqlite3")
}

/// csep 1.3.10's recall database in the same state dir, which `csep recall import-legacy`
/// reads (and nothing ever writes).
pub fn legacy_db(state_dir: &Path) -> PathBuf {
    state_dir.join("session_recall").join("state.db")
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> PathBuf {
    non_empty_var("CODEX_HOME").unwrap_or_else(|| home().join(".codex"))
}

/// Where Codex keeps rollouts.
pub fn codex_sessions_root() -> PathBuf {
    codex_home().join("sessions")
}

/// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub fn claude_config_dir() -> PathBuf {
    non_empty_var("CLAUDE_CONFIG_DIR").unwrap_or_else(|| home().join(".claude"))
}

/// Claude Code's user configuration file (user-scope MCP servers, among much else):
/// `.claude.json` in `$CLAUDE_CONFIG_DIR` when that is set, beside the default `~/.claude`
/// in `~` otherwise; a directory given explicitly holds its own, as it would for Claude Code
/// pointed there.
pub fn claude_user_config(claude_dir: &Path) -> PathBuf {
    if non_empty_var("CLAUDE_CONFIG_DIR").is_none() && claude_dir == home().join(".claude") {
        home().join(".claude.json")
    } else {
        claude_dir.join(".claude.json")
    }
}

/// `$CLAUDE_CONFIG_DIR/projects`, else `~/.claude/projects`.
pub fn claude_projects_root() -> PathBuf {
    claude_config_dir().join("projects")
}

/// The program `name` would run: `name` itself when it holds a `/`, else the first
/// executable `name` in a `$PATH` directory. `None` when there is no such file.
pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        let p = PathBuf::from(name);
        return runnable(&p).then_some(p);
    }
    env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| runnable(p))
    })
}
