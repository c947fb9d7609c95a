#!/usr/bin/env bash
# install-claude.sh: installs the pinned Claude Code CLI that tests/e2e_claude.rs drives into a
# cache directory, and prints the path of the `claude` binary on stdout (nothing else goes
# to stdout; progress and errors go to stderr).
#
#   CSEP_CLAUDE_BIN="$(scripts/install-claude.sh)"; export CSEP_CLAUDE_BIN
#
# Where: ${CSEP_HOSTS_DIR:-$HOME/.cache/csep-hosts}/claude (an npm prefix). A cache that
# already holds the pinned version is reused without touching the network.
#
# The npm package is a small wrapper whose postinstall hard-links a per-platform native
# binary (an optional dependency, e.g. @anthropic-ai/claude-code-linux-x64) over
# bin/claude.exe. When npm ran no install scripts, the platform package's binary is used
# directly. Node >= 22 is "required" by the package's engines field, but the binary itself
# does not need Node; npm's EBADENGINE warning on older Node is harmless.
#
# Exit status: 0 installed or already there; 1 npm missing or the install failed (the e2e
# test needs the host, so CI must stop here rather than skip it).
set -euo pipefail
case "${1:-}" in
"") ;;
-h | --help)
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    exit 0
    ;;
*)
    echo "install-claude: unknown argument: $1 (see --help)" >&2
    exit 2
    ;;
esac

readonly CLAUDE_PACKAGE="@anthropic-ai/claude-code"
readonly CLAUDE_VERSION="2.1.332"

say() { printf 'install-claude: %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

hosts_dir="${CSEP_HOSTS_DIR:-${HOME:?HOME is not set; set CSEP_HOSTS_DIR}/.cache/csep-hosts}"
prefix="$hosts_dir/claude"
modules="$prefix/node_modules"

# The version a candidate binary reports ("2.1.332 (Claude Code)" -> 2.1.332); empty when it
# does not run. It runs offline with a throwaway config dir, so nothing of the caller's
# Claude setup is read or written.
binary_version() {
    local bin="$1" scratch out
    [ -f "$bin" ] && [ -x "$bin" ] || return 0
    scratch="$(mktemp -d)"
    out="$(env CLAUDE_CONFIG_DIR="$scratch" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
        DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 timeout 60 "$bin" --version 2>/dev/null || true)"
    rm -rf -- "$scratch"
    printf '%s\n' "$out" | sed -n 's/^\([0-9][0-9.]*\) (Claude Code).*$/\1/p' | head -n 1
}

# Prints the first candidate binary that reports the pinned version; nothing if none does.
find_binary() {
    local candidate
    for candidate in "$modules/.bin/claude" "$modules/$CLAUDE_PACKAGE/bin/claude.exe" \
        "$modules/$CLAUDE_PACKAGE"-*/claude; do
        if [ "$(binary_version "$candidate")" = "$CLAUDE_VERSION" ]; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
}

bin="$(find_binary)"
if [ -n "$bin" ]; then
    say "$CLAUDE_PACKAGE@$CLAUDE_VERSION already in $prefix"
    printf '%s\n' "$bin"
    exit 0
fi

command -v npm >/dev/null 2>&1 ||
    die "npm not found: install Node.js and npm (e.g. apt-get install nodejs npm), then rerun scripts/install-claude.sh; the Claude Code e2e test (tests/e2e_claude.rs) needs $CLAUDE_PACKAGE@$CLAUDE_VERSION"

say "installing $CLAUDE_PACKAGE@$CLAUDE_VERSION into $prefix (the native binary is about 370 MB)"
mkdir -p "$prefix" || die "cannot create $prefix"
# The platform binary comes in as an optional dependency: keep optional deps on.
if ! npm install --prefix "$prefix" --no-audit --no-fund --no-save --include=optional \
    --loglevel=error "$CLAUDE_PACKAGE@$CLAUDE_VERSION" >&2; then
    die "npm install $CLAUDE_PACKAGE@$CLAUDE_VERSION into $prefix failed (see npm's messages above)"
fi

bin="$(find_binary)"
[ -n "$bin" ] ||
    die "after npm install, no claude binary under $modules reports version $CLAUDE_VERSION (is there a build of $CLAUDE_PACKAGE for $(uname -sm)?)"

say "installed $CLAUDE_PACKAGE@$CLAUDE_VERSION: $bin"
printf '%s\n' "$bin"
