//! Content checks on one proposed file that is valid UTF-8: the MEMORY.md budget, secrets,
//! no-op "nothing new" entries, and the skill format. Lines that the live file already has
//! are not judged again (a proposal that keeps an old line is not rejected for it).

use super::Reason;
use crate::redact::redact;
use std::collections::HashSet;

/// The headings every generated SKILL.md must have (csep 1.3.10's list).
pub const SKILL_SECTIONS: &[&str] = &[
    "Skill Decision",
    "When to Use",
    "Inputs",
    "Workflow",
    "Verification",
    "Failure Handling",
];

/// Phrases that mark a line as a reflection saying it found nothing: such a line is a
/// per-run changelog entry, not memory. Matched case-insensitively, anywhere in a new line.
pub const NOOP_PHRASES: &[&str] = &[
    "no new candidate",
    "nothing new",
    "no new memor",
    "no new durable",
    "no new reusable",
    "nothing reusable",
    "nothing to add",
    "nothing to record",
    "nothing worth",
    "no new facts",
    "no new rules",
    "no new preferences",
    "no new workflow",
    "no new skill",
    "no new information",
    "no new insight",
    "no new learning",
    "no new entries",
    "no changes this run",
    "no updates this run",
    "没有新的",
    "没有新增",
    "无新增",
    "无新的",
    "未发现新增",
    "未识别新增",
    "未发现可沉淀",
    "未出现可沉淀",
    "未发现可写入",
    "未新增可",
    "本次没有",
    "本次无",
];

/// Which kind of file a proposal path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Memory,
    Ref,
    /// A SKILL.md, with its directory name.
    Skill(String),
}

/// Lines of `text` that `live` does not already have, with their 1-based numbers.
fn new_lines<'a>(text: &'a str, live: Option<&'a str>) -> impl Iterator<Item = (usize, &'a str)> {
    let old: HashSet<&str> = live.map(|l| l.lines().collect()).unwrap_or_default();
    text.lines()
        .enumerate()
        .filter(move |(_, l)| !old.contains(l))
        .map(|(i, l)| (i + 1, l))
}

/// Every check for one file: `(reason, detail)` for each failure.
pub(crate) fn check(
    kind: &Kind,
    text: &str,
    live: Option<&str>,
    memory_max_chars: u64,
) -> Vec<(Reason, String)> {
    let mut out = Vec::new();
    if *kind == Kind::Memory {
        let n = text.chars().count() as u64;
        if n > memory_max_chars {
            out.push((
                Reason::MemoryOverBudget,
                format!("{n} characters; the budget is {memory_max_chars}"),
            ));
        }
    }
    if let Some(d) = secrets(text, live) {
        out.push((Reason::Secret, d));
    }
    if matches!(kind, Kind::Memory | Kind::Ref) {
        if let Some(d) = noop_entry(text, live) {
            out.push((Reason::NoopEntry, d));
        }
    }
    if let Kind::Skill(dir) = kind {
        out.extend(skill(dir, text));
    }
    out
}

/// Names the kinds of secret on new lines (never the secret itself). The rules run on the
/// whole file, so a secret that a line break splits (a `key:` line and its value below it,
/// a wrapped token, a PEM block) is seen; a new line is named when a secret touches it.
fn secrets(text: &str, live: Option<&str>) -> Option<String> {
    let found = crate::redact::find(text);
    if found.is_empty() {
        return None;
    }
    let old: HashSet<&str> = live.map(|l| l.lines().collect()).unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let mut start = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let range = start..start + raw.len();
        start = range.end + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() || old.contains(line) {
            continue;
        }
        let mut kinds: Vec<&str> = found
            .iter()
            .filter(|f| f.range.start < range.end && f.range.end > range.start)
            .map(|f| f.kind)
            .collect();
        kinds.dedup();
        if kinds.is_empty() {
            continue;
        }
        out.push(format!("line {}: {}", i + 1, kinds.join(", ")));
        if out.len() == 5 {
            break;
        }
    }
    (!out.is_empty()).then(|| format!("holds a secret ({})", out.join("; ")))
}

