"""How a session tells its observers (`contextkit.observer.Observer`) about its run, and which
observers a new session starts with (tracing's, unless switched off). Observers never break the
agent: one that raises is reported once in `Session.observer_errors` and the run goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from . import settings

log = logging.getLogger("contextkit")


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
    return not settings.TRACING.get()


def default_observers(tracing: Any, session: Any) -> list:
    """The observers a new Session starts with: tracing's, unless switched off.

    `tracing=None` follows CONTEXTKIT_TRACING (on by default); False switches it off; True requires
    it; any other object is used as an observer itself.
    """
    if tracing is False or (tracing is None and tracing_disabled_by_env()):
        return []
    if tracing is None or tracing is True:
        try:
            from . import tracing as _tracing  # imported on first use: `import contextkit` stays light

            observer = _tracing.session_observer(session)
        except Exception as e:  # noqa: BLE001
            if tracing is True:
                raise
            log.warning("contextkit tracing unavailable, continuing without it: %s", e)
            return []
        return [observer] if observer is not None else []
    return [tracing]
