//! What the SessionStart context lists besides MEMORY.md: the bucket's `refs/` notes (file
//! name and first non-empty line) and the generated skills (`<skill_prefix>*` directories
//! and the `description` of their front matter), so a "see refs/x.md" pointer can be
//! followed and a skill found by its purpose.
//!
//! Runs in the SessionStart hook: it reads at most [`MAX_ENTRIES`] files of each kind and the
//! first [`HEAD_BYTES`] of each, never follows a symlink, and skips whatever it cannot read.
//! What it returns is raw text from disk: the caller cleans it before it is shown.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Files of each kind looked at; more are counted but not read.
pub const MAX_ENTRIES: usize = 200;
/// Bytes read from the head of each file: enough for a title or a front matter block.
const HEAD_BYTES: u64 = 4096;

/// One note or skill: its name and what it says it is about (`None`: nothing readable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub about: Option<String>,
}

/// Everything of one kind: the items read (sorted by name), and how many more exist than
/// were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub items: Vec<Item>,
    pub unread: usize,
}

fn head(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(HEAD_BYTES)
        .read_to_end(&mut buf)
        .ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    Some(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}

/// The first line with something on it, trimmed.
pub fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

/// A front-matter value without one pair of matching quotes around it (trimmed first).
pub fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// The `description` of a SKILL.md's front matter (a plain or quoted value, or a block
/// scalar's lines joined), if there is one.
pub fn description(text: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let front: Vec<&str> = lines.take_while(|l| l.trim_end() != "---").collect();
    let (i, value) = front.iter().enumerate().find_map(|(i, l)| {
        l.strip_prefix("description")
            .and_then(|r| r.trim_start().strip_prefix(':'))
            .map(|v| (i, v.trim()))
    })?;
    let value = unquote(value);
    let text = if matches!(value, "" | "|" | ">" | "|-" | ">-" | "|+" | ">+") {
        front[i + 1..]
            .iter()
            .take_while(|l| l.starts_with([' ', '\t']) || l.trim().is_empty())
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        value.to_string()
    };
    (!text.trim().is_empty()).then(|| text.trim().to_string())
}

/// The `.md` files under `refs` (relative paths, `/`-separated), each with its first
/// non-empty line.
pub fn refs(refs: &Path) -> Listing {
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    let mut unread = 0;
    if refs.is_dir() {
        for entry in walkdir::WalkDir::new(refs)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            if !entry.file_type().is_file() || entry.path().extension().is_none_or(|x| x != "md") {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(refs) else {
                continue;
            };
            if paths.len() >= MAX_ENTRIES {
                unread += 1;
                continue;
            }
            paths.push((rel.to_string_lossy().into_owned(), entry.into_path()));
        }
    }
    Listing {
        items: paths
            .into_iter()
            .map(|(name, path)| Item {
                about: head(&path).and_then(|t| first_line(&t).map(str::to_string)),
                name,
            })
            .collect(),
        unread,
    }
}

/// The skill directories under `root` whose name starts with `prefix`, each with its
/// SKILL.md's description. A directory without a readable SKILL.md is not a skill.
pub fn skills(root: &Path, prefix: &str) -> Listing {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (!prefix.is_empty() && name.starts_with(prefix)).then(|| (name, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let unread = dirs.len().saturating_sub(MAX_ENTRIES);
    dirs.truncate(MAX_ENTRIES);
    Listing {
        items: dirs
            .into_iter()
            .filter_map(|(name, dir)| {
                let text = head(&dir.join("SKILL.md"))?;
                Some(Item {
                    about: description(&text),
                    name,
                })
            })
            .collect(),
        unread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_read_in_every_yaml_form() {
        let d = |s: &str| description(s);
        assert_eq!(
            d("---\nname: x\ndescription: Run the tests\n---\n").as_deref(),
            Some("Run the tests")
        );
        assert_eq!(
            d("---\ndescription: \"Quoted: yes\"\n---\n").as_deref(),
            Some("Quoted: yes")
        );
        assert_eq!(
            d("---\ndescription: >\n  Folded\n  text\nname: x\n---\n").as_deref(),
            Some("Folded text")
        );
        assert_eq!(d("---\nname: x\n---\ndescription: body\n"), None);
        assert_eq!(d("no front matter\ndescription: x\n"), None);
        assert_eq!(d("---\ndescription: \"\"\n---\n"), None);
    }

    #[test]
    fn refs_and_skills_are_listed_sorted_and_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let refs_dir = dir.path().join("refs");
        std::fs::create_dir_all(refs_dir.join("deep")).unwrap();
        std::fs::write(refs_dir.join("b.md"), "\n\n# Bee\nbody\n").unwrap();
        std::fs::write(refs_dir.join("a.md"), "").unwrap();
        std::fs::write(refs_dir.join("deep/c.md"), "first\n").unwrap();
        std::fs::write(refs_dir.join("notes.txt"), "not a note\n").unwrap();
        std::fs::write(dir.path().join("secret.md"), "outside\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.md"), refs_dir.join("link.md")).unwrap();
        let got = refs(&refs_dir);
        let shown: Vec<(&str, Option<&str>)> = got
            .items
            .iter()
            .map(|i| (i.name.as_str(), i.about.as_deref()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("a.md", None),
                ("b.md", Some("# Bee")),
                ("deep/c.md", Some("first"))
            ]
        );

        let skills_dir = dir.path().join("skills");
        for (name, text) in [
            (
                "csep-reflect-b",
                "---\nname: csep-reflect-b\ndescription: Bee\n---\n",
            ),
            ("csep-reflect-a", "---\nname: csep-reflect-a\n---\n"),
            ("mine", "---\nname: mine\ndescription: not ours\n---\n"),
        ] {
            std::fs::create_dir_all(skills_dir.join(name)).unwrap();
            std::fs::write(skills_dir.join(name).join("SKILL.md"), text).unwrap();
        }
        std::fs::create_dir_all(skills_dir.join("csep-reflect-empty")).unwrap();
        let got = skills(&skills_dir, "csep-reflect-");
        let shown: Vec<(&str, Option<&str>)> = got
            .items
            .iter()
            .map(|i| (i.name.as_str(), i.about.as_deref()))
            .collect();
        assert_eq!(
            shown,
            vec![("csep-reflect-a", None), ("csep-reflect-b", Some("Bee"))]
        );
        assert_eq!(
            skills(&dir.path().join("none"), "csep-reflect-"),
            Listing::default()
        );
    }
}
