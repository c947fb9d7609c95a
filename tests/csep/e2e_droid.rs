//! Issue #15's acceptance for Factory Droid: the real `droid` 0.225.2, offline, with a BYOK
//! custom model at the scripted Chat Completions mock (no Factory login), csep installed with
//! `csep setup`; the flow and what must hold are in common/chat_hosts.rs. The binary comes
//! from `CSEP_DROID_BIN` (scripts/install-host.sh droid prints it); without it the test says
//! so and passes. Set `CSEP_E2E_KEEP=1` to keep the temp dir.

use crate::common::chat_hosts::{self, ChatHost};
use crate::common::{self, walk};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

pub(crate) struct Droid;
type World = common::World<Droid>;

/// The user's own hooks.json (0.225.2 reads the event map at the top level), with a hook of
/// their own: uninstall must give back these bytes.
const USER_HOOKS: &str = r#"{
  "Notification": [ { "hooks": [ { "type": "command", "command": "true", "timeout": 5 } ] } ]
}
"#;

chat_hosts::chat_host!(
    Droid,
    name: "e2e_droid",
    config_dir: "home/.factory",
    env: |w, c| {
        c.env("FACTORY_DROID_AUTO_UPDATE_ENABLED", "false");
    },
);

impl ChatHost for Droid {
    const AGENT: &'static str = "droid";
    const BIN_VAR: &'static str = "CSEP_DROID_BIN";
    const INSTALL: &'static str = "scripts/install-host.sh droid";
    fn hooks_file(w: &World) -> PathBuf {
        w.config_dir().join("hooks.json")
    }
    fn prepare(w: &World) {
        // The model: a custom one, id custom:<displayName>-<index>.
        let settings = serde_json::json!({"customModels": [{
            "model": "mock-model", "displayName": "Mock",
            "baseUrl": format!("http://127.0.0.1:{}/v1", w.port),
            "apiKey": "csep-e2e-not-a-real-key", "provider": "generic-chat-completion-api"}]});
        fs::write(w.config_dir().join("settings.json"), settings.to_string()).unwrap();
        fs::write(Self::hooks_file(w), USER_HOOKS).unwrap();
    }
    fn prompt(w: &World, prompt: &str, resume: Option<&str>) -> Command {
        let mut c = w.command(&w.bin);
        c.args(["exec", "--auto", "high", "-m", "custom:Mock-0"]);
        if let Some(id) = resume {
            c.args(["-s", id]);
        }
        if !prompt.is_empty() {
            c.arg(prompt);
        }
        c
    }
    /// `droid exec -s ID` loads the session from Factory's servers, so offline both prompts
    /// go to one process, one JSON line each (`--input-format stream-json`); what it
    /// answered is read back from the session's transcript.
    fn converse(w: &World, prompts: [&str; 2]) -> [String; 2] {
        let input = w.p("droid-prompts.jsonl");
        let lines: Vec<String> = prompts
            .iter()
            .map(|p| serde_json::json!({"role": "user", "content": p}).to_string() + "\n")
            .collect();
        fs::write(&input, lines.concat()).unwrap();
        let mut c = Self::prompt(w, "", None);
        c.args([
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
        ])
        .stdin(fs::File::open(&input).unwrap());
        chat_hosts::run(w, "host-both-turns", c);
        // This mode prints no answers on stdout; the session's transcript holds them.
        let transcript = walk(&w.config_dir().join("sessions"))
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
            .map(|f| fs::read_to_string(f).unwrap_or_default())
            .collect::<String>();
        [transcript.clone(), transcript]
    }
    fn session_id(w: &World) -> Option<String> {
        // sessions/<encoded cwd>/<id>.jsonl (+ <id>.settings.json)
        chat_hosts::file_stem_id(walk(&w.config_dir().join("sessions")), "jsonl")
    }
}

#[test]
fn droid_session_gets_memory_is_recalled_and_uninstalls_cleanly() {
    chat_hosts::session_is_injected_recalled_and_uninstalled::<Droid>();
}
