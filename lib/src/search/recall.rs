//! Running a recall query.
//!
//! Each alternative of the query is looked up on its own, most precise way first: the words
//! as an adjacent phrase; failing that, all the words anywhere in one message; then the
//! phrase with its last word as a prefix; then (first, for CJK) the text as a substring
//! through the trigram index; last, any of its whitespace-separated words. Message scores
//! combine BM25, a role weight and recency; sessions are ranked by their best message, with
//! a bonus for more hits and for matching more alternatives.

pub use super::output::{
    Anchor, Budget, OtherHit, RecallOptions, RecallOutput, RecallResult, Scope, Window,
    WindowMessage,
};
use super::query::{self, Query, Term};
use crate::error::Result;
use crate::index::db::{FLAG_BACKGROUND, FLAG_TRUNCATED};
use crate::redact::redact;
use crate::timefmt;
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use std::collections::HashMap;

#[derive(Debug, Clone)]
struct Hit {
    mode: &'static str,
    msg_id: i64,
    session: i64,
    source: i64,
    ordinal: i64,
    score: f64,
    term: usize,
}

/// Rows fetched per term: enough to rank sessions, bounded for common words.
const CANDIDATES_PER_TERM: i64 = 3000;

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

struct Filters {
    sql: String,
    params: Vec<SqlValue>,
}

fn filters(opts: &RecallOptions, first_param: usize) -> Filters {
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
    Filters { sql, params }
}

