"""However a traced program ends, its trace is whole: every step stored and the run ended with a
final status. Real processes making real model calls (tests/exit_agent.py against
tests/openai_server.py), a real DuckDB file, on whatever duckdb release is installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from contextkit.tracing.store import TraceStore

import pytest

HERE = Path(__file__).resolve().parent
CALLS = 30


def spawn(script: str, db: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=str(db))
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "DD_API_KEY", "CONTEXTKIT_TRACING"):
        env.pop(var, None)
    return subprocess.Popen([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def run_id_of(out: str) -> str:
    return next(line.split()[1] for line in out.splitlines() if line.startswith("run "))


def stored(db: Path, run_id: str) -> tuple[int, dict | None]:
    store = TraceStore(db)
    n = store.query("SELECT count(*) AS n FROM llm_calls WHERE run_id = ?", [run_id])[0]["n"]
    ended = store.query("SELECT status, ended_by FROM agent_runs WHERE run_id = ?", [run_id])
    return n, (ended[0] if ended else None)


def test_a_script_that_makes_30_model_calls_and_just_ends_stores_them_and_ends_its_run(tmp_path, openai_server):
    """The issue's case: real calls through litellm, no flush, no close, the newest duckdb."""
    db = tmp_path / "traces.duckdb"
    p = spawn("exit_agent.py", db, openai_server.base_url, "--calls", str(CALLS), "--end", "return")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and "ready" in out, err
    n, run = stored(db, run_id_of(out))
    assert n == CALLS == len(openai_server.chat_requests), err
    assert run == {"status": "ok", "ended_by": "interpreter exit"}
    assert TraceStore(db).run(run_id_of(out))["steps"] == CALLS


# (how the program ends, duckdb imported before contextkit?, its exit code, the run's final status, what ended it)
ENDINGS = [
    ("return", True, 0, "ok", "interpreter exit"),
    ("sys_exit", False, 0, "ok", "interpreter exit"),
    ("sys_exit", True, 0, "ok", "interpreter exit"),
    ("exception", False, 1, "error", "uncaught RuntimeError"),
    ("exception", True, 1, "error", "uncaught RuntimeError"),
]


@pytest.mark.parametrize("end, duckdb_first, code, status, ended_by", ENDINGS,
                         ids=[f"{e[0]}-{'duckdb' if e[1] else 'contextkit'}-first" for e in ENDINGS])
def test_however_a_program_exits_every_step_is_stored_and_its_run_ended(tmp_path, end, duckdb_first, code, status,
                                                                         ended_by):
    db = tmp_path / "traces.duckdb"
    p = spawn("exit_agent.py", db, "recorded", "--calls", str(CALLS), "--end", end,
              *(["--duckdb-first"] if duckdb_first else []))
    out, err = p.communicate(timeout=120)
    assert p.returncode == code, err
    assert "ready" in out, err
    n, run = stored(db, run_id_of(out))
    assert n == CALLS, err
    assert run == {"status": status, "ended_by": ended_by}
    assert TraceStore(db).run(run_id_of(out))["steps"] == CALLS


@pytest.mark.parametrize("sig, code, ended_by", [
    (signal.SIGINT, -signal.SIGINT, "uncaught KeyboardInterrupt"),  # Ctrl+C
    (signal.SIGTERM, -signal.SIGTERM, "SIGTERM"),  # kill, systemd, docker stop
], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_end_the_run_with_every_step_stored(tmp_path, sig, code, ended_by):
    db = tmp_path / "traces.duckdb"
    p = spawn("exit_agent.py", db, "recorded", "--calls", str(CALLS), "--end", "wait")
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.strip() == "ready":
            break
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    out = "".join(lines) + out
    assert p.returncode == code, err  # still dies of the signal, as its parent expects
    n, run = stored(db, run_id_of(out))
    assert n == CALLS, err
    assert run == {"status": "error", "ended_by": ended_by}


def test_four_processes_that_exit_without_closing_keep_all_their_steps(tmp_path):
    db = tmp_path / "shared.duckdb"
    procs = [spawn("tracing_agent.py", db, "--steps", "40", "--name", f"plain-{i}", "--no-close") for i in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    store = TraceStore(db)
    runs = sorted(store.runs(), key=lambda r: r["name"])
    assert [r["name"] for r in runs] == [f"plain-{i}" for i in range(4)]
    assert all(r["steps"] == 40 and r["status"] == "ok" and r["ended_at"] is not None for r in runs), runs
    assert store.query("SELECT count(*) AS n FROM llm_calls")[0]["n"] == 160
    assert store.query("SELECT count(*) AS n FROM tool_spans")[0]["n"] == 4 * 39


FORKING = """
import os, sys
sys.path.insert(0, {tests!r})
from contextkit import Session
from helpers import conversation
from tracing_agent import replay
parent = Session(name="parent")
msgs = conversation(n_tools=5)
cut = [i for i, m in enumerate(msgs) if m["role"] == "assistant"][3]
replay(parent, msgs[:cut])  # 3 steps, the run still open
pid = os.fork()
if pid == 0:  # the child traces a run of its own, then exits normally (atexit runs)
    child = Session(name="child")
    replay(child, conversation(n_tools=2))
    sys.exit(0)
os.waitpid(pid, 0)
replay(parent, msgs)  # the same session goes on: steps 4 and 5 (the first 3 again are prepared anew)
parent.close()
"""


def test_a_forked_child_ends_its_own_runs_and_never_its_parents(tmp_path):
    db = tmp_path / "fork.duckdb"
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=str(db))
    done = subprocess.run([sys.executable, "-c", FORKING.format(tests=str(HERE))], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    store = TraceStore(db)
    rows = store.query("SELECT name, ended_by, status FROM agent_runs ORDER BY name")
    assert [r["name"] for r in rows] == ["child", "parent"], rows  # one end each: the child did not end its parent's run
    ends = {r["name"]: r for r in rows}
    assert ends["parent"]["ended_by"] is None and ends["child"]["ended_by"] == "interpreter exit"
    runs = {r["name"]: r for r in store.runs()}
    assert runs["child"]["steps"] == 2
    steps = store.query("SELECT step, count(*) AS n FROM llm_calls WHERE run_id = ? GROUP BY step ORDER BY step",
                        [runs["parent"]["run_id"]])
    assert [r["step"] for r in steps] == list(range(1, 9)) and all(r["n"] == 1 for r in steps), steps
    # (nothing the parent had pending at the fork was written twice, by the child too)
