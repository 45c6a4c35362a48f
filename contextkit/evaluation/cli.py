"""`contextkit eval PATH... [--policy P ...] [--json] [--per-trajectory]`."""

from __future__ import annotations

import argparse
import json
import sys

from .policies import RAW, default_policy_names
from .trajectory import TrajectoryError

EXAMPLES = """\
examples:
  contextkit eval ../shared/data/trajectories                    # raw and every preset, on a directory of runs
  contextkit eval .contextkit/traces.duckdb -p raw -p default    # your own recorded runs (a trace store)
  contextkit eval runs/ -p default -p my_policy.yaml --json      # your policy file next to the default

A PATH is a trajectory JSON file, a directory of them, or a trace store (.duckdb). A trajectory file is
{"id": ..., "model": ..., "messages": [OpenAI chat messages, assistant turns included]}; the format in
full: `contextkit docs trajectory-format`. Policy files: `contextkit docs policies`.
Exit status: 0 done, 2 a path, policy or trajectory that cannot be used (one line says which and why).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="trajectory JSON files, directories of them, or contextkit trace stores (.duckdb)",
    )
    parser.add_argument(
        "--policy",
        "-p",
        action="append",
        metavar="P",
        help=f"'{RAW}' (no pruning), a preset name or a policy file (.toml/.yaml/.json); repeat to compare. "
        f"Default: {', '.join(default_policy_names())}",
    )
    parser.add_argument("--model", metavar="M", help="the sessions' model (its context window and cache prices); default: none")
    parser.add_argument("--compactor", metavar="C",
                        help="compact old turns with this summariser model, or anthropic:MODEL / langchain:MODEL for "
                             "those peers' triggers (the summariser is called through litellm: it needs its API key); "
                             "its calls count as input cost")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--per-trajectory", action="store_true", help="also report each trajectory")


def _compactor(spec: str | None):
    if not spec:
        return None
    from ..compaction import Compactor

    preset, _, model = spec.partition(":")
    if model and preset in ("anthropic", "langchain"):
        return getattr(Compactor, preset)(model)
    return Compactor(spec)


def run(args: argparse.Namespace) -> int:
    """Errors in what the user gave raise ContextkitErrors; `contextkit.cli` prints them in one line, exit 2."""
    from .replay import evaluate
    from .report import format_table

    result = evaluate(args.paths, args.policy, progress=not args.json and sys.stderr.isatty(), keep_steps=False,
                      model=args.model, compactor=_compactor(args.compactor))
    if not result.trajectories:
        raise TrajectoryError(f"{', '.join(args.paths)}: no run to replay (no trajectory with a model call)")
    if args.json:
        print(json.dumps(result.to_dict(per_trajectory=args.per_trajectory), indent=1))
    else:
        print(format_table(result, per_trajectory=args.per_trajectory))
    return 0
