"""How much does `Session.prepare` cost on a long conversation, next to a full token recount?

Builds one conversation of >= 1,500 messages / >= 300k tokens from the shared trajectories
(their tool rounds chained one after another, ids made unique), replays it call by call as an
agent would (prepare before every assistant message, so each call adds two messages), and
prints, side by side in the same run:
  - the median `prepare()` time of calls that added 2 messages;
  - the median time of `litellm.token_counter` recounting the same messages in full;
  - the ledger's memory against the conversation's text size (tracemalloc, a second replay).

    python benchmarks/prepare_overhead.py [--policy default] [--samples 15]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import contextkit

from _chain import by_size

# gpt-4o's tokenizer and prices, with a window past this 341k-token conversation (fitting it to 128k
# is what would happen for real, and not what this measures)
WINDOW = 10_000_000


def long_conversation(min_messages: int = 1500, min_tokens: int = 300_000) -> list[dict]:
    from contextkit.tokens import TokenCounter

    return by_size(min_messages, min_tokens, TokenCounter("gpt-4o").count)


def text_bytes(msgs: list[dict]) -> int:
    n = 0
    for m in msgs:
        n += len((m.get("content") or "").encode())
        for tc in m.get("tool_calls") or ():
            n += len(tc["function"]["name"].encode()) + len(tc["function"]["arguments"].encode())
    return n


def replay_times(msgs: list[dict], policy: str, recount_every: int, recount_last: int) -> tuple[list, list]:
    """(messages added, seconds) for every prepare call of an agent-style replay, and the times of
    full `litellm.token_counter` recounts of the same messages, interleaved with the last calls so
    both are measured under the same machine load."""
    import litellm

    s = contextkit.Session(policy, model="gpt-4o", context_window=WINDOW, tracing=False)
    ends = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]
    out, recount, prev = [], [], 0
    for n, i in enumerate(ends):
        t0 = time.perf_counter()
        s.prepare(msgs[:i])
        out.append((i - prev, time.perf_counter() - t0))
        prev = i
        if n >= len(ends) - recount_last and n % recount_every == 0:
            t0 = time.perf_counter()
            litellm.token_counter(model="gpt-4o", messages=msgs[:i])
            recount.append(time.perf_counter() - t0)
    return out, recount


def ledger_memory(msgs: list[dict], policy: str) -> int:
    """Bytes the session holds after the replay: traced memory with it alive minus after `del`.
    The conversation's own strings belong to the caller and are shared, not counted."""
    gc.collect()
    tracemalloc.start()
    s = contextkit.Session(policy, model="gpt-4o", context_window=WINDOW, tracing=False)
    for i, m in enumerate(msgs):
        if m["role"] == "assistant" and i > 0:
            s.prepare(msgs[:i])
    gc.collect()
    alive = tracemalloc.get_traced_memory()[0]
    del s
    gc.collect()
    held = alive - tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return held


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default="default")
    ap.add_argument("--samples", type=int, default=15, help="full recounts to time (each ~0.1 s)")
    a = ap.parse_args()
    msgs = long_conversation()
    import litellm

    total_tokens = litellm.token_counter(model="gpt-4o", messages=msgs)
    print(f"conversation: {len(msgs)} messages, {total_tokens:,} tokens (litellm.token_counter), {text_bytes(msgs):,} bytes of text")

    times, recount = replay_times(msgs, a.policy, recount_every=200 // a.samples, recount_last=200)
    two = [t for added, t in times if added == 2]
    late = [t for added, t in times[-200:] if added == 2]

    med = statistics.median(two)
    med_late = statistics.median(late)
    med_full = statistics.median(recount)
    held = ledger_memory(msgs, a.policy)
    tb = text_bytes(msgs)
    print(f"policy: {a.policy}; prepare calls: {len(times)} ({len(two)} added 2 messages)")
    print(f"prepare(), 2 messages added: median {med * 1e3:.3f} ms over all calls; {med_late * 1e3:.3f} ms over the last 200 (longest context)")
    print(f"litellm.token_counter full recount of the same messages: median {med_full * 1e3:.1f} ms ({len(recount)} samples, interleaved with the last 200 calls)")
    print(f"speed-up: {med_full / med_late:.0f}x (last 200 calls), {med_full / med:.0f}x (all calls); target >= 100x")
    print(f"ledger memory: {held / 1e6:.2f} MB held for {tb / 1e6:.2f} MB of text = {held / tb:.2f}x; target <= 2x")


if __name__ == "__main__":
    main()
