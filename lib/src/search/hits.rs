//! Finding the messages one query term matches, at a cost that does not grow with how many
//! messages match.
//!
//! A term's newest [`CHUNK`] matches are read from the word index first (its doclist only,
//! no join). A term with fewer is rare and ranked exactly: BM25 over all its matches. A
//! common one ("error", "test", "the") would make FTS5 score every match before any
//! `LIMIT`, so its matches are read newest first instead (message ids grow as sessions are
//! archived), in chunks, joined to their messages and sessions for the filters, until
//! enough hits are in hand or a bounded number of matches were looked at: the answer comes
//! from the most recent matches, ranked by role, recency and message length. Substrings
//! (the trigram index) are always read that way, each candidate confirmed against the
//! stored text. The words of long outputs' omitted middles (`fts_middle`, word sets) are
//! read the same way as the word index, as all-words matches.

use super::output::{RecallOptions, Scope};
use super::query::{self, Term};
use crate::error::Result;
use crate::index::db::FLAG_BACKGROUND;
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub(super) struct Hit {
    pub mode: &'static str,
    pub msg_id: i64,
    pub session: i64,
    pub source: i64,
    pub ordinal: i64,
    pub score: f64,
    pub term: usize,
    /// The message is injected context (environment, AGENTS.md, hook context).
    pub background: bool,
}

/// Rows ranked exactly per term: enough to rank sessions.
const CANDIDATES_PER_TERM: i64 = 3000;
/// Matches read per chunk of a newest-first pass. A term with fewer matches than one chunk
/// is rare: ranked exactly.
const CHUNK: usize = 500;
/// The shortest last word read as a prefix (see [`prefix_worth_trying`]).
const PREFIX_MIN_CHARS: usize = 4;
/// A word with more matches than this is common (see [`prefix_worth_trying`]).
const COMMON: i64 = 2000;
/// A newest-first pass of the word index stops after this many matches, whatever the
/// filters kept.
const SCAN_MAX: usize = 20_000;
/// A pass of the trigram index stops sooner: each candidate's text is read to confirm it.
const SUBSTRING_SCAN_MAX: usize = 4_000;
/// A newest-first pass stops once it holds 20 hits per session asked for (at least 60)
/// from 3 times as many sessions (at least 8): enough to choose the best among.
fn hits_wanted(limit: usize) -> (usize, usize) {
    ((20 * limit).max(60), (3 * limit).max(8))
}
/// Confirmed substring hits kept per term.
const SUBSTRING_WANTED: usize = 1000;

fn role_weight(role: &str) -> f64 {
    match role {
        "user" => 1.15,
        "assistant" => 1.0,
        "tool" => 0.9,
        _ => 0.6,
    }
}

fn recency_factor(ts_ms: Option<i64>, now: i64) -> f64 {
    let age_days = ts_ms.map_or(365.0, |t| ((now - t).max(0) as f64) / 86_400_000.0);
    1.0 + 0.3 * (-age_days / 30.0).exp()
}

fn background_factor(flags: i64) -> f64 {
    if flags & FLAG_BACKGROUND != 0 {
        0.5
    } else {
        1.0
    }
}

/// A common word says little about a message; a short message that holds it is more about
/// it than a long tool output that happens to.
fn length_factor(bytes: i64) -> f64 {
    1.0 / (1.0 + (bytes.max(0) as f64 / 2000.0).ln_1p())
}

/// The filters as SQL over `m` (messages) and `s` (sessions), numbered from `?3`: `?1` and
/// `?2` belong to the term.
pub(super) struct Filters {
    sql: String,
    params: Vec<SqlValue>,
    /// Sessions the answer holds (`--limit`), which bounds a newest-first pass.
    limit: usize,
}

const FIRST_FILTER_PARAM: usize = 3;

impl Filters {
    pub(super) fn new(opts: &RecallOptions) -> Filters {
        Self::numbered(opts, FIRST_FILTER_PARAM)
    }

