//! The `csep` umbrella: csep 1.3.10's command names and flags, dispatched to the commands
//! (`src/cmd/*`) the small tools run and to 1.3.10's compatibility commands
//! ([`super::compat`]). It parses nothing itself and calls no library operation: dispatch
//! only.

use crate::cmd::compat::{SessionArchive, SessionIngest, UmbrellaRecall};
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::Failure;
use clap::Subcommand;

pub const TOOL: &str = shared::CSEP;

// Parsed once per process: a variant's size costs nothing worth boxing it for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search past sessions; `recall bootstrap` / `recall sync-claude` / `recall sync HOST` backfill the index; `recall forget` removes a session; `recall rebuild` replaces a damaged index; `recall import-legacy` imports csep 1.3.10's database
    Recall(UmbrellaRecall),
    /// Read an archived session back from the index: whole, from --message N, or --around it
    Show(crate::args::ShowArgs),
    /// Archive one session's transcript into the index (what the Stop hook does)
    SessionArchive(SessionArchive),
    /// Backfill Codex sessions into the index (all history unless --since-days)
    SessionIngest(SessionIngest),
    /// Transcripts → JSON Lines records (same as csep-archive)
    Archive(crate::cmd::archive::ArchiveArgs),
    /// Records, a backfill, files or the spool → the index (same as csep-index)
    Index(crate::cmd::index::IndexArgs),
    /// Run as a hook: `csep hook codex|claude [EVENT]` with the payload on stdin (always exits 0)
    Hook(crate::cmd::hook::HookArgs),
    /// SessionStart: print the repo's memory and the recall policy as hook context
    SessionStart(crate::cmd::hook::SessionStartArgs),
    /// Stop / SessionEnd: queue the transcript for archiving and start the drainer
    SessionStop(crate::cmd::hook::SessionStopArgs),
    /// Archive every queued transcript and run the trigger (what Stop hooks start)
    Drain(crate::cmd::hook::DrainArgs),
    /// Install csep's hooks into Codex (trusted) and Claude Code, then backfill
    Setup(crate::cmd::setup::SetupArgs),
    /// Undo exactly what setup did (per the install manifest)
    Uninstall(crate::cmd::setup::UninstallArgs),
    /// Reflection: --status, run a queued job (--job ID), or trigger and run (--hook-payload FILE)
    SessionReflect(crate::cmd::reflect::SessionReflectArgs),
    /// csep 1.3.10's `write-receipt`: check a run's proposal and draft early, changing nothing
    SessionReflection(crate::cmd::reflection::SessionReflectionArgs),
    /// Read-only diagnostic snapshot (JSON): hooks, config, memory, index, queues, reflection, warnings
    Status(crate::cmd::status::StatusArgs),
    /// Print shell completions for csep or one of its tools (bash, zsh, fish, …)
    Completions(crate::cmd::completions::CompletionsArgs),
    /// Run queued reflection jobs (same as csep-reflect; the drainer starts it when one is queued)
    Reflect(crate::cmd::reflect::ReflectArgs),
    /// Check a reflection proposal and apply it, or undo a job (same as csep-verify)
    Verify(crate::cmd::verify::VerifyArgs),
    /// config.toml: `path`, `show [--raw]`, `init [--force]`, `validate`
    Config(crate::cmd::config::ConfigArgs),
    /// The repo's memory for people: show, list (with provenance), add, forget, pin, unpin, edit
    Memory(crate::cmd::memory::MemoryArgs),
    /// Serve recall, sessions and memory to any agent over MCP (stdio JSON-RPC)
    Mcp(crate::cmd::mcp::McpArgs),
    /// Fold memory buckets of worktrees into their repository's bucket (a dry run unless --apply)
    MigrateWorktrees(crate::cmd::migrate::MigrateArgs),
}

pub fn run(cmd: &Command) -> Result<Exit, Failure> {
    // The subcommand's name as the user typed it, for the run log.
    if let Some(name) = std::env::args().nth(1) {
        crate::out::log_command(&name);
    }
    match cmd {
        Command::Recall(a) => match &a.command {
            Some(crate::args::RecallCommand::Show(s)) => crate::cmd::show::run(TOOL, s),
            None => crate::cmd::compat::recall_cmd(a),
        },
        Command::Show(a) => crate::cmd::show::run(TOOL, a),
        Command::SessionArchive(a) => crate::cmd::compat::session_archive(a),
        Command::SessionIngest(a) => crate::cmd::compat::session_ingest(a),
        Command::Archive(a) => crate::cmd::archive::run(a),
        Command::Index(a) => crate::cmd::index::run(a),
        Command::Hook(a) => crate::cmd::hook::run_hook(a),
        Command::SessionStart(a) => crate::cmd::hook::run_session_start(a),
        Command::SessionStop(a) => crate::cmd::hook::run_session_stop(a),
        Command::Drain(a) => crate::cmd::hook::run_drain(a),
        Command::Setup(a) => crate::cmd::setup::run_setup(a),
        Command::Uninstall(a) => crate::cmd::setup::run_uninstall(a),
        Command::SessionReflect(a) => crate::cmd::reflect::run_session_reflect(a),
        Command::SessionReflection(a) => crate::cmd::reflection::run(a),
        Command::Status(a) => crate::cmd::status::run(a),
        Command::Completions(a) => crate::cmd::completions::run(a),
        Command::Reflect(a) => crate::cmd::reflect::run(a),
        Command::Verify(a) => crate::cmd::verify::run(a),
        Command::Config(a) => crate::cmd::config::run(a),
        Command::MigrateWorktrees(a) => crate::cmd::migrate::run(a),
        Command::Memory(a) => crate::cmd::memory::run(a),
        Command::Mcp(a) => crate::cmd::mcp::run(a),
    }
}
