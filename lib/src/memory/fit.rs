//! TEMPORARY stand-in for the lead's `fit.rs` (design12.md); replaced by main's file at the
//! merge.

use super::ledger::Ledger;
use super::lines::entries;

pub struct Fitted {
    pub memory: String,
    pub archived: Vec<String>,
}

pub fn fit(memory: &str, budget: u64, ledger: &Ledger) -> Fitted {
    let mut text = memory.to_string();
    let mut archived = Vec::new();
    while text.chars().count() as u64 > budget {
        let victim = entries(&text)
            .into_iter()
            .filter(|e| !ledger.is_pinned(e.body))
            .min_by_key(|e| (ledger.last_confirmed(e.body).map(str::to_string), e.line_no))
            .map(|e| (e.line_no, e.raw.to_string()));
        let Some((n, raw)) = victim else { break };
        text = text
            .split_inclusive('\n')
            .enumerate()
            .filter(|(i, _)| i + 1 != n)
            .map(|(_, l)| l)
            .collect();
        archived.push(raw);
    }
    Fitted {
        memory: text,
        archived,
    }
}

pub fn archive_note(existing: Option<&str>, archived: &[String], at: &str) -> String {
    let mut out = existing
        .map(str::to_string)
        .unwrap_or_else(|| "# Archived memory lines (moved out of MEMORY.md to keep it within budget)\n".into());
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("\n## {at}\n\n"));
    for a in archived {
        out.push_str(a);
        out.push('\n');
    }
    out
}
