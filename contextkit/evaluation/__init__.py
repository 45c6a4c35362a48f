"""`contextkit eval` as a library: replay recorded agent runs through pruning policies and score
them with the reference judge's metrics (tokens saved, input cost with a prompt cache, retention of
later-used evidence, invalid requests).

    from contextkit.evaluation import evaluate
    result = evaluate("../shared/data/trajectories", ["raw", "default", "my_policy.yaml"])
    result["default"].saved, result["default"].cache_cost_vs_raw, result["default"].retention
    result.step_table()        # one row per replayed model call (pyarrow; DuckDB queries it)
"""

from __future__ import annotations

from .policies import RAW, default_policy_names
from .replay import evaluate
from .results import EvalResult, StepRow, Totals
from .store import trajectories_from_store
from .trajectories import load_trajectories
from .trajectory import Trajectory, TrajectoryError

__all__ = [
    "evaluate",
    "EvalResult",
    "Totals",
    "StepRow",
    "Trajectory",
    "TrajectoryError",
    "load_trajectories",
    "trajectories_from_store",
    "default_policy_names",
    "RAW",
]
