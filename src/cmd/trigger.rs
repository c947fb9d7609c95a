//! `csep-trigger` (being written).
