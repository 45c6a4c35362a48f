"""Gateway mode on the real litellm proxy (issue 13): two `litellm --config` processes with
`callbacks: contextkit.proxy.handler`, in front of a recording fake upstream (tests/proxy_upstream.py),
driven by the `openai` SDK and by raw HTTP for /v1/messages. The proxies start once for the module."""

from __future__ import annotations

import json
import re
import time

from contextkit import anthropic
from contextkit.proxy import conversation_key
from contextkit.proxy.keys import chat_start
from contextkit.tokens import TokenCounter
from contextkit.validity import openai_problem

import httpx
import openai
import pytest
from anthropic_convo import anthropic_conversation, anthropic_tools, request_at, tools_of
from helpers import missing_external
from proxy_upstream import MASTER_KEY, Reply, Upstream, start_proxies, stop_proxies, write_config

pytestmark = pytest.mark.slow

HANDLE = re.compile(r'restore_context\("(ctx\d+)"\)')
count = TokenCounter("gpt-4o").count


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    try:
        import fastapi  # noqa: F401  (the proxy extra)
    except ImportError:
        missing_external("the litellm proxy", "pip install -e '.[test,proxy]' (.ci/run does)")
    folder = tmp_path_factory.mktemp("proxy")
    up = Upstream().start()
    store = folder / "traces.duckdb"
    env = {"CONTEXTKIT_TRACE_DB": str(store), "CONTEXTKIT_TRACE_FLUSH_MS": "100", "CONTEXTKIT_TRACING": "on"}
    proxies = start_proxies(write_config(folder, up), 2, env)
    try:
        yield type("Gateway", (), {"up": up, "proxies": proxies, "store": store})
    finally:
        stop_proxies(proxies)
        up.stop()
        for p in proxies:
            if "Traceback" in p.tail(200_000) and "contextkit" in p.tail(200_000):
                print(p.tail(6000))


def _client(proxy, **headers) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=MASTER_KEY, max_retries=0, default_headers=headers or None)


def _size(messages, tools) -> int:
    return count(json.dumps(messages, ensure_ascii=False)) + count(json.dumps(tools or [], ensure_ascii=False))


def _trajectory(trajectories, name: str) -> list[dict]:
    return next(t for t in trajectories if name in t["id"])["messages"]


# ---------------------------------------------------------------------------- a real trajectory, two replicas


@pytest.fixture(scope="module")
def replay(gateway, trajectories):
    """A shared trajectory replayed through the openai SDK, turn k to replica k % 2; every 5th turn
    (and the last) also through the other replica, and the last once more under a new conversation
    header (a replica meeting the conversation for the first time)."""
    msgs = _trajectory(trajectories, "django__django-14170")
    tools = tools_of(msgs)
    up = gateway.up
    ends = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]
    clients = [_client(p) for p in gateway.proxies]
    sent, pairs = [], []
    for k, i in enumerate(ends):
        before = len(up.requests)
        clients[k % 2].chat.completions.create(model="gpt-test", messages=msgs[:i], tools=tools)
        assert len(up.requests) == before + 1
        sent.append((msgs[:i], up.requests[-1]))
        if k % 5 == 4 or i == ends[-1]:
            clients[(k + 1) % 2].chat.completions.create(model="gpt-test", messages=msgs[:i], tools=tools)
            pairs.append((k, sent[-1][1], up.requests[-1]))
    cold = _client(gateway.proxies[0], **{"x-contextkit-conversation": "cold-replica"})
    cold.chat.completions.create(model="gpt-test", messages=msgs[: ends[-1]], tools=tools)
    return type("Replay", (), {"sent": sent, "pairs": pairs, "cold": up.requests[-1], "tools": tools, "turns": len(ends)})


