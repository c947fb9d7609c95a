//! Codex: csep's entries in `$CODEX_HOME/hooks.json`, `[features] hooks = true` in
//! config.toml (edited with toml_edit, so the user's comments and keys stay), and trust for
//! the hooks through `codex app-server` (`hooks/list` for the keys and hashes Codex itself
//! computes, then `config/batchWrite` of `hooks.state."<key>".trusted_hash`).

use super::{refresh_recorded, write_recorded, FileChange, HookTarget, Manifest, HOOK_MARK};
use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The events csep hooks, with the timeout (seconds) each handler gets.
pub const EVENTS: &[(&str, u64)] = &[("SessionStart", 10), ("Stop", 10), ("SessionEnd", 3)];

#[derive(Debug, Clone, Default, Serialize)]
pub struct CodexReport {
    pub codex_home: String,
    pub hooks_json: String,
    pub config_toml: String,
    /// `trusted`, `manual` (Codex not found: the user trusts the hooks in `/hooks`), `failed`.
    pub trust: String,
    pub trusted_hooks: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_detail: Option<String>,
}

fn is_ours(handler: &Value) -> bool {
    handler
        .get("command")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains(HOOK_MARK))
}

/// Removes csep's handlers from a `{"hooks": {event: [groups]}}` document; drops groups left
/// empty by that.
pub fn strip_ours(doc: &mut Value) {
    if let Some(events) = doc.get_mut("hooks").and_then(Value::as_object_mut) {
        for groups in events.values_mut() {
            if let Some(arr) = groups.as_array_mut() {
                strip_groups(arr, is_ours);
            }
        }
        events.retain(|_, groups| groups.as_array().is_none_or(|a| !a.is_empty()));
    }
}

/// Adds csep's groups to a hooks document (replacing older csep entries).
pub fn add_ours(doc: &mut Value, command: &str) -> Result<()> {
    strip_ours(doc);
    let root = doc
        .as_object_mut()
        .ok_or_else(|| Error::input("hooks file is not a JSON object"))?;
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let hooks = hooks
        .as_object_mut()
        .ok_or_else(|| Error::input("\"hooks\" is not an object"))?;
    for (event, timeout) in EVENTS {
        let groups = hooks
            .entry(*event)
            .or_insert_with(|| Value::Array(Vec::new()));
        let groups = groups
            .as_array_mut()
            .ok_or_else(|| Error::input(format!("hooks.{event} is not a list")))?;
        groups
            .push(json!({"hooks": [{"type": "command", "command": command, "timeout": timeout}]}));
    }
    Ok(())
}

/// Drops the handlers `ours` picks from each `{"hooks": [handlers]}` group of an event's
/// list, then every group whose `hooks` list is empty.
pub(super) fn strip_groups(arr: &mut Vec<Value>, ours: fn(&Value) -> bool) {
    for g in arr.iter_mut() {
        if let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) {
            hs.retain(|h| !ours(h));
        }
    }
    arr.retain(|g| {
        g.get("hooks")
            .and_then(Value::as_array)
            .is_none_or(|h| !h.is_empty())
    });
}

fn read_json_doc(path: &Path) -> Result<Option<Value>> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::input(format!(
                "{}: not valid JSON ({e}); fix or move it, csep will not overwrite it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

pub fn pretty(doc: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(doc).unwrap_or_default();
    b.push(b'\n');
    b
}

pub(crate) fn read_toml(path: &Path) -> Result<toml_edit::DocumentMut> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(path.display(), e)),
    };
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        Error::input(format!(
            "{}: not valid TOML ({e}); csep will not edit it",
            path.display()
        ))
    })
}

