"""Budgets that cannot be overshot: each call reserves what it may cost before it is sent.

    budget = contextkit.Budget(max_dollars=2.0, max_steps=50, on_limit="pause", pause_timeout=600)
    a, b = Session(budget=budget), Session(budget=budget)     # one budget, shared: one agent, many runs

Before a call, the budget reserves the call's input (contextkit's count of the pruned request, with
a margin for tokenizers other than the model's own) and the most it may write: when a dollar or
token limit is set, the output is capped from what is left (`max_tokens`, or `max_completion_tokens`
if that is what the caller uses, is lowered or set), and a call whose input alone would cross the
limit is refused before it is sent. After the call, the reservation becomes the provider's bill
(a failed call bills nothing). Reservations are taken under one lock, so sessions sharing a budget
across threads can never together spend more than it holds; a call kept out only by what calls in
flight hold waits for their bills (up to HELD_WAIT seconds) before it is refused.

`on_limit` says what a call that would cross a limit does:
    "raise"     BudgetExceeded, nothing is sent (the default)
    "warn"      log, record, and send anyway (the limit is a tripwire, not a cap)
    "pause"     block the calling thread until `session.resume(extra_steps=..., extra_dollars=...)`
                raises the limits enough (from another thread, or `on_pause`), or `pause_timeout`
                seconds pass (then BudgetExceeded)
    "throttle"  at most `calls_per_minute` calls a minute under this budget; a call over the rate
                sleeps until a slot frees. The sleep is on the agent's own thread by design: the
                agent is what must slow down. A limit crossed raises as "raise" does.
    a callable  given the GuardEvent; the call is sent unless it raises
`warn_at=0.8`: once a limit is 80% used, a "budget_warning" event (logged once per limit).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import PolicyConfigError
from .records import GuardEvent

log = logging.getLogger("contextkit")

ACTIONS = ("raise", "warn", "pause", "throttle")
LIMITS = ("max_steps", "max_input_tokens", "max_total_tokens", "max_dollars")
# An estimate made with another model's tokenizer (o200k_base for a Claude or Gemini model) can be
# short of the provider's count: the reservation adds this share. The model's own: a small margin
# for message framing the local count approximates.
FOREIGN_TOKENIZER_MARGIN = 0.25
OWN_TOKENIZER_MARGIN = 0.03
UNKNOWN_MAX_OUTPUT = 32_768  # output tokens assumed possible for a model litellm has no figure for
HELD_WAIT = 120.0  # seconds a call waits for calls in flight to bill what they hold, when only they are in its way


@dataclass(frozen=True)
class Request:
    """What the next call will send, as the budget needs it (built by contextkit/calls.py)."""

    input_tokens: int  # contextkit's count of the request as sent (pruned messages and tools)
    max_output: int | None = None  # the caller's max_tokens / max_completion_tokens, if given
    rates: tuple[float, float] | None = None  # $ per input / output token (None: unpriced)
    model_max_output: int | None = None  # what the model can write at most (litellm's model info)
    own_tokenizer: bool = True  # the count used the model's own tokenizer
    model: str = ""


@dataclass
class Reservation:
    """What one call in flight holds of a budget until it is settled."""

    input_tokens: int
    output_tokens: int
    dollars: float
    cap: int | None = None  # the output cap to send (None: leave the caller's as is)
    input_dollars: float = 0.0  # of `dollars`, the input's share


def _check_action(value: Any) -> None:
    if value in ACTIONS or callable(value):
        return
    raise PolicyConfigError(f"expected 'raise', 'warn', 'pause', 'throttle' or a callable taking the GuardEvent, got {value!r}",
                            "Budget.on_limit")


def _check_number(value: Any, where: str, integer: bool, minimum: float, *, above: bool = False, nullable: bool = True) -> None:
    if value is None and nullable:
        return
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)) or value < minimum or (above and value == minimum):
        kind = "an integer" if integer else "a finite number"
        rng = f"> {minimum:g}" if above else f">= {minimum:g}"
        raise PolicyConfigError(f"expected {kind} {rng}{' or None' if nullable else ''}, got {value!r}", where)


@dataclass(eq=False)
class Budget:
    """Limits on what the sessions using this budget may spend together (see the module docstring).
    Cumulative over successful calls; a `Budget` per session gives per-session limits."""

    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    max_dollars: float | None = None
    max_steps: int | None = None
    on_limit: Any = "raise"  # "raise" | "warn" | "pause" | "throttle" | a callable taking the GuardEvent
    warn_at: float | None = 0.8  # fraction of a limit that logs a "budget_warning" once; None: off
    pause_timeout: float | None = 300.0  # "pause": seconds to wait for resume(); None: wait for ever
    on_pause: Callable[[GuardEvent], Any] | None = None  # "pause": called (on the agent's thread) as the call pauses
    calls_per_minute: int | None = None  # "throttle": the rate
    _lock: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _steps: int = field(default=0, init=False, repr=False)
    _input: int = field(default=0, init=False, repr=False)
    _output: int = field(default=0, init=False, repr=False)
    _dollars: float = field(default=0.0, init=False, repr=False)
    _held: list = field(default_factory=list, init=False, repr=False)  # reservations in flight
    _warned: set = field(default_factory=set, init=False, repr=False)
    _calls: deque = field(default_factory=deque, init=False, repr=False)  # monotonic start times (throttle)
    _paused: int = field(default=0, init=False, repr=False)
    _period: float = field(default=60.0, init=False, repr=False)  # the throttle's minute (tests shorten it)

    def __post_init__(self) -> None:
        for name in ("max_input_tokens", "max_total_tokens", "max_steps"):
            _check_number(getattr(self, name), f"Budget.{name}", True, 1)
        _check_number(self.max_dollars, "Budget.max_dollars", False, 0)
        _check_action(self.on_limit)
        if self.warn_at is not None:
            _check_number(self.warn_at, "Budget.warn_at", False, 0, above=True)
            if self.warn_at > 1:
                raise PolicyConfigError(f"expected a fraction in (0, 1] or None, got {self.warn_at!r}", "Budget.warn_at")
        _check_number(self.pause_timeout, "Budget.pause_timeout", False, 0, above=True)
        if self.on_pause is not None and not callable(self.on_pause):
            raise PolicyConfigError(f"expected a callable taking the GuardEvent or None, got {type(self.on_pause).__name__}", "Budget.on_pause")
        if self.on_pause is not None and self.on_limit != "pause":
            raise PolicyConfigError("is called when a call pauses: it needs on_limit='pause'", "Budget.on_pause")
        _check_number(self.calls_per_minute, "Budget.calls_per_minute", True, 1)
        if self.on_limit == "throttle" and self.calls_per_minute is None:
            raise PolicyConfigError("on_limit='throttle' needs calls_per_minute=N (at most N calls a minute)", "Budget.calls_per_minute")
        if self.calls_per_minute is not None and self.on_limit != "throttle":
            raise PolicyConfigError("the call rate is kept by on_limit='throttle'; set it or drop calls_per_minute", "Budget.calls_per_minute")

    # ------------------------------------------------------------------ reading

    @property
    def spent(self) -> dict:
        """What the calls settled so far used: steps, input and output tokens, dollars."""
        with self._lock:
            return {"steps": self._steps, "input_tokens": self._input, "output_tokens": self._output, "dollars": self._dollars}

    @property
    def paused(self) -> int:
        """Calls waiting for `resume` right now."""
        with self._lock:
            return self._paused

    @property
    def action(self) -> str:
        return self.on_limit if isinstance(self.on_limit, str) else "callback"

    # ------------------------------------------------------------------ before a call

    def reserve(self, req: Request, step: int) -> tuple[Reservation | None, list[GuardEvent]]:
        """Take what the next call may cost, or say why it may not go. Blocks under "pause" and
        "throttle", and while calls in flight hold what this one needs but may give it back.
        Returns (the reservation, or None when the call must not be sent; the events)."""
        events: list[GuardEvent] = []
        with self._lock:
            if self.on_limit == "throttle":
                self._throttle(step, events)
            res, over = self._try(req, step, events)
            deadline = time.monotonic() + HELD_WAIT
            while over is not None and self._held and self._check(req, step, held=False)[1] is None:
                left = deadline - time.monotonic()  # calls in flight hold the room: wait for their bills
                if left <= 0:
                    break
                self._lock.wait(left)
                res, over = self._try(req, step, events)
            if over is not None and self.on_limit == "pause":
                res, over = self._pause(req, step, events, over)
            if over is not None:
                events.append(over)
                if over.action in ("warn", "callback"):  # sent anyway: it still counts
                    res = self._take(req, None)
            if res is not None:
                self._warn(step, events)
        return (res if over is None or over.action in ("warn", "callback") else None), events

    def _need(self, req: Request) -> int:
        margin = OWN_TOKENIZER_MARGIN if req.own_tokenizer else FOREIGN_TOKENIZER_MARGIN
        return math.ceil(req.input_tokens * (1 + margin))

    def _check(self, req: Request, step: int, held: bool = True) -> tuple[list[tuple[int, str, str]], GuardEvent | None]:
        """Under the lock, changing nothing: the output room each limit leaves this call (tokens,
        limit, why), or the event of the limit it would cross. `held=False`: as if the calls in
        flight had billed nothing."""
        steps, inp, out, dollars = self._used(held)
        need_in = self._need(req)
        act = "raise" if self.on_limit in ("throttle", "pause") else self.action  # pause: decided by the caller

        def over(limit: str, value: float, threshold: float, what: str) -> GuardEvent:
            return GuardEvent("budget", limit, act, f"budget {limit}={threshold:g} would be crossed at step {step}: {what}",
                              step, value=value, threshold=threshold)

        room: list[tuple[int, str, str]] = []
        if self.max_steps is not None and steps + 1 > self.max_steps:
            return room, over("max_steps", steps + 1, self.max_steps, f"this would be model call {steps + 1}")
        if self.max_input_tokens is not None and inp + need_in > self.max_input_tokens:
            return room, over("max_input_tokens", inp + need_in, self.max_input_tokens,
                              f"{inp:,} input tokens used or held + ~{need_in:,} in this request")
        if self.max_total_tokens is not None:
            left = self.max_total_tokens - inp - out - need_in
            if left < 1:
                return room, over("max_total_tokens", inp + out + need_in, self.max_total_tokens,
                                  f"{inp + out:,} tokens used or held + ~{need_in:,} input in this request leave no room for output")
            room.append((left, "max_total_tokens", f"{left:,} tokens left after this request's input"))
        if self.max_dollars is not None:
            if req.rates is None:
                raise PolicyConfigError(f"max_dollars needs a price for {req.model!r}", "Budget.max_dollars")
            in_cost = need_in * req.rates[0]
            left_usd = self.max_dollars - dollars - in_cost
            if left_usd < 0 or (req.rates[1] > 0 and left_usd < req.rates[1]):
                return room, over("max_dollars", round(dollars + in_cost, 6), self.max_dollars,
                                  f"${dollars:.4f} spent or held + ~${in_cost:.4f} for this request's input")
            if req.rates[1] > 0:
                room.append((int(left_usd / req.rates[1]), "max_dollars",
                             f"${left_usd:.4f} left after this request's input, at ${req.rates[1] * 1e6:.2f} per 1M output tokens"))
        return room, None

    def _try(self, req: Request, step: int, events: list[GuardEvent]) -> tuple[Reservation | None, GuardEvent | None]:
        """Under the lock: the reservation (and the cap event if the output is capped), or the event
        of the limit it would cross."""
        room, over = self._check(req, step)
        if over is not None:
            return None, over
        res = self._take(req, room)
        if res.cap is not None:
            _, limit, why = min(room)
            could = req.max_output or req.model_max_output or UNKNOWN_MAX_OUTPUT
            events.append(GuardEvent("budget_cap", limit, "cap", f"output capped to {res.cap:,} tokens at step {step} "
                                     f"(the call could write {could:,}): {why}", step, value=res.cap, threshold=could))
        return res, None

    def _take(self, req: Request, room: list | None) -> Reservation:
        """Hold what the call may cost (under the lock): its input, and its output up to the cap."""
        need_in = self._need(req)
        could = req.max_output or req.model_max_output
        cap = None
        if room:
            limit = min(t for t, _, _ in room)
            if limit < (could or UNKNOWN_MAX_OUTPUT):
                cap = max(limit, 1)
        output = cap if cap is not None else (could or 0)
        rates = req.rates or (0.0, 0.0)
        res = Reservation(need_in, output, need_in * rates[0] + output * rates[1], cap, need_in * rates[0])
        self._held.append(res)
        return res

    def _used(self, held: bool = True) -> tuple[int, int, int, float]:
        """Settled plus held (the worst case of every call in flight): what no new call may count on."""
        if not held:
            return self._steps, self._input, self._output, self._dollars
        h = self._held
        return (self._steps + len(h), self._input + sum(r.input_tokens for r in h),
                self._output + sum(r.output_tokens for r in h), self._dollars + sum(r.dollars for r in h))

    def _warn(self, step: int, events: list[GuardEvent]) -> None:
        """warn_at: what is spent plus the input of the calls in flight (their possible output is
        held, not spent: counting it would warn on every capped call)."""
        if self.warn_at is None:
            return
        h = self._held
        steps, inp, dollars = self._steps + len(h), self._input + sum(r.input_tokens for r in h), self._dollars + sum(r.input_dollars for r in h)
        for limit, used in (("max_steps", steps), ("max_input_tokens", inp), ("max_total_tokens", inp + self._output),
                            ("max_dollars", dollars)):
            cap = getattr(self, limit)
            if cap is None or limit in self._warned or used < self.warn_at * cap:
                continue
            self._warned.add(limit)
            shown = f"${used:.4f} of ${cap:g}" if limit == "max_dollars" else f"{used:,} of {cap:,}"
            msg = f"budget {limit}: {shown} used at step {step} ({100 * used / cap:.0f}%, warn_at={self.warn_at:g})"
            events.append(GuardEvent("budget_warning", limit, "warn", msg, step, value=round(used, 6), threshold=cap))

    def _throttle(self, step: int, events: list[GuardEvent]) -> None:
        """Wait (releasing the lock) until fewer than calls_per_minute calls started in the last 60 s."""
        assert self.calls_per_minute is not None
        calls, start = self._calls, time.monotonic()
        while True:
            now = time.monotonic()
            while calls and calls[0] <= now - self._period:
                calls.popleft()
            if len(calls) < self.calls_per_minute:
                break
            self._lock.wait(calls[0] + self._period - now)
        waited = time.monotonic() - start
        calls.append(time.monotonic())
        if waited > 0.001:
            events.append(GuardEvent("throttle", "calls_per_minute", "throttle",
                                     f"throttled {waited:.1f} s at step {step}: at most {self.calls_per_minute} calls a minute",
                                     step, value=len(calls), threshold=self.calls_per_minute, seconds=round(waited, 3)))

    def _pause(self, req: Request, step: int, events: list[GuardEvent], ev: GuardEvent) -> tuple[Reservation | None, GuardEvent | None]:
        """Block (releasing the lock) until a resume makes room or the timeout passes."""
        ev.kind, ev.action = "budget", "pause"
        t0 = time.monotonic()
        deadline = None if self.pause_timeout is None else t0 + self.pause_timeout
        self._paused += 1
        try:
            if self.on_pause is not None:
                self._lock.release()
                try:
                    self.on_pause(ev)  # may call resume() right here (a human at the console)
                finally:
                    self._lock.acquire()
            while True:
                res, over = self._try(req, step, events)
                if over is None:
                    ev.seconds = round(time.monotonic() - t0, 3)
                    ev.message += f"; paused {ev.seconds:g} s until resume()"
                    events.append(ev)
                    return res, None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    ev.seconds = round(time.monotonic() - t0, 3)
                    ev.action = "raise"
                    ev.message += f"; paused {ev.seconds:g} s and no resume() made room (pause_timeout={self.pause_timeout:g})"
                    return None, ev
                self._lock.wait(remaining)
        finally:
            self._paused -= 1

    # ------------------------------------------------------------------ after a call

    def settle(self, res: Reservation, ok: bool, input_tokens: int | None, output_tokens: int | None, dollars: float | None) -> None:
        """Replace a call's reservation with what the provider billed (nothing for a failed call)."""
        with self._lock:
            try:
                self._held.remove(res)
            except ValueError:
                return  # settled already
            if ok:
                self._add(input_tokens, output_tokens, dollars, res)
            self._lock.notify_all()  # a paused call may fit now

    def charge(self, input_tokens: int | None, output_tokens: int | None, dollars: float | None) -> None:
        """A call made without a reservation (`session.record`): counted as billed."""
        with self._lock:
            self._add(input_tokens, output_tokens, dollars, None)

    def _add(self, input_tokens: int | None, output_tokens: int | None, dollars: float | None, res: Reservation | None) -> None:
        self._steps += 1
        self._input += input_tokens if input_tokens is not None else (res.input_tokens if res else 0)
        self._output += output_tokens if output_tokens is not None else (res.output_tokens if res else 0)
        self._dollars += dollars if dollars is not None else (res.dollars if res else 0.0)

    # ------------------------------------------------------------------ resume

    def resume(self, extra_steps: int = 0, extra_dollars: float = 0.0, extra_tokens: int = 0) -> None:
        """Raise the limits (for every session using this budget) and wake the paused calls: those
        that fit now are sent, the others keep waiting. Thread-safe; callable from `on_pause`."""
        for name, value, integer in (("extra_steps", extra_steps, True), ("extra_dollars", extra_dollars, False),
                                     ("extra_tokens", extra_tokens, True)):
            _check_number(value, f"Session.resume({name}=)", integer, 0, nullable=False)
        with self._lock:
            for value, limits in ((extra_steps, ("max_steps",)), (extra_dollars, ("max_dollars",)),
                                  (extra_tokens, ("max_input_tokens", "max_total_tokens"))):
                if not value:
                    continue
                raised = [name for name in limits if getattr(self, name) is not None]
                if not raised:
                    raise PolicyConfigError(f"this budget has no {' or '.join(limits)} to raise", "Session.resume")
                for name in raised:
                    setattr(self, name, getattr(self, name) + value)
                    self._warned.discard(name)
            self._lock.notify_all()
