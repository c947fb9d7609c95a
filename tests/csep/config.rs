//! Black-box tests of `csep config path | show [--raw] | init [--force] | validate`: exit
//! codes by what the file holds, where each value comes from, the starter file, and that
//! no value of `.env.provider` is ever printed.

use crate::common;

use common::Env;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;

fn run(env: &Env, args: &[&str]) -> Output {
    env.cmd("csep").args(args).output().unwrap()
}

/// The one JSON object a command printed, which must start with `"type"`.
#[track_caller]
fn object(out: &Output) -> Value {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.starts_with("{\"type\":") && text.trim_end().lines().count() == 1,
        "not one line with \"type\" first: {text}"
    );
    serde_json::from_str(text.trim_end()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The warnings' (key, kind) pairs.
fn warnings(v: &Value) -> Vec<(Value, String)> {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["key"].clone(), w["kind"].as_str().unwrap().to_string()))
        .collect()
}

/// A config.toml text, the exit status `validate` gives it, its `status`, and the warnings'
/// (key, kind).
type Case<'a> = (&'a str, i32, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn validate_exits_0_clean_1_warnings_2_unusable() {
    let env = Env::new();
    let out = run(&env, &["config", "validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = object(&out);
    assert_eq!(v["type"], "config_validate");
    assert_eq!(
        (v["status"].clone(), v["config_exists"].clone()),
        ("ok".into(), false.into())
    );

    let secret = "sk-proj-ZyXwVuTsRqPoNmLkJiHg42";
    let cases: &[Case] = &[
        (
            "[memory]\ninject_max_chars = 6000\n[log]\nretention_days = 3\n",
            0,
            "ok",
            &[],
        ),
        (
            "colour = \"red\"\n",
            1,
            "warnings",
            &[("colour", "unknown_key")],
        ),
        (
            "[session_reflection]\nopenai_api_key = \"x\"\n",
            1,
            "warnings",
            &[("session_reflection.openai_api_key", "secret")],
        ),
        (
            &format!("[session_reflection]\nmodel = \"{secret}\"\n"),
            1,
            "warnings",
            &[("session_reflection.model", "secret")],
        ),
        (
            "[session_reflection.trigger]\nmemory_stop_interval = 0\n",
            1,
            "warnings",
            &[(
                "session_reflection.trigger.memory_stop_interval",
                "out_of_range",
            )],
        ),
        (
            "[session_reflection]\nsandbox = \"anything-goes\"\n",
            1,
            "warnings",
            &[("session_reflection.sandbox", "out_of_range")],
        ),
        (
            "[log]\nretention_days = \"two weeks\"\n",
            1,
            "warnings",
            &[("log.retention_days", "wrong_type")],
        ),
        (
            "schema_version = 3\n",
            1,
            "warnings",
            &[("schema_version", "schema_version")],
        ),
    ];
    for (text, code, status, expected) in cases {
        env.config(text);
        let out = run(&env, &["config", "validate"]);
        assert_eq!(out.status.code(), Some(*code), "{text}: {}", stderr(&out));
        let v = object(&out);
        assert_eq!(v["status"], *status, "{text}");
        assert_eq!(v["config_exists"], true);
        let want: Vec<(Value, String)> = expected
            .iter()
            .map(|(k, kind)| (Value::from(*k), kind.to_string()))
            .collect();
        assert_eq!(warnings(&v), want, "{text}");
        // Each warning is also one stderr line naming its key.
        let err = stderr(&out);
        assert_eq!(err.lines().count(), expected.len(), "{err}");
        for (k, _) in *expected {
            assert!(err.contains("csep: ") && err.contains(k), "{err}");
        }
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(secret) && !err.contains(secret),
            "a secret from config.toml was printed"
        );
    }

    env.config("[session_reflection\nenabled = ");
    let out = run(&env, &["config", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    let v = object(&out);
    assert_eq!(v["status"], "parse_error");
    assert_eq!(warnings(&v), vec![(Value::Null, "parse_error".to_string())]);
    assert!(
        stderr(&out).contains("not valid TOML (line 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);

    let file = env.state().join("config.toml");
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    let out = run(&env, &["config", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(object(&out)["status"], "unreadable");
}

#[test]
fn show_tells_file_from_default_for_every_key() {
    let env = Env::new();
    env.config(
        "# mine\n[memory]\ninject_max_chars = 6000\n\n[session_reflection.trigger]\n\
         skill_generation_mode = \"evidence_first\"\nmemory_stop_interval = 0\n",
    );
    let out = run(&env, &["config", "show"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = object(&out);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec![
            "type",
            "config_path",
            "config_exists",
            "schema_version",
            "resolved",
            "sources",
            "warnings",
            "env_provider"
        ]
    );
    assert_eq!(v["type"], "config_show");
    assert_eq!(v["resolved"]["memory"]["inject_max_chars"], 6000);
    assert_eq!(
        v["resolved"]["session_reflection"]["trigger"]["skill_generation_mode"],
        "evidence_first"
    );
    assert_eq!(
        v["resolved"]["session_reflection"]["trigger"]["memory_stop_interval"],
        3
    );
    let sources = v["sources"].as_object().unwrap();
    assert_eq!(sources.len(), 23);
    for (key, source) in sources {
        let want = match key.as_str() {
            "memory.inject_max_chars" | "session_reflection.trigger.skill_generation_mode" => {
                "file"
            }
            // Out of range: the default applies.
            _ => "default",
        };
        assert_eq!(source, want, "{key}");
    }
    assert_eq!(
        warnings(&v),
        vec![(
            "session_reflection.trigger.memory_stop_interval".into(),
            "out_of_range".to_string()
        )]
    );
    assert!(stderr(&out).contains("memory_stop_interval: must be positive"));

    // --home is 1.3.10's name for --state-dir, and both win over CSEP_HOME.
    let other = env.path("other");
    for flag in ["--home", "--state-dir"] {
        let out = run(&env, &["config", "show", flag, other.to_str().unwrap()]);
        let v = object(&out);
        assert_eq!(v["config_exists"], false, "{flag}");
        assert!(v["sources"]
            .as_object()
            .unwrap()
            .values()
            .all(|s| s == "default"));
        let out = run(&env, &["config", "path", flag, other.to_str().unwrap()]);
        assert_eq!(
            object(&out)["config_path"],
            other.join("config.toml").to_str().unwrap()
        );
    }
}

#[test]
fn show_raw_prints_the_text_as_it_is() {
    let env = Env::new();
    let out = run(&env, &["config", "show", "--raw"]);
    let v = object(&out);
    assert_eq!(v["type"], "config_raw");
    assert_eq!(
        (v["raw"].clone(), v["config_exists"].clone()),
        ("".into(), false.into())
    );
    // Not even TOML: --raw does not parse.
    let text = "# keep   this\n[memory]\n  inject_max_chars=6000   # odd spacing\n\n[oops\n";
    env.config(text);
    let out = run(&env, &["config", "show", "--raw"]);
    assert_eq!(out.status.code(), Some(0));
    let v = object(&out);
    assert_eq!(v["raw"], text);
    assert_eq!(v["config_exists"], true);
    assert_eq!(
        v["config_path"],
        env.state().join("config.toml").to_str().unwrap()
    );
}

#[test]
fn path_names_the_file_whether_or_not_it_exists() {
    let env = Env::new();
    let v = object(&run(&env, &["config", "path"]));
    assert_eq!(v["type"], "config_path");
    assert_eq!(
        v["config_path"],
        env.state().join("config.toml").to_str().unwrap()
    );
    assert_eq!(v["config_exists"], false);
    env.config("");
    assert_eq!(
        object(&run(&env, &["config", "path"]))["config_exists"],
        true
    );
}

#[test]
fn init_writes_a_clean_starter_refuses_to_overwrite_and_keeps_a_backup_with_force() {
    let env = Env::new();
    let file = env.state().join("config.toml");
    let out = run(&env, &["config", "init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = object(&out);
    assert_eq!(v["type"], "config_init");
    assert_eq!(v["status"], "created");
    assert_eq!(v["backup_path"], Value::Null);
    let starter = fs::read_to_string(&file).unwrap();
    assert!(starter.contains("# inject_max_chars = 8000"), "{starter}");

    // The starter loads with no warning, and every value is the default.
    let out = run(&env, &["config", "validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty());
    let v = object(&run(&env, &["config", "show"]));
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["config_exists"], true);
    assert!(v["sources"]
        .as_object()
        .unwrap()
        .values()
        .all(|s| s == "default"));
    // Every key it knows is named in the starter.
    for key in v["sources"].as_object().unwrap().keys() {
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            starter.contains(&format!("# {leaf} = ")),
            "the starter lacks {key}"
        );
    }

    // A second init refuses and changes nothing.
    fs::write(&file, "[memory]\ninject_max_chars = 1234\n").unwrap();
    let out = run(&env, &["config", "init"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(object(&out)["status"], "exists");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "[memory]\ninject_max_chars = 1234\n"
    );

    // --force replaces it, keeping the old text beside it.
    let out = run(&env, &["config", "init", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = object(&out);
    assert_eq!(v["status"], "overwritten");
    let backup = v["backup_path"].as_str().unwrap();
    assert!(
        backup.starts_with(env.state().join("config.toml.bak-").to_str().unwrap()),
        "{backup}"
    );
    assert_eq!(
        fs::read_to_string(backup).unwrap(),
        "[memory]\ninject_max_chars = 1234\n"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), starter);
    // No temp file is left behind (the run log is the one other entry).
    let names: Vec<String> = fs::read_dir(env.state())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "logs")
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn env_provider_reports_names_and_mode_and_never_a_value() {
    let env = Env::new();
    let values = [
        "sk-proj-PLANTEDVALUEaaaa1111bbbb",
        "PLANTED-anthropic-2222",
        "planted_other_3333",
    ];
    let file = env.state().join(".env.provider");
    fs::create_dir_all(env.state()).unwrap();
    fs::write(
        &file,
        format!(
            "# provider keys\nexport OPENAI_API_KEY=\"{}\"\nANTHROPIC_API_KEY='{}'\n\
             KIMI_API_KEY=\nMY_PROXY_TOKEN={}\n",
            values[0], values[1], values[2]
        ),
    )
    .unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    env.config("[memory]\ninject_max_chars = 6000\n");

    let mut printed = String::new();
    let mut record = |out: &Output| {
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        printed.push_str(&String::from_utf8_lossy(&out.stderr));
    };
    let out = run(&env, &["config", "show"]);
    record(&out);
    let v = object(&out);
    let e = &v["env_provider"];
    assert_eq!(e["path"], file.to_str().unwrap());
    assert_eq!(e["exists"], true);
    assert_eq!(
        e["keys_set"],
        serde_json::json!(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"])
    );
    assert_eq!(
        e["keys_unset"],
        serde_json::json!(["MINIMAX_API_KEY", "KIMI_API_KEY"])
    );
    assert_eq!(e["other_keys_set"], serde_json::json!(["MY_PROXY_TOKEN"]));
    assert_eq!(e["mode"], "0644");
    assert_eq!(e["mode_too_wide"], true);
    assert_eq!(e["error"], Value::Null);
    assert!(stderr(&out).contains("chmod 600"));

    // A file others can read is a warning for validate.
    let out = run(&env, &["config", "validate"]);
    record(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        warnings(&object(&out)),
        vec![(Value::Null, "env_file_mode".to_string())]
    );
    // csep status reports the same, by name.
    let out = run(&env, &["status"]);
    record(&out);
    let status = object(&out);
    assert_eq!(status["env_provider"]["keys_set"], e["keys_set"]);
    assert_eq!(status["env_provider"]["mode_too_wide"], true);
    assert!(
        status["warnings"].to_string().contains("chmod 600"),
        "{}",
        status["warnings"]
    );
    for args in [
        &["config", "path"][..],
        &["config", "show", "--raw"],
        &["config", "init", "--force"],
        &["migrate-worktrees"],
    ] {
        record(&run(&env, args));
    }
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&env, &["config", "validate"]);
    record(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(object(&out)["status"], "ok");

    assert!(printed.contains("OPENAI_API_KEY"), "the test saw no output");
    for value in values {
        assert!(!printed.contains(value), "{value} was printed");
    }
    for entry in common::walk(&env.state()) {
        if entry != file {
            let text = fs::read(&entry).unwrap();
            for value in values {
                assert!(
                    !String::from_utf8_lossy(&text).contains(value),
                    "{value} was written to {}",
                    entry.display()
                );
            }
        }
    }
}
