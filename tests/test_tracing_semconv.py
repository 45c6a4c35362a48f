"""What a collector (Datadog, any OTLP backend) receives, decoded from the OTLP/HTTP protobuf the
SDK's exporter sends to a real receiver on 127.0.0.1, checked against the OpenTelemetry GenAI
conventions as the installed opentelemetry-semantic-conventions package names them: the content
attributes as the conventions' JSON, the provider's well-known name, the model without litellm's
prefix, error.type on a failed call, the step's decisions in words, and no span over the cap on a
long real conversation (issue 16)."""

from __future__ import annotations

import json
import sys

from contextkit import Policy, Session, StepRecord, tracing

import litellm
import pytest
from helpers import REPO, conversation
from openai_server import Reply
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as G
from opentelemetry.semconv.attributes import error_attributes
from otlp_receiver import OTLPReceiver
from tracing_agent import replay

sys.path.insert(0, str(REPO / "benchmarks"))
from _chain import by_trajectories

GEN_AI_NAMES = {v for k, v in vars(G).items() if k.startswith("GEN_AI_") and isinstance(v, str)}
MB = 1_000_000


@pytest.fixture
def receiver(monkeypatch, tmp_path):
    rx = OTLPReceiver().start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rx.endpoint)
    yield rx
    rx.stop()


def span_sizes(rx: OTLPReceiver) -> list[tuple[int, str]]:
    """(encoded bytes, name) of every span received, from the protobuf as sent."""
    out = []
    for r in rx.requests:
        req = ExportTraceServiceRequest()
        req.ParseFromString(r["body"])
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                out.extend((sp.ByteSize(), sp.name) for sp in ss.spans)
    return out


def check_message(msg: dict, output: bool = False) -> None:
    """The conventions' ChatMessage / OutputMessage: role, parts (each with its type's fields)."""
    assert isinstance(msg["role"], str) and isinstance(msg["parts"], list), msg
    if output:
        assert msg["finish_reason"] in ("stop", "length", "content_filter", "tool_call", "error"), msg
    for part in msg["parts"]:
        t = part["type"]
        if t == "text":
            assert isinstance(part["content"], str)
        elif t == "tool_call":
            assert part["id"] and isinstance(part["name"], str) and "arguments" in part
        elif t == "tool_call_response":
            assert "id" in part and "response" in part
        elif t == "reasoning":
            assert isinstance(part["content"], str)


