"""The live tracing setup: an SDK TracerProvider with batch processors (DuckDB store, OTLP), and
one worker thread that turns contextkit's records into spans off the agent's thread.

Shutdown is bounded: the worker and each processor get a share of `shutdown_timeout_s`, each in
its own thread, so a dead OTLP endpoint cannot hold the interpreter's exit hostage, and the local
store is flushed first.

However the process ends, open runs are ended and the store gets its last batch: at interpreter
exit (end of script, sys.exit, an uncaught exception or Ctrl+C: the run says which) through an
atexit hook, and on SIGTERM through a handler that does the same and then lets the signal kill the
process as before. The hook's position among other atexit hooks does not matter: the store's writer
never asks duckdb to run Python code (writer.py says why that is what matters), so it works after
duckdb's own exit hook too. kill -9 runs nothing: a process loses at most its last flush interval.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from . import conventions as C
from .config import TracingConfig, TracingConfigError

log = logging.getLogger("contextkit.tracing")
SCOPE = "contextkit"
VERSION = "0.1.0"


class _Worker:
    """A FIFO of span-building jobs on one daemon thread (order matters: the store diffs steps)."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.errors = 0
        self.last_error: str | None = None

    def submit(self, fn: Callable, *args: Any) -> None:
        if self._thread is None or self._pid != os.getpid():
            self._start()
        self._q.put((fn, args))

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            if self._pid != os.getpid():
                self._q = queue.SimpleQueue()  # a forked child starts empty
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="contextkit-tracing", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            fn, args = self._q.get()
            if fn is None:
                args[0].set()
                continue
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - a bad record loses its span, never the worker
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
                if self.errors <= 5:
                    log.warning("contextkit tracing: could not build a span: %s", self.last_error, exc_info=True)

    def drain(self, timeout: float) -> bool:
        """Wait until every job submitted so far has run (False on timeout)."""
        if self._thread is None or self._pid != os.getpid():
            return True
        done = threading.Event()
        self._q.put((None, (done,)))
        return done.wait(timeout)


class _StoreProcessor(BatchSpanProcessor):
    """The store's batch processor; it counts the spans it accepts, so spans its queue drops (full
    while the file stayed locked) are counted as lost instead of vanishing."""

    def __init__(self, exporter: Any, **kw: Any):
        super().__init__(exporter, **kw)
        self._store = exporter

    def on_end(self, span: Any) -> None:
        if span.context.trace_flags.sampled:
            self._store.count_ended()
        super().on_end(span)


def litellm_instrumented() -> bool:
    """Is openinference-instrumentation-litellm active in this process? (Checked without importing it.)"""
    mod = sys.modules.get("openinference.instrumentation.litellm")
    cls = getattr(mod, "LiteLLMInstrumentor", None) if mod else None
    if cls is None:
        return False
    try:
        return bool(cls().is_instrumented_by_opentelemetry)
    except Exception:  # noqa: BLE001
        return False


