#!/usr/bin/env python3
"""A scripted, streaming stand-in for the Anthropic Messages API, for end-to-end tests.

Test tooling only (stdlib only, Python >= 3.11). It listens on 127.0.0.1 at a port the
kernel picks, writes that port to --port-file, and answers ``POST /v1/messages`` (any query
string, e.g. ``?beta=true``) with scripted assistant turns. A streaming request
(``"stream": true``, what Claude Code always sends) gets Server-Sent Events:

    message_start, ping,
    content_block_start / content_block_delta / content_block_stop   (per content block)
    message_delta (stop_reason, usage), message_stop

each sent as ``event: <type>\\ndata: <json>\\n\\n``; a non-streaming request gets one
Message object as JSON.

The script (--script FILE) is a JSON list of turns. A turn is either a list of blocks or
an object ``{"match": "text", "blocks": [...]}``:

    {"type": "text", "text": "..."}                       an assistant text block
    {"type": "bash", "command": "echo hi"}                a tool_use of Claude Code's Bash tool
    {"type": "tool_use", "name": "X", "input": {...}}     any tool_use

A "main" request (one that offers ``tools``) takes the first turn not yet served whose
``match`` (if it has one) occurs in the text of the request's last user message (its text
blocks and tool_result contents). A turn may also name a ``capture``: a regular expression
with one group, searched in that same text; every ``{capture}`` in the turn's tool inputs
becomes what the group matched (so a turn can write to a path the prompt names), and the
turn does not fit a request where the expression does not match. So a turn can be tied to one prompt, and an unexpected
extra session (a worker started by a hook, say) cannot take another session's turn. The
stop_reason is ``tool_use`` when the turn has a tool call, else ``end_turn``. A request
that no turn fits gets a short "[mock] no scripted turn" text and is logged as
``exhausted``; a request without tools gets a short text and is logged as ``side``.

Every request (any method, any path) is appended as one JSON line to --log: ``type``
("request"), ``seq``, ``method``, ``path``, a few headers (``x-api-key`` cut short), the
parsed ``body``, ``served`` (the turn index, "exhausted", "side", or "other") and
``events`` (what was sent back). The last line is ``{"type": "mock_exit", ...}``.

Lifetime is bounded: the server exits after --max-requests requests, after --timeout
seconds, or as soon as the process that started it is gone, whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NO_TURN_TEXT = "[mock] no scripted turn for this request; ending turn."
SIDE_TEXT = "OK"
LOGGED_HEADERS = (
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "user-agent",
    "x-app",
    "x-claude-code-session-id",
    "x-claude-code-agent-id",
    "content-type",
)


def sse(event: dict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def load_script(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, list):
        raise ValueError("the script must be a JSON list of turns")
    turns = []
    for n, t in enumerate(raw):
        if isinstance(t, list):
            t = {"blocks": t}
        if not isinstance(t, dict) or not isinstance(t.get("blocks"), list):
            raise ValueError(f"turn {n}: want a list of blocks or {{'match', 'blocks'}}")
        for b in t["blocks"]:
            if b.get("type") not in ("text", "bash", "tool_use"):
                raise ValueError(f"turn {n}: unknown block type {b.get('type')!r}")
        turns.append(t)
    return turns


def content_blocks(spec: list[dict], msg_id: str) -> list[dict]:
    """The script's blocks as Messages API content blocks."""
    out = []
    for n, b in enumerate(spec):
        if b["type"] == "text":
            out.append({"type": "text", "text": str(b.get("text", ""))})
        elif b["type"] == "bash":
            inp = {"command": str(b.get("command", "")), "description": str(b.get("description", "Run a command"))}
            out.append({"type": "tool_use", "id": f"toolu_{msg_id}_{n}", "name": "Bash", "input": inp})
        else:
            out.append(
                {"type": "tool_use", "id": f"toolu_{msg_id}_{n}", "name": str(b.get("name", "")), "input": b.get("input") or {}}
            )
    return out


def fill(value, captured: str):
    """``value`` with every ``{capture}`` in its strings replaced by ``captured``."""
    if isinstance(value, str):
        return value.replace("{capture}", captured)
    if isinstance(value, list):
        return [fill(v, captured) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, captured) for k, v in value.items()}
    return value


