//! `csep-recall`: see `man csep-recall`. Argument parsing only; the work is in `csep::cmd::recall`.

use clap::Parser;
use csep::cmd::recall;

#[derive(Parser)]
#[command(name = "csep-recall", version, about = ABOUT)]
struct Cli {
    #[command(flatten)]
    args: recall::RecallArgs,
}

const ABOUT: &str =
    "Search past agent sessions: Markdown for a model, JSON or JSON Lines for scripts";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    csep::out::run(recall::TOOL, || recall::run(&cli.args))
}
