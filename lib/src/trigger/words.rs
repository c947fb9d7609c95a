//! High-signal words: things a human types when they want the agent to remember a rule or
//! turn a procedure into a skill ("记住…", "以后不要…", "remember…", "make this a runbook").
//! A hit queues a review at once instead of waiting for the counters.
//!
//! The lists are csep 1.3.10's, grouped by the scope they ask to review (its memory, handoff
//! and correction groups all ask for a memory review), with these changes:
//! - added the words a person uses to state a standing rule: `remember`, `next time`,
//!   `from now on`, `always`, `never`, `don't`, `do not`, `every time`, `ask before`,
//!   `prefer`, and in Chinese 以后, 不要, 一律, 总是, 别再;
//! - dropped 1.3.10's bare `status` (from its handoff group): "git status" and "CI status"
//!   are everyday coding talk, and each false hit costs a model run. `状态文档` stays;
//! - dropped the bare `memory`, `skill` and `workflow` for the same reason ("the memory
//!   usage", "this workflow file"); asking for one is a phrase, and those are listed
//!   ("make this a skill", "remember this workflow").
//!
//! Words in Latin script match as whole words, ignoring case ("Runbook" yes, "skills" no),
//! like 1.3.10, with a typographic apostrophe read as `'` ("don’t"); the others match as
//! substrings, since Chinese has no spaces between words.

use super::Scope;
use regex::Regex;
use std::sync::OnceLock;

const MEMORY: &[&str] = &[
    // Asking to keep a rule or a preference.
    "记住",
    "记录一下",
    "下次",
    "以后不要",
    "不要再",
    "规则",
    "约定",
    "偏好",
    "习惯",
    "以后",
    "不要",
    "一律",
    "总是",
    "别再",
    "remember",
    "next time",
    "from now on",
    "always",
    "never",
    "don't",
    "do not",
    "every time",
    "ask before",
    "prefer",
    // Handing work over.
    "交接",
    "handoff",
    "收尾",
    "状态文档",
    // Correcting the agent.
    "不是这个意思",
    "你理解错了",
    "不要改代码",
    "别改代码",
    "恢复",
    "回退",
    "过度抽象",
];

const SKILL: &[&str] = &[
    "make this a skill",
    "make it a skill",
    "turn this into a skill",
    "save this as a skill",
    "make this a workflow",
    "make it a workflow",
    "turn this into a workflow",
    "remember this workflow",
    "save this workflow",
    "技能",
    "工作流",
    "复用",
    "沉淀",
    "SOP",
    "runbook",
];

/// Every listed word with its scope, for documentation and tests.
pub fn all() -> impl Iterator<Item = (Scope, &'static str)> {
    MEMORY
        .iter()
        .map(|w| (Scope::Memory, *w))
        .chain(SKILL.iter().map(|w| (Scope::Skill, *w)))
}

enum Matcher {
    Substring(&'static str),
    Word(Regex),
}

fn matchers() -> &'static [(Scope, &'static str, Matcher)] {
    static M: OnceLock<Vec<(Scope, &'static str, Matcher)>> = OnceLock::new();
    M.get_or_init(|| {
        all()
            .map(|(scope, w)| {
                let m = if w.is_ascii() {
                    let words: Vec<String> = w.split(' ').map(regex::escape).collect();
                    let re = format!(r"(?i)\b{}\b", words.join(r"\s+"));
                    Matcher::Word(Regex::new(&re).expect("a listed word is a valid pattern"))
                } else {
                    Matcher::Substring(w)
                };
                (scope, w, m)
            })
            .collect()
    })
}

/// The listed words found in `text`, in list order, each with its scope. A word inside a
/// longer listed word of the same scope that was found too is left out (以后不要 is one
/// hit, not three).
pub fn find(text: &str) -> Vec<(Scope, &'static str)> {
    let found = find_all(text);
    found
        .iter()
        .filter(|(scope, w)| {
            !found
                .iter()
                .any(|(s2, w2)| s2 == scope && w2.len() > w.len() && w2.contains(*w))
        })
        .copied()
        .collect()
}

fn find_all(text: &str) -> Vec<(Scope, &'static str)> {
    let latin: std::borrow::Cow<str> = if text.contains('\u{2019}') {
        text.replace('\u{2019}', "'").into()
    } else {
        text.into()
    };
    matchers()
        .iter()
        .filter(|(_, _, m)| match m {
            Matcher::Substring(s) => text.contains(s),
            Matcher::Word(re) => re.is_match(&latin),
        })
        .map(|(scope, w, _)| (*scope, *w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&'static str> {
        find(text).into_iter().map(|(_, w)| w).collect()
    }

    #[test]
    fn chinese_matches_inside_a_sentence() {
        assert_eq!(words("请记住：提交前先跑测试"), vec!["记住"]);
        assert_eq!(find("以后不要这样改")[0], (Scope::Memory, "以后不要"));
        assert_eq!(
            find("把这个流程沉淀成技能"),
            vec![(Scope::Skill, "技能"), (Scope::Skill, "沉淀")]
        );
    }

    #[test]
    fn english_matches_whole_words_in_any_case() {
        assert_eq!(
            words("Remember: always run cargo test"),
            vec!["remember", "always"]
        );
        assert_eq!(words("write a RUNBOOK for this"), vec!["runbook"]);
        assert_eq!(words("From  now on, use pnpm"), vec!["from now on"]);
        assert_eq!(words("follow the sop."), vec!["SOP"]);
        assert!(words("I remembered the skills and workflows").is_empty());
        assert!(words("check git status and the handoffs").is_empty());
    }

    #[test]
    fn directives_fire_and_bare_topic_words_do_not() {
        assert_eq!(words("Always run pnpm test -- --run"), vec!["always"]);
        assert_eq!(words("never push to main"), vec!["never"]);
        assert_eq!(words("Don't call docker compose"), vec!["don't"]);
        assert_eq!(words("don\u{2019}t touch vendor/"), vec!["don't"]);
        assert_eq!(words("do not edit the lockfile"), vec!["do not"]);
        assert_eq!(
            words("every time you change the schema, bump it"),
            vec!["every time"]
        );
        assert_eq!(words("ask before deleting files"), vec!["ask before"]);
        assert_eq!(words("I prefer small commits"), vec!["prefer"]);
        assert_eq!(words("一律用 pnpm"), vec!["一律"]);
        assert_eq!(words("总是先跑测试"), vec!["总是"]);
        assert_eq!(words("别再改这个文件"), vec!["别再"]);
        assert_eq!(words("以后用 Node 22"), vec!["以后"]);
        // Topic words alone are everyday talk, not a request.
        assert!(words("the memory usage is high").is_empty());
        assert!(words("which skill does this need? the workflow file is broken").is_empty());
        // Asking for a skill is a phrase.
        assert_eq!(
            find("make this a skill"),
            vec![(Scope::Skill, "make this a skill")]
        );
        assert_eq!(
            words("Remember this workflow"),
            vec!["remember", "remember this workflow"]
        );
    }

    #[test]
    fn scopes_follow_the_group() {
        for (scope, w) in find("remember the handoff, save this workflow, 记住") {
            let expected = if w == "save this workflow" {
                Scope::Skill
            } else {
                Scope::Memory
            };
            assert_eq!(scope, expected, "{w}");
        }
    }
}
