//! The one small reader the docs checks share: man page roff read into sections, their lines
//! and their `.TP` items with the escapes undone, and Markdown read into headings, tables (rows
//! of cells), fenced blocks with their info strings, and the prose lines between them. It knows
//! nothing of what a check expects; the checks in the sibling modules say that.

// ---------------------------------------------------------------------------------------
// roff (man pages).

/// One roff line as plain text: font and character escapes resolved, and on a macro line the
/// macro name and the quotes dropped, so `.BI \-\-limit " N"` reads `--limit  N`.
pub fn plain(line: &str) -> String {
    let mut s = line
        .replace("\\-", "-")
        .replace("\\(dq", "\"")
        .replace("\\(aq", "'")
        .replace("\\(lq", "\"")
        .replace("\\(rq", "\"")
        .replace("\\(em", "-")
        .replace("\\&", "")
        .replace("\\e", "\\");
    for font in ["\\fB", "\\fI", "\\fR", "\\fP"] {
        s = s.replace(font, "");
    }
    if let Some(rest) = s.strip_prefix('.') {
        let rest = rest.split_once(' ').map_or("", |(_, r)| r);
        return rest.replace('"', "");
    }
    s
}

/// A man page: its `.TH` line, its source lines, and its `.SH` sections in order.
pub struct Page {
    /// The `.TH` line as written, if there is one.
    pub th: Option<String>,
    /// Every source line, as written.
    pub lines: Vec<String>,
    pub sections: Vec<Section>,
}

/// One `.SH` section: its name (quotes dropped) and its source lines up to the next `.SH`.
pub struct Section {
    pub name: String,
    pub lines: Vec<String>,
}

/// One `.TP` item: its tag line and the lines after it up to the next `.TP`, `.PP` or `.SS`,
/// each as plain text, the body's whitespace collapsed.
#[derive(Debug, PartialEq)]
pub struct Item {
    pub tag: String,
    pub text: String,
}

pub fn roff(src: &str) -> Page {
    let mut page = Page {
        th: None,
        lines: src.lines().map(str::to_string).collect(),
        sections: Vec::new(),
    };
    for line in src.lines() {
        if let Some(name) = line.strip_prefix(".SH ") {
            page.sections.push(Section {
                name: name.trim().trim_matches('"').to_string(),
                lines: Vec::new(),
            });
        } else if let Some(s) = page.sections.last_mut() {
            s.lines.push(line.to_string());
        } else if line.starts_with(".TH ") && page.th.is_none() {
            page.th = Some(line.to_string());
        }
    }
    page
}

