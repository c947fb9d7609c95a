//! Which messages of a review window the model sees, chosen by kind before position.
//!
//! In a long session tool output is nearly all the text and what the user said is a sliver
//! of it; cutting by position alone loses the user's corrections in the middle. So, in this
//! order:
//! 1. every user message (each within its own cap; never dropped, whatever the budget);
//! 2. the assistant's reply to a user correction;
//! 3. each failed→fixed command pair: the failing call and its error line, the calls between
//!    (the fix), the passing run;
//! 4. the last successful build, test and lint commands;
//! 5. then, while the budget lasts: the assistant's other text, the other tool calls, and
//!    last tool output, each kind from the head (a quarter) and the tail (the rest) of the
//!    window, so what is left out is a contiguous middle.
//!
//! "Failed" is read from the output as the index stores it: an exit code line (`Exit code: 1`,
//! `Process exited with code 1`) decides; without one, an error line (`error:`, `FAILED`,
//! `Traceback …`, `command not found`, `<tool_use_error>`) means failed. Pure: the caller
//! renders and measures each message (see `rundir::messages_markdown`).

use crate::index::window::WindowMessage;
use regex::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What one message is, for choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Assistant,
    Call,
    Output,
    Other,
}

pub fn kind(m: &WindowMessage) -> Kind {
    match (m.role.as_str(), m.tool.is_some()) {
        ("user", _) => Kind::User,
        ("assistant", true) => Kind::Call,
        ("assistant", false) => Kind::Assistant,
        ("tool", _) => Kind::Output,
        _ => Kind::Other,
    }
}

/// How a message is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Omit,
    /// Only its outcome: the exit status and the error line (for a command's output).
    Excerpt,
    Full,
}

/// How a command ended, as its output tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Failed,
    Passed,
    /// No exit status and no error line.
    Unknown,
}

/// A command that failed and, later, passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixPair {
    /// Indexes into the window.
    pub failed_call: usize,
    pub failed_output: Option<usize>,
    pub error_line: String,
    /// The calls between (other commands, edits): what fixed it.
    pub fixes: Vec<usize>,
    pub passed_call: usize,
    pub passed_output: Option<usize>,
}

/// The last successful command of a kind (`build`, `test`, `lint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    pub kind: &'static str,
    pub call: usize,
    pub output: Option<usize>,
}

/// The choice for a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per message of the window.
    pub show: Vec<Show>,
    pub pairs: Vec<FixPair>,
    pub checks: Vec<LastCheck>,
    /// User messages whose reply was kept as a correction's.
    pub corrections: Vec<usize>,
}

/// At most this many calls between a failure and its passing run count as its fix.
const MAX_FIXES: usize = 3;

fn exit_code_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?im)^[ \t]*(?:error:[ \t]*)?(?:exit code:?|process exited with code|exited with code|exit status:?)[ \t]*(-?\d+)",
        )
        .expect("exit code regex")
    })
}

fn error_line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?m)^[ \t]*(?:(?i:error)(?:\[[A-Za-z0-9]+\])?:|ERROR\b|FAILED\b|FAIL\b|(?i:fatal):|npm ERR!|Traceback \(most recent call last\)|thread '.*' panicked|.*\bpanicked at\b|.*: command not found|.*\bcommand not found\b|<tool_use_error>|E[ \t]{3}\S|.*\b(?:Error|Exception): )",
        )
        .expect("error line regex")
    })
}

/// Codex's shell output starts with lines about the run, not from the program.
fn is_run_header(line: &str) -> bool {
    let l = line.trim();
    [
        "Chunk ID:",
        "Wall time:",
        "Original token count:",
        "Output:",
    ]
    .iter()
    .any(|p| l.starts_with(p))
        || exit_code_re().is_match(l)
}

/// How a command's output says it ended, and the line that says why it failed.
pub fn run_state(output: &str) -> (RunState, Option<String>) {
    let error_line = || {
        error_line_re()
            .find(output)
            .map(|m| {
                // The whole line the match is on.
                let start = output[..m.start()].rfind('\n').map_or(0, |s| s + 1);
                let end = output[m.start()..]
                    .find('\n')
                    .map_or(output.len(), |e| m.start() + e);
                output[start..end].trim().to_string()
            })
            .or_else(|| {
                output
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty() && !is_run_header(l))
                    .map(|l| l.trim().to_string())
            })
            .map(|l| l.chars().take(300).collect())
    };
    if let Some(c) = exit_code_re().captures(output) {
        return if &c[1] == "0" {
            (RunState::Passed, None)
        } else {
            (RunState::Failed, error_line())
        };
    }
    if error_line_re().is_match(output) {
        return (RunState::Failed, error_line());
    }
    (RunState::Unknown, None)
}

