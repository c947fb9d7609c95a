use super::*;

#[test]
fn claude_gets_the_model_only_when_config_names_one() {
    let mut c = crate::config::parse("[session_reflection]\nbackend = \"claude\"\n")
        .unwrap()
        .0;
    let model = |c: &Config| match provider_for(c).unwrap() {
        Provider::Claude { model, .. } => model,
        other => panic!("{other:?}"),
    };
    assert_eq!(model(&c), "");
    c = crate::config::parse(
        "[session_reflection]\nbackend = \"claude\"\nmodel = \"claude-sonnet-4-5\"\n",
    )
    .unwrap()
    .0;
    assert_eq!(model(&c), "claude-sonnet-4-5");
    c = crate::config::parse("[session_reflection]\nbackend = \"codex\"\n")
        .unwrap()
        .0;
    assert!(
        matches!(provider_for(&c).unwrap(), Provider::Codex { model, .. } if model == "gpt-5.3-codex-spark")
    );
}

#[test]
fn job_ids_are_safe_names() {
    assert!(valid_job_id("20261101T100000Z-0123abcd"));
    for bad in ["", "..", ".x", "a/b", "a b", &"x".repeat(200)] {
        assert!(!valid_job_id(bad), "{bad}");
    }
}

#[test]
fn statuses_sort_jobs_and_counters() {
    assert!(JobStatus::Skipped.is_done() && JobEnd::Skipped.reviewed());
    assert!(JobStatus::Partial.is_done() && !JobEnd::Partial.reviewed());
    assert!(!JobEnd::Partial.unsuccessful() && JobEnd::Rejected.unsuccessful());
    assert!(!JobStatus::Rejected.is_done() && !JobStatus::Failed.is_done());
    assert_eq!(
        VerifyStatus::parse("rejected"),
        Some(VerifyStatus::Rejected)
    );
    assert_eq!(VerifyStatus::parse("ok"), None);
}
