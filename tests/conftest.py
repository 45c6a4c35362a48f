"""Shared fixtures: the real trajectories in ../shared (read at run time, never copied here)."""

from __future__ import annotations

import json

import pytest

from helpers import TRAJECTORIES, trajectory_files


@pytest.fixture(scope="session")
def trajectories() -> list[dict]:
    files = trajectory_files()
    if not files:
        pytest.fail(f"no trajectories under {TRAJECTORIES} (../shared must sit beside the repo)")
    return [json.loads(f.read_text()) for f in files]
