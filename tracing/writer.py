"""Rows -> the trace store file. Each batch connects (retrying while another process holds the
file: DuckDB allows one writer or many readers), brings the schema up to date once, inserts every
table in one transaction and closes.

Values go in as bound parameters, one list per column unnested by DuckDB
(`INSERT INTO t (a, b) SELECT unnest(?::VARCHAR[]), unnest(?::INTEGER[])`), never as a registered
Arrow table or DataFrame. That is what makes the last batch of a process land on every duckdb
release: duckdb >= 2.0.1 refuses any query that scans a Python object once its own atexit hook has
run ("this query cannot run Python code: the Python interpreter is shutting down"), and atexit runs
hooks last-registered first, so whether tracing's exit hook runs before or after duckdb's depends
on which the program imported first, which we do not control. A bound list is converted to DuckDB
values by the `execute` call itself, before the query runs, so no Python code runs inside the query
and the insert works at any point of the exit (checked on duckdb 1.1.3, 2.0.0 and 2.0.1 with the
hook registered on either side of duckdb's). It also keeps pyarrow, pandas and numpy out of traced
processes (issue 18: pyarrow pulled pandas in at the first batch).

A span DuckDB refuses costs only itself: the batch is rolled back and written again span by span;
each refused span becomes a `write_errors` row (its error and its rows as ASCII JSON) instead.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .migrations import migrate
from .rows import SpanRows, storable_column
from .schema import CONTENT_TABLES, TABLES, Column
from .store import connect

_WAL_LIMIT = "8MB"
_BACKLOG_ROWS = 5_000
# New files get 16 KiB blocks instead of 256 KiB: a store of a dozen small tables, appended in
# batches, wastes far less space in partly filled blocks (a 2-3x smaller file on the shared corpus).
_BLOCK_SIZE = "16384"
_DETAIL_CHARS = 100_000  # of a quarantined span's rows kept in its error row


def _insert_sql(table: str) -> str:
    cols = TABLES[table]
    names = ", ".join(f'"{c.name}"' for c in cols)
    values = ", ".join(_unnest(c) for c in cols)
    if table in CONTENT_TABLES:
        return (f"INSERT INTO {table} ({names}) SELECT * FROM (SELECT {values}) b "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.hash = b.hash)")
    return f"INSERT INTO {table} ({names}) SELECT {values}"


def _unnest(c: Column) -> str:
    if c.sql_type == "TIMESTAMP":  # nanoseconds since the epoch, as spans carry them
        return f'make_timestamp(unnest(?::BIGINT[]) // 1000) AS "{c.name}"'
    base = "VARCHAR" if c.sql_type == "JSON" else c.sql_type
    return f'unnest(?::{base}[]) AS "{c.name}"'


_INSERTS = {table: _insert_sql(table) for table in TABLES}


class StoreWriter:
    """Writes batches of SpanRows into the file at `path` (directory made 0700, file 0600)."""

    def __init__(self, path: str):
        self.path = path
        self._ready = False  # schema checked (and migrated) by this process

    @property
    def ready(self) -> bool:
        """Has this process opened the file and brought its schema up to date?"""
        return self._ready

    def write(self, batch: list[SpanRows], errors: list[dict], deadline: float) -> list[tuple[SpanRows, str]]:
        """Store every span of `batch` and the `write_errors` rows in `errors`. Returns the spans
        DuckDB refused, with why (each now has its own error row). Raises, having written nothing,
        when the file cannot be opened or written (locked past `deadline`, unwritable, a schema
        from a newer contextkit)."""
        import duckdb

        con = self._connect(deadline)
        try:
            if sum(s.size for s in batch) >= _BACKLOG_ROWS:
                # A backlog (a flood of steps, or a long lock): leave it in the WAL for DuckDB to fold
                # in every few MB, instead of checkpointing every batch. Small batches checkpoint on
                # close, so the WAL stays empty and opening the file stays cheap for everyone.
                con.execute(f"SET checkpoint_threshold = '{_WAL_LIMIT}'")
                con.execute("PRAGMA disable_checkpoint_on_shutdown")
            if not self._ready:
                migrate(con, self.path)
                self._ready = True
            try:
                self._transaction(con, batch, errors)
                return []
            except duckdb.IOException:
                raise  # the disk, not the data: nothing is written, the caller keeps the batch
            except Exception:  # noqa: BLE001 - some span's value: find it, keep the rest
                return self._isolate(con, batch, errors)
        finally:
            con.close()

    def _transaction(self, con: Any, batch: list[SpanRows], errors: list[dict]) -> None:
        con.execute("BEGIN TRANSACTION")
        try:
            for table, cols in _by_table(batch, errors).items():
                _insert(con, table, cols)
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the transaction is gone already
                pass
            raise

    def _isolate(self, con: Any, batch: list[SpanRows], errors: list[dict]) -> list[tuple[SpanRows, str]]:
        refused = []
        for span in batch:
            try:
                self._transaction(con, [span], [])
            except Exception as e:  # noqa: BLE001
                refused.append((span, f"{type(e).__name__}: {e}"))
        quarantine = errors + [error_row(s, why, detail=_detail(s)) for s, why in refused]
        if quarantine:
            self._transaction(con, [], quarantine)
        return refused

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

    def checkpoint(self, deadline: float) -> None:
        """Fold the WAL into the file: compressed, and quick to open for readers."""
        con = self._connect(deadline)
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()


def error_row(span: SpanRows | None, error: str, *, spans: int = 1, run_id: str | None = None,
              detail: str | None = None) -> dict:
    """A `write_errors` row: one refused span, or a count of spans lost together (span=None)."""
    step = span.step if span else None
    return {
        "logged_at": time.time_ns(), "pid": os.getpid(), "run_id": span.run_id if span else run_id,
        "step": step if step is not None and -2**31 < step < 2**31 else None,  # it may be why the span failed
        "span_id": span.span_id if span else None,
        "span_name": span.name if span else None, "spans": spans, "error": error[:2000], "detail": detail,
    }


def _detail(span: SpanRows) -> str:
    text = json.dumps(span.as_dict(), ensure_ascii=True, default=str)  # ASCII: storable whatever it holds
    return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS] + "...(cut)"


def _by_table(batch: list[SpanRows], errors: list[dict]) -> dict[str, dict[str, list | None]]:
    """Every table's rows of the batch as columns (one list per column, in the table's order; None
    for a column with no value at all), texts made storable."""
    rows: dict[str, list[dict]] = {}
    blocks: dict[str, list[dict[str, list]]] = {}
    for span in batch:
        for table, r in span.tables.items():
            rows.setdefault(table, []).extend(r)
        for table, b in span.blocks.items():
            blocks.setdefault(table, []).append(b)
    if errors:
        rows.setdefault("write_errors", []).extend(errors)
    out: dict[str, dict[str, list | None]] = {}
    for table in TABLES:
        r, bs = rows.get(table, []), blocks.get(table, [])
        if not r and not bs:
            continue
        cols: dict[str, list | None] = {}
        out[table] = cols
        for c in TABLES[table]:
            values: list = [row.get(c.name) for row in r]
            for b in bs:
                got = b.get(c.name)
                values.extend(got if got is not None else [None] * len(b["run_id"]))
            if c.sql_type in ("VARCHAR", "JSON"):
                values = storable_column(values)
            cols[c.name] = values if any(v is not None for v in values) else None  # NULL: unnest pads it
    return out


def _insert(con: Any, table: str, cols: dict[str, list | None]) -> None:
    if table in CONTENT_TABLES:  # one row per hash: NOT EXISTS only looks at rows already stored
        hashes = cols["hash"] or []
        first: dict[str, int] = {}
        for i, h in enumerate(hashes):
            first.setdefault(h, i)
        if len(first) < len(hashes):
            keep = list(first.values())
            cols = {name: None if values is None else [values[i] for i in keep] for name, values in cols.items()}
    con.execute(_INSERTS[table], list(cols.values()))


def _make_private_dir(d: str) -> None:
    if d and not os.path.isdir(d):
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)
