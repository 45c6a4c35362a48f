"""Reading OpenAI-format chat messages: checking what the caller sent, and the text of each part.

`check_messages` rejects what no provider would accept (a tool message answering no call, an
unknown role, content of the wrong type, ...) with an `InvalidMessagesError` naming the index.
It can resume from a saved state, so a call that appends two messages checks only those two.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidMessagesError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
IMAGE_TOKENS = 85  # a low-detail image as OpenAI bills it; images are never pruned, only counted


@dataclass
class PairingState:
    """Where the check of a message list stopped: the calls of the last assistant still unanswered."""

    pending: dict[str, int] = field(default_factory=dict)  # tool_call_id -> index of its assistant
    answered: set[str] = field(default_factory=set)  # ids of the last assistant already answered
    last_call_index: int | None = None  # index of the last assistant message with tool_calls

    def copy(self) -> PairingState:
        return PairingState(dict(self.pending), set(self.answered), self.last_call_index)


def check_messages(messages: Any, start: int = 0, state: PairingState | None = None) -> PairingState:
    """Raise InvalidMessagesError for the first malformed message at or after `start`.

    Returns the pairing state at the end of the list, to resume from when messages are appended.
    Unanswered calls at the very end are allowed here (the caller may still be collecting
    results); `require_answered` rejects them before a request is sent.
    """
    if not isinstance(messages, list):
        raise InvalidMessagesError(f"expected a list of message dicts, got {type(messages).__name__}")
    st = state.copy() if state is not None else PairingState()
    for i in range(start, len(messages)):
        m = messages[i]
        if not isinstance(m, Mapping):
            raise InvalidMessagesError(f"expected a dict, got {type(m).__name__}", i)
        role = m.get("role")
        if role not in ROLES:
            raise InvalidMessagesError(f"unknown role {role!r} (expected one of {sorted(ROLES)})", i)
        _check_content(m, role, i)
        if role == "tool":
            tcid = m.get("tool_call_id")
            if not isinstance(tcid, str) or not tcid:
                raise InvalidMessagesError("tool message without a tool_call_id", i)
            if tcid not in st.pending:
                if tcid in st.answered:
                    raise InvalidMessagesError(f"second tool message for tool_call_id {tcid!r}", i)
                where = (
                    f"the calls of messages[{st.last_call_index}]"
                    if st.last_call_index is not None
                    else "any preceding assistant message"
                )
                raise InvalidMessagesError(f"tool message answers no call: {tcid!r} is not among {where}", i)
            del st.pending[tcid]
            st.answered.add(tcid)
            continue
        if st.pending:
            missing = ", ".join(repr(k) for k in st.pending)
            raise InvalidMessagesError(
                f"a {role} message arrives before the results of tool call(s) {missing} "
                f"of messages[{st.last_call_index}]",
                i,
            )
        if role == "assistant":
            calls = m.get("tool_calls")
            st.answered = set()
            if calls:
                st.pending = {tid: i for tid in _check_tool_calls(calls, i)}
                st.last_call_index = i
    return st


def require_answered(state: PairingState) -> None:
    """Reject a list whose last assistant message still has unanswered tool calls."""
    if state.pending:
        missing = ", ".join(repr(k) for k in state.pending)
        raise InvalidMessagesError(
            f"tool call(s) {missing} have no tool result (every call needs one before the next request)",
            state.last_call_index,
        )


def _check_content(m: Mapping, role: str, i: int) -> None:
    c = m.get("content")
    if c is None or isinstance(c, str):
        if c is None and role in ("user", "system", "developer"):
            raise InvalidMessagesError(f"{role} message without content", i)
        return
    if not isinstance(c, list):
        raise InvalidMessagesError(f"unsupported content type {type(c).__name__} (expected str or a list of parts)", i)
    for k, part in enumerate(c):
        if not isinstance(part, Mapping):
            raise InvalidMessagesError(f"content[{k}] is a {type(part).__name__}, expected a dict with a 'type'", i)
        ptype = part.get("type")
        if not isinstance(ptype, str):
            raise InvalidMessagesError(f"content[{k}] has no 'type'", i)
        if ptype == "text" and not isinstance(part.get("text"), str):
            raise InvalidMessagesError(f"content[{k}] is a text part without a string 'text'", i)


def _check_tool_calls(calls: Any, i: int) -> list[str]:
    if not isinstance(calls, list):
        raise InvalidMessagesError(f"tool_calls must be a list, got {type(calls).__name__}", i)
    ids = []
    for k, tc in enumerate(calls):
        if not isinstance(tc, Mapping):
            raise InvalidMessagesError(f"tool_calls[{k}] is a {type(tc).__name__}, expected a dict", i)
        tid = tc.get("id")
        if not isinstance(tid, str) or not tid:
            raise InvalidMessagesError(f"tool_calls[{k}] has no id", i)
        fn = tc.get("function")
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise InvalidMessagesError(f"tool_calls[{k}] has no function name", i)
        args = fn.get("arguments")
        if args is not None and not isinstance(args, (str, Mapping)):
            raise InvalidMessagesError(f"tool_calls[{k}].function.arguments must be a string", i)
        if tid in ids:
            raise InvalidMessagesError(f"tool_calls[{k}] repeats id {tid!r}", i)
        ids.append(tid)
    return ids


# ---------------------------------------------------------------------------- message objects


def message_dict(msg: Any) -> Any:
    """A chat message as the plain dict litellm sends: litellm's / OpenAI's message objects
    (`response.choices[0].message`) become dicts with role, content, name, tool_call_id, tool
    calls, reasoning and thinking blocks. Dicts (and anything unrecognisable) pass through."""
    if isinstance(msg, Mapping) or not (hasattr(msg, "role") or hasattr(msg, "content")):
        return msg
    get = lambda k: getattr(msg, k, None)  # noqa: E731
    out: dict[str, Any] = {"role": get("role") or "assistant", "content": get("content")}
    for key in ("name", "tool_call_id"):
        if get(key):
            out[key] = get(key)
    calls = get("tool_calls")
    if calls:
        out["tool_calls"] = [_tool_call_dict(tc) for tc in calls]
    fc = get("function_call")
    if fc:
        out["function_call"] = {"name": _field(fc, "name"), "arguments": _field(fc, "arguments")}
    if get("reasoning_content"):
        out["reasoning_content"] = get("reasoning_content")
    blocks = get("thinking_blocks")
    if blocks:
        out["thinking_blocks"] = [b if isinstance(b, Mapping) else dict(b) for b in blocks]
    return out


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _tool_call_dict(tc: Any) -> dict:
    if isinstance(tc, Mapping):
        return dict(tc)
    fn = _field(tc, "function")
    return {
        "id": _field(tc, "id"),
        "type": _field(tc, "type") or "function",
        "function": {"name": _field(fn, "name"), "arguments": _field(fn, "arguments")},
    }


def as_dicts(messages: Any) -> Any:
    """The list with any message objects turned into dicts (the list itself when all are dicts)."""
    if type(messages) is not list or all(type(m) is dict for m in messages):
        return messages
    return [message_dict(m) for m in messages]


# ---------------------------------------------------------------------------- text of a message


def content_text(content: Any) -> str:
    """The text a model reads from a content field (str, or the text of a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    out = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        t = part.get("text")
        if isinstance(t, str):
            out.append(t)
        elif isinstance(part.get("thinking"), str):
            out.append(part["thinking"])
    return "\n".join(out)


def image_parts(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, Mapping) and p.get("type") in ("image_url", "image"))


