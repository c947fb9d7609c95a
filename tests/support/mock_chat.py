#!/usr/bin/env python3
"""A scripted stand-in for the OpenAI Chat Completions API and the Gemini API, for end-to-end tests.

Test tooling only (stdlib only, Python >= 3.11). It listens on 127.0.0.1 at a random port,
writes that port to --port-file, and answers:

    POST .../chat/completions            (Copilot CLI, Qwen Code, Factory Droid, OpenCode)
        streaming Server-Sent Events when the body says "stream": true (chunks, a usage
        chunk, ``data: [DONE]``), one JSON object otherwise
    POST .../models/M:streamGenerateContent, :generateContent, :countTokens   (Gemini CLI)
    GET  .../models                      a one-model list

The script (--script FILE) is a JSON list of rules, each tied to a prompt:

    {"match": "kumquat step", "command": "echo kumquat-one", "text": "It printed kumquat-one."}

A request is answered statelessly from the conversation it carries, so the extra model
calls a host makes on its own (titles, summaries, next-speaker checks) take nothing from the
script: the rule is the first whose ``match`` occurs in the latest user message (tool results
aside); a request whose latest user message matches no rule is one of those extra calls. If
the conversation ends with that user message (not a tool result), the request
offers a shell tool and the rule has a ``command``, the answer is one call of the shell tool
(``bash``, ``run_shell_command``, ``Execute``, ``shell``) with the tool's required arguments
filled from its JSON schema (the command in ``command``); when the rule has a ``recall``
instead and the request offers a tool whose name contains ``recall`` (csep's MCP server),
it is one call of that tool with ``{"query": <recall>, "global": true}`` until the model has
called it since the prompt (for a host that only names its MCP tools in the prompt: through
Qwen Code's ``tool_call`` bridge, or after loading it with Droid's ``ToolSearch``); otherwise it is the rule's
``text``. No matching rule: a short default text (or, when the host asks for JSON, the
next-speaker answer ``{"next_speaker": "user"}``).

Every request (any method, any path) is appended as one JSON line to --log: sequence
number, method, path, a few headers, the parsed body, which rule it got (``served``) and
what the answer was (``reply``: ``tool_call``, ``text`` or ``json``). The last line is
``{"type": "mock_exit", ...}``. The server exits on its own after --max-requests requests or
--timeout seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import mockhttp  # beside this file: the shared HTTP plumbing

DEFAULT_TEXT = "[mock] nothing scripted for this request."
NEXT_SPEAKER = '{"reasoning": "the answer is complete", "next_speaker": "user"}'
SHELL_TOOLS = ("bash", "run_shell_command", "Execute", "shell")
LOGGED_HEADERS = ("authorization", "content-type", "user-agent", "x-goog-api-key")


def text_of(content) -> str:
    """The text of an OpenAI message content or a Gemini parts list (tool results included)."""
    if isinstance(content, str):
        return content
    out = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            out.append(part["text"])
        fr = part.get("functionResponse")
        if isinstance(fr, dict):
            out.append(json.dumps(fr.get("response"), ensure_ascii=False))
    return "\n".join(out)


def conversation(body: dict, gemini: bool) -> list[tuple[str, str, bool]]:
    """(role, text, is_tool_result) for each message of a request, oldest first."""
    out = []
    if gemini:
        for c in body.get("contents") or []:
            parts = c.get("parts") or []
            tool = any(isinstance(p, dict) and "functionResponse" in p for p in parts)
            out.append((c.get("role") or "user", text_of(parts), tool))
    else:
        for m in body.get("messages") or []:
            role = m.get("role") or ""
            out.append((role, text_of(m.get("content")), role == "tool"))
    return out


def pick_rule(script: list[dict], convo: list[tuple[str, str, bool]]) -> tuple[int | None, bool]:
    """The rule for this request, and whether the conversation ends with its prompt."""
    for i in range(len(convo) - 1, -1, -1):
        role, text, tool = convo[i]
        if role != "user" or tool:
            continue
        for n, rule in enumerate(script):
            if rule.get("match") and rule["match"] in text:
                return n, i == len(convo) - 1
        return None, False
    return None, False


def offered_tools(body: dict, gemini: bool) -> list[tuple[str, dict]]:
    """Every tool a request offers: its name and its parameters' JSON schema."""
    decls = []
    if gemini:
        for t in body.get("tools") or []:
            decls.extend(t.get("functionDeclarations") or [])
        return [(d.get("name") or "", d.get("parametersJsonSchema") or d.get("parameters") or {}) for d in decls]
    for t in body.get("tools") or []:
        f = t.get("function") or {}
        decls.append((f.get("name") or "", f.get("parameters") or {}))
    return decls


