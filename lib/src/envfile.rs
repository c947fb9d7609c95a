//! `$STATE_DIR/.env.provider`, the provider secrets file: which keys it sets, never their
//! values. csep 1.3.10 reads it with a deliberately narrow `KEY=value` grammar (the file is
//! never run by a shell); this reader accepts the same lines, keeps only each key's name and
//! whether its value is non-empty, and drops the text as soon as it is read. Nothing here
//! returns, logs or formats a value. Used by `csep config show` and `csep config validate`
//! (and meant for `csep status`).

use serde::Serialize;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The provider keys csep 1.3.10 knows by name (its `.env.provider.example`), in its order.
pub const WELL_KNOWN_KEYS: &[&str] = &[
    "MINIMAX_API_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "KIMI_API_KEY",
];

/// What the file sets, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderKeys {
    pub path: String,
    pub exists: bool,
    /// The well-known keys with a non-empty value, in [`WELL_KNOWN_KEYS`] order.
    pub keys_set: Vec<String>,
    /// The well-known keys missing or empty.
    pub keys_unset: Vec<String>,
    /// Other keys with a non-empty value, in file order.
    pub other_keys_set: Vec<String>,
    /// The permission bits, in octal (`"0600"`); null when there is no file.
    pub mode: Option<String>,
    /// Whether the group or others may read or write it (anything beyond owner-only).
    pub mode_too_wide: bool,
    /// Why the file could not be read; null when it was read (or is not there).
    pub error: Option<String>,
}

impl ProviderKeys {
    /// A one-line warning about the file's mode, when it is too wide.
    pub fn mode_warning(&self) -> Option<String> {
        self.mode_too_wide.then(|| {
            format!(
                "{} has mode {}: others can read the provider secrets; run chmod 600 on it",
                self.path,
                self.mode.as_deref().unwrap_or("?")
            )
        })
    }
}

/// Where the file is.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(".env.provider")
}

/// Reads `.env.provider` under `state_dir`. Never fails; a missing file sets nothing.
pub fn provider_keys(state_dir: &Path) -> ProviderKeys {
    let file = path(state_dir);
    let mut r = ProviderKeys {
        path: file.display().to_string(),
        exists: false,
        keys_set: Vec::new(),
        keys_unset: WELL_KNOWN_KEYS.iter().map(|k| k.to_string()).collect(),
        other_keys_set: Vec::new(),
        mode: None,
        mode_too_wide: false,
        error: None,
    };
    let meta = match std::fs::metadata(&file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return r,
        Err(e) => {
            r.exists = true;
            r.error = Some(format!("failed to read the file: {e}"));
            return r;
        }
    };
    r.exists = true;
    let mode = meta.permissions().mode() & 0o7777;
    r.mode = Some(format!("{mode:04o}"));
    r.mode_too_wide = mode & 0o077 != 0;
    let names = match std::fs::read(&file) {
        // Not UTF-8 is no reason to hide which keys are there; values are dropped anyway.
        Ok(bytes) => names(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            r.error = Some(format!("failed to read the file: {e}"));
            return r;
        }
    };
    let set = |k: &str| names.iter().any(|(n, set)| n == k && *set);
    r.keys_set = WELL_KNOWN_KEYS
        .iter()
        .filter(|k| set(k))
        .map(|k| k.to_string())
        .collect();
    r.keys_unset = WELL_KNOWN_KEYS
        .iter()
        .filter(|k| !set(k))
        .map(|k| k.to_string())
        .collect();
    r.other_keys_set = names
        .iter()
        .filter(|(n, set)| *set && !WELL_KNOWN_KEYS.contains(&n.as_str()))
        .map(|(n, _)| n.clone())
        .collect();
    r
}

/// Each key the text assigns, once, in order of first appearance, with whether its last
/// value is non-empty. Lines: `KEY=value` or `export KEY=value`, the key `[A-Z_][A-Z0-9_]*`,
/// the value optionally in matching quotes; blank lines, `#` comments and anything else
/// are skipped.
fn names(text: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for line in text.lines() {
        let Some((key, set)) = assignment(line) else {
            continue;
        };
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = set,
            None => out.push((key.to_string(), set)),
        }
    }
    out
}

fn assignment(line: &str) -> Option<(&str, bool)> {
    let mut rest = line.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        return None;
    }
    if let Some(after) = rest.strip_prefix("export") {
        if after.starts_with(|c: char| c.is_whitespace()) {
            rest = after.trim_start();
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(rest.len());
    let key = &rest[..end];
    if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let value = rest[end..].trim_start().strip_prefix('=')?.trim();
    let unquoted = match value.as_bytes() {
        [q @ (b'"' | b'\''), .., last] if last == q && value.len() >= 2 => {
            &value[1..value.len() - 1]
        }
        _ => value,
    };
    Some((key, !unquoted.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_presence_follow_the_1_3_10_grammar() {
        let text = "# comment\n\
                    MINIMAX_API_KEY=abc\n\
                    export OPENAI_API_KEY=\"zz\"\n\
                    \tANTHROPIC_API_KEY = ''\n\
                    KIMI_API_KEY=x\n\
                    KIMI_API_KEY=\n\
                    FOO_TOKEN='q'\n\
                    lower=1\n\
                    1BAD=1\n\
                    exportX=1\n\
                    NOEQUALS\n";
        assert_eq!(
            names(text),
            vec![
                ("MINIMAX_API_KEY".to_string(), true),
                ("OPENAI_API_KEY".to_string(), true),
                ("ANTHROPIC_API_KEY".to_string(), false),
                ("KIMI_API_KEY".to_string(), false),
                ("FOO_TOKEN".to_string(), true),
            ]
        );
    }

    #[test]
    fn a_file_reports_names_and_mode_never_values() {
        let dir = tempfile::tempdir().unwrap();
        let r = provider_keys(dir.path());
        assert!(!r.exists && r.mode.is_none() && r.error.is_none());
        assert_eq!(r.keys_unset.len(), 4);

        let f = path(dir.path());
        std::fs::write(&f, "OPENAI_API_KEY=sk-value-never-shown\nOTHER=v\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = provider_keys(dir.path());
        assert_eq!(r.keys_set, vec!["OPENAI_API_KEY"]);
        assert_eq!(
            r.keys_unset,
            vec!["MINIMAX_API_KEY", "ANTHROPIC_API_KEY", "KIMI_API_KEY"]
        );
        assert_eq!(r.other_keys_set, vec!["OTHER"]);
        assert_eq!(r.mode.as_deref(), Some("0644"));
        assert!(r.mode_too_wide && r.mode_warning().unwrap().contains("chmod 600"));
        assert!(!format!("{r:?}").contains("never-shown"));

        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let r = provider_keys(dir.path());
        assert!(!r.mode_too_wide && r.mode_warning().is_none());
    }
}
