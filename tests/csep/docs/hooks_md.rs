//! docs/HOOKS.md checked against the real subcommands and flags, and its JSON against what
//! `csep setup` and the hooks really write.

use super::read::markdown;
use super::wire::*;
use super::*;
use crate::common::{self, copy_dir};
use serde_json::Value;
use std::collections::HashMap;

/// The commands a Markdown file shows: every line of its `sh` blocks (continuation lines
/// joined), and every inline code span outside the blocks, each with its line.
fn shown_commands(name: &str, md: &str) -> Vec<(usize, String)> {
    let doc = markdown(name, md);
    let mut out = Vec::new();
    for (lang, body, start) in doc.code_blocks() {
        if lang != "sh" {
            continue;
        }
        let mut pending = String::new();
        for (i, line) in body.lines().enumerate() {
            let line = line.split("  #").next().unwrap();
            match line.trim_end().strip_suffix('\\') {
                Some(head) => pending.push_str(head),
                None => {
                    pending.push_str(line);
                    out.push((start + 1 + i, std::mem::take(&mut pending)));
                }
            }
        }
    }
    out.extend(doc.code_spans());
    out
}

#[test]
fn hooks_md_uses_real_subcommands_and_flags() {
    let md = read("docs/HOOKS.md");
    let subcommands = csep_subcommands();
    let mut helps: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (line, command) in shown_commands("docs/HOOKS.md", &md) {
        for part in command.split('|') {
            // Leading `VAR=value` words are the environment, not the command.
            let words: Vec<&str> = part
                .split_whitespace()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                .collect();
            let Some(&bin) = words.first() else { continue };
            let (key, help_args, rest) = if bin == "csep" {
                let Some(&sub) = words.get(1) else { continue };
                if !subcommands.iter().any(|s| s == sub) {
                    problems.push(format!(
                        "docs/HOOKS.md:{line}: `csep {sub}` is not a csep command"
                    ));
                    continue;
                }
                used.insert(sub.to_string());
                (format!("csep {sub}"), vec![sub, "--help"], &words[2..])
            } else if REAL_TOOLS.contains(&bin) {
                (bin.to_string(), vec!["--help"], &words[1..])
            } else {
                continue;
            };
            let known = helps.entry(key.clone()).or_insert_with(|| {
                let bin = if bin == "csep" { "csep" } else { bin };
                long_flags(&stdout_of(bin, &help_args))
            });
            for w in rest.iter().take_while(|w| **w != "--") {
                if w.starts_with(['"', '\'']) {
                    continue;
                }
                for flag in long_flags(w) {
                    checked += 1;
                    if !known.contains(&flag) {
                        problems.push(format!(
                            "docs/HOOKS.md:{line}: {flag} is not in `{key} --help`"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 8, "only {checked} flags checked");
    for sub in [
        "setup",
        "uninstall",
        "hook",
        "drain",
        "session-start",
        "session-stop",
        "recall",
    ] {
        assert!(
            used.contains(sub),
            "docs/HOOKS.md does not show `csep {sub}`"
        );
    }
}

/// A hooks document with csep's handlers reduced to their shape: every single-quoted path
/// becomes `'P'`, so `CSEP_BIN='/x/csep' … codex` reads `CSEP_BIN='P' … codex`.
fn hooks_shape(doc: &Value) -> Value {
    let mut v = doc.clone();
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    match x {
                        Value::String(s) if k == "command" && s.contains("csep-hook.sh") => {
                            let shaped: String = s
                                .split('\'')
                                .enumerate()
                                .map(|(i, piece)| if i % 2 == 1 { "P" } else { piece })
                                .collect::<Vec<_>>()
                                .join("'");
                            *s = shaped;
                        }
                        _ => walk(x),
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// The document without csep's handlers (what a user had before setup).
fn without_csep(doc: &Value) -> Value {
    let mut v = doc.clone();
    if let Some(events) = v.get_mut("hooks").and_then(Value::as_object_mut) {
        for groups in events.values_mut() {
            if let Some(groups) = groups.as_array_mut() {
                for g in groups.iter_mut() {
                    if let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) {
                        hs.retain(|h| {
                            !h["command"]
                                .as_str()
                                .is_some_and(|c| c.contains("csep-hook.sh"))
                        });
                    }
                }
                groups.retain(|g| g["hooks"].as_array().is_none_or(|h| !h.is_empty()));
            }
        }
        events.retain(|_, g| g.as_array().is_none_or(|a| !a.is_empty()));
    }
    v
}

#[test]
fn hooks_md_json_matches_what_setup_and_the_hooks_write() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let md = read("docs/HOOKS.md");
    let live = live();
    let tmp = live.root();
    let no_codex = tmp.join("empty-bin");
    std::fs::create_dir_all(&no_codex).unwrap();
    let run = |args: &[&str], stdin: &str| -> Value {
        let out = live
            .cmd("csep")
            .env("PATH", &no_codex)
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "csep {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        if text.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(text.trim_end()).unwrap_or_else(|e| panic!("csep {args:?}: {e}"))
    };
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let state = path(&tmp.join("state"));

    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let doc = markdown("docs/HOOKS.md", &md);
    for (n, (_, body, line)) in doc
        .code_blocks()
        .filter(|(lang, _, _)| *lang == "json")
        .enumerate()
    {
        let ctx = format!("docs/HOOKS.md:{line}");
        let doc: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{ctx}: not JSON: {e}"));
        if doc.get("hooks").is_some() {
            // A host's hooks file as setup leaves it: seed what the user had, run setup for
            // that host alone, and compare.
            let commands = body.matches("csep-hook.sh").count();
            let agent = if body.contains("csep-hook.sh' claude\"") {
                "claude"
            } else {
                "codex"
            };
            assert!(commands > 0, "{ctx}: no csep hook in this hooks example");
            let home = tmp.join(format!("host-{n}"));
            std::fs::create_dir_all(&home).unwrap();
            let file = home.join(if agent == "claude" {
                "settings.json"
            } else {
                "hooks.json"
            });
            let before = without_csep(&doc);
            if before != serde_json::json!({"hooks": {}}) {
                std::fs::write(&file, before.to_string()).unwrap();
            }
            let host = path(&home);
            let args: Vec<&str> = if agent == "claude" {
                vec!["--no-codex", "--claude-dir", &host]
            } else {
                vec!["--no-claude", "--codex-home", &host]
            };
            let mut setup = vec!["setup", "--no-backfill", "--state-dir", &state];
            setup.extend(args);
            run(&setup, "");
            let after: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            if hooks_shape(&after) != hooks_shape(&doc) {
                problems.push(format!(
                    "{ctx}: csep setup writes this {agent} file differently:\n{}",
                    serde_json::to_string_pretty(&after).unwrap()
                ));
            }
            seen.insert(format!("hooks-{agent}"));
            continue;
        }
        let kind = doc
            .get("type")
            .or_else(|| doc.get("tool"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{ctx}: an example this test does not know"))
            .to_string();
        seen.insert(kind.clone());
        let real = match kind.as_str() {
            "setup_summary" => {
                // Sessions of both hosts, so the summary has a backfill for each.
                copy_dir(
                    &fixtures.join("codex/sessions"),
                    &tmp.join("summary/codex/sessions"),
                );
                copy_dir(
                    &fixtures.join("claude/projects"),
                    &tmp.join("summary/claude/projects"),
                );
                let codex = path(&tmp.join("summary/codex"));
                let claude = path(&tmp.join("summary/claude"));
                let state = path(&tmp.join("summary/state"));
                run(
                    &[
                        "setup",
                        "--codex-home",
                        &codex,
                        "--claude-dir",
                        &claude,
                        "--state-dir",
                        &state,
                    ],
                    "",
                )
            }
            "uninstall_summary" => run(&["uninstall", "--state-dir", &state], ""),
            "csep hook" => {
                let log_state = tmp.join("log-state");
                let payload = r#"{"hook_event_name":"Stop","session_id":"s"}"#;
                let args = ["hook", "codex", "--state-dir", &path(&log_state)];
                assert_eq!(run(&args, payload), serde_json::json!({"continue": true}));
                let log = std::fs::read_to_string(log_state.join("logs/hook.log")).unwrap();
                serde_json::from_str(log.lines().next().unwrap()).unwrap()
            }
            other => panic!("{ctx}: an example of {other:?}, which this test does not know"),
        };
        let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
        key_paths(&doc, "", &mut want);
        key_paths(&real, "", &mut got);
        // Present only when the hooks are not trusted (there is no codex here).
        got.remove("codex.trust_detail");
        if want != got {
            problems.push(format!(
                "{ctx}: the example's fields differ from what csep prints\n  only in the example: {:?}\n  only in csep's: {:?}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            ));
        }
        let values = |field: &str| -> Vec<String> {
            let mut out = Vec::new();
            let mut stack = vec![&doc];
            while let Some(v) = stack.pop() {
                match v {
                    Value::Object(o) => {
                        if let Some(Value::String(s)) = o.get(field) {
                            out.push(s.clone());
                        }
                        stack.extend(o.values());
                    }
                    Value::Array(a) => stack.extend(a),
                    _ => {}
                }
            }
            out
        };
        for (field, allowed) in [
            ("trust", &["trusted", "manual", "failed"][..]),
            ("how", &["restored", "removed", "cleaned", "missing"][..]),
            ("action", &["created", "modified"][..]),
        ] {
            for v in values(field) {
                if !allowed.contains(&v.as_str()) {
                    problems.push(format!("{ctx}: {field} {v:?} is not one of {allowed:?}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for kind in [
        "hooks-codex",
        "hooks-claude",
        "setup_summary",
        "uninstall_summary",
        "csep hook",
    ] {
        assert!(
            seen.contains(kind),
            "docs/HOOKS.md has no JSON example of {kind}"
        );
    }
}
