"""Never overflow the window: when the request a policy prepared, plus the output asked for, would
not fit the model's context window, escalate before anything is sent.

1. Prune every unpinned tool result the policy would eventually prune, recent-turn guards ignored
   (never the latest turn's results: the model has not read them yet).
2. Cut the remaining large tool results (the latest turn's too) to a head and a tail, with their
   restore handle, largest first, until the request fits; then the largest tool-call arguments
   of older assistant turns (files written through a heredoc, scripts), to a head in a valid JSON
   object naming the handle.
3. Compact the oldest turns, if the session has a compactor (contextkit/compaction.py).
4. Still too large: `ContextOverflowError`, naming the tokens needed and the window.

Every edit is an ordinary sticky decision with its own rule code (`fit`, `cut`), so the prompt
stays byte-identical from then on. Tokens are contextkit's counts (tiktoken); a provider's own
tokenizer may count a few percent more, so `MARGIN` of the window is kept free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import rules
from .ledger import KEPT, PINNED, PRUNED, Ledger, Segment
from .placeholders import Rendered
from .policy import PRUNE, Decision, Policy
from .tokens import MESSAGE_OVERHEAD

MARGIN = 0.02  # of the window, for the provider's tokenizer counting more than ours
DEFAULT_RESERVE = 4096  # output tokens kept free when the call names no max_tokens (capped by the model's own limit)
CUT_HEAD, CUT_TAIL = 0.6, 0.4  # a cut result keeps this share of its kept characters from its head / tail
CUT_MIN = 40  # tokens of content a cut result keeps at least


@dataclass(frozen=True)
class FitRequest:
    """What the coming call asks for, as far as the window goes."""

    model: str | None = None
    max_tokens: int | None = None  # the call's max_tokens / max_completion_tokens
    extra_tokens: int = 0  # its tool definitions


@dataclass(frozen=True)
class Budget:
    """What one request may hold: the window, minus the output asked for, the tools and the margin."""

    window: int
    output: int
    extra: int = 0  # tokens outside the messages (tool definitions)

    @property
    def limit(self) -> int:
        return int(self.window * (1 - MARGIN)) - self.output - self.extra


def output_reserve(max_tokens: int | None, model_max_output: int | None) -> int:
    """The output a call must leave room for: its max_tokens, else DEFAULT_RESERVE (or the model's
    own output limit when that is smaller)."""
    if max_tokens:
        return int(max_tokens)
    return min(DEFAULT_RESERVE, model_max_output) if model_max_output else DEFAULT_RESERVE


def eventual_prunes(policy: Policy, ledger: Ledger, step: int) -> list[Decision]:
    """Step 1: every kept result the policy's rules would prune some day, whatever its age or how
    recent its turn, except the latest turn's and those a guard keeps for good (pinned, too small)."""
    if not policy.enabled:
        return []
    victims = []
    for seg in ledger.open:
        if seg.state != KEPT or not ledger.seen(seg):
            continue
        rule = policy.rule_for(seg.tool_name)
        if rule.pin or (rule.min_tokens and seg.tokens < rule.min_tokens):
            continue
        may_prune = rule.max_age is not None or rule.keep_last is not None or rule.max_tokens is not None or rule.max_chars is not None
        if not may_prune and not (rule.supersede and seg.superseded_by):
            continue
        victims.append((seg, rules.FIT, "pruned to fit the model's context window"))
    victims.sort(key=lambda v: v[0].index)
    return [d for d in policy.placeholders(ledger, step, victims, []) if d.action == PRUNE]


def cuts(ledger: Ledger, need: int) -> list[Decision]:
    """Step 2: tool results cut to a head and a tail, largest first, until `need` tokens are freed
    (the latest turn's too; a pruned result's placeholder too, when the cut is smaller). Each keeps
    a quarter of itself, or less when that is what it takes, down to `CUT_MIN` tokens."""
    count = ledger.counter.count
    out: list[Decision] = []
    freed = 0
    for seg in sorted((s for s in ledger.segments if s.kind == "tool_result" and s.state in (KEPT, PINNED, PRUNED)),
                      key=lambda s: -s.sent_tokens):
        if freed >= need or seg.sent_tokens < 2 * CUT_MIN:
            break
        text = _text(seg)
        keep_tokens = max(CUT_MIN, min(seg.sent_tokens // 4, seg.sent_tokens - (need - freed)))
        keep_chars = int(keep_tokens * len(text) / max(seg.tokens, 1))
        head, tail = text[: int(keep_chars * CUT_HEAD)], text[len(text) - int(keep_chars * CUT_TAIL) :]
        body = (f"[{seg.tool_name or 'tool'} output cut to fit the model's context window ({seg.tokens:,} tokens): "
                f'restore_context("{seg.handle}") brings it back whole]\n{head}\n[…]\n{tail}')
        tokens = count(body) + MESSAGE_OVERHEAD
        if tokens >= seg.sent_tokens:
            continue
        out.append(Decision(seg, PRUNE, rules.CUT, "cut to a head and a tail to fit the model's context window",
                            Rendered(body), tokens))
        freed += seg.sent_tokens - tokens
    return out


ARGS_KEEP = 200  # characters of a cut call's arguments kept (as a string inside a valid JSON object)


def cut_arguments(ledger: Ledger, need: int) -> list[tuple[Segment, dict, int]]:
    """Step 2b: the largest tool-call arguments of older assistant turns (a file written through a
    heredoc, a script) cut, largest first, until `need` tokens are freed: (segment, new message,
    tokens). Arguments stay a valid JSON object (providers parse them) naming the handle that
    restores the whole message. The latest assistant turn is never touched."""
    count = ledger.counter.count
    latest = max((s.index for s in ledger.segments if s.role == "assistant"), default=-1)
    candidates = []
    for seg in ledger.segments:
        if seg.role != "assistant" or seg.index >= latest or not (seg.sent_message or seg.original).get("tool_calls"):
            continue
        base = seg.sent_message or seg.original
        size = sum(count(_args(tc)) for tc in base["tool_calls"])
        if size > 2 * ARGS_KEEP // 3:
            candidates.append((size, seg))
    out, freed = [], 0
    for _size, seg in sorted(candidates, key=lambda c: -c[0]):
        if freed >= need:
            break
        base = seg.sent_message or seg.original
        calls = []
        for tc in base["tool_calls"]:
            args = _args(tc)
            if len(args) > ARGS_KEEP:
                note = {"contextkit": f'arguments cut to fit the context window; restore_context("{seg.handle}") brings them back',
                        "head": args[:ARGS_KEEP]}
                tc = dict(tc, function=dict(tc.get("function") or {}, arguments=json.dumps(note, ensure_ascii=False)))
            calls.append(tc)
        new = dict(base, tool_calls=calls)
        tokens = ledger.count_message(new)
        if tokens < seg.sent_tokens:
            out.append((seg, new, tokens))
            freed += seg.sent_tokens - tokens
    return out


def _args(tc: dict) -> str:
    a = (tc.get("function") or {}).get("arguments")
    return a if isinstance(a, str) else json.dumps(a, ensure_ascii=False)


def _text(seg: Segment) -> str:
    from .messages import content_text

    return content_text(seg.original.get("content"))


__all__ = ["FitRequest", "Budget", "output_reserve", "eventual_prunes", "cuts", "cut_arguments", "MARGIN", "DEFAULT_RESERVE"]
