#!/usr/bin/env bash
# bench-recall.sh - benchmark our recall (csep-index / csep-recall) against the Python
# reference csep 1.3.10 on one generated corpus, in one run.
#
# Measures, for both tools on the same corpus:
#   1. backfill wall time (codex + claude) and the speed-up ratio (reference / ours)
#   2. kept state bytes / corpus transcript bytes (WAL checkpointed first, for both)
#   3. hit@1 and hit@3, overall and per needle kind (score-recall.py)
#   4. recall latency, median and p95, per whole process
#   5. peak RSS of the backfill (/usr/bin/time -f %M)
#   6. (ours only) incremental backfill: append lines to one rollout, re-index, check that only
#      the new bytes were read and that the new text is found
# and prints the targets beside the figures, then one machine-readable JSON line.
#
# Usage:
#   scripts/bench-recall.sh [--sessions N] [--seed S] [--dir DIR] [--ref-venv DIR]
#                           [--no-build] [--keep]
# Environment (flags win):
#   SESSIONS=3000 SEED=7      corpus size and seed (at least 3000 sessions for the acceptance run)
#   BENCH_DIR=$TMPDIR         parent of this run's work dir (a fresh bench-recall.XXXXXX inside)
#   REF_VENV=DIR              venv holding csep 1.3.10; reused if it has it, created if missing
#   BENCH_NO_BUILD=1          use the existing target/release binaries
#   BENCH_KEEP=1              keep the work dir (it is kept anyway when the run fails)
#   BENCH_TOOLS=DIR           where gen-corpus.py and score-recall.py live (default:
#                             ../shared/tools beside the repository root)
# Needs python3, git, cargo, /usr/bin/time (GNU time; installed with apt-get when missing and root).
# Takes several minutes for 3000 sessions (the reference's recall is ~0.1 s per query).

set -euo pipefail

readonly REF_VERSION=1.3.10
readonly KINDS=(phrase symbol path error cjk flag)
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

SESSIONS=${SESSIONS:-3000}
SEED=${SEED:-7}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
REF_VENV=${REF_VENV:-}
BENCH_NO_BUILD=${BENCH_NO_BUILD:-0}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_TOOLS=${BENCH_TOOLS:-$(dirname "$REPO_ROOT")/shared/tools}

WORK=""       # this run's work dir (created by us, removed on success unless --keep)
RESULTS=""    # JSON fragments the report is built from
OK=0

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-recall: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

parse_args() {
    while (($#)); do
        case $1 in
            --sessions) SESSIONS=${2:?--sessions needs a value}; shift ;;
            --seed) SEED=${2:?--seed needs a value}; shift ;;
            --dir) BENCH_DIR=${2:?--dir needs a value}; shift ;;
            --ref-venv) REF_VENV=${2:?--ref-venv needs a value}; shift ;;
            --no-build) BENCH_NO_BUILD=1 ;;
            --keep) BENCH_KEEP=1 ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
        shift
    done
    [[ $SESSIONS =~ ^[0-9]+$ ]] || die "--sessions must be a number"
    [[ $SEED =~ ^[0-9]+$ ]] || die "--seed must be a number"
    ((SESSIONS >= 3000)) || log "note: $SESSIONS sessions is below the 3000 the acceptance run needs"
}

on_exit() {
    [[ -n $WORK && -d $WORK ]] || return 0
    if ((OK)) && [[ $BENCH_KEEP != 1 ]]; then
        rm -rf -- "$WORK"
    else
        log "work dir kept: $WORK ($(du -sh -- "$WORK" | cut -f1))"
    fi
}

check_deps() {
    local tool
    for tool in python3 git cargo; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    for tool in gen-corpus.py score-recall.py; do
        [[ -f $BENCH_TOOLS/$tool ]] || die "$BENCH_TOOLS/$tool not found (set BENCH_TOOLS)"
    done
    if [[ ! -x /usr/bin/time ]]; then
        ((EUID == 0)) || die "/usr/bin/time missing: apt-get install time"
        log "installing GNU time"
        apt-get install -y -qq time >/dev/null || die "apt-get install time failed"
    fi
}

now_ns() { date +%s%N; }

