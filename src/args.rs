//! Argument groups shared by several binaries, so a flag means the same thing everywhere.

use clap::Args;
use csep_lib::archive::Caps;
use csep_lib::search::render::Format;
use csep_lib::search::show::{
    ShowOptions, DEFAULT_BUDGET_CHARS, DEFAULT_MESSAGE_CHARS, DEFAULT_TOOL_MESSAGE_CHARS,
};
use csep_lib::search::{RecallOptions, Scope};
use csep_lib::timefmt;
use csep_lib::wire::{Agent, Role};
use csep_lib::Error;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// State directory [default: $CSEP_HOME, else $CODEX_SELF_EVOLUTION_HOME, else ~/.codex-self-evolution]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The state directory `--state-dir` (or the environment) names; also where this run's log
/// line goes.
fn state_dir(explicit: Option<&std::path::Path>) -> PathBuf {
    let d = csep_lib::paths::state_dir(explicit);
    crate::out::log_state_dir(&d);
    user_patterns_from(&d);
    d
}

/// The user's secret patterns (`[redact] patterns` in `dir`'s config.toml) join the built-in
/// redaction rules for this run. They are read when the first text is redacted; one that
/// does not compile is skipped with a warning on stderr. The first state directory wins.
pub fn user_patterns_from(dir: &std::path::Path) {
    let dir = dir.to_path_buf();
    csep_lib::redact::set_user_patterns_source(move || {
        let (patterns, warnings) = csep_lib::config::redact_patterns(&dir);
        for w in warnings {
            crate::out::warn(crate::out::tool(), w);
        }
        patterns
    });
}

impl StateArgs {
    pub fn dir(&self) -> PathBuf {
        state_dir(self.state_dir.as_deref())
    }
    pub fn db(&self) -> PathBuf {
        csep_lib::paths::index_db(&self.dir())
    }
}

/// [`StateArgs`] for the commands csep 1.3.10 gave a `--home` flag (`status`,
/// `session-reflect`), so its users' scripts keep working.
#[derive(Debug, Clone, Args)]
pub struct HomeArgs {
    /// State directory [default: $CSEP_HOME, else $CODEX_SELF_EVOLUTION_HOME, else ~/.codex-self-evolution]
    #[arg(long, value_name = "DIR", visible_alias = "home")]
    pub state_dir: Option<PathBuf>,
}

impl HomeArgs {
    pub fn dir(&self) -> PathBuf {
        state_dir(self.state_dir.as_deref())
    }
}

#[derive(Debug, Clone, Args)]
pub struct CapsArgs {
    /// Bytes kept from the start of a long tool output
    #[arg(long, value_name = "BYTES", default_value_t = Caps::DEFAULT.tool_head)]
    pub tool_head_bytes: usize,
    /// Bytes kept from the end of a long tool output (where errors usually are)
    #[arg(long, value_name = "BYTES", default_value_t = Caps::DEFAULT.tool_tail)]
    pub tool_tail_bytes: usize,
    /// Bytes kept from the start of a long user or assistant message
    #[arg(long, value_name = "BYTES", default_value_t = Caps::DEFAULT.text_head)]
    pub text_head_bytes: usize,
    /// Bytes kept from the end of a long user or assistant message
    #[arg(long, value_name = "BYTES", default_value_t = Caps::DEFAULT.text_tail)]
    pub text_tail_bytes: usize,
}

impl CapsArgs {
    pub fn caps(&self) -> Caps {
        Caps {
            tool_head: self.tool_head_bytes,
            tool_tail: self.tool_tail_bytes,
            text_head: self.text_head_bytes,
            text_tail: self.text_tail_bytes,
        }
    }
}

/// How far back a backfill looks.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Only transcripts modified in the last N days
    #[arg(
        long,
        value_name = "N",
        default_value_t = 30,
        conflicts_with = "all_history"
    )]
    pub since_days: u64,
    /// Every transcript, however old
    #[arg(long)]
    pub all_history: bool,
    /// Only the newest N transcripts
    #[arg(long, value_name = "N")]
    pub limit_files: Option<usize>,
}

impl HistoryArgs {
    pub fn since(&self) -> Option<u64> {
        (!self.all_history).then_some(self.since_days)
    }
}

/// A host, as `--agent`, `--backfill` and `csep hook AGENT` take it. No doc comments on the
/// variants: clap would list them with help under `--help`, which says
/// `[possible values: codex, claude]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentArg {
    Codex,
    Claude,
    Copilot,
    Qwen,
    Droid,
    Gemini,
    #[value(name = "opencode")]
    OpenCode,
    Cursor,
    Aider,
}

