"""Helpers shared by tests: paths to ../shared and small conversations."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONTEXTKIT_SHARED", REPO.parent / "shared"))
TRAJECTORIES = SHARED / "data" / "trajectories"
JUDGE = SHARED / "bench" / "pruning_eval.py"


def missing_external(what: str, how: str) -> None:
    """A test needs an external program that is not here. `.ci/run` installs them all and sets
    CONTEXTKIT_REQUIRE_EXTERNAL=1, so in CI this fails; on a developer's machine it skips and says
    how to get it (the README's test command passes without them)."""
    import pytest

    msg = f"{what} is not installed: {how}"
    if os.environ.get("CONTEXTKIT_REQUIRE_EXTERNAL") == "1":
        pytest.fail(msg + " (CONTEXTKIT_REQUIRE_EXTERNAL=1: CI must run this test)")
    pytest.skip(msg)


def stop_process(proc, wait: float = 10.0) -> None:
    """Terminate a server a test started; kill it if it does not stop in time."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()


def trajectory_files() -> list[Path]:
    return sorted(TRAJECTORIES.glob("*.json"))


def conversation(n_tools: int = 3, size: int = 400) -> list[dict]:
    """A small agent conversation: system, task, then n tool round trips."""
    msgs = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Fix the failing test in pkg/mod.py"},
    ]
    for i in range(n_tools):
        msgs.append(
            {
                "role": "assistant",
                "content": f"Step {i}: reading file_{i}.py",
                "tool_calls": [
                    {"id": f"call_{i}", "type": "function", "function": {"name": "read_file", "arguments": f'{{"path": "pkg/file_{i}.py"}}'}}
                ],
            }
        )
        body = "\n".join(f"def function_{i}_{k}(): return {1000 + k}" for k in range(size // 8))
        msgs.append({"role": "tool", "tool_call_id": f"call_{i}", "name": "read_file", "content": body})
    return msgs
