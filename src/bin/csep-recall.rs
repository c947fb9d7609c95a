//! `csep-recall`: see `man csep-recall`. Argument parsing only (`csep::cli`); the work is in
//! `csep::cmd::recall` (`csep::cmd::show` for `csep-recall show`).

use clap::Parser;
use csep::args::RecallCommand;
use csep::cmd::{recall, show};

fn main() -> std::process::ExitCode {
    let cli = csep::cli::RecallCli::parse();
    csep::out::run(recall::TOOL, || match &cli.command {
        Some(RecallCommand::Show(a)) => show::run(recall::TOOL, a),
        None => recall::run(&cli.args),
    })
}
