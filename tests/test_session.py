"""Session.prepare as an agent uses it: pruning, restore, stickiness, bad input, fail-open."""

from __future__ import annotations

import copy
import json

import contextkit
from contextkit import InvalidMessagesError, Policy, Session

import pytest
from helpers import conversation


def grow(session: Session, msgs: list[dict]) -> list[list[dict]]:
    """Replay as an agent would: prepare before every assistant message."""
    outs = []
    for i, m in enumerate(msgs):
        if m["role"] == "assistant" and i > 0:
            outs.append(session.prepare(msgs[:i]))
    outs.append(session.prepare(msgs))
    return outs


def test_prunes_old_results_and_restores_them_exactly():
    msgs = conversation(n_tools=8)
    s = Session(Policy(keep_last=2, protect_recent_turns=0))
    out = grow(s, msgs)[-1]
    pruned = [seg for seg in s.ledger if seg.state == "pruned"]
    assert len(pruned) == 6
    for seg in pruned:
        assert seg.handle in out[seg.index]["content"]
        assert s.restore(seg.handle) == msgs[seg.index]["content"]
        assert s.original(seg.handle) == msgs[seg.index]
    assert len(out) == len(msgs)
    assert [m["role"] for m in out] == [m["role"] for m in msgs]


def test_input_is_never_mutated():
    msgs = conversation(n_tools=6)
    before = copy.deepcopy(msgs)
    grow(Session(Policy(keep_last=1, protect_recent_turns=0)), msgs)
    assert msgs == before


def test_decisions_are_sticky_so_the_prefix_stays_byte_identical():
    msgs = conversation(n_tools=10)
    s = Session(Policy(keep_last=2, protect_recent_turns=0))
    outs = grow(s, msgs)
    changed_in_all = 0
    for step, (prev, cur) in enumerate(zip(outs, outs[1:]), start=2):
        # every message sent before is sent again identically, except the ones pruned at this step
        pruned_now = {seg.index for seg in s.ledger if seg.pruned_at == step}
        changed = {i for i, (a, b) in enumerate(zip(prev, cur)) if a != b}
        assert len(cur) > len(prev) and changed <= pruned_now, (step, changed, pruned_now)
        assert all("restore_context" in cur[i]["content"] for i in changed), step
        changed_in_all += len(changed)
    assert changed_in_all >= 8  # results sent whole were pruned later: the check above had something to check


def test_a_pruned_result_is_pruned_once_and_its_placeholder_never_changes():
    msgs = conversation(n_tools=10)
    s = Session(Policy(max_age=1, protect_recent_turns=0), tracing=False)
    outs = grow(s, msgs)
    seen: dict[int, str] = {}
    for out in outs:
        for i, m in enumerate(out):
            if m["role"] == "tool" and "restore_context" in m["content"]:
                assert seen.setdefault(i, m["content"]) == m["content"]
    handles = [h for r in s.reports for h, _ in r.pruned]
    assert len(handles) == len(set(handles)) == len(seen) > 0


def test_rebuilt_list_is_recognised_by_id_and_content():
    msgs = conversation(n_tools=6)
    s = Session(Policy(keep_last=1, protect_recent_turns=0))
    grow(s, msgs)
    handles = {seg.handle: seg.state for seg in s.ledger}
    rebuilt = [dict(m) for m in copy.deepcopy(msgs)]  # new objects, same content
    out = s.prepare(rebuilt)
    assert {seg.handle: seg.state for seg in s.ledger} == handles
    # an agent that drops a message: the rest keep their identity and decisions
    shorter = copy.deepcopy(rebuilt)
    dropped = s.ledger.segments[2].handle, s.ledger.segments[3].handle
    del shorter[2:4]  # drop the first assistant turn and its result
    out = s.prepare(shorter)
    assert len(out) == len(shorter)
    assert all(seg.index == i for i, seg in enumerate(s.ledger))
    assert {seg.handle: seg.state for seg in s.ledger} == {h: st for h, st in handles.items() if h not in dropped}
    pruned = [seg for seg in s.ledger if seg.state == "pruned"]
    assert pruned
    for seg in pruned:
        assert seg.handle in out[seg.index]["content"] and out[seg.index]["content"] != shorter[seg.index]["content"]