def shell_tool(body: dict, gemini: bool) -> tuple[str, dict] | None:
    """The shell tool a request offers: its name and its parameters' JSON schema."""
    decls = offered_tools(body, gemini)
    for want in SHELL_TOOLS:
        for name, schema in decls:
            if name == want:
                return name, schema
    return None


def calls_since_prompt(body: dict, gemini: bool) -> list[tuple[str, str]]:
    """(name, arguments as JSON) of each tool call the model made since the latest user prompt."""
    out = []
    if gemini:
        for c in body.get("contents") or []:
            parts = [p for p in c.get("parts") or [] if isinstance(p, dict)]
            if c.get("role") == "user" and any("text" in p for p in parts) and not any("functionResponse" in p for p in parts):
                out = []
            out += [(p["functionCall"].get("name") or "", json.dumps(p["functionCall"].get("args")))
                    for p in parts if isinstance(p.get("functionCall"), dict)]
        return out
    for m in body.get("messages") or []:
        if m.get("role") == "user":
            out = []
        for call in m.get("tool_calls") or []:
            f = call.get("function") or {}
            out.append((f.get("name") or "", str(f.get("arguments") or "")))
    return out


def recall_call(body: dict, gemini: bool, query: str) -> tuple[str, dict] | None:
    """The next call toward the recall tool of an MCP server (under whatever prefix the host
    gives it), or None once it was called: the tool itself when offered; else, for a host that
    only names its MCP tools in the prompt, its bridge (Qwen Code's ``tool_call``) or first its
    loader (Factory Droid's ``ToolSearch`` with ``select:NAME``)."""
    calls = calls_since_prompt(body, gemini)
    if any("recall" in name or (name == "tool_call" and "recall" in args) for name, args in calls):
        return None
    args = {"query": query, "global": True}
    names = [name for name, _ in offered_tools(body, gemini)]
    direct = next((n for n in names if "recall" in n), None)
    if direct:
        return direct, args
    prompt_text = "\n".join(text for _, text, _ in conversation(body, gemini))
    deferred = re.search(r"\b\w+__\w*recall\b", prompt_text)
    if deferred and "tool_call" in names:
        return "tool_call", {"name": deferred.group(0), "arguments": args}
    if deferred and "ToolSearch" in names and not any(name == "ToolSearch" for name, _ in calls):
        return "ToolSearch", {"query": f"select:{deferred.group(0)}"}
    return None


def fill_args(schema: dict, command: str) -> dict:
    """The shell call's arguments: the command, and a plain value for every other required one."""
    props = schema.get("properties") or {}
    args = {"command": command}
    for key in schema.get("required") or []:
        if key in args:
            continue
        p = props.get(key) or {}
        kind = str(p.get("type", "string")).lower()
        if p.get("enum"):
            args[key] = p["enum"][0]
        elif kind == "boolean":
            args[key] = False
        elif kind in ("integer", "number"):
            args[key] = 30
        else:
            args[key] = "Run the scripted command"
    return args


def wants_json(body: dict, gemini: bool) -> bool:
    if gemini:
        cfg = body.get("generationConfig") or {}
        return cfg.get("responseMimeType") == "application/json" or "responseSchema" in cfg or "responseJsonSchema" in cfg
    fmt = body.get("response_format") or {}
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def answer(script: list[dict], body: dict, gemini: bool) -> tuple[dict, int | None, str]:
    """What to answer: ``{"text": ...}`` or ``{"call": (name, args)}``, the rule, and the reply kind."""
    n, at_prompt = pick_rule(script, conversation(body, gemini))
    if n is None:
        if wants_json(body, gemini):
            return {"text": NEXT_SPEAKER}, None, "json"
        return {"text": DEFAULT_TEXT}, None, "text"
    rule = script[n]
    recall = recall_call(body, gemini, str(rule.get("recall", "")))
    if rule.get("recall") and recall:
        return {"call": recall}, n, "tool_call"
    tool = shell_tool(body, gemini)
    if at_prompt and rule.get("command") and tool:
        return {"call": (tool[0], fill_args(tool[1], str(rule["command"])))}, n, "tool_call"
    if wants_json(body, gemini):
        return {"text": NEXT_SPEAKER}, n, "json"
    return {"text": str(rule.get("text", DEFAULT_TEXT))}, n, "text"


USAGE = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}


