"""Wall time of `contextkit demo`, cold: each run a fresh process in a fresh directory (its own
trace store), next to the floor litellm sets by itself, measured in the same run and interleaved
so both see the same load:

- floor: a process that only imports contextkit and litellm;
- floor + first tools call: the same, plus the module litellm imports on the first call with
  `tools=` (its MCP handler, field-notes §5), which every agent's first step pays.

    python benchmarks/demo.py [--runs 3]

Prints medians for docs/benchmarks.md (## Demo).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = "import contextkit, litellm"
FLOOR_TOOLS = FLOOR + "; import litellm.responses.mcp.chat_completions_handler"


def timed(cmd: list[str], cwd: str, env: dict) -> tuple[float, float, str]:
    """(wall seconds, max RSS in MB, stdout) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{out}")
    return wall, usage.ru_maxrss / 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("contextkit")
    demo_cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "contextkit"]
    rows: dict[str, list[tuple[float, float]]] = {"demo": [], "floor": [], "floor_tools": []}
    in_run, sample = [], ""
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ck-demo-bench-") as d:
            env = dict(os.environ, TMPDIR=d)
            env.pop("CONTEXTKIT_TRACE_DB", None)  # the default store, ./.contextkit/traces.duckdb in d
            wall, rss, out = timed(demo_cmd + ["demo", "--quiet"], d, env)
            rows["demo"].append((wall, rss))
            sample = out
            m = re.search(r"model calls?, .*?, ([\d.]+) s$", out, re.M)
            if m:
                in_run.append(float(m.group(1)))
            for key, code in (("floor", FLOOR), ("floor_tools", FLOOR_TOOLS)):
                wall, rss, _ = timed([sys.executable, "-c", code], d, env)
                rows[key].append((wall, rss))

    def med(key: str, i: int) -> float:
        return statistics.median(r[i] for r in rows[key])

    print(f"runs: {args.runs} each, interleaved; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(f"contextkit demo (cold, fresh process)      median {med('demo', 0):.2f} s wall, {med('demo', 1):.0f} MB max RSS "
          f"(all: {', '.join(f'{w:.2f}' for w, _ in rows['demo'])} s)")
    if in_run:
        print(f"  of which the agent loop (the summary's figure) median {statistics.median(in_run):.2f} s")
    print(f"floor: import contextkit + litellm         median {med('floor', 0):.2f} s wall, {med('floor', 1):.0f} MB")
    print(f"floor + litellm's first-tools-call import  median {med('floor_tools', 0):.2f} s wall, {med('floor_tools', 1):.0f} MB")
    print(f"demo minus that floor                      {med('demo', 0) - med('floor_tools', 0):.2f} s")
    print("\nlast summary:\n" + "\n".join(sample.splitlines()[-14:]))


if __name__ == "__main__":
    main()
