"""A SpanExporter that writes spans into the DuckDB trace store (the schema in schema.py).

DuckDB lets one read-write process or many readers hold a file, so each batch connects, inserts
in one transaction (Arrow tables, not executemany: field-notes §5) and closes, retrying while
another process or a viewer holds the file. A batch that cannot be written in time stays pending
and goes with the next one. The store grows with the conversation: a context span's manifest is
already reduced to the segments that changed since the run's previous step (the worker sends only
those), and contents are stored once under their hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from itertools import repeat
from typing import Any, Sequence

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import conventions as C
from .schema import CONTENT_TABLES, SCHEMA_VERSION, TABLES, ddl
from .store import connect

log = logging.getLogger("contextkit.tracing")

_SEG_KEYS = tuple(C.SEG_CHANGES + c for c in C.SEG_STORE_FIELDS)
# The manifest arrays hold "" and -1 where a value is missing; the insert turns them into NULLs.
_SEGMENT_INSERT = (
    "INSERT INTO segment_states SELECT run_id, step, handle, idx, nullif(role, ''), nullif(kind, ''), "
    "nullif(tool_name, ''), nullif(tool_call_id, ''), tokens, sent_tokens, reasoning_tokens, first_seen, last_used, "
    "used_count, nullif(state, ''), nullif(reason, ''), nullif(superseded_by, ''), nullif(pruned_at, -1), edited "
    "FROM _ck_batch"
)
_MAX_PENDING_ROWS = 500_000
_WAL_LIMIT = "8MB"
_BACKLOG_ROWS = 5_000
# New files get 16 KiB blocks instead of 256 KiB: a store of a dozen small tables, appended in
# batches, wastes far less space in partly filled blocks (a 2-3x smaller file on the shared corpus).
_BLOCK_SIZE = "16384"


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str, separators=(",", ":"))


class _RunDelta:
    """What the exporter remembers about a run: its tools list's hash."""

    __slots__ = ("tools_text", "tools_hash")

    def __init__(self) -> None:
        self.tools_text: str | None = None
        self.tools_hash: str | None = None