def test_agent_sending_back_our_output_keeps_decisions():
    msgs = conversation(n_tools=6)
    s = Session(Policy(keep_last=1, protect_recent_turns=0))
    out = grow(s, msgs)[-1]
    pruned = {seg.handle for seg in s.ledger if seg.state == "pruned"}
    again = s.prepare(copy.deepcopy(out))
    assert again == out
    assert {seg.handle for seg in s.ledger if seg.state == "pruned"} == pruned


def test_protected_messages_are_never_touched():
    msgs = conversation(n_tools=5)
    msgs.append({"role": "user", "content": "Now also update the docs."})
    s = Session(Policy(keep_last=0, protect_recent_turns=0))
    out = grow(s, msgs)[-1]
    assert out[0] == msgs[0] and out[1] == msgs[1] and out[-1] == msgs[-1]


def test_fresh_results_are_never_pruned_before_the_model_saw_them():
    msgs = conversation(n_tools=3)
    s = Session(Policy(keep_last=0, protect_recent_turns=0))
    out = s.prepare(msgs[:4])  # the model has not answered after the first result yet
    assert out == msgs[:4]
    out = s.prepare(msgs)  # it has answered after the first two; the last one is still unseen
    assert [s.ledger.segments[i].state for i in (3, 5, 7)] == ["pruned", "pruned", "kept"]
    assert out[7] is msgs[7]


def test_a_resumed_history_gets_the_decisions_a_live_run_would_have_made():
    """A fresh Session given a long history (a resumed agent, a gateway replica) decides it turn
    by turn, as if it had seen every call: same output, byte for byte."""
    from helpers import trajectory_files

    msgs = json.loads(trajectory_files()[0].read_text())["messages"]
    live = Session(tracing=False)
    ends = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]
    for i in ends:
        expected = live.prepare(msgs[:i])
    resumed = Session(tracing=False)
    assert resumed.prepare(msgs[: ends[-1]]) == expected
    assert any(seg.state == "pruned" for seg in resumed.ledger)
    halfway = Session(tracing=False)  # a replica that saw the first half, then the whole history
    halfway.prepare(msgs[: ends[len(ends) // 2]])
    assert halfway.prepare(msgs[: ends[-1]]) == expected
    again = halfway.prepare(msgs[: ends[-1]])  # a retry of the same request changes nothing
    assert again == expected


@pytest.mark.parametrize(
    "bad, index, words",
    [
        ([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "x", "content": "r"}], 1, "answers no call"),
        ([{"role": "wizard", "content": "hi"}], 0, "unknown role"),
        ([{"role": "user", "content": 42}], 0, "unsupported content type"),
        ([{"role": "user", "content": [{"text": "no type"}]}], 0, "no 'type'"),
        (
            [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "user", "content": "too early"},
            ],
            2,
            "before the results",
        ),
        ("not a list", None, "expected a list"),
        (None, None, "expected a list"),
        ((), None, "expected a list"),
    ],
)
def test_bad_input_names_the_index_and_problem(bad, index, words):
    s = Session()
    with pytest.raises(InvalidMessagesError) as e:
        s.prepare(bad)
    assert isinstance(e.value, ValueError)
    assert e.value.index == index
    assert words in str(e.value)
    if index is not None:
        assert f"messages[{index}]" in str(e.value)


def test_non_json_arguments_pass_through():
    msgs = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "sh", "arguments": "ls -la ("}}]},
        {"role": "tool", "tool_call_id": "a", "content": "x" * 3000},
    ]
    out = Session().prepare(msgs)
    assert out[1]["tool_calls"][0]["function"]["arguments"] == "ls -la ("


def test_internal_error_fails_open_and_is_recorded(monkeypatch):
    msgs = conversation(n_tools=6)
    s = Session(Policy(keep_last=1, protect_recent_turns=0))

    def boom(*a, **k):
        raise RuntimeError("policy exploded")

    monkeypatch.setattr(Policy, "decide", boom)
    out = s.prepare(msgs)
    assert out == msgs
    assert "policy exploded" in s.last_report.error
    closed = Session(Policy(keep_last=1), fail_closed=True)
    with pytest.raises(contextkit.PruningFailedError):
        closed.prepare(msgs)


