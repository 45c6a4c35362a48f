"""The two request shapes the proxy serves, each as one object: `/v1/chat/completions` (OpenAI chat)
and `/v1/messages` (Anthropic Messages). A shape knows how the engine sees its messages and how
the edits go back, its conversation key, its restore tool, the restore calls in a response and
the follow-up that answers them, and how to read a response for the trace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import anthropic
from ..messages import content_text
from ..restore import RESTORE_TOOL_NAME, requested_handle, restore_tool
from .keys import MARK, chat_start, conversation_key, unmarked_messages

# Keys of the proxy's request dict that are the proxy's own, never a model parameter.
_INTERNAL = frozenset({"messages", "model", "tools", "stream", "system", "litellm_call_id", "litellm_logging_obj",
                       "proxy_server_request", "secret_fields"})
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length", "pause_turn": "stop"}


@dataclass
class RestoreCall:
    """One restore_context call the model made: its id and the handle asked for."""

    id: str | None
    handle: str | None
    arguments: Any = None


@dataclass
class Outcome:
    """What the client got, in OpenAI's shape, for `Session.record` (one step per client request)."""

    model: str | None = None
    text: str = ""
    reasoning: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)

    def add_usage(self, **counts: int | None) -> None:
        for k, v in counts.items():
            if v:
                self.usage[k] = self.usage.get(k, 0) + int(v)

    def response(self) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.reasoning:
            message["reasoning_content"] = self.reasoning
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        out: dict[str, Any] = {"id": "contextkit-proxy", "object": "chat.completion", "model": self.model or "",
                               "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}]}
        if self.usage:
            u = dict(self.usage)
            u.setdefault("prompt_tokens", 0)
            u.setdefault("completion_tokens", 0)
            u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
            out["usage"] = u
        return out


def forwarded(data: Mapping) -> dict:
    """The request's model parameters as the client (and the proxy's own hooks) set them, for a follow-up."""
    out = {}
    for k, v in data.items():
        if k in _INTERNAL or k.startswith("_"):
            continue
        out[k] = dict(v) if k in ("metadata", "litellm_metadata") and isinstance(v, Mapping) else v
    return out


# ---------------------------------------------------------------------------- OpenAI chat


class Chat:
    """`/v1/chat/completions`: the engine's own shape; only cache_control markers are hidden from it."""

    route = "chat"

    def key(self, data: Mapping) -> str:
        return conversation_key(self.route, chat_start(data["messages"]), data.get("tools"))

    def view(self, data: Mapping) -> Any:
        return unmarked_messages(data["messages"])

    def back(self, data: Mapping, view: Any, out: list[dict], candidates: set[int] | None) -> tuple[list[dict], str | None]:
        """The caller's list with the engine's edits in place (only there: the engine may hand back
        equal copies of the rest), each edit with the caller's cache markers back on."""
        messages = data["messages"]
        sent = list(messages)
        for i in range(len(out)) if candidates is None else sorted(j for j in candidates if j < len(out)):
            v, o = view[i], out[i]
            if o is not v and o != v:
                sent[i] = dict(o) if view is messages else _remarked(messages[i], v, o)
        return sent, None

    def splice(self, sent: list[dict], view: Any, compactions: list) -> list[dict]:
        """`sent` with each summary in place of the messages it stands for (the engine's indices are
        the client's here)."""
        return _splice(sent, [(c.start, c.end, dict(c.message)) for c in compactions])

    def tools(self, tools: Any) -> list | None:
        """The client's tools plus restore_context; None when there are none (nothing to prune) or
        the client has a restore_context of its own."""
        if not isinstance(tools, list) or not tools:
            return None
        if any(isinstance(t, Mapping) and (t.get("function") or {}).get("name") == RESTORE_TOOL_NAME for t in tools):
            return None
        return [*tools, restore_tool()]

    def restore_calls(self, response: Any) -> list[RestoreCall]:
        msg = _chat_message(response)
        out = []
        for tc in getattr(msg, "tool_calls", None) or ():
            fn = getattr(tc, "function", None)
            if fn is not None and getattr(fn, "name", None) == RESTORE_TOOL_NAME:
                out.append(RestoreCall(tc.id, requested_handle(fn.arguments), fn.arguments))
        return out

    def followup(self, response: Any, calls: list[RestoreCall], answers: list[Any]) -> list[dict]:
        msg = _chat_message(response)
        assistant: dict[str, Any] = {"role": "assistant", "content": getattr(msg, "content", None)}
        for k in ("reasoning_content", "thinking_blocks"):
            v = getattr(msg, k, None)
            if v:
                assistant[k] = v if k == "reasoning_content" else [dict(b) for b in v]
        return chat_followup(assistant, calls, answers)

    async def call(self, router: Any, data: Mapping, messages: list, tools: list, stream: bool) -> Any:
        return await router.acompletion(model=data["model"], messages=messages, tools=tools, stream=stream, **forwarded(data))

    def merged(self, earlier: list[Any], final: Any) -> Any:
        """The final response with the text of the rounds before it first, and every round's usage."""
        prefix = "".join(getattr(_chat_message(r), "content", None) or "" for r in earlier)
        msg = _chat_message(final)
        if prefix and msg is not None:
            msg.content = prefix + (msg.content or "")
        usage = getattr(final, "usage", None)
        if usage is not None:
            for r in earlier:
                u = getattr(r, "usage", None)
                for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
                    if getattr(u, k, None):
                        setattr(usage, k, (getattr(usage, k, 0) or 0) + getattr(u, k))
        return final

    def answer(self, original: Mapping) -> Any:
        return original.get("content")


def _splice(sent: list[dict], spans: list[tuple[int, int, dict]]) -> list[dict]:
    """`sent` with each (start, end, message) span replaced by its message."""
    if not spans:
        return sent
    out: list[dict] = []
    at = 0
    for start, end, message in sorted(spans, key=lambda s: s[0]):
        out.extend(sent[at:start])
        out.append(message)
        at = end
    out.extend(sent[at:])
    return out


def chat_followup(assistant: dict, calls: list[RestoreCall], answers: list[Any]) -> list[dict]:
    assistant = {**assistant, "tool_calls": [
        {"id": c.id, "type": "function", "function": {"name": RESTORE_TOOL_NAME, "arguments": _args_text(c.arguments)}}
        for c in calls]}
    return [assistant, *({"role": "tool", "tool_call_id": c.id, "content": a} for c, a in zip(calls, answers))]


def _args_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments or {})


