//! The commands, each a function from parsed arguments to output and an exit code. The small
//! binaries call one each; the `csep` umbrella maps csep 1.3.10's command names onto them,
//! and `compat` holds 1.3.10's own commands.

pub mod archive;
pub mod compat;
pub mod completions;
pub mod config;
pub mod forget;
pub mod hook;
pub mod index;
pub mod memory;
pub mod migrate;
pub mod recall;
pub mod reflect;
pub mod reflection;
pub mod setup;
pub mod status;
pub mod trigger;
pub mod umbrella;
pub mod verify;
