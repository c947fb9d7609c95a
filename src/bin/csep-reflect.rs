//! `csep-reflect`: see `man csep-reflect`. Argument parsing only (`csep::cli`); the work is in
//! `csep::cmd::reflect`.

use clap::Parser;
use csep::cmd::reflect;

fn main() -> std::process::ExitCode {
    let cli = csep::cli::ReflectCli::parse();
    csep::out::run(reflect::TOOL, || reflect::run(&cli.args))
}
