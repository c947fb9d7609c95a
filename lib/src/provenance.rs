//! Reflection provenance: whether a session, a transcript or this process belongs to csep's
//! own reflection, decided here and nowhere else. The hook (no memory, no archive), the reader
//! (such a transcript is remembered but not archived) and the trigger (never reviewed) all
//! ask these functions. A leaf: it imports nothing of the crate.

/// Set in the environment of sessions that csep's reflection worker starts, so their hooks
/// neither inject memory nor archive them.
pub const REFLECTION_ENV: &str = "CSEP_REFLECTION_JOB";

/// Whether this process runs inside a reflection job (the worker sets [`REFLECTION_ENV`] to
/// the job id; an empty value counts as unset).
pub fn in_reflection_job() -> bool {
    std::env::var_os(REFLECTION_ENV).is_some_and(|v| !v.is_empty())
}

/// Written by the reflection worker into the prompt of every session it starts (followed by
/// the job id). A session with it in a user, developer or system message is reflection's
/// own: it is neither triggered nor (by the drainer) archived. Tool output and assistant text
/// are not searched, so a session that merely talks about csep is not mistaken for one.
pub const JOB_MARKER: &str = "csep-reflection-job:";

/// The markers 1.3.10 put into its reflection sessions, so those are skipped too.
const LEGACY_MARKERS: &[&str] = &["CSEP_REFLECTION_JOB_ID=", "CSEP_REFLECTION_CHILD=1"];

/// Whether a user, developer or system message marks its session as one csep's reflection
/// started (our job marker, or 1.3.10's).
pub fn is_reflection_text(text: &str) -> bool {
    text.contains(JOB_MARKER) || LEGACY_MARKERS.iter().any(|m| text.contains(m))
}

/// A thread source that says csep started the session (ours say `csep`; 1.3.10's children
/// say `memory_consolidation`).
pub fn is_reflection_source(source: &str) -> bool {
    let s = source.to_ascii_lowercase();
    s.contains("csep") || s.contains("memory_consolidation")
}
