//! Keeping MEMORY.md within its budget without losing a fact: the last resort after asking a
//! model to consolidate. The least recently confirmed lines move to `refs/archive.md`, where
//! `csep recall` and the SessionStart refs list still find them; pinned lines never move, and
//! lines new in this change go last. The budget is `[memory] inject_max_chars`, one number:
//! what is kept is what is injected.

use super::ledger::Ledger;
use super::lines::{entries, normalize};
use std::collections::HashSet;

/// The proposal path of the archive note, below the bucket.
pub const ARCHIVE_REL: &str = "memory/refs/archive.md";

/// What [`fit`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fitted {
    /// The new MEMORY.md (unchanged when it already fit).
    pub memory: String,
    /// The lines moved out, as they were written, oldest first.
    pub archived: Vec<String>,
}

impl Fitted {
    /// Whether the result is within `budget` characters (it is not when the pinned and new
    /// lines alone exceed it).
    pub fn fits(&self, budget: u64) -> bool {
        self.memory.chars().count() as u64 <= budget
    }
}

/// Moves lines out of `memory` until it is within `budget` characters: unpinned lines in
/// order of their last confirmation in `ledger` (a line the ledger does not date counts as
/// older than every dated one, earlier lines first), except that lines `live` does not have
/// (new in this change) go last. Headings left with no line under them are dropped.
pub fn fit(memory: &str, budget: u64, ledger: &Ledger, live: Option<&str>) -> Fitted {
    if memory.chars().count() as u64 <= budget {
        return Fitted {
            memory: memory.to_string(),
            archived: Vec::new(),
        };
    }
    let old: HashSet<String> = live
        .map(|l| entries(l).iter().map(|e| normalize(e.body)).collect())
        .unwrap_or_default();
    let mut order: Vec<(u8, String, usize)> = entries(memory)
        .iter()
        .filter(|e| !ledger.is_pinned(e.body))
        .map(|e| {
            let fresh = live.is_some() && !old.contains(&normalize(e.body));
            let dated = ledger.last_confirmed(e.body).map(str::to_string);
            let rank = match (fresh, &dated) {
                (true, _) => 2,
                (false, Some(_)) => 1,
                (false, None) => 0,
            };
            (rank, dated.unwrap_or_default(), e.line_no)
        })
        .collect();
    order.sort();
    let lines: Vec<&str> = memory.lines().collect();
    let mut removed: HashSet<usize> = HashSet::new();
    let mut out = Fitted {
        memory: memory.to_string(),
        archived: Vec::new(),
    };
    for (_, _, line_no) in order {
        if out.fits(budget) {
            break;
        }
        removed.insert(line_no);
        out.archived.push(lines[line_no - 1].trim_end().to_string());
        out.memory = rebuild(&lines, &removed, memory.ends_with('\n'));
    }
    out
}

/// `lines` without the removed ones (1-based), without headings left empty and without
/// runs of blank lines.
fn rebuild(lines: &[&str], removed: &HashSet<usize>, trailing_newline: bool) -> String {
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(&(i + 1)))
        .map(|(_, l)| *l)
        .collect();
    let level = |l: &str| {
        let t = l.trim_start();
        let n = t.chars().take_while(|&c| c == '#').count();
        (n > 0 && t[n..].starts_with(' ')).then_some(n)
    };
    let mut out: Vec<&str> = Vec::new();
    for (i, l) in kept.iter().enumerate() {
        if let Some(n) = level(l) {
            // A heading stays when something other than blank lines comes before the next
            // heading of its level or above.
            let has_body = kept[i + 1..]
                .iter()
                .take_while(|x| level(x).is_none_or(|m| m > n))
                .any(|x| !x.trim().is_empty() && level(x).is_none());
            if !has_body {
                continue;
            }
        }
        if l.trim().is_empty() && out.last().is_none_or(|p| p.trim().is_empty()) {
            continue;
        }
        out.push(l);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let mut s = out.join("\n");
    if trailing_newline && !s.is_empty() {
        s.push('\n');
    }
    s
}

