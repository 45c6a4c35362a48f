"""Anthropic Messages requests through the engine: content blocks (`text`, `image`, `tool_use`,
`tool_result`, `thinking`, `redacted_thinking`, ...) and `system` as a top-level field.

The engine reads OpenAI-shaped messages, so `to_engine` builds a *view*: the system field becomes a
system message, each `tool_result` block a tool message (results first, as OpenAI requires), the
rest of a user message one user message, and an assistant message's `tool_use` blocks its
tool_calls and its thinking blocks `thinking_blocks`. `cache_control` markers are left out of the
view: clients move them from call to call, and the conversation must look the same to the engine
wherever they sit. `from_engine` carries the engine's edits back: only the blocks it changed are
rebuilt, so every message it did not edit goes back as the very object the caller sent (byte for
byte), and every other block and key of an edited message too (cache_control included).
`problem` checks Anthropic's rules on the result; `prepare` does all of it, fail-open.

    session = contextkit.Session()
    messages = contextkit.anthropic.prepare(session, body["messages"], system=body.get("system"))
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidMessagesError

log = logging.getLogger("contextkit")

THINKING_TYPES = ("thinking", "redacted_thinking")


@dataclass
class EngineView:
    """The OpenAI-shaped messages the engine reads, and where each one came from."""

    messages: list[dict]
    # per view message: (index of the Anthropic message, or -1 for `system`; block index of a tool_result, else None)
    origin: list[tuple[int, int | None]] = field(default_factory=list)


@dataclass
class Prepared:
    """What `prepare_request` made: the messages to send, and why the originals went instead (if they did)."""

    messages: list[dict]
    view: EngineView | None = None
    fallback: str | None = None


# ---------------------------------------------------------------------------- into the engine


def to_engine(messages: Any, system: Any = None) -> EngineView:
    """The engine's view of an Anthropic request. Raises InvalidMessagesError (naming
    `messages[i].content[k]`) for what no Anthropic API accepts."""
    if not isinstance(messages, list):
        raise InvalidMessagesError(f"expected a list of Anthropic messages, got {type(messages).__name__}")
    view = EngineView([])
    if system is not None:
        view.messages.append({"role": "system", "content": _system_content(system)})
        view.origin.append((-1, None))
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise InvalidMessagesError(f"expected a dict, got {type(m).__name__}", i)
        role = m.get("role")
        content = m.get("content")
        if role not in ("user", "assistant"):
            raise InvalidMessagesError(f"an Anthropic message's role is user or assistant, got {role!r}", i)
        if isinstance(content, str):
            view.messages.append({"role": role, "content": content})
            view.origin.append((i, None))
            continue
        if not isinstance(content, list):
            raise InvalidMessagesError(f"content must be a string or a list of blocks, got {type(content).__name__}", i)
        for k, b in enumerate(content):
            if not isinstance(b, Mapping) or not isinstance(b.get("type"), str):
                raise InvalidMessagesError(f"content[{k}] is not a block with a 'type'", i)
        if role == "assistant":
            view.messages.append(_assistant_view(content, i))
            view.origin.append((i, None))
            continue
        rest = []
        for k, b in enumerate(content):
            if b["type"] == "tool_result":
                tid = b.get("tool_use_id")
                if not isinstance(tid, str) or not tid:
                    raise InvalidMessagesError(f"content[{k}] is a tool_result without a tool_use_id", i)
                view.messages.append({"role": "tool", "tool_call_id": tid, "content": _result_content(b.get("content"), i, k)})
                view.origin.append((i, k))
            else:
                rest.append(_unmarked(b))
        if rest:
            view.messages.append({"role": "user", "content": rest})
            view.origin.append((i, None))
    return view


def _system_content(system: Any) -> Any:
    if isinstance(system, str):
        return system
    if isinstance(system, list) and all(isinstance(b, Mapping) and isinstance(b.get("text"), str) for b in system):
        return [{"type": "text", "text": b["text"]} for b in system]
    raise InvalidMessagesError(f"system must be a string or a list of text blocks, got {type(system).__name__}")


def _assistant_view(content: list, i: int) -> dict:
    parts: list = []
    calls: list = []
    thinking: list = []
    for b in content:
        kind = b["type"]
        if kind == "tool_use":
            name, inp = b.get("name"), b.get("input")
            if not isinstance(b.get("id"), str) or not isinstance(name, str):
                raise InvalidMessagesError("a tool_use block needs a string id and name", i)
            args = json.dumps(inp if inp is not None else {}, ensure_ascii=False)
            calls.append({"id": b["id"], "type": "function", "function": {"name": name, "arguments": args}})
        elif kind in THINKING_TYPES:
            thinking.append(_unmarked(b))
        else:
            parts.append(_unmarked(b))
    out: dict[str, Any] = {"role": "assistant", "content": parts or None}
    if calls:
        out["tool_calls"] = calls
    if thinking:
        out["thinking_blocks"] = thinking
    return out


def _result_content(c: Any, i: int, k: int) -> Any:
    if c is None:
        return ""
    if isinstance(c, str):
        return c
    if isinstance(c, list) and all(isinstance(b, Mapping) and isinstance(b.get("type"), str) for b in c):
        return [_unmarked(b) for b in c]
    raise InvalidMessagesError(f"content[{k}].content must be a string or a list of blocks", i)


def _unmarked(block: Mapping) -> Any:
    """The block without its cache_control marker (the same object when it has none)."""
    if "cache_control" not in block:
        return block
    return {k: v for k, v in block.items() if k != "cache_control"}


# ---------------------------------------------------------------------------- back out


def edited_indices(session: Any) -> set[int] | None:
    """Where the engine may have sent a message in a form of its own (its ledger's edited
    segments), so only those are compared; None when the session does not say (compare all)."""
    modified = getattr(getattr(session, "ledger", None), "modified", None)
    if not isinstance(modified, Mapping):
        return None
    return {seg.index for seg in modified.values() if seg.index >= 0 and seg.sent_message is not None}


def from_engine(messages: list[dict], view: EngineView, out: list[dict], candidates: set[int] | None = None) -> list[dict]:
    """The Anthropic messages to send: `messages` with the engine's edits of `out` (the engine's
    output for `view.messages`) carried back. Unedited messages are the caller's own objects
    (the engine may hand back equal copies of them). `candidates`: the view indices that may be
    edited (`edited_indices`); None compares every message."""
    if len(out) != len(view.messages):
        raise ValueError(f"the engine returned {len(out)} messages for a view of {len(view.messages)}")
    results: dict[int, dict[int, Any]] = {}
    assistants: dict[int, dict] = {}
    where = range(len(out)) if candidates is None else sorted(j for j in candidates if j < len(out))
    for j in where:
        v, o, (i, k) = view.messages[j], out[j], view.origin[j]
        if o is v or o == v:
            continue
        if v["role"] == "tool" and k is not None:
            results.setdefault(i, {})[k] = o.get("content")
        elif v["role"] == "assistant":
            assistants[i] = o
        else:  # the engine never edits user or system messages: if it did, the caller's stays
            log.warning("contextkit.anthropic: an edit of a %s message was not carried back", v["role"])
    if not results and not assistants:
        return messages
    sent = list(messages)
    for i, changes in results.items():
        sent[i] = _with_results(messages[i], changes)
    latest = latest_turn_start(messages)
    for i, o in assistants.items():
        sent[i] = _assistant_edited(messages[i], o, keep_thinking=i >= latest)
    return sent


def _with_results(m: dict, changes: dict[int, Any]) -> dict:
    blocks = list(m["content"])
    for k, content in changes.items():
        block = dict(blocks[k])
        block["content"] = _marked_like(block.get("content"), content)
        blocks[k] = block
    return {**m, "content": blocks}


def _marked_like(before: Any, content: Any) -> Any:
    """A placeholder (a string) where the result's own last block carried a cache breakpoint keeps it."""
    if isinstance(content, str) and isinstance(before, list) and before and isinstance(before[-1], Mapping):
        mark = before[-1].get("cache_control")
        if mark is not None:
            return [{"type": "text", "text": content, "cache_control": mark}]
    return content