/// The outcome of a command's output in a few lines: its exit status, its error line, and
/// its last line.
pub fn excerpt(output: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some(m) = exit_code_re().find(output) {
        lines.push(m.as_str().trim().to_string());
    }
    let (_, err) = run_state(output);
    if let Some(e) = err {
        lines.push(e);
    }
    if let Some(last) = output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !is_run_header(l))
    {
        let last: String = last.trim().chars().take(300).collect();
        if !lines.contains(&last) {
            lines.push(last);
        }
    }
    lines.dedup();
    lines.join("\n")
}

/// Whether a tool runs shell commands (Codex `exec_command`/`shell`, Claude `Bash`, …).
pub fn is_shell(tool: &str) -> bool {
    let t = tool.to_ascii_lowercase();
    t.contains("exec") || t.contains("shell") || t.contains("bash") || t.contains("terminal")
}

/// What a command is, for telling a re-run from another command: the program and its
/// subcommand (`cargo test`, `pnpm test`, `make db-up`, `pytest`), without `cd … &&`,
/// environment assignments or a path before the program.
pub fn command_key(command: &str) -> Option<String> {
    let first = command.lines().find(|l| !l.trim().is_empty())?;
    let mut segment = first.trim();
    // `cd app && cargo test`: the command is what follows the last `&&` that follows a cd.
    while let Some(rest) = segment
        .strip_prefix("cd ")
        .and_then(|r| r.split_once("&&").map(|(_, b)| b.trim()))
    {
        segment = rest;
    }
    let mut words = segment
        .split_whitespace()
        .skip_while(|w| {
            w.contains('=')
                && !w.starts_with('-')
                && w.split('=').next().is_some_and(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
        })
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''));
    let program = words.next()?;
    let program = program.rsplit('/').next().unwrap_or(program);
    if program.is_empty() {
        return None;
    }
    let sub = |w: &str| {
        !w.is_empty()
            && w.len() <= 40
            && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
    };
    let mut key = program.to_string();
    match words.next() {
        Some("-m") => {
            if let Some(m) = words.next() {
                key.push_str(" -m ");
                key.push_str(m);
            }
        }
        Some("run") if matches!(program, "npm" | "pnpm" | "yarn" | "bun") => {
            key.push_str(" run");
            if let Some(s) = words.next().filter(|w| sub(w)) {
                key.push(' ');
                key.push_str(s);
            }
        }
        Some(w) if sub(w) => {
            key.push(' ');
            key.push_str(w);
        }
        _ => {}
    }
    Some(key)
}

/// `build`, `test` or `lint` for a command key that is one.
pub fn check_kind(key: &str) -> Option<&'static str> {
    let has = |words: &[&str]| words.iter().any(|w| key.contains(w));
    if has(&[
        "test", "pytest", "jest", "vitest", "rspec", "tox", "nox", "ctest", "phpunit",
    ]) {
        Some("test")
    } else if has(&[
        "lint",
        "clippy",
        "eslint",
        "ruff",
        "flake8",
        "pylint",
        "mypy",
        "fmt",
        "format",
        "prettier",
        "shellcheck",
        "golangci",
        "vet",
        "rubocop",
        "stylelint",
    ]) {
        Some("lint")
    } else if has(&["build", "compile", "check", "tsc", "webpack", "assemble"])
        || key == "make"
        || key == "ninja"
    {
        Some("build")
    } else {
        None
    }
}

fn correction_start_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)^\s*(?:no\b|nope\b|wrong\b|stop\b|wait\b|actually\b|don'?t\b|don’t\b|do not\b|never\b|not\s+(?:that|like|what|this)\b|that'?s\s+(?:not|wrong)\b|that’s\s+(?:not|wrong)\b|instead\b|undo\b|revert\b|please\s+don|use\s+\S+\s+(?:instead|not)\b|不对|不是|不要|别|错了|停|应该)",
        )
        .expect("correction regex")
    })
}

