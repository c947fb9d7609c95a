//! The JSON hook files of the hosts csep added after Codex and Claude Code, one engine for
//! all: GitHub Copilot CLI (`hooks` in `$COPILOT_HOME/settings.json`, camelCase events, flat
//! handler lists with `bash` and `timeoutSec`), Qwen Code and Gemini CLI (`hooks` in their
//! `settings.json`, Claude-shaped groups, timeouts in ms), Factory Droid (`hooks.json` with
//! the event map at the top level: 0.225.2 ignores the documented `{"hooks":…}` wrapper;
//! timeouts in s) and Cursor CLI (`hooks.json`, `{"version":1,"hooks":…}`, flat handlers).
//! A [`Spec`] says which of these shapes a host's file has; install and clean keep every key,
//! group and handler that is not csep's, and the manifest ([`super::write_recorded`]) keeps
//! the user's bytes and mode for uninstall.

use super::{read_json, write_recorded, HookTarget, Manifest, HOOK_MARK};
use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// How one host's hook file is laid out.
#[derive(Debug)]
pub struct Spec {
    /// csep's name for the host (`csep hook <agent>`).
    pub agent: &'static str,
    /// The host's home (it must exist for setup to install there).
    pub home: fn() -> PathBuf,
    /// The hook file, in the home.
    pub file_name: &'static str,
    /// The event map sits under a `hooks` key (else at the top level).
    pub wrapped: bool,
    /// The file carries `"version": 1` (Cursor).
    pub version: bool,
    /// Flat handler lists (no matcher groups): the command key and the timeout key.
    pub flat: Option<(&'static str, &'static str)>,
    /// Timeouts are in milliseconds (else seconds).
    pub timeout_ms: bool,
    /// The host's events csep hooks, each with its timeout in seconds.
    pub events: &'static [(&'static str, u64)],
}

pub const COPILOT: Spec = Spec {
    agent: "copilot",
    home: crate::paths::copilot_home,
    file_name: "settings.json",
    wrapped: true,
    version: false,
    flat: Some(("bash", "timeoutSec")),
    timeout_ms: false,
    events: &[("sessionStart", 10), ("agentStop", 10), ("sessionEnd", 5)],
};

pub const QWEN: Spec = Spec {
    agent: "qwen",
    home: crate::paths::qwen_home,
    file_name: "settings.json",
    wrapped: true,
    version: false,
    flat: None,
    timeout_ms: true,
    events: &[("SessionStart", 10), ("Stop", 10), ("SessionEnd", 3)],
};

pub const DROID: Spec = Spec {
    agent: "droid",
    home: crate::paths::factory_home,
    file_name: "hooks.json",
    wrapped: false,
    version: false,
    flat: None,
    timeout_ms: false,
    events: &[("SessionStart", 10), ("Stop", 10), ("SessionEnd", 3)],
};

pub const GEMINI: Spec = Spec {
    agent: "gemini",
    home: crate::paths::gemini_home,
    file_name: "settings.json",
    wrapped: true,
    version: false,
    flat: None,
    timeout_ms: true,
    events: &[("SessionStart", 10), ("AfterAgent", 10), ("SessionEnd", 3)],
};

pub const CURSOR: Spec = Spec {
    agent: "cursor",
    home: crate::paths::cursor_config_dir,
    file_name: "hooks.json",
    wrapped: true,
    version: true,
    flat: Some(("command", "timeout")),
    timeout_ms: false,
    events: &[("sessionStart", 10), ("stop", 10), ("sessionEnd", 3)],
};

/// Every host whose hooks live in a JSON file of this shape.
pub const ALL: [&Spec; 5] = [&COPILOT, &QWEN, &DROID, &GEMINI, &CURSOR];

/// The spec for a host name.
pub fn spec(agent: &str) -> Option<&'static Spec> {
    ALL.into_iter().find(|s| s.agent == agent)
}

/// What setup did for one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub home: String,
    pub file: String,
    /// The host events csep's hooks are on.
    pub events: Vec<&'static str>,
}

impl Spec {
    pub fn file(&self, home: &Path) -> PathBuf {
        home.join(self.file_name)
    }

