//! Black-box tests of `csep setup` / `csep uninstall` on hand-made host homes: merging with
//! the user's own hooks and settings, idempotence, dry runs, refusing to clobber broken
//! files, and uninstall restoring bytes or removing only csep's parts. (Trust through the
//! real `codex app-server` is exercised by tests/e2e_codex.rs.)

use crate::common;

use common::{csep_handlers, read_json, Env};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

/// An environment whose hosts' dirs are `codex/` and `claude/`, with no codex on PATH: trust
/// must be reported as a manual step.
fn setup_env() -> Env {
    Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build()
}

impl Env {
    fn csep(&self, args: &[&str]) -> std::process::Output {
        self.cmd("csep").args(args).output().unwrap()
    }
    fn setup(&self, extra: &[&str]) -> Value {
        let mut args = vec![
            "setup",
            "--codex-home",
            self.path("codex").to_str().unwrap().to_string().leak() as &str,
        ];
        args.push("--claude-dir");
        args.push(self.path("claude").to_str().unwrap().to_string().leak());
        args.extend_from_slice(extra);
        let out = self.csep(&args);
        common::assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

const USER_TOML: &str = "# my settings, keep this comment\nmodel = \"gpt-5.5\"\n\n[tui]\nnotifications = false # inline note\n";

fn seed(env: &Env) {
    fs::create_dir_all(env.path("codex")).unwrap();
    fs::write(env.path("codex/config.toml"), USER_TOML).unwrap();
    let user_hooks = json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "/usr/local/bin/my-notifier", "timeout": 5}]}]}});
    fs::write(
        env.path("codex/hooks.json"),
        serde_json::to_vec_pretty(&user_hooks).unwrap(),
    )
    .unwrap();
    fs::create_dir_all(env.path("claude")).unwrap();
    let settings = json!({"model": "opus", "permissions": {"allow": ["Bash(ls:*)"]}, "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-guard"}]}]}});
    fs::write(
        env.path("claude/settings.json"),
        serde_json::to_vec_pretty(&settings).unwrap(),
    )
    .unwrap();
}

