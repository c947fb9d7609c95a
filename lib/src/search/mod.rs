//! `csep-recall`: query → ranked sessions, each with its best window(s) of messages.
//! `query` parses the syntax, `recall` runs it against the index, `output` is what it
//! answers, `render` prints it.

mod hits;
mod output;
pub mod query;
pub mod recall;
pub mod render;

pub use recall::{recall, RecallOptions, RecallOutput, Scope};
