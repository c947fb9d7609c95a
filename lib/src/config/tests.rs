//! Unit tests of the config reader: 1.3.10's files, warnings by key and kind, the template.

use super::*;

#[test]
fn a_missing_file_is_all_defaults_and_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (c, w) = load(dir.path());
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c, Config::default());
    let t = &c.session_reflection.trigger;
    assert_eq!(
        (
            t.memory_stop_interval,
            t.memory_context_chars,
            t.skill_tool_call_interval
        ),
        (3, 16000, 15)
    );
    assert_eq!(t.active_job_stale_seconds, 1800);
    assert!(t.enabled && t.high_signal_immediate);
    assert_eq!(c.memory.inject_max_chars, 8000);
    assert_eq!(c.schema_version, 2);
}

#[test]
fn the_1_3_10_template_loads_without_a_warning() {
    // What `csep config init` of 1.3.10 writes, plus our [memory] table.
    let text = r#"
schema_version = 2
[memory]
inject_max_chars = 6000
[session_reflection]
enabled = true
backend = "codex-app-server"
model = "gpt-5.3-codex-spark"
ephemeral = true
sandbox = "danger-full-access"
approval_policy = "never"
skill_prefix = "csep-reflect-"
timeout_seconds = 900
max_concurrent_jobs = 1
[session_reflection.trigger]
enabled = true
memory_stop_interval = 5
memory_context_chars = 16000
skill_tool_call_interval = 15
high_signal_immediate = false
skill_generation_mode = "evidence_first"
active_job_stale_seconds = 60
[session_recall]
enabled = true
stop_hook_archive = true
[log]
retention_days = 14
"#;
    let (c, w) = parse(text).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.memory.inject_max_chars, 6000);
    let t = &c.session_reflection.trigger;
    assert_eq!(t.memory_stop_interval, 5);
    assert!(!t.high_signal_immediate);
    assert_eq!(t.skill_generation_mode, SkillGenerationMode::EvidenceFirst);
    assert_eq!(t.active_job_stale_seconds, 60);
    assert!(c
        .from_file
        .contains("session_reflection.trigger.memory_stop_interval"));
    assert!(c.from_file.contains("memory.inject_max_chars"));
    assert!(c.from_file.contains("schema_version"));
}

#[test]
fn unknown_keys_and_bad_values_warn_and_keep_the_rest() {
    let text = r#"
colour = "red"
[session_reflection]
modle = "x"
openai_api_key = "sk-nope"
[session_reflection.trigger]
memory_stop_interval = 0
memory_context_chars = "lots"
skill_tool_call_interval = 7
skill_generation_mode = "always"
[log]
retention_days = true
"#;
    let (c, w) = parse(text).unwrap();
    let all = w.join("\n");
    assert!(all.contains("colour: unknown key"), "{all}");
    assert!(
        all.contains("session_reflection.modle: unknown key"),
        "{all}"
    );
    assert!(
        all.contains("openai_api_key: unknown key that looks like a secret"),
        "{all}"
    );
    assert!(
        all.contains("memory_stop_interval: must be positive"),
        "{all}"
    );
    assert!(
        all.contains("memory_context_chars: must be a whole number"),
        "{all}"
    );
    assert!(
        all.contains("skill_generation_mode: \"always\" is not one of"),
        "{all}"
    );
    assert!(
        all.contains("log.retention_days: must be a whole number"),
        "{all}"
    );
    assert_eq!(w.len(), 7, "{all}");
    let t = &c.session_reflection.trigger;
    assert_eq!(t.memory_stop_interval, 3);
    assert_eq!(t.memory_context_chars, 16000);
    assert_eq!(t.skill_tool_call_interval, 7);
    assert_eq!(t.skill_generation_mode, SkillGenerationMode::OneShotActive);
    assert!(!c
        .from_file
        .contains("session_reflection.trigger.skill_generation_mode"));
}