    pub(super) fn numbered(opts: &RecallOptions, first_param: usize) -> Filters {
        let mut sql = String::new();
        let mut params: Vec<SqlValue> = Vec::new();
        let mut p = |clause: &str, v: SqlValue, sql: &mut String| {
            params.push(v);
            sql.push_str(&clause.replace("?", &format!("?{}", first_param + params.len() - 1)));
        };
        if let Scope::Repo { fingerprint, .. } = &opts.scope {
            p(
                " AND s.repo_fp = ?",
                SqlValue::Text(fingerprint.clone()),
                &mut sql,
            );
        }
        if let Some(a) = opts.agent {
            p(
                " AND s.agent = ?",
                SqlValue::Text(a.as_str().into()),
                &mut sql,
            );
        }
        if let Some(since) = opts.since_ms {
            p(
                " AND COALESCE(s.updated_ms, 0) >= ?",
                SqlValue::Integer(since),
                &mut sql,
            );
        }
        if let Some(until) = opts.until_ms {
            p(
                " AND COALESCE(s.started_ms, 0) <= ?",
                SqlValue::Integer(until),
                &mut sql,
            );
        }
        if let Some(cur) = &opts.current_session_id {
            p(
                " AND s.session_id <> ?",
                SqlValue::Text(cur.clone()),
                &mut sql,
            );
            p(
                " AND s.session_id <> ?",
                SqlValue::Text(format!("claude:{cur}")),
                &mut sql,
            );
        }
        if !opts.include_background {
            sql.push_str(&format!(" AND (m.flags & {FLAG_BACKGROUND}) = 0"));
        }
        if !opts.roles.is_empty() {
            let list: Vec<String> = opts
                .roles
                .iter()
                .map(|r| format!("'{}'", r.as_str()))
                .collect();
            sql.push_str(&format!(" AND m.role IN ({})", list.join(",")));
        }
        Filters {
            sql,
            params,
            limit: opts.limit,
        }
    }

    pub(super) fn sql(&self) -> &str {
        &self.sql
    }

    pub(super) fn params(&self) -> &[SqlValue] {
        &self.params
    }

    fn with_term(&self, first: SqlValue, second: SqlValue) -> Vec<SqlValue> {
        let mut v = vec![first, second];
        v.extend(self.params.iter().cloned());
        v
    }
}

/// The full-text indexes a pass can read.
#[derive(Clone, Copy)]
enum Index {
    Words,
    /// The whole text of cut messages, as word sets (see `index::db`).
    Middle,
    Trigram,
}

impl Index {
    fn table(self) -> &'static str {
        match self {
            Index::Words => "fts_words",
            Index::Middle => "fts_middle",
            Index::Trigram => "fts_tri",
        }
    }
}

/// Whether the index has `fts_middle` (schema 5).
fn has_middles(conn: &Connection) -> bool {
    conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE name = 'fts_middle'")
        .and_then(|mut s| s.exists([]))
        .unwrap_or(false)
}

/// Matches of `m` in the word index, counted up to `cap`.
fn count_up_to(conn: &Connection, m: &str, cap: i64) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(*) FROM (SELECT 1 FROM fts_words WHERE fts_words MATCH ?1 LIMIT ?2)",
    )?;
    Ok(stmt.query_row(rusqlite::params![m, cap], |r| r.get(0))?)
}

/// One chunk of a newest-first pass: the next [`CHUNK`] matching ids below `below`.
fn chunk_ids(conn: &Connection, index: Index, m: &str, below: i64) -> Result<Vec<i64>> {
    let t = index.table();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT rowid FROM {t} WHERE {t} MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT {CHUNK}"
    ))?;
    let rows = stmt.query_map(rusqlite::params![m, below], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<i64>, _>>()?)
}

/// A candidate message that passed the filters, before scoring.
struct Row {
    hit: Hit,
    role: String,
    ts: Option<i64>,
    flags: i64,
    bytes: i64,
}

