//! Secret redaction. Every text csep stores or prints passes through [`redact`] first, so a
//! token pasted into a session never reaches the index, a log or a recall answer.
//!
//! The patterns favour catching a secret over keeping a harmless look-alike; a redaction
//! names its kind (`[REDACTED:github_token]`) so a reader knows something was there.

use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

struct Rule {
    kind: &'static str,
    /// Which capture group holds the secret; 0 means the whole match.
    group: usize,
}

const RULES: &[(&str, Rule)] = &[
    (
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z)",
        Rule {
            kind: "private_key",
            group: 0,
        },
    ),
    (
        r"\bsk-ant-[A-Za-z0-9_\-]{8,}",
        Rule {
            kind: "anthropic_key",
            group: 0,
        },
    ),
    (
        r"\bsk-[A-Za-z0-9_\-]{16,}",
        Rule {
            kind: "api_key",
            group: 0,
        },
    ),
    (
        r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}",
        Rule {
            kind: "api_key",
            group: 0,
        },
    ),
    (
        r"\bgithub_pat_[A-Za-z0-9_]{20,}",
        Rule {
            kind: "github_token",
            group: 0,
        },
    ),
    (
        r"\bgh[pousr]_[A-Za-z0-9]{20,}",
        Rule {
            kind: "github_token",
            group: 0,
        },
    ),
    (
        r"\bglpat-[A-Za-z0-9_\-]{16,}",
        Rule {
            kind: "gitlab_token",
            group: 0,
        },
    ),
    (
        r"\bxox[abposre]-[A-Za-z0-9\-]{10,}",
        Rule {
            kind: "slack_token",
            group: 0,
        },
    ),
    (
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        Rule {
            kind: "aws_access_key",
            group: 0,
        },
    ),
    (
        r"\bAIza[0-9A-Za-z_\-]{35}",
        Rule {
            kind: "google_api_key",
            group: 0,
        },
    ),
    (
        r"\bnpm_[A-Za-z0-9]{36}\b",
        Rule {
            kind: "npm_token",
            group: 0,
        },
    ),
    (
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{0,512}",
        Rule {
            kind: "jwt",
            group: 0,
        },
    ),
    (
        r"(?i)\b(?:authorization|proxy-authorization)\s*[:=]\s*(?:bearer|basic|token|bot)?\s*([^\s\x22']{8,})",
        Rule {
            kind: "authorization",
            group: 1,
        },
    ),
    (
        r"(?i)\bbearer\s+([A-Za-z0-9._~+/\-]{12,}=*)",
        Rule {
            kind: "bearer_token",
            group: 1,
        },
    ),
    (
        r"(?i)\b(?:set-)?cookie\s*:\s*([^\r\n]+)",
        Rule {
            kind: "cookie",
            group: 1,
        },
    ),
    (
        // key=value and "key": "value" forms. The key may have a prefix (`db_password`,
        // `AWS_SECRET_ACCESS_KEY`); the value needs four or more characters.
        r#"(?i)\b[a-z0-9_\-.]*(?:password|passwd|passphrase|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|client[_\-]?secret)\b["']?\s*[:=]\s*["']?([^\s"'&,;<>]{4,})"#,
        Rule {
            kind: "secret",
            group: 1,
        },
    ),
    (
        r"://[^/\s:@]{1,64}:([^/\s@]{3,128})@",
        Rule {
            kind: "url_password",
            group: 1,
        },
    ),
];

