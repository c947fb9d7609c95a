//! The documentation checked against the code: the man pages in `man/` against each binary's
//! `--help` and the exit-code table in `src/exit.rs` (and the hook script's page against the
//! script), `docs/WIRE.md` against the wire types and against what the tools really print,
//! `docs/HOOKS.md` against the real commands and flags and against what `csep setup` really
//! writes, and `docs/ARCHITECTURE.md` and `docs/SAFETY.md` against the code. Every check reads
//! the documents through [`read`]; this file holds what several of them share (the tool lists,
//! the `--help` texts, flag words).
//!
//! Needs `groff` (Debian/Ubuntu package `groff-base`) for the rendering check; without it that
//! one check is skipped with a note.

mod hooks_md;
mod live_hooks;
mod live_human;
mod live_index;
mod live_mcp;
mod live_more;
mod man;
mod pages;
mod read;
mod wire;

use assert_cmd::Command;
use std::collections::BTreeSet;
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

/// The subcommands `csep --help` lists, `help` left out.
fn csep_subcommands() -> Vec<String> {
    listed_commands(&stdout_of("csep", &["--help"]))
}

/// For each page, the `--help` texts whose flags it must document: a small tool's own help;
/// for `csep`, its help and every subcommand's (found in `csep --help`, so a new subcommand
/// cannot be missed).
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

/// Every `.rs` file in this directory is one of the modules above (the binary's guard in
/// `main.rs` sees only this directory's `mod.rs`).
#[test]
fn every_docs_file_is_in_the_module_list() {
    let dir = repo().join("tests/csep/docs");
    let this = read("tests/csep/docs/mod.rs");
    let listed: BTreeSet<&str> = this
        .lines()
        .filter_map(|l| l.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')))
        .collect();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(m) = name.strip_suffix(".rs").filter(|m| *m != "mod") {
            if !listed.contains(m) {
                missing.push(name);
            }
        }
    }
    assert!(listed.len() >= 8, "{listed:?}");
    assert!(
        missing.is_empty(),
        "not in tests/csep/docs/mod.rs: {missing:?}"
    );
}