# run_measured NAME CMD... : runs CMD with stdout to $RESULTS/NAME.out, stderr to NAME.err,
# and writes {"wall_ms","peak_rss_kb","exit"} to NAME.time.json. Fails if CMD fails.
run_measured() {
    local name=$1 t0 t1 rc=0
    shift
    t0=$(now_ns)
    /usr/bin/time -f '%M' -o "$RESULTS/$name.rss" "$@" >"$RESULTS/$name.out" 2>"$RESULTS/$name.err" || rc=$?
    t1=$(now_ns)
    printf '{"wall_ms": %d, "peak_rss_kb": %d, "exit": %d}\n' \
        $(((t1 - t0) / 1000000)) "$(tail -n1 "$RESULTS/$name.rss")" "$rc" >"$RESULTS/$name.time.json"
    if ((rc)); then
        tail -n 20 "$RESULTS/$name.err" >&2
        die "$name exited with $rc (output in $RESULTS/$name.out, .err)"
    fi
}

make_corpus() {
    log "generating corpus: $SESSIONS sessions, seed $SEED"
    python3 "$BENCH_TOOLS/gen-corpus.py" --out "$WORK/corpus" --sessions "$SESSIONS" --seed "$SEED" \
        >"$RESULTS/corpus.out"
    cp "$WORK/corpus/manifest.json" "$RESULTS/manifest.json"
}

ref_has_version() {
    [[ -x $1/bin/csep ]] && [[ $("$1/bin/csep" --version 2>/dev/null) == "csep $REF_VERSION" ]]
}

setup_ref() {
    if [[ -n $REF_VENV ]] && ref_has_version "$REF_VENV"; then
        log "reusing csep $REF_VERSION in $REF_VENV"
        return
    fi
    if [[ -z $REF_VENV || -e $REF_VENV ]]; then
        [[ -n $REF_VENV ]] && log "$REF_VENV has no csep $REF_VERSION; using a venv in the work dir"
        REF_VENV=$WORK/ref-venv
    fi
    log "installing csep $REF_VERSION into $REF_VENV"
    python3 -m venv "$REF_VENV"
    "$REF_VENV/bin/pip" install -q "csep==$REF_VERSION" >"$RESULTS/pip.log" 2>&1 ||
        { tail -n 20 "$RESULTS/pip.log" >&2; die "pip install csep==$REF_VERSION failed"; }
    ref_has_version "$REF_VENV" || die "csep --version in $REF_VENV is not $REF_VERSION"
}

