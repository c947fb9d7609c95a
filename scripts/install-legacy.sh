#!/usr/bin/env bash
# install-legacy.sh: installs the Python reference csep 1.3.10 from PyPI into a cached venv,
# pinned, and prints the path of its `csep` program on stdout (nothing else goes to stdout;
# progress and errors go to stderr). tests/csep/import_legacy.rs runs it to write a real
# 1.3.10 database for `csep recall import-legacy` to import.
#
#   CSEP_LEGACY_BIN="$(scripts/install-legacy.sh)"; export CSEP_LEGACY_BIN
#
# Where: ${CSEP_HOSTS_DIR:-$HOME/.cache/csep-hosts}/csep-1.3.10 (a venv). A cache that already
# holds the pinned version is reused without touching the network.
# Exit status: 0 installed or already there; 1 python3 (with venv) missing or the install
# failed (the test needs it, so CI must stop here rather than skip it).
set -euo pipefail
case "${1:-}" in
"") ;;
-h | --help)
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    exit 0
    ;;
*)
    echo "install-legacy: unknown argument: $1 (see --help)" >&2
    exit 2
    ;;
esac

readonly LEGACY_PACKAGE="csep"
readonly LEGACY_VERSION="1.3.10"

say() { printf 'install-legacy: %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

hosts_dir="${CSEP_HOSTS_DIR:-${HOME:?HOME is not set; set CSEP_HOSTS_DIR}/.cache/csep-hosts}"
venv="$hosts_dir/csep-$LEGACY_VERSION"
bin="$venv/bin/csep"

# The version the installed program reports ("csep 1.3.10" -> 1.3.10); empty when it does
# not run. HOME and the state dir point at a scratch dir, so nothing of the caller's is read.
installed_version() {
    local scratch out
    [ -x "$bin" ] || return 0
    scratch="$(mktemp -d)"
    out="$(HOME="$scratch" CODEX_SELF_EVOLUTION_HOME="$scratch/state" "$bin" --version 2>/dev/null || true)"
    rm -rf -- "$scratch"
    printf '%s\n' "$out" | sed -n 's/^csep \([0-9][0-9.]*\).*$/\1/p' | head -n 1
}

if [ "$(installed_version)" = "$LEGACY_VERSION" ]; then
    say "$LEGACY_PACKAGE==$LEGACY_VERSION already in $venv"
    printf '%s\n' "$bin"
    exit 0
fi

command -v python3 >/dev/null 2>&1 ||
    die "python3 not found: install Python 3.11+ with venv (e.g. apt-get install python3 python3-venv), then rerun scripts/install-legacy.sh; tests/csep/import_legacy.rs needs $LEGACY_PACKAGE==$LEGACY_VERSION"

say "installing $LEGACY_PACKAGE==$LEGACY_VERSION into $venv"
mkdir -p "$hosts_dir" || die "cannot create $hosts_dir"
# A half-made venv from an interrupted run is made again from scratch.
rm -rf -- "$venv"
python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed (is python3-venv installed?)"
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "$LEGACY_PACKAGE==$LEGACY_VERSION" >&2; then
    die "pip install $LEGACY_PACKAGE==$LEGACY_VERSION into $venv failed (see pip's messages above)"
fi

got="$(installed_version)"
[ "$got" = "$LEGACY_VERSION" ] ||
    die "after pip install, $bin reports version '${got:-none}', not $LEGACY_VERSION"

say "installed $LEGACY_PACKAGE==$LEGACY_VERSION"
printf '%s\n' "$bin"
