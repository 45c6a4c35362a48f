"""Session.completion / acompletion / wrap against a real HTTP server through litellm's real path:
the server gets the pruned, valid request; the agent gets the server's answer unchanged; bad input
and bad config raise before anything is sent; each step is recorded and observed."""

from __future__ import annotations

import asyncio
import copy
import json

import contextkit  # first: it keeps litellm offline (no price-map fetch at import)
from contextkit import InvalidMessagesError, Observer, Policy, PolicyConfigError, Session
from contextkit.messages import check_messages, require_answered

import litellm
import pytest
from helpers import conversation
from openai_server import Reply

PRUNING = Policy(keep_last=2, protect_recent_turns=0)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    }
]


def kw(server, **extra) -> dict:
    return {"model": "openai/gpt-4o-mini", "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0, **extra}


def comparable(response) -> dict:
    d = response.model_dump()
    for k in ("id", "created"):
        d.pop(k, None)
    return d


class Spy(Observer):
    def __init__(self):
        self.events = []

    def prepared(self, session, report):
        self.events.append(("prepared", report.step))

    def step_finished(self, session, record):
        self.events.append(("step_finished", record.step))


def test_server_gets_the_pruned_valid_request_and_agent_gets_the_response_unchanged(openai_server):
    msgs = conversation(n_tools=6)
    before = copy.deepcopy(msgs)
    s = Session(PRUNING, tracing=False)
    s.completion(messages=msgs[:-2], tools=TOOLS, **kw(openai_server))  # the agent's previous step
    openai_server.script(Reply.text("the fix is in mod.py", reasoning="look at the traceback"))
    response = s.completion(messages=msgs, tools=TOOLS, **kw(openai_server))

    sent = openai_server.last.body
    # the server received the pruned request, and it is valid chat
    assert len(sent["messages"]) == len(msgs)
    pruned = [seg for seg in s.ledger if seg.state == "pruned"]
    assert len(pruned) == 4
    for seg in pruned:
        assert seg.handle in sent["messages"][seg.index]["content"]
        assert msgs[seg.index]["content"] not in sent["messages"][seg.index]["content"]
    require_answered(check_messages(sent["messages"]))
    assert sent["messages"][-1] == msgs[-1]  # the newest result goes as the agent sent it
    assert sent["tools"] == TOOLS
    assert msgs == before  # the caller's list is never mutated

    # the agent got the server's answer, exactly what plain litellm returns for the same reply
    assert response.choices[0].message.content == "the fix is in mod.py"
    assert response.choices[0].message.reasoning_content == "look at the traceback"
    openai_server.script(Reply.text("the fix is in mod.py", reasoning="look at the traceback"))
    plain = litellm.completion(messages=sent["messages"], tools=TOOLS, **kw(openai_server))
    assert comparable(response) == comparable(plain)
    assert openai_server.requests[-1].body == sent  # byte-for-byte the same request as plain litellm with those messages


def test_the_response_object_is_the_one_litellm_returned(openai_server):
    seen = []

    def client(**kwargs):
        r = litellm.completion(**kwargs)
        seen.append(r)
        return r

    completion = contextkit.wrap(client, tracing=False)
    r = completion(messages=conversation(2), **kw(openai_server))
    assert r is seen[0]
    assert completion.session.steps[0].response_message == {"role": "assistant", "content": "ok"}


def test_step_record_has_tokens_cost_finish_reason_and_no_credentials(openai_server):
    s = Session(PRUNING, tracing=False)
    s.completion(messages=conversation(5), **kw(openai_server))
    usage = {"prompt_tokens": 900, "completion_tokens": 40, "prompt_tokens_details": {"cached_tokens": 512},
             "completion_tokens_details": {"reasoning_tokens": 30}}
    openai_server.script(Reply.tool_call("read_file", {"path": "a.py"}, call_id="call_x", usage=usage))
    r = s.completion(messages=conversation(6), tools=TOOLS, temperature=0.2, **kw(openai_server))
    rec = s.steps[-1]
    assert rec.step == 2 and rec.model == "openai/gpt-4o-mini" and rec.provider == "openai"
    assert rec.response_model == r.model
    assert rec.finish_reason == "tool_calls"
    assert rec.response_message["tool_calls"] == [
        {"id": "call_x", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.py"}'}}
    ]
    assert (rec.input_tokens, rec.output_tokens, rec.cache_read_tokens, rec.reasoning_tokens) == (900, 40, 512, 30)
    assert rec.usage_estimated is False
    assert rec.tokens_before > rec.tokens_after > 0  # contextkit's own counts, before and after surgery
    assert rec.tokens_after == s.reports[-1].tokens_after
    assert rec.messages_sent == openai_server.last.body["messages"]
    assert rec.tools == TOOLS
    # cost: litellm's price map for the provider's usage (cached tokens billed at the cache rate)
    inp, out = litellm.cost_per_token(model="gpt-4o-mini", custom_llm_provider="openai", usage_object=r.usage,
                                      prompt_tokens=900, completion_tokens=40)
    assert rec.cost_usd == pytest.approx(inp + out) and rec.input_cost_usd == pytest.approx(inp)
    full, _ = litellm.cost_per_token(model="gpt-4o-mini", custom_llm_provider="openai", prompt_tokens=900, completion_tokens=0)
    assert rec.input_cost_usd < full  # the cached part was cheaper
    # the provider read 512 of 900 tokens from its cache: pruning saved less than the pruned tokens' flat price
    assert rec.saved_usd < (rec.tokens_before - rec.tokens_after) * 0.15e-6  # (tests/test_cost.py, docs/cost.md)
    assert rec.invocation_params["temperature"] == 0.2
    assert "api_key" not in rec.invocation_params and "sk-test" not in json.dumps(rec.invocation_params)
    assert rec.latency_ms > 0 and rec.error is None and rec.prepare is s.reports[-1]


def test_bad_input_raises_before_anything_reaches_the_server(openai_server):
    s = Session(tracing=False)
    bad = conversation(2)
    bad.append({"role": "tool", "tool_call_id": "nope", "content": "x"})
    with pytest.raises(InvalidMessagesError) as e:
        s.completion(messages=bad, **kw(openai_server))
    assert e.value.index == len(bad) - 1
    with pytest.raises(InvalidMessagesError):
        s.completion(messages=[{"role": "wizard", "content": "hi"}], **kw(openai_server))
    with pytest.raises(InvalidMessagesError):
        s.completion(messages=None, **kw(openai_server))
    with pytest.raises(InvalidMessagesError):  # an unanswered tool call is not a request any provider takes
        s.completion(messages=conversation(2)[:-1], **kw(openai_server))
    assert openai_server.requests == []
    assert s.steps == []
    # and the session is still fine
    s.completion(messages=conversation(2), **kw(openai_server))
    assert len(openai_server.requests) == 1


def test_bad_policy_config_raises_before_anything_reaches_the_server(openai_server):
    with pytest.raises(PolicyConfigError):
        contextkit.wrap(litellm.completion, policy={"keep_lats": 3}, tracing=False)
    with pytest.raises(PolicyConfigError):
        Session("no-such-preset", tracing=False)
    with pytest.raises(PolicyConfigError):
        contextkit.Budget(max_steps=0)
    with pytest.raises(PolicyConfigError):
        contextkit.LoopGuard(repeats=1)
    with pytest.raises(PolicyConfigError):
        contextkit.Budget(on_limit="explode")
    s = Session(tracing=False, budget={"max_steps": 3})  # a dict is not a Budget
    with pytest.raises(PolicyConfigError, match="Session.budget"):
        s.completion(messages=conversation(1), **kw(openai_server))
    s = Session(tracing=False, prices={"openai/gpt-4o-mini": {"input_cost_per_token": "cheap"}})
    with pytest.raises(PolicyConfigError, match="prices"):
        s.completion(messages=conversation(1), **kw(openai_server))
    assert openai_server.requests == []


def test_observers_see_prepare_then_the_step(openai_server):
    spy = Spy()
    s = Session(tracing=spy)
    s.completion(messages=conversation(1), **kw(openai_server))
    s.completion(messages=conversation(2), **kw(openai_server))
    assert spy.events == [("prepared", 1), ("step_finished", 1), ("prepared", 2), ("step_finished", 2)]


def test_wrap_takes_litellm_positional_arguments_and_async_functions(openai_server):
    completion = contextkit.wrap(litellm.completion, tracing=False)
    r = completion("openai/gpt-4o-mini", conversation(1), api_base=openai_server.base_url, api_key="sk-test")
    assert r.choices[0].message.content == "ok"
    assert completion.session.steps[0].model == "openai/gpt-4o-mini"

    acompletion = contextkit.wrap(litellm.acompletion, session=completion.session)
    r2 = asyncio.run(acompletion(messages=conversation(2), **kw(openai_server)))
    assert r2.choices[0].message.content == "ok"
    assert [st.step for st in completion.session.steps] == [1, 2]
    with pytest.raises(TypeError):
        contextkit.wrap(litellm.completion, session=completion.session, policy="none")


def test_session_model_is_the_default_model(openai_server):
    s = Session(model="openai/gpt-4o-mini", tracing=False)
    s.completion(messages=conversation(1), api_base=openai_server.base_url, api_key="sk-test")
    assert openai_server.last.body["model"] == "gpt-4o-mini"
    assert s.steps[0].model == "openai/gpt-4o-mini"


def test_acompletion_records_like_completion(openai_server):
    async def run():
        s = Session(PRUNING, tracing=False)
        await s.acompletion(messages=conversation(4), **kw(openai_server))
        r = await s.acompletion(messages=conversation(5), **kw(openai_server))
        return s, r

    s, r = asyncio.run(run())
    assert r.choices[0].message.content == "ok"
    assert s.steps[1].input_tokens == r.usage.prompt_tokens
    assert s.steps[1].tokens_after < s.steps[1].tokens_before
    assert len(s.steps[1].messages_sent) == len(conversation(5))


def test_missing_usage_is_counted_locally_and_marked(openai_server):
    s = Session(tracing=False)
    openai_server.script(Reply.text("four words of answer", usage={}))
    s.completion(messages=conversation(2), **kw(openai_server))
    rec = s.steps[0]
    assert rec.usage_estimated is True
    assert rec.input_tokens == rec.tokens_after and rec.output_tokens == 4
    assert rec.cost_usd is not None and "estimated" in rec.cost_note