class Tracing:
    """One tracing setup (provider, processors, worker). `tracing.configure()` makes a new one."""

    def __init__(self, cfg: TracingConfig):
        self.cfg = cfg
        self.worker = _Worker()
        self._processors: list = []
        self._store_processor: _StoreProcessor | None = None
        self.store_exporter = None
        self._closed = False
        self.runs: weakref.WeakSet = weakref.WeakSet()  # live run observers, ended at exit
        if cfg.tracer_provider is not None:
            provider = cfg.tracer_provider
            if not hasattr(provider, "add_span_processor"):
                raise TracingConfigError("must be an opentelemetry.sdk.trace.TracerProvider", "tracer_provider")
            self._own_provider = False
        else:
            resource = Resource.create({C.SERVICE_NAME: cfg.service_name, C.PROJECT_NAME: cfg.project_name or cfg.service_name})
            # LLM spans carry one attribute per message part: lift the SDK's default limit of 128.
            limits = SpanLimits(max_span_attributes=SpanLimits.UNSET, max_attributes=SpanLimits.UNSET)
            provider = TracerProvider(resource=resource, span_limits=limits, shutdown_on_exit=False)
            self._own_provider = True
        self.provider = provider
        if cfg.mask_secrets:
            # The secret rules import detect-secrets (and requests) on first use: do it here, on the
            # thread that configures tracing, not first on the worker. An import on another thread
            # while the agent's own imports run can see a module half-initialised, and one at
            # interpreter exit can cost a Ctrl+C'd process its "killed by SIGINT" exit status.
            from contextkit import secrets

            secrets.rules()
        if cfg.db_path:
            from .duckdb_exporter import DuckDBSpanExporter

            self.store_exporter = DuckDBSpanExporter(cfg.db_path)
            self._store_processor = _StoreProcessor(
                self.store_exporter,
                max_queue_size=cfg.max_queue_size,
                schedule_delay_millis=cfg.flush_interval_ms,
                max_export_batch_size=cfg.max_export_batch_size,
            )
            self._add(self._store_processor)
        if cfg.otlp is not None:
            from .otlp import otlp_processor

            self._add(otlp_processor(cfg.otlp, cfg))
        for p in cfg.extra_processors:
            self._add(p)
        if cfg.set_global and self._own_provider:
            trace.set_tracer_provider(provider)
        self.tracer = provider.get_tracer(SCOPE, VERSION)
        # Flatten every message into the LLM span only when something besides our store reads it.
        # A user's provider keeps its own limit on attributes per span (128 by default).
        user_limits: Any = getattr(provider, "_span_limits", None) if not self._own_provider else None
        limit = getattr(user_limits, "max_span_attributes", 128) if user_limits is not None else (None if self._own_provider else 128)
        self.max_attributes = limit if isinstance(limit, int) and limit >= 0 else None
        auto = cfg.otlp is not None or bool(cfg.extra_processors) or not self._own_provider
        self.full_messages = auto if cfg.flatten_messages is None else bool(cfg.flatten_messages)
        if self.has_destination():
            _handle_sigterm()

    def _add(self, processor: Any) -> None:
        self.provider.add_span_processor(processor)
        self._processors.append(processor)

    def has_destination(self) -> bool:
        """Does anything receive our spans (a processor of ours, or the user's provider)?"""
        return bool(self._processors) or not self._own_provider

    def llm_kind(self) -> bool:
        mode = self.cfg.llm_spans
        return mode == "on" or (mode == "auto" and not litellm_instrumented())

    def submit(self, fn: Callable, *args: Any) -> None:
        self.worker.submit(fn, *args)

    # ------------------------------------------------------------------ flushing

    def flush(self, timeout: float = 5.0, *, store_only: bool = False) -> bool:
        """Build every pending span, then write and export what is queued. True only if all of it
        is stored (and exported) within `timeout`: False while the store is locked, unwritable or
        refused a span since the last flush (the store counts those in `write_errors`).
        `store_only`: wait for the local store alone (an OTLP endpoint keeps exporting behind it)."""
        deadline = time.monotonic() + timeout
        exporter = self.store_exporter
        ok = self.worker.drain(timeout)
        ended = exporter.ended if exporter is not None else 0
        processors = [self._store_processor] if store_only and self._store_processor is not None else None
        ok = self._in_parallel("force_flush", deadline, deadline, processors) and ok
        if exporter is not None:
            # The SDK's processor flush ignores the export's result: ask the exporter itself.
            stored = exporter.force_flush(int(max(0.0, deadline - time.monotonic()) * 1000))
            ok = stored and exporter.received >= ended and ok
        return ok

    def shutdown(self, timeout: float | None = None, *, ended_by: str = "tracing shut down", failed: bool = False) -> None:
        """End open runs (`ended_by` says why; `failed`: with an error status), drain the worker,
        stop the processors; never longer than `timeout`."""
        if self._closed:
            return
        self._closed = True
        timeout = self.cfg.shutdown_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        for run in list(self.runs):
            if getattr(run, "pid", os.getpid()) != os.getpid():
                continue  # a forked child's copy of its parent's run: the parent ends it
            try:
                run.end_at_exit(ended_by, failed)
            except Exception:  # noqa: BLE001
                pass
        self.worker.drain(max(0.0, min(timeout / 2, deadline - time.monotonic())))
        # A dead OTLP endpoint gets at most `otlp_shutdown_s`, while the local store (what the user
        # reads after a crash) may use the whole budget: a DuckDB write cut off by exit loses its batch.
        self._in_parallel("shutdown", deadline, min(deadline, time.monotonic() + self.cfg.otlp_shutdown_s))

    def _in_parallel(self, method: str, store_deadline: float, other_deadline: float, processors: list | None = None) -> bool:
        """Call `method` of every processor, each on its own thread (the SDK's force_flush ignores
        timeouts); wait for each until its deadline. True if all finished."""
        threads = [(p, _start(getattr(p, method))) for p in (self._processors if processors is None else processors)]
        done = True
        for p, t in threads:
            t.join(max(0.0, (store_deadline if p is self._store_processor else other_deadline) - time.monotonic()))
            done = done and not t.is_alive()
        return done


