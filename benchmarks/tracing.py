"""Tracing benchmarks, side by side in one run (docs/benchmarks.md, ## Tracing):

1. step spans exported into DuckDB per second (the store exporter fed the real spans of the shared
   trajectories, in the processor's batch size);
2. tracing overhead on the agent's thread per step (every observer hook a step triggers, timed);
3. store size for the shared trajectories traced under the default policy vs their JSON size;
4. the slowdown of a 20-step agent when the OTLP endpoint is dead (accepts, never answers).

    python benchmarks/tracing.py [--trajectories ../shared/data/trajectories] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file is named like the package it measures: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests"))

from contextkit import Session, tracing  # noqa: E402
from contextkit.tracing.config import TracingConfig  # noqa: E402
from contextkit.tracing.duckdb_exporter import DuckDBSpanExporter  # noqa: E402

from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from tracing_agent import replay  # noqa: E402


def load(folder: Path) -> list[tuple[Path, dict]]:
    return [(f, json.loads(f.read_text())) for f in sorted(folder.glob("*.json"))]


class Timed:
    """Wraps an observer and times every hook on the calling (agent) thread."""

    def __init__(self, inner):
        self.inner = inner
        self.per_step: dict[int, float] = {}
        self.session = None

    def _timed(self, name: str, session, *args) -> None:
        t0 = time.perf_counter()
        getattr(self.inner, name)(session, *args)
        self.per_step[session.step] = self.per_step.get(session.step, 0.0) + time.perf_counter() - t0

    def prepared(self, s, r): self._timed("prepared", s, r)  # noqa: E704
    def step_finished(self, s, r): self._timed("step_finished", s, r)  # noqa: E704
    def tool_started(self, s, r): self._timed("tool_started", s, r)  # noqa: E704
    def tool_finished(self, s, r): self._timed("tool_finished", s, r)  # noqa: E704
    def run_finished(self, s): self.inner.run_finished(s)  # noqa: E704


def trace_all(trajs, db: str | None, capture: InMemorySpanExporter | None, model_s: float = 0.0) -> tuple[list[float], float]:
    """Replay every trajectory under the default policy with tracing on; returns per-step hook times
    (ms) and the wall time of the replay. With `capture`, the spans (as the default setup makes
    them: no flattened messages) are also kept in memory."""
    extra = [SimpleSpanProcessor(capture)] if capture is not None else []
    tracing.configure(db_path=db, extra_processors=extra, flatten_messages=False)
    hooks: list[float] = []
    t0 = time.perf_counter()
    for _, t in trajs:
        s = Session(name=t["id"])
        timed = Timed(s.observers[0])
        s.observers = [timed]
        replay(s, t["messages"], sleep_s=model_s)
        s.close()
        hooks.extend(v * 1000 for v in timed.per_step.values())
    wall = time.perf_counter() - t0
    tracing.flush(120)
    tracing.shutdown(120)
    return hooks, wall


def export_rate(spans: list, workdir: str, batch: int = TracingConfig.max_export_batch_size) -> dict:
    """Feed captured spans to a fresh store exporter in batches of the store processor's size.
    Wall and CPU time: other processes on a shared machine inflate wall time."""
    exp = DuckDBSpanExporter(os.path.join(workdir, f"rate-{time.monotonic_ns()}.duckdb"))
    exp.export(spans[:200])  # schema creation and first imports are one-offs, not throughput
    rest = spans[200:]
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(rest), batch):
        exp.export(rest[i:i + batch])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    step_spans = sum(1 for s in rest if s.attributes.get("gen_ai.operation.name") in ("chat", "context_prune"))
    return {"wall": step_spans / wall, "cpu": step_spans / cpu, "all": len(rest) / wall, "failures": exp.failures}


def blackhole() -> socket.socket:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(256)
    return srv


def agent_20_steps(traj: dict, model_ms: float) -> float:
    """A 20-step agent run (prepare, a model call of `model_ms`, tools); wall seconds incl. close()."""
    msgs = traj["messages"]
    cut = [i for i, m in enumerate(msgs) if m["role"] == "assistant"][20]
    t0 = time.perf_counter()
    s = Session(name="bench-20")
    replay(s, msgs[:cut], sleep_s=model_ms / 1000)
    s.close()
    return time.perf_counter() - t0


def dead_endpoint(traj: dict, workdir: str, repeats: int, model_ms: float) -> dict:
    hole = blackhole()
    dead = f"http://127.0.0.1:{hole.getsockname()[1]}/v1/traces"
    times: dict[str, list[float]] = {"off": [], "store": [], "store+dead OTLP": []}
    try:
        for r in range(repeats):
            for mode in times:  # interleaved, so drift hits every mode alike
                os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
                if mode == "off":
                    os.environ["CONTEXTKIT_TRACING"] = "off"
                else:
                    os.environ.pop("CONTEXTKIT_TRACING", None)
                    if mode != "store":
                        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = dead
                    tracing.configure(db_path=os.path.join(workdir, f"dead-{r}.duckdb"), shutdown_timeout_s=5)
                times[mode].append(agent_20_steps(traj, model_ms))
                if mode != "off":
                    tracing.shutdown(5)
    finally:
        os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
        os.environ.pop("CONTEXTKIT_TRACING", None)
        hole.close()
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trajectories", default=str(ROOT.parent / "shared" / "data" / "trajectories"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model-ms", type=float, default=200.0, help="simulated model latency per step")
    args = ap.parse_args()
    trajs = load(Path(args.trajectories))
    json_bytes = sum(f.stat().st_size for f, _ in trajs)
    n_steps = sum(sum(1 for i, m in enumerate(t["messages"]) if m["role"] == "assistant" and i) for _, t in trajs)
    with tempfile.TemporaryDirectory() as work:
        # 2 + 3: the default setup (DuckDB store only), every trajectory, hooks timed on the agent
        # thread; each model call takes 5 ms (real ones take 100x longer), so the worker keeps up
        db = os.path.join(work, "traces.duckdb")
        hooks, _ = trace_all(trajs, db, None, model_s=0.005)
        size = os.path.getsize(db) + (os.path.getsize(db + ".wal") if os.path.exists(db + ".wal") else 0)
        # for scale: the same replay without tracing
        os.environ["CONTEXTKIT_TRACING"] = "off"
        t0 = time.perf_counter()
        for _, t in trajs:
            replay(Session(name=t["id"]), t["messages"])
        wall_off = time.perf_counter() - t0
        os.environ.pop("CONTEXTKIT_TRACING")
        # 1: the same spans captured in memory, then written by a fresh exporter
        # (back to back, no model time: the worst case, the worker competes for the GIL)
        cap = InMemorySpanExporter()
        hooks_b2b, wall = trace_all(trajs, None, cap)
        spans = list(cap.get_finished_spans())
        export_rate(spans, work)  # warm-up: DuckDB's first-use costs are once per process
        rounds = [export_rate(spans, work) for _ in range(args.repeats)]
        best = max(rounds, key=lambda r: r["wall"])
        step_rate = statistics.median(r["wall"] for r in rounds)
        cpu_rate = statistics.median(r["cpu"] for r in rounds)
        failures = sum(r["failures"] for r in rounds)
        # 4: dead OTLP endpoint
        dead = dead_endpoint(max((t for _, t in trajs), key=lambda t: len(t["messages"])), work, args.repeats, args.model_ms)
    hooks.sort()
    hooks_b2b.sort()
    p = lambda q, h=hooks: h[min(len(h) - 1, int(q * len(h)))]  # noqa: E731
    slow = dead["store+dead OTLP"] / dead["store"] - 1
    slow_off = dead["store+dead OTLP"] / dead["off"] - 1
    print(f"trajectories: {len(trajs)}, steps: {n_steps}, spans: {len(spans)}  (machine: {os.cpu_count()} cores)")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| step spans (chat + context_prune) exported into DuckDB | median {step_rate:,.0f} /s, best {best['wall']:,.0f} /s "
          f"(per CPU second: {cpu_rate:,.0f}) | >= 20,000 /s |")
    print(f"| tracing on the agent's thread per step (5 ms model calls) | median {p(0.5):.3f} ms, p90 {p(0.9):.3f} ms, "
          f"p99 {p(0.99):.3f} ms | <= 0.3 ms median |")
    print(f"| same, steps back to back (worker busy, sharing the GIL) | median {p(0.5, hooks_b2b):.3f} ms, "
          f"p90 {p(0.9, hooks_b2b):.3f} ms, p99 {p(0.99, hooks_b2b):.3f} ms | |")
    print(f"| store size vs trajectories' JSON | {size / 1e6:.2f} MB vs {json_bytes / 1e6:.2f} MB = {size / json_bytes:.2f}x | <= 1.5x |")
    print(f"| 20-step agent ({args.model_ms:.0f} ms model calls), dead OTLP endpoint | {dead['store+dead OTLP']:.3f} s vs {dead['store']:.3f} s store only "
          f"({slow:+.1%}), vs {dead['off']:.3f} s tracing off ({slow_off:+.1%}) | <= +5% |")
    print(f"(replay of all {n_steps} steps incl. span building and writing: {wall:.1f} s with tracing, "
          f"{wall_off:.1f} s without; export failures: {failures})")


if __name__ == "__main__":
    main()
