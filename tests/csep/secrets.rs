//! Black-box tests of secret redaction end to end: every secret form csep knows (issue #11's
//! list) planted in a session (user text, assistant text, tool call arguments, tool output)
//! and in the Stop payload goes through the real hook, drainer, index, trigger and
//! reflection worker, and no byte under the state dir, no recall output and no prompt holds
//! it; csep-verify rejects each form in a proposal; a user's own pattern from config.toml is
//! honoured everywhere, and a bad one is skipped with a warning. Secrets backfilled without
//! the hook reach neither recall's output, csep-archive's stream nor the state dir.

use crate::common;

use common::{codex_path, codex_rollout, codex_turn, walk, write_lines, Env, HOOK_SCRIPT};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `(form, line)`: each line holds one form; [`SECRETS`] lists what must never be seen.
const FORMS: &[(&str, &str)] = &[
    ("openai key", "key sk-proj-Zx81QmV0aLpW3nR7tY5uB2cD4eF6gH8j"),
    ("anthropic key", "key sk-ant-api03-Qw3rTy7uI9oP1aS5dF2gH4jK6lZ8xC0v"),
    ("github token", "token ghp_9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT9uV8w"),
    ("slack token", "slack xoxb-2468135790-1357924680-AbCdEfGhIjKlMnOp"),
    ("aws access key", "aws AKIAQ3EGUQ7ZEXAMPLE1"),
    ("aws secret key", "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"),
    ("sts session token", "AWS_SESSION_TOKEN=FwoGZXIvYXdzEJr//////////wEaDPk1exampleSTStoken+abc=="),
    ("jwt", "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    ("authorization header", "curl -H 'Authorization: Bearer Bearer-token-value-9f8e7d6c5b4a39281706' https://api.example"),
    ("password assignment", "db_password=hunter2-Correct-Horse-Battery"),
    ("cookie", "Cookie: sessionid=Cookie-Value-8c7b6a5d4e3f"),
    ("stripe key", "stripe sk_live_51HcRtZq8Vw2Xy4Ab6Cd8Ef0Gh"),
    ("postgres url", "psql postgres://admin:Sup3rS3cret-pg@db.example.com:5432/prod"),
    ("npm token", "//registry.npmjs.org/:_authToken=npm_Np8Qr2St4Uv6Wx8Yz0Ab2Cd4Ef6Gh8Ij0Kl2M"),
    ("gitlab token", "glpat-Gl7Ab9Cd1Ef3Gh5Ij7Kl9M"),
    ("slack webhook", "curl -X POST https://hooks.slack.com/services/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"),
    ("webhook secret", "Your webhook signing secret is whsec_5f8a9b2c4d6e8f0a1b3c5d7e9f1a2b4c"),
    ("gcp private_key_id", "\"private_key_id\": \"3f1c9e7a5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f01\","),
    ("netrc", "machine github.com login ada password Tr0ub4dor-netrc-3"),
    ("db url with @", "DATABASE_URL=mysql://app:p@ss-W0rd!x@db.internal:3306/app"),
    ("openai session", "sess-Se5sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("mysql -p", "mysql -u root -pMy5ql-Pa55word-Cli -h db.local app"),
    ("curl -u", "curl -u deploy:Hunter2-curl-pass https://api.example.com/v1"),
    ("azure key", "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4cXV1eA0KAzureKey+abc/def==;EndpointSuffix=core.windows.net"),
    ("sendgrid key", "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"),
    ("hugging face token", "hf_HfAbCdEfGhIjKlMnOpQrStUvWxYz0123456"),
    ("google oauth secret", "GOCSPX-GoAbCdEfGhIjKlMnOpQrStUvWxYz"),
    ("docker auth", "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"ZGV2b3BzOkRvY2tlci1IdWItUGFzcw==\"}}}"),
    ("wrapped token", "export GH=ghp_Wr4pped0123456789\nabcdefghijABCDEFGHIJkl"),
    ("private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----"),
    ("user pattern", "ticket acme_0123456789abcdefghijklmn"),
];

/// Every secret (or secret piece) the forms hold.
const SECRETS: &[&str] = &[
    "Zx81QmV0aLpW3nR7tY5uB2cD4eF6gH8j",
    "Qw3rTy7uI9oP1aS5dF2gH4jK6lZ8xC0v",
    "9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT9uV8w",
    "2468135790-1357924680-AbCdEfGhIjKlMnOp",
    "AKIAQ3EGUQ7ZEXAMPLE1",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
    "FwoGZXIvYXdzEJr//////////wEaDPk1exampleSTStoken+abc==",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "Bearer-token-value-9f8e7d6c5b4a39281706",
    "hunter2-Correct-Horse-Battery",
    "Cookie-Value-8c7b6a5d4e3f",
    "51HcRtZq8Vw2Xy4Ab6Cd8Ef0Gh",
    "Sup3rS3cret-pg",
    "Np8Qr2St4Uv6Wx8Yz0Ab2Cd4Ef6Gh8Ij0Kl2M",
    "Gl7Ab9Cd1Ef3Gh5Ij7Kl9M",
    "vX9fQ2mL7pR4sT6uW8yZ0aB1",
    "5f8a9b2c4d6e8f0a1b3c5d7e9f1a2b4c",
    "3f1c9e7a5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f01",
    "Tr0ub4dor-netrc-3",
    "ss-W0rd!x",
    "Se5sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "My5ql-Pa55word-Cli",
    "Hunter2-curl-pass",
    "Zm9vYmFyYmF6cXV4cXV1eA0KAzureKey",
    "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
    "HfAbCdEfGhIjKlMnOpQrStUvWxYz0123456",
    "GoAbCdEfGhIjKlMnOpQrStUvWxYz",
    "ZGV2b3BzOkRvY2tlci1IdWItUGFzcw==",
    "Wr4pped0123456789",
    "abcdefghijABCDEFGHIJkl",
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0t",
    "acme_0123456789abcdefghijklmn",
];

/// A user pattern, for the last form.
const USER_PATTERNS: &str = "[redact]\npatterns = ['acme_[a-z0-9]{24}', 'broken[']\n";

const ID: &str = "77777777-0000-4000-8000-000000000001";
const CWD: &str = "/nonexistent/secret-repo";

/// Every form on its own line, after a word recall can find.
fn planted() -> String {
    let mut s = String::from("pelican notes, please remember these for the deploy:\n");
    for (_, line) in FORMS {
        s.push_str(line);
        s.push('\n');
    }
    s
}

#[track_caller]
fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let found: Vec<&&str> = SECRETS.iter().filter(|s| text.contains(**s)).collect();
    assert!(found.is_empty(), "{what} holds {found:?}");
}

fn hook(env: &Env, payload: &Value) -> std::process::Output {
    env.command("sh")
        .arg(HOOK_SCRIPT)
        .arg("codex")
        .env("CSEP_BIN", assert_cmd::cargo::cargo_bin("csep"))
        .write_stdin(payload.to_string())
        .output()
        .unwrap()
}

/// Waits for the reflection job's receipt (the worker the drainer starts writes it).
fn wait_for_receipt(state: &Path) -> PathBuf {
    let start = Instant::now();
    loop {
        let receipt = walk(&state.join("runs"))
            .into_iter()
            .find(|p| p.ends_with("receipt.json"));
        if let Some(r) = receipt {
            // The worker writes the receipt, then finishes the job: wait for the queue too.
            let busy = ["new", "cur"].iter().any(|q| {
                fs::read_dir(state.join("spool/reflect").join(q))
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false)
            });
            if !busy {
                return r;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no reflection receipt: {:?}",
            walk(state)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn no_secret_form_reaches_the_state_dir_recall_or_the_model() {
    let env = Env::new();
    let out_dir = env.path("provider-out");
    fs::create_dir_all(&out_dir).unwrap();
    // The "model" keeps its prompt and inputs outside the state dir, then proposes a memory
    // line per form; verify must refuse it.
    let proposal: String = FORMS.iter().map(|(_, l)| format!("- {l}\n")).collect();
    fs::write(env.path("proposal.md"), format!("# Memory\n\n{proposal}")).unwrap();
    let script = env.path("provider.sh");
    fs::write(
        &script,
        format!(
            "set -eu\ncat > {out}/prompt.txt\ncp -r inputs {out}/inputs\nmkdir -p proposal/memory\n\
             cp {proposal} proposal/memory/MEMORY.md\n\
             printf '{{\"status\": \"succeeded\", \"memory_changes\": [\"memory/MEMORY.md\"], \"skill_changes\": [], \"skipped_candidates\": [], \"validation_notes\": [], \"errors\": []}}' > draft.json\n",
            out = out_dir.display(),
            proposal = env.path("proposal.md").display(),
        ),
    )
    .unwrap();
    env.config(&format!(
        "[session_reflection]\nbackend = \"command\"\ncommand = [\"sh\", {:?}]\n\n{USER_PATTERNS}",
        script.display().to_string()
    ));

    let text = planted();
    let codex = env.path("home/.codex/sessions");
    let t = codex_path(&codex, ID);
    let mut lines = vec![
        json!({"timestamp": "2026-11-01T10:00:00.000Z", "type": "session_meta", "payload": {"id": ID, "timestamp": "2026-11-01T10:00:00.000Z", "cwd": CWD, "originator": "codex_cli_rs", "cli_version": "0.169.0", "source": "cli"}}),
    ];
    lines.extend(codex_turn(&text, &[(&text, &text)], &text));
    write_lines(&t, &lines);

    let out = hook(
        &env,
        &json!({"session_id": ID, "transcript_path": t, "cwd": CWD, "hook_event_name": "Stop",
                "turn_id": "t1", "model": "gpt-5", "stop_hook_active": false,
                "last_assistant_message": text, "prompt": text, "input-messages": [text]}),
    );
    assert!(out.status.success(), "{out:?}");
    assert_clean("hook stdout", &out.stdout);
    env.wait_drained();
    let receipt = wait_for_receipt(&env.state());

    // Verify refused the proposal for its secrets, and no live memory was written.
    let r: Value = serde_json::from_slice(&fs::read(&receipt).unwrap()).unwrap();
    assert_eq!(r["status"], "rejected", "{r:#}");
    let secret = r["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["reason"] == "secret")
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(
        secret["detail"],
        "holds a secret (line 3: api_key; line 4: anthropic_key; line 5: github_token; \
         line 6: slack_token; line 7: aws_access_key)"
    );
    assert!(walk(&env.state().join("projects"))
        .iter()
        .all(|p| !p.ends_with("MEMORY.md")));

    // What the model was given: redacted.
    assert!(out_dir.join("inputs").is_dir(), "the provider did not run");
    for p in walk(&out_dir) {
        assert_clean(&p.display().to_string(), &fs::read(&p).unwrap());
    }
    // Recall finds the session, and prints no secret in any format.
    for format in ["markdown", "json", "jsonl"] {
        let out = env
            .cmd("csep-recall")
            .args(["--global", "--format", format, "--limit", "20", "pelican"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("[REDACTED:"), "{format}: {stdout}");
        assert_clean(format, &out.stdout);
        assert_clean(&format!("{format} stderr"), &out.stderr);
    }
    let status = env.cmd("csep").arg("status").output().unwrap();
    assert_clean("csep status", &status.stdout);
    // No byte under the state dir: database, WAL, logs, spool (failed/ too), triggers, runs,
    // and the rejected proposal itself (kept as evidence, its secrets redacted by verify).
    let files = walk(&env.state());
    assert!(files.iter().any(|p| p.ends_with("recall.sqlite3")));
    assert!(files
        .iter()
        .any(|p| p.to_string_lossy().contains("/triggers/")));
    let kept = files
        .iter()
        .find(|p| p.ends_with("proposal/memory/MEMORY.md"))
        .expect("the rejected proposal is kept");
    assert!(fs::read_to_string(kept).unwrap().contains("[REDACTED:"));
    for p in files {
        assert_clean(&p.display().to_string(), &fs::read(&p).unwrap());
    }
}

#[test]
fn user_patterns_are_redacted_by_every_tool_and_a_bad_one_is_skipped_with_a_warning() {
    let env = Env::new();
    env.config(USER_PATTERNS);
    let codex = env.path("codex");
    let t = codex_path(&codex, ID);
    let text = "pelican ticket acme_0123456789abcdefghijklmn and acme_short";
    let mut lines = vec![
        json!({"timestamp": "2026-11-01T10:00:00.000Z", "type": "session_meta", "payload": {"id": ID, "timestamp": "2026-11-01T10:00:00.000Z", "cwd": CWD, "originator": "codex_cli_rs", "cli_version": "0.169.0", "source": "cli"}}),
    ];
    lines.extend(codex_turn(text, &[], "ok"));
    write_lines(&t, &lines);

    // csep-archive has no --state-dir: it reads the default one ($CSEP_HOME).
    let out = env.cmd("csep-archive").arg(&t).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("pelican ticket [REDACTED:user_pattern] and acme_short"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("csep-archive: ")
            && stderr.contains("redact.patterns[1]: not a usable pattern (")
            && stderr.lines().count() == 1,
        "{stderr}"
    );

    env.backfill("codex", &codex);
    let out = env
        .cmd("csep-recall")
        .args(["--global", "--format", "jsonl", "pelican"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_clean("recall", &out.stdout);
    for p in walk(&env.state()) {
        assert_clean(&p.display().to_string(), &fs::read(&p).unwrap());
    }

    // `csep config validate` names the bad pattern and exits 1; show lists the good one.
    let out = env
        .cmd("csep")
        .args(["config", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "warnings");
    assert_eq!(
        v["warnings"],
        json!([{"key": "redact.patterns[1]", "kind": "invalid_pattern",
                "message": v["warnings"][0]["message"]}])
    );
    let out = env.cmd("csep").args(["config", "show"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["resolved"]["redact"]["patterns"],
        json!(["acme_[a-z0-9]{24}"])
    );
    assert_eq!(v["sources"]["redact.patterns"], "file");
}

// ---------------------------------------------------------------------------------------
// Planted secrets backfilled (no hook): recall's three formats, csep-archive's stream and
// the state dir hold none.

const BACKFILL_SECRETS: &[&str] = &[
    "sk-proj-Zx81QmV0aLpW3nR7tY5uB2cD4eF6gH8j",
    "sk-ant-api03-Qw3rTy7uI9oP1aS5dF2gH4jK6lZ8xC0v",
    "ghp_9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT9uV8w",
    "github_pat_11AAAAAAA0123456789_abcdefghijklmnopqrstuvwxyzABCDEF",
    "xoxb-2468135790-1357924680-AbCdEfGhIjKlMnOp",
    "AKIAQ3EGUQ7ZEXAMPLE1",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0",
    "Bearer-token-value-9f8e7d6c5b4a39281706",
    "hunter2-Correct-Horse-Battery",
];

fn secret_text() -> String {
    format!(
        "pelican secrets: key {} and {} ; token {} ; pat {} ; slack {} ; aws {} aws_secret_access_key = {} ; jwt {} ;\n\
         -----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n\
         curl -H 'Authorization: Bearer {}' https://api.example ; mysql password={}",
        BACKFILL_SECRETS[0], BACKFILL_SECRETS[1], BACKFILL_SECRETS[2], BACKFILL_SECRETS[3], BACKFILL_SECRETS[4], BACKFILL_SECRETS[5], BACKFILL_SECRETS[6], BACKFILL_SECRETS[7], BACKFILL_SECRETS[8], BACKFILL_SECRETS[9], BACKFILL_SECRETS[10]
    )
}

fn assert_no_secrets(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for s in BACKFILL_SECRETS {
        assert!(!text.contains(s), "{what} holds {s}");
    }
}

#[test]
fn planted_secrets_never_reach_recall_output_or_disk() {
    let env = Env::new();
    let codex = env.path("codex");
    let id = "44444444-0000-4000-8000-000000000001";
    write_lines(
        &codex_path(&codex, id),
        &codex_rollout(
            id,
            "/nonexistent/repo",
            &secret_text(),
            &secret_text(),
            &secret_text(),
        ),
    );
    let claude = env.path("claude/-work");
    let sid = "55555555-0000-4000-8000-000000000001";
    let base = json!({"sessionId": sid, "cwd": "/nonexistent/repo", "timestamp": "2026-11-01T10:00:00.000Z", "parentUuid": null});
    let mut lines = Vec::new();
    for (kind, content) in [
        ("user", json!(secret_text())),
        (
            "assistant",
            json!([{"type": "text", "text": secret_text()}, {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": secret_text()}}]),
        ),
        (
            "user",
            json!([{"type": "tool_result", "tool_use_id": "t1", "content": secret_text()}]),
        ),
    ] {
        let mut l = base.clone();
        l["type"] = json!(kind);
        l["uuid"] = json!(format!("u-{}", lines.len()));
        l["message"] = json!({"role": kind, "content": content});
        lines.push(l);
    }
    write_lines(&claude.join(format!("{sid}.jsonl")), &lines);
    env.backfill("codex", &codex);
    env.backfill("claude", &env.path("claude"));
    for format in ["markdown", "json", "jsonl"] {
        let out = env
            .cmd("csep-recall")
            .args([
                "--global",
                "--format",
                format,
                "--limit",
                "5",
                "pelican|curl|mysql",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("[REDACTED:"),
            "{format}"
        );
        assert_no_secrets(format, &out.stdout);
    }
    // The archive stream is redacted too.
    let out = env
        .cmd("csep-archive")
        .arg(codex_path(&codex, id))
        .output()
        .unwrap();
    assert_no_secrets("csep-archive output", &out.stdout);
    // Nothing kept on disk holds a secret: database, WAL, anything under the state dir.
    for entry in walk(&env.state()) {
        assert_no_secrets(&entry.display().to_string(), &fs::read(&entry).unwrap());
    }
}
