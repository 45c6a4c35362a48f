"""The notebooks run headless (nbclient) on a few trajectories, produce their plots and the tuned
policy file, and are committed with their outputs cleared."""

from __future__ import annotations

import json

import contextkit
from contextkit import tracing

import nbformat
import pytest
from helpers import REPO, trajectory_files
from nbclient import NotebookClient
from tracing_agent import replay

NOTEBOOKS = REPO / "notebooks"


def execute(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def outputs(nb: nbformat.NotebookNode, kind: str) -> list:
    """Every output of a kind: 'image/png', 'text/plain' (display data) or 'stdout'."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind == "stdout" and out.get("name") == "stdout":
                found.append(out["text"])
            elif kind in out.get("data", {}):
                found.append(out["data"][kind])
    return found


@pytest.fixture
def notebook_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CONTEXTKIT_NB_SUBSET", "3")
    monkeypatch.setenv("CONTEXTKIT_NB_OUT", str(tmp_path))
    monkeypatch.setenv("CONTEXTKIT_TRACING", "off")
    monkeypatch.delenv("CONTEXTKIT_TRACE_DB", raising=False)
    monkeypatch.delenv("CONTEXTKIT_TRAJECTORIES", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend renders the plots
    return tmp_path


def test_tune_policies_sweeps_plots_and_exports_a_loadable_policy(notebook_env):
    nb = execute("tune_policies.ipynb")
    text = "".join(outputs(nb, "stdout"))
    assert "3 trajectories" in text
    assert "Session(policy=path) loaded: tuned" in text
    assert len(outputs(nb, "image/png")) == 1  # the Pareto plot
    exported = notebook_env / "tuned_policy.yaml"
    policy = contextkit.load_policy(exported)
    assert policy.name == "tuned" and policy.description.startswith("default, tuned by tune_policies.ipynb")
    assert contextkit.Session(policy=str(exported), tracing=False).policy == policy
    assert "verbatim" in text and "$ contextkit eval" in text  # the shell command, run from the notebook
    assert "tuned_policy.yaml" in text.split("$ contextkit eval", 1)[1]
    streamed = sum(len(json.dumps(o)) for cell in nb.cells for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    assert streamed < 10_000, streamed  # no progress bars filling the saved notebook
    assert not list(NOTEBOOKS.glob("*.yaml"))  # nothing written into the source tree


def test_tune_policies_writes_outside_the_source_tree_by_default(notebook_env, monkeypatch, tmp_path):
    monkeypatch.delenv("CONTEXTKIT_NB_OUT")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    execute("tune_policies.ipynb")
    assert (tmp_path / "home" / ".contextkit" / "policies" / "tuned_policy.yaml").exists()
    assert not list(NOTEBOOKS.glob("*.yaml"))


def test_explore_traces_queries_and_plots_eval_rows(notebook_env):
    nb = execute("explore_traces.ipynb")
    text = "".join(outputs(nb, "stdout"))
    assert "steps from replayed trajectories" in text
    tables = "".join(outputs(nb, "text/plain"))
    for policy in ("raw", "default", "observation-masking"):
        assert policy in tables
    assert len(outputs(nb, "image/png")) == 2  # per-step tokens and cost; savings by phase


def test_explore_traces_reads_a_trace_store(notebook_env, monkeypatch):
    path = notebook_env / "traces.duckdb"
    traj = json.loads(min(trajectory_files(), key=lambda f: f.stat().st_size).read_text())
    tracing.configure(db_path=str(path))
    try:
        for policy in ("default", "observation-masking"):
            s = contextkit.Session(policy, name=traj["id"], tracing=True)  # CONTEXTKIT_TRACING is off here
            replay(s, traj["messages"])
            s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    monkeypatch.setenv("CONTEXTKIT_TRACE_DB", str(path))
    nb = execute("explore_traces.ipynb")
    assert f"steps from trace store {path}" in "".join(outputs(nb, "stdout"))
    tables = "".join(outputs(nb, "text/plain"))
    assert "observation-masking" in tables and "default" in tables
    assert len(outputs(nb, "image/png")) == 2


@pytest.mark.parametrize("name", ["tune_policies.ipynb", "explore_traces.ipynb"])
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert len(code) >= 3
    assert [(cell.outputs, cell.execution_count) for cell in code] == [([], None)] * len(code)