#[test]
fn a_broken_or_unreadable_file_is_defaults_plus_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(path(dir.path()), "[session_reflection\nenabled = ").unwrap();
    let (c, w) = load(dir.path());
    assert_eq!(c, Config::default());
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains("not valid TOML") && w[0].contains("config.toml"),
        "{w:?}"
    );

    std::fs::remove_file(path(dir.path())).unwrap();
    std::fs::create_dir(path(dir.path())).unwrap();
    let (c, w) = load(dir.path());
    assert_eq!(c, Config::default());
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("unreadable"), "{w:?}");
}

#[test]
fn the_command_backend_takes_an_argv() {
    let (c, w) =
        parse("[session_reflection]\nbackend = \"command\"\ncommand = [\"sh\", \"reflect.sh\"]\n")
            .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.session_reflection.command, vec!["sh", "reflect.sh"]);
    assert!(c.from_file.contains("session_reflection.command"));
    for bad in [
        "command = \"sh x\"",
        "command = []",
        "command = [\"sh\", 1]",
    ] {
        let (c, w) = parse(&format!("[session_reflection]\n{bad}\n")).unwrap();
        assert_eq!(w.len(), 1, "{bad}: {w:?}");
        assert!(
            w[0].starts_with("session_reflection.command: must be"),
            "{w:?}"
        );
        assert!(c.session_reflection.command.is_empty());
    }
}

#[test]
fn a_non_table_section_and_another_schema_version_warn() {
    let (c, w) = parse("schema_version = 3\nsession_reflection = 1\n").unwrap();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("schema_version: is 3"), "{w:?}");
    assert!(w[1].contains("session_reflection: must be a table"));
    assert_eq!(c.schema_version, 3);
    assert!(c.session_reflection.enabled);
}

/// The template with every `# key = value` line uncommented.
fn uncommented(template: &str) -> String {
    template
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) =>
            {
                rest.to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_starter_template_loads_clean_and_names_every_key_at_its_default() {
    let (c, w) = parse_checked(TEMPLATE).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c, Config::default());
    assert!(c.sources().iter().all(|(_, from_file)| !from_file));

    // Uncommented, every key is set, to its default (`command` has none).
    let (c, w) = parse_checked(&uncommented(TEMPLATE)).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let sources = c.sources();
    let unset: Vec<&String> = sources.iter().filter(|(_, f)| !f).map(|(k, _)| k).collect();
    assert!(unset.is_empty(), "the template lacks {unset:?}");
    let mut expected = Config::default();
    expected.session_reflection.command = vec!["sh".into(), "/path/to/reflect.sh".into()];
    expected.redact.patterns = vec![
        "acme_[A-Za-z0-9]{32}".into(),
        r"(?i)internal-password:\s*(\S+)".into(),
    ];
    expected.from_file = c.from_file.clone();
    assert_eq!(c, expected);
}

#[test]
fn warnings_name_their_key_and_kind() {
    let text = "colour = 1\nschema_version = 3\n[log]\nretention_days = 0\n\
                [session_reflection]\nenabled = \"yes\"\napi_token = \"x\"\n\
                model = \"ghp_0123456789abcdefghijABCDEFGHIJ\"\n";
    let (_, w) = parse_checked(text).unwrap();
    let got: Vec<(Option<&str>, WarningKind)> =
        w.iter().map(|w| (w.key.as_deref(), w.kind)).collect();
    assert_eq!(
        got,
        vec![
            (Some("colour"), WarningKind::UnknownKey),
            (Some("schema_version"), WarningKind::SchemaVersion),
            (Some("session_reflection.api_token"), WarningKind::Secret),
            (Some("session_reflection.enabled"), WarningKind::WrongType),
            (Some("log.retention_days"), WarningKind::OutOfRange),
            (Some("session_reflection.model"), WarningKind::Secret),
        ]
    );
    let all = format!("{w:?}");
    assert!(
        !all.contains("ghp_0123"),
        "a warning shows the secret: {all}"
    );
    assert!(all.contains("github_token"), "{all}");
}

