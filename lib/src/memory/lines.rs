//! TEMPORARY stand-in for the lead's `lines.rs` (design12.md), so that `csep memory` builds
//! before main lands it; replaced by main's file at the merge.

pub struct Entry<'a> {
    pub line_no: usize,
    pub raw: &'a str,
    pub body: &'a str,
}

fn strip_marker(s: &str) -> &str {
    let t = s.trim();
    for m in ["- ", "* ", "+ "] {
        if let Some(r) = t.strip_prefix(m) {
            return r.trim();
        }
    }
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 {
        if let Some(r) = t[digits..].strip_prefix(". ") {
            return r.trim();
        }
    }
    t
}

pub fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    let mut fence = false;
    let mut comment = false;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if comment {
            if t.contains("-->") {
                comment = false;
            }
            continue;
        }
        if t.starts_with("<!--") {
            comment = !t.contains("-->");
            continue;
        }
        if fence || t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(Entry {
            line_no: i + 1,
            raw,
            body: strip_marker(raw),
        });
    }
    out
}

pub fn normalize(s: &str) -> String {
    let b = strip_marker(s).to_lowercase().replace(['`', '*', '_'], "");
    let b = b.trim_end_matches(['.', '!', ';', ',', '。']);
    b.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn similarity(a: &str, b: &str) -> f64 {
    use std::collections::BTreeSet;
    let na = normalize(a);
    let nb = normalize(b);
    let ta: BTreeSet<&str> = na.split_whitespace().collect();
    let tb: BTreeSet<&str> = nb.split_whitespace().collect();
    if ta.is_empty() && tb.is_empty() {
        return 1.0;
    }
    let common = ta.intersection(&tb).count() as f64;
    2.0 * common / (ta.len() + tb.len()) as f64
}
