#!/bin/sh
# csep-hook.sh <agent> [<event>]: the one command every csep hook runs, for every host
# alike (agent = codex | claude | copilot | qwen | droid | gemini | cursor; the event
# defaults to the payload's hook_event_name, and `csep setup` names it for the hosts whose
# payload does not). It hands stdin, read once, to `csep hook`, and never breaks the host:
# the exit status is 0 and stdout is only what the host accepts (or nothing), whatever
# happens. Details of any trouble go to $CSEP_HOME/logs/hook.log.
#
# CSEP_BIN names the csep binary (`csep setup` writes it into the hook command); without it,
# csep is looked up on PATH.

# What this script creates (the log below when csep is missing) is the user's alone.
umask 077
agent="${1:-codex}"
event="${2:-}"
csep="${CSEP_BIN:-}"
if [ -z "$csep" ]; then
    csep="$(command -v csep 2>/dev/null || true)"
fi

if [ -z "$csep" ] || [ ! -x "$csep" ]; then
    # No csep: take the payload so the host is not left writing into a closed pipe, and
    # leave a line in the log so a moved or deleted binary does not fail silently.
    cat >/dev/null 2>&1
    log_dir="${CSEP_HOME:-${CODEX_SELF_EVOLUTION_HOME:-${HOME:-/tmp}/.codex-self-evolution}}/logs"
    {
        mkdir -p "$log_dir" &&
            printf '{"ts":"%s","tool":"csep-hook.sh","agent":"%s","event":"%s","outcome":"csep binary not found (CSEP_BIN=%s)"}\n' \
                "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$agent" "$event" "${CSEP_BIN:-unset}" >>"$log_dir/hook.log"
    } 2>/dev/null || true
    exit 0
fi

# `csep hook` itself always exits 0 and prints only host-valid output (a panic inside it is
# caught and answered the same way), so it can take over this process: no extra fork on the
# host's critical path.
if [ -n "$event" ]; then
    exec "$csep" hook "$agent" "$event" 2>/dev/null
fi
exec "$csep" hook "$agent" 2>/dev/null
