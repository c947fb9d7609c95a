//! `csep-index`: records → SQLite. `db` owns the schema, `ingest` applies one file's records
//! in a transaction, `backfill` walks a transcript root with parallel parsers and one writer,
//! `spool` drains queued hook payloads, `forget` removes a session and keeps it out,
//! `health` names a damaged index and keeps writers out of it, `rebuild` replaces it,
//! `evidence` reads a session's text by author for csep-verify, `window` a session's messages
//! in a review window for csep-reflect, `sessions` the rows the trigger, migrate-worktrees
//! and session-archive ask for, `stats` the figures of `csep status`. Every SQL statement
//! of the library lives here or in `search`.

pub mod backfill;
pub mod db;
pub mod evidence;
pub mod forget;
pub mod health;
pub mod ingest;
pub mod rebuild;
pub mod sessions;
pub mod spool;
pub mod stats;
pub mod window;

pub use backfill::{
    backfill, index_paths, index_records, BackfillOptions, FileError, Progress, Summary,
};
