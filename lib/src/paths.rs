//! Where things live: the state directory (csep 1.3.10's resolution order), the recall
//! database inside it (and csep 1.3.10's), the hosts' transcript roots, and programs on PATH.

use crate::wire::Agent;
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

/// `$COPILOT_HOME`, else `~/.copilot`: Copilot CLI's `session-state/` and `session-store.db`.
pub fn copilot_home() -> PathBuf {
    non_empty_var("COPILOT_HOME").unwrap_or_else(|| home().join(".copilot"))
}

/// Qwen Code's runtime dir, where `projects/<cwd>/chats/` is: `$QWEN_RUNTIME_DIR`, else
/// `$QWEN_HOME`, else `~/.qwen`.
pub fn qwen_runtime_dir() -> PathBuf {
    non_empty_var("QWEN_RUNTIME_DIR")
        .or_else(|| non_empty_var("QWEN_HOME"))
        .unwrap_or_else(|| home().join(".qwen"))
}

/// Qwen Code's configuration dir (`settings.json`): `$QWEN_HOME`, else `~/.qwen`.
pub fn qwen_home() -> PathBuf {
    non_empty_var("QWEN_HOME").unwrap_or_else(|| home().join(".qwen"))
}

/// Factory Droid's `.factory`, under `$FACTORY_HOME_OVERRIDE` (which Droid reads in place of
/// `$HOME`) or `~`.
pub fn factory_home() -> PathBuf {
    non_empty_var("FACTORY_HOME_OVERRIDE")
        .unwrap_or_else(home)
        .join(".factory")
}

/// Gemini CLI's `.gemini`, under `$GEMINI_CLI_HOME` (Gemini appends `.gemini`) or `~`.
pub fn gemini_home() -> PathBuf {
    non_empty_var("GEMINI_CLI_HOME")
        .unwrap_or_else(home)
        .join(".gemini")
}

/// OpenCode's data dir: `$XDG_DATA_HOME/opencode`, else `~/.local/share/opencode`.
pub fn opencode_data_dir() -> PathBuf {
    non_empty_var("XDG_DATA_HOME")
        .unwrap_or_else(|| home().join(".local").join("share"))
        .join("opencode")
}

/// OpenCode's config dir (`plugins/`): `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`.
pub fn opencode_config_dir() -> PathBuf {
    non_empty_var("XDG_CONFIG_HOME")
        .unwrap_or_else(|| home().join(".config"))
        .join("opencode")
}

/// `$CURSOR_CONFIG_DIR`, else `~/.cursor`.
pub fn cursor_config_dir() -> PathBuf {
    non_empty_var("CURSOR_CONFIG_DIR").unwrap_or_else(|| home().join(".cursor"))
}

/// Where a host keeps its history, the root a backfill walks when none is given. Aider has no
/// central place (it writes `.aider.chat.history.md` into each repository): `None`, unless
/// `$AIDER_CHAT_HISTORY_FILE` names one file.
pub fn history_root(agent: Agent) -> Option<PathBuf> {
    Some(match agent {
        Agent::Codex => codex_sessions_root(),
        Agent::Claude => claude_projects_root(),
        Agent::Copilot => copilot_home(),
        Agent::Qwen => qwen_runtime_dir().join("projects"),
        Agent::Droid => factory_home().join("sessions"),
        Agent::Gemini => gemini_home().join("tmp"),
        Agent::OpenCode => opencode_data_dir(),
        Agent::Cursor => cursor_config_dir(),
        Agent::Aider => return non_empty_var("AIDER_CHAT_HISTORY_FILE"),
    })
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
