"""The gateway's hooks in-process (the real proxy runs in tests/test_proxy.py): fail-open, conversation
keys, replicas agreeing whatever each has seen, and streams passed through byte for byte."""

from __future__ import annotations

import asyncio
import copy
import json

from contextkit.errors import PolicyConfigError
from contextkit.proxy import Gateway, conversation_key
from contextkit.proxy.shapes import Chat

import pytest
from anthropic_convo import anthropic_conversation, anthropic_tools, request_at, tools_of


class _Router:
    """Only there so the gateway offers restore_context (it would answer through the proxy's router)."""

    model_list = [{"model_name": "gpt-test", "litellm_params": {"model": "openai/gpt-4o"}}]


def _gateway(**settings) -> Gateway:
    gw = Gateway(tracing=False, **settings)
    gw.router = _Router()
    return gw


_ids = iter(range(10**6))


def _data(messages, tools, model="gpt-test", **extra) -> dict:
    return {"model": model, "messages": messages, "tools": tools, "litellm_call_id": f"call-{next(_ids)}",
            "proxy_server_request": {"headers": extra.pop("headers", {})}, **extra}


def _pre(gw: Gateway, data: dict, call_type: str = "acompletion") -> dict:
    return asyncio.run(gw.async_pre_call_hook(None, None, data, call_type))


def _done(gw: Gateway, data: dict) -> None:
    """The call's response came back (the session returns to the LRU)."""
    call = gw._calls.pop(data["litellm_call_id"])
    gw.finish(call, error="not sent in this test")


@pytest.fixture(scope="module")
def convo(trajectories):
    msgs = next(t for t in trajectories if "django__django-14170" in t["id"])["messages"]
    return msgs, tools_of(msgs), [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]


def test_an_internal_error_sends_the_request_unchanged(convo, monkeypatch):
    msgs, tools, ends = convo
    gw = _gateway()
    monkeypatch.setattr(Chat, "view", lambda self, data: 1 / 0)
    data = _data(msgs[: ends[10]], tools)
    before_messages, before_tools = data["messages"], data["tools"]
    out = _pre(gw, data)
    assert out["messages"] is before_messages and out["tools"] is before_tools
    assert gw.stats["errors"] == 1 and "ZeroDivisionError" in gw.errors[-1]
    closed = _gateway(fail_closed=True)
    with pytest.raises(ZeroDivisionError):
        _pre(closed, _data(msgs[: ends[10]], tools))


def test_a_malformed_request_goes_as_it_came_for_the_provider_to_refuse(convo):
    msgs, tools, ends = convo
    gw = _gateway()
    broken = copy.deepcopy(msgs[: ends[4] + 1])  # ends on an assistant tool call without its result
    data = _data(broken, tools)
    out = _pre(gw, data)
    assert out["messages"] is broken and out["tools"] is tools and gw.stats["invalid"] == 1


def test_settings_are_checked_when_the_proxy_starts(monkeypatch):
    monkeypatch.setenv("CONTEXTKIT_POLICY", "no-such-preset")
    with pytest.raises(PolicyConfigError, match="unknown preset"):
        Gateway(tracing=False)
    monkeypatch.setenv("CONTEXTKIT_POLICY", "default")
    monkeypatch.setenv("CONTEXTKIT_PROXY_SESSIONS", "many")
    with pytest.raises(PolicyConfigError, match="CONTEXTKIT_PROXY_SESSIONS"):
        Gateway(tracing=False)


def test_a_conversation_is_named_by_its_start_wherever_the_cache_markers_sit(convo):
    msgs, tools, ends = convo
    start = msgs[:2]
    marked = copy.deepcopy(start)
    marked[1]["content"] = [{"type": "text", "text": start[1]["content"], "cache_control": {"type": "ephemeral"}}]
    unmarked = copy.deepcopy(marked)
    del unmarked[1]["content"][0]["cache_control"]
    assert conversation_key("chat", marked, tools) == conversation_key("chat", unmarked, tools)
    assert conversation_key("chat", start, tools) != conversation_key("chat", start, tools[:-1])
    assert conversation_key("chat", start, tools) != conversation_key("messages", start, tools)
    gw = _gateway()
    a, b = _data(msgs[: ends[3]], tools), _data(msgs[: ends[6]], tools)
    _pre(gw, a), _pre(gw, b)
    assert gw._calls[a["litellm_call_id"]].key == gw._calls[b["litellm_call_id"]].key
    named = _data(msgs[: ends[3]], tools, headers={"X-ContextKit-Conversation": "my-run"})
    _pre(gw, named)
    assert gw._calls[named["litellm_call_id"]].key == "my-run"


