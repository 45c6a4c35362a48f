"""Streams through the gateway: passed to the client as they come, unless the model calls
restore_context.

Every chunk goes out unchanged (Anthropic SSE events byte for byte, at event boundaries) until a
chunk opens a restore_context call. From there on the rest of the model's answer is held back; when
it ends, the proxy answers the restore calls and streams the model's continuation to the client as
the same answer (an Anthropic follow-up without its `message_start`, its blocks numbered after
those already sent). If the client already got another tool's call before the restore call, or
the restore rounds are used up, the held chunks go out without the restore calls instead. An
internal error while reading a chunk sends that chunk and everything after it unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from ..restore import RESTORE_TOOL_NAME, requested_handle
from .shapes import Outcome, RestoreCall, add_anthropic_usage, add_blocks, chat_followup, messages_followup

log = logging.getLogger("contextkit.proxy")


class _Relay:
    """Shared by both shapes: the rounds (the answer, then one follow-up per restore round)."""

    def __init__(self, gateway: Any, call: Any, upstream: Any):
        self.gateway, self.call, self.upstream = gateway, call, upstream
        self.outcome = Outcome(model=call.model)
        self.broken = False  # an internal error: everything passes unchanged from then on
        self.rounds = 0

    def _more(self, restores: bool, other_sent: bool) -> bool:
        return restores and not other_sent and self.rounds < self.gateway.settings.max_restores

    async def _followup(self, messages: list, exchange: list[dict]) -> tuple[Any, list]:
        """The model's continuation once it has the restored content (a stream), and the messages it got."""
        messages = messages + exchange
        self.rounds += 1
        c = self.call
        return await c.shape.call(self.gateway.upstream_router(), c.data, messages, c.tools, True), messages

    def _failed(self, e: Exception) -> None:
        self.broken = True
        self.gateway.note_error(f"stream: {type(e).__name__}: {e}")


# ---------------------------------------------------------------------------- OpenAI chat chunks


class ChatRelay(_Relay):
    async def __aiter__(self) -> AsyncIterator[Any]:
        source, messages = self.upstream, list(self.call.sent)
        while True:
            r = _ChatRound()
            async for chunk in source:
                self._usage(chunk)
                if self.broken:
                    out = [chunk]
                else:
                    try:
                        out = r.feed(chunk)
                    except Exception as e:  # noqa: BLE001 - fail-open: what was held, then this chunk
                        self._failed(e)
                        out, r.held = [*r.held, chunk], []
                self._content(out)
                for c in out:
                    yield c
            if self.broken:
                return
            if self._more(bool(r.restores), r.other_sent):
                calls = r.restore_calls()
                answers = self.gateway.answer_restores(self.call, calls)
                source, messages = await self._followup(messages, chat_followup(r.assistant(), calls, answers))
                continue
            out = r.flush()
            self._content(out)
            for c in out:
                yield c
            return

    def _usage(self, chunk: Any) -> None:
        u = getattr(chunk, "usage", None)
        if u is not None:
            cached = getattr(getattr(u, "prompt_tokens_details", None), "cached_tokens", None)
            self.outcome.add_usage(prompt_tokens=getattr(u, "prompt_tokens", 0), completion_tokens=getattr(u, "completion_tokens", 0),
                                   cache_read_input_tokens=cached)

    def _content(self, sent: list) -> None:
        """The text, reasoning and calls of what the client got (the step's recorded output)."""
        try:
            for c in sent:
                for choice in getattr(c, "choices", None) or ():
                    d = choice.delta
                    self.outcome.text += getattr(d, "content", None) or ""
                    self.outcome.reasoning += getattr(d, "reasoning_content", None) or ""
                    for tc in getattr(d, "tool_calls", None) or ():
                        _merge_call(self.outcome.tool_calls, tc)
                    if choice.finish_reason:
                        self.outcome.finish_reason = choice.finish_reason
        except Exception as e:  # noqa: BLE001 - bookkeeping never breaks the stream
            self.gateway.note_error(f"stream record: {type(e).__name__}: {e}")


def _merge_call(calls: list[dict], tc: Any) -> None:
    idx = getattr(tc, "index", 0) or 0
    while len(calls) <= idx:
        calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
    fn = getattr(tc, "function", None)
    if getattr(tc, "id", None):
        calls[idx]["id"] = tc.id
    name = getattr(fn, "name", None)
    if name:
        calls[idx]["function"]["name"] = name
    calls[idx]["function"]["arguments"] += getattr(fn, "arguments", None) or ""


