"""Observers receive a run's events (tracing is one). They never break the agent: an observer
that raises is reported once in `Session.observer_errors` and the run goes on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .records import PrepareReport, StepRecord, ToolRecord

log = logging.getLogger("contextkit")


class Observer:
    """Subclass and override what you need; every method is optional."""

    def run_started(self, session: Any) -> None: ...

    def prepared(self, session: Any, report: PrepareReport) -> None: ...

    def step_finished(self, session: Any, record: StepRecord) -> None: ...

    def tool_started(self, session: Any, record: ToolRecord) -> None: ...

    def tool_finished(self, session: Any, record: ToolRecord) -> None: ...

    def run_finished(self, session: Any) -> None: ...


def notify(observers: list, event: str, session: Any, *args: Any) -> None:
    for obs in observers:
        fn = getattr(obs, event, None)
        if fn is None:
            continue
        try:
            fn(session, *args)
        except Exception as e:  # noqa: BLE001 - an observer must never break the agent
            msg = f"{type(obs).__name__}.{event}: {type(e).__name__}: {e}"
            if len(session.observer_errors) < 100:
                session.observer_errors.append(msg)
            log.warning("contextkit observer failed: %s", msg)


def tracing_disabled_by_env() -> bool:
    v = os.environ.get("CONTEXTKIT_TRACING")
    return v is not None and v.strip().lower() in ("off", "0", "false", "no", "none", "")


def default_observers(tracing: Any, session: Any) -> list:
    """The observers a new Session starts with: tracing's, unless switched off.

    `tracing=None` follows CONTEXTKIT_TRACING (on by default); False switches it off; True requires
    it; any other object is used as an observer itself.
    """
    if tracing is False or (tracing is None and tracing_disabled_by_env()):
        return []
    if tracing is None or tracing is True:
        try:
            import tracing as _tracing  # the sibling package; contextkit works without it

            if not hasattr(_tracing, "session_observer"):
                raise ImportError(
                    f"the module 'tracing' at {getattr(_tracing, '__file__', '?')} is not contextkit's tracing "
                    "package (another distribution named 'tracing' shadows it)"
                )
            observer = _tracing.session_observer(session)
        except Exception as e:  # noqa: BLE001
            if tracing is True:
                raise
            log.warning("contextkit tracing unavailable, continuing without it: %s", e)
            return []
        return [observer] if observer is not None else []
    return [tracing]
