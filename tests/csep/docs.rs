//! The documentation checked against the code: the man pages in `man/` against each binary's
//! `--help` and the exit-code table in `src/exit.rs` (and the hook script's page against the
//! script), `docs/WIRE.md` against the wire types and against what the tools really print,
//! and `docs/HOOKS.md` against the real commands and flags and against what `csep setup`
//! really writes.
//!
//! Needs `groff` (Debian/Ubuntu package `groff-base`) for the rendering check; without it that
//! one check is skipped with a note.

use crate::common;

use assert_cmd::Command;
use common::{codex_exec_rollout, copy_dir, git_repo, git_worktree, write_lines, Env};
use csep_lib::wire::Record;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// The tools with full man pages, and the placeholders that only say "not yet implemented".
const REAL_TOOLS: &[&str] = &[
    "csep",
    "csep-archive",
    "csep-index",
    "csep-recall",
    "csep-trigger",
    "csep-reflect",
    "csep-verify",
];
/// Binaries that only say "not yet implemented" (none at the moment).
const PLACEHOLDERS: &[&str] = &[];
/// Pages for scripts rather than binaries: the page, and the script it documents.
const SCRIPT_PAGES: &[(&str, &str)] = &[("csep-hook", "plugin/hooks/csep-hook.sh")];

/// Every page in `man/`.
fn all_pages() -> Vec<&'static str> {
    REAL_TOOLS
        .iter()
        .chain(PLACEHOLDERS)
        .copied()
        .chain(SCRIPT_PAGES.iter().map(|(page, _)| *page))
        .collect()
}

const REQUIRED_SECTIONS: &[&str] = &[
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "EXIT STATUS",
    "FILES",
    "ENVIRONMENT",
    "EXAMPLES",
];

