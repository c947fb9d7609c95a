//! `csep`: the umbrella command, with csep 1.3.10's command surface. See `man csep`.

use clap::Parser;
use csep::cmd::umbrella::{self, Command};

#[derive(Parser)]
#[command(
    name = "csep",
    version,
    about = "Local memory and session recall for coding agents (Codex CLI, Claude Code)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    csep::out::run(umbrella::TOOL, || umbrella::run(&cli.command))
}
