"""A circuit breaker per tool: after `failures` failures in a row a tool is not run for `cooldown_s`
seconds, and the model is told so instead of meeting the same failure again.

    breaker = contextkit.CircuitBreaker(failures=3, cooldown_s=60)
    session = contextkit.Session(breaker=breaker)      # one breaker may guard many sessions

A failure is a failure of the tool itself, not of how it was asked: an exception from the tool
(`session.run_tool`, `session.tool(...)`) other than the caller's own mistakes (a missing file, a
bad argument: LookupError, ValueError, TypeError, FileNotFoundError and its kin), or a result that
says its transport failed (a timeout, a refused connection, HTTP 429/5xx; see
`faults.transport_error`). Anything else, "not found" included, is a success: the tool answered.
`is_failure(exception, result_text) -> bool` replaces that judgement.

States, per tool name: closed (runs), open (not run until the cooldown ends), half-open (after
the cooldown one call is let through: success closes the breaker, failure opens it again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from . import faults
from .errors import PolicyConfigError
from .records import GuardEvent

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
# exceptions that say the call was wrong, not that the tool is down
CALLER_MISTAKES: tuple[type[BaseException], ...] = (
    LookupError, ValueError, TypeError, FileNotFoundError, IsADirectoryError, NotADirectoryError, FileExistsError, PermissionError,
)


@dataclass
class _Tool:
    state: str = CLOSED
    failures: int = 0  # consecutive
    last_error: str = ""
    opened_at: float = 0.0  # monotonic
    until_epoch: float = 0.0
    trial: bool = False  # a half-open call is running


@dataclass(frozen=True)
class Admission:
    """What the breaker says about one call: run it (a trial when half-open), or not (`message`)."""

    run: bool
    state: str
    message: str = ""
    until: float = 0.0  # epoch seconds
    event: GuardEvent | None = None


class CircuitBreaker:
    """Per-tool breaker (see the module docstring). Thread-safe; shared by the sessions given it."""

    def __init__(self, failures: int = 3, cooldown_s: float = 60.0, *,
                 is_failure: Callable[[BaseException | None, str | None], bool] | None = None):
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise PolicyConfigError(f"expected an integer >= 1, got {failures!r}", "CircuitBreaker.failures")
        if isinstance(cooldown_s, bool) or not isinstance(cooldown_s, (int, float)) or not cooldown_s > 0 or cooldown_s == float("inf"):
            raise PolicyConfigError(f"expected a finite number of seconds > 0, got {cooldown_s!r}", "CircuitBreaker.cooldown_s")
        if is_failure is not None and not callable(is_failure):
            raise PolicyConfigError(f"expected a callable (exception, result text) -> bool or None, got {type(is_failure).__name__}",
                                    "CircuitBreaker.is_failure")
        self.failures = failures
        self.cooldown_s = float(cooldown_s)
        self.is_failure = is_failure
        self._tools: dict[str, _Tool] = {}
        self._lock = threading.Lock()
        self._clock = time.monotonic  # tests may replace it
        self._wall = time.time

    def __repr__(self) -> str:
        return f"CircuitBreaker(failures={self.failures}, cooldown_s={self.cooldown_s:g})"

    def state(self, tool: str) -> str:
        """closed, open or half_open (open turns half_open once its cooldown has passed)."""
        with self._lock:
            t = self._tools.get(tool)
            if t is None:
                return CLOSED
            if t.state == OPEN and self._clock() - t.opened_at >= self.cooldown_s:
                return HALF_OPEN
            return t.state

    # ------------------------------------------------------------------ around one execution

    def admit(self, tool: str, step: int) -> Admission:
        """Before running `tool`: may it run?"""
        with self._lock:
            t = self._tools.get(tool)
            if t is None or t.state == CLOSED:
                return Admission(True, CLOSED)
            now = self._clock()
            left = self.cooldown_s - (now - t.opened_at)
            if t.state == OPEN and left <= 0:
                t.state = HALF_OPEN
            if t.state == HALF_OPEN and not t.trial:
                t.trial = True
                ev = GuardEvent("breaker_half_open", "failures", "trial",
                                f"circuit breaker: {tool} is tried again after its {self.cooldown_s:g} s cooldown (step {step})",
                                step, value=t.failures, threshold=self.failures, tool=tool)
                return Admission(True, HALF_OPEN, event=ev)
            left = max(left, 0.0) if t.state == OPEN else self.cooldown_s  # half-open, trial running: wait a cooldown
            until = self._wall() + left
            message = unavailable_message(tool, t.failures, t.last_error, until, left)
            ev = GuardEvent("breaker_rejected", "failures", "reject",
                            f"circuit breaker: {tool} not run at step {step}, open for {left:.0f} s more", step,
                            value=t.failures, threshold=self.failures, tool=tool, seconds=round(left, 3), until=round(until, 3))
            return Admission(False, OPEN, message, until, ev)

    def record(self, tool: str, step: int, error: BaseException | None, result: str | None) -> GuardEvent | None:
        """After running `tool`: count the outcome; the event of a state change, if any."""
        failed, why = self._judge(error, result)
        with self._lock:
            t = self._tools.setdefault(tool, _Tool())
            was = t.state
            t.trial = False
            if not failed:
                t.state, t.failures = CLOSED, 0
                if was == HALF_OPEN:
                    return GuardEvent("breaker_closed", "failures", "close",
                                      f"circuit breaker: {tool} answered again at step {step}; closed", step,
                                      value=0, threshold=self.failures, tool=tool)
                return None
            t.failures += 1
            t.last_error = why
            if was == HALF_OPEN or t.failures >= self.failures:
                t.state, t.opened_at = OPEN, self._clock()
                t.until_epoch = self._wall() + self.cooldown_s
                again = " again (its trial call failed)" if was == HALF_OPEN else ""
                return GuardEvent("breaker_open", "failures", "open",
                                  f"circuit breaker: {tool} failed {t.failures} times in a row (last: {why}); open{again} "
                                  f"for {self.cooldown_s:g} s", step, value=t.failures, threshold=self.failures, tool=tool,
                                  seconds=self.cooldown_s, until=round(t.until_epoch, 3))
            return None

    def _judge(self, error: BaseException | None, result: str | None) -> tuple[bool, str]:
        if self.is_failure is not None:
            failed = bool(self.is_failure(error, result))
            why = f"{type(error).__name__}: {error}" if error is not None else (result or "")[:160]
            return failed, why[:200]
        if error is not None:
            if isinstance(error, CALLER_MISTAKES) and not isinstance(error, (TimeoutError, ConnectionError)):
                return False, ""
            return True, f"{type(error).__name__}: {error}"[:200]
        transport = faults.transport_error(result or "")
        return (transport is not None), (transport or "")


def unavailable_message(tool: str, failures: int, last_error: str, until: float, left: float) -> str:
    """What the model reads instead of the tool's result while its breaker is open."""
    at = datetime.fromtimestamp(until, timezone.utc).strftime("%H:%M:%S UTC")
    last = f" (last: {last_error})" if last_error else ""
    return (f"Error: the tool {tool!r} is unavailable until {at} (in {max(left, 0):.0f} s): it failed {failures} times in a row"
            f"{last}, so it was not run. Do not call it again before then; go on without it or use another tool.")
