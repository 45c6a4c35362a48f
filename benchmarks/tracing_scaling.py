"""Per-step tracing cost as a conversation grows (issue 18), side by side in one run
(docs/benchmarks.md, ## Tracing as the conversation grows):

1. on the agent's thread: every observer hook one step triggers (prepared, step_finished, the tool's
   started/finished), timed, at 250 / 1k / 4k / 8k / 16k messages, for 30 steps appended to a
   conversation of that size (chained from the shared trajectories, benchmarks/_chain.py); beside
   it, what the old `prepared` hook did (a snapshot of every segment), timed on the same ledger;
2. on the tracing worker: building the step's spans (context and chat), store only and with OTLP on
   (the chat span then shows the request, capped);
3. bytes sent over OTLP (a local receiver) for 75, 150, 300 and 600 steps of one chained run, and
   how they split between the chat spans that are snapshots (a capped view of the whole request,
   every `snapshot_every`-th call), the chat spans between them (what is new) and the context spans.

    python benchmarks/tracing_scaling.py [--sizes 250,1000,4000,8000,16000] [--steps 30] [--otlp-turns 75,150,300,600]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from contextkit import Session, StepRecord, tracing
from contextkit.tracing import builders as B

from _chain import by_messages, by_turns
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from otlp_receiver import OTLPReceiver


class Timed:
    """Wraps the tracing observer: times its hooks on the agent's thread, and the span building it
    queues for the worker."""

    def __init__(self, inner):
        self.inner = inner
        self.agent: dict[int, float] = {}
        self.worker: dict[int, float] = {}
        for name in ("_context_span", "_llm_span"):
            setattr(inner, name, self._on_worker(getattr(inner, name)))

    def _on_worker(self, fn):
        def run(*args):
            t0 = time.perf_counter()
            fn(*args)
            step = getattr(args[0], "step", 0)
            self.worker[step] = self.worker.get(step, 0.0) + time.perf_counter() - t0
        return run

    def _timed(self, name: str, session, *args) -> None:
        t0 = time.perf_counter()
        getattr(self.inner, name)(session, *args)
        self.agent[session.step] = self.agent.get(session.step, 0.0) + time.perf_counter() - t0

    def run_started(self, s): pass  # noqa: E704
    def prepared(self, s, r): self._timed("prepared", s, r)  # noqa: E704
    def step_finished(self, s, r): self._timed("step_finished", s, r)  # noqa: E704
    def tool_started(self, s, r): self._timed("tool_started", s, r)  # noqa: E704
    def tool_finished(self, s, r): self._timed("tool_finished", s, r)  # noqa: E704
    def run_finished(self, s): self.inner.run_finished(s)  # noqa: E704


def steps_at(msgs: list[dict], n: int, steps: int) -> list[int]:
    """Indices of the assistant turns from about `n` messages on: each is one step."""
    return [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i >= n][:steps]


def run(msgs: list[dict], n: int, steps: int) -> dict:
    """A session that has seen the first ~n messages, then `steps` more steps, each appending an
    assistant turn and its tool results; the hooks timed per step."""
    s = Session(name=f"scale-{n}")  # no model: no window to fit (a 16k-message chain is far over any)
    timed = Timed(s.observers[0])
    s.observers = [timed]
    cuts = steps_at(msgs, n, steps + 1)
    s.prepare(msgs[:cuts[0]])  # the history, seen once (not timed: a cold prepare)
    tracing.flush(60)
    timed.agent.clear()
    timed.worker.clear()
    old = []
    for i in cuts[1:]:
        sent = s.prepare(msgs[:i])
        s.record_step(StepRecord(step=s.step, model="gpt-4o", started_at=time.time(), provider="openai",
                                 messages_sent=sent, input_tokens=s.last_report.tokens_after, output_tokens=20,
                                 response_message=msgs[i]))
        for tc in msgs[i].get("tool_calls") or ():
            with s.tool(tc["function"]["name"], tool_call_id=tc["id"], arguments=tc["function"]["arguments"]) as t:
                t.result = "ok"
        t0 = time.perf_counter()
        list(map(B.seg_getter, s.ledger.segments))  # what the old prepared hook did, on this ledger
        old.append(time.perf_counter() - t0)
        tracing.current().worker.drain(30)  # the worker keeps up (a real model call takes far longer)
    s.close()
    tracing.flush(60)
    def ms(xs):
        return [x * 1000 for x in xs]

    agent, worker = ms(timed.agent.values()), ms(timed.worker.values())
    return {"messages": len(s.ledger.segments), "agent": agent, "worker": worker, "old": ms(old)}


def _kinds(rx: OTLPReceiver) -> dict[str, int]:
    """Encoded bytes of the spans received, by kind: chat snapshots, other chat spans, context spans, the rest."""
    out = dict.fromkeys(("chat snapshot", "chat delta", "context", "other"), 0)
    for r in rx.requests:
        req = ExportTraceServiceRequest()
        req.ParseFromString(r["body"])
        for sp in (sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans):
            snap = any(kv.key == "contextkit.input_messages.snapshot" and kv.value.bool_value for kv in sp.attributes)
            kind = ("chat snapshot" if snap else "chat delta") if sp.name.startswith("chat") else (
                "context" if sp.name == "context_prune" else "other")
            out[kind] += sp.ByteSize()
    return out


def otlp_bytes(turns: list[int], work: str) -> dict[int, tuple[float, dict[str, int]]]:
    """MB received by a local OTLP receiver for one chained run of each length (store on too), and
    the spans' bytes by kind."""
    out = {}
    for n in turns:
        rx = OTLPReceiver().start()
        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = rx.endpoint
        try:
            tracing.configure(db_path=os.path.join(work, f"otlp-{n}.duckdb"))
            msgs = by_turns(n)
            s = Session(name=f"otlp-{n}")
            for i, m in enumerate(msgs):
                if m["role"] == "assistant" and i:
                    sent = s.prepare(msgs[:i])
                    s.record_step(StepRecord(step=s.step, model="gpt-4o", started_at=time.time(), provider="openai",
                                             messages_sent=sent, response_message=m))
            s.close()
            tracing.flush(120)
            tracing.shutdown(120)
            out[n] = sum(len(r["body"]) for r in rx.requests) / 1e6, _kinds(rx)
        finally:
            os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
            rx.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="250,1000,4000,8000,16000")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--otlp-turns", default="75,150,300,600")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    results: dict[str, dict[int, dict]] = {"store": {}, "store+OTLP": {}}
    with tempfile.TemporaryDirectory() as work:
        rx = OTLPReceiver().start()
        try:
            for n in sizes:  # the modes side by side at each size, so drift hits both alike
                msgs = by_messages(n + 40 * (a.steps + 2))
                for mode in results:
                    if mode == "store+OTLP":
                        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = rx.endpoint
                    tracing.configure(db_path=os.path.join(work, f"{mode}-{n}.duckdb"))
                    results[mode][n] = run(msgs, n, a.steps)
                    tracing.shutdown(120)
                    os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
        finally:
            rx.stop()
        shipped = otlp_bytes([int(x) for x in a.otlp_turns.split(",")], work) if a.otlp_turns else {}
    med = statistics.median
    def p90(xs):
        return sorted(xs)[int(0.9 * (len(xs) - 1))]

    base = results["store"][sizes[0]]
    print(f"machine: {os.cpu_count()} cores; {a.steps} steps per size, each appending an assistant turn and its results")
    print("| messages | agent thread per step, median (p90) | old prepared snapshot | worker, store only | worker, store + OTLP |")
    print("|---|---|---|---|---|")
    for n in sizes:
        r, o = results["store"][n], results["store+OTLP"][n]
        print(f"| {r['messages']:,} | {med(r['agent']):.3f} ms ({p90(r['agent']):.3f}); with OTLP {med(o['agent']):.3f} ms "
              f"| {med(r['old']):.2f} ms | {med(r['worker']):.2f} ms | {med(o['worker']):.2f} ms |")
    last = results["store"][sizes[-1]]
    print(f"growth from {base['messages']:,} to {last['messages']:,} messages: agent thread "
          f"{med(last['agent']) / med(base['agent']):.2f}x, old snapshot {med(last['old']) / med(base['old']):.1f}x, "
          f"worker (store) {med(last['worker']) / med(base['worker']):.2f}x, worker (OTLP) "
          f"{med(results['store+OTLP'][sizes[-1]]['worker']) / med(results['store+OTLP'][sizes[0]]['worker']):.2f}x")
    if shipped:
        print("| steps of one chained run | OTLP bytes | per step | chat snapshots | chat deltas | context spans | other |")
        print("|---|---|---|---|---|---|---|")
        for n, (mb, kinds) in shipped.items():
            print(f"| {n} | {mb:.1f} MB | {mb * 1000 / n:.1f} KB | "
                  + " | ".join(f"{v / 1e6:.2f} MB" for v in kinds.values()) + " |")


if __name__ == "__main__":
    main()