def stream_events(blocks: list[dict], msg_id: str, model: str, input_tokens: int) -> list[dict]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    events: list[dict] = [
        {
            "type": "message_start",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 1,
                },
            },
        },
        {"type": "ping"},
    ]
    out_tokens = 0
    for i, b in enumerate(blocks):
        if b["type"] == "text":
            events.append({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})
            text = b["text"]
            half = len(text) // 2
            for part in (text[:half], text[half:]):
                if part:
                    events.append({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": part}})
            out_tokens += max(1, len(text) // 4)
        else:
            start = {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}
            events.append({"type": "content_block_start", "index": i, "content_block": start})
            js = json.dumps(b["input"], separators=(",", ":"))
            cut = len(js) // 2
            for part in (js[:cut], js[cut:]):
                events.append({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": part}})
            out_tokens += max(1, len(js) // 4)
        events.append({"type": "content_block_stop", "index": i})
    events.append(
        {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": out_tokens}}
    )
    events.append({"type": "message_stop"})
    return events


def last_user_text(body: dict) -> str:
    """The text of the last user message: text blocks and tool_result contents."""
    for m in reversed(body.get("messages") or []):
        if not isinstance(m, dict) or m.get("role") != "user":
            continue
        content = m.get("content")
        if isinstance(content, str):
            return content
        parts = []
        for c in content or []:
            if not isinstance(c, dict):
                continue
            if c.get("type") == "text":
                parts.append(str(c.get("text", "")))
            elif c.get("type") == "tool_result":
                inner = c.get("content")
                if isinstance(inner, str):
                    parts.append(inner)
                else:
                    parts.extend(str(x.get("text", "")) for x in inner or [] if isinstance(x, dict))
        return "\n".join(parts)
    return ""


class State:
    def __init__(self, turns: list[dict], log_path: str):
        self.turns = turns
        self.served = [False] * len(turns)
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8")
        self.requests = 0

    def record(self, entry: dict) -> None:
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()

    def take_turn(self, body: dict) -> tuple[int, str | None] | None:
        text = last_user_text(body)
        with self.lock:
            for n, t in enumerate(self.turns):
                if self.served[n] or (t.get("match") and t["match"] not in text):
                    continue
                captured = None
                if t.get("capture"):
                    m = re.search(t["capture"], text)
                    if not m:
                        continue
                    captured = m.group(1)
                self.served[n] = True
                return n, captured
        return None

    def unused(self) -> list[int]:
        with self.lock:
            return [n for n, s in enumerate(self.served) if not s]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # a client that connects and never sends does not hold a thread for ever

    @property
    def state(self) -> State:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("mock_messages: " + (fmt % args) + "\n")

    def _headers(self) -> dict:
        out = {}
        for k in LOGGED_HEADERS:
            v = self.headers.get(k)
            if v is not None:
                out[k] = v[:12] + "…" if k == "x-api-key" and len(v) > 12 else v
        return out

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", f"req_mock_{uuid.uuid4().hex[:16]}")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def _handle(self) -> None:
        with self.state.lock:
            self.state.requests += 1
            seq = self.state.requests
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = {"unparsed": raw[:2000].decode("utf-8", "replace")}
        entry = {
            "type": "request",
            "seq": seq,
            "ts": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": self._headers(),
            "body": body,
        }
        route = self.path.split("?", 1)[0].rstrip("/")
        try:
            if self.command == "POST" and route == "/v1/messages" and isinstance(body, dict):
                self._messages(body, entry)
            elif self.command == "POST" and route == "/v1/messages/count_tokens":
                entry["served"] = "other"
                self._send(200, "application/json", json.dumps({"input_tokens": max(1, len(raw) // 4)}).encode())
            elif route == "/api/hello":
                entry["served"] = "other"
                self._send(200, "application/json", b"{}")
            else:
                entry["served"] = "not_found"
                err = {"type": "error", "error": {"type": "not_found_error", "message": f"mock: no route {self.path}"}}
                self._send(404, "application/json", json.dumps(err).encode())
        except (BrokenPipeError, ConnectionResetError) as e:
            entry["client_gone"] = str(e)
        finally:
            self.state.record(entry)

    def _messages(self, body: dict, entry: dict) -> None:
        model = str(body.get("model") or "claude-mock")
        msg_id = f"msg_mock_{entry['seq']:03d}_{uuid.uuid4().hex[:8]}"
        if body.get("tools"):
            taken = self.state.take_turn(body)
            if taken is None:
                entry["served"] = "exhausted"
                spec = [{"type": "text", "text": NO_TURN_TEXT}]
            else:
                n, captured = taken
                entry["served"] = n
                spec = self.state.turns[n]["blocks"]
                if captured is not None:
                    entry["captured"] = captured
                    spec = fill(spec, captured)
        else:
            entry["served"] = "side"
            spec = [{"type": "text", "text": SIDE_TEXT}]
        blocks = content_blocks(spec, msg_id)
        input_tokens = max(1, len(json.dumps(body.get("messages") or [])) // 4)
        events = stream_events(blocks, msg_id, model, input_tokens)
        entry["events"] = events
        if not body.get("stream"):
            message = dict(events[0]["message"])
            message["content"] = blocks
            message["stop_reason"] = events[-2]["delta"]["stop_reason"]
            message["usage"] = dict(message["usage"], output_tokens=events[-2]["usage"]["output_tokens"])
            self._send(200, "application/json", json.dumps(message).encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("request-id", f"req_mock_{uuid.uuid4().hex[:16]}")
        self.send_header("Connection", "close")
        self.end_headers()
        for ev in events:
            self.wfile.write(sse(ev))
            self.wfile.flush()
        self.close_connection = True

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", required=True, help="JSON list of turns")
    ap.add_argument("--port-file", required=True, help="where to write the chosen port")
    ap.add_argument("--log", required=True, help="JSON-lines request log (appended)")
    ap.add_argument("--max-requests", type=int, default=0, help="exit after this many requests [default: turns + 20]")
    ap.add_argument("--timeout", type=float, default=300.0, help="exit after this many seconds [default: 300]")
    args = ap.parse_args()

    turns = load_script(args.script)
    max_requests = args.max_requests or len(turns) + 20
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(turns, args.log)  # type: ignore[attr-defined]
    server.timeout = 0.25  # handle_request() returns this often, so the limits are checked
    port = server.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.port_file)  # a reader never sees a half-written port
    sys.stderr.write(f"mock_messages: listening on 127.0.0.1:{port}, {len(turns)} turns\n")

    parent = os.getppid()
    deadline = time.monotonic() + args.timeout
    reason = "timeout"
    while time.monotonic() < deadline:
        if server.state.requests >= max_requests:  # type: ignore[attr-defined]
            reason = "max_requests"
            break
        if os.getppid() != parent:
            reason = "parent_gone"
            break
        server.handle_request()
    # Let a stream still being written finish.
    time.sleep(0.2)
    server.state.record(  # type: ignore[attr-defined]
        {
            "type": "mock_exit",
            "reason": reason,
            "requests": server.state.requests,  # type: ignore[attr-defined]
            "unused_turns": server.state.unused(),  # type: ignore[attr-defined]
        }
    )
    server.server_close()
    sys.stderr.write(f"mock_messages: exiting ({reason})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
