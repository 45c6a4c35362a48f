"""Guards: per-session budgets and loop detection, checked before each model call.

A guard never sends anything: it looks at what the session has already spent (its `steps`) and at
what the next call will send (the pruned request), and returns `GuardEvent`s. The caller
(contextkit/calls.py) records them on the step and then acts: raise, warn, or call back.

    Session(budget=Budget(max_dollars=2.0, max_steps=50), loop_guard=LoopGuard(repeats=3, window=10))
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from .errors import BudgetExceeded, LoopDetected, PolicyConfigError
from .messages import content_text, parse_arguments
from .records import GuardEvent

log = logging.getLogger("contextkit")

Action = Any  # "raise" | "warn" | a callable taking the GuardEvent


def _check_action(value: Any, where: str) -> None:
    if value in ("raise", "warn") or callable(value):
        return
    raise PolicyConfigError(f"expected 'raise', 'warn' or a callable taking the GuardEvent, got {value!r}", where)


def _check_limit(value: Any, where: str, integer: bool, minimum: float) -> None:
    if value is None:
        return
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or value != value or value < minimum:
        kind = "an integer" if integer else "a number"
        raise PolicyConfigError(f"expected {kind} >= {minimum:g} or None, got {value!r}", where)


@dataclass(frozen=True)
class Estimate:
    """What the next call is expected to add, before it is made."""

    input_tokens: int
    output_tokens: int = 0  # max_tokens when the caller set it, else 0 (unknown until the answer)
    cost_usd: float | None = None


@dataclass(frozen=True)
class Spent:
    """What a session has used so far (successful calls only; a failed call bills nothing)."""

    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


def spent(steps: list) -> Spent:
    n = inp = out = 0
    cost = 0.0
    for rec in steps:
        if rec.error is not None:
            continue
        n += 1
        inp += rec.input_tokens or 0
        out += rec.output_tokens or 0
        cost += rec.cost_usd or 0.0
    return Spent(n, inp, out, cost)


@dataclass
class Budget:
    """Per-session limits. Each is checked before a call, against what the session has spent plus the
    call's estimate (its pruned input; `max_tokens` as output when set). `on_limit`: "raise"
    (`BudgetExceeded`, nothing is sent), "warn" (log and send), or a callable given the `GuardEvent`
    (send unless it raises). Limits are cumulative over the session's successful calls."""

    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    max_dollars: float | None = None
    max_steps: int | None = None
    on_limit: Action = "raise"

    def __post_init__(self) -> None:
        for name in ("max_input_tokens", "max_total_tokens", "max_steps"):
            _check_limit(getattr(self, name), f"Budget.{name}", True, 1)
        _check_limit(self.max_dollars, "Budget.max_dollars", False, 0)
        _check_action(self.on_limit, "Budget.on_limit")

    def check(self, done: Spent, next_call: Estimate, step: int) -> list[GuardEvent]:
        """The limits the next call would cross (empty if none)."""
        events = []
        act = self.on_limit if isinstance(self.on_limit, str) else "callback"

        def over(limit: str, value: float, threshold: float, what: str) -> None:
            msg = f"budget {limit}={threshold:g} would be crossed at step {step}: {what}"
            events.append(GuardEvent("budget", limit, act, msg, step, value=value, threshold=threshold))

        if self.max_steps is not None and done.steps + 1 > self.max_steps:
            over("max_steps", done.steps + 1, self.max_steps, f"this would be model call {done.steps + 1}")
        if self.max_input_tokens is not None:
            total = done.input_tokens + next_call.input_tokens
            if total > self.max_input_tokens:
                over("max_input_tokens", total, self.max_input_tokens,
                     f"{done.input_tokens} input tokens used + ~{next_call.input_tokens} in this request")
        if self.max_total_tokens is not None:
            total = done.input_tokens + done.output_tokens + next_call.input_tokens + next_call.output_tokens
            if total > self.max_total_tokens:
                over("max_total_tokens", total, self.max_total_tokens,
                     f"{done.input_tokens + done.output_tokens} tokens used + ~{next_call.input_tokens + next_call.output_tokens} for this call")
        if self.max_dollars is not None and next_call.cost_usd is not None:
            total = done.cost_usd + next_call.cost_usd
            if total > self.max_dollars:
                over("max_dollars", round(total, 6), self.max_dollars,
                     f"${done.cost_usd:.4f} spent + ~${next_call.cost_usd:.4f} for this request")
        return events


