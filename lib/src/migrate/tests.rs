//! Unit tests of migrate-worktrees: resolving buckets, merging MEMORY.md texts, applying.

use super::resolve::unmangle;
use super::*;
use std::collections::BTreeSet;

/// Every non-blank line of `texts`, without trailing whitespace.
fn lines_of(texts: &[&str]) -> BTreeSet<String> {
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn count(text: &str, line: &str) -> usize {
    text.lines().filter(|l| l.trim_end() == line).count()
}

#[test]
fn every_line_survives_once_and_lands_under_its_heading() {
    let target = "# Memory\n\n## Build\n- cargo build\n- cargo test\n\n## Style\n- rustfmt\n";
    let source = "- loose fact\n\n# Memory\n\n## Build\n- cargo test   \n- cargo nextest\n\n## Release\n- tag first\n";
    let m = merge_memory(target, source);
    assert_eq!(
        m.text,
        "# Memory\n- loose fact\n\n## Build\n- cargo build\n- cargo test\n- cargo nextest\n\n\
         ## Style\n- rustfmt\n\n## Release\n- tag first\n"
    );
    for l in lines_of(&[target, source]) {
        assert_eq!(count(&m.text, &l), 1, "{l:?} in\n{}", m.text);
    }
    assert_eq!(
        m.added,
        vec![
            "- loose fact",
            "- cargo nextest",
            "## Release",
            "- tag first"
        ]
    );
    assert_eq!(m.already_present, 3);
    // Merging again adds nothing.
    let again = merge_memory(&m.text, source);
    assert_eq!(again.text, m.text);
    assert!(again.added.is_empty());
}

#[test]
fn an_empty_target_takes_the_source_as_it_is() {
    let m = merge_memory("\n", "## A\n- x\n");
    assert_eq!(m.text, "## A\n- x\n");
    assert_eq!(m.added, vec!["## A", "- x"]);
}

#[test]
fn a_target_without_headings_gets_loose_lines_at_its_end_of_preamble() {
    let m = merge_memory("- a\n- b", "- b\n- c\n");
    assert_eq!(m.text, "- a\n- b\n- c\n");
    let m = merge_memory("## Only\n- a\n", "- top\n");
    assert_eq!(m.text, "- top\n\n## Only\n- a\n");
}

#[test]
fn code_blocks_are_compared_and_moved_whole() {
    let target = "## Run\n```sh\ncargo test\n```\n";
    let source = "## Run\n```sh\ncargo test\n```\n```sh\ncargo bench\n```\n";
    let m = merge_memory(target, source);
    assert_eq!(
        m.text,
        "## Run\n```sh\ncargo test\n```\n```sh\ncargo bench\n```\n"
    );
    assert_eq!(m.already_present, 2);
}

#[test]
fn a_heading_the_source_repeats_collects_under_one() {
    let m = merge_memory("- a\n", "## N\n- x\n## N\n- y\n");
    assert_eq!(m.text, "- a\n\n## N\n- x\n- y\n");
}

#[test]
fn unmangle_finds_dirs_whose_names_hold_dashes() {
    let d = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(d.path()).unwrap();
    fs::create_dir_all(root.join("my-repo-feat")).unwrap();
    fs::create_dir_all(root.join("my/repo-feat")).unwrap();
    fs::create_dir_all(root.join("my-repo")).unwrap();
    let name = memory::bucket_name(&root.join("my-repo-feat").to_string_lossy());
    let mut found = unmangle(&name);
    found.sort();
    assert_eq!(
        found,
        vec![root.join("my/repo-feat"), root.join("my-repo-feat")]
    );
    assert!(unmangle("relative").is_empty());
}

#[test]
fn archived_names_are_recognised_in_both_forms() {
    assert!(is_archived("-r-wt.archived"));
    assert!(is_archived("-r-wt.archived.2"));
    assert!(is_archived("-r-wt.archived.20261206T135001"));
    assert!(!is_archived("-r-archived-stuff"));
}
