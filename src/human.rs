//! Summaries for a person at a terminal: what `csep setup`, `uninstall`, `status` and the
//! backfills (`csep recall bootstrap` / `sync` / `sync-claude`) did, in a few readable lines.
//! They are drawn from the very JSON record the command would print, so the two never say
//! different things; that record is printed instead whenever stdout is not a terminal or
//! `--format json` asks for it. Colour only on a terminal, never when `NO_COLOR` is set.
//! Every string taken from a record passes through `text::clean_line` (paths, warnings and
//! errors can carry text from transcripts).

use csep_lib::text::clean_line;
use csep_lib::wire::Agent;
use serde_json::Value;
use std::fmt::Write as _;
use std::io::IsTerminal;

/// `--format` of setup, uninstall and status: the documented JSON record, or a summary for a
/// person. Without the flag: a summary when stdout is a terminal, else the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HumanFormat {
    Json,
    Human,
}

/// Whether to print the summary for a person.
pub fn wanted(format: Option<HumanFormat>) -> bool {
    match format {
        Some(f) => f == HumanFormat::Human,
        None => std::io::stdout().is_terminal(),
    }
}

/// Colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    colour: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty (no-color.org).
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            colour: !no_color && std::io::stdout().is_terminal(),
        }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// A string field of `v`, cleaned for the terminal; `""` when absent.
