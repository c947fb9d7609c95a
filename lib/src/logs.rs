//! `$CSEP_HOME/logs/`: append-only JSON-lines logs for a person reading along. `runs.jsonl`
//! gets one line per tool run (tool, exit code, elapsed time, counts: never message text or
//! secrets); `hook.log` one per hook call. Each is today's file: on the first write of a new
//! day the old one is renamed to `<name>.<YYYY-MM-DD>` (the day it was last written) and
//! dated files older than `[log] retention_days` are deleted.
//!
//! Logging is best effort: it never fails the run it describes. A line is one `write(2)` to a
//! file opened with `O_APPEND`, so lines from processes writing at once do not interleave.

use crate::timefmt;
use std::fs;
use std::io::Write;
use std::path::Path;

pub const RUNS: &str = "runs.jsonl";
pub const HOOKS: &str = "hook.log";

const DAY_MS: i64 = 86_400_000;

fn day_of(ms: i64) -> String {
    timefmt::format_iso_ms(ms)[..10].to_string()
}

/// Appends `line` (no newline) to `logs/<name>`, rotating and pruning first when the file is
/// from an earlier day. `retention_days` is read only then (a config load per day, not per
/// line).
pub fn append(state_dir: &Path, name: &str, line: &str, retention_days: impl FnOnce() -> u64) {
    let dir = state_dir.join("logs");
    if crate::fsutil::create_dir_private(&dir).is_err() {
        return;
    }
    let path = dir.join(name);
    let now = timefmt::now_ms();
    let last_write = fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    if let Some(last) = last_write {
        if day_of(last) != day_of(now) {
            // Two processes may rotate at once: the second rename finds nothing, which is fine.
            let _ = fs::rename(&path, dir.join(format!("{name}.{}", day_of(last))));
            prune(&dir, now, retention_days());
        }
    }
    let mut bytes = line.as_bytes().to_vec();
    bytes.push(b'\n');
    if let Ok(mut f) = crate::fsutil::open_append_private(&path) {
        let _ = f.write_all(&bytes);
    }
}

/// Deletes `<name>.<YYYY-MM-DD>` files whose day is more than `days` days ago.
fn prune(dir: &Path, now: i64, days: u64) {
    let oldest_kept = day_of(now - days as i64 * DAY_MS);
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((base, day)) = name.rsplit_once('.') else {
            continue;
        };
        let dated = day.len() == 10
            && day.as_bytes()[4] == b'-'
            && day.as_bytes()[7] == b'-'
            && day.bytes().filter(u8::is_ascii_digit).count() == 8;
        if dated && [RUNS, HOOKS].contains(&base) && day < oldest_kept.as_str() {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_new_day_rotates_and_old_days_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        append(dir.path(), RUNS, "{\"n\":1}", || {
            unreachable!("no rotation yet")
        });
        append(dir.path(), RUNS, "{\"n\":2}", || {
            unreachable!("no rotation yet")
        });
        assert_eq!(
            fs::read_to_string(logs.join(RUNS)).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n"
        );
        // Yesterday's file, and files from long ago (kept and pruned), and one not ours.
        let yesterday = SystemTime::now() - Duration::from_secs(86_400);
        fs::File::options()
            .write(true)
            .open(logs.join(RUNS))
            .unwrap()
            .set_modified(yesterday)
            .unwrap();
        let day = |days_ago: i64| day_of(timefmt::now_ms() - days_ago * DAY_MS);
        for (name, _) in [
            (format!("runs.jsonl.{}", day(3)), ()),
            (format!("runs.jsonl.{}", day(20)), ()),
            (format!("hook.log.{}", day(20)), ()),
            (format!("notes.{}", day(20)), ()),
        ] {
            fs::write(logs.join(name), "x\n").unwrap();
        }
        append(dir.path(), RUNS, "{\"n\":3}", || 14);
        assert_eq!(fs::read_to_string(logs.join(RUNS)).unwrap(), "{\"n\":3}\n");
        assert_eq!(
            fs::read_to_string(logs.join(format!("runs.jsonl.{}", day(1)))).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n"
        );
        assert!(logs.join(format!("runs.jsonl.{}", day(3))).exists());
        assert!(!logs.join(format!("runs.jsonl.{}", day(20))).exists());
        assert!(!logs.join(format!("hook.log.{}", day(20))).exists());
        assert!(logs.join(format!("notes.{}", day(20))).exists());
    }
}
