"""Running the agent's tools inside a session, so each execution is recorded (and traced as a
TOOL span tied to the model's tool_call id)."""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Callable

from .messages import parse_arguments
from .observers import notify
from .records import ToolRecord
from .restore import RESTORE_TOOL_NAME, call_parts


class ToolScope:
    """`with session.tool("grep", tool_call_id=..., arguments=...) as t: t.result = run()`.

    Also a decorator: `@session.tool("grep")` records every call of the function.
    """

    def __init__(self, session: Any, name: str, tool_call_id: str | None = None, arguments: Any = None):
        self._session = session
        self.record = ToolRecord(name=name, step=session.step, started_at=0.0, tool_call_id=tool_call_id, arguments=arguments)
        self._t0 = 0.0

    @property
    def result(self) -> str | None:
        return self.record.result

    @result.setter
    def result(self, value: Any) -> None:
        self.record.result = value if isinstance(value, str) or value is None else _as_text(value)

    def __enter__(self) -> "ToolScope":
        self.record.step = self._session.step
        self.record.started_at = time.time()
        self._t0 = time.perf_counter()
        notify(self._session.observers, "tool_started", self._session, self.record)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.record.duration_ms = (time.perf_counter() - self._t0) * 1000
        if exc is not None:
            self.record.error = f"{exc_type.__name__}: {exc}"
        self._session.tool_records.append(self.record)
        notify(self._session.observers, "tool_finished", self._session, self.record)
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
        with ToolScope(session, name, call_id, raw) as scope:
            msg = session.answer_restore(tool_call)
            scope.result = msg["content"]
        return msg
    args = parse_arguments(raw)
    with ToolScope(session, name or "tool", call_id, args if args is not None else raw) as scope:
        if fn is None:
            scope.result = f"Error: unknown tool {name!r}"
        else:
            try:
                out = fn(**args) if args is not None else fn(raw)
                scope.result = out
            except Exception as e:  # noqa: BLE001 - the model reads the error and may retry
                scope.record.error = f"{type(e).__name__}: {e}"
                scope.result = f"Error: {type(e).__name__}: {e}"
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": scope.result or ""}


def _as_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
