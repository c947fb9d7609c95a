//! Black-box tests of `csep memory`: a person's changes go through csep-verify (checked,
//! journalled, undone to the exact bytes), `list` reads provenance from the journal (a
//! reflection job's line names its job and session), pins survive the budget fit, and a
//! rejected change leaves MEMORY.md byte-identical.

use crate::common;

use common::Env;
use predicates::prelude::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SEED: &str = "# Memory\n\n- Use pnpm, not npm.\n- Node 22 is required.\n";

/// A project directory (not a git repo: its bucket is the directory itself) with `memory`
/// as its MEMORY.md; returns the directory.
fn project(env: &Env, memory: Option<&str>) -> PathBuf {
    let dir = env.path("app");
    fs::create_dir_all(&dir).unwrap();
    let dir = fs::canonicalize(dir).unwrap();
    if let Some(m) = memory {
        env.seed_memory(&dir, m);
    }
    dir
}

fn bucket(env: &Env, dir: &Path) -> PathBuf {
    env.state()
        .join("projects")
        .join(dir.to_string_lossy().replace('/', "-"))
}

fn memory_path(env: &Env, dir: &Path) -> PathBuf {
    bucket(env, dir).join("memory/MEMORY.md")
}

/// `csep memory ARGS… --cwd DIR`: (exit code, stdout records, stderr).
fn memory(env: &Env, dir: &Path, args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = env
        .cmd("csep")
        .arg("memory")
        .args(args)
        .arg("--cwd")
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        records,
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A change that must apply; its job id.
#[track_caller]
fn applied(env: &Env, dir: &Path, args: &[&str]) -> String {
    let (code, r, err) = memory(env, dir, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["type"], "memory_result");
    assert_eq!(r[0]["status"], "succeeded", "{}", r[0]);
    let job = r[0]["job_id"].as_str().unwrap().to_string();
    assert!(err.contains(&format!("csep-verify --undo {job}")), "{err}");
    job
}

fn lines_of(env: &Env, dir: &Path) -> Vec<Value> {
    let (code, r, err) = memory(env, dir, &["list", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    r
}

#[track_caller]
fn undo(env: &Env, job: &str) {
    env.cmd("csep-verify")
        .args(["--undo", job])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"status\":\"undone\""));
}

#[test]
fn add_list_forget_and_undo_put_back_the_exact_bytes() {
    let env = Env::new();
    let dir = project(&env, Some(SEED));
    let file = memory_path(&env, &dir);

    let add = applied(
        &env,
        &dir,
        &["add", "- Run `pnpm test -- --run` before a commit"],
    );
    let after_add = fs::read_to_string(&file).unwrap();
    assert_eq!(
        after_add,
        format!("{SEED}- Run `pnpm test -- --run` before a commit\n")
    );
    // A run directory as the worker leaves one, in user mode.
    let run = env.state().join("runs").join(&add);
    let base = common::read_json(&run.join("base.json"));
    assert_eq!(base["mode"], "user");
    assert_eq!(base["job_id"], add.as_str());
    assert!(run.join("proposal/memory/MEMORY.md").is_file());
    assert!(run.join("draft.json").is_file());
    assert_eq!(
        common::read_json(&run.join("receipt.json"))["status"],
        "succeeded"
    );

    let lines = lines_of(&env, &dir);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["line_no"], 3);
    assert_eq!(
        lines[0]["origin"], "unknown",
        "seeded by hand: {}",
        lines[0]
    );
    assert!(lines[0]["job_id"].is_null());
    assert_eq!(lines[2]["line_no"], 5);
    assert_eq!(lines[2]["origin"], "user");
    assert_eq!(lines[2]["action"], "added");
    assert_eq!(lines[2]["job_id"], add.as_str());
    assert!(lines[2]["session_id"].is_null());
    assert_eq!(lines[2]["pinned"], false);
    // Markdown for a person: the numbers and who wrote it.
    env.cmd("csep")
        .args(["memory", "list", "--cwd"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "5  - Run `pnpm test -- --run` before a commit",
        ))
        .stdout(predicate::str::contains("by you (csep memory)"))
        .stdout(predicate::str::contains("not in the journal"));

    // A line written by hand after the job: the job's line keeps its job, the new one has none.
    fs::write(&file, format!("{after_add}- Written by hand.\n")).unwrap();
    let lines = lines_of(&env, &dir);
    assert_eq!(lines[2]["job_id"], add.as_str(), "{}", lines[2]);
    assert_eq!(lines[3]["origin"], "unknown", "{}", lines[3]);
    fs::write(&file, &after_add).unwrap();

    let forget = applied(&env, &dir, &["forget", "node 22"]);
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "# Memory\n\n- Use pnpm, not npm.\n- Run `pnpm test -- --run` before a commit\n"
    );
    let lines = lines_of(&env, &dir);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["job_id"], add.as_str(), "still the add's line");

    undo(&env, &forget);
    assert_eq!(fs::read_to_string(&file).unwrap(), after_add);
    undo(&env, &add);
    assert_eq!(fs::read(&file).unwrap(), SEED.as_bytes());
    // An undone job no longer claims a line.
    assert!(lines_of(&env, &dir)
        .iter()
        .all(|l| l["origin"] == "unknown"));
}

