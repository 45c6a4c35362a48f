"""Every read the viewer makes, through `contextkit.tracing.store.TraceStore` (read-only, connect-query-close:
never a connection held open, so agents writing to the file are not blocked), cached by Streamlit.

Cache keys carry a version: the file's signature for the runs list, and (status, steps, end) of a
run for its details. A finished run never changes, so its details are read once; a run still being
written gets a new version with every new step.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass

from contextkit import settings

import pandas as pd
import streamlit as st

from . import composition as comp


@dataclass(frozen=True)
class StoreState:
    """Whether the store can be shown, and if not, what to tell the user."""

    path: str
    ok: bool
    title: str = ""
    detail: str = ""
    schema: int = 0
    signature: tuple = ()


@dataclass
class StepView:
    """One step of a run: its manifest, the previous step's, and its messages."""

    step: int
    segments: list[dict]
    previous: list[dict]
    messages: list[dict]


def _store(path: str):
    from contextkit.tracing.store import TraceStore

    return TraceStore(path, timeout=5.0)


def store_path() -> str:
    """The store this app shows: what `contextkit view` was given, else tracing's default."""
    p = settings.VIEW_STORE.get()
    if p:
        return os.path.abspath(os.path.expanduser(p))
    from contextkit.tracing.store import TraceStore

    try:
        return TraceStore().path
    except FileNotFoundError:  # CONTEXTKIT_TRACE_DB=off
        return ""


