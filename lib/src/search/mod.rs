//! `csep-recall`: query → ranked sessions, each with its best window(s) of messages.
//! `query` parses the syntax, `recall` runs it against the index, `output` is what it
//! answers, `render` prints it. `show` reads one session back (`csep show`), `show_render`
//! prints that.

mod output;
pub mod query;
pub mod recall;
pub mod render;
pub mod show;
pub mod show_render;

pub use recall::{recall, RecallOptions, RecallOutput, Scope};
pub use show::{show, ShowOptions, ShowOutput};
