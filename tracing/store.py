"""Reading the trace store: a small stable API for the viewer and the eval tool.

Every call opens the file read-only, queries and closes it, retrying while a writer holds it:
DuckDB allows one writer or many readers per file, and agents write every half second. Keeping a
connection open would block them (their spans wait in memory until it closes).

A store with an older schema is brought up to date by its first reader in a process (the
migrations need write access once, like any writer); one from a newer contextkit raises
StoreSchemaError, naming both versions.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from typing import Any

from contextkit.errors import ContextkitError

from .config import default_db_path
from .migrations import StoreSchemaError, migrate, newer_error, version
from .schema import SCHEMA_VERSION, segment_columns

__all__ = ["TraceStore", "StoreBusyError", "StoreSchemaError", "SCHEMA_VERSION"]


class StoreBusyError(ContextkitError, RuntimeError):
    """The store stayed locked by writers for longer than the reader's timeout."""


class TraceStore:
    """Read-only access to a trace store file (default: CONTEXTKIT_TRACE_DB or ./.contextkit/traces.duckdb)."""

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 10.0):
        p = str(path) if path is not None else default_db_path()
        if p is None:
            raise FileNotFoundError("CONTEXTKIT_TRACE_DB is off: there is no trace store to read")
        self.path = os.path.abspath(os.path.expanduser(p))
        self.timeout = timeout

    # ------------------------------------------------------------------ plumbing

    def query(self, sql: str, params: list | tuple | dict | None = None) -> list[dict]:
        """Rows of any read-only SQL as dicts (`params`: a list for `?`, a dict for `$name`)."""
        con = self._open(current=True)
        try:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            con.close()

    def _open(self, *, current: bool) -> Any:
        import duckdb

        if not os.path.exists(self.path):
            raise FileNotFoundError(f"no trace store at {self.path}")
        deadline = time.monotonic() + self.timeout
        try:
            con = connect(self.path, deadline, read_only=True)
            if not current:
                return con
            found = version(con)
            if found == SCHEMA_VERSION or found == 0:  # 0: no schema yet; the query says what is missing
                return con
            con.close()
            if found > SCHEMA_VERSION:
                raise newer_error(self.path, found)
            self._upgrade(deadline)
            return connect(self.path, deadline, read_only=True)
        except duckdb.IOException as e:
            if not is_lock_conflict(e):
                raise  # not a DuckDB file, unreadable, ...: waiting did not help
            raise StoreBusyError(f"trace store {self.path} stayed locked for {self.timeout:.0f} s: {e}") from e

    def _upgrade(self, deadline: float) -> None:
        """Apply the migrations this older store lacks (the file is opened read-write once)."""
        import duckdb

        try:
            con = connect(self.path, deadline)
        except duckdb.IOException as e:
            if is_lock_conflict(e):
                raise
            raise StoreSchemaError(f"trace store {self.path} has an older schema and could not be upgraded to "
                                   f"schema {SCHEMA_VERSION} (it needs write access once): {e}") from e
        try:
            migrate(con, self.path)
        finally:
            con.close()

    @property
    def schema_version(self) -> int:
        """The file's schema version as it is (0: no schema yet); reading it upgrades nothing."""
        con = self._open(current=False)
        try:
            return version(con)
        finally:
            con.close()

    def unwritten(self) -> int:
        """Spans writers could not store in this file (quarantined or lost; `write_errors`)."""
        return int(self.query("SELECT coalesce(sum(spans), 0) AS n FROM write_errors")[0]["n"])

    # ------------------------------------------------------------------ runs and steps

    def runs(self) -> list[dict]:
        """Every run, newest first (rows of the `runs` view)."""
        return self.query("SELECT * FROM runs ORDER BY started_at DESC NULLS LAST, run_id")

    def run(self, run_id: str) -> dict | None:
        rows = self.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
        return rows[0] if rows else None

    def steps(self, run_id: str) -> list[dict]:
        """The run's steps in order (rows of the `steps` view; `output_json` decoded as `output`)."""
        rows = self.query("SELECT * FROM steps WHERE run_id = ? ORDER BY step, started_at", [run_id])
        for r in rows:
            r["output"] = _loads(r.get("output_json"))
        return rows

    def segments(self, run_id: str, step: int) -> list[dict]:
        """The segment manifest at `step`: every segment in that request, in order."""
        return self.query(_SEGMENTS_AT + ' ORDER BY "index"', {"run": run_id, "step": int(step)})

    def step_messages(self, run_id: str, step: int) -> list[dict]:
        """Each message of the step's request: `message` as sent, `original` as the agent gave it,
        with the segment's handle, role, kind, state, reason, rule and `edited` flag."""
        rows = self.query(_MESSAGES_AT.format(segments=_SEGMENTS_AT), {"run": run_id, "step": int(step)})
        out = []
        for r in rows:
            original = _loads(r.pop("original_json"))
            sent = _loads(r.pop("sent_json")) if r["edited"] else original
            r["message"], r["original"] = sent, original
            out.append(r)
        return out

    def sent_messages(self, run_id: str, step: int) -> list[dict]:
        """The request as sent at `step` (after contextkit's surgery)."""
        return [r["message"] for r in self.step_messages(run_id, step)]

    def raw_messages(self, run_id: str, step: int) -> list[dict]:
        """What the agent would have sent at `step` without contextkit (pruned segments' originals)."""
        return [r["original"] for r in self.step_messages(run_id, step)]

    def tool_calls(self, run_id: str) -> list[dict]:
        return self.query("SELECT * FROM tool_calls WHERE run_id = ? ORDER BY started_at", [run_id])

    def decisions(self, run_id: str) -> list[dict]:
        return self.query("SELECT * FROM decisions WHERE run_id = ? ORDER BY step", [run_id])

    def spans(self, run_id: str | None = None, trace_id: str | None = None) -> list[dict]:
        """Raw spans (attributes and events decoded), oldest first."""
        where, params = [], []
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if trace_id is not None:
            where.append("trace_id = ?")
            params.append(trace_id)
        sql = "SELECT * FROM raw_spans" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY start_time"
        rows = self.query(sql, params)
        for r in rows:
            r["attributes"] = _loads(r.get("attributes")) or {}
            r["events"] = _loads(r.get("events")) or []
        return rows


