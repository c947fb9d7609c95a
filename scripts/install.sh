#!/usr/bin/env bash
# Installs csep's binaries and man pages, then indexes this machine's existing Codex and
# Claude Code history, so `csep recall` works right away.
#
#   scripts/install.sh [--prefix DIR] [--no-backfill]
#
# DIR defaults to ~/.local (binaries in DIR/bin, man pages in DIR/share/man/man1).
# Re-running is safe: the backfill only reads what changed since the last run.
set -euo pipefail

prefix="${HOME}/.local"
backfill=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --no-backfill) backfill=0; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "$0")/.." && pwd)"
cargo install --locked --path "$here" --root "$prefix" --force
mkdir -p "$prefix/share/man/man1"
cp "$here"/man/*.1 "$prefix/share/man/man1/"
echo "install.sh: installed csep into $prefix/bin (add it to PATH if needed)" >&2

if [ "$backfill" = 1 ]; then
    csep="$prefix/bin/csep"
    codex_root="${CODEX_HOME:-$HOME/.codex}/sessions"
    claude_root="${CLAUDE_CONFIG_DIR:-$HOME/.claude}/projects"
    if [ -d "$codex_root" ]; then
        "$csep" recall bootstrap --all-history --root "$codex_root" || true
    else
        echo "install.sh: no Codex sessions at $codex_root; skipped" >&2
    fi
    if [ -d "$claude_root" ]; then
        "$csep" recall sync-claude --all-history --root "$claude_root" || true
    else
        echo "install.sh: no Claude Code sessions at $claude_root; skipped" >&2
    fi
fi
