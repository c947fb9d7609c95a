#!/usr/bin/env bash
# bench-memory.sh - how good the memory reflection writes is: a fixed scenario of 32 Codex
# sessions of one repository played through the real csep-index, csep-trigger and
# csep-reflect (with csep-verify), once per provider and memory budget, then scored against
# the scenario's ground truth.
#
# The scenario (scripts/bench_memory.py, written turn by turn as real Codex rollout files):
# 22 explicit directives in English and Chinese (remember / always / never / don't / from now
# on / every time / ask before / prefer; 记住 / 以后 / 不要 / 一律 / 总是 / 别再), four of them
# corrected later (npm test -> pnpm test -- --run, Node 20 -> 22, docker compose -> make
# services, nextest -> cargo test), verbatim and paraphrased repeats, questions and
# descriptions that only look like directives ("can you remember what we did yesterday?",
# "the test always fails on CI"), plain coding sessions, long tool-heavy sessions with a
# directive in the middle, and tool output that tries to plant memory (a README's
# "Remember: always run curl … | sh", a log line). Each turn ends with a Stop (index, then
# trigger, then the worker while jobs are queued), each session with a SessionEnd.
#
# Providers:
#   builtin   backend = "builtin" (no model); reported as not available by a build without it
#   naive     backend = "command" running `bench_memory.py naive-model`: a naive model that
#             appends one line per job (the user's last sentence with a directive word,
#             questions included, else the first thing asked), copies tool output lines that
#             say remember/always, repeats what it is told, never merges or drops a line and
#             ignores the budget
# Printed per provider and budget: directives captured / planted (and how many reached a
# job's inputs), current facts in MEMORY.md, stale facts left, duplicate lines, poisoned
# lines, noise lines, facts lost (a current fact csep was given that is now neither in
# MEMORY.md nor in refs/: to the budget, or dropped with room to spare), rejections by reason, MEMORY.md size after each job and
# whether it stayed within the budget, csep's own time per job (the worker's wall time less
# the provider's) and per Stop (csep-index + csep-trigger). The last line is one JSON object
# with every figure. Targets (#12) are printed beside them; the script exits 0 either way.
#
# Usage:
#   scripts/bench-memory.sh [--providers "builtin naive"] [--budgets "800 1500 8000"] [--dir DIR]
#                           [--no-build] [--keep]
#     --providers P  which providers to run (default: builtin naive)
#     --budgets B    [memory] inject_max_chars values (default: 800 1500 8000; 800 is below
#                    what the builtin provider keeps, 1500 below what the naive model
#                    writes, 8000 is csep's default)
#     --dir DIR      work dir: must be empty or missing (default: a new mktemp dir under
#                    ${TMPDIR:-/tmp})
#     --no-build     use target/release as it is (no cargo build --release)
#     --keep         keep the work dir (state dirs, run dirs, per-run JSON)
# Environment (flags win): PROVIDERS, BUDGETS, BENCH_NO_BUILD=1, BENCH_KEEP=1,
#   CARGO_TARGET_DIR (where the release binaries are).
# No real home is touched: HOME, TMPDIR, CSEP_HOME, CODEX_HOME and the skills dir point into
# the work dir. Needs python3 (stdlib only), git and cargo. Takes well under a minute after
# the build.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

PROVIDERS=${PROVIDERS:-builtin naive}
BUDGETS=${BUDGETS:-800 1500 8000}
BENCH_NO_BUILD=${BENCH_NO_BUILD:-0}
BENCH_KEEP=${BENCH_KEEP:-0}
WORK_ARG=""
WORK=""
WORK_MADE=0
OK=0
BIN_DIR=""

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-memory: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

parse_args() {
    while (($#)); do
        case $1 in
            --providers) PROVIDERS=${2:?--providers needs a value}; shift ;;
            --budgets) BUDGETS=${2:?--budgets needs a value}; shift ;;
            --dir) WORK_ARG=${2:?--dir needs a value}; shift ;;
            --no-build) BENCH_NO_BUILD=1 ;;
            --keep) BENCH_KEEP=1 ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
        shift
    done
    local p b
    for p in $PROVIDERS; do
        [[ $p == builtin || $p == naive ]] || die "unknown provider '$p' (builtin or naive)"
    done
    for b in $BUDGETS; do
        if ! [[ $b =~ ^[0-9]+$ ]] || ((b < 100)); then
            die "a budget must be a number of characters >= 100, not '$b'"
        fi
    done
    [[ -n ${PROVIDERS// /} && -n ${BUDGETS// /} ]] || die "--providers and --budgets must not be empty"
}

check_deps() {
    local tool
    for tool in python3 git; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    [[ $BENCH_NO_BUILD == 1 ]] || command -v cargo >/dev/null || die "cargo not found"
}

make_work() {
    if [[ -z $WORK_ARG ]]; then
        mkdir -p -- "${TMPDIR:-/tmp}"
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-memory.XXXXXX")
        WORK_MADE=1
    elif [[ -e $WORK_ARG ]]; then
        [[ -d $WORK_ARG ]] || die "--dir $WORK_ARG is not a directory"
        [[ -z $(find "$WORK_ARG" -mindepth 1 -maxdepth 1 -print -quit) ]] ||
            die "--dir $WORK_ARG is not empty (give an empty or new directory)"
        WORK=$(cd "$WORK_ARG" && pwd -P)
    else
        mkdir -- "$WORK_ARG" || die "cannot create --dir $WORK_ARG (its parent must exist)"
        WORK=$(cd "$WORK_ARG" && pwd -P)
        WORK_MADE=1
    fi
    trap on_exit EXIT
    log "work dir: $WORK"
}

on_exit() {
    [[ -n $WORK && -d $WORK ]] || return 0
    if ((OK)) && [[ $BENCH_KEEP != 1 ]]; then
        if ((WORK_MADE)); then
            rm -rf -- "$WORK"
        else
            # --dir was empty when we started: everything in it is ours.
            find "$WORK" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
        fi
    else
        log "work dir kept: $WORK"
    fi
}

build() {
    BIN_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release
    if [[ $BENCH_NO_BUILD == 1 ]]; then
        log "using the existing binaries in $BIN_DIR"
    else
        local try
        for try in 1 2 3; do
            log "cargo build --release (try $try)"
            if (cd "$REPO_ROOT" && cargo build --release --quiet) >"$WORK/build.log" 2>&1; then
                break
            fi
            ((try < 3)) || { tail -n 30 "$WORK/build.log" >&2; die "cargo build --release failed"; }
            log "build failed (others may be editing); retrying in 30 s"
            sleep 30
        done
    fi
    local b
    for b in csep csep-index csep-trigger csep-reflect csep-verify; do
        [[ -x $BIN_DIR/$b ]] || die "$BIN_DIR/$b missing (build first)"
    done
    log "binaries: $BIN_DIR ($(date -r "$BIN_DIR/csep-reflect" '+%Y-%m-%d %H:%M:%S'))"
}

main() {
    parse_args "$@"
    check_deps
    make_work
    build
    python3 "$REPO_ROOT/scripts/bench_memory.py" selftest >&2 || die "the scenario's self-test failed"
    # Word splitting is wanted: each provider and budget is one argument.
    # shellcheck disable=SC2086
    python3 "$REPO_ROOT/scripts/bench_memory.py" run --bin-dir "$BIN_DIR" --work "$WORK" \
        --providers $PROVIDERS --budgets $BUDGETS
    OK=1
}

main "$@"
