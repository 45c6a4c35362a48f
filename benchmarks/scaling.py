"""Does a call cost what is new, or what is there? `Session.prepare` at 250 / 1k / 4k / 16k messages.

For each size, one conversation chained from the shared trajectories (benchmarks/_chain.py) is
replayed as an agent sends it (prepare before every assistant message: each call adds two
messages), and measured side by side in this one run:
  - incremental `prepare()`: median of the last 40 calls (2 messages added each);
  - cold `prepare()` of the whole history by a fresh Session (a resumed agent, a gateway replica),
    next to one `litellm.token_counter` pass over the same messages;
  - what the session holds after the replay, against the conversation's text.

Then, on the 1k conversation, a whole run of `Session.completion` calls (litellm's mock_response):
what the session and its step records hold beyond the responses plain litellm would leave.

    python benchmarks/scaling.py [--sizes 250 1000 4000 16000] [--policy default]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc

os.environ.setdefault("CONTEXTKIT_TRACING", "off")

import contextkit  # noqa: E402

# gpt-4o's tokenizer and prices, with a window past these conversations (the longest is 3.8M tokens):
# fitting to 128k is what would happen for real, and not what this measures
WINDOW = 10_000_000
from _chain import by_messages  # noqa: E402


def text_bytes(msgs: list[dict]) -> int:
    n = 0
    for m in msgs:
        n += len((m.get("content") or "").encode())
        for tc in m.get("tool_calls") or ():
            n += len(tc["function"]["name"].encode()) + len(tc["function"]["arguments"].encode())
    return n


def ends(msgs: list[dict]) -> list[int]:
    return [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0] + [len(msgs)]


def incremental(msgs: list[dict], policy: str, last: int = 40) -> float:
    """Median seconds of the last `last` calls of an agent-style replay."""
    s = contextkit.Session(policy, model="gpt-4o", context_window=WINDOW, tracing=False)
    stops = ends(msgs)
    times = []
    for k, i in enumerate(stops):
        prefix = msgs[:i]
        t0 = time.perf_counter()
        s.prepare(prefix)
        if k >= len(stops) - last:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def held_after_replay(msgs: list[dict], policy: str) -> int:
    """Bytes the session holds after an agent-style replay (traced memory with it alive minus after `del`)."""
    gc.collect()
    tracemalloc.start()
    s = contextkit.Session(policy, model="gpt-4o", context_window=WINDOW, tracing=False)
    for i in ends(msgs):
        s.prepare(msgs[:i])
    gc.collect()
    alive = tracemalloc.get_traced_memory()[0]
    del s
    gc.collect()
    held = alive - tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return held


def cold(msgs: list[dict], policy: str, repeats: int = 3) -> tuple[float, float]:
    """(fresh Session.prepare of the whole history, litellm.token_counter of it): best of `repeats`."""
    import litellm

    ours, theirs = [], []
    for _ in range(repeats):
        s = contextkit.Session(policy, model="gpt-4o", context_window=WINDOW, tracing=False)
        t0 = time.perf_counter()
        s.prepare(msgs)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        litellm.token_counter(model="gpt-4o", messages=msgs)
        theirs.append(time.perf_counter() - t0)
    return min(ours), min(theirs)


def completion_memory(msgs: list[dict], policy: str) -> tuple[int, int]:
    """(bytes the session and its step records hold after a run of model calls on `msgs`, bytes plain
    litellm's responses take for the same calls).

    Both come from one traced run through `Session.completion` (litellm's mock_response): the agent
    keeps every response, as plain litellm would leave it; what the session holds is the traced
    memory with the session alive minus after `del` (the responses still held). Two separate runs
    subtracted would carry litellm's own cache noise (~1 MB between runs) into the difference."""
    import litellm

    for i in ends(msgs)[:3]:  # litellm's own first-call caches are not the session's
        litellm.completion(model="gpt-4o", messages=msgs[:i], mock_response="ok")
    gc.collect()
    tracemalloc.start()
    s = contextkit.Session(policy, model="gpt-4o", context_window=WINDOW, tracing=False)
    kept = [s.completion(model="gpt-4o", messages=msgs[:i], mock_response="ok") for i in ends(msgs)[:-1]]
    gc.collect()
    alive = tracemalloc.get_traced_memory()[0]
    del s
    gc.collect()
    responses = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return alive - responses, responses


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000, 16000])
    ap.add_argument("--policy", default="default")
    a = ap.parse_args()
    print(f"policy {a.policy}; machine load {os.getloadavg()[0]:.1f}")
    print("| messages | tokens | incremental prepare (median, last 40 calls) | cold prepare | litellm.token_counter | cold / token_counter | session holds / text |")
    print("|---|---|---|---|---|---|---|")
    import litellm

    ref = 1000 if 1000 in a.sizes else a.sizes[0]  # the yardstick: the cost at 1k messages
    base = incremental(by_messages(ref), a.policy)
    for n in a.sizes:
        msgs = by_messages(n)
        tokens = litellm.token_counter(model="gpt-4o", messages=msgs)
        inc = base if n == ref else incremental(msgs, a.policy)
        held = held_after_replay(msgs, a.policy)
        c, tc = cold(msgs, a.policy)
        print(f"| {len(msgs):,} | {tokens:,} | {inc * 1e3:.3f} ms ({inc / base:.2f}x the {ref:,}-message cost) "
              f"| {c * 1e3:.0f} ms | {tc * 1e3:.0f} ms | {c / tc:.2f}x | {held / text_bytes(msgs):.2f}x |", flush=True)
    msgs = by_messages(1000)
    ours, responses = completion_memory(msgs, a.policy)
    tb = text_bytes(msgs)
    print(f"\nSession.completion run on {len(msgs):,} messages ({len(ends(msgs)) - 1} calls): the session and its "
          f"records hold {ours / 1e6:.2f} MB beyond what plain litellm leaves (the responses, {responses / 1e6:.2f} MB, "
          f"held by the agent either way) = {ours / tb:.2f}x the conversation's text ({tb / 1e6:.2f} MB); target <= 3x")


if __name__ == "__main__":
    main()
