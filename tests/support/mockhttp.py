"""The HTTP plumbing the scripted model mocks share (mock_chat.py, mock_responses.py).

Test tooling only (stdlib only, Python >= 3.11): the request log, the handler's body and
reply, and the serve loop (a random port written to --port-file, an exit after
--max-requests requests or --timeout seconds, a last ``mock_exit`` line in the log). What
each mock answers stays in its own file.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, script: list, log_path: str):
        self.script = script
        self.requests = 0
        self.lock = threading.Lock()  # requests run on their own threads
        self.log = open(log_path, "a", encoding="utf-8")

    def record(self, entry: dict) -> None:
        self.log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.log.flush()

    def exit_fields(self) -> dict:
        """What a mock adds to its ``mock_exit`` line."""
        return {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # a client that connects and never sends does not hold a thread for ever
    log_name = "mock"  # the prefix of each stderr line

    @property
    def state(self):
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, fmt: str, *args) -> None:  # stderr, one line per request
        sys.stderr.write(f"{self.log_name}: " + (fmt % args) + "\n")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _reply(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True


def serve(handler: type, state: State, port_file: str, max_requests: int, timeout: float) -> None:
    """Serves until `max_requests` requests or `timeout` seconds, then logs ``mock_exit``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.state = state  # type: ignore[attr-defined]
    server.timeout = 0.25  # handle_request() returns this often, so the deadline is checked
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, port_file)  # readers never see a half-written port

    deadline = time.monotonic() + timeout
    reason = "timeout"
    while time.monotonic() < deadline:
        if state.requests >= max_requests:
            time.sleep(0.5)  # let the last answer finish streaming
            reason = "max_requests"
            break
        server.handle_request()
    with state.lock:
        state.record({"type": "mock_exit", "reason": reason, "requests": state.requests, **state.exit_fields()})
    server.server_close()
