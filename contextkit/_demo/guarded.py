"""The `--faults` run of `contextkit demo`: the coding agent with every guard on (budget, loop guard,
circuit breaker, quarantine), a step line naming what fired, and a summary of the guard events and
result flags as the session recorded them (the same GuardEvents the trace store holds)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from ..breaker import CircuitBreaker
from ..budget import Budget
from ..loops import LoopGuard
from . import summary

BUDGET_USD = 0.03  # less than the run costs at gpt-4.1's prices, its prompt cache counted: the budget warns, pauses and is resumed
TOP_UP_USD = 0.03
_QUIET = ("budget_cap",)  # on every call of this small budget: counted in the summary, not on each line


def session(policy: Any, model: str, prices: dict, traced: bool, say: Any) -> Any:
    """A Session with every guard; the budget's `on_pause` plays the operator who tops it up."""
    from ..session import Session
    from . import workspace

    quarantine = tuple(dict.fromkeys((*policy.quarantine, "injection")))
    holder: dict = {}

    def operator(ev: Any) -> None:
        say(f"        budget paused at step {ev.step}: {ev.message.split(': ', 1)[-1]}")
        say(f"        the operator adds ${TOP_UP_USD:.2f}: Budget(on_pause=...) calls session.resume(extra_dollars={TOP_UP_USD})")
        holder["session"].resume(extra_dollars=TOP_UP_USD)

    s = Session(policy.replace(quarantine=quarantine), model=model, name="contextkit-demo --faults", prices=prices,
                tags=["demo", "faults"], tracing=None if traced else False,
                metadata={"task": workspace.TASK, "scripted": True, "faults": True},
                budget=Budget(max_dollars=BUDGET_USD, on_limit="pause", on_pause=operator, pause_timeout=30),
                loop_guard=LoopGuard(on_loop="warn"), breaker=CircuitBreaker(failures=3, cooldown_s=60))
    holder["session"] = s
    return s


def step_line(rec: Any) -> str:
    line = summary.step_line(rec)
    fired = [f"{e.kind}{'(' + e.tool + ')' if e.tool else ''}" for e in rec.guard_events if e.kind not in _QUIET]
    return line + ("  " + ", ".join(fired) if fired else "")


def render(s: Any, tools: Any, seconds: float) -> str:
    """The guards' summary: what fired, on which step, and the flags on the ledger."""
    events = [e for rec in s.steps for e in rec.guard_events]
    kinds = Counter(e.kind for e in events)
    lines = [f"  steps         {len(s.steps)} model calls, {len(s.tool_records)} tool calls, {seconds:.1f} s; "
             f"{sum(kinds.values())} guard events on the steps"]
    add = lines.append
    for ev in events:
        if ev.kind in ("breaker_open", "breaker_rejected", "retry_storm", "polling", "quarantine", "budget", "budget_warning"):
            add(f"  step {ev.step:>3}     {ev.kind:<17} {ev.message}")
    caps = [e for e in events if e.kind == "budget_cap"]
    if caps:
        add(f"  budget        max_tokens capped on {len(caps)} calls (the smallest cap {min(int(e.value or 0) for e in caps):,} "
            f"tokens); ${s.budget.spent['dollars']:.4f} spent of ${s.budget.max_dollars:.2f} (after the top-up)")
    not_run = sum(1 for r in s.tool_records if r.breaker == "open")
    ran = ", ".join(f"{name} ran {n}x" for name, n in sorted(tools.runs.items()))
    add(f"  breaker       {not_run} calls not run (the model read why, and until when); {ran}")
    flagged = [r for r in s.segments() if r["flags"]]
    add(f"  flags         {len(flagged)} tool results flagged on the ledger (session.segments()):")
    for r in flagged:
        seg = s.ledger.get(r["handle"])
        what = summary._call_text(r["tool_name"] or "tool", seg.args_text if seg is not None else "")
        state = f" ({r['state']}: {r['rule']})" if r["rule"] == "quarantined" else ""
        add(f"                  {r['handle']:<6} {', '.join(r['flags']):<22} {what[:60]}{state}")
    return "\n".join(lines)


def run(root: Any, policy: Any, model: str, prices: dict, max_steps: int, traced: bool, say: Any) -> tuple[Any, Any, Any, float]:
    """Run the agent in `root`; returns (session, agent run or None, the faulty toolbox, seconds)."""
    from .agent import run_agent
    from .faults import TASK, FaultyTools

    tools = FaultyTools(root)
    s = session(policy, model, prices, traced, say)
    result = None
    log = logging.getLogger("contextkit")
    quiet = _GuardLines()
    log.addFilter(quiet)  # the step lines say what fired; the guards' own warning lines would repeat it
    t0 = time.perf_counter()
    try:
        with s:
            result = run_agent(s, model, TASK, tools, max_steps=max_steps, on_step=lambda rec, _r: say(step_line(rec)))
    finally:
        log.removeFilter(quiet)
    return s, result, tools, time.perf_counter() - t0


class _GuardLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("contextkit %s guard")