class _ChatRound:
    def __init__(self) -> None:
        self.kinds: dict[int, str] = {}  # tool call index -> "restore" | "other"
        self.restores: dict[int, dict] = {}
        self.other_sent = False
        self.holding = False
        self.held: list = []
        self.text = ""
        self.reasoning = ""
        self.signature: str | None = None  # an Anthropic model's thinking through the chat route

    def feed(self, chunk: Any) -> list:
        choices = getattr(chunk, "choices", None) or []
        delta = choices[0].delta if choices else None
        for tc in (getattr(delta, "tool_calls", None) or ()) if delta is not None else ():
            idx = tc.index or 0
            fn = tc.function
            if idx not in self.kinds:
                self.kinds[idx] = "restore" if getattr(fn, "name", None) == RESTORE_TOOL_NAME else "other"
            if self.kinds[idx] == "restore":
                rc = self.restores.setdefault(idx, {"id": None, "args": ""})
                rc["id"] = tc.id or rc["id"]
                rc["args"] += getattr(fn, "arguments", None) or ""
                self.holding = True
            elif not self.holding:
                self.other_sent = True
        if self.holding:
            self.held.append(chunk)
            return []
        if delta is not None:
            self.text += getattr(delta, "content", None) or ""
            self.reasoning += getattr(delta, "reasoning_content", None) or ""
            for b in getattr(delta, "thinking_blocks", None) or ():
                sig = b.get("signature") if isinstance(b, dict) else getattr(b, "signature", None)
                self.signature = sig or self.signature
        return [chunk]

    def assistant(self) -> dict:
        """The answer so far, as the assistant message of the follow-up."""
        m: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.reasoning:
            m["reasoning_content"] = self.reasoning
            if self.signature:
                m["thinking_blocks"] = [{"type": "thinking", "thinking": self.reasoning, "signature": self.signature}]
        return m

    def restore_calls(self) -> list[RestoreCall]:
        return [RestoreCall(rc["id"], requested_handle(rc["args"]), rc["args"]) for _, rc in sorted(self.restores.items())]

    def flush(self) -> list:
        """The held chunks without the restore calls (other calls renumbered to close the gap)."""
        others = sorted(i for i, k in self.kinds.items() if k == "other")
        renumber = {old: new for new, old in enumerate(others)}
        out = []
        for chunk in self.held:
            choices = getattr(chunk, "choices", None) or []
            if not choices:
                out.append(chunk)
                continue
            c = chunk.model_copy(deep=True)
            d = c.choices[0].delta
            kept = []
            for tc in d.tool_calls or ():
                if self.kinds.get(tc.index or 0) == "other":
                    tc.index = renumber[tc.index or 0]
                    kept.append(tc)
            d.tool_calls = kept or None
            if c.choices[0].finish_reason == "tool_calls" and not others:
                c.choices[0].finish_reason = "stop"
            if kept or d.content or c.choices[0].finish_reason or getattr(c, "usage", None) is not None:
                out.append(c)
        self.held = []
        return out


# ---------------------------------------------------------------------------- Anthropic SSE events

_BOUNDARY = re.compile(rb"\r?\n\r?\n")


