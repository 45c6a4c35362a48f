"""The measures of one request, defined exactly as the reference judge defines them.

../shared/bench/pruning_eval.py is the yardstick every policy (ours and the peers') is judged by,
so these definitions copy its text, not our engine's own notions (the ledger counts tokens
differently, e.g. reasoning text): a figure from `contextkit eval` must mean the judge's figure.

- tokens of a message: o200k_base tokens of its text (content, then each tool call's name and
  arguments, joined by newlines) + 4;
- cache cost: the longest run of leading messages identical to the previous request is read at
  0.1x, everything after it is written at 1.25x (Anthropic-style prompt cache);
- evidence: identifiers with a dot, slash, colon or underscore, camelCase words and numbers of
  4+ digits, 5+ characters long;
- verbatim retention: an evidence token counts only where it is still sent inside recorded content:
  in a message sent exactly as recorded, or in a line of an earlier tool result that holds it, sent
  verbatim (the line stripped; for lines over 160 characters, the 80 characters either side of it);
- valid: OpenAI's tool-call pairing (contextkit.validity.openai_problem is that rule).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from ..tokens import MESSAGE_OVERHEAD, TokenCounter
from ..validity import openai_problem

CACHE_READ = 0.1
CACHE_WRITE = 1.25
EVIDENCE_MIN_CHARS = 5

_EVIDENCE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:[./:][A-Za-z0-9_]+)+"  # dotted / pathy / qualified
    r"|[A-Za-z]*_[A-Za-z0-9_]{3,}"  # snake_case
    r"|[a-z]+[A-Z][A-Za-z0-9]{2,}"  # camelCase
    r"|\b\d{4,}\b"  # long numbers
)


def message_text(m: Mapping) -> str:
    """The text the judge counts and searches: content (text parts joined), tool-call names and arguments."""
    c = m.get("content")
    if isinstance(c, list):
        c = "\n".join(p.get("text", "") for p in c if isinstance(p, dict))
    parts = [c or ""]
    for tc in m.get("tool_calls") or ():
        f = tc.get("function") or {}
        parts.append(f.get("name") or "")
        args = f.get("arguments") or ""
        parts.append(args if isinstance(args, str) else json.dumps(args, sort_keys=True, ensure_ascii=False))
    return "\n".join(parts)


def message_key(m: Mapping) -> str:
    """Two messages are the same to a prompt cache when these strings are equal."""
    return json.dumps(m, sort_keys=True, ensure_ascii=False)


def evidence(text: str) -> set[str]:
    """The evidence tokens of a text (what retention tracks)."""
    return {t for t in _EVIDENCE.findall(text) if len(t) >= EVIDENCE_MIN_CHARS}


VERBATIM_LINE_CHARS = 160
VERBATIM_CONTEXT = 80


def evidence_lines(text: str) -> dict[str, set[str]]:
    """Each evidence token of a tool result -> the verbatim snippets (its lines) that hold it."""
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        for t in evidence(line):
            stripped = line.strip()
            if len(stripped) <= VERBATIM_LINE_CHARS:
                out.setdefault(t, set()).add(stripped)
            else:
                for m in re.finditer(re.escape(t), line):
                    out.setdefault(t, set()).add(line[max(0, m.start() - VERBATIM_CONTEXT) : m.end() + VERBATIM_CONTEXT])
    return out


def is_valid(messages: Sequence[Mapping]) -> bool:
    """True when the request keeps OpenAI's tool-call pairing."""
    return openai_problem(messages) is None


def cache_cost(read_tokens: int, total_tokens: int) -> float:
    """Input cost in base-price units of a request whose first `read_tokens` come from the cache."""
    return CACHE_READ * read_tokens + CACHE_WRITE * (total_tokens - read_tokens)


class TextTokens:
    """o200k_base token counts of texts, cached by string (the same text recurs across policies and steps)."""

    def __init__(self) -> None:
        self._counter = TokenCounter(None)  # no model: o200k_base, as the judge counts
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        n = self._cache.get(text)
        if n is None:
            n = self._counter.count(text)
            self._cache[text] = n
        return n

    def message(self, m: Mapping) -> int:
        return self(message_text(m)) + MESSAGE_OVERHEAD
