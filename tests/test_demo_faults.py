"""`contextkit demo --faults` end to end, in a fresh process: the scripted agent among failing tools,
every guard firing where the scenario puts it, the events on the steps in the trace store, and
the bug still fixed (the guards steer the agent, they do not break it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import contextkit  # noqa: F401  (offline defaults)
from contextkit.tracing.store import TraceStore

import pytest


def _contextkit() -> list[str]:
    exe = Path(sys.executable).with_name("contextkit")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "contextkit"]


@pytest.fixture(scope="module")
def faults_demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    (tmp / "work").mkdir()
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=str(tmp / "traces.duckdb"), TMPDIR=str(tmp / "work"))
    for k in ("CONTEXTKIT_TRACING", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "DD_API_KEY"):
        env.pop(k, None)
    done = subprocess.run(_contextkit() + ["demo", "--faults"], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    store = TraceStore(tmp / "traces.duckdb")
    return SimpleNamespace(done=done, out=done.stdout, store=store, tmp=tmp)


def test_the_faults_demo_fixes_the_bug_and_cleans_up(faults_demo):
    assert faults_demo.done.returncode == 0, faults_demo.out + faults_demo.done.stderr
    assert "Result: fixed" in faults_demo.out
    assert list((faults_demo.tmp / "work").iterdir()) == []  # the workspace is gone
    assert "guard:" not in faults_demo.done.stderr  # the step lines say what fired, once


def _row(out: str, step: int) -> str:
    m = re.search(rf"^\s+{step}  .*$", out, re.M)
    assert m, f"no row for step {step}:\n{out}"
    return m.group(0)


def test_every_guard_fires_where_the_scenario_puts_it(faults_demo):
    out = faults_demo.out
    # the tracker refuses three times: the breaker opens, the storm is seen, the fourth call is not run
    assert "breaker_open(fetch_ticket), retry_storm(fetch_ticket)" in _row(out, 4)
    assert "breaker_rejected(fetch_ticket)" in _row(out, 5)
    assert "quarantine(search_docs)" in _row(out, 6)
    assert re.search(r"budget paused at step \d+: .*\n\s+the operator adds \$0\.03", out)
    assert "polling(ci_status)" in out and "breaker_open(deploy_preview), retry_storm(deploy_preview)" in out
    assert re.search(r"budget_warning\s+budget max_dollars: \$0\.0\d+ of \$0\.06 used", out)
    assert re.search(r"max_tokens capped on \d+ calls", out)
    assert "2 calls not run" in out and "fetch_ticket ran 3x" in out and "deploy_preview ran 3x" in out
    flags = dict(re.findall(r"^\s+(ctx\d+)\s+(\w+)\s", out.split("flags ", 1)[1], re.M))
    assert sorted(flags.values()) == ["empty", "error", "error", "error", "error", "injection"]


def test_the_guard_events_and_flags_are_in_the_trace_store(faults_demo):
    store = faults_demo.store
    (run,) = store.runs()
    steps = store.steps(run["run_id"])
    kinds, count = set(), 0
    for st in steps + store.tool_calls(run["run_id"]):  # a circuit breaker's events are stored on its tool call
        events = st["guard_events"]
        events = json.loads(events) if isinstance(events, str) else (events or [])
        kinds |= {e["kind"] for e in events}
        count += len(events)
    from contextkit.viewer import data

    assert data.runs(str(faults_demo.tmp / "traces.duckdb"), ()).iloc[0]["guard_events"] == count  # the Runs table
    assert {"breaker_open", "breaker_rejected", "retry_storm", "polling", "quarantine", "budget", "budget_warning",
            "budget_cap"} <= kinds
    # what the model read instead of the injected page: the quarantine placeholder, as sent
    sent = [m for st in steps for m in store.sent_messages(run["run_id"], st["step"]) if m.get("role") == "tool"]
    assert any(str(m.get("content", "")).startswith("[contextkit quarantined this search_docs result") for m in sent)
    assert not any("ignore your previous instructions" in str(m.get("content", "")) for m in sent)
