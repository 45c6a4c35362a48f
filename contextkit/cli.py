"""The `contextkit` command. Each subcommand lives in its own module, which provides
`add_arguments(parser)` and `run(args) -> int`; modules are imported only when their command runs
(or for --help), so the CLI starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("contextkit.demo.cli", "run the demo coding agent (scripted model, no API key) with tracing on"),
    "eval": ("contextkit.evaluation.cli", "replay recorded trajectories through pruning policies and score them"),
    "view": ("contextkit.viewer.launch", "open the trace viewer (Streamlit) on a trace store"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="contextkit", description="Context-window management and tracing for AI agents.")
    parser.add_argument("--version", action="version", version=f"contextkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
