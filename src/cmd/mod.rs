//! The commands, each a function from parsed arguments to output and an exit code. The small
//! binaries call one each; the `csep` umbrella maps csep 1.3.10's command names onto them,
//! and `compat` holds 1.3.10's own commands. A command calls the library and `shared`, never
//! another command: what two commands print alike is in `shared`.

pub mod archive;
pub mod compat;
pub mod completions;
pub mod config;
pub mod hook;
pub mod index;
pub mod mcp;
pub mod memory;
pub mod migrate;
pub mod recall;
pub mod reflect;
pub mod reflection;
pub mod setup;
pub mod shared;
pub mod show;
pub mod status;
pub mod trigger;
pub mod umbrella;
pub mod verify;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The modules `text` names after each `cmd::` or `super::` path: one name, or each
    /// first name of a `{…}` group.
    fn named_modules(text: &str) -> BTreeSet<String> {
        let ident = |s: &str| -> String {
            s.trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let mut names = BTreeSet::new();
        for prefix in ["cmd::", "super::"] {
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + prefix.len()..];
                let Some(group) = rest.strip_prefix('{') else {
                    names.insert(ident(rest));
                    continue;
                };
                // Each item at the group's own depth starts with a module's name.
                let (mut depth, mut item_start) = (0usize, true);
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && !c.is_whitespace() => {
                            names.insert(ident(&group[i..]));
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            }
        }
        names
    }

    #[test]
    fn named_modules_reads_paths_and_groups() {
        let names = named_modules(
            "use crate::cmd::{index::{self, report}, shared};\nlet x = super::verify::exit_for(s);",
        );
        let want: BTreeSet<String> = ["index", "shared", "verify"].map(String::from).into();
        assert_eq!(names, want);
    }

    /// Commands never call other commands: a command module names only `shared` among its
    /// siblings; `umbrella.rs`, whose dispatch names every command, is the one exception.
    #[test]
    fn commands_call_the_library_and_shared_never_another_command() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cmd");
        let modules: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".rs").map(str::to_string)
            })
            .filter(|m| m != "mod")
            .collect();
        assert!(modules.contains("index") && modules.contains("shared"));
        let mut wrong = Vec::new();
        for module in modules.iter().filter(|m| *m != "umbrella") {
            let text = std::fs::read_to_string(dir.join(format!("{module}.rs"))).unwrap();
            for named in named_modules(&text) {
                if named != "shared" && named != *module && modules.contains(&named) {
                    wrong.push(format!("{module}.rs names cmd::{named}"));
                }
            }
        }
        assert!(wrong.is_empty(), "commands calling commands: {wrong:?}");
    }
}
