//! `csep-reflect`: see `man csep-reflect`. Argument parsing only; the work is in
//! `csep::cmd::reflect`.

use clap::Parser;
use csep::cmd::reflect;

#[derive(Parser)]
#[command(name = "csep-reflect", version, about = ABOUT)]
struct Cli {
    #[command(flatten)]
    args: reflect::ReflectArgs,
}

const ABOUT: &str = "Run queued reflection jobs: a model proposes memory and skill changes in \
                     runs/<job>/, csep-verify checks and applies them";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    csep::out::run(reflect::TOOL, || reflect::run(&cli.args))
}
