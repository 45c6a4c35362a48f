"""What contextkit's gateway adds to each request: the litellm proxy with `callbacks:
contextkit.proxy.handler` vs the same proxy without it, side by side on one long conversation.

    python benchmarks/proxy_overhead.py [--turns 200] [--cold 5]

Three real `litellm --config` processes on 127.0.0.1 in front of one local fake upstream
(tests/proxy_upstream.py, answering at once): `plain` (no callback), `contextkit` (the handler,
tracing into a DuckDB store, the default) and `contextkit, tracing off`. The conversation is the
shared trajectories chained into one agent run (benchmarks/_chain.py), sent as an agent sends it:
the whole history before every assistant turn, through the openai-compatible route, each request to
the three proxies in rotating order so they see the same machine load. "added" is the paired
difference per request (contextkit minus plain). The cold figure is the last request sent under a
new conversation header: a replica that never saw the conversation replays the whole history.
The proxy's own time per request is large and noisy on a shared machine, so the handler's hooks are
also timed in this process on the same requests (pre-call hook, then recording the answer), without
HTTP around them.
Needs `pip install -e '.[proxy]'`. Prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the fake upstream and the proxy launcher

import contextkit  # noqa: E402,F401  (first: offline defaults before litellm loads)

from _chain import by_turns  # noqa: E402
from anthropic_convo import tools_of  # noqa: E402
from proxy_upstream import MASTER_KEY, Upstream, launch, stop_proxies, wait_healthy, write_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=200, help="assistant turns of the chained conversation")
    ap.add_argument("--cold", type=int, default=5, help="cold-replica requests at the end")
    args = ap.parse_args()

    from contextkit.tokens import TokenCounter

    import httpx

    msgs = by_turns(args.turns)
    tools = tools_of(msgs)
    ends = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0] + [len(msgs)]
    count = TokenCounter("gpt-4o").count
    folder = Path(tempfile.mkdtemp(prefix="ck-proxy-bench-"))
    up = Upstream().start()
    store = folder / "traces.duckdb"
    t0 = time.time()
    started = wait_healthy([launch(write_config(folder, up, callback=None)),
                            launch(write_config(folder, up), {"CONTEXTKIT_TRACE_DB": str(store)}),
                            launch(write_config(folder, up), {"CONTEXTKIT_TRACING": "off"})])
    proxies = dict(zip(("plain", "contextkit", "contextkit, tracing off"), started))
    print(f"3 proxies healthy in {time.time() - t0:.1f} s; conversation: {len(msgs):,} messages, "
          f"{count(json.dumps(msgs)):,} tokens at the end, {len(ends)} requests")
    times: dict[str, list[float]] = {k: [] for k in proxies}
    sizes: dict[str, list[int]] = {k: [] for k in proxies}
    clients = {k: httpx.Client(base_url=p.base_url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=120)
               for k, p in proxies.items()}
    names = list(proxies)
    try:
        for n, i in enumerate(ends):
            body = {"model": "gpt-test", "messages": msgs[:i], "tools": tools}
            for k in names[n % 3 :] + names[: n % 3]:
                t = time.perf_counter()
                r = clients[k].post("/v1/chat/completions", json=body)
                times[k].append(time.perf_counter() - t)
                r.raise_for_status()
                sizes[k].append(len(up.requests[-1].raw))
        cold, cold_plain = [], []
        body = {"model": "gpt-test", "messages": msgs[: ends[-1]], "tools": tools}
        for c in range(args.cold):
            t = time.perf_counter()
            clients["contextkit"].post("/v1/chat/completions", json=body, headers={"x-contextkit-conversation": f"cold-{c}"}).raise_for_status()
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            clients["plain"].post("/v1/chat/completions", json=body).raise_for_status()
            cold_plain.append(time.perf_counter() - t)
    finally:
        for c in clients.values():
            c.close()
        stop_proxies(started)
        up.stop()

    med = statistics.median
    last = max(1, min(50, len(ends) // 4))

    def p90(xs: list[float]) -> float:
        return sorted(xs)[int(0.9 * (len(xs) - 1))]

    print(f"\nper request, ms (median over all {len(ends)} / the last {last} requests, the longest context; p90 of all):")
    for k in names:
        print(f"  {k:25s} {med(times[k]) * 1e3:8.1f} / {med(times[k][-last:]) * 1e3:8.1f}   p90 {p90(times[k]) * 1e3:8.1f}")
    for k in names[1:]:
        added = [a - b for a, b in zip(times[k], times["plain"])]
        print(f"  added by {k:16s} {med(added) * 1e3:8.1f} / {med(added[-last:]) * 1e3:8.1f}   p90 {p90(added) * 1e3:8.1f}"
              f"   ({med(times[k][-last:]) / med(times['plain'][-last:]):.2f}x plain, last {last})")
    print(f"cold replica (the last request, a conversation the replica never saw: replayed whole), median of {args.cold}: "
          f"{med(cold) * 1e3:.1f} ms vs plain {med(cold_plain) * 1e3:.1f} ms (added {med([a - b for a, b in zip(cold, cold_plain)]) * 1e3:.1f} ms)")
    print(f"bytes the upstream got, last request: plain {sizes['plain'][-1]:,}, contextkit {sizes['contextkit'][-1]:,} "
          f"({1 - sizes['contextkit'][-1] / sizes['plain'][-1]:.1%} smaller); over the run "
          f"{1 - sum(sizes['contextkit']) / sum(sizes['plain']):.1%} smaller")
    for tracing in (False, True):
        ms = _hooks_ms(msgs, ends, tools, tracing, folder)
        print(f"the handler's hooks in-process, tracing {'on ' if tracing else 'off'}: median {med(ms):.2f} ms, "
              f"last {last} {med(ms[-last:]):.2f} ms, p90 {p90(ms):.2f} ms; cold replay of the last request "
              f"{_hooks_ms(msgs, ends[-1:], tools, tracing, folder)[0]:.1f} ms")
    prepare = _prepare_ms(store)
    if prepare:
        print(f"prepare() inside the handler (from the trace store): median {med(prepare):.2f} ms, "
              f"last {last} {med(prepare[-last:]):.2f} ms, max {max(prepare):.1f} ms")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d')}")


def _hooks_ms(msgs: list, ends: list, tools: list, tracing: bool, folder: Path) -> list[float]:
    """Per request: the gateway's pre-call hook and the recording of a (fixed) answer, in-process."""
    import asyncio

    from contextkit import tracing as ck_tracing
    from contextkit.proxy import Gateway

    import litellm

    if tracing:
        ck_tracing.configure(db_path=str(folder / "in-process.duckdb"))

    class _Router:
        model_list = [{"model_name": "gpt-test", "litellm_params": {"model": "openai/gpt-4o"}}]

    gw = Gateway(tracing=None if tracing else False)
    gw.router = _Router()
    answer = litellm.ModelResponse(choices=[{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                                   usage={"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010})
    out = []

    async def run():
        for n, i in enumerate(ends):
            data = {"model": "gpt-test", "messages": msgs[:i], "tools": tools, "litellm_call_id": f"b{n}-{tracing}-{len(ends)}",
                    "proxy_server_request": {"headers": {}}}
            t = time.perf_counter()
            await gw.async_pre_call_hook(None, None, data, "acompletion")
            await gw.async_post_call_success_hook(data, None, answer)
            out.append((time.perf_counter() - t) * 1e3)

    asyncio.run(run())
    gw.sessions.close_all()
    if tracing:
        ck_tracing.flush()
    return out


def _prepare_ms(store: Path) -> list[float]:
    try:
        from contextkit.tracing import TraceStore

        rows = TraceStore(store).query("SELECT prepare_ms FROM contexts WHERE run_id LIKE 'conv-%' ORDER BY step")
        return [r["prepare_ms"] for r in rows if r["prepare_ms"] is not None]
    except Exception as e:  # noqa: BLE001 - a figure less, not a failed benchmark
        print(f"(no prepare figures from the store: {e})")
        return []


if __name__ == "__main__":
    main()
