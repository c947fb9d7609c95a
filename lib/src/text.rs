//! Text that came from somewhere else (transcripts, tool output, hook payloads, files on
//! disk) made safe to show: one place that decides what a terminal or a model may see, and
//! the checks a payload's paths and ids must pass before they are used.
//!
//! Shown to a person or a model (Markdown recall, stderr messages, the SessionStart context),
//! a complete terminal escape sequence is removed whole: CSI (`ESC [` … final byte: colours,
//! cursor moves, `ESC[2J`), and the string sequences OSC/DCS/SOS/PM/APC (`ESC ]` … BEL or
//! `ESC \`: window titles, OSC 52 clipboard writes, hyperlinks). Colour codes are noise to a
//! reader and the rest is an attack, so removing them loses nothing. Any other control
//! character is replaced by a visible stand-in, so that what was there still shows: C0 (except
//! tab and newline) and DEL as their Unicode control pictures (`␛`, `␇`, `␍`, `␡`), C1
//! (U+0080–U+009F), the bidi embeddings, overrides and isolates (U+202A–U+202E,
//! U+2066–U+2069) and the line/paragraph separators (U+2028, U+2029) as `\u{…}`. An
//! incomplete or malformed sequence keeps its text, with its ESC shown as `␛`. A CR LF pair
//! is a newline.
//!
//! JSON output keeps every character, escaped as JSON escapes: serde_json already writes C0
//! as `\u00XX`; [`json_safe`] adds `\uXXXX` for DEL, C1 and the bidi and separator
//! characters, which JSON allows raw but a terminal or a JavaScript reader may act on.
//!
//! Also what both the index and the query parser must agree on about scripts
//! ([`is_unspaced_script`]).

use std::borrow::Cow;

/// `s` single-quoted for a POSIX shell (`'` written as `'\''`), whatever it holds.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Whether `c` is never shown raw: every control character but tab and newline, the bidi
/// controls, and U+2028/U+2029.
pub fn is_unsafe(c: char) -> bool {
    is_control(c) || is_bidi_or_separator(c)
}

/// A control character other than tab and newline: C0 (ESC starts terminal escapes, CR
/// rewrites what a terminal shows, NUL truncates), DEL and C1. The one definition csep's
/// output cleaning and csep-verify's `control_character` share.
pub fn is_control(c: char) -> bool {
    c != '\t' && c != '\n' && c.is_control()
}

/// The bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder
/// how the text around them reads.
pub fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The invisible direction marks (U+200E, U+200F, U+061C): harmless in a Hebrew or Arabic
/// transcript, so shown as they are, but nothing a memory line needs (csep-verify refuses them).
pub fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
}

fn is_bidi_or_separator(c: char) -> bool {
    is_bidi_override(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The visible stand-in for an unsafe character.
fn push_visible(out: &mut String, c: char) {
    match c {
        '\0'..='\x1f' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
        '\x7f' => out.push('\u{2421}'),
        _ => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// The length in bytes of the complete escape sequence at the start of `s` (which starts
/// with ESC), or `None` when it is incomplete or malformed.
fn escape_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    match *b.get(1)? {
        // CSI: parameter bytes, intermediate bytes, one final byte.
        b'[' => {
            let mut i = 2;
            while matches!(b.get(i)?, 0x30..=0x3f) {
                i += 1;
            }
            while matches!(b.get(i)?, 0x20..=0x2f) {
                i += 1;
            }
            matches!(b.get(i)?, 0x40..=0x7e).then_some(i + 1)
        }
        // OSC, DCS, SOS, PM, APC: text up to BEL (OSC) or ST (ESC \). Any other control
        // inside means it is not one.
        b']' | b'P' | b'X' | b'^' | b'_' => {
            let mut i = 2;
            loop {
                match *b.get(i)? {
                    0x07 if b[1] == b']' => return Some(i + 1),
                    0x1b => return (b.get(i + 1) == Some(&b'\\')).then_some(i + 2),
                    0x00..=0x1f | 0x7f => return None,
                    _ => i += 1,
                }
            }
        }
        // Other escapes: intermediate bytes, then one final byte (`ESC c`, `ESC ( B`, …).
        _ => {
            let mut i = 1;
            while matches!(b.get(i)?, 0x20..=0x2f) {
                i += 1;
            }
            matches!(b.get(i)?, 0x30..=0x7e).then_some(i + 1)
        }
    }
}

fn clean_with(s: &str, keep_newline: bool) -> Cow<'_, str> {
    let needs = s
        .chars()
        .any(|c| is_unsafe(c) || (c == '\n' && !keep_newline));
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let mut step = c.len_utf8();
        match c {
            '\x1b' => match escape_len(rest) {
                Some(n) => step = n,
                None => push_visible(&mut out, c),
            },
            '\r' if keep_newline && rest[1..].starts_with('\n') => {}
            '\n' if !keep_newline => push_visible(&mut out, c),
            c if is_unsafe(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
        rest = &rest[step..];
    }
    Cow::Owned(out)
}

/// Text for a person or a model, lines kept: escape sequences removed, other unsafe
/// characters shown as stand-ins (see the module doc).
pub fn clean(s: &str) -> Cow<'_, str> {
    clean_with(s, true)
}

/// Like [`clean`], for a value that must stay on one line (a path, an id, a name in a
/// message): a newline is shown as `␊` too.
pub fn clean_line(s: &str) -> Cow<'_, str> {
    clean_with(s, false)
}

/// Serialized JSON with DEL, C1 and the bidi and separator characters written as `\uXXXX`.
/// Outside strings JSON is ASCII, so every such character is inside a string, where the
/// escape means the same character: the value read back is unchanged.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    let escape = |c: char| matches!(c, '\x7f' | '\u{80}'..='\u{9f}') || is_bidi_or_separator(c);
    if !json.chars().any(escape) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escape(c) {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The longest path a hook payload may name (Linux's PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;

/// The longest session id a hook payload may name.
pub const MAX_ID_BYTES: usize = 200;

/// Checks a path from outside (a hook payload's `cwd` or `transcript_path`): absolute,
/// normalized (no `.` or `..` component, no empty one, no trailing `/`), no control or bidi
/// character, at most [`MAX_PATH_BYTES`]. The error says what is wrong, never quoting it.
pub fn check_path(p: &str) -> Result<&str, &'static str> {
    if p.is_empty() {
        return Err("empty");
    }
    if p.len() > MAX_PATH_BYTES {
        return Err("too long");
    }
    if p.chars().any(|c| is_unsafe(c) || c == '\n' || c == '\t') {
        return Err("has a control character");
    }
    if !p.starts_with('/') {
        return Err("not absolute");
    }
    if p != "/"
        && p[1..]
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("not normalized");
    }
    Ok(p)
}

/// Checks a session id from outside: 1 to [`MAX_ID_BYTES`] bytes of ASCII letters, digits,
/// `-`, `_`, `.` and `:`, beginning with a letter or digit (Codex and Claude Code use UUIDs).
pub fn check_id(id: &str) -> Result<&str, &'static str> {
    if id.is_empty() {
        return Err("empty");
    }
    if id.len() > MAX_ID_BYTES {
        return Err("too long");
    }
    if !id.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err("has characters outside [A-Za-z0-9._:-]");
    }
    Ok(id)
}

