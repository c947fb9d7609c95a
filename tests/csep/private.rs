//! Black-box tests of "private by construction": under the common umask 022, everything csep
//! creates under its state dir (and the skills it writes) is the owner's alone (dirs 0700,
//! files 0600, the hook script 0700); the hosts' files setup and uninstall rewrite keep their
//! mode; an install from before is reported by `csep status` and tightened by the next drain
//! or setup. (The tests run as root, who reads anything: modes are checked, not access.)

use crate::common;

use common::{codex_path, codex_rollout, write_lines, Env};
use csep_lib::fsutil::is_locked;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ID: &str = "019a0000-0000-7000-8000-0000000000b7";

impl Env {
    /// `bin ARGS…` with this environment, started under umask 022 (what most shells have).
    fn umask022(&self, bin: &str) -> assert_cmd::Command {
        let mut c = self.command("sh");
        c.args(["-c", "umask 022; exec \"$@\"", "sh"])
            .arg(assert_cmd::cargo::cargo_bin(bin));
        c.env("CSEP_CODEX_SKILLS_DIR", self.path("skills"));
        c
    }
    fn ok(&self, bin: &str, args: &[&str]) -> Vec<u8> {
        self.umask022(bin)
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    }
    fn setup_hosts(&self) {
        let (codex, claude) = (self.path("codex"), self.path("claude"));
        self.ok(
            "csep",
            &[
                "setup",
                "--no-backfill",
                "--codex-home",
                codex.to_str().unwrap(),
                "--claude-dir",
                claude.to_str().unwrap(),
            ],
        );
    }
    fn status_warnings(&self) -> Vec<String> {
        let s: Value = serde_json::from_slice(&self.ok("csep", &["status"])).unwrap();
        s["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_string())
            .collect()
    }
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

/// Every path under `dir` (itself included) whose mode is not the private one, with its mode.
fn not_private(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut bad = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let want = if m.is_dir() || p.ends_with("bin/csep-hook.sh") {
            0o700
        } else if p.parent().is_some_and(|d| d.ends_with("inputs")) {
            // A run's inputs: read-only copies for the model.
            0o400
        } else {
            0o600
        };
        if m.mode() & 0o7777 != want {
            bad.push((p.clone(), m.mode() & 0o7777));
        }
        if m.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    bad
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            n += 1;
        }
    }
    n
}

/// Waits (bounded, for background work, not for speed) until `done` holds.
#[track_caller]
fn wait_until(what: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "{}", what());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A reflection provider (the `command` backend) that proposes a memory line and a skill.
const PROVIDER: &str = r#"set -eu
cat >/dev/null
mkdir -p proposal/memory proposal/skills/csep-reflect-db-tests
cat inputs/MEMORY.md > proposal/memory/MEMORY.md 2>/dev/null || printf '# Memory\n' > proposal/memory/MEMORY.md
echo '- Integration tests need `make db-up` first.' >> proposal/memory/MEMORY.md
cat > proposal/skills/csep-reflect-db-tests/SKILL.md <<'EOF'
---
name: csep-reflect-db-tests
description: Run the integration tests against a local database.
---

# Run the integration tests

## Skill Decision
The session needed three tries to find the right order of steps.

## When to Use
When integration tests fail with connection refused.

## Inputs
A checkout of the repository and Docker.

## Workflow
1. Run `make db-up`.
2. Run `make test-integration`.

## Verification
Every test passes and no connection error is printed.

## Failure Handling
If port 5433 is taken, stop the other container first.
EOF
echo 'provider scratch' > scratch.txt
printf '{"status": "succeeded", "memory_changes": [{"path": "memory/MEMORY.md", "action": "update"}], "skill_changes": [{"path": "skills/csep-reflect-db-tests/SKILL.md", "action": "create"}], "skipped_candidates": [], "validation_notes": [], "errors": []}' > draft.json
"#;

