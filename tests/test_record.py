"""`session.record(response)`: the README's three-line use (prepare, then the caller's own
litellm call) records the step exactly as `Session.completion` does: usage, cost, output, tracing."""

from __future__ import annotations

import asyncio
import dataclasses

import contextkit  # first: it keeps litellm offline
from contextkit import Policy, Session, tracing
from contextkit.tracing.store import TraceStore

import litellm
import pytest
from helpers import conversation
from openai_server import Reply

PRUNING = Policy(keep_last=1, protect_recent_turns=0)
# differ by nature: when the call started and how long it took, and the report object itself
_TIMING = {"started_at", "latency_ms", "prepare"}


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "ck" / "traces.duckdb"
    tracing.configure(db_path=str(path))
    yield TraceStore(path)
    tracing.shutdown()


def test_prepare_then_your_own_litellm_call_then_record_leaves_a_priced_step_in_the_store(store):
    msgs = conversation(n_tools=3)
    session = Session(name="three-lines")
    response = litellm.completion(model="gpt-4o-mini", messages=session.prepare(msgs), mock_response="Fixed.")
    assert session.record(response) is response
    (step,) = session.steps
    assert step.model == "gpt-4o-mini" and step.step == 1
    assert step.cost_usd is not None and step.cost_usd > 0 and "price map" in step.cost_note
    assert step.input_tokens and step.output_tokens
    assert step.response_message == {"role": "assistant", "content": "Fixed."}
    session.close()
    assert tracing.flush(10)
    (row,) = store.steps(session.id)
    assert row["model"] == "gpt-4o-mini" and row["output"]["content"] == "Fixed."
    assert row["cost_usd"] == pytest.approx(step.cost_usd)
    run = store.run(session.id)
    assert run["steps"] == 1 and run["cost_usd"] == pytest.approx(step.cost_usd)


def test_record_is_exactly_what_completion_records(openai_server):
    """Two sessions, one conversation: one calls through `completion`, the other prepares, calls
    litellm itself against the same server and records; every field of every step agrees."""
    msgs = conversation(n_tools=4)
    kw = {"model": "openai/gpt-4o-mini", "api_base": openai_server.base_url, "api_key": "sk-test",
          "max_retries": 0, "temperature": 0.2}
    through, recorded = Session(PRUNING, tracing=False), Session(PRUNING, tracing=False)
    for i in range(2, len(msgs) + 1, 2):
        openai_server.script(Reply.text(f"step {i}", usage={"prompt_tokens": 700 + i, "completion_tokens": 9}),
                             Reply.text(f"step {i}", usage={"prompt_tokens": 700 + i, "completion_tokens": 9}))
        through.completion(messages=msgs[:i], **kw)
        sent = recorded.prepare(msgs[:i])
        recorded.record(litellm.completion(messages=sent, **kw), **kw)
        assert openai_server.requests[-1].body == openai_server.requests[-2].body  # the same request went out
    assert len(recorded.steps) == len(through.steps) == len(msgs) // 2
    assert any(rec.tokens_after < rec.tokens_before for rec in recorded.steps)  # pruning happened
    for a, b in zip(through.steps, recorded.steps):
        da, db = dataclasses.asdict(a), dataclasses.asdict(b)
        assert {k: v for k, v in da.items() if k not in _TIMING} == {k: v for k, v in db.items() if k not in _TIMING}
        assert b.input_tokens == a.input_tokens > 700 and b.cost_usd == a.cost_usd > 0 and not b.usage_estimated
        assert b.latency_ms > 0  # litellm's own measure of the call


def test_mock_usage_is_counted_locally_when_mock_response_is_passed_on():
    msgs = conversation(n_tools=2)
    a, b = Session(model="gpt-4o-mini", tracing=False), Session(model="gpt-4o-mini", tracing=False)
    a.completion(messages=msgs, mock_response="Done.")
    b.record(litellm.completion(model="gpt-4o-mini", messages=b.prepare(msgs), mock_response="Done."), mock_response="Done.")
    assert b.steps[0].usage_estimated and b.steps[0].input_tokens == a.steps[0].input_tokens == a.steps[0].tokens_after
    assert b.steps[0].cost_usd == a.steps[0].cost_usd


def test_openai_shaped_responses_dict_and_sdk_object():
    from openai.types.chat import ChatCompletion

    body = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None,
            "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.py"}'}}]}}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230,
                  "prompt_tokens_details": {"cached_tokens": 1024}},
    }
    for response in (body, ChatCompletion.model_validate(body)):
        s = Session(tracing=False)
        s.prepare(conversation(n_tools=1))
        s.record(response)
        (rec,) = s.steps
        assert rec.model == "gpt-4o-mini"  # from the response: neither the session nor the call named one
        assert (rec.input_tokens, rec.output_tokens, rec.cache_read_tokens) == (1200, 30, 1024)
        assert rec.finish_reason == "tool_calls" and rec.response_message["tool_calls"][0]["id"] == "c9"
        full = litellm.cost_per_token(model="gpt-4o-mini", prompt_tokens=1200, completion_tokens=30)
        assert 0 < rec.cost_usd < sum(full)  # cache reads billed at litellm's discount


def test_a_stream_is_recorded_when_the_caller_has_read_it():
    s = Session(model="gpt-4o-mini", tracing=False)
    stream = litellm.completion(model="gpt-4o-mini", messages=s.prepare(conversation(2)), mock_response="Streamed answer.", stream=True)
    out = s.record(stream, stream=True)
    assert not s.steps  # not read yet
    assert "".join(c.choices[0].delta.content or "" for c in out) == "Streamed answer."
    (rec,) = s.steps
    assert rec.stream and rec.stream_complete and rec.chunks and rec.response_message["content"] == "Streamed answer."
    assert rec.cost_usd is not None


def test_async_calls_record_the_same_way():
    async def run():
        s = Session(model="gpt-4o-mini", tracing=False)
        r = await litellm.acompletion(model="gpt-4o-mini", messages=s.prepare(conversation(2)), mock_response="A.")
        s.record(r)
        return s

    s = asyncio.run(run())
    assert len(s.steps) == 1 and s.steps[0].cost_usd


def test_mistakes_are_refused_and_record_nothing():
    r = litellm.completion(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], mock_response="x")
    s = Session(tracing=False)
    with pytest.raises(ValueError, match="call prepare first"):
        s.record(r)
    s.prepare(conversation(1))
    with pytest.raises(TypeError, match="takes a chat completion response"):
        s.record("Done.")
    with pytest.raises(ValueError, match="takes a chat completion response"):
        s.record({"content": "no choices"})
    assert not s.steps
    s.record(r)
    with pytest.raises(ValueError, match="step 1 .* is already recorded"):
        s.record(r)
    assert len(s.steps) == 1
    s.completion(model="gpt-4o-mini", messages=conversation(1), mock_response="y")  # records its own step
    with pytest.raises(ValueError, match="already recorded"):
        s.record(r)
    assert len(s.steps) == 2


def test_recorded_steps_count_towards_a_budget():
    s = Session(model="gpt-4o-mini", tracing=False, budget=contextkit.Budget(max_steps=1))
    s.record(litellm.completion(model="gpt-4o-mini", messages=s.prepare(conversation(1)), mock_response="x"))
    with pytest.raises(contextkit.BudgetExceeded):
        s.completion(messages=conversation(2), mock_response="y")
