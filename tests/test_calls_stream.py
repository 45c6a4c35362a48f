"""Streams through a session: the caller gets litellm's chunks exactly as plain litellm yields them
(sync and async, tool-call deltas), the step is recorded when the stream ends, cut or closed."""

from __future__ import annotations

import asyncio

import contextkit  # first: it keeps litellm offline
from contextkit import Session

import litellm
import pytest
from helpers import conversation
from openai_server import Reply


def kw(server, **extra) -> dict:
    return {"model": "openai/gpt-4o-mini", "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0,
            "stream": True, **extra}


def view(chunks) -> list[dict]:
    """What a caller sees of each chunk (ids and timestamps differ between two requests)."""
    out = []
    for c in chunks:
        d = c.model_dump()
        d.pop("id", None)
        d.pop("created", None)
        out.append(d)
    return out


def plain_chunks(server, reply: Reply, messages: list[dict], **extra) -> list:
    server.script(reply)
    return list(litellm.completion(messages=messages, **kw(server, **extra)))


REPLIES = {
    "text": Reply.text("The failing assertion compares floats exactly; use approx.", reasoning="check the test first"),
    "tool_calls": Reply.tool_calls([("read_file", {"path": "pkg/mod.py"}), ("grep", {"pattern": "def approx", "path": "."})],
                                   content="Reading two files."),
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_stream_yields_exactly_what_plain_litellm_yields(openai_server, name):
    reply = REPLIES[name]
    s = Session(tracing=False)
    msgs = conversation(3)
    openai_server.script(reply)
    stream = s.completion(messages=msgs, **kw(openai_server))
    assert s.steps == []  # not recorded until the stream ends
    got = list(stream)
    sent = openai_server.last.body
    assert sent["stream_options"] == {"include_usage": True}  # asked for usage (extra_body) ...
    expected = plain_chunks(openai_server, reply, sent["messages"])
    assert "stream_options" not in openai_server.last.body
    assert view(got) == view(expected)  # ... and the caller's chunks are the same as without asking
    assert all(c.choices for c in got)  # no usage-only chunk surfaced

    rec = s.steps[0]
    assert rec.stream is True and rec.stream_complete is True and rec.chunks == len(got)
    assert rec.usage_estimated is False and rec.input_tokens > 0 and rec.output_tokens > 0
    assert rec.time_to_first_token_ms is not None and rec.time_to_first_token_ms <= rec.latency_ms
    assert rec.cost_usd is not None
    built = litellm.stream_chunk_builder(got).choices[0]
    assert rec.finish_reason == built.finish_reason == ("tool_calls" if reply.calls else "stop")
    assert rec.response_message["content"] == reply.content
    if reply.reasoning:
        assert rec.response_message["reasoning_content"] == reply.reasoning
    if reply.calls:
        calls = rec.response_message["tool_calls"]
        assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
            ("read_file", '{"path": "pkg/mod.py"}'), ("grep", '{"pattern": "def approx", "path": "."}')]


def test_callers_own_stream_options_are_respected(openai_server):
    s = Session(tracing=False)
    opts = {"stream_options": {"include_usage": True}}
    openai_server.script(Reply.text("hello", usage={"prompt_tokens": 77, "completion_tokens": 5}))
    got = list(s.completion(messages=conversation(1), **kw(openai_server, **opts)))
    assert "extra_body" not in s.steps[0].invocation_params
    expected = plain_chunks(openai_server, Reply.text("hello", usage={"prompt_tokens": 77, "completion_tokens": 5}),
                            openai_server.requests[0].body["messages"], **opts)
    assert view(got) == view(expected)
    assert got[-1].usage.prompt_tokens == 77  # the caller asked, so the caller sees the usage chunk
    assert (s.steps[0].input_tokens, s.steps[0].output_tokens, s.steps[0].usage_estimated) == (77, 5, False)


def test_stream_without_usage_is_counted_locally(openai_server):
    s = Session(tracing=False)
    openai_server.script(Reply.text("one two three", stream_usage="never"))
    list(s.completion(messages=conversation(2), **kw(openai_server)))
    rec = s.steps[0]
    assert rec.usage_estimated is True
    assert rec.input_tokens == rec.tokens_after and rec.output_tokens == 3
    assert "estimated" in rec.cost_note

    s.stream_usage = False  # opt out of asking
    list(s.completion(messages=conversation(2), **kw(openai_server)))
    assert "stream_options" not in openai_server.last.body
    assert s.steps[1].usage_estimated is True


