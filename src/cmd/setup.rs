//! `csep setup` and `csep uninstall`: install csep's hooks into Codex (trusted through
//! `codex app-server`) and Claude Code, run the first backfill of every host found, and
//! record every change in
//! the install manifest; uninstall reverses exactly what the manifest lists. Setup also says
//! when csep 1.3.10's database is in the state dir (and imports it with `--import-legacy`).

use crate::args::StateArgs;
use crate::cmd::shared;
use crate::exit::Exit;
use crate::human::{self, HumanFormat};
use crate::out::{Failure, Out, ProgressLine};
use clap::Args;
use csep_lib::archive::Caps;
use csep_lib::index::{self, db, BackfillOptions, Summary};
use csep_lib::setup::{self, claude, codex, mcp, HookTarget, Manifest};
use csep_lib::wire::Agent;
use csep_lib::{timefmt, Error};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Codex's home [default: $CODEX_HOME, else ~/.codex]
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's config dir [default: $CLAUDE_CONFIG_DIR, else ~/.claude, when it exists]
    #[arg(long, value_name = "DIR")]
    pub claude_dir: Option<PathBuf>,
    /// Leave Codex alone
    #[arg(long)]
    pub no_codex: bool,
    /// Leave Claude Code alone
    #[arg(long, conflicts_with = "claude_dir")]
    pub no_claude: bool,
    /// Leave GitHub Copilot CLI alone [default: set up when $COPILOT_HOME, else ~/.copilot, exists]
    #[arg(long)]
    pub no_copilot: bool,
    /// Leave Qwen Code alone [default: set up when ~/.qwen exists]
    #[arg(long)]
    pub no_qwen: bool,
    /// Leave Factory Droid alone [default: set up when ~/.factory exists]
    #[arg(long)]
    pub no_droid: bool,
    /// Leave Gemini CLI alone [default: set up when ~/.gemini exists]
    #[arg(long)]
    pub no_gemini: bool,
    /// Leave OpenCode alone [default: set up when its config dir (~/.config/opencode) exists]
    #[arg(long)]
    pub no_opencode: bool,
    /// Leave Cursor CLI alone [default: set up when $CURSOR_CONFIG_DIR, else ~/.cursor, exists]
    #[arg(long)]
    pub no_cursor: bool,
    /// The codex binary used to trust the hooks [default: codex on PATH]
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,
    /// Do not register `csep mcp` as an MCP server with Codex and Claude Code
    #[arg(long)]
    pub no_mcp: bool,
    /// Say what would change, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Skip the first backfill of existing sessions
    #[arg(long)]
    pub no_backfill: bool,
    /// Also import csep 1.3.10's database (session_recall/state.db in the state dir) when there
    /// is one, as `csep recall import-legacy` does; without it setup only says it is there
    #[arg(long)]
    pub import_legacy: bool,
    /// How long to wait for another setup or uninstall to finish before giving up (exit 75)
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
    /// `json` (the documented record) or `human` (a summary) [default: human on a terminal, else json]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<HumanFormat>,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Accepted for symmetry with setup; the install manifest says what to undo
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Accepted for symmetry with setup; the install manifest says what to undo
    #[arg(long, value_name = "DIR")]
    pub claude_dir: Option<PathBuf>,
    /// How long to wait for a running setup to finish before giving up (exit 75)
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
    /// `json` (the documented record) or `human` (a summary) [default: human on a terminal, else json]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<HumanFormat>,
    #[command(flatten)]
    pub state: StateArgs,
}

/// How long setup and uninstall wait for the install lock by default: longer than a setup
/// holds it (file edits and Codex's trust round trips; the backfill runs after it is let go),
/// short enough that a stuck one turns into "retry later".
const DEFAULT_WAIT_SECS: u64 = 60;

/// Prints `v`, the documented record, or for a person its summary drawn by `render`.
fn print(
    format: Option<HumanFormat>,
    v: &Value,
    render: fn(&Value, human::Style) -> String,
) -> Result<(), Failure> {
    let mut out = Out::new();
    if human::wanted(format) {
        out.human(v, &render(v, human::Style::detect()))?;
    } else {
        out.json(v)?;
    }
    out.flush()?;
    Ok(())
}

