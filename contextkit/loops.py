"""Loop detection: an agent going round in circles, read from the tool results the session sees.

Three patterns, each its own event kind (GuardEvent.kind), checked before the next model call:

    loop         the same call (tool and arguments) with the same result `repeats` times within
                 the last `window` steps
    retry_storm  the same failing call `storm_repeats` times in a row, its error differing only in
                 what changes on every attempt (a request id, a timestamp, a counter)
    polling      the same call `poll_repeats` times in a row, its output differing only in times,
                 ids and counters: the agent waits on something that does not move

"The same" for storms and polling is compared after `faults.normalize` (uuids, hex digests,
request ids, timestamps, durations and free-standing numbers replaced), in the arguments too, so a
fresh idempotency key or a page counter does not hide a repeat. "In a row" means no other call in
between: a coding agent that edits a file and re-runs the same failing test is working, not looping.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from . import faults
from .errors import PolicyConfigError
from .messages import content_text, parse_arguments
from .records import GuardEvent

LOOP_KINDS = ("loop", "polling", "retry_storm")


def _check_int(value: Any, where: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyConfigError(f"expected an integer >= {minimum}, got {value!r}", where)


def _check_action(value: Any, where: str) -> None:
    if value in ("raise", "warn") or callable(value):
        return
    raise PolicyConfigError(f"expected 'raise', 'warn' or a callable taking the GuardEvent, got {value!r}", where)


@dataclass
class _Run:
    """The latest run of results of one normalised call whose normalised outputs are the same."""

    call: tuple = ()  # (tool, normalised arguments, failing)
    output: str | None = None  # digest of the normalised output (None: not computed yet)
    text: str = ""  # the first result's text, normalised only if the call repeats
    steps: list = field(default_factory=list)  # steps of the results in the run
    raw: set = field(default_factory=set)  # digests of their raw results (one: exact repeats only)


@dataclass
class _State:
    seen: set = field(default_factory=set)  # handles of tool results already counted
    history: dict = field(default_factory=dict)  # (tool, arguments, result digest) -> [steps]
    run: _Run = field(default_factory=_Run)


class LoopGuard:
    """Detects loops, retry storms and polling (see the module docstring). `on_loop`: "raise"
    (`LoopDetected` before the next call is sent), "warn", or a callable given the `GuardEvent`.
    One guard may serve many sessions; each session is tracked on its own."""

    def __init__(self, repeats: int = 3, window: int = 10, on_loop: Any = "raise", *, storm_repeats: int = 3,
                 poll_repeats: int = 5):
        _check_int(repeats, "LoopGuard.repeats", 2)
        _check_int(window, "LoopGuard.window", 1)
        _check_int(storm_repeats, "LoopGuard.storm_repeats", 2)
        _check_int(poll_repeats, "LoopGuard.poll_repeats", 2)
        _check_action(on_loop, "LoopGuard.on_loop")
        self.repeats = repeats
        self.window = window
        self.on_loop = on_loop
        self.storm_repeats = storm_repeats
        self.poll_repeats = poll_repeats
        self._state: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"LoopGuard(repeats={self.repeats}, window={self.window}, on_loop={self.on_loop!r}, "
                f"storm_repeats={self.storm_repeats}, poll_repeats={self.poll_repeats})")

    def check(self, session: Any, step: int) -> list[GuardEvent]:
        """Loops, storms and polls completed by the tool results new since the last check."""
        with self._lock:
            state = self._state.get(session)
            if state is None:
                state = self._state[session] = _State()
        led = session.ledger
        new = []
        for seg in reversed(led.segments):  # new results are at the end: stop at the first seen
            if seg.handle in state.seen:
                break
            state.seen.add(seg.handle)
            if seg.kind == "tool_result":
                new.append(seg)
        events: list[GuardEvent] = []
        act = self.on_loop if isinstance(self.on_loop, str) else "callback"
        failed_calls = led.faults.failed_calls
        for seg in reversed(new):
            text = content_text((led.original(seg.handle) or {}).get("content"))
            raw = _digest(text)
            key = (seg.tool_name, _canonical(seg.args_text), raw)
            steps = [s for s in state.history.get(key, ()) if s > step - self.window]
            steps.append(seg.first_seen)
            state.history[key] = steps
            call = f"{seg.tool_name}({_short(seg.args_text)})"
            if len(steps) >= self.repeats:
                msg = (f"loop: {call} returned the same result {len(steps)} times within {self.window} steps "
                       f"(steps {', '.join(map(str, steps))})")
                events.append(GuardEvent("loop", "loop", act, msg, step, value=len(steps), threshold=self.repeats,
                                         tool=seg.tool_name))
                state.run = _Run()  # counted as a loop: a storm or poll starts afresh
                continue
            failing = (seg.is_error or faults.ERROR in seg.flags or (seg.tool_call_id or "") in failed_calls
                       or faults.transport_error(text) is not None)
            run = self._extend(state.run, (seg.tool_name, faults.normalize(_canonical(seg.args_text)), failing), text, seg, raw)
            if len(run.raw) < 2:
                continue  # all exact repeats so far: the exact check above counts those
            n = len(run.steps)
            if failing and n >= self.storm_repeats:
                msg = (f"retry storm: {call} failed {n} times in a row with the same error apart from ids, times and numbers "
                       f"(steps {', '.join(map(str, run.steps))}): {_short(text, 120)}")
                events.append(GuardEvent("retry_storm", "storm_repeats", act, msg, step, value=n, threshold=self.storm_repeats,
                                         tool=seg.tool_name))
            elif not failing and n >= self.poll_repeats:
                msg = (f"polling: {call} returned the same output apart from times, ids and counters {n} times in a row "
                       f"(steps {', '.join(map(str, run.steps))}): {_short(text, 120)}")
                events.append(GuardEvent("polling", "poll_repeats", act, msg, step, value=n, threshold=self.poll_repeats,
                                         tool=seg.tool_name))
        return events

    @staticmethod
    def _extend(run: _Run, call: tuple, text: str, seg: Any, raw: str) -> _Run:
        """Add a result to the run if it is the same call with the same normalised output (the
        output is normalised only then: most calls are not repeated), else start a new run."""
        if call == run.call:
            if run.output is None:
                run.output = _digest(faults.normalize(run.text))
                run.text = ""
            if _digest(faults.normalize(text)) == run.output:
                run.steps.append(seg.first_seen)
                run.raw.add(raw)
                return run
        run.call, run.output, run.text, run.steps, run.raw = call, None, text, [seg.first_seen], {raw}
        return run


def _canonical(args_text: str) -> str:
    parsed = parse_arguments(args_text)
    return json.dumps(parsed, sort_keys=True, ensure_ascii=False) if parsed is not None else (args_text or "").strip()


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _short(text: str, n: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 3] + "..."