fn noop_entry(text: &str, live: Option<&str>) -> Option<String> {
    for (n, line) in new_lines(text, live) {
        let lower = line.to_lowercase();
        if let Some(p) = NOOP_PHRASES.iter().find(|p| lower.contains(*p)) {
            let shown: String = line.trim().chars().take(120).collect();
            return Some(format!(
                "line {n} says nothing was found ({p:?}): {:?}; such notes belong in the draft, not in memory",
                redact(&shown)
            ));
        }
    }
    None
}

/// Strips one pair of matching quotes.
fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// The skill format: front matter with `name` equal to the directory and a non-empty
/// `description`, and every required section as a Markdown heading outside code fences.
fn skill(dir: &str, text: &str) -> Vec<(Reason, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let is_fence = |l: &str| l.trim_end() == "---";
    let close = if lines.first().is_some_and(|l| is_fence(l)) {
        lines
            .iter()
            .skip(1)
            .position(|l| is_fence(l))
            .map(|i| i + 1)
    } else {
        None
    };
    let Some(close) = close else {
        return vec![(
            Reason::MissingFrontMatter,
            "SKILL.md must start with a front matter block between `---` lines".into(),
        )];
    };
    let front = &lines[1..close];
    let mut out = Vec::new();

    let field = |key: &str| -> Option<(usize, &str)> {
        front.iter().enumerate().find_map(|(i, l)| {
            l.strip_prefix(key)
                .and_then(|r| r.trim_start().strip_prefix(':'))
                .map(|v| (i, v.trim()))
        })
    };
    match field("name") {
        None => out.push((
            Reason::NameMismatch,
            format!("front matter has no name; it must be {dir:?}"),
        )),
        Some((_, v)) if unquote(v) != dir => out.push((
            Reason::NameMismatch,
            format!(
                "front matter name {:?} is not the directory {dir:?}",
                unquote(v)
            ),
        )),
        Some(_) => {}
    }
    let described = match field("description") {
        None => false,
        Some((i, v)) => {
            let v = unquote(v);
            let block = matches!(v, "" | "|" | ">" | "|-" | ">-" | "|+" | ">+");
            if !block {
                !v.trim().is_empty()
            } else {
                // A block scalar: the indented lines that follow.
                front[i + 1..]
                    .iter()
                    .take_while(|l| l.starts_with([' ', '\t']) || l.trim().is_empty())
                    .any(|l| !l.trim().is_empty())
            }
        }
    };
    if !described {
        out.push((
            Reason::MissingDescription,
            "front matter has no non-empty description".into(),
        ));
    }

    let mut headings: HashSet<String> = HashSet::new();
    let mut fence: Option<&str> = None;
    for l in &lines[close + 1..] {
        let t = l.trim_start();
        for f in ["```", "~~~"] {
            if t.starts_with(f) {
                fence = match fence {
                    None => Some(f),
                    Some(open) if open == f => None,
                    other => other,
                };
            }
        }
        if fence.is_some() || t.starts_with("```") || t.starts_with("~~~") {
            continue;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with([' ', '\t']) {
            let h = t[hashes..].trim().trim_end_matches('#').trim();
            headings.insert(h.to_lowercase());
        }
    }
    let missing: Vec<&str> = SKILL_SECTIONS
        .iter()
        .copied()
        .filter(|s| !headings.contains(&s.to_lowercase()))
        .collect();
    if !missing.is_empty() {
        out.push((
            Reason::MissingSections,
            format!("missing section headings: {}", missing.join(", ")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good_skill(name: &str) -> String {
        let mut s = format!("---\nname: {name}\ndescription: Run the tests the way this repo wants\n---\n\n# Title\n");
        for h in SKILL_SECTIONS {
            s.push_str(&format!("\n## {h}\n\ntext\n"));
        }
        s
    }

    fn reasons(v: Vec<(Reason, String)>) -> Vec<Reason> {
        v.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn every_secret_form_is_rejected_and_never_shown() {
        for (form, text, secrets) in crate::redact::tests::FORMS {
            let file = format!("# Memory\n\n- deploy with care\n- {text}\n");
            let found = check(&Kind::Memory, &file, None, 100_000);
            let detail = match found.as_slice() {
                [(Reason::Secret, d)] => d,
                other => panic!("{form}: {other:?}"),
            };
            assert!(
                detail.starts_with("holds a secret (line "),
                "{form}: {detail}"
            );
            for s in *secrets {
                assert!(!detail.contains(s), "{form}: {detail}");
            }
            // The same line already in the live file is not judged again.
            assert!(
                check(&Kind::Memory, &file, Some(&file), 100_000).is_empty(),
                "{form}"
            );
        }
    }

    #[test]
    fn a_secret_split_over_lines_is_seen_on_its_new_line() {
        let live = "# Memory\n\npassword:\n";
        let file = "# Memory\n\npassword:\n  Yaml-Split-Pa55\n";
        let found = check(&Kind::Memory, file, Some(live), 100_000);
        assert_eq!(
            found,
            vec![(
                Reason::Secret,
                "holds a secret (line 4: secret)".to_string()
            )]
        );
        let wrapped = "- token ghp_0123456789abcd\nefghijABCDEFGHIJklmn\n";
        let found = check(&Kind::Ref, wrapped, None, 100_000);
        assert_eq!(
            found,
            vec![(
                Reason::Secret,
                "holds a secret (line 1: github_token; line 2: github_token)".to_string()
            )]
        );
    }

    #[test]
    fn a_good_skill_passes() {
        assert!(check(
            &Kind::Skill("csep-reflect-x".into()),
            &good_skill("csep-reflect-x"),
            None,
            10
        )
        .is_empty());
    }

    #[test]
    fn skill_format_failures_are_named() {
        let k = Kind::Skill("csep-reflect-x".into());
        assert_eq!(
            reasons(check(&k, "# no front matter\n", None, 0)),
            vec![Reason::MissingFrontMatter]
        );
        assert_eq!(
            reasons(check(&k, &good_skill("csep-reflect-y"), None, 0)),
            vec![Reason::NameMismatch]
        );
        let no_desc = good_skill("csep-reflect-x").replace(
            "description: Run the tests the way this repo wants",
            "description: \"\"",
        );
        assert_eq!(
            reasons(check(&k, &no_desc, None, 0)),
            vec![Reason::MissingDescription]
        );
        let block = good_skill("csep-reflect-x").replace(
            "description: Run the tests the way this repo wants",
            "description: >\n  Folded text",
        );
        assert!(check(&k, &block, None, 0).is_empty());
        let fenced = good_skill("csep-reflect-x").replace("## Inputs", "```\n## Inputs\n```");
        let r = check(&k, &fenced, None, 0);
        assert_eq!(reasons(r.clone()), vec![Reason::MissingSections]);
        assert!(r[0].1.contains("Inputs"));
    }

    #[test]
    fn memory_checks() {
        assert_eq!(reasons(check(&Kind::Memory, "- ok\n", None, 100)), vec![]);
        assert_eq!(
            reasons(check(&Kind::Memory, "- ok\n", None, 3)),
            vec![Reason::MemoryOverBudget]
        );
        assert_eq!(reasons(check(&Kind::Memory, "预算测试", None, 4)), vec![]);
        assert_eq!(
            reasons(check(&Kind::Ref, "- No new candidates this run\n", None, 0)),
            vec![Reason::NoopEntry]
        );
        assert_eq!(
            reasons(check(
                &Kind::Memory,
                "- 本次没有新的可沉淀内容\n",
                None,
                100
            )),
            vec![Reason::NoopEntry]
        );
        let key = "- key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123\n";
        let r = check(&Kind::Memory, key, None, 1000);
        assert_eq!(reasons(r.clone()), vec![Reason::Secret]);
        assert!(!r[0].1.contains("AbCdEf"));
        // An old line is not judged again.
        assert!(check(&Kind::Memory, key, Some(key), 1000).is_empty());
    }
}
