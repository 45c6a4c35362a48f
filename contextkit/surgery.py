"""Surgery: the replacement message for a pruned segment. Content is replaced, never deleted, so
every tool call keeps its result and role order stays as the agent built it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable

from .ledger import Segment
from .messages import content_text, parse_arguments
from .policy import Placeholder

_KEY_LINE = re.compile(
    r"error|exception|traceback|fail|assert|warning|File \"[^\"]+\", line \d+|^\s*[\w./-]+:\d+[:\s]",
    re.I,
)


def args_summary(args_text: str, limit: int = 60) -> str:
    """A short, one-line summary of a tool call's arguments (the command when there is one)."""
    args = parse_arguments(args_text)
    if args and len(args) == 1 and isinstance(next(iter(args.values())), str):
        s = next(iter(args.values()))
    else:
        s = args_text
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def args_digest(args_text: str) -> str:
    """Four hex digits identifying the call's arguments (the full call sits just before the result)."""
    return hashlib.blake2b(args_text.encode("utf-8", "surrogatepass"), digest_size=2).hexdigest()


def placeholder_text(
    seg: Segment, original: dict, reason: str, style: Placeholder, step: int, new_terms: Callable[[Segment, int], list[str]] | None = None
) -> tuple[str, list[str]]:
    """The placeholder for a pruned tool result (what was there, why it went, how to get it
    back) and the key terms it keeps. `new_terms(seg, limit)` picks them: the ledger knows which
    terms the rest of the request already carries."""
    text = content_text(original.get("content"))
    fields = {
        "tool": seg.tool_name or "tool",
        "tokens": f"{seg.tokens:,}",
        "chars": f"{len(text):,}",
        "age": seg.age(step),
        "reason": reason,
        "handle": seg.handle,
        "args": args_summary(seg.args_text),
        "args_digest": args_digest(seg.args_text),
        "preview_chars": style.head_chars + style.tail_chars,
    }
    out = [style.template.format_map(fields)]
    if style.key_lines:
        lines = key_lines(text, style.key_lines, style.key_line_chars)
        if lines:
            out.append("key lines:\n" + "\n".join(lines))
    kept: list[str] = []
    if style.key_terms and new_terms is not None:
        kept = new_terms(seg, style.key_terms)
        if kept:
            out.append("mentions: " + " ".join(kept))
    if style.head_chars or style.tail_chars:
        if len(text) <= style.head_chars + style.tail_chars:
            out.append(text)
        else:
            if style.head_chars:
                out.append(text[: style.head_chars] + "…")
            if style.tail_chars:
                out.append("…" + text[-style.tail_chars :])
    return "\n".join(out), kept


def key_lines(text: str, limit: int, width: int) -> list[str]:
    """Lines worth keeping from a pruned result: errors, failing tests, file:line references."""
    found: list[str] = []
    seen = set()
    for line in text.splitlines():
        s = line.strip()
        if not s or s in seen or not _KEY_LINE.search(s):
            continue
        seen.add(s)
        found.append(s if len(s) <= width else s[: width - 1] + "…")
        if len(found) >= limit:
            break
    return found


def pruned_message(original: dict, content: str) -> dict:
    new = dict(original)
    new["content"] = content
    return new


def without_arguments(assistant: dict, tool_call_ids: set[str]) -> dict:
    """The assistant message with the arguments of these calls blanked (Anthropic's clear_tool_inputs)."""
    new = dict(assistant)
    calls = []
    for tc in assistant.get("tool_calls") or ():
        if tc.get("id") in tool_call_ids:
            tc = dict(tc)
            tc["function"] = dict(tc.get("function") or {}, arguments="{}")
        calls.append(tc)
    new["tool_calls"] = calls
    return new


def without_reasoning(assistant: dict) -> dict:
    """The assistant message without its reasoning (Anthropic's clear_thinking for older turns)."""
    new = {k: v for k, v in assistant.items() if k not in ("reasoning_content", "thinking_blocks")}
    if isinstance(new.get("content"), list):
        new["content"] = [p for p in new["content"] if not (isinstance(p, dict) and p.get("type") in ("thinking", "redacted_thinking"))]
    return new
