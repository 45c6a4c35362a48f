"""OTLP export as a collector, Datadog or Phoenix receives it: a real OTLP/HTTP receiver on
127.0.0.1 decodes the protobuf (opentelemetry-proto) the SDK's exporter sends."""

from __future__ import annotations

import json
import socket

from contextkit import Policy, Session, tracing
from contextkit.tracing.config import TracingConfigError, datadog_endpoint, otlp_from_env
from contextkit.tracing.store import TraceStore

import pytest
from helpers import conversation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver import OTLPReceiver
from tracing_agent import replay


@pytest.fixture
def receiver():
    rx = OTLPReceiver().start()
    yield rx
    rx.stop()


def reasoning_conversation() -> list[dict]:
    msgs = conversation(n_tools=4)
    msgs[4] = dict(msgs[4], reasoning_content="file_0 has no divisor; look at file_1 next.")
    msgs.append({"role": "assistant", "content": "Done.", "reasoning_content": "All files read; the bug is in file_2."})
    return msgs


def run_traced(msgs: list[dict]) -> Session:
    s = Session(Policy(keep_last=2, protect_recent_turns=0), name="coder", model="gpt-4o-mini", user_id="u1")
    replay(s, msgs)
    s.close()
    assert tracing.flush(15)
    return s


def test_datadog_shortcut_headers_kinds_and_llm_attributes(receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("DD_API_KEY", "dd-test-key-123")
    monkeypatch.setenv("DD_LLMOBS_ML_APP", "my-agent")
    # a local Datadog Agent / proxy endpoint: the Datadog headers still go with every request
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint)
    tracing.configure(db_path=str(tmp_path / "t.duckdb"), snapshot_every=1)  # every LLM span: the whole request
    try:
        s = run_traced(reasoning_conversation())
    finally:
        tracing.shutdown()
    assert receiver.requests, "nothing was exported"
    for req in receiver.requests:
        assert req["path"] == "/v1/traces" and req["content_type"] == "application/x-protobuf"
        assert req["headers"]["dd-api-key"] == "dd-test-key-123"
        assert req["headers"]["dd-otlp-source"] == "llmobs"
    spans = receiver.spans
    assert {sp.resource["service.name"] for sp in spans} == {"my-agent"}
    for sp in spans:
        assert sp.attributes["openinference.span.kind"] in ("AGENT", "LLM", "TOOL", "CHAIN"), sp.name
        assert sp.attributes["gen_ai.operation.name"], sp.name
        assert sp.attributes["session.id"] == sp.attributes["gen_ai.conversation.id"] == s.id
    kinds = [sp.attributes["openinference.span.kind"] for sp in spans]
    assert kinds.count("AGENT") == 1 and kinds.count("LLM") == len(s.steps) == kinds.count("CHAIN")
    assert kinds.count("TOOL") == 4
    agent = next(sp for sp in spans if sp.attributes["openinference.span.kind"] == "AGENT")
    assert agent.name == "invoke_agent coder" and agent.attributes["gen_ai.agent.name"] == "coder"
    assert {sp.trace_id for sp in spans} == {agent.trace_id}
    llms = sorted((sp for sp in spans if sp.attributes["openinference.span.kind"] == "LLM"), key=lambda sp: sp.attributes["contextkit.step"])
    for sp, rec in zip(llms, s.steps):
        a = sp.attributes
        assert sp.name == "chat gpt-4o-mini" and sp.parent_span_id == agent.span_id
        assert a["llm.model_name"] == a["gen_ai.request.model"] == "gpt-4o-mini"
        assert a["llm.token_count.prompt"] == a["gen_ai.usage.input_tokens"] == rec.input_tokens
        assert a["llm.token_count.completion"] == a["gen_ai.usage.output_tokens"] == 20
        n = next(r.messages for r in s.reports if r.step == rec.step)  # the size of the list that step sent
        assert a[f"llm.input_messages.{n - 1}.message.role"] and f"llm.input_messages.{n}.message.role" not in a
        assert a["llm.output_messages.0.message.role"] == "assistant"
        assert a["contextkit.tokens_before"] >= a["contextkit.tokens_after"]
    # reasoning: in the output of the step that produced it, and in later inputs
    step2 = llms[1].attributes
    assert step2["llm.output_messages.0.message.contents.0.message_content.type"] == "reasoning"
    assert step2["llm.output_messages.0.message.contents.0.message_content.text"].startswith("file_0 has no divisor")
    assert step2["llm.output_messages.0.message.contents.1.message_content.type"] == "text"
    last = llms[-1].attributes
    assert last["llm.input_messages.4.message.contents.0.message_content.type"] == "reasoning"
    assert last["llm.output_messages.0.message.contents.0.message_content.text"].startswith("All files read")
    tools = [sp for sp in spans if sp.attributes["openinference.span.kind"] == "TOOL"]
    assert sorted(t.attributes["tool.id"] for t in tools) == [f"call_{i}" for i in range(4)]
    assert all(t.attributes["gen_ai.tool.call.id"] == t.attributes["tool.id"] and t.name == "execute_tool read_file" for t in tools)
    assert all(t.attributes["gen_ai.tool.call.result"].startswith("def function_") for t in tools)
    prunes = [sp for sp in spans if sp.attributes["gen_ai.operation.name"] == "context_prune"]
    pruned = [h for sp in prunes for h in sp.attributes.get("contextkit.pruned.handle", [])]
    assert pruned and set(pruned) <= set(prunes[-1].attributes["contextkit.segments.handle"])


