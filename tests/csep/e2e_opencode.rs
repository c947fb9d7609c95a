//! Issue #15's acceptance for OpenCode: the real `opencode` 1.18.33, offline, with a custom
//! OpenAI-compatible provider at the scripted Chat Completions mock (built into OpenCode: no
//! npm at run time; the models.dev fetch, LSP downloads, default plugins and updates off, and
//! npm's registry at the mock), csep installed with `csep setup` as a plugin in OpenCode's
//! config dir; the flow and what must hold are in common/chat_hosts.rs. OpenCode's hooks are that plugin, so the file
//! uninstall must leave as it was is the user's opencode.json, and what it must remove is the
//! plugin. The binary comes from `CSEP_OPENCODE_BIN` (scripts/install-host.sh opencode
//! prints it); without it the test says so and passes. Set `CSEP_E2E_KEEP=1` to keep the
//! temp dir.

use crate::common::chat_hosts::{self, ChatHost};
use crate::common::{self, walk};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

pub(crate) struct OpenCode;
type World = common::World<OpenCode>;

chat_hosts::chat_host!(
    OpenCode,
    name: "e2e_opencode",
    // $XDG_CONFIG_HOME/opencode, with XDG_CONFIG_HOME at home/.config (chat_hosts::xdg_env).
    config_dir: "home/.config/opencode",
    env: |w, c| {
        for var in [
            "OPENCODE_DISABLE_AUTOUPDATE",
            "OPENCODE_DISABLE_MODELS_FETCH",
            "OPENCODE_DISABLE_LSP_DOWNLOAD",
            "OPENCODE_DISABLE_DEFAULT_PLUGINS",
            "OPENCODE_DISABLE_SHARE",
            // It would read the (absent) Claude Code setup under HOME too.
            "OPENCODE_DISABLE_CLAUDE_CODE",
        ] {
            c.env(var, "1");
        }
        // OpenCode installs @opencode-ai/plugin into its config dir in the background, from
        // npm's registry: here the mock, whose 404 ends it at once, offline (OpenCode logs a
        // warning and loads the plugins anyway; csep's imports nothing from that package).
        c.env(
            "npm_config_registry",
            format!("http://127.0.0.1:{}/npm-registry/", w.port),
        );
    },
    diagnose: |w, d| {
        let log = w.p("home/.local/share/opencode/log");
        for f in walk(&log) {
            d.push_str(&format!(
                "--- {}\n{}\n",
                f.display(),
                common::tail(&common::read_lossy(&f), 4000)
            ));
        }
    },
);

impl World {
    /// OpenCode's database, where its sessions are.
    fn opencode_db(&self) -> PathBuf {
        self.p("home/.local/share/opencode/opencode.db")
    }
}

impl ChatHost for OpenCode {
    const AGENT: &'static str = "opencode";
    const BIN_VAR: &'static str = "CSEP_OPENCODE_BIN";
    const INSTALL: &'static str = "scripts/install-host.sh opencode";
    fn hooks_file(w: &World) -> PathBuf {
        w.config_dir().join("opencode.json")
    }
    fn prepare(w: &World) {
        // With "$schema" first, as OpenCode writes it into a config that lacks one.
        let config = serde_json::json!({
            "$schema": "https://opencode.ai/config.json",
            "provider": {"mock": {
                "npm": "@ai-sdk/openai-compatible", "name": "Mock",
                "options": {"baseURL": format!("http://127.0.0.1:{}/v1", w.port),
                            "apiKey": "csep-e2e-not-a-real-key"},
                "models": {"mock-model": {"name": "Mock", "tool_call": true}}}},
            "model": "mock/mock-model",
            "autoupdate": false,
            "share": "disabled"
        });
        fs::write(
            Self::hooks_file(w),
            serde_json::to_string_pretty(&config).unwrap() + "\n",
        )
        .unwrap();
    }
    /// The plugin files setup put in OpenCode's plugin dirs (there were none before).
    fn installed(w: &World) -> Result<Vec<PathBuf>, String> {
        let plugins: Vec<PathBuf> = ["plugins", "plugin"]
            .iter()
            .flat_map(|d| walk(&w.config_dir().join(d)))
            .filter(|f| common::read_lossy(f).contains("csep"))
            .collect();
        if plugins.is_empty() {
            return Err(format!(
                "csep setup installed no csep plugin under {}/plugins",
                w.config_dir().display()
            ));
        }
        Ok(plugins)
    }
    fn prompt(w: &World, prompt: &str, resume: Option<&str>) -> Command {
        let mut c = w.command(&w.bin);
        c.args(["run", "--format", "json"]);
        if let Some(id) = resume {
            c.args(["--session", id]);
        }
        c.arg(prompt);
        c
    }
    fn session_id(w: &World) -> Option<String> {
        // Top-level sessions (a title call makes none; sub-agent sessions have a parent).
        let conn = rusqlite::Connection::open_with_flags(
            w.opencode_db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        let mut st = conn
            .prepare("SELECT id FROM session WHERE parent_id IS NULL")
            .ok()?;
        let ids: Vec<String> = st
            .query_map([], |r| r.get(0))
            .ok()?
            .filter_map(Result::ok)
            .collect();
        (ids.len() == 1).then(|| ids[0].clone())
    }
}

#[test]
fn opencode_session_gets_memory_is_recalled_and_uninstalls_cleanly() {
    chat_hosts::session_is_injected_recalled_and_uninstalled::<OpenCode>();
}
