//! Faults lose nothing (issue 11, item 2): Stop payloads that cannot be indexed because of the
//! environment (a read-only index, a full disk, a damaged index) stay queued with a reason and
//! a retry count, `csep drain` retries them, and once the fault clears the next Stop indexes
//! every session and runs its trigger; only a payload bad in itself goes to `failed/`, with
//! its reason beside it.
//!
//! The faults are real, not simulated: the tests run as root in CI, and root ignores file
//! modes, so "read-only" is a read-only bind mount of `index/` in a user and mount namespace
//! (`unshare -rm`), and "disk full" is `RLIMIT_FSIZE` (`prlimit --fsize`, with SIGXFSZ
//! ignored, so a write past the limit fails with EFBIG as one past a full disk fails with
//! ENOSPC). The hooks themselves run under the fault, and so do the drainers they start.

use crate::common;

use common::{codex_path, codex_rollout, walk, write_lines, Env};
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CWD: &str = "/nonexistent/faults-repo";

fn id(n: usize) -> String {
    format!("0f0f0f0f-0000-7000-8000-{n:012}")
}

fn needle(n: usize) -> String {
    format!("faultneedle{n}zq")
}

/// Session `n`'s rollout: a needle in the user's text and a tool output of about 300 KB of
/// distinct words, so indexing it needs far more than the 64 KiB a write may grow a file by
/// under the file-size limit.
fn write_session(env: &Env, n: usize) -> PathBuf {
    let path = codex_path(&env.path("codex"), &id(n));
    let output: String = (0..30_000).map(|i| format!("tok{n}x{i} ")).collect();
    write_lines(
        &path,
        &codex_rollout(
            &id(n),
            CWD,
            &format!("remember: find {} in the ledger", needle(n)),
            &output,
            "Done.",
        ),
    );
    path
}

fn stop_payload(n: usize, transcript: &Path) -> String {
    json!({"session_id": id(n), "transcript_path": transcript, "cwd": CWD,
           "hook_event_name": "Stop", "turn_id": "t1", "stop_hook_active": false})
    .to_string()
}

/// `csep ARGS…` as `wrap` runs it (under a fault, or not).
type Wrap = fn(&Env, &[&OsStr]) -> assert_cmd::Command;

fn plain(env: &Env, args: &[&OsStr]) -> assert_cmd::Command {
    let mut c = env.cmd("csep");
    c.args(args);
    c
}

