//! The one end-to-end flow of issue #15 for the hosts whose model side is OpenAI Chat
//! Completions or the Gemini API (Copilot CLI, Qwen Code, Factory Droid, Gemini CLI), against
//! the scripted tests/support/mock_chat.py: a fresh HOME, `csep setup` as a user runs it, a
//! two-prompt headless session (a shell call, then a resumed second prompt), the repo's
//! MEMORY.md marker in the model's requests, the drainer making the session findable with
//! `csep recall --agent HOST`, and `csep uninstall` giving back the host's file byte for byte.
//! Each host's file (tests/csep/e2e_HOST.rs) says how to run it; this says what must hold.

use super::{unique_token, walk, Host, Run, World, RUN_TIMEOUT};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const MOCK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/mock_chat.py");

/// The [`Host`] side the chat hosts share: the mock at [`MOCK`] (60 model requests at most),
/// its log read by [`is_model_request`] and [`describe_request`], the XDG dirs of
/// [`xdg_env`] and the config dir listed in the diagnostics. `env` sets the host's own
/// variables; an optional `diagnose` adds to the diagnostics.
macro_rules! chat_host {
    (
        $host:ty, name: $name:literal, config_dir: $config_dir:literal,
        env: |$w:ident, $c:ident| $env:block
        $(, diagnose: |$dw:ident, $dd:ident| $more:block)? $(,)?
    ) => {
        impl $crate::common::Host for $host {
            const NAME: &'static str = $name;
            const CONFIG_DIR: &'static str = $config_dir;
            const MOCK: &'static str = $crate::common::chat_hosts::MOCK;
            const MAX_REQUESTS: u32 = 60;
            fn env($w: &$crate::common::World<Self>, $c: &mut std::process::Command) {
                $crate::common::chat_hosts::xdg_env($w, $c);
                $env
            }
            fn is_model_request(path: &str) -> bool {
                $crate::common::chat_hosts::is_model_request(path)
            }
            fn describe_request(v: &serde_json::Value) -> String {
                $crate::common::chat_hosts::describe_request(v)
            }
            fn diagnose(w: &$crate::common::World<Self>, _mock_log: &str, d: &mut String) {
                $crate::common::chat_hosts::describe_files(&w.config_dir(), d);
                $(
                    let ($dw, $dd) = (w, d);
                    $more
                )?
            }
        }
    };
}
pub(crate) use chat_host;

/// What a host adds to [`Host`] for the shared flow.
pub trait ChatHost: Host {
    /// The host's name for csep (`--agent`, the session key's prefix).
    const AGENT: &'static str;
    /// The variable naming the host's binary, and the command that installs it.
    const BIN_VAR: &'static str;
    const INSTALL: &'static str;
    /// The host's file that `csep setup` writes its hooks into (or, for a host with hooks
    /// elsewhere, the settings file it must leave alone): after uninstall it must hold the
    /// bytes it held before setup, or be absent again.
    fn hooks_file(w: &World<Self>) -> PathBuf;
    /// Writes the host's own settings (the model at the mock, and a hook or key of the
    /// user's own in the hooks file when the host has one there) before setup runs.
    fn prepare(w: &World<Self>);
    /// One headless prompt in the work dir (the next prompt of the session `resume`, when
    /// given): the command, not yet run.
    fn prompt(w: &World<Self>, prompt: &str, resume: Option<&str>) -> Command;
    /// What csep setup installed for the host, all of which uninstall must remove: by
    /// default the csep-hook.sh scripts the hooks file's commands run, at least one. An
    /// error says what is missing.
    fn installed(w: &World<Self>) -> Result<Vec<PathBuf>, String> {
        let file = Self::hooks_file(w);
        let bytes = fs::read(&file).map_err(|e| {
            format!(
                "csep setup installed no {} hooks ({}: {e})",
                Self::AGENT,
                file.display()
            )
        })?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} after setup is not JSON: {e}", file.display()))?;
        let scripts = hook_scripts_anywhere(&doc);
        if scripts.is_empty() {
            return Err(format!(
                "no hook in {} runs csep-hook.sh after csep setup: {doc}",
                file.display()
            ));
        }
        Ok(scripts)
    }
    /// The session's id, read from the host's files after the first prompt.
    fn session_id(w: &World<Self>) -> Option<String>;
    /// Both prompts as one session, each run to the end: the host's stdout after each. By
    /// default two processes, the second resuming the session of the first.
    fn converse(w: &World<Self>, prompts: [&str; 2]) -> [String; 2] {
        let t1 = run(w, "host-turn1", Self::prompt(w, prompts[0], None));
        let id = Self::session_id(w)
            .unwrap_or_else(|| w.fail(&format!("no {} session file after prompt 1", Self::AGENT)));
        let t2 = run(w, "host-turn2", Self::prompt(w, prompts[1], Some(&id)));
        [t1.stdout, t2.stdout]
    }
}