def arguments_text(args: Any) -> str:
    if args is None:
        return ""
    if isinstance(args, str):
        return args
    return json.dumps(args, ensure_ascii=False, sort_keys=True)


def tool_calls_text(m: Mapping) -> str:
    parts = []
    for tc in m.get("tool_calls") or ():
        fn = tc.get("function") or {}
        parts.append(fn.get("name") or "")
        parts.append(arguments_text(fn.get("arguments")))
    return "\n".join(parts)


def ids_text(m: Mapping) -> str:
    """The name, tool_call_id and tool-call ids of a message: the provider bills them too (a
    tool-call id can be 20 tokens, on every result, on every call)."""
    parts = [v for v in (m.get("name"), m.get("tool_call_id")) if isinstance(v, str)]
    for tc in m.get("tool_calls") or ():
        if isinstance(tc, Mapping) and isinstance(tc.get("id"), str):
            parts.append(tc["id"])
    return " ".join(parts)


def reasoning_text(m: Mapping) -> str:
    """reasoning_content and thinking_blocks of an assistant message (what the model thought)."""
    parts = []
    rc = m.get("reasoning_content")
    if isinstance(rc, str):
        parts.append(rc)
    for b in m.get("thinking_blocks") or ():
        if isinstance(b, Mapping) and isinstance(b.get("thinking"), str):
            parts.append(b["thinking"])
    return "\n".join(parts)


def parse_arguments(args: Any) -> dict | None:
    """Tool-call arguments as a dict when they are a JSON object; None for anything else."""
    if isinstance(args, Mapping):
        return dict(args)
    if not isinstance(args, str) or not args.startswith("{"):
        return None
    try:
        v = json.loads(args)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None
