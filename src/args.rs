//! Argument groups shared by several binaries, so a flag means the same thing everywhere.

use clap::Args;
use csep_lib::archive::Caps;
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

/// A host, as `--agent` and `--backfill` take it. No doc comments on the variants: clap
/// would list them with help under `--help`, which says `[possible values: codex, claude]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentArg {
    Codex,
    Claude,
}

impl From<AgentArg> for csep_lib::wire::Agent {
    fn from(a: AgentArg) -> Self {
        match a {
            AgentArg::Codex => csep_lib::wire::Agent::Codex,
            AgentArg::Claude => csep_lib::wire::Agent::Claude,
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

/// `--format` of a single document: Markdown or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormatArg {
    Markdown,
    Json,
}
