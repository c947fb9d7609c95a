#!/usr/bin/env bash
# bench-status.sh - how long `csep status` takes on a home with a 5,000-session index, next to
# csep 1.3.10's `csep status` on the same corpus, in one run.
#
# Builds a realistic home: a generated corpus (gen-corpus.py) backfilled into both tools'
# indexes, csep's hooks installed into the corpus's Codex and Claude Code homes, a trigger
# state for every session, 200 finished reflection runs, queued and failed spool items and a
# hook log. Then runs each tool's `csep status` RUNS times (after one warm-up) and prints the
# median, p95 and max wall time per whole process, the peak RSS, and the ratio; the target is
# a median under 100 ms for ours. Last, one machine-readable JSON line.
#
# Usage:
#   scripts/bench-status.sh [--sessions N] [--seed S] [--runs R] [--dir DIR] [--ref-venv DIR]
#                           [--no-build] [--keep]
# Environment (flags win): SESSIONS=5000 SEED=11 RUNS=30 BENCH_DIR=$TMPDIR REF_VENV=DIR
#   BENCH_NO_BUILD=1 BENCH_KEEP=1 BENCH_TOOLS=DIR (default: ../shared/tools beside the repository root)
# Needs python3, cargo, /usr/bin/time. Note: 1.3.10's status asks PyPI for the latest
# version (a network round trip); its figure includes that, as its users see it.

set -euo pipefail

readonly REF_VERSION=1.3.10
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
SESSIONS=${SESSIONS:-5000}
SEED=${SEED:-11}
RUNS=${RUNS:-30}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
REF_VENV=${REF_VENV:-}
BENCH_NO_BUILD=${BENCH_NO_BUILD:-0}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_TOOLS=${BENCH_TOOLS:-$(dirname "$REPO_ROOT")/shared/tools}
WORK=""
OK=0

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-status: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
        --sessions) SESSIONS=${2:?}; shift ;;
        --seed) SEED=${2:?}; shift ;;
        --runs) RUNS=${2:?}; shift ;;
        --dir) BENCH_DIR=${2:?}; shift ;;
        --ref-venv) REF_VENV=${2:?}; shift ;;
        --no-build) BENCH_NO_BUILD=1 ;;
        --keep) BENCH_KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

on_exit() {
    [[ -n $WORK && -d $WORK ]] || return 0
    if ((OK)) && [[ $BENCH_KEEP != 1 ]]; then rm -rf -- "$WORK"; else log "work dir kept: $WORK"; fi
}
trap on_exit EXIT

