//! docs/ARCHITECTURE.md and docs/SAFETY.md checked against the code: the parts they must
//! have, every lock the code takes, every reason csep-verify gives.

use super::read::markdown;
use super::*;

#[test]
fn the_architecture_page_has_its_parts_and_names_every_lock_the_code_takes() {
    let arch = markdown("docs/ARCHITECTURE.md", &read("docs/ARCHITECTURE.md"));
    for heading in [
        "Data flow",
        "The spool protocol",
        "Locks and their order",
        "Crash recovery",
    ] {
        assert!(
            arch.has_heading(2, heading),
            "docs/ARCHITECTURE.md lacks \"## {heading}\""
        );
    }
    // Every lock file name the code opens appears in the lock table.
    let table = arch.section_text("Locks and their order").unwrap();
    let mut names = BTreeSet::new();
    for dir in ["lib/src", "src"] {
        for entry in walkdir(&repo().join(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for piece in text.split('"').skip(1).step_by(2) {
                if piece.ends_with(".lock") && !piece.contains(' ') {
                    names.insert(piece.to_string());
                }
            }
        }
    }
    assert!(
        names.contains("trigger.lock") && names.contains(".lock"),
        "{names:?}"
    );
    for name in &names {
        assert!(
            table.contains(name.as_str()),
            "the code takes a lock on {name:?}, which docs/ARCHITECTURE.md's lock table does not name"
        );
    }
}

/// Every `.rs` file below `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// Every reason csep-verify can give is explained in docs/SAFETY.md and named in
/// csep-verify(1), so a receipt's reason can always be looked up.
#[test]
fn every_verify_reason_is_documented() {
    let spans: BTreeSet<String> = markdown("docs/SAFETY.md", &read("docs/SAFETY.md"))
        .code_spans()
        .into_iter()
        .map(|(_, span)| span)
        .collect();
    let man = super::read::roff(&read("man/csep-verify.1")).text();
    for r in csep_lib::verify::Reason::ALL {
        let name = r.as_str();
        assert!(
            spans.contains(name),
            "docs/SAFETY.md does not explain `{name}`"
        );
        assert!(man.contains(name), "man/csep-verify.1 does not name {name}");
    }
}

/// docs/SAFETY.md's threat model keeps its three parts.
#[test]
fn safety_has_a_threat_model() {
    let safety = markdown("docs/SAFETY.md", &read("docs/SAFETY.md"));
    for (level, heading) in [
        (2, "Threat model"),
        (3, "Who can read what"),
        (3, "Text from transcripts is data"),
        (3, "What a fault does"),
    ] {
        assert!(
            safety.has_heading(level, heading),
            "{} {heading}",
            "#".repeat(level)
        );
    }
}