def test_chat_spans_carry_the_conventions_content_and_a_failed_call_its_error_type(receiver, tmp_path, openai_server):
    tracing.configure(db_path=str(tmp_path / "t.duckdb"))
    s = Session(Policy(keep_last=1, protect_recent_turns=0), name="coder")
    kw = {"model": "openai/gpt-4o-mini", "api_base": openai_server.base_url, "api_key": "sk-test", "max_retries": 0}
    tools = [{"type": "function", "function": {"name": "read_file", "description": "Read a file",
                                               "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]
    msgs = conversation(n_tools=3)
    try:
        for i in range(3):
            openai_server.script(Reply.tool_call("read_file", {"path": f"pkg/file_{i}.py"}, call_id=f"new_{i}"))
            s.completion(messages=msgs[: 2 + 2 * (i + 1)], tools=tools, **kw)
        openai_server.script(Reply.error(429, "slow down"))
        with pytest.raises(litellm.RateLimitError):
            s.completion(messages=msgs, tools=tools, **kw)
        s.close()
        assert tracing.flush(15)
    finally:
        tracing.shutdown()
    spans = receiver.spans
    chats = sorted((sp for sp in spans if sp.attributes.get("gen_ai.operation.name") == "chat"),
                   key=lambda sp: sp.attributes["contextkit.step"])
    assert len(chats) == 4
    for sp in spans:  # every gen_ai.* name is one the conventions package defines
        unknown = {k for k in sp.attributes if k.startswith("gen_ai.") and k not in GEN_AI_NAMES}
        assert not unknown, (sp.name, unknown)
    for sp in chats:
        a = sp.attributes
        assert a[G.GEN_AI_PROVIDER_NAME] == G.GenAiProviderNameValues.OPENAI.value
        assert a[G.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini" and a["llm.model_name"] == "openai/gpt-4o-mini"
        inputs = json.loads(a[G.GEN_AI_INPUT_MESSAGES])
        for m in inputs:
            check_message(m)
        assert json.loads(a[G.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "You are a coding agent."}]
        assert not any(m["role"] == "system" for m in inputs)  # the system prompt is in system_instructions
        defs = json.loads(a[G.GEN_AI_TOOL_DEFINITIONS])
        assert defs == [{"type": "function", "name": "read_file", "description": "Read a file",
                         "parameters": tools[0]["function"]["parameters"]}]
    first = json.loads(chats[0].attributes[G.GEN_AI_INPUT_MESSAGES])
    assert [m["role"] for m in first] == ["user", "assistant", "tool"]
    call = next(p for p in first[1]["parts"] if p["type"] == "tool_call")
    assert call == {"type": "tool_call", "id": "call_0", "name": "read_file", "arguments": {"path": "pkg/file_0.py"}}
    response = next(p for p in first[2]["parts"] if p["type"] == "tool_call_response")
    assert response["id"] == "call_0" and response["response"].startswith("def function_0_0")
    for sp in chats[:3]:
        [out] = json.loads(sp.attributes[G.GEN_AI_OUTPUT_MESSAGES])
        check_message(out, output=True)
        assert out["finish_reason"] == "tool_call" and out["parts"][-1]["type"] == "tool_call"
        assert error_attributes.ERROR_TYPE not in sp.attributes
    failed = chats[3].attributes
    assert failed[error_attributes.ERROR_TYPE] == "RateLimitError"
    assert G.GEN_AI_OUTPUT_MESSAGES not in failed


def test_response_id_and_provider_names(receiver, tmp_path):
    tracing.configure(db_path=str(tmp_path / "t.duckdb"))
    try:
        s = Session(name="ids")
        msgs = conversation(n_tools=1)
        for provider, model in (("bedrock", "bedrock/anthropic.claude-3-haiku"), ("vertex_ai", "vertex_ai/gemini-2.0-flash"),
                                ("azure", "azure/my-deployment"), ("my_gateway", "my_gateway/some-model")):
            s.prepare(msgs)
            s.record_step(StepRecord(step=s.step, model=model, started_at=0.0, provider=provider, messages_sent=msgs,
                                     response_id=f"resp-{provider}", response_message={"role": "assistant", "content": "ok"}))
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    got = {sp.attributes["gen_ai.response.id"]: (sp.attributes[G.GEN_AI_PROVIDER_NAME], sp.attributes[G.GEN_AI_REQUEST_MODEL])
           for sp in receiver.spans if sp.attributes.get("gen_ai.operation.name") == "chat"}
    P = G.GenAiProviderNameValues
    assert got == {
        "resp-bedrock": (P.AWS_BEDROCK.value, "anthropic.claude-3-haiku"),
        "resp-vertex_ai": (P.GCP_VERTEX_AI.value, "gemini-2.0-flash"),
        "resp-azure": (P.AZURE_AI_OPENAI.value, "my-deployment"),
        "resp-my_gateway": ("my_gateway", "some-model"),  # not a well-known one: litellm's name stays
    }


def test_the_context_span_says_why_results_were_pruned(receiver, tmp_path):
    tracing.configure(db_path=str(tmp_path / "t.duckdb"))
    try:
        s = Session(Policy(keep_last=2, protect_recent_turns=0), name="why")
        replay(s, conversation(n_tools=6))
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    prunes = {sp.attributes["contextkit.step"]: sp.attributes for sp in receiver.spans
              if sp.attributes.get("gen_ai.operation.name") == "context_prune"}
    report = next(r for r in s.reports if r.pruned)
    text = prunes[report.step]["output.value"]
    assert prunes[report.step]["output.mime_type"] == "text/plain"
    assert f"{report.tokens_before:,} -> {report.tokens_after:,} tokens" in text
    for handle, reason in report.pruned:
        assert handle in text and reason in text and "rule keep_last" in text
    assert "kept whole:" in text and "prepare at step" in prunes[report.step]["input.value"]
    quiet = prunes[1]["output.value"]
    assert "nothing pruned at this step" in quiet


def test_no_span_exceeds_1_mb_on_a_12_trajectory_chained_conversation(receiver, tmp_path):
    """The 12 trajectories chained (~1,600 messages, ~1.5M characters), as a long agent would send
    them (prepare every few turns), then once more cold (a resumed agent: every message new at once),
    with one 2 MB tool result at the end. What the receiver got: no span over 1 MB, the cap honoured,
    the newest messages whole, the store complete."""
    msgs = by_trajectories(12)
    assert len(msgs) > 1500 and sum(len(json.dumps(m)) for m in msgs) > 1_200_000
    cuts = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]
    path = tmp_path / "t.duckdb"
    tracing.configure(db_path=str(path))
    try:
        s = Session("none", name="long")  # nothing pruned: every span carries as much as it can
        for i in cuts[:: max(1, len(cuts) // 40)] + cuts[-12:]:
            s.prepare(msgs[:i])
            s.record_step(StepRecord(step=s.step, model="gpt-4o", started_at=0.0, provider="openai",
                                     messages_sent=msgs[:i], response_message=msgs[i]))
        s.close()
        big = msgs + [{"role": "assistant", "content": "", "tool_calls": [
            {"id": "big", "type": "function", "function": {"name": "cat", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "big", "content": "x" * 2_000_000}]
        cold = Session("none", name="cold")
        sent = cold.prepare(big)
        cold.record_step(StepRecord(step=cold.step, model="gpt-4o", started_at=0.0, provider="openai",
                                    messages_sent=sent, response_message={"role": "assistant", "content": "done"}))
        cold.close()
        assert tracing.flush(60)
    finally:
        tracing.shutdown()
    sizes = span_sizes(receiver)
    assert len(sizes) == len(receiver.spans) > 50
    largest = max(sizes)
    assert largest[0] < 512 * 1024 < MB, largest  # the default cap, well under Datadog's 1 MB
    chats = {(sp.attributes["session.id"], sp.attributes["contextkit.step"]): sp.attributes for sp in receiver.spans
             if sp.attributes.get("gen_ai.operation.name") == "chat"}
    last = chats[(cold.id, cold.step)]
    shown = json.loads(last[G.GEN_AI_INPUT_MESSAGES])
    assert shown[0]["role"] == "contextkit" and "not repeated in this span" in shown[0]["parts"][0]["content"]
    assert "messages.hash" in shown[-1]["parts"][0]["response"]  # the 2 MB result: a marker with its hash
    assert last["contextkit.input_messages.snapshot"] is True and last["contextkit.input_messages.elided"] > 1000
    long_last = chats[(s.id, s.step)]
    assert long_last["contextkit.input_messages.shown"] >= 1
    from contextkit.tracing.store import TraceStore

    store = TraceStore(path)
    stored = store.sent_messages(cold.id, cold.step)  # nothing lost locally (secrets masked)
    assert [m["role"] for m in stored] == [m["role"] for m in sent] and stored[-1] == sent[-1]
    hashes = {r["hash"] for r in store.query("SELECT hash FROM messages")}
    marker = shown[-1]["parts"][0]["response"]
    assert marker.split("messages.hash ")[1].rstrip("]") in hashes  # the marker names the store's hash
