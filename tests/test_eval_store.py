"""`contextkit eval` on a trace store: runs recorded by traced Sessions replay like the trajectories
they came from, so users can tune policies on their own traffic."""

from __future__ import annotations

import json

from contextkit import Session, tracing
from contextkit.cli import main
from contextkit.evaluation import TrajectoryError, evaluate, load_trajectories
from contextkit.evaluation.store import trajectories_from_store

import pytest
from helpers import trajectory_files
from tracing_agent import replay

POLICIES = ["raw", "default", "observation-masking"]
FIGURES = ("steps", "raw_tokens", "input_tokens", "cache_cost", "raw_cache_cost", "needed", "kept", "invalid_requests")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A store holding two real trajectories, each run by an agent under a different policy."""
    path = tmp_path_factory.mktemp("store") / "traces.duckdb"
    tracing.configure(db_path=str(path))
    files = trajectory_files()[:2]
    runs = []
    try:
        for f, policy in zip(files, ["default", "openai-tool-output-trimmer"]):
            traj = json.loads(f.read_text())
            s = Session(policy, name=traj["id"])
            replay(s, traj["messages"])
            s.close()
            runs.append((s.id, f))
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    return path, runs


def test_a_recorded_run_scores_exactly_like_its_trajectory(recorded):
    path, runs = recorded
    from_store = evaluate(path, POLICIES)
    from_files = evaluate([f for _, f in runs], POLICIES)
    assert from_store.trajectories == [run_id for run_id, _ in runs]  # oldest first
    for p in POLICIES:
        for k in FIGURES:
            assert getattr(from_store[p], k) == pytest.approx(getattr(from_files[p], k)), (p, k)
    assert from_store["observation-masking"].saved > 0.1


def test_runs_come_back_as_trajectories_with_their_origin(recorded):
    path, runs = recorded
    run_id, f = runs[1]
    (t,) = trajectories_from_store(path, run_ids=[run_id])
    original = json.loads(f.read_text())
    last_assistant = max(i for i, m in enumerate(original["messages"]) if m["role"] == "assistant")
    assert t.messages == original["messages"][: last_assistant + 1]
    assert t.id == run_id and t.meta["name"] == original["id"] and t.meta["policy"] == "openai-tool-output-trimmer"
    assert t.source == {"trace_store": str(path), "run_id": run_id}
    with pytest.raises(TrajectoryError, match="no run with steps"):
        trajectories_from_store(path, run_ids=["feedface"])
    assert [x.id for x in load_trajectories([path, f])][:2] == [r for r, _ in runs]


def test_cli_reads_a_store(recorded, capsys):
    path, runs = recorded
    assert main(["eval", str(path), "-p", "raw", "-p", "default", "--json", "--per-trajectory"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trajectories"] == 2
    assert {r["trajectory"] for r in out["per_trajectory"]} == {r for r, _ in runs}