/// Installs (or refreshes) csep's hooks in `codex_home`.
/// `rec_dir` is where the manifest's backups go (the state dir; a scratch dir for a dry run).
pub fn install(
    codex_home: &Path,
    target: &HookTarget,
    codex_bin: Option<&Path>,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Result<CodexReport> {
    super::create_dir_recorded(manifest, codex_home)?;
    let hooks_path = codex_home.join("hooks.json");
    let config_path = codex_home.join("config.toml");
    let command = target.command("codex");

    let mut doc = read_json_doc(&hooks_path)?.unwrap_or_else(|| json!({"hooks": {}}));
    add_ours(&mut doc, &command)?;
    let added: Vec<String> = EVENTS.iter().map(|(e, _)| format!("hooks.{e}")).collect();
    write_recorded(rec_dir, manifest, &hooks_path, &pretty(&doc), &added)?;

    // Hooks are on by default in current Codex; say so explicitly for the versions that
    // needed the feature flag, without touching a value the user set.
    let mut toml = read_toml(&config_path)?;
    let mut toml_added = Vec::new();
    if toml.get("features").is_none() {
        let mut t = toml_edit::Table::new();
        t.set_implicit(false);
        toml.insert("features", toml_edit::Item::Table(t));
    }
    if let Some(features) = toml.get_mut("features").and_then(|f| f.as_table_like_mut()) {
        if features.get("hooks").is_none() {
            features.insert("hooks", toml_edit::value(true));
            toml_added.push("features.hooks".to_string());
        }
    }
    write_recorded(
        rec_dir,
        manifest,
        &config_path,
        toml.to_string().as_bytes(),
        &toml_added,
    )?;

    let mut report = CodexReport {
        codex_home: codex_home.display().to_string(),
        hooks_json: hooks_path.display().to_string(),
        config_toml: config_path.display().to_string(),
        ..Default::default()
    };
    match codex_bin {
        None => {
            report.trust = "manual".into();
            report.trust_detail = Some(
                "codex was not found: open Codex, run /hooks and trust csep's three hooks, or run `csep setup --codex-bin PATH` again"
                    .into(),
            );
        }
        Some(bin) => match trust_keeping_mode(bin, codex_home, &config_path) {
            Ok(keys) => {
                report.trust = "trusted".into();
                report.trusted_hooks = keys.len();
                let added: Vec<String> = keys.iter().map(|k| format!("hooks.state.{k}")).collect();
                refresh_recorded(manifest, &config_path, &added);
            }
            Err(e) => {
                report.trust = "failed".into();
                report.trust_detail = Some(format!("{e}; trust csep's hooks in Codex with /hooks"));
            }
        },
    }
    Ok(report)
}

/// [`trust_hooks`], then the user's mode and owner back on `config.toml`: Codex rewrites it
/// through a new file of its own making (0600 under csep's umask, whatever the file had).
fn trust_keeping_mode(bin: &Path, codex_home: &Path, config: &Path) -> Result<Vec<String>> {
    let kept = fs::metadata(config).ok();
    let r = trust_hooks(bin, codex_home);
    if let Some(m) = kept {
        crate::fsutil::restore_mode_owner(config, &m);
    }
    r
}

/// Talks JSON-RPC (one JSON object per line) to `codex app-server`.
struct AppServer {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
    next_id: u64,
}

impl AppServer {
    fn start(bin: &Path, codex_home: &Path) -> Result<AppServer> {
        let mut child = Command::new(bin)
            .arg("app-server")
            .env("CODEX_HOME", codex_home)
            .current_dir(codex_home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io(format!("starting {} app-server", bin.display()), e))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(AppServer {
            child,
            stdin,
            lines: rx,
            next_id: 0,
        })
    }

    fn send(&mut self, msg: &Value) -> Result<()> {
        writeln!(self.stdin, "{msg}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| Error::io("codex app-server", e))
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"method": method, "id": id, "params": params}))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| Error::input(format!("codex app-server did not answer {method}")))?;
            let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(err) = msg.get("error") {
                return Err(Error::input(format!("codex app-server {method}: {err}")));
            }
            return Ok(msg.get("result").cloned().unwrap_or(Value::Null));
        }
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect_hooks(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(o) if o.contains_key("key") && o.contains_key("currentHash") => {
            out.push(v.clone())
        }
        Value::Object(o) => o.values().for_each(|x| collect_hooks(x, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_hooks(x, out)),
        _ => {}
    }
}

fn our_hooks(list: &Value) -> Vec<Value> {
    let mut all = Vec::new();
    collect_hooks(list, &mut all);
    all.into_iter().filter(is_ours).collect()
}

