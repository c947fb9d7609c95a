//! `csep`: the umbrella command, with csep 1.3.10's command surface. See `man csep`.
//! Argument parsing only (`csep::cli`); the work is in `csep::cmd::umbrella`.

use clap::Parser;
use csep::cmd::umbrella;

fn main() -> std::process::ExitCode {
    let cli = csep::cli::CsepCli::parse();
    csep::out::run(umbrella::TOOL, || umbrella::run(&cli.command))
}