/// Takes the install lock for setup or uninstall, saying on stderr when it has to wait.
fn install_lock(state_dir: &Path, wait_secs: u64) -> Result<fs::File, Error> {
    setup::lock_install(state_dir, Duration::from_secs(wait_secs), &mut || {
        if wait_secs > 0 {
            crate::out::warn(
                "csep",
                format_args!(
                    "waiting for another csep setup or uninstall to finish (up to {wait_secs} s)"
                ),
            );
        }
    })
}

fn claude_dir(a: &SetupArgs) -> Option<PathBuf> {
    if a.no_claude {
        return None;
    }
    if let Some(d) = &a.claude_dir {
        return Some(d.clone());
    }
    let d = csep_lib::paths::claude_config_dir();
    d.is_dir().then_some(d)
}

fn abs(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub fn run_setup(a: &SetupArgs) -> Result<Exit, Failure> {
    if a.dry_run {
        crate::out::no_run_log();
    }
    let state_dir = abs(&a.state.dir());
    let csep_bin = std::env::current_exe().map_err(|e| Error::io("finding the csep binary", e))?;
    let csep_bin = fs::canonicalize(&csep_bin).unwrap_or(csep_bin);
    let target = HookTarget {
        csep_bin,
        state_dir: state_dir.clone(),
        script: setup::hook_script_path(&state_dir),
    };
    let codex_home = (!a.no_codex).then(|| {
        abs(&a
            .codex_home
            .clone()
            .unwrap_or_else(csep_lib::paths::codex_home))
    });
    let claude_dir = claude_dir(a).map(|d| abs(&d));
    let codex_bin = codex::find_codex(a.codex_bin.as_deref());
    if a.dry_run {
        return dry_run(
            a,
            &target,
            codex_home.as_deref(),
            claude_dir.as_deref(),
            codex_bin.as_deref(),
        );
    }
    // Whatever an older csep (or a `cp` under umask 022) left readable becomes private.
    csep_lib::private::tighten(&state_dir);
    csep_lib::private::tighten_generated_skills(&csep_lib::verify::default_skills_dir());
    // Held from reading the manifest to saving it, so a second setup reads what this one
    // recorded; let go before the backfill, which needs no protection from another setup.
    let lock = install_lock(&state_dir, a.wait)?;
    let mut manifest = setup::load_manifest(&state_dir)?.unwrap_or_else(|| Manifest {
        version: 1,
        created_at: timefmt::format_iso_ms(timefmt::now_ms()),
        ..Default::default()
    });
    let result = (|| -> Result<Value, Error> {
        setup::install_hook_script(&state_dir, &mut manifest)?;
        let codex_report = match &codex_home {
            Some(home) => Some(codex::install(
                home,
                &target,
                codex_bin.as_deref(),
                &state_dir,
                &mut manifest,
            )?),
            None => None,
        };
        let claude_report = match &claude_dir {
            Some(dir) => Some(claude::install(dir, &target, &state_dir, &mut manifest)?),
            None => None,
        };
        let mcp = register_mcp(
            a,
            &target,
            codex_home.as_deref(),
            claude_dir.as_deref(),
            &state_dir,
            &mut manifest,
        )?;
        let more = install_more_hosts(a, &target, &state_dir, &mut manifest);
        Ok(json!({"codex": codex_report, "claude": claude_report, "mcp": mcp, "more": more}))
    })();
    manifest.updated_at = timefmt::format_iso_ms(timefmt::now_ms());
    // Whatever got written is in the manifest, even when a later step failed.
    setup::save_manifest(&state_dir, &manifest)?;
    drop(lock);
    let hosts = result?;
    let mut backfill = json!({});
    if !a.no_backfill {
        // Every transcript of the root, with the default caps: what `csep-index --backfill
        // AGENT --all-history` does.
        let backfill_root = |agent: Agent, root: PathBuf| -> Result<Summary, Error> {
            crate::out::log_state_dir(&state_dir);
            let mut conn = db::open_rw(&csep_lib::paths::index_db(&state_dir))?;
            let opts = BackfillOptions {
                agent,
                root,
                since_days: None,
                limit_files: None,
                caps: Caps::DEFAULT,
                threads: 0,
            };
            let mut bar = ProgressLine::new(shared::CSEP_INDEX);
            let summary = index::backfill(&mut conn, &opts, &mut |p| bar.update(p));
            bar.finish();
            summary
        };
        if let Some(home) = &codex_home {
            let root = home.join("sessions");
            if root.is_dir() {
                backfill["codex"] =
                    serde_json::to_value(backfill_root(Agent::Codex, root)?).unwrap_or_default();
            }
        }
        if let Some(dir) = &claude_dir {
            let root = dir.join("projects");
            if root.is_dir() {
                backfill["claude"] =
                    serde_json::to_value(backfill_root(Agent::Claude, root)?).unwrap_or_default();
            }
        }
        // Every other host whose default history root is here. One that cannot be walked is
        // said on stderr and left out: it must not undo the set-up of the others.
        for agent in Agent::ALL {
            if matches!(agent, Agent::Codex | Agent::Claude) || skips(a, agent.as_str()) {
                continue;
            }
            if let Some(root) = csep_lib::paths::history_root(agent).filter(|r| r.exists()) {
                match backfill_root(agent, root) {
                    Ok(s) => backfill[agent.as_str()] = serde_json::to_value(s).unwrap_or_default(),
                    Err(e) => crate::out::warn(
                        "csep",
                        format_args!("{}: not backfilled: {e}", agent.display_name()),
                    ),
                }
            }
        }
    }
    let (legacy, legacy_failed) =
        legacy_step(&state_dir, a.import_legacy, a.state.state_dir.is_some());
    let trust_ok = hosts["codex"].is_null() || hosts["codex"]["trust"] == "trusted";
    let mut summary = json!({
        "type": "setup_summary",
        "dry_run": false,
        "state_dir": state_dir,
        "manifest": setup::manifest_path(&state_dir),
        "hook_script": target.script,
        "codex": hosts["codex"],
        "claude": hosts["claude"],
        "mcp": hosts["mcp"],
        "backfill": backfill,
        "changes": manifest.changes.iter().map(|c| json!({"path": c.path, "action": c.action, "added": c.added})).collect::<Vec<_>>(),
    });
    summary["legacy"] = legacy;
    let mut hosts_failed = false;
    for name in setup::hosts::NAMES {
        let v = hosts["more"][name].clone();
        hosts_failed |= v.get("error").is_some();
        summary[name] = v;
    }
    if !trust_ok {
        crate::out::warn(
            "csep",
            format_args!(
                "Codex hooks are installed but not trusted: {}",
                hosts["codex"]["trust_detail"].as_str().unwrap_or("")
            ),
        );
    }
    print(a.format, &summary, human::setup)?;
    Ok(if legacy_failed || hosts_failed {
        Exit::Error
    } else {
        Exit::Ok
    })
}

/// Whether setup was asked to leave `agent` (one of [`setup::hosts::NAMES`]) alone with its
/// `--no-HOST` flag; no other host has one.
fn skips(a: &SetupArgs, agent: &str) -> bool {
    match agent {
        "copilot" => a.no_copilot,
        "qwen" => a.no_qwen,
        "droid" => a.no_droid,
        "gemini" => a.no_gemini,
        "opencode" => a.no_opencode,
        "cursor" => a.no_cursor,
        _ => false,
    }
}

/// The hosts besides Codex and Claude Code setup installs into, each whose home exists (and
/// is not left alone): `{agent: report | null}`. A host whose file cannot be changed (not
/// valid JSON, say) gets `{"home", "error"}` and a line on stderr; the others go on.
fn install_more_hosts(
    a: &SetupArgs,
    target: &HookTarget,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Value {
    let mut out = json!({});
    for name in setup::hosts::NAMES {
        out[name] = Value::Null;
        let Some(home) = setup::hosts::home(name).map(|h| abs(&h)) else {
            continue;
        };
        if skips(a, name) || !home.is_dir() {
            continue;
        }
        out[name] = match setup::hosts::install(name, &home, target, rec_dir, manifest) {
            Ok(v) => v,
            Err(e) => {
                crate::out::warn("csep", format_args!("{name}: hooks not installed: {e}"));
                json!({"home": home, "error": e.message})
            }
        };
    }
    out
}

/// The command that imports csep 1.3.10's database of `state_dir`, as a person would type it
/// (`--state-dir` only when setup was given one).
fn import_command(state_dir: &Path, explicit_state_dir: bool) -> String {
    let mut cmd = "csep recall import-legacy".to_string();
    if explicit_state_dir {
        let dir = state_dir.display().to_string();
        let plain = dir
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
        if plain {
            cmd.push_str(&format!(" --state-dir {dir}"));
        } else {
            cmd.push_str(&format!(" --state-dir '{}'", dir.replace('\'', "'\\''")));
        }
    }
    cmd
}

/// csep 1.3.10's database in the state dir, if any: setup's `legacy` field (`null` when there
/// is none) and, on stderr, that it was found and how to import it; with `import`, imported.
/// The bool: an import was asked for and failed (setup then exits 2; its hooks stay).
fn legacy_step(state_dir: &Path, import: bool, explicit_state_dir: bool) -> (Value, bool) {
    let path = csep_lib::paths::legacy_db(state_dir);
    if !path.exists() {
        return (Value::Null, false);
    }
    let command = import_command(state_dir, explicit_state_dir);
    let mut v = json!({"db_path": path, "sessions": null, "command": command, "imported": null});
    let legacy = match index::legacy::open(&path) {
        Ok(l) => l,
        Err(e) => {
            crate::out::warn("csep", format_args!("{e}"));
            v["error"] = e.message.into();
            return (v, import);
        }
    };
    v["sessions"] = legacy.session_count().into();
    if !import {
        crate::out::warn(
            "csep",
            format_args!(
                "found csep 1.3.10's recall database {} ({} sessions): import its history with `{command}`",
                path.display(),
                legacy.session_count()
            ),
        );
        return (v, false);
    }
    let result = db::open_rw(&csep_lib::paths::index_db(state_dir))
        .and_then(|mut conn| index::legacy::import(&mut conn, &legacy, Caps::DEFAULT));
    match result {
        Ok(s) => {
            crate::out::warn(
                "csep",
                format_args!(
                    "imported {} session(s) ({} messages) from csep 1.3.10's {}",
                    s.imported_sessions + s.updated_sessions,
                    s.messages,
                    path.display()
                ),
            );
            let failed = s.error_count > 0;
            v["imported"] = serde_json::to_value(&s).unwrap_or_default();
            (v, failed)
        }
        Err(e) => {
            crate::out::warn("csep", format_args!("{e}"));
            v["error"] = e.message.into();
            (v, true)
        }
    }
}

/// Registers `csep mcp` with the hosts setup installs into (unless `--no-mcp`); answers the
/// file each registration is in (`null`: not registered).
fn register_mcp(
    a: &SetupArgs,
    target: &HookTarget,
    codex_home: Option<&Path>,
    claude_dir: Option<&Path>,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Result<Value, Error> {
    if a.no_mcp {
        return Ok(json!({"codex": null, "claude": null}));
    }
    let server = mcp::Server {
        csep_bin: target.csep_bin.clone(),
        state_dir: target.state_dir.clone(),
    };
    let codex = match codex_home {
        Some(home) => Some(mcp::register_codex(home, &server, rec_dir, manifest)?),
        None => None,
    };
    let claude = match claude_dir {
        Some(dir) => {
            let file = mcp::claude_user_config(dir);
            mcp::register_claude(&file, &server, rec_dir, manifest)?;
            Some(file)
        }
        None => None,
    };
    Ok(json!({"codex": codex, "claude": claude}))
}

/// Runs the install against scratch copies of the hosts' files and reports what would change.
fn dry_run(
    a: &SetupArgs,
    target: &HookTarget,
    codex_home: Option<&Path>,
    claude_dir: Option<&Path>,
    codex_bin: Option<&Path>,
) -> Result<Exit, Failure> {
    let scratch = std::env::temp_dir().join(format!(
        "csep-setup-dry-run-{}",
        csep_lib::fsutil::unique_name("")
    ));
    let result = (|| -> Result<Vec<Value>, Error> {
        let mut manifest = Manifest::default();
        let mut plan = Vec::new();
        // `after` is what setup would leave in `real` (None: it would not write it).
        let mut compare = |real: &Path, after: Option<Vec<u8>>| {
            let before = fs::read(real).ok();
            let action = match (&before, &after) {
                (_, None) => "unchanged",
                (None, Some(_)) => "create",
                (Some(b), Some(a)) if b == a => "unchanged",
                _ => "modify",
            };
            plan.push(json!({"path": real, "action": action}));
        };
        compare(&target.script, Some(setup::HOOK_SCRIPT.as_bytes().to_vec()));
        if let Some(home) = codex_home {
            let copy = scratch.join("codex");
            copy_if_present(home, &copy, &["hooks.json", "config.toml"])?;
            codex::install(&copy, target, None, &scratch.join("state"), &mut manifest)?;
            register_mcp(
                a,
                target,
                Some(&copy),
                None,
                &scratch.join("state"),
                &mut manifest,
            )?;
            for f in ["hooks.json", "config.toml"] {
                compare(&home.join(f), fs::read(copy.join(f)).ok());
            }
        }
        if let Some(dir) = claude_dir {
            let copy = scratch.join("claude");
            copy_if_present(dir, &copy, &["settings.json"])?;
            claude::install(&copy, target, &scratch.join("state"), &mut manifest)?;
            compare(
                &dir.join("settings.json"),
                fs::read(copy.join("settings.json")).ok(),
            );
            if !a.no_mcp {
                let real = mcp::claude_user_config(dir);
                let copy = copy.join(".claude.json");
                if real.exists() {
                    fs::copy(&real, &copy).map_err(|e| Error::io(real.display(), e))?;
                }
                let server = mcp::Server {
                    csep_bin: target.csep_bin.clone(),
                    state_dir: target.state_dir.clone(),
                };
                mcp::register_claude(&copy, &server, &scratch.join("state"), &mut manifest)?;
                compare(&real, fs::read(&copy).ok());
            }
        }
        for name in setup::hosts::NAMES {
            let Some(home) = setup::hosts::home(name).map(|h| abs(&h)) else {
                continue;
            };
            if skips(a, name) || !home.is_dir() {
                continue;
            }
            let (real, after) = setup::hosts::plan(name, &home, target, &scratch)?;
            compare(&real, Some(after));
        }
        Ok(plan)
    })();
    let _ = fs::remove_dir_all(&scratch);
    let plan = result?;
    let trust = match (codex_home, codex_bin) {
        (None, _) => Value::Null,
        (Some(_), Some(bin)) => json!(format!(
            "would trust csep's hooks with {} app-server",
            bin.display()
        )),
        (Some(_), None) => {
            json!("codex not found: the hooks would need trusting by hand in /hooks")
        }
    };
    print(
        a.format,
        &json!({"type": "setup_summary", "dry_run": true, "plan": plan, "codex_trust": trust}),
        human::setup,
    )?;
    Ok(Exit::Ok)
}

fn copy_if_present(from: &Path, to: &Path, names: &[&str]) -> Result<(), Error> {
    // Scratch copies of the hosts' files (which can hold API keys) are the owner's alone.
    csep_lib::fsutil::create_dir_private(to)?;
    for n in names {
        let src = from.join(n);
        if src.exists() {
            fs::copy(&src, to.join(n)).map_err(|e| Error::io(src.display(), e))?;
        }
    }
    Ok(())
}

pub fn run_uninstall(a: &UninstallArgs) -> Result<Exit, Failure> {
    let state_dir = abs(&a.state.dir());
    // No state dir, nothing installed: no lock file made just to say so.
    let _lock = match state_dir.is_dir() {
        true => Some(install_lock(&state_dir, a.wait)?),
        false => None,
    };
    let Some(manifest) = setup::load_manifest(&state_dir)? else {
        print(
            a.format,
            &json!({"type": "uninstall_summary", "status": "nothing_to_uninstall", "manifest": setup::manifest_path(&state_dir)}),
            human::uninstall,
        )?;
        return Ok(Exit::Ok);
    };
    let undone = setup::uninstall(&state_dir, &manifest, &|path, change| match path
        .file_name()
        .and_then(|n| n.to_str())
    {
        _ if setup::hosts::clean(path, &change.added)? => Ok(()),
        Some("settings.json") => claude::clean(path),
        Some(".claude.json") => mcp::clean_claude(path),
        _ => codex::clean(path, change),
    })?;
    let restored = &undone.files;
    for r in restored.iter().filter(|r| r.how == "kept") {
        crate::out::warn(
            "csep",
            format_args!(
                "kept {}: a host file still runs it; take csep's hooks out of it, then run csep uninstall again",
                r.path
            ),
        );
    }
    let changed: Vec<&str> = restored
        .iter()
        .filter(|r| r.how == "cleaned")
        .map(|r| r.path.as_str())
        .collect();
    for p in &changed {
        crate::out::warn(
            "csep",
            format_args!("{p} was changed after setup: only csep's entries were removed"),
        );
    }
    print(
        a.format,
        &json!({"type": "uninstall_summary", "status": "uninstalled", "files": restored, "changed_since_setup": changed, "removed_dirs": undone.removed_dirs}),
        human::uninstall,
    )?;
    Ok(Exit::Ok)
}
