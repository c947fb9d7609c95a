#!/usr/bin/env bash
# install-hosts.sh: installs the host agents the end-to-end tests drive, pinned, into a cache
# directory, and prints the path of the Codex CLI binary on stdout (nothing else goes to
# stdout; progress and errors go to stderr).
#
#   CSEP_CODEX_BIN="$(scripts/install-hosts.sh)"; export CSEP_CODEX_BIN
#
# Where: ${CSEP_HOSTS_DIR:-$HOME/.cache/csep-hosts}/codex (an npm prefix). A cache that
# already holds the pinned version is reused without touching the network.
# Exit status: 0 installed or already there; 1 npm missing or the install failed (the e2e
# tests need the host, so CI must stop here rather than skip them).
set -euo pipefail
case "${1:-}" in
"") ;;
-h | --help)
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    exit 0
    ;;
*)
    echo "install-hosts: unknown argument: $1 (see --help)" >&2
    exit 2
    ;;
esac

readonly CODEX_PACKAGE="@openai/codex"
readonly CODEX_VERSION="0.171.0"

say() { printf 'install-hosts: %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

hosts_dir="${CSEP_HOSTS_DIR:-${HOME:?HOME is not set; set CSEP_HOSTS_DIR}/.cache/csep-hosts}"
prefix="$hosts_dir/codex"
bin="$prefix/node_modules/.bin/codex"

# Prints the version the installed launcher reports (empty when it does not run).
installed_version() {
    [ -x "$bin" ] || return 0
    "$bin" --version 2>/dev/null | sed -n 's/^codex-cli \([0-9][0-9.]*\).*$/\1/p' | head -n 1
}

if [ "$(installed_version)" = "$CODEX_VERSION" ]; then
    say "$CODEX_PACKAGE@$CODEX_VERSION already in $prefix"
    printf '%s\n' "$bin"
    exit 0
fi

command -v npm >/dev/null 2>&1 ||
    die "npm not found: install Node.js and npm (e.g. apt-get install nodejs npm), then rerun scripts/install-hosts.sh; the Codex e2e test (tests/e2e_codex.rs) needs $CODEX_PACKAGE@$CODEX_VERSION"

say "installing $CODEX_PACKAGE@$CODEX_VERSION into $prefix"
mkdir -p "$prefix" || die "cannot create $prefix"
# The platform binary comes in as an optional dependency: keep optional deps on.
if ! npm install --prefix "$prefix" --no-audit --no-fund --no-save --include=optional \
    --loglevel=error "$CODEX_PACKAGE@$CODEX_VERSION" >&2; then
    die "npm install $CODEX_PACKAGE@$CODEX_VERSION into $prefix failed (see npm's messages above)"
fi

got="$(installed_version)"
[ "$got" = "$CODEX_VERSION" ] ||
    die "after npm install, $bin reports version '${got:-none}', not $CODEX_VERSION (is there a build of $CODEX_PACKAGE for $(uname -sm)?)"

say "installed $CODEX_PACKAGE@$CODEX_VERSION"
printf '%s\n' "$bin"