def connect(path: str, deadline: float, *, read_only: bool = False, config: dict | None = None, max_delay: float = 0.05) -> Any:
    """A DuckDB connection, retried with jittered backoff while another process holds the file
    (one writer OR many readers per file); any other error, or the deadline, raises at once."""
    import duckdb

    delay = 0.005
    while True:
        try:
            return duckdb.connect(path, read_only=read_only, config=config or {})
        except duckdb.IOException as e:
            if not is_lock_conflict(e) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, max_delay)


def is_lock_conflict(e: Exception) -> bool:
    """DuckDB's error when another process holds the file (the only one worth retrying). The quoted
    path is left out: a damaged store under /srv/blocks/ is not a lock to wait for."""
    return "lock" in re.sub(r'"[^"]*"', "", str(e)).lower()


def _loads(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


# The manifest at one step, from the change rows (the latest row per segment at or before it).
_SEGMENTS_AT = f"""
SELECT {segment_columns("segment_states", "$step")}
FROM segment_states
WHERE run_id = $run AND step <= $step
QUALIFY row_number() OVER (PARTITION BY handle ORDER BY step DESC) = 1 AND idx >= 0
"""

_MESSAGES_AT = """
WITH s AS ({segments}),
o AS (SELECT handle, any_value(hash) AS hash FROM segment_forms WHERE run_id = $run AND form = 'original' GROUP BY handle),
e AS (SELECT handle, hash FROM segment_forms WHERE run_id = $run AND form = 'edited' AND step <= $step
      QUALIFY row_number() OVER (PARTITION BY handle ORDER BY step DESC) = 1)
SELECT s."index", s.handle, s.role, s.kind, s.state, s.reason, s.rule, s.edited, mo.json AS original_json, me.json AS sent_json
FROM s
LEFT JOIN o ON o.handle = s.handle
LEFT JOIN e ON e.handle = s.handle
LEFT JOIN messages mo ON mo.hash = o.hash
LEFT JOIN messages me ON me.hash = e.hash
ORDER BY s."index"
"""