#[test]
fn everything_csep_creates_is_private_under_umask_022() {
    let env = Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build();
    // The hosts' own files, private as Claude Code and Codex leave them.
    fs::create_dir_all(env.path("codex")).unwrap();
    fs::create_dir_all(env.path("claude")).unwrap();
    let toml = env.path("codex/config.toml");
    let settings = env.path("claude/settings.json");
    fs::write(&toml, "model = \"gpt-5.5\"\n").unwrap();
    fs::write(&settings, "{\"env\": {\"ANTHROPIC_API_KEY\": \"k\"}}\n").unwrap();
    set_mode(&toml, 0o600);
    set_mode(&settings, 0o600);
    let (toml_before, settings_before) = (fs::read(&toml).unwrap(), fs::read(&settings).unwrap());

    env.ok("csep", &["config", "init"]);
    let script = env.path("provider.sh");
    fs::write(&script, PROVIDER).unwrap();
    // Written in place, so the file keeps the mode `config init` gave it.
    let config = env.state().join("config.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[session_reflection]\n",
        &format!(
            "[session_reflection]\nbackend = \"command\"\ncommand = [\"sh\", {:?}]\n",
            script.display().to_string()
        ),
        1,
    );
    fs::write(&config, text).unwrap();
    env.setup_hosts();
    assert_eq!(mode(&toml), 0o600, "setup keeps config.toml's mode");
    assert_eq!(mode(&settings), 0o600, "setup keeps settings.json's mode");
    assert_eq!(
        mode(&env.path("codex/hooks.json")),
        0o600,
        "a new host file"
    );
    let backups = env.state().join("install/backup");
    assert_eq!(fs::read_dir(&backups).unwrap().count(), 2);

    // A session: SessionStart, then a Stop whose drainer indexes it, runs the trigger and
    // starts the worker, whose provider's proposal csep-verify applies.
    let cwd = env.path("app");
    fs::create_dir_all(&cwd).unwrap();
    let start = json!({"session_id": ID, "cwd": cwd, "hook_event_name": "SessionStart", "source": "startup"});
    env.umask022("csep")
        .args(["hook", "codex"])
        .write_stdin(start.to_string())
        .assert()
        .success();
    let rollout = codex_path(&env.path("sessions"), ID);
    let lines = codex_rollout(
        ID,
        cwd.to_str().unwrap(),
        "remember: the integration tests need make db-up first; make this a workflow",
        "connection refused: 127.0.0.1:5433 privateneedle",
        "Started the database with make db-up; the tests pass now.",
    );
    write_lines(&rollout, &lines);
    let stop = json!({"session_id": ID, "transcript_path": rollout, "cwd": cwd, "hook_event_name": "Stop", "turn_id": "t1", "stop_hook_active": false});
    env.umask022("csep")
        .args(["hook", "codex"])
        .write_stdin(stop.to_string())
        .assert()
        .success();
    let done = env.state().join("spool/reflect/done");
    // Done, and nobody left writing (the drainer, the worker).
    let log = env.state().join("logs/hook.log");
    let why = || {
        format!(
            "the reflection job never finished; hook.log:\n{}\nstate: {:?}",
            common::read_lossy(&log),
            common::walk(&env.state())
        )
    };
    wait_until(why, || {
        fs::read_dir(&done).is_ok_and(|mut d| d.next().is_some())
            && !is_locked(&env.state().join("spool/archive/.lock"))
            && !is_locked(&env.state().join("spool/reflect/.lock"))
    });
    let skill = env.path("skills/csep-reflect-db-tests/SKILL.md");
    assert!(skill.is_file(), "the proposal was applied");
    let runs = env.state().join("runs");
    let run = fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    assert!(run.join("scratch.txt").is_file(), "the provider wrote here");

    // Recall (a run log line), forget, a backfill.
    let r: Value = serde_json::from_slice(&env.ok(
        "csep-recall",
        &["--global", "--format", "json", "privateneedle"],
    ))
    .unwrap();
    assert!(r.to_string().contains(ID), "{r}");
    env.ok("csep", &["recall", "forget", ID]);
    env.ok(
        "csep-index",
        &[
            "--backfill",
            "codex",
            "--all-history",
            "--root",
            env.path("sessions").to_str().unwrap(),
        ],
    );

    for dir in [
        "index",
        "logs",
        "spool/archive",
        "spool/reflect/done",
        "triggers",
        "runs",
        "projects",
        "install/backup",
        "bin",
    ] {
        assert!(env.state().join(dir).is_dir(), "{dir} was not created");
    }
    assert!(
        count_files(&env.state()) > 20,
        "the walk below looks at real work"
    );
    assert_eq!(not_private(&env.state()), vec![], "under the state dir");
    assert_eq!(
        not_private(&env.path("skills/csep-reflect-db-tests")),
        vec![],
        "the skill csep-verify wrote"
    );
    assert!(
        !env.status_warnings()
            .iter()
            .any(|w| w.contains("other user")),
        "{:?}",
        env.status_warnings()
    );

    env.ok("csep", &["uninstall"]);
    assert_eq!(fs::read(&toml).unwrap(), toml_before);
    assert_eq!(fs::read(&settings).unwrap(), settings_before);
    assert_eq!(mode(&toml), 0o600, "uninstall keeps config.toml's mode");
    assert_eq!(
        mode(&settings),
        0o600,
        "uninstall keeps settings.json's mode"
    );
    assert_eq!(not_private(&env.state()), vec![]);
}