/// csep with `index/` mounted read-only (EROFS for every write into it).
fn read_only_index(env: &Env, args: &[&OsStr]) -> assert_cmd::Command {
    let mut c = env.command("unshare");
    c.args(["-rm", "sh", "-c"])
        .arg(r#"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@""#)
        .arg("sh")
        .arg(env.state().join("index"))
        .arg(assert_cmd::cargo::cargo_bin("csep"))
        .args(args);
    c
}

/// csep with `index/` on a tmpfs of its own, holding a copy of the index and 96 KiB more:
/// a really full file system (ENOSPC). Whatever the process writes there is gone when it
/// ends, which is what a full disk leaves of a failed transaction anyway.
fn full_index_fs(env: &Env, args: &[&OsStr]) -> assert_cmd::Command {
    let mut c = env.command("unshare");
    c.args(["-rm", "sh", "-c"])
        .arg(
            r#"set -e
idx="$1"; shift
keep=$(mktemp -d)
cp -a "$idx/." "$keep/"
used=$(du -sk "$keep" | cut -f1)
mount -t tmpfs -o size=$((used + 96))k tmpfs "$idx"
cp -a "$keep/." "$idx/"
rm -rf "$keep"
exec "$@""#,
        )
        .arg("sh")
        .arg(env.state().join("index"))
        .arg(assert_cmd::cargo::cargo_bin("csep"))
        .args(args);
    c
}

/// csep unable to grow any file past 64 KiB.
fn file_size_limit(env: &Env, args: &[&OsStr]) -> assert_cmd::Command {
    let mut c = env.command("sh");
    c.arg("-c")
        .arg(r#"trap "" XFSZ; exec prlimit --fsize=65536 -- "$@""#)
        .arg("sh")
        .arg(assert_cmd::cargo::cargo_bin("csep"))
        .args(args);
    c
}

/// Whether this machine lets the test make the fault (user namespaces may be off).
fn can_unshare() -> bool {
    let ok = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: `unshare -rm` (user and mount namespaces) is not available here");
    }
    ok
}

fn hook(env: &Env, wrap: Wrap, n: usize, transcript: &Path) {
    wrap(env, &[OsStr::new("hook"), OsStr::new("codex")])
        .write_stdin(stop_payload(n, transcript))
        .assert()
        .success()
        .stdout("{\"continue\":true}\n");
}

fn payloads(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'));
    v.sort();
    v
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Waits until the drainers the hooks started are done and every one of the `n` payloads is
/// back in `new/` with a retry record; returns the payloads.
fn wait_kept(env: &Env, n: usize) -> Vec<Value> {
    let q = env.archive_queue();
    let start = Instant::now();
    loop {
        let new = payloads(&q.join("new"));
        let kept: Vec<Value> = new.iter().map(|p| read_json(p)).collect();
        let unlocked = fs2::FileExt::try_lock_exclusive(&env.lock_archive_queue_file()).is_ok();
        if unlocked
            && payloads(&q.join("cur")).is_empty()
            && kept.len() == n
            && kept
                .iter()
                .all(|k| k["retry"]["attempts"].as_u64() >= Some(1))
        {
            return kept;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "payloads not kept: new {kept:?}, cur {:?}, failed {:?}",
            payloads(&q.join("cur")),
            payloads(&q.join("failed"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

trait LockFile {
    fn lock_archive_queue_file(&self) -> fs::File;
}

impl LockFile for Env {
    /// The archive queue's lock file, opened (not locked).
    fn lock_archive_queue_file(&self) -> fs::File {
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.archive_queue().join(".lock"))
            .unwrap()
    }
}

fn status(env: &Env) -> Value {
    let out = env.cmd("csep").arg("status").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn recalled(env: &Env, n: usize) -> bool {
    env.recall_json(&["--global", "--", &needle(n)])["results"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
}

/// A person's `csep drain`. The drainer the last hook started may only now take the queue
/// (then `csep drain` leaves the queue to it: exit 0, nothing printed), so it is run again
/// until it gets the queue itself.
fn drain_by_hand(mut run: impl FnMut() -> std::process::Output) -> std::process::Output {
    let mut out = run();
    for _ in 0..200 {
        if !(out.status.success() && out.stdout.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        out = run();
    }
    out
}

/// The whole story for one fault: `k` Stops while it lasts, a `csep drain` while it still
/// lasts, then one Stop after it has cleared.
fn stops_during_a_fault_lose_nothing(fault: Wrap, faults: &[&str], k: usize) {
    let env = Env::new();
    // An index exists already (the fault is in it, or in growing it).
    let first = write_session(&env, 0);
    hook(&env, plain, 0, &first);
    env.wait_drained();
    assert!(recalled(&env, 0));

    let transcripts: Vec<PathBuf> = (1..=k).map(|n| write_session(&env, n)).collect();
    for (n, t) in (1..=k).zip(&transcripts) {
        hook(&env, fault, n, t);
    }
    let kept = wait_kept(&env, k);
    for p in &kept {
        let f = p["retry"]["fault"].as_str().unwrap();
        assert!(faults.contains(&f), "{p}");
        assert!(
            !p["retry"]["last_error"].as_str().unwrap().is_empty(),
            "{p}"
        );
        assert_eq!(p["type"], "archive_request", "{p}");
    }
    let q = env.archive_queue();
    assert!(payloads(&q.join("failed")).is_empty());
    let attempts = |kept: &[Value]| -> Vec<u64> {
        kept.iter()
            .map(|p| p["retry"]["attempts"].as_u64().unwrap())
            .collect()
    };
    let before = attempts(&kept);

    // A person's `csep drain` while the fault lasts: every payload tried once more, kept.
    let out = drain_by_hand(|| fault(&env, &[OsStr::new("drain")]).output().unwrap());
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("csep: payloads kept in the queue, to be retried: "),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["retrying"], k, "{summary}");
    assert!(
        faults.contains(&summary["fault"].as_str().unwrap()),
        "{summary}"
    );
    let kept = wait_kept(&env, k);
    let after = attempts(&kept);
    assert_eq!(
        after,
        before.iter().map(|a| a + 1).collect::<Vec<_>>(),
        "each payload was tried once more"
    );
    for n in 1..=k {
        assert!(!recalled(&env, n), "session {n} indexed during the fault");
    }

    // csep status says so, and what to run.
    let s = status(&env);
    let a = &s["spool"]["archive"];
    assert_eq!(a["retrying"], k, "{a}");
    assert_eq!(a["failed"], 0, "{a}");
    assert!(
        faults.contains(&a["oldest_retry"]["fault"].as_str().unwrap()),
        "{a}"
    );
    assert_eq!(
        a["oldest_retry"]["path"],
        q.join("new")
            .join(payloads(&q.join("new"))[0].file_name().unwrap())
            .display()
            .to_string()
    );
    let warnings: Vec<&str> = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings.iter().any(
            |w| w.contains(&format!("{k} hook payloads could not be archived"))
                && w.contains("run `csep drain`")
        ),
        "{warnings:?}"
    );

    // The fault clears; the next Stop indexes its own session and then every kept one.
    let last = write_session(&env, k + 1);
    hook(&env, plain, k + 1, &last);
    env.wait_drained();
    for n in 0..=k + 1 {
        assert!(recalled(&env, n), "session {n} was not indexed");
        let state = env.state().join("triggers").join(id(n)).join("state.json");
        assert!(state.is_file(), "the trigger never ran for session {n}");
    }
    assert!(payloads(&q.join("failed")).is_empty());
    let s = status(&env);
    assert_eq!(s["spool"]["archive"]["retrying"], 0, "{s}");
    assert!(s["spool"]["archive"]["oldest_retry"].is_null());
}

#[test]
fn stops_while_the_index_is_read_only_are_kept_retried_and_indexed_once_it_is_writable() {
    if !can_unshare() {
        return;
    }
    // SQLite reports a read-only directory as "unable to open" (it cannot make its -wal or
    // -shm there) or as a read-only database, depending on what is left of the last writer.
    stops_during_a_fault_lose_nothing(read_only_index, &["read_only", "io_error"], 4);
}

#[test]
fn stops_while_the_disk_is_full_are_kept_retried_and_indexed_once_there_is_room() {
    if !can_unshare() {
        return;
    }
    stops_during_a_fault_lose_nothing(full_index_fs, &["disk_full"], 4);
}

#[test]
fn stops_past_the_file_size_limit_are_kept_retried_and_indexed_once_it_is_lifted() {
    // Works without namespaces. SQLite reports EFBIG as a write I/O error.
    stops_during_a_fault_lose_nothing(file_size_limit, &["io_error"], 4);
}

#[test]
fn stops_while_the_index_is_damaged_are_kept_until_it_is_replaced() {
    let env = Env::new();
    let first = write_session(&env, 0);
    hook(&env, plain, 0, &first);
    // The reflection worker the drain started reads the index too: on closing it would
    // checkpoint over the garbage below.
    env.wait_idle();
    // Garbage where the database was.
    for side in ["-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{side}", env.db().display()));
    }
    fs::write(env.db(), vec![0x5a; 64 << 10]).unwrap();
    let transcripts: Vec<PathBuf> = (1..=3).map(|n| write_session(&env, n)).collect();
    for (n, t) in (1..=3).zip(&transcripts) {
        hook(&env, plain, n, t);
    }
    for p in wait_kept(&env, 3) {
        assert_eq!(p["retry"]["fault"], "damaged_index", "{p}");
    }
    // Waiting does not heal it: a person's drain says so (exit 2) and keeps them queued.
    let out = drain_by_hand(|| env.cmd("csep").arg("drain").output().unwrap());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(payloads(&env.archive_queue().join("new")).len(), 3);
    // The rebuild moves the damaged file aside and drains the queue: every session indexed.
    let out = env
        .cmd("csep")
        .args(["recall", "rebuild"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(payloads(&env.archive_queue().join("new")).is_empty());
    for n in 1..=3 {
        assert!(recalled(&env, n), "session {n} was not indexed");
    }
}

#[test]
fn only_a_payload_bad_in_itself_fails_and_its_reason_is_kept_beside_it() {
    let env = Env::new();
    let good = write_session(&env, 1);
    let q = env.archive_queue();
    fs::create_dir_all(q.join("new")).unwrap();
    let gone = env.path("codex/gone.jsonl");
    for (name, bytes) in [
        ("1000.1.0.json", b"{not json".to_vec()),
        ("1000.2.0.json", b"[1, 2]".to_vec()),
        (
            "1000.3.0.json",
            json!({"type": "archive_request", "agent": "codex", "event": "Stop",
                   "payload": {"transcript_path": gone}})
            .to_string()
            .into_bytes(),
        ),
        (
            "1000.4.0.json",
            json!({"type": "archive_request", "agent": "codex", "event": "Stop",
                   "payload": {"session_id": id(1), "transcript_path": good}})
            .to_string()
            .into_bytes(),
        ),
    ] {
        fs::write(q.join("new").join(name), bytes).unwrap();
    }
    let out = env.cmd("csep").arg("drain").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&summary["done"], &summary["failed"]),
        (&json!(1), &json!(3)),
        "{summary}"
    );
    assert!(recalled(&env, 1));
    assert!(env
        .state()
        .join("triggers")
        .join(id(1))
        .join("state.json")
        .is_file());
    for (stem, reason) in [
        ("1000.1.0", "not_json"),
        ("1000.2.0", "not_an_object"),
        ("1000.3.0", "transcript_missing"),
    ] {
        assert!(q.join("failed").join(format!("{stem}.json")).is_file());
        let note = read_json(&q.join("failed").join(format!("{stem}.reason.json")));
        assert_eq!(note["type"], "spool_failure", "{note}");
        assert_eq!(note["reason"], reason, "{note}");
        assert_eq!(note["payload"], format!("{stem}.json"), "{note}");
        assert!(!note["message"].as_str().unwrap().is_empty(), "{note}");
    }
    assert!(payloads(&q.join("new")).is_empty() && payloads(&q.join("cur")).is_empty());
    let s = status(&env);
    let a = &s["spool"]["archive"];
    assert_eq!(a["failed"], 3, "{a}");
    assert_eq!(a["oldest_failure"]["reason"], "not_json", "{a}");
    assert!(
        s["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("3 hook payloads failed to archive")
            && w.as_str().unwrap().contains("(oldest: not_json: ")),
        "{s}"
    );
    // Nothing of the state dir is left behind in cur/ or tmp/.
    assert!(walk(&q.join("tmp")).is_empty());
}

#[test]
fn a_hooks_drainer_leaves_a_payload_in_its_backoff_until_another_one_is_indexed() {
    let env = Env::new();
    let q = env.archive_queue();
    fs::create_dir_all(q.join("new")).unwrap();
    let kept_transcript = write_session(&env, 1);
    // Failed ten times, and not due for a long while: only a success or a person retries it.
    let kept = json!({"type": "archive_request", "agent": "codex", "event": "Stop",
        "payload": {"session_id": id(1), "transcript_path": kept_transcript},
        "retry": {"attempts": 10, "fault": "disk_full", "last_error": "database: database or disk is full",
                  "last_attempt_ms": 1, "next_attempt_ms": i64::MAX / 2}})
    .to_string();
    let kept_file = q.join("new/1000.1.0.json");
    fs::write(&kept_file, &kept).unwrap();
    let drain = |args: &[&str]| -> Value {
        let out = env.cmd("csep").arg("drain").args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let s = drain(&["--from-hook"]);
    assert_eq!((&s["items"], &s["waiting"]), (&json!(0), &json!(1)), "{s}");
    assert_eq!(
        fs::read_to_string(&kept_file).unwrap(),
        kept,
        "left as it was"
    );
    assert!(!recalled(&env, 1));

    // A fresh payload is indexed first, which shows the fault has cleared: the kept one
    // follows in the same drain.
    let fresh = write_session(&env, 2);
    hook(&env, plain, 2, &fresh);
    env.wait_drained();
    assert!(recalled(&env, 1) && recalled(&env, 2));
    assert!(env
        .state()
        .join("triggers")
        .join(id(1))
        .join("state.json")
        .is_file());

    // A person's `csep drain` tries one in its backoff at once.
    let third = write_session(&env, 3);
    fs::write(
        &kept_file,
        kept.replace(&id(1), &id(3))
            .replace(kept_transcript.to_str().unwrap(), third.to_str().unwrap()),
    )
    .unwrap();
    let s = drain(&[]);
    assert_eq!((&s["items"], &s["done"]), (&json!(1), &json!(1)), "{s}");
    assert!(recalled(&env, 3));
}

/// A transcript this user may not read (written under `sudo`, say) is the payload's problem,
/// not the environment's: it goes to `failed/` as `transcript_unreadable` instead of being
/// retried for ever. Root reads every file, so the drain runs as `nobody` (`setpriv`).
#[test]
fn a_transcript_the_user_may_not_read_fails_instead_of_retrying() {
    use std::os::unix::fs::{chown, PermissionsExt};
    let env = Env::new();
    let transcript = write_session(&env, 1);
    fs::set_permissions(&transcript, fs::Permissions::from_mode(0o600)).unwrap();
    let q = env.archive_queue();
    fs::create_dir_all(q.join("new")).unwrap();
    fs::write(
        q.join("new/1000.1.0.json"),
        json!({"type": "archive_request", "agent": "codex", "event": "Stop",
               "payload": {"session_id": id(1), "transcript_path": transcript}})
        .to_string(),
    )
    .unwrap();
    // nobody may reach the temp dir and owns the state dir; the transcript stays root's.
    fs::set_permissions(env.root(), fs::Permissions::from_mode(0o711)).unwrap();
    for p in walk(&env.state()).into_iter().chain([
        env.state(),
        env.state().join("spool"),
        q.clone(),
        q.join("new"),
    ]) {
        chown(&p, Some(65534), Some(65534)).unwrap();
    }
    let csep = assert_cmd::cargo::cargo_bin("csep");
    let out = env
        .std_command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&csep)
        .arg("drain")
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"));
    assert_eq!(
        (&summary["failed"], summary.get("retrying")),
        (&json!(1), None),
        "{summary}"
    );
    let note = read_json(&q.join("failed/1000.1.0.reason.json"));
    assert_eq!(note["reason"], "transcript_unreadable", "{note}");
    assert!(payloads(&q.join("new")).is_empty());
}
