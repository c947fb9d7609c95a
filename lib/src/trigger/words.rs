//! High-signal words: things a human types when they want the agent to remember a rule or
//! turn a procedure into a skill ("记住…", "以后不要…", "remember…", "make this a runbook").
//! A hit queues a review at once instead of waiting for the counters.
//!
//! The lists are csep 1.3.10's, grouped by the scope they ask to review (its memory, handoff
//! and correction groups all ask for a memory review), with three changes:
//! - added `remember`, `next time` and `from now on`, the English for what the Chinese list
//!   already says (记住, 下次, 以后);
//! - dropped 1.3.10's bare `status` (from its handoff group): "git status" and "CI status"
//!   are everyday coding talk, and each false hit costs a model run. `状态文档` stays.
//!
//! Words in Latin script match as whole words, ignoring case ("Runbook" yes, "skills" no),
//! like 1.3.10; the others match as substrings, since Chinese has no spaces between words.

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
    "memory",
    "remember",
    "next time",
    "from now on",
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
    "skill",
    "技能",
    "工作流",
    "workflow",
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

/// The listed words found in `text`, in list order, each with its scope.
pub fn find(text: &str) -> Vec<(Scope, &'static str)> {
    matchers()
        .iter()
        .filter(|(_, _, m)| match m {
            Matcher::Substring(s) => text.contains(s),
            Matcher::Word(re) => re.is_match(text),
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
        assert_eq!(words("Remember: always run cargo test"), vec!["remember"]);
        assert_eq!(words("write a RUNBOOK for this"), vec!["runbook"]);
        assert_eq!(words("From  now on, use pnpm"), vec!["from now on"]);
        assert_eq!(words("follow the sop."), vec!["SOP"]);
        assert!(words("I remembered the skills and workflows").is_empty());
        assert!(words("check git status and the handoffs").is_empty());
    }

    #[test]
    fn scopes_follow_the_group() {
        for (scope, w) in find("remember the handoff workflow, 记住") {
            let expected = if w == "workflow" {
                Scope::Skill
            } else {
                Scope::Memory
            };
            assert_eq!(scope, expected, "{w}");
        }
    }
}
