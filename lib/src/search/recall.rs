//! Running a recall query.
//!
//! Each alternative of the query is looked up on its own, most precise way first: the words
//! as an adjacent phrase; failing that, all the words anywhere in one message; then the
//! phrase with its last word as a prefix; then (first, for CJK) the text as a substring
//! through the trigram index; last, any of its whitespace-separated words ([`super::hits`]
//! finds and scores each form's messages). Sessions are ranked by their best message, with
//! a bonus for more hits and for matching more alternatives.

use super::hits::{term_hits, Filters, Hit};
pub use super::output::{
    Anchor, Budget, OtherHit, RecallOptions, RecallOutput, RecallResult, Scope, Window,
    WindowMessage,
};
use super::query::{self, Query, Term};
use crate::error::Result;
use crate::index::db::{FLAG_BACKGROUND, FLAG_TRUNCATED};
use crate::redact::redact;
use crate::timefmt;
use rusqlite::Connection;
use std::collections::HashMap;

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
        budget: Budget::unspent(
            opts.budget_chars,
            opts.message_chars,
            opts.tool_message_chars,
        ),
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
        Some(q) => {
            let ranked = rank_sessions(conn, q, opts, now)?;
            if ranked.is_empty() && !opts.include_background {
                // Nothing matched outside injected context. A project's or repository's name
                // is often only there (the environment context, AGENTS.md): search it too,
                // and each result says where it matched (`matched_in`).
                let mut o = opts.clone();
                o.include_background = true;
                rank_sessions(conn, q, &o, now)?
            } else {
                ranked
            }
        }
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
    let f = Filters::new(opts);
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
    let f = Filters::numbered(&o, 1);
    let sql = format!(
        "SELECT s.id, (SELECT m.id || ',' || m.source_rowid || ',' || m.ordinal FROM messages m
                       WHERE m.session_rowid = s.id AND (m.flags & {FLAG_BACKGROUND}) = 0
                       ORDER BY m.ts_ms DESC, m.ordinal DESC LIMIT 1)
         FROM sessions s WHERE s.message_count > 0{}
         ORDER BY COALESCE(s.updated_ms, 0) DESC LIMIT {}",
        f.sql(),
        opts.limit.max(1)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(f.params().iter()), |r| {
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
                    background: false,
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

/// The `[… N bytes omitted …]` line of a text cut to its head and tail.
fn omitted_marker(text: &str) -> Option<(usize, usize)> {
    let start = text.find("\n[… ")? + 1;
    let end = start + text[start..].find(" omitted …]")? + " omitted …]".len();
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
                term.and_then(|t| find_match(&text, t)).or_else(|| {
                    // Matched in the middle of a long output, which the index searched but
                    // did not keep: show where it was left out.
                    (m.flags & FLAG_TRUNCATED != 0)
                        .then(|| omitted_marker(&text))
                        .flatten()
                })
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
        matched_in: if sh.hits.first().is_some_and(|h| h.background) {
            "background"
        } else {
            "conversation"
        },
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
