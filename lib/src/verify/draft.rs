//! `draft.json`: the provider's own account of the run (csep 1.3.10's draft shape), bare or
//! inside a Markdown code fence. Verify records a summary of it in the receipt and checks
//! that every change it claims is really in `proposal/`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The draft as the receipt summarises it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DraftSummary {
    pub status: Option<String>,
    /// The draft was wrapped in a Markdown code fence.
    pub fenced: bool,
    pub memory_changes: usize,
    pub skill_changes: usize,
    pub skipped_candidates: usize,
    pub validation_notes: usize,
    pub errors: usize,
    /// Lines of MEMORY.md the provider says this session restated (the builtin provider
    /// lists them): verify confirms those that are in MEMORY.md in the line ledger.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirmed: Vec<String>,
}

/// One change the draft claims.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Claim {
    /// The path as the draft wrote it.
    pub path: String,
    /// `memory_changes` or `skill_changes`.
    pub list: &'static str,
    pub action: Option<String>,
}

/// The JSON text of a draft: the whole text, else the first fenced block in it.
fn json_text(text: &str) -> Option<(&str, bool)> {
    let t = text.trim().trim_start_matches('\u{feff}');
    if t.starts_with('{') {
        return Some((t, false));
    }
    let open = t.find("```")?;
    let after = &t[open + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    let close = body.find("```").unwrap_or(body.len());
    Some((body[..close].trim(), true))
}

/// Parses a draft. `Err` is the detail of a `malformed_draft` rejection.
pub(crate) fn parse(bytes: &[u8]) -> Result<(DraftSummary, Vec<Claim>), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if text.trim().is_empty() {
        return Err("draft.json is empty".into());
    }
    let (json, fenced) = json_text(text).ok_or("no JSON object and no fenced JSON block")?;
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("the draft is not a JSON object")?;
    let mut s = DraftSummary {
        fenced,
        ..DraftSummary::default()
    };
    s.status = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(st)) => Some(st.clone()),
        Some(_) => return Err("status is not a string".into()),
    };
    let list = |key: &str| -> Result<&[Value], String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a.as_slice()),
            Some(_) => Err(format!("{key} is not a list")),
        }
    };
    s.skipped_candidates = list("skipped_candidates")?.len();
    s.validation_notes = list("validation_notes")?.len();
    s.errors = list("errors")?.len();
    s.confirmed = list("confirmed")?
        .iter()
        .filter_map(Value::as_str)
        .take(100)
        .map(|l| l.chars().take(1000).collect())
        .collect();
    let mut claims = Vec::new();
    for key in ["memory_changes", "skill_changes"] {
        let items = list(key)?;
        if key == "memory_changes" {
            s.memory_changes = items.len();
        } else {
            s.skill_changes = items.len();
        }
        for (i, item) in items.iter().enumerate() {
            let (path, action) = match item {
                Value::String(p) => (p.clone(), None),
                Value::Object(o) => {
                    let p = ["path", "file"]
                        .iter()
                        .find_map(|k| o.get(*k).and_then(Value::as_str))
                        .ok_or(format!("{key}[{i}] has no \"path\""))?;
                    let a = o.get("action").and_then(Value::as_str).map(str::to_string);
                    (p.to_string(), a)
                }
                _ => {
                    return Err(format!(
                        "{key}[{i}] is neither a path nor an object with a path"
                    ))
                }
            };
            claims.push(Claim {
                path,
                list: if key == "memory_changes" {
                    "memory_changes"
                } else {
                    "skill_changes"
                },
                action,
            });
        }
    }
    Ok((s, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_and_fenced_drafts() {
        let bare = br#"{"status":"succeeded","memory_changes":["memory/MEMORY.md"],"skill_changes":[{"path":"skills/csep-reflect-x/SKILL.md","action":"create"}],"skipped_candidates":[],"validation_notes":["ok"],"errors":[]}"#;
        let (s, c) = parse(bare).unwrap();
        assert_eq!(s.status.as_deref(), Some("succeeded"));
        assert!(!s.fenced);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].action.as_deref(), Some("create"));
        let fenced = format!(
            "Here it is:\n```json\n{}\n```\n",
            String::from_utf8_lossy(bare)
        );
        let (s, c2) = parse(fenced.as_bytes()).unwrap();
        assert!(s.fenced);
        assert_eq!(c, c2);
    }

    #[test]
    fn refuses_broken_drafts() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{\"memory_changes\": 3}",
            b"{\"memory_changes\": [{}]}",
            b"\xff",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