@dataclass
class _LoopState:
    seen: set = field(default_factory=set)  # handles of tool results already counted
    history: dict = field(default_factory=dict)  # (tool, arguments, result digest) -> [steps]


class LoopGuard:
    """Detects an agent going round in circles: the same tool call (name and arguments) with the same
    result `repeats` times within the last `window` steps. Read from the messages the session sees,
    so it works whichever way the agent runs its tools. `on_loop`: "raise" (`LoopDetected` before the
    next call is sent), "warn", or a callable given the `GuardEvent`."""

    def __init__(self, repeats: int = 3, window: int = 10, on_loop: Action = "raise"):
        _check_limit(repeats, "LoopGuard.repeats", True, 2)
        _check_limit(window, "LoopGuard.window", True, 1)
        _check_action(on_loop, "LoopGuard.on_loop")
        self.repeats = repeats
        self.window = window
        self.on_loop = on_loop
        self._state: "weakref.WeakKeyDictionary[Any, _LoopState]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LoopGuard(repeats={self.repeats}, window={self.window}, on_loop={self.on_loop!r})"

    def check(self, session: Any, step: int) -> list[GuardEvent]:
        """Loops completed by the tool results new since the last check (one event per repeat)."""
        with self._lock:
            state = self._state.get(session)
            if state is None:
                state = self._state[session] = _LoopState()
        new = []
        for seg in reversed(session.ledger.segments):  # new results are at the end: stop at the first seen
            if seg.handle in state.seen:
                break
            state.seen.add(seg.handle)
            if seg.kind == "tool_result":
                new.append(seg)
        events = []
        act = self.on_loop if isinstance(self.on_loop, str) else "callback"
        for seg in reversed(new):
            key = (seg.tool_name, _canonical(seg.args_text), _digest(session.ledger.original(seg.handle)))
            steps = [s for s in state.history.get(key, ()) if s > step - self.window]
            steps.append(seg.first_seen)
            state.history[key] = steps
            if len(steps) >= self.repeats:
                msg = (
                    f"loop: {seg.tool_name}({_short(seg.args_text)}) returned the same result {len(steps)} times "
                    f"within {self.window} steps (steps {', '.join(map(str, steps))})"
                )
                events.append(GuardEvent("loop", "loop", act, msg, step, value=len(steps), threshold=self.repeats))
        return events


def _canonical(args_text: str) -> str:
    parsed = parse_arguments(args_text)
    return json.dumps(parsed, sort_keys=True, ensure_ascii=False) if parsed is not None else (args_text or "").strip()


def _digest(message: dict | None) -> str:
    text = content_text((message or {}).get("content"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _short(text: str, n: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 3] + "..."


def act(events: list[GuardEvent], budget: Any, loop_guard: Any) -> BaseException | None:
    """Warn or call back for each event; return the exception to raise (the first "raise" event's),
    or the exception a callback raised. The caller records the step before raising it."""
    for ev in events:
        handler = budget.on_limit if ev.kind == "budget" else loop_guard.on_loop
        if handler == "warn":
            log.warning("contextkit %s guard: %s", ev.kind, ev.message)
        elif callable(handler):
            try:
                handler(ev)
            except BaseException as e:  # noqa: BLE001 - the user's way to stop the run
                return e
    for ev in events:
        if ev.action == "raise":
            return (BudgetExceeded if ev.kind == "budget" else LoopDetected)(ev.message, ev)
    return None


def check_config(budget: Any, loop_guard: Any) -> None:
    """Raise PolicyConfigError if Session(budget=, loop_guard=) were given something else."""
    if budget is not None and not isinstance(budget, Budget):
        raise PolicyConfigError(f"expected a contextkit.Budget or None, got {type(budget).__name__}", "Session.budget")
    if loop_guard is not None and not isinstance(loop_guard, LoopGuard):
        raise PolicyConfigError(f"expected a contextkit.LoopGuard or None, got {type(loop_guard).__name__}", "Session.loop_guard")
