"""`contextkit demo`: run the demo coding agent and print what contextkit did.

Imports stay light until `run` (the CLI must start fast); litellm loads with the first model call.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ContextkitError

SCRIPTED = "contextkit-demo/coder"


class MissingCredentialsError(ContextkitError, ValueError):
    """`--model` names a provider whose API key (or endpoint) is not in the environment."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Run a small coding agent that fixes a real bug in a temporary project, through litellm and a contextkit "
        "Session (tracing on). The model is scripted (no API key, no network) unless --model names a real one."
    )
    p.add_argument("--model", default=None, metavar="MODEL",
                   help="a litellm model (e.g. openai/gpt-4.1-mini, anthropic/claude-sonnet-4-5) instead of the scripted "
                        "one; needs that provider's key in the environment. Its commands run in the temporary workspace.")
    p.add_argument("--policy", default="default", help="a preset name or a policy file (default: default)")
    p.add_argument("--steps", type=int, default=60, metavar="N", help="stop after N model calls (default 60)")
    p.add_argument("--store", default=None, metavar="PATH",
                   help="trace store (default: CONTEXTKIT_TRACE_DB, else ./.contextkit/traces.duckdb)")
    p.add_argument("--view", action="store_true", help="open the trace viewer on the store when the run ends")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--keep-workspace", action="store_true", help="keep the temporary project (its path is printed)")
    p.add_argument("--faults", action="store_true",
                   help="the same agent meets failing tools (a tracker that refuses connections, a docs page with a prompt "
                        "injection, a 503 deploy, CI to poll) under a small budget, with every guard on: the circuit "
                        "breaker, retry-storm and polling detection, quarantine, budget warn/pause/resume and output caps")
    p.add_argument("--compare", action=argparse.BooleanOptionalAction, default=None,
                   help="also run the same agent with no pruning and print both (default: on for the scripted "
                        "model, off with --model, where it would double the bill)")


def run(args: argparse.Namespace) -> int:
    from ..config import resolve_policy
    from ..errors import PolicyConfigError

    if args.steps < 1:
        return _fail("--steps must be at least 1")
    try:
        policy = resolve_policy(args.policy)
        model = args.model or SCRIPTED
        scripted = model == SCRIPTED
        if not scripted:
            check_credentials(model)
    except (PolicyConfigError, MissingCredentialsError) as e:
        return _fail(str(e))
    if getattr(args, "faults", False) and not scripted:
        return _fail("--faults runs the scripted model (its tools fail on purpose); leave out --model")
    try:
        if getattr(args, "faults", False):
            return _run_faults(args, policy)
        return _run(args, policy, model, scripted)
    except KeyboardInterrupt:  # the workspaces are gone already; the trace ends with the session
        print("\ncontextkit demo: interrupted", file=sys.stderr)
        return 130


def check_credentials(model: str) -> None:
    """Raise MissingCredentialsError naming the variables litellm says `model` needs and lacks."""
    import litellm

    env = litellm.validate_environment(model=model)
    missing = list(env.get("missing_keys") or [])
    if not env.get("keys_in_environment") and missing:
        raise MissingCredentialsError(
            f"--model {model}: litellm finds no credentials for it in the environment (missing: {', '.join(missing)}); "
            f"export {missing[0]}=... or leave out --model to use the scripted model"
        )


@dataclass
class _Attempt:
    """One run of the agent in its own workspace."""

    session: Any
    root: Path
    result: Any = None  # AgentRun; None when the run raised
    error: str | None = None
    tests: Any = None  # workspace.TestRun, after the run
    seconds: float = 0.0  # the agent loop (what litellm imports lazily on its first call included)
    baseline: _Attempt | None = None  # the same agent with no pruning (--compare)

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None and self.result.finished and self.tests.passed


