"""What a pruned tool result becomes: a `Placeholder` style and the text it renders.

A placeholder says what was there and how to get it back (the handle), and may keep evidence:
verbatim lines of the result that hold identifiers nothing else in the request carries (the
agent that later needs `_eval_is_zero` sees the line it was on, not just its name), error and
file:line lines, a head/tail preview, or a bare list of identifiers (`key_terms`).
Placeholders are rendered once and then sent byte-identical on every later call (the cache).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import secrets
from .messages import parse_arguments
from .signals import terms

TEMPLATE_FIELDS = frozenset({"tool", "tokens", "chars", "age", "turn", "reason", "handle", "args", "args_digest", "preview_chars"})


@dataclass(frozen=True)
class Placeholder:
    """How a pruned result is rendered. Template fields: {tool} {tokens} {chars} {turn} (the
    conversation's assistant turn when it was pruned) {age} (turns it had gone unused then)
    {reason} {handle} {args} {args_digest} {preview_chars}; the template must hold {handle}.
    Evidence lines, key lines, mentions and previews follow it. Rendered once: the text never changes."""

    template: str = '[{tool} output pruned ({tokens} tokens): restore_context("{handle}")]'
    head_chars: int = 0
    tail_chars: int = 0
    key_lines: int = 0  # lines with errors, file:line references or failing tests, kept verbatim
    key_line_chars: int = 160
    key_terms: int = 0  # a bare list of identifiers it held that nothing else in the request carries
    # evidence: verbatim lines holding the identifiers nothing else in the request carries, chosen
    # to cover as many of them as fit in `evidence` x the result's tokens (within min/max)
    evidence: float = 0.0
    evidence_min_tokens: int = 0
    evidence_max_tokens: int = 400
    evidence_terms: int = 60  # how many of those identifiers (in order of appearance) to cover
    # results the agent tends to come back to (a file it read, an error it hit) get this times the budget
    evidence_boost: float = 1.0


_KEY_LINE = re.compile(
    r"error|exception|traceback|fail|assert|warning|File \"[^\"]+\", line \d+|^\s*[\w./-]+:\d+[:\s]",
    re.I,
)
LINE_CHARS = 160  # longer lines are kept as an excerpt around the identifier
_EXCERPT = 60
_CHARS_PER_TOKEN = 3.6  # to compare candidate lines without tokenizing each


@dataclass(frozen=True, slots=True)
class Rendered:
    """A placeholder's text and the identifiers it now carries (they need not be repeated)."""

    text: str
    carried: tuple[str, ...] = ()


def render(
    style: Placeholder,
    text: str,
    fields: dict,
    tokens: int,
    new_terms: Callable[[int], list[str]] | None = None,
    revisited: bool = False,
) -> Rendered:
    """The placeholder of a result whose original text is `text` (`tokens` long). `new_terms(limit)`
    gives, in order, the result's identifiers that nothing un-prunable in the request carries.
    A secret is never written into a placeholder (the model gains nothing from it): lines and
    previews come from the text with its secrets masked, and no identifier inside one is kept."""
    found = secrets.find_secrets(text) if style.evidence or style.key_lines or style.key_terms or style.head_chars or style.tail_chars else []
    if found:
        values = [text[f.start : f.end] for f in found]
        text = secrets.mask(text)
        picker = new_terms
        new_terms = None if picker is None else (lambda limit: [t for t in picker(limit) if not any(t in v or v in t for v in values)])
    fields = dict(fields, args=secrets.mask(str(fields.get("args", ""))))
    out = [style.template.format_map({**fields, "preview_chars": style.head_chars + style.tail_chars})]
    carried: list[str] = []
    if style.evidence and new_terms is not None:
        candidates = new_terms(style.evidence_terms)
        if candidates:
            share = style.evidence * (style.evidence_boost if revisited else 1.0)
            budget = max(style.evidence_min_tokens, min(style.evidence_max_tokens, int(share * tokens)))
            lines = evidence_lines(text, candidates, budget)
            if lines:
                out.extend(lines)
                carried.extend(t for line in lines for t in terms(line))
    if style.key_lines:
        lines = key_lines(text, style.key_lines, style.key_line_chars)
        if lines:
            out.append("key lines:\n" + "\n".join(lines))
    if style.key_terms and new_terms is not None:
        have = set(carried)
        rest = [t for t in new_terms(style.key_terms + len(have)) if t not in have][: style.key_terms]
        if rest:
            out.append("mentions: " + " ".join(rest))
            carried.extend(rest)
    if style.head_chars or style.tail_chars:
        if len(text) <= style.head_chars + style.tail_chars:
            out.append(text)
        else:
            if style.head_chars:
                out.append(text[: style.head_chars] + "…")
            if style.tail_chars:
                out.append("…" + text[-style.tail_chars :])
    return Rendered("\n".join(out), tuple(dict.fromkeys(carried)))


def evidence_lines(text: str, wanted: Iterable[str], budget_tokens: int) -> list[str]:
    """Verbatim lines of `text` (stripped; an excerpt around the identifier for long lines) that
    together hold as many of the `wanted` identifiers as fit in `budget_tokens`, in text order.
    Greedy set cover: each pick is the line with the most still-uncovered identifiers per token."""
    want = set(wanted)
    if not want:
        return []
    found: dict[str, tuple[int, set[str]]] = {}  # line -> (position, identifiers it holds)
    for pos, raw in enumerate(text.splitlines()):
        hit = terms(raw) & want
        if not hit:
            continue
        line = raw.strip()
        if len(line) > LINE_CHARS:
            t = min(hit, key=line.find)
            i = line.find(t)
            line = ("…" if i > _EXCERPT else "") + line[max(0, i - _EXCERPT) : i + len(t) + _EXCERPT] + "…"
            hit = {h for h in hit if h in line}
        if line not in found:
            found[line] = (pos, hit)
    chosen: list[tuple[int, str]] = []
    covered: set[str] = set()
    spent = 0.0
    pool = dict(found)
    while pool:
        best = max(pool, key=lambda ln: (len(pool[ln][1] - covered) / (len(ln) / _CHARS_PER_TOKEN + 1), -pool[ln][0]))
        pos, hit = pool.pop(best)
        gain = hit - covered
        if not gain:
            break
        cost = len(best) / _CHARS_PER_TOKEN + 1
        if spent + cost > budget_tokens:
            continue
        chosen.append((pos, best))
        covered |= gain
        spent += cost
        if covered >= want:
            break
    return [line for _, line in sorted(chosen)]


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
