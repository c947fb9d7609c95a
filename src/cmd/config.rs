//! `csep config path | show [--raw] | init [--force] | validate`: csep 1.3.10's config
//! commands (its JSON field names, a `"type"` first) over `csep_lib::config` and
//! `csep_lib::envfile`. Nothing here ever prints a value of `.env.provider`.

use crate::args::HomeArgs;
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::{Args, Subcommand};
use csep_lib::config::{self, Warning, WarningKind};
use csep_lib::{envfile, fsutil, timefmt, Error};
use serde_json::json;
use std::path::Path;

const TOOL: &str = shared::CSEP;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print where config.toml is (JSON)
    Path(PathArgs),
    /// Print the config in effect, where each value comes from, and which provider keys
    /// .env.provider sets (names only)
    Show(ShowArgs),
    /// Write a starter config.toml: every key, commented out at its default
    Init(InitArgs),
    /// Check config.toml: exit 0 clean, 1 warnings, 2 unreadable or not TOML
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct PathArgs {
    #[command(flatten)]
    pub state: HomeArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print the file's text as it is, in the `raw` field
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub state: HomeArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing config.toml (the old one is kept as config.toml.bak-<time>)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub state: HomeArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub state: HomeArgs,
}

pub fn run(a: &ConfigArgs) -> Result<Exit, Failure> {
    if !matches!(a.command, ConfigCommand::Init(_)) {
        // Reading the config changes nothing, not even the run log.
        crate::out::no_run_log();
    }
    match &a.command {
        ConfigCommand::Path(a) => path(&a.state.dir()),
        ConfigCommand::Show(a) if a.raw => show_raw(&a.state.dir()),
        ConfigCommand::Show(a) => show(&a.state.dir()),
        ConfigCommand::Init(a) => init(&a.state.dir(), a.force),
        ConfigCommand::Validate(a) => validate(&a.state.dir()),
    }
}

fn print(v: &serde_json::Value) -> Result<(), Failure> {
    let mut out = Out::new();
    out.json(v)?;
    out.flush()?;
    Ok(())
}

fn warn_all(file: &Path, warnings: &[Warning]) {
    for w in warnings {
        match w.kind {
            // Names its own file.
            WarningKind::EnvFileMode => warn(TOOL, w),
            _ => warn(TOOL, format_args!("{}: {w}", file.display())),
        }
    }
}

fn path(state_dir: &Path) -> Result<Exit, Failure> {
    let file = config::path(state_dir);
    print(&json!({
        "type": "config_path",
        "config_path": file.display().to_string(),
        "config_exists": file.exists(),
    }))?;
    Ok(Exit::Ok)
}

fn show(state_dir: &Path) -> Result<Exit, Failure> {
    let c = config::check(state_dir);
    let env = envfile::provider_keys(state_dir);
    warn_all(&c.path, &c.warnings);
    if let Some(w) = env.mode_warning() {
        warn(TOOL, w);
    }
    let sources: serde_json::Map<String, serde_json::Value> = c
        .config
        .sources()
        .into_iter()
        .map(|(k, from_file)| (k, if from_file { "file" } else { "default" }.into()))
        .collect();
    print(&json!({
        "type": "config_show",
        "config_path": c.path.display().to_string(),
        "config_exists": c.exists,
        "schema_version": c.config.schema_version,
        "resolved": c.config,
        "sources": sources,
        "warnings": c.warnings,
        "env_provider": env,
    }))?;
    Ok(Exit::Ok)
}

fn show_raw(state_dir: &Path) -> Result<Exit, Failure> {
    let file = config::path(state_dir);
    let raw = match std::fs::read(&file) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            Error::input(format!(
                "{}: not UTF-8, so not a TOML file; nothing printed",
                file.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(file.display(), e).into()),
    };
    print(&json!({
        "type": "config_raw",
        "config_path": file.display().to_string(),
        "config_exists": file.exists(),
        "raw": raw,
    }))?;
    Ok(Exit::Ok)
}

fn validate(state_dir: &Path) -> Result<Exit, Failure> {
    let c = config::check(state_dir);
    let mut warnings = c.warnings;
    if let Some(message) = envfile::provider_keys(state_dir).mode_warning() {
        warnings.push(Warning {
            key: None,
            kind: WarningKind::EnvFileMode,
            message,
        });
    }
    warn_all(&c.path, &warnings);
    let (status, exit) = match warnings.iter().find(|w| w.kind.is_fatal()) {
        Some(w) if w.kind == WarningKind::Unreadable => ("unreadable", Exit::Error),
        Some(_) => ("parse_error", Exit::Error),
        None if warnings.is_empty() => ("ok", Exit::Ok),
        None => ("warnings", Exit::Negative),
    };
    print(&json!({
        "type": "config_validate",
        "status": status,
        "config_path": c.path.display().to_string(),
        "config_exists": c.exists,
        "warnings": warnings,
    }))?;
    Ok(exit)
}

fn init(state_dir: &Path, force: bool) -> Result<Exit, Failure> {
    let file = config::path(state_dir);
    let old = match std::fs::read(&file) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(file.display(), e).into()),
    };
    let shown = file.display().to_string();
    if old.is_some() && !force {
        warn(
            TOOL,
            format_args!("{shown} already exists; use --force to replace it (the old file is kept as a backup)"),
        );
        print(&json!({
            "type": "config_init",
            "status": "exists",
            "config_path": shown,
            "backup_path": null,
        }))?;
        return Ok(Exit::Error);
    }
    let backup = match &old {
        Some(bytes) => {
            let stamp = timefmt::compact_ms(timefmt::now_ms());
            let mut b = file.with_file_name(format!("config.toml.bak-{stamp}"));
            let mut n = 2;
            while b.exists() {
                b = file.with_file_name(format!("config.toml.bak-{stamp}-{n}"));
                n += 1;
            }
            fsutil::write_atomic(&b, bytes)?;
            Some(b.display().to_string())
        }
        None => None,
    };
    fsutil::write_atomic(&file, config::TEMPLATE.as_bytes())?;
    print(&json!({
        "type": "config_init",
        "status": if old.is_some() { "overwritten" } else { "created" },
        "config_path": shown,
        "backup_path": backup,
    }))?;
    Ok(Exit::Ok)
}