/// Reads matches of `m` newest first, chunk by chunk (starting with `first`, the first
/// chunk when the caller read it already), keeping those that pass the filters (and, with
/// `needle`, whose stored text holds it), until `enough` says so or the pass has looked at
/// `scan_max` matches.
#[allow(clippy::too_many_arguments)]
fn newest_first(
    conn: &Connection,
    index: Index,
    scan_max: usize,
    first: Option<Vec<i64>>,
    m: &str,
    needle: Option<&str>,
    f: &Filters,
    mut enough: impl FnMut(&[Row]) -> bool,
) -> Result<Vec<Row>> {
    // The needle is confirmed in what the trigram index was given: a tool call's name and
    // text together (see ingest), everything else as stored.
    let pos = if needle.is_some() {
        "(CASE WHEN m.tool IS NOT NULL AND m.role = 'assistant' THEN instr(lower(m.tool || ' ' || m.text), ?2)
               ELSE instr(lower(m.text), ?2) END)"
    } else {
        "(?2 IS NULL)"
    };
    let sql = format!(
        "SELECT m.id, m.session_rowid, m.source_rowid, m.ordinal, m.role, m.ts_ms, m.flags, octet_length(m.text)
         FROM messages m JOIN sessions s ON s.id = m.session_rowid
         WHERE m.id IN (SELECT value FROM json_each(?1)) AND {pos} > 0{}",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let second = needle.map_or(SqlValue::Null, |n| SqlValue::Text(n.to_string()));
    let mut rows: Vec<Row> = Vec::new();
    let mut below = i64::MAX;
    let mut scanned = 0usize;
    let mut first = first;
    while scanned < scan_max {
        let ids = match first.take() {
            Some(ids) => ids,
            None => chunk_ids(conn, index, m, below)?,
        };
        let Some(&last) = ids.last() else { break };
        scanned += ids.len();
        below = last;
        let list = serde_json::to_string(&ids).unwrap_or_default();
        let params = f.with_term(SqlValue::Text(list), second.clone());
        let found = stmt.query_map(rusqlite::params_from_iter(params), |r| {
            Ok(Row {
                hit: Hit {
                    mode: "",
                    msg_id: r.get(0)?,
                    session: r.get(1)?,
                    source: r.get(2)?,
                    ordinal: r.get(3)?,
                    score: 0.0,
                    term: 0,
                    background: false,
                },
                role: r.get(4)?,
                ts: r.get(5)?,
                flags: r.get(6)?,
                bytes: r.get::<_, Option<i64>>(7)?.unwrap_or(0),
            })
        })?;
        for row in found {
            rows.push(row?);
        }
        if ids.len() < CHUNK || enough(&rows) {
            break;
        }
    }
    Ok(rows)
}

/// Hits of a word-index match expression: exact BM25 ranking for a rare term, newest first
/// for a common one.
fn word_hits(
    conn: &Connection,
    index: Index,
    m: &str,
    mode: &'static str,
    f: &Filters,
    term: usize,
    now: i64,
) -> Result<Vec<Hit>> {
    // The newest chunk tells a rare term (all its matches, fewer than a chunk) from a
    // common one, and starts the pass for a common one.
    let first = chunk_ids(conn, index, m, i64::MAX)?;
    if first.is_empty() {
        return Ok(Vec::new());
    }
    if first.len() < CHUNK {
        return ranked_word_hits(conn, index, m, mode, f, term, now);
    }
    let (hits, sessions) = hits_wanted(f.limit);
    let rows = newest_first(conn, index, SCAN_MAX, Some(first), m, None, f, |rows| {
        rows.len() >= hits
            && rows
                .iter()
                .map(|r| r.hit.session)
                .collect::<HashSet<_>>()
                .len()
                >= sessions
    })?;
    Ok(rows
        .into_iter()
        .map(|r| Hit {
            mode,
            term,
            background: r.flags & FLAG_BACKGROUND != 0,
            score: role_weight(&r.role)
                * background_factor(r.flags)
                * recency_factor(r.ts, now)
                * length_factor(r.bytes),
            ..r.hit
        })
        .collect())
}

