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
# Needs cargo and rustc at the MSRV (Cargo.toml's rust-version) and git; without them it names
# what is missing and how to get it, and builds nothing (exit 2).
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
        -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
        *) setup_args+=("$1"); shift ;;
    esac
done

here="$(cd "$(dirname "$0")/.." && pwd)"

# What a fresh machine needs before anything is built: name every missing piece and how to get
# it, then stop, rather than fail half way through a build.
msrv="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$here/Cargo.toml" | head -n 1)"
missing=()
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    missing+=("the Rust toolchain (cargo and rustc, ${msrv} or newer): install rustup from https://rustup.rs (curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh), then open a new shell or run: . \"\$HOME/.cargo/env\"")
else
    have="$(rustc --version 2>/dev/null | sed -n 's/^rustc \([0-9]*\.[0-9]*\).*/\1/p')"
    older() { # is $1 (major.minor) older than $2?
        [ "${1%%.*}" -lt "${2%%.*}" ] || { [ "${1%%.*}" -eq "${2%%.*}" ] && [ "${1#*.}" -lt "$(echo "$2" | cut -d. -f2)" ]; }
    }
    if [ -z "$have" ] || older "$have" "$msrv"; then
        missing+=("Rust ${msrv} or newer (rustc is ${have:-of an unknown version}): run rustup update stable (or install rustup from https://rustup.rs)")
    fi
fi
if ! command -v git >/dev/null 2>&1; then
    missing+=("git: install it with your package manager (apt install git, dnf install git, brew install git)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install.sh: this machine needs, before csep can be built:" >&2
    for m in "${missing[@]}"; do
        echo "install.sh:   - $m" >&2
    done
    exit 2
fi

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
