//! The summaries for a person on a terminal: `csep status`, `setup`, `uninstall` and the
//! backfills run under a pseudo-terminal (util-linux `script`, which gives the command a pty as
//! stdout) print a few readable lines with colour; `NO_COLOR` takes the colour away; piped, or
//! with `--format json`, they print their JSON record (checked against docs/WIRE.md in
//! `docs::live_human`).

use crate::common;

use common::{codex_path, codex_rollout, write_lines, Env};
use serde_json::Value;

const ESC: &str = "\x1b[";

/// Hosts' dirs under `home/` (`CODEX_HOME`, `CLAUDE_CONFIG_DIR` set), no codex on PATH, one
/// Codex session, and an (empty) Copilot CLI history root through `COPILOT_HOME`.
fn env() -> Env {
    let env = Env::builder().path_var("/usr/bin:/bin").build();
    let root = env.path("home/.codex/sessions");
    write_lines(
        &codex_path(&root, "019a0000-0000-7000-8000-00000000a001"),
        &codex_rollout(
            "019a0000-0000-7000-8000-00000000a001",
            "/work/app",
            "why does the build fail",
            "error[E0425]: cannot find value `frobnicate`",
            "A missing import.",
        ),
    );
    std::fs::create_dir_all(env.path("copilot")).unwrap();
    std::fs::create_dir_all(env.path("home/.claude")).unwrap();
    std::fs::create_dir_all(env.path("home/.config/opencode")).unwrap();
    env
}