build_ours() {
    BIN=$REPO_ROOT/target/release
    if [[ $BENCH_NO_BUILD == 1 ]]; then
        log "using existing binaries in $BIN"
    else
        log "building release binaries"
        (cd "$REPO_ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    fi
    local b
    for b in csep-index csep-recall; do
        [[ -x $BIN/$b ]] || die "$BIN/$b missing"
    done
}

# Command prefixes (plain commands, so /usr/bin/time can run them). The reference keeps
# everything under CODEX_SELF_EVOLUTION_HOME; HOME points at an empty dir so that neither
# tool reads or writes the real home.
set_commands() {
    REF=(env "HOME=$WORK/fakehome" "CODEX_SELF_EVOLUTION_HOME=$WORK/ref-state" "$REF_VENV/bin/csep")
    INDEX=(env "HOME=$WORK/fakehome" "$BIN/csep-index" --state-dir "$WORK/our-state")
    RECALL=(env "HOME=$WORK/fakehome" "$BIN/csep-recall" --state-dir "$WORK/our-state")
}

backfill_all() {
    local c=$WORK/corpus
    log "backfill (reference $REF_VERSION): codex"
    run_measured ref-codex "${REF[@]}" recall bootstrap --all-history --root "$c/codex/sessions" --format json
    log "backfill (reference $REF_VERSION): claude"
    run_measured ref-claude "${REF[@]}" recall sync-claude --all-history --root "$c/claude/projects" --format json
    log "backfill (ours): codex"
    run_measured ours-codex "${INDEX[@]}" --backfill codex --root "$c/codex/sessions" --all-history
    log "backfill (ours): claude"
    run_measured ours-claude "${INDEX[@]}" --backfill claude --root "$c/claude/projects" --all-history
}

# Checkpoint every SQLite DB under DIR (WAL folded in and truncated), then sum file sizes.
state_bytes() {
    local dir=$1 db
    while IFS= read -r -d '' db; do
        python3 - "$db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
con.close()
PY
    done < <(find "$dir" -type f \( -name '*.sqlite3' -o -name '*.db' \) -print0)
    find "$dir" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}

measure_state() {
    log "checkpointing WAL and measuring state dirs"
    printf '{"ours": %d, "ref": %d}\n' "$(state_bytes "$WORK/our-state")" \
        "$(state_bytes "$WORK/ref-state")" >"$RESULTS/state.json"
    find "$WORK/our-state" "$WORK/ref-state" -type f -printf '%s\t%p\n' >"$RESULTS/state-files.tsv"
}

# score TOOL CMD: one pass over all needles (hit rates + latency), then one per kind.
score() {
    local tool=$1 cmd=$2 kind
    log "scoring $tool: all needles"
    HOME=$WORK/fakehome CODEX_SELF_EVOLUTION_HOME=$WORK/ref-state \
        python3 "$BENCH_TOOLS/score-recall.py" --corpus "$WORK/corpus" --cmd "$cmd" \
        >"$RESULTS/score-$tool-all.json"
    for kind in "${KINDS[@]}"; do
        log "scoring $tool: $kind"
        HOME=$WORK/fakehome CODEX_SELF_EVOLUTION_HOME=$WORK/ref-state \
            python3 "$BENCH_TOOLS/score-recall.py" --corpus "$WORK/corpus" --cmd "$cmd" --kinds "$kind" \
            >"$RESULTS/score-$tool-$kind.json"
    done
}

score_all() {
    local recall state csep
    printf -v recall '%q' "$BIN/csep-recall"
    printf -v state '%q' "$WORK/our-state"
    printf -v csep '%q' "$REF_VENV/bin/csep"
    score ours "$recall --state-dir $state --format json --limit 3 --cwd {cwd} -- {query}"
    score ref "$csep recall --format json --limit 3 --cwd {cwd} -- {query}"
}

# Append a user and an assistant message (copies of existing response_item lines with new text)
# to one Codex rollout that holds no needle, re-run our codex backfill, and look for the text.
incremental_check() {
    log "incremental: appending to one rollout and re-indexing"
    python3 - "$WORK/corpus" "$RESULTS/incr-plan.json" <<'PY'
import json, os, sys
corpus, out = sys.argv[1], sys.argv[2]
planted = {json.loads(l)["path"] for l in open(f"{corpus}/needles.jsonl", encoding="utf-8") if l.strip()}
root = os.path.join(corpus, "codex", "sessions")
files = sorted(os.path.relpath(os.path.join(d, f), corpus) for d, _, fs in os.walk(root) for f in fs)
rel = next(p for p in files if p not in planted)
path = os.path.join(corpus, rel)
rows = [json.loads(l) for l in open(path, encoding="utf-8")]
meta = next(r for r in rows if r["type"] == "session_meta")["payload"]
def template(role):
    return next(r for r in rows if r["type"] == "response_item" and r["payload"].get("role") == role)
text = "incremental probe zqvkxw73 appended after the first backfill"
new = []
for role, body in (("user", f"Please remember the {text}."), ("assistant", "Noted; nothing else changes.")):
    row = json.loads(json.dumps(template(role)))
    row["timestamp"] = rows[-1]["timestamp"]
    row["payload"]["content"][0]["text"] = body
    new.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
data = "".join(new).encode("utf-8")
with open(path, "ab") as f:
    f.write(data)
json.dump({"path": path, "appended_bytes": len(data), "session_id": meta["id"], "cwd": meta["cwd"],
           "query": "zqvkxw73 appended"}, open(out, "w"))
PY
    local q cwd
    run_measured ours-incr "${INDEX[@]}" --backfill codex --root "$WORK/corpus/codex/sessions" --all-history
    q=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["query"])' "$RESULTS/incr-plan.json")
    cwd=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cwd"])' "$RESULTS/incr-plan.json")
    (cd "$cwd" && "${RECALL[@]}" --format json --limit 3 --cwd "$cwd" -- "$q") \
        >"$RESULTS/incr-recall.json" 2>"$RESULTS/incr-recall.err" || true
}

report() {
    python3 - "$RESULTS" "$SESSIONS" "$SEED" "$REF_VERSION" "${KINDS[@]}" <<'PY'
import json, sys
res, sessions, seed, refv, kinds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]

def load(name):
    with open(f"{res}/{name}", encoding="utf-8") as f:
        return json.load(f)

def mark(ok):
    return "PASS" if ok else "FAIL"

