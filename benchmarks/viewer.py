"""The viewer on a big store (docs/benchmarks.md, ## Viewer): 1,000 runs / 100,000 steps.

How the store is made (say it, because it decides what is measured):
1. real traced runs: the 40 shared trajectories and one 300-step conversation chained from their
   tool rounds, each replayed through a traced `Session` (prepare, a model call recorded with
   litellm's prices, its tool executions) under the default policy: ~2,400 steps written by the
   real tracing pipeline;
2. bulk SQL: those runs are cloned inside DuckDB (`INSERT ... SELECT * REPLACE (new run id,
   shifted timestamps)` into every table of the documented schema) until the store holds 1,000 runs
   and ~100,000 steps, a fifth of them 300-step runs. Message contents stay shared, as the
   content-addressed store would keep them.

Then each page is timed with Streamlit's AppTest (the script run, as a browser would trigger it):
cold = every cache cleared before the run (the first visit), warm = the same run again (a rerun).
Targets: runs page <= 1.5 s, a 300-step trajectory <= 2 s (median of cold runs).

    python benchmarks/viewer.py [--runs 1000] [--steps 100000] [--repeat 5] [--store PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONTEXTKIT_SHARED", REPO.parent / "shared"))
TRAJ = SHARED / "data" / "trajectories"
sys.path.insert(0, str(REPO))  # the repo's packages before this folder's scripts (benchmarks/tracing.py)

import contextkit  # noqa: E402,F401  (first: offline defaults before litellm loads)

from _chain import by_turns  # noqa: E402

LONG = 300


def replay(msgs: list[dict], model: str, name: str) -> int:
    """One traced run: prepare before every assistant turn, the turn recorded as the model's answer
    (usage = what was sent, priced by litellm), then its tool calls executed through the session."""
    from contextkit import Session, StepRecord

    import litellm

    session = Session("default", model=model, name=name, tags=["bench"])
    try:
        rate_in, rate_out = litellm.cost_per_token(model=model, prompt_tokens=1_000_000, completion_tokens=1_000_000)
        rate_in, rate_out = rate_in / 1e6, rate_out / 1e6
    except Exception:  # noqa: BLE001 - a model litellm cannot price: a typical rate
        rate_in, rate_out = 2e-6, 12e-6
    results = {m["tool_call_id"]: m.get("content") or "" for m in msgs if m.get("role") == "tool"}
    for i, m in enumerate(msgs):
        if m["role"] != "assistant" or i == 0:
            continue
        t0 = time.time()
        session.prepare(msgs[:i])
        rep = session.last_report
        out_tokens = max(1, len(json.dumps(m)) // 4)
        session.record_step(StepRecord(
            step=session.step, model=model, started_at=t0, latency_ms=800 + rep.tokens_after / 50, provider="bench",
            input_tokens=rep.tokens_after, output_tokens=out_tokens, response_message=m,
            cost_usd=rep.tokens_after * rate_in + out_tokens * rate_out,
            saved_usd=(rep.tokens_before - rep.tokens_after) * rate_in,
            finish_reason="tool_calls" if m.get("tool_calls") else "stop"))
        for tc in m.get("tool_calls") or ():
            with session.tool(tc["function"]["name"], tool_call_id=tc["id"], arguments=tc["function"]["arguments"]) as t:
                t.result = results.get(tc["id"], "")
    session.close()
    return session.step


def templates(path: Path) -> float:
    """Step 1: the real traced runs. Returns seconds."""
    from contextkit import tracing

    t0 = time.perf_counter()
    tracing.configure(db_path=str(path))
    for f in sorted(TRAJ.glob("*.json")):
        t = json.loads(f.read_text())
        replay(t["messages"], t.get("model") or "deepseek/deepseek-chat", t["id"].split("__", 1)[-1])
    replay(by_turns(LONG), "deepseek/deepseek-chat", f"chained-{LONG}-steps")
    tracing.shutdown()
    return time.perf_counter() - t0


def clone(template: Path, out: Path, runs: int, steps: int) -> dict:
    """Step 2: clone the template runs in bulk until `runs` runs and ~`steps` steps."""
    from contextkit.tracing.schema import TABLES

    import duckdb
    import pyarrow as pa

    t0 = time.perf_counter()
    shutil.copy(template, out)
    con = duckdb.connect(str(out))
    have = con.execute("SELECT run_id, steps FROM runs ORDER BY started_at").fetchall()
    long = [r for r, s in have if s == LONG]
    short = [(r, s) for r, s in have if s != LONG]
    mean = sum(s for _, s in short) / len(short)
    n_long = max(1, round((steps - mean * runs) / (LONG - mean)))
    plan = [long[0]] * n_long + [short[k % len(short)][0] for k in range(runs - n_long)]
    existing = {r for r, _ in have}
    src, dst, shift = [], [], []
    for k, r in enumerate(plan):
        if r in existing:  # the template itself is the first copy
            existing.discard(r)
            continue
        src.append(r)
        dst.append(f"{r[:20]}{k:012x}")
        shift.append(k * 2_600_000_000)  # spread over ~30 days (microseconds)
    con.register("plan", pa.table({"src": src, "dst": dst, "shift_us": shift}))
    con.execute("CREATE TEMP TABLE clones AS SELECT * FROM plan")
    for table, cols in TABLES.items():
        names = [c.name for c in cols]
        if "run_id" not in names:
            continue
        repl = ["c.dst AS run_id"] + [f"t.{c.name} + to_microseconds(c.shift_us) AS {c.name}" for c in cols if c.sql_type == "TIMESTAMP"]
        con.execute(f"INSERT INTO {table} SELECT t.* REPLACE ({', '.join(repl)}) FROM {table} t JOIN clones c ON t.run_id = c.src")
    con.execute("CHECKPOINT")
    got = con.execute("SELECT count(*), sum(steps), sum(steps) FILTER (WHERE steps = ?) FROM runs", [LONG]).fetchone()
    con.close()
    return {"seconds": time.perf_counter() - t0, "runs": got[0], "steps": int(got[1]), "long_runs": n_long,
            "mb": out.stat().st_size / 1e6}


def _quiet_streamlit() -> None:
    import logging

    for name in ("streamlit", "streamlit.runtime.caching.cache_data_api", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


def timed_pages(store: Path, repeat: int) -> dict:
    """Script-run times of the runs page and of the replay page on a 300-step run (AppTest)."""
    import streamlit as st

    _quiet_streamlit()
    from contextkit.tracing.store import TraceStore

    from streamlit.testing.v1 import AppTest

    os.environ["CONTEXTKIT_VIEW_STORE"] = str(store)
    app = str(REPO / "viewer" / "app.py")
    long_run = TraceStore(store).query("SELECT run_id FROM runs WHERE steps = ? ORDER BY run_id LIMIT 1", [LONG])[0]["run_id"]
    out: dict[str, list[float]] = {"runs_cold": [], "runs_warm": [], "replay_cold": [], "replay_warm": [], "replay_scrub": [],
                                   "compare_cold": [], "whatif_cold": []}

    def run(at: AppTest) -> float:
        t0 = time.perf_counter()
        at.run()
        dt = time.perf_counter() - t0
        if at.exception:
            raise SystemExit(f"page failed: {[e.value for e in at.exception]}")
        return dt

    for k in range(repeat + 1):  # the first round warms imports (streamlit, pandas, litellm's model map)
        st.cache_data.clear()
        at = AppTest.from_file(app, default_timeout=300)
        cold, warm = run(at), run(at)
        at.session_state["run_id"] = long_run
        at.switch_page("views/replay.py")
        st.cache_data.clear()
        r_cold = run(at)
        r_warm = run(at)
        at.select_slider(key=f"step_{long_run}").set_value(LONG // 2)
        scrub = run(at)  # a new step: its manifest and messages are read, the run's series are cached
        at.switch_page("views/compare.py")
        st.cache_data.clear()
        c_cold = run(at)  # the 300-step run against its partner (another 300-step run)
        at.switch_page("views/whatif.py")
        run(at)
        st.cache_data.clear()
        at.button(key="whatif_go").click()
        w_cold = run(at)  # raw + 3 policies replayed over the 300-step trajectory
        if k:
            for key, v in zip(out, (cold, warm, r_cold, r_warm, scrub, c_cold, w_cold)):
                out[key].append(v)
    return {k: statistics.median(v) for k, v in out.items()} | {"long_run": long_run}


def query_times(store: Path, run_id: str) -> dict:
    """The reads behind the pages, cold, each on its own (what to index if a page is slow)."""
    from contextkit.viewer import data

    import streamlit as st

    def once(fn, *a):
        st.cache_data.clear()
        t0 = time.perf_counter()
        fn(*a)
        return time.perf_counter() - t0

    sig = data.signature(str(store))
    v = ("ok", LONG, "x")
    return {
        "runs list": once(data.runs, str(store), sig),
        "steps of a 300-step run": once(data.steps, str(store), run_id, v),
        "composition of every step": once(data.composition, str(store), run_id, v),
        "one step (manifest x2 + messages)": once(data.step_view, str(store), run_id, LONG, v),
        "tool calls of the run": once(data.tool_calls, str(store), run_id, v),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--store", type=Path, help="reuse (or keep) the generated store at this path")
    ap.add_argument("--keep", action="store_true", help="keep the generated store (printed)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ck-viewer-bench-"))
    store = args.store or work / "big.duckdb"
    if not store.exists():
        template = work / "template.duckdb"
        secs = templates(template)
        print(f"1. real traced runs: {secs:.1f} s ({template.stat().st_size / 1e6:.1f} MB)")
        info = clone(template, store, args.runs, args.steps)
        print(f"2. cloned in bulk: {info['runs']:,} runs, {info['steps']:,} steps ({info['long_runs']} runs of {LONG} steps), "
              f"{info['mb']:.0f} MB, {info['seconds']:.1f} s")
    pages = timed_pages(store, args.repeat)
    print(f"runs page:  cold {pages['runs_cold']:.3f} s, warm {pages['runs_warm']:.3f} s   (target <= 1.5 s)")
    print(f"replay, {LONG}-step run, last step:  cold {pages['replay_cold']:.3f} s, warm {pages['replay_warm']:.3f} s, "
          f"scrub to another step {pages['replay_scrub']:.3f} s   (target <= 2 s)")
    print(f"compare, two {LONG}-step runs: cold {pages['compare_cold']:.3f} s;  what-if, raw + 3 policies over "
          f"{LONG} steps: {pages['whatif_cold']:.3f} s")
    for name, secs in query_times(store, pages["long_run"]).items():
        print(f"  query: {name}: {secs * 1000:.0f} ms")
    if args.keep or args.store:
        print(f"store: {store}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