fn word_hits(
    conn: &Connection,
    m: &str,
    mode: &'static str,
    f: &Filters,
    term: usize,
    now: i64,
) -> Result<Vec<Hit>> {
    let sql = format!(
        "SELECT m.id, m.session_rowid, m.source_rowid, m.ordinal, m.role, m.ts_ms, m.flags, bm25(fts_words)
         FROM fts_words JOIN messages m ON m.id = fts_words.rowid JOIN sessions s ON s.id = m.session_rowid
         WHERE fts_words MATCH ?1 AND ?2 IS NULL{} ORDER BY bm25(fts_words) LIMIT {CANDIDATES_PER_TERM}",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    // ?2 is the substring query's parameter; filters are numbered from ?3 for both.
    let mut params: Vec<SqlValue> = vec![SqlValue::Text(m.to_string()), SqlValue::Null];
    params.extend(f.params.iter().cloned());
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        let role: String = r.get(4)?;
        let flags: i64 = r.get(6)?;
        let bm: f64 = r.get(7)?;
        let bg = if flags & FLAG_BACKGROUND != 0 {
            0.5
        } else {
            1.0
        };
        Ok(Hit {
            mode,
            msg_id: r.get(0)?,
            session: r.get(1)?,
            source: r.get(2)?,
            ordinal: r.get(3)?,
            score: (-bm).max(0.01) * role_weight(&role) * bg * recency_factor(r.get(5)?, now),
            term,
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
    let sql = format!(
        "SELECT m.id, m.session_rowid, m.source_rowid, m.ordinal, m.role, m.ts_ms, m.flags,
                (CASE WHEN m.tool IS NOT NULL AND m.role = 'assistant' THEN instr(lower(m.tool || ' ' || m.text), ?2)
                      ELSE instr(lower(m.text), ?2) END) AS pos
         FROM fts_tri JOIN messages m ON m.id = fts_tri.rowid JOIN sessions s ON s.id = m.session_rowid
         WHERE fts_tri MATCH ?1{} AND pos > 0 LIMIT {CANDIDATES_PER_TERM}",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut params: Vec<SqlValue> = vec![SqlValue::Text(m), SqlValue::Text(needle.to_string())];
    params.extend(f.params.iter().cloned());
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        let role: String = r.get(4)?;
        let flags: i64 = r.get(6)?;
        let bg = if flags & FLAG_BACKGROUND != 0 {
            0.5
        } else {
            1.0
        };
        // No BM25 here: a confirmed substring of a rare needle is a strong match.
        Ok(Hit {
            mode: "substring",
            msg_id: r.get(0)?,
            session: r.get(1)?,
            source: r.get(2)?,
            ordinal: r.get(3)?,
            score: 8.0 * role_weight(&role) * bg * recency_factor(r.get(5)?, now),
            term,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Finds one term's hits, trying the precise forms first; `strict` stops after all-words.
fn term_hits(
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
        let hits = word_hits(conn, &m, "phrase", f, idx, now)?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if let Some(m) = t.all_words_match() {
        let hits = word_hits(conn, &m, "all_words", f, idx, now)?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if strict {
        return Ok(Vec::new());
    }
    if let Some(m) = t.prefix_phrase_match() {
        let hits = word_hits(conn, &m, "prefix", f, idx, now)?;
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
        Some(m) => word_hits(conn, &m, "any_word", f, idx, now),
        None => Ok(Vec::new()),
    }
}

struct SessionHits {
    score: f64,
    hits: Vec<Hit>,
    terms: Vec<bool>,
}

fn empty_output(opts: &RecallOptions, status: &'static str) -> RecallOutput {
    let (scope, repo) = match &opts.scope {
        Scope::Repo { root, .. } => ("repo", Some(root.clone())),
        Scope::Global => ("global", None),
    };
    RecallOutput {
        query: opts.query.clone().unwrap_or_default(),
        scope,
        repo,
        status,
        count: 0,
        recent: opts.recent,
        results: Vec::new(),
        budget: Budget {
            budget_chars: opts.budget_chars,
            used_chars: 0,
            message_chars: opts.message_chars,
            tool_message_chars: opts.tool_message_chars,
            truncated: false,
            truncation_reason: "",
        },
    }
}

/// Runs a recall. `conn` is `None` when no index exists yet.
pub fn recall(conn: Option<&Connection>, opts: &RecallOptions) -> Result<RecallOutput> {
    let parsed = match opts
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        Some(q) => Some(query::parse(q)?),
        None => None,
    };
    let Some(conn) = conn else {
        return Ok(empty_output(opts, "no_index"));
    };
    let now = timefmt::now_ms();
    let mut ranked: Vec<(i64, SessionHits)> = match &parsed {
        Some(q) => rank_sessions(conn, q, opts, now)?,
        None => recent_sessions(conn, opts)?,
    };
    if opts.recent && parsed.is_some() {
        let updated = session_updated(conn, ranked.iter().map(|(id, _)| *id))?;
        ranked.sort_by(|a, b| updated.get(&b.0).cmp(&updated.get(&a.0)));
    }
    ranked.truncate(opts.limit);
    let mut out = empty_output(
        opts,
        if ranked.is_empty() {
            "no_match"
        } else {
            "matched"
        },
    );
    let terms: Vec<Term> = parsed.as_ref().map(|q| q.terms.clone()).unwrap_or_default();
    let mut used = 0usize;
    for (session_rowid, sh) in ranked {
        let result = build_result(
            conn,
            session_rowid,
            &sh,
            &terms,
            opts,
            &mut used,
            &mut out.budget.truncated,
        )?;
        out.results.push(result);
    }
    out.count = out.results.len();
    out.budget.used_chars = used;
    if out.budget.truncated {
        out.budget.truncation_reason = "budget_exceeded";
    }
    Ok(out)
}

fn rank_sessions(
    conn: &Connection,
    q: &Query,
    opts: &RecallOptions,
    now: i64,
) -> Result<Vec<(i64, SessionHits)>> {
    let f = filters(opts, 3);
    let mut by_session: HashMap<i64, SessionHits> = HashMap::new();
    for (i, t) in q.terms.iter().enumerate() {
        // Parameters ?1 (and ?2 for substrings) belong to the term; filters start at ?3.
        let hits = term_hits(conn, t, &f, i, now, opts.all_terms)?;
        for h in hits {
            let e = by_session.entry(h.session).or_insert_with(|| SessionHits {
                score: 0.0,
                hits: Vec::new(),
                terms: vec![false; q.terms.len()],
            });
            e.terms[h.term] = true;
            e.hits.push(h);
        }
    }
    let mut ranked: Vec<(i64, SessionHits)> = by_session
        .into_iter()
        .filter(|(_, sh)| !opts.all_terms || sh.terms.iter().all(|&b| b))
        .map(|(id, mut sh)| {
            sh.hits.sort_by(|a, b| b.score.total_cmp(&a.score));
            let best = sh.hits.first().map_or(0.0, |h| h.score);
            let matched = sh.terms.iter().filter(|&&b| b).count();
            let hits = sh.hits.len() as f64;
            sh.score =
                best * (1.0 + 0.05 * (hits - 1.0).min(10.0)) * (1.0 + 0.5 * (matched as f64 - 1.0));
            (id, sh)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(b.0.cmp(&a.0)));
    Ok(ranked)
}

fn session_updated(conn: &Connection, ids: impl Iterator<Item = i64>) -> Result<HashMap<i64, i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT COALESCE(updated_ms, 0) FROM sessions WHERE id = ?1")?;
    let mut map = HashMap::new();
    for id in ids {
        let v: i64 = stmt.query_row([id], |r| r.get(0))?;
        map.insert(id, v);
    }
    Ok(map)
}

/// No query: the most recent sessions in scope, anchored on their last message.
fn recent_sessions(conn: &Connection, opts: &RecallOptions) -> Result<Vec<(i64, SessionHits)>> {
    // Session-level filters only: the listing has no message to filter.
    let mut o = opts.clone();
    o.include_background = true;
    o.roles.clear();
    let f = filters(&o, 1);
    let sql = format!(
        "SELECT s.id, (SELECT m.id || ',' || m.source_rowid || ',' || m.ordinal FROM messages m
                       WHERE m.session_rowid = s.id AND (m.flags & {FLAG_BACKGROUND}) = 0
                       ORDER BY m.ts_ms DESC, m.ordinal DESC LIMIT 1)
         FROM sessions s WHERE s.message_count > 0{}
         ORDER BY COALESCE(s.updated_ms, 0) DESC LIMIT {}",
        f.sql,
        opts.limit.max(1)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(f.params.iter()), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, last) = row?;
        let mut hits = Vec::new();
        if let Some(last) = last {
            let v: Vec<i64> = last.split(',').filter_map(|x| x.parse().ok()).collect();
            if let [msg_id, source, ordinal] = v[..] {
                hits.push(Hit {
                    mode: "recent",
                    msg_id,
                    session: id,
                    source,
                    ordinal,
                    score: 0.0,
                    term: 0,
                });
            }
        }
        out.push((
            id,
            SessionHits {
                score: 0.0,
                hits,
                terms: Vec::new(),
            },
        ));
    }
    Ok(out)
}

pub(crate) struct SessionRow {
    pub(crate) repo_fp: Option<String>,
    pub(crate) worktree: Option<String>,
    pub(crate) session_id: String,
    pub(crate) agent: String,
    pub(crate) source: Option<String>,
    pub(crate) repo: Option<String>,
    pub(crate) cwd: Option<String>,
    pub(crate) branch: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) started: Option<i64>,
    pub(crate) updated: Option<i64>,
}

pub(crate) fn session_row(conn: &Connection, id: i64) -> Result<SessionRow> {
    let mut stmt = conn.prepare_cached(
        "SELECT session_id, agent, source, repo_root, cwd, branch, title, started_ms, updated_ms, repo_fp, worktree_root
         FROM sessions WHERE id = ?1",
    )?;
    Ok(stmt.query_row([id], |r| {
        Ok(SessionRow {
            session_id: r.get(0)?,
            agent: r.get(1)?,
            source: r.get(2)?,
            repo: r.get(3)?,
            cwd: r.get(4)?,
            branch: r.get(5)?,
            title: r.get(6)?,
            started: r.get(7)?,
            updated: r.get(8)?,
            repo_fp: r.get(9)?,
            worktree: r.get(10)?,
        })
    })?)
}

/// Where a term matches in `text`, as a byte range (ASCII case-insensitive).
pub fn find_match(text: &str, term: &Term) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let needle = term.raw.to_ascii_lowercase();
    if let Some(i) = lower.find(&needle) {
        return Some((i, i + needle.len()));
    }
    let first = term.tokens.first()?;
    let last = term.tokens.last()?;
    let Some(start) = lower.find(first.as_str()) else {
        // Matched loosely (any word): mark the first word that occurs.
        return term
            .tokens
            .iter()
            .find_map(|t| lower.find(t.as_str()).map(|i| (i, i + t.len())));
    };
    let span_limit = start + needle.len() * 3 + 16;
    let end = lower[start..]
        .find(last.as_str())
        .map(|j| start + j + last.len())
        .filter(|&e| e <= span_limit)
        .unwrap_or(start + first.len());
    Some((start, end))
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cuts `text` to about `max` characters, centred on `focus` when given, marking the focus
/// with `>>>…<<<`.
pub fn excerpt(
    text: &str,
    focus: Option<(usize, usize)>,
    max: usize,
    mark: bool,
) -> (String, bool) {
    let max_bytes = max.max(40);
    match focus {
        Some((s, e)) => {
            let e = e.min(text.len());
            let room = max_bytes.saturating_sub(e - s) / 2;
            let from = floor_boundary(text, s.saturating_sub(room));
            let to = floor_boundary(text, (e + room).min(text.len()));
            let (s, e) = (floor_boundary(text, s), floor_boundary(text, e));
            let mut out = String::new();
            if from > 0 {
                out.push('…');
            }
            out.push_str(&text[from..s]);
            if mark {
                out.push_str(">>>");
            }
            out.push_str(&text[s..e]);
            if mark {
                out.push_str("<<<");
            }
            out.push_str(&text[e..to]);
            if to < text.len() {
                out.push('…');
            }
            (out, from > 0 || to < text.len())
        }
        None => {
            if text.len() <= max_bytes {
                (text.to_string(), false)
            } else {
                let to = floor_boundary(text, max_bytes);
                (format!("{}…", &text[..to]), true)
            }
        }
    }
}

pub(crate) struct MsgRow {
    pub(crate) ordinal: i64,
    pub(crate) role: String,
    pub(crate) tool: Option<String>,
    pub(crate) ts: Option<i64>,
    pub(crate) flags: i64,
    pub(crate) text: String,
    pub(crate) id: i64,
}

pub(crate) fn window_rows(
    conn: &Connection,
    source: i64,
    from: i64,
    to: i64,
) -> Result<Vec<MsgRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ordinal, role, tool, ts_ms, flags, text, id FROM messages
         WHERE source_rowid = ?1 AND ordinal BETWEEN ?2 AND ?3 ORDER BY ordinal",
    )?;
    let rows = stmt.query_map([source, from, to], |r| {
        Ok(MsgRow {
            ordinal: r.get(0)?,
            role: r.get(1)?,
            tool: r.get(2)?,
            ts: r.get(3)?,
            flags: r.get(4)?,
            text: r.get(5)?,
            id: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A transcript's path and, for a subagent's file, the subagent's id.
fn source_path(conn: &Connection, source: i64) -> Result<(Option<String>, Option<String>)> {
    let mut stmt = conn.prepare_cached("SELECT path, subagent FROM sources WHERE id = ?1")?;
    Ok(stmt
        .query_row([source], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap_or_default())
}

fn build_result(
    conn: &Connection,
    session_rowid: i64,
    sh: &SessionHits,
    terms: &[Term],
    opts: &RecallOptions,
    used: &mut usize,
    over_budget: &mut bool,
) -> Result<RecallResult> {
    let row = session_row(conn, session_rowid)?;
    // Pick anchors whose windows do not overlap, best first; show them in transcript order.
    let span = (opts.before + opts.after + 1) as i64;
    let mut anchors: Vec<&Hit> = Vec::new();
    for h in &sh.hits {
        if anchors.len() >= opts.windows_per_session.max(1) {
            break;
        }
        if anchors
            .iter()
            .any(|a| a.source == h.source && (a.ordinal - h.ordinal).abs() < span)
        {
            continue;
        }
        anchors.push(h);
    }
    let best_mode = sh.hits.first().map_or("recent", |h| h.mode);
    let mut matched = String::new();
    let mut windows = Vec::new();
    let mut ordered = anchors.clone();
    ordered.sort_by_key(|a| (a.source, a.ordinal));
    for a in ordered {
        let term = terms.get(a.term);
        let rows = window_rows(
            conn,
            a.source,
            a.ordinal - opts.before as i64,
            a.ordinal + opts.after as i64,
        )?;
        let mut messages = Vec::new();
        let mut window_matched = String::new();
        let mut anchor = Anchor {
            message_index: a.ordinal,
            role: String::new(),
            tool_name: None,
            matched_by: "fts",
        };
        for m in rows {
            let is_anchor = m.id == a.msg_id;
            if !is_anchor && !opts.include_background && m.flags & FLAG_BACKGROUND != 0 {
                continue;
            }
            let text = redact(&m.text);
            let limit = if m.role == "tool" {
                opts.tool_message_chars
            } else {
                opts.message_chars
            };
            let focus = if is_anchor {
                term.and_then(|t| find_match(&text, t))
            } else {
                None
            };
            if is_anchor {
                window_matched = excerpt(&text, focus, 240, focus.is_some()).0;
                if std::ptr::eq(a, anchors[0]) {
                    matched.clone_from(&window_matched);
                }
                anchor.role.clone_from(&m.role);
                anchor.tool_name.clone_from(&m.tool);
                anchor.matched_by = if a.mode == "substring" {
                    "trigram"
                } else {
                    "fts"
                };
            }
            let (shown, cut) = excerpt(&text, focus, limit, is_anchor && focus.is_some());
            let cost = shown.len() + m.role.len() + 8;
            // The anchor is always shown; its neighbours only while the budget lasts.
            if *used + cost > opts.budget_chars && !is_anchor {
                *over_budget = true;
                continue;
            }
            *used += cost;
            messages.push(WindowMessage {
                message_index: m.ordinal,
                role: m.role,
                tool_name: m.tool,
                timestamp: m.ts.map(timefmt::format_iso_ms),
                content: shown,
                anchor: is_anchor,
                truncated: cut || m.flags & FLAG_TRUNCATED != 0,
            });
        }
        let (source, subagent) = source_path(conn, a.source)?;
        windows.push(Window {
            matched: window_matched,
            anchor,
            source,
            subagent,
            messages,
        });
    }
    let other_hits = sh
        .hits
        .iter()
        .filter(|h| !anchors.iter().any(|a| a.msg_id == h.msg_id))
        .take(10)
        .map(|h| other_hit(conn, h, terms))
        .collect::<Result<Vec<_>>>()?;
    let matched_terms = terms
        .iter()
        .zip(sh.terms.iter())
        .filter(|(_, &m)| m)
        .map(|(t, _)| t.raw.clone())
        .collect();
    Ok(RecallResult {
        kind: "result",
        session_id: row.session_id,
        agent: row.agent,
        score: (sh.score * 1000.0).round() / 1000.0,
        query_mode: best_mode,
        matched,
        matched_terms,
        source: row.source,
        repo: row.repo,
        cwd: row.cwd,
        repo_fingerprint: row.repo_fp,
        worktree: row.worktree,
        branch: row.branch,
        title: row.title.map(|t| redact(&t).into_owned()),
        started_at: row.started.map(timefmt::format_iso_ms),
        updated_at: row.updated.map(timefmt::format_iso_ms),
        hit_count: sh.hits.len(),
        other_hits,
        windows,
    })
}

fn other_hit(conn: &Connection, h: &Hit, terms: &[Term]) -> Result<OtherHit> {
    let mut stmt = conn.prepare_cached("SELECT role, text FROM messages WHERE id = ?1")?;
    let (role, text): (String, String) =
        stmt.query_row([h.msg_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let text = redact(&text);
    let focus = terms.get(h.term).and_then(|t| find_match(&text, t));
    Ok(OtherHit {
        message_index: h.ordinal,
        role,
        snippet: excerpt(&text, focus, 160, focus.is_some()).0,
    })
}