/// Every model request's path: Chat Completions or the Gemini API's generate calls.
pub fn is_model_request(path: &str) -> bool {
    let p = path.split('?').next().unwrap_or(path);
    p.ends_with("/chat/completions")
        || p.ends_with("GenerateContent")
        || p.ends_with(":generateContent")
}

/// One request of the mock's log in a few lines: the rule it got, then each message.
pub fn describe_request(v: &Value) -> String {
    let mut d = format!(
        "#{} {} {} served={} reply={}\n",
        v["seq"], v["method"], v["path"], v["served"], v["reply"]
    );
    let msgs = v["body"]["messages"]
        .as_array()
        .or(v["body"]["contents"].as_array())
        .cloned()
        .unwrap_or_default();
    for m in msgs {
        let text: String = m.to_string().chars().take(240).collect();
        d.push_str(&format!(
            "    {}: {text}\n",
            m["role"].as_str().unwrap_or("?")
        ));
    }
    d
}

/// The host's files, for the diagnostics: every file under `dir`, with the tail of the
/// small ones that are JSON (settings, hooks).
pub fn describe_files(dir: &Path, d: &mut String) {
    d.push_str(&format!("--- files under {}\n", dir.display()));
    for f in walk(dir) {
        d.push_str(&format!("    {}\n", f.display()));
        let small = fs::metadata(&f).is_ok_and(|m| m.len() < 4000);
        if small && f.extension().is_some_and(|e| e == "json") {
            d.push_str(&format!("{}\n", super::read_lossy(&f)));
        }
    }
}

/// The environment every host gets besides its own: XDG dirs inside the world.
pub fn xdg_env<H: Host>(w: &World<H>, c: &mut Command) {
    for (var, dir) in [
        ("XDG_CONFIG_HOME", "home/.config"),
        ("XDG_DATA_HOME", "home/.local/share"),
        ("XDG_STATE_HOME", "home/.local/state"),
        ("XDG_CACHE_HOME", "home/.cache"),
    ] {
        c.env(var, w.p(dir));
    }
    c.env("TERM", "dumb").env("NO_COLOR", "1");
}

