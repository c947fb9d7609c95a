//! The command lines of every binary, in one place: each binary parses its own, and
//! `csep completions` asks clap for any of them to generate shell completions.

use crate::args::{RecallArgs, RecallCommand};
use crate::cmd::shared::{
    CSEP, CSEP_ARCHIVE, CSEP_INDEX, CSEP_RECALL, CSEP_REFLECT, CSEP_TRIGGER, CSEP_VERIFY,
};
use crate::cmd::{archive, index, reflect, trigger, umbrella, verify};
use clap::{CommandFactory, Parser};

#[derive(Parser)]
#[command(
    name = CSEP,
    version,
    about = "Local memory and session recall for coding agents (Codex CLI, Claude Code)"
)]
pub struct CsepCli {
    #[command(subcommand)]
    pub command: umbrella::Command,
}

#[derive(Parser)]
#[command(
    name = CSEP_ARCHIVE,
    version,
    about = "Turn Codex and Claude Code transcripts into normalized JSON Lines records"
)]
pub struct ArchiveCli {
    #[command(flatten)]
    pub args: archive::ArchiveArgs,
}

#[derive(Parser)]
#[command(
    name = CSEP_INDEX,
    version,
    about = "Index transcript records into the local recall database (stdin, backfill, files, spool)"
)]
pub struct IndexCli {
    #[command(flatten)]
    pub args: index::IndexArgs,
}

#[derive(Parser)]
#[command(
    name = CSEP_RECALL,
    version,
    about = "Search past agent sessions: Markdown for a model, JSON or JSON Lines for scripts",
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true
)]
pub struct RecallCli {
    #[command(flatten)]
    pub args: RecallArgs,
    /// `show SESSION_ID …` in place of a query
    #[command(subcommand)]
    pub command: Option<RecallCommand>,
}

#[derive(Parser)]
#[command(
    name = CSEP_REFLECT,
    version,
    about = "Run queued reflection jobs: a model proposes memory and skill changes in \
                     runs/<job>/, csep-verify checks and applies them"
)]
pub struct ReflectCli {
    #[command(flatten)]
    pub args: reflect::ReflectArgs,
}

#[derive(Parser)]
#[command(
    name = CSEP_TRIGGER,
    version,
    about = "Decide whether a session is due for reflection (hook payload in, decision \
                     JSON out); queue the job when it is"
)]
pub struct TriggerCli {
    #[command(flatten)]
    pub args: trigger::TriggerArgs,
}

#[derive(Parser)]
#[command(
    name = CSEP_VERIFY,
    version,
    about = "Check a reflection proposal against hard boundaries and apply it \
                     atomically with a receipt and a journal; or undo an applied job"
)]
pub struct VerifyCli {
    #[command(flatten)]
    pub args: verify::VerifyArgs,
}

/// Every binary's name, the umbrella first.
pub const TOOLS: &[&str] = &[
    CSEP,
    CSEP_ARCHIVE,
    CSEP_INDEX,
    CSEP_RECALL,
    CSEP_TRIGGER,
    CSEP_REFLECT,
    CSEP_VERIFY,
];

/// The clap command of binary `tool`.
pub fn command(tool: &str) -> Option<clap::Command> {
    Some(match tool {
        CSEP => CsepCli::command(),
        CSEP_ARCHIVE => ArchiveCli::command(),
        CSEP_INDEX => IndexCli::command(),
        CSEP_RECALL => RecallCli::command(),
        CSEP_REFLECT => ReflectCli::command(),
        CSEP_TRIGGER => TriggerCli::command(),
        CSEP_VERIFY => VerifyCli::command(),
        _ => return None,
    })
}
