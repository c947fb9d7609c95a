//! Quality checks on a proposed MEMORY.md, beside the safety checks: memory must stay
//! current and deduplicated, and what a person pinned must stay.
//!
//! - `duplicate`: a new line that says what another line of the proposed file already says
//!   (`memory::lines::is_duplicate`: the same normalized text, or word sets at least
//!   `NEAR_DUPLICATE` alike with the same polarity, not each naming a different command,
//!   tool, version or path).
//! - `pinned_line_removed`: a line pinned in the ledger is gone (only `csep memory` may
//!   drop one, and only after `unpin`).
//! - `mass_removal`: outside a consolidation job (or a person's own change), more than a
//!   third of the lines, and at least [`MASS_REMOVAL_MIN`], are removed without being
//!   rewritten or moved to a refs note.
//!
//! And, reported but not refused: a kept line about the same subject as a new line
//! (`memory::lines::Subject`) is a likely **contradiction** (`warnings` in the receipt): the
//! newer line should have replaced it.

use crate::memory::ledger::Ledger;
use crate::memory::lines::{entries, is_duplicate, normalize, similarity, subject};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

use super::Reason;

/// The fewest removed lines `mass_removal` flags.
pub const MASS_REMOVAL_MIN: usize = 3;

/// How alike a removed and an added line must be to count as one line changed.
const CHANGED: f64 = 0.5;

/// Lines added, removed and changed in a MEMORY.md change (the receipt's `changes[].lines`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LineDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ChangedLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedLine {
    pub from: String,
    pub to: String,
}

/// Something worth a person's look that is not a reason to refuse (`warnings` in the
/// receipt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// `contradiction`.
    pub kind: String,
    pub path: String,
    /// The line kept.
    pub line: String,
    /// The newer line about the same subject.
    pub newer: String,
}

/// The memory lines of `before` and `after` compared by their normalized text.
pub fn diff(before: Option<&str>, after: &str) -> LineDiff {
    let old: Vec<&str> = before
        .map(|b| entries(b).iter().map(|e| e.body).collect())
        .unwrap_or_default();
    let new: Vec<&str> = entries(after).iter().map(|e| e.body).collect();
    let old_keys: HashSet<String> = old.iter().map(|l| normalize(l)).collect();
    let new_keys: HashSet<String> = new.iter().map(|l| normalize(l)).collect();
    let mut added: Vec<&str> = new
        .iter()
        .copied()
        .filter(|l| !old_keys.contains(&normalize(l)))
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .copied()
        .filter(|l| !new_keys.contains(&normalize(l)))
        .collect();
    let mut d = LineDiff::default();
    for r in removed {
        let subj = subject(r);
        let best = added
            .iter()
            .enumerate()
            .map(|(i, a)| (i, similarity(r, a), subject(a).same_as(&subj)))
            .filter(|(_, sim, same)| *sim >= CHANGED || *same)
            .max_by(|x, y| x.1.total_cmp(&y.1));
        match best {
            Some((i, _, _)) => {
                let to = added.remove(i);
                d.changed.push(ChangedLine {
                    from: r.to_string(),
                    to: to.to_string(),
                });
            }
            None => d.removed.push(r.to_string()),
        }
    }
    d.added = added.into_iter().map(str::to_string).collect();
    d
}

