//! `csep show SESSION_ID` (also `csep-recall show` and `csep recall show`): an archived
//! session read back from the index, whole, from message N on, or K messages around N.

use crate::args::ShowArgs;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use csep_lib::search::show::ShowOutput;
use csep_lib::search::show_render;

/// Prints the session; exits 1 when the index holds no such session (or nothing yet).
pub fn run(tool: &str, args: &ShowArgs) -> Result<Exit, Failure> {
    let out: ShowOutput = crate::cmd::shared::show(args)?;
    crate::out::log_count("status", out.status);
    crate::out::log_count("messages", out.count);
    let mut o = Out::new();
    o.text(&show_render::render(&out, args.format.into()))?;
    o.flush()?;
    Ok(match out.status {
        "found" => Exit::Ok,
        "no_index" => {
            warn(tool, "no sessions are indexed yet");
            Exit::Negative
        }
        _ => {
            warn(
                tool,
                format_args!(
                    "no session {} in the index",
                    csep_lib::text::clean_line(&out.session_id)
                ),
            );
            Exit::Negative
        }
    })
}