    /// The command csep's handler for `event` runs (the event is named: not every host says
    /// it in the payload).
    pub fn command(&self, target: &HookTarget, event: &str) -> String {
        target.command(&format!("{} {event}", self.agent))
    }

    fn handler(&self, command: &str, secs: u64) -> Value {
        let timeout = if self.timeout_ms { secs * 1000 } else { secs };
        match self.flat {
            Some(("bash", tkey)) => json!({"type": "command", "bash": command, tkey: timeout}),
            Some((ckey, tkey)) => json!({ckey: command, tkey: timeout}),
            None => json!({"hooks": [{"type": "command", "command": command, "timeout": timeout}]}),
        }
    }

    fn events_of<'a>(&self, doc: &'a Value) -> Option<&'a Map<String, Value>> {
        if self.wrapped {
            doc.get("hooks")?.as_object()
        } else {
            doc.as_object()
        }
    }

    fn events_of_mut<'a>(&self, doc: &'a mut Value) -> Option<&'a mut Map<String, Value>> {
        if self.wrapped {
            doc.get_mut("hooks")?.as_object_mut()
        } else {
            doc.as_object_mut()
        }
    }

    /// The handlers of one event's list: the list itself when flat, else every group's.
    fn handlers<'a>(&self, list: &'a Value) -> Vec<&'a Value> {
        let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
        match self.flat {
            Some(_) => items.iter().collect(),
            None => items
                .iter()
                .filter_map(|g| g.get("hooks")?.as_array())
                .flatten()
                .collect(),
        }
    }

    /// csep's handler for `event`, if the document has one.
    pub fn find_ours<'a>(&self, doc: &'a Value, event: &str) -> Option<&'a Value> {
        let list = self.events_of(doc)?.get(event)?;
        self.handlers(list).into_iter().find(|h| is_ours(h))
    }

    /// The command a handler runs.
    pub fn command_of<'a>(&self, handler: &'a Value) -> Option<&'a str> {
        let key = self.flat.map_or("command", |(c, _)| c);
        handler.get(key).and_then(Value::as_str)
    }

    /// Takes csep's handlers out; a group, event list or (wrapped) `hooks` object left empty
    /// by that goes too.
    pub fn strip(&self, doc: &mut Value) {
        let flat = self.flat.is_some();
        if let Some(events) = self.events_of_mut(doc) {
            for list in events.values_mut() {
                let Some(arr) = list.as_array_mut() else {
                    continue;
                };
                if flat {
                    arr.retain(|h| !is_ours(h));
                    continue;
                }
                super::codex::strip_groups(arr, is_ours);
            }
            events.retain(|_, list| list.as_array().is_none_or(|a| !a.is_empty()));
        }
        if self.wrapped && !self.version {
            if let Some(o) = doc.as_object_mut() {
                if o.get("hooks")
                    .and_then(Value::as_object)
                    .is_some_and(Map::is_empty)
                {
                    o.remove("hooks");
                }
            }
        }
    }

    /// Adds csep's handlers (replacing older ones of csep's) to `doc`.
    pub fn add(&self, doc: &mut Value, target: &HookTarget) -> Result<()> {
        self.strip(doc);
        let root = doc
            .as_object_mut()
            .ok_or_else(|| Error::input("the hook file is not a JSON object"))?;
        if self.version && !root.contains_key("version") {
            root.insert("version".into(), 1.into());
        }
        let events = if self.wrapped {
            root.entry("hooks")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .ok_or_else(|| Error::input("\"hooks\" is not an object"))?
        } else {
            root
        };
        for (event, secs) in self.events {
            let list = events
                .entry(*event)
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .ok_or_else(|| Error::input(format!("{event} is not a list")))?;
            list.push(self.handler(&self.command(target, event), *secs));
        }
        Ok(())
    }

    /// Installs (or refreshes) csep's hooks in `home`'s hook file.
    pub fn install(
        &self,
        home: &Path,
        target: &HookTarget,
        rec_dir: &Path,
        manifest: &mut Manifest,
    ) -> Result<HostReport> {
        let path = self.file(home);
        let mut doc = read_json(&path)?.unwrap_or_else(|| json!({}));
        self.add(&mut doc, target)?;
        write_recorded(rec_dir, manifest, &path, &pretty(&doc), &self.added())?;
        Ok(HostReport {
            home: home.display().to_string(),
            file: path.display().to_string(),
            events: self.events.iter().map(|(e, _)| *e).collect(),
        })
    }

    /// What the manifest's `added` says for this host's file: `hooks.<event>` (or the bare
    /// event, for Droid's top-level map).
    pub fn added(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|(e, _)| match self.wrapped {
                true => format!("hooks.{e}"),
                false => e.to_string(),
            })
            .collect()
    }

    /// Takes csep's hooks out of a file the user changed after setup.
    pub fn clean(&self, path: &Path) -> Result<()> {
        let Some(mut doc) = read_json(path)? else {
            return Ok(());
        };
        self.strip(&mut doc);
        crate::fsutil::write_atomic_keep_mode(path, &pretty(&doc))
    }
}

