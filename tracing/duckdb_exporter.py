"""A SpanExporter that writes spans into the DuckDB trace store (the schema in schema.py).

DuckDB lets one read-write process or many readers hold a file, so each batch connects, inserts
in one transaction (Arrow tables, not executemany: field-notes §5) and closes, retrying while
another process or a viewer holds the file. A batch that cannot be written in time stays pending
and goes with the next one. The store grows with the conversation: a context span's manifest is
reduced to the segments that changed since the run's previous step, and contents are stored once
under their hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from typing import Any, Sequence

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import conventions as C
from .schema import CONTENT_TABLES, SCHEMA_VERSION, TABLES, ddl

log = logging.getLogger("contextkit.tracing")

_SEG_COLS = ("index", "role", "kind", "tool_name", "tool_call_id", "tokens", "sent_tokens", "reasoning_tokens",
             "first_seen", "last_used", "used_count", "state", "reason", "superseded_by", "pruned_at", "edited")
_SEG_KEYS = tuple(C.SEG + c for c in _SEG_COLS)
_NULL_IF_EMPTY = {1, 2, 3, 4, 12, 13}  # role .. tool_call_id, reason, superseded_by: "" -> NULL
_NULL_IF_NEG = {14}  # pruned_at: -1 -> NULL
_MAX_PENDING_ROWS = 500_000


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str, separators=(",", ":"))


class _RunDelta:
    """The last manifest written for one run, to write only what changed."""

    __slots__ = ("prev", "tools_text", "tools_hash")

    def __init__(self) -> None:
        self.prev: dict[str, tuple] = {}
        self.tools_text: str | None = None
        self.tools_hash: str | None = None


class DuckDBSpanExporter(SpanExporter):
    """Spans -> the trace store at `path` (directory made 0700, file 0600)."""

    def __init__(self, path: str, *, lock_timeout_s: float = 10.0):
        self.path = path
        self.lock_timeout_s = lock_timeout_s
        self._ready = False
        self._disabled: str | None = None
        self._pending: dict[str, list] = {t: [] for t in TABLES}
        self._runs: dict[str, _RunDelta] = {}
        self._written: set[str] = set()  # content hashes already in the file
        self._shutdown = False
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
        if any(self._pending.values()) and not self._disabled:
            budget = 2.0 if timeout_millis is None else max(0.1, timeout_millis / 1000)
            self._flush(time.monotonic() + budget)

    # ------------------------------------------------------------------ spans -> rows

    def _add(self, rows: dict[str, list], span: Any, new_hashes: set) -> None:
        a = span.attributes or {}
        ctx = span.context
        trace_id, span_id = _hex(ctx.trace_id, 32), _hex(ctx.span_id, 16)
        parent = _hex(span.parent.span_id, 16) if span.parent is not None else None
        run_id = a.get(C.SESSION_ID)
        step = a.get(C.CK_STEP)
        kind = a.get(C.SPAN_KIND)
        op = a.get(C.OPERATION)
        start, end = span.start_time, span.end_time
        status = span.status
        service = span.resource.attributes.get(C.SERVICE_NAME) if span.resource is not None else None
        kept = {k: v for k, v in a.items() if not k.startswith(C.NORMALISED_PREFIXES)}
        events = [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes or {})} for e in span.events]
        rows["span_log"].append((
            trace_id, span_id, parent, run_id, step, span.name, kind, op, start, end,
            (end - start) / 1e6 if end and start else None, status.status_code.name, status.description,
            service, _dumps(kept), _dumps(events) if events else None,
        ))
        ours = span.instrumentation_scope is not None and span.instrumentation_scope.name == "contextkit"
        if not ours or run_id is None:
            return
        if op == C.OP_PRUNE:
            self._context(rows, a, run_id, step, trace_id, span_id, start, end, new_hashes)
        elif op == C.OP_AGENT:
            self._agent(rows, a, run_id, trace_id, span_id, start, end, status, service)
        elif op == C.OP_TOOL:
            rows["tool_spans"].append((
                run_id, step, trace_id, span_id, parent, a.get(C.TOOL_NAME), a.get(C.TOOL_ID),
                a.get(C.TOOL_CALL_ARGUMENTS), a.get(C.TOOL_CALL_RESULT), a.get(C.CK_ERROR), start, end,
                (end - start) / 1e6 if end and start else None,
            ))
        elif step is not None and (op == C.OP_CHAT or a.get(C.CK_LLM_SPANS_SUPPRESSED)):
            self._llm(rows, a, run_id, step, trace_id, span_id, parent, kind, start, end, new_hashes)

    def _agent(self, rows, a, run_id, trace_id, span_id, start, end, status, service) -> None:
        tags = a.get(C.TAGS)
        rows["agent_runs"].append((
            run_id, trace_id, span_id, a.get(C.AGENT_NAME), service, a.get(C.CK_POLICY), a.get(C.CK_MODEL),
            a.get(C.USER_ID), _dumps(list(tags)) if tags else None, a.get(C.METADATA), start, end,
            "error" if status.status_code.name == "ERROR" else "ok", a.get(C.CK_ENDED_BY),
            a.get(C.CK_RUN_STEPS), a.get(C.CK_RUN_TOOL_CALLS), a.get(C.CK_RUN_INPUT_TOKENS),
            a.get(C.CK_RUN_OUTPUT_TOKENS), a.get(C.CK_RUN_COST_USD), a.get(C.CK_RUN_SAVED_USD),
        ))
        self._runs.pop(run_id, None)

    def _context(self, rows, a, run_id, step, trace_id, span_id, start, end, new_hashes) -> None:
        handles = a.get(C.SEG + "handle") or ()
        pruned = a.get(C.CK_PRUNED_HANDLES) or ()
        rows["contexts"].append((
            run_id, step, trace_id, span_id, start, end, a.get(C.CK_MESSAGES), len(handles),
            a.get(C.CK_TOKENS_BEFORE), a.get(C.CK_TOKENS_AFTER), len(pruned), a.get(C.CK_FALLBACK),
            a.get(C.CK_ERROR), a.get(C.CK_PREPARE_MS), a.get(C.CK_POLICY),
        ))
        dec = rows["decisions"]
        for h, why in zip(pruned, a.get(C.CK_PRUNED_REASONS) or ()):
            dec.append((run_id, step, h, "pruned", why))
        if a.get(C.CK_FALLBACK):
            dec.append((run_id, step, None, "fallback", a[C.CK_FALLBACK]))
        if a.get(C.CK_ERROR):
            dec.append((run_id, step, None, "error", a[C.CK_ERROR]))
        delta = self._runs.get(run_id)
        if delta is None:
            delta = self._runs[run_id] = _RunDelta()
        self._segments(rows["segment_states"], a, handles, run_id, step, delta)
        roles = dict(zip(handles, a.get(C.SEG + "role") or ()))
        for form, hk, mk in (("original", C.NEW_SEG_HANDLES, C.NEW_SEG_MESSAGES), ("edited", C.EDIT_HANDLES, C.EDIT_MESSAGES)):
            for h, text in zip(a.get(hk) or (), a.get(mk) or ()):
                digest = self._message(rows, text, roles.get(h), new_hashes)
                rows["segment_forms"].append((run_id, step, h, form, digest))

    def _segments(self, out: list, a, handles, run_id: str, step: int, delta: _RunDelta) -> None:
        cols = [a.get(k) for k in _SEG_KEYS]
        if any(c is None for c in cols):
            return
        prev = delta.prev
        cur: dict[str, tuple] = {}
        for h, vals in zip(handles, zip(*cols)):
            cur[h] = vals
            if prev.get(h) != vals:
                out.append(_seg_row(run_id, step, h, vals))
        if len(cur) != len(prev) or prev.keys() - cur.keys():
            for h in prev.keys() - cur.keys():  # left the list: one row with index -1
                out.append(_seg_row(run_id, step, h, (-1,) + prev[h][1:]))
        delta.prev = cur

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
                self._runs.clear()  # the next step of every run writes its whole manifest again
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
        import duckdb

        if not self._ready:
            _make_private_dir(os.path.dirname(self.path))
        delay = 0.005
        while True:
            try:
                con = duckdb.connect(self.path)
                break
            except duckdb.IOException:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.1)
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


def _seg_row(run_id: str, step: int, handle: str, vals: tuple) -> tuple:
    return (run_id, step, handle) + tuple(
        None if (i in _NULL_IF_EMPTY and v == "") or (i in _NULL_IF_NEG and v == -1) else v for i, v in enumerate(vals)
    )


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
    return pa.table({name: pa.array(columns[i], type=_ARROW_TYPES[t]) for i, (name, _, t) in enumerate(cols)})
