//! `csep mcp` registered with the hosts as the MCP server `csep`: `[mcp_servers.csep]` in
//! Codex's `config.toml` (edited with toml_edit, so the user's comments and keys stay) and
//! `mcpServers.csep` in Claude Code's user configuration (`.claude.json`, what `claude mcp add
//! --scope user` writes), each recorded in the install manifest so uninstall takes it out.
//!
//! The server gets `CSEP_HOME` explicitly: Codex starts MCP servers with a short allowlist of
//! environment variables, and either host may run it from anywhere.

use super::{read_json, write_recorded, Manifest};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The server's name in both hosts.
pub const NAME: &str = "csep";

/// What the manifest's `added` says for Codex's entry (and `clean` takes out).
pub const CODEX_KEY: &str = "mcp_servers.csep";

/// What the manifest's `added` says for Claude Code's entry.
pub const CLAUDE_KEY: &str = "mcpServers.csep";

/// How the hosts start the server: `<csep> mcp` with the state directory in its environment.
#[derive(Debug, Clone)]
pub struct Server {
    pub csep_bin: PathBuf,
    pub state_dir: PathBuf,
}

pub use crate::paths::claude_user_config;

/// Adds (or brings up to date) `[mcp_servers.csep]` in `$CODEX_HOME/config.toml`.
pub fn register_codex(
    codex_home: &Path,
    server: &Server,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Result<PathBuf> {
    let path = codex_home.join("config.toml");
    let mut toml = super::codex::read_toml(&path)?;
    if toml.get("mcp_servers").is_none() {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        toml.insert("mcp_servers", toml_edit::Item::Table(t));
    }
    let servers = toml
        .get_mut("mcp_servers")
        .and_then(|s| s.as_table_like_mut())
        .ok_or_else(|| {
            Error::input(format!(
                "{}: mcp_servers is not a table; csep will not edit it",
                path.display()
            ))
        })?;
    let mut entry = toml_edit::Table::new();
    entry.insert(
        "command",
        toml_edit::value(server.csep_bin.to_string_lossy().as_ref()),
    );
    let mut args = toml_edit::Array::new();
    args.push("mcp");
    entry.insert("args", toml_edit::value(args));
    let mut env = toml_edit::InlineTable::new();
    env.insert(
        "CSEP_HOME",
        server.state_dir.to_string_lossy().as_ref().into(),
    );
    entry.insert("env", toml_edit::value(env));
    // The same keys in the user's existing entry are replaced; any other key they set stays.
    match servers.get_mut(NAME).and_then(|e| e.as_table_like_mut()) {
        Some(existing) => {
            for (k, v) in entry.iter() {
                existing.insert(k, v.clone());
            }
        }
        None => {
            servers.insert(NAME, toml_edit::Item::Table(entry));
        }
    }
    write_recorded(
        rec_dir,
        manifest,
        &path,
        toml.to_string().as_bytes(),
        &[CODEX_KEY.to_string()],
    )?;
    Ok(path)
}

/// Takes `[mcp_servers.csep]` out of a parsed config.toml, and `[mcp_servers]` with it when
/// nothing else is left in it.
pub fn unregister_codex(toml: &mut toml_edit::DocumentMut) {
    if let Some(servers) = toml
        .get_mut("mcp_servers")
        .and_then(|s| s.as_table_like_mut())
    {
        servers.remove(NAME);
        if servers.is_empty() {
            toml.remove("mcp_servers");
        }
    }
}

/// Adds (or brings up to date) the user-scope `mcpServers.csep` in Claude Code's
/// `.claude.json`, keeping every other key (Claude Code keeps much of its state there).
/// `path` is [`claude_user_config`]'s (a scratch copy for a dry run).
pub fn register_claude(
    path: &Path,
    server: &Server,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Result<()> {
    let path = path.to_path_buf();
    let mut doc = read_json(&path)?.unwrap_or_else(|| json!({}));
    let root = doc
        .as_object_mut()
        .ok_or_else(|| Error::input(format!("{}: not a JSON object", path.display())))?;
    let servers = root.entry("mcpServers").or_insert_with(|| json!({}));
    let servers = servers.as_object_mut().ok_or_else(|| {
        Error::input(format!(
            "{}: mcpServers is not an object; csep will not edit it",
            path.display()
        ))
    })?;
    servers.insert(
        NAME.to_string(),
        json!({
            "type": "stdio",
            "command": server.csep_bin,
            "args": ["mcp"],
            "env": {"CSEP_HOME": server.state_dir},
        }),
    );
    write_recorded(
        rec_dir,
        manifest,
        &path,
        &super::codex::pretty(&doc),
        &[CLAUDE_KEY.to_string()],
    )
}

/// Takes `mcpServers.csep` out of a `.claude.json` the user (or Claude Code) changed since
/// setup; everything else stays as it is.
pub fn clean_claude(path: &Path) -> Result<()> {
    let Some(mut doc) = read_json(path)? else {
        return Ok(());
    };
    if let Some(root) = doc.as_object_mut() {
        if let Some(servers) = root.get_mut("mcpServers").and_then(Value::as_object_mut) {
            servers.remove(NAME);
            if servers.is_empty() {
                root.remove("mcpServers");
            }
        }
    }
    crate::fsutil::write_atomic_keep_mode(path, &super::codex::pretty(&doc))
}

/// Whether a host's file registers `csep mcp` for `server`: `None` when it has no `csep`
/// server, `Some(true)` when the entry runs this csep with this state directory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Registration {
    /// The file the registration is in.
    pub file: String,
    pub registered: bool,
    /// The entry runs this csep's `mcp` with this state directory: setup would change nothing.
    pub current: bool,
    /// The command the entry runs, when there is one.
    pub command: Option<String>,
}

/// `csep status`'s view of Codex's `[mcp_servers.csep]`.
pub fn codex_registration(codex_home: &Path, server: &Server) -> Registration {
    let path = codex_home.join("config.toml");
    let toml = super::codex::read_toml(&path).ok();
    let entry = toml
        .as_ref()
        .and_then(|t| t.get("mcp_servers"))
        .and_then(|s| s.get(NAME));
    let command = entry
        .and_then(|e| e.get("command"))
        .and_then(|c| c.as_str())
        .map(str::to_string);
    let args: Vec<String> = entry
        .and_then(|e| e.get("args"))
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let home = entry
        .and_then(|e| e.get("env"))
        .and_then(|e| e.get("CSEP_HOME"))
        .and_then(|h| h.as_str())
        .map(str::to_string);
    registration(&path, server, command, args, home)
}

/// `csep status`'s view of Claude Code's user-scope `mcpServers.csep`.
pub fn claude_registration(claude_dir: &Path, server: &Server) -> Registration {
    let path = claude_user_config(claude_dir);
    let doc = read_json(&path).ok().flatten().unwrap_or(Value::Null);
    let entry = &doc["mcpServers"][NAME];
    let args = entry["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    registration(
        &path,
        server,
        entry["command"].as_str().map(str::to_string),
        args,
        entry["env"]["CSEP_HOME"].as_str().map(str::to_string),
    )
}

fn registration(
    path: &Path,
    server: &Server,
    command: Option<String>,
    args: Vec<String>,
    home: Option<String>,
) -> Registration {
    let current = command.as_deref() == Some(&*server.csep_bin.to_string_lossy())
        && args == ["mcp"]
        && home.as_deref() == Some(&*server.state_dir.to_string_lossy());
    Registration {
        file: path.display().to_string(),
        registered: command.is_some(),
        current,
        command,
    }
}
