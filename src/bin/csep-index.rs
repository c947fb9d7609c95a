//! `csep-index`: see `man csep-index`. Argument parsing only; the work is in `csep::cmd::index`.

use clap::Parser;
use csep::cmd::index;

#[derive(Parser)]
#[command(name = "csep-index", version, about = ABOUT)]
struct Cli {
    #[command(flatten)]
    args: index::IndexArgs,
}

const ABOUT: &str =
    "Index transcript records into the local recall database (stdin, backfill, files, spool)";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    csep::out::run(index::TOOL, || index::run(&cli.args))
}