#[test]
fn host_files_keep_their_mode_through_setup_and_uninstall() {
    let env = Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build();
    fs::create_dir_all(env.path("codex")).unwrap();
    fs::create_dir_all(env.path("claude")).unwrap();
    let files = [
        (env.path("codex/config.toml"), "model = \"o3\"\n", 0o640),
        (env.path("codex/hooks.json"), "{\"hooks\": {}}\n", 0o644),
        (
            env.path("claude/settings.json"),
            "{\"model\": \"opus\"}\n",
            0o640,
        ),
    ];
    for (p, text, m) in &files {
        fs::write(p, text).unwrap();
        set_mode(p, *m);
    }
    // Run as root (as the tests are, or `sudo csep setup`), setup leaves a file's owner as
    // it was; elsewhere nobody can give a file away, and it is the caller's anyway.
    let owner = |p: &Path| {
        let m = fs::metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    let as_root = std::os::unix::fs::chown(&files[2].0, Some(4242), Some(4343)).is_ok();
    let owners: Vec<_> = files.iter().map(|(p, _, _)| owner(p)).collect();
    env.setup_hosts();
    for (i, (p, text, m)) in files.iter().enumerate() {
        assert_eq!(owner(p), owners[i], "{} after setup", p.display());
        assert_eq!(mode(p), *m, "{} after setup", p.display());
        assert_ne!(fs::read_to_string(p).unwrap(), *text, "setup changed it");
    }
    for e in fs::read_dir(env.state().join("install/backup")).unwrap() {
        assert_eq!(mode(&e.unwrap().path()), 0o600, "a backup can hold a key");
    }
    // A second setup (nothing to change) and uninstall keep them too.
    env.setup_hosts();
    env.ok("csep", &["uninstall"]);
    for (p, text, m) in &files {
        assert_eq!(mode(p), *m, "{} after uninstall", p.display());
        assert_eq!(fs::read_to_string(p).unwrap(), *text);
    }
    let after: Vec<_> = files.iter().map(|(p, _, _)| owner(p)).collect();
    assert_eq!(after, owners);
    if as_root {
        assert_eq!(owner(&files[2].0), (4242, 4343));
    }
}

/// A host file that is a symlink into a dotfiles checkout stays a symlink through setup and
/// uninstall: the file it points to is edited (keeping its mode), then restored.
#[test]
fn a_symlinked_host_file_stays_a_symlink() {
    let env = Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build();
    fs::create_dir_all(env.path("codex")).unwrap();
    fs::create_dir_all(env.path("dotfiles")).unwrap();
    let real = env.path("dotfiles/claude-settings.json");
    let text = "{\"model\": \"opus\"}\n";
    fs::write(&real, text).unwrap();
    set_mode(&real, 0o640);
    fs::create_dir_all(env.path("claude")).unwrap();
    let link = env.path("claude/settings.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    env.setup_hosts();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "setup replaced the link with a file"
    );
    assert_eq!(fs::read_link(&link).unwrap(), real);
    assert!(fs::read_to_string(&real).unwrap().contains("csep-hook.sh"));
    assert_eq!(mode(&real), 0o640);
    env.ok("csep", &["uninstall"]);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&real).unwrap(), text);
    assert_eq!(mode(&real), 0o640);
    // Nothing was left beside the link either.
    let names: Vec<_> = fs::read_dir(env.path("claude"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["settings.json"]);
}

/// A state dir that is private itself (a user's `chmod 700`) with a wide `index/` inside (a
/// `cp` under umask 022): status warns, and the next drain makes it private, as it says.
#[test]
fn a_wide_index_in_a_private_state_dir_is_tightened_by_the_next_drain() {
    let env = Env::new();
    let index = env.state().join("index");
    fs::create_dir_all(&index).unwrap();
    let db = index.join("recall.sqlite3");
    fs::write(&db, "").unwrap();
    set_mode(&env.state(), 0o700);
    set_mode(&index, 0o755);
    set_mode(&db, 0o644);
    assert!(env
        .status_warnings()
        .iter()
        .any(|w| w.contains("can be read by other users")));
    env.ok("csep", &["drain"]);
    assert_eq!((mode(&index), mode(&db)), (0o700, 0o600));
    assert!(!env
        .status_warnings()
        .iter()
        .any(|w| w.contains("other user")));
}

/// A state dir as an older csep left it under umask 022.
fn old_install(env: &Env) -> Vec<PathBuf> {
    let state = env.state();
    let memory = state.join("projects/-work-app/memory/MEMORY.md");
    let log = state.join("logs/runs.jsonl");
    let payload = state.join("spool/archive/done/x.json");
    for f in [&memory, &log, &payload] {
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, "{}\n").unwrap();
        set_mode(f, 0o644);
    }
    let mut wide = vec![state.clone()];
    for d in [
        "projects",
        "projects/-work-app",
        "projects/-work-app/memory",
        "logs",
        "spool",
        "spool/archive",
        "spool/archive/done",
    ] {
        set_mode(&state.join(d), 0o755);
        wide.push(state.join(d));
    }
    wide.extend([memory, log, payload]);
    wide
}

