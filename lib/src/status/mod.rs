//! `csep status`: one read-only snapshot of csep's state, for a person asking "why didn't
//! this happen?". Field names follow csep 1.3.10's `csep status` where it had the same
//! thing. Collecting never writes a file (no lock file, no directory, no database, not even
//! SQLite's `-wal`/`-shm`) and never fails: what cannot be read is reported in place.
//! `warnings` sums up, one sentence each, what needs a person's attention.

pub mod history;
pub mod hosts;
pub mod local;

use crate::config::{self, Config};
use crate::envfile::{self, ProviderKeys};
use crate::reflect::{self, Outcome, StatusReport};
use crate::timefmt;
use serde::Serialize;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The whole snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub timestamp: String,
    pub home: String,
    /// What needs attention, one sentence each; empty when all is well.
    pub warnings: Vec<String>,
    pub config: ConfigStatus,
    pub hooks: Hooks,
    /// `csep mcp` registered as the MCP server `csep` in each host.
    pub mcp: Mcp,
    pub plugin_bundle: hosts::PluginBundle,
    /// csep 1.3.10's set-up check, under its name: true when csep's hooks are installed.
    pub plugin_hooks: PluginHooks,
    /// `.env.provider`: which provider keys it sets (names only, never values) and its mode.
    pub env_provider: ProviderKeys,
    pub stable_memory: StableMemory,
    pub session_recall: local::SessionRecall,
    /// Every host csep reads: its default history root, whether it is there, and what the
    /// index holds of it.
    pub hosts: Vec<history::HostHistory>,
    pub spool: local::Spool,
    pub session_reflection: StatusReport,
    pub trigger: local::Trigger,
    pub logs: local::Logs,
    pub claude_retention: hosts::ClaudeRetention,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hooks {
    pub codex: hosts::HostHooks,
    pub claude: hosts::HostHooks,
    pub copilot: hosts::HostHooks,
    pub qwen: hosts::HostHooks,
    pub droid: hosts::HostHooks,
    pub gemini: hosts::HostHooks,
    pub opencode: hosts::HostHooks,
    pub cursor: hosts::HostHooks,
}

/// csep 1.3.10's `plugin_hooks`, whose fields its README tells users to check after set-up:
/// here true when `csep setup` left its manifest and a host runs csep's current SessionStart
/// (and Stop) hook.
#[derive(Debug, Clone, Serialize)]
pub struct PluginHooks {
    pub manifest_exists: bool,
    pub session_start_declared: bool,
    pub stop_declared: bool,
}

