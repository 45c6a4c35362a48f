"""Which conversation a request belongs to, without the client's help.

Clients send the whole history each time and no session id. A conversation is named by how it
starts: its system prompt, its first user message and its tools (a hash of them, `cache_control`
markers left out, since clients move them), or by the `x-contextkit-conversation` header when the
client sends one. Every replica computes the same key from the same request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

MARK = "cache_control"


def unmarked(obj: Any) -> Any:
    """`obj` without cache_control keys at any depth (the same object when it holds none)."""
    if isinstance(obj, Mapping):
        if MARK not in obj and not any(isinstance(v, (Mapping, list)) for v in obj.values()):
            return obj
        out = {k: unmarked(v) for k, v in obj.items() if k != MARK}
        return obj if len(out) == len(obj) and all(out[k] is obj[k] for k in out) else out
    if isinstance(obj, list):
        items = [unmarked(v) for v in obj]
        return obj if all(a is b for a, b in zip(items, obj)) else items
    return obj


def unmarked_messages(messages: list[Any]) -> list[Any]:
    """OpenAI-shaped messages without cache_control (on a message or on a content part, where
    clients put it): the same list when there is none, else only the marked messages copied."""
    out = None
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            continue
        c = m.get("content")
        parts = isinstance(c, list) and any(isinstance(p, Mapping) and MARK in p for p in c)
        if MARK in m or parts:
            if out is None:
                out = list(messages)
            new = {k: v for k, v in m.items() if k != MARK}
            if parts and isinstance(c, list):
                new["content"] = [unmarked(p) if isinstance(p, Mapping) else p for p in c]
            out[i] = new
    return messages if out is None else out


def conversation_key(route: str, start: list[Any], tools: Any) -> str:
    """A stable run id for a conversation: `route` ("chat" or "messages"), the messages up to and
    including its first user message (the Anthropic system field first), and its tools."""
    text = json.dumps([route, unmarked(start), unmarked(tools) or []], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)
    return "conv-" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def header_key(headers: Any, name: str) -> str | None:
    """The client's own conversation id from its request headers (case-insensitive), if it sent one."""
    if not isinstance(headers, Mapping):
        return None
    want = name.lower()
    for k, v in headers.items():
        if isinstance(k, str) and k.lower() == want and isinstance(v, str) and v.strip():
            return v.strip()[:200]
    return None


def chat_start(messages: list[Any]) -> list[Any]:
    """An OpenAI-shaped conversation's start: everything up to its first user message."""
    for i, m in enumerate(messages):
        if isinstance(m, Mapping) and m.get("role") == "user":
            return messages[: i + 1]
    return messages[:1]