def signature(path: str) -> tuple:
    """Changes whenever a writer commits (the file or its WAL is rewritten)."""
    out: list[tuple[int, int] | None] = []
    for p in (path, path + ".wal"):
        try:
            s = os.stat(p)
            out.append((s.st_mtime_ns, s.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def check(path: str) -> StoreState:
    """Is there a store at `path` this viewer can read? Never raises."""
    if not path:
        return StoreState(path, False, "Tracing is off", "CONTEXTKIT_TRACE_DB is set to `off`, so there is no trace "
                          "store to show. Pass one: `contextkit view path/to/traces.duckdb`.")
    if not os.path.exists(path):
        return StoreState(path, False, "No trace store here yet",
                          f"There is no file at `{path}`. Run an agent with tracing on (every `contextkit.Session` "
                          "traces by default; try `contextkit demo`), or pass a store: `contextkit view path/to/traces.duckdb`.")
    if not _duckdb_file(path):
        return StoreState(path, False, "This file is not a readable trace store",
                          f"`{path}` is not a DuckDB file. Pass the trace store an agent wrote (CONTEXTKIT_TRACE_DB).")
    sig = signature(path)
    return _check(path, sig)


def _duckdb_file(path: str) -> bool:
    """DuckDB files carry 'DUCK' at byte 8. Checked up front because opening anything else fails
    with the same error class as a lock conflict, which the store's reader would retry for seconds."""
    try:
        with open(path, "rb") as f:
            return f.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


@st.cache_data(show_spinner=False, max_entries=16)
def _check(path: str, sig: tuple) -> StoreState:
    from contextkit.tracing.store import SCHEMA_VERSION, StoreBusyError

    try:
        version = _store(path).schema_version
    except StoreBusyError:
        return StoreState(path, False, "The store is busy",
                          "Writers held the file for more than 5 s. It will be read on the next refresh.")
    except Exception as e:  # noqa: BLE001 - not a DuckDB file, or a broken one
        return StoreState(path, False, "This file is not a readable trace store", f"`{path}`: {type(e).__name__}: {e}")
    if version == 0:
        return StoreState(path, False, "The store is empty", f"`{path}` has no trace tables yet: no run has been written to it.")
    if version > SCHEMA_VERSION:
        return StoreState(path, False, "This store is newer than this viewer",
                          f"`{path}` was written with trace store schema {version}; this viewer reads schema "
                          f"{SCHEMA_VERSION}. Upgrade contextkit (`pip install -U contextkit-llm`) to view it.", version)
    return StoreState(path, True, schema=version, signature=sig)


# ---------------------------------------------------------------------- runs

_RUNS_SQL = """
WITH g AS (
  SELECT run_id, any_value(model) AS step_model, max(ended_at) AS last_at,
         sum(coalesce(json_array_length(guard_events), 0)) AS guard_events,
         list(tokens_after ORDER BY step) AS context
  FROM steps GROUP BY run_id)
SELECT r.run_id, r.name, coalesce(r.model, g.step_model) AS model, r.policy, r.status, r.started_at,
       coalesce(r.ended_at, g.last_at) AS ended_at, r.steps, r.tool_calls, r.input_tokens, r.output_tokens,
       r.cost_usd, r.tokens_before, r.tokens_after, r.tokens_saved, r.saved_usd, r.errors,
       coalesce(g.guard_events, 0) AS guard_events, r.user_id, r.tags, r.service_name, g.context, r.unwritten,
       json_extract_string(r.metadata, '$.comparison_of') AS comparison_of
FROM runs r LEFT JOIN g USING (run_id)
ORDER BY r.started_at DESC NULLS LAST, r.run_id
"""

RUN_COLUMNS = ["run_id", "name", "model", "policy", "status", "started_at", "ended_at", "steps", "tool_calls",
               "input_tokens", "output_tokens", "cost_usd", "tokens_before", "tokens_after", "tokens_saved",
               "saved_usd", "errors", "guard_events", "user_id", "tags", "service_name", "context", "unwritten",
               "comparison_of"]
SPARK_POINTS = 40  # the runs table's context sparkline: at most this many points per run


@st.cache_data(show_spinner=False, max_entries=8)
def runs(path: str, sig: tuple) -> pd.DataFrame:
    """Every run, newest first, with duration and savings (one row per run)."""
    df = pd.DataFrame(_store(path).query(_RUNS_SQL), columns=RUN_COLUMNS)
    if df.empty:
        return df
    df["name"] = df["name"].fillna("(open run)")
    df["duration_s"] = (df["ended_at"] - df["started_at"]).dt.total_seconds()
    df["saved_pct"] = saved_share(df["cost_usd"], df["saved_usd"])
    df["tags"] = df["tags"].map(_tags)
    df["context"] = df["context"].map(_spark)
    for c in ("steps", "tool_calls", "errors", "guard_events", "unwritten"):
        df[c] = df[c].fillna(0).astype("int64")
    tool = _tool_guard_events(path)
    if tool:
        df["guard_events"] += df["run_id"].map(tool).fillna(0).astype("int64")
    return df


_TOOL_EVENTS_SQL = ("SELECT run_id, sum(coalesce(json_array_length(guard_events), 0)) AS n FROM tool_spans "
                    "GROUP BY run_id")


def _tool_guard_events(path: str) -> dict[str, int]:
    """Guard events stored on tools (the circuit breaker's: tool_spans.guard_events, schema 7), per
    run; {} on a store whose schema has no such column."""
    store = _store(path)
    cols = store.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'tool_spans'")
    if "guard_events" not in {c["column_name"] for c in cols}:
        return {}
    return {r["run_id"]: int(r["n"] or 0) for r in store.query(_TOOL_EVENTS_SQL)}


def saved_share(cost: pd.Series, saved: pd.Series) -> pd.Series:
    """Saved as a share of what the calls would have cost unpruned: saved / (cost + saved), the one
    percentage the viewer, the demo and docs/cost.md call "saved" (NaN where a run has no price)."""
    unpruned = cost + saved
    return (saved / unpruned).where(unpruned > 0)


@st.cache_data(show_spinner=False, max_entries=8)
def unwritten(path: str, sig: tuple) -> int:
    """Spans writers could not store in this file (the store's `write_errors`)."""
    return _store(path).unwritten()


def _spark(values) -> list[int]:
    """Tokens sent per step, thinned to SPARK_POINTS (the last step always kept)."""
    if values is None:
        return []
    v = [int(x) for x in values if x is not None]
    if len(v) <= SPARK_POINTS:
        return v
    k = -(-len(v) // SPARK_POINTS)
    return v[::k] + ([v[-1]] if (len(v) - 1) % k else [])


def _tags(v) -> str:
    if v is None or (isinstance(v, float) and v != v) or not v:
        return ""
    try:
        t = json.loads(v) if isinstance(v, str) else v
    except ValueError:
        return str(v)
    return ", ".join(map(str, t)) if isinstance(t, list) else str(t)


def run_version(run: dict | pd.Series, sig: tuple) -> tuple:
    """What a run's cached details depend on: a finished run never changes."""
    base = (run["status"], int(run["steps"]), str(run["ended_at"]))
    return base if run["status"] != "open" else base + (sig,)


# ---------------------------------------------------------------------- one run

_STEP_COLUMNS = ["step", "started_at", "ended_at", "n_messages", "n_segments", "tokens_before", "tokens_after", "pruned",
                 "fallback", "context_error", "prepare_ms", "model", "provider", "latency_ms", "input_tokens",
                 "output_tokens", "reasoning_tokens", "cache_read_tokens", "cache_write_tokens", "usage_estimated", "cost_usd",
                 "input_cost_usd", "saved_usd", "cost_note", "finish_reason", "error", "guard_events", "output", "response_model",
                 "notes", "kind"]  # notes (schema 6) and kind (schema 5): missing on older stores, NaN here


@st.cache_data(show_spinner=False, max_entries=32)
def steps(path: str, run_id: str, version: tuple) -> pd.DataFrame:
    """The run's steps in order, with cumulative cost."""
    rows = _store(path).steps(run_id)
    df = pd.DataFrame(rows, columns=_STEP_COLUMNS)
    if df.empty:
        return df
    df["cost"] = df["cost_usd"].fillna(0.0)
    df["cumulative_cost"] = df["cost"].cumsum()
    df["guard_events"] = df["guard_events"].map(lambda v: json.loads(v) if isinstance(v, str) and v else [])
    return df


_COMPOSITION_SQL = """
SELECT step, kind, tool_name, state, coalesce(edited, false) AS edited, rule,
       sum(tokens) AS tokens, sum(sent_tokens) AS sent_tokens, sum(reasoning_tokens) AS reasoning_tokens
FROM step_segments WHERE run_id = ? GROUP BY ALL ORDER BY step
"""


@st.cache_data(show_spinner=False, max_entries=32)
def composition(path: str, run_id: str, version: tuple) -> pd.DataFrame:
    """Long table (step, category, tokens): what was sent at every step, by category, plus what
    pruning took out (`pruned away`). Tools beyond the largest few are folded into 'tool: other'."""
    rows = _store(path).query(_COMPOSITION_SQL, [run_id])
    by_step: dict[int, dict[str, int]] = {}
    for r in rows:
        acc = by_step.setdefault(int(r["step"]), {})
        for cat, n in comp.split([r]).items():
            acc[cat] = acc.get(cat, 0) + n
    totals: dict[str, int] = {}
    for acc in by_step.values():
        for cat, n in acc.items():
            totals[cat] = totals.get(cat, 0) + n
    fold = comp.fold_tools(totals)
    out = [(s, fold[c], n) for s, acc in by_step.items() for c, n in acc.items()]
    df = pd.DataFrame(out, columns=["step", "category", "tokens"])
    return df.groupby(["step", "category"], as_index=False)["tokens"].sum()


@st.cache_data(show_spinner=False, max_entries=64)
def step_view(path: str, run_id: str, step: int, version: tuple) -> StepView:
    """The manifest and messages of one step, and the previous step's manifest (to diff)."""
    store = _store(path)
    segs = store.segments(run_id, step)
    prev = store.segments(run_id, step - 1) if step > 1 else []
    msgs = store.step_messages(run_id, step)
    return StepView(step, segs, prev, msgs)


@st.cache_data(show_spinner=False, max_entries=32)
def tool_calls(path: str, run_id: str, version: tuple) -> list[dict]:
    return _store(path).tool_calls(run_id)


def context_limit(*models: str | None) -> int | None:
    """The input limit of the first of `models` (names the store gives one model: as called, as
    the provider answered) that litellm's model map (offline) knows, or None."""
    for m in models:
        n = _context_limit(m) if isinstance(m, str) and m else None
        if n:
            return n
    return None


@st.cache_data(show_spinner=False, max_entries=256)
def _context_limit(model: str) -> int | None:
    if not model:
        return None
    from contextkit.models import context_window

    with contextlib.redirect_stdout(io.StringIO()):  # litellm prints a provider list for unknown names
        try:
            n = context_window(model)
        except Exception:  # noqa: BLE001 - no limit line rather than no page
            return None
    return int(n) if n else None


def diff(view: StepView) -> dict[str, list[dict]]:
    """What changed since the previous step: added, pruned, restored, edited, removed segments."""
    before = {s["handle"]: s for s in view.previous}
    out: dict[str, list[dict]] = {"added": [], "pruned": [], "restored": [], "edited": [], "removed": []}
    for s in view.segments:
        old = before.pop(s["handle"], None)
        if old is None:
            out["added"].append(s)
            if s["state"] == "pruned":
                out["pruned"].append(s)
            continue
        if s["state"] == "pruned" and old["state"] != "pruned":
            out["pruned"].append(s)
        elif s["state"] == "restored" and old["state"] != "restored":
            out["restored"].append(s)
        elif s["sent_tokens"] != old["sent_tokens"] and s["state"] != "pruned":
            out["edited"].append(s)
    out["removed"] = list(before.values())
    return out