def test_a_server_that_rejects_stream_options_is_asked_again_without(openai_server):
    s = Session(tracing=False)
    openai_server.script(Reply.error(400, "Unrecognized request argument supplied: stream_options"), Reply.text("fine"))
    got = list(s.completion(messages=conversation(1), **kw(openai_server)))
    assert "".join(c.choices[0].delta.content or "" for c in got) == "fine"
    first, second = openai_server.requests
    assert "stream_options" in first.body and "stream_options" not in second.body
    assert first.body["messages"] == second.body["messages"]
    assert len(s.steps) == 1 and s.steps[0].error is None and s.stream_usage is False
    list(s.completion(messages=conversation(1), **kw(openai_server)))
    assert "stream_options" not in openai_server.last.body  # the session remembers


def test_async_stream_yields_what_plain_litellm_yields(openai_server):
    reply = REPLIES["tool_calls"]

    async def run():
        s = Session(tracing=False)
        openai_server.script(reply)
        stream = await s.acompletion(messages=conversation(2), **kw(openai_server))
        got = [c async for c in stream]
        openai_server.script(reply)
        plain = await litellm.acompletion(messages=openai_server.last.body["messages"], **kw(openai_server))
        return s, got, [c async for c in plain]

    s, got, expected = asyncio.run(run())
    assert view(got) == view(expected)
    rec = s.steps[0]
    assert rec.stream_complete is True and rec.usage_estimated is False and rec.finish_reason == "tool_calls"
    assert len(rec.response_message["tool_calls"]) == 2


def test_stream_cut_midway_is_recorded_then_raised_as_litellm_raises(openai_server):
    s = Session(tracing=False)
    openai_server.script(Reply.cut("a long answer that the network will cut", after_chunks=3))
    stream = s.completion(messages=conversation(2), **kw(openai_server))
    received = []
    with pytest.raises(Exception) as ours:
        for c in stream:
            received.append(c)
    assert s.steps[-1].error is not None  # recorded before the error reached the agent
    openai_server.script(Reply.cut("a long answer that the network will cut", after_chunks=3))
    with pytest.raises(Exception) as plain:
        list(litellm.completion(messages=openai_server.last.body["messages"], **kw(openai_server)))
    assert type(ours.value) is type(plain.value)
    rec = s.steps[-1]
    assert rec.error.startswith(type(ours.value).__name__) and rec.stream_complete is False
    assert rec.finish_reason is None and rec.chunks == len(received) >= 1
    assert rec.response_message["content"] == "".join(c.choices[0].delta.content or "" for c in received)
    # the session is still usable, and the retry goes through the same state
    again = list(s.completion(messages=conversation(2), **kw(openai_server)))
    assert again and s.steps[-1].error is None and s.steps[-1].step == rec.step + 1


def test_async_stream_cut_is_recorded(openai_server):
    async def run():
        s = Session(tracing=False)
        openai_server.script(Reply.cut(after_chunks=2))
        stream = await s.acompletion(messages=conversation(1), **kw(openai_server))
        with pytest.raises(Exception):  # noqa: B017 - litellm's class for a cut stream differs by release
            async for _ in stream:
                pass
        return s

    s = asyncio.run(run())
    assert s.steps[0].error is not None and s.steps[0].stream_complete is False


def test_stream_closed_early_is_recorded_once(openai_server):
    s = Session(tracing=False)
    openai_server.script(Reply.text("x" * 200))
    stream = s.completion(messages=conversation(1), **kw(openai_server))
    first = next(stream)
    assert first.choices[0].delta.role == "assistant"
    stream.close()
    stream.close()
    assert len(s.steps) == 1
    rec = s.steps[0]
    assert rec.stream_complete is False and rec.error is None and rec.chunks == 1
    assert stream.model == "gpt-4o-mini"  # other attributes reach litellm's stream object


def test_a_stream_left_after_break_is_recorded_before_the_next_call(openai_server):
    s = Session(tracing=False, budget=contextkit.Budget(max_steps=1))
    openai_server.script(Reply.text("x" * 200), Reply.text("second"))
    stream = s.completion(messages=conversation(1), **kw(openai_server))
    for _chunk in stream:
        break  # the caller keeps a reference but never closes it
    assert s.steps == []  # not ended yet: nothing says the caller is done
    with pytest.raises(contextkit.BudgetExceeded):
        s.completion(messages=conversation(1), **kw(openai_server))
    # the abandoned stream is step 1, recorded first; step 2 is the blocked call with its guard event
    assert [r.step for r in s.steps] == [1, 2] and s.steps[0].stream_complete is False and s.steps[0].error is None
    assert s.steps[1].error.startswith("BudgetExceeded") and s.steps[1].guard_events[0].limit == "max_steps"
    assert len(openai_server.requests) == 1  # the over-budget call never reached the server
    del stream
