//! Black-box tests of `csep mcp`, spoken to as an MCP client does (JSON-RPC, one message per
//! line on its stdin and stdout), against an index built from test transcripts; and of its
//! registration by `csep setup` in Codex's config.toml and Claude Code's `.claude.json`,
//! taken out again by `csep uninstall`. (The real hosts calling it: e2e_codex.rs and
//! e2e_claude.rs.)

use crate::common;

use common::{codex_path, codex_rollout, read_json, write_lines, Env};
use serde_json::{json, Value};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

/// A running `csep mcp` and its pipes (the docs checks speak to it too).
pub(crate) struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Client {
    pub(crate) fn start(env: &Env) -> Client {
        let mut c = env.std_command(assert_cmd::cargo::cargo_bin("csep"));
        c.arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        Client {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            next_id: 1,
        }
    }
    pub(crate) fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
    pub(crate) fn read(&mut self) -> Value {
        let mut line = String::new();
        assert!(
            self.stdout.read_line(&mut line).unwrap() > 0,
            "csep mcp closed stdout"
        );
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }
    /// A request and its response, which must carry the request's id.
    pub(crate) fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send_line(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        let r = self.read();
        assert_eq!(r["jsonrpc"], "2.0", "{r}");
        assert_eq!(r["id"], id, "{r}");
        r
    }
    /// `tools/call`; its result (a JSON-RPC error fails the test).
    pub(crate) fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert!(r.get("error").is_none(), "{tool}: {r}");
        r["result"].clone()
    }
    /// Closes stdin: the server must exit 0; its stderr.
    pub(crate) fn finish(mut self) -> String {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "csep mcp exit");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// Two indexed Codex sessions of a repository `proj` (one with a distinctive needle in its
/// tool output), its MEMORY.md and one note in refs/. Answers (proj, the needle's session).
fn indexed_repo(env: &Env) -> (std::path::PathBuf, String) {
    let proj = env.path("proj");
    common::git_repo(&proj);
    let proj = fs::canonicalize(&proj).unwrap();
    let cwd = proj.to_str().unwrap();
    let root = env.path("rollouts");
    let needle_id = "019a0000-0000-7000-8000-00000000aa01";
    write_lines(
        &codex_path(&root, needle_id),
        &codex_rollout(
            needle_id,
            cwd,
            "why does the build fail",
            "error[E0599]: no method named `quizzical_marmot` found",
            "The quizzical_marmot method was renamed.",
        ),
    );
    let other = "019a0000-0000-7000-8000-00000000aa02";
    write_lines(
        &codex_path(&root, other),
        &codex_rollout(other, cwd, "add a README", "ok", "Added the README."),
    );
    env.backfill("codex", &root);
    env.seed_memory(&proj, "- Run `make db-up` before the integration tests.\n");
    let refs = env
        .state()
        .join("projects")
        .join(cwd.replace('/', "-"))
        .join("memory/refs");
    fs::create_dir_all(&refs).unwrap();
    fs::write(
        refs.join("testing.md"),
        "# Testing: the database comes first\nbody\n",
    )
    .unwrap();
    (proj, needle_id.to_string())
}