class _Events:
    """Anthropic SSE bytes -> complete events (raw bytes, type, data); an incomplete one waits."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[bytes, str | None, dict | None]]:
        self.buf += data
        out: list[tuple[bytes, str | None, dict | None]] = []
        while True:
            m = _BOUNDARY.search(self.buf)
            if m is None:
                return out
            raw, self.buf = self.buf[: m.end()], self.buf[m.end() :]
            out.append((raw, *_parse(raw)))

    def rest(self) -> bytes:
        raw, self.buf = self.buf, b""
        return raw


def _parse(raw: bytes) -> tuple[str | None, dict | None]:
    """(event type, data) of one SSE event; (None, None) for what is not JSON (it passes as it came)."""
    kind, data = None, []
    try:
        for line in raw.decode("utf-8").splitlines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        obj = json.loads("\n".join(data)) if data else None
    except ValueError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    return kind or obj.get("type"), obj


def _event(data: dict) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class MessagesRelay(_Relay):
    def __init__(self, gateway: Any, call: Any, upstream: Any):
        super().__init__(gateway, call, upstream)
        self.sent_blocks = 0  # content blocks the client has seen start (a follow-up's are numbered after them)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        source, messages = self.upstream, list(self.call.sent)
        while True:
            r = _MessagesRound(offset=self.sent_blocks, first=self.rounds == 0)
            events = _Events()
            async for item in source:
                if self.broken:
                    yield item
                    continue
                chunk = self._feed(r, events, item)
                if r.ended and not r.holding and not self.broken:
                    self._account(r)
                    self.gateway.finish(self.call, outcome=self.outcome)  # before the client can send its next turn
                if chunk:
                    yield chunk
            if self.broken:
                return
            self.sent_blocks = r.offset + r.sent
            if self._more(bool(r.restores), r.other_sent):
                self._account(r, final=False)
                calls = r.restore_calls()
                answers = self.gateway.answer_restores(self.call, calls)
                source, messages = await self._followup(messages, messages_followup(r.blocks_list(), calls, answers))
                continue
            if r.holding:
                self._account(r)
                for raw in r.flush():
                    yield raw
            return

    def _feed(self, r: _MessagesRound, events: _Events, item: bytes) -> bytes:
        """The bytes to send for one upstream item; on an internal error, every byte not yet sent."""
        pending = events.feed(item)
        sent: list[bytes] = []
        try:
            while pending:
                raw, kind, data = pending[0]
                sent.append(r.feed(raw, kind, data))
                pending.pop(0)
            return b"".join(sent)
        except Exception as e:  # noqa: BLE001 - fail-open
            self._failed(e)
            return b"".join(sent) + b"".join(r.held_raw()) + b"".join(raw for raw, _, _ in pending) + events.rest()

    def _account(self, r: _MessagesRound, final: bool = True) -> None:
        if r.accounted:
            return
        r.accounted = True
        add_blocks(self.outcome, [b for b in r.blocks_list() if not (b.get("type") == "tool_use" and b.get("name") == RESTORE_TOOL_NAME)])
        add_anthropic_usage(self.outcome, r.usage)
        if final and r.stop_reason:
            self.outcome.finish_reason = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}.get(r.stop_reason, r.stop_reason)


class _MessagesRound:
    """One upstream answer's events. `offset`: blocks already sent in earlier rounds."""

    def __init__(self, offset: int, first: bool):
        self.offset, self.first = offset, first
        self.blocks: dict[int, dict] = {}  # local index -> the block being built
        self.json: dict[int, str] = {}
        self.restore_idx: list[int] = []
        self.other_sent = False
        self.holding = False
        self.held: list[tuple[bytes, str | None, dict | None]] = []
        self.sent = 0  # blocks of this round the client saw start
        self.usage: dict[str, int] = {}
        self.stop_reason: str | None = None
        self.ended = False
        self.accounted = False

    def feed(self, raw: bytes, kind: str | None, data: dict | None) -> bytes:
        """The bytes to send now for one event (b"" while holding)."""
        if data is not None:
            self._read(kind, data)
        if not self.first and data is not None:  # a follow-up continues the message the client is reading
            if kind == "message_start":
                return b""
            if "index" in data and kind and kind.startswith("content_block"):
                raw = _event({**data, "index": data["index"] + self.offset})
        if kind == "content_block_start" and data is not None:
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use" and block.get("name") == RESTORE_TOOL_NAME:
                self.holding = True
            elif not self.holding:
                self.sent += 1
                self.other_sent = self.other_sent or block.get("type") == "tool_use"
        if self.holding and kind != "ping":
            self.held.append((raw, kind, data))
            return b""
        return raw

    def _read(self, kind: str | None, data: dict) -> None:
        if kind == "message_start":
            self.usage.update({k: v for k, v in ((data.get("message") or {}).get("usage") or {}).items() if isinstance(v, int)})
        elif kind == "content_block_start":
            i, block = data["index"], dict(data.get("content_block") or {})
            self.blocks[i] = block
            if block.get("type") == "tool_use" and block.get("name") == RESTORE_TOOL_NAME:
                self.restore_idx.append(i)
        elif kind == "content_block_delta":
            i, d = data["index"], data.get("delta") or {}
            b = self.blocks.setdefault(i, {"type": "text", "text": ""})
            t = d.get("type")
            if t == "text_delta":
                b["text"] = (b.get("text") or "") + d.get("text", "")
            elif t == "thinking_delta":
                b["thinking"] = (b.get("thinking") or "") + d.get("thinking", "")
            elif t == "signature_delta":
                b["signature"] = d.get("signature", "")
            elif t == "input_json_delta":
                self.json[i] = self.json.get(i, "") + d.get("partial_json", "")
        elif kind == "message_delta":
            self.stop_reason = (data.get("delta") or {}).get("stop_reason") or self.stop_reason
            out = (data.get("usage") or {}).get("output_tokens")
            if isinstance(out, int):
                self.usage["output_tokens"] = out
        elif kind == "message_stop":
            self.ended = True

    @property
    def restores(self) -> list[int]:
        return self.restore_idx

    def blocks_list(self) -> list[dict]:
        out = []
        for i in sorted(self.blocks):
            b = dict(self.blocks[i])
            if b.get("type") == "tool_use":
                b["input"] = json.loads(self.json[i]) if self.json.get(i) else (b.get("input") or {})
            out.append(b)
        return out

    def restore_calls(self) -> list[RestoreCall]:
        blocks = {i: b for i, b in zip(sorted(self.blocks), self.blocks_list())}
        return [RestoreCall(blocks[i].get("id"), requested_handle(blocks[i].get("input")), blocks[i].get("input")) for i in self.restore_idx]

    def held_raw(self) -> list[bytes]:
        raws, self.held = [raw for raw, _, _ in self.held], []
        return raws

    def flush(self) -> list[bytes]:
        """The held events without the restore blocks (later blocks renumbered to close the gap)."""
        gone = set(self.restore_idx)
        tools_left = self.other_sent or any(b.get("type") == "tool_use" for i, b in self.blocks.items() if i not in gone)
        out = []
        for raw, kind, data in self.held:
            if data is None:
                out.append(raw)
                continue
            if kind and kind.startswith("content_block"):
                local = data["index"]
                if local in gone:
                    continue
                shift = sum(1 for g in gone if g < local)
                out.append(_event({**data, "index": local + self.offset - shift}) if shift or not self.first else raw)
            elif kind == "message_delta" and (data.get("delta") or {}).get("stop_reason") == "tool_use" and not tools_left:
                out.append(_event({**data, "delta": {**data["delta"], "stop_reason": "end_turn"}}))
            else:
                out.append(raw)
        self.held = []
        return out
