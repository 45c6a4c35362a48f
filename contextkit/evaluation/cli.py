"""`contextkit eval PATH... [--policy P ...] [--json] [--per-trajectory]`."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import ContextkitError
from .policies import RAW, default_policy_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--per-trajectory", action="store_true", help="also report each trajectory")


def run(args: argparse.Namespace) -> int:
    from .replay import evaluate
    from .report import format_table

    try:
        result = evaluate(args.paths, args.policy, progress=not args.json and sys.stderr.isatty(), keep_steps=False)
    except (ContextkitError, ValueError) as e:
        print(f"contextkit eval: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(per_trajectory=args.per_trajectory), indent=1))
    else:
        print(format_table(result, per_trajectory=args.per_trajectory))
    return 0
