//! `csep-archive`: see `man csep-archive`. Argument parsing only (`csep::cli`); the work is in
//! `csep::cmd::archive`.

use clap::Parser;
use csep::cmd::archive;

fn main() -> std::process::ExitCode {
    let cli = csep::cli::ArchiveCli::parse();
    csep::out::run(archive::TOOL, || archive::run(&cli.args))
}
