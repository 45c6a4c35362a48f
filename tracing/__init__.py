"""contextkit's tracing: OpenTelemetry spans of every run, step, context decision and tool call,
into an embedded DuckDB store by default and over OTLP (Phoenix, Datadog, any collector) on request.

A `contextkit.Session` uses it by itself (`contextkit.observers.default_observers`). Configure it
with the environment (`CONTEXTKIT_TRACE_DB`, `CONTEXTKIT_TRACING=off`, `OTEL_EXPORTER_OTLP_*`,
`OTEL_SERVICE_NAME`, `DD_API_KEY` + `DD_SITE`, `OPENINFERENCE_HIDE_*`) or in code:

    from contextkit import tracing
    tracing.configure(db_path="runs.duckdb", tracer_provider=my_provider)
    store = tracing.TraceStore("runs.duckdb")     # read it back (docs/trace-store.md)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .config import OTLPSettings, TracingConfig, TracingConfigError
from .provider import Tracing, configure, current, litellm_instrumented, shutdown
from .store import StoreBusyError, StoreSchemaError, TraceStore

if TYPE_CHECKING:
    from contextkit.session import Session

    from .spans import RunObserver

__all__ = [
    "session_observer",
    "run_context",
    "configure",
    "flush",
    "shutdown",
    "current",
    "TraceStore",
    "StoreBusyError",
    "StoreSchemaError",
    "TracingConfig",
    "TracingConfigError",
    "OTLPSettings",
    "Tracing",
    "litellm_instrumented",
]


def session_observer(session: Session) -> RunObserver | None:
    """The observer that traces `session` (called by contextkit when a Session is created)."""
    from .spans import RunObserver

    t = current()
    if not t.has_destination():  # CONTEXTKIT_TRACE_DB=off and no OTLP: spans would go nowhere
        return None
    return RunObserver(t, session)


@contextmanager
def run_context(session: Session) -> Iterator[None]:
    """Make `session`'s run (its AGENT span) the current OpenTelemetry context inside the block, so
    spans other code opens there (your own, or openinference-instrumentation-litellm's LLM spans)
    join the run's trace: `with tracing.run_context(session): agent_loop()`."""
    from opentelemetry import context as otel_context

    from .spans import RunObserver

    obs = next((o for o in getattr(session, "observers", ()) if isinstance(o, RunObserver)), None)
    ctx = obs.context() if obs is not None else None
    if ctx is None:  # tracing is off for this session: nothing to join
        yield
        return
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def flush(timeout: float = 5.0, *, store_only: bool = False) -> bool:
    """Build every pending span and write/export them now. True only if everything is stored:
    False if `timeout` ran out, the store is locked or unwritable, or it refused a span since the
    last flush (counted in its `write_errors`). `store_only=True` waits for the local store alone
    (a slow or dead OTLP endpoint does not hold it up)."""
    return current().flush(timeout, store_only=store_only)