#[test]
fn a_line_is_named_exactly_once_or_the_change_is_refused() {
    let env = Env::new();
    let dir = project(&env, Some(SEED));
    let file = memory_path(&env, &dir);
    for (args, says) in [
        (&["forget", "n"][..], "lines 3, 4"),
        (&["forget", "yarn"], "no memory line holds"),
        (&["forget", "--line", "1"], "line 1 is not a memory line"),
        (&["add", "Use pnpm, not npm"], "line 3 already says this"),
        (&["add", "# a heading"], "nothing to add"),
    ] {
        let (code, r, err) = memory(&env, &dir, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(r.is_empty(), "{r:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    env.cmd("csep")
        .args(["memory", "forget"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--line"));
    assert_eq!(fs::read(&file).unwrap(), SEED.as_bytes());
    assert!(!bucket(&env, &dir).join("journal").exists());
    // By number instead.
    applied(&env, &dir, &["forget", "--line", "4"]);
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "# Memory\n\n- Use pnpm, not npm.\n"
    );
}

#[test]
fn a_secret_is_rejected_and_memory_stays_byte_identical() {
    let env = Env::new();
    let dir = project(&env, Some(SEED));
    let file = memory_path(&env, &dir);
    let token = format!("ghp_{}", "Ab3dE".repeat(8));
    let (code, r, err) = memory(&env, &dir, &["add", &format!("deploy with token {token}")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r[0]["status"], "rejected");
    assert_eq!(r[0]["rejections"][0]["reason"], "secret");
    assert!(
        err.contains("secret") && err.contains("nothing was changed"),
        "{err}"
    );
    let printed = serde_json::to_string(&r).unwrap();
    assert!(
        !printed.contains(&token) && !err.contains(&token),
        "{printed}"
    );
    assert_eq!(fs::read(&file).unwrap(), SEED.as_bytes());
    let job = r[0]["job_id"].as_str().unwrap();
    assert!(!bucket(&env, &dir)
        .join(format!("journal/{job}.jsonl"))
        .exists());
    // Nor is the secret left in the run directory.
    for f in common::walk(&env.state().join("runs").join(job)) {
        let text = String::from_utf8_lossy(&fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains(&token), "{}", f.display());
    }
}

/// An editor script: `sh -c 'ED "$1"'` runs it with the copy to edit.
fn editor(env: &Env, name: &str, body: &str) -> PathBuf {
    let path = env.path(name);
    fs::write(&path, format!("#!/bin/sh\nset -eu\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
    path
}

fn edit(env: &Env, dir: &Path, editor: &Path) -> (i32, Vec<Value>, String) {
    let out = env
        .cmd("csep")
        .args(["memory", "edit", "--cwd"])
        .arg(dir)
        .env("EDITOR", editor)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        records,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn edit_runs_the_editor_on_a_private_copy_and_checks_the_result() {
    let env = Env::new();
    let dir = project(&env, Some(SEED));
    let file = memory_path(&env, &dir);
    let seen = env.path("seen.txt");

    // The editor gets a private copy (never the live file), and its change is applied.
    let ed = editor(
        &env,
        "ed-good.sh",
        &format!(
            "stat -c %a \"$1\" > {seen:?}\necho \"$1\" >> {seen:?}\n\
             sed -i 's/Node 22/Node 24/' \"$1\"\necho '- Deploys go through make release.' >> \"$1\""
        ),
    );
    let (code, r, err) = edit(&env, &dir, &ed);
    assert_eq!(code, 0, "{err}");
    assert_eq!(r[0]["action"], "edit");
    assert_eq!(r[0]["status"], "succeeded", "{}", r[0]);
    assert_eq!(
        r[0]["added"],
        json!([
            "- Node 24 is required.",
            "- Deploys go through make release."
        ])
    );
    assert_eq!(r[0]["removed"], json!(["- Node 22 is required."]));
    let job = r[0]["job_id"].as_str().unwrap().to_string();
    let seen = fs::read_to_string(&seen).unwrap();
    let mut seen = seen.lines();
    assert_eq!(seen.next(), Some("600"));
    let copy = PathBuf::from(seen.next().unwrap());
    assert_ne!(copy, file);
    assert!(!copy.exists(), "the copy is removed once proposed");
    let edited = "# Memory\n\n- Use pnpm, not npm.\n- Node 24 is required.\n- Deploys go through make release.\n";
    assert_eq!(fs::read_to_string(&file).unwrap(), edited);
    // The replaced line reads as changed, in list.
    let lines = lines_of(&env, &dir);
    assert_eq!(lines[1]["action"], "changed", "{}", lines[1]);
    assert_eq!(lines[1]["changed_from"], "Node 22 is required.");

    // An editor that changes nothing: nothing proposed, nothing journalled.
    let runs = || fs::read_dir(env.state().join("runs")).unwrap().count();
    let before = runs();
    let (code, r, err) = edit(&env, &dir, &editor(&env, "ed-none.sh", "true"));
    assert_eq!(code, 0);
    assert_eq!(r[0]["status"], "skipped");
    assert!(r[0]["job_id"].is_null());
    assert!(err.contains("nothing changed"), "{err}");
    assert_eq!(runs(), before, "no run directory is left");

    // An editor that fails: nothing changes.
    let (code, r, err) = edit(
        &env,
        &dir,
        &editor(&env, "ed-fail.sh", "echo '- half' >> \"$1\"; exit 3"),
    );
    assert_eq!(code, 2, "{err}");
    assert!(r.is_empty());
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), edited);

    // An edit that plants a control character is checked like a proposal: rejected.
    let (code, r, err) = edit(
        &env,
        &dir,
        &editor(
            &env,
            "ed-bad.sh",
            "printf -- '- run \\033[2J tests\\n' >> \"$1\"",
        ),
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(r[0]["rejections"][0]["reason"], "control_character");
    assert_eq!(fs::read_to_string(&file).unwrap(), edited);

    undo(&env, &job);
    assert_eq!(fs::read(&file).unwrap(), SEED.as_bytes());
}

#[test]
fn a_pinned_line_survives_the_budget_and_others_move_to_the_archive() {
    let env = Env::new();
    env.config("[memory]\ninject_max_chars = 120\n");
    let seed = "- Oldest: the CI runs on Fridays.\n- Older: Node 22 is required.\n- Newer: use pnpm, not npm.\n";
    let dir = project(&env, Some(seed));
    let file = memory_path(&env, &dir);

    let (code, r, err) = memory(&env, &dir, &["pin", "oldest"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(r[0]["status"], "succeeded");
    assert!(r[0]["job_id"].is_null());
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        seed,
        "a pin changes no memory file"
    );
    let (code, r, _) = memory(&env, &dir, &["pin", "--line", "1"]);
    assert_eq!((code, r[0]["status"].as_str()), (0, Some("skipped")));

    // 96 + 40 characters do not fit in 120: the oldest unpinned line goes to the archive.
    let job = applied(
        &env,
        &dir,
        &["add", "Deploy only from the main branch, on Mondays"],
    );
    let now = fs::read_to_string(&file).unwrap();
    assert!(now.chars().count() <= 120, "{now}");
    assert!(
        now.contains("Oldest: the CI runs on Fridays"),
        "pinned: {now}"
    );
    assert!(now.contains("Deploy only from the main branch"), "{now}");
    assert!(!now.contains("Older: Node 22"), "{now}");
    let archive = bucket(&env, &dir).join("memory/refs/archive.md");
    let archived = fs::read_to_string(&archive).unwrap();
    assert!(
        archived.contains("- Older: Node 22 is required."),
        "{archived}"
    );
    let (_, r, err) = memory(&env, &dir, &["list", "--format", "json"]);
    assert!(err.is_empty(), "{err}");
    assert_eq!(r[0]["type"], "memory_list");
    assert_eq!(r[0]["budget_chars"], 120);
    let lines = r[0]["lines"].as_array().unwrap();
    assert_eq!(lines[0]["pinned"], true);
    assert!(lines[1..].iter().all(|l| l["pinned"] == false));

    // A pinned line is not forgotten by accident.
    let (code, _, err) = memory(&env, &dir, &["forget", "oldest"]);
    assert_eq!(code, 2);
    assert!(err.contains("is pinned; unpin it first"), "{err}");
    let (code, r, _) = memory(&env, &dir, &["unpin", "oldest"]);
    assert_eq!((code, r[0]["status"].as_str()), (0, Some("succeeded")));

    // One job moved both files: undo puts both back (the archive did not exist).
    undo(&env, &job);
    assert_eq!(fs::read_to_string(&file).unwrap(), seed);
    assert!(!archive.exists());
}

#[test]
fn show_prints_the_file_with_its_usage() {
    let env = Env::new();
    env.config("[memory]\ninject_max_chars = 1000\n");
    let dir = project(&env, Some(SEED));
    // A pipe gets the record.
    let (code, r, _) = memory(&env, &dir, &["show"]);
    assert_eq!(code, 0);
    assert_eq!(r[0]["type"], "memory_show");
    assert_eq!(r[0]["text"], SEED);
    assert_eq!(r[0]["chars"], SEED.chars().count());
    assert_eq!(r[0]["budget_chars"], 1000);
    assert_eq!(r[0]["lines"], 2);
    env.cmd("csep")
        .args(["memory", "show", "--format", "markdown", "--cwd"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Usage: {}/1000 characters",
            SEED.chars().count()
        )))
        .stdout(predicate::str::contains("- Node 22 is required."));
    // No memory yet.
    let empty = env.path("other");
    fs::create_dir_all(&empty).unwrap();
    let (code, r, _) = memory(&env, &empty, &["show"]);
    assert_eq!(code, 0);
    assert_eq!(r[0]["exists"], false);
    assert_eq!(r[0]["chars"], 0);
}

// ---------------------------------------------------------------------------------------
// Provenance of a line a reflection job wrote.

const SESSION: &str = "019a0000-0000-7000-8000-0000000000c1";

#[test]
fn list_names_the_reflection_job_and_session_that_added_a_line() {
    let env = Env::new();
    let dir = project(&env, Some(SEED));
    let cwd = dir.to_string_lossy().into_owned();
    let script = env.path("provider.sh");
    fs::write(
        &script,
        r#"set -eu
cat > /dev/null
mkdir -p proposal/memory
cat inputs/MEMORY.md > proposal/memory/MEMORY.md
echo '- Integration tests need the database started first.' >> proposal/memory/MEMORY.md
printf '{"status": "succeeded", "memory_changes": [{"path": "memory/MEMORY.md", "action": "update"}], "skill_changes": [], "skipped_candidates": [], "validation_notes": [], "errors": []}' > draft.json
"#,
    )
    .unwrap();
    env.config(&format!(
        "[session_reflection]\nbackend = \"command\"\ncommand = [\"sh\", {:?}]\ntimeout_seconds = 60\n",
        script.display().to_string()
    ));
    let rollout = env.path(&format!(
        "sessions/rollout-2026-11-01T10-00-00-{SESSION}.jsonl"
    ));
    common::write_lines(
        &rollout,
        &common::codex_rollout(
            SESSION,
            &cwd,
            "remember: the integration tests need the database started first",
            "connection refused",
            "Started the database; the tests pass now.",
        ),
    );
    env.cmd("csep-index")
        .arg("--file")
        .arg(&rollout)
        .assert()
        .success();
    let payload = json!({"session_id": SESSION, "transcript_path": rollout, "cwd": cwd,
        "hook_event_name": "Stop", "model": "gpt-5", "turn_id": "t1", "stop_hook_active": false});
    let out = env
        .cmd("csep-trigger")
        .write_stdin(payload.to_string())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let d: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(d["decision"], "queued", "{d}");
    let job = d["job_id"].as_str().unwrap().to_string();
    let out = env
        .cmd("csep-reflect")
        .arg("--once")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(r["status"], "succeeded", "{r}");

    let user = applied(&env, &dir, &["add", "Prefer small commits"]);
    let lines = lines_of(&env, &dir);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let reflected = &lines[2];
    assert_eq!(
        reflected["text"],
        "- Integration tests need the database started first."
    );
    assert_eq!(reflected["origin"], "reflection");
    assert_eq!(reflected["action"], "added");
    assert_eq!(reflected["job_id"], job.as_str());
    assert_eq!(reflected["session_id"], SESSION);
    assert!(reflected["at"].as_str().unwrap().starts_with("20"));
    assert_eq!(lines[3]["origin"], "user");
    assert_eq!(lines[3]["job_id"], user.as_str());
    env.cmd("csep")
        .args(["memory", "list", "--cwd"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "by session {SESSION}, job {job}"
        )));
}

#[test]
fn completions_know_the_memory_commands() {
    let env = Env::new();
    let out = env
        .cmd("csep")
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let script = String::from_utf8(out).unwrap();
    for word in ["memory", "forget", "unpin", "--line", "--pin"] {
        assert!(script.contains(word), "bash completions lack {word}");
    }
    assert!(
        script.contains("csep__subcmd__memory__subcmd__add"),
        "no completion for `csep memory add`"
    );
}
