"""What the demo prints: one line per step while it runs, and the summary at the end.

The figures come from the session's own records (what the middleware measured); the tests check
that they agree with the trace store, which is built independently from the spans. "Saved" means
what it means in the viewer and in docs/cost.md: what the same calls would have cost unpruned,
with the provider's prompt cache as it reported it, minus what they cost. The head-to-head against
a second run without pruning is another measurement, and is named so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..restore import RESTORE_TOOL_NAME

_WIDTH = 52  # the "what the agent did" column


@dataclass
class Totals:
    steps: int = 0
    tool_calls: int = 0
    restores: int = 0
    input_tokens: int = 0  # as billed: the pruned requests, tools included
    pruned_tokens: int = 0  # what pruning kept out of the requests (contextkit's count, summed over steps)
    output_tokens: int = 0
    cost_usd: float | None = None
    saved_usd: float | None = None  # docs/cost.md: unpruned with the provider's cache, minus the cost
    pruned: list[tuple[str, str, str]] = field(default_factory=list)  # (handle, what it was, reason)

    @property
    def unpruned_usd(self) -> float | None:
        """What the same calls would have cost unpruned (the cost plus what was saved)."""
        return None if self.cost_usd is None else self.cost_usd + (self.saved_usd or 0.0)

    @property
    def saved_share(self) -> float | None:
        """Saved, as a share of what the calls would have cost unpruned (the one percentage)."""
        u = self.unpruned_usd
        return (self.saved_usd or 0.0) / u if u else None


def totals(session: Any) -> Totals:
    t = Totals(steps=len(session.steps), tool_calls=len(session.tool_records))
    t.restores = sum(1 for r in session.tool_records if r.name == RESTORE_TOOL_NAME)
    for rec in session.steps:
        t.input_tokens += rec.input_tokens or 0
        t.output_tokens += rec.output_tokens or 0
        t.pruned_tokens += rec.tokens_before - rec.tokens_after
        if rec.cost_usd is not None:
            t.cost_usd = (t.cost_usd or 0.0) + rec.cost_usd
        if rec.saved_usd is not None:
            t.saved_usd = (t.saved_usd or 0.0) + rec.saved_usd
    for report in session.reports:
        for handle, reason in report.pruned:
            t.pruned.append((handle, _what(session, handle), reason))
    return t


def _what(session: Any, handle: str) -> str:
    seg = session.ledger.get(handle)
    if seg is None:
        return "a tool result"
    return _call_text(seg.tool_name or "tool", seg.args_text)


def _call_text(name: str, arguments: Any) -> str:
    """`read_file invoicer/money.py`: a tool call in a few words."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else (arguments or {})
    except ValueError:
        args = {}
    if not isinstance(args, dict):
        args = {}
    main = next((args[k] for k in ("path", "command", "pattern", "handle") if isinstance(args.get(k), str)), "")
    if name == "grep" and args.get("pattern"):
        main = repr(args["pattern"])
    return f"{name} {' '.join(main.split())}".strip()


def step_line(rec: Any) -> str:
    calls = (rec.response_message or {}).get("tool_calls") or []
    did = ", ".join(_call_text(c["function"]["name"], c["function"]["arguments"]) for c in calls) or "(final answer)"
    if rec.error:
        did = f"error: {rec.error}"
    if len(did) > _WIDTH:
        did = did[: _WIDTH - 3] + "..."
    sent = rec.input_tokens or 0
    raw = sent + rec.tokens_before - rec.tokens_after
    pruned = len(rec.prepare.pruned) if rec.prepare is not None else 0
    mark = f"  pruned {pruned}" if pruned else ""
    return f"  {rec.step:>4}  {did:<{_WIDTH}} {sent:>7,} {raw:>9,}{mark}"