man = load("manifest.json")
corpus_bytes = man["bytes"]["codex"] + man["bytes"]["claude"]
t = {n: load(f"{n}.time.json") for n in ("ref-codex", "ref-claude", "ours-codex", "ours-claude", "ours-incr")}
sm = {n: load(f"{n}.out") for n in ("ref-codex", "ref-claude", "ours-codex", "ours-claude", "ours-incr")}
wall = {"ours": t["ours-codex"]["wall_ms"] + t["ours-claude"]["wall_ms"],
        "ref": t["ref-codex"]["wall_ms"] + t["ref-claude"]["wall_ms"]}
speedup = wall["ref"] / max(wall["ours"], 1)
rss = {tool: max(t[f"{tool}-codex"]["peak_rss_kb"], t[f"{tool}-claude"]["peak_rss_kb"]) / 1024
       for tool in ("ours", "ref")}
state = load("state.json")
ratio = {tool: state[tool] / corpus_bytes for tool in ("ours", "ref")}
score = {tool: {k: load(f"score-{tool}-{k}.json") for k in ["all", *kinds]} for tool in ("ours", "ref")}
plan, incr = load("incr-plan.json"), sm["ours-incr"]
try:
    found = [r.get("session_id", "") for r in load("incr-recall.json").get("results", [])]
except (ValueError, OSError):
    found = []
incr_ok = incr["processed_files"] == 1 and incr["bytes_read"] == plan["appended_bytes"]
incr_found = bool(found) and plan["session_id"] in found[0]

ours_all = score["ours"]["all"]
kind_ok = all(score["ours"][k]["hit_at_1"] >= 0.95 for k in kinds)
checks = {
    "backfill_speedup_ge_5x": speedup >= 5,
    "state_ratio_le_0.35": ratio["ours"] <= 0.35,
    "hit_at_1_ge_0.98": ours_all["hit_at_1"] >= 0.98,
    "every_kind_hit_at_1_ge_0.95": kind_ok,
    "recall_median_le_15ms": ours_all["query_ms_median"] <= 15,
    "recall_p95_le_40ms": ours_all["query_ms_p95"] <= 40,
    "backfill_peak_rss_le_150MB": rss["ours"] <= 150,
    "incremental_reads_only_new_bytes": incr_ok,
    "incremental_text_found": incr_found,
}

s = man["sessions"]
print(f"\nCorpus: {s['codex']} codex + {s['claude']} claude sessions (seed {seed}), {man['needles']} needles, "
      f"{corpus_bytes / 1e6:.1f} MB of transcripts (codex {man['bytes']['codex'] / 1e6:.1f} MB, "
      f"claude {man['bytes']['claude'] / 1e6:.1f} MB)")
print(f"Reference: csep {refv} (Python); ours: target/release csep-index / csep-recall\n")

print("1. Backfill wall time (codex + claude, page cache warm for both)")
for tool, name in (("ours", "ours"), ("ref", f"csep {refv}")):
    c, l = t[f"{tool}-codex"]["wall_ms"], t[f"{tool}-claude"]["wall_ms"]
    print(f"   {name:<12} {wall[tool] / 1000:8.2f} s   (codex {c / 1000:.2f} s + claude {l / 1000:.2f} s)")
print(f"   speed-up     {speedup:8.1f}x   target >= 5x                     {mark(checks['backfill_speedup_ge_5x'])}")
print(f"   ours: {sm['ours-codex']['processed_files']} + {sm['ours-claude']['processed_files']} files, "
      f"{sm['ours-codex']['messages'] + sm['ours-claude']['messages']} messages, "
      f"errors {sm['ours-codex']['error_count'] + sm['ours-claude']['error_count']}; "
      f"ref: {sm['ref-codex']['processed_files']} + {sm['ref-claude']['processed_files']} files, "
      f"errors {sm['ref-codex']['error_count'] + sm['ref-claude']['error_count']}\n")

print("2. Kept state / corpus bytes (every file in the state dir, after PRAGMA wal_checkpoint(TRUNCATE) on both)")
for tool, name in (("ours", "ours"), ("ref", f"csep {refv}")):
    print(f"   {name:<12} {state[tool] / 1e6:8.1f} MB  = {ratio[tool]:.3f} x corpus")
print(f"   target: ours <= 0.35 x corpus                                {mark(checks['state_ratio_le_0.35'])}\n")

