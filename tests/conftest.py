"""Shared fixtures: the real trajectories in ../shared (read at run time, never copied here)."""

from __future__ import annotations

import json

import pytest

import contextkit  # noqa: F401  (offline defaults before any test module imports litellm)
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
