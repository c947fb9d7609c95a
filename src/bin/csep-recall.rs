//! `csep-recall`: see `man csep-recall`. Argument parsing only (`csep::cli`); the work is in
//! `csep::cmd::recall`.

use clap::Parser;
use csep::cmd::recall;

fn main() -> std::process::ExitCode {
    let cli = csep::cli::RecallCli::parse();
    csep::out::run(recall::TOOL, || recall::run(&cli.args))
}
