//! Issue #15's acceptance for Qwen Code: the real `qwen` 0.24.4 (run with Node 22, which
//! scripts/install-host.sh installs beside it), offline, with its model at the scripted Chat
//! Completions mock (`OPENAI_BASE_URL`), csep installed with `csep setup`; the flow and what
//! must hold are in common/chat_hosts.rs. The binary comes from `CSEP_QWEN_BIN`
//! (scripts/install-host.sh qwen prints it); without it the test says so and passes. Set
//! `CSEP_E2E_KEEP=1` to keep the temp dir.

use crate::common::chat_hosts::{self, ChatHost};
use crate::common::{self, walk};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

pub(crate) struct Qwen;
type World = common::World<Qwen>;

/// The user's own settings.json (the model at the mock, a hook of their own, Qwen's current
/// settings version so Qwen does not migrate the file): uninstall must give back these bytes.
const USER_SETTINGS: &str = r#"{
  "security": { "auth": { "selectedType": "openai" } },
  "model": { "name": "mock-model" },
  "general": { "disableAutoUpdate": true, "disableUpdateNag": true },
  "hooks": {
    "Notification": [ { "hooks": [ { "type": "command", "command": "true", "timeout": 5000 } ] } ]
  },
  "$version": 4
}
"#;

chat_hosts::chat_host!(
    Qwen,
    name: "e2e_qwen",
    config_dir: "home/.qwen",
    env: |w, c| {
        c.env("QWEN_HOME", w.config_dir())
            .env("OPENAI_BASE_URL", format!("http://127.0.0.1:{}/v1", w.port))
            .env("OPENAI_API_KEY", "csep-e2e-not-a-real-key")
            .env("OPENAI_MODEL", "mock-model")
            .env("QWEN_CODE_SUPPRESS_YOLO_WARNING", "1");
    },
);

impl ChatHost for Qwen {
    const AGENT: &'static str = "qwen";
    const BIN_VAR: &'static str = "CSEP_QWEN_BIN";
    const INSTALL: &'static str = "scripts/install-host.sh qwen";
    fn hooks_file(w: &World) -> PathBuf {
        w.config_dir().join("settings.json")
    }
    fn prepare(w: &World) {
        fs::write(Self::hooks_file(w), USER_SETTINGS).unwrap();
    }
    fn prompt(w: &World, prompt: &str, resume: Option<&str>) -> Command {
        let mut c = w.command(&w.bin);
        c.args(["--yolo", "-p", prompt]);
        if let Some(id) = resume {
            c.args(["--resume", id]);
        }
        c
    }
    fn session_id(w: &World) -> Option<String> {
        // projects/<encoded cwd>/chats/<id>.jsonl
        chat_hosts::file_stem_id(walk(&w.config_dir().join("projects")), "jsonl")
    }
}

#[test]
fn qwen_session_gets_memory_is_recalled_and_uninstalls_cleanly() {
    chat_hosts::session_is_injected_recalled_and_uninstalled::<Qwen>();
}