/// `csep ARGS` with a pseudo-terminal as its stdout (and stderr); what the terminal showed,
/// `\r\n` made `\n`. `extra_env` is set on top of the test's environment.
fn on_a_terminal(env: &Env, args: &str, extra_env: &[(&str, &str)]) -> String {
    let bin = assert_cmd::cargo::cargo_bin("csep");
    let mut c = env.command("script");
    c.args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .env("COPILOT_HOME", env.path("copilot"));
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = c.output().expect("util-linux script");
    assert!(
        out.status.success(),
        "csep {args} under script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

/// `csep ARGS` piped; its stdout, which must be one JSON object.
fn piped(env: &Env, args: &[&str]) -> Value {
    let out = env
        .cmd("csep")
        .args(args)
        .env("COPILOT_HOME", env.path("copilot"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "csep {args:?}: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn strip_colour(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(ESC) {
        out.push_str(&rest[..i]);
        let after = &rest[i + ESC.len()..];
        let end = after.find('m').map_or(after.len(), |e| e + 1);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn status_on_a_terminal_lists_the_hosts_found_with_colour_unless_no_color() {
    let env = env();
    piped(
        &env,
        &["recall", "bootstrap", "--all-history", "--format", "json"],
    );
    let shown = on_a_terminal(&env, "status", &[]);
    assert!(!shown.trim_start().starts_with('{'), "{shown}");
    assert!(shown.contains(ESC), "colour on a terminal: {shown:?}");
    let plain = strip_colour(&shown);
    for line in [
        "csep status",
        "Hosts found",
        "Codex CLI            1 session, 5 messages, newest 2026-11-01T10:00:00.000Z  hooks off",
        "GitHub Copilot CLI   0 sessions, 0 messages",
        "not found: Claude Code, Qwen Code, Factory Droid, Gemini CLI, OpenCode, Cursor CLI, Aider",
        "1 session, 5 messages in ",
        "Needs you (2)",
        "Codex: csep's SessionStart, Stop, SessionEnd hooks are not installed",
        "Try: csep recall --recent --global",
    ] {
        assert!(plain.contains(line), "{line:?} not in:\n{plain}");
    }
    // NO_COLOR (non-empty): the same lines, no colour; empty NO_COLOR counts as unset.
    let no_colour = on_a_terminal(&env, "status", &[("NO_COLOR", "1")]);
    assert!(!no_colour.contains(ESC), "{no_colour:?}");
    assert!(no_colour.contains("Hosts found"), "{no_colour}");
    assert!(on_a_terminal(&env, "status", &[("NO_COLOR", "")]).contains(ESC));
    // Asked for JSON on a terminal: the record.
    let json = on_a_terminal(&env, "status --format json", &[]);
    assert!(json.starts_with("{\"type\":\"csep_status\","), "{json}");
}

#[test]
fn setup_and_uninstall_on_a_terminal_say_what_was_done_and_what_needs_a_person() {
    let env = env();
    let shown = strip_colour(&on_a_terminal(&env, "setup", &[]));
    for line in [
        "csep setup: done.",
        "Hooks installed",
        "! Codex CLI",
        "not trusted",
        "✓ Claude Code",
        "MCP server `csep` registered with Codex CLI and Claude Code",
        "Sessions indexed",
        "Codex CLI              1 new, 0 updated, 0 unchanged; 5 messages; 0 errors;",
        "GitHub Copilot CLI     0 new, 0 updated, 0 unchanged; 0 messages; 0 errors;",
        "Still needs you",
        "Codex CLI: ",
        "Start a new session in each host",
        "Try: csep recall --recent --global",
    ] {
        assert!(shown.contains(line), "{line:?} not in:\n{shown}");
    }
    assert!(!shown.contains("\"type\""), "{shown}");
    // Every host's line names the file its hooks are in.
    for (host, file) in [
        ("Codex CLI", "hooks.json"),
        ("Claude Code", "settings.json"),
        ("GitHub Copilot CLI", "settings.json"),
        ("OpenCode", "plugins/csep.js"),
    ] {
        let line = shown
            .lines()
            .find(|l| l.contains(host) && (l.contains('✓') || l.contains('!')))
            .unwrap_or_else(|| panic!("no line for {host} in:\n{shown}"));
        assert!(
            line.trim_end().ends_with(file) || line.contains(&format!("{file},")),
            "{line}"
        );
    }

    let shown = strip_colour(&on_a_terminal(&env, "uninstall", &[("NO_COLOR", "1")]));
    assert!(shown.contains("csep uninstall: done."), "{shown}");
    assert!(
        shown.contains("removed") && shown.contains("settings.json"),
        "{shown}"
    );
    let shown = on_a_terminal(&env, "uninstall", &[("NO_COLOR", "1")]);
    assert!(
        shown.contains("csep uninstall: nothing to uninstall"),
        "{shown}"
    );
    assert!(!shown.contains(ESC), "{shown:?}");
}

#[test]
fn a_backfill_on_a_terminal_is_a_summary_and_piped_keeps_its_markdown() {
    let env = env();
    let shown = strip_colour(&on_a_terminal(&env, "recall sync codex --all-history", &[]));
    for line in [
        "Codex CLI: indexed",
        "1 file read: 1 new, 0 updated, 0 unchanged; 5 messages; 0 errors;",
        "Try: csep recall --recent --global --agent codex",
    ] {
        assert!(shown.contains(line), "{line:?} not in:\n{shown}");
    }
    let shown = strip_colour(&on_a_terminal(&env, "recall bootstrap --all-history", &[]));
    assert!(
        shown.contains("0 files read: 0 new, 0 updated, 1 unchanged"),
        "{shown}"
    );
    // Piped, 1.3.10's Markdown as before.
    let out = env
        .cmd("csep")
        .args(["recall", "bootstrap", "--all-history"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("## Recall bootstrap\n\nStatus: completed\n"),
        "{text}"
    );
    // `--format json` on a terminal: the record.
    let json = on_a_terminal(
        &env,
        "recall sync-claude --all-history --format json --root copilot",
        &[],
    );
    assert!(json.starts_with("{\"type\":\"index_summary\","), "{json}");
    // An explicit `--format markdown` on a terminal: the Markdown, not the summary.
    let md = on_a_terminal(
        &env,
        "recall bootstrap --all-history --format markdown",
        &[],
    );
    assert!(md.starts_with("## Recall bootstrap"), "{md}");
}

#[test]
fn format_human_when_piped_is_the_summary_without_colour() {
    let env = env();
    let out = env
        .cmd("csep")
        .args(["status", "--format", "human"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("csep status (state dir "), "{text}");
    assert!(!text.contains(ESC), "{text:?}");
}