impl From<AgentArg> for csep_lib::wire::Agent {
    fn from(a: AgentArg) -> Self {
        use csep_lib::wire::Agent;
        match a {
            AgentArg::Codex => Agent::Codex,
            AgentArg::Claude => Agent::Claude,
            AgentArg::Copilot => Agent::Copilot,
            AgentArg::Qwen => Agent::Qwen,
            AgentArg::Droid => Agent::Droid,
            AgentArg::Gemini => Agent::Gemini,
            AgentArg::OpenCode => Agent::OpenCode,
            AgentArg::Cursor => Agent::Cursor,
            AgentArg::Aider => Agent::Aider,
        }
    }
}

/// `--format` where a reader may be a person or a script: Markdown, one JSON document, or
/// JSON Lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Markdown,
    Json,
    Jsonl,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
        }
    }
}

/// `--format` of a single document: Markdown or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormatArg {
    Markdown,
    Json,
}

/// `csep-recall`'s flags, which `csep recall` takes too (with its command words).
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
    /// Output format [default: markdown]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
    #[command(flatten)]
    pub state: StateArgs,
}

impl RecallArgs {
    /// The output format, Markdown unless `--format` names another. (Unset rather than
    /// defaulted, so a backfill on a terminal can tell an explicit `--format markdown` from
    /// none, which gets the summary for a person.)
    pub fn format(&self) -> FormatArg {
        self.format.unwrap_or(FormatArg::Markdown)
    }

    /// Every flag at its default, as `csep-recall` run with none has them: where a caller
    /// other than the command line (`csep mcp`) starts, so the defaults are clap's alone.
    pub fn defaults() -> RecallArgs {
        #[derive(clap::Parser)]
        struct Bare {
            #[command(flatten)]
            args: RecallArgs,
        }
        <Bare as clap::Parser>::parse_from(["csep-recall"]).args
    }

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
        let roles = parse_roles(&self.role)?;
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

/// `--role` values, as recall and show take them.
pub fn parse_roles(values: &[String]) -> Result<Vec<Role>, Error> {
    values
        .iter()
        .map(|r| {
            Role::parse(r.trim()).ok_or_else(|| {
                Error::usage(format!(
                    "--role {r:?}: expected user, assistant, tool, developer or system"
                ))
            })
        })
        .collect()
}

/// The command words `csep-recall` and `csep recall` take in place of a query. A word after
/// `--`, a quoted `'"show"'`, or `show` after another query word still searches.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RecallCommand {
    /// Read an archived session back from the index (same as `csep show`)
    Show(Box<ShowArgs>),
}

/// `csep show`'s flags (also `csep-recall show`, `csep recall show`).
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The session, as recall prints it (Claude Code's `claude:` prefix may be left out)
    #[arg(value_name = "SESSION_ID")]
    pub session_id: String,
    /// Start at message N (recall's message_index); with --around, centre on it
    #[arg(long, value_name = "N")]
    pub message: Option<i64>,
    /// Show the K messages before and after --message N instead of reading on from it
    #[arg(long, value_name = "K", requires = "message")]
    pub around: Option<usize>,
    /// Read a subagent's transcript of the session (recall names it) instead of the main one
    #[arg(long, value_name = "NAME")]
    pub subagent: Option<String>,
    /// Only messages with this role (repeatable): user, assistant, tool, developer, system
    #[arg(long, value_name = "ROLE", value_delimiter = ',')]
    pub role: Vec<String>,
    /// Show injected context too (environment, AGENTS.md, hook context, developer messages)
    #[arg(long)]
    pub include_background: bool,
    /// Characters of message text in the whole answer
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BUDGET_CHARS)]
    pub budget_chars: usize,
    /// Characters shown per user or assistant message
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MESSAGE_CHARS)]
    pub message_chars: usize,
    /// Characters shown per tool message
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOOL_MESSAGE_CHARS)]
    pub tool_message_chars: usize,
    /// Output format
    #[arg(long, value_name = "FORMAT", default_value = "markdown")]
    pub format: FormatArg,
    #[command(flatten)]
    pub state: StateArgs,
}

impl ShowArgs {
    pub fn options(&self) -> Result<ShowOptions, Error> {
        let mut o = ShowOptions::new(self.session_id.trim());
        o.message = self.message;
        o.around = self.around;
        o.subagent = self.subagent.clone();
        o.roles = parse_roles(&self.role)?;
        o.include_background = self.include_background;
        // The floors recall has, so a typo cannot ask for an empty answer.
        o.budget_chars = self.budget_chars.max(200);
        o.message_chars = self.message_chars.max(80);
        o.tool_message_chars = self.tool_message_chars.max(80);
        Ok(o)
    }
}
