//! Black-box tests of `csep setup` / `csep uninstall` / `csep status` for the hosts csep added
//! after Codex and Claude Code, on hand-made homes in a fresh HOME: each host's file gets its
//! own shape (Droid's event map at the top level, Copilot's camelCase flat handlers, ms or s
//! timeouts, Cursor's version 1), the user's keys, hooks and file modes stay, a second setup
//! changes nothing, and uninstall puts every byte and mode back.

use crate::common;

use common::{read_json, Env};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// The user's files before setup: `(path under the temp dir, content, mode)`.
fn user_files() -> Vec<(&'static str, Value, u32)> {
    vec![
        (
            "home/.copilot/settings.json",
            json!({"model": "gpt-4.1", "hooks": {"sessionStart": [{"type": "command", "bash": "my-start", "timeoutSec": 3}]}}),
            0o640,
        ),
        (
            "home/.qwen/settings.json",
            json!({"security": {"auth": {"selectedType": "openai"}}, "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "my-stop", "timeout": 5000}]}]}}),
            0o600,
        ),
        (
            "home/.gemini/settings.json",
            json!({"theme": "GitHub", "hooksConfig": {"enabled": true}}),
            0o644,
        ),
        (
            "home/.cursor/hooks.json",
            json!({"version": 1, "hooks": {"afterFileEdit": [{"command": "my-format"}]}}),
            0o600,
        ),
    ]
}

/// Homes of all six hosts, four of them with the user's files; Droid's and OpenCode's
/// files do not exist yet.
fn seed(env: &Env) {
    for dir in [
        ".copilot",
        ".qwen",
        ".factory",
        ".gemini",
        ".config/opencode",
        ".cursor",
    ] {
        fs::create_dir_all(env.path(&format!("home/{dir}"))).unwrap();
    }
    for (rel, v, mode) in user_files() {
        let p = env.path(rel);
        fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Each host file: its bytes and mode, `None` when it is not there.
type Snapshot = Vec<(String, Option<(Vec<u8>, u32)>)>;

fn snapshot(env: &Env) -> Snapshot {
    [
        "home/.copilot/settings.json",
        "home/.qwen/settings.json",
        "home/.factory/hooks.json",
        "home/.gemini/settings.json",
        "home/.config/opencode/plugins/csep.js",
        "home/.cursor/hooks.json",
    ]
    .iter()
    .map(|rel| {
        let p = env.path(rel);
        let state = fs::read(&p)
            .ok()
            .map(|b| (b, fs::metadata(&p).unwrap().permissions().mode() & 0o777));
        (rel.to_string(), state)
    })
    .collect()
}

impl Env {
    fn run_csep(&self, args: &[&str]) -> (Option<i32>, Value, String) {
        let out = self.cmd("csep").args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null);
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

const SETUP: &[&str] = &[
    "setup",
    "--no-backfill",
    "--no-codex",
    "--no-claude",
    "--no-mcp",
];

fn csep_bin() -> PathBuf {
    fs::canonicalize(assert_cmd::cargo::cargo_bin("csep")).unwrap()
}

#[test]
fn setup_writes_each_hosts_own_shape_keeps_the_users_settings_and_uninstall_restores_them() {
    let env = Env::new();
    seed(&env);
    let before = snapshot(&env);
    let (code, summary, stderr) = env.run_csep(SETUP);
    assert_eq!(code, Some(0), "{stderr}");
    for host in ["copilot", "qwen", "droid", "gemini", "opencode", "cursor"] {
        assert!(summary[host].is_object(), "{host}: {summary}");
        assert!(summary[host].get("error").is_none(), "{host}: {summary}");
    }
    let script = env.state().join("bin/csep-hook.sh");
    let runs = |agent_event: &str| {
        format!(
            "CSEP_BIN='{}' CSEP_HOME='{}' '{}' {agent_event}",
            csep_bin().display(),
            env.state().display(),
            script.display()
        )
    };

    // Copilot: the `hooks` key of settings.json, camelCase events, flat `bash`/`timeoutSec`.
    let copilot = read_json(&env.path("home/.copilot/settings.json"));
    assert_eq!(copilot["model"], "gpt-4.1");
    assert_eq!(copilot["hooks"]["sessionStart"][0]["bash"], "my-start");
    assert_eq!(
        copilot["hooks"]["sessionStart"][1],
        json!({"type": "command", "bash": runs("copilot sessionStart"), "timeoutSec": 10})
    );
    assert_eq!(
        copilot["hooks"]["agentStop"][0]["bash"],
        runs("copilot agentStop")
    );
    assert_eq!(copilot["hooks"]["sessionEnd"][0]["timeoutSec"], 5);
    assert!(copilot.get("version").is_none() && copilot["hooks"].get("version").is_none());

    // Qwen: Claude-shaped groups under `hooks`, timeouts in ms.
    let qwen = read_json(&env.path("home/.qwen/settings.json"));
    assert_eq!(qwen["security"]["auth"]["selectedType"], "openai");
    assert_eq!(qwen["hooks"]["Stop"][0]["hooks"][0]["command"], "my-stop");
    assert_eq!(
        qwen["hooks"]["Stop"][1],
        json!({"hooks": [{"type": "command", "command": runs("qwen Stop"), "timeout": 10000}]})
    );
    assert_eq!(qwen["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"], 3000);

    // Droid: the event map at the top level (no `hooks` wrapper), timeouts in s.
    let droid = read_json(&env.path("home/.factory/hooks.json"));
    assert!(droid.get("hooks").is_none(), "{droid}");
    let keys: Vec<&String> = droid.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["SessionStart", "Stop", "SessionEnd"]);
    assert_eq!(
        droid["SessionStart"][0],
        json!({"hooks": [{"type": "command", "command": runs("droid SessionStart"), "timeout": 10}]})
    );

    // Gemini: SessionStart, AfterAgent, SessionEnd under `hooks`, ms.
    let gemini = read_json(&env.path("home/.gemini/settings.json"));
    assert_eq!(gemini["theme"], "GitHub");
    assert_eq!(gemini["hooksConfig"]["enabled"], true);
    assert_eq!(
        gemini["hooks"]["AfterAgent"][0]["hooks"][0]["command"],
        runs("gemini AfterAgent")
    );
    assert_eq!(
        gemini["hooks"]["AfterAgent"][0]["hooks"][0]["timeout"],
        10000
    );

    // Cursor: version 1, flat handlers, s.
    let cursor = read_json(&env.path("home/.cursor/hooks.json"));
    assert_eq!(cursor["version"], 1);
    assert_eq!(cursor["hooks"]["afterFileEdit"][0]["command"], "my-format");
    assert_eq!(
        cursor["hooks"]["stop"][0],
        json!({"command": runs("cursor stop"), "timeout": 10})
    );

    // OpenCode: the plugin, naming this csep and state dir.
    let plugin = fs::read_to_string(env.path("home/.config/opencode/plugins/csep.js")).unwrap();
    assert!(plugin.contains(&format!(
        "const CSEP_BIN = {};",
        json!(csep_bin().to_str().unwrap())
    )));
    assert!(plugin.contains(&format!(
        "const CSEP_HOME = {};",
        json!(env.state().to_str().unwrap())
    )));

    // The user's modes stay.
    for (rel, _, mode) in user_files() {
        let m = fs::metadata(env.path(rel)).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, mode, "{rel}");
    }

    // A second setup changes nothing.
    let after_first = snapshot(&env);
    let (code, _, stderr) = env.run_csep(SETUP);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(snapshot(&env), after_first, "setup is idempotent");

    // Status: every host's hooks installed and current.
    let (code, status, _) = env.run_csep(&["status"]);
    assert_eq!(code, Some(0));
    for host in ["copilot", "qwen", "droid", "gemini", "opencode", "cursor"] {
        let h = &status["hooks"][host];
        assert_eq!(h["installed"], true, "{host}: {h}");
        assert_eq!(h["current"], true, "{host}: {h}");
    }

    // Uninstall: the user's bytes and modes back, csep's own files gone, and with them the
    // plugin folder setup had to make; the homes it found stay.
    let (code, undone, stderr) = env.run_csep(&["uninstall"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(snapshot(&env), before);
    let plugins = env.path("home/.config/opencode/plugins");
    assert!(!plugins.exists(), "setup's empty plugins/ was left behind");
    assert_eq!(undone["removed_dirs"], json!([plugins.to_str().unwrap()]));
    assert!(env.path("home/.config/opencode").is_dir());
    let (_, status, _) = env.run_csep(&["status"]);
    for host in ["copilot", "qwen", "droid", "gemini", "opencode", "cursor"] {
        assert_eq!(status["hooks"][host]["installed"], false, "{host}");
    }
}

#[test]
fn uninstall_takes_only_csep_out_of_a_host_file_the_user_changed_since_setup() {
    let env = Env::new();
    seed(&env);
    let (code, _, stderr) = env.run_csep(SETUP);
    assert_eq!(code, Some(0), "{stderr}");
    // The user adds a key and a hook of their own to Copilot's and Droid's files.
    let p = env.path("home/.copilot/settings.json");
    let mut v = read_json(&p);
    v["banner"] = "never".into();
    v["hooks"]["agentStop"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "command", "bash": "my-stop"}));
    fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let d = env.path("home/.factory/hooks.json");
    let mut v = read_json(&d);
    v["PostToolUse"] = json!([{"matcher": "Execute", "hooks": [{"type": "command", "command": "my-log", "timeout": 5}]}]);
    fs::write(&d, serde_json::to_vec(&v).unwrap()).unwrap();
    let (code, summary, stderr) = env.run_csep(&["uninstall"]);
    assert_eq!(code, Some(0), "{stderr}");
    let changed = summary["changed_since_setup"].to_string();
    assert!(changed.contains(".copilot/settings.json") && changed.contains(".factory/hooks.json"));
    let copilot = read_json(&p);
    assert_eq!(copilot["banner"], "never");
    assert_eq!(copilot["model"], "gpt-4.1");
    assert_eq!(
        copilot["hooks"],
        json!({"sessionStart": [{"type": "command", "bash": "my-start", "timeoutSec": 3}],
               "agentStop": [{"type": "command", "bash": "my-stop"}]})
    );
    assert_eq!(
        read_json(&d),
        json!({"PostToolUse": [{"matcher": "Execute", "hooks": [{"type": "command", "command": "my-log", "timeout": 5}]}]})
    );
}

#[test]
fn a_dry_run_lists_each_hosts_file_and_changes_nothing() {
    let env = Env::new();
    seed(&env);
    let before = snapshot(&env);
    let (code, plan, stderr) = env.run_csep(&["setup", "--dry-run", "--no-codex", "--no-claude"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(snapshot(&env), before);
    let actions: Vec<(String, String)> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let path = p["path"].as_str().unwrap();
            let rel = path
                .strip_prefix(env.root().to_str().unwrap())
                .unwrap_or(path);
            (rel.to_string(), p["action"].as_str().unwrap().to_string())
        })
        .collect();
    for (rel, action) in [
        ("/home/.copilot/settings.json", "modify"),
        ("/home/.qwen/settings.json", "modify"),
        ("/home/.factory/hooks.json", "create"),
        ("/home/.gemini/settings.json", "modify"),
        ("/home/.config/opencode/plugins/csep.js", "create"),
        ("/home/.cursor/hooks.json", "modify"),
    ] {
        assert!(
            actions.contains(&(rel.to_string(), action.to_string())),
            "{rel} {action} not in {actions:?}"
        );
    }
}

#[test]
fn setup_leaves_a_host_alone_when_asked_or_when_its_home_is_missing_and_survives_a_broken_file() {
    let env = Env::new();
    fs::create_dir_all(env.path("home/.qwen")).unwrap();
    fs::create_dir_all(env.path("home/.gemini")).unwrap();
    fs::create_dir_all(env.path("home/.factory")).unwrap();
    // Not JSON: csep will not overwrite it, and says so; the other hosts still get hooks.
    fs::write(env.path("home/.gemini/settings.json"), "{ // my comment\n}").unwrap();
    let mut args = SETUP.to_vec();
    args.push("--no-droid");
    let (code, summary, stderr) = env.run_csep(&args);
    assert_eq!(
        code,
        Some(2),
        "a host left without hooks is an error: {stderr}"
    );
    assert!(stderr.contains("gemini: hooks not installed"), "{stderr}");
    assert!(summary["gemini"]["error"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(
        fs::read_to_string(env.path("home/.gemini/settings.json")).unwrap(),
        "{ // my comment\n}"
    );
    assert!(summary["qwen"].is_object() && summary["qwen"].get("error").is_none());
    for host in ["copilot", "droid", "opencode", "cursor"] {
        assert!(summary[host].is_null(), "{host}: {summary}");
    }
    assert!(!env.path("home/.factory/hooks.json").exists());
    assert!(!env.path("home/.copilot").exists());
}