/// `--flag`-shaped words in the man pages that are not csep flags: a query in an example, and
/// the flags csep-reflect(1) says it passes to `codex exec` and `claude -p`.
const NOT_FLAGS: &[&str] = &[
    "--no-verify",
    "--ephemeral",
    "--model",
    "--restricted",
    "--no-session-persistence",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn man_source(tool: &str) -> String {
    read(&format!("man/{tool}.1"))
}

fn stdout_of(bin: &str, args: &[&str]) -> String {
    let out = Command::cargo_bin(bin)
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{bin} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------
// Reading man pages.

/// Man page source reduced to plain text: font and character escapes resolved, and macro
/// names and quotes dropped from macro lines, so `.BI \-\-limit " N"` reads `--limit  N`.
fn plain(line: &str) -> String {
    let mut s = line
        .replace("\\-", "-")
        .replace("\\(dq", "\"")
        .replace("\\(aq", "'")
        .replace("\\(lq", "\"")
        .replace("\\(rq", "\"")
        .replace("\\(em", "-")
        .replace("\\&", "")
        .replace("\\e", "\\");
    for font in ["\\fB", "\\fI", "\\fR", "\\fP"] {
        s = s.replace(font, "");
    }
    if let Some(rest) = s.strip_prefix('.') {
        let rest = rest.split_once(' ').map_or("", |(_, r)| r);
        return rest.replace('"', "");
    }
    s
}

/// The page's `.SH` sections, in order, each with its source lines.
fn sections(src: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in src.lines() {
        if let Some(name) = line.strip_prefix(".SH ") {
            out.push((name.trim().trim_matches('"').to_string(), Vec::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push(line.to_string());
        }
    }
    out
}

fn section<'a>(secs: &'a [(String, Vec<String>)], name: &str) -> Option<&'a [String]> {
    secs.iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b.as_slice())
}

/// Every `--long-flag` in `text`.
fn long_flags(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 2 < chars.len() {
        let starts = chars[i] == '-'
            && chars[i + 1] == '-'
            && chars[i + 2].is_ascii_lowercase()
            && (i == 0 || !is_word(chars[i - 1]));
        if starts {
            let mut j = i + 2;
            while j < chars.len() && is_word(chars[j]) {
                j += 1;
            }
            let flag: String = chars[i..j].iter().collect();
            out.insert(flag.trim_end_matches('-').to_string());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Whether `flag` occurs in `text` as a whole word (`--since` is not found in `--since-days`).
fn mentions(text: &str, flag: &str) -> bool {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
    text.match_indices(flag).any(|(i, _)| {
        !is_word(text[..i].chars().next_back()) && !is_word(text[i + flag.len()..].chars().next())
    })
}

// ---------------------------------------------------------------------------------------
// The exit-code table, read from its source of truth.

/// `(code, meaning)` for every entry of `TABLE` in `src/exit.rs`, in order, with the codes
/// taken from the `Exit` enum's discriminants.
fn exit_table() -> Vec<(i64, String)> {
    let src = read("src/exit.rs");
    let block = |start: &str, end: &str| -> String {
        let from = src
            .find(start)
            .unwrap_or_else(|| panic!("src/exit.rs has no `{start}`"));
        let len = src[from..].find(end).expect("block end");
        src[from..from + len].to_string()
    };
    let mut codes: HashMap<String, i64> = HashMap::new();
    for line in block("pub enum Exit", "}").lines() {
        let line = line.split("//").next().unwrap();
        if let Some((name, value)) = line.split_once('=') {
            let value = value.trim().trim_end_matches(',');
            if let Ok(v) = value.parse() {
                codes.insert(name.trim().to_string(), v);
            }
        }
    }
    assert!(!codes.is_empty(), "no discriminants found in `enum Exit`");
    let table = block("pub const TABLE", "];");
    let mut out = Vec::new();
    for entry in table.split("Exit::").skip(1) {
        let name: String = entry
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let code = *codes
            .get(&name)
            .unwrap_or_else(|| panic!("TABLE names Exit::{name}, which has no discriminant"));
        let open = entry.find('"').expect("a meaning string");
        let close = entry[open + 1..].find('"').expect("the meaning's end") + open + 1;
        out.push((code, entry[open + 1..close].to_string()));
    }
    assert_eq!(
        out.len(),
        codes.len(),
        "TABLE and enum Exit list different codes"
    );
    out
}

/// The EXIT STATUS section's `.TP` items: code → the item's text, whitespace collapsed.
fn documented_exit_codes(page: &str, body: &[String]) -> BTreeMap<i64, String> {
    let mut items = BTreeMap::new();
    let mut current: Option<i64> = None;
    let mut i = 0;
    while i < body.len() {
        let line = body[i].trim();
        if line == ".TP" {
            let tag = plain(body.get(i + 1).map_or("", String::as_str));
            let code: i64 = tag.trim().parse().unwrap_or_else(|_| {
                panic!("man/{page}.1 EXIT STATUS: item tag {tag:?} is not an exit code")
            });
            assert!(
                items.insert(code, String::new()).is_none(),
                "man/{page}.1 lists exit code {code} twice"
            );
            current = Some(code);
            i += 2;
            continue;
        }
        if line.starts_with(".PP") || line.starts_with(".SS") {
            current = None;
        } else if let Some(code) = current {
            let text = items.get_mut(&code).unwrap();
            text.push(' ');
            text.push_str(&plain(line));
        }
        i += 1;
    }
    items
        .into_iter()
        .map(|(c, t)| (c, t.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Man page tests.

/// For each page, the `--help` texts whose flags it must document: a small tool's own help;
/// for `csep`, its help and every subcommand's (found in `csep --help`, so a new subcommand
/// cannot be missed).
/// The subcommands `csep --help` lists, `help` left out.
fn csep_subcommands() -> Vec<String> {
    listed_commands(&stdout_of("csep", &["--help"]))
}

fn helps_per_page() -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for tool in [
        "csep-archive",
        "csep-index",
        "csep-recall",
        "csep-trigger",
        "csep-reflect",
        "csep-verify",
    ] {
        out.push((tool, tool.to_string(), stdout_of(tool, &["--help"])));
    }
    let top = stdout_of("csep", &["--help"]);
    let subcommands = csep_subcommands();
    for expected in [
        "recall",
        "session-archive",
        "session-ingest",
        "archive",
        "index",
        "hook",
        "session-start",
        "session-stop",
        "drain",
        "setup",
        "uninstall",
    ] {
        assert!(
            subcommands.iter().any(|s| s == expected),
            "`csep --help` does not list {expected} (found {subcommands:?})"
        );
    }
    out.push(("csep", "csep".to_string(), top));
    for sub in subcommands {
        let help = stdout_of("csep", &[&sub, "--help"]);
        // A subcommand with subcommands of its own (`session-reflection write-receipt`).
        for nested in listed_commands(&help) {
            let nested_help = stdout_of("csep", &[&sub, &nested, "--help"]);
            out.push(("csep", format!("csep {sub} {nested}"), nested_help));
        }
        out.push(("csep", format!("csep {sub}"), help));
    }
    out
}

/// The commands a `--help` text lists under `Commands:`, `help` left out.
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_long_flag_in_help_is_in_the_man_page() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for (page, label, help) in helps_per_page() {
        let text: String = man_source(page)
            .lines()
            .map(plain)
            .collect::<Vec<_>>()
            .join("\n");
        for flag in long_flags(&help) {
            checked += 1;
            if !mentions(&text, &flag) {
                missing.push(format!("man/{page}.1 lacks {flag} (from `{label} --help`)"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(checked > 60, "only {checked} flags checked");
}

#[test]
fn every_flag_in_the_man_pages_exists() {
    let mut known = BTreeSet::new();
    for (_, _, help) in helps_per_page() {
        known.extend(long_flags(&help));
    }
    let mut unknown = Vec::new();
    for tool in all_pages() {
        let src = man_source(tool);
        for (n, line) in src.lines().enumerate() {
            for flag in long_flags(&plain(line)) {
                if !known.contains(&flag) && !NOT_FLAGS.contains(&flag.as_str()) {
                    unknown.push(format!("man/{tool}.1:{}: {flag} is in no --help", n + 1));
                }
            }
        }
    }
    assert!(unknown.is_empty(), "{}", unknown.join("\n"));
}

#[test]
fn every_binary_has_a_man_page_and_every_page_a_binary() {
    let mut bins: BTreeSet<String> = BTreeSet::new();
    for e in std::fs::read_dir(repo().join("src/bin")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".rs") {
            bins.insert(stem.to_string());
        }
    }
    let mut pages: BTreeSet<String> = BTreeSet::new();
    for e in std::fs::read_dir(repo().join("man")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".1") {
            pages.insert(stem.to_string());
        }
    }
    let listed: BTreeSet<String> = REAL_TOOLS
        .iter()
        .chain(PLACEHOLDERS)
        .map(|s| s.to_string())
        .collect();
    for (page, script) in SCRIPT_PAGES {
        assert!(
            pages.remove(*page),
            "man/{page}.1 (the page of {script}) is missing"
        );
        assert!(
            repo().join(script).is_file(),
            "man/{page}.1 documents {script}, which does not exist"
        );
    }
    assert_eq!(bins, pages, "src/bin/*.rs and man/*.1 differ");
    assert_eq!(
        bins, listed,
        "tests/csep/docs.rs's tool lists are out of date"
    );
}

/// The sections of a full man page (a tool's or a script's), checked: every required
/// section there and not empty, a `.TH` line and a NAME line that name the page.
fn full_page_sections(page: &str) -> Vec<(String, Vec<String>)> {
    let src = man_source(page);
    let secs = sections(&src);
    let names: Vec<&str> = secs.iter().map(|(n, _)| n.as_str()).collect();
    for required in REQUIRED_SECTIONS {
        let body = section(&secs, required)
            .unwrap_or_else(|| panic!("man/{page}.1 has no {required} section ({names:?})"));
        assert!(
            body.iter().any(|l| !plain(l).trim().is_empty()),
            "man/{page}.1: {required} is empty"
        );
    }
    let th = src.lines().find(|l| l.starts_with(".TH ")).unwrap_or("");
    assert!(
        th.starts_with(&format!(".TH {} 1 ", page.to_uppercase())),
        "man/{page}.1: bad .TH line {th:?}"
    );
    let name = section(&secs, "NAME").unwrap().join(" ");
    assert!(
        name.trim_start().starts_with(&format!("{page} \\-")),
        "man/{page}.1: NAME should read `{page} \\- …`, not {name:?}"
    );
    secs
}

#[test]
fn man_pages_have_the_required_sections() {
    for tool in REAL_TOOLS {
        let secs = full_page_sections(tool);
        let env = plain(&section(&secs, "ENVIRONMENT").unwrap().join("\n"));
        for var in [
            "CSEP_HOME",
            "CODEX_SELF_EVOLUTION_HOME",
            "CODEX_HOME",
            "CLAUDE_CONFIG_DIR",
            "HOME",
        ] {
            assert!(mentions(&env, var), "man/{tool}.1: ENVIRONMENT lacks {var}");
        }
        let files = plain(&section(&secs, "FILES").unwrap().join("\n"));
        for path in ["index/recall.sqlite3", "spool/archive/"] {
            assert!(files.contains(path), "man/{tool}.1: FILES lacks {path}");
        }
    }
    for tool in PLACEHOLDERS {
        let secs = sections(&man_source(tool));
        for required in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"] {
            assert!(
                section(&secs, required).is_some(),
                "man/{tool}.1 has no {required} section"
            );
        }
        let text = plain(&section(&secs, "DESCRIPTION").unwrap().join(" "));
        assert!(
            text.contains("not yet implemented"),
            "man/{tool}.1 should say it is not yet implemented"
        );
    }
}

#[test]
fn exit_status_sections_match_src_exit_rs() {
    let table = exit_table();
    let codes: BTreeSet<i64> = table.iter().map(|(c, _)| *c).collect();
    assert!(codes.contains(&0), "no success code in src/exit.rs");
    for tool in REAL_TOOLS {
        let secs = sections(&man_source(tool));
        let body = section(&secs, "EXIT STATUS")
            .unwrap_or_else(|| panic!("man/{tool}.1 has no EXIT STATUS section"));
        let items = documented_exit_codes(tool, body);
        let listed: BTreeSet<i64> = items.keys().copied().collect();
        assert_eq!(
            listed, codes,
            "man/{tool}.1 EXIT STATUS lists other codes than src/exit.rs"
        );
        for (code, meaning) in &table {
            assert!(
                items[code].contains(meaning.as_str()),
                "man/{tool}.1 EXIT STATUS {code}: should say {meaning:?} (src/exit.rs), says {:?}",
                items[code]
            );
        }
    }
    // The placeholders document only what they do: 0 for --version, 2 otherwise.
    for tool in PLACEHOLDERS {
        let secs = sections(&man_source(tool));
        let items = documented_exit_codes(tool, section(&secs, "EXIT STATUS").unwrap());
        let listed: BTreeSet<i64> = items.keys().copied().collect();
        assert!(
            listed.is_subset(&codes) && listed.contains(&2),
            "man/{tool}.1 EXIT STATUS lists {listed:?}"
        );
        Command::cargo_bin(tool).unwrap().assert().code(2);
    }
}

/// Uppercase shell variables a script reads (`$NAME`, `${NAME…}`), and the highest positional
/// parameter it uses (`$1`, `${2:-}`).
fn script_vars(script: &str) -> (BTreeSet<String>, usize) {
    let chars: Vec<char> = script.chars().collect();
    let mut vars = BTreeSet::new();
    let mut positional = 0;
    for (i, c) in chars.iter().enumerate() {
        if *c != '$' {
            continue;
        }
        let mut j = i + 1;
        if chars.get(j) == Some(&'{') {
            j += 1;
        }
        let name: String = chars[j..]
            .iter()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == '_')
            .collect();
        if let Ok(n) = name.parse::<usize>() {
            positional = positional.max(n);
        } else if name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_') {
            vars.insert(name);
        }
    }
    (vars, positional)
}

#[test]
fn script_pages_have_the_required_sections_and_match_their_scripts() {
    for (page, script) in SCRIPT_PAGES {
        let secs = full_page_sections(page);
        let text = |name: &str| plain(&section(&secs, name).unwrap().join("\n"));
        let file_name = script.rsplit('/').next().unwrap();
        assert!(
            text("SYNOPSIS").contains(file_name),
            "man/{page}.1: SYNOPSIS does not name {file_name}"
        );

        let (vars, positional) = script_vars(&read(script));
        let env = text("ENVIRONMENT");
        let required = ["CSEP_BIN", "CSEP_HOME", "CSEP_REFLECTION_JOB", "PATH"];
        for var in vars.iter().map(String::as_str).chain(required) {
            assert!(mentions(&env, var), "man/{page}.1: ENVIRONMENT lacks {var}");
        }
        // One OPTIONS item per positional parameter the script reads.
        let options = section(&secs, "OPTIONS").unwrap();
        let items = options.iter().filter(|l| l.trim() == ".TP").count();
        assert_eq!(
            items, positional,
            "man/{page}.1: OPTIONS has {items} items, {script} reads {positional} arguments"
        );

        // A hook never fails its host: the only exit status is 0.
        let codes = documented_exit_codes(page, section(&secs, "EXIT STATUS").unwrap());
        assert_eq!(
            codes.keys().copied().collect::<Vec<_>>(),
            vec![0],
            "man/{page}.1: EXIT STATUS should list 0 only"
        );
        let script_src = read(script);
        let exits: BTreeSet<&str> = script_src
            .lines()
            .filter_map(|l| l.trim().strip_prefix("exit "))
            .collect();
        assert_eq!(exits, BTreeSet::from(["0"]), "{script} exits other than 0");

        let files = text("FILES");
        for path in [
            "bin/csep-hook.sh",
            "logs/hook.log",
            "spool/archive/",
            script,
        ] {
            assert!(files.contains(path), "man/{page}.1: FILES lacks {path}");
        }
        let examples = text("EXAMPLES");
        for what in ["hooks.json", "settings.json", file_name] {
            assert!(
                examples.contains(what),
                "man/{page}.1: EXAMPLES lacks {what}"
            );
        }
    }
}

#[test]
fn the_csep_page_covers_every_subcommand_and_the_hook_files() {
    let src = man_source("csep");
    let secs = sections(&src);
    let text = |name: &str| plain(&section(&secs, name).unwrap().join("\n"));
    let synopsis = text("SYNOPSIS");
    let subsections: Vec<String> = section(&secs, "OPTIONS")
        .unwrap()
        .iter()
        .filter(|l| l.starts_with(".SS "))
        .map(|l| plain(l))
        .collect();
    for sub in csep_subcommands() {
        let cmd = format!("csep {sub}");
        assert!(
            mentions(&synopsis, &cmd),
            "man/csep.1: SYNOPSIS lacks {cmd}"
        );
        assert!(
            subsections.iter().any(|t| mentions(t, &cmd)),
            "man/csep.1: OPTIONS has no subsection for {cmd} ({subsections:?})"
        );
    }
    let files = text("FILES");
    for path in [
        "bin/csep-hook.sh",
        "install/manifest.json",
        "install/backup/",
        "logs/hook.log",
        "spool/reflect/",
        "triggers/",
        "memory/MEMORY.md",
        "hooks.json",
        "settings.json",
    ] {
        assert!(files.contains(path), "man/csep.1: FILES lacks {path}");
    }
    let env = text("ENVIRONMENT");
    for var in ["CSEP_REFLECTION_JOB", "CSEP_BIN", "PATH"] {
        assert!(mentions(&env, var), "man/csep.1: ENVIRONMENT lacks {var}");
    }
    let examples = text("EXAMPLES");
    for cmd in [
        "csep setup",
        "csep setup --dry-run",
        "csep uninstall",
        "logs/hook.log",
    ] {
        assert!(examples.contains(cmd), "man/csep.1: EXAMPLES lacks {cmd}");
    }
}

#[test]
fn man_pages_render_without_groff_warnings() {
    if std::process::Command::new("groff")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: groff is not installed (apt-get install groff-base); man page rendering not checked");
        return;
    }
    for tool in all_pages() {
        let page = repo().join(format!("man/{tool}.1"));
        let out = std::process::Command::new("groff")
            .args(["-man", "-ww", "-z"])
            .arg(&page)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.is_empty(),
            "groff -man -ww -z man/{tool}.1:\n{said}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// docs/WIRE.md.

#[derive(Debug)]
struct Field {
    path: String,
    /// Rows that say *Omitted when …* describe fields that may be absent.
    required: bool,
}

#[derive(Debug)]
struct Table {
    line: usize,
    fields: Vec<Field>,
}

/// The `"type"` value a table describes, from the meaning of its `type` row
/// (`` `"session"` ``).
fn type_named(meanings: &HashMap<String, String>) -> Option<String> {
    let meaning = meanings.get("type")?;
    let start = meaning.find("`\"")? + 2;
    let len = meaning[start..].find("\"`")?;
    Some(meaning[start..start + len].to_string())
}

impl Table {
    fn documents(&self, path: &str) -> bool {
        self.fields.iter().any(|f| f.path == path)
    }
    fn has_children(&self, prefix: &str) -> bool {
        self.fields.iter().any(|f| f.path.starts_with(prefix))
    }
}

#[derive(Debug)]
struct Example {
    line: usize,
    raw: String,
    /// The field table of the example's section, if it has one.
    table: Option<usize>,
}

struct Wire {
    tables: Vec<Table>,
    by_type: HashMap<String, usize>,
    examples: Vec<Example>,
}

/// A Markdown table row's cells (`\|` is a `|` inside a cell).
fn cells(row: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = row.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    // The leading and trailing `|` leave an empty cell at each end.
    let inner = out.len().saturating_sub(2);
    out.into_iter()
        .skip(1)
        .take(inner)
        .map(|c| c.trim().to_string())
        .collect()
}

fn parse_wire(md: &str) -> Wire {
    let lines: Vec<&str> = md.lines().collect();
    let mut tables = Vec::new();
    let mut by_type = HashMap::new();
    let mut examples = Vec::new();
    let mut current: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(lang) = line.strip_prefix("```") {
            let start = i;
            let mut raw = String::new();
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                raw.push_str(lines[i]);
                raw.push('\n');
                i += 1;
            }
            assert!(
                i < lines.len(),
                "docs/WIRE.md:{}: unclosed code block",
                start + 1
            );
            if lang.trim() == "json" {
                examples.push(Example {
                    line: start + 1,
                    raw,
                    table: current,
                });
            }
            i += 1;
            continue;
        }
        if line.starts_with('#') {
            current = None;
        }
        if line.starts_with('|') {
            let start = i;
            while i < lines.len() && lines[i].starts_with('|') {
                i += 1;
            }
            let rows = &lines[start..i];
            if cells(rows[0]).first().map(String::as_str) == Some("Field") {
                let mut table = Table {
                    line: start + 1,
                    fields: Vec::new(),
                };
                let mut meanings = HashMap::new();
                for row in &rows[2..] {
                    let c = cells(row);
                    assert!(
                        c.len() == 3,
                        "docs/WIRE.md: row {row:?} should have 3 cells"
                    );
                    // One field, or several that mean the same (`a.x`, `b.x`).
                    let paths: Vec<String> = c[0]
                        .split('`')
                        .skip(1)
                        .step_by(2)
                        .map(str::to_string)
                        .collect();
                    assert!(!paths.is_empty(), "docs/WIRE.md: row {row:?}: no `field`");
                    for path in paths {
                        table.fields.push(Field {
                            path: path.clone(),
                            required: !c[2].contains("Omitted when"),
                        });
                        meanings.insert(path, c[2].clone());
                    }
                }
                if let Some(t) = type_named(&meanings) {
                    assert!(
                        by_type.insert(t.clone(), tables.len()).is_none(),
                        "docs/WIRE.md: two tables for type {t:?}"
                    );
                }
                current = Some(tables.len());
                tables.push(table);
            }
            continue;
        }
        i += 1;
    }
    Wire {
        tables,
        by_type,
        examples,
    }
}

/// Whether a required `path` (`a.b`, `a[].b`) is missing where its parent exists.
fn missing(v: &Value, segments: &[&str]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return false;
    };
    let (key, array) = match first.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    let Some(obj) = v.as_object() else {
        return true;
    };
    match (obj.get(key), rest.is_empty()) {
        (None, true) => true,
        (None, false) | (Some(Value::Null), false) => false,
        (Some(_), true) => false,
        (Some(Value::Array(items)), false) if array => items.iter().any(|x| missing(x, rest)),
        (Some(child @ Value::Object(_)), false) if !array => missing(child, rest),
        (Some(_), false) => true,
    }
}

impl Wire {
    fn typed_table(&self, v: &Value) -> Option<usize> {
        let t = v.get("type")?.as_str()?;
        self.by_type.get(t).copied()
    }

    /// Checks `v` against the union of `tables`: every required field present, every field
    /// present documented. Objects nested inside with a documented `"type"` are checked
    /// against their own table.
    fn check(&self, v: &Value, tables: &[usize], ctx: &str, problems: &mut Vec<String>) {
        let docs: Vec<&Table> = tables.iter().map(|&t| &self.tables[t]).collect();
        for f in docs.iter().flat_map(|t| &t.fields) {
            let segments: Vec<&str> = f.path.split('.').collect();
            if f.required && missing(v, &segments) {
                problems.push(format!("{ctx}: lacks `{}`", f.path));
            }
        }
        self.walk(v, "", &docs, ctx, problems);
    }

    fn walk(
        &self,
        v: &Value,
        prefix: &str,
        docs: &[&Table],
        ctx: &str,
        problems: &mut Vec<String>,
    ) {
        let Some(obj) = v.as_object() else { return };
        let documents = |p: &str| docs.iter().any(|t| t.documents(p));
        let has_children = |p: &str| docs.iter().any(|t| t.has_children(p));
        for (key, val) in obj {
            let path = format!("{prefix}{key}");
            if !documents(&path) && !documents(&format!("{path}[]")) {
                problems.push(format!(
                    "{ctx}: `{path}` is not in the field table(s) at line(s) {:?}",
                    docs.iter().map(|t| t.line).collect::<Vec<_>>()
                ));
                continue;
            }
            match val {
                Value::Object(_) => {
                    if let Some(t) = self.typed_table(val) {
                        self.check(val, &[t], &format!("{ctx} › {path}"), problems);
                    } else if has_children(&format!("{path}.")) {
                        self.walk(val, &format!("{path}."), docs, ctx, problems);
                    }
                }
                Value::Array(items) => {
                    for (n, item) in items.iter().enumerate() {
                        if let Some(t) = self.typed_table(item) {
                            self.check(item, &[t], &format!("{ctx} › {path}[{n}]"), problems);
                        } else if item.is_object() && has_children(&format!("{path}[].")) {
                            self.walk(item, &format!("{path}[]."), docs, ctx, problems);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn wire() -> Wire {
    parse_wire(&read("docs/WIRE.md"))
}

#[test]
fn wire_examples_parse_and_match_their_tables_and_types() {
    let wire = wire();
    let mut problems = Vec::new();
    let mut types_seen = BTreeSet::new();
    let mut untyped_seen = BTreeSet::new();
    let mut recall_answers = 0;
    for ex in &wire.examples {
        let ctx = format!("docs/WIRE.md:{}", ex.line);
        let v: Value = match serde_json::from_str(&ex.raw) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{ctx}: not one JSON value: {e}"));
                continue;
            }
        };
        if !v.is_object() {
            problems.push(format!("{ctx}: not a JSON object"));
            continue;
        }
        let mut tables: Vec<usize> = ex.table.into_iter().collect();
        tables.extend(wire.typed_table(&v).filter(|t| Some(*t) != ex.table));
        if tables.is_empty() {
            problems.push(format!("{ctx}: no field table documents this example"));
            continue;
        }
        wire.check(&v, &tables, &ctx, &mut problems);
        if v.get("query").is_some() && v.get("results").is_some() {
            recall_answers += 1;
        }
        if v.get("tool") == Some(&Value::from("csep hook")) {
            untyped_seen.insert("hook log line");
        }
        if v.get("version").is_some() && v.get("changes").is_some() {
            untyped_seen.insert("install manifest");
            round_trip::<csep_lib::setup::Manifest>(
                &v,
                "csep_lib::setup::Manifest",
                &ctx,
                &mut problems,
            );
        }
        let Some(t) = v.get("type").and_then(Value::as_str) else {
            continue;
        };
        types_seen.insert(t.to_string());
        // "type" first, in every object that has one (the umbrella's answers included).
        if !ex.raw.trim_start()[1..]
            .trim_start()
            .starts_with("\"type\"")
        {
            problems.push(format!("{ctx}: \"type\" is not the first field"));
        }
        match t {
            "session" | "message" | "source" => {
                round_trip::<Record>(&v, "csep_lib::wire::Record", &ctx, &mut problems)
            }
            "trigger_decision" => round_trip::<csep_lib::trigger::Decision>(
                &v,
                "csep_lib::trigger::Decision",
                &ctx,
                &mut problems,
            ),
            "reflect_job" => round_trip::<csep_lib::trigger::Job>(
                &v,
                "csep_lib::trigger::Job",
                &ctx,
                &mut problems,
            ),
            "reflect_base" => round_trip::<csep_lib::verify::Base>(
                &v,
                "csep_lib::verify::Base",
                &ctx,
                &mut problems,
            ),
            "reflect_receipt" => round_trip::<csep_lib::verify::Receipt>(
                &v,
                "csep_lib::verify::Receipt",
                &ctx,
                &mut problems,
            ),
            "journal_entry" => round_trip::<csep_lib::verify::JournalEntry>(
                &v,
                "csep_lib::verify::JournalEntry",
                &ctx,
                &mut problems,
            ),
            "undo_receipt" => round_trip::<csep_lib::verify::UndoReceipt>(
                &v,
                "csep_lib::verify::UndoReceipt",
                &ctx,
                &mut problems,
            ),
            "reflect_result" => round_trip::<csep_lib::reflect::Outcome>(
                &v,
                "csep_lib::reflect::Outcome",
                &ctx,
                &mut problems,
            ),
            "bucket_reflection" => round_trip::<csep_lib::reflect::record::BucketRecord>(
                &v,
                "csep_lib::reflect::record::BucketRecord",
                &ctx,
                &mut problems,
            ),
            "forget_result" => round_trip::<csep_lib::index::forget::ForgetResult>(
                &v,
                "csep_lib::index::forget::ForgetResult",
                &ctx,
                &mut problems,
            ),
            "forgotten_session" => round_trip::<csep_lib::index::forget::Tombstone>(
                &v,
                "csep_lib::index::forget::Tombstone",
                &ctx,
                &mut problems,
            ),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for t in [
        "session",
        "message",
        "source",
        "index_summary",
        "drain_summary",
        "result",
        "session_archive",
        "archive_request",
        "trigger_decision",
        "reflect_job",
        "setup_summary",
        "uninstall_summary",
        "reflect_base",
        "reflect_receipt",
        "journal_entry",
        "undo_receipt",
        "reflect_result",
        "session_reflect_status",
        "csep_status",
        "forget_result",
        "forgotten_session",
        "forget_list",
        "rebuild_summary",
        "config_path",
        "config_show",
        "config_raw",
        "config_validate",
        "config_init",
        "migrate_worktrees",
    ] {
        assert!(
            types_seen.contains(t),
            "docs/WIRE.md has no example of {t:?}"
        );
        assert!(
            wire.by_type.contains_key(t),
            "docs/WIRE.md has no field table for {t:?}"
        );
    }
    assert!(
        recall_answers > 0,
        "docs/WIRE.md has no recall answer example"
    );
    for what in ["hook log line", "install manifest"] {
        assert!(
            untyped_seen.contains(what),
            "docs/WIRE.md has no example of the {what}"
        );
    }
}

/// Reads `v` as the code's type `T` and writes it back: the example must come back unchanged
/// (every field known to the code, none missing that the code always writes).
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    v: &Value,
    what: &str,
    ctx: &str,
    problems: &mut Vec<String>,
) {
    match serde_json::from_value::<T>(v.clone()) {
        Ok(x) => {
            let back = serde_json::to_value(&x).unwrap();
            if back != *v {
                problems.push(format!(
                    "{ctx}: {what} writes this differently:\n{}",
                    serde_json::to_string_pretty(&back).unwrap()
                ));
            }
        }
        Err(e) => problems.push(format!("{ctx}: not a {what}: {e}")),
    }
}

/// csep's environment for the live checks: a fresh state dir and home, and the hosts' dirs
/// found from that home (neither `CODEX_HOME` nor `CLAUDE_CONFIG_DIR` set).
fn live() -> Env {
    Env::builder().hosts_from_home().build()
}

/// A real Codex rollout, under [`common::transcripts`].
const FIXTURE: &str = "codex/sessions/2025/11/17/rollout-2025-11-17T15-30-28-019a93b9-f380-7600-98ff-940e6b99603c.jsonl";

impl Env {
    fn json_lines(&self, bin: &str, args: &[&str], stdin: Option<Vec<u8>>) -> Vec<Value> {
        let mut c = self.cmd(bin);
        c.args(args);
        if let Some(input) = stdin {
            c.write_stdin(input);
        }
        let out = c.output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{bin}: {l}: {e}")))
            .collect()
    }
}

#[test]
fn what_the_tools_print_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let mut problems = Vec::new();
    let check = |what: &str, v: &Value, problems: &mut Vec<String>| {
        let t = wire
            .typed_table(v)
            .unwrap_or_else(|| panic!("{what}: printed an object of no documented type: {v}"));
        wire.check(v, &[t], what, problems);
    };

    let records = live.json_lines("csep-archive", &[fixture], None);
    assert!(records.len() > 2);
    for r in &records {
        check("csep-archive output", r, &mut problems);
    }
    let piped: Vec<u8> = records
        .iter()
        .flat_map(|r| format!("{r}\n").into_bytes())
        .collect();
    let summary = live.json_lines("csep-index", &[], Some(piped));
    check("csep-index (stdin) summary", &summary[0], &mut problems);
    let summary = live.json_lines(
        "csep-index",
        &["--file", fixture, "/nonexistent/x.jsonl"],
        None,
    );
    check("csep-index --file summary", &summary[0], &mut problems);
    assert!(summary[0].get("errors").is_some());

    let spool = live.state().join("spool/archive/new");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        spool.join("1.json"),
        serde_json::json!({"payload": {"transcript_path": fixture}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        spool.join("2.json"),
        serde_json::json!({"transcript_path": "/nonexistent/x.jsonl"}).to_string(),
    )
    .unwrap();
    let drain = live.json_lines("csep-index", &["--spool"], None);
    check("csep-index --spool summary", &drain[0], &mut problems);
    assert!(drain[0].get("errors").is_some());

    let query = "lmstudio instead of|apiEndpoint";
    let recall_table = wire
        .examples
        .iter()
        .find(|ex| ex.raw.contains("\"query\"") && ex.raw.contains("\"results\""))
        .and_then(|ex| ex.table)
        .expect("the recall answer's field table");
    // The global scope, the repo scope (the fixture's cwd, which does not exist here and so
    // stands for itself) and --recent: between them every optional field appears.
    for args in [
        vec!["--global"],
        vec!["--cwd", "/home/user/projects/temp/chatbot-ui"],
        vec!["--global", "--recent"],
    ] {
        let out = live
            .cmd("csep-recall")
            .args(&args)
            .args(["--format", "json", query])
            .output()
            .unwrap();
        let answer: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("csep-recall {args:?} --format json: {e}"));
        assert_eq!(answer["status"], "matched", "csep-recall {args:?}");
        let what = format!("csep-recall {args:?} --format json");
        wire.check(&answer, &[recall_table], &what, &mut problems);
    }
    let lines = live.json_lines(
        "csep-recall",
        &["--global", "--format", "jsonl", query],
        None,
    );
    assert!(!lines.is_empty());
    for l in &lines {
        check("csep-recall --format jsonl", l, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_the_umbrella_prints_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let claude_root = fixtures.join("claude/projects");
    let codex_root = fixtures.join("codex/sessions");
    let umbrella_table = wire
        .examples
        .iter()
        .find(|ex| ex.raw.contains("\"command\""))
        .and_then(|ex| ex.table)
        .expect("the umbrella summaries' field table");
    let summary_table = wire.by_type["index_summary"];
    let mut problems = Vec::new();
    // One line, one object, "type" first on the wire (not only after parsing).
    let answer = |args: &[&str], problems: &mut Vec<String>| -> Value {
        let out = live.cmd("csep").args(args).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "csep {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        if !text.starts_with("{\"type\":") {
            problems.push(format!(
                "csep {args:?}: \"type\" is not the first field: {text}"
            ));
        }
        serde_json::from_str(text.trim_end())
            .unwrap_or_else(|e| panic!("csep {args:?}: {e}: {text}"))
    };

    let claude_root = claude_root.to_str().unwrap();
    let codex_root = codex_root.to_str().unwrap();
    let backfills: [&[&str]; 3] = [
        &[
            "recall",
            "sync-claude",
            "--all-history",
            "--format",
            "json",
            "--root",
            claude_root,
        ],
        &[
            "recall",
            "--bootstrap",
            "--all-history",
            "--format",
            "jsonl",
            "--root",
            codex_root,
        ],
        &["session-ingest", "--backfill", "--root", codex_root],
    ];
    for args in backfills {
        let v = answer(args, &mut problems);
        assert_eq!(v["type"], "index_summary", "csep {args:?}");
        wire.check(
            &v,
            &[summary_table, umbrella_table],
            &format!("csep {args:?}"),
            &mut problems,
        );
    }

    let session_archive = wire.by_type["session_archive"];
    let payload = live.root().join("payload.json");
    std::fs::write(&payload, r#"{"session_id": "x"}"#).unwrap();
    let p = payload.to_str().unwrap();
    let archives: [&[&str]; 3] = [
        &["session-archive", "--transcript-path", fixture],
        &[
            "session-archive",
            "--transcript-path",
            "/nonexistent/x.jsonl",
        ],
        &[
            "session-archive",
            "--from-hook-payload",
            p,
            "--cleanup-payload",
        ],
    ];
    for args in archives {
        let v = answer(args, &mut problems);
        assert_eq!(v["type"], "session_archive", "csep {args:?}");
        wire.check(
            &v,
            &[session_archive],
            &format!("csep {args:?}"),
            &mut problems,
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The session id of [`FIXTURE`].
const FIXTURE_ID: &str = "019a93b9-f380-7600-98ff-940e6b99603c";

#[test]
fn what_forget_prints_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let fixture = fixtures.join(FIXTURE);
    let codex_root = fixtures.join("codex/sessions");
    let mut problems = Vec::new();
    let mut values = Vec::new();
    let state = live.state();
    let summary = live.json_lines(
        "csep-index",
        &[
            "--backfill",
            "codex",
            "--all-history",
            "--root",
            codex_root.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(summary[0]["forgotten_sessions"], 0);
    // A reflection run that quoted the session.
    let run = state.join("runs/20261124T130626Z-43a2f7f9");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("job.json"),
        serde_json::json!({"type": "reflect_job", "job_id": "20261124T130626Z-43a2f7f9", "session_id": FIXTURE_ID}).to_string(),
    )
    .unwrap();
    let gone = live.root().join("rollout-gone.jsonl");
    let forgets: [&[&str]; 4] = [
        &["recall", "forget", FIXTURE_ID],
        &["recall", "forget", "019c9d12-5b7e-7a41-8c33-0d2e6f1a9b77"],
        &["recall", "forget", "--source", gone.to_str().unwrap()],
        &["recall", "forget", "--list"],
    ];
    for args in forgets {
        let mut c = live.cmd("csep");
        c.args(args);
        values.push(printed_record(
            &wire,
            c,
            &format!("csep {args:?}"),
            &mut problems,
        ));
    }
    assert_eq!(values[0]["was_indexed"], true);
    assert_eq!(values[0]["other_copies"][0]["kind"], "reflection_run");
    for args in [&["--forget", "claude:0000"][..], &["--list-forgotten"][..]] {
        let mut c = live.cmd("csep-index");
        c.args(args);
        values.push(printed_record(
            &wire,
            c,
            &format!("csep-index {args:?}"),
            &mut problems,
        ));
    }
    // Every field of the three records is written by some call above; the tombstones are
    // checked inside their answers.
    let tombstones: Vec<Value> = values
        .iter()
        .flat_map(|v| v["tombstones"].as_array().cloned().unwrap_or_default())
        .collect();
    all_fields_seen(
        &wire,
        &["forget_result", "forget_list"],
        &values,
        &mut problems,
    );
    all_fields_seen(&wire, &["forgotten_session"], &tombstones, &mut problems);

    // What the ingest paths print once they meet the forgotten session.
    let fixture = fixture.to_str().unwrap();
    let s = live.json_lines("csep-index", &["--file", fixture], None);
    assert_eq!(s[0]["forgotten_sessions"], 1);
    wire.check(
        &s[0],
        &[wire.by_type["index_summary"]],
        "csep-index --file",
        &mut problems,
    );
    let spool = state.join("spool/archive/new");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        spool.join("1.json"),
        serde_json::json!({"payload": {"transcript_path": fixture}}).to_string(),
    )
    .unwrap();
    let d = live.json_lines("csep-index", &["--spool"], None);
    assert_eq!(d[0]["forgotten_sessions"], 1);
    wire.check(
        &d[0],
        &[wire.by_type["drain_summary"]],
        "csep-index --spool",
        &mut problems,
    );
    let mut c = live.cmd("csep");
    c.args(["session-archive", "--transcript-path", fixture]);
    let a = printed_record(&wire, c, "csep session-archive (forgotten)", &mut problems);
    assert_eq!(a["reason"], "forgotten");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_rebuild_prints_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let codex_root = fixtures.join("codex/sessions");
    let mut problems = Vec::new();
    live.json_lines(
        "csep-index",
        &[
            "--backfill",
            "codex",
            "--all-history",
            "--root",
            codex_root.to_str().unwrap(),
        ],
        None,
    );
    live.json_lines("csep", &["recall", "forget", FIXTURE_ID], None);
    let spool = live.state().join("spool/archive/new");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        spool.join("1.json"),
        serde_json::json!({"payload": {"transcript_path": fixtures.join(FIXTURE)}}).to_string(),
    )
    .unwrap();
    let mut c = live.cmd("csep");
    c.args(["recall", "rebuild"]);
    let healthy = printed_record(&wire, c, "csep recall rebuild (healthy)", &mut problems);
    assert_eq!(healthy["forgotten"], 1, "{healthy}");
    assert!(
        healthy["roots"][2]["forgotten_sessions"].as_u64() > Some(0),
        "{healthy}"
    );
    // A damaged one, and none at all.
    std::fs::write(live.state().join("index/recall.sqlite3"), b"not a database").unwrap();
    let mut c = live.cmd("csep-index");
    c.arg("--rebuild");
    let damaged = printed_record(&wire, c, "csep-index --rebuild (damaged)", &mut problems);
    assert_eq!(damaged["was_damaged"], true, "{damaged}");
    all_fields_seen(
        &wire,
        &["rebuild_summary"],
        &[healthy, damaged],
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Runs `c`, which must succeed and print one JSON object on one line, `"type"` first; checks
/// the object against its field table and returns it.
fn printed_record(wire: &Wire, mut c: Command, what: &str, problems: &mut Vec<String>) -> Value {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    if !text.starts_with("{\"type\":") || text.trim_end().contains('\n') {
        problems.push(format!("{what}: not one line with \"type\" first: {text}"));
    }
    let v: Value =
        serde_json::from_str(text.trim_end()).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    match wire.typed_table(&v) {
        Some(t) => wire.check(&v, &[t], what, problems),
        None => problems.push(format!("{what}: an object of no documented type: {text}")),
    }
    v
}

/// The field table of the (untyped) example whose text contains `needle`.
fn example_table(wire: &Wire, needle: &str) -> usize {
    wire.examples
        .iter()
        .find(|ex| ex.raw.contains(needle))
        .and_then(|ex| ex.table)
        .unwrap_or_else(|| panic!("docs/WIRE.md: no example with a field table contains {needle}"))
}

/// Fails for every field of each of `types`' tables that none of `values` of that type has: a
/// documented field the tools no longer write. (The other way round, every field they write
/// must be documented, is `Wire::check`'s.)
fn all_fields_seen(wire: &Wire, types: &[&str], values: &[Value], problems: &mut Vec<String>) {
    for t in types {
        let of_type: Vec<Value> = values.iter().filter(|v| v["type"] == *t).cloned().collect();
        assert!(!of_type.is_empty(), "no live {t} to compare");
        all_fields_seen_in(wire, wire.by_type[*t], &of_type, problems);
    }
}

fn all_fields_seen_in(wire: &Wire, table: usize, values: &[Value], problems: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for v in values {
        key_paths(v, "", &mut seen);
    }
    let t = &wire.tables[table];
    for f in &t.fields {
        if !seen.contains(&f.path) {
            problems.push(format!(
                "docs/WIRE.md:{}: `{}` is documented, but none of the live output has it",
                t.line, f.path
            ));
        }
    }
}

/// Every line of a JSON-lines log, each checked against `table`.
fn checked_log_lines(
    wire: &Wire,
    table: usize,
    path: &std::path::Path,
    problems: &mut Vec<String>,
) -> Vec<Value> {
    let log = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    log.lines()
        .enumerate()
        .map(|(n, line)| {
            let v: Value = serde_json::from_str(line).unwrap();
            wire.check(&v, &[table], &format!("logs/{name}:{}", n + 1), problems);
            v
        })
        .collect()
}

/// A `codex exec` rollout of one prompt at `path`.
fn small_rollout(path: &std::path::Path, id: &str, prompt: &str) {
    write_lines(
        path,
        &codex_exec_rollout(id, "/nonexistent/ledger", prompt, "Done."),
    );
}

#[test]
fn what_the_trigger_prints_and_queues_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let tmp = live.root();
    let state = live.state();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let mut problems = Vec::new();
    let index = |path: &str, problems: &mut Vec<String>| -> Value {
        let mut c = live.cmd("csep-index");
        c.args(["--file", path]);
        printed_record(&wire, c, &format!("csep-index --file {path}"), problems)
    };
    index(fixture, &mut problems);

    // A session csep's reflection started: archived with `excluded`, remembered, not indexed.
    let reflection_id = "019ab5c2-7d41-7e30-9a1f-3c2e8d90b417";
    let reflection = tmp.join(format!(
        "sessions/rollout-2026-11-24T10-15-02-{reflection_id}.jsonl"
    ));
    small_rollout(
        &reflection,
        reflection_id,
        "csep-reflection-job: 20261124T101500Z-5e0c2a91\nReview the session below and propose memory for this repository.",
    );
    let reflection = reflection.to_str().unwrap();
    let records = live.json_lines("csep-archive", &[reflection], None);
    for r in &records {
        let t = wire.typed_table(r).expect("a documented record type");
        wire.check(
            r,
            &[t],
            "csep-archive (a reflection session)",
            &mut problems,
        );
    }
    let source = records.last().unwrap();
    assert_eq!(source["excluded"], "reflection_session", "{source}");
    let summary = index(reflection, &mut problems);
    assert_eq!(summary["excluded_sessions"], 1, "{summary}");

    // A session whose human typed high-signal words.
    let keyword_id = "019ab5c2-7d41-7e30-9a1f-3c2e8d90b418";
    let keywords = tmp.join(format!(
        "sessions/rollout-2026-11-24T10-15-02-{keyword_id}.jsonl"
    ));
    small_rollout(
        &keywords,
        keyword_id,
        "From now on, remember to run the release workflow before tagging.",
    );
    let keywords = keywords.to_str().unwrap();
    index(keywords, &mut problems);

    let printed = std::cell::RefCell::new(Vec::new());
    let trigger = |payload: &Value, args: &[&str], problems: &mut Vec<String>| -> Value {
        let mut c = live.cmd("csep-trigger");
        c.args(args).write_stdin(payload.to_string());
        let what = format!("csep-trigger {args:?} < {payload}");
        let d = printed_record(&wire, c, &what, problems);
        round_trip::<csep_lib::trigger::Decision>(
            &d,
            "csep_lib::trigger::Decision",
            &what,
            problems,
        );
        printed.borrow_mut().push(d.clone());
        d
    };
    let stop = serde_json::json!({"session_id": FIXTURE_ID, "transcript_path": fixture, "cwd": "/home/user/projects/temp/chatbot-ui", "hook_event_name": "Stop"});
    let d = trigger(&stop, &["--dry-run"], &mut problems);
    assert_eq!(
        (&d["decision"], &d["dry_run"]),
        (&"queued".into(), &true.into()),
        "{d}"
    );
    let d = trigger(&stop, &[], &mut problems);
    assert_eq!(d["decision"], "queued", "{d}");
    let job_id = d["job_id"]
        .as_str()
        .expect("a queued decision names its job");

    // The job file: pretty-printed, "type" first.
    let job_path = state.join(format!("spool/reflect/new/{job_id}.json"));
    let raw = std::fs::read_to_string(&job_path)
        .unwrap_or_else(|e| panic!("{}: {e}", job_path.display()));
    let what = job_path.display().to_string();
    if !raw.trim_start()[1..].trim_start().starts_with("\"type\"") {
        problems.push(format!("{what}: \"type\" is not the first field"));
    }
    let job: Value = serde_json::from_str(&raw).unwrap();
    match wire.typed_table(&job) {
        Some(t) => wire.check(&job, &[t], &what, &mut problems),
        None => problems.push(format!("{what}: a job of no documented type")),
    }
    round_trip::<csep_lib::trigger::Job>(&job, "csep_lib::trigger::Job", &what, &mut problems);
    printed.borrow_mut().push(job);

    let d = trigger(&stop, &[], &mut problems);
    assert_eq!(
        (&d["decision"], &d["active_job_id"]),
        (&"deferred".into(), &job_id.into()),
        "{d}"
    );
    // A reservation past its time is released, and the decision says so.
    std::fs::write(
        state.join("config.toml"),
        "[session_reflection.trigger]\nactive_job_stale_seconds = 1\n",
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let d = trigger(&stop, &[], &mut problems);
    assert_eq!(d["released_job_id"], job_id, "{d}");
    assert!(d.get("notes").is_some(), "{d}");
    std::fs::remove_file(state.join("config.toml")).unwrap();

    let stop_of = |id: &str, path: &str| serde_json::json!({"session_id": id, "transcript_path": path, "hook_event_name": "Stop"});
    let d = trigger(&stop_of(keyword_id, keywords), &[], &mut problems);
    assert!(d.get("matched_keywords").is_some(), "{d}");
    // As if its job had been rejected just now, having seen every message: it backs off.
    let state_file = state.join("triggers").join(keyword_id).join("state.json");
    let mut s: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    s["active_job_id"] = Value::Null;
    s["backoff_until"] = "2999-01-01T00:00:00.000Z".into();
    s["backoff_through_message_id"] = i64::MAX.into();
    std::fs::write(&state_file, s.to_string()).unwrap();
    let d = trigger(&stop_of(keyword_id, keywords), &[], &mut problems);
    assert_eq!(
        (&d["decision"], &d["backoff_until"]),
        (&"deferred".into(), &"2999-01-01T00:00:00.000Z".into()),
        "{d}"
    );
    let d = trigger(&stop_of(reflection_id, reflection), &[], &mut problems);
    assert_eq!(
        (&d["decision"], &d["reasons"][0]),
        (&"skipped".into(), &"reflection_session".into()),
        "{d}"
    );

    // The decision log holds the same records.
    let log = state
        .join("triggers")
        .join(FIXTURE_ID)
        .join("decisions.jsonl");
    let log = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(log.lines().count() >= 3);
    for (n, line) in log.lines().enumerate() {
        let what = format!("decisions.jsonl:{}", n + 1);
        if !line.starts_with("{\"type\":") {
            problems.push(format!("{what}: \"type\" is not the first field"));
        }
        let v: Value = serde_json::from_str(line).unwrap();
        let t = wire.typed_table(&v).expect("a documented record type");
        wire.check(&v, &[t], &what, &mut problems);
    }
    all_fields_seen(
        &wire,
        &["trigger_decision", "reflect_job"],
        &printed.borrow(),
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_the_hooks_queue_and_log_now_matches_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let state = live.state();
    let queue = live.archive_queue();
    let fixture = fixtures.join(FIXTURE);
    let fixture = fixture.to_str().unwrap();
    let mut problems = Vec::new();
    // Holding the drainer's lock keeps the drainer each hook starts away from the queue.
    let lock = live.lock_archive_queue();
    let hook = |args: &[&str], stdin: String| -> String {
        let out = live
            .cmd("csep")
            .arg("hook")
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "csep hook {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let said = "the tests pass; the key was sk-proj-Zx81QmV0aLpW3nR7tY5uB2cD4eF6gH8j";
    let stop = serde_json::json!({"session_id": FIXTURE_ID, "turn_id": "t-1", "transcript_path": fixture, "cwd": "/home/user/projects/temp/chatbot-ui", "hook_event_name": "Stop", "model": "gpt-5.1-codex", "stop_hook_active": false, "permission_mode": "default", "agent_id": "a1b2c3", "agent_type": "explorer", "last_assistant_message": said});
    assert_eq!(hook(&["codex"], stop.to_string()), "{\"continue\":true}\n");
    // No session id: queued all the same; the drainer's trigger then fails, and logs it.
    let end = serde_json::json!({"transcript_path": fixture, "hook_event_name": "SessionEnd", "source": "exec", "reason": "other"});
    assert_eq!(hook(&["codex"], end.to_string()), "");
    assert_eq!(hook(&["claude", "Stop"], "not json".into()), "");
    hook(&["codex", "SessionStart"], "{}".into());
    // A cwd that fails its check is dropped, and the log says so.
    hook(
        &["codex", "SessionStart"],
        serde_json::json!({"cwd": "/a\nb", "hook_event_name": "SessionStart"}).to_string(),
    );

    let mut queued: Vec<PathBuf> = std::fs::read_dir(queue.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    queued.sort();
    assert_eq!(queued.len(), 2, "{queued:?}");
    let mut requests = Vec::new();
    for p in &queued {
        let what = p.display().to_string();
        let raw = std::fs::read_to_string(p).unwrap();
        if !raw.starts_with("{\"type\":") || raw.trim_end().contains('\n') {
            problems.push(format!("{what}: not one line with \"type\" first: {raw}"));
        }
        let v: Value = serde_json::from_str(&raw).unwrap();
        match wire.typed_table(&v) {
            Some(t) => wire.check(&v, &[t], &what, &mut problems),
            None => problems.push(format!("{what}: a request of no documented type: {raw}")),
        }
        requests.push(v);
        assert!(
            !raw.contains("sk-proj") && !raw.contains("permission_mode"),
            "{raw}"
        );
    }

    drop(lock);
    live.cmd("csep").arg("drain").assert().success();
    live.wait_drained();
    // A fault keeps a payload queued, and the drainer logs it (`event` `drain`): here a
    // damaged index, as a writer that found it damaged marks it.
    std::fs::write(
        state.join("index/recall.sqlite3.damaged"),
        "quick_check: a test fault\n",
    )
    .unwrap();
    let lock = live.lock_archive_queue();
    hook(&["codex"], stop.to_string());
    drop(lock);
    live.cmd("csep")
        .args(["drain", "--from-hook"])
        .assert()
        .success();
    // The drainer the hook started may have taken the queue instead: wait for its line.
    let log_path = state.join("logs/hook.log");
    for _ in 0..400 {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("\"event\":\"drain\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let log_table = example_table(&wire, "\"tool\": \"csep hook\"");
    let log = std::fs::read_to_string(state.join("logs/hook.log")).unwrap();
    let lines = checked_log_lines(
        &wire,
        log_table,
        &state.join("logs/hook.log"),
        &mut problems,
    );
    let events: BTreeSet<String> = lines
        .iter()
        .map(|v| v["event"].as_str().unwrap_or_default().to_string())
        .collect();
    all_fields_seen(&wire, &["archive_request"], &requests, &mut problems);
    all_fields_seen_in(&wire, log_table, &lines, &mut problems);
    for event in ["SessionStart", "Stop", "SessionEnd", "trigger"] {
        assert!(
            events.contains(event),
            "no {event} line in the hook log:\n{log}"
        );
    }
    assert!(
        log.contains("\"payload_problem\":\"payload is not JSON"),
        "{log}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn what_setup_and_uninstall_print_now_match_the_wire_tables() {
    let Some(fixtures) = common::transcripts() else {
        return;
    };
    let wire = wire();
    let live = live();
    let tmp = live.root();
    let home = tmp.join("home");
    copy_dir(
        &fixtures.join("codex/sessions"),
        &home.join(".codex/sessions"),
    );
    copy_dir(
        &fixtures.join("claude/projects"),
        &home.join(".claude/projects"),
    );
    let settings = home.join(".claude/settings.json");
    std::fs::write(&settings, r#"{"model": "opus"}"#).unwrap();
    // No codex on PATH: setup installs the hooks and leaves their trust to the user.
    let no_codex = tmp.join("empty-bin");
    std::fs::create_dir_all(&no_codex).unwrap();
    let mut problems = Vec::new();
    let printed = std::cell::RefCell::new(Vec::new());
    let csep = |args: &[&str], problems: &mut Vec<String>| -> Value {
        let mut c = live.cmd("csep");
        c.env("PATH", &no_codex).args(args);
        let v = printed_record(&wire, c, &format!("csep {args:?}"), problems);
        printed.borrow_mut().push(v.clone());
        v
    };

    let s = csep(&["setup", "--dry-run"], &mut problems);
    assert_eq!(s["dry_run"], true, "{s}");
    assert!(s["plan"].as_array().is_some_and(|p| p.len() == 4), "{s}");
    let s = csep(&["setup"], &mut problems);
    assert_eq!(s["codex"]["trust"], "manual", "{s}");
    assert!(s["claude"].is_object(), "{s}");
    assert!(
        s["backfill"]["codex"].is_object() && s["backfill"]["claude"].is_object(),
        "{s}"
    );

    let manifest = tmp.join("state/install/manifest.json");
    let m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let what = manifest.display().to_string();
    let manifest_table = example_table(&wire, "\"version\": ");
    wire.check(&m, &[manifest_table], &what, &mut problems);
    all_fields_seen_in(
        &wire,
        manifest_table,
        std::slice::from_ref(&m),
        &mut problems,
    );
    round_trip::<csep_lib::setup::Manifest>(&m, "csep_lib::setup::Manifest", &what, &mut problems);

    let s = csep(&["setup", "--no-backfill", "--no-claude"], &mut problems);
    assert_eq!(
        (&s["claude"], &s["backfill"]),
        (&Value::Null, &serde_json::json!({})),
        "{s}"
    );
    let s = csep(
        &["setup", "--dry-run", "--no-codex", "--no-claude"],
        &mut problems,
    );
    assert_eq!(s["codex_trust"], Value::Null, "{s}");

    // A settings.json the user changed since setup is cleaned, not restored.
    std::fs::write(
        &settings,
        std::fs::read_to_string(&settings)
            .unwrap()
            .replacen('{', "{\"theme\": \"dark\",", 1),
    )
    .unwrap();
    let u = csep(&["uninstall"], &mut problems);
    assert_eq!(u["status"], "uninstalled", "{u}");
    assert!(
        u["changed_since_setup"]
            .as_array()
            .is_some_and(|c| c.len() == 1),
        "{u}"
    );
    let u = csep(&["uninstall"], &mut problems);
    assert_eq!(u["status"], "nothing_to_uninstall", "{u}");
    all_fields_seen(
        &wire,
        &["setup_summary", "uninstall_summary"],
        &printed.borrow(),
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// docs/HOOKS.md.

/// A Markdown file's fenced code blocks: (language, body, line of the opening fence).
fn code_blocks(md: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for (n, line) in md.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (fence, current.take()) {
            (Some(lang), None) => current = Some((lang.trim().to_string(), String::new(), n + 1)),
            (Some(_), Some(block)) => out.push(block),
            (None, Some((lang, mut body, start))) => {
                body.push_str(line);
                body.push('\n');
                current = Some((lang, body, start));
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "unclosed code block");
    out
}

/// The commands a Markdown file shows: every line of its `sh` blocks (continuation lines
/// joined), and every inline code span outside the blocks, each with its line.
fn shown_commands(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (lang, body, start) in code_blocks(md) {
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
    let mut in_block = false;
    for (n, line) in md.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 {
                out.push((n + 1, span.to_string()));
            }
        }
    }
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
    for (line, command) in shown_commands(&md) {
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

/// The keys of an object, and of the objects in its arrays, as `a`, `a.b`, `a[].c` paths.
/// The inside of an `index_summary` is left out: docs/WIRE.md documents it, and the tests
/// above check it.
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o)
            if !prefix.is_empty() && o.get("type") == Some(&"index_summary".into()) => {}
        Value::Object(o) => {
            for (k, x) in o {
                let path = format!("{prefix}{k}");
                out.insert(path.clone());
                key_paths(x, &format!("{path}."), out);
            }
        }
        Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{}[].", prefix.trim_end_matches('.')), out);
            }
        }
        _ => {}
    }
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
    for (n, (_, body, line)) in code_blocks(&md)
        .into_iter()
        .filter(|(lang, _, _)| lang == "json")
        .enumerate()
    {
        let ctx = format!("docs/HOOKS.md:{line}");
        let doc: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{ctx}: not JSON: {e}"));
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
fn the_architecture_page_has_its_parts_and_names_every_lock_the_code_takes() {
    let arch = read("docs/ARCHITECTURE.md");
    for heading in [
        "## Data flow",
        "## The spool protocol",
        "## Locks and their order",
        "## Crash recovery",
    ] {
        assert!(
            arch.contains(heading),
            "docs/ARCHITECTURE.md lacks {heading:?}"
        );
    }
    // Every lock file name the code opens appears in the lock table.
    let table: String = arch
        .split("## Locks and their order")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap()
        .to_string();
    let mut names = BTreeSet::new();
    for dir in ["lib/src", "src"] {
        for entry in walkdir(&repo().join(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for piece in text.split('"').skip(1).step_by(2) {
                if piece.ends_with(".lock") && !piece.contains(' ') {
                    names.insert(piece.to_string());
                }
            }
        }
    }
    assert!(
        names.contains("trigger.lock") && names.contains(".lock"),
        "{names:?}"
    );
    for name in &names {
        assert!(
            table.contains(name.as_str()),
            "the code takes a lock on {name:?}, which docs/ARCHITECTURE.md's lock table does not name"
        );
    }
}

/// Every `.rs` file below `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// Every reason csep-verify can give is explained in docs/SAFETY.md and named in
/// csep-verify(1), so a receipt's reason can always be looked up.
#[test]
fn every_verify_reason_is_documented() {
    let safety = read("docs/SAFETY.md");
    let man = read("man/csep-verify.1");
    for r in csep_lib::verify::Reason::ALL {
        let name = r.as_str();
        assert!(
            safety.contains(&format!("`{name}`")),
            "docs/SAFETY.md does not explain `{name}`"
        );
        assert!(man.contains(name), "man/csep-verify.1 does not name {name}");
    }
}

/// docs/SAFETY.md's threat model keeps its three parts.
#[test]
fn safety_has_a_threat_model() {
    let safety = read("docs/SAFETY.md");
    for heading in [
        "## Threat model",
        "### Who can read what",
        "### Text from transcripts is data",
        "### What a fault does",
    ] {
        assert!(safety.contains(&format!("\n{heading}\n")), "{heading}");
    }
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
