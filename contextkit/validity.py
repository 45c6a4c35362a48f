"""Is a request valid for OpenAI- and Anthropic-style APIs? (field-notes §2)

OpenAI chat: an assistant message with tool_calls is followed by one tool message per call before
any other role; every tool message answers a call of the nearest preceding assistant message.
Anthropic (through litellm): the same pairing, results first; the latest assistant turn's
thinking goes back unchanged; text content is never empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .messages import content_text


def openai_problem(messages: Sequence[Mapping]) -> str | None:
    """None if the list keeps OpenAI's tool-call pairing, else what breaks it and where."""
    pending: set[str] = set()
    owner = -1
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "tool":
            tcid = m.get("tool_call_id")
            if tcid not in pending:
                return f"messages[{i}]: tool message {tcid!r} answers no pending call"
            pending.discard(tcid)
            continue
        if pending:
            return f"messages[{i}]: {role} message before the results of messages[{owner}]"
        if role == "assistant" and m.get("tool_calls"):
            pending = {tc.get("id") for tc in m["tool_calls"]}
            owner = i
    if pending:
        return f"messages[{owner}]: tool calls without results"
    return None


def anthropic_problem(messages: Sequence[dict], original: Sequence[dict] | None = None) -> str | None:
    """None if the list is valid for Anthropic through litellm, else the problem.

    With `original` (the request before surgery), also checks that the latest assistant turn's
    thinking is byte-identical and that no message was added or removed.
    """
    p = openai_problem(messages)
    if p:
        return p
    seen_ids: set[str] = set()
    for i, m in enumerate(messages):
        for tc in m.get("tool_calls") or ():
            if tc.get("id") in seen_ids:
                return f"messages[{i}]: tool_use id {tc.get('id')!r} used twice"
            seen_ids.add(tc.get("id"))
        if m.get("role") == "tool" and not content_text(m.get("content")).strip() and not _nonempty_parts(m):
            if original is None or content_text(original[i].get("content")).strip():
                return f"messages[{i}]: empty tool_result content"
    if original is not None:
        if len(original) != len(messages):
            return f"{len(original)} messages became {len(messages)}"
        last = latest_turn_start(messages)
        for i in range(last, len(messages)):
            if messages[i].get("role") != "assistant":
                continue
            for key in ("reasoning_content", "thinking_blocks"):
                if messages[i].get(key) != original[i].get(key):
                    return f"messages[{i}]: latest assistant turn's {key} changed"
    return None


def introduced_problem(messages: Sequence[dict], original: Sequence[dict]) -> str | None:
    """A problem of `messages` (the request after surgery) that the caller's `original` does not
    have. A caller's list that already breaks a rule (tool-call ids reused across turns are fine
    for OpenAI, not for Anthropic) is the caller's to fix: then only the structure surgery must keep
    is checked (same messages, roles, call ids and names, the latest turn's reasoning)."""
    if anthropic_problem(original) is None:
        return anthropic_problem(messages, original)
    if len(original) != len(messages):
        return f"{len(original)} messages became {len(messages)}"
    for i, (m, o) in enumerate(zip(messages, original)):
        if m is not o:
            p = edit_problem(o, m)
            if p:
                return f"messages[{i}]: {p}"
    last = latest_turn_start(messages)
    for i in range(last, len(messages)):
        if messages[i].get("role") == "assistant":
            for key in ("reasoning_content", "thinking_blocks"):
                if messages[i].get(key) != original[i].get(key):
                    return f"messages[{i}]: latest assistant turn's {key} changed"
    return None


def edit_problem(original: dict, edited: dict) -> str | None:
    """None if an edited message keeps everything pairing depends on, else what it broke.

    Surgery edits a message once and sends the same edit on every later call, so checking each
    edit when it is made, plus the caller's (already checked) pairing, keeps every output valid
    under both rule sets without re-reading the whole request on every call.
    """
    if edited.get("role") != original.get("role"):
        return "role changed"
    if edited.get("tool_call_id") != original.get("tool_call_id"):
        return "tool_call_id changed"
    before = [(tc.get("id"), (tc.get("function") or {}).get("name")) for tc in original.get("tool_calls") or ()]
    after = [(tc.get("id"), (tc.get("function") or {}).get("name")) for tc in edited.get("tool_calls") or ()]
    if before != after:
        return "tool calls changed"
    if edited.get("role") == "tool":
        c = edited.get("content")
        if not isinstance(c, str) or not c.strip():
            return "empty tool result"
    return None


def latest_turn_start(messages: Sequence[dict]) -> int:
    """Index after the last non-tool-result user message: the latest assistant turn runs from here."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return i + 1
    return 0


def _nonempty_parts(m: dict) -> bool:
    c = m.get("content")
    return isinstance(c, list) and any(isinstance(p, dict) and p.get("type") != "text" for p in c)
