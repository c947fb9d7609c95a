#!/usr/bin/env python3
"""A scripted, streaming stand-in for the OpenAI Responses API, for end-to-end tests.

Test tooling only (stdlib only, Python >= 3.11). It listens on 127.0.0.1 at a random port,
writes that port to --port-file, and answers each ``POST .../responses`` with the next
scripted model response as Server-Sent Events:

    response.created
    response.output_item.added / response.output_item.done   (one pair per item)
    response.completed                                        (with usage)

each sent as ``event: <type>\\ndata: <json>\\n\\n``.

The script (--script FILE) is a JSON list of responses; each response is a list of items:

    {"type": "message", "text": "..."}          an assistant output_text message
    {"type": "shell", "command": "echo hi"}     a function_call to exec_command {"cmd": ...}
    {"type": "function_call", "name": "X", "arguments": {...}}   a function_call to any tool
        (with "namespace": "N" for a tool a tool_search output listed in namespace N)
    {"type": "tool_search", "query": "..."}     a client-executed tool_search_call (Codex
        answers with the deferred tools, MCP servers' among them, that match the query)

Codex sends one request per model call: a response that holds a shell call is followed by
another request carrying the call's output, so "run a command, then answer" is two
responses. When the script runs out, the server answers with a short message and logs the
request as exhausted.

Every request (any method, any path) is appended as one JSON line to --log: sequence
number, method, path, a few headers, the parsed body, and which script entry it got. The
last line is ``{"type": "mock_exit", ...}``.

The server exits on its own after --max-requests requests or --timeout seconds, whichever
comes first.
"""

from __future__ import annotations

import argparse
import json
import sys

import mockhttp  # beside this file: the shared HTTP plumbing

EXHAUSTED_TEXT = "[mock] script exhausted; ending turn."
# Headers worth keeping in the log (the bearer token is shortened).
LOGGED_HEADERS = ("authorization", "accept", "content-type", "originator", "user-agent", "x-codex-turn-metadata")


def sse(event: dict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def output_item(spec: dict, resp_id: str, n: int, seq: int) -> dict:
    """One scripted item as a Responses API output item."""
    kind = spec.get("type")
    if kind == "message":
        item = {
            "type": "message",
            "id": f"msg_{resp_id}_{n}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": str(spec.get("text", "")), "annotations": []}],
        }
        if "phase" in spec:
            item["phase"] = spec["phase"]
        return item
    if kind == "shell":
        return {
            "type": "function_call",
            "id": f"fc_{resp_id}_{n}",
            "call_id": spec.get("call_id") or f"call_{seq}_{n}",
            "name": "exec_command",
            "arguments": json.dumps({"cmd": str(spec.get("command", ""))}),
            "status": "completed",
        }
    if kind == "function_call":
        item = {
            "type": "function_call",
            "id": f"fc_{resp_id}_{n}",
            "call_id": spec.get("call_id") or f"call_{seq}_{n}",
            "name": str(spec.get("name", "")),
            "arguments": json.dumps(spec.get("arguments") or {}),
            "status": "completed",
        }
        if "namespace" in spec:
            item["namespace"] = str(spec["namespace"])
        return item
    if kind == "tool_search":
        return {
            "type": "tool_search_call",
            "id": f"ts_{resp_id}_{n}",
            "call_id": spec.get("call_id") or f"search_{seq}_{n}",
            "execution": "client",
            "status": "completed",
            "arguments": {"query": str(spec.get("query", "")), "limit": spec.get("limit", 8)},
        }
    raise ValueError(f"unknown script item type: {kind!r}")


def stream(items: list[dict], resp_id: str, seq: int, model: str) -> tuple[list[dict], bytes]:
    events: list[dict] = [
        {
            "type": "response.created",
            "response": {"id": resp_id, "object": "response", "status": "in_progress", "model": model, "output": []},
        }
    ]
    done_items = []
    for n, spec in enumerate(items):
        item = output_item(spec, resp_id, n, seq)
        added = dict(item, content=[]) if item["type"] == "message" else item
        events.append({"type": "response.output_item.added", "output_index": n, "item": added})
        events.append({"type": "response.output_item.done", "output_index": n, "item": item})
        done_items.append(item)
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 110,
    }
    events.append(
        {
            "type": "response.completed",
            "response": {
                "id": resp_id,
                "object": "response",
                "status": "completed",
                "model": model,
                "output": done_items,
                "usage": usage,
            },
        }
    )
    return events, b"".join(sse(e) for e in events)


class State(mockhttp.State):
    def __init__(self, script: list, log_path: str):
        super().__init__(script, log_path)
        self.next_turn = 0

    def exit_fields(self) -> dict:
        return {"turns_served": self.next_turn, "turns_scripted": len(self.script)}


class Handler(mockhttp.Handler):
    server_version = "mock-responses/1"
    log_name = "mock_responses"

    def _headers(self) -> dict:
        out = {}
        for name in LOGGED_HEADERS:
            value = self.headers.get(name)
            if value is None:
                continue
            if name == "authorization" and len(value) > 16:
                value = value[:16] + "..."
            out[name] = value
        return out

    def _handle(self) -> None:
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        st = self.state
        with st.lock:
            st.requests += 1
            entry = {"type": "request", "seq": st.requests, "method": self.command, "path": self.path, "headers": self._headers(), "body": body}
            if self.command != "POST" or not self.path.rstrip("/").endswith("/responses"):
                entry["served"] = "not_found"
                st.record(entry)
                status, ctype, payload = 404, "application/json", b'{"error":{"message":"mock: only POST /v1/responses"}}'
            else:
                if st.next_turn < len(st.script):
                    entry["served"] = st.next_turn
                    items = st.script[st.next_turn]
                    st.next_turn += 1
                else:
                    entry["served"] = "exhausted"
                    items = [{"type": "message", "text": EXHAUSTED_TEXT}]
                model = body.get("model", "mock") if isinstance(body, dict) else "mock"
                events, payload = stream(items, f"resp_{st.requests}", st.requests, model)
                entry["events"] = [e["type"] for e in events]
                st.record(entry)
                status, ctype = 200, "text/event-stream"
        self._reply(status, ctype, payload)

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle
    do_DELETE = _handle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", required=True, help="JSON list of responses, each a list of items")
    ap.add_argument("--port-file", required=True, help="where to write the chosen port")
    ap.add_argument("--log", required=True, help="JSON Lines log of every request")
    ap.add_argument("--max-requests", type=int, default=0, help="exit after this many requests [default: script length + 10]")
    ap.add_argument("--timeout", type=float, default=300.0, help="exit after this many seconds [default: 300]")
    args = ap.parse_args()

    with open(args.script, encoding="utf-8") as f:
        script = json.load(f)
    if not isinstance(script, list) or not all(isinstance(t, list) for t in script):
        print("mock_responses: the script must be a JSON list of lists of items", file=sys.stderr)
        return 2
    try:  # fail now, not in the middle of a test
        for turn in script:
            for n, spec in enumerate(turn):
                output_item(spec, "check", n, 0)
    except (ValueError, AttributeError) as e:
        print(f"mock_responses: bad script item: {e}", file=sys.stderr)
        return 2
    max_requests = args.max_requests or len(script) + 10

    mockhttp.serve(Handler, State(script, args.log), args.port_file, max_requests, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
