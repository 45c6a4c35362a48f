"""The Anthropic Messages adapter (contextkit/anthropic.py): a lossless round trip through the engine
that keeps every Anthropic rule, on conversations built from the shared trajectories."""

from __future__ import annotations

import copy
import json

from contextkit import Policy, Session, anthropic
from contextkit.errors import InvalidMessagesError

import pytest
from anthropic_convo import anthropic_conversation, request_at


@pytest.fixture(scope="module")
def convo(trajectories):
    t = next(t for t in trajectories if len(t["messages"]) >= 60)
    return anthropic_conversation(t["messages"], turns=20)


def _rules(messages: list[dict]) -> str | None:
    """Anthropic's rules, checked here independently of the adapter's own check."""
    for i, m in enumerate(messages):
        blocks = m["content"] if isinstance(m["content"], list) else []
        for k, b in enumerate(blocks):
            if b["type"] == "text" and not b["text"].strip():
                return f"messages[{i}].content[{k}] empty text"
            if b["type"] == "tool_result":
                c = b.get("content")
                if isinstance(c, str) and not c.strip():
                    return f"messages[{i}].content[{k}] empty tool_result"
        ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
        if m["role"] == "assistant" and ids and i + 1 < len(messages):
            nxt = messages[i + 1]["content"]
            head = [b.get("tool_use_id") for b in nxt[: len(ids)] if b["type"] == "tool_result"]
            if messages[i + 1]["role"] != "user" or sorted(head) != sorted(ids):
                return f"messages[{i + 1}] does not begin with the results of messages[{i}]"
    return None


def test_round_trip_prunes_old_results_and_sends_the_rest_byte_identical(convo):
    system, msgs = convo
    sys_blocks, request = request_at(system, msgs, 12)
    before = copy.deepcopy(request)
    session = Session(tracing=False)
    sent = anthropic.prepare(session, request, system=sys_blocks)
    assert request == before  # never mutated
    assert len(sent) == len(request)
    changed = [i for i, (a, b) in enumerate(zip(sent, request)) if a is not b]
    assert changed, "12 turns of real tool output: something old must be pruned"
    for a, b in zip(sent, request):
        if a is b:
            continue
        assert a["role"] == b["role"] == "user"
        assert [(x["type"], x.get("tool_use_id")) for x in a["content"]] == [(x["type"], x.get("tool_use_id")) for x in b["content"]]
        for x, y in zip(a["content"], b["content"]):
            if x is y:
                continue
            assert x["type"] == "tool_result" and set(x) == set(y)  # same keys: only the content changed
            assert 'restore_context("ctx' in x["content"]
    assert _rules(sent) is None and anthropic.problem(sent, request) is None
    # the latest turn is whole: the last message (results the model has not seen) and the last assistant turn
    assert sent[-1] is request[-1] and sent[-2] is request[-2]
    unchanged = [i for i in range(len(sent)) if i not in changed]
    assert json.dumps([sent[i] for i in unchanged]) == json.dumps([request[i] for i in unchanged])


def test_a_pruned_result_restores_exactly_what_the_client_sent(convo):
    system, msgs = convo
    sys_blocks, request = request_at(system, msgs, 12)
    session = Session(tracing=False)
    sent = anthropic.prepare(session, request, system=sys_blocks)
    i = next(i for i, (a, b) in enumerate(zip(sent, request)) if a is not b)
    k, block = next((k, x) for k, x in enumerate(sent[i]["content"]) if x is not request[i]["content"][k])
    handle = block["content"].split('restore_context("')[1].split('")')[0]
    assert session.original(handle)["content"] == request[i]["content"][k]["content"]


