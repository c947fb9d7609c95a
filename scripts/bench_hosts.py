#!/usr/bin/env python3
"""bench_hosts.py - reading the other agents' history at size: see scripts/bench-hosts.sh.

For each host whose fixtures are in ../shared/fixtures/hosts (read, never copied into the
repository), builds a history of --sessions sessions in that host's own layout from one
real-CLI session (a fresh session id per copy, a unique needle in its first prompt), then
times csep on it: the full backfill (wall, peak RSS, MB/s), one appended turn read by
`csep-index --file`, and `csep recall NEEDLE --agent HOST` (hit@1, median / p95 ms) for a
sample of needles. csep 1.3.10 reads only Codex and Claude Code, so there is nothing to
compare against; the Codex line gives the same measure on a Codex corpus of similar size.
"""

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid

PROMPT = "List the files in this project and tell me what you see."


def needle(i):
    return f"zq{i:05d}kx"


def sub_ids(text, old_ids, salt):
    for old in old_ids:
        text = text.replace(old, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}/{old}")))
    return text


def uuids(text):
    return sorted(set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text)))


def make_jsonl(host, template, root, n):
    """Copies one JSONL session n times, every uuid in it made fresh per copy."""
    text = open(template, encoding="utf-8").read()
    ids = uuids(text)
    rel = os.path.relpath(template, TEMPLATE_ROOTS[host])
    paths = []
    for i in range(n):
        body = sub_ids(text, ids, f"{host}-{i}").replace(PROMPT, f"{PROMPT} {needle(i)}")
        path = os.path.join(root, sub_ids(rel, ids, f"{host}-{i}"))
        if host == "gemini":
            path = path.replace(".jsonl", f"-{i:05d}.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        paths.append(path)
    return paths


def make_aider(template, root, n):
    text = open(template, encoding="utf-8").read()
    os.makedirs(os.path.join(root, "repo"), exist_ok=True)
    path = os.path.join(root, "repo", ".aider.chat.history.md")
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(text.replace("Explain what main.py does.", f"Explain what main.py does. {needle(i)}"))
    return [path]


def make_opencode(template, root, n):
    os.makedirs(root, exist_ok=True)
    db = os.path.join(root, "opencode.db")
    shutil.copy(template, db)
    c = sqlite3.connect(db)
    sessions = c.execute("SELECT * FROM session").fetchall()
    scols = [d[1] for d in c.execute("PRAGMA table_info(session)")]
    first = sessions[0]
    sid = first[scols.index("id")]
    msgs = c.execute("SELECT * FROM message WHERE session_id = ?", (sid,)).fetchall()
    mcols = [d[1] for d in c.execute("PRAGMA table_info(message)")]
    parts = c.execute("SELECT * FROM part WHERE session_id = ?", (sid,)).fetchall()
    pcols = [d[1] for d in c.execute("PRAGMA table_info(part)")]
    c.execute("DELETE FROM part")
    c.execute("DELETE FROM message")
    c.execute("DELETE FROM session")
    ins = lambda t, cols: f"INSERT INTO {t} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
    for i in range(n):
        new = lambda old: f"{old}_{i:05d}"
        row = list(first)
        row[scols.index("id")] = new(sid)
        c.execute(ins("session", scols), row)
        for m in msgs:
            r = list(m)
            r[mcols.index("id")] = new(m[mcols.index("id")])
            r[mcols.index("session_id")] = new(sid)
            c.execute(ins("message", mcols), r)
        for p in parts:
            r = list(p)
            r[pcols.index("id")] = new(p[pcols.index("id")])
            r[pcols.index("message_id")] = new(p[pcols.index("message_id")])
            r[pcols.index("session_id")] = new(sid)
            data = r[pcols.index("data")]
            if PROMPT in data:
                r[pcols.index("data")] = data.replace(PROMPT, f"{PROMPT} {needle(i)}")
            c.execute(ins("part", pcols), r)
    c.commit()
    c.execute("VACUUM")
    c.close()
    return [db]


def tree_bytes(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)


def timed(cmd, env):
    """Runs cmd under /usr/bin/time -v: (seconds, peak RSS MB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench-hosts: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return wall, (int(rss.group(1)) / 1024 if rss else 0.0), p.stdout


def last_json(out):
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def bench(host, agent, paths, root, bindir, work, sample):
    env = dict(os.environ, CSEP_HOME=os.path.join(work, f"state-{host}"), HOME=os.path.join(work, "home"))
    size = tree_bytes(root)
    wall, rss, out = timed([f"{bindir}/csep-index", "--backfill", agent, "--root", root, "--all-history"], env)
    s = last_json(out)
    if s.get("error_count"):
        sys.exit(f"bench-hosts: {host}: {s['error_count']} errors: {s.get('errors')}")
    # One more turn at the end of the newest file (JSONL hosts): what a Stop costs.
    append_ms = None
    if host in ("copilot", "qwen", "droid", "gemini"):
        target = paths[-1]
        lines = open(target, encoding="utf-8").read().splitlines(True)
        with open(target, "a", encoding="utf-8") as f:
            f.write(lines[-1])
        t0 = time.perf_counter()
        subprocess.run([f"{bindir}/csep-index", "--file", target], env=env, check=True, capture_output=True)
        append_ms = (time.perf_counter() - t0) * 1000
    n = len(paths) if host not in ("aider", "opencode") else ARGS.sessions
    picks = sorted(set(int(i * n / sample) for i in range(sample)))
    hits, lat = 0, []
    for i in picks:
        t0 = time.perf_counter()
        p = subprocess.run([f"{bindir}/csep", "recall", needle(i), "--agent", agent, "--global", "--format", "json"],
                           env=env, capture_output=True, text=True)
        lat.append((time.perf_counter() - t0) * 1000)
        try:
            res = json.loads(p.stdout)["results"]
        except (ValueError, KeyError):
            res = []
        hits += bool(res) and needle(i) in json.dumps(res[0])
    lat.sort()
    return {
        "host": host,
        "sessions": s.get("new_sessions", s.get("sessions")),
        "messages": s.get("messages"),
        "mb": round(size / 1e6, 1),
        "backfill_s": round(wall, 2),
        "mb_per_s": round(size / 1e6 / wall, 1),
        "peak_rss_mb": round(rss, 1),
        "append_ms": None if append_ms is None else round(append_ms, 1),
        "hit_at_1": round(hits / len(picks), 3),
        "recall_median_ms": round(statistics.median(lat), 1),
        "recall_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
    }


def main():
    global ARGS, TEMPLATE_ROOTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--sample", type=int, default=100)
    ARGS = ap.parse_args()
    fx = os.path.join(ARGS.fixtures, "hosts")
    TEMPLATE_ROOTS = {
        "copilot": f"{fx}/copilot/generated",
        "qwen": f"{fx}/qwen/generated",
        "droid": f"{fx}/droid/generated",
        "gemini": f"{fx}/gemini/generated",
    }
    templates = {
        "copilot": f"{fx}/copilot/generated/session-state/ca6f70a3-86ed-4e9c-8b09-55fe748af656/events.jsonl",
        "qwen": f"{fx}/qwen/generated/projects/-workspace-demo/chats/316d7cf6-78e7-45c6-9f5e-da36d7a510a1.jsonl",
        "droid": f"{fx}/droid/generated/sessions/-workspace-demo/37c5d0c4-efbe-449b-9759-327ebb1a0060.jsonl",
        "gemini": f"{fx}/gemini/generated/tmp/demo/chats/session-2026-12-07T09-57-b51613eb.jsonl",
    }
    rows = []
    for host in ["copilot", "qwen", "droid", "gemini", "opencode", "aider"]:
        root = os.path.join(ARGS.work, f"hist-{host}")
        if host == "opencode":
            paths = make_opencode(f"{fx}/opencode/generated/opencode.db", root, ARGS.sessions)
        elif host == "aider":
            paths = make_aider(f"{fx}/aider/generated/demo/.aider.chat.history.md", root, ARGS.sessions)
        else:
            paths = make_jsonl(host, templates[host], root, ARGS.sessions)
        row = bench(host, host, paths, root, ARGS.bin, ARGS.work, ARGS.sample)
        rows.append(row)
        print(f"{host:9} {row['sessions']:>6} sessions {row['messages']:>7} msgs {row['mb']:>7} MB  "
              f"backfill {row['backfill_s']:>6} s ({row['mb_per_s']} MB/s, {row['peak_rss_mb']} MB RSS)  "
              f"append {row['append_ms']} ms  hit@1 {row['hit_at_1']}  "
              f"recall {row['recall_median_ms']}/{row['recall_p95_ms']} ms", flush=True)
    print(json.dumps({"type": "bench_hosts", "sessions": ARGS.sessions, "rows": rows}))


if __name__ == "__main__":
    main()