def _chat_message(response: Any) -> Any:
    choices = getattr(response, "choices", None) or []
    return getattr(choices[0], "message", None) if choices else None


def _remarked(orig: Mapping, v: Mapping, o: Mapping) -> dict:
    """An edited message with the caller's cache_control markers back where they were."""
    new = dict(o)
    if MARK in orig:
        new[MARK] = orig[MARK]
    for k in ("content", "tool_calls"):
        if k in new and new[k] == v.get(k):
            new[k] = orig.get(k)
    c, before = new.get("content"), orig.get("content")
    if isinstance(c, str) and isinstance(before, list) and before and isinstance(before[-1], Mapping) and MARK in before[-1]:
        new["content"] = [{"type": "text", "text": c, MARK: before[-1][MARK]}]
    return new


# ---------------------------------------------------------------------------- Anthropic Messages


class Messages:
    """`/v1/messages`: the engine sees it through contextkit.anthropic's view."""

    route = "messages"

    def key(self, data: Mapping) -> str:
        msgs = data["messages"]
        start = [data.get("system"), msgs[0] if msgs else None]
        return conversation_key(self.route, start, data.get("tools"))

    def view(self, data: Mapping) -> Any:
        return anthropic.to_engine(data["messages"], data.get("system"))

    def back(self, data: Mapping, view: Any, out: list[dict], candidates: set[int] | None) -> tuple[list[dict], str | None]:
        messages = data["messages"]
        sent = anthropic.from_engine(messages, view, out, candidates)
        p = anthropic.problem(sent, messages) if sent is not messages else None
        if p is not None:
            return messages, f"the request would break Anthropic's rules ({p}); sent unchanged"
        return sent, None

    def splice(self, sent: list[dict], view: Any, compactions: list) -> list[dict]:
        """`sent` (Anthropic messages) with each summary, as a user text block, in place of the
        Anthropic messages its engine messages came from. A summary whose ends fall inside one
        Anthropic message (a result and a text in one user turn) is left out: nothing is lost, it
        just saves nothing this time."""
        spans = []
        for c in compactions:
            first = view.origin[c.start][0]
            end = view.origin[c.end][0] if c.end < len(view.origin) else len(sent)
            whole = (view.origin[c.start][1] is None and (c.end >= len(view.origin) or view.origin[c.end][1] is None)
                     and all(view.origin[j][0] < end for j in range(c.start, c.end)))
            if first >= 0 and whole and end > first:
                text = content_text(c.message.get("content"))
                spans.append((first, end, {"role": "user", "content": [{"type": "text", "text": text}]}))
        return _splice(sent, spans)

    def tools(self, tools: Any) -> list | None:
        if not isinstance(tools, list) or not tools:
            return None
        if any(isinstance(t, Mapping) and t.get("name") == RESTORE_TOOL_NAME for t in tools):
            return None
        return [*tools, anthropic.restore_tool()]

    def restore_calls(self, response: Any) -> list[RestoreCall]:
        return [RestoreCall(b.get("id"), requested_handle(b.get("input")), b.get("input"))
                for b in _blocks(response) if b.get("type") == "tool_use" and b.get("name") == RESTORE_TOOL_NAME]

    def followup(self, response: Any, calls: list[RestoreCall], answers: list[Any]) -> list[dict]:
        return messages_followup(_blocks(response), calls, answers)

    async def call(self, router: Any, data: Mapping, messages: list, tools: list, stream: bool) -> Any:
        extra = {"system": data["system"]} if data.get("system") is not None else {}
        return await router.aanthropic_messages(model=data["model"], messages=messages, tools=tools, stream=stream,
                                                **extra, **forwarded(data))

    def merged(self, earlier: list[Any], final: Any) -> Any:
        if not isinstance(final, dict):
            return final
        prefix = [b for r in earlier for b in kept_blocks(_blocks(r)) if b.get("type") != "tool_use"]
        out = {**final, "content": prefix + list(final.get("content") or [])}
        usage = dict(final.get("usage") or {})
        for r in earlier:
            for k, v in ((r.get("usage") or {}) if isinstance(r, dict) else {}).items():
                if isinstance(v, int) and isinstance(usage.get(k, 0), int):
                    usage[k] = usage.get(k, 0) + v
        if usage:
            out["usage"] = usage
        return out

    def answer(self, original: Mapping) -> Any:
        c = original.get("content")
        return c if c not in (None, "") else "(empty result)"

    def outcome(self, response: Any, model: str | None) -> Outcome:
        o = Outcome(model=(response.get("model") if isinstance(response, dict) else None) or model)
        add_blocks(o, _blocks(response))
        stop = response.get("stop_reason") if isinstance(response, dict) else None
        o.finish_reason = _FINISH.get(stop, stop) if stop else None
        add_anthropic_usage(o, (response.get("usage") if isinstance(response, dict) else None) or {})
        return o


