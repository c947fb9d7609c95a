//! `csep memory show|list|add|forget|pin|unpin|edit`: a person's view of, and hand on, the
//! repo's MEMORY.md. The logic is `csep_lib::reflect::curate`'s (every change a run directory
//! that csep-verify checks, applies and journals); this file parses, runs the editor, prints
//! and picks the exit code.

use crate::args::{DocFormatArg, FormatArg, StateArgs};
use crate::cmd::shared;
use crate::exit::Exit;
use crate::out::{warn, Failure, Out};
use clap::{Args, Subcommand};
use csep_lib::reflect::curate::{self, Listed, Origin, Outcome, Repo, Select};
use csep_lib::text::{clean, clean_line};
use csep_lib::verify::{Options, Status};
use csep_lib::Error;
use std::io::IsTerminal;
use std::path::PathBuf;

pub const TOOL: &str = shared::CSEP;

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(subcommand)]
    pub command: MemoryCommand,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Print the repo's MEMORY.md with its usage (n/budget characters): readable on a
    /// terminal, one memory_show record on a pipe
    Show(ShowArgs),
    /// Each memory line with its line number and the job, session and date that added or
    /// last changed it (from the journal); your own lines and pinned lines marked
    List(ListArgs),
    /// Add a line (checked by csep-verify and journalled; over the budget, the least recently
    /// confirmed unpinned lines move to refs/archive.md)
    Add(AddArgs),
    /// Remove one line (checked, journalled; undo with `csep-verify --undo JOB`)
    Forget(SelectArgs),
    /// Pin a line: it is never archived to keep memory within budget
    Pin(SelectArgs),
    /// Unpin a pinned line
    Unpin(SelectArgs),
    /// Edit MEMORY.md in $VISUAL or $EDITOR (a private copy); the result is checked like a
    /// reflection proposal before it is applied
    Edit(EditArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
    /// The repository whose memory to use (any directory in it, or a worktree of it)
    /// [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
}

impl RepoArgs {
    fn repo(&self) -> Result<(PathBuf, Repo), Error> {
        let cwd = match &self.cwd {
            Some(c) => c.clone(),
            None => std::env::current_dir().map_err(|e| Error::io("current directory", e))?,
        };
        // As recall resolves it: a directory that is gone still names its bucket.
        let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
        let state = self.state.dir();
        let repo = curate::repo_of(&state, &cwd.to_string_lossy());
        Ok((state, repo))
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Output format [default: markdown on a terminal, json on a pipe]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<DocFormatArg>,
    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format: markdown for a person, json (one memory_list) or jsonl (one memory_line
    /// per line) for scripts
    #[arg(long, value_name = "FORMAT", default_value = "markdown")]
    pub format: FormatArg,
    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The line to add (one line; a leading `- ` is optional)
    #[arg(value_name = "TEXT", allow_hyphen_values = true)]
    pub text: String,
    /// Also pin the line
    #[arg(long)]
    pub pin: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["pattern", "line"]))]
pub struct SelectArgs {
    /// Text the one memory line holds (case-insensitive)
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// The memory line at line number N of MEMORY.md (as `csep memory list` numbers them)
    #[arg(long, value_name = "N")]
    pub line: Option<usize>,
    #[command(flatten)]
    pub repo: RepoArgs,
}

impl SelectArgs {
    fn select(&self) -> Select {
        match (&self.pattern, self.line) {
            (_, Some(n)) => Select::Line(n),
            (Some(p), None) => Select::Pattern(p.clone()),
            (None, None) => unreachable!("clap requires PATTERN or --line"),
        }
    }
}

#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
}

