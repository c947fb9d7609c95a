//! What reflection, `csep config`, `migrate-worktrees` and `csep memory` really print and
//! leave, checked against docs/WIRE.md's tables.

use super::wire::*;
use crate::common::{git_repo, git_worktree};
use serde_json::Value;

#[test]
fn what_reflection_prints_and_leaves_now_matches_the_wire_tables() {
    let wire = wire();
    let live = live();
    let tmp = live.root();
    let state = live.state();
    let mut problems = Vec::new();
    let repo_root = "/nonexistent/ledger";
    live.seed_memory(std::path::Path::new(repo_root), "# Memory\n\n- Use pnpm.\n");
    let id = "019ab5c2-7d41-7e30-9a1f-3c2e8d90b419";
    let rollout = tmp.join(format!("sessions/rollout-2026-11-24T10-15-02-{id}.jsonl"));
    small_rollout(
        &rollout,
        id,
        "From now on, remember to run the release workflow before tagging.",
    );
    let rollout = rollout.to_str().unwrap();
    live.cmd("csep-index")
        .args(["--file", rollout])
        .assert()
        .success();
    let script = tmp.join("reflect.sh");
    std::fs::write(
        &script,
        "mkdir -p proposal/memory\ncat inputs/MEMORY.md > proposal/memory/MEMORY.md\n\
         echo '- Run the release workflow before tagging.' >> proposal/memory/MEMORY.md\n\
         printf '{\"status\": \"succeeded\", \"memory_changes\": [\"memory/MEMORY.md\"], \"skill_changes\": [], \"skipped_candidates\": [], \"validation_notes\": [], \"errors\": []}' > draft.json\n",
    )
    .unwrap();
    live.config(&format!(
        "[session_reflection]\nbackend = \"command\"\ncommand = [\"sh\", {:?}]\n",
        script.display().to_string()
    ));
    let stop = serde_json::json!({"session_id": id, "transcript_path": rollout, "cwd": repo_root, "hook_event_name": "Stop"});
    let out = live
        .cmd("csep-trigger")
        .write_stdin(stop.to_string())
        .output()
        .unwrap();
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = d["job_id"].as_str().expect("a queued job").to_string();

    let mut c = live.cmd("csep-reflect");
    c.arg("--once");
    let result = printed_record(&wire, c, "csep-reflect --once", &mut problems);
    assert_eq!(result["status"], "succeeded", "{result}");
    let run = state.join("runs").join(&job);
    let mut files = Vec::new();
    for name in ["base.json", "receipt.json", "status.json"] {
        let what = format!("runs/<job>/{name}");
        let v: Value = serde_json::from_slice(&std::fs::read(run.join(name)).unwrap()).unwrap();
        match wire.typed_table(&v) {
            Some(t) => wire.check(&v, &[t], &what, &mut problems),
            None => problems.push(format!("{what}: no documented type")),
        }
        files.push(v);
    }
    let bucket = state.join("projects").join(repo_root.replace('/', "-"));
    let v: Value =
        serde_json::from_slice(&std::fs::read(bucket.join("reflection.json")).unwrap()).unwrap();
    match wire.typed_table(&v) {
        Some(t) => wire.check(&v, &[t], "projects/<bucket>/reflection.json", &mut problems),
        None => problems.push("projects/<bucket>/reflection.json: no documented type".into()),
    }
    let journal = std::fs::read_to_string(bucket.join(format!("journal/{job}.jsonl"))).unwrap();
    for (n, line) in journal.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let what = format!("journal/<job>.jsonl:{}", n + 1);
        match wire.typed_table(&v) {
            Some(t) => wire.check(&v, &[t], &what, &mut problems),
            None => problems.push(format!("{what}: no documented type")),
        }
    }

    let mut c = live.cmd("csep");
    c.args(["session-reflect", "--status"]);
    let reflect_status = printed_record(&wire, c, "csep session-reflect --status", &mut problems);
    assert_eq!(reflect_status["latest"]["job_id"], job.as_str());
    let mut c = live.cmd("csep");
    c.arg("status");
    let status = printed_record(&wire, c, "csep status", &mut problems);
    assert_eq!(
        status["stable_memory"]["latest_memory_validation_status"],
        "succeeded"
    );

    let mut c = live.cmd("csep-verify");
    c.args(["--undo", &job]);
    let undo = printed_record(&wire, c, "csep-verify --undo", &mut problems);
    assert_eq!(undo["status"], "undone", "{undo}");
    assert_eq!(
        std::fs::read_to_string(bucket.join("memory/MEMORY.md")).unwrap(),
        "# Memory\n\n- Use pnpm.\n"
    );
    // The run log those runs left: every line matches its table.
    let run_log = example_table(&wire, "\"command\": \"recall\", \"exit_code\"");
    let runs = checked_log_lines(
        &wire,
        run_log,
        &state.join("logs/runs.jsonl"),
        &mut problems,
    );
    assert!(runs.len() >= 4, "{runs:?}");
    all_fields_seen_in(&wire, run_log, &runs, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_config_and_migrate_worktrees_print_now_match_the_wire_tables() {
    let wire = wire();
    let live = live();
    let state = live.state();
    let mut problems = Vec::new();
    let mut printed = Vec::new();
    // One line, one object, "type" first, with the documented exit status.
    let mut answer = |args: &[&str], code: i32, problems: &mut Vec<String>| -> Value {
        let out = live.cmd("csep").args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "csep {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        if !text.starts_with("{\"type\":") || text.trim_end().contains('\n') {
            problems.push(format!(
                "csep {args:?}: not one line with \"type\" first: {text}"
            ));
        }
        let v: Value = serde_json::from_str(text.trim_end())
            .unwrap_or_else(|e| panic!("csep {args:?}: {e}: {text}"));
        match wire.typed_table(&v) {
            Some(t) => wire.check(&v, &[t], &format!("csep {args:?}"), problems),
            None => problems.push(format!("csep {args:?}: no documented type: {text}")),
        }
        printed.push(v.clone());
        v
    };

    std::fs::create_dir_all(&state).unwrap();
    let env_file = state.join(".env.provider");
    std::fs::write(&env_file, "OPENAI_API_KEY=x\nHTTPS_PROXY=y\n").unwrap();
    std::fs::set_permissions(
        &env_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    answer(&["config", "path"], 0, &mut problems);
    answer(&["config", "init"], 0, &mut problems);
    let forced = answer(&["config", "init", "--force"], 0, &mut problems);
    assert!(forced["backup_path"].is_string());
    live.config("[memory]\ninject_max_chars = 0\ncolour = 1\n");
    let show = answer(&["config", "show"], 0, &mut problems);
    assert_eq!(show["env_provider"]["mode_too_wide"], true);
    answer(&["config", "show", "--raw"], 0, &mut problems);
    answer(&["config", "validate"], 1, &mut problems);

    let root = std::fs::canonicalize(live.root()).unwrap();
    let (repo, wt, gone) = (root.join("app"), root.join("app-wt"), root.join("app-old"));
    git_repo(&repo);
    git_worktree(&repo, &wt, "wt");
    git_worktree(&repo, &gone, "old");
    std::fs::remove_dir_all(&gone).unwrap();
    for (dir, text) in [(&repo, "- main\n"), (&wt, "- wt\n"), (&gone, "- old\n")] {
        live.seed_memory(dir, text);
    }
    let refs = state
        .join("projects")
        .join(wt.to_string_lossy().replace('/', "-"))
        .join("memory/refs");
    std::fs::create_dir_all(&refs).unwrap();
    std::fs::write(refs.join("a.md"), "a\n").unwrap();
    let plan = answer(&["migrate-worktrees"], 0, &mut problems);
    assert_eq!(plan["counts"]["to_migrate"], 1, "{plan}");
    let done = answer(&["migrate-worktrees", "--apply"], 0, &mut problems);
    assert_eq!(done["apply_results"][0]["status"], "merged", "{done}");
    let journal = done["apply_results"][0]["journal"].as_str().unwrap();
    for (n, line) in std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .enumerate()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        let what = format!("the migration's journal, line {}", n + 1);
        match wire.typed_table(&v) {
            Some(t) => wire.check(&v, &[t], &what, &mut problems),
            None => problems.push(format!("{what}: no documented type")),
        }
    }
    all_fields_seen(
        &wire,
        &[
            "config_path",
            "config_show",
            "config_raw",
            "config_validate",
            "config_init",
            "migrate_worktrees",
        ],
        &printed,
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_csep_memory_prints_now_matches_the_wire_tables() {
    let wire = wire();
    let live = live();
    let mut problems = Vec::new();
    let mut printed = Vec::new();
    let dir = live.path("app");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::fs::canonicalize(dir).unwrap();
    live.seed_memory(
        &dir,
        "# Memory\n\n- Use pnpm, not npm.\n- Node 20 is required.\n",
    );
    live.config("[memory]\ninject_max_chars = 80\n");
    let editor = live.path("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/main branch/release branch/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let token = format!("ghp_{}", "Ab3dE".repeat(8));
    for (args, code) in [
        (vec!["show"], 0),
        (vec!["pin", "pnpm"], 0),
        (vec!["add", "Deploy only from the main branch"], 0),
        (vec!["edit"], 0),
        (vec!["add", &format!("deploy with {token}")], 1),
        (vec!["list", "--format", "json"], 0),
        (vec!["list", "--format", "jsonl"], 0),
    ] {
        let out = live
            .cmd("csep")
            .arg("memory")
            .args(&args)
            .arg("--cwd")
            .arg(&dir)
            .env("EDITOR", &editor)
            .env_remove("VISUAL")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "csep memory {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            if !line.starts_with("{\"type\":") {
                problems.push(format!(
                    "csep memory {args:?}: \"type\" is not first: {line}"
                ));
            }
            let v: Value = serde_json::from_str(line).unwrap();
            match wire.typed_table(&v) {
                Some(t) => wire.check(&v, &[t], &format!("csep memory {args:?}"), &mut problems),
                None => problems.push(format!("csep memory {args:?}: no documented type: {line}")),
            }
            printed.push(v);
        }
    }
    let added = printed.iter().find(|v| v["action"] == "add").unwrap();
    assert_eq!(added["archived"].as_array().unwrap().len(), 1, "{added}");
    all_fields_seen(
        &wire,
        &["memory_show", "memory_list", "memory_line", "memory_result"],
        &printed,
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