/// The quality checks on a proposed MEMORY.md (`text`) against the live one. `mode` is the
/// run's (`review`, `consolidate`, `user`); `kept_elsewhere` holds the normalized lines the
/// proposal also writes into refs notes (moved, not removed). Returns the failures, the
/// warnings, and the live lines the new ones restate (the ledger confirms those).
pub(crate) fn check(
    path: &str,
    text: &str,
    live: Option<&str>,
    mode: &str,
    ledger: &Ledger,
    kept_elsewhere: &HashSet<String>,
) -> (Vec<(Reason, String)>, Vec<Warning>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut restated = Vec::new();
    let live_entries = live.map(entries).unwrap_or_default();
    let live_keys: HashSet<String> = live_entries.iter().map(|e| normalize(e.body)).collect();
    let proposed = entries(text);
    // A line is new when the live file has fewer copies of it: a second copy of a live line
    // is new too.
    let mut left: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for e in &live_entries {
        *left.entry(normalize(e.body)).or_default() += 1;
    }
    let fresh: Vec<bool> = proposed
        .iter()
        .map(|e| match left.get_mut(&normalize(e.body)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect();
    let is_new = |i: usize| fresh[i];

    let mut dups = Vec::new();
    for (i, e) in proposed.iter().enumerate() {
        if !is_new(i) {
            continue;
        }
        let twin = proposed
            .iter()
            .enumerate()
            .find(|(j, o)| *j != i && (!is_new(*j) || *j < i) && is_duplicate(o.body, e.body));
        if let Some((j, o)) = twin {
            dups.push(format!(
                "line {} repeats line {}: {:?}",
                e.line_no,
                o.line_no,
                cut(e.body)
            ));
            if !is_new(j) {
                restated.push(o.body.to_string());
            }
        }
    }
    if !dups.is_empty() {
        out.push((
            Reason::Duplicate,
            format!(
                "{}; update the existing line instead of adding another",
                dups.into_iter().take(5).collect::<Vec<_>>().join("; ")
            ),
        ));
    }

    let proposed_keys: HashSet<String> = proposed.iter().map(|e| normalize(e.body)).collect();
    if mode != "user" {
        let dropped: Vec<String> = ledger
            .pinned()
            .filter(|p| live_keys.contains(&p.key) && !proposed_keys.contains(&p.key))
            .map(|p| format!("{:?}", cut(&p.text)))
            .collect();
        if !dropped.is_empty() {
            out.push((
                Reason::PinnedLineRemoved,
                format!(
                    "pinned by a person, so it must stay: {}",
                    dropped.join(", ")
                ),
            ));
        }
    }

    if !matches!(mode, "consolidate" | "user") {
        let d = diff(live, text);
        let gone: Vec<&String> = d
            .removed
            .iter()
            .filter(|l| !kept_elsewhere.contains(&normalize(l)))
            .collect();
        if gone.len() >= MASS_REMOVAL_MIN && gone.len() * 3 > live_entries.len() {
            out.push((
                Reason::MassRemoval,
                format!(
                    "{} of {} lines removed outside a consolidation job (first: {:?})",
                    gone.len(),
                    live_entries.len(),
                    cut(gone[0])
                ),
            ));
        }
    }

    // A kept line about the same subject as a new one: likely outdated by it.
    for (_, n) in proposed.iter().enumerate().filter(|(i, _)| is_new(*i)) {
        let subj = subject(n.body);
        if subj.is_empty() {
            continue;
        }
        for (_, k) in proposed.iter().enumerate().filter(|(i, _)| !is_new(*i)) {
            if !is_duplicate(k.body, n.body) && subject(k.body).same_as(&subj) {
                warnings.push(Warning {
                    kind: "contradiction".into(),
                    path: path.to_string(),
                    line: k.body.to_string(),
                    newer: n.body.to_string(),
                });
            }
        }
    }
    (out, warnings, restated)
}

fn cut(s: &str) -> String {
    let c: String = crate::redact::redact(s.trim()).chars().take(120).collect();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "# Memory\n\n- Run the tests with `npm test`.\n- Never force-push to main.\n- Use Node 20.\n- Ask before deleting migrations.\n";

    fn run(text: &str, mode: &str, ledger: &Ledger) -> (Vec<Reason>, Vec<Warning>, Vec<String>) {
        let (r, w, c) = check(
            "memory/MEMORY.md",
            text,
            Some(LIVE),
            mode,
            ledger,
            &HashSet::new(),
        );
        (r.into_iter().map(|(r, _)| r).collect(), w, c)
    }

    #[test]
    fn a_restated_line_is_a_duplicate_and_confirms_the_old_one() {
        let text = format!("{LIVE}- Always run the tests with `npm test`\n");
        let (r, _, c) = run(&text, "review", &Ledger::default());
        assert_eq!(r, vec![Reason::Duplicate]);
        assert_eq!(c, vec!["Run the tests with `npm test`."]);
        // Two new lines saying the same thing.
        let text = format!("{LIVE}- Prefer rebase over merge\n- prefer rebase over merge.\n");
        assert_eq!(
            run(&text, "review", &Ledger::default()).0,
            vec![Reason::Duplicate]
        );
        // A different fact is not.
        let text = format!("{LIVE}- Run the linter with `pnpm lint`.\n");
        assert!(run(&text, "review", &Ledger::default()).0.is_empty());
    }

    #[test]
    fn pinned_lines_stay_and_mass_removal_needs_a_consolidation_job() {
        let mut ledger = Ledger::default();
        ledger.pin("Never force-push to main.");
        let text = LIVE.replace("- Never force-push to main.\n", "");
        assert_eq!(
            run(&text, "review", &ledger).0,
            vec![Reason::PinnedLineRemoved]
        );
        assert_eq!(
            run(&text, "consolidate", &ledger).0,
            vec![Reason::PinnedLineRemoved]
        );
        assert!(run(&text, "user", &ledger).0.is_empty());
        let gutted = "# Memory\n\n- Use Node 20.\n";
        assert_eq!(
            run(gutted, "review", &Ledger::default()).0,
            vec![Reason::MassRemoval]
        );
        assert!(run(gutted, "consolidate", &Ledger::default()).0.is_empty());
        // Lines moved to a refs note are not removed.
        let moved: HashSet<String> = entries(LIVE).iter().map(|e| normalize(e.body)).collect();
        let (r, _, _) = check(
            "memory/MEMORY.md",
            gutted,
            Some(LIVE),
            "review",
            &Ledger::default(),
            &moved,
        );
        assert!(r.is_empty(), "{r:?}");
    }

    #[test]
    fn a_kept_line_about_the_same_subject_is_reported() {
        let text = format!("{LIVE}- Use Node 22 now.\n");
        let (r, w, _) = run(&text, "review", &Ledger::default());
        assert!(r.is_empty());
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].line, "Use Node 20.");
        assert_eq!(w[0].newer, "Use Node 22 now.");
    }

    #[test]
    fn the_diff_pairs_rewrites() {
        let after = "# Memory\n\n- Run the tests with `pnpm test -- --run`.\n- Never force-push to main.\n- Use Node 22.\n- A new rule here.\n";
        let d = diff(Some(LIVE), after);
        assert_eq!(d.added, vec!["A new rule here."]);
        assert_eq!(d.removed, vec!["Ask before deleting migrations."]);
        assert_eq!(d.changed.len(), 2, "{d:?}");
        assert_eq!(d.changed[0].from, "Run the tests with `npm test`.");
    }
}