#[test]
fn setup_merges_with_the_users_files_and_is_idempotent() {
    let env = setup_env();
    seed(&env);
    let s = env.setup(&["--no-backfill"]);
    assert_eq!(s["type"], "setup_summary");
    assert_eq!(s["codex"]["trust"], "manual", "{s}");
    assert!(s["codex"]["trust_detail"]
        .as_str()
        .unwrap()
        .contains("/hooks"));
    let hooks = read_json(&env.path("codex/hooks.json"));
    for e in ["SessionStart", "Stop", "SessionEnd"] {
        assert_eq!(csep_handlers(&hooks, e), 1, "{e}");
    }
    assert_eq!(
        hooks["hooks"]["Stop"][0]["hooks"][0]["command"],
        "/usr/local/bin/my-notifier"
    );
    let toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    assert!(
        toml.starts_with(USER_TOML),
        "the user's text is kept as written:\n{toml}"
    );
    assert!(toml.contains("[features]\nhooks = true"));
    let settings = read_json(&env.path("claude/settings.json"));
    assert_eq!(settings["model"], "opus");
    assert_eq!(
        settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
        "my-guard"
    );
    for e in ["SessionStart", "Stop", "SessionEnd"] {
        assert_eq!(csep_handlers(&settings, e), 1, "{e}");
    }
    let script = env.path("state/bin/csep-hook.sh");
    assert!(script.exists());
    assert!(hooks["hooks"]["SessionStart"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .contains(script.to_str().unwrap()));
    // Again: nothing doubles, and the manifest still holds the original bytes.
    let snapshot = |p: &str| fs::read(env.path(p)).unwrap();
    let (h1, t1, c1) = (
        snapshot("codex/hooks.json"),
        snapshot("codex/config.toml"),
        snapshot("claude/settings.json"),
    );
    env.setup(&["--no-backfill"]);
    assert_eq!(
        (
            snapshot("codex/hooks.json"),
            snapshot("codex/config.toml"),
            snapshot("claude/settings.json")
        ),
        (h1, t1, c1)
    );
    env.csep(&["uninstall"]);
    assert_eq!(
        fs::read_to_string(env.path("codex/config.toml")).unwrap(),
        USER_TOML
    );
}

#[test]
fn uninstall_restores_bytes_or_removes_only_csep_parts() {
    let env = setup_env();
    seed(&env);
    let before_hooks = fs::read(env.path("codex/hooks.json")).unwrap();
    let before_settings = fs::read(env.path("claude/settings.json")).unwrap();
    env.setup(&["--no-backfill"]);
    // The user edits settings.json after setup; config.toml and hooks.json are untouched.
    let mut settings = read_json(&env.path("claude/settings.json"));
    settings["theme"] = json!("dark");
    fs::write(
        env.path("claude/settings.json"),
        serde_json::to_vec_pretty(&settings).unwrap(),
    )
    .unwrap();
    let out = env.csep(&["uninstall"]);
    assert!(out.status.success());
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        u["changed_since_setup"],
        json!([env.path("claude/settings.json")])
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed after setup"));
    assert_eq!(
        fs::read(env.path("codex/hooks.json")).unwrap(),
        before_hooks
    );
    assert_eq!(
        fs::read_to_string(env.path("codex/config.toml")).unwrap(),
        USER_TOML
    );
    let after = read_json(&env.path("claude/settings.json"));
    assert_eq!(after["theme"], "dark", "the user's edit stays");
    assert_eq!(
        after["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
        "my-guard"
    );
    for e in ["SessionStart", "Stop", "SessionEnd"] {
        assert_eq!(csep_handlers(&after, e), 0);
    }
    let _ = before_settings;
    assert!(!env.path("state/bin/csep-hook.sh").exists());
    assert!(!env.path("state/install/manifest.json").exists());
    // Nothing left to undo.
    let out = env.csep(&["uninstall"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing_to_uninstall"));
}

#[test]
fn files_setup_created_are_removed_again() {
    let env = setup_env();
    env.setup(&["--no-backfill"]);
    assert!(env.path("codex/hooks.json").exists() && env.path("codex/config.toml").exists());
    env.csep(&["uninstall"]);
    assert!(!env.path("codex/hooks.json").exists());
    assert!(!env.path("codex/config.toml").exists());
    assert!(!env.path("claude/settings.json").exists());
}

#[test]
fn a_dry_run_changes_nothing_and_says_what_would_change() {
    let env = setup_env();
    seed(&env);
    let before: Vec<Vec<u8>> = [
        "codex/hooks.json",
        "codex/config.toml",
        "claude/settings.json",
    ]
    .iter()
    .map(|p| fs::read(env.path(p)).unwrap())
    .collect();
    let s = env.setup(&["--dry-run"]);
    assert_eq!(s["dry_run"], true);
    let actions: Vec<(String, String)> = s["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_string(),
                p["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&(
            env.path("codex/hooks.json").display().to_string(),
            "modify".into()
        )),
        "{actions:?}"
    );
    assert!(
        actions.contains(&(
            env.path("state/bin/csep-hook.sh").display().to_string(),
            "create".into()
        )),
        "{actions:?}"
    );
    let after: Vec<Vec<u8>> = [
        "codex/hooks.json",
        "codex/config.toml",
        "claude/settings.json",
    ]
    .iter()
    .map(|p| fs::read(env.path(p)).unwrap())
    .collect();
    assert_eq!(before, after);
    assert!(!env.path("state").exists(), "a dry run writes no state");
}

#[test]
fn a_broken_user_file_is_never_overwritten() {
    let env = setup_env();
    fs::create_dir_all(env.path("codex")).unwrap();
    fs::write(env.path("codex/hooks.json"), b"{ this is not json").unwrap();
    let out = env.csep(&[
        "setup",
        "--codex-home",
        env.path("codex").to_str().unwrap(),
        "--no-claude",
        "--no-backfill",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hooks.json: not valid JSON"));
    assert_eq!(
        fs::read(env.path("codex/hooks.json")).unwrap(),
        b"{ this is not json"
    );
    fs::write(env.path("codex/hooks.json"), b"{}").unwrap();
    fs::write(env.path("codex/config.toml"), b"[broken\n").unwrap();
    let out = env.csep(&[
        "setup",
        "--codex-home",
        env.path("codex").to_str().unwrap(),
        "--no-claude",
        "--no-backfill",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        fs::read(env.path("codex/config.toml")).unwrap(),
        b"[broken\n"
    );
    // What setup did write before it stopped can still be undone.
    assert!(env.csep(&["uninstall"]).status.success());
    assert_eq!(fs::read(env.path("codex/hooks.json")).unwrap(), b"{}");
}

#[test]
fn setup_runs_the_first_backfill() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let env = setup_env();
    let src = fixtures.join("codex/sessions/2026/02/23");
    let dest = env.path("codex/sessions/2026/02/23");
    fs::create_dir_all(&dest).unwrap();
    for e in fs::read_dir(&src).unwrap().flatten() {
        fs::copy(e.path(), dest.join(e.file_name())).unwrap();
    }
    let out = env.csep(&[
        "setup",
        "--codex-home",
        env.path("codex").to_str().unwrap(),
        "--no-claude",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["backfill"]["codex"]["new_sessions"], 5, "{s}");
    assert!(s["claude"].is_null());
}

#[test]
fn edits_made_between_two_setups_survive_uninstall() {
    // Regression: a second setup used to record the user's edited file as "what setup left",
    // so uninstall put the pre-setup backup back over the edits.
    let env = setup_env();
    seed(&env);
    env.setup(&["--no-backfill"]);
    let mut toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    toml.push_str("\n[profiles.fast]\nmodel = \"gpt-5.5-mini\"\n");
    fs::write(env.path("codex/config.toml"), &toml).unwrap();
    let mut hooks = read_json(&env.path("codex/hooks.json"));
    hooks["hooks"]["PreToolUse"] =
        json!([{"hooks": [{"type": "command", "command": "/usr/local/bin/my-guard"}]}]);
    fs::write(
        env.path("codex/hooks.json"),
        serde_json::to_vec_pretty(&hooks).unwrap(),
    )
    .unwrap();
    env.setup(&["--no-backfill"]);
    let out = env.csep(&["uninstall"]);
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    let changed: Vec<&str> = u["changed_since_setup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        changed.contains(&env.path("codex/config.toml").to_str().unwrap()),
        "{u}"
    );
    assert!(
        changed.contains(&env.path("codex/hooks.json").to_str().unwrap()),
        "{u}"
    );
    let toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    assert!(
        toml.contains("[profiles.fast]") && toml.starts_with(USER_TOML),
        "{toml}"
    );
    assert!(
        !toml.contains("[features]"),
        "csep's now-empty table goes too:\n{toml}"
    );
    let hooks = read_json(&env.path("codex/hooks.json"));
    assert_eq!(
        hooks["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
        "/usr/local/bin/my-guard"
    );
    assert_eq!(
        hooks["hooks"]["Stop"][0]["hooks"][0]["command"],
        "/usr/local/bin/my-notifier"
    );
    for e in ["SessionStart", "Stop", "SessionEnd"] {
        assert_eq!(csep_handlers(&hooks, e), 0);
    }
}

/// The hosts' files a test seeds, relative to the env.
const HOST_FILES: [&str; 3] = [
    "codex/hooks.json",
    "codex/config.toml",
    "claude/settings.json",
];

/// [`seed`], with a key in each file and the files private (0600), as a careful user keeps them.
fn seed_private(env: &Env) {
    use std::os::unix::fs::PermissionsExt;
    seed(env);
    let mut toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    toml.push_str("\n[model_providers.corp]\nname = \"corp\"\nenv_key = \"CORP_API_KEY\"\n");
    fs::write(env.path("codex/config.toml"), toml).unwrap();
    let mut settings = read_json(&env.path("claude/settings.json"));
    settings["env"] =
        json!({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "CORP_TOKEN": "not-a-real-token-0000"});
    fs::write(
        env.path("claude/settings.json"),
        serde_json::to_vec_pretty(&settings).unwrap(),
    )
    .unwrap();
    for f in HOST_FILES {
        fs::set_permissions(env.path(f), fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Each host file's bytes and permission bits (a restore must keep a 0600 file 0600).
fn snapshot(env: &Env) -> Vec<Option<(Vec<u8>, u32)>> {
    use std::os::unix::fs::PermissionsExt;
    HOST_FILES
        .iter()
        .map(|f| {
            let p = env.path(f);
            let mode = fs::metadata(&p).ok()?.permissions().mode() & 0o7777;
            Some((fs::read(&p).ok()?, mode))
        })
        .collect()
}

/// Every hook script the hosts' files name exists: no host runs a missing program.
#[track_caller]
fn no_hook_runs_a_missing_script(env: &Env, when: &str) {
    for f in ["codex/hooks.json", "claude/settings.json"] {
        let Ok(bytes) = fs::read(env.path(f)) else {
            continue;
        };
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        for script in common::hook_scripts(&doc) {
            assert!(
                script.is_file(),
                "{when}: {f} runs {}, which is gone",
                script.display()
            );
        }
    }
}

impl Env {
    /// `csep setup --no-backfill` with the test's host dirs and `extra`, started, not waited for.
    fn spawn_setup(&self, extra: &[&str]) -> std::process::Child {
        let mut c = self.std_command(assert_cmd::cargo::cargo_bin("csep"));
        c.args(["setup", "--no-backfill", "--codex-home"])
            .arg(self.path("codex"))
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if !extra.contains(&"--no-claude") {
            c.arg("--claude-dir").arg(self.path("claude"));
        }
        c.spawn().unwrap()
    }
}

#[test]
fn concurrent_setups_then_one_uninstall_restore_the_hosts_files_every_round() {
    // Two installs at once (a dotfiles script and a person), with every mix of host filters:
    // the second waits for the first, adds to its manifest, and one uninstall undoes both.
    let env = setup_env();
    seed_private(&env);
    let originals = snapshot(&env);
    let mixes: [(&[&str], &[&str]); 3] = [
        (&[], &[]),
        (&["--no-claude"], &[]),
        (&["--no-codex"], &["--no-claude"]),
    ];
    for round in 0..50 {
        let (a, b) = mixes[round % mixes.len()];
        let (a, b) = (env.spawn_setup(a), env.spawn_setup(b));
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        no_hook_runs_a_missing_script(&env, "after setup");
        if round % 5 == 4 {
            // A setup and an uninstall at once: whichever goes first, no hook is left
            // running a missing script, and the uninstall below still undoes everything.
            let mut c = env.std_command(assert_cmd::cargo::cargo_bin("csep"));
            let uninstall = c
                .arg("uninstall")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            for child in [env.spawn_setup(&[]), uninstall] {
                let out = child.wait_with_output().unwrap();
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "round {round}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            no_hook_runs_a_missing_script(&env, "after a setup and an uninstall at once");
        }
        let out = env.csep(&["uninstall"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let u: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(snapshot(&env), originals, "round {round}: {u}");
        no_hook_runs_a_missing_script(&env, "after uninstall");
        assert!(
            !env.path("state/bin/csep-hook.sh").exists(),
            "round {round}"
        );
        assert!(
            !env.path("state/install/manifest.json").exists(),
            "round {round}"
        );
    }
}

#[test]
fn a_held_install_lock_makes_setup_and_uninstall_wait_then_exit_75() {
    let env = setup_env();
    seed(&env);
    let originals = snapshot(&env);
    fs::create_dir_all(env.path("state/locks")).unwrap();
    let lock = common::hold_lock(&env.path("state/locks/install.lock"));
    let codex = env.path("codex");
    let claude = env.path("claude");
    let setup = |wait: &str| {
        env.csep(&[
            "setup",
            "--no-backfill",
            "--wait",
            wait,
            "--codex-home",
            codex.to_str().unwrap(),
            "--claude-dir",
            claude.to_str().unwrap(),
        ])
    };
    let out = setup("1");
    assert_eq!(out.status.code(), Some(75));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waiting for another csep setup or uninstall"),
        "{err}"
    );
    assert!(
        err.contains("locks/install.lock") && err.contains("retry"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(snapshot(&env), originals, "nothing changed");
    assert!(!env.path("state/install/manifest.json").exists());
    assert!(!env.path("state/bin/csep-hook.sh").exists());
    // --wait 0: busy at once, without the waiting line.
    let out = setup("0");
    assert_eq!(out.status.code(), Some(75));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("waiting"));
    drop(lock);

    let out = setup("0");
    common::assert_ok(&out);
    let installed = snapshot(&env);
    let lock = common::hold_lock(&env.path("state/locks/install.lock"));
    let out = env.csep(&["uninstall", "--wait", "0"]);
    assert_eq!(out.status.code(), Some(75));
    assert_eq!(snapshot(&env), installed, "uninstall changed nothing");
    assert!(env.path("state/install/manifest.json").exists());
    drop(lock);
    assert!(env.csep(&["uninstall", "--wait", "0"]).status.success());
    assert_eq!(snapshot(&env), originals);
    assert!(
        env.path("state/locks/install.lock").exists(),
        "lock files are never deleted"
    );
}

#[test]
fn a_waiting_setup_goes_ahead_once_the_lock_is_let_go() {
    use std::io::{BufRead, BufReader};
    let env = setup_env();
    seed(&env);
    fs::create_dir_all(env.path("state/locks")).unwrap();
    let lock = common::hold_lock(&env.path("state/locks/install.lock"));
    let mut child = env.spawn_setup(&["--wait", "600"]);
    // It says it waits before it waits; only then is the lock let go.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("csep: waiting for another csep setup"),
        "{line}"
    );
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["type"], "setup_summary");
    let hooks = read_json(&env.path("codex/hooks.json"));
    assert_eq!(csep_handlers(&hooks, "Stop"), 1);
}

#[test]
fn setups_of_one_host_then_the_other_are_merged_and_undone_together() {
    let env = setup_env();
    seed(&env);
    let originals = snapshot(&env);
    env.csep(&[
        "setup",
        "--no-backfill",
        "--no-claude",
        "--codex-home",
        env.path("codex").to_str().unwrap(),
    ]);
    let out = env.csep(&[
        "setup",
        "--no-backfill",
        "--no-codex",
        "--claude-dir",
        env.path("claude").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = s["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    let want = |p: &str| env.path(p).display().to_string();
    assert_eq!(
        paths,
        [
            want("state/bin/csep-hook.sh"),
            want("codex/hooks.json"),
            want("codex/config.toml"),
            want("claude/settings.json"),
            want("claude/.claude.json")
        ],
        "the second setup added to the first's manifest"
    );
    let out = env.csep(&["uninstall"]);
    assert!(out.status.success());
    assert_eq!(snapshot(&env), originals);
    assert!(!env.path("state/bin/csep-hook.sh").exists());
}

#[test]
fn a_backup_of_csep_own_hooks_is_never_put_back_to_run_a_deleted_script() {
    // The manifest is lost (deleted by hand, or overwritten by a racing older csep) and setup
    // runs again: its backup of the host files is of csep's own edit.
    let env = setup_env();
    seed(&env);
    env.setup(&["--no-backfill"]);
    fs::remove_dir_all(env.path("state/install")).unwrap();
    env.setup(&["--no-backfill"]);
    let out = env.csep(&["uninstall"]);
    assert!(out.status.success());
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    no_hook_runs_a_missing_script(&env, "after uninstall");
    for f in ["codex/hooks.json", "claude/settings.json"] {
        let doc = read_json(&env.path(f));
        for e in ["SessionStart", "Stop", "SessionEnd"] {
            assert_eq!(csep_handlers(&doc, e), 0, "{f} {e}: {u}");
        }
    }
    let hooks = read_json(&env.path("codex/hooks.json"));
    assert_eq!(
        hooks["hooks"]["Stop"][0]["hooks"][0]["command"], "/usr/local/bin/my-notifier",
        "the user's own hook stays"
    );
    assert!(!env.path("state/bin/csep-hook.sh").exists());
}

#[test]
fn uninstall_keeps_the_script_while_a_host_file_still_runs_it() {
    let env = setup_env();
    seed(&env);
    env.setup(&["--no-backfill"]);
    let script = env.path("state/bin/csep-hook.sh");
    // The user points one of their own Codex settings at csep's script: csep cannot take
    // that out, so the script must stay.
    let mut toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    let mine = format!("notify = [\"{}\"]\n", script.display());
    toml.insert_str(0, &mine);
    fs::write(env.path("codex/config.toml"), &toml).unwrap();
    let out = env.csep(&["uninstall"]);
    assert!(out.status.success());
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    let how = |p: &Path| {
        u["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p.display().to_string())
            .map(|f| f["how"].as_str().unwrap().to_string())
    };
    assert_eq!(how(&script).as_deref(), Some("kept"), "{u}");
    assert!(script.is_file());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kept") && err.contains("csep-hook.sh"),
        "{err}"
    );
    for f in ["codex/hooks.json", "claude/settings.json"] {
        let doc = read_json(&env.path(f));
        assert_eq!(csep_handlers(&doc, "Stop"), 0, "{f}");
    }
    // Once the user's line is gone, the next uninstall finishes the job.
    let toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    fs::write(env.path("codex/config.toml"), toml.replacen(&mine, "", 1)).unwrap();
    let out = env.csep(&["uninstall"]);
    let u: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(u["status"], "uninstalled", "{u}");
    assert!(!script.exists());
    assert_eq!(
        fs::read_to_string(env.path("codex/config.toml")).unwrap(),
        USER_TOML
    );
    assert!(!env.path("state/install/manifest.json").exists());
}

/// On a machine without Codex, setup makes its home to put the hooks in; uninstall takes the
/// folder away again, but never once Codex (or the user) has put a file of its own there.
#[test]
fn uninstall_removes_a_folder_setup_made_unless_something_else_is_in_it() {
    let env = setup_env();
    let codex = env.path("codex/nested");
    let setup = || {
        let out = env.csep(&[
            "setup",
            "--no-backfill",
            "--no-claude",
            "--no-mcp",
            "--codex-home",
            codex.to_str().unwrap(),
        ]);
        common::assert_ok(&out);
    };
    let uninstall = || -> Value {
        let out = env.csep(&["uninstall"]);
        common::assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert!(!env.path("codex").exists());
    setup();
    assert!(codex.join("hooks.json").is_file());
    let manifest = read_json(&env.path("state/install/manifest.json"));
    let made = json!([env.path("codex").to_str().unwrap(), codex.to_str().unwrap()]);
    assert_eq!(manifest["created_dirs"], made, "outermost first");
    // A second setup records nothing new: the folders are there now, but csep made them.
    setup();
    let manifest = read_json(&env.path("state/install/manifest.json"));
    assert_eq!(manifest["created_dirs"], made);
    let v = uninstall();
    assert_eq!(
        v["removed_dirs"],
        json!([codex.to_str().unwrap(), env.path("codex").to_str().unwrap()]),
        "deepest first: {v}"
    );
    assert!(!env.path("codex").exists());

    // Codex arrives after setup and writes its own file: the folder is Codex's now.
    setup();
    fs::write(codex.join("auth.json"), b"{}").unwrap();
    let v = uninstall();
    assert_eq!(
        v["removed_dirs"],
        json!([]),
        "a folder with a file in it stays: {v}"
    );
    assert_eq!(fs::read(codex.join("auth.json")).unwrap(), b"{}");
    assert!(!codex.join("hooks.json").exists());
    assert!(!env.path("state/install/manifest.json").exists());
}