def test_every_replica_sends_the_same_whatever_it_saw_before(convo):
    """One replica sees every turn, one every other turn, one only the last; a retry and an
    edited history in between: all send the same messages for the same request."""
    msgs, tools, ends = convo
    every, half = _gateway(), _gateway()
    for k, i in enumerate(ends[:25]):
        a = _data(msgs[:i], tools)
        out_every = _pre(every, a)["messages"]
        _done(every, a)
        if k % 2:
            b = _data(msgs[:i], tools)
            assert json.dumps(_pre(half, b)["messages"]) == json.dumps(out_every), f"turn {k}"
            _done(half, b)
    retry = _data(msgs[: ends[24]], tools)
    assert json.dumps(_pre(every, retry)["messages"]) == json.dumps(out_every)
    _done(every, retry)
    cold = _data(msgs[: ends[24]], tools)
    assert json.dumps(_pre(_gateway(), cold)["messages"]) == json.dumps(out_every)
    edited = copy.deepcopy(msgs[: ends[24]])
    j = next(i for i in range(ends[10], len(edited)) if edited[i]["role"] == "tool")
    edited[j]["content"] += "\n(edited)"
    e1, e2 = _data(edited, tools), _data(copy.deepcopy(edited), tools)
    assert json.dumps(_pre(every, e1)["messages"]) == json.dumps(_pre(_gateway(), e2)["messages"])
    _done(every, e1)
    undo = _data(msgs[: ends[12]], tools)  # the client went back to an earlier turn (an undo, a retry of it)
    assert json.dumps(_pre(every, undo)["messages"]) == json.dumps(_pre(_gateway(), _data(msgs[: ends[12]], tools))["messages"])


def test_the_restore_tool_is_offered_only_where_it_can_be_answered(convo):
    msgs, tools, ends = convo
    gw = _gateway()
    out = _pre(gw, _data(msgs[: ends[12]], tools))
    assert [t["function"]["name"] for t in out["tools"]][-1] == "restore_context"
    assert any("restore_context(" in (m.get("content") or "") for m in out["messages"] if m["role"] == "tool")
    own = tools + [{"type": "function", "function": {"name": "restore_context", "parameters": {"type": "object"}}}]
    data = _data(msgs[: ends[12]], own)
    out = _pre(gw, data)
    assert out["tools"] is own and out["messages"] == msgs[: ends[12]]  # the client's own restore_context: nothing pruned
    no_router = Gateway(tracing=False)
    data = _data(msgs[: ends[12]], tools)
    assert _pre(no_router, data)["messages"] == msgs[: ends[12]]  # nothing to answer restores with: nothing pruned


# ---------------------------------------------------------------------------- streams


async def _items(items):
    for it in items:
        await asyncio.sleep(0)
        yield it


def _stream_through(gw: Gateway, data: dict, items: list) -> list:
    async def run():
        return [x async for x in gw.async_post_call_streaming_iterator_hook(None, _items(items), data)]

    return asyncio.run(run())


def test_an_anthropic_stream_passes_byte_for_byte_whatever_its_chunking(trajectories):
    from proxy_upstream import Reply, _anthropic_events

    msgs = next(t for t in trajectories if "django__django-14170" in t["id"])["messages"]
    system, turns = anthropic_conversation(msgs, turns=6)
    s, request = request_at(system, turns, 6)
    reply = Reply("text", "Looking at the lookup.", calls=[("grep", {"command": "grep -rn iso_year"}, "toolu_z")], reasoning="think")
    raw = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in _anthropic_events({}, reply, 1))
    raw += b"event: ping\ndata: not json at all\n\n"
    for size in (7, 64, len(raw)):
        gw = _gateway()
        data = _data(request, anthropic_tools(tools_of(msgs)), model="claude-test", system=s, stream=True)
        _pre(gw, data, "anthropic_messages")
        out = _stream_through(gw, data, [raw[i : i + size] for i in range(0, len(raw), size)])
        assert b"".join(out) == raw
        assert not gw._calls and gw.stats["errors"] == 0
        steps = next(iter(gw.sessions._d.values())).steps
        assert steps[-1].response_message["tool_calls"][0]["function"]["name"] == "grep"


