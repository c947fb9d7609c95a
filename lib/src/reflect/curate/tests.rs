//! Unit tests of [`super`]: choosing, adding and removing a memory line.

use super::*;

const MEM: &str =
    "# Memory\n\n- Use pnpm, not npm.\n- Node 22.\n\n## Tests\n- Run `pnpm test -- --run`.\n";

#[test]
fn a_line_is_chosen_by_text_or_number_and_only_one() {
    assert_eq!(
        select(MEM, &Select::Pattern("PNPM TEST".into())).unwrap().0,
        7
    );
    assert_eq!(select(MEM, &Select::Line(4)).unwrap().1, "- Node 22.");
    let many = select(MEM, &Select::Pattern("pnpm".into())).unwrap_err();
    assert!(many.message.contains("lines 3, 7"), "{}", many.message);
    assert!(select(MEM, &Select::Line(1)).is_err(), "a heading");
    assert!(select(MEM, &Select::Pattern("yarn".into())).is_err());
    assert!(select(MEM, &Select::Pattern("  ".into())).is_err());
}

#[test]
fn removing_a_line_keeps_every_other_byte() {
    assert_eq!(
        without_line(MEM, 4),
        "# Memory\n\n- Use pnpm, not npm.\n\n## Tests\n- Run `pnpm test -- --run`.\n"
    );
    assert_eq!(without_line("- a\n- b", 2), "- a\n");
}

#[test]
fn an_added_line_is_one_list_item_at_the_end() {
    assert_eq!(memory_line("  Use pnpm ").unwrap(), "- Use pnpm");
    assert_eq!(memory_line("* Use pnpm").unwrap(), "- Use pnpm");
    for bad in ["", "  ", "# heading", "a\nb"] {
        assert!(memory_line(bad).is_err(), "{bad:?}");
    }
    assert_eq!(with_line("- a", "- b"), "- a\n- b\n");
    assert_eq!(with_line("", "- b"), "- b\n");
}

#[test]
fn user_job_ids_are_valid_and_recognised() {
    let id = user_job_id();
    assert!(verify::valid_job_id(&id), "{id}");
    assert!(id.contains("Z-user-"), "{id}");
    assert!(!is_user_job("20261101T100000Z-1a2b3c4d"));
    assert!(is_user_job(&id));
    assert!(is_user_job("migrate-20261101T100000Z-1"));
}
