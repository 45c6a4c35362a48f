"""What does `Session.completion` add to a `litellm.completion` call?

Builds a 300-step agent conversation from the shared trajectories (their tool rounds chained one
after another, ids made unique; read at run time from ../shared/data/trajectories), starts the
local OpenAI-compatible test server (tests/openai_server.py, in its own process, as a real server
would be) and replays the conversation as an agent would, one model call per step, timing side
by side in the same run:

  plain    litellm.completion(messages=<what the session sends at that step>)
  session  Session(policy, tracing=False).completion(messages=<the agent's full list>)

Both send the same bytes (the pruned list, computed once beforehand by an identical session and
checked against the session's step records), in alternating order, so the difference is the
middleware alone: prepare(), guards, the step record, its cost. Also printed: the same added time
measured inside each call (session time minus the time spent in litellm), split into prepare()
and the rest, and, when the tracing package is usable, the figures with tracing on (a DuckDB
store in a temp dir).

Two pacings: back to back (the next call starts as soon as the last returns), and with a pause
between calls standing for the agent's tool execution (`--pause-ms`, default 20). The pause
matters because litellm finishes each call's logging on a background thread: back to back, that
work competes for the GIL with whatever runs next, plain call or session alike.

    python benchmarks/middleware_overhead.py [--steps 300] [--policy default] [--pause-ms 20] [--no-tracing]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the repo's packages before this folder's scripts (benchmarks/tracing.py)

import contextkit  # noqa: E402  (first: offline defaults before litellm loads)

from _chain import by_turns  # noqa: E402


def call_points(msgs: list[dict]) -> list[int]:
    """Where the agent calls the model: before each assistant message (and once at the end)."""
    return [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0] + [len(msgs)]


def pruned_lists(msgs: list[dict], points: list[int], policy: str) -> list[list[dict]]:
    s = contextkit.Session(policy, model="gpt-4o-mini", tracing=False)
    return [s.prepare(msgs[:i]) for i in points]


def start_server() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "openai_server.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def run(msgs, points, expected, base_url: str, policy: str, tracing, pause: float) -> dict:
    import litellm

    kw = {"model": "openai/gpt-4o-mini", "api_base": base_url, "api_key": "sk-test", "max_retries": 0}
    inner: list[float] = []

    def timed(**kwargs):
        t0 = time.perf_counter()
        try:
            return litellm.completion(**kwargs)
        finally:
            inner.append(time.perf_counter() - t0)

    session = contextkit.Session(policy, model="gpt-4o-mini", tracing=tracing)
    sent_lists: list[list[dict]] = []  # what each call sent (a record keeps it only until the next step)

    class Keep(contextkit.Observer):
        def step_finished(self, session, record):
            sent_lists.append(record.messages_sent)

    session.observers.append(Keep())
    completion = contextkit.wrap(timed, session=session)
    plain_t, session_t, added_inside = [], [], []
    for n, (i, sent) in enumerate(zip(points, expected)):
        order = ("plain", "session") if n % 2 == 0 else ("session", "plain")
        for which in order:
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter()
            if which == "plain":
                litellm.completion(messages=sent, **kw)
                plain_t.append(time.perf_counter() - t0)
            else:
                completion(messages=msgs[:i], **kw)
                took = time.perf_counter() - t0
                session_t.append(took)
                added_inside.append(took - inner[-1])
    session.close()
    same = sum(1 for sent, exp in zip(sent_lists, expected) if sent == exp)
    if same != len(expected):
        sys.exit(f"the session sent something else than the plain calls at {len(expected) - same} steps")
    pruned_steps = sum(1 for r in session.reports if r.pruned)
    return {
        "plain": plain_t,
        "session": session_t,
        "inside": added_inside,
        "paired": [s - p for s, p in zip(session_t, plain_t)],
        "prepare": [r.duration_ms / 1e3 for r in session.reports],
        "tokens_before": session.steps[-1].tokens_before,
        "tokens_after": session.steps[-1].tokens_after,
        "pruned_steps": pruned_steps,
        "steps": len(session.steps),
    }


def report(label: str, r: dict) -> float:
    med = statistics.median
    print(f"{label}: {r['steps']} calls; last request {r['tokens_before']:,} tokens -> {r['tokens_after']:,} sent")
    print(f"  plain litellm.completion       median {med(r['plain']) * 1e3:7.2f} ms")
    print(f"  Session.completion             median {med(r['session']) * 1e3:7.2f} ms")
    print(f"  added, paired per step         median {med(r['paired']) * 1e3:7.3f} ms")
    inside = sorted(r["inside"])
    p90 = inside[int(0.9 * (len(inside) - 1))]
    print(f"  added, measured inside a call  median {med(inside) * 1e3:7.3f} ms (p90 {p90 * 1e3:.3f} ms)")
    print(f"    of which prepare()           median {med(r['prepare']) * 1e3:7.3f} ms")
    return med(r["paired"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--policy", default="default")
    ap.add_argument("--pause-ms", type=float, default=20.0, help="tool time between calls in the paced run")
    ap.add_argument("--no-tracing", action="store_true", help="skip the tracing-on figures")
    a = ap.parse_args()
    msgs = by_turns(a.steps)
    points = call_points(msgs)
    expected = pruned_lists(msgs, points, a.policy)
    print(f"conversation: {len(msgs)} messages, {len(points)} model calls (policy {a.policy!r}); local server;"
          f" {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}")
    proc, base_url = start_server()
    try:
        import litellm

        for _ in range(5):  # warm up litellm's client cache and lazy imports
            litellm.completion(model="openai/gpt-4o-mini", api_base=base_url, api_key="sk-test",
                               messages=[{"role": "user", "content": "hi"}])
        pause = a.pause_ms / 1e3
        added = report("tracing off, back to back", run(msgs, points, expected, base_url, a.policy, False, 0.0))
        paced = report(f"tracing off, {a.pause_ms:g} ms tool time between calls",
                       run(msgs, points, expected, base_url, a.policy, False, pause))
        print(f"target <= 2 ms median added (paired): back to back {'met' if added <= 0.002 else 'NOT met'}, "
              f"paced {'met' if paced <= 0.002 else 'NOT met'}")
        if not a.no_tracing:
            tracing_on(msgs, points, expected, base_url, a.policy, a.pause_ms)
    finally:
        proc.terminate()
        proc.wait()


def tracing_on(msgs, points, expected, base_url: str, policy: str, pause_ms: float) -> None:
    try:
        from contextkit import tracing
    except Exception as e:  # noqa: BLE001
        print(f"tracing on: not measured ({type(e).__name__}: {e})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tracing.configure(db_path=str(Path(tmp) / "traces.duckdb"))
        on = run(msgs, points, expected, base_url, policy, True, pause_ms / 1e3)
        t0 = time.perf_counter()
        tracing.flush(60)
        flush_s = time.perf_counter() - t0
        tracing.shutdown()
    report(f"tracing on (DuckDB store), {pause_ms:g} ms tool time between calls", on)
    print(f"  (spans are built and stored off the agent's thread; the final flush took {flush_s:.2f} s)")


if __name__ == "__main__":
    main()
