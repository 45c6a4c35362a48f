"""The `contextkit` command. Each subcommand lives in its own module, which provides
`add_arguments(parser)` and `run(args) -> int`; modules are imported only when their command runs
(or for --help), so the CLI starts fast.

Exit codes: 0 done; 2 a mistake in what the user gave (one line on stderr naming the path and the
problem, argparse's convention); 1 an internal error, with its traceback and a line saying it is a
bug; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from . import __version__
from .errors import ContextkitError, PruningFailedError

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("contextkit._demo.cli", "run the demo coding agent (scripted model, no API key) with tracing on"),
    "eval": ("contextkit.evaluation.cli", "replay recorded trajectories through pruning policies and score them"),
    "view": ("contextkit.viewer.launch", "open the trace viewer (Streamlit) on a trace store"),
    "docs": ("contextkit.manual", "print the documentation installed with contextkit (policies, trace store, ...)"),
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
    return run_command(args.command, lambda: importlib.import_module(COMMANDS[args.command][0]).run(args))


def run_command(command: str, run) -> int:
    """Run a subcommand: a user's mistake is one line and exit 2, never a traceback; anything else
    is contextkit's bug and says so."""
    prog = f"contextkit {command}"
    try:
        return int(run() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `contextkit eval ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ContextkitError as e:
        if isinstance(e, PruningFailedError):
            return _bug(prog)
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001 - the last word before the interpreter's
        return _bug(prog)


def one_line(e: BaseException) -> str:
    """An error's message on one line (parsers and DuckDB write several)."""
    return " ".join(str(e).split()) or type(e).__name__


def _bug(prog: str) -> int:
    traceback.print_exc()
    print(f"{prog}: internal error: this is a bug in contextkit, not a mistake in what you gave it; "
          "please report it with the traceback above", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