def test_a_chat_stream_passes_the_chunks_themselves(convo):
    from litellm.types.utils import ModelResponseStream

    msgs, tools, ends = convo
    gw = _gateway()
    data = _data(msgs[: ends[8]], tools, stream=True)
    _pre(gw, data)
    chunks = [ModelResponseStream(id="c1", choices=[{"index": 0, "delta": {"role": "assistant", "content": p}}])
              for p in ("The ", "answer.")]
    chunks.append(ModelResponseStream(id="c1", choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    out = _stream_through(gw, data, chunks)
    assert len(out) == 3 and all(a is b for a, b in zip(out, chunks))
    step = next(iter(gw.sessions._d.values())).steps[-1]
    assert step.response_message["content"] == "The answer." and step.stream


class _StreamingRouter(_Router):
    """Answers the gateway's follow-up calls with the next scripted stream, and keeps what it was asked."""

    def __init__(self, *streams):
        self.streams, self.asked = list(streams), []

    async def acompletion(self, **kw):
        self.asked.append(kw)
        return _items(self.streams.pop(0))

    async def aanthropic_messages(self, **kw):
        self.asked.append(kw)
        return _items(self.streams.pop(0))


def _sse(reply, n: int = 1) -> list[bytes]:
    from proxy_upstream import _anthropic_events

    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in _anthropic_events({}, reply, n)]


def _events(out: list[bytes]) -> list[dict]:
    return [json.loads(line[5:]) for line in b"".join(out).decode().splitlines() if line.startswith("data:")]


def test_a_restore_in_every_round_ends_when_the_rounds_run_out(trajectories):
    """max_restores=1: the follow-up asks again; its restore call is left out of what the client
    gets, the answer ends as a turn of its own, one message with its blocks numbered in order."""
    from proxy_upstream import Reply

    msgs = next(t for t in trajectories if "django__django-14170" in t["id"])["messages"]
    system, turns = anthropic_conversation(msgs, turns=8)
    s, request = request_at(system, turns, 8)
    ask = Reply("text", "Checking.", calls=[("restore_context", {"handle": "ctx4"}, "toolu_r1")], reasoning="hm")
    again = Reply("text", "Still checking.", calls=[("restore_context", {"handle": "ctx6"}, "toolu_r2")])
    gw = _gateway(max_restores=1)
    gw.router = _StreamingRouter(_sse(again, 2))
    data = _data(request, anthropic_tools(tools_of(msgs)), model="claude-test", system=s, stream=True, max_tokens=100)
    _pre(gw, data, "anthropic_messages")
    events = _events(_stream_through(gw, data, _sse(ask)))
    assert [e["type"] for e in events].count("message_start") == 1
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [e["index"] for e in starts] == [0, 1, 2]
    assert [e["content_block"]["type"] for e in starts] == ["thinking", "text", "text"]
    assert [e["delta"]["stop_reason"] for e in events if e["type"] == "message_delta"] == ["end_turn"]
    follow = gw.router.asked[0]["messages"]
    session = next(iter(gw.sessions._d.values()))
    assert follow[-1]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_r1", "content": session.original("ctx4")["content"]}
    assert gw.stats["restored"] == 1 and gw.stats["errors"] == 0


def test_a_restore_after_another_tools_call_already_streamed_is_left_out():
    from litellm.types.utils import ModelResponseStream

    def chunk(**delta):
        return ModelResponseStream(id="c", choices=[{"index": 0, "delta": delta}])

    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "go"}]
    tools = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]
    gw = _gateway()
    data = _data(msgs, tools, stream=True)
    _pre(gw, data)
    chunks = [chunk(role="assistant", content="Running."),
              chunk(tool_calls=[{"index": 0, "id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]),
              chunk(tool_calls=[{"index": 1, "id": "c2", "type": "function", "function": {"name": "restore_context", "arguments": ""}}]),
              chunk(tool_calls=[{"index": 1, "function": {"arguments": '{"handle": "ctx1"}'}}]),
              chunk(tool_calls=[{"index": 2, "id": "c3", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]),
              ModelResponseStream(id="c", choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])]
    out = _stream_through(gw, data, chunks)
    calls = [(tc.index, tc.function.name) for c in out for tc in c.choices[0].delta.tool_calls or ()]
    assert calls == [(0, "bash"), (1, "bash")]  # the client's calls, renumbered; no restore_context
    assert out[-1].choices[0].finish_reason == "tool_calls" and gw.stats["restored"] == 0


def test_chat_cache_markers_stay_where_the_client_put_them_and_change_no_decision(convo):
    """An OpenAI-shaped client marking its last message (content parts with cache_control, as
    clients of Anthropic models through the chat route do): the same decisions as unmarked, the
    marker on the message the client marked, pruned or not."""
    msgs, tools, ends = convo

    def marked(k: int) -> list[dict]:
        out = copy.deepcopy(msgs[: ends[k]])
        last = out[-1]
        last["content"] = [{"type": "text", "text": last["content"], "cache_control": {"type": "ephemeral"}}]
        return out

    with_marks, without = _gateway(), _gateway()
    for k in range(14):
        a, b = _data(marked(k), tools), _data(msgs[: ends[k]], tools)
        out_a, out_b = _pre(with_marks, a)["messages"], _pre(without, b)["messages"]
        _done(with_marks, a), _done(without, b)
    assert [m.get("content") for m in out_a[:-1]] == [m.get("content") for m in out_b[:-1]]
    assert out_a[-1] is a["messages"][-1]  # the newest result: as the client sent it, marker and all
    old = _data(marked(13), tools)
    j = next(i for i, m in enumerate(out_b) if m["role"] == "tool" and m["content"] != msgs[i]["content"])
    old["messages"][j]["content"] = [{"type": "text", "text": msgs[j]["content"], "cache_control": {"type": "ephemeral"}}]
    cold = _pre(_gateway(), old)["messages"]  # a marker on a result that gets pruned
    assert cold[j]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert cold[j]["content"][0]["text"] == out_b[j]["content"] and cold[j]["tool_call_id"] == msgs[j]["tool_call_id"]


def test_unedited_chat_messages_are_this_requests_own_objects(convo):
    msgs, tools, ends = convo
    gw = _gateway()
    for k in range(12):
        data = _data(copy.deepcopy(msgs[: ends[k]]), tools)
        request = data["messages"]
        sent = _pre(gw, data)["messages"]
        _done(gw, data)
        kept = [(a, b) for a, b in zip(sent, request) if a == b]
        assert kept and all(a is b for a, b in kept), f"turn {k}"
    assert any(a != b for a, b in zip(sent, request))


# ---------------------------------------------------------------------------- fitting the window, compaction


def _summary(messages: list[dict]) -> str:
    return f"Summary: {len(messages)} earlier messages of the agent's work."


def test_what_cannot_fit_is_refused_with_a_400_naming_the_window(convo):
    from fastapi import HTTPException

    msgs, tools, _ = convo
    huge = [msgs[0], {"role": "user", "content": " ".join(f"word{k}" for k in range(200_000))}]
    with pytest.raises(HTTPException) as err:
        _pre(_gateway(), _data(huge, tools, max_tokens=500))
    assert err.value.status_code == 400 and err.value.detail["error"]["type"] == "context_overflow"
    assert "128,000" in err.value.detail["error"]["message"]


def test_the_gateway_compacts_and_every_replica_sends_the_same_summary(convo):
    from contextkit import Compactor

    msgs, tools, ends = convo
    compactor = Compactor(_summary, trigger_tokens=3_000, keep_messages=6)
    first, second = _gateway(compactor=compactor), _gateway(compactor=compactor)
    data = _data(msgs[: ends[-1]], tools)
    out = _pre(first, data)["messages"]
    assert len(out) < ends[-1] and any("compacted" in str(m.get("content")) for m in out)
    again = _pre(second, _data(msgs[: ends[-1]], tools))["messages"]  # a replica seeing it cold
    assert json.dumps(again) == json.dumps(out)


def test_the_messages_route_compacts_whole_anthropic_turns(convo):
    from contextkit import Compactor
    from contextkit.anthropic import problem

    msgs, tools, _ = convo
    system, convo_msgs = anthropic_conversation(msgs, turns=20)
    sys_blocks, request = request_at(system, convo_msgs, 20)
    gw = _gateway(compactor=Compactor(_summary, trigger_tokens=3_000, keep_messages=4))
    data = {"model": "gpt-test", "system": sys_blocks, "messages": request, "tools": anthropic_tools(tools),
            "litellm_call_id": f"call-{next(_ids)}", "proxy_server_request": {"headers": {}}}
    out = _pre(gw, data, "anthropic_messages")["messages"]
    summaries = [m for m in out if m["role"] == "user" and "compacted" in json.dumps(m["content"])]
    assert len(summaries) == 1 and len(out) < len(request)
    assert out[0] == request[0]  # the task stays as it was
    assert problem(out) is None  # every tool_use still has its tool_result next
