"""A real arize-phoenix server (`phoenix serve` on 127.0.0.1) receives a traced run over OTLP, and
its REST API shows it as one trace with AGENT / LLM / TOOL spans. Slow tier (~20 s to start).

Phoenix lives in its own virtualenv so its pins never touch ours (.ci/run installs it into
/tmp/phoenix-venv and sets CONTEXTKIT_PHOENIX_BIN). Without it the test is skipped, except in CI
(CONTEXTKIT_REQUIRE_EXTERNAL=1), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from contextkit import Session, tracing

import pytest
from helpers import conversation, missing_external, stop_process
from tracing_agent import replay

pytestmark = pytest.mark.slow


def phoenix_bin() -> str:
    for cand in (os.environ.get("CONTEXTKIT_PHOENIX_BIN"), shutil.which("phoenix"), "/tmp/phoenix-venv/bin/phoenix"):
        if cand and Path(cand).exists():
            return cand
    missing_external("arize-phoenix", "install it in its own venv as .ci/run does (python -m venv /tmp/phoenix-venv && "
                     "/tmp/phoenix-venv/bin/pip install arize-phoenix) or point CONTEXTKIT_PHOENIX_BIN at its `phoenix`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def phoenix(tmp_path):
    port = free_port()
    env = dict(os.environ, PHOENIX_WORKING_DIR=str(tmp_path / "phoenix"), PHOENIX_HOST="127.0.0.1",
               PHOENIX_PORT=str(port), PHOENIX_GRPC_PORT=str(free_port()), PHOENIX_TELEMETRY_ENABLED="false")
    log = open(tmp_path / "phoenix.log", "w")
    proc = subprocess.Popen([phoenix_bin(), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("phoenix did not start:\n" + (tmp_path / "phoenix.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base
    finally:
        stop_process(proc, 15)
        log.close()


def test_phoenix_shows_the_run_as_one_trace_with_agent_llm_tool_spans(phoenix, tmp_path, monkeypatch):
    project = "contextkit-phoenix-check"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", phoenix + "/v1/traces")
    monkeypatch.setenv("OTEL_SERVICE_NAME", project)
    tracing.configure(db_path=str(tmp_path / "t.duckdb"))
    try:
        msgs = conversation(n_tools=3)
        msgs[2] = dict(msgs[2], reasoning_content="Start with file_0.")
        s = Session(name="phoenix-agent", model="gpt-4o-mini")
        replay(s, msgs)
        s.close()
        assert tracing.flush(20)
    finally:
        tracing.shutdown()
    expected = 1 + 3 * len(s.steps)  # AGENT + per step: context_prune, chat, execute_tool
    deadline = time.monotonic() + 60
    spans: list = []
    while time.monotonic() < deadline:  # Phoenix stores spans in a background task
        try:
            spans = get_json(f"{phoenix}/v1/projects/{project}/spans?limit=1000")["data"]
        except urllib.error.HTTPError as e:
            if e.code != 404:  # 404: the project is made when its first spans are stored
                raise
        if len(spans) >= expected:
            break
        time.sleep(0.5)
    assert len(spans) == expected, [sp["name"] for sp in spans]
    assert len({sp["context"]["trace_id"] for sp in spans}) == 1
    kinds = [sp["span_kind"] for sp in spans]
    assert kinds.count("AGENT") == 1 and kinds.count("LLM") == 3 and kinds.count("TOOL") == 3
    agent = next(sp for sp in spans if sp["span_kind"] == "AGENT")
    assert agent["name"] == "invoke_agent phoenix-agent" and agent["parent_id"] is None
    assert all(sp["parent_id"] == agent["context"]["span_id"] for sp in spans if sp is not agent)
    llm = next(sp for sp in spans if sp["span_kind"] == "LLM" and sp["attributes"].get("contextkit.step") == 2)
    a = llm["attributes"]
    assert a["llm.model_name"] == "gpt-4o-mini" and a["llm.token_count.prompt"] > 0
    assert a["session.id"] == s.id
    tools = [sp for sp in spans if sp["span_kind"] == "TOOL"]
    assert sorted(t["attributes"]["tool.id"] for t in tools) == ["call_0", "call_1", "call_2"]
