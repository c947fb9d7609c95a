//! csep's library: everything the binaries do, with no printing, no exiting and no argv.
//!
//! Data flows `archive` (transcript → records) → `index` (records → SQLite) → `search`
//! (query → ranked sessions with windows). `wire` holds the JSON Lines record types that
//! pass between the tools; `paths`, `repo`, `redact` and `timefmt` are shared helpers.

pub mod archive;
pub mod config;
pub mod envfile;
pub mod error;
pub mod fsutil;
pub mod hook;
pub mod index;
pub mod logs;
pub mod memory;
pub mod migrate;
pub mod paths;
pub mod private;
pub mod provenance;
pub mod redact;
pub mod reflect;
pub mod repo;
pub mod search;
pub mod setup;
pub mod spool;
pub mod status;
pub mod text;
pub mod timefmt;
pub mod trigger;
pub mod verify;
pub mod wire;

pub use error::{Error, ErrorKind, Fault, Result};

#[cfg(test)]
mod module_graph;