impl Page {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn section_names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name.as_str()).collect()
    }

    /// Every line as plain text, with its line number (from 1).
    pub fn plain_lines(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        self.lines
            .iter()
            .enumerate()
            .map(|(n, l)| (n + 1, plain(l)))
    }

    /// The whole page as plain text, one line per source line.
    pub fn text(&self) -> String {
        self.plain_lines()
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Section {
    /// The section as plain text, one line per source line.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| plain(l))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether nothing in it reads as text.
    pub fn is_blank(&self) -> bool {
        self.lines.iter().all(|l| plain(l).trim().is_empty())
    }

    /// The titles of its `.SS` subsections, as plain text.
    pub fn subsections(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| l.starts_with(".SS "))
            .map(|l| plain(l))
            .collect()
    }

    /// Its `.TP` items, in order (a tag given twice is there twice).
    pub fn items(&self) -> Vec<Item> {
        let mut items: Vec<Item> = Vec::new();
        let mut open = false;
        let mut i = 0;
        while i < self.lines.len() {
            let line = self.lines[i].trim();
            if line == ".TP" {
                let tag = plain(self.lines.get(i + 1).map_or("", String::as_str));
                items.push(Item {
                    tag: tag.trim().to_string(),
                    text: String::new(),
                });
                open = true;
                i += 2;
                continue;
            }
            if line.starts_with(".PP") || line.starts_with(".SS") {
                open = false;
            } else if open {
                let text = &mut items.last_mut().unwrap().text;
                text.push(' ');
                text.push_str(&plain(line));
            }
            i += 1;
        }
        for item in &mut items {
            item.text = item.text.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        items
    }
}

// ---------------------------------------------------------------------------------------
// Markdown.

/// A Markdown file read into blocks, in order. Every line outside a fenced block is also kept
/// as prose (headings and table rows too), for the checks that look at inline code spans.
pub struct Markdown {
    pub blocks: Vec<Block>,
    /// Every line outside the fenced blocks, with its line number (from 1).
    pub prose: Vec<(usize, String)>,
}

#[derive(Debug, PartialEq)]
pub enum Block {
    /// `## Title`: the number of `#`s and the title. `line` counts from 1.
    Heading {
        line: usize,
        level: usize,
        text: String,
    },
    /// Consecutive lines that start with `|`: the header's cells and each row's, the
    /// delimiter row (`| --- |`) left out.
    Table {
        line: usize,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A fenced block: its info string (` ```json ` gives `json`), its body (lines as
    /// written, each ending in `\n`), and the line of its opening fence.
    Code {
        line: usize,
        info: String,
        body: String,
    },
}

/// Reads `md`; `name` is for the message when a fenced block is never closed.
pub fn markdown(name: &str, md: &str) -> Markdown {
    let lines: Vec<&str> = md.lines().collect();
    let fence = |l: &str| l.trim_start().strip_prefix("```").map(str::to_string);
    let mut doc = Markdown {
        blocks: Vec::new(),
        prose: Vec::new(),
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(info) = fence(line) {
            let start = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && fence(lines[i]).is_none() {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            assert!(i < lines.len(), "{name}:{}: unclosed code block", start + 1);
            doc.blocks.push(Block::Code {
                line: start + 1,
                info: info.trim().to_string(),
                body,
            });
            i += 1;
            continue;
        }
        if line.starts_with('|') {
            let start = i;
            while i < lines.len() && lines[i].starts_with('|') {
                doc.prose.push((i + 1, lines[i].to_string()));
                i += 1;
            }
            let mut rows = lines[start..i].iter().map(|r| cells(r));
            let header = rows.next().unwrap();
            let rows: Vec<Vec<String>> = rows
                .enumerate()
                .filter(|(n, r)| !(*n == 0 && is_delimiter(r)))
                .map(|(_, r)| r)
                .collect();
            doc.blocks.push(Block::Table {
                line: start + 1,
                header,
                rows,
            });
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].chars().next().is_none_or(|c| c == ' ') {
            doc.blocks.push(Block::Heading {
                line: i + 1,
                level: hashes,
                text: line[hashes..].trim().to_string(),
            });
        }
        doc.prose.push((i + 1, line.to_string()));
        i += 1;
    }
    doc
}

/// A table row's cells, trimmed (`\|` is a `|` inside a cell).
pub fn cells(row: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = row.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    // The leading and trailing `|` leave an empty cell at each end.
    let inner = out.len().saturating_sub(2);
    out.into_iter()
        .skip(1)
        .take(inner)
        .map(|c| c.trim().to_string())
        .collect()
}

/// The inline code spans of one line or cell (`` `a.b`, `c` `` gives `a.b` and `c`).
pub fn spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn is_delimiter(row: &[String]) -> bool {
    !row.is_empty()
        && row
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|x| matches!(x, '-' | ':' | ' ')))
}

impl Markdown {
    /// The fenced blocks, as (info string, body, line of the opening fence).
    pub fn code_blocks(&self) -> impl Iterator<Item = (&str, &str, usize)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Code { line, info, body } => Some((info.as_str(), body.as_str(), *line)),
            _ => None,
        })
    }

    /// The headings, as (level, title).
    pub fn headings(&self) -> Vec<(usize, &str)> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Heading { level, text, .. } => Some((*level, text.as_str())),
                _ => None,
            })
            .collect()
    }

    pub fn has_heading(&self, level: usize, title: &str) -> bool {
        self.headings().contains(&(level, title))
    }

    /// The prose under the heading `title`, up to the next heading of its level or higher,
    /// one line per source line (`None` when there is no such heading).
    pub fn section_text(&self, title: &str) -> Option<String> {
        let (start, level) = self.blocks.iter().find_map(|b| match b {
            Block::Heading { line, level, text } if text == title => Some((*line, *level)),
            _ => None,
        })?;
        let end = self
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Heading { line, level: l, .. } if *line > start && *l <= level => {
                    Some(*line)
                }
                _ => None,
            })
            .unwrap_or(usize::MAX);
        Some(
            self.prose
                .iter()
                .filter(|(n, _)| *n > start && *n < end)
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// Every inline code span outside the fenced blocks, with its line.
    pub fn code_spans(&self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (n, line) in &self.prose {
            out.extend(spans(line).into_iter().map(|span| (*n, span.to_string())));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#".TH CSEP-X 1 "2026" "csep" "User Commands"
.SH NAME
csep-x \- a tool
.SH "EXIT STATUS"
Intro line.
.TP
.B 0
All
  went \fBwell\fR.
.TP
\fB1\fR
No \-\-match.
.PP
Not part of an item.
.SH OPTIONS
.SS "csep x"
.TP
.BI \-\-limit " N"
At most N.
.SH EMPTY
.PP
"#;

    #[test]
    fn plain_undoes_escapes_and_macro_names() {
        assert_eq!(plain(r#".BI \-\-limit " N""#), "--limit  N");
        assert_eq!(
            plain(r"\fB\-\-since\fR \(dqx\(dq \(em \e \&."),
            "--since \"x\" - \\ ."
        );
        assert_eq!(plain(".TP"), "");
        assert_eq!(plain(r"it\(aqs \(lqq\(rq"), "it's \"q\"");
    }

    #[test]
    fn roff_reads_the_title_and_sections_in_order() {
        let page = roff(PAGE);
        assert_eq!(page.th.as_deref(), Some(PAGE.lines().next().unwrap()));
        assert_eq!(
            page.section_names(),
            ["NAME", "EXIT STATUS", "OPTIONS", "EMPTY"]
        );
        assert_eq!(page.section("NAME").unwrap().lines, ["csep-x \\- a tool"]);
        assert!(page.section("SYNOPSIS").is_none());
        assert!(page.section("EMPTY").unwrap().is_blank());
        assert!(!page.section("NAME").unwrap().is_blank());
        assert_eq!(
            page.plain_lines().nth(2),
            Some((3, "csep-x - a tool".into()))
        );
        assert!(page.text().contains("\nAt most N.\n"));
    }

    #[test]
    fn roff_items_end_at_the_next_item_paragraph_or_subsection() {
        let page = roff(PAGE);
        let exit = page.section("EXIT STATUS").unwrap();
        assert_eq!(
            exit.items(),
            [
                Item {
                    tag: "0".into(),
                    text: "All went well.".into()
                },
                Item {
                    tag: "1".into(),
                    text: "No --match.".into()
                },
            ]
        );
        let options = page.section("OPTIONS").unwrap();
        assert_eq!(options.subsections(), ["csep x"]);
        assert_eq!(options.items()[0].tag, "--limit  N");
        assert!(exit.text().contains("Not part of an item."));
    }

    const MD: &str = r#"# Title
intro `csep recall --limit 3` and `x`

## Records

| Field | Type | Meaning |
| --- | :-: | --- |
| `type` | string | `"session"` a \| b |
| `a.b`, `c` | int | Omitted when none. |

```json
{"type":"session"}
```
#nota heading
### Sub
  ```sh
  csep setup \
    --dry-run
  ```
## Next
tail
"#;

    #[test]
    fn markdown_reads_headings_tables_and_fenced_blocks() {
        let md = markdown("t.md", MD);
        assert_eq!(
            md.headings(),
            [(1, "Title"), (2, "Records"), (3, "Sub"), (2, "Next")]
        );
        assert!(md.has_heading(2, "Records") && !md.has_heading(3, "Records"));
        let tables: Vec<_> = md
            .blocks
            .iter()
            .filter(|b| matches!(b, Block::Table { .. }))
            .collect();
        assert_eq!(
            tables,
            [&Block::Table {
                line: 6,
                header: vec!["Field".into(), "Type".into(), "Meaning".into()],
                rows: vec![
                    vec![
                        "`type`".into(),
                        "string".into(),
                        "`\"session\"` a | b".into()
                    ],
                    vec![
                        "`a.b`, `c`".into(),
                        "int".into(),
                        "Omitted when none.".into()
                    ],
                ],
            }]
        );
        let blocks: Vec<_> = md.code_blocks().collect();
        assert_eq!(
            blocks,
            [
                ("json", "{\"type\":\"session\"}\n", 11),
                ("sh", "  csep setup \\\n    --dry-run\n", 16),
            ]
        );
    }

    #[test]
    fn markdown_prose_sections_and_code_spans_leave_the_blocks_out() {
        let md = markdown("t.md", MD);
        let spans = md.code_spans();
        assert_eq!(spans[0], (2, "csep recall --limit 3".into()));
        assert_eq!(spans[1], (2, "x".into()));
        assert_eq!(super::spans("`a.b`, `c` and d"), ["a.b", "c"]);
        assert!(spans.iter().all(|(_, s)| !s.contains("session\"}")));
        assert!(spans.iter().any(|(n, s)| *n == 9 && s == "a.b"));
        let records = md.section_text("Records").unwrap();
        assert!(records.contains("| `type` |") && records.contains("#nota heading"));
        assert!(!records.contains("csep setup") && !records.contains("tail"));
        assert_eq!(md.section_text("Next").unwrap(), "tail");
        assert!(md.section_text("Nowhere").is_none());
    }

    #[test]
    #[should_panic(expected = "t.md:2: unclosed code block")]
    fn markdown_refuses_an_unclosed_block() {
        markdown("t.md", "x\n```sh\ncsep\n");
    }
}