def test_the_upstream_gets_requests_at_least_15_percent_smaller_all_valid(replay):
    client_tokens = upstream_tokens = 0
    pruned_turns = 0
    for original, req in replay.sent:
        body = req.body
        got = body["messages"]
        assert openai_problem(got) is None
        assert len(got) == len(original) and [m["role"] for m in got] == [m["role"] for m in original]
        names = [t["function"]["name"] for t in body["tools"]]
        assert names == [t["function"]["name"] for t in replay.tools] + ["restore_context"]  # same list every call
        for a, b in zip(got, original):
            assert [tc["id"] for tc in a.get("tool_calls") or ()] == [tc["id"] for tc in b.get("tool_calls") or ()]
            if a["role"] != "tool" or a["content"] == b["content"]:
                assert (a.get("content") or None) == (b.get("content") or None)
            else:
                assert HANDLE.search(a["content"]), a["content"][:200]
        pruned_turns += any(a["role"] == "tool" and a["content"] != b["content"] for a, b in zip(got, original))
        client_tokens += _size(original, replay.tools)
        upstream_tokens += _size(got, body["tools"])
    saved = 1 - upstream_tokens / client_tokens
    print(f"\nclient sent {client_tokens:,} tokens over {replay.turns} requests, upstream got {upstream_tokens:,}: {saved:.1%} smaller")
    assert saved >= 0.15
    assert pruned_turns >= replay.turns // 2


def test_either_replica_and_a_cold_one_send_the_same_bytes(replay):
    assert len(replay.pairs) >= 5
    for k, a, b in replay.pairs:
        assert a.raw == b.raw, f"turn {k}: the two replicas sent different requests"
    assert replay.cold.raw == replay.sent[-1][1].raw  # a fresh session replaying the whole history


# ---------------------------------------------------------------------------- Anthropic Messages, 12 turns


def _messages(proxy, body: dict, **headers) -> httpx.Response:
    h = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01", **headers}
    return httpx.post(proxy.base_url + "/v1/messages", json=body, headers=h, timeout=60)


@pytest.fixture(scope="module")
def anthropic_run(gateway, trajectories):
    """A 12-turn Anthropic-format run through /v1/messages, alternating replicas, thinking on, Claude
    Code's moving cache breakpoint, named by its conversation header."""
    msgs = _trajectory(trajectories, "sphinx-doc__sphinx-7757")
    system, convo = anthropic_conversation(msgs, turns=12)
    tools = anthropic_tools(tools_of(msgs))
    up = gateway.up
    for k in range(1, 13):
        sys_blocks, request = request_at(system, convo, k)
        body = {"model": "claude-test", "max_tokens": 512, "system": sys_blocks, "messages": request, "tools": tools,
                "thinking": {"type": "enabled", "budget_tokens": 256}}
        r = _messages(gateway.proxies[k % 2], body, **{"x-contextkit-conversation": "anthropic-12"})
        assert r.status_code == 200, r.text
        got = up.requests[-1]
        assert got.path.endswith("/v1/messages")
    return type("Run", (), {"got": got, "request": request, "system": sys_blocks, "tools": tools})


def test_a_12_turn_anthropic_run_through_v1_messages_has_its_old_results_pruned(anthropic_run):
    got, request, sys_blocks, tools = anthropic_run.got, anthropic_run.request, anthropic_run.system, anthropic_run.tools
    sent = got.body["messages"]
    assert [t["name"] for t in got.body["tools"]] == [t["name"] for t in tools] + ["restore_context"]
    assert got.body["system"] == sys_blocks  # cache breakpoints where the client put them
    assert anthropic.problem(sent, request) is None
    pruned = [(i, k) for i, (a, b) in enumerate(zip(sent, request)) for k, (x, y) in enumerate(
        zip(a["content"], b["content"]) if isinstance(a["content"], list) else ()) if x != y]
    assert len(pruned) >= 5, "12 turns of real tool output: the old results go"
    for i, k in pruned:
        assert sent[i]["role"] == "user" and sent[i]["content"][k]["type"] == "tool_result"
        c = sent[i]["content"][k]["content"]
        assert HANDLE.search(c if isinstance(c, str) else c[0]["text"])
    changed = {i for i, _ in pruned}
    assert all(sent[i] == request[i] for i in range(len(sent)) if i not in changed)  # the rest as the client sent it
    last = max(i for i, m in enumerate(request) if m["role"] == "assistant")
    assert sent[last] == request[last] and sent[-1] == request[-1]  # the latest turn whole, thinking included


# ---------------------------------------------------------------------------- restore, answered by the proxy


def _restore_case(trajectories, tag: str):
    msgs = _trajectory(trajectories, "astropy__astropy-12907")
    msgs = [dict(msgs[0], content=msgs[0]["content"] + f"\n[{tag}]")] + msgs[1:]
    ends = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]
    return msgs, ends, tools_of(msgs)