/// Scripts written without spaces, where the word index sees one long token per run.
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF | 0x3040..=0x30FF | 0x3100..=0x312F | 0x3190..=0x31FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA960..=0xA97F | 0xAC00..=0xD7FF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F
        | 0x0E00..=0x0E7F | 0x20000..=0x3134F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_go_and_other_controls_show() {
        let s = "a\x1b[2Jb\x1b[1;31mred\x1b[0m \x1b]0;title\x07t \x1b]52;c;ZXZpbA==\x1b\\x";
        assert_eq!(clean(s), "abred t x");
        assert_eq!(clean("bell\x07 nul\0 del\x7f"), "bell␇ nul␀ del␡");
        assert_eq!(
            clean("c1\u{9b}2J bidi\u{202e}x\u{2066}"),
            "c1\\u{9b}2J bidi\\u{202e}x\\u{2066}"
        );
        assert_eq!(clean("ls\u{2028}sep"), "ls\\u{2028}sep");
        // Incomplete or malformed: the ESC shows, the rest is text.
        assert_eq!(clean("x\x1b[12"), "x␛[12");
        assert_eq!(clean("x\x1b]0;never ends\nnext"), "x␛]0;never ends\nnext");
        assert_eq!(clean("x\x1b"), "x␛");
        assert_eq!(clean("multi\r\nline\ttab\rcr"), "multi\nline\ttab␍cr");
        assert!(matches!(clean("plain 中文\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn nothing_unsafe_survives_cleaning() {
        let mut s = String::new();
        for c in (0u32..0x300)
            .chain(0x2000..0x2070)
            .filter_map(char::from_u32)
        {
            s.push(c);
            s.push('\x1b');
        }
        for out in [clean(&s), clean_line(&s)] {
            assert!(!out.chars().any(is_unsafe), "{out:?}");
        }
        assert!(!clean_line("a\nb").contains('\n'));
    }

    #[test]
    fn json_safe_escapes_what_json_allows_raw_and_reads_back_the_same() {
        let value = serde_json::json!({"t": "a\u{9b}b\u{202e}c\u{7f}\u{2028}\x1b d 中"});
        let raw = serde_json::to_string(&value).unwrap();
        let safe = json_safe(&raw);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        assert!(safe.contains("\\u009b") && safe.contains("\\u202e") && safe.contains("\\u001b"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            value
        );
    }

    #[test]
    fn paths_must_be_absolute_normalized_and_clean() {
        for ok in ["/", "/a", "/home/u/my repo", "/tmp/中文", "/a/.hidden/b..c"] {
            assert_eq!(check_path(ok), Ok(ok));
        }
        for bad in [
            "",
            ".",
            "..",
            "rel/dir",
            "/a\nb",
            "/tmp/../etc",
            "/a/./b",
            "/a//b",
            "/a/",
            "/x\x1b[2J",
            "/a\u{202e}b",
            "/a/..",
            "/a\tb",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path(&format!("/{}", "a".repeat(MAX_PATH_BYTES))).is_err());
    }

    #[test]
    fn ids_use_a_conservative_charset() {
        for ok in ["019a6f3e-7b1c-7d52-9f00-0123456789ab", "claude:abc_1", "s1"] {
            assert_eq!(check_id(ok), Ok(ok));
        }
        for bad in ["", ".", "..", "-x", "a/b", "a b", "a\nb", "a\x1b", "é"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_id(&"a".repeat(MAX_ID_BYTES + 1)).is_err());
    }
}