/// The new text of `refs/archive.md`: `existing` (or a short header saying what the note is)
/// followed by `archived` under a heading dated `at` (an ISO time; its date is used).
pub fn archive_note(existing: Option<&str>, archived: &[String], at: &str) -> String {
    let mut s = match existing {
        Some(e) if !e.trim().is_empty() => e.trim_end().to_string(),
        _ => "# Archived memory\n\nLines csep moved out of MEMORY.md to keep it within its budget \
              (the least recently confirmed first). `csep recall` still finds them, and \
              `csep memory add` brings one back."
            .to_string(),
    };
    let date: String = at.chars().take(10).collect();
    let heading = format!("## Archived {date}");
    let last_heading = s.lines().rev().find(|l| l.starts_with("## "));
    if last_heading != Some(heading.as_str()) {
        s.push_str("\n\n");
        s.push_str(&heading);
        s.push('\n');
    }
    s.push('\n');
    for l in archived {
        let t = l.trim();
        if t.starts_with("- ") || t.starts_with("* ") {
            s.push_str(t);
        } else {
            s.push_str("- ");
            s.push_str(t);
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(n: usize) -> String {
        let mut s = String::from("# Memory\n\n## Old\n\n");
        for i in 0..n {
            s.push_str(&format!("- fact number {i:02} about the repository\n"));
        }
        s
    }

    #[test]
    fn a_memory_within_budget_is_left_alone() {
        let m = md(3);
        let f = fit(&m, 10_000, &Ledger::default(), Some(&m));
        assert_eq!(f.memory, m);
        assert!(f.archived.is_empty());
    }

    #[test]
    fn the_least_recently_confirmed_lines_go_first_pinned_and_new_lines_stay() {
        let live = md(10);
        let mut proposed = live.clone();
        proposed.push_str("- a brand new rule\n");
        let mut ledger = Ledger::default();
        ledger.pin("fact number 00 about the repository");
        ledger.confirm(
            "fact number 01 about the repository",
            "j",
            "2026-12-05T00:00:00.000Z",
        );
        ledger.confirm(
            "fact number 02 about the repository",
            "j",
            "2026-12-01T00:00:00.000Z",
        );
        let budget = (proposed.chars().count() - 120) as u64;
        let f = fit(&proposed, budget, &ledger, Some(&live));
        assert!(f.fits(budget), "{}", f.memory);
        assert!(f.memory.contains("fact number 00"), "pinned");
        assert!(f.memory.contains("a brand new rule"), "new");
        assert!(f.memory.contains("fact number 01"), "recently confirmed");
        // Undated lines go before dated ones, earliest first.
        assert_eq!(f.archived[0], "- fact number 03 about the repository");
        assert!(!f.archived.iter().any(|l| l.contains("number 00")));
    }

    #[test]
    fn headings_left_empty_are_dropped_and_archive_notes_accumulate() {
        let m = "# Memory\n\n## A\n\n- only line of a\n\n## B\n\n- line of b\n";
        let f = fit(m, 30, &Ledger::default(), None);
        assert_eq!(f.archived, vec!["- only line of a"]);
        assert_eq!(f.memory, "# Memory\n\n## B\n\n- line of b\n");
        let a = archive_note(None, &f.archived, "2026-12-07T10:00:00.000Z");
        assert!(a.starts_with("# Archived memory\n"));
        assert!(
            a.ends_with("## Archived 2026-12-07\n\n- only line of a\n"),
            "{a}"
        );
        let b = archive_note(Some(&a), &["x".to_string()], "2026-12-07T11:00:00.000Z");
        assert_eq!(b.matches("## Archived 2026-12-07").count(), 1);
        assert!(b.ends_with("- only line of a\n- x\n"), "{b}");
        let c = archive_note(Some(&b), &["- y".to_string()], "2026-12-08T11:00:00.000Z");
        assert!(c.ends_with("## Archived 2026-12-08\n\n- y\n"), "{c}");
    }
}
