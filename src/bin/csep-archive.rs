//! `csep-archive`: see `man csep-archive`. Argument parsing only; the work is in `csep::cmd::archive`.

use clap::Parser;
use csep::cmd::archive;

#[derive(Parser)]
#[command(name = "csep-archive", version, about = ABOUT)]
struct Cli {
    #[command(flatten)]
    args: archive::ArchiveArgs,
}

const ABOUT: &str = "Turn Codex and Claude Code transcripts into normalized JSON Lines records";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    csep::out::run(archive::TOOL, || archive::run(&cli.args))
}