fn correction_anywhere_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(?:instead\s+of|i\s+said|i\s+told\s+you|should\s+have|shouldn'?t\s+have|not\s+what\s+i|you\s+(?:broke|forgot|ignored)|that'?s\s+wrong|wrong\s+(?:command|file|way))\b|我说过|不是这样|搞错",
        )
        .expect("correction regex")
    })
}

/// Whether a user message corrects the agent ("no, use pnpm", "don't touch x", "不对").
pub fn is_correction(text: &str) -> bool {
    correction_start_re().is_match(text) || correction_anywhere_re().is_match(text)
}

/// Chooses what to show of `msgs` within `budget` characters. `cost(i, show)` is what
/// message `i` takes rendered that way (header and fence included).
pub fn plan(msgs: &[WindowMessage], budget: usize, cost: &dyn Fn(usize, Show) -> usize) -> Plan {
    let n = msgs.len();
    let kinds: Vec<Kind> = msgs.iter().map(kind).collect();
    let mut show = vec![Show::Omit; n];
    let raise = |show: &mut Vec<Show>, i: usize, to: Show| {
        let rank = |s: Show| match s {
            Show::Omit => 0,
            Show::Excerpt => 1,
            Show::Full => 2,
        };
        if rank(to) > rank(show[i]) {
            show[i] = to;
        }
    };

    // 1, 2: every user message; the reply to a correction.
    let mut corrections = Vec::new();
    for i in 0..n {
        if kinds[i] != Kind::User {
            continue;
        }
        raise(&mut show, i, Show::Full);
        if is_correction(&msgs[i].text) {
            corrections.push(i);
            if let Some(r) = (i + 1..n)
                .take_while(|&j| kinds[j] != Kind::User)
                .find(|&j| kinds[j] == Kind::Assistant && !msgs[j].text.trim().is_empty())
            {
                raise(&mut show, r, Show::Full);
            }
        }
    }

    // Each call's output: the next output of the same tool not taken by an earlier call.
    let mut output_of: Vec<Option<usize>> = vec![None; n];
    let mut waiting: HashMap<&str, std::collections::VecDeque<usize>> = HashMap::new();
    for i in 0..n {
        let tool = msgs[i].tool.as_deref().unwrap_or("");
        match kinds[i] {
            Kind::Call => waiting.entry(tool).or_default().push_back(i),
            Kind::Output => {
                if let Some(c) = waiting.get_mut(tool).and_then(|q| q.pop_front()) {
                    output_of[c] = Some(i);
                }
            }
            _ => {}
        }
    }

    // 3, 4: shell commands, how they ended.
    let mut pairs = Vec::new();
    let mut failing: HashMap<String, (usize, String)> = HashMap::new();
    let mut last_check: HashMap<&'static str, usize> = HashMap::new();
    let mut calls_since: Vec<usize> = Vec::new();
    for i in 0..n {
        if kinds[i] != Kind::Call {
            continue;
        }
        let shell = msgs[i].tool.as_deref().is_some_and(is_shell);
        let key = if shell {
            command_key(&msgs[i].text)
        } else {
            None
        };
        let Some(key) = key else {
            calls_since.push(i);
            continue;
        };
        let (state, err) = output_of[i]
            .map(|o| run_state(&msgs[o].text))
            .unwrap_or((RunState::Unknown, None));
        match state {
            RunState::Failed => {
                failing.insert(key.clone(), (i, err.unwrap_or_default()));
            }
            RunState::Passed | RunState::Unknown => {
                if let Some((f, error_line)) = failing.remove(&key) {
                    // The last calls before the passing run, back to the failure.
                    let mut fixes: Vec<usize> = calls_since
                        .iter()
                        .rev()
                        .copied()
                        .take_while(|&c| c > f)
                        .filter(|&c| command_key(&msgs[c].text).as_deref() != Some(key.as_str()))
                        .take(MAX_FIXES)
                        .collect();
                    fixes.reverse();
                    pairs.push(FixPair {
                        failed_call: f,
                        failed_output: output_of[f],
                        error_line,
                        fixes,
                        passed_call: i,
                        passed_output: output_of[i],
                    });
                }
                if let Some(k) = check_kind(&key) {
                    last_check.insert(k, i);
                }
            }
        }
        calls_since.push(i);
    }
    // The outputs of failed→fixed commands and of the last checks stay excerpts: cut to its
    // head and tail, a long output could lose the very error line the excerpt shows.
    let mut excerpts = std::collections::HashSet::new();
    for p in &pairs {
        excerpts.extend([p.failed_output, p.passed_output].into_iter().flatten());
    }
    for p in &pairs {
        raise(&mut show, p.failed_call, Show::Full);
        raise(&mut show, p.passed_call, Show::Full);
        for &f in &p.fixes {
            raise(&mut show, f, Show::Full);
        }
        for o in [p.failed_output, p.passed_output].into_iter().flatten() {
            raise(&mut show, o, Show::Excerpt);
        }
    }
    let mut checks: Vec<LastCheck> = ["build", "test", "lint"]
        .iter()
        .filter_map(|k| {
            last_check.get(k).map(|&call| LastCheck {
                kind: k,
                call,
                output: output_of[call],
            })
        })
        .collect();
    checks.sort_by_key(|c| c.call);
    for c in &checks {
        raise(&mut show, c.call, Show::Full);
        if let Some(o) = c.output {
            raise(&mut show, o, Show::Excerpt);
            excerpts.insert(o);
        }
    }

    // 5: what the budget leaves, by kind, head and tail.
    let used: usize = (0..n).map(|i| cost(i, show[i])).sum();
    let mut left = budget.saturating_sub(used);
    for class in [Kind::Assistant, Kind::Call, Kind::Output, Kind::Other] {
        let todo: Vec<usize> = (0..n)
            .filter(|&i| kinds[i] == class && show[i] != Show::Full && !excerpts.contains(&i))
            .collect();
        let extra =
            |i: usize, show: &Vec<Show>| cost(i, Show::Full).saturating_sub(cost(i, show[i]));
        let all: usize = todo.iter().map(|&i| extra(i, &show)).sum();
        if all <= left {
            for &i in &todo {
                show[i] = Show::Full;
            }
            left -= all;
            continue;
        }
        let head_budget = left / 4;
        let mut head_end = 0;
        let mut spent = 0;
        for (k, &i) in todo.iter().enumerate() {
            let e = extra(i, &show);
            if spent + e > head_budget {
                break;
            }
            spent += e;
            show[i] = Show::Full;
            head_end = k + 1;
        }
        for &i in todo[head_end..].iter().rev() {
            let e = extra(i, &show);
            if spent + e > left {
                break;
            }
            spent += e;
            show[i] = Show::Full;
        }
        left = left.saturating_sub(spent);
    }
    Plan {
        show,
        pairs,
        checks,
        corrections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: i64, role: &str, tool: Option<&str>, text: &str) -> WindowMessage {
        WindowMessage {
            id,
            role: role.into(),
            tool: tool.map(String::from),
            ts_ms: None,
            text: text.into(),
        }
    }

    #[test]
    fn outputs_say_how_a_command_ended() {
        let codex_fail = "Chunk ID: 1\nWall time: 0.1 seconds\nProcess exited with code 1\nOriginal token count: 9\nOutput:\nerror: could not find `Cargo.toml`\n";
        assert_eq!(
            run_state(codex_fail),
            (
                RunState::Failed,
                Some("error: could not find `Cargo.toml`".into())
            )
        );
        assert_eq!(
            run_state("Chunk ID: 1\nProcess exited with code 0\nOutput:\nok\n").0,
            RunState::Passed
        );
        // An exit code decides even when the output mentions errors.
        assert_eq!(
            run_state("Exit code: 0\nerror: 0 errors found\n").0,
            RunState::Passed
        );
        let (s, e) = run_state("Exit code: 2\nsomething went sideways\n\n");
        assert_eq!(
            (s, e.as_deref()),
            (RunState::Failed, Some("something went sideways"))
        );
        assert_eq!(
            run_state("<tool_use_error>File has not been read yet.</tool_use_error>").0,
            RunState::Failed
        );
        assert_eq!(
            run_state("bash: pnpx: command not found").0,
            RunState::Failed
        );
        assert_eq!(
            run_state("Traceback (most recent call last):\n  File x\nValueError: bad\n").0,
            RunState::Failed
        );
        assert_eq!(run_state("total 8\nREADME.md\n").0, RunState::Unknown);
        assert_eq!(
            excerpt("Exit code: 1\nline\nerror[E0382]: borrow of moved value\nmore\nlast line\n"),
            "Exit code: 1\nerror[E0382]: borrow of moved value\nlast line"
        );
    }

    #[test]
    fn commands_are_known_by_program_and_subcommand() {
        for (cmd, key) in [
            ("cargo test -p csep-lib", "cargo test"),
            ("cd app && pnpm test -- --run", "pnpm test"),
            ("RUST_LOG=debug cargo build --release", "cargo build"),
            ("./node_modules/.bin/vitest run", "vitest run"),
            ("python -m pytest tests/x.py", "python -m pytest"),
            ("pytest tests/x.py", "pytest"),
            ("npm run lint --fix", "npm run lint"),
            ("make db-up", "make db-up"),
            ("make", "make"),
            ("ls -la", "ls"),
        ] {
            assert_eq!(command_key(cmd).as_deref(), Some(key), "{cmd}");
        }
        assert_eq!(check_kind("cargo test"), Some("test"));
        assert_eq!(check_kind("cargo clippy"), Some("lint"));
        assert_eq!(check_kind("npm run lint"), Some("lint"));
        assert_eq!(check_kind("cargo build"), Some("build"));
        assert_eq!(check_kind("make"), Some("build"));
        assert_eq!(check_kind("ls"), None);
        assert_eq!(check_kind("make db-up"), None);
    }

    #[test]
    fn corrections_are_told_from_requests() {
        for t in [
            "no, use pnpm",
            "Don't touch the migrations folder",
            "actually we use Node 22",
            "that's wrong: the port is 5433",
            "use pnpm instead of npm",
            "不对，用 pnpm",
            "别改 migrations 目录",
        ] {
            assert!(is_correction(t), "{t}");
        }
        for t in [
            "add a login page",
            "now run the tests",
            "nothing else for today",
            "what's next?",
        ] {
            assert!(!is_correction(t), "{t}");
        }
    }

    #[test]
    fn user_messages_and_fixes_come_first_and_output_fills_the_rest() {
        let big = "x".repeat(5_000);
        let mut msgs = vec![m(1, "user", None, "set up the repo")];
        let mut id = 2;
        // Twenty noisy tool turns.
        for _ in 0..20 {
            msgs.push(m(id, "assistant", Some("exec_command"), "cat big.log"));
            msgs.push(m(id + 1, "tool", Some("exec_command"), &big));
            id += 2;
        }
        // A correction, its reply, a failing test, a fix, a passing test.
        msgs.push(m(id, "user", None, "no, run the tests with pnpm"));
        msgs.push(m(id + 1, "assistant", None, "Right, pnpm it is."));
        msgs.push(m(id + 2, "assistant", Some("exec_command"), "pnpm test"));
        msgs.push(m(
            id + 3,
            "tool",
            Some("exec_command"),
            &format!("Exit code: 1\n{big}\nError: connect ECONNREFUSED 127.0.0.1:5433\n"),
        ));
        msgs.push(m(id + 4, "assistant", Some("exec_command"), "make db-up"));
        msgs.push(m(
            id + 5,
            "tool",
            Some("exec_command"),
            "Exit code: 0\nstarted\n",
        ));
        msgs.push(m(id + 6, "assistant", Some("exec_command"), "pnpm test"));
        msgs.push(m(
            id + 7,
            "tool",
            Some("exec_command"),
            &format!("Exit code: 0\n{big}\n12 passed\n"),
        ));
        id += 8;
        for _ in 0..20 {
            msgs.push(m(id, "assistant", Some("exec_command"), "cat big.log"));
            msgs.push(m(id + 1, "tool", Some("exec_command"), &big));
            id += 2;
        }
        msgs.push(m(id, "user", None, "thanks"));
        let cost = |i: usize, s: Show| match s {
            Show::Omit => 0,
            Show::Excerpt => 100,
            Show::Full => msgs[i].text.len().min(1_200) + 50,
        };
        let p = plan(&msgs, 20_000, &cost);
        let at = |id: i64| msgs.iter().position(|m| m.id == id).unwrap();
        for (i, msg) in msgs.iter().enumerate() {
            if msg.role == "user" {
                assert_eq!(p.show[i], Show::Full, "user #{}", msg.id);
            }
        }
        let c = at(42);
        assert_eq!(p.corrections, vec![c]);
        assert_eq!(p.show[c + 1], Show::Full, "the reply to the correction");
        assert_eq!(p.pairs.len(), 1, "{:?}", p.pairs);
        let pair = &p.pairs[0];
        assert_eq!(
            (pair.failed_call, pair.fixes.clone(), pair.passed_call),
            (c + 2, vec![c + 4], c + 6)
        );
        assert_eq!(
            pair.error_line,
            "Error: connect ECONNREFUSED 127.0.0.1:5433"
        );
        for i in [c + 2, c + 4, c + 6] {
            assert_eq!(p.show[i], Show::Full);
        }
        // The outputs of the pair stay excerpts (the error line is what matters).
        assert_eq!(p.show[c + 3], Show::Excerpt);
        assert_eq!(p.show[c + 7], Show::Excerpt);
        assert_eq!(p.checks.len(), 1);
        assert_eq!((p.checks[0].kind, p.checks[0].call), ("test", c + 6));
        // Within the budget, and tool output was cut from the middle: the first and the
        // last output are there, one in the middle is not.
        let total: usize = (0..msgs.len()).map(|i| cost(i, p.show[i])).sum();
        assert!(total <= 20_000, "{total}");
        assert_eq!(p.show[2], Show::Full);
        assert_eq!(p.show[msgs.len() - 2], Show::Full);
        assert_eq!(p.show[22], Show::Omit);
        // Every call is shown: calls are small and say what was done.
        for (i, msg) in msgs.iter().enumerate() {
            if kind(msg) == Kind::Call {
                assert_eq!(p.show[i], Show::Full, "call #{}", msg.id);
            }
        }
    }

    #[test]
    fn the_fix_is_the_last_calls_between_the_failure_and_the_passing_run() {
        let msgs = vec![
            m(1, "assistant", Some("exec_command"), "cargo test"),
            m(
                2,
                "tool",
                Some("exec_command"),
                "Exit code: 101\nerror[E0432]: unresolved import `x`",
            ),
            m(3, "assistant", Some("exec_command"), "cargo test -p lib"),
            m(
                4,
                "tool",
                Some("exec_command"),
                "Exit code: 101\ntest result: FAILED. 1 passed; 2 failed",
            ),
            m(
                5,
                "assistant",
                Some("apply_patch"),
                "*** Begin Patch\n*** Update File: src/x.rs",
            ),
            m(
                6,
                "tool",
                Some("apply_patch"),
                "Success. Updated the following files: src/x.rs",
            ),
            m(7, "assistant", Some("exec_command"), "cargo fmt"),
            m(8, "tool", Some("exec_command"), "Exit code: 0\n"),
            m(9, "assistant", Some("exec_command"), "cargo test"),
            m(
                10,
                "tool",
                Some("exec_command"),
                "Exit code: 0\ntest result: ok. 3 passed",
            ),
        ];
        let p = plan(&msgs, 0, &|_, _| 1);
        assert_eq!(p.pairs.len(), 1, "{:?}", p.pairs);
        // The latest failure counts; the re-run of the same command is not part of the fix.
        assert_eq!(p.pairs[0].failed_call, 2);
        assert_eq!(
            p.pairs[0].error_line,
            "test result: FAILED. 1 passed; 2 failed"
        );
        assert_eq!(p.pairs[0].fixes, vec![4, 6]);
        assert_eq!(p.pairs[0].passed_call, 8);
        let kinds: Vec<(&str, usize)> = p.checks.iter().map(|c| (c.kind, c.call)).collect();
        assert_eq!(kinds, vec![("lint", 6), ("test", 8)]);
    }

    #[test]
    fn user_messages_stay_even_past_the_budget() {
        let msgs: Vec<WindowMessage> = (1..=50)
            .map(|i| m(i, "user", None, &"u".repeat(500)))
            .collect();
        let p = plan(&msgs, 1_000, &|i, s| match s {
            Show::Omit => 0,
            _ => msgs[i].text.len(),
        });
        assert!(p.show.iter().all(|s| *s == Show::Full));
    }
}