def _attempt(root: Path, policy: Any, model: str, prices: dict | None, max_steps: int, *, name: str,
             scripted: bool, on_step: Any = None, comparison_of: str | None = None) -> _Attempt:
    """`comparison_of`: the run this one is the head-to-head for (tagged "comparison": the viewer's
    Compare page pairs the two)."""
    from ..session import Session
    from . import workspace
    from .agent import run_agent
    from .tools import Toolbox

    meta = {"workspace": str(root), "task": workspace.TASK, "scripted": scripted}
    if comparison_of:
        meta["comparison_of"] = comparison_of
    session = Session(policy, model=model, name=name, prices=prices, metadata=meta,
                      tags=["demo", "comparison"] if comparison_of else ["demo"])
    run = _Attempt(session, root)
    t0 = time.perf_counter()
    try:
        with session:
            run.result = run_agent(session, model, workspace.TASK, Toolbox(root), max_steps=max_steps, on_step=on_step)
    except Exception as e:  # noqa: BLE001 - a real model's provider error: report it, keep the trace
        run.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    run.seconds = time.perf_counter() - t0
    run.tests = workspace.run_tests(root)
    return run


def _run(args: argparse.Namespace, policy: Any, model: str, scripted: bool) -> int:
    from . import summary, workspace

    store = _trace_store(args.store)
    prices, priced_as, rates = None, None, None
    if scripted:
        from . import scripted_model

        scripted_model.register()
        prices, priced_as = scripted_model.prices(), scripted_model.PRICED_AS
        p = prices[model]
        rates = (p["input_cost_per_token"], p["cache_read_input_token_cost"], p["output_cost_per_token"])
    compare = (scripted if args.compare is None else args.compare) and policy.enabled
    say = (lambda *a: None) if args.quiet else print

    roots: list[Path] = []
    try:
        main = _demo(args, policy, model, scripted, prices, compare, say, roots)
        tracing_on = bool(main.session.observers)
        in_store = _flush_and_check(store, main.session.id) if tracing_on and store else None
        say("")
        if main.error:
            print(f"The agent stopped: {main.error}")
        elif main.result is not None and not main.result.finished:
            print(f"The agent did not finish within {args.steps} steps (--steps).")
        verdict = "fixed" if main.tests.passed else "not fixed"
        print(f"Result: {verdict}; `python -m unittest` in the workspace: "
              + (f"{main.tests.ran} tests pass." if main.tests.passed else "failing."))
        print("")
        print(summary.render(summary.totals(main.session), seconds=main.seconds, priced_as=priced_as, prices=rates,
                             store=store, run_id=main.session.id, tracing_on=tracing_on, in_store=in_store,
                             baseline=summary.totals(main.baseline.session) if main.baseline else None,
                             baseline_id=main.baseline.session.id if main.baseline and tracing_on and store else None))
        if args.keep_workspace:
            print(f"Workspace kept: {main.root}")
    finally:  # also on Ctrl+C
        for root in roots:
            if not (args.keep_workspace and root == roots[0]):
                workspace.remove(root)
    if args.view and store and tracing_on:
        sys.stdout.flush()
        return _open_viewer(store, main.session.id) or (0 if main.ok else 1)
    return 0 if main.ok else 1


def _run_faults(args: argparse.Namespace, policy: Any) -> int:
    """`--faults`: the scripted agent among failing tools, every guard on (contextkit/_demo/guarded.py)."""
    from . import guarded, scripted_model, summary, workspace

    store = _trace_store(args.store)
    scripted_model.register()
    say = (lambda *a: None) if args.quiet else print
    root = workspace.create()
    try:
        say("contextkit demo --faults: the coding agent meets failing tools; contextkit's guards catch them")
        say(f"  model      {scripted_model.FAULTS_MODEL}  (scripted, through litellm; no API key, no network)")
        say(f"  guards     Budget(max_dollars={guarded.BUDGET_USD}, on_limit='pause'), LoopGuard(on_loop='warn'), "
            "CircuitBreaker(failures=3, cooldown_s=60), quarantine=('injection',)")
        say(f"  workspace  {root}")
        say("")
        say(summary.step_header() + "  guards")
        session, result, tools, seconds = guarded.run(root, policy, scripted_model.FAULTS_MODEL, scripted_model.prices(),
                                                      args.steps, True, say)
        tracing_on = bool(session.observers)
        in_store = _flush_and_check(store, session.id) if tracing_on and store else None
        tests = workspace.run_tests(root)
        print("")
        print(f"Result: {'fixed' if tests.passed else 'not fixed'}; `python -m unittest` in the workspace: "
              + (f"{tests.ran} tests pass." if tests.passed else "failing."))
        print("")
        print(guarded.render(session, tools, seconds))
        if tracing_on and store:
            where = summary._short_path(store)
            print(f"  traces        {where}  (run {session.id[:12]})" + ("" if in_store else "  (the run is not in the store yet)"))
            print(f"\nView the run:   contextkit view {summary._quote(where)}")
        if args.keep_workspace:
            print(f"Workspace kept: {root}")
    finally:
        if not args.keep_workspace:
            workspace.remove(root)
    finished = result is not None and result.finished
    if args.view and store and tracing_on:
        sys.stdout.flush()
        return _open_viewer(store, session.id) or (0 if finished and tests.passed else 1)
    return 0 if finished and tests.passed else 1