#[test]
fn an_echoed_bad_value_is_redacted() {
    let (_, w) =
        parse_checked("[session_reflection]\nsandbox = \"sk-proj-AbCdEfGhIjKlMnOpQrSt\"\n")
            .unwrap();
    let all = format!("{w:?}");
    assert!(!all.contains("AbCdEfGh"), "{all}");
    assert!(w.iter().any(|w| w.kind == WarningKind::OutOfRange), "{all}");
    assert!(w.iter().any(|w| w.kind == WarningKind::Secret), "{all}");
}

#[test]
fn redact_patterns_keep_the_good_ones_and_name_the_bad_ones() {
    let text = "[redact]\npatterns = ['acme_[a-z0-9]{20}', 'acme_[a-z', 'x*', 7, 'password=(\\S+)']\nother = 1\n";
    let (c, w) = parse_checked(text).unwrap();
    assert_eq!(c.redact.patterns, ["acme_[a-z0-9]{20}", "password=(\\S+)"]);
    assert!(c.from_file.contains("redact.patterns"));
    let got: Vec<(Option<&str>, WarningKind)> =
        w.iter().map(|w| (w.key.as_deref(), w.kind)).collect();
    assert_eq!(
        got,
        [
            (Some("redact.other"), WarningKind::UnknownKey),
            (Some("redact.patterns[1]"), WarningKind::InvalidPattern),
            (Some("redact.patterns[2]"), WarningKind::InvalidPattern),
            (Some("redact.patterns[3]"), WarningKind::WrongType),
        ]
    );
    // A pattern that describes a secret is not itself reported as one.
    assert!(!w.iter().any(|w| w.kind == WarningKind::Secret), "{w:?}");
    let (_, w) = parse_checked("[redact]\npatterns = 'acme'\n").unwrap();
    assert_eq!(w[0].kind, WarningKind::WrongType);

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(redact_patterns(dir.path()), (vec![], vec![]));
    std::fs::write(path(dir.path()), text).unwrap();
    let (p, w) = redact_patterns(dir.path());
    assert_eq!(p, ["acme_[a-z0-9]{20}", "password=(\\S+)"]);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].contains("config.toml: redact.patterns[1]: not a usable pattern ("),
        "{w:?}"
    );
}

#[test]
fn check_tells_a_broken_file_from_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let c = check(dir.path());
    assert!(!c.exists && c.warnings.is_empty());
    std::fs::write(path(dir.path()), "a = 1\n[x\n").unwrap();
    let c = check(dir.path());
    assert!(c.exists);
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0]
            .message
            .starts_with("not valid TOML (line 2, column 3: ")
            && !c.warnings[0].message.contains('\n'),
        "{:?}",
        c.warnings[0]
    );
    assert_eq!(c.warnings[0].kind, WarningKind::ParseError);
    assert!(c.warnings[0].kind.is_fatal() && c.warnings[0].key.is_none());
}

#[test]
fn sources_list_every_key_sorted() {
    let (c, _) = parse("[log]\nretention_days = 3\n").unwrap();
    let s = c.sources();
    assert_eq!(
        s.first().map(|(k, _)| k.as_str()),
        Some("log.retention_days")
    );
    assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(s.contains(&("log.retention_days".into(), true)));
    assert!(s.contains(&("session_reflection.command".into(), false)));
    assert!(s.contains(&("session_reflection.trigger.enabled".into(), false)));
    assert_eq!(s.len(), 23);
}

