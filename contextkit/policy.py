"""Pruning policies: which tool results to replace with placeholders, and when.

A policy is plain data. Its rules compose: a kept tool result is pruned when any prune rule fires
(`superseded`, `max_age`, `keep_last`, `max_tokens` / `max_chars`) and no guard holds (pinned or
excluded tool, too small to be worth it, a placeholder that would not pay, inside the protected
recent turns or tokens, not yet seen by the model, or an edit the prompt cache cannot afford yet).
Every rule can be overridden per tool with a `ToolRule`.

`Policy.decide` only reads the ledger: it returns `Decision`s (prune this, with this placeholder;
keep that, and why), and `surgery.Editor` applies them. Decisions are sticky: a pruned result stays
pruned, so the prompt prefix up to the newest edit stays byte-identical and the provider's prompt
cache keeps working. `max_payback_steps` prices each edit with the cache (contextkit/cache.py);
batches (`clear_at_least`, `batch_slack`) make edits rare.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import faults, rules
from .ledger import KEPT, Ledger, Segment
from .messages import content_text
from .placeholders import Placeholder, Rendered, args_digest, args_summary, render
from .tokens import MESSAGE_OVERHEAD

if TYPE_CHECKING:
    from .cache import Payback

PRUNE, KEEP = "prune", "keep"


@dataclass(frozen=True, slots=True)
class Decision:
    """One outcome of `Policy.decide`: prune a result (with its placeholder) or keep it, and why."""

    segment: Segment
    action: str  # PRUNE | KEEP
    rule: str  # contextkit.rules code
    reason: str  # the same, for people
    placeholder: Rendered | None = None  # PRUNE: what it becomes
    tokens: int = 0  # PRUNE: the placeholder message's tokens
    final: bool = False  # KEEP: never reconsider it (pinned, a placeholder that never pays)


@dataclass(frozen=True)
class ToolRule:
    """A rule set for one tool; None means 'as the policy says for every tool'."""

    keep_last: int | None = None
    max_age: int | None = None
    max_tokens: int | None = None
    max_chars: int | None = None
    min_tokens: int | None = None
    supersede: bool | None = None
    pin: bool | None = None
    placeholder: Placeholder | None = None


RULE_FIELDS = tuple(f.name for f in dataclasses.fields(ToolRule))


@dataclass(frozen=True)
class Policy:
    """When and what to prune. See docs/policies.md for every field and the presets."""

    name: str = "custom"
    # when: the context must be this large (tokens as sent, or raw when trigger_basis="raw")
    trigger_tokens: int = 0
    trigger_fraction: float | None = None  # of the model's context window (litellm's model info)
    trigger_basis: str = "sent"
    clear_at_least: int = 0  # tokens a batch must free, or nothing is pruned this step
    # what: rules for every tool (each may be overridden in `tools`)
    keep_last: int | None = None  # the newest N tool results are never pruned by this rule
    max_age: int | None = None  # prune when unused for more than N steps (assistant turns)
    use_terms: int = 1  # a turn draws on a result when it repeats this many of its terms (all, if fewer)
    max_tokens: int | None = None  # prune results larger than this (size cap)
    max_chars: int | None = None  # the same cap in characters
    min_tokens: int = 0  # never prune results smaller than this (a placeholder would not pay)
    min_saving: float = 0.0  # prune only if the placeholder is at least this fraction smaller
    supersede: bool = False  # prune results made stale by a later call
    pin: bool = False
    tools: Mapping[str, ToolRule] = field(default_factory=dict)
    include_tools: tuple[str, ...] | None = None  # only these tools are ever pruned
    exclude_tools: tuple[str, ...] = ()  # these tools are never pruned
    quarantine: tuple[str, ...] = ()  # results with these flags (faults.FLAGS: "injection", ...) are never sent
    # guards
    protect_recent_turns: int = 1  # results answered within the last N assistant turns stay
    protect_tokens: int = 0  # the newest N tokens of tool output stay
    # cache awareness
    batch_slack: int = 0  # when a batch runs, also take results within this many steps of max_age
    min_cache_gain: float = 0.0  # freed tokens x this >= tokens re-written after the edit, or wait
    # an edit waits unless the run, counting what pruning saved so far, is back at or under the cost
    # of not pruning within this many turns (prompt cache priced: contextkit/cache.py); None: off
    max_payback_steps: int | None = None
    # how
    placeholder: Placeholder = Placeholder()
    clear_tool_inputs: bool = False  # also blank the arguments of the pruned result's call
    keep_thinking_turns: int | None = None  # drop reasoning of assistant turns older than N
    enabled: bool = True
    description: str = ""
    source: str = ""

    def replace(self, **changes) -> Policy:
        return dataclasses.replace(self, **changes)

    def rule_for(self, tool: str | None) -> ToolRule:
        """The effective rule for a tool: the policy's fields, overridden by `tools[tool]`."""
        base = ToolRule(
            keep_last=self.keep_last,
            max_age=self.max_age,
            max_tokens=self.max_tokens,
            max_chars=self.max_chars,
            min_tokens=self.min_tokens,
            supersede=self.supersede,
            pin=self.pin
            or (tool in self.exclude_tools)
            or (self.include_tools is not None and tool not in self.include_tools),
            placeholder=self.placeholder,
        )
        over = self.tools.get(tool or "")
        if over is None:
            return base
        return dataclasses.replace(base, **{k: getattr(over, k) for k in RULE_FIELDS if getattr(over, k) is not None})

    # ------------------------------------------------------------------ deciding

    def decide(
        self, ledger: Ledger, step: int, context_window: int | None = None, payback: Payback | None = None
    ) -> list[Decision]:
        """What to do at this step: the results to prune (each with its placeholder and reason),
        and those kept with a reason worth recording. Reads the ledger, changes nothing."""
        quarantined = self._quarantined(ledger) if self.quarantine else []
        if not self.enabled or not ledger.open:
            return quarantined
        context = ledger.raw_tokens if self.trigger_basis == "raw" else ledger.sent_tokens
        trigger = self.trigger_tokens
        if self.trigger_fraction is not None and context_window:
            trigger = max(trigger, int(self.trigger_fraction * context_window))
        if context < trigger:
            return quarantined
        protected_from = self._protected_ordinal(ledger)
        ruleset: dict[str | None, ToolRule] = {}
        out: list[Decision] = list(quarantined)
        taken = {id(d.segment) for d in quarantined}
        victims: list[tuple[Segment, str, str]] = []
        near: list[tuple[Segment, str, str]] = []  # batch_slack: due soon, pruned with a batch that runs anyway
        for seg in ledger.open:
            if seg.state != KEPT or id(seg) in taken:
                continue
            rule = ruleset.get(seg.tool_name)
            if rule is None:
                rule = ruleset[seg.tool_name] = self.rule_for(seg.tool_name)
            if rule.pin:
                out.append(Decision(seg, KEEP, rules.PINNED, "pinned by policy (never pruned)", final=True))
                continue
            if rule.min_tokens and seg.tokens < rule.min_tokens:
                out.append(Decision(seg, KEEP, rules.TOO_SMALL, f"kept: smaller than {rule.min_tokens} tokens", final=True))
                continue
            if not ledger.seen(seg) or seg.ordinal >= protected_from:
                continue
            if ledger.n_assistant - seg.turn < self.protect_recent_turns:
                continue
            code, why = _prune_reason(seg, rule, ledger, self.tools.get(seg.tool_name or ""))
            if code:
                victims.append((seg, code, why))
            elif self.batch_slack and rule.max_age is not None and seg.turns_unused(ledger.clock) > rule.max_age - self.batch_slack:
                near.append((seg, rules.UNUSED, "unused (batched)"))
        if not victims:
            return out
        victims = sorted(victims + near, key=lambda v: v[0].index)
        prunes = self.placeholders(ledger, step, victims, out)
        gain = sum(d.segment.sent_tokens - d.tokens for d in prunes)
        if not prunes or (self.clear_at_least and gain < self.clear_at_least):
            return out
        if self.min_cache_gain:
            rewritten = sum(s.sent_tokens for s in ledger.segments[prunes[0].segment.index:]) - gain
            if gain * self.min_cache_gain < rewritten:
                return out
        if payback is not None:
            tail_first = sorted(prunes, key=lambda d: -d.segment.index)
            n = payback.affordable([(d.segment.index, d.segment.sent_tokens, d.tokens) for d in tail_first])
            for d in tail_first[n:]:
                out.append(Decision(d.segment, KEEP, rules.CACHE_WAIT,
                                    "kept for now: pruning it would rewrite more of the cached prompt than it saves yet"))
            prunes = sorted(tail_first[:n], key=lambda d: d.segment.index)
        return out + prunes

    def _quarantined(self, ledger: Ledger) -> list[Decision]:
        """Results carrying a quarantined flag: replaced at once (before the model reads them, whatever
        the triggers and protections say) by a warning placeholder that keeps the restore handle."""
        out = []
        for seg in ledger.open:
            hit = [f for f in seg.flags if f in self.quarantine] if seg.flags and seg.state == KEPT else None
            if hit:
                why = faults.evidence(content_text(seg.original.get("content")), hit[0], seg.tool_name, seg.args_text)
                text = faults.quarantine_text(seg.tool_name or "tool", seg.handle, hit, why, seg.tokens)
                out.append(Decision(seg, PRUNE, rules.QUARANTINED, f"quarantined: flagged {', '.join(hit)} ({why})",
                                    Rendered(text), ledger.counter.count(text) + MESSAGE_OVERHEAD))
        return out

    def placeholders(self, ledger: Ledger, step: int, victims: list, out: list[Decision]) -> list[Decision]:
        """Prune decisions for `victims` ((segment, rule code, reason), in index order), each with its
        rendered placeholder; a result whose placeholder would not be `min_saving` smaller gets a keep
        decision in `out` instead."""
        carried: set[int] = set()  # terms this step's earlier placeholders already carry
        going = {id(seg) for seg, _, _ in victims}
        prunes: list[Decision] = []
        count = ledger.counter.count
        for seg, code, why in victims:
            style = self.rule_for(seg.tool_name).placeholder or self.placeholder
            text = content_text(seg.original.get("content"))
            fields = {
                "tool": seg.tool_name or "tool", "tokens": f"{seg.tokens:,}", "chars": f"{len(text):,}",
                "age": seg.turns_unused(ledger.clock), "turn": ledger.clock, "reason": why, "handle": seg.handle,
                "args": args_summary(seg.args_text), "args_digest": args_digest(seg.args_text),
            }
            shown = render(style, text, fields, seg.tokens, functools.partial(ledger.new_terms, seg, also=carried, going=going),
                           revisited=seg.reads_file or seg.is_error)
            tokens = count(shown.text) + MESSAGE_OVERHEAD
            if tokens > (1 - self.min_saving) * seg.tokens:
                out.append(Decision(seg, KEEP, rules.MIN_SAVING,
                                    f"kept: a placeholder ({tokens} tokens) would save too little", final=True))
                continue
            carried.update(map(hash, shown.carried))
            prunes.append(Decision(seg, PRUNE, code, why, shown, tokens))
        return prunes

    def _protected_ordinal(self, ledger: Ledger) -> int:
        """Tool results from this ordinal on fall inside the newest `protect_tokens` of tool output."""
        if not self.protect_tokens:
            return ledger.n_tool
        seen = 0
        for seg in reversed(ledger.segments):
            if seg.kind != "tool_result":
                continue
            if seen >= self.protect_tokens:
                return seg.ordinal + 1
            seen += seg.tokens
        return 0


def _prune_reason(seg: Segment, rule: ToolRule, ledger: Ledger, own: ToolRule | None) -> tuple[str, str]:
    """(rule code, reason) of the first prune rule that fires, or ("", "")."""
    if rule.supersede and seg.superseded_by:
        return rules.SUPERSEDED, "superseded: " + seg.superseded_reason
    if rule.max_age is not None and seg.turns_unused(ledger.clock) > rule.max_age:
        return rules.UNUSED, "unused"
    if rule.keep_last is not None:
        if own is not None and own.keep_last is not None:
            newer = ledger.tool_count(seg.tool_name or "") - seg.tool_ordinal - 1
            scope = f"{seg.tool_name} results"
        else:
            newer = ledger.n_tool - seg.ordinal - 1
            scope = "tool results"
        if newer >= rule.keep_last:
            return rules.KEEP_LAST, f"older than the last {rule.keep_last} {scope}"
    if rule.max_tokens is not None and seg.tokens > rule.max_tokens:
        return rules.SIZE_CAP, f"over the {rule.max_tokens}-token size cap"
    if rule.max_chars is not None and seg.chars > rule.max_chars:
        return rules.SIZE_CAP, f"over the {rule.max_chars}-character size cap"
    return "", ""
