"""Running the agent's tools inside a session, so each execution is recorded (and traced as a
TOOL span tied to the model's tool_call id), and guarded by the session's circuit breaker
(contextkit/breaker.py): a tool whose breaker is open is not run."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any, Literal

from .breaker import HALF_OPEN, Admission, CircuitBreaker
from .errors import PolicyConfigError, ToolUnavailable
from .messages import parse_arguments
from .observers import notify
from .records import ToolRecord
from .restore import RESTORE_TOOL_NAME, call_parts


class ToolScope:
    """`with session.tool("grep", tool_call_id=..., arguments=...) as t: t.result = run()`.

    Also a decorator: `@session.tool("grep")` records every call of the function.
    With `Session(breaker=...)`, entering the scope of a tool whose breaker is open raises
    `ToolUnavailable` (the body does not run; the attempt is recorded); an exception in the body,
    or a result that says its transport failed, counts as one of the tool's failures.
    """

    def __init__(self, session: Any, name: str, tool_call_id: str | None = None, arguments: Any = None,
                 admission: Admission | None = None, guarded: bool = True):
        self._session = session
        self.record = ToolRecord(name=name, step=session.step, started_at=0.0, tool_call_id=tool_call_id, arguments=arguments)
        self._t0 = 0.0
        self._admission = admission  # run_tool asked the breaker already
        self._guarded = guarded  # False: the breaker is not consulted (restore_context, an unknown tool)
        self.caught: BaseException | None = None  # an exception the caller caught inside the scope (run_tool)

    @property
    def result(self) -> str | None:
        return self.record.result

    @result.setter
    def result(self, value: Any) -> None:
        self.record.result = value if isinstance(value, str) or value is None else _as_text(value)

    def __enter__(self) -> ToolScope:
        session, rec = self._session, self.record
        rec.step = session.step
        breaker = getattr(session, "breaker", None) if self._guarded else None
        _check_breaker(breaker)
        if breaker is not None and self._admission is None:
            self._admission = breaker.admit(rec.name, rec.step)
            if not self._admission.run:
                rejected(session, rec, self._admission)
                raise ToolUnavailable(self._admission.message, rec.name, self._admission.until, self._admission.event)
        if self._admission is not None and self._admission.state == HALF_OPEN:
            rec.breaker = HALF_OPEN
        if self._admission is not None and self._admission.event is not None:
            rec.guard_events.append(self._admission.event)
        rec.started_at = time.time()
        self._t0 = time.perf_counter()
        notify(session.observers, "tool_started", session, rec)
        return self

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        session, rec = self._session, self.record
        rec.duration_ms = (time.perf_counter() - self._t0) * 1000
        if exc is not None:
            rec.error = f"{exc_type.__name__}: {exc}"
        failure = exc if exc is not None else self.caught
        if failure is not None and rec.tool_call_id:
            session.ledger.faults.failed_calls.add(rec.tool_call_id)  # its result is an explicit failure
        breaker = getattr(session, "breaker", None) if self._guarded else None
        if breaker is not None and (exc is None or isinstance(exc, Exception)):
            try:
                ev = breaker.record(rec.name, rec.step, failure, rec.result)
                if ev is not None:
                    rec.guard_events.append(ev)
            except Exception:  # noqa: BLE001 - a user's is_failure that raises must not break the agent
                pass
        session.tool_records.append(rec)
        notify(session.observers, "tool_finished", session, rec)
        return False

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with ToolScope(self._session, self.record.name, arguments=kwargs or list(args)) as scope:
                out = fn(*args, **kwargs)
                scope.result = out
                return out

        return wrapper


def run_tool(session: Any, tool_call: Any, fn: Callable[..., Any] | None) -> dict:
    """Run the function a model's tool call asks for and return the tool message to append.

    Arguments are parsed from JSON and passed as keyword arguments. Calls of `restore_context` are
    answered by the session itself. An exception becomes an error result the model can read.
    """
    call_id, name, raw = call_parts(tool_call)
    if name == RESTORE_TOOL_NAME:
        with ToolScope(session, name, call_id, raw, guarded=False) as scope:
            msg = session.answer_restore(tool_call)
            scope.result = msg["content"]
        return msg
    args = parse_arguments(raw)
    arguments = args if args is not None else raw
    breaker = getattr(session, "breaker", None)
    _check_breaker(breaker)
    admission = None
    if breaker is not None and fn is not None:
        admission = breaker.admit(name or "tool", session.step)
        if not admission.run:  # the tool is not run: the model reads why, and until when
            rejected(session, ToolRecord(name or "tool", session.step, 0.0, call_id, arguments), admission)
            return {"role": "tool", "tool_call_id": call_id, "name": name, "content": admission.message}
    with ToolScope(session, name or "tool", call_id, arguments, admission, guarded=fn is not None) as scope:
        if fn is None:
            scope.result = f"Error: unknown tool {name!r}"
        else:
            try:
                out = fn(**args) if args is not None else fn(raw)
                scope.result = out
            except Exception as e:  # noqa: BLE001 - the model reads the error and may retry
                scope.record.error = f"{type(e).__name__}: {e}"
                scope.result = f"Error: {type(e).__name__}: {e}"
                scope.caught = e
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": scope.result or ""}


def _check_breaker(breaker: Any) -> None:
    if breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise PolicyConfigError(f"expected a contextkit.CircuitBreaker or None, got {type(breaker).__name__}", "Session.breaker")


def rejected(session: Any, rec: ToolRecord, admission: Admission) -> None:
    """Record a call the circuit breaker did not run (a tool span with no execution inside)."""
    rec.step = session.step
    rec.started_at = time.time()
    rec.result = admission.message
    rec.error = "ToolUnavailable: circuit breaker open"
    rec.breaker = "open"
    if admission.event is not None:
        rec.guard_events.append(admission.event)
    if rec.tool_call_id:
        session.ledger.faults.failed_calls.add(rec.tool_call_id)
    notify(session.observers, "tool_started", session, rec)
    session.tool_records.append(rec)
    notify(session.observers, "tool_finished", session, rec)


def _as_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
