//! Whatever a person sees on a terminal, a pipe gets the documented record: `csep status`,
//! `setup` and `uninstall` piped print exactly what `--format json` prints, one line, checked
//! against docs/WIRE.md's tables, with the `hosts` rows of `csep_status` all present.

use super::wire::*;
use crate::common::{codex_path, codex_rollout, write_lines};
use serde_json::Value;

/// `"timestamp":"…"` made constant: the one field two runs of `csep status` differ in.
fn without_timestamp(text: &str) -> String {
    let start = text.find("\"timestamp\":\"").expect("a timestamp") + 13;
    let end = start + text[start..].find('"').unwrap();
    format!("{}T{}", &text[..start], &text[end..])
}

#[test]
fn piped_status_setup_and_uninstall_print_the_documented_record_as_format_json_does() {
    let wire = wire();
    let live = live();
    let id = "019a0000-0000-7000-8000-00000000c001";
    write_lines(
        &codex_path(&live.path("home/.codex/sessions"), id),
        &codex_rollout(id, "/work/app", "hello", "ok", "done"),
    );
    let mut problems = Vec::new();
    let stdout = |args: &[&str]| -> String {
        let out = live
            .cmd("csep")
            .env("PATH", "/usr/bin:/bin")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    // Nothing installed yet: uninstall's answer is the same bytes either way.
    let u = stdout(&["uninstall"]);
    assert_eq!(u, stdout(&["uninstall", "--format", "json"]));
    assert!(u.starts_with("{\"type\":\"uninstall_summary\","), "{u}");

    let mut c = live.cmd("csep");
    c.env("PATH", "/usr/bin:/bin").arg("setup");
    let s = printed_record(&wire, c, "csep setup (piped)", &mut problems);
    assert_eq!(s["backfill"]["codex"]["new_sessions"], 1, "{s}");

    let piped = stdout(&["status"]);
    let json = stdout(&["status", "--format", "json"]);
    assert_eq!(without_timestamp(&piped), without_timestamp(&json));
    let mut c = live.cmd("csep");
    c.arg("status");
    let status = printed_record(&wire, c, "csep status (piped)", &mut problems);
    let table = &wire.tables[wire.by_type["csep_status"]];
    let host_fields: Vec<&str> = table
        .fields
        .iter()
        .filter_map(|f| f.path.strip_prefix("hosts[]."))
        .collect();
    assert!(host_fields.len() >= 7, "{host_fields:?}");
    let hosts = status["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 9);
    for h in hosts {
        let keys: Vec<&str> = h.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, host_fields, "{h}");
    }
    assert!(hosts.iter().any(|h| h["newest_session_at"].is_string()));
    assert!(hosts.iter().any(|h| h["root"] == Value::Null));

    let mut c = live.cmd("csep");
    c.arg("uninstall");
    let u = printed_record(&wire, c, "csep uninstall (piped)", &mut problems);
    assert_eq!(u["status"], "uninstalled");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
