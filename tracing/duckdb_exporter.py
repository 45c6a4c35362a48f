"""A SpanExporter that writes spans into the DuckDB trace store: rows.py turns spans into rows,
writer.py writes them; this module keeps what is not stored yet and counts what never will be.

A batch that cannot be written in time (another process holds the file, the disk is full) stays
pending and goes with the next one; `force_flush` tries again and returns whether everything is
stored (the OpenTelemetry SpanExporter contract). Spans the store refuses are quarantined as
`write_errors` rows; spans lost before they reach the file (a backlog past its limit, the SDK's
full queue) are counted there too, so the store, and the viewer's Runs page, say what is missing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .migrations import StoreSchemaError
from .rows import RowBuilder, SpanRows, storable
from .writer import StoreWriter, error_row

__all__ = ["DuckDBSpanExporter"]

log = logging.getLogger("contextkit.tracing")

_MAX_PENDING_ROWS = 500_000


class DuckDBSpanExporter(SpanExporter):
    """Spans -> the trace store at `path` (directory made 0700, file 0600)."""

    def __init__(self, path: str, *, lock_timeout_s: float = 10.0):
        # Import duckdb here, on the thread that configures tracing, never first on the export thread.
        import duckdb

        if int(duckdb.__version__.split(".")[0]) < 2:
            # duckdb 1.x imports numpy, pandas and pyarrow the first time it converts a bound list
            # (2.0 no longer does): let that happen now, not on the export thread at interpreter
            # exit, where imports can fail or cost a Ctrl+C'd process its exit status.
            con = duckdb.connect(":memory:")
            con.execute("SELECT ?::INTEGER[]", [[0]]).fetchall()
            con.close()

        self.path = path
        self.lock_timeout_s = lock_timeout_s  # how long one export waits for the file
        self._rows = RowBuilder()
        self._writer = StoreWriter(path)
        self._pending: list[SpanRows] = []
        self._pending_rows = 0
        self._errors: list[dict] = []  # write_errors rows not in the file yet
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._disabled: str | None = None
        self._shutdown = False
        self._refused_since_flush = 0
        self.ended = 0  # spans the store's processor accepted (counted by tracing.provider)
        self.received = 0  # spans handed to export()
        self.stored = 0
        self.quarantined = 0  # refused by the store: each has its write_errors row
        self.dropped = 0  # lost before reaching the file (counted in write_errors when it can be written)
        self.batches = 0
        self.failures = 0
        self.last_error: str | None = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_call_weakly(weakref.WeakMethod(self._after_fork)))

    @property
    def pending_spans(self) -> int:
        """Spans built into rows and not stored yet."""
        return len(self._pending)

    @property
    def unwritten(self) -> int:
        """Spans this process could not store (quarantined or lost)."""
        return self.quarantined + self.dropped

    def count_ended(self) -> None:
        with self._count_lock:
            self.ended += 1

    def _after_fork(self) -> None:
        """In a forked child, what is pending belongs to the parent (which writes it): start empty."""
        self._pending, self._pending_rows, self._errors = [], 0, []
        self._lock, self._count_lock = threading.Lock(), threading.Lock()
        self.ended = self.received = self._refused_since_flush = 0

    # ------------------------------------------------------------------ SpanExporter

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        with self._lock:
            self.received += len(spans)
            for span in spans:
                try:
                    rows = self._rows.build(span)
                except Exception as e:  # noqa: BLE001 - one odd span must not lose the batch
                    self._refuse_unbuilt(span, e)
                    continue
                self._pending.append(rows)
                self._pending_rows += rows.size
            ok = self._write(time.monotonic() + self.lock_timeout_s)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write what is pending; True only if everything handed to this exporter is stored, and
        nothing was refused or lost since the previous flush."""
        timeout = max(0.0, timeout_millis / 1000)
        if not self._lock.acquire(timeout=timeout):
            return False  # an export is writing (or waiting for the file) right now
        try:
            ok = self._write(time.monotonic() + timeout)
            clean = ok and not self._refused_since_flush and self._disabled is None
            self._refused_since_flush = 0
            return clean
        finally:
            self._lock.release()

    def shutdown(self, timeout_millis: int | None = None) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        timeout = 5.0 if timeout_millis is None else max(0.1, timeout_millis / 1000)
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=timeout):
            return
        try:
            lost = self.ended - self.received
            if lost > 0:  # the SDK's queue overflowed, or its worker was cut off at exit
                self.dropped += lost
                self._errors.append(error_row(None, "dropped before reaching the store (the span queue was full "
                                                    "or the process exited first)", spans=lost))
            self._write(deadline)
            if self._disabled or not self._writer.ready:
                return
            try:
                self._writer.checkpoint(deadline)
            except Exception as e:  # noqa: BLE001 - another process holds the file; its close checkpoints
                log.debug("contextkit tracing: no final checkpoint: %s", e)
        finally:
            self._lock.release()

    # ------------------------------------------------------------------ pending -> the file

    def _write(self, deadline: float) -> bool:
        """Write the pending rows; False if the file could not be written (they stay pending)."""
        if self._disabled:
            self._drop(self._pending, count_in_store=False)
            return False
        if not self._pending and not self._errors:
            return True
        batch, errors = self._pending, self._errors
        try:
            refused = self._writer.write(batch, errors, deadline)
        except StoreSchemaError as e:
            self._disabled = self.last_error = str(e)
            log.warning("contextkit tracing: %s; not writing to it", e)
            self._drop(batch, count_in_store=False)
            return False
        except Exception as e:  # noqa: BLE001 - locked, unwritable, disk full: keep the rows
            self.failures += 1
            self.last_error = f"{type(e).__name__}: {e}"
            if self.failures <= 3:
                log.warning("contextkit tracing: trace store %s busy or unwritable, will retry: %s", self.path, e)
            self._trim()
            return False
        self._pending, self._pending_rows, self._errors = [], 0, []
        for span, why in refused:
            self._rows.forget(span)
            if self.quarantined < 5:
                log.warning("contextkit tracing: span %r not stored (kept in write_errors): %s", span.name, why)
        self.quarantined += len(refused)
        self._refused_since_flush += len(refused)
        self.stored += len(batch) - len(refused)
        self.batches += 1
        if len(self._rows.known) > 1_000_000:
            self._rows.known.clear()  # the writer dedupes too; this set only saves work
        return True

    def _refuse_unbuilt(self, span: Any, e: Exception) -> None:
        why = f"{type(e).__name__}: {e}"
        self.last_error = why
        ctx = getattr(span, "context", None)
        rows = SpanRows(span_id=format(ctx.span_id, "016x") if ctx is not None else "",
                        name=storable(str(getattr(span, "name", "?"))))
        self._errors.append(error_row(rows, storable(why)))
        self.quarantined += 1
        self._refused_since_flush += 1
        log.warning("contextkit tracing: span %s not stored: %s", rows.name, why)

    def _trim(self) -> None:
        """A backlog past its limit: the oldest spans go, counted per run in write_errors."""
        if self._pending_rows <= _MAX_PENDING_ROWS:
            return
        cut = 0
        rows = 0
        while cut < len(self._pending) and self._pending_rows - rows > _MAX_PENDING_ROWS // 2:
            rows += self._pending[cut].size
            cut += 1
        gone, self._pending = self._pending[:cut], self._pending[cut:]
        self._pending_rows -= rows
        log.warning("contextkit tracing: trace store %s unwritable (%s); dropping %d spans", self.path, self.last_error, cut)
        self._drop(gone, count_in_store=True)

    def _drop(self, spans: list[SpanRows], *, count_in_store: bool) -> None:
        if spans is self._pending:
            self._pending, self._pending_rows = [], 0
        if not spans:
            return
        self.dropped += len(spans)
        self._refused_since_flush += len(spans)
        for s in spans:
            self._rows.forget(s)
        if count_in_store:
            why = f"not written: the store stayed unwritable ({self.last_error})"
            for run_id, n in Counter(s.run_id for s in spans).items():
                self._errors.append(error_row(None, why, spans=n, run_id=run_id))


def _call_weakly(ref: weakref.WeakMethod) -> Any:
    """A fork hook that does not keep its exporter alive (configure() replaces exporters)."""

    def hook() -> None:
        method = ref()
        if method is not None:
            method()

    return hook
