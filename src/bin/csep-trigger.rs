//! `csep-trigger`: see `man csep-trigger`. Argument parsing only; the work is in
//! `csep::cmd::trigger`.

use clap::Parser;
use csep::cmd::trigger;

#[derive(Parser)]
#[command(name = "csep-trigger", version, about = ABOUT)]
struct Cli {
    #[command(flatten)]
    args: trigger::TriggerArgs,
}

const ABOUT: &str = "Decide whether a session is due for reflection (hook payload in, decision \
                     JSON out); queue the job when it is";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    csep::out::run(trigger::TOOL, || trigger::run(&cli.args))
}
