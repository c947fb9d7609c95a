#!/usr/bin/env bash
# The project's test command (README "Set up", and what CI runs): formatting, lints, and
# every test, including the end-to-end tests against the real Codex CLI, which it installs
# from npm unless CSEP_CODEX_BIN names one. Needs shellcheck and groff (.ci/run installs
# them on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CSEP_CODEX_BIN:-}" ]; then
    CSEP_CODEX_BIN="$(scripts/install-hosts.sh)"
fi
export CSEP_CODEX_BIN
shellcheck plugin/hooks/csep-hook.sh scripts/*.sh .ci/run
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace --all-targets
