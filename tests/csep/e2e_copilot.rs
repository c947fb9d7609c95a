//! Issue #15's acceptance for GitHub Copilot CLI: the real `copilot` 1.0.102, offline, with
//! its model at the scripted Chat Completions mock (BYOK: `COPILOT_PROVIDER_BASE_URL`, no
//! GitHub login), csep installed with `csep setup`; the flow and what must hold are in
//! common/chat_hosts.rs. The binary comes from `CSEP_COPILOT_BIN` (scripts/install-host.sh
//! copilot prints it); without it the test says so and passes. Set `CSEP_E2E_KEEP=1` to keep
//! the temp dir.

use crate::common::chat_hosts::{self, ChatHost};
use crate::common::{self, walk};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

pub(crate) struct Copilot;
type World = common::World<Copilot>;

/// The user's own settings.json, with a hook of their own: uninstall must give back these
/// bytes.
const USER_SETTINGS: &str = r#"{
  "hooks": {
    "userPromptSubmitted": [ { "type": "command", "bash": "true", "timeoutSec": 5 } ]
  }
}
"#;

chat_hosts::chat_host!(
    Copilot,
    name: "e2e_copilot",
    config_dir: "copilot-home",
    env: |w, c| {
        c.env("COPILOT_HOME", w.config_dir())
            .env("COPILOT_AUTO_UPDATE", "false")
            .env(
                "COPILOT_PROVIDER_BASE_URL",
                format!("http://127.0.0.1:{}/v1", w.port),
            )
            .env("COPILOT_PROVIDER_API_KEY", "csep-e2e-not-a-real-key")
            .env("COPILOT_MODEL", "mock-model");
    },
);

impl ChatHost for Copilot {
    const AGENT: &'static str = "copilot";
    const BIN_VAR: &'static str = "CSEP_COPILOT_BIN";
    const INSTALL: &'static str = "scripts/install-host.sh copilot";
    fn hooks_file(w: &World) -> PathBuf {
        w.config_dir().join("settings.json")
    }
    fn prepare(w: &World) {
        fs::write(Self::hooks_file(w), USER_SETTINGS).unwrap();
    }
    fn prompt(w: &World, prompt: &str, resume: Option<&str>) -> Command {
        let mut c = w.command(&w.bin);
        c.args(["-p", prompt, "--allow-all-tools", "--no-auto-update"]);
        if let Some(id) = resume {
            c.arg(format!("--resume={id}"));
        }
        c
    }
    fn session_id(w: &World) -> Option<String> {
        // session-state/<id>/events.jsonl, one folder per session.
        let ids: Vec<String> = walk(&w.config_dir().join("session-state"))
            .into_iter()
            .filter(|f| f.file_name().is_some_and(|n| n == "events.jsonl"))
            .filter_map(|f| Some(f.parent()?.file_name()?.to_string_lossy().into_owned()))
            .collect();
        (ids.len() == 1).then(|| ids[0].clone())
    }
}

#[test]
fn copilot_session_gets_memory_is_recalled_and_uninstalls_cleanly() {
    chat_hosts::session_is_injected_recalled_and_uninstalled::<Copilot>();
}