def openai_reply(ans: dict, body: dict, seq: int) -> tuple[str, bytes]:
    model = body.get("model", "mock-model")
    rid, created = f"chatcmpl-mock-{seq}", int(time.time())
    if "call" in ans:
        name, args = ans["call"]
        call = {"id": f"call_mock_{seq}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": ans["text"]}, "stop"
    if not body.get("stream"):
        obj = {"id": rid, "object": "chat.completion", "created": created, "model": model,
               "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": USAGE}
        return "application/json", json.dumps(obj).encode()

    def chunk(delta: dict, fin=None, usage=None, choices=True) -> bytes:
        obj = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": fin}] if choices else []}
        if usage:
            obj["usage"] = usage
        return f"data: {json.dumps(obj)}\n\n".encode()

    out = [chunk({"role": "assistant", "content": ""})]
    if "call" in ans:
        out.append(chunk({"tool_calls": [dict(message["tool_calls"][0], index=0)]}))
    else:
        out.append(chunk({"content": ans["text"]}))
    out.append(chunk({}, fin=finish))
    out.append(chunk({}, usage=USAGE, choices=False))
    out.append(b"data: [DONE]\n\n")
    return "text/event-stream", b"".join(out)


def gemini_reply(ans: dict, stream: bool) -> tuple[str, bytes]:
    if "call" in ans:
        name, args = ans["call"]
        parts = [{"functionCall": {"name": name, "args": args}}]
    else:
        parts = [{"text": ans["text"]}]
    obj = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
           "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 10, "totalTokenCount": 110}}
    if stream:
        return "text/event-stream", f"data: {json.dumps(obj)}\n\n".encode()
    return "application/json", json.dumps(obj).encode()


class Handler(mockhttp.Handler):
    server_version = "mock-chat/1"
    log_name = "mock_chat"

    def _headers(self) -> dict:
        out = {}
        for name in LOGGED_HEADERS:
            value = self.headers.get(name)
            if value is not None:
                out[name] = value[:16] + "..." if len(value) > 16 and name != "content-type" else value
        return out

    def _handle(self) -> None:
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        if not isinstance(body, dict):
            body = {"unparsed": body}
        path = self.path.split("?")[0].rstrip("/")
        st = self.state
        with st.lock:
            st.requests += 1
            entry = {"type": "request", "seq": st.requests, "method": self.command, "path": self.path,
                     "headers": self._headers(), "body": body}
            status = 200
            if self.command == "POST" and path.endswith("/chat/completions"):
                ans, entry["served"], entry["reply"] = answer(st.script, body, False)
                ctype, payload = openai_reply(ans, body, st.requests)
            elif self.command == "POST" and (path.endswith(":streamGenerateContent") or path.endswith(":generateContent")):
                ans, entry["served"], entry["reply"] = answer(st.script, body, True)
                ctype, payload = gemini_reply(ans, path.endswith(":streamGenerateContent"))
            elif self.command == "POST" and path.endswith(":countTokens"):
                entry["served"] = "count_tokens"
                ctype, payload = "application/json", b'{"totalTokens": 100}'
            elif self.command == "GET" and path.endswith("/models"):
                entry["served"] = "models"
                ctype, payload = "application/json", b'{"object":"list","data":[{"id":"mock-model","object":"model","owned_by":"mock"}]}'
            else:
                entry["served"] = "not_found"
                status, ctype, payload = 404, "application/json", b'{"error":{"message":"mock_chat: no such endpoint"}}'
            st.record(entry)
        self._reply(status, ctype, payload)

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle
    do_DELETE = _handle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", required=True, help="JSON list of rules {match, command?, recall?, text}")
    ap.add_argument("--port-file", required=True, help="where to write the chosen port")
    ap.add_argument("--log", required=True, help="JSON Lines log of every request")
    ap.add_argument("--max-requests", type=int, default=100, help="exit after this many requests [default: 100]")
    ap.add_argument("--timeout", type=float, default=300.0, help="exit after this many seconds [default: 300]")
    args = ap.parse_args()

    with open(args.script, encoding="utf-8") as f:
        script = json.load(f)
    if not isinstance(script, list) or not all(isinstance(r, dict) and isinstance(r.get("match"), str) for r in script):
        print("mock_chat: the script must be a JSON list of {\"match\": ..., \"command\"?: ..., \"recall\"?: ..., \"text\": ...}", file=sys.stderr)
        return 2

    mockhttp.serve(Handler, mockhttp.State(script, args.log), args.port_file, args.max_requests, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
