"""A user who already runs openinference-instrumentation-litellm gets no duplicate LLM spans:
contextkit detects the instrumentor and turns its own step span into a CHAIN span without token
counts (setting: `CONTEXTKIT_LLM_SPANS` / `tracing.configure(llm_spans=...)`: auto, on, off)."""

from __future__ import annotations

from contextkit import Session, tracing
from contextkit.testing import capture_spans
from contextkit.tracing.store import TraceStore

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

LiteLLMInstrumentor = pytest.importorskip("openinference.instrumentation.litellm").LiteLLMInstrumentor


def llm_spans(exporter: InMemorySpanExporter) -> list:
    """The LLM spans the instrumentor's own provider received."""
    return [sp for sp in exporter.get_finished_spans() if sp.attributes.get("openinference.span.kind") == "LLM"]


def two_calls(server, **session_kw) -> Session:
    from openai_server import Reply

    server.script(Reply.text("first"), Reply.text("second"))
    kw = dict(model="openai/gpt-4o-mini", api_base=server.base_url, api_key="sk-test")
    s = Session(name="instrumented", **session_kw)
    msgs = [{"role": "user", "content": "hello"}]
    r = s.completion(messages=msgs, **kw)
    msgs += [r.choices[0].message.model_dump(exclude_none=True), {"role": "user", "content": "again"}]
    s.completion(messages=msgs, **kw)
    s.close()
    assert tracing.flush(10)
    return s


@pytest.fixture
def instrumented():
    theirs = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    inst = LiteLLMInstrumentor()
    inst.instrument(tracer_provider=provider)
    try:
        yield theirs
    finally:
        inst.uninstrument()


def test_no_duplicate_llm_spans_when_the_litellm_instrumentor_runs(instrumented, openai_server, tmp_path):
    with capture_spans(db_path=tmp_path / "t.duckdb") as ours:
        assert tracing.litellm_instrumented()
        s = two_calls(openai_server)
    assert len(llm_spans(instrumented)) == 2  # the instrumentor's, one per call
    assert ours.of_kind("LLM") == []  # none of ours
    steps = [sp for sp in ours.finished() if sp.attributes.get("contextkit.llm_span_elsewhere")]
    assert len(steps) == 2 and all(sp.attributes["openinference.span.kind"] == "CHAIN" for sp in steps)
    assert not any(k.startswith(("llm.token_count", "gen_ai.usage")) for sp in steps for k in sp.attributes)
    # the local store still has each step's usage and answer
    rows = TraceStore(tmp_path / "t.duckdb").steps(s.id)
    assert [r["output"]["content"] for r in rows] == ["first", "second"] and all(r["input_tokens"] for r in rows)


def test_llm_spans_on_keeps_ours_too(instrumented, openai_server):
    with capture_spans(llm_spans="on") as ours:
        two_calls(openai_server)
    assert len(ours.of_kind("LLM")) == 2 and len(llm_spans(instrumented)) == 2


def test_without_the_instrumentor_ours_are_the_llm_spans(openai_server, capspans):
    assert not tracing.litellm_instrumented()
    two_calls(openai_server)
    spans = capspans.of_kind("LLM")
    assert [sp.name for sp in spans] == ["chat openai/gpt-4o-mini"] * 2
    assert all(sp.attributes["llm.token_count.prompt"] > 0 for sp in spans)


def test_run_context_puts_the_instrumentors_spans_in_the_runs_trace(instrumented, openai_server, capspans):
    from openai_server import Reply

    openai_server.script(Reply.text("hi"))
    s = Session(name="joined")
    with tracing.run_context(s):
        s.completion(model="openai/gpt-4o-mini", api_base=openai_server.base_url, api_key="sk-test",
                     messages=[{"role": "user", "content": "hello"}])
    s.close()
    (agent,) = capspans.named("invoke_agent joined")
    (theirs,) = llm_spans(instrumented)
    assert theirs.context.trace_id == agent.context.trace_id
    assert theirs.parent.span_id == agent.context.span_id