def test_restore_tool_round_trip():
    msgs = conversation(n_tools=6)
    s = Session(Policy(keep_last=1, protect_recent_turns=0))
    grow(s, msgs)
    seg = next(seg for seg in s.ledger if seg.state == "pruned")
    assert s.restore_tool["function"]["name"] == "restore_context"
    call = {"id": "r1", "type": "function", "function": {"name": "restore_context", "arguments": f'{{"handle": "{seg.handle}"}}'}}
    answer = s.answer_restore(call)
    assert answer == {"role": "tool", "tool_call_id": "r1", "name": "restore_context", "content": msgs[seg.index]["content"]}
    assert seg.state == "restored"
    assert s.answer_restore({"id": "x", "function": {"name": "other", "arguments": "{}"}}) is None
    unknown = s.answer_restore({"id": "r2", "function": {"name": "restore_context", "arguments": '{"handle": "nope"}'}})
    assert "No pruned content" in unknown["content"]
    with pytest.raises(contextkit.UnknownHandleError):
        s.restore("nope")


def test_counts_tokens_once_per_segment(monkeypatch):
    msgs = conversation(n_tools=20)
    s = Session("none")
    s.prepare(msgs[:-2])
    calls = []
    real = s.ledger.counter.count
    monkeypatch.setattr(s.ledger.counter, "count", lambda text: calls.append(text) or real(text))
    s.prepare(msgs)
    # only the two new messages were tokenized: the assistant turn (text, calls, ids) and the tool result
    from contextkit.messages import ids_text, tool_calls_text

    counted = [t for t in calls if t]
    new = msgs[-2:]
    parts = {m.get("content") for m in new} | {tool_calls_text(m) for m in new} | {ids_text(m) for m in new}
    assert counted and all(t in parts for t in counted)
    assert msgs[-2]["content"] in counted and msgs[-1]["content"] in counted
    assert s.ledger.raw_tokens == sum(seg.tokens for seg in s.ledger)


def test_an_edited_result_keeps_its_tools_rules():
    msgs = [
        {"role": "user", "content": "refund order 4411"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "k1", "type": "function", "function": {"name": "charge_card", "arguments": '{"amount": 10}'}}]},
        {"role": "tool", "tool_call_id": "k1", "content": "receipt " * 200},
    ] + conversation(n_tools=3)[2:]
    s = Session(Policy(keep_last=0, protect_recent_turns=0, exclude_tools=("charge_card",)), tracing=False)
    grow(s, msgs)
    assert s.ledger.segments[2].tool_name == "charge_card" and s.ledger.segments[2].state == "pinned"
    edited = copy.deepcopy(msgs)
    edited[2]["content"] = "receipt (truncated by the agent)"
    s.prepare(edited)
    seg = s.ledger.segments[2]
    assert seg.tool_name == "charge_card" and seg.state != "pruned"


def test_messages_that_json_cannot_encode_and_a_failing_rewind_keep_handles_unique(monkeypatch):
    import datetime

    msgs = conversation(n_tools=4)
    msgs[1] = {"role": "user", "content": [{"type": "text", "text": "task"}, {"type": "meta", "when": datetime.date(2026, 1, 1)}]}
    s = Session(Policy(keep_last=1, protect_recent_turns=0), tracing=False)
    grow(s, msgs)
    s.prepare(copy.deepcopy(msgs))  # a rebuild identifies messages by content, dates included
    assert s.last_report.error is None
    before = {seg.handle: s.restore(seg.handle) for seg in s.ledger if seg.state == "pruned"}
    assert before

    def broken(start):
        raise RuntimeError("rewind broke")

    monkeypatch.setattr(s.ledger, "_rewind", broken)
    out = s.prepare(msgs[:-2])  # a shorter list forces a rewind, which fails: sent unchanged
    assert out == msgs[:-2] and "rewind broke" in s.last_report.error
    steps = [r.step for r in s.reports]
    assert steps == sorted(set(steps))
    s.prepare(msgs[:1] + msgs[2:])  # the task message dropped: new segments would get new serials
    for handle, text in before.items():
        assert s.restore(handle) == text  # old handles still mean what they meant
    assert len({seg.handle for seg in s.ledger._all}) == len(s.ledger._all)
