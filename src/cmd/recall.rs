//! `csep-recall [QUERY]`: search the index, print Markdown (for a model), JSON or JSON Lines.

use crate::args::{AgentArg, FormatArg, StateArgs};
use crate::exit::Exit;
use crate::out::{Failure, Out};
use clap::Args;
use csep_lib::index::db;
use csep_lib::search::render::{self, Format};
use csep_lib::search::{self, RecallOptions, Scope};
use csep_lib::timefmt;
use csep_lib::wire::{Agent, Role};
use csep_lib::Error;
use std::path::PathBuf;

pub const TOOL: &str = "csep-recall";

#[derive(Debug, Clone, Args)]
pub struct RecallArgs {
    /// What to find: `a|b|c` means any of them; "quoted phrase"; `word*` is a prefix.
    /// Put `--` before a query that starts with `-`
    #[arg(value_name = "QUERY", num_args = 0.., allow_hyphen_values = false)]
    pub query: Vec<String>,
    /// Directory whose repo sets the scope (all worktrees of the repo are included)
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Search every session, not only this repo's
    #[arg(long)]
    pub global: bool,
    /// Newest sessions first (with no query: list the most recent sessions)
    #[arg(long)]
    pub recent: bool,
    /// Sessions to return
    #[arg(long, visible_alias = "top-k", value_name = "N", default_value_t = 3)]
    pub limit: usize,
    /// Messages shown before each matched message
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub before: usize,
    /// Messages shown after each matched message
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub after: usize,
    /// Windows (matched places) shown per session
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub windows_per_session: usize,
    /// Characters of message text in the whole answer
    #[arg(long, value_name = "N", default_value_t = 12000)]
    pub budget_chars: usize,
    /// Characters shown per user or assistant message
    #[arg(long, value_name = "N", default_value_t = 1200)]
    pub message_chars: usize,
    /// Characters shown per tool message
    #[arg(long, value_name = "N", default_value_t = 600)]
    pub tool_message_chars: usize,
    /// Leave this session out (the one asking)
    #[arg(long, value_name = "ID")]
    pub current_session_id: Option<String>,
    /// A session must match every `|` alternative, and no loose fallbacks are tried
    #[arg(long)]
    pub all_terms: bool,
    /// Let injected context (environment, AGENTS.md, hook context, developer messages) match
    #[arg(long, visible_alias = "include-system")]
    pub include_background: bool,
    /// Only sessions of this host
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<AgentArg>,
    /// Only messages with this role (repeatable): user, assistant, tool, developer, system
    #[arg(long, value_name = "ROLE", value_delimiter = ',')]
    pub role: Vec<String>,
    /// Only sessions active since DATE (YYYY-MM-DD, RFC 3339, or an age such as 7d, 12h)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only sessions started until DATE
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Output format
    #[arg(long, value_name = "FORMAT", default_value = "markdown")]
    pub format: FormatArg,
    #[command(flatten)]
    pub state: StateArgs,
}

impl RecallArgs {
    pub fn query_text(&self) -> Option<String> {
        let q = self.query.join(" ");
        let q = q.trim();
        (!q.is_empty()).then(|| q.to_string())
    }

    pub fn options(&self) -> Result<RecallOptions, Error> {
        let now = timefmt::now_ms();
        let scope = if self.global {
            Scope::Global
        } else {
            let cwd = match &self.cwd {
                Some(c) => c.clone(),
                None => std::env::current_dir().map_err(|e| Error::io("current directory", e))?,
            };
            let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
            let id = csep_lib::repo::identify(&cwd.to_string_lossy());
            Scope::Repo {
                fingerprint: id.fingerprint,
                root: id.repo_root,
            }
        };
        let when = |flag: &str, v: &Option<String>| -> Result<Option<i64>, Error> {
            let parse = if flag == "--until" {
                timefmt::parse_until
            } else {
                timefmt::parse_when
            };
            v.as_deref()
                .map(|s| {
                    parse(s, now)
                        .ok_or_else(|| Error::usage(format!("{flag} {s:?}: expected YYYY-MM-DD, an RFC 3339 time, or an age like 7d")))
                })
                .transpose()
        };
        let roles = self
            .role
            .iter()
            .map(|r| {
                Role::parse(r.trim()).ok_or_else(|| {
                    Error::usage(format!(
                        "--role {r:?}: expected user, assistant, tool, developer or system"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.limit == 0 {
            return Err(Error::usage("--limit must be at least 1"));
        }
        Ok(RecallOptions {
            query: self.query_text(),
            scope,
            recent: self.recent,
            limit: self.limit,
            before: self.before,
            after: self.after,
            windows_per_session: self.windows_per_session.max(1),
            budget_chars: self.budget_chars.max(200),
            message_chars: self.message_chars.max(80),
            tool_message_chars: self.tool_message_chars.max(80),
            current_session_id: self.current_session_id.clone().filter(|s| !s.is_empty()),
            all_terms: self.all_terms,
            include_background: self.include_background,
            agent: self.agent.map(Agent::from),
            roles,
            since_ms: when("--since", &self.since)?,
            until_ms: when("--until", &self.until)?,
        })
    }
}

/// Runs a recall and prints it; returns the status for the caller's exit-code policy.
pub fn search_and_print(args: &RecallArgs) -> Result<&'static str, Failure> {
    let opts = args.options()?;
    if opts.query.is_none() && !opts.recent {
        return Err(Error::usage("a query is required unless --recent is given").into());
    }
    let result = db::read(&args.state.db(), |conn| search::recall(conn, &opts))?;
    crate::out::log_count("results", result.results.len());
    crate::out::log_count("status", result.status);
    let format = match args.format {
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Json => Format::Json,
        FormatArg::Jsonl => Format::Jsonl,
    };
    let mut out = Out::new();
    out.text(&render::render(&result, format))?;
    out.flush()?;
    Ok(result.status)
}

/// `csep-recall` exits 1 when nothing matched, like grep.
pub fn run(args: &RecallArgs) -> Result<Exit, Failure> {
    Ok(match search_and_print(args)? {
        "matched" => Exit::Ok,
        _ => Exit::Negative,
    })
}
