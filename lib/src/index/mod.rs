//! `csep-index`: records → SQLite. `db` owns the schema, `ingest` applies one file's records
//! in a transaction, `backfill` walks a transcript root (`discover` knows each host's layout) with parallel
//! parsers and one writer,
//! `spool` drains queued hook payloads, `forget` removes a session and keeps it out
//! (`tombstone` holds the checks each ingest makes),
//! `health` names a damaged index and keeps writers out of it, `rebuild` replaces it,
//! `legacy` imports csep 1.3.10's database, `stores` reads the hosts' many-session stores
//! (OpenCode, Copilot's session store, Aider's history, Cursor's chat meta),
//! `evidence` reads a session's text by author for csep-verify, `window` a session's messages
//! in a review window for csep-reflect, `sessions` the rows the trigger, migrate-worktrees
//! and session-archive ask for, `stats` the figures of `csep status`. Every SQL statement
//! of the library lives here or in `search`.

pub mod backfill;
pub mod db;
mod discover;
pub mod evidence;
pub mod forget;
pub mod health;
pub mod ingest;
pub mod legacy;
pub mod rebuild;
pub mod sessions;
pub mod spool;
pub mod stats;
mod stores;
pub mod tombstone;
pub mod window;

pub use stores::{read_store, source_exists};

pub use backfill::{
    backfill, index_paths, index_records, BackfillOptions, FileError, Progress, Summary,
};

#[cfg(test)]
mod tests {
    /// Every SQL statement lives in the store (`lib/src/index/`) or the query engine
    /// (`lib/src/search/`): any other file of the library or the CLI that writes SQL, or
    /// runs a statement on a connection, fails here with its name and line.
    #[test]
    fn sql_lives_only_in_the_store_and_the_query_engine() {
        const SQL: &[&str] = &[
            "SELECT",
            "INSERT",
            "UPDATE ",
            "DELETE FROM",
            "PRAGMA",
            ".prepare(",
            ".prepare_cached(",
            ".execute(",
            ".execute_batch(",
            ".query_row(",
            ".query_map(",
            ".pragma_",
        ];
        let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let roots = [lib.join("src"), lib.join("../src")];
        let allowed = [lib.join("src/index"), lib.join("src/search")];
        let mut found = Vec::new();
        let mut files = 0;
        for root in &roots {
            for e in walkdir::WalkDir::new(root).into_iter().flatten() {
                let p = e.path();
                if p.extension().is_none_or(|x| x != "rs")
                    || allowed.iter().any(|a| p.starts_with(a))
                {
                    continue;
                }
                files += 1;
                let text = std::fs::read_to_string(p).unwrap();
                for (i, line) in text.lines().enumerate() {
                    if SQL.iter().any(|s| line.contains(s)) {
                        found.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
                    }
                }
            }
        }
        assert!(files > 50, "the walk found the sources ({files} files)");
        assert!(
            found.is_empty(),
            "SQL outside the store:\n{}",
            found.join("\n")
        );
    }
}