/// Every path in a hooks document (any shape: Claude's, Copilot's, Droid's top-level map)
/// that ends in csep-hook.sh, from the quoted words of its string values.
pub fn hook_scripts_anywhere(doc: &Value) -> Vec<PathBuf> {
    fn collect(v: &Value, out: &mut Vec<PathBuf>) {
        match v {
            Value::String(s) => {
                for word in s.split_whitespace() {
                    let word = word.trim_matches(|c| c == '\'' || c == '"');
                    if word.ends_with("csep-hook.sh") {
                        out.push(PathBuf::from(word));
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            Value::Object(o) => o.values().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    collect(doc, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Whether a model request carries the output of a tool call holding `token` (a Chat
/// Completions `tool` message, or a Gemini `functionResponse` part).
pub fn tool_output_seen(request: &Value, token: &str) -> bool {
    let body = &request["body"];
    let chat = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["role"] == "tool" && m["content"].to_string().contains(token));
    let gemini = body["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
        .any(|p| p["functionResponse"].to_string().contains(token));
    chat || gemini
}

/// The file of the session with id `id` among `files` (a transcript named after its id).
pub fn file_stem_id(files: Vec<PathBuf>, ext: &str) -> Option<String> {
    let ids: Vec<String> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == ext))
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| !s.contains('.'))
        .collect();
    (ids.len() == 1).then(|| ids[0].clone())
}

/// The whole flow for host `H`, or a note on stderr and nothing when `H::BIN_VAR` is unset
/// (CI always sets it: scripts/test.sh installs every host).
pub fn session_is_injected_recalled_and_uninstalled<H: ChatHost>() {
    let Some(bin) = std::env::var_os(H::BIN_VAR).filter(|b| !b.is_empty()) else {
        eprintln!(
            "{}: skipped: {} is not set (run `export {}=\"$({})\"`; scripts/test.sh does)",
            H::NAME,
            H::BIN_VAR,
            H::BIN_VAR,
            H::INSTALL
        );
        return;
    };
    let bin = PathBuf::from(bin);
    assert!(
        bin.is_file(),
        "{}={} is not a file: run {}",
        H::BIN_VAR,
        bin.display(),
        H::INSTALL
    );
    let mut w = World::<H>::new(bin);
    let csep = assert_cmd::cargo::cargo_bin("csep");
    let host = H::AGENT;

    // (a) The model: a shell call then an answer for prompt 1, an answer for prompt 2. The
    // two answers hold words that occur nowhere else, so recall can only find them in what
    // csep archived of this session.
    let token = format!("{host}-token-one");
    let (word1, word2) = ("kiwano", "persimmon");
    let prompt1 =
        format!("Do the tamarind step: run `echo {token}` in the shell, then tell me how it went.");
    let prompt2 = "A second question: how did the tamarind check end?";
    let answer1 = format!("The tamarind step printed {token} and the {word1} check passed.");
    let answer2 = format!("It ended well: the {word2} verdict stands.");
    w.start_mock(
        &serde_json::json!([
            {"match": "tamarind step", "command": format!("echo {token}"), "text": answer1},
            {"match": "second question", "text": answer2}
        ])
        .to_string(),
    );
    H::prepare(&w);
    let hooks_file = H::hooks_file(&w);
    let before = fs::read(&hooks_file).ok();

    // (b) A git repo whose memory holds a marker only this run knows.
    let marker = format!("CSEP-E2E-MEMORY-{}", unique_token());
    w.git_repo_with_memory(&format!(
        "- {marker}: in this repo, run the tamarind check before committing\n"
    ));

    // (c) csep setup as a user runs it: every host whose home exists (only this one here).
    let mut c = w.command(&csep);
    c.args(["setup", "--no-codex", "--no-claude", "--no-backfill"]);
    let r = w.run("csep-setup", c, RUN_TIMEOUT);
    w.setup_summary(&r);
    let scripts = H::installed(&w).unwrap_or_else(|e| w.fail(&e));
    w.check_installed(&scripts);

    // (d) Prompt 1, then prompt 2 in the same session.
    let [out1, out2] = H::converse(&w, [&prompt1, prompt2]);
    if !out1.contains(word1) {
        w.fail(&format!(
            "{host} did not print the scripted answer to prompt 1"
        ));
    }
    if !out2.contains(word2) {
        w.fail(&format!(
            "{host} did not print the scripted answer to prompt 2"
        ));
    }
    let session_id = H::session_id(&w).unwrap_or_else(|| {
        w.fail(&format!(
            "want exactly one {host} session file after both prompts (prompt 2 must continue the session of prompt 1)"
        ))
    });

    // (e) What reached the model: the shell call ran and its output came back, and csep's
    // SessionStart context (the memory marker) was in every request of both prompts.
    let reqs = w.requests();
    let scripted: Vec<&Value> = reqs.iter().filter(|r| r["served"].is_u64()).collect();
    if !scripted.iter().any(|r| r["reply"] == "tool_call") {
        w.fail(&format!(
            "{host} never got the scripted shell call (did it offer a shell tool?)"
        ));
    }
    if !scripted.iter().any(|r| tool_output_seen(r, &token)) {
        w.fail(&format!(
            "the shell call's output ({token}) did not come back to the model"
        ));
    }
    for turn in [0, 1] {
        let of_turn: Vec<&&Value> = scripted.iter().filter(|r| r["served"] == turn).collect();
        if of_turn.is_empty() {
            w.fail(&format!("no model request answered prompt {}", turn + 1));
        }
        if let Some(r) = of_turn
            .iter()
            .find(|r| !r["body"].to_string().contains(&marker))
        {
            w.fail(&format!(
                "model request #{} (prompt {}) does not carry the memory marker {marker}: csep's SessionStart context did not reach the model",
                r["seq"],
                turn + 1
            ));
        }
    }

    // (f) The hooks' drainer archived both prompts: recall finds the session by a word of
    // each answer, for this host.
    w.wait_drained();
    let want = format!("{host}:{session_id}");
    for word in [word1, word2] {
        let mut c = w.command(&csep);
        c.args(["recall", word, "--agent", host, "--format", "json"]);
        let r = w.run(&format!("csep-recall-{word}"), c, RUN_TIMEOUT);
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let ids: Vec<&str> = v["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["session_id"].as_str())
            .collect();
        if r.code != Some(0) || !ids.contains(&want.as_str()) {
            w.fail(&format!(
                "csep recall {word} --agent {host}: session {want} is not among the results {ids:?} (exit {:?}): the drainer did not archive this turn",
                r.code
            ));
        }
    }

    // (g) Uninstall gives back the host's file byte for byte (or removes it, when setup
    // created it) and removes the hook script.
    let mut c = w.command(&csep);
    c.arg("uninstall");
    let r = w.run("csep-uninstall", c, RUN_TIMEOUT);
    if r.code != Some(0) {
        w.fail(&format!("csep uninstall exited {:?}", r.code));
    }
    let after = fs::read(&hooks_file).ok();
    if after != before {
        w.fail(&format!(
            "{} after uninstall is not what it was before setup.\n[before]\n{}\n[after]\n{}",
            hooks_file.display(),
            before
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or("(absent)".into()),
            after
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or("(absent)".into())
        ));
    }
    for s in &scripts {
        if s.exists() {
            w.fail(&format!(
                "the hook script {} is still there after uninstall",
                s.display()
            ));
        }
    }
}

/// Runs one host process, which must exit 0.
pub fn run<H: Host>(w: &World<H>, label: &str, c: Command) -> Run {
    let r = w.run(label, c, RUN_TIMEOUT);
    if r.code != Some(0) || r.timed_out {
        w.fail(&format!("{label}: {} exited {:?}", H::NAME, r.code));
    }
    r
}
