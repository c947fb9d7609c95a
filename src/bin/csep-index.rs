//! `csep-index`: see `man csep-index`. Argument parsing only (`csep::cli`); the work is in
//! `csep::cmd::index`.

use clap::Parser;
use csep::cmd::index;

fn main() -> std::process::ExitCode {
    let cli = csep::cli::IndexCli::parse();
    csep::out::run(index::TOOL, || index::run(&cli.args))
}
