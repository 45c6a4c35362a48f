"""Runs recorded in a contextkit trace store, as trajectories: tune policies on your own traffic.

The store keeps, for every step, the list the agent would have sent without contextkit
(`TraceStore.raw_messages`, docs/trace-store.md) and the assistant message that came back
(`steps.output_json`). A run's trajectory is its last step's raw list plus that step's output:
for an agent that appends to its conversation (nearly all do) every earlier request is a prefix of
it, which is exactly what the replay shows each policy. A run traced through `prepare` alone (no
model call recorded) has no output for its last step, so that step is not replayed.
Runs are read through `contextkit.tracing.store.TraceStore` (read-only, connect-query-close: never blocks agents).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .trajectory import Trajectory, TrajectoryError


def trajectories_from_store(path: str | Path, run_ids: Iterable[str] | None = None) -> list[Trajectory]:
    """One Trajectory per run in the store (oldest first), or per run in `run_ids`.

    A path that is not a readable trace store (missing, a directory, unreadable, empty, another
    kind of file, truncated, no trace tables yet) raises TrajectoryError naming it and why."""
    try:
        from contextkit.tracing import store_file
        from contextkit.tracing.store import SCHEMA_VERSION, TraceStore
    except ImportError as e:
        raise TrajectoryError(f"{path}: reading a trace store needs contextkit's `tracing` package ({e})") from e
    why = store_file.problem(path)
    if why is not None:
        raise TrajectoryError(f"{path}: {why}")
    store = TraceStore(str(path))
    wanted = set(run_ids) if run_ids is not None else None
    out = []
    with _reading(path, store_file.open_error):
        version = store.schema_version
        if version == 0:
            raise TrajectoryError(f"{path}: an empty trace store (no trace tables: no run has been written to it)")
        if version > SCHEMA_VERSION:
            raise TrajectoryError(f"{path}: written with trace store schema {version}; this contextkit reads schema "
                                  f"{SCHEMA_VERSION} (upgrade contextkit-llm)")
        for run in reversed(store.runs()):  # runs() is newest first; replay in the order they happened
            run_id = run["run_id"]
            if wanted is not None and run_id not in wanted:
                continue
            t = _run_trajectory(store, run, path)
            if t is not None:
                out.append(t)
    if wanted is not None and len(out) < len(wanted):
        missing = sorted(wanted - {t.id for t in out})
        raise TrajectoryError(f"{path}: no run with steps for id(s) {', '.join(missing)}")
    return out


@contextmanager
def _reading(path: str | Path, open_error) -> Iterator[None]:
    """DuckDB's errors about the file itself become a TrajectoryError naming it; others are bugs and pass."""
    try:
        yield
    except TrajectoryError:
        raise
    except Exception as e:
        why = open_error(e)
        if why is None:
            raise
        raise TrajectoryError(f"{path}: {why}") from e


def _run_trajectory(store, run: dict, path: str | Path) -> Trajectory | None:
    steps = store.steps(run["run_id"])
    if not steps:
        return None
    last = steps[-1]
    messages = [dict(m) for m in store.raw_messages(run["run_id"], last["step"])]
    output = _output_message(last.get("output_json"))
    if output is not None:
        messages.append(output)
    task = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    return Trajectory(
        id=run["run_id"],
        messages=messages,
        model=run.get("model"),
        task=task if isinstance(task, str) else None,
        source={"trace_store": str(path), "run_id": run["run_id"]},
        meta={k: run.get(k) for k in ("name", "policy", "status", "started_at", "steps") if k in run},
        path=f"{path}#{run['run_id']}",
    )


def _output_message(output_json: str | None) -> dict | None:
    """The assistant message a step's model call returned (content, tool_calls, reasoning)."""
    if not output_json:
        return None
    try:
        m = json.loads(output_json)
    except ValueError:
        return None
    if not isinstance(m, dict):
        return None
    m = {k: v for k, v in m.items() if v is not None}
    m["role"] = "assistant"
    return m