def test_moving_cache_breakpoints_change_nothing_the_engine_decides(convo):
    """Claude Code moves its cache_control breakpoint every turn: a live session that saw each turn
    and a fresh one on the last request decide the same, and each breakpoint stays where the client put it."""
    system, msgs = convo
    live = Session(tracing=False)
    for k in range(1, 13):
        sys_blocks, request = request_at(system, msgs, k)
        out_live = anthropic.prepare(live, request, system=sys_blocks)
    fresh = anthropic.prepare(Session(tracing=False), request, system=sys_blocks)
    assert json.dumps(out_live) == json.dumps(fresh)
    assert out_live[-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    marked = [m for m in out_live if isinstance(m["content"], list) and any("cache_control" in b for b in m["content"])]
    assert marked == [out_live[-1]]  # the earlier turns' breakpoints moved on with the client


def test_a_breakpoint_inside_a_pruned_result_stays_on_its_placeholder(convo):
    system, msgs = convo
    sys_blocks, request = request_at(system, msgs, 12)
    probe = anthropic.prepare(Session(tracing=False), request, system=sys_blocks)
    i = next(i for i, (a, b) in enumerate(zip(probe, request)) if a is not b)
    k = next(k for k, x in enumerate(probe[i]["content"]) if x is not request[i]["content"][k])
    block = request[i]["content"][k]
    block["content"] = [{"type": "text", "text": block["content"], "cache_control": {"type": "ephemeral"}}]
    sent = anthropic.prepare(Session(tracing=False), request, system=sys_blocks)
    new = sent[i]["content"][k]["content"]
    assert isinstance(new, list) and new[0]["cache_control"] == {"type": "ephemeral"} and "restore_context" in new[0]["text"]


def test_older_turns_lose_their_thinking_the_latest_tool_loop_keeps_it(convo):
    """Two user prompts: the first one's tool loop (turns 1-6) is an older turn, its thinking may go;
    the second one's loop (turns 7-12) is the latest turn, with reminders beside its results, and
    keeps every thinking block, although the engine sees the reminders as user messages."""
    system, msgs = convo
    sys_blocks, first = request_at(system, msgs, 6)
    _, whole = request_at(system, msgs, 12)
    request = first + [{"role": "assistant", "content": [{"type": "text", "text": "Part one done."}]},
                       {"role": "user", "content": "Now go on."}] + whole[len(first):]
    policy = Policy(name="thinking", keep_thinking_turns=2, max_age=0, min_tokens=60, clear_tool_inputs=True)
    sent = anthropic.prepare(Session(policy, tracing=False), request, system=sys_blocks)
    assistants = [i for i, m in enumerate(request) if m["role"] == "assistant"]
    second = [i for i in assistants if i > len(first) + 1]
    assert all(b["type"] != "thinking" for b in sent[assistants[0]]["content"])  # an older turn: thinking dropped
    for i in second:  # the latest turn, whole tool-use loop: thinking as the model wrote it
        assert [b for b in sent[i]["content"] if b["type"] == "thinking"] == [b for b in request[i]["content"] if b["type"] == "thinking"]
    blanked = [b for i in assistants for b in sent[i]["content"] if b["type"] == "tool_use" and b["input"] == {}]
    assert blanked  # clear_tool_inputs: the inputs of pruned results' calls, carried back
    assert _rules(sent) is None and anthropic.problem(sent, request) is None


def test_the_rules_check_catches_what_an_edit_could_break(convo):
    system, msgs = convo
    _, request = request_at(system, msgs, 7)
    a = next(i for i, m in enumerate(request) if m["role"] == "assistant")
    bad = copy.deepcopy(request)
    bad[a + 1]["content"].reverse() if len(bad[a + 1]["content"]) > 1 else bad[a + 1]["content"].insert(0, {"type": "text", "text": "x"})
    assert anthropic.problem(bad, request) is not None
    empty = copy.deepcopy(request)
    empty[a + 1]["content"][0]["content"] = " "
    assert "empty" in anthropic.problem(empty, request)
    last = max(i for i, m in enumerate(request) if m["role"] == "assistant")
    thought = copy.deepcopy(request)
    thought[last]["content"][0]["thinking"] = "edited"
    assert "thinking" in anthropic.problem(thought, request)
    fewer = request[:-1]
    assert "messages became" in anthropic.problem(fewer, request)


@pytest.mark.parametrize(
    "messages, words",
    [
        ([{"role": "system", "content": "x"}], "role is user or assistant"),
        ([{"role": "user", "content": [{"type": "tool_result", "content": "r"}]}], "without a tool_use_id"),
        ([{"role": "user", "content": [{"text": "no type"}]}], "not a block"),
        ([{"role": "user", "content": 7}], "string or a list of blocks"),
        ([{"role": "user", "content": "go"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "ls", "input": {}}]},
          {"role": "user", "content": "no result"}], "before the results"),
    ],
)
def test_malformed_requests_are_named(messages, words):
    with pytest.raises(InvalidMessagesError) as e:
        anthropic.prepare(Session(tracing=False), messages)
    assert words in str(e.value)


def test_what_the_engine_did_not_edit_is_the_callers_own_object_on_every_call(convo):
    """A client parses a new copy of its history for every request: whatever the engine kept from
    earlier calls, each message it did not edit goes back as this request's own object."""
    system, msgs = convo
    session = Session(tracing=False)
    for k in range(1, 13):
        sys_blocks, request = request_at(system, msgs, k)  # fresh objects every time
        sent = anthropic.prepare(session, request, system=sys_blocks)
        kept = [i for i, (a, b) in enumerate(zip(sent, request)) if a == b]
        assert kept and all(sent[i] is request[i] for i in kept), f"turn {k}"
    assert len(kept) < len(request)  # and some were edited