/// The spec of a file setup recorded, for uninstall's clean step: the host whose file name
/// it has and whose events the manifest says csep added to it. (Qwen Code's entries read
/// like Claude Code's; both are cleaned alike.)
pub fn spec_of_change(path: &Path, added: &[String]) -> Option<&'static Spec> {
    let name = path.file_name()?.to_str()?;
    ALL.into_iter().find(|s| {
        s.file_name == name && {
            let ours = s.added();
            !ours.is_empty() && ours.iter().all(|a| added.contains(a))
        }
    })
}

/// A handler is csep's when one of its strings runs csep's hook script.
fn is_ours(handler: &Value) -> bool {
    handler.as_object().is_some_and(|o| {
        o.values()
            .any(|v| v.as_str().is_some_and(|s| s.contains(HOOK_MARK)))
    })
}

fn pretty(doc: &Value) -> Vec<u8> {
    super::codex::pretty(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> HookTarget {
        HookTarget {
            csep_bin: "/bin/csep".into(),
            state_dir: "/s".into(),
            script: "/s/bin/csep-hook.sh".into(),
        }
    }

    #[test]
    fn each_shape_is_written_as_its_host_reads_it() {
        let t = target();
        let mut d = json!({"theme": "dark"});
        DROID.add(&mut d, &t).unwrap();
        assert!(d.get("hooks").is_none(), "Droid: no wrapper");
        assert_eq!(d["Stop"][0]["hooks"][0]["timeout"], 10);
        assert_eq!(d["theme"], "dark");
        let mut q = json!({});
        QWEN.add(&mut q, &t).unwrap();
        assert_eq!(q["hooks"]["SessionStart"][0]["hooks"][0]["timeout"], 10_000);
        let mut c = json!({});
        COPILOT.add(&mut c, &t).unwrap();
        let h = &c["hooks"]["agentStop"][0];
        assert_eq!(h["type"], "command");
        assert_eq!(h["timeoutSec"], 10);
        assert!(h["bash"]
            .as_str()
            .unwrap()
            .ends_with("csep-hook.sh' copilot agentStop"));
        let mut k = json!({});
        CURSOR.add(&mut k, &t).unwrap();
        assert_eq!(k["version"], 1);
        assert_eq!(k["hooks"]["stop"][0]["timeout"], 10);
        assert!(CURSOR.find_ours(&k, "sessionStart").is_some());
        CURSOR.strip(&mut k);
        assert_eq!(k, json!({"version": 1, "hooks": {}}));
    }

    #[test]
    fn stripping_keeps_the_users_handlers_and_adding_twice_is_once() {
        let t = target();
        let mut d =
            json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "mine"}]}]}});
        GEMINI.add(&mut d, &t).unwrap();
        GEMINI.add(&mut d, &t).unwrap();
        assert_eq!(d["hooks"]["AfterAgent"].as_array().unwrap().len(), 1);
        GEMINI.strip(&mut d);
        assert_eq!(
            d,
            json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "mine"}]}]}})
        );
    }
}
