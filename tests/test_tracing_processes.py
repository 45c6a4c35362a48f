"""Several agent processes share one store while a reader polls it; a killed process loses at most
its last second. Real processes, a real DuckDB file in tmp_path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from contextkit.tracing.store import StoreBusyError, TraceStore

AGENT = str(Path(__file__).resolve().parent / "tracing_agent.py")


def spawn(db: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=str(db))
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "DD_API_KEY"):
        env.pop(var, None)
    return subprocess.Popen([sys.executable, AGENT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_four_processes_write_one_store_while_a_reader_polls(tmp_path):
    db = tmp_path / "shared.duckdb"
    procs = [spawn(db, "--steps", "50", "--name", f"worker-{i}", "--sleep-ms", "10") for i in range(4)]
    reads, busy, seen_max = 0, 0, 0
    while any(p.poll() is None for p in procs):
        if db.exists():
            try:
                n = TraceStore(db, timeout=2).query("SELECT count(*) AS n FROM contexts")[0]["n"]
                reads += 1
                seen_max = max(seen_max, n)
            except StoreBusyError:
                busy += 1
            except Exception as e:  # the schema is written by the first batch
                if "contexts" not in str(e):
                    raise
        time.sleep(0.05)
    outs = [p.communicate() for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, (out, err)  # 3 would mean an observer error reached the session
        assert "done" in out and "Traceback" not in err, err
    store = TraceStore(db)
    runs = store.runs()
    assert sorted(r["name"] for r in runs) == [f"worker-{i}" for i in range(4)]
    assert [(r["steps"], r["status"], r["tool_calls"]) for r in runs] == [(50, "ok", 49)] * 4, runs
    assert store.query("SELECT count(*) AS n FROM contexts")[0]["n"] == 200
    assert store.query("SELECT count(*) AS n FROM llm_calls")[0]["n"] == 200
    assert reads > 0, f"the reader never got in ({busy} busy)"
    for r in runs:  # each run's last request comes back whole
        assert len(store.sent_messages(r["run_id"], 50)) == 2 + 2 * 49


def test_sigkill_mid_run_loses_at_most_the_last_second(tmp_path):
    db = tmp_path / "killed.duckdb"
    p = spawn(db, "--steps", "2000", "--name", "doomed", "--sleep-ms", "20")
    run_id, steps = None, []  # (step, child's clock)

    def read() -> None:
        nonlocal run_id
        for line in p.stdout:
            parts = line.split()
            if parts[:1] == ["run"]:
                run_id = parts[1]
            elif parts[:1] == ["step"]:
                steps.append((int(parts[1]), float(parts[2])))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while len(steps) < 80 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.02)
    assert len(steps) >= 80, p.stderr.read()
    p.send_signal(signal.SIGKILL)
    killed_at = time.time()
    p.wait()
    reader.join(5)
    store = TraceStore(db)  # opens after the crash (DuckDB replays its WAL)
    stored = {r["step"] for r in store.steps(run_id)}
    older = [n for n, t in steps if t < killed_at - 1.0]
    missing = [n for n in older if n not in stored]
    assert older and not missing, f"{len(missing)} steps older than 1 s missing, e.g. {missing[:5]}"
    assert store.run(run_id)["status"] == "open"  # its end was never recorded


def test_a_run_left_open_is_ended_at_interpreter_exit(tmp_path):
    db = tmp_path / "exit.duckdb"
    p = spawn(db, "--steps", "5", "--name", "forgetful", "--no-close")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    run_id = out.split()[1]
    rows = TraceStore(db).query("SELECT status, ended_by, steps FROM agent_runs WHERE run_id = ?", [run_id])
    assert rows == [{"status": "ok", "ended_by": "interpreter exit", "steps": None}]
    assert TraceStore(db).run(run_id)["steps"] == 5