pub fn run(args: &MemoryArgs) -> Result<Exit, Failure> {
    let opts = Options::default();
    match &args.command {
        MemoryCommand::Show(a) => show(a),
        MemoryCommand::List(a) => list(a),
        MemoryCommand::Add(a) => {
            let (state, repo) = a.repo.repo()?;
            report(curate::add(&state, &repo, &a.text, a.pin, &opts)?)
        }
        MemoryCommand::Forget(a) => {
            let (state, repo) = a.repo.repo()?;
            report(curate::forget(&state, &repo, &a.select(), &opts)?)
        }
        MemoryCommand::Pin(a) | MemoryCommand::Unpin(a) => {
            let on = matches!(args.command, MemoryCommand::Pin(_));
            let (_, repo) = a.repo.repo()?;
            report(curate::pin(&repo, &a.select(), on, &opts)?)
        }
        MemoryCommand::Edit(a) => edit(a, &opts),
    }
}

fn usage(chars: u64, budget: u64) -> String {
    let pct = (chars * 100).checked_div(budget).unwrap_or(0);
    format!("{chars}/{budget} characters ({pct}%)")
}

fn show(a: &ShowArgs) -> Result<Exit, Failure> {
    crate::out::no_run_log();
    let (_, repo) = a.repo.repo()?;
    let s = curate::show(&repo)?;
    let json = match a.format {
        Some(f) => f == DocFormatArg::Json,
        None => !std::io::stdout().is_terminal(),
    };
    let mut out = Out::new();
    if json {
        out.json(&s)?;
    } else {
        let mut md = format!(
            "# MEMORY.md of {}\n\n{}\nUsage: {}, {} lines, {} pinned\n\n",
            clean_line(&s.repo_root),
            clean_line(&s.path),
            usage(s.chars, s.budget_chars),
            s.lines,
            s.pinned
        );
        if s.exists {
            md.push_str(s.text.trim_end());
            md.push('\n');
        } else {
            md.push_str("(no memory yet: add a line with `csep memory add TEXT`)\n");
        }
        out.text(&clean(&md))?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// One line of `list`'s Markdown: where it came from, in words.
fn provenance(l: &Listed) -> String {
    let mut parts = Vec::new();
    match (l.origin, &l.job_id) {
        (Origin::Unknown, _) | (_, None) => {
            parts.push("not in the journal (written by hand, or before csep journalled)".into())
        }
        (origin, Some(job)) => {
            let day = l.at.as_deref().map_or("", |a| a.get(..10).unwrap_or(a));
            let who = match (origin, &l.session_id) {
                (Origin::User, _) => "you (csep memory)".to_string(),
                (_, Some(s)) => format!("session {s}"),
                _ => "reflection".to_string(),
            };
            parts.push(format!(
                "{} {day} by {who}, job {job}",
                l.action.unwrap_or("added")
            ));
        }
    }
    if let Some(c) = &l.confirmed_at {
        parts.push(format!("confirmed {}", c.get(..10).unwrap_or(c)));
    }
    if l.pinned {
        parts.push("pinned".into());
    }
    parts.join(" · ")
}

fn list(a: &ListArgs) -> Result<Exit, Failure> {
    crate::out::no_run_log();
    let (state, repo) = a.repo.repo()?;
    let l = curate::list(&state, &repo)?;
    let mut out = Out::new();
    match a.format {
        FormatArg::Json => out.json(&l)?,
        FormatArg::Jsonl => {
            for line in &l.lines {
                out.json(line)?;
            }
        }
        _ => {
            let mut md = format!(
                "# Memory lines of {}\n\n{}\nUsage: {}, {} lines\n\n",
                clean_line(&l.repo_root),
                clean_line(&l.path),
                usage(l.chars, l.budget_chars),
                l.count
            );
            for line in &l.lines {
                md.push_str(&format!(
                    "{:>4}  {}\n      {}\n",
                    line.line_no,
                    clean_line(&line.text),
                    clean_line(&provenance(line))
                ));
            }
            if l.lines.is_empty() {
                md.push_str("(no memory lines)\n");
            }
            out.text(&md)?;
        }
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// Prints the outcome (a memory_result on stdout, a sentence on stderr) and picks the exit
/// code: 0 applied or nothing to do, 1 rejected by the checks, 2 failed.
fn report(o: Outcome) -> Result<Exit, Failure> {
    let job = o.job_id.as_deref().unwrap_or("");
    let what = match o.action {
        "add" => format!("added {}", o.added.join(" ")),
        "forget" => format!("forgot {}", o.removed.join(" ")),
        "edit" => format!(
            "edited MEMORY.md: {} lines added, {} removed",
            o.added.len(),
            o.removed.len()
        ),
        "pin" => format!("pinned {}", o.pinned.as_deref().unwrap_or("")),
        _ => format!("unpinned {}", o.pinned.as_deref().unwrap_or("")),
    };
    match o.status {
        Status::Succeeded if o.job_id.is_some() => {
            warn(
                TOOL,
                format_args!(
                    "{what} (job {job}; undo with `csep-verify --undo {job}`); {}",
                    usage(o.chars, o.budget_chars)
                ),
            );
            if !o.archived.is_empty() {
                warn(
                    TOOL,
                    format_args!(
                        "over the budget: moved {} least recently confirmed line(s) to refs/archive.md: {}",
                        o.archived.len(),
                        o.archived.join(" ")
                    ),
                );
            }
        }
        Status::Succeeded => warn(TOOL, what),
        Status::Skipped => warn(
            TOOL,
            match o.action {
                "pin" => "already pinned; nothing changed",
                "unpin" => "not pinned; nothing changed",
                _ => "nothing changed",
            },
        ),
        Status::Rejected | Status::Partial => {
            for r in &o.rejections {
                warn(
                    TOOL,
                    format_args!("rejected: {}: {}: {}", r.path, r.reason.as_str(), r.detail),
                );
            }
            let over = o
                .rejections
                .iter()
                .any(|r| r.reason.as_str() == "memory_over_budget");
            if over && o.action == "add" {
                warn(
                    TOOL,
                    "the pinned lines and the new line alone exceed the budget: unpin or forget a line, or raise [memory] inject_max_chars",
                );
            }
            if o.action == "edit" {
                if let Some(run) = o
                    .receipt
                    .as_deref()
                    .and_then(|r| r.strip_suffix("receipt.json"))
                {
                    warn(
                        TOOL,
                        format_args!("your edit is kept in {run}proposal/memory/MEMORY.md (any secret redacted)"),
                    );
                }
            }
            warn(
                TOOL,
                format_args!(
                    "nothing was changed (job {job}; see {})",
                    o.receipt.as_deref().unwrap_or("")
                ),
            );
        }
        Status::Failed => {
            for e in &o.errors {
                warn(TOOL, e);
            }
            warn(TOOL, format_args!("nothing was changed (job {job})"));
        }
    }
    let mut out = Out::new();
    out.json(&o)?;
    out.flush()?;
    Ok(match o.status {
        Status::Succeeded | Status::Skipped => Exit::Ok,
        Status::Rejected | Status::Partial => Exit::Negative,
        Status::Failed => Exit::Error,
    })
}

/// The editor a person chose: `$VISUAL`, else `$EDITOR`, else `vi`.
fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".into())
}

fn edit(a: &EditArgs, opts: &Options) -> Result<Exit, Failure> {
    let (state, repo) = a.repo.repo()?;
    let e = curate::begin_edit(&state, &repo, opts)?;
    // Through the shell, as git runs it: an editor setting may carry its own arguments.
    let ed = editor();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{ed} \"$1\""))
        .arg("csep-memory-edit")
        .arg(&e.file)
        .status();
    let ok = match status {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("the editor ({ed}) exited with {s}")),
        Err(err) => Some(format!("the editor ({ed}) could not start: {err}")),
    };
    if let Some(why) = ok {
        curate::abandon_edit(&state, e);
        return Err(Error::input(format!("{why}; nothing was changed")).into());
    }
    report(curate::finish_edit(&state, &repo, e, opts)?)
}