fn ranked_word_hits(
    conn: &Connection,
    index: Index,
    m: &str,
    mode: &'static str,
    f: &Filters,
    term: usize,
    now: i64,
) -> Result<Vec<Hit>> {
    let t = index.table();
    let sql = format!(
        "SELECT m.id, m.session_rowid, m.source_rowid, m.ordinal, m.role, m.ts_ms, m.flags, bm25({t})
         FROM {t} JOIN messages m ON m.id = {t}.rowid JOIN sessions s ON s.id = m.session_rowid
         WHERE {t} MATCH ?1 AND ?2 IS NULL{} ORDER BY bm25({t}) LIMIT {CANDIDATES_PER_TERM}",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let params = f.with_term(SqlValue::Text(m.to_string()), SqlValue::Null);
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        let role: String = r.get(4)?;
        let flags: i64 = r.get(6)?;
        let bm: f64 = r.get(7)?;
        Ok(Hit {
            mode,
            msg_id: r.get(0)?,
            session: r.get(1)?,
            source: r.get(2)?,
            ordinal: r.get(3)?,
            score: (-bm).max(0.01)
                * role_weight(&role)
                * background_factor(flags)
                * recency_factor(r.get(5)?, now),
            term,
            background: flags & FLAG_BACKGROUND != 0,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn substring_hits(
    conn: &Connection,
    needle: &str,
    f: &Filters,
    term: usize,
    now: i64,
) -> Result<Vec<Hit>> {
    let Some(m) = query::trigram_match(needle) else {
        return Ok(Vec::new());
    };
    let rows = newest_first(
        conn,
        Index::Trigram,
        SUBSTRING_SCAN_MAX,
        None,
        &m,
        Some(needle),
        f,
        |rows| rows.len() >= SUBSTRING_WANTED,
    )?;
    // No BM25 here: a confirmed substring of a rare needle is a strong match.
    Ok(rows
        .into_iter()
        .map(|r| Hit {
            mode: "substring",
            term,
            background: r.flags & FLAG_BACKGROUND != 0,
            score: 8.0
                * role_weight(&r.role)
                * background_factor(r.flags)
                * recency_factor(r.ts, now),
            ..r.hit
        })
        .collect())
}

/// Whether to read a term's last word as a prefix. FTS5 merges the matches of every word a
/// prefix begins before it looks at the phrase, whatever the rest of the query: for `run`
/// or `tes` that is most of the index. So it is not tried for a last word under
/// [`PREFIX_MIN_CHARS`] (the substring pass after it finds `cargo tes` in `cargo test`), nor
/// when the words before it never occur together, nor when the last word is itself a common
/// whole word (then the user meant it).
fn prefix_worth_trying(conn: &Connection, t: &Term) -> Result<bool> {
    if t.tokens.last().map_or(0, |w| w.chars().count()) < PREFIX_MIN_CHARS {
        return Ok(false);
    }
    if let Some(head) = t.head_phrase_match() {
        if count_up_to(conn, &head, 1)? == 0 {
            return Ok(false);
        }
    }
    Ok(match t.last_word_match() {
        Some(last) if t.tokens.len() >= 2 => count_up_to(conn, &last, COMMON + 1)? <= COMMON,
        _ => true,
    })
}

/// Finds one term's hits, trying the precise forms first; `strict` stops after all-words.
pub(super) fn term_hits(
    conn: &Connection,
    t: &Term,
    f: &Filters,
    idx: usize,
    now: i64,
    strict: bool,
) -> Result<Vec<Hit>> {
    if t.substring_first {
        if let Some(needle) = t.substring_needle() {
            let hits = substring_hits(conn, &needle, f, idx, now)?;
            if !hits.is_empty() {
                return Ok(hits);
            }
        }
    }
    if let Some(m) = t.phrase_match() {
        let hits = word_hits(conn, Index::Words, &m, "phrase", f, idx, now)?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if let Some(m) = t.all_words_match() {
        let hits = word_hits(conn, Index::Words, &m, "all_words", f, idx, now)?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    // The omitted middles of long outputs: every word in one message, adjacency unknown.
    // (An index of schema 4 or older, read where it cannot be migrated, has none.)
    if let Some(m) = t.word_set_match().filter(|_| has_middles(conn)) {
        let hits = word_hits(conn, Index::Middle, &m, "all_words", f, idx, now)?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if strict {
        return Ok(Vec::new());
    }
    if let Some(m) = t
        .prefix_phrase_match()
        .filter(|_| prefix_worth_trying(conn, t).unwrap_or(true))
    {
        let hits = word_hits(conn, Index::Words, &m, "prefix", f, idx, now)?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if !t.substring_first {
        if let Some(needle) = t.substring_needle() {
            let hits = substring_hits(conn, &needle, f, idx, now)?;
            if !hits.is_empty() {
                return Ok(hits);
            }
        }
    }
    match t.any_word_match() {
        Some(m) => word_hits(conn, Index::Words, &m, "any_word", f, idx, now),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorter_messages_weigh_more_for_a_common_word() {
        assert!(length_factor(100) > length_factor(2000));
        assert!(length_factor(2000) > length_factor(16_000));
        assert!(length_factor(0) <= 1.0 && length_factor(1_000_000) > 0.0);
    }
}
