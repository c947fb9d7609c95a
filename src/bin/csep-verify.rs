//! `csep-verify`: see `man csep-verify`. Argument parsing only; the work is in
//! `csep::cmd::verify`.

use clap::Parser;
use csep::cmd::verify;

#[derive(Parser)]
#[command(name = "csep-verify", version, about = ABOUT)]
struct Cli {
    #[command(flatten)]
    args: verify::VerifyArgs,
}

const ABOUT: &str = "Check a reflection proposal against hard boundaries and apply it \
                     atomically with a receipt and a journal; or undo an applied job";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    csep::out::run(verify::TOOL, || verify::run(&cli.args))
}
