"""The litellm proxy under test and what it talks to: a recording fake model provider on 127.0.0.1
that speaks both OpenAI chat (`POST /v1/chat/completions`) and Anthropic Messages (`POST /v1/messages`),
streamed or not, and `start_proxies`, real `litellm --config` processes in front of it (used by
tests/test_proxy.py and benchmarks/proxy_overhead.py). The upstream keeps every request's raw bytes,
so a test can compare what two proxy replicas sent byte for byte.

    up = Upstream().start()        # OpenAI: api_base=up.openai_base; Anthropic: api_base=up.anthropic_base
    up.script(Reply.tool_call("restore_context", {"handle": "ctx4"}), Reply.text("done"))
    up.requests[-1].body["messages"]
    up.stop()

Replies are tests/openai_server.py's `Reply` (text, tool calls, reasoning), rendered in the shape
of the route asked: for /v1/messages, reasoning becomes a signed `thinking` block and tool calls
`tool_use` blocks; a stream is Anthropic's SSE events (message_start ... message_stop).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from openai_server import OpenAIServer, Reply, Request, _completion, _stream_chunks

__all__ = ["MASTER_KEY", "Proxy", "Reply", "Request", "Upstream", "anthropic_message", "launch", "start_proxies", "wait_healthy"]

MASTER_KEY = "sk-contextkit-test-master"  # litellm 1.106.2 refuses to start without LITELLM_MASTER_KEY

class Upstream(OpenAIServer):
    """The scripted test server of tests/openai_server.py, answering both routes."""

    @property
    def anthropic_base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base(self) -> str:
        return self.base_url

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)


def _handler_for(up: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall between them

        def log_message(self, *args: Any) -> None:
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except (TimeoutError, ConnectionError):
                pass

        def do_GET(self) -> None:
            self._send(200, b'{"object": "list", "data": []}', "application/json")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = Request("POST", self.path, dict(self.headers.items()), raw, time.time())
            reply = up._next_reply(req)
            body = req.body if isinstance(req.body, dict) else {}
            n = next(up._ids)
            if reply.kind == "raw":
                self._send(reply.status, reply.body, reply.headers.get("Content-Type", "application/json"))
                return
            anthropic = self.path.rstrip("/").endswith("/messages")
            if not body.get("stream"):
                obj = anthropic_message(body, reply, n) if anthropic else _completion(body, reply, n)
                self._send(200, json.dumps(obj).encode(), "application/json")
                return
            if anthropic:
                events = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in _anthropic_events(body, reply, n)]
            else:
                events = [f"data: {json.dumps(c)}\n\n".encode() for c in _stream_chunks(body, reply, n)] + [b"data: [DONE]\n\n"]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for data in events:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _send(self, status: int, data: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


# ---------------------------------------------------------------------- Anthropic bodies


def _blocks(reply: Reply) -> list[dict]:
    out: list[dict] = []
    if reply.reasoning is not None:
        out.append({"type": "thinking", "thinking": reply.reasoning, "signature": f"sig-{len(reply.reasoning)}"})
    if reply.content:
        out.append({"type": "text", "text": reply.content})
    for i, (name, args, call_id) in enumerate(reply.calls):
        out.append({"type": "tool_use", "id": call_id or f"toolu_{i}_{name}", "name": name,
                    "input": json.loads(args) if isinstance(args, str) else args})
    return out


def _anthropic_usage(body: dict, reply: Reply) -> dict:
    if reply.usage:
        return {"input_tokens": reply.usage.get("prompt_tokens", 1), "output_tokens": reply.usage.get("completion_tokens", 1)}
    prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
    return {"input_tokens": prompt, "output_tokens": max(1, len(json.dumps(_blocks(reply))) // 4)}


def anthropic_message(body: dict, reply: Reply, n: int = 1) -> dict:
    """The non-streamed Anthropic Messages response for `reply`."""
    return {
        "id": f"msg_{n:04d}", "type": "message", "role": "assistant", "model": reply.model or body.get("model", "claude-test"),
        "content": _blocks(reply), "stop_reason": "tool_use" if reply.calls else "end_turn", "stop_sequence": None,
        "usage": _anthropic_usage(body, reply),
    }


def _anthropic_events(body: dict, reply: Reply, n: int) -> list[dict]:
    msg = anthropic_message(body, reply, n)
    usage = msg["usage"]
    out: list[dict] = [{"type": "message_start", "message": {**msg, "content": [], "stop_reason": None,
                                                             "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}}]
    for i, block in enumerate(msg["content"]):
        kind = block["type"]
        if kind == "text":
            out.append({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})
            out += [{"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": p}} for p in _pieces(block["text"])]
        elif kind == "thinking":
            out.append({"type": "content_block_start", "index": i, "content_block": {"type": "thinking", "thinking": ""}})
            out += [{"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": p}}
                    for p in _pieces(block["thinking"])]
            out.append({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": block["signature"]}})
        else:
            out.append({"type": "content_block_start", "index": i,
                        "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            out += [{"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": p}}
                    for p in _pieces(json.dumps(block["input"]))]
        out.append({"type": "content_block_stop", "index": i})
    out.append({"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]}})
    out.append({"type": "message_stop"})
    return out


def _pieces(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# ---------------------------------------------------------------------- the proxy processes


@dataclass
class Proxy:
    """One `litellm --config` process on 127.0.0.1."""

    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, up: Upstream, callback: str | None = "contextkit.proxy.handler") -> Path:
    """A proxy config: `gpt-test` (OpenAI chat) and `claude-test` (Anthropic messages) on the fake upstream."""
    lines = [
        "model_list:",
        "  - model_name: gpt-test",
        f"    litellm_params: {{model: openai/gpt-4o, api_base: '{up.openai_base}', api_key: sk-upstream}}",
        "  - model_name: claude-test",
        f"    litellm_params: {{model: anthropic/claude-sonnet-4-5, api_base: '{up.anthropic_base}', api_key: sk-ant-upstream}}",
    ]
    if callback:
        lines += ["litellm_settings:", f"  callbacks: {callback}"]
    path = folder / ("config.yaml" if callback else "config-plain.yaml")
    path.write_text("\n".join(lines) + "\n")
    return path


def launch(config: Path, env: dict[str, str] | None = None) -> Proxy:
    """Start one proxy process (not yet healthy: see `wait_healthy`)."""
    exe = shutil.which("litellm", path=os.path.dirname(sys.executable)) or shutil.which("litellm")
    if exe is None:
        raise RuntimeError("the litellm proxy is not installed: pip install -e '.[proxy]'")
    full = {**os.environ, "LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "PYTHONUNBUFFERED": "1", **(env or {})}
    port = _free_port()
    log = config.parent / f"proxy-{port}.log"
    proc = subprocess.Popen([exe, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                            env=full, cwd=config.parent, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return Proxy(port, proc, log)


def wait_healthy(proxies: list[Proxy], timeout: float = 120.0) -> list[Proxy]:
    """Wait until each proxy answers /health/liveliness (~5-15 s); stop them all if one does not."""
    deadline = time.time() + timeout
    for p in proxies:
        while True:
            if p.proc.poll() is not None:
                stop_proxies(proxies)
                raise RuntimeError(f"proxy on port {p.port} exited ({p.proc.returncode}):\n{p.tail()}")
            try:
                with urllib.request.urlopen(p.base_url + "/health/liveliness", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                stop_proxies(proxies)
                raise RuntimeError(f"proxy on port {p.port} not healthy after {timeout:.0f} s:\n{p.tail()}")
            time.sleep(0.25)
    return proxies


def start_proxies(config: Path, n: int, env: dict[str, str] | None = None, timeout: float = 120.0) -> list[Proxy]:
    """Start `n` proxies with `config` at once and wait until each is healthy."""
    return wait_healthy([launch(config, env) for _ in range(n)], timeout)


def stop_proxies(proxies: list[Proxy], wait: float = 15.0) -> None:
    """SIGTERM (the proxy flushes its traces on the way out), then kill what does not stop."""
    for p in proxies:
        if p.proc.poll() is None:
            p.proc.terminate()
    for p in proxies:
        try:
            p.proc.wait(wait)
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait(5)