print("3. Recall quality (score-recall.py, --limit 3, repo scope from the needle's cwd)")
print(f"   {'kind':<8} {'needles':>7}   {'ours @1':>7} {'ours @3':>7}   {'ref @1':>7} {'ref @3':>7}   target (ours @1)")
for k in ["all", *kinds]:
    o, r = score["ours"][k], score["ref"][k]
    target = ">= 0.98" if k == "all" else ">= 0.95"
    ok = o["hit_at_1"] >= (0.98 if k == "all" else 0.95)
    print(f"   {k:<8} {o['needles']:>7}   {o['hit_at_1']:>7.4f} {o['hit_at_3']:>7.4f}   "
          f"{r['hit_at_1']:>7.4f} {r['hit_at_3']:>7.4f}   {target}  {mark(ok)}")
print(f"   misses@3 by kind: ours {ours_all['misses_by_kind']}, ref {score['ref']['all']['misses_by_kind']}\n")

print("4. Recall latency per whole process (all needles, incl. sh -c spawn by the scorer)")
for tool, name in (("ours", "ours"), ("ref", f"csep {refv}")):
    a = score[tool]["all"]
    print(f"   {name:<12} median {a['query_ms_median']:7.1f} ms   p95 {a['query_ms_p95']:7.1f} ms")
print(f"   target: ours median <= 15 ms {mark(checks['recall_median_le_15ms'])}, "
      f"p95 <= 40 ms {mark(checks['recall_p95_le_40ms'])}\n")

print("5. Backfill peak RSS (max of the codex and claude runs, /usr/bin/time -f %M)")
for tool, name in (("ours", "ours"), ("ref", f"csep {refv}")):
    print(f"   {name:<12} {rss[tool]:8.1f} MB")
print(f"   target: ours <= 150 MB                                       {mark(checks['backfill_peak_rss_le_150MB'])}\n")

print("6. Incremental backfill (ours): appended 2 response_item lines to one rollout")
print(f"   file         {plan['path']}")
print(f"   appended     {plan['appended_bytes']} bytes")
print(f"   re-run       processed_files={incr['processed_files']} bytes_read={incr['bytes_read']} "
      f"unchanged={incr['unchanged_sessions']} updated={incr['updated_sessions']} "
      f"wall {t['ours-incr']['wall_ms']} ms   {mark(incr_ok)}")
print(f"   recall {plan['query']!r}: top result {found[0] if found else '(none)'} "
      f"(expected {plan['session_id']})   {mark(incr_found)}\n")

failed = [k for k, v in checks.items() if not v]
print(f"Targets: {len(checks) - len(failed)}/{len(checks)} met" + (f"; not met: {', '.join(failed)}" if failed else ""))

summary = {
    "type": "bench_recall", "sessions": sessions, "seed": seed, "needles": man["needles"],
    "corpus_bytes": corpus_bytes, "ref_version": refv,
    "backfill_ms": wall, "backfill_speedup": round(speedup, 2),
    "backfill_ms_by_source": {k: v["wall_ms"] for k, v in t.items() if k != "ours-incr"},
    "state_bytes": state, "state_ratio": {k: round(v, 4) for k, v in ratio.items()},
    "hit_at_1": {tool: {k: score[tool][k]["hit_at_1"] for k in ["all", *kinds]} for tool in score},
    "hit_at_3": {tool: {k: score[tool][k]["hit_at_3"] for k in ["all", *kinds]} for tool in score},
    "misses_by_kind": {tool: score[tool]["all"]["misses_by_kind"] for tool in score},
    "query_ms_median": {tool: score[tool]["all"]["query_ms_median"] for tool in score},
    "query_ms_p95": {tool: score[tool]["all"]["query_ms_p95"] for tool in score},
    "backfill_peak_rss_mb": {k: round(v, 1) for k, v in rss.items()},
    "incremental": {"appended_bytes": plan["appended_bytes"], "bytes_read": incr["bytes_read"],
                    "processed_files": incr["processed_files"], "found": incr_found},
    "targets": checks, "all_targets_met": not failed,
}
print(json.dumps(summary, separators=(",", ":")))
PY
}

main() {
    parse_args "$@"
    check_deps
    mkdir -p -- "$BENCH_DIR"
    WORK=$(mktemp -d "$BENCH_DIR/bench-recall.XXXXXX")
    trap on_exit EXIT
    RESULTS=$WORK/results
    mkdir -p "$RESULTS" "$WORK/fakehome" "$WORK/ref-state" "$WORK/our-state"
    log "work dir: $WORK"

    make_corpus
    setup_ref
    build_ours
    set_commands
    backfill_all
    measure_state
    score_all
    incremental_check
    report
    OK=1
}

main "$@"
