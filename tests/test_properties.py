"""Property-based tests: random valid conversations under random policies.

Whatever the conversation (parallel tool calls, content-part lists, reasoning fields, empty and
large results, unicode) and whatever the policy, every request `prepare` returns is valid under
both OpenAI and Anthropic pairing rules, the input is never mutated, the system prompt / first
user / last user messages go out byte-identical, and `restore` returns every pruned original.
"""

from __future__ import annotations

import copy
import json

from contextkit import Placeholder, Policy, Session, ToolRule
from contextkit.messages import content_text
from contextkit.validity import anthropic_problem, openai_problem

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TOOLS = ["read_file", "bash", "grep", "search_api"]
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
words = st.lists(st.sampled_from(["alpha", "beta_gamma", "pkg/mod.py", "12345", "fooBar", "ünïcødé", "日本語", "🙂", "\n"]), max_size=80).map(" ".join)


@st.composite
def content(draw, allow_none=False, big=False):
    kind = draw(st.sampled_from(["str", "str", "parts", "empty"] + (["none"] if allow_none else [])))
    if kind == "none":
        return None
    if kind == "empty":
        return ""
    body = draw(words) + draw(text)
    if big and draw(st.booleans()):
        body = body * draw(st.integers(20, 200))
    if kind == "parts":
        return [{"type": "text", "text": body}, {"type": "text", "text": draw(text) or "x"}]
    return body


@st.composite
def arguments(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["not json (", "", "[1, 2]", "{broken"]))
    return json.dumps({"path": draw(st.sampled_from(["a.py", "b/c.py", "d.txt"])), "q": draw(words)[:40]})


@st.composite
def conversation(draw):
    msgs: list[dict] = []
    if draw(st.booleans()):
        msgs.append({"role": "system", "content": draw(content()) or "You are an agent."})
    msgs.append({"role": "user", "content": draw(content()) or "Do the task."})
    n_rounds = draw(st.integers(1, 14))
    call_no = 0
    for _ in range(n_rounds):
        n_calls = draw(st.sampled_from([0, 1, 1, 1, 2, 3]))
        a: dict = {"role": "assistant", "content": draw(content(allow_none=n_calls > 0))}
        if a["content"] is None and n_calls == 0:
            a["content"] = "done"
        if draw(st.integers(0, 3)) == 0:
            a["reasoning_content"] = draw(words) or "thinking"
        if draw(st.integers(0, 5)) == 0:
            a["thinking_blocks"] = [{"type": "thinking", "thinking": draw(words) or "hm", "signature": "sig"}]
        calls = []
        for _ in range(n_calls):
            call_no += 1
            calls.append(
                {"id": f"call_{call_no}", "type": "function", "function": {"name": draw(st.sampled_from(TOOLS)), "arguments": draw(arguments())}}
            )
        if calls:
            a["tool_calls"] = calls
        msgs.append(a)
        for c in calls:
            result = draw(content(big=True))
            msgs.append({"role": "tool", "tool_call_id": c["id"], "name": c["function"]["name"], "content": result})
        if draw(st.integers(0, 4)) == 0:
            msgs.append({"role": "user", "content": draw(content()) or "continue"})
    return msgs


@st.composite
def policy(draw):
    opt = lambda s: st.one_of(st.none(), s)  # noqa: E731
    tools = {}
    for t in draw(st.lists(st.sampled_from(TOOLS), max_size=2, unique=True)):
        tools[t] = ToolRule(keep_last=draw(opt(st.integers(0, 3))), max_age=draw(opt(st.integers(0, 4))), pin=draw(opt(st.booleans())))
    return Policy(
        trigger_tokens=draw(st.sampled_from([0, 0, 50, 500])),
        trigger_basis=draw(st.sampled_from(["sent", "raw"])),
        clear_at_least=draw(st.sampled_from([0, 0, 20, 200])),
        keep_last=draw(opt(st.integers(0, 4))),
        max_age=draw(opt(st.integers(0, 5))),
        max_tokens=draw(opt(st.integers(1, 60))),
        max_chars=draw(opt(st.integers(1, 200))),
        min_tokens=draw(st.sampled_from([0, 0, 10])),
        supersede=draw(st.booleans()),
        tools=tools,
        exclude_tools=tuple(draw(st.lists(st.sampled_from(TOOLS), max_size=1))),
        protect_recent_turns=draw(st.integers(0, 2)),
        protect_tokens=draw(st.sampled_from([0, 0, 30])),
        batch_slack=draw(st.integers(0, 2)),
        clear_tool_inputs=draw(st.booleans()),
        keep_thinking_turns=draw(opt(st.integers(0, 2))),
        placeholder=Placeholder(
            head_chars=draw(st.sampled_from([0, 10])),
            tail_chars=draw(st.sampled_from([0, 5])),
            key_lines=draw(st.sampled_from([0, 2])),
        ),
    )


def protected_indices(msgs: list[dict]) -> set[int]:
    users = [i for i, m in enumerate(msgs) if m["role"] == "user"]
    out = {i for i, m in enumerate(msgs) if m["role"] == "system"}
    if users:
        out |= {users[0], users[-1]}
    return out


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(conversation(), policy())
def test_every_output_is_valid_and_restorable(msgs, pol):
    frozen = copy.deepcopy(msgs)
    s = Session(pol, tracing=False)
    ends = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0] + [len(msgs)]
    for end in ends:
        sent_to = msgs[:end]
        if sent_to and sent_to[-1]["role"] == "assistant" and sent_to[-1].get("tool_calls"):
            continue  # the agent sends only once every call has its result
        out = s.prepare(sent_to)
        assert s.last_report.error is None, s.last_report.error
        assert openai_problem(out) is None, openai_problem(out)
        assert anthropic_problem(out, sent_to) is None, anthropic_problem(out, sent_to)
        assert len(out) == len(sent_to)
        assert [m["role"] for m in out] == [m["role"] for m in sent_to]
        for i in protected_indices(sent_to):
            assert out[i] == sent_to[i]
            assert json.dumps(out[i], ensure_ascii=False) == json.dumps(sent_to[i], ensure_ascii=False)
    assert msgs == frozen  # never mutated
    for seg in s.ledger:
        if seg.state in ("pruned", "restored"):
            original = frozen[seg.index]
            assert s.original(seg.handle) == original
            expect = original["content"] if isinstance(original["content"], str) else content_text(original["content"])
            assert s.restore(seg.handle) == expect


def test_multi_megabyte_result_is_pruned_and_restored_exactly():
    big = ("line with path/to/file_9.py:1234 and ünïcødé 🙂\n" * 60_000)[:3_000_000]
    msgs = [
        {"role": "system", "content": "agent"},
        {"role": "user", "content": "task"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "cat", "arguments": '{"path": "x"}'}}]},
        {"role": "tool", "tool_call_id": "a", "content": big},
        {"role": "assistant", "content": "next", "tool_calls": [{"id": "b", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "b", "content": "ok"},
        {"role": "assistant", "content": "more", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "ls", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "tool_call_id": "c", "content": "ok"},
    ]
    s = Session(Policy(max_tokens=10_000, protect_recent_turns=1), tracing=False)
    s.prepare(msgs[:4])
    out = s.prepare(msgs[:6])
    assert len(out[3]["content"]) < 1000
    handle = s.ledger.segments[3].handle
    assert s.restore(handle) == big
    assert s.ledger.segments[3].tokens > 100_000