def _demo(args: argparse.Namespace, policy: Any, model: str, scripted: bool, prices: dict | None, compare: bool,
          say: Any, roots: list[Path]) -> _Attempt:
    """The run the demo shows (printing a row per step), then the comparison run if asked."""
    from ..config import resolve_policy
    from . import summary, workspace

    roots.append(workspace.create())
    say("contextkit demo: a coding agent fixes a bug in a temporary project")
    say(f"  model      {model}" + ("  (scripted, through litellm; no API key, no network)" if scripted else ""))
    say(f"  policy     {policy.name}")
    say(f"  workspace  {roots[0]}")
    say(f"  task       {workspace.TASK[:100]}...")
    say("")
    say(summary.step_header())
    main = _attempt(roots[0], policy, model, prices, args.steps, name="contextkit-demo", scripted=scripted,
                    on_step=lambda rec, _results: say(summary.step_line(rec)))
    if compare:
        say("\nThe same agent again with no pruning (--policy none, traced with the tag comparison), to compare...")
        roots.append(workspace.create())
        main.baseline = _attempt(roots[1], resolve_policy("none"), model, prices, args.steps,
                                 name="contextkit-demo", scripted=scripted, comparison_of=main.session.id)
    return main


def _trace_store(path: str | None) -> str | None:
    """The store this run traces into (None when tracing is off)."""
    from ..observers import tracing_disabled_by_env

    if tracing_disabled_by_env():
        return None
    try:
        from contextkit import tracing
    except ImportError:
        return None
    t = tracing.configure(db_path=os.path.abspath(path)) if path else tracing.current()
    return t.cfg.db_path


def _flush_and_check(store: str, run_id: str) -> bool:
    """Write the pending spans now, then ask the store for the run (read-only)."""
    from contextkit import tracing
    from contextkit.tracing.store import TraceStore

    tracing.flush(timeout=15.0, store_only=True)  # the summary reads the store; OTLP goes on behind
    try:
        return TraceStore(store).run(run_id) is not None
    except Exception:  # noqa: BLE001 - the summary says so; the run itself went fine
        return False


def _open_viewer(store: str, run_id: str) -> int:
    """`contextkit view STORE`, in this process: it becomes the viewer's server (Ctrl+C stops it)."""
    from ..cli import COMMANDS

    try:
        viewer = importlib.import_module(COMMANDS["view"][0])
    except ImportError as e:
        return _fail(f"the viewer is not available ({e}); open the store later with `contextkit view {store}`")
    parser = argparse.ArgumentParser(prog="contextkit view")
    viewer.add_arguments(parser)
    port = viewer.free_port() if hasattr(viewer, "free_port") else None
    argv = [store, "--port", str(port)] if port else [store]
    if _has_display():
        argv.append("--open")
    try:
        view_args = parser.parse_args(argv)
    except SystemExit:  # a viewer without --port / --open
        view_args, port = parser.parse_args([store]), None
    if port:
        print(f"\nOpening the viewer on this run: http://127.0.0.1:{port}/?run={run_id}  (Ctrl+C stops it)", flush=True)
    return int(viewer.run(view_args) or 0)


def _has_display() -> bool:
    """Whether a browser can open a window (never a console browser inside this terminal)."""
    from .. import settings

    return sys.platform in ("darwin", "win32") or bool(settings.DISPLAY.get() or settings.WAYLAND_DISPLAY.get())


def _fail(message: str) -> int:
    print(f"contextkit demo: {message}", file=sys.stderr)
    return 2
