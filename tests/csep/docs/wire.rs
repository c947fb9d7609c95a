//! `docs/WIRE.md` read into its field tables and JSON examples, the check of a record against
//! its table, the helpers the live checks (`live_*.rs`) share, and the check that every example
//! parses, matches its table and reads back as the code's type.

use super::read::{markdown, spans, Block};
use super::*;
use crate::common::{codex_exec_rollout, write_lines, Env};
use assert_cmd::Command;
use csep_lib::wire::Record;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug)]
pub(super) struct Field {
    pub(super) path: String,
    /// Rows that say *Omitted when …* describe fields that may be absent.
    pub(super) required: bool,
}

#[derive(Debug)]
pub(super) struct Table {
    pub(super) line: usize,
    pub(super) fields: Vec<Field>,
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
pub(super) struct Example {
    pub(super) line: usize,
    pub(super) raw: String,
    /// The field table of the example's section, if it has one.
    pub(super) table: Option<usize>,
}

pub(super) struct Wire {
    pub(super) tables: Vec<Table>,
    pub(super) by_type: HashMap<String, usize>,
    pub(super) examples: Vec<Example>,
}

fn parse_wire(md: &str) -> Wire {
    let mut tables = Vec::new();
    let mut by_type = HashMap::new();
    let mut examples = Vec::new();
    let mut current: Option<usize> = None;
    for block in markdown("docs/WIRE.md", md).blocks {
        match block {
            Block::Code { line, info, body } => {
                if info == "json" {
                    examples.push(Example {
                        line,
                        raw: body,
                        table: current,
                    });
                }
            }
            Block::Heading { .. } => current = None,
            Block::Table { line, header, rows } => {
                if header.first().map(String::as_str) != Some("Field") {
                    continue;
                }
                let mut table = Table {
                    line,
                    fields: Vec::new(),
                };
                let mut meanings = HashMap::new();
                for c in rows {
                    assert!(c.len() == 3, "docs/WIRE.md: row {c:?} should have 3 cells");
                    // One field, or several that mean the same (`a.x`, `b.x`).
                    let paths: Vec<String> = spans(&c[0]).into_iter().map(str::to_string).collect();
                    assert!(!paths.is_empty(), "docs/WIRE.md: row {c:?}: no `field`");
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
        }
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
    pub(super) fn typed_table(&self, v: &Value) -> Option<usize> {
        let t = v.get("type")?.as_str()?;
        self.by_type.get(t).copied()
    }

    /// Checks `v` against the union of `tables`: every required field present, every field
    /// present documented. Objects nested inside with a documented `"type"` are checked
    /// against their own table.
    pub(super) fn check(&self, v: &Value, tables: &[usize], ctx: &str, problems: &mut Vec<String>) {
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

pub(super) fn wire() -> Wire {
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
        "legacy_import_summary",
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
pub(super) fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
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
pub(super) fn live() -> Env {
    Env::builder().hosts_from_home().build()
}

/// A real Codex rollout, under [`common::transcripts`].
pub(super) const FIXTURE: &str = "codex/sessions/2025/11/17/rollout-2025-11-17T15-30-28-019a93b9-f380-7600-98ff-940e6b99603c.jsonl";

impl Env {
    pub(super) fn json_lines(
        &self,
        bin: &str,
        args: &[&str],
        stdin: Option<Vec<u8>>,
    ) -> Vec<Value> {
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

/// The session id of [`FIXTURE`].
pub(super) const FIXTURE_ID: &str = "019a93b9-f380-7600-98ff-940e6b99603c";
/// Runs `c`, which must succeed and print one JSON object on one line, `"type"` first; checks
/// the object against its field table and returns it.
pub(super) fn printed_record(
    wire: &Wire,
    mut c: Command,
    what: &str,
    problems: &mut Vec<String>,
) -> Value {
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
pub(super) fn example_table(wire: &Wire, needle: &str) -> usize {
    wire.examples
        .iter()
        .find(|ex| ex.raw.contains(needle))
        .and_then(|ex| ex.table)
        .unwrap_or_else(|| panic!("docs/WIRE.md: no example with a field table contains {needle}"))
}

/// Fails for every field of each of `types`' tables that none of `values` of that type has: a
/// documented field the tools no longer write. (The other way round, every field they write
/// must be documented, is `Wire::check`'s.)
pub(super) fn all_fields_seen(
    wire: &Wire,
    types: &[&str],
    values: &[Value],
    problems: &mut Vec<String>,
) {
    for t in types {
        let of_type: Vec<Value> = values.iter().filter(|v| v["type"] == *t).cloned().collect();
        assert!(!of_type.is_empty(), "no live {t} to compare");
        all_fields_seen_in(wire, wire.by_type[*t], &of_type, problems);
    }
}

pub(super) fn all_fields_seen_in(
    wire: &Wire,
    table: usize,
    values: &[Value],
    problems: &mut Vec<String>,
) {
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
pub(super) fn checked_log_lines(
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
pub(super) fn small_rollout(path: &std::path::Path, id: &str, prompt: &str) {
    write_lines(
        path,
        &codex_exec_rollout(id, "/nonexistent/ledger", prompt, "Done."),
    );
}

/// The keys of an object, and of the objects in its arrays, as `a`, `a.b`, `a[].c` paths.
/// The inside of an `index_summary` is left out: docs/WIRE.md documents it, and the tests
/// above check it.
pub(super) fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
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
