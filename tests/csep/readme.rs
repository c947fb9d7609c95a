//! The README's examples use commands and flags that exist: each `csep…` command line in a
//! code block is checked against that command's `--help`.

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