#[test]
fn warnings_come_in_the_schema_order_whatever_the_file_order() {
    // Written backwards; listed as csep has always listed them: the file's unknown keys,
    // then table by table in the schema's order (`[log]` after `[redact]`), each table's
    // unknown keys before its values, then values outside their set, then the prefix,
    // then secrets.
    let text = "[log]\nretention_days = 0\n[redact]\npatterns = ['(']\nzz = 1\n\
                [session_recall]\nenabled = 2\n\
                [session_reflection.trigger]\nskill_generation_mode = 'nah'\nenabled = 1\n\
                [session_reflection]\nnote = 'ghp_0123456789abcdefghijABCDEFGHIJ'\n\
                skill_prefix = 'mine-'\nsandbox = 'all'\napproval_policy = 'sometimes'\n\
                timeout_seconds = 'x'\nenabled = 'no'\n[memory]\ninject_max_chars = 0\n\
                [zebra]\nx = 1\n";
    let (c, w) = parse_checked(&format!("schema_version = 1\napple = 2\n{text}")).unwrap();
    let got: Vec<&str> = w.iter().map(|w| w.key.as_deref().unwrap()).collect();
    assert_eq!(
        got,
        [
            "apple",
            "zebra",
            "schema_version",
            "memory.inject_max_chars",
            "session_reflection.note",
            "session_reflection.enabled",
            "session_reflection.timeout_seconds",
            "session_reflection.trigger.enabled",
            "session_recall.enabled",
            "redact.zz",
            "redact.patterns[0]",
            "log.retention_days",
            "session_reflection.sandbox",
            "session_reflection.approval_policy",
            "session_reflection.trigger.skill_generation_mode",
            "session_reflection.skill_prefix",
            "session_reflection.note",
        ]
    );
    assert_eq!(w[16].kind, WarningKind::Secret);
    let r = &c.session_reflection;
    assert_eq!(
        (
            r.sandbox,
            r.approval_policy,
            r.trigger.skill_generation_mode
        ),
        Default::default()
    );
    assert_eq!(r.skill_prefix, REFLECT_SKILL_PREFIX);
    assert_eq!(c.schema_version, 1);
    let from_file: Vec<&String> = c.from_file.iter().collect();
    assert_eq!(from_file, ["redact.patterns", "schema_version"]);
}

#[test]
fn a_date_is_not_a_string_and_a_list_of_tables_is_not_a_table() {
    let (c, w) = parse_checked(
        "memory = 1979-05-27\n[[session_recall]]\nenabled = false\n\
         [session_reflection]\nmodel = 1979-05-27T07:32:00Z\ncommand = ['sh', 07:32:00]\n",
    )
    .unwrap();
    let got: Vec<(&str, WarningKind, &str)> = w
        .iter()
        .map(|w| (w.key.as_deref().unwrap(), w.kind, w.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "memory",
                WarningKind::WrongType,
                "must be a table (ignored)"
            ),
            (
                "session_reflection.model",
                WarningKind::WrongType,
                "must be a non-empty string (default kept)"
            ),
            (
                "session_reflection.command",
                WarningKind::WrongType,
                "must be a non-empty list of non-empty strings (default kept)"
            ),
            (
                "session_recall",
                WarningKind::WrongType,
                "must be a table (ignored)"
            ),
        ]
    );
    assert!(c.from_file.is_empty(), "{:?}", c.from_file);
    assert_eq!(c, Config::default());
}

#[test]
fn any_backend_name_loads_and_one_csep_does_not_know_is_kept_as_written() {
    for (name, backend) in [
        ("codex-app-server", Backend::CodexAppServer),
        ("command", Backend::Command),
        ("gemini", Backend::Unknown("gemini".into())),
    ] {
        let (c, w) = parse_checked(&format!("[session_reflection]\nbackend = {name:?}\n")).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.session_reflection.backend, backend);
        assert_eq!(c.session_reflection.backend.as_str(), name);
        assert!(c.from_file.contains("session_reflection.backend"));
        let shown = serde_json::to_value(&c).unwrap();
        assert_eq!(shown["session_reflection"]["backend"], name);
    }
    let (c, w) = parse_checked("[session_reflection]\nbackend = ''\n").unwrap();
    assert_eq!(w[0].kind, WarningKind::OutOfRange);
    assert_eq!(c.session_reflection.backend, Backend::Auto);
}
