"""A scriptable OpenAI-compatible chat server on 127.0.0.1 that records every request it receives.

Tests drive litellm's real HTTP path against it (`model="openai/<name>"`, `api_base=server.base_url`,
`api_key="sk-test"`) and then read `server.requests` to prove what was (or was not) sent.

    server = OpenAIServer().start()
    server.script(Reply.text("hi"), Reply.error(429), Reply.tool_call("grep", {"q": "x"}))
    ...                     # each request takes the next scripted reply, then `server.default`
    server.requests[0].body["messages"]
    server.stop()

Replies behave like OpenAI's: a request with `"stream": true` gets server-sent events (usage in a
final chunk only when `stream_options.include_usage` is set, unless `stream_usage` says otherwise).
Faults: `Reply.error(status)`, `Reply.malformed()`, `Reply.hang(seconds)`, `Reply.cut(after_chunks)`.
Run it by hand for demos: `python tests/openai_server.py --port 8000`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    received_at: float

    @property
    def body(self) -> Any:
        """The JSON body (None if it was not JSON)."""
        try:
            return json.loads(self.raw)
        except ValueError:
            return None

    @property
    def messages(self) -> list[dict]:
        body = self.body
        return body.get("messages", []) if isinstance(body, dict) else []


@dataclass
class Reply:
    """What the server answers to one request. Build with the class methods."""

    kind: str = "text"  # text | error | malformed | hang | cut | raw
    content: str | None = "ok"
    calls: list[tuple[str, Any, str | None]] = field(default_factory=list)  # (name, arguments, id)
    reasoning: str | None = None
    finish_reason: str | None = None
    usage: dict | None = None  # overrides the computed usage; {} means "report no usage at all"
    stream_usage: str = "auto"  # auto (as OpenAI: only if asked) | always | never
    model: str | None = None  # the model name the response claims (default: the request's)
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # hang: how long before giving up (the server closes the connection)
    after_chunks: int = 1  # cut: SSE chunks sent before the connection drops

    @classmethod
    def text(cls, content: str = "ok", *, reasoning: str | None = None, usage: dict | None = None,
             stream_usage: str = "auto", model: str | None = None, finish_reason: str | None = None) -> Reply:
        return cls("text", content, reasoning=reasoning, usage=usage, stream_usage=stream_usage, model=model,
                   finish_reason=finish_reason)

    @classmethod
    def tool_call(cls, name: str, arguments: Any = None, *, call_id: str | None = None, content: str | None = None,
                  usage: dict | None = None, stream_usage: str = "auto") -> Reply:
        return cls.tool_calls([(name, arguments if arguments is not None else {}, call_id)], content=content,
                              usage=usage, stream_usage=stream_usage)

    @classmethod
    def tool_calls(cls, calls: list[tuple], *, content: str | None = None, usage: dict | None = None,
                   stream_usage: str = "auto") -> Reply:
        """`calls`: (name, arguments) or (name, arguments, id) tuples; arguments a dict or a JSON string."""
        norm = [(c[0], c[1], c[2] if len(c) > 2 else None) for c in calls]
        return cls("text", content, calls=norm, usage=usage, stream_usage=stream_usage)

    @classmethod
    def error(cls, status: int = 500, message: str = "server error", *, headers: dict | None = None) -> Reply:
        kind = {429: "rate_limit_exceeded", 500: "server_error"}.get(status, "invalid_request_error")
        body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": kind}}).encode()
        return cls("raw", None, status=status, body=body, headers={"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def malformed(cls) -> Reply:
        """200 OK, application/json, and a body that is not JSON."""
        return cls("raw", None, status=200, body=b'{"id": "chatcmpl-broken", "choices": [', headers={"Content-Type": "application/json"})

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Reply:
        """Never answer (until `seconds` pass or the server stops): for client timeouts."""
        return cls("hang", None, seconds=seconds)

    @classmethod
    def cut(cls, content: str = "partial answer that never ends", after_chunks: int = 1) -> Reply:
        """Start a streamed answer, then drop the connection mid-body (an incomplete chunked read)."""
        return cls("cut", content, after_chunks=after_chunks)

    @classmethod
    def raw(cls, status: int, body: bytes | str, content_type: str = "application/json") -> Reply:
        data = body.encode() if isinstance(body, str) else body
        return cls("raw", None, status=status, body=data, headers={"Content-Type": content_type})


Responder = Callable[[Request], Reply]


def echo(request: Request) -> Reply:
    """A default reply quoting the last user message: concurrent callers can each check their own answer."""
    last = next((m for m in reversed(request.messages) if m.get("role") == "user"), {})
    content = last.get("content")
    return Reply.text(f"echo: {content if isinstance(content, str) else json.dumps(content)}")


class OpenAIServer:
    """A ThreadingHTTPServer answering POST /v1/chat/completions from a script."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default: Reply | Responder | None = None):
        self.requests: list[Request] = []
        self.default: Reply | Responder = default if default is not None else Reply.text("ok")
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class (tests/proxy_upstream.py's fake provider serves other routes)."""
        return _handler_for(self)

    # ------------------------------------------------------------------ control

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="openai-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def script(self, *replies: Reply | Responder) -> OpenAIServer:
        """Queue replies (or functions of the request returning one) for the next requests, in order."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def last(self) -> Request:
        return self.requests[-1]

    # ------------------------------------------------------------------ serving

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            item = self._queue.popleft() if self._queue else self.default
        return item(request) if callable(item) else item


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; with Nagle's algorithm on, the second waits for the
        # client's delayed ACK (~40 ms a request), which every "plain litellm" baseline then carried.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except (TimeoutError, ConnectionError):  # the client went away (a timeout, a closed stream)
                pass

        def do_GET(self) -> None:  # /v1/models, for clients that probe
            self._json(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = Request("POST", self.path, dict(self.headers.items()), raw, time.time())
            reply = server._next_reply(req)
            body = req.body if isinstance(req.body, dict) else {}
            if reply.kind == "raw":
                self._send(reply.status, reply.body, reply.headers)
            elif reply.kind == "hang":
                server._stopping.wait(reply.seconds)
                self.close_connection = True
            elif reply.kind == "cut":
                self._stream(body, reply, cut=True)
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                self._json(200, _completion(body, reply, next(server._ids)))

        # -------------------------------------------------------------- writing

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

        def _stream(self, body: dict, reply: Reply, cut: bool = False) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunks = _stream_chunks(body, reply, next(server._ids))
            if cut:
                for chunk in chunks[: max(1, reply.after_chunks)]:
                    self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                self.close_connection = True
                try:  # drop the connection without the terminating zero-length chunk
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            for chunk in chunks:
                self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    return Handler


# ---------------------------------------------------------------------- response bodies


def _usage(body: dict, reply: Reply) -> dict | None:
    if reply.usage is not None:
        if not reply.usage:
            return None
        u = dict(reply.usage)
        u.setdefault("total_tokens", u.get("prompt_tokens", 0) + u.get("completion_tokens", 0))
        return u
    prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
    out_text = (reply.content or "") + "".join(json.dumps(a) if not isinstance(a, str) else a for _, a, _ in reply.calls)
    completion = max(1, len(out_text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _calls(reply: Reply) -> list[dict]:
    out = []
    for i, (name, args, call_id) in enumerate(reply.calls):
        arguments = args if isinstance(args, str) else json.dumps(args)
        out.append({"id": call_id or f"call_{i}_{name}", "type": "function", "function": {"name": name, "arguments": arguments}})
    return out


def _finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.calls else "stop")


def _completion(body: dict, reply: Reply, n: int) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if reply.calls:
        message["tool_calls"] = _calls(reply)
    out = {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": 1_700_000_000 + n,
        "model": reply.model or body.get("model", "test-model"),
        "system_fingerprint": "fp_test",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(reply)}],
    }
    usage = _usage(body, reply)
    if usage is not None:
        out["usage"] = usage
    return out


def _stream_chunks(body: dict, reply: Reply, n: int) -> list[dict]:
    head = {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000 + n,
        "model": reply.model or body.get("model", "test-model"),
        "system_fingerprint": "fp_test",
    }

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    for piece in _pieces(reply.reasoning):
        out.append(chunk({"reasoning_content": piece}))
    for piece in _pieces(reply.content):
        out.append(chunk({"content": piece}))
    for i, call in enumerate(_calls(reply)):
        fn = call["function"]
        out.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                          "function": {"name": fn["name"], "arguments": ""}}]}))
        for piece in _pieces(fn["arguments"]):
            out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    out.append(chunk({}, _finish(reply)))
    asked = bool((body.get("stream_options") or {}).get("include_usage"))
    usage = _usage(body, reply)
    if usage is not None and (reply.stream_usage == "always" or (reply.stream_usage == "auto" and asked)):
        out.append({**head, "choices": [], "usage": usage})
    return out


def _pieces(text: str | None, size: int = 8) -> list[str]:
    if not text:
        return []
    return [text[i : i + size] for i in range(0, len(text), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description="A local OpenAI-compatible server that echoes the last user message.")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    server = OpenAIServer(port=args.port, default=echo).start()
    # first line: the address alone, for a parent process that started this one
    print(server.base_url, flush=True)
    print("litellm: model='openai/<any>', api_base=<that>, api_key='sk-test'; Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