#[test]
fn a_client_initializes_lists_the_tools_and_calls_each_one() {
    let env = Env::new();
    let (proj, needle_session) = indexed_repo(&env);
    let mut c = Client::start(&env);

    let init = c.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "csep");
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    // A notification gets no answer: the next line read is the next request's.
    c.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);

    let list = c.request("tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in ["recall", "list_sessions", "show_session", "read_memory"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        assert_eq!(t["annotations"]["readOnlyHint"], true, "{t}");
    }
    let recall = tools.iter().find(|t| t["name"] == "recall").unwrap();
    assert_eq!(recall["inputSchema"]["required"], json!(["query"]));
    assert_eq!(recall["inputSchema"]["properties"]["limit"]["default"], 3);

    // recall: the Markdown csep-recall prints, and its JSON record.
    let cwd = proj.to_str().unwrap();
    let r = c.call("recall", json!({"query": "quizzical_marmot", "cwd": cwd}));
    assert_eq!(r["isError"], false, "{r}");
    assert!(text(&r).contains(&needle_session), "{}", text(&r));
    assert!(text(&r).contains("Status: matched"), "{}", text(&r));
    assert_eq!(r["structuredContent"]["status"], "matched");
    assert_eq!(
        r["structuredContent"]["results"][0]["session_id"],
        needle_session.as_str()
    );
    assert_eq!(r["structuredContent"]["scope"], "repo");

    // list_sessions: both sessions of the repository, newest first.
    let r = c.call("list_sessions", json!({"cwd": cwd}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["count"], 2, "{r}");
    assert_eq!(r["structuredContent"]["recent"], true, "{r}");

    // show_session: the session read back, whole or around a message.
    let r = c.call("show_session", json!({"session_id": needle_session}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["type"], "session_show", "{r}");
    assert_eq!(r["structuredContent"]["status"], "found", "{r}");
    assert!(text(&r).contains("quizzical_marmot"), "{}", text(&r));
    let anchor = r["structuredContent"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap()["message_index"]
        .clone();
    let r = c.call(
        "show_session",
        json!({"session_id": needle_session, "message": anchor, "around": 0}),
    );
    let shown = r["structuredContent"]["messages"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{r}");
    assert!(
        shown[0]["content"].as_str().unwrap().contains("E0599"),
        "{r}"
    );
    let r = c.call("show_session", json!({"session_id": "no-such-session"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains("no session no-such-session"), "{r}");

    // read_memory: MEMORY.md and the refs index.
    let r = c.call("read_memory", json!({"cwd": cwd}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["type"], "memory_read");
    assert!(r["structuredContent"]["text"]
        .as_str()
        .unwrap()
        .contains("make db-up"));
    assert_eq!(r["structuredContent"]["refs"][0]["name"], "testing.md");
    assert!(text(&r).contains("make db-up"), "{}", text(&r));
    assert!(
        text(&r).contains("- testing.md: # Testing: the database comes first"),
        "{}",
        text(&r)
    );

    // Bad calls: a tool error (isError, a message for the model), a protocol error for an
    // unknown tool and for a line that is not JSON; the server answers on.
    let r = c.call("recall", json!({"cwd": cwd}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains("query"), "{r}");
    let r = c.call("recall", json!({"query": "x", "agent": "vim"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(text(&r).contains("codex or claude"), "{r}");
    let r = c.request("tools/call", json!({"name": "rm_rf", "arguments": {}}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    c.send_line("this is not json");
    let r = c.read();
    assert_eq!(r["error"]["code"], -32700, "{r}");
    c.stdin
        .as_mut()
        .unwrap()
        .write_all(b"\xff\xfe{}\n")
        .unwrap();
    let r = c.read();
    assert_eq!(r["error"]["code"], -32700, "not UTF-8: {r}");
    let r = c.request("no/such/method", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
    let r = c.call(
        "recall",
        json!({"query": "quizzical_marmot", "global": true}),
    );
    assert_eq!(
        r["structuredContent"]["results"][0]["session_id"],
        needle_session.as_str()
    );

    // Between calls the server holds no handle on the index (each call opens it read-only
    // and closes it), so it never keeps a lock a writer could wait on.
    let fds: Vec<String> = fs::read_dir(format!("/proc/{}/fd", c.child.id()))
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        !fds.iter().any(|p| p.contains("recall.sqlite3")),
        "open between calls: {fds:?}"
    );

    let stderr = c.finish();
    for line in stderr.lines() {
        assert!(
            line.starts_with("csep-mcp: ") || line.starts_with("csep: "),
            "{line}"
        );
    }
    assert!(stderr.contains("csep-mcp: recall: "), "{stderr}");
}

#[test]
fn recall_and_show_session_answer_what_the_commands_answer_with_the_same_arguments() {
    let env = Env::new();
    let (proj, needle) = indexed_repo(&env);
    let needle = needle.as_str();
    let cwd = proj.to_str().unwrap();
    let mut c = Client::start(&env);
    c.request("initialize", json!({"protocolVersion": "2025-03-26"}));
    for (args, flags) in [
        (
            json!({"query": "readme|marmot", "cwd": cwd}),
            vec!["readme|marmot", "--cwd", cwd],
        ),
        (
            json!({"query": "readme|marmot", "global": true, "limit": 1, "agent": "codex", "role": "assistant"}),
            vec![
                "readme|marmot",
                "--global",
                "--limit",
                "1",
                "--agent",
                "codex",
                "--role",
                "assistant",
            ],
        ),
        (
            json!({"query": "readme|marmot", "cwd": cwd, "all_terms": true, "since": "2020-01-01"}),
            vec![
                "readme|marmot",
                "--cwd",
                cwd,
                "--all-terms",
                "--since",
                "2020-01-01",
            ],
        ),
    ] {
        let r = c.call("recall", args.clone());
        let cli = env.recall_json(&flags);
        assert_eq!(r["structuredContent"], cli, "{args}");
    }
    let r = c.call(
        "show_session",
        json!({"session_id": needle, "around": 1, "message": 2}),
    );
    let out = env
        .cmd("csep")
        .args([
            "show",
            needle,
            "--message",
            "2",
            "--around",
            "1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["structuredContent"], cli);
    let r = c.call("list_sessions", json!({"global": true, "limit": 1}));
    assert_eq!(
        r["structuredContent"],
        env.recall_json(&["--recent", "--global", "--limit", "1"])
    );
    c.finish();
}

/// Env with the hosts' dirs at `codex/` and `claude/` (CLAUDE_CONFIG_DIR), no codex on PATH.
fn setup_env() -> Env {
    Env::builder()
        .host_dirs("codex", "claude")
        .path_var("/usr/bin:/bin")
        .build()
}

fn setup(env: &Env, extra: &[&str]) -> Value {
    let out = env
        .cmd("csep")
        .args(["setup", "--no-backfill", "--codex-home"])
        .arg(env.path("codex"))
        .arg("--claude-dir")
        .arg(env.path("claude"))
        .args(extra)
        .output()
        .unwrap();
    common::assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn status(env: &Env) -> Value {
    let out = env.cmd("csep").arg("status").output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

const USER_TOML: &str = "# mine\nmodel = \"gpt-5.5\"\n\n[mcp_servers.docs]\ncommand = \"docs-server\" # my own server\n";

#[test]
fn setup_registers_the_server_with_both_hosts_and_uninstall_takes_only_that_out() {
    let env = setup_env();
    fs::create_dir_all(env.path("codex")).unwrap();
    fs::write(env.path("codex/config.toml"), USER_TOML).unwrap();
    fs::create_dir_all(env.path("claude")).unwrap();
    let claude_json = env.path("claude/.claude.json");
    let user_claude = json!({"numStartups": 3, "mcpServers": {"docs": {"type": "stdio", "command": "docs-server", "args": []}}});
    fs::write(
        &claude_json,
        serde_json::to_vec_pretty(&user_claude).unwrap(),
    )
    .unwrap();
    fs::set_permissions(&claude_json, fs::Permissions::from_mode(0o640)).unwrap();

    let s = setup(&env, &[]);
    let csep = fs::canonicalize(assert_cmd::cargo::cargo_bin("csep")).unwrap();
    let state = env.state();
    assert_eq!(
        s["mcp"]["codex"],
        env.path("codex/config.toml").to_str().unwrap(),
        "{s}"
    );
    assert_eq!(s["mcp"]["claude"], claude_json.to_str().unwrap(), "{s}");

    // Codex: the user's text as written, then csep's table.
    let toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    assert!(toml.starts_with(USER_TOML), "{toml}");
    let want = format!(
        "[mcp_servers.csep]\ncommand = \"{}\"\nargs = [\"mcp\"]\nenv = {{ CSEP_HOME = \"{}\" }}\n",
        csep.display(),
        state.display()
    );
    assert!(toml.contains(&want), "want\n{want}\nin\n{toml}");
    // Claude Code: its other keys and servers kept, its mode kept.
    let doc = read_json(&claude_json);
    assert_eq!(doc["numStartups"], 3);
    assert_eq!(doc["mcpServers"]["docs"]["command"], "docs-server");
    assert_eq!(
        doc["mcpServers"]["csep"],
        json!({"type": "stdio", "command": csep, "args": ["mcp"], "env": {"CSEP_HOME": state}})
    );
    let mode = fs::metadata(&claude_json).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    // Recorded in the manifest.
    let manifest = read_json(&state.join("install/manifest.json"));
    let added = |file: &str| -> Vec<String> {
        manifest["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == file)
            .map(|c| serde_json::from_value(c["added"].clone()).unwrap())
            .unwrap_or_default()
    };
    assert!(
        added(env.path("codex/config.toml").to_str().unwrap()).contains(&"mcp_servers.csep".into())
    );
    assert_eq!(added(claude_json.to_str().unwrap()), ["mcpServers.csep"]);
    let st = status(&env);
    for host in ["codex", "claude"] {
        assert_eq!(st["mcp"][host]["registered"], true, "{host}: {}", st["mcp"]);
        assert_eq!(st["mcp"][host]["current"], true, "{host}: {}", st["mcp"]);
    }

    // Again: byte for byte the same.
    let before = (
        fs::read(env.path("codex/config.toml")).unwrap(),
        fs::read(&claude_json).unwrap(),
    );
    setup(&env, &[]);
    assert_eq!(
        (
            fs::read(env.path("codex/config.toml")).unwrap(),
            fs::read(&claude_json).unwrap()
        ),
        before
    );

    // Claude Code rewrites its file meanwhile (it keeps its state there): uninstall takes
    // csep's server out and keeps everything else; config.toml comes back byte for byte.
    let mut doc = read_json(&claude_json);
    doc["numStartups"] = json!(4);
    fs::write(&claude_json, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = env.cmd("csep").arg("uninstall").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        fs::read_to_string(env.path("codex/config.toml")).unwrap(),
        USER_TOML
    );
    let doc = read_json(&claude_json);
    assert_eq!(doc["numStartups"], 4);
    assert_eq!(
        doc["mcpServers"],
        json!({"docs": {"type": "stdio", "command": "docs-server", "args": []}})
    );
    assert_eq!(
        fs::metadata(&claude_json).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let st = status(&env);
    assert_eq!(st["mcp"]["codex"]["registered"], false, "{}", st["mcp"]);
    assert_eq!(st["mcp"]["claude"]["registered"], false, "{}", st["mcp"]);
}

#[test]
fn a_user_edit_of_codexs_config_survives_uninstall_and_only_csep_server_goes() {
    let env = setup_env();
    let out = env
        .cmd("csep")
        .args(["setup", "--no-backfill", "--no-claude", "--codex-home"])
        .arg(env.path("codex"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let path = env.path("codex/config.toml");
    let mut toml = fs::read_to_string(&path).unwrap();
    toml.push_str("\n[mcp_servers.docs]\ncommand = \"docs-server\"\n");
    fs::write(&path, &toml).unwrap();
    assert!(env
        .cmd("csep")
        .arg("uninstall")
        .output()
        .unwrap()
        .status
        .success());
    let after = fs::read_to_string(&path).unwrap();
    assert!(!after.contains("mcp_servers.csep"), "{after}");
    assert!(
        after.contains("[mcp_servers.docs]\ncommand = \"docs-server\""),
        "{after}"
    );
}

#[test]
fn no_mcp_leaves_both_hosts_mcp_configuration_alone() {
    let env = setup_env();
    let s = setup(&env, &["--no-mcp"]);
    assert_eq!(s["mcp"], json!({"codex": null, "claude": null}), "{s}");
    let toml = fs::read_to_string(env.path("codex/config.toml")).unwrap();
    assert!(!toml.contains("mcp_servers"), "{toml}");
    assert!(!env.path("claude/.claude.json").exists());
    assert_eq!(status(&env)["mcp"]["codex"]["registered"], false);
}

#[test]
fn without_claude_config_dir_the_server_goes_into_claude_json_in_home() {
    // What `claude mcp add --scope user` writes with CLAUDE_CONFIG_DIR unset: ~/.claude.json,
    // beside ~/.claude (created 0600 when missing).
    let env = Env::builder()
        .hosts_from_home()
        .path_var("/usr/bin:/bin")
        .build();
    fs::create_dir_all(env.path("home/.claude")).unwrap();
    let out = env
        .cmd("csep")
        .args(["setup", "--no-backfill", "--no-codex"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = env.path("home/.claude.json");
    assert_eq!(
        read_json(&file)["mcpServers"]["csep"]["args"],
        json!(["mcp"])
    );
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!env.path("home/.claude/.claude.json").exists());
    assert_eq!(status(&env)["mcp"]["claude"]["registered"], true);
    assert!(env
        .cmd("csep")
        .arg("uninstall")
        .output()
        .unwrap()
        .status
        .success());
    assert!(!file.exists(), "setup created it, uninstall removes it");
}