[[ -x /usr/bin/time ]] || die "/usr/bin/time missing: apt-get install time"
WORK=$(mktemp -d "$BENCH_DIR/bench-status.XXXXXX")
BIN=$REPO_ROOT/target/release
if [[ $BENCH_NO_BUILD != 1 ]]; then
    log "building release binaries"
    (cd "$REPO_ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
fi

if [[ -z $REF_VENV ]] || ! [[ $("$REF_VENV/bin/csep" --version 2>/dev/null) == "csep $REF_VERSION" ]]; then
    REF_VENV=$WORK/ref-venv
    log "installing csep $REF_VERSION into $REF_VENV"
    python3 -m venv "$REF_VENV"
    "$REF_VENV/bin/pip" install -q "csep==$REF_VERSION" >"$WORK/pip.log" 2>&1 || die "pip install failed"
fi

log "generating corpus: $SESSIONS sessions, seed $SEED"
python3 "$BENCH_TOOLS/gen-corpus.py" --out "$WORK/corpus" --sessions "$SESSIONS" --seed "$SEED" >/dev/null
C=$WORK/corpus
OURS=(env "HOME=$WORK/home" "CSEP_HOME=$WORK/our-state" "CODEX_HOME=$C/codex" "CLAUDE_CONFIG_DIR=$C/claude"
    "PATH=/usr/bin:/bin")
REF=(env "HOME=$WORK/home" "CODEX_SELF_EVOLUTION_HOME=$WORK/ref-state" "CODEX_HOME=$C/codex")
mkdir -p "$WORK/home"

log "backfilling both indexes"
"${OURS[@]}" "$BIN/csep-index" --backfill codex --root "$C/codex/sessions" --all-history >/dev/null
"${OURS[@]}" "$BIN/csep-index" --backfill claude --root "$C/claude/projects" --all-history >/dev/null
"${REF[@]}" "$REF_VENV/bin/csep" recall bootstrap --all-history --root "$C/codex/sessions" >/dev/null
"${REF[@]}" "$REF_VENV/bin/csep" recall sync-claude --all-history --root "$C/claude/projects" >/dev/null

log "installing hooks, and filling the trigger, runs, spool and logs"
"${OURS[@]}" "$BIN/csep" setup --no-backfill --codex-home "$C/codex" --claude-dir "$C/claude" >/dev/null
python3 - "$WORK/our-state" "$SESSIONS" <<'PY'
import json, os, sys, time
state, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    sid = f"019a0000-0000-7000-8000-{i:012d}"
    d = os.path.join(state, "triggers", sid)
    os.makedirs(d, exist_ok=True)
    json.dump({"schema_version": 1, "session_id": sid, "agent": "codex", "last_counted_message_id": i,
               "stops_since_memory_review": i % 3, "readable_chars_since_memory_review": 1200,
               "tool_calls_since_skill_review": 4, "memory_reviewed_through_message_id": 0,
               "skill_reviewed_through_message_id": 0, "last_memory_review_at": None,
               "last_skill_review_at": None, "high_signal": [], "active_job_id": None,
               "active_job_reserved_at": None, "recent_jobs": [], "updated_at": None},
              open(os.path.join(d, "state.json"), "w"))
    with open(os.path.join(d, "decisions.jsonl"), "w") as f:
        f.write(json.dumps({"type": "trigger_decision", "session_id": sid, "decision": "skipped"}) + "\n")
for i in range(200):
    job = f"20261101T{i // 60:02d}{i % 60:02d}00Z-{i:08x}"
    d = os.path.join(state, "runs", job)
    os.makedirs(d, exist_ok=True)
    json.dump({"type": "reflect_result", "job_id": job, "session_id": "s", "agent": "codex", "repo_root": "/r",
               "status": "succeeded", "scopes": ["memory"], "trigger_reasons": [], "run_dir": d, "attempt": 1,
               "started_at": f"2026-11-01T{i // 60:02d}:{i % 60:02d}:00.000Z", "finished_at": None,
               "elapsed_ms": None, "provider": None, "validation": None, "completion": None, "job_file": None},
              open(os.path.join(d, "status.json"), "w"))
for sub, k in (("new", 3), ("failed", 2)):
    q = os.path.join(state, "spool", "archive", sub)
    os.makedirs(q, exist_ok=True)
    for i in range(k):
        open(os.path.join(q, f"{time.time_ns()}-{i}.json"), "w").write("{}")
os.makedirs(os.path.join(state, "logs"), exist_ok=True)
with open(os.path.join(state, "logs", "hook.log"), "w") as f:
    for i in range(20000):
        f.write(json.dumps({"ts": "2026-11-01T00:00:00.000Z", "tool": "csep hook", "event": "Stop", "outcome": "ok"}) + "\n")
PY

# time_runs NAME CMD...: one warm-up, then RUNS timed runs; wall ms per run to NAME.ms, peak
# RSS (KB) of the last run to NAME.rss.
time_runs() {
    local name=$1 i t0 t1
    shift
    "$@" >"$WORK/$name.json" 2>"$WORK/$name.err" || die "$name failed: $(tail -n 3 "$WORK/$name.err")"
    : >"$WORK/$name.ms"
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000)) >>"$WORK/$name.ms"
    done
    /usr/bin/time -f '%M' -o "$WORK/$name.rss" "$@" >/dev/null 2>&1
}

log "timing csep status ($RUNS runs each)"
time_runs ours "${OURS[@]}" "$BIN/csep" status
time_runs ref "${REF[@]}" "$REF_VENV/bin/csep" status

python3 - "$WORK" "$SESSIONS" <<'PY'
import json, statistics, sys
work, sessions = sys.argv[1], int(sys.argv[2])
def figures(name):
    us = sorted(int(l) for l in open(f"{work}/{name}.ms") if l.strip())
    p95 = us[min(len(us) - 1, int(round(0.95 * (len(us) - 1))))]
    return {"median_ms": statistics.median(us) / 1000, "p95_ms": p95 / 1000, "max_ms": us[-1] / 1000,
            "peak_rss_kb": int(open(f"{work}/{name}.rss").read().split()[-1]), "runs": len(us)}
ours, ref = figures("ours"), figures("ref")
s = json.load(open(f"{work}/ours.json"))
r = s["session_recall"]
print(f"csep status on a {sessions}-session home ({r['session_count']} sessions, {r['message_count']} messages, "
      f"{r['size_bytes'] / 1e6:.1f} MB index, {s['trigger']['session_count']} trigger states, "
      f"{s['session_reflection']['runs']} runs, {s['claude_retention']['transcripts']} Claude transcripts walked)")
print(f"  ours:   median {ours['median_ms']:.1f} ms, p95 {ours['p95_ms']:.1f} ms, max {ours['max_ms']:.1f} ms, "
      f"peak RSS {ours['peak_rss_kb'] / 1024:.1f} MB   (target: median < 100 ms)")
print(f"  1.3.10: median {ref['median_ms']:.1f} ms, p95 {ref['p95_ms']:.1f} ms, max {ref['max_ms']:.1f} ms, "
      f"peak RSS {ref['peak_rss_kb'] / 1024:.1f} MB")
print(f"  ratio (1.3.10 / ours, median): {ref['median_ms'] / ours['median_ms']:.1f}x; "
      f"target {'met' if ours['median_ms'] < 100 else 'MISSED'}")
print(f"  warnings ours printed: {len(s['warnings'])}")
print(json.dumps({"sessions": sessions, "ours": ours, "ref": ref, "target_met": ours["median_ms"] < 100}))
PY
OK=1
