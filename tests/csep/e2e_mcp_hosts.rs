//! README's "Using csep from any agent (MCP)", run: for Gemini CLI, Qwen Code, GitHub Copilot
//! CLI, Factory Droid and OpenCode, the JSON snippet README gives (taken from README.md
//! itself, only `command` and `CSEP_HOME` filled in) written where README says, in a fresh
//! HOME; then the real host's own listing (`HOST mcp list`) must show csep connected, and a
//! headless prompt against the scripted mock (tests/support/mock_chat.py) must reach csep's
//! `recall` tool, whose answer (a planted session's words) must come back to the model. The
//! hosts' settings and headless runs are those of tests/csep/e2e_HOST.rs; each test says so
//! and passes when the host's CSEP_*_BIN is unset.

use crate::common::chat_hosts::{self, ChatHost};
use crate::common::{codex_path, codex_rollout, read_lossy, write_lines, World};
use crate::e2e_copilot::Copilot;
use crate::e2e_droid::Droid;
use crate::e2e_gemini::Gemini;
use crate::e2e_opencode::OpenCode;
use crate::e2e_qwen::Qwen;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

const README: &str = include_str!("../../README.md");

/// The words only the planted session holds: recall's answer must carry them to the model.
const PLANTED: &str = "quandong";

/// The ```json blocks of README's MCP section.
fn readme_json_blocks() -> Vec<Value> {
    let start = README
        .find("## Using csep from any agent (MCP)")
        .expect("README has no section \"Using csep from any agent (MCP)\"");
    let rest = &README[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    section
        .split("```json\n")
        .skip(1)
        .map(|b| {
            let block = &b[..b.find("```").expect("an unclosed ```json block")];
            serde_json::from_str(block)
                .unwrap_or_else(|e| panic!("README's MCP snippet is not JSON ({e}):\n{block}"))
        })
        .collect()
}

/// README's snippet holding `key` (`mcpServers` or `mcp`), with the real `csep` and this
/// world's CSEP_HOME where README has the user's.
fn readme_snippet(key: &str, csep: &Path, csep_home: &Path) -> Value {
    let mut v = readme_json_blocks()
        .into_iter()
        .find(|b| b.get(key).is_some())
        .unwrap_or_else(|| panic!("README's MCP section has no JSON snippet with {key:?}"));
    let server = &mut v[key]["csep"];
    assert!(
        server.is_object(),
        "README's {key} snippet has no csep server: {v}"
    );
    let csep = csep.to_string_lossy().into_owned();
    match &mut server["command"] {
        Value::Array(words) => words[0] = json!(csep),
        c => *c = json!(csep),
    }
    let env_key = if key == "mcp" { "environment" } else { "env" };
    assert!(
        server[env_key]["CSEP_HOME"].is_string(),
        "README's {key} snippet sets no CSEP_HOME in {env_key}: {v}"
    );
    server[env_key]["CSEP_HOME"] = json!(csep_home.to_string_lossy());
    v
}

/// Merges `snippet`'s top-level keys into the JSON object in `file` (created if absent), as
/// a user adds the snippet beside what the file holds.
fn merge_into(file: &Path, snippet: &Value) {
    let mut doc: Value = fs::read(file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    for (k, v) in snippet.as_object().unwrap() {
        doc[k] = v.clone();
    }
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// What a host's test needs beyond its e2e file: where README puts the snippet, and whether
/// the host's `mcp list` connects to the servers it lists.
struct McpCase {
    key: &'static str,
    file: fn(&Path) -> PathBuf,
    list_connects: bool,
}

fn host_bin<H: ChatHost>() -> Option<PathBuf> {
    let Some(bin) = std::env::var_os(H::BIN_VAR).filter(|b| !b.is_empty()) else {
        eprintln!(
            "e2e_mcp_hosts ({}): skipped: {} is not set (run `export {}=\"$({})\"`; scripts/test.sh does)",
            H::AGENT,
            H::BIN_VAR,
            H::BIN_VAR,
            H::INSTALL
        );
        return None;
    };
    let bin = PathBuf::from(bin);
    assert!(
        bin.is_file(),
        "{}={} is not a file",
        H::BIN_VAR,
        bin.display()
    );
    Some(bin)
}

fn host_runs_csep_mcp_and_calls_recall<H: ChatHost>(case: McpCase) {
    let Some(bin) = host_bin::<H>() else { return };
    let mut w = World::<H>::new(bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");
    let host = H::AGENT;
    w.start_mock(
        &json!([{"match": "lychee decision", "recall": PLANTED, "text": "Recalled it."}])
            .to_string(),
    );
    H::prepare(&w);

    // A session of the user's past, indexed: the only place the planted word occurs.
    let root = w.p("codex-sessions");
    let work = w.work().to_string_lossy().into_owned();
    let reply = format!("We settled the lychee decision: the {PLANTED} plan wins.");
    write_lines(
        &codex_path(&root, "019a0000-0000-7000-8000-00000000c5e9"),
        &codex_rollout(
            "019a0000-0000-7000-8000-00000000c5e9",
            &work,
            "Which plan for the lychee decision?",
            "ok",
            &reply,
        ),
    );
    let mut c = w.command(assert_cmd::cargo::cargo_bin("csep-index"));
    c.args(["--backfill", "codex", "--all-history", "--root"])
        .arg(&root);
    chat_hosts::run(&w, "csep-index-backfill", c);

    // README's snippet, where README says this host reads it.
    let file = (case.file)(&w.root);
    merge_into(&file, &readme_snippet(case.key, &csep, &w.csep_home()));

    // The host's own listing: csep there, connected (it started `csep mcp` and spoke MCP).
    if case.list_connects {
        let mut c = w.command(&w.bin);
        c.args(["mcp", "list"]);
        let r = chat_hosts::run(&w, "host-mcp-list", c);
        let listed = format!("{}{}", r.stdout, r.stderr);
        let line = listed
            .lines()
            .find(|l| l.contains("csep"))
            .unwrap_or_else(|| w.fail(&format!("`{host} mcp list` does not list csep")));
        if !line.to_lowercase().contains("connected")
            || line.to_lowercase().contains("disconnected")
        {
            w.fail(&format!(
                "`{host} mcp list` lists csep but not connected: {line}"
            ));
        }
    }

    // A headless prompt: the model calls the recall tool csep's server offers, and the
    // planted session's words come back to it.
    let c = H::prompt(
        &w,
        "Use the csep recall tool to look up the lychee decision.",
        None,
    );
    chat_hosts::run(&w, "host-prompt", c);
    let reqs = w.requests();
    if !reqs.iter().any(|r| r["reply"] == "tool_call") {
        w.fail(&format!(
            "{host} offered the model no tool named like recall: it did not load csep's MCP tools from {}",
            file.display()
        ));
    }
    if !reqs
        .iter()
        .any(|r| chat_hosts::tool_output_seen(r, PLANTED))
    {
        w.fail(&format!(
            "the recall call's answer (with {PLANTED}) did not come back to the model; {}:\n{}",
            file.display(),
            read_lossy(&file)
        ));
    }
}

#[test]
fn gemini_runs_readme_mcp_snippet() {
    host_runs_csep_mcp_and_calls_recall::<Gemini>(McpCase {
        key: "mcpServers",
        file: |r| r.join("home/.gemini/settings.json"),
        list_connects: true,
    });
}

#[test]
fn qwen_runs_readme_mcp_snippet() {
    host_runs_csep_mcp_and_calls_recall::<Qwen>(McpCase {
        key: "mcpServers",
        file: |r| r.join("home/.qwen/settings.json"),
        list_connects: true,
    });
}

#[test]
fn copilot_runs_readme_mcp_snippet() {
    // `copilot mcp list` only reads the config; the headless run is the proof.
    host_runs_csep_mcp_and_calls_recall::<Copilot>(McpCase {
        key: "mcpServers",
        file: |r| r.join("copilot-home/mcp-config.json"),
        list_connects: false,
    });
}

#[test]
fn droid_runs_readme_mcp_snippet() {
    host_runs_csep_mcp_and_calls_recall::<Droid>(McpCase {
        key: "mcpServers",
        file: |r| r.join("home/.factory/mcp.json"),
        list_connects: true,
    });
}

#[test]
fn opencode_runs_readme_mcp_snippet() {
    host_runs_csep_mcp_and_calls_recall::<OpenCode>(McpCase {
        key: "mcp",
        file: |r| r.join("home/.config/opencode/opencode.json"),
        list_connects: true,
    });
}

#[test]
fn readme_mcp_snippets_name_csep_mcp() {
    // Holds without any host: both snippets parse and run `csep mcp` with a CSEP_HOME.
    let s = readme_snippet("mcpServers", Path::new("/x/csep"), Path::new("/h"));
    assert_eq!(s["mcpServers"]["csep"]["args"], json!(["mcp"]), "{s}");
    let s = readme_snippet("mcp", Path::new("/x/csep"), Path::new("/h"));
    assert_eq!(
        s["mcp"]["csep"]["command"],
        json!(["/x/csep", "mcp"]),
        "{s}"
    );
}
