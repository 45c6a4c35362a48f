"""A step's decisions in words, for the context span's `output.value` (Datadog shows only
`input.value` / `output.value` of workflow spans; the `contextkit.*` attributes never reach it):
tokens before and after, what was pruned, restored, kept and why, what fitting the window and
compaction did. Built from the segments that changed and running counts, never the whole manifest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from contextkit.records import PrepareReport

_SHOWN = 12  # segments listed by name per group; the rest are counted

# what a kept tool result's rule code means, for the "kept" line
_KEPT_WHY = {
    "new": "new or not yet due",
    "pinned": "pinned",
    "too_small": "too small to be worth a placeholder",
    "min_saving": "a placeholder would save too little",
    "cache_wait": "waiting: pruning now would rewrite more cached prompt than it saves",
    "would_break": "an edit would break the request",
    "restored": "restored",
    "reinstated": "reinstated",
}


def input_text(report: PrepareReport, new: int) -> str:
    return (f"prepare at step {report.step}: {report.messages:,} messages, {report.tokens_before:,} tokens as the "
            f"agent sent them ({new:,} segment{'s' if new != 1 else ''} new at this step)")


def decisions_text(report: PrepareReport, changed: list[dict], kept: Counter, mask: Callable[[Any], Any]) -> str:
    """`changed`: this step's changed segments (handle, tool_name, state, rule, reason, tokens,
    sent_tokens); `kept`: rule code -> tool results kept whole in the whole manifest."""
    before, after = report.tokens_before, report.tokens_after
    saved = before - after
    pct = f", {saved / before:.0%}" if before else ""
    lines = [f"step {report.step}: {before:,} -> {after:,} tokens sent ({-saved:+,}{pct}); {report.messages:,} messages."]
    by_handle = {c["handle"]: c for c in changed}
    if report.pruned:
        lines.append(f"pruned {len(report.pruned)} (placeholders; each restorable by its handle):")
        for handle, reason in report.pruned[:_SHOWN]:
            c = by_handle.get(handle, {})
            size = f", {c['tokens']:,} -> {c['sent_tokens']:,} tokens" if c.get("tokens") is not None else ""
            rule = f" (rule {c['rule']})" if c.get("rule") else ""
            lines.append(f"  {handle} {c.get('tool_name') or ''}{size}: {mask(reason)}{rule}".replace("  :", ":"))
        if len(report.pruned) > _SHOWN:
            lines.append(f"  ... and {len(report.pruned) - _SHOWN} more")
    restored = [c for c in changed if c["state"] == "restored"]
    if restored:
        lines.append(f"restored {len(restored)}: " + "; ".join(
            f"{c['handle']} {c.get('tool_name') or ''}: {mask(c['reason'])}" for c in restored[:_SHOWN]))
    other = [c for c in changed if c["state"] not in ("pruned", "restored") and c.get("rule") in
             ("reasoning_cleared", "reasoning_restored", "arguments_cleared", "arguments_cut", "compacted", "would_break")]
    if other:
        counts = Counter(c["rule"] for c in other)
        lines.append("also: " + ", ".join(f"{n} {rule.replace('_', ' ')}" for rule, n in counts.most_common()))
    if kept:
        total = sum(kept.values())
        parts = ", ".join(f"{n} {_KEPT_WHY.get(rule, rule)}" for rule, n in kept.most_common())
        lines.append(f"kept whole: {total:,} tool result{'s' if total != 1 else ''} ({parts}).")
    if not report.pruned and not restored and saved == 0:
        lines.append("nothing pruned at this step.")
    for note in report.notes:
        lines.append(mask(note))
    if report.fallback:
        lines.append(f"sent unpruned: {mask(report.fallback)}")
    if report.error:
        lines.append(f"internal error (the request went unchanged): {mask(report.error)}")
    return "\n".join(lines)