def _start(fn: Callable[[], Any]) -> threading.Thread:
    def run() -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            log.warning("contextkit tracing: shutdown failed: %s", e)

    t = threading.Thread(target=run, name="contextkit-tracing-shutdown", daemon=True)
    t.start()
    return t


# ---------------------------------------------------------------------- the process-wide setup

_lock = threading.Lock()
_current: Tracing | None = None


def current() -> Tracing:
    """The process's tracing setup, made from the environment on first use."""
    global _current
    t = _current
    if t is not None and not t._closed:
        return t
    with _lock:
        if _current is None or _current._closed:
            _current = Tracing(TracingConfig.from_env())
        return _current


def configure(**settings: Any) -> Tracing:
    """Replace the process's tracing setup (settings: see `TracingConfig`; the rest from the environment).
    Sessions created afterwards use it; the previous setup is flushed and shut down."""
    global _current
    cfg = TracingConfig.from_env(**settings)
    new = Tracing(cfg)
    with _lock:
        old, _current = _current, new
    if old is not None:
        old.shutdown()
    return new


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop the process's tracing (open runs end with `ended_by` "tracing shut down").
    At interpreter exit and on SIGTERM this runs by itself."""
    global _current
    with _lock:
        t, _current = _current, None
    if t is not None:
        t.shutdown(timeout)


def _why_exiting() -> tuple[str, bool]:
    """What ends the process, for the runs still open: (ended_by, failed)."""
    exc = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)  # set for an uncaught exception
    if exc is not None and not hasattr(sys, "ps1"):  # (an interactive prompt sets them for every error shown)
        return f"uncaught {type(exc).__name__}", True
    return "interpreter exit", False


def _end_process(ended_by: str, failed: bool) -> None:
    """The process is ending: end open runs and write the last batch. No lock taken: this may run
    in a signal handler that interrupted a thread holding one."""
    global _current
    t, _current = _current, None
    if t is not None:
        t.shutdown(ended_by=ended_by, failed=failed)


def _at_exit() -> None:
    _end_process(*_why_exiting())


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM (kill, systemd, docker stop): end the runs, write what is pending, then die of the
    signal as the default action would (so the parent sees the same exit status)."""
    try:
        _end_process("SIGTERM", True)
    finally:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _handle_sigterm() -> None:
    """Install `_on_sigterm`, only where SIGTERM still has its default action (a program or server
    that handles it itself keeps its handler, and reaches the atexit hook when it exits) and only
    from the main thread (Python sets signal handlers there alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no SIGTERM here, or an embedded interpreter
        pass


atexit.register(_at_exit)
