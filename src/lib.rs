//! CLI glue shared by every csep binary: the exit-code table, the stdout writer (broken
//! pipe is success), stderr messages prefixed with the tool name, shared argument groups,
//! every binary's command line, and the commands themselves, so the small tools and the
//! `csep` umbrella run the same code.

pub mod args;
pub mod cli;
pub mod cmd;
pub mod exit;
pub mod human;
pub mod out;

pub use exit::Exit;