def test_datadog_direct_intake_url_and_protocol_checks(monkeypatch):
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DD_API_KEY", "k")
    monkeypatch.setenv("DD_SITE", "datadoghq.eu")
    s = otlp_from_env()
    assert s.endpoint == "https://otlp.datadoghq.eu/v1/traces"
    assert s.headers == {"dd-api-key": "k", "dd-otlp-source": "llmobs"}
    assert datadog_endpoint("us5.datadoghq.com") == "https://otlp.us5.datadoghq.com/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(TracingConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        otlp_from_env()
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert otlp_from_env() is None
    monkeypatch.delenv("DD_API_KEY")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    assert otlp_from_env() is None  # nothing set: no export, nothing leaves the machine


def test_secrets_are_masked_in_exported_spans(receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.removesuffix("/v1/traces"))
    key = "sk-ant-api03-" + "Zz9" * 12
    msgs = conversation(n_tools=2)
    msgs[3] = dict(msgs[3], content=f"export ANTHROPIC_API_KEY={key}\n-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----")
    tracing.configure(db_path=str(tmp_path / "t.duckdb"))
    try:
        run_traced(msgs)
    finally:
        tracing.shutdown()
    blob = json.dumps([sp.attributes for sp in receiver.spans])
    assert receiver.spans and key not in blob and "MIIEv" not in blob and "[REDACTED" in blob


def _blackhole() -> socket.socket:
    """A socket that accepts connections and never answers: the worst kind of dead endpoint."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    return srv


def test_a_dead_endpoint_never_reaches_the_agent_and_the_store_still_fills(tmp_path, monkeypatch):
    hole = _blackhole()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{hole.getsockname()[1]}/v1/traces")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "30")
        path = tmp_path / "t.duckdb"
        tracing.configure(db_path=str(path), shutdown_timeout_s=3.0)
        s = Session(name="dead-endpoint")
        seen = replay(s, conversation(n_tools=19))
        s.close()
        tracing.current().worker.drain(10)
        tracing.shutdown()  # bounded: returns although the OTLP exporter is stuck in a request
        assert len(seen) == 19 and s.observer_errors == []
        store = TraceStore(path)
        assert len(store.steps(s.id)) == 19 and store.run(s.id)["status"] == "ok"
    finally:
        hole.close()


def test_attaching_to_the_users_provider_and_nesting_user_spans(tmp_path):
    mine = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(mine))
    tracing.configure(db_path=str(tmp_path / "t.duckdb"), tracer_provider=provider)
    try:
        s = Session(name="host")
        user_tracer = provider.get_tracer("user-code")
        with s.tool("grep", tool_call_id="call_x", arguments={"q": "x"}) as t:
            with user_tracer.start_as_current_span("my grep internals"):
                t.result = "found"
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    spans = {sp.name: sp for sp in mine.get_finished_spans()}
    tool, inner, agent = spans["execute_tool grep"], spans["my grep internals"], spans["invoke_agent host"]
    assert inner.parent.span_id == tool.context.span_id
    assert tool.parent.span_id == agent.context.span_id
    assert TraceStore(tmp_path / "t.duckdb").tool_calls(s.id)[0]["tool_call_id"] == "call_x"


def test_a_users_attribute_limit_drops_old_messages_never_the_core(tmp_path):
    mine = InMemorySpanExporter()
    provider = TracerProvider()  # the SDK's default limit: 128 attributes per span
    provider.add_span_processor(SimpleSpanProcessor(mine))
    tracing.configure(db_path=str(tmp_path / "t.duckdb"), tracer_provider=provider)
    try:
        s = Session(name="long")
        replay(s, conversation(n_tools=40))
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    chats = [sp for sp in mine.get_finished_spans() if sp.name.startswith("chat")]
    last = max((sp for sp in chats if sp.attributes["contextkit.input_messages.snapshot"]), key=lambda sp: sp.attributes["contextkit.step"])
    a = last.attributes
    assert len(a) <= 128 and a["contextkit.input_messages_truncated"] is True
    assert a["openinference.span.kind"] == "LLM" and a["gen_ai.operation.name"] == "chat"
    assert a["llm.token_count.prompt"] > 0 and a["llm.output_messages.0.message.role"] == "assistant"
    n = a["contextkit.messages"]
    assert a[f"llm.input_messages.{n - 1}.message.role"] == "tool"  # the latest messages are kept
