"""Pruning policies: which tool results to replace with placeholders, and when.

A policy is plain data. Its rules compose: a kept tool result is pruned when any prune rule fires
(`superseded`, `max_age`, `keep_last`, `max_tokens` / `max_chars`) and no guard holds (pinned or
excluded tool, too small to be worth it, inside the protected recent turns or tokens, or not yet
seen by the model). Every rule can be overridden per tool with a `ToolRule`.

Decisions are sticky: a pruned result stays pruned, so the prompt prefix up to the newest edit
stays byte-identical and the provider's prompt cache keeps working. Batches (`clear_at_least`,
`batch_slack`) make edits rare, and `min_cache_gain` skips an edit whose cache rewrite would cost
more than it saves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from .ledger import KEPT, PINNED, Ledger, Segment


@dataclass(frozen=True)
class Placeholder:
    """What a pruned result becomes. Fields in `template`: {tool} {tokens} {chars} {age} {reason}
    {handle} {args} {args_digest} {preview_chars}. head/tail previews and key lines are appended."""

    template: str = '[pruned {tool} #{args_digest}, {tokens} tokens, age {age}, {reason}; restore_context("{handle}")]'
    head_chars: int = 0
    tail_chars: int = 0
    key_lines: int = 0  # lines with errors, file:line references or failing tests, kept verbatim
    key_line_chars: int = 160
    key_terms: int = 0  # identifiers, paths and ids it held that nothing else in the request carries


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
    max_age: int | None = None  # prune when unused for more than N steps
    max_tokens: int | None = None  # prune results larger than this (size cap)
    max_chars: int | None = None  # the same cap in characters
    min_tokens: int = 0  # never prune results smaller than this (a placeholder would not pay)
    min_saving: float = 0.0  # prune only if the placeholder is at least this fraction smaller
    supersede: bool = False  # prune results made stale by a later call
    pin: bool = False
    tools: Mapping[str, ToolRule] = field(default_factory=dict)
    include_tools: tuple[str, ...] | None = None  # only these tools are ever pruned
    exclude_tools: tuple[str, ...] = ()  # these tools are never pruned
    # guards
    protect_recent_turns: int = 1  # results answered within the last N assistant turns stay
    protect_tokens: int = 0  # the newest N tokens of tool output stay
    # cache awareness
    batch_slack: int = 0  # when a batch runs, also take results within this many steps of max_age
    min_cache_gain: float = 0.0  # freed tokens x this >= tokens re-written after the edit, or wait
    # how
    placeholder: Placeholder = Placeholder()
    clear_tool_inputs: bool = False  # also blank the arguments of the pruned result's call
    keep_thinking_turns: int | None = None  # drop reasoning of assistant turns older than N
    enabled: bool = True
    description: str = ""
    source: str = ""

    def replace(self, **changes) -> "Policy":
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

    def decide(self, ledger: Ledger, step: int, context_window: int | None = None) -> list[tuple[Segment, str]]:
        """The tool results to prune at this step, each with the reason. Pins are recorded on the way."""
        if not self.enabled or not ledger.open:
            return []
        context = ledger.raw_tokens if self.trigger_basis == "raw" else ledger.sent_tokens
        trigger = self.trigger_tokens
        if self.trigger_fraction is not None and context_window:
            trigger = max(trigger, int(self.trigger_fraction * context_window))
        if context < trigger:
            return []
        ledger.open = [s for s in ledger.open if s.state == KEPT]  # pruned last step: no longer candidates
        protected_from = self._protected_ordinal(ledger)
        rules: dict[str | None, ToolRule] = {}
        victims: list[tuple[Segment, str]] = []
        near: list[tuple[Segment, str]] = []
        small: list[Segment] = []  # never worth pruning under this policy: leave the candidates
        for seg in ledger.open:
            rule = rules.get(seg.tool_name)
            if rule is None:
                rule = rules[seg.tool_name] = self.rule_for(seg.tool_name)
            if rule.pin:
                seg.state, seg.reason = PINNED, "pinned by policy (never pruned)"
                continue
            if rule.min_tokens and seg.tokens < rule.min_tokens:
                seg.reason = f"kept: smaller than {rule.min_tokens} tokens"
                small.append(seg)
                continue
            if seg.first_seen >= step or seg.ordinal >= protected_from:
                continue
            if ledger.n_assistant - seg.turn < self.protect_recent_turns:
                continue
            why = _prune_reason(seg, rule, ledger, step, self.tools.get(seg.tool_name or ""))
            if why:
                victims.append((seg, why))
            elif self.batch_slack and rule.max_age is not None and seg.age(step) > rule.max_age - self.batch_slack:
                near.append((seg, "unused (batched)"))
        if small:
            gone = set(map(id, small))
            ledger.open = [s for s in ledger.open if s.state == KEPT and id(s) not in gone]
        else:
            ledger.open = [s for s in ledger.open if s.state == KEPT]
        if not victims:
            return []
        victims.extend(near)
        gain = sum(max(0, s.tokens - self.placeholder_estimate()) for s, _ in victims)
        if self.clear_at_least and gain < self.clear_at_least:
            return []
        if self.min_cache_gain:
            first = min(s.index for s, _ in victims)
            rewritten = sum(s.sent_tokens for s in ledger.segments[first:]) - gain
            if gain * self.min_cache_gain < rewritten:
                return []
        victims.sort(key=lambda v: v[0].index)
        return victims

    def placeholder_estimate(self) -> int:
        p = self.placeholder
        return 30 + (p.head_chars + p.tail_chars + p.key_lines * p.key_line_chars // 2) // 4 + min(p.key_terms, 20) * 3

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


def _prune_reason(seg: Segment, rule: ToolRule, ledger: Ledger, step: int, own: ToolRule | None) -> str:
    if rule.supersede and seg.superseded_by:
        return "superseded: " + seg.superseded_reason
    if rule.max_age is not None and seg.age(step) > rule.max_age:
        return "unused"
    if rule.keep_last is not None:
        if own is not None and own.keep_last is not None:
            newer = ledger.tool_count(seg.tool_name or "") - seg.tool_ordinal - 1
            scope = f"{seg.tool_name} results"
        else:
            newer = ledger.n_tool - seg.ordinal - 1
            scope = "tool results"
        if newer >= rule.keep_last:
            return f"older than the last {rule.keep_last} {scope}"
    if rule.max_tokens is not None and seg.tokens > rule.max_tokens:
        return f"over the {rule.max_tokens}-token size cap"
    if rule.max_chars is not None and seg.chars > rule.max_chars:
        return f"over the {rule.max_chars}-character size cap"
    return ""
