//! Every script in scripts/ answers `--help` with its header comment, on stdout, and does
//! nothing else (no build, no install, no test run); one that takes no such argument refuses
//! an unknown one (exit 2 or 1, named on stderr) instead of going on with its work.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "{v:?}");
    v
}

/// The script run with `arg` under an empty HOME and PATH without cargo: whatever it would do
/// past its argument check fails or shows.
fn run(script: &Path, arg: &str) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    assert_cmd::Command::new("bash")
        .arg(script)
        .arg(arg)
        .env("HOME", home.path())
        .env("CSEP_HOSTS_DIR", home.path().join("hosts"))
        .env("PATH", "/usr/bin:/bin")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

#[test]
fn every_script_prints_its_header_for_help_and_does_nothing_else() {
    for script in scripts() {
        let out = run(&script, "--help");
        let name = script.file_name().unwrap().to_string_lossy();
        assert_eq!(out.status.code(), Some(0), "{name} --help: {out:?}");
        assert!(
            out.stderr.is_empty(),
            "{name} --help wrote to stderr: {out:?}"
        );
        let text = fs::read_to_string(&script).unwrap();
        let first = text.lines().nth(1).unwrap().trim_start_matches('#').trim();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.lines().next().map(str::trim),
            Some(first),
            "{name} --help does not start with its header: {stdout}"
        );
    }
}

#[test]
fn a_script_refuses_an_argument_it_does_not_know() {
    for script in scripts() {
        let name = script.file_name().unwrap().to_string_lossy().into_owned();
        // install.sh hands unknown options to `csep setup`, which names a bad one.
        if name == "install.sh" {
            continue;
        }
        let out = run(&script, "--no-such-option");
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{name} --no-such-option: {out:?}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--no-such-option") && stderr.contains("unknown"),
            "{name}: {stderr}"
        );
    }
}
