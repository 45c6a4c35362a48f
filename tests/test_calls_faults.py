"""Provider faults reach the agent exactly as litellm raises them, after the session recorded the
failed step; the session stays usable. Many sessions at once, in threads and in asyncio tasks."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import contextkit  # first: it keeps litellm offline
from contextkit import Observer, Policy, Session

import litellm
import pytest
from helpers import conversation
from openai_server import Reply, echo


def kw(server, **extra) -> dict:
    return {"model": "openai/gpt-4o-mini", "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0, **extra}


FAULTS = {
    "429": (Reply.error(429, "Rate limit reached"), {}),
    "500": (Reply.error(500, "upstream exploded"), {}),
    "503": (Reply.error(503, "overloaded"), {}),
    "malformed_json": (Reply.malformed(), {}),
    "timeout": (Reply.hang(5), {"timeout": 0.3}),
}


class ErrorsSeen(Observer):
    """Proves the order: the failed step reaches observers before the exception reaches the agent."""

    def __init__(self):
        self.records = []

    def step_finished(self, session, record):
        self.records.append(record)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_is_recorded_then_raised_exactly_as_litellm_raises_it(openai_server, name):
    reply, extra = FAULTS[name]
    spy = ErrorsSeen()
    s = Session(Policy(keep_last=1, protect_recent_turns=0), tracing=spy)
    s.completion(messages=conversation(3), **kw(openai_server))  # a healthy step first
    openai_server.script(reply)
    with pytest.raises(Exception) as ours:
        s.completion(messages=conversation(4), **kw(openai_server, **extra))
    assert len(spy.records) == 2 and spy.records[-1].error is not None
    failed = openai_server.last.body

    openai_server.script(reply)
    with pytest.raises(Exception) as plain:
        litellm.completion(messages=failed["messages"], **kw(openai_server, **extra))
    assert type(ours.value) is type(plain.value)
    assert type(ours.value).__module__.startswith("litellm")
    assert getattr(ours.value, "status_code", None) == getattr(plain.value, "status_code", None)

    rec = s.steps[-1]
    assert rec.error.startswith(type(ours.value).__name__ + ":")
    assert rec.input_tokens is None and rec.cost_usd is None and rec.response_message is None
    assert rec.messages_sent == failed["messages"]
    # the session stays usable: a retry goes through the same state and sends the same request
    r = s.completion(messages=conversation(4), **kw(openai_server))
    assert r.choices[0].message.content == "ok"
    assert openai_server.last.body["messages"] == failed["messages"]
    assert s.steps[-1].error is None and s.steps[-1].step == rec.step + 1


def test_async_fault_is_recorded_and_raised(openai_server):
    async def run():
        s = Session(tracing=False)
        openai_server.script(Reply.error(429))
        with pytest.raises(litellm.RateLimitError):
            await s.acompletion(messages=conversation(1), **kw(openai_server))
        r = await s.acompletion(messages=conversation(1), **kw(openai_server))
        return s, r

    s, r = asyncio.run(run())
    assert s.steps[0].error.startswith("RateLimitError") and s.steps[1].error is None
    assert r.choices[0].message.content == "ok"


def test_a_failing_observer_never_breaks_the_call(openai_server):
    class Broken(Observer):
        def step_finished(self, session, record):
            raise RuntimeError("observer bug")

    s = Session(tracing=Broken())
    r = s.completion(messages=conversation(1), **kw(openai_server))
    assert r.choices[0].message.content == "ok"
    assert s.observer_errors and "observer bug" in s.observer_errors[0]


class KeepSent(contextkit.Observer):
    """What each step sent, as observers receive it (a record lets go of its list once the next step is recorded)."""

    def __init__(self) -> None:
        self.sent: list[list[dict]] = []

    def step_finished(self, session, record) -> None:
        self.sent.append(record.messages_sent)


def agent_run(server, tag: str, steps: int, policy: Policy) -> Session:
    s = Session(policy, tracing=KeepSent())
    msgs = [{"role": "system", "content": "agent"}, {"role": "user", "content": f"task {tag}"}]
    for i in range(steps):
        r = s.completion(messages=msgs, **kw(server))
        assert r.choices[0].message.content == f"echo: task {tag}"  # each session got its own answer
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"{tag}_{i}", "type": "function", "function": {"name": "read_file", "arguments": f'{{"path": "{tag}/{i}.py"}}'}}]})
        msgs.append({"role": "tool", "tool_call_id": f"{tag}_{i}", "content": f"{tag} file {i}\n" + "x = 1\n" * 150})
    return s


def _no_nulls(messages: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if v is not None} for m in messages]


def test_many_sessions_in_threads(openai_server):
    openai_server.default = echo
    policy = Policy(keep_last=2, protect_recent_turns=0)
    with ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(lambda t: agent_run(openai_server, f"t{t}", 5, policy), range(8)))
    assert len(openai_server.requests) == 40
    for i, s in enumerate(sessions):
        assert [st.step for st in s.steps] == [1, 2, 3, 4, 5]
        assert all(st.error is None for st in s.steps)
        # every request a session recorded is one the server received, with that session's own messages
        bodies = [r.body["messages"] for r in openai_server.requests if r.body["messages"][1]["content"] == f"task t{i}"]
        assert [_no_nulls(sent) for sent in s.observers[0].sent] == bodies  # litellm drops "content": None
        assert s.steps[-1].tokens_after < s.steps[-1].tokens_before  # pruned per session


def test_many_sessions_in_asyncio_tasks(openai_server):
    openai_server.default = echo

    async def one(tag: str) -> Session:
        s = Session(Policy(keep_last=1, protect_recent_turns=0), tracing=False)
        msgs = [{"role": "user", "content": f"task {tag}"}]
        for i in range(3):
            r = await s.acompletion(messages=msgs, **kw(openai_server))
            assert r.choices[0].message.content == f"echo: task {tag}"
            msgs += [{"role": "assistant", "content": "", "tool_calls": [
                {"id": f"{tag}{i}", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": f"{tag}{i}", "content": f"{tag}-{i} " * 200}]
        stream = await s.acompletion(messages=msgs, stream=True, **kw(openai_server))
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert text == f"echo: task {tag}"
        return s

    async def run():
        return await asyncio.gather(*(one(f"a{i}") for i in range(10)))

    sessions = asyncio.run(run())
    assert len(openai_server.requests) == 40
    for s in sessions:
        assert [st.step for st in s.steps] == [1, 2, 3, 4] and s.steps[-1].stream_complete is True
        assert all(st.error is None for st in s.steps)


def test_one_session_is_safe_to_share_between_threads_for_sequential_use(openai_server):
    """An agent whose steps run on different threads (a thread pool per step) keeps one ledger."""
    s = Session(tracing=False)
    msgs = conversation(1)
    lock = threading.Lock()

    def step():
        with lock:
            return s.completion(messages=msgs, **kw(openai_server))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: step(), range(4)))
    assert [st.step for st in s.steps] == [1, 2, 3, 4]
