#!/usr/bin/env bash
# bench-hosts.sh - reading the other agents' history at size (Copilot CLI, Qwen Code, Factory
# Droid, Gemini CLI, OpenCode, Aider): for each, a history of --sessions sessions in the host's
# own layout is built from one session its real CLI wrote (../shared/fixtures/hosts, read in
# place), then timed: the full backfill (wall, MB/s, peak RSS), one appended turn read as a
# Stop reads it (JSONL hosts), and `csep recall NEEDLE --agent HOST` (hit@1, median / p95) on a
# sample of the needles planted in each session's first prompt. csep 1.3.10 reads none of these
# hosts, so there is no reference run; scripts/bench-recall.sh measures Codex against it.
#
# Usage: scripts/bench-hosts.sh [--sessions N] [--sample N] [--dir DIR] [--no-build]
#   --sessions N  sessions per host (default 2000)
#   --sample N    needles recalled per host (default 100)
#   --dir DIR     work dir, must be empty or missing (default: a new mktemp dir, removed after)
#   --no-build    use target/release as it is
# The last line is one JSON object with every figure.
set -euo pipefail
cd "$(dirname "$0")/.."

sessions=2000 sample=100 dir="" build=1
while [ $# -gt 0 ]; do
    case "$1" in
    --sessions) sessions="$2"; shift 2 ;;
    --sample) sample="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-hosts: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
fixtures="$(cd .. && pwd)/shared/fixtures"
[ -d "$fixtures/hosts" ] || { echo "bench-hosts: $fixtures/hosts not found (../shared beside the repository)" >&2; exit 2; }
[ "$build" = 1 ] && cargo build --release --quiet
keep=1
if [ -z "$dir" ]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/csep-bench-hosts.XXXXXX")" keep=0
elif [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    echo "bench-hosts: $dir is not empty" >&2; exit 2
fi
mkdir -p "$dir"
[ "$keep" = 1 ] || trap 'rm -rf "$dir"' EXIT
python3 scripts/bench_hosts.py --fixtures "$fixtures" --bin "$PWD/target/release" --work "$dir" \
    --sessions "$sessions" --sample "$sample"
