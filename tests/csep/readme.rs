//! The README's claims: its examples use commands and flags that exist (each `csep…` command
//! line in a code block is checked against that command's `--help`); its Supported agents table
//! is exactly the `--agent` values; it has the Mermaid diagram of the three loops; set-up is the
//! two commands `scripts/install.sh` builds and runs, with Cargo.toml's MSRV named; and
//! install.sh names a missing toolchain or git before it builds anything.

use assert_cmd::Command;
use std::fs;

#[test]
fn readme_examples_use_real_commands_and_flags() {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut in_block = false;
    let mut checked = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        // Each command of a pipeline, up to a comment.
        let code = line.split("  #").next().unwrap();
        for part in code.split('|') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let Some(&bin) = words.first() else { continue };
            if !bin.starts_with("csep") {
                continue;
            }
            let mut help_args: Vec<&str> = Vec::new();
            if bin == "csep" {
                help_args.push(words[1]);
                // A subcommand's own subcommand (`csep config show --raw`) has its own flags.
                if let Some(sub) = words.get(2).filter(|w| {
                    w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
                }) {
                    let nested = Command::cargo_bin(bin)
                        .unwrap()
                        .args([words[1], sub, "--help"])
                        .output()
                        .unwrap();
                    if nested.status.success()
                        && String::from_utf8_lossy(&nested.stdout)
                            .contains(&format!("Usage: csep {} {sub}", words[1]))
                    {
                        help_args.push(sub);
                    }
                }
            }
            help_args.push("--help");
            let help = Command::cargo_bin(bin)
                .unwrap()
                .args(&help_args)
                .assert()
                .success()
                .get_output()
                .stdout
                .clone();
            let help = String::from_utf8(help).unwrap();
            let mut after_dashdash = false;
            for w in &words {
                if *w == "--" || w.starts_with('"') {
                    after_dashdash |= *w == "--";
                    continue;
                }
                if !after_dashdash && w.starts_with("--") {
                    assert!(
                        help.contains(w),
                        "README uses {w} with {bin} {help_args:?}, which its --help does not list"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10, "only {checked} flags checked");
}

fn readme() -> String {
    fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The lines of the README section `## title`, up to the next `## `.
fn section(readme: &str, title: &str) -> Vec<String> {
    let heading = format!("## {title}");
    readme
        .lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .map(str::to_string)
        .collect()
}

/// The body of each fenced block of `lines` whose info string is `info`.
fn blocks(lines: &[String], info: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for l in lines {
        match (&mut current, l.strip_prefix("```")) {
            (None, Some(i)) if i.trim() == info => current = Some(Vec::new()),
            (Some(_), Some("")) => out.push(current.take().unwrap()),
            (Some(body), None) => body.push(l.clone()),
            _ => {}
        }
    }
    out
}

#[test]
fn readme_supported_agents_are_exactly_the_agents_csep_reads() {
    use csep_lib::wire::Agent;
    let rows: Vec<Vec<String>> = section(&readme(), "Supported agents")
        .iter()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ---") && !l.starts_with("| Agent"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let mut named = Vec::new();
    for row in &rows {
        assert_eq!(row.len(), 5, "{row:?}");
        let value = row[1].trim_matches('`');
        let agent = Agent::parse(value)
            .unwrap_or_else(|| panic!("README's Supported agents: {value} is no --agent value"));
        assert_eq!(row[0], agent.display_name(), "{row:?}");
        // Accepted by the command line too.
        Command::cargo_bin("csep-recall")
            .unwrap()
            .args(["--agent", value, "--help"])
            .assert()
            .success();
        assert!(!row[4].is_empty(), "{row:?}");
        named.push(agent);
    }
    assert_eq!(named, Agent::ALL, "one row per agent, in --agent order");
}

#[test]
fn readme_has_a_mermaid_diagram_of_the_three_loops() {
    let readme = readme();
    let lines: Vec<String> = readme.lines().map(str::to_string).collect();
    let diagrams = blocks(&lines, "mermaid");
    assert_eq!(diagrams.len(), 1, "one ```mermaid block");
    let d = diagrams[0].join("\n");
    assert!(d.starts_with("flowchart") || d.starts_with("graph"), "{d}");
    for part in [
        "SessionStart",
        "MEMORY.md",
        "Stop",
        "index",
        "csep-verify",
        "skills",
    ] {
        assert!(d.contains(part), "the diagram does not show {part}:\n{d}");
    }
}

#[test]
fn readme_set_up_is_the_two_commands_install_sh_runs() {
    let readme = readme();
    let set_up = section(&readme, "Set up");
    let first = blocks(&set_up, "sh")
        .into_iter()
        .next()
        .expect("a sh block");
    assert_eq!(first, ["scripts/install.sh", "csep setup"]);
    let install =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install.sh")).unwrap();
    assert!(
        install.contains("cargo install --locked --path \"$here\"")
            && install.contains("\"$prefix/bin/csep\" setup "),
        "install.sh no longer builds and runs `csep setup`"
    );
    // The MSRV the README names is Cargo.toml's.
    let cargo = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("rust-version in Cargo.toml");
    assert!(
        section(&readme, "What a fresh machine needs first")
            .join("\n")
            .contains(&format!("**Rust {msrv} or newer**")),
        "README's prerequisites do not name Rust {msrv}"
    );
}

/// A `bin/` holding only what install.sh needs besides the toolchain (and `extra`).
fn bare_path(dir: &std::path::Path, extra: &[(&str, &str)]) -> std::path::PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in ["sed", "head", "cut", "dirname"] {
        let real = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {tool}"));
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    for (name, script) in extra {
        let p = bin.join(name);
        fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

#[test]
fn install_sh_names_what_is_missing_before_it_builds_anything() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install.sh");
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    let run = |bin: &std::path::Path| {
        Command::new("/bin/bash")
            .arg(script)
            .arg("--prefix")
            .arg(&prefix)
            .env_clear()
            .env("HOME", tmp.path())
            .env("PATH", bin)
            .assert()
            .code(2)
            .stdout("")
            .get_output()
            .stderr
            .clone()
    };
    // No cargo, no rustc, no git.
    let bin = bare_path(&tmp.path().join("none"), &[]);
    let said = String::from_utf8(run(&bin)).unwrap();
    for needle in [
        "install.sh: this machine needs, before csep can be built:",
        "the Rust toolchain (cargo and rustc, 1.85 or newer)",
        "https://rustup.rs",
        "git: install it with your package manager",
    ] {
        assert!(said.contains(needle), "{needle:?} not in:\n{said}");
    }
    // A rustc older than the MSRV, git there: only Rust is named.
    let bin = bare_path(
        &tmp.path().join("old"),
        &[
            ("rustc", "echo 'rustc 1.70.0 (90c541806 2023-05-31)'"),
            ("cargo", "echo cargo ran >&2; exit 1"),
            ("git", "exit 0"),
        ],
    );
    let said = String::from_utf8(run(&bin)).unwrap();
    assert!(
        said.contains("Rust 1.85 or newer (rustc is 1.70): run rustup update stable"),
        "{said}"
    );
    assert!(
        !said.contains("git:") && !said.contains("cargo ran"),
        "{said}"
    );
    assert!(!prefix.exists(), "install.sh started installing");
}