class DuckDBSpanExporter(SpanExporter):
    """Spans -> the trace store at `path` (directory made 0700, file 0600)."""

    def __init__(self, path: str, *, lock_timeout_s: float = 10.0):
        # Import the heavy modules here, on the thread that configures tracing, never first on the
        # export worker: a module initialised on two threads at once (numpy under pyarrow) can be
        # seen half-initialised by the agent's own imports.
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401

        self.path = path
        self.lock_timeout_s = lock_timeout_s
        self._ready = False
        self._disabled: str | None = None
        self._pending: dict[str, list] = {t: [] for t in TABLES}
        self._runs: dict[str, _RunDelta] = {}
        self._written: set[str] = set()  # content hashes already in the file
        self._shutdown = False
        self._resource: Any = None
        self._service: str | None = None
        self.batches = 0
        self.failures = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ SpanExporter

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        if self._disabled:
            return SpanExportResult.FAILURE
        rows = self._pending
        new_hashes: set[str] = set()
        for span in spans:
            try:
                self._add(rows, span, new_hashes)
            except Exception as e:  # noqa: BLE001 - one odd span must not lose the batch
                self.last_error = f"{type(e).__name__}: {e}"
                log.warning("contextkit tracing: span %s not stored: %s", getattr(span, "name", "?"), e)
        return self._flush(time.monotonic() + self.lock_timeout_s)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self, timeout_millis: int | None = None) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        if self._disabled or not self._ready:
            return
        deadline = time.monotonic() + (5.0 if timeout_millis is None else max(0.1, timeout_millis / 1000))
        if any(self._pending.values()):
            self._flush(deadline)
        try:  # fold the WAL into the file: compressed, and quick to open for readers
            con = self._connect(deadline)
            try:
                con.execute("CHECKPOINT")
            finally:
                con.close()
        except Exception as e:  # noqa: BLE001 - another process holds the file; its close checkpoints
            log.debug("contextkit tracing: no final checkpoint: %s", e)

    # ------------------------------------------------------------------ spans -> rows

    def _add(self, rows: dict[str, list], span: Any, new_hashes: set) -> None:
        # a plain dict: the SDK's attribute mapping costs a Python call per lookup
        attributes = span.attributes
        a = attributes.copy() if attributes else {}
        ctx = span.context
        trace_id, span_id = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
        up = span.parent
        parent = format(up.span_id, "016x") if up is not None else None
        run_id = a.get(C.SESSION_ID)
        step = a.get(C.CK_STEP)
        kind = a.get(C.SPAN_KIND)
        op = a.get(C.OPERATION)
        start, end = span.start_time, span.end_time
        status = span.status
        ours = span.instrumentation_scope is not None and span.instrumentation_scope.name == "contextkit"
        if not ours or run_id is None:  # someone else's span (nested in a run, or not): kept as it came
            res = span.resource
            if res is not self._resource:
                self._resource, self._service = res, (res.attributes.get(C.SERVICE_NAME) if res is not None else None)
            events = [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes or {})} for e in span.events]
            attrs = _dumps({k: v for k, v in a.items() if not k.startswith(C.NORMALISED_PREFIXES)})
            rows["span_log"].append((
                trace_id, span_id, parent, run_id, step, span.name, kind, op, start, end,
                (end - start) / 1e6 if end and start else None, status.status_code.name, status.description,
                self._service, attrs, _dumps(events) if events else None,
            ))
            return
        if op == C.OP_PRUNE:
            self._context(rows, a, run_id, step, trace_id, span_id, parent, start, end, new_hashes)
        elif op == C.OP_AGENT:
            res = span.resource
            service = res.attributes.get(C.SERVICE_NAME) if res is not None else None
            self._agent(rows, a, run_id, trace_id, span_id, parent, start, end, status, service)
        elif op == C.OP_TOOL:
            rows["tool_spans"].append((
                run_id, step, trace_id, span_id, parent, a.get(C.TOOL_NAME), a.get(C.TOOL_ID),
                a.get(C.TOOL_CALL_ARGUMENTS), a.get(C.TOOL_CALL_RESULT), a.get(C.CK_ERROR), start, end,
                (end - start) / 1e6 if end and start else None,
            ))
        elif step is not None and (op == C.OP_CHAT or a.get(C.CK_LLM_SPANS_SUPPRESSED)):
            self._llm(rows, a, run_id, step, trace_id, span_id, parent, kind, start, end, new_hashes)

    def _agent(self, rows, a, run_id, trace_id, span_id, parent, start, end, status, service) -> None:
        tags = a.get(C.TAGS)
        rows["agent_runs"].append((
            run_id, trace_id, span_id, a.get(C.AGENT_NAME), service, a.get(C.CK_POLICY), a.get(C.CK_MODEL),
            a.get(C.USER_ID), _dumps(list(tags)) if tags else None, a.get(C.METADATA), start, end,
            "error" if status.status_code.name == "ERROR" else "ok", a.get(C.CK_ENDED_BY),
            a.get(C.CK_RUN_STEPS), a.get(C.CK_RUN_TOOL_CALLS), a.get(C.CK_RUN_INPUT_TOKENS),
            a.get(C.CK_RUN_OUTPUT_TOKENS), a.get(C.CK_RUN_COST_USD), a.get(C.CK_RUN_SAVED_USD), parent,
        ))
        self._runs.pop(run_id, None)

    def _context(self, rows, a, run_id, step, trace_id, span_id, parent, start, end, new_hashes) -> None:
        pruned = a.get(C.CK_PRUNED_HANDLES) or ()
        rows["contexts"].append((
            run_id, step, trace_id, span_id, start, end, a.get(C.CK_MESSAGES), a.get(C.SEG_COUNT),
            a.get(C.CK_TOKENS_BEFORE), a.get(C.CK_TOKENS_AFTER), len(pruned), a.get(C.CK_FALLBACK),
            a.get(C.CK_ERROR), a.get(C.CK_PREPARE_MS), a.get(C.CK_POLICY), parent,
        ))
        dec = rows["decisions"]
        for h, why in zip(pruned, a.get(C.CK_PRUNED_REASONS) or ()):
            dec.append((run_id, step, h, "pruned", why))
        if a.get(C.CK_FALLBACK):
            dec.append((run_id, step, None, "fallback", a[C.CK_FALLBACK]))
        if a.get(C.CK_ERROR):
            dec.append((run_id, step, None, "error", a[C.CK_ERROR]))
        roles = self._segments(rows["segment_states"], a, run_id, step)
        for form, hk, mk in (("original", C.NEW_SEG_HANDLES, C.NEW_SEG_MESSAGES), ("edited", C.EDIT_HANDLES, C.EDIT_MESSAGES)):
            for h, text in zip(a.get(hk) or (), a.get(mk) or ()):
                digest = self._message(rows, text, roles.get(h), new_hashes)
                rows["segment_forms"].append((run_id, step, h, form, digest))

    @staticmethod
    def _segments(out: list, a: dict, run_id: str, step: int) -> dict:
        """The step's segment changes as rows (the worker sent only what changed); handle -> role."""
        cols = [a.get(k) for k in _SEG_KEYS]
        if cols[0] is None or any(c is None for c in cols):
            return {}
        n = len(cols[0])
        out.extend(zip(repeat(run_id, n), repeat(step, n), *cols))
        return dict(zip(cols[0], cols[2]))

    def _llm(self, rows, a, run_id, step, trace_id, span_id, parent, kind, start, end, new_hashes) -> None:
        out = a.get(C.CK_OUTPUT_MESSAGE)
        out_hash = self._message(rows, out, "assistant", new_hashes) if out else None
        tools_hash = None
        tools = a.get(C.CK_TOOLS)
        if tools:
            delta = self._runs.get(run_id) or self._runs.setdefault(run_id, _RunDelta())
            if delta.tools_text is not tools and delta.tools_text != tools:
                delta.tools_text, delta.tools_hash = tools, content_hash(tools)
                if delta.tools_hash not in self._written and delta.tools_hash not in new_hashes:
                    new_hashes.add(delta.tools_hash)
                    rows["blobs"].append((delta.tools_hash, "tools", tools))
            tools_hash = delta.tools_hash
        u = "contextkit.usage."
        rows["llm_calls"].append((
            run_id, step, trace_id, span_id, parent, kind, start, end, a.get(C.CK_LATENCY_MS),
            a.get(C.MODEL_NAME), a.get(C.RESPONSE_MODEL), a.get(C.PROVIDER), a.get(C.CK_STREAM), a.get(C.CK_MESSAGES),
            a.get(C.CK_TOKENS_BEFORE), a.get(C.CK_TOKENS_AFTER), a.get(u + "input_tokens"), a.get(u + "output_tokens"),
            a.get(u + "reasoning_tokens"), a.get(u + "cache_read_tokens"), a.get(u + "cache_write_tokens"),
            a.get(C.CK_USAGE_ESTIMATED), a.get("contextkit.cost_usd"), a.get("contextkit.input_cost_usd"),
            a.get("contextkit.output_cost_usd"), a.get("contextkit.saved_usd"), a.get(C.CK_COST_NOTE),
            a.get(C.FINISH_REASON), a.get(C.CK_ERROR), out_hash, tools_hash, a.get(C.INVOCATION_PARAMETERS),
            a.get(C.CK_GUARD_EVENTS),
        ))

    def _message(self, rows, text: str, role: str | None, new_hashes: set) -> str:
        digest = content_hash(text)
        if digest not in self._written and digest not in new_hashes:
            new_hashes.add(digest)
            rows["messages"].append((digest, role, text))
        return digest

    # ------------------------------------------------------------------ rows -> the file

    def _flush(self, deadline: float) -> SpanExportResult:
        rows = self._pending
        if not any(rows.values()):
            return SpanExportResult.SUCCESS
        try:
            self._write(rows, deadline)
        except Exception as e:  # noqa: BLE001 - keep the rows for the next batch
            self.failures += 1
            self.last_error = f"{type(e).__name__}: {e}"
            n = sum(len(v) for v in rows.values())
            if n > _MAX_PENDING_ROWS:
                log.warning("contextkit tracing: trace store %s unwritable (%s); dropping %d rows", self.path, e, n)
                self._pending = {t: [] for t in TABLES}
            elif self.failures <= 3:
                log.warning("contextkit tracing: trace store %s busy or unwritable, will retry: %s", self.path, e)
            return SpanExportResult.FAILURE
        for t in CONTENT_TABLES:
            self._written.update(r[0] for r in rows[t])
        if len(self._written) > 1_000_000:
            self._written.clear()  # the database dedupes too; this set only saves work
        self._pending = {t: [] for t in TABLES}
        self.batches += 1
        return SpanExportResult.SUCCESS

    def _write(self, rows: dict[str, list], deadline: float) -> None:
        import duckdb

        con = self._connect(deadline)
        try:
            if sum(len(v) for v in rows.values()) >= _BACKLOG_ROWS:
                # A backlog (a flood of steps, or a long lock): leave it in the WAL for DuckDB to fold
                # in every few MB, instead of checkpointing every batch. Small batches checkpoint on
                # close, so the WAL stays empty and opening the file stays cheap for everyone.
                con.execute(f"SET checkpoint_threshold = '{_WAL_LIMIT}'")
                con.execute("PRAGMA disable_checkpoint_on_shutdown")
            if not self._ready:
                self._prepare_schema(con)
            if self._disabled:
                raise RuntimeError(self._disabled)
            con.execute("BEGIN TRANSACTION")
            for table, data in rows.items():
                if not data:
                    continue
                con.register("_ck_batch", _arrow(table, data))
                if table in CONTENT_TABLES:
                    con.execute(
                        f"INSERT INTO {table} SELECT * FROM _ck_batch b "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.hash = b.hash)"
                    )
                elif table == "segment_states":
                    con.execute(_SEGMENT_INSERT)
                else:
                    con.execute(f"INSERT INTO {table} SELECT * FROM _ck_batch")
                con.unregister("_ck_batch")
            con.execute("COMMIT")
        except duckdb.Error:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        finally:
            con.close()

    def _connect(self, deadline: float) -> Any:
        if not self._ready:
            _make_private_dir(os.path.dirname(self.path))
        # one thread: batches are small, and the agent needs the other cores
        con = connect(self.path, deadline, config={"threads": 1, "default_block_size": _BLOCK_SIZE}, max_delay=0.1)
        if not self._ready:
            for p in (self.path, self.path + ".wal"):
                if os.path.exists(p):
                    os.chmod(p, 0o600)
        return con

    def _prepare_schema(self, con: Any) -> None:
        have = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        version = con.execute("SELECT max(version) FROM schema_version").fetchone()[0] if have else None
        if version is not None and version > SCHEMA_VERSION:
            self._disabled = f"trace store {self.path} has schema {version}, newer than this contextkit's {SCHEMA_VERSION}"
            log.warning("contextkit tracing: %s; not writing to it", self._disabled)
            return
        if version != SCHEMA_VERSION:
            con.execute("BEGIN TRANSACTION")
            for stmt in ddl():
                con.execute(stmt)
            con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [SCHEMA_VERSION])
            con.execute("COMMIT")
        self._ready = True


def _make_private_dir(d: str) -> None:
    if d and not os.path.isdir(d):
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)


_ARROW_TYPES: dict[str, Any] = {}


def _arrow(table: str, data: list[tuple]) -> Any:
    import pyarrow as pa

    if not _ARROW_TYPES:
        _ARROW_TYPES.update({
            "string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
            "bool": pa.bool_(), "ts": pa.timestamp("ns"),
        })
    cols = TABLES[table]
    columns = list(zip(*data))
    arrays = {}
    for i, (name, _, t) in enumerate(cols):
        if t == "ts":  # from Python ints to timestamps is ~200x faster through int64
            arrays[name] = pa.array(columns[i], type=pa.int64()).cast(_ARROW_TYPES["ts"])
        else:
            arrays[name] = pa.array(columns[i], type=_ARROW_TYPES[t])
    return pa.table(arrays)