def _assistant_edited(m: dict, o: dict, keep_thinking: bool) -> dict:
    """Blanked tool inputs (clear_tool_inputs) and dropped thinking (older turns) carried back;
    thinking stays in the latest turn, tool-use loop included (`keep_thinking`)."""
    blanked = {tc.get("id") for tc in o.get("tool_calls") or () if (tc.get("function") or {}).get("arguments") == "{}"}
    drop_thinking = not o.get("thinking_blocks") and not keep_thinking
    blocks = []
    for b in m["content"]:
        kind = b.get("type")
        if kind in THINKING_TYPES and drop_thinking:
            continue
        if kind == "tool_use" and b.get("id") in blanked and b.get("input") != {}:
            b = {**b, "input": {}}
        blocks.append(b)
    if not any(b.get("type") not in THINKING_TYPES for b in blocks):
        return m  # an assistant turn cannot be left with nothing to say: keep it whole
    return {**m, "content": blocks}


# ---------------------------------------------------------------------------- Anthropic's rules


def problem(messages: Sequence[Any], original: Sequence[Any] | None = None) -> str | None:
    """None if `messages` keeps Anthropic's rules, else the first broken one and where. With
    `original` (the request before surgery) only problems the edits introduced count, and also:
    the same messages, roles and blocks in the same order, and the latest assistant turn's
    thinking unchanged."""
    p = _rule_problem(messages)
    if original is None:
        return p
    if p is not None and _rule_problem(original) is None:
        return p
    if len(messages) != len(original):
        return f"{len(original)} messages became {len(messages)}"
    for i, (m, o) in enumerate(zip(messages, original)):
        if m is o:
            continue
        if m.get("role") != o.get("role"):
            return f"messages[{i}]: role changed"
        if _shape(m) != _shape(o):
            return f"messages[{i}]: its blocks changed (added, removed, reordered or re-typed)"
        before = {id(b) for b in o["content"]} if isinstance(o.get("content"), list) else set()
        for k, b in enumerate(m["content"] if isinstance(m.get("content"), list) else ()):
            if id(b) not in before and _empty(b):
                return f"messages[{i}].content[{k}]: an empty {b.get('type')} block"
    for i in range(latest_turn_start(original), len(original)):
        if original[i].get("role") == "assistant" and _thinking(messages[i]) != _thinking(original[i]):
            return f"messages[{i}]: the latest assistant turn's thinking changed"
    return None