fn compiled() -> &'static [(Regex, &'static Rule)] {
    static CELL: OnceLock<Vec<(Regex, &'static Rule)>> = OnceLock::new();
    CELL.get_or_init(|| {
        RULES
            .iter()
            .map(|(pat, rule)| (Regex::new(pat).expect("redaction pattern compiles"), rule))
            .collect()
    })
}

/// Cheap screen: every rule needs one of these bytes sequences (case-insensitively for the
/// keyword rules), so most text skips the regexes entirely.
fn may_hold_secret(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(3).any(|w| {
        matches!(
            [
                w[0].to_ascii_lowercase(),
                w[1].to_ascii_lowercase(),
                w[2].to_ascii_lowercase()
            ],
            [b's', b'k', b'-']
                | [b'_', b'l', b'i']
                | [b'_', b't', b'e']
                | [b'g', b'h', b'p' | b'o' | b'u' | b's' | b'r']
                | [b'h', b'u', b'b']
                | [b'g', b'l', b'p']
                | [b'x', b'o', b'x']
                | [b'a' | b's', b'k', b'i']
                | [b's', b'i', b'a']
                | [b'a', b'i', b'z']
                | [b'n', b'p', b'm']
                | [b'e', b'y', b'j']
                | [b'a', b'u', b't']
                | [b'e', b'a', b'r']
                | [b'o', b'k', b'i']
                | [b'-', b'-', b'-']
                | [b'a', b's', b's']
                | [b'e', b'c', b'r']
                | [b'o', b'k', b'e']
                | [b'p', b'i', b'_' | b'-' | b'k']
                | [b's', b's', b'_' | b'-' | b'k']
                | [b't', b'e', b'_' | b'-' | b'k']
                | [b':', b'/', b'/']
        )
    })
}

/// Returns `text` with every secret replaced by `[REDACTED:<kind>]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !may_hold_secret(text) {
        return Cow::Borrowed(text);
    }
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for (re, rule) in compiled() {
        if !re.is_match(&out) {
            continue;
        }
        let mut s = String::with_capacity(out.len());
        let mut last = 0;
        for caps in re.captures_iter(&out) {
            let Some(m) = caps.get(rule.group) else {
                continue;
            };
            if m.as_str().starts_with("[REDACTED") {
                continue;
            }
            s.push_str(&out[last..m.start()]);
            s.push_str("[REDACTED:");
            s.push_str(rule.kind);
            s.push(']');
            last = m.end();
        }
        s.push_str(&out[last..]);
        out = Cow::Owned(s);
    }
    out
}

/// Redacts in place, allocating only when something was found.
pub fn redact_string(text: &mut String) {
    if let Cow::Owned(s) = redact(text) {
        *text = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> String {
        redact(s).into_owned()
    }

    #[test]
    fn redacts_each_kind() {
        let cases = [
            "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123",
            "key sk-ant-api03-AbCdEfGhIjKlMnOp",
            "tok ghp_0123456789abcdefghijABCDEFGHIJ",
            "tok github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "slack xoxb-1234567890-abcdefghij",
            "aws AKIAIOSFODNN7EXAMPLE",
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "Authorization: Bearer abcdef0123456789xyz",
            "password=hunter2hunter2",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "Cookie: session=abc123; other=1",
        ];
        for case in cases {
            let out = clean(case);
            assert!(out.contains("[REDACTED:"), "{case} -> {out}");
        }
        assert!(!clean("x sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123 y").contains("AbCdEf"));
        assert!(!clean("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").is_empty());
    }

    #[test]
    fn redacts_private_key_blocks_whole() {
        let pem = "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter";
        let out = clean(pem);
        assert_eq!(out, "before\n[REDACTED:private_key]\nafter");
        let torn = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA";
        assert_eq!(clean(torn), "[REDACTED:private_key]");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for s in [
            "cargo test --all-targets",
            "error[E0382]: borrow of moved value: `buf`",
            "\"input_tokens\": 1234, \"type\":\"token_count\"",
            "the skill-based task is done",
            "我们先看一下这个仓库的测试命令",
        ] {
            assert_eq!(clean(s), s);
        }
    }

    #[test]
    fn is_idempotent() {
        let once = clean("password=hunter2hunter2 and sk-ant-api03-AbCdEfGhIjKlMnOp");
        assert_eq!(clean(&once), once);
    }
}
