//! `csep-trigger`: see `man csep-trigger`. Argument parsing only (`csep::cli`); the work is in
//! `csep::cmd::trigger`.

use clap::Parser;
use csep::cmd::trigger;

fn main() -> std::process::ExitCode {
    let cli = csep::cli::TriggerCli::parse();
    csep::out::run(trigger::TOOL, || trigger::run(&cli.args))
}