def _rule_problem(messages: Sequence[Any]) -> str | None:
    """Every tool_use answered by a tool_result in the very next user message, results first."""
    seen: set[str] = set()
    for i, m in enumerate(messages):
        blocks = m.get("content") if isinstance(m.get("content"), list) else []
        if m.get("role") != "assistant":
            continue
        ids = [b.get("id") for b in blocks if b.get("type") == "tool_use"]
        for tid in ids:
            if tid in seen:
                return f"messages[{i}]: tool_use id {tid!r} used twice"
            seen.add(tid)
        if not ids or i == len(messages) - 1:
            continue
        nxt = messages[i + 1]
        got = nxt.get("content") if nxt.get("role") == "user" and isinstance(nxt.get("content"), list) else []
        first = [b.get("tool_use_id") for b in got[: len(ids)] if b.get("type") == "tool_result"]
        if sorted(first) != sorted(ids):
            return f"messages[{i + 1}]: must begin with the tool_result of every tool_use of messages[{i}]"
    return None


def _shape(m: Mapping) -> Any:
    """The blocks' types and ids in order; an older turn's thinking may go (clear_thinking), so it is left out."""
    c = m.get("content")
    if not isinstance(c, list):
        return type(c).__name__
    return [(b.get("type"), b.get("id"), b.get("tool_use_id")) for b in c if b.get("type") not in THINKING_TYPES]


def _empty(b: Mapping) -> bool:
    if b.get("type") == "text":
        return not (isinstance(b.get("text"), str) and b["text"].strip())
    if b.get("type") == "tool_result":
        c = b.get("content")
        if isinstance(c, str):
            return not c.strip()
        return isinstance(c, list) and any(isinstance(x, Mapping) and _empty(x) for x in c)
    return False


def _thinking(m: Mapping) -> list:
    c = m.get("content")
    return [b for b in c if isinstance(b, Mapping) and b.get("type") in THINKING_TYPES] if isinstance(c, list) else []


def latest_turn_start(messages: Sequence[Any]) -> int:
    """Index after the last user message that answers no tool call: the latest assistant turn, its
    whole tool-use loop included, runs from there, and its thinking goes back unchanged. (A user
    message holding tool results and some text, as Claude Code's reminders are, is still the loop.)"""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.get("role") != "user":
            continue
        c = m.get("content")
        if not isinstance(c, list) or not any(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in c):
            return i + 1
    return 0


# ---------------------------------------------------------------------------- all of it


def prepare_request(session: Any, messages: list[dict], system: Any = None) -> Prepared:
    """`Session.prepare` for an Anthropic request: the view, the engine, the edits carried back,
    the rules checked. Raises InvalidMessagesError for a malformed request; anything else that
    goes wrong sends `messages` unchanged (`fallback` says why)."""
    view = to_engine(messages, system)
    out = session.prepare(view.messages)
    try:
        sent = from_engine(messages, view, out, edited_indices(session))
        p = problem(sent, messages) if sent is not messages else None
    except Exception as e:  # noqa: BLE001 - fail-open is the contract
        log.warning("contextkit.anthropic: edits not carried back (%s: %s); request sent unchanged", type(e).__name__, e)
        return Prepared(messages, view, f"internal error: {type(e).__name__}: {e}")
    if p is not None:
        log.warning("contextkit.anthropic: %s; request sent unchanged", p)
        return Prepared(messages, view, f"the request would break Anthropic's rules ({p}); sent unchanged")
    return Prepared(sent, view)


def prepare(session: Any, messages: list[dict], *, system: Any = None) -> list[dict]:
    """The Anthropic messages to send instead of `messages` (never mutated)."""
    return prepare_request(session, messages, system).messages


def restore_tool() -> dict:
    """contextkit's restore tool as an Anthropic tool definition."""
    from .restore import restore_tool as openai_tool

    fn = openai_tool()["function"]
    return {"name": fn["name"], "description": fn["description"], "input_schema": fn["parameters"]}
