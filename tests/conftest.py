"""Shared fixtures: the real trajectories in ../shared (read at run time, never copied here)."""

from __future__ import annotations

import json

import contextkit  # noqa: F401  (offline defaults before any test module imports litellm)
from contextkit.testing import capspans  # noqa: F401  (the fixture: a test's spans in memory)

import pytest
from helpers import TRAJECTORIES, trajectory_files


@pytest.fixture(scope="session")
def trajectories() -> list[dict]:
    files = trajectory_files()
    if not files:
        pytest.fail(f"no trajectories under {TRAJECTORIES} (../shared must sit beside the repo)")
    return [json.loads(f.read_text()) for f in files]


@pytest.fixture
def openai_server():
    """A scriptable OpenAI-compatible server on 127.0.0.1 that records every request (tests/openai_server.py).

    `server.base_url` (api_base for litellm with model="openai/<name>", api_key="sk-test"),
    `server.script(Reply.text(...), Reply.error(429), ...)`, `server.requests` / `server.last`.
    """
    from openai_server import OpenAIServer

    server = OpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True, scope="session")
def _trace_store_outside_the_checkout(tmp_path_factory):
    """Sessions made by any test trace into a temporary store, never ./.contextkit of the checkout."""
    import os

    if "CONTEXTKIT_TRACE_DB" not in os.environ:
        os.environ["CONTEXTKIT_TRACE_DB"] = str(tmp_path_factory.mktemp("traces") / "traces.duckdb")
    yield


@pytest.fixture(scope="session")
def viewer_store(tmp_path_factory):
    """A trace store written by real traced runs for the viewer's tests (tests/viewer_store.py, run
    in a child process so one run stays open): `.path`, `.ids` = {role: run_id} for the roles
    default, none (same task, no pruning), masking, reasoning, open."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from helpers import REPO

    path = tmp_path_factory.mktemp("viewer") / "traces.duckdb"
    done = subprocess.run([sys.executable, str(REPO / "tests" / "viewer_store.py"), str(path)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"tests/viewer_store.py failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return SimpleNamespace(path=path, ids=json.loads(done.stdout.strip().splitlines()[-1]))