def _texts(messages: list[dict]):
    for m in messages:
        c = m.get("content")
        for part in [c] if isinstance(c, str) else (c or ()):
            if isinstance(part, str):
                yield part
            elif part.get("type") == "tool_result":
                yield from _texts([part])
            elif isinstance(part.get("text"), str):
                yield part["text"]


def _ask_restore(request) -> Reply:
    """The model asks for the first pruned result it sees."""
    handle = next(m.group(1) for t in _texts(request.body["messages"]) for m in [HANDLE.search(t)] if m)
    return Reply.tool_call("restore_context", {"handle": handle}, call_id="call_restore_1", content="Let me look again. ")


def _restored(up, n_before: int) -> tuple[str, str]:
    """(handle asked for, content the proxy answered with) from the follow-up the upstream got."""
    follow = up.requests[n_before + 1].body
    msgs = follow["messages"]
    if "system" in follow:  # Anthropic
        ask = next(b for b in msgs[-2]["content"] if b["type"] == "tool_use")
        res = msgs[-1]["content"][0]
        assert res["tool_use_id"] == ask["id"]
        return ask["input"]["handle"], res["content"]
    ask = msgs[-2]["tool_calls"][0]
    assert msgs[-1]["role"] == "tool" and msgs[-1]["tool_call_id"] == ask["id"]
    return json.loads(ask["function"]["arguments"])["handle"], msgs[-1]["content"]


