//! The reflection trigger (being written).
