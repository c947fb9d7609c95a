#!/usr/bin/env bash
# Installs csep's binaries, man pages and plugin bundle, then runs `csep setup`: hooks for
# Codex (trusted) and Claude Code (when ~/.claude exists), and a first backfill of this
# machine's existing sessions, so memory and `csep recall` work right away.
#
#   scripts/install.sh [--prefix DIR] [--no-setup] [SETUP OPTIONS…]
#
# DIR defaults to ~/.local (binaries in DIR/bin, man pages in DIR/share/man/man1, the plugin
# bundle in DIR/share/csep/plugin, shell completions under DIR/share). Other options go to
# `csep setup` (see `man csep`).
# --no-setup installs the binaries only. Re-running is safe: setup is idempotent and the
# backfill reads only what changed. `csep uninstall` takes the hooks out again.
set -euo pipefail

prefix="${HOME}/.local"
setup=1
setup_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --no-setup) setup=0; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) setup_args+=("$1"); shift ;;
    esac
done

here="$(cd "$(dirname "$0")/.." && pwd)"
cargo install --locked --path "$here" --root "$prefix" --force
mkdir -p "$prefix/share/man/man1" "$prefix/share/csep"
cp "$here"/man/*.1 "$prefix/share/man/man1/"
# The plugin bundle (Codex plugin manifest, hooks, the recall skill), where `csep status`
# looks for it.
rm -rf "$prefix/share/csep/plugin"
cp -R "$here/plugin" "$prefix/share/csep/plugin"
# Shell completions for every tool, where bash-completion, zsh and fish look under a prefix.
share="$prefix/share"
mkdir -p "$share/bash-completion/completions" "$share/zsh/site-functions" "$share/fish/vendor_completions.d"
for tool in csep csep-archive csep-index csep-recall csep-trigger csep-reflect csep-verify; do
    "$prefix/bin/csep" completions bash --tool "$tool" >"$share/bash-completion/completions/$tool"
    "$prefix/bin/csep" completions zsh --tool "$tool" >"$share/zsh/site-functions/_$tool"
    "$prefix/bin/csep" completions fish --tool "$tool" >"$share/fish/vendor_completions.d/$tool.fish"
done
echo "install.sh: installed csep into $prefix/bin (add it to PATH if needed)" >&2

if [ "$setup" = 1 ]; then
    "$prefix/bin/csep" setup "${setup_args[@]}"
fi
