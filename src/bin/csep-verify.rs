//! `csep-verify`: see `man csep-verify`. Argument parsing only (`csep::cli`); the work is in
//! `csep::cmd::verify`.

use clap::Parser;
use csep::cmd::verify;

fn main() -> std::process::ExitCode {
    let cli = csep::cli::VerifyCli::parse();
    csep::out::run(verify::TOOL, || verify::run(&cli.args))
}
