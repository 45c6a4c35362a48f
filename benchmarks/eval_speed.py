"""How long does `contextkit eval` take on the shared corpus, next to the reference judge?

Runs, in the same process and on the same data, `contextkit.evaluation.evaluate` for raw and
every preset, then the judge (../shared/bench/pruning_eval.py, imported by path) for the same
policies, and prints each one's wall time, ours per policy, and the largest difference between
the two on saved / cost vs raw / retention (the agreement the tests hold to 0.2 points).

    python benchmarks/eval_speed.py [--judge] [--policy P ...]

Without --judge only ours runs (the judge takes several times longer).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

from contextkit.evaluation import default_policy_names, evaluate, load_trajectories

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONTEXTKIT_SHARED", REPO.parent / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", action="store_true", help="also time the reference judge and compare figures")
    ap.add_argument("--policy", action="append")
    a = ap.parse_args()
    os.environ.setdefault("CONTEXTKIT_TRACING", "off")  # the judge's Sessions must not write a store
    names = a.policy or default_policy_names()
    t0 = time.perf_counter()
    trajs = load_trajectories(SHARED / "data" / "trajectories")
    loaded = time.perf_counter() - t0
    result = evaluate(trajs, names, keep_steps=False)
    ours = time.perf_counter() - t0
    calls = result[names[0]].steps
    print(f"{len(trajs)} trajectories, {calls:,} calls x {len(names)} policies")
    print(f"contextkit eval: {ours:.1f} s wall (loading {loaded:.1f} s)")
    for p in names:
        print(f"  {p:28} policy {result[p].seconds:5.1f} s")
    if not a.judge:
        return
    spec = importlib.util.spec_from_file_location("pruning_eval", SHARED / "bench" / "pruning_eval.py")
    judge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(judge)
    t0 = time.perf_counter()
    theirs = judge.evaluate(str(SHARED / "data" / "trajectories"), [n if n == "raw" else f"contextkit:{n}" for n in names])
    took = time.perf_counter() - t0
    print(f"reference judge: {took:.1f} s wall ({took / ours:.1f}x ours)")
    worst = 0.0
    for n in names:
        j = theirs[n if n == "raw" else f"contextkit:{n}"]
        o = result[n]
        for key in ("saved", "cache_cost_vs_raw", "retention"):
            worst = max(worst, abs(getattr(o, key) - j[key]))
        assert o.invalid_requests == j["invalid_requests"], n
    print(f"largest difference on saved / cost vs raw / retention: {worst:.2e} (invalid counts equal)")


if __name__ == "__main__":
    main()