def step_header() -> str:
    return f"  {'step':>4}  {'what the agent did':<{_WIDTH}} {'sent':>7} {'unpruned':>9}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def render(t: Totals, *, seconds: float, priced_as: str | None, prices: tuple[float, ...] | None,
           store: str | None, run_id: str, tracing_on: bool, in_store: bool | None, baseline: Totals | None = None,
           baseline_id: str | None = None) -> str:
    """The summary block (plain text, no colours). `saved` is docs/cost.md's (the viewer's too);
    `baseline` is a second run of the agent with no pruning (stored as `baseline_id`, tagged
    "comparison"): the head-to-head, where the extra steps pruning may cost (re-reads, restores) count."""
    lines: list[str] = []
    add = lines.append
    restores = f" ({t.restores} restore_context)" if t.restores else ""
    add(f"  steps         {_n(t.steps, 'model call')}, {_n(t.tool_calls, 'tool call')}{restores}, {seconds:.1f} s")
    add(f"  tokens        {t.input_tokens:,} input tokens billed; pruning kept {t.pruned_tokens:,} more out of the requests")
    if t.cost_usd is None:
        add("  cost          not priced (litellm's price map has no entry for this model)")
    else:
        add(f"  cost          ${t.cost_usd:.4f}" + (f", priced as {priced_as} from litellm's price map" if priced_as else ""))
        if priced_as and prices:
            per = " / ".join(f"${p * 1e6:.2f}" for p in prices)
            add(f"                ({per} per 1M {'input / cached input / output' if len(prices) == 3 else 'input / output'} tokens)")
        share = t.saved_share
        add(f"  saved         ${t.saved_usd or 0.0:.4f}, {share or 0.0:.0%} of ${t.unpruned_usd:.4f}: what the same "
            f"{_n(t.steps, 'call')} would have cost unpruned,")
        add("                with the prompt cache as the provider reported it (docs/cost.md)")
    if baseline is not None:  # a whole run without pruning: the extra steps pruning cost are counted too
        cost = f", ${baseline.cost_usd:.4f}" if baseline.cost_usd is not None else ""
        stored = f" (stored: run {baseline_id[:12]}, tag comparison)" if baseline_id else ""
        add(f"  head-to-head  the same agent with --policy none{stored}:")
        add(f"                {_n(baseline.steps, 'model call')}, {baseline.input_tokens:,} input tokens{cost}")
        if t.cost_usd is not None and baseline.cost_usd:
            extra = t.steps - baseline.steps
            why = f", its {_n(extra, 'extra step')} (re-reads, restores) included" if extra > 0 else ""
            d = (baseline.cost_usd - t.cost_usd) / baseline.cost_usd
            add(f"                this run cost {abs(d):.0%} {'less' if d >= 0 else 'more'}{why}")
    if t.pruned:
        add(f"  pruned        {len(t.pruned)} tool results, e.g.")
        for handle, what, reason in _examples(t.pruned):
            add(f"                  {handle} {what}: {reason}")
    else:
        add("  pruned        nothing (this policy pruned no tool result)")
    if not tracing_on or store is None:
        add("  traces        off (CONTEXTKIT_TRACING / CONTEXTKIT_TRACE_DB)")
    else:
        where = _short_path(store)
        note = "" if in_store else "  (the run is not in the store yet)"
        add(f"  traces        {where}  (run {run_id[:12]}){note}")
        add("")
        add(f"View the run:   contextkit view {_quote(where)}" + ("   (Compare: the head-to-head)" if baseline_id else ""))
    return "\n".join(lines)


def _examples(pruned: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """One pruned result per kind of reason (unused, superseded, ...), at most three."""
    out, kinds = [], set()
    for handle, what, reason in pruned:
        kind = reason.split(":", 1)[0]
        if kind not in kinds:
            kinds.add(kind)
            out.append((handle, what, reason))
    return out[:3]


def _short_path(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def _quote(path: str) -> str:
    return f'"{path}"' if any(c.isspace() for c in path) else path