def kept_blocks(blocks: list[dict]) -> list[dict]:
    """What of an answer that called restore_context goes on: everything up to its last restore
    call, without the other tools' calls (the model makes them again once it has the content)."""
    last = max((i for i, b in enumerate(blocks) if b.get("type") == "tool_use" and b.get("name") == RESTORE_TOOL_NAME), default=-1)
    return [b for b in blocks[: last + 1] if b.get("type") != "tool_use" or b.get("name") == RESTORE_TOOL_NAME]


def messages_followup(blocks: list[dict], calls: list[RestoreCall], answers: list[Any]) -> list[dict]:
    content = [b for b in kept_blocks(blocks) if not (b.get("type") == "text" and not (b.get("text") or "").strip())]
    results = [{"type": "tool_result", "tool_use_id": c.id, "content": a} for c, a in zip(calls, answers)]
    return [{"role": "assistant", "content": content}, {"role": "user", "content": results}]


def add_blocks(o: Outcome, blocks: list[dict]) -> None:
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            o.text += b.get("text") or ""
        elif kind == "thinking":
            o.reasoning += b.get("thinking") or ""
        elif kind == "tool_use" and b.get("name") != RESTORE_TOOL_NAME:
            o.tool_calls.append({"id": b.get("id"), "type": "function",
                                 "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})}})


def add_anthropic_usage(o: Outcome, usage: Mapping) -> None:
    read, write = usage.get("cache_read_input_tokens") or 0, usage.get("cache_creation_input_tokens") or 0
    o.add_usage(prompt_tokens=(usage.get("input_tokens") or 0) + read + write, completion_tokens=usage.get("output_tokens"),
                cache_read_input_tokens=read, cache_creation_input_tokens=write)


def _blocks(response: Any) -> list[dict]:
    content = response.get("content") if isinstance(response, Mapping) else getattr(response, "content", None)
    return [b if isinstance(b, dict) else dict(b) for b in content or () if isinstance(b, Mapping)]


def answer_text(content: Any) -> str:
    return content if isinstance(content, str) else content_text(content)


SHAPES: dict[str, Any] = {"acompletion": Chat(), "completion": Chat(), "anthropic_messages": Messages()}
