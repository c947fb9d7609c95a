//! A guard, compiled only for tests: no import cycle among the library's top-level modules.
//! It reads `lib/src` as text, takes every `crate::<module>` path and every `use crate::{…}`
//! group outside comments, and fails naming the modules of any cycle, so a new import that
//! closes a circle (readers asking policy, the store reaching up into search) is caught here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The top-level modules `lib.rs` declares.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_string())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Identifiers that `text` names as `crate::<ident>`, or inside `use crate::{…}` groups.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut refs = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: the first identifier of each comma-separated part
            // at nesting depth 0, up to the group's closing brace.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                let body = group;
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && depth == 0 && !c.is_whitespace() => {
                        refs.insert(ident(&body[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            refs.insert(ident(rest));
        }
    }
    refs
}

/// Which top-level module imports which, each edge with a file that does it.
fn graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let modules = top_level_modules(src);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let from = first.trim_end_matches(".rs").to_string();
        if !modules.contains(&from) {
            continue;
        }
        let text = fs::read_to_string(&f).unwrap();
        for to in crate_refs(&text) {
            if to != from && modules.contains(&to) {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| rel.display().to_string());
            }
        }
    }
    edges
}

/// A cycle through `start`, as the modules along it, if there is one.
fn cycle_from(
    edges: &BTreeMap<String, BTreeMap<String, String>>,
    start: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in edges.get(&at).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                let mut p = path.clone();
                p.push(next.clone());
                return Some(p);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn no_cycle_among_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(
        edges
            .get("index")
            .is_some_and(|m| m.contains_key("archive")),
        "the reader sees no edges at all: {edges:?}"
    );
    let cycles: Vec<String> = top_level_modules(&src)
        .iter()
        .filter_map(|m| cycle_from(&edges, m))
        .map(|c| {
            let steps: Vec<String> = c
                .windows(2)
                .map(|w| format!("{} -> {} ({})", w[0], w[1], edges[&w[0]][&w[1]]))
                .collect();
            steps.join(", ")
        })
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn the_reader_sees_paths_and_groups_but_not_comments() {
    let refs = crate_refs(
        "use crate::a::b;\nuse crate::{c, d::{e, f}, g::*};\n// crate::h\nlet x = crate::i::j();\n",
    );
    let want: BTreeSet<String> = ["a", "c", "d", "g", "i"].map(String::from).into();
    assert_eq!(refs, want);
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (a, b) in [("x", "y"), ("y", "z"), ("z", "x")] {
        edges
            .entry(a.into())
            .or_default()
            .insert(b.into(), String::new());
    }
    assert_eq!(cycle_from(&edges, "x").unwrap(), ["x", "y", "z", "x"]);
    edges.get_mut("z").unwrap().clear();
    assert!(cycle_from(&edges, "x").is_none());
}

/// The module map in docs/ARCHITECTURE.md: one row per top-level module, and what each
/// imports is among what its row says it may import.
#[test]
fn the_module_map_lists_every_module_and_what_it_imports() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let doc = std::fs::read_to_string(src.join("../../docs/ARCHITECTURE.md")).unwrap();
    let map = doc
        .split("## Module map")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/ARCHITECTURE.md has a Module map section");
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in map.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let name = cells[0]
            .trim_start_matches("| ")
            .trim_matches('`')
            .to_string();
        let may: BTreeSet<String> = cells
            .last()
            .unwrap()
            .trim_end_matches(" |")
            .split(", ")
            .map(|m| m.trim().trim_matches('`').to_string())
            .filter(|m| m != "—")
            .collect();
        allowed.insert(name, may);
    }
    let tops: BTreeSet<String> = top_level_modules(&src)
        .into_iter()
        .filter(|m| m != "module_graph")
        .collect();
    let listed: BTreeSet<String> = allowed.keys().cloned().collect();
    assert_eq!(listed, tops, "the module map's rows are not the modules");
    let mut wrong = Vec::new();
    for (module, imports) in graph(&src) {
        let Some(may) = allowed.get(&module) else {
            continue;
        };
        for (import, file) in imports {
            if !may.contains(&import) {
                wrong.push(format!("{module} imports {import} ({file})"));
            }
        }
    }
    assert!(wrong.is_empty(), "not in the module map: {wrong:?}");
}
