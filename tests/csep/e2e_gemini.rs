//! Issue #15's acceptance for Gemini CLI: the real `gemini` 0.61.0, offline, with its model
//! at the scripted mock's Gemini API (`GOOGLE_GEMINI_BASE_URL`, any `GEMINI_API_KEY`; the
//! mock logs each request, which the hidden `--fake-responses` flag would not), csep
//! installed with `csep setup`; the flow and what must hold are in common/chat_hosts.rs. The
//! binary comes from `CSEP_GEMINI_BIN` (scripts/install-host.sh gemini prints it); without
//! it the test says so and passes. Set `CSEP_E2E_KEEP=1` to keep the temp dir.

use crate::common::chat_hosts::{self, ChatHost};
use crate::common::{self, walk};
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

pub(crate) struct Gemini;
type World = common::World<Gemini>;

/// The user's own settings.json (API-key auth, updates and usage statistics off, a hook of
/// their own): uninstall must give back these bytes.
const USER_SETTINGS: &str = r#"{
  "security": { "auth": { "selectedType": "gemini-api-key" } },
  "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false },
  "privacy": { "usageStatisticsEnabled": false },
  "hooks": {
    "Notification": [ { "hooks": [ { "type": "command", "command": "true", "timeout": 5000 } ] } ]
  }
}
"#;

chat_hosts::chat_host!(
    Gemini,
    name: "e2e_gemini",
    config_dir: "home/.gemini",
    env: |w, c| {
        c.env("GEMINI_CLI_HOME", w.p("home"))
            .env("GEMINI_API_KEY", "csep-e2e-not-a-real-key")
            .env(
                "GOOGLE_GEMINI_BASE_URL",
                format!("http://127.0.0.1:{}", w.port),
            )
            .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
            .env("GEMINI_TELEMETRY_ENABLED", "false");
    },
);

impl ChatHost for Gemini {
    const AGENT: &'static str = "gemini";
    const BIN_VAR: &'static str = "CSEP_GEMINI_BIN";
    const INSTALL: &'static str = "scripts/install-host.sh gemini";
    fn hooks_file(w: &World) -> PathBuf {
        w.config_dir().join("settings.json")
    }
    fn prepare(w: &World) {
        fs::write(Self::hooks_file(w), USER_SETTINGS).unwrap();
    }
    fn prompt(w: &World, prompt: &str, resume: Option<&str>) -> Command {
        let mut c = w.command(&w.bin);
        // A fixed model: the default "auto" asks a classifier model first.
        c.args(["--yolo", "-m", "gemini-2.5-flash"]);
        if resume.is_some() {
            // --resume takes "latest" or an index, not an id; this project has one session.
            c.args(["--resume", "latest"]);
        }
        c.args(["-p", prompt]);
        c
    }
    fn session_id(w: &World) -> Option<String> {
        // tmp/<project slug>/chats/session-<time>-<id prefix>.jsonl; line 1 holds sessionId.
        // A `--resume` in a later minute than the session's start also writes a second file,
        // named after that minute, with the same sessionId and only the session context
        // (Gemini CLI 0.61.0; the turn itself goes on in the first file): one session still.
        let ids: std::collections::BTreeSet<String> = walk(&w.config_dir().join("tmp"))
            .into_iter()
            .filter(|f| {
                f.extension().is_some_and(|e| e == "jsonl")
                    && f.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("session-"))
            })
            .filter_map(|f| {
                let text = fs::read_to_string(&f).ok()?;
                let first: Value = serde_json::from_str(text.lines().next()?).ok()?;
                first["sessionId"].as_str().map(str::to_string)
            })
            .collect();
        (ids.len() == 1).then(|| ids.into_iter().next()).flatten()
    }
}

#[test]
fn gemini_session_gets_memory_is_recalled_and_uninstalls_cleanly() {
    chat_hosts::session_is_injected_recalled_and_uninstalled::<Gemini>();
}
