"""`contextkit.testing`: a run's spans in memory, with their attributes, and nothing written or
sent anywhere else."""

from __future__ import annotations

import contextkit
from contextkit import tracing
from contextkit.testing import CapturedSpans, capture_spans

import pytest
from otlp_receiver import OTLPReceiver


def test_the_docstrings_example_captures_the_runs_spans(tmp_path, monkeypatch):
    store = tmp_path / "traces.duckdb"
    monkeypatch.setenv("CONTEXTKIT_TRACE_DB", str(store))  # what the environment says is not used
    rx = OTLPReceiver().start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rx.endpoint)
    try:
        messages = [{"role": "user", "content": "Where is my order?"}]
        with capture_spans() as spans:
            session = contextkit.Session(name="checkout-agent")
            session.completion(model="gpt-4.1-mini", messages=messages, mock_response="Done.")
            session.close()
        (agent,) = spans.named("invoke_agent checkout-agent")
        assert agent.attributes["session.id"] == session.id
        assert [s.name for s in spans.of_kind("LLM")] == ["chat gpt-4.1-mini"]
        (llm,) = spans.of_kind("LLM")
        assert llm.parent.span_id == agent.context.span_id
        assert llm.attributes["llm.input_messages.0.message.content"] == "Where is my order?"  # flattened
        assert {"name": "chat gpt-4.1-mini", **dict(llm.attributes)} in spans.attributes()
        assert rx.spans == [] and not store.exists()  # no OTLP export, no store
    finally:
        rx.stop()
    assert tracing.current().cfg.db_path == str(store)  # after the block: the environment's setup again
    tracing.shutdown()


def test_a_run_left_open_is_ended_and_captured_when_the_block_ends():
    with capture_spans() as spans:
        session = contextkit.Session(name="left-open")
        session.prepare([{"role": "user", "content": "hi"}])
        assert spans.named("invoke_agent left-open") == []  # the AGENT span is still open
    (agent,) = spans.named("invoke_agent left-open")
    assert agent.attributes["contextkit.ended_by"] == "tracing shut down"


def test_settings_pass_through_and_a_store_can_be_kept(tmp_path):
    with capture_spans(db_path=tmp_path / "t.duckdb", mask_secrets=False) as spans:
        s = contextkit.Session(name="kept")
        s.prepare([{"role": "user", "content": "my key is sk-proj-" + "a1B2" * 10}])
        s.close()
    assert spans.tracing.cfg.mask_secrets is False
    prune = next(sp for sp in spans.finished() if sp.name == "context_prune")
    assert "sk-proj-" + "a1B2" * 10 in str(dict(prune.attributes))  # not masked, as asked
    assert [r["name"] for r in tracing.TraceStore(tmp_path / "t.duckdb").runs()] == ["kept"]


def test_the_capspans_fixture(capspans: CapturedSpans):
    s = contextkit.Session(name="fixture")
    s.completion(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}], mock_response="ok")
    s.close()
    assert [sp.name for sp in capspans.finished()] == ["context_prune", "chat gpt-4.1-mini", "invoke_agent fixture"]
    capspans.clear()
    assert capspans.finished() == []


def test_unknown_settings_are_refused_before_anything_is_set_up():
    with pytest.raises(tracing.TracingConfigError, match="unknown tracing setting 'db'"):
        with capture_spans(db="x"):
            pass