/// Asks Codex for csep's hooks' keys and hashes and stores them as trusted. Returns the keys.
pub fn trust_hooks(bin: &Path, codex_home: &Path) -> Result<Vec<String>> {
    let mut server = AppServer::start(bin, codex_home)?;
    server.request(
        "initialize",
        json!({"clientInfo": {"name": "csep", "title": "csep setup", "version": env!("CARGO_PKG_VERSION")}}),
    )?;
    server.send(&json!({"method": "initialized"}))?;
    let cwd = codex_home.display().to_string();
    let listed = server.request("hooks/list", json!({"cwds": [cwd]}))?;
    let ours = our_hooks(&listed);
    if ours.len() < EVENTS.len() {
        return Err(Error::input(format!(
            "codex lists {} of csep's {} hooks (is hooks.json being read?)",
            ours.len(),
            EVENTS.len()
        )));
    }
    let mut state = Map::new();
    let mut keys = Vec::new();
    for h in &ours {
        let (Some(key), Some(hash)) = (h["key"].as_str(), h["currentHash"].as_str()) else {
            continue;
        };
        state.insert(key.to_string(), json!({"trusted_hash": hash}));
        keys.push(key.to_string());
    }
    server.request(
        "config/batchWrite",
        json!({"edits": [{"keyPath": "hooks.state", "mergeStrategy": "upsert", "value": Value::Object(state)}]}),
    )?;
    // Codex must now see them as trusted.
    let listed = server.request("hooks/list", json!({"cwds": [cwd]}))?;
    let untrusted: Vec<String> = our_hooks(&listed)
        .iter()
        .filter(|h| h.get("trustStatus").and_then(Value::as_str) != Some("trusted"))
        .filter_map(|h| h["key"].as_str().map(str::to_string))
        .collect();
    if !untrusted.is_empty() {
        return Err(Error::input(format!(
            "codex still reports as untrusted: {}",
            untrusted.join(", ")
        )));
    }
    Ok(keys)
}

/// Takes csep's parts out of a Codex file the user changed after setup.
pub fn clean(path: &Path, change: &FileChange) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == "hooks.json" {
        let Some(mut doc) = read_json_doc(path)? else {
            return Ok(());
        };
        strip_ours(&mut doc);
        return crate::fsutil::write_atomic_keep_mode(path, &pretty(&doc));
    }
    if name == "config.toml" {
        let mut toml = read_toml(path)?;
        for a in &change.added {
            if a == "features.hooks" {
                if let Some(f) = toml.get_mut("features").and_then(|f| f.as_table_like_mut()) {
                    f.remove("hooks");
                }
            } else if a == super::mcp::CODEX_KEY {
                super::mcp::unregister_codex(&mut toml);
            } else if let Some(key) = a.strip_prefix("hooks.state.") {
                if let Some(state) = toml
                    .get_mut("hooks")
                    .and_then(|h| h.as_table_like_mut())
                    .and_then(|h| h.get_mut("state"))
                    .and_then(|s| s.as_table_like_mut())
                {
                    state.remove(key);
                }
            }
        }
        drop_empty_tables(&mut toml);
        return crate::fsutil::write_atomic_keep_mode(path, toml.to_string().as_bytes());
    }
    Ok(())
}

/// Removes the tables csep's removals left empty (`[features]`, `[hooks.state]`, `[hooks]`),
/// but only when empty: a table the user put keys in stays.
fn drop_empty_tables(toml: &mut toml_edit::DocumentMut) {
    let empty = |item: Option<&toml_edit::Item>| {
        item.and_then(|i| i.as_table_like())
            .is_some_and(|t| t.is_empty())
    };
    if let Some(hooks) = toml.get_mut("hooks").and_then(|h| h.as_table_like_mut()) {
        if empty(hooks.get("state")) {
            hooks.remove("state");
        }
    }
    for name in ["hooks", "features"] {
        if empty(toml.get(name)) {
            toml.remove(name);
        }
    }
}

/// Where Codex lives for the trust step: `--codex-bin`, else `codex` on PATH.
pub fn find_codex(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    crate::paths::find_program("codex")
}
