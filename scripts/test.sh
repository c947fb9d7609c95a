#!/usr/bin/env bash
# The project's test command (README "Set up", and what CI runs): formatting, lints, and
# every test. Needs groff for the man page check in tests/docs.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace --all-targets