#[test]
fn an_old_install_is_reported_then_tightened_by_the_next_drain_or_setup() {
    let env = Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build();
    fs::create_dir_all(env.state()).unwrap();
    set_mode(&env.state(), 0o755);
    let wide = old_install(&env);
    // Not csep's: a symlink to a file elsewhere is neither followed nor changed.
    let elsewhere = env.path("elsewhere.txt");
    fs::write(&elsewhere, "x").unwrap();
    set_mode(&elsewhere, 0o644);
    std::os::unix::fs::symlink(&elsewhere, env.state().join("link")).unwrap();

    let warnings = env.status_warnings();
    let w = warnings
        .iter()
        .find(|w| w.contains("can be read by other users"))
        .unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(w.starts_with(&format!("{} paths under", wide.len())), "{w}");
    assert!(w.contains("chmod -R go="), "{w}");
    for p in &wide {
        assert_ne!(mode(p) & 0o077, 0, "status changed {}", p.display());
    }

    env.ok("csep", &["drain"]);
    assert_eq!(
        not_private(&env.state())
            .into_iter()
            .filter(|(p, _)| !p.ends_with("link"))
            .collect::<Vec<_>>(),
        vec![]
    );
    assert_eq!(mode(&elsewhere), 0o644);
    assert!(
        !env.status_warnings()
            .iter()
            .any(|w| w.contains("other user")),
        "{:?}",
        env.status_warnings()
    );

    // Setup tightens whatever it finds, even when the state dir itself is private, and the
    // skills an older csep-verify generated; never a skill of the user's.
    let wide = old_install(&env);
    set_mode(&env.state(), 0o700);
    let mut skills = Vec::new();
    for name in ["csep-reflect-db-tests", "my-skill"] {
        let skill = env.path(&format!("skills/{name}/SKILL.md"));
        fs::create_dir_all(skill.parent().unwrap()).unwrap();
        fs::write(&skill, "x").unwrap();
        set_mode(&skill, 0o644);
        set_mode(skill.parent().unwrap(), 0o755);
        skills.push(skill);
    }
    env.setup_hosts();
    for p in wide.iter().chain(&skills[..1]) {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), want, "{}", p.display());
    }
    assert_eq!(mode(skills[0].parent().unwrap()), 0o700);
    assert_eq!(mode(&skills[1]), 0o644, "the user's own skill");
    assert_eq!(mode(skills[1].parent().unwrap()), 0o755);
}

#[test]
fn status_names_a_path_that_belongs_to_another_user() {
    let env = Env::new();
    env.ok("csep", &["config", "init"]);
    let config = env.state().join("config.toml");
    // Only root can give a file away; elsewhere there is nothing to look at.
    if std::os::unix::fs::chown(&config, Some(4242), None).is_err() {
        return;
    }
    let warnings = env.status_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("1 path under")
            && w.contains("belongs to another user")
            && w.contains(config.to_str().unwrap())),
        "{warnings:?}"
    );
}

#[test]
fn codex_trusting_the_hooks_keeps_config_toml_mode() {
    // The real Codex writes the trust into config.toml itself (`config/batchWrite`), through
    // a new file of its own making.
    let codex_bin = common::host_bin(
        "CSEP_CODEX_BIN",
        "the real Codex CLI",
        "scripts/install-hosts.sh",
        "on the dev machines: CSEP_CODEX_BIN=/tmp/codexcli/node_modules/.bin/codex",
    );
    let env = Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build();
    fs::create_dir_all(env.path("codex")).unwrap();
    let toml = env.path("codex/config.toml");
    fs::write(&toml, "model = \"o3\"\n").unwrap();
    set_mode(&toml, 0o640);
    let s: Value = serde_json::from_slice(&env.ok(
        "csep",
        &[
            "setup",
            "--no-backfill",
            "--no-claude",
            "--codex-home",
            env.path("codex").to_str().unwrap(),
            "--codex-bin",
            codex_bin.to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert_eq!(s["codex"]["trust"], "trusted", "{s}");
    assert!(
        fs::read_to_string(&toml).unwrap().contains("trusted_hash"),
        "Codex wrote the trust"
    );
    assert_eq!(mode(&toml), 0o640);
    env.ok("csep", &["uninstall"]);
    assert_eq!(mode(&toml), 0o640);
    assert_eq!(fs::read_to_string(&toml).unwrap(), "model = \"o3\"\n");
}
