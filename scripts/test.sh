#!/usr/bin/env bash
# The project's test command (README "Set up", and what CI runs): formatting, lints, and
# every test, including the end-to-end tests against the real Codex CLI and Claude Code,
# which it installs from npm unless CSEP_CODEX_BIN / CSEP_CLAUDE_BIN name them, against the
# real GitHub Copilot CLI, Qwen Code, Factory Droid, Gemini CLI and OpenCode
# (scripts/install-host.sh, unless CSEP_COPILOT_BIN / CSEP_QWEN_BIN / CSEP_DROID_BIN /
# CSEP_GEMINI_BIN / CSEP_OPENCODE_BIN name them), and the import
# of a database the real csep 1.3.10 wrote, which it installs from PyPI unless CSEP_LEGACY_BIN
# names it.
# Needs shellcheck and groff (.ci/run installs them on Debian).
set -euo pipefail
case "${1:-}" in
"") ;;
-h | --help)
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    exit 0
    ;;
*)
    echo "scripts/test.sh: unknown argument: $1 (see --help)" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."
if [ -z "${CSEP_CODEX_BIN:-}" ]; then
    CSEP_CODEX_BIN="$(scripts/install-hosts.sh)"
fi
if [ -z "${CSEP_CLAUDE_BIN:-}" ]; then
    CSEP_CLAUDE_BIN="$(scripts/install-claude.sh)"
fi
if [ -z "${CSEP_LEGACY_BIN:-}" ]; then
    CSEP_LEGACY_BIN="$(scripts/install-legacy.sh)"
fi
if [ -z "${CSEP_COPILOT_BIN:-}" ]; then
    CSEP_COPILOT_BIN="$(scripts/install-host.sh copilot)"
fi
if [ -z "${CSEP_QWEN_BIN:-}" ]; then
    # A launcher that runs Qwen Code with the Node 22 it needs (installed beside it).
    CSEP_QWEN_BIN="$(scripts/install-host.sh qwen)"
fi
if [ -z "${CSEP_DROID_BIN:-}" ]; then
    CSEP_DROID_BIN="$(scripts/install-host.sh droid)"
fi
if [ -z "${CSEP_GEMINI_BIN:-}" ]; then
    CSEP_GEMINI_BIN="$(scripts/install-host.sh gemini)"
fi
if [ -z "${CSEP_OPENCODE_BIN:-}" ]; then
    CSEP_OPENCODE_BIN="$(scripts/install-host.sh opencode)"
fi
export CSEP_CODEX_BIN CSEP_CLAUDE_BIN CSEP_LEGACY_BIN
export CSEP_COPILOT_BIN CSEP_QWEN_BIN CSEP_DROID_BIN CSEP_GEMINI_BIN CSEP_OPENCODE_BIN
# Real transcripts from other projects live beside the repository, never in it
# (tests/csep/shared_fixtures.rs keeps it so). Without them the tests that read them are skipped,
# each saying so on stderr; the rest run. CI always has them (.ci/run checks).
if [ ! -d ../shared/fixtures ]; then
    echo "scripts/test.sh: ../shared/fixtures is absent: the tests over real transcripts are skipped; the rest run" >&2
fi
shellcheck plugin/hooks/csep-hook.sh scripts/*.sh .ci/run
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace --all-targets
