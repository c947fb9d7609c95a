use super::*;

#[test]
fn cap_keeps_head_and_tail_on_char_boundaries() {
    let text = format!("{}{}{}", "a".repeat(10), "中".repeat(100), "tail-error");
    let (out, cut) = cap_text(&text, 12, 12);
    assert!(cut);
    assert!(out.starts_with("aaaaaaaaaa"));
    assert!(out.ends_with("tail-error"));
    assert!(out.contains("bytes omitted"));
    assert_eq!(cap_text("short", 4, 4), ("short".to_string(), false));
}

fn scan(data: &[u8], base: u64, mid_line: bool, max: usize) -> (Vec<u64>, u64, SkipCounts) {
    let mut skipped = SkipCounts::default();
    let mut seen = vec![];
    let mut r = data;
    let end = scan_lines(
        &mut r,
        4,
        base,
        mid_line,
        max,
        &mut skipped,
        &mut |off, _| seen.push(off),
    )
    .unwrap();
    (seen, end, skipped)
}

#[test]
fn an_oversized_line_is_skipped_counted_and_what_follows_is_read() {
    let data = b"{\"a\":1}\n{\"long\":\"xxxxxxxxxxxx\"}\n{\"b\":2}\n";
    let (seen, end, skipped) = scan(data, 10, false, 12);
    assert_eq!(seen, vec![10, 10 + 8 + 24]);
    assert_eq!(end, 10 + data.len() as u64);
    assert_eq!((skipped.oversized_lines, skipped.torn_lines), (1, 0));
    // A line of exactly the cap is kept.
    let (seen, _, skipped) = scan(b"{\"a\":12345}\n", 0, false, 11);
    assert_eq!((seen, skipped.oversized_lines), (vec![0], 0));
}

#[test]
fn a_torn_oversized_last_line_is_passed_and_finished_on_resume() {
    let data = b"{\"a\":1}\n{\"long\":\"xxxxxxxxxxxx";
    let (seen, end, skipped) = scan(data, 0, false, 12);
    assert_eq!(seen, vec![0]);
    // Past the torn giant, not at its start: it is never read twice.
    assert_eq!(end, data.len() as u64);
    assert_eq!((skipped.oversized_lines, skipped.torn_lines), (0, 1));
    // The next parse starts inside it: skips to its end, counts it, reads on.
    let (seen, end, skipped) = scan(b"xxx\"}\n{\"b\":2}\n", 100, true, 12);
    assert_eq!(seen, vec![106]);
    assert_eq!(end, 114);
    assert_eq!((skipped.oversized_lines, skipped.torn_lines), (1, 0));
}

#[test]
fn resuming_tells_a_giant_torn_line_from_a_line_without_newline() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut f = File::create(&path).unwrap();
    f.write_all(b"{\"a\":1}\n{\"b\":2}{\"long\":\"xxxxxxxxxxxxxxxx")
        .unwrap();
    let f = File::open(&path).unwrap();
    // After a newline, after a short complete line, inside the giant.
    assert!(!resumes_mid_line(&f, 8, 12).unwrap());
    assert!(!resumes_mid_line(&f, 15, 12).unwrap());
    assert!(resumes_mid_line(&f, 40, 12).unwrap());
    assert!(!resumes_mid_line(&f, 0, 12).unwrap());
    assert!(!resumes_mid_line(&f, 12, 12).unwrap());
}

#[test]
fn a_secret_cut_by_the_cap_is_redacted_whole() {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJklmnopqr";
    for at in [990, 995, 1000, 1005, 1010] {
        // The head cut (1000) and the tail cut go through the token.
        let text = format!(
            "{} {token}{} {token}{}",
            "a".repeat(at - 1),
            "b".repeat(20_000),
            " c".repeat((1000 - (token.len() - 10)) / 2)
        );
        let (out, cut) = cap_redacted(&text, 1000, 1000);
        assert!(cut);
        for piece in token.as_bytes().windows(8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!out.contains(piece), "{at}: {piece} in {out}");
        }
        assert!(out.starts_with("aaaa") && out.ends_with(" c c"), "{out}");
    }
    // Short texts: redacted, then capped as before.
    assert_eq!(
        cap_redacted(&format!("key {token}"), 100, 100),
        ("key [REDACTED:github_token]".to_string(), false)
    );
    let text = format!("{}\n{}", "x".repeat(30), "y".repeat(30));
    assert_eq!(cap_redacted(&text, 10, 10), cap_text(&text, 10, 10));
}

#[test]
fn torn_last_line_is_left_for_later() {
    let data = b"{\"a\":1}\n{\"b\":2}\n{\"c\":";
    let mut skipped = SkipCounts::default();
    let mut seen = vec![];
    let end = for_each_line(data, 100, &mut skipped, |off, _| seen.push(off));
    assert_eq!(seen, vec![100, 108]);
    assert_eq!(end, 116);
    assert_eq!(skipped.torn_lines, 1);
    let mut skipped = SkipCounts::default();
    let end = for_each_line(b"{\"a\":1}", 0, &mut skipped, |_, _| {});
    assert_eq!((end, skipped.torn_lines), (7, 0));
}

#[test]
fn a_cut_text_up_to_one_mebibyte_is_indexed_whole_and_redacted() {
    let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    assert_eq!(cap_indexed("short", 8, 8), ("short".into(), false, None));
    let text = format!("{} {token} {}", "a".repeat(40), "b".repeat(40));
    let (kept, cut, whole) = cap_indexed(&text, 10, 10);
    assert!(cut && kept.contains("bytes omitted"));
    let whole = whole.expect("indexed whole");
    assert!(
        whole.contains("[REDACTED:") && !whole.contains(&token),
        "{whole}"
    );
    let huge = "x ".repeat(INDEX_WHOLE_MAX / 2 + 1);
    let (kept, cut, whole) = cap_indexed(&huge, 10, 10);
    assert!(cut && whole.is_none() && kept.len() < 100);
}