impl PluginHooks {
    fn new(state_dir: &Path, hooks: &Hooks) -> PluginHooks {
        let declared = |event: &str| {
            [&hooks.codex, &hooks.claude].iter().any(|h| {
                h.events
                    .iter()
                    .any(|e| e.event == event && e.installed && e.current)
            })
        };
        PluginHooks {
            manifest_exists: crate::setup::manifest_path(state_dir).is_file(),
            session_start_declared: declared("SessionStart"),
            stop_declared: declared("Stop"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mcp {
    pub codex: crate::setup::mcp::Registration,
    pub claude: crate::setup::mcp::Registration,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigStatus {
    pub path: String,
    pub exists: bool,
    /// `false` when the file is there but is not valid TOML (every value is then a default).
    pub parsed: bool,
    /// Unknown keys, bad values, a file that does not parse: each one line.
    pub warnings: Vec<String>,
}

/// The repo buckets under `projects/`.
#[derive(Debug, Clone, Serialize)]
pub struct StableMemory {
    pub projects_root: String,
    pub exists: bool,
    pub bucket_count: u64,
    pub total_refs_count: u64,
    pub buckets: Vec<Bucket>,
    /// The latest reflection job's verdict when it reviewed memory, and the first reason
    /// it gave against a memory file.
    pub latest_memory_validation_status: Option<String>,
    pub latest_memory_validation_warning: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub bucket: String,
    pub memory_dir: String,
    pub memory_file_exists: bool,
    pub memory_size_bytes: u64,
    /// Characters (what the budget counts), `None` when the file is not UTF-8.
    pub memory_chars: Option<u64>,
    /// The MEMORY.md budget (`[memory] inject_max_chars`).
    pub memory_max_chars: u64,
    pub over_budget: bool,
    pub refs_count: u64,
}

/// Collects the snapshot for `state_dir`, with the hosts' directories where csep's hooks
/// would be (`$CODEX_HOME`, Claude Code's config directory).
pub fn collect(state_dir: &Path, codex_home: &Path, claude_dir: &Path) -> Status {
    let (config, config_warnings) = config::load(state_dir);
    let file = config::path(state_dir);
    let parsed = !config_warnings.iter().any(|w| w.contains("not valid TOML"));
    let session_reflection = reflect::status(state_dir, &config);
    let expected = hosts::Expected::new(state_dir);
    let mut indexed = HashMap::new();
    let session_recall = local::session_recall(&crate::paths::index_db(state_dir), &mut indexed);
    let hooks = Hooks {
        codex: hosts::codex(codex_home, &expected),
        claude: hosts::claude(claude_dir, &expected),
        copilot: hosts::more_host("copilot", &expected),
        qwen: hosts::more_host("qwen", &expected),
        droid: hosts::more_host("droid", &expected),
        gemini: hosts::more_host("gemini", &expected),
        opencode: hosts::more_host("opencode", &expected),
        cursor: hosts::more_host("cursor", &expected),
    };
    let plugin_hooks = PluginHooks::new(state_dir, &hooks);
    let mut s = Status {
        kind: "csep_status",
        timestamp: timefmt::format_iso_ms(timefmt::now_ms()),
        home: state_dir.display().to_string(),
        warnings: Vec::new(),
        config: ConfigStatus {
            path: file.display().to_string(),
            exists: file.is_file(),
            parsed,
            warnings: config_warnings,
        },
        hooks,
        mcp: Mcp {
            codex: crate::setup::mcp::codex_registration(codex_home, &expected.mcp_server()),
            claude: crate::setup::mcp::claude_registration(claude_dir, &expected.mcp_server()),
        },
        plugin_bundle: hosts::plugin_bundle(),
        plugin_hooks,
        env_provider: envfile::provider_keys(state_dir),
        stable_memory: stable_memory(state_dir, &config, session_reflection.latest.as_ref()),
        hosts: history::histories(codex_home, claude_dir, &session_recall),
        session_recall,
        spool: local::spool(state_dir),
        session_reflection,
        trigger: local::trigger(state_dir),
        logs: local::logs(state_dir, config.log.retention_days),
        claude_retention: hosts::claude_retention(claude_dir, &indexed),
    };
    s.warnings = warnings(&s);
    s.warnings
        .extend(crate::private::audit(state_dir).warnings(state_dir));
    s
}

/// A queued item older than this, with nobody working on the queue, is stuck.
const STUCK_SECONDS: u64 = 600;

fn warnings(s: &Status) -> Vec<String> {
    let mut w = Vec::new();
    for c in &s.config.warnings {
        w.push(format!("config: {c}"));
    }
    if let Some(m) = s.env_provider.mode_warning() {
        w.push(m);
    }
    let more = [
        ("GitHub Copilot CLI", &s.hooks.copilot),
        ("Qwen Code", &s.hooks.qwen),
        ("Factory Droid", &s.hooks.droid),
        ("Gemini CLI", &s.hooks.gemini),
        ("OpenCode", &s.hooks.opencode),
        ("Cursor CLI", &s.hooks.cursor),
    ];
    for (name, h) in more {
        if let Some(e) = &h.error {
            w.push(format!("{name}: {e}"));
        }
        // Only a setup that is there but stale is worth a word: these hosts are optional.
        if h.events.iter().any(|e| e.installed) && !(h.installed && h.current) {
            w.push(format!(
                "{name}: csep's hooks in {} are not the ones this csep installs: run `csep setup` again",
                h.file
            ));
        }
    }
    for (name, h) in [("Codex", &s.hooks.codex), ("Claude Code", &s.hooks.claude)] {
        if let Some(e) = &h.error {
            w.push(format!("{name}: {e}"));
        }
        if !h.home_exists {
            continue;
        }
        let missing: Vec<&str> = h
            .events
            .iter()
            .filter(|e| !e.installed)
            .map(|e| e.event)
            .collect();
        if !missing.is_empty() {
            w.push(format!(
                "{name}: csep's {} hook{} not installed in {}: run `csep setup`",
                missing.join(", "),
                if missing.len() == 1 { " is" } else { "s are" },
                h.file
            ));
        } else if !h.current {
            w.push(format!(
                "{name}: csep's hooks in {} do not run this csep with this state directory and its hook script: run `csep setup` again",
                h.file
            ));
        }
        if h.installed && h.trusted == Some(false) {
            let untrusted: Vec<&str> = h
                .events
                .iter()
                .filter(|e| e.trust != Some("trusted"))
                .map(|e| e.event)
                .collect();
            w.push(format!(
                "Codex: csep's {} hook{} not trusted, and Codex skips an untrusted hook silently: run `csep setup` (or trust them in Codex's /hooks)",
                untrusted.join(", "),
                if untrusted.len() == 1 { " is" } else { "s are" },
            ));
        }
        if h.features_hooks == Some(Some(false)) {
            w.push("Codex: [features] hooks = false in config.toml turns every hook off".into());
        }
    }
    if let Some(e) = &s.session_recall.error {
        w.push(format!("index: {e}"));
    }
    if let Some(d) = &s.session_recall.damage {
        let db = std::path::Path::new(&s.session_recall.db_path);
        w.push(format!("index: {}", crate::index::health::damaged(db, d)));
    }
    if s.session_recall.ingest_error_count > 0 {
        w.push(format!(
            "index: {} transcript{} could not be read the last time (latest: {})",
            s.session_recall.ingest_error_count,
            if s.session_recall.ingest_error_count == 1 {
                ""
            } else {
                "s"
            },
            s.session_recall
                .latest_error
                .as_ref()
                .map_or(String::new(), |e| format!("{}: {}", e.path, e.message))
        ));
    }
    for (what, q, fix) in [
        ("archive", &s.spool.archive, "csep drain"),
        ("reflect", &s.spool.reflect, "csep reflect"),
    ] {
        if what == "archive" && q.failed > 0 {
            w.push(format!(
                "spool: {} hook payload{} failed to archive and wait in {}/failed/{}",
                q.failed,
                if q.failed == 1 { "" } else { "s" },
                q.dir,
                q.oldest_failure
                    .as_ref()
                    .and_then(|f| Some(format!(
                        " (oldest: {}: {})",
                        f.reason.as_ref()?,
                        f.message.as_ref()?
                    )))
                    .unwrap_or_default()
            ));
        }
        if let (Some(n @ 1..), Some(r)) = (q.retrying, &q.oldest_retry) {
            w.push(format!(
                "spool: {n} hook payload{} could not be archived because of {} and {} kept for a retry (oldest: {} attempt{}: {}): fix that, then run `csep drain`",
                if n == 1 { "" } else { "s" },
                r.fault.replace('_', " "),
                if n == 1 { "is" } else { "are" },
                r.attempts,
                if r.attempts == 1 { "" } else { "s" },
                r.last_error
            ));
        }
        if what == "reflect" && q.cur > 0 && !q.locked {
            w.push(format!(
                "reflection: {} job{} in {}/cur/ {} a worker that died; the next Stop resumes {}, or run `csep reflect`",
                q.cur,
                if q.cur == 1 { "" } else { "s" },
                q.dir,
                if q.cur == 1 { "was left by" } else { "were left by" },
                if q.cur == 1 { "it" } else { "them" },
            ));
        }
        // Payloads a fault keeps have a warning of their own, with the fault.
        let kept = q.retrying.unwrap_or(0);
        if !q.locked
            && q.new + q.cur > kept
            && q.oldest_age_seconds.is_some_and(|a| a > STUCK_SECONDS)
        {
            w.push(format!(
                "spool: {} item{} queued in {} for {} minutes with no one working on it: run `{fix}`",
                q.new + q.cur,
                if q.new + q.cur == 1 { "" } else { "s" },
                q.dir,
                q.oldest_age_seconds.unwrap_or(0) / 60
            ));
        }
    }
    let r = &s.session_reflection;
    if r.enabled {
        if let Some(p) = &r.provider_problem {
            w.push(format!("reflection: the provider cannot run: {p}"));
        }
    }
    if let Some(l) = &r.latest {
        if !l.status.is_done() {
            w.push(format!(
                "reflection: the latest job {} ended {}: {}{}",
                l.job_id,
                l.status.as_str(),
                l.reason.as_deref().unwrap_or("no reason given"),
                l.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
    }
    for b in &s.stable_memory.buckets {
        if b.over_budget {
            w.push(format!(
                "memory: {}/MEMORY.md has {} characters, over its budget of {}: only the start is injected",
                b.memory_dir,
                b.memory_chars.unwrap_or(0),
                b.memory_max_chars
            ));
        }
    }
    let c = &s.claude_retention;
    if c.at_risk > 0 {
        w.push(format!(
            "Claude Code deletes transcripts after {} days (cleanupPeriodDays); {} not yet archived {} within {} days of that: run `csep recall sync-claude --all-history`",
            c.cleanup_period_days,
            c.at_risk,
            if c.at_risk == 1 { "is" } else { "are" },
            hosts::AT_RISK_DAYS
        ));
    }
    w
}

fn stable_memory(state_dir: &Path, config: &Config, latest: Option<&Outcome>) -> StableMemory {
    let root = state_dir.join("projects");
    let budget = config.memory.inject_max_chars;
    let mut buckets: Vec<Bucket> = fs::read_dir(&root)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| bucket(&e.path(), budget))
                .collect()
        })
        .unwrap_or_default();
    buckets.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    let (status, warning) = latest_memory_validation(latest);
    StableMemory {
        projects_root: root.display().to_string(),
        exists: root.is_dir(),
        bucket_count: buckets.len() as u64,
        total_refs_count: buckets.iter().map(|b| b.refs_count).sum(),
        buckets,
        latest_memory_validation_status: status,
        latest_memory_validation_warning: warning,
    }
}

fn bucket(dir: &Path, budget: u64) -> Bucket {
    let memory_dir = dir.join("memory");
    let file = memory_dir.join("MEMORY.md");
    let bytes = fs::read(&file).ok();
    let chars = bytes
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(|s| s.chars().count() as u64);
    Bucket {
        bucket: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        memory_dir: memory_dir.display().to_string(),
        memory_file_exists: bytes.is_some(),
        memory_size_bytes: bytes.as_ref().map_or(0, |b| b.len() as u64),
        memory_chars: chars,
        memory_max_chars: budget,
        over_budget: chars.is_some_and(|c| c > budget),
        refs_count: count_md(&memory_dir.join("refs")),
    }
}

/// `*.md` files below `dir` (symlinks not followed).
fn count_md(dir: &Path) -> u64 {
    let mut n = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() && e.path().extension().is_some_and(|x| x == "md") => n += 1,
                _ => {}
            }
        }
    }
    n
}

fn latest_memory_validation(latest: Option<&Outcome>) -> (Option<String>, Option<String>) {
    let Some(o) = latest.filter(|o| o.scopes.contains(&crate::trigger::Scope::Memory)) else {
        return (None, None);
    };
    let Some(v) = &o.validation else {
        return (Some(o.status.as_str().to_string()), o.reason.clone());
    };
    let warning = v
        .rejections
        .iter()
        .find(|r| r.path.starts_with("memory/"))
        .map(|r| format!("{}: {}", r.path, r.reason));
    (v.status.clone(), warning)
}
