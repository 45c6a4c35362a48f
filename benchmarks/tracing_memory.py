"""Tracing's fixed memory cost: the peak RSS of a traced agent process next to an untraced one, side
by side in one run (docs/benchmarks.md, ## Tracing memory).

Each case is a fresh interpreter that replays a conversation through a Session the way an agent
loop does (tests/tracing_agent.py: prepare, a recorded model call, its tools), closes it and, when
traced, flushes the store (so DuckDB's connection and a written batch are in the figure). Cases run
interleaved, `--repeats` times each; the median peak is reported, with the heavy modules each
process ended up importing (pyarrow, pandas and numpy should not be among the traced ones).

    python benchmarks/tracing_memory.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, os, resource, sys
sys.path.insert(0, {tests!r})
from contextkit import Session
from tracing_agent import replay
from helpers import conversation, trajectory_files
which = sys.argv[1]
if which == "small":
    messages = conversation(n_tools=5)
else:  # the longest shared trajectory
    messages = json.loads(max(trajectory_files(), key=lambda f: f.stat().st_size).read_text())["messages"]
s = Session(name="memory")
steps = len(replay(s, messages))
s.close()
if os.environ.get("CONTEXTKIT_TRACING") != "off":
    from contextkit import tracing
    assert tracing.flush(60), "not stored"
heavy = [m for m in ("pyarrow", "pandas", "numpy", "duckdb", "litellm") if m in sys.modules]
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "steps": steps, "heavy": heavy}}))
"""


def run(which: str, traced: bool, db: str) -> dict:
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=db)
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "DD_API_KEY"):
        env.pop(var, None)
    if traced:
        env.pop("CONTEXTKIT_TRACING", None)
    else:
        env["CONTEXTKIT_TRACING"] = "off"
    code = CHILD.format(tests=str(ROOT / "tests"))
    done = subprocess.run([sys.executable, "-c", code, which], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    results: dict[tuple[str, bool], list[dict]] = {}
    with tempfile.TemporaryDirectory() as work:
        for r in range(args.repeats):
            for which in ("small", "longest"):
                for traced in (False, True):  # interleaved: drift hits every case alike
                    db = os.path.join(work, f"{which}-{r}.duckdb")
                    results.setdefault((which, traced), []).append(run(which, traced, db))
    print(f"peak RSS, median of {args.repeats} fresh processes per case (machine: {os.cpu_count()} cores)")
    print("| conversation | untraced | traced (DuckDB store) | traced - untraced | heavy modules imported when traced | target |")
    print("|---|---|---|---|---|---|")
    for which in ("small", "longest"):
        off = statistics.median(x["peak_mb"] for x in results[(which, False)])
        on = statistics.median(x["peak_mb"] for x in results[(which, True)])
        steps = results[(which, True)][0]["steps"]
        heavy = ", ".join(results[(which, True)][0]["heavy"]) or "none"
        label = f"{which} ({steps} steps)"
        print(f"| {label} | {off:.0f} MB | {on:.0f} MB | +{on - off:.0f} MB | {heavy} | <= +80 MB |")


if __name__ == "__main__":
    main()
