//! `csep-recall [QUERY]`: search the index, print Markdown (for a model), JSON or JSON Lines.

use crate::args::RecallArgs;
use crate::cmd::shared::{self, search_and_print};
use crate::exit::Exit;
use crate::out::Failure;

pub const TOOL: &str = shared::CSEP_RECALL;

/// `csep-recall` exits 1 when nothing matched, like grep.
pub fn run(args: &RecallArgs) -> Result<Exit, Failure> {
    Ok(match search_and_print(args)? {
        "matched" => Exit::Ok,
        _ => Exit::Negative,
    })
}