fn s(v: &Value) -> String {
    v.as_str()
        .map(|x| clean_line(x).into_owned())
        .unwrap_or_default()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// `1234567` as `1,234,567`.
fn thousands(x: u64) -> String {
    let digits = x.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(x: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(x), if x == 1 { one } else { many })
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// A host's name for people from its `--agent` name (or 1.3.10's `claude_code`).
fn host_name(key: &str) -> String {
    match Agent::parse(key) {
        Some(a) => a.display_name().to_string(),
        None if key == "claude_code" => Agent::Claude.display_name().to_string(),
        None => clean_line(key).into_owned(),
    }
}

/// One backfill's line: sessions, messages, errors and time.
fn backfill_line(b: &Value) -> String {
    format!(
        "{} new, {} updated, {} unchanged; {}; {}; {}",
        thousands(n(&b["new_sessions"])),
        thousands(n(&b["updated_sessions"])),
        thousands(n(&b["unchanged_sessions"])),
        plural(n(&b["messages"]), "message", "messages"),
        plural(n(&b["error_count"]), "error", "errors"),
        seconds(n(&b["elapsed_ms"]))
    )
}

const TRY_RECALL: &str = "csep recall --recent --global";

fn try_next(out: &mut String, st: Style, agent: Option<&str>) {
    let cmd = match agent {
        Some(a) => format!("{TRY_RECALL} --agent {a}"),
        None => TRY_RECALL.to_string(),
    };
    let _ = writeln!(
        out,
        "\n{} {}   {}",
        st.bold("Try:"),
        st.ok(&cmd),
        st.dim("(then: csep recall \"words|you remember\")")
    );
}

/// `csep setup`'s `setup_summary` (either form).
pub fn setup(v: &Value, st: Style) -> String {
    let mut out = String::new();
    if v["dry_run"] == true {
        let _ = writeln!(
            out,
            "{}",
            st.bold("csep setup --dry-run: nothing was changed")
        );
        for p in v["plan"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  {:<9} {}", s(&p["action"]), s(&p["path"]));
        }
        if let Some(t) = v["codex_trust"].as_str() {
            let _ = writeln!(out, "  Codex trust: {}", clean_line(t));
        }
        return out;
    }
    let _ = writeln!(
        out,
        "{} {}",
        st.bold("csep setup: done."),
        st.dim(&format!("State dir {}", s(&v["state_dir"])))
    );
    let mut needs: Vec<String> = Vec::new();
    let _ = writeln!(out, "\n{}", st.bold("Hooks installed"));
    let mut any = false;
    if let Some(o) = v.as_object() {
        for (key, h) in o {
            let Some(agent) = Agent::parse(key) else {
                continue;
            };
            if !h.is_object() {
                continue;
            }
            any = true;
            let file = [
                "hooks_json",
                "settings_json",
                "hooks_file",
                "plugin",
                "file",
            ]
            .iter()
            .find_map(|f| h[*f].as_str())
            .map(|f| clean_line(f).into_owned())
            .unwrap_or_default();
            if let Some(e) = h["error"].as_str() {
                let _ = writeln!(
                    out,
                    "  {} {:<20} {}",
                    st.warn("!"),
                    agent.display_name(),
                    st.warn("hooks not installed")
                );
                needs.push(format!("{}: {}", agent.display_name(), clean_line(e)));
                continue;
            }
            let mut line = format!("  {} {:<20} {file}", st.ok("✓"), agent.display_name());
            if agent == Agent::Codex {
                match h["trust"].as_str() {
                    Some("trusted") => line.push_str(", trusted"),
                    _ => {
                        line = format!(
                            "  {} {:<20} {file}, {}",
                            st.warn("!"),
                            agent.display_name(),
                            st.warn("not trusted")
                        );
                        needs.push(format!(
                            "Codex CLI: {}",
                            match s(&h["trust_detail"]) {
                                d if d.is_empty() => "trust csep's hooks in Codex's /hooks".into(),
                                d => d,
                            }
                        ));
                    }
                }
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !any {
        let _ = writeln!(out, "  {}", st.dim("no host (every host was left alone)"));
    }
    let mcp: Vec<String> = ["codex", "claude"]
        .iter()
        .filter(|k| v["mcp"][**k].is_string())
        .map(|k| host_name(k))
        .collect();
    if !mcp.is_empty() {
        let _ = writeln!(
            out,
            "  {} MCP server `csep` registered with {}",
            st.ok("✓"),
            mcp.join(" and ")
        );
    }
    let _ = writeln!(out, "\n{}", st.bold("Sessions indexed"));
    match v["backfill"].as_object() {
        Some(b) if !b.is_empty() => {
            for (key, summary) in b {
                let _ = writeln!(out, "  {:<22} {}", host_name(key), backfill_line(summary));
                if n(&summary["error_count"]) > 0 {
                    needs.push(format!(
                        "{}: {} could not be read (listed on stderr; `csep status` keeps the latest)",
                        host_name(key),
                        plural(n(&summary["error_count"]), "transcript", "transcripts")
                    ));
                }
            }
        }
        _ => {
            let _ = writeln!(
                out,
                "  {}",
                st.dim("none (--no-backfill, or no history found)")
            );
        }
    }
    let legacy = &v["legacy"];
    if legacy.is_object() && legacy["imported"].is_null() {
        needs.push(match legacy["error"].as_str() {
            Some(e) => format!(
                "csep 1.3.10's database could not be read: {}",
                clean_line(e)
            ),
            None => format!(
                "csep 1.3.10's database holds {}: import them with `{}`",
                plural(n(&legacy["sessions"]), "session", "sessions"),
                s(&legacy["command"])
            ),
        });
    }
    if any {
        needs.push(
            "Start a new session in each host (or restart it): hooks load when a session starts."
                .into(),
        );
    }
    let _ = writeln!(out, "\n{}", st.bold("Still needs you"));
    for line in &needs {
        let _ = writeln!(out, "  {} {line}", st.warn("•"));
    }
    try_next(&mut out, st, None);
    out
}

/// `csep uninstall`'s `uninstall_summary`.
pub fn uninstall(v: &Value, st: Style) -> String {
    let mut out = String::new();
    if v["status"] == "nothing_to_uninstall" {
        let _ = writeln!(
            out,
            "{} {}",
            st.bold("csep uninstall: nothing to uninstall"),
            st.dim(&format!("(no install manifest at {})", s(&v["manifest"])))
        );
        return out;
    }
    let _ = writeln!(out, "{}", st.bold("csep uninstall: done."));
    let mut kept = false;
    for f in v["files"].as_array().into_iter().flatten() {
        let how = s(&f["how"]);
        let mark = match how.as_str() {
            "kept" => {
                kept = true;
                st.warn("!")
            }
            "cleaned" => st.warn("~"),
            _ => st.ok("✓"),
        };
        let _ = writeln!(out, "  {mark} {how:<9} {}", s(&f["path"]));
    }
    for d in v["removed_dirs"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  {} {:<9} {}/", st.ok("✓"), "removed", s(d));
    }
    if kept {
        let _ = writeln!(
            out,
            "\n{} a host file still runs a kept file: take csep's hooks out of it, then run `csep uninstall` again",
            st.warn("Still needs you:")
        );
    }
    let _ = writeln!(
        out,
        "\n{}",
        st.dim("The index and memory stay in the state dir; delete it to remove them too.")
    );
    out
}

/// `csep status`'s `csep_status`.
pub fn status(v: &Value, st: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        st.bold("csep status"),
        st.dim(&format!("(state dir {})", s(&v["home"])))
    );
    let _ = writeln!(out, "\n{}", st.bold("Hosts found"));
    let mut absent = Vec::new();
    for h in v["hosts"].as_array().into_iter().flatten() {
        let found = h["root_exists"] == true || n(&h["sessions"]) > 0;
        let name = s(&h["name"]);
        if !found {
            absent.push(name);
            continue;
        }
        let hooks = match &v["hooks"][s(&h["agent"])] {
            x if x.is_object() => {
                if x["installed"] == true && x["trusted"] != false {
                    st.ok("hooks on")
                } else {
                    st.warn("hooks off")
                }
            }
            _ => String::new(),
        };
        let newest = match h["newest_session_at"].as_str() {
            Some(t) => format!(", newest {}", clean_line(t)),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<20} {}, {}{newest}  {hooks}",
            name,
            plural(n(&h["sessions"]), "session", "sessions"),
            plural(n(&h["messages"]), "message", "messages"),
        );
        let root = match h["root"].as_str() {
            Some(r) if h["root_exists"] == true => clean_line(r).into_owned(),
            Some(r) => format!("{} (not there)", clean_line(r)),
            None => "no default root".into(),
        };
        let _ = writeln!(out, "  {:<20} {}", "", st.dim(&root));
    }
    if !absent.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            st.dim(&format!("not found: {}", absent.join(", ")))
        );
    }
    let r = &v["session_recall"];
    let _ = writeln!(out, "\n{}", st.bold("Index"));
    if r["db_exists"] == true {
        let _ = writeln!(
            out,
            "  {}, {} in {}",
            plural(n(&r["session_count"]), "session", "sessions"),
            plural(n(&r["message_count"]), "message", "messages"),
            s(&r["db_path"])
        );
    } else {
        let _ = writeln!(out, "  {}", st.dim("no index yet: run `csep setup`"));
    }
    let q = &v["spool"];
    let _ = writeln!(
        out,
        "  queues: archive {} waiting, {} failed; reflect {} waiting, {} failed",
        n(&q["archive"]["new"]) + n(&q["archive"]["cur"]),
        n(&q["archive"]["failed"]),
        n(&q["reflect"]["new"]) + n(&q["reflect"]["cur"]),
        n(&q["reflect"]["failed"]),
    );
    let warnings = v["warnings"].as_array().cloned().unwrap_or_default();
    if warnings.is_empty() {
        let _ = writeln!(out, "\n{}", st.ok("All is well: nothing needs you."));
    } else {
        let _ = writeln!(
            out,
            "\n{}",
            st.warn(&format!("Needs you ({})", warnings.len()))
        );
        for w in &warnings {
            let _ = writeln!(out, "  {} {}", st.warn("•"), s(w));
        }
    }
    try_next(&mut out, st, None);
    out
}

/// A backfill's summary (`csep recall bootstrap`, `sync HOST`, `sync-claude`).
pub fn backfill(v: &Value, agent: Agent, st: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        st.bold(&format!("{}: indexed", agent.display_name())),
        st.dim(&s(&v["root"]))
    );
    let _ = writeln!(
        out,
        "  {} read: {}",
        plural(n(&v["processed_files"]), "file", "files"),
        backfill_line(v)
    );
    if n(&v["error_count"]) > 0 {
        let _ = writeln!(
            out,
            "  {} {} could not be read (listed on stderr)",
            st.warn("!"),
            plural(n(&v["error_count"]), "transcript", "transcripts")
        );
    }
    try_next(&mut out, st, Some(agent.as_str()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_names_each_host_installed_and_what_failed() {
        let v = serde_json::json!({"type": "setup_summary", "dry_run": false, "state_dir": "/s",
            "codex": null, "claude": {"settings_json": "/h/.claude/settings.json"},
            "qwen": {"home": "/h/.qwen", "file": "/h/.qwen/settings.json", "events": ["Stop"]},
            "droid": {"home": "/h/.factory", "error": "hooks.json: not valid JSON"},
            "mcp": {"codex": null, "claude": null},
            "backfill": {"qwen": {"new_sessions": 2, "messages": 1500, "elapsed_ms": 2500}},
            "legacy": null});
        let text = setup(&v, Style { colour: false });
        for line in [
            "✓ Claude Code          /h/.claude/settings.json",
            "✓ Qwen Code            /h/.qwen/settings.json",
            "! Factory Droid        hooks not installed",
            "• Factory Droid: hooks.json: not valid JSON",
            "Qwen Code              2 new, 0 updated, 0 unchanged; 1,500 messages; 0 errors; 2.5 s",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }
        assert!(!text.contains("MCP server"), "{text}");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn text_from_a_record_is_cleaned_and_colour_is_only_asked_for() {
        let v = serde_json::json!({"type": "csep_status", "home": "/h\x1b[31m",
            "warnings": ["x\u{202e}y"], "hosts": [], "session_recall": {}, "spool": {}});
        let plain = status(&v, Style { colour: false });
        assert!(!plain.contains('\x1b'), "{plain:?}");
        assert!(!plain.contains('\u{202e}'), "{plain:?}");
        let coloured = status(&v, Style { colour: true });
        assert!(coloured.contains("\x1b[1m"), "{coloured:?}");
    }
}
