//! Black-box tests of `csep session-reflection write-receipt`: a run directory is built by
//! hand (base.json, proposal/, draft.json) as csep-reflect would leave it, and the real
//! `csep` binary checks it early. It must print csep-verify's dry-run receipt, exit 0 when
//! the proposal would pass and 1 when it would be rejected, and never touch a live file.

use crate::common;

use common::Env;
use csep_lib::setup::sha256_hex;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

const JOB: &str = "20261101T100000Z-0feedbee";
const LIVE_MEMORY: &str = "# Repo memory\n\n- Run `cargo test --workspace` before committing.\n";

struct Run {
    env: Env,
}

impl Run {
    fn new() -> Run {
        let run = Run { env: Env::new() };
        write(&run.live_memory(), LIVE_MEMORY.as_bytes());
        fs::create_dir_all(run.skills()).unwrap();
        fs::create_dir_all(run.dir().join("proposal")).unwrap();
        write(
            &run.dir().join("base.json"),
            json!({
                "type": "reflect_base",
                "job_id": JOB,
                "session_id": "019a0000-0000-7000-8000-000000000002",
                "repo_root": "/work/repo",
                "bucket": run.bucket(),
                "skills_dir": run.skills(),
                "skill_prefix": "csep-reflect-",
                "memory_max_chars": 8000,
                "files": {"memory/MEMORY.md": sha256_hex(LIVE_MEMORY.as_bytes())},
                "created_at": "2026-11-01T10:00:00.000Z",
            })
            .to_string()
            .as_bytes(),
        );
        run
    }
    fn bucket(&self) -> PathBuf {
        self.env.state().join("projects/-work-repo")
    }
    /// The skills root csep finds from the environment's `CODEX_HOME`.
    fn skills(&self) -> PathBuf {
        self.env.path("home/.codex/skills")
    }
    fn live_memory(&self) -> PathBuf {
        self.bucket().join("memory/MEMORY.md")
    }
    fn dir(&self) -> PathBuf {
        self.env.state().join("runs").join(JOB)
    }
    fn propose_memory(&self, text: &str) {
        write(
            &self.dir().join("proposal/memory/MEMORY.md"),
            text.as_bytes(),
        );
    }
    /// Runs `csep session-reflection write-receipt ARGS…`: the exit code and the one JSON
    /// line it printed.
    fn write_receipt(&self, args: &[&str]) -> (i32, Value) {
        let out = self
            .env
            .cmd("csep")
            .args(["session-reflection", "write-receipt"])
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            stdout.lines().count(),
            1,
            "stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.code().unwrap(),
            serde_json::from_str(&stdout).unwrap(),
        )
    }
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn good_memory() -> String {
    format!("{LIVE_MEMORY}- Network tests are behind `--features net`.\n")
}

fn draft_for_memory() -> Value {
    json!({"status": "succeeded", "memory_changes": ["memory/MEMORY.md"], "skill_changes": [],
           "skipped_candidates": [], "validation_notes": [], "errors": []})
}

#[test]
fn a_good_proposal_would_pass_and_nothing_live_changes() {
    let run = Run::new();
    run.propose_memory(&good_memory());
    write(
        &run.dir().join("draft.json"),
        draft_for_memory().to_string().as_bytes(),
    );
    let dir = run.dir();
    let (code, r) = run.write_receipt(&["--run-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["type"], "reflect_receipt", "{r}");
    assert_eq!(
        (&r["status"], &r["dry_run"]),
        (&"succeeded".into(), &true.into())
    );
    assert_eq!(r["job_id"], JOB);
    assert_eq!(r["changes"][0]["path"], run.live_memory().to_str().unwrap());
    assert_eq!(r["changes"][0]["action"], "update");
    assert_eq!(r["journal"], Value::Null);
    assert_eq!(r["draft"]["memory_changes"], 1);
    // Nothing live changed, no journal; the receipt is in the run directory.
    assert_eq!(fs::read_to_string(run.live_memory()).unwrap(), LIVE_MEMORY);
    assert!(!run.bucket().join("journal").exists());
    let stored: Value =
        serde_json::from_slice(&fs::read(run.dir().join("receipt.json")).unwrap()).unwrap();
    assert_eq!(stored, r);

    // The same run by job id, with the receipt also written to --output: csep-verify then
    // applies it for real.
    let output = run.env.path("receipt-copy.json");
    let (code, r2) = run.write_receipt(&["--job-id", JOB, "--output", output.to_str().unwrap()]);
    assert_eq!((code, &r2["status"]), (0, &"succeeded".into()), "{r2}");
    let copy: Value = serde_json::from_slice(&fs::read(&output).unwrap()).unwrap();
    assert_eq!(copy, r2);
    run.env.cmd("csep-verify").arg(run.dir()).assert().success();
    assert_eq!(
        fs::read_to_string(run.live_memory()).unwrap(),
        good_memory()
    );
}

#[test]
fn a_bad_proposal_would_be_rejected_with_named_reasons() {
    let run = Run::new();
    // A secret in the memory, and a draft that claims a file that is not proposed.
    run.propose_memory(&format!(
        "{LIVE_MEMORY}- The deploy token is ghp_{}.\n",
        "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    ));
    let draft = run.env.path("elsewhere/draft.json");
    write(
        &draft,
        json!({"status": "succeeded",
               "memory_changes": ["memory/MEMORY.md", "memory/refs/missing.md"]})
        .to_string()
        .as_bytes(),
    );
    let dir = run.dir();
    let (code, r) = run.write_receipt(&[
        "--run-dir",
        dir.to_str().unwrap(),
        "--draft",
        draft.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        (&r["status"], &r["dry_run"]),
        (&"rejected".into(), &true.into())
    );
    let reasons: Vec<&str> = r["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"secret"), "{r}");
    assert!(reasons.contains(&"draft_mismatch"), "{r}");
    // --draft became the run's draft.json.
    assert_eq!(
        fs::read(run.dir().join("draft.json")).unwrap(),
        fs::read(&draft).unwrap()
    );
    assert_eq!(fs::read_to_string(run.live_memory()).unwrap(), LIVE_MEMORY);
}

#[test]
fn errors_exit_2() {
    let run = Run::new();
    // No such run directory.
    let missing = run.env.path("state/runs/20261101T100000Z-00000000");
    let out = run
        .env
        .cmd("csep")
        .args(["session-reflection", "write-receipt", "--run-dir"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // --job-id that is not the run directory's.
    let out = run
        .env
        .cmd("csep")
        .args(["session-reflection", "write-receipt", "--run-dir"])
        .arg(run.dir())
        .args(["--job-id", "20261101T100000Z-11111111"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // Neither --run-dir nor --job-id.
    let out = run
        .env
        .cmd("csep")
        .args(["session-reflection", "write-receipt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // A run whose base.json is unreadable: verify itself fails.
    write(&run.dir().join("base.json"), b"{not json");
    let dir = run.dir();
    let (code, r) = run.write_receipt(&["--run-dir", dir.to_str().unwrap()]);
    assert_eq!((code, &r["status"]), (2, &"failed".into()), "{r}");
}