def _original_of(handle: str, pruned_request: list[dict], client_request: list[dict]) -> str:
    """What the client sent where the upstream got the placeholder of `handle`."""
    mark = f'restore_context("{handle}")'
    for i, m in enumerate(pruned_request):
        c = m.get("content")
        if isinstance(c, str) and mark in c:
            return client_request[i]["content"]
        for k, b in enumerate(c if isinstance(c, list) else ()):
            if b.get("type") == "tool_result" and any(mark in t for t in _texts([b])):
                return client_request[i]["content"][k]["content"]
    raise AssertionError(f"no placeholder of {handle} in the request")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_proxy_answers_restore_context_itself_on_the_chat_route(gateway, trajectories, stream):
    msgs, ends, tools = _restore_case(trajectories, f"chat-{stream}")
    client, up = _client(gateway.proxies[0]), gateway.up
    for i in ends[:9]:
        client.chat.completions.create(model="gpt-test", messages=msgs[:i], tools=tools)
    n = len(up.requests)
    up.script(_ask_restore, Reply.text("Found it: the answer."))
    request = msgs[: ends[9]]
    if stream:
        chunks = list(client.chat.completions.create(model="gpt-test", messages=request, tools=tools, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        r = client.chat.completions.create(model="gpt-test", messages=request, tools=tools)
        text, calls, finish = r.choices[0].message.content, r.choices[0].message.tool_calls or [], [r.choices[0].finish_reason]
    assert len(up.requests) == n + 2  # the answer, then the follow-up with the restored content
    assert text == "Let me look again. Found it: the answer."
    assert calls == [] and finish == ["stop"]  # the client never sees restore_context
    handle, content = _restored(up, n)
    assert content == _original_of(handle, up.requests[n].body["messages"], request)
    assert up.requests[n + 1].body["messages"][: len(request)] == up.requests[n].body["messages"]  # same prefix: cached
    _assert_traced_restore(gateway, conversation_key("chat", chat_start(msgs), tools), step=10, result=content)


def _assert_traced_restore(gateway, run_id: str, step: int, result: str) -> None:
    """The restore is in the store, as a tool call of the run's step."""
    from contextkit.tracing import TraceStore

    store = TraceStore(gateway.store)
    deadline = time.time() + 30
    while not (calls := [c for c in store.tool_calls(run_id) if c["name"] == "restore_context"]) and time.time() < deadline:
        time.sleep(0.5)
    assert [(c["step"], c["result"]) for c in calls] == [(step, result)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_proxy_answers_restore_context_itself_on_the_messages_route(gateway, trajectories, stream):
    msgs, _, tools = _restore_case(trajectories, f"messages-{stream}")
    system, convo = anthropic_conversation(msgs, turns=10)
    atools = anthropic_tools(tools)
    up = gateway.up
    proxy = gateway.proxies[1]
    for k in range(1, 10):
        s, request = request_at(system, convo, k)
        assert _messages(proxy, {"model": "claude-test", "max_tokens": 256, "system": s, "messages": request, "tools": atools}).status_code == 200
    s, request = request_at(system, convo, 10)
    n = len(up.requests)
    up.script(lambda req: Reply(**{**vars(_ask_restore(req)), "reasoning": "I need that output again."}), Reply.text("Found it."))
    body = {"model": "claude-test", "max_tokens": 256, "system": s, "messages": request, "tools": atools, "stream": stream}
    r = _messages(proxy, body)
    assert r.status_code == 200, r.text
    if stream:
        events = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
        assert [e["type"] for e in events].count("message_start") == 1
        starts = [e for e in events if e["type"] == "content_block_start"]
        assert [e["index"] for e in starts] == list(range(len(starts)))  # one message, blocks numbered in order
        kinds = [e["content_block"]["type"] for e in starts]
        text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
        stop = [e["delta"]["stop_reason"] for e in events if e["type"] == "message_delta"]
    else:
        out = r.json()
        kinds = [b["type"] for b in out["content"]]
        text = "".join(b.get("text", "") for b in out["content"] if b["type"] == "text")
        stop = [out["stop_reason"]]
    assert len(up.requests) == n + 2
    assert kinds == ["thinking", "text", "text"] and "tool_use" not in kinds
    assert text == "Let me look again. Found it." and stop == ["end_turn"]
    handle, content = _restored(up, n)
    assert content == _original_of(handle, up.requests[n].body["messages"], request)
    follow = up.requests[n + 1].body["messages"]
    assert follow[-2]["content"][0]["type"] == "thinking"  # the model's thinking goes back with its call
    assert anthropic.problem(follow) is None
    _assert_traced_restore(gateway, conversation_key("messages", [s, request[0]], atools), step=11, result=content)


def test_a_stream_without_restore_passes_through_as_the_upstream_sent_it(gateway, trajectories):
    from proxy_upstream import _anthropic_events

    msgs, _, tools = _restore_case(trajectories, "passthrough")
    system, convo = anthropic_conversation(msgs, turns=4)
    s, request = request_at(system, convo, 4)
    reply = Reply("text", "Listing.", calls=[("bash", {"command": "ls"}, "toolu_x")], reasoning="hmm")
    gateway.up.script(reply)
    body = {"model": "claude-test", "max_tokens": 256, "system": s, "messages": request, "tools": anthropic_tools(tools), "stream": True}
    r = _messages(gateway.proxies[0], body)
    got = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    want = _anthropic_events(gateway.up.requests[-1].body, reply, 0)
    no_envelope = lambda e: {k: v for k, v in e.items() if k != "message"}  # noqa: E731 (the proxy restamps message_start)
    assert [no_envelope(e) for e in got] == [no_envelope(e) for e in want]


# ---------------------------------------------------------------------------- the trace store


def test_the_store_holds_each_conversation_as_a_run_with_its_steps(gateway, replay, anthropic_run):
    from contextkit.tracing import TraceStore

    store = TraceStore(gateway.store)
    deadline = time.time() + 30
    while True:
        runs = {r["run_id"]: r for r in store.query("SELECT run_id, steps, tokens_before, tokens_after, policy FROM runs")}
        chat = [r for r in runs.values() if r["run_id"].startswith("conv-") and r["steps"] == replay.turns]
        if (chat and runs.get("anthropic-12", {}).get("steps") == 12 and "cold-replica" in runs) or time.time() > deadline:
            break
        time.sleep(0.5)
    assert chat, f"no run with {replay.turns} steps: {[(k, r['steps']) for k, r in runs.items()]}"
    run = chat[0]
    assert run["policy"] == "default" and run["tokens_after"] < run["tokens_before"]
    steps = store.steps(run["run_id"])
    assert sorted({s["step"] for s in steps}) == list(range(1, replay.turns + 1))  # the conversation's turns, both replicas
    assert {s["model"] for s in steps if s["model"]} == {"openai/gpt-4o"}  # priced as the deployment's model
    assert sum(1 for s in steps if s["pruned"]) >= replay.turns // 2
    assert runs["cold-replica"]["steps"] == 1
    assert runs["anthropic-12"]["steps"] == 12 and runs["anthropic-12"]["tokens_after"] < runs["anthropic-12"]["tokens_before"]
    a_steps = store.steps("anthropic-12")
    assert {s["model"] for s in a_steps if s["model"]} == {"anthropic/claude-sonnet-4-5"}
    assert all(s["input_tokens"] for s in a_steps)  # the provider's usage, read from Anthropic's shape

