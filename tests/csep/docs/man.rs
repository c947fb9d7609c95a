//! The man pages in `man/` checked against each binary's `--help`, the exit-code table in
//! `src/exit.rs`, the binaries in `src/bin/`, and (for a script's page) the script it documents.

use super::read::{roff, Page, Section};
use super::*;
use std::collections::{BTreeMap, HashMap};

/// A page of `man/`, read.
fn page(tool: &str) -> Page {
    roff(&man_source(tool))
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
fn documented_exit_codes(page: &str, section: &Section) -> BTreeMap<i64, String> {
    let mut items = BTreeMap::new();
    for item in section.items() {
        let code: i64 = item.tag.parse().unwrap_or_else(|_| {
            panic!(
                "man/{page}.1 EXIT STATUS: item tag {:?} is not an exit code",
                item.tag
            )
        });
        assert!(
            items.insert(code, item.text).is_none(),
            "man/{page}.1 lists exit code {code} twice"
        );
    }
    items
}

#[test]
fn every_long_flag_in_help_is_in_the_man_page() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for (page, label, help) in helps_per_page() {
        let text = self::page(page).text();
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
        for (n, line) in page(tool).plain_lines() {
            for flag in long_flags(&line) {
                if !known.contains(&flag) && !NOT_FLAGS.contains(&flag.as_str()) {
                    unknown.push(format!("man/{tool}.1:{n}: {flag} is in no --help"));
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
        "tests/csep/docs/mod.rs's tool lists are out of date"
    );
}

/// The sections of a full man page (a tool's or a script's), checked: every required
/// section there and not empty, a `.TH` line and a NAME line that name the page.
fn full_page_sections(page: &str) -> Page {
    let secs = self::page(page);
    let names = secs.section_names();
    for required in REQUIRED_SECTIONS {
        let body = secs
            .section(required)
            .unwrap_or_else(|| panic!("man/{page}.1 has no {required} section ({names:?})"));
        assert!(!body.is_blank(), "man/{page}.1: {required} is empty");
    }
    let th = secs.th.as_deref().unwrap_or("");
    assert!(
        th.starts_with(&format!(".TH {} 1 ", page.to_uppercase())),
        "man/{page}.1: bad .TH line {th:?}"
    );
    let name = secs.section("NAME").unwrap().lines.join(" ");
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
        let env = secs.section("ENVIRONMENT").unwrap().text();
        for var in [
            "CSEP_HOME",
            "CODEX_SELF_EVOLUTION_HOME",
            "CODEX_HOME",
            "CLAUDE_CONFIG_DIR",
            "HOME",
        ] {
            assert!(mentions(&env, var), "man/{tool}.1: ENVIRONMENT lacks {var}");
        }
        let files = secs.section("FILES").unwrap().text();
        for path in ["index/recall.sqlite3", "spool/archive/"] {
            assert!(files.contains(path), "man/{tool}.1: FILES lacks {path}");
        }
    }
    for tool in PLACEHOLDERS {
        let secs = page(tool);
        for required in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"] {
            assert!(
                secs.section(required).is_some(),
                "man/{tool}.1 has no {required} section"
            );
        }
        let text = secs.section("DESCRIPTION").unwrap().text();
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
        let secs = page(tool);
        let body = secs
            .section("EXIT STATUS")
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
        let secs = page(tool);
        let items = documented_exit_codes(tool, secs.section("EXIT STATUS").unwrap());
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
        let text = |name: &str| secs.section(name).unwrap().text();
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
        let items = secs.section("OPTIONS").unwrap().items().len();
        assert_eq!(
            items, positional,
            "man/{page}.1: OPTIONS has {items} items, {script} reads {positional} arguments"
        );

        // A hook never fails its host: the only exit status is 0.
        let codes = documented_exit_codes(page, secs.section("EXIT STATUS").unwrap());
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
    let secs = page("csep");
    let text = |name: &str| secs.section(name).unwrap().text();
    let synopsis = text("SYNOPSIS");
    let subsections = secs.section("OPTIONS").unwrap().subsections();
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
