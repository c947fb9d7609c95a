//! Query syntax: `a|b|c` means any of them; `"…"` quotes a phrase (a `|` inside stays);
//! a trailing `*` makes the last word a prefix. Each alternative becomes a [`Term`]: words
//! matched as an adjacent phrase in the word index, or a substring matched through the
//! trigram index (CJK text, or words that the word index does not find).
//!
//! User text never reaches `MATCH` raw: tokens are re-emitted as quoted FTS5 strings.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The alternative as typed (quotes removed).
    pub raw: String,
    /// unicode61-style tokens, lowercased.
    pub tokens: Vec<String>,
    pub prefix: bool,
    /// The alternative holds CJK (or similar unspaced) text: match it as a substring.
    pub substring_first: bool,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub raw: String,
    pub terms: Vec<Term>,
}

pub use crate::text::is_unspaced_script;

/// Splits text the way the `unicode61` tokenizer does: runs of letters and digits.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn split_alternatives(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            '|' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub fn parse(q: &str) -> Result<Query> {
    let mut terms: Vec<Term> = Vec::new();
    for alt in split_alternatives(q) {
        let prefix = alt.ends_with('*');
        let body = alt.trim_end_matches('*').trim().to_string();
        let toks = tokens(&body);
        let substring_first = body.chars().any(is_unspaced_script);
        if toks.is_empty() && body.chars().count() < 3 {
            continue;
        }
        let term = Term {
            raw: body,
            tokens: toks,
            prefix,
            substring_first,
        };
        if !terms.contains(&term) {
            terms.push(term);
        }
    }
    if terms.is_empty() {
        return Err(Error::usage(format!(
            "query {q:?} has nothing to search for (no words, no 3+ character text)"
        )));
    }
    Ok(Query {
        raw: q.to_string(),
        terms,
    })
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Term {
    /// The tokens as one adjacent phrase.
    pub fn phrase_match(&self) -> Option<String> {
        if self.tokens.is_empty() {
            return None;
        }
        let mut m = quote(&self.tokens.join(" "));
        if self.prefix {
            m.push_str(" *");
        }
        Some(m)
    }

    /// The tokens as a phrase whose last word may be longer (`frobnic` → `frobnicate`,
    /// `value::RawVal` → `value::RawValue`).
    pub fn prefix_phrase_match(&self) -> Option<String> {
        if self.tokens.is_empty() || self.prefix {
            return None;
        }
        Some(format!("{} *", quote(&self.tokens.join(" "))))
    }

    /// The phrase without its last word, which [`Term::prefix_phrase_match`] needs to match
    /// first (`None` for a single word).
    pub fn head_phrase_match(&self) -> Option<String> {
        let n = self.tokens.len();
        (n >= 2 && !self.prefix).then(|| quote(&self.tokens[..n - 1].join(" ")))
    }

    /// Every token, as a set (no phrase, no adjacency): what an index without positions
    /// (`fts_middle`) can answer.
    pub fn word_set_match(&self) -> Option<String> {
        let n = self.tokens.len();
        if n == 0 {
            return None;
        }
        let parts: Vec<String> = self
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if self.prefix && i + 1 == n {
                    format!("{} *", quote(t))
                } else {
                    quote(t)
                }
            })
            .collect();
        Some(parts.join(" AND "))
    }

    /// The last word alone, as a phrase of its parts.
    pub fn last_word_match(&self) -> Option<String> {
        self.tokens.last().map(|w| quote(w))
    }

    /// Every token, anywhere in the message (for two or more tokens; one is a phrase).
    pub fn all_words_match(&self) -> Option<String> {
        (self.tokens.len() >= 2)
            .then(|| self.word_set_match())
            .flatten()
    }

    /// Any of the whitespace-separated words (each still a phrase of its parts): the
    /// loosest form, ranked by BM25. A single word (`foo_bar_baz`) has no looser form.
    pub fn any_word_match(&self) -> Option<String> {
        let words: Vec<String> = self
            .raw
            .split_whitespace()
            .map(tokens)
            .filter(|t| !t.is_empty())
            .map(|t| quote(&t.join(" ")))
            .collect();
        (words.len() >= 2).then(|| words.join(" OR "))
    }

    /// The lowercased needle for a substring match, when it is long enough for trigrams.
    pub fn substring_needle(&self) -> Option<String> {
        let needle = self.raw.to_ascii_lowercase();
        (needle.chars().count() >= 3).then_some(needle)
    }
}

/// Candidate filter for a substring: every third trigram (and the last), ANDed. With
/// `detail=none` this only narrows; the stored text confirms the match.
pub fn trigram_match(needle: &str) -> Option<String> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let mut starts: Vec<usize> = (0..=chars.len() - 3).step_by(3).collect();
    if *starts.last()? != chars.len() - 3 {
        starts.push(chars.len() - 3);
    }
    let grams: Vec<String> = starts
        .iter()
        .map(|&i| quote(&chars[i..i + 3].iter().collect::<String>()))
        .collect();
    Some(grams.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_pipes_outside_quotes() {
        let q = parse(r#"cargo test|"a|b c"|  |error[E0382]"#).unwrap();
        let raws: Vec<&str> = q.terms.iter().map(|t| t.raw.as_str()).collect();
        assert_eq!(raws, vec!["cargo test", "a|b c", "error[E0382]"]);
        assert_eq!(q.terms[2].tokens, vec!["error", "e0382"]);
    }

    #[test]
    fn code_needles_become_phrases_of_their_parts() {
        let t = &parse("reindex_abc12_segments").unwrap().terms[0];
        assert_eq!(t.phrase_match().unwrap(), "\"reindex abc12 segments\"");
        let t = &parse("--kqzt12-frobnicate").unwrap().terms[0];
        assert_eq!(t.phrase_match().unwrap(), "\"kqzt12 frobnicate\"");
        assert_eq!(t.head_phrase_match().unwrap(), "\"kqzt12\"");
        assert_eq!(t.word_set_match().unwrap(), "\"kqzt12\" AND \"frobnicate\"");
        let t = &parse("src/x/spool_x.rs").unwrap().terms[0];
        assert_eq!(t.tokens, vec!["src", "x", "spool", "x", "rs"]);
    }

    #[test]
    fn quotes_in_user_text_cannot_break_out() {
        let t = &parse(r#"say "hi" AND NOT x"#).unwrap().terms[0];
        assert_eq!(t.phrase_match().unwrap(), "\"say hi and not x\"");
        assert_eq!(trigram_match("a\"bc").unwrap(), "\"a\"\"b\" AND \"\"\"bc\"");
    }

    #[test]
    fn cjk_is_a_substring_term() {
        let t = &parse("鲲鹏麒麟数据库").unwrap().terms[0];
        assert!(t.substring_first);
        assert_eq!(
            trigram_match("鲲鹏麒麟数据库").unwrap(),
            "\"鲲鹏麒\" AND \"麟数据\" AND \"数据库\""
        );
    }

    #[test]
    fn empty_queries_are_usage_errors() {
        assert!(parse("  | ").is_err());
        assert!(parse("--").is_err());
    }
}
