//! The one integration test binary (as ripgrep's `tests/tests.rs` and jj's `tests/runner.rs`):
//! one module per tool or area, built once, with `common` shared by all of them. The test
//! below fails when a `.rs` file in this directory is left out of the list.

mod common;

mod archive;
mod bench_memory;
mod builtin;
mod config;
mod damage;
mod docs;
mod e2e_claude;
mod e2e_codex;
mod e2e_copilot;
mod e2e_droid;
mod e2e_gemini;
mod e2e_mcp_hosts;
mod e2e_opencode;
mod e2e_qwen;
mod e2e_reflect;
mod faults;
mod forget;
mod hooks;
mod hooks_hosts;
mod host_sync;
mod hosts_jsonl;
mod hosts_stores;
mod human;
mod import_legacy;
mod index;
mod logs;
mod mcp;
mod memory_cmd;
mod migrate_worktrees;
mod private;
mod read_only;
mod readme;
mod recall;
mod recall_reach;
mod reflect;
mod reflection_cmd;
mod scripts_help;
mod secrets;
mod setup;
mod setup_hosts;
mod shared_fixtures;
mod show;
mod status;
mod trigger;
mod umbrella;
mod verify;

#[test]
fn every_test_file_is_in_the_module_list() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/csep");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    let listed: std::collections::BTreeSet<String> = main
        .lines()
        .filter_map(|l| l.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')))
        .map(str::to_string)
        .collect();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let module = if e.path().is_dir() {
            e.path().join("mod.rs").exists().then(|| name.clone())
        } else {
            name.strip_suffix(".rs")
                .filter(|n| *n != "main")
                .map(str::to_string)
        };
        if let Some(m) = module {
            if !listed.contains(&m) {
                missing.push(m);
            }
        }
    }
    assert!(missing.is_empty(), "not in tests/csep/main.rs: {missing:?}");
    // Nothing is left beside the binary either: a stray tests/*.rs would be a second one.
    let stray: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.file_name())
        .collect();
    assert!(
        stray.is_empty(),
        "test files outside tests/csep/: {stray:?}"
    );
}
