//! Merging two MEMORY.md texts for migrate-worktrees: the target's text as it is, plus each
//! source line (or fenced block) it does not have yet, under the same heading.

use std::collections::{BTreeMap, HashSet};

/// The merged text and what it gained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeResult {
    pub text: String,
    /// Every line added, in order (a new heading included).
    pub added: Vec<String>,
    /// Source lines or code blocks the target already had.
    pub already_present: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Heading(usize),
    Fence,
    Line,
}

/// A line, or a fenced code block, of a Markdown text.
struct Block {
    start: usize,
    end: usize,
    kind: Kind,
    /// Its lines without trailing whitespace: what "already present" compares.
    key: String,
}

fn heading_level(line: &str) -> Option<usize> {
    let n = line.bytes().take_while(|b| *b == b'#').count();
    let after = line[n..].chars().next();
    ((1..=6).contains(&n) && after.is_none_or(|c| c == ' ' || c == '\t')).then_some(n)
}

fn blocks(lines: &[&str]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        let (kind, end) = if t.is_empty() {
            (Kind::Blank, i + 1)
        } else if t.starts_with("```") || t.starts_with("~~~") {
            let marker = &t[..3];
            let close = (i + 1..lines.len()).find(|&j| lines[j].trim_start().starts_with(marker));
            (Kind::Fence, close.map_or(lines.len(), |j| j + 1))
        } else if let Some(level) = heading_level(line) {
            (Kind::Heading(level), i + 1)
        } else {
            (Kind::Line, i + 1)
        };
        let key = lines[i..end]
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n");
        out.push(Block {
            start: i,
            end,
            kind,
            key,
        });
        i = end;
    }
    out
}

/// A heading (none for the text before the first one) and the blocks under it.
struct Section {
    heading: Option<usize>,
    body: std::ops::Range<usize>,
}

fn sections(blocks: &[Block]) -> Vec<Section> {
    let mut out = vec![Section {
        heading: None,
        body: 0..0,
    }];
    for (i, b) in blocks.iter().enumerate() {
        if matches!(b.kind, Kind::Heading(_)) {
            out.push(Section {
                heading: Some(i),
                body: i + 1..i + 1,
            });
        } else {
            out.last_mut().expect("never empty").body.end = i + 1;
        }
    }
    out
}

/// Merges `source` into `target` without losing a line: the target's lines stay as they
/// are and in order; each non-blank source line (or fenced block) the target does not
/// have yet is added once, under the same heading when the target has it, else at the
/// end under its own heading; lines before the source's first heading go to the top of the
/// target (below a leading `# title`).
pub fn merge_memory(target: &str, source: &str) -> MergeResult {
    let s_lines: Vec<&str> = source.lines().collect();
    let sb = blocks(&s_lines);
    let t_lines: Vec<&str> = target.lines().collect();
    let tb = blocks(&t_lines);
    let non_blank = |b: &&Block| b.kind != Kind::Blank;
    if !tb.iter().any(|b| b.kind != Kind::Blank) {
        let mut text = source.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return MergeResult {
            text,
            added: s_lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.trim_end().to_string())
                .collect(),
            already_present: 0,
        };
    }
    let t_secs = sections(&tb);
    // After which target line a section's new lines go: its last non-blank block, else
    // its heading; -1 is before the first line.
    let anchor = |s: &Section| -> isize {
        tb[s.body.clone()]
            .iter()
            .rfind(non_blank)
            .map(|b| b.end as isize - 1)
            .or(s.heading.map(|h| tb[h].start as isize))
            .unwrap_or(-1)
    };
    let top = if tb[t_secs[0].body.clone()]
        .iter()
        .any(|b| b.kind != Kind::Blank)
    {
        anchor(&t_secs[0])
    } else {
        match t_secs.get(1) {
            Some(s) if s.heading.is_some_and(|h| tb[h].kind == Kind::Heading(1)) => anchor(s),
            _ => -1,
        }
    };

    let mut present: HashSet<&str> = tb
        .iter()
        .filter(non_blank)
        .map(|b| b.key.as_str())
        .collect();
    let mut inserts: BTreeMap<isize, Vec<String>> = BTreeMap::new();
    let mut appended: Vec<(String, Vec<String>)> = Vec::new();
    let mut added = Vec::new();
    let mut already = 0;
    for sec in sections(&sb) {
        let heading = sec.heading.map(|h| &sb[h]);
        let heading_new = heading.is_some_and(|h| !present.contains(h.key.as_str()));
        if let Some(h) = heading {
            if heading_new {
                present.insert(&h.key);
            } else {
                already += 1;
            }
        }
        let mut new_lines = Vec::new();
        for b in sb[sec.body.clone()].iter().filter(non_blank) {
            if present.insert(&b.key) {
                new_lines.extend(
                    s_lines[b.start..b.end]
                        .iter()
                        .map(|l| l.trim_end().to_string()),
                );
            } else {
                already += 1;
            }
        }
        let Some(h) = heading else {
            added.extend(new_lines.iter().cloned());
            inserts.entry(top).or_default().extend(new_lines);
            continue;
        };
        if heading_new {
            added.push(h.key.clone());
            added.extend(new_lines.iter().cloned());
            let mut lines = vec![h.key.clone()];
            lines.extend(new_lines);
            appended.push((h.key.clone(), lines));
            continue;
        }
        added.extend(new_lines.iter().cloned());
        if let Some(ts) = t_secs
            .iter()
            .find(|s| s.heading.is_some_and(|i| tb[i].key == h.key))
        {
            inserts.entry(anchor(ts)).or_default().extend(new_lines);
        } else if let Some((_, lines)) = appended.iter_mut().find(|(k, _)| *k == h.key) {
            lines.extend(new_lines);
        }
    }

    let mut text = String::new();
    let push = |text: &mut String, l: &str| {
        text.push_str(l);
        text.push('\n');
    };
    if let Some(v) = inserts.get(&-1).filter(|v| !v.is_empty()) {
        for l in v {
            push(&mut text, l);
        }
        text.push('\n');
    }
    for (i, l) in t_lines.iter().enumerate() {
        push(&mut text, l);
        if let Some(v) = inserts.get(&(i as isize)) {
            for l in v {
                push(&mut text, l);
            }
        }
    }
    for (_, lines) in appended {
        if !text.ends_with("\n\n") {
            text.push('\n');
        }
        for l in lines {
            push(&mut text, &l);
        }
    }
    MergeResult {
        text,
        added,
        already_present: already,
    }
}
