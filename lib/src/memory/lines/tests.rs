//! Unit tests of [`super`]: which lines are memory, duplicates, prohibitions and subjects.

use super::*;

#[test]
fn entries_skip_headings_fences_comments_and_blanks() {
    let md = "# Memory\n\n- Run `cargo test`.\n<!-- note -->\n```sh\n- not a line\n```\n* Use pnpm\n1. Ask first\n## Rules\n";
    let e: Vec<(usize, &str)> = entries(md).iter().map(|e| (e.line_no, e.body)).collect();
    assert_eq!(
        e,
        vec![(3, "Run `cargo test`."), (8, "Use pnpm"), (9, "Ask first")]
    );
}

#[test]
fn normalize_folds_markup_case_quotes_and_punctuation() {
    assert_eq!(
        normalize("- **Always** run `cargo test`."),
        "always run cargo test"
    );
    assert_eq!(normalize("Don’t push to main!"), "don't push to main");
    assert_eq!(normalize("  以后都用 pnpm。 "), "以后都用 pnpm");
}

#[test]
fn reworded_repeats_are_duplicates_and_different_facts_are_not() {
    assert!(is_duplicate(
        "- Run the tests with `pnpm test -- --run`.",
        "Tests: use `pnpm test -- --run`"
    ));
    assert!(is_duplicate(
        "Always run cargo fmt before committing",
        "- always run `cargo fmt` before committing."
    ));
    assert!(!is_duplicate(
        "Always run `cargo fmt` before committing",
        "Always run `cargo clippy` before committing"
    ));
    assert!(!is_duplicate(
        "This repo uses Node 20",
        "This repo uses Node 22"
    ));
    assert!(!is_duplicate("Always push to main", "Never push to main"));
    assert!(!is_duplicate("Never push to main", "Never push to dev"));
    assert!(is_duplicate(
        "Keep pull request descriptions short and factual",
        "Keep pull request descriptions brief and factual"
    ));
    assert!(!is_duplicate(
        "Format with `cargo fmt` before every commit",
        "Format with `cargo clippy` before every commit"
    ));
    assert!(is_duplicate("以后提交前先跑测试", "以后提交前先跑测试。"));
    assert!(similarity("a b c", "a b c") > 0.99 && similarity("x", "y") < 0.01);
}

#[test]
fn prohibitions_are_negative() {
    for s in [
        "Never force-push",
        "Don't call docker compose",
        "do not edit vendor/",
        "不要修改生成的文件",
        "别再用 npm",
    ] {
        assert!(negative(s), "{s}");
    }
    for s in [
        "Always run tests",
        "Use pnpm, not npm",
        "Prefer small commits",
    ] {
        assert!(!negative(s), "{s}");
    }
}

#[test]
fn the_same_subject_is_recognised_and_unrelated_rules_are_kept_apart() {
    let same = |a: &str, b: &str| subject(a).same_as(&subject(b));
    assert!(same(
        "Run the tests with `npm test`.",
        "Use `pnpm test -- --run` for tests."
    ));
    assert!(same("This repo uses Node 20.", "We are on Node 22 now."));
    assert!(same(
        "Start services with `docker compose up -d`.",
        "Don't call docker compose; use `make services`."
    ));
    assert!(same("Run tests with npm test", "Use pnpm, not npm"));
    assert!(same(
        "Never edit `src/generated/api.ts`.",
        "You may edit src/generated/api.ts now."
    ));
    assert!(same("测试用 `npm test`", "以后用 pnpm 跑测试"));
    assert!(!same(
        "Always run `cargo fmt` before committing.",
        "Never commit to main directly."
    ));
    assert!(!same(
        "Run `cargo test` for tests.",
        "Never run `cargo publish`."
    ));
    assert!(!same(
        "Always use `uv run pytest`.",
        "Use `uv pip install` for dependencies."
    ));
    assert!(!same(
        "Ask before deleting files.",
        "Ask before running migrations."
    ));
    assert!(!same(
        "Prefer small commits.",
        "Never commit to main directly."
    ));
}
