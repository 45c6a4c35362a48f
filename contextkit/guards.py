"""Guards: what a session checks around each model call and each tool execution.

    Session(budget=Budget(max_dollars=2.0, max_steps=50),      # contextkit/budget.py
            loop_guard=LoopGuard(repeats=3, window=10),         # contextkit/loops.py
            breaker=CircuitBreaker(failures=3, cooldown_s=60))  # contextkit/breaker.py

A guard never sends anything. It returns `GuardEvent`s; the caller (contextkit/calls.py for model
calls, contextkit/tools.py for tools) records them on the step and then acts on them here: log a
warning, call the user's callback, or raise.
"""

from __future__ import annotations

import logging
from typing import Any

from .breaker import CircuitBreaker
from .budget import Budget
from .errors import BudgetExceeded, LoopDetected, PolicyConfigError
from .loops import LOOP_KINDS, LoopGuard
from .records import GuardEvent

log = logging.getLogger("contextkit")

BUDGET_KINDS = ("budget", "budget_warning", "budget_cap", "throttle")

__all__ = ["Budget", "LoopGuard", "CircuitBreaker", "act", "check_config", "BUDGET_KINDS", "LOOP_KINDS"]


def act(events: list[GuardEvent], budget: Any, loop_guard: Any) -> BaseException | None:
    """Warn or call back for each event; return the exception to raise (the first "raise" event's),
    or the exception a callback raised. The caller records the step before raising it."""
    for ev in events:
        if ev.action == "warn":
            log.warning("contextkit %s guard: %s", ev.kind, ev.message)
        elif ev.action == "callback":
            handler = budget.on_limit if ev.kind in BUDGET_KINDS else loop_guard.on_loop
            try:
                handler(ev)
            except BaseException as e:  # noqa: BLE001 - the user's way to stop the run
                return e
    for ev in events:
        if ev.action == "raise":
            return (BudgetExceeded if ev.kind in BUDGET_KINDS else LoopDetected)(ev.message, ev)
    return None


def check_config(budget: Any, loop_guard: Any, breaker: Any = None) -> None:
    """Raise PolicyConfigError if Session(budget=, loop_guard=, breaker=) were given something else."""
    if budget is not None and not isinstance(budget, Budget):
        raise PolicyConfigError(f"expected a contextkit.Budget or None, got {type(budget).__name__}", "Session.budget")
    if loop_guard is not None and not isinstance(loop_guard, LoopGuard):
        raise PolicyConfigError(f"expected a contextkit.LoopGuard or None, got {type(loop_guard).__name__}", "Session.loop_guard")
    if breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise PolicyConfigError(f"expected a contextkit.CircuitBreaker or None, got {type(breaker).__name__}", "Session.breaker")
