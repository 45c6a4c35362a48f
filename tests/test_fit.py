"""Never overflow the window (contextkit/fit.py) and compaction that keeps the cache and loses
nothing (contextkit/compaction.py), against a local fake provider."""

from __future__ import annotations

import json
import re
import sys

from contextkit import ContextOverflowError, Session, rules
from contextkit.compaction import Compactor
from contextkit.validity import anthropic_problem, openai_problem

import litellm
import pytest
from helpers import REPO
from openai_server import Reply

sys.path.insert(0, str(REPO / "benchmarks"))
from _chain import by_size  # noqa: E402

GPT4O_WINDOW = 128_000


def kw(server, **extra) -> dict:
    return {"model": "openai/gpt-4o", "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0, **extra}


@pytest.fixture(scope="module")
def long_history() -> list[dict]:
    """~1,400 real messages, ~300k tokens: far past gpt-4o's 128k window."""
    from contextkit.tokens import TokenCounter

    msgs = by_size(1300, 300_000, TokenCounter("gpt-4o").count)
    assert litellm.token_counter(model="gpt-4o", messages=msgs) > 290_000
    return msgs


def test_a_300k_history_goes_to_a_128k_model_valid_and_within_the_window(openai_server, long_history):
    openai_server.script(Reply.text("ok"))
    s = Session(tracing=False)
    s.completion(messages=long_history, max_tokens=1000, **kw(openai_server))
    sent = openai_server.last.body["messages"]
    assert openai_problem(sent) is None and anthropic_problem(sent, long_history) is None
    assert len(sent) == len(long_history)
    assert litellm.token_counter(model="gpt-4o", messages=sent) <= GPT4O_WINDOW - 1000
    assert any(note.startswith("fit:") for note in s.last_report.notes)
    assert {rules.FIT, rules.CUT} & {seg.rule for seg in s.ledger}
    pruned = [seg for seg in s.ledger if seg.state == "pruned"]
    assert len(pruned) > 100  # what fitting pruned and cut comes back as the caller sent it
    for seg in pruned:
        assert s.restore(seg.handle) == long_history[seg.index]["content"]


def test_what_cannot_fit_raises_before_anything_is_sent(openai_server):
    huge = " ".join(f"word{k}" for k in range(200_000))  # one user message of ~200k tokens
    s = Session(tracing=False)
    with pytest.raises(ContextOverflowError) as err:
        s.completion(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": huge}],
                     max_tokens=500, **kw(openai_server))
    assert openai_server.requests == []
    e = err.value
    assert e.window == GPT4O_WINDOW and e.needed > 190_000 and "128,000" in str(e)


def conversation(turns: int, result_words: int = 250) -> list[dict]:
    msgs = [{"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": "Fix the bug in pkg/mod.py."}]
    for i in range(turns):
        msgs.append({"role": "assistant", "content": f"Looking at part {i}.",
                     "tool_calls": [{"id": f"c{i}", "type": "function", "function": {"name": "read", "arguments": json.dumps({"part": i})}}]})
        msgs.append({"role": "tool", "tool_call_id": f"c{i}", "name": "read",
                     "content": " ".join(f"line_{i}_{k} = value_{k}" for k in range(result_words))})
    return msgs


def test_a_compactor_runs_once_its_summary_stays_byte_identical_and_everything_restores(openai_server):
    calls: list[list[dict]] = []

    def summarize(messages: list[dict]) -> str:
        calls.append(messages)
        return f"Summary of {len(messages)} messages: parts 0-{len(messages) // 2 - 1} were read."

    s = Session("none", context_window=30_000, compactor=Compactor(summarize, trigger_tokens=15_000, keep_messages=6),
                tracing=False)
    msgs = conversation(60, result_words=40)  # ~19k tokens: past the compactor's trigger, within the window
    sent_lists = []
    for extra in range(3):  # three consecutive calls, each with one more turn
        openai_server.script(Reply.text("ok"))
        s.completion(messages=msgs, max_tokens=500, **kw(openai_server))
        sent_lists.append(openai_server.last.body["messages"])
        msgs = msgs + conversation(61 + extra, result_words=40)[-2:]
    assert len(calls) == 1
    first, *later = sent_lists
    summary_at = next(i for i, m in enumerate(first) if "compacted" in str(m.get("content")))
    for sent in later:  # the prefix up to and including the summary is byte-identical
        assert json.dumps(sent[: summary_at + 1], sort_keys=True) == json.dumps(first[: summary_at + 1], sort_keys=True)
    for sent in sent_lists:
        assert openai_problem(sent) is None
        assert litellm.token_counter(model="gpt-4o", messages=sent) <= 30_000
    replaced = [seg for seg in s.ledger if seg.state == "compacted"]
    assert replaced and all(seg.rule == rules.COMPACTED for seg in replaced)
    for seg in replaced:  # every replaced message comes back exactly as the caller sent it
        assert s.original(seg.handle) == msgs[seg.index]
    # the summary names exactly the handles it replaced ("ctx3-ctx116, ctx120")
    named = re.search(r"word for word: ([^\]]+)\]", first[summary_at]["content"]).group(1)
    assert _expand(named) == {seg.handle for seg in replaced}
    compaction_steps = [r for r in s.steps if r.kind == "compaction"]
    assert len(compaction_steps) == 1 and compaction_steps[0].tokens_before > compaction_steps[0].tokens_after


def _expand(ranges: str) -> set[str]:
    """'ctx3-ctx5, ctx9' -> {'ctx3', 'ctx4', 'ctx5', 'ctx9'}"""
    out = set()
    for part in ranges.split(", "):
        lo, _, hi = part.partition("-")
        out |= {f"ctx{n}" for n in range(int(lo[3:]), int((hi or lo)[3:]) + 1)}
    return out


def test_a_second_compaction_extends_the_first(openai_server):
    def summarize(messages: list[dict]) -> str:
        return f"Summary of {len(messages)} messages."

    s = Session("none", context_window=30_000, compactor=Compactor(summarize, trigger_tokens=15_000, keep_messages=4),
                tracing=False)
    msgs = conversation(60, result_words=40)
    openai_server.script(Reply.text("ok"), Reply.text("ok"))
    s.completion(messages=msgs, max_tokens=500, **kw(openai_server))
    first = openai_server.last.body["messages"]
    msgs = msgs + conversation(120, result_words=40)[122:]  # 60 more turns: past the trigger again
    s.completion(messages=msgs, max_tokens=500, **kw(openai_server))
    second = openai_server.last.body["messages"]
    summaries = [i for i, m in enumerate(second) if "compacted" in str(m.get("content"))]
    assert len(summaries) == 2
    at = summaries[0]
    assert second[: at + 1] == first[: at + 1]  # the first summary and what precedes it, unchanged
    assert sum(1 for r in s.steps if r.kind == "compaction") == 2


def test_a_model_compactor_is_called_through_litellm_and_priced(openai_server):
    openai_server.script(Reply.text("The agent read parts 0-12.", usage={"prompt_tokens": 9000, "completion_tokens": 40}),
                         Reply.text("ok"))
    s = Session("none", context_window=30_000, tracing=False,
                compactor=Compactor("openai/gpt-4o-mini", trigger_tokens=15_000, keep_messages=6))
    # the summariser goes to the same fake server: litellm reads OPENAI_API_BASE
    import os

    os.environ["OPENAI_API_BASE"], old = openai_server.base_url, os.environ.get("OPENAI_API_BASE")
    try:
        os.environ.setdefault("OPENAI_API_KEY", "sk-test")
        s.completion(messages=conversation(60, result_words=40), max_tokens=500, **kw(openai_server))
    finally:
        if old is None:
            os.environ.pop("OPENAI_API_BASE", None)
        else:
            os.environ["OPENAI_API_BASE"] = old
    summariser, agent_call = openai_server.chat_requests[-2:]
    assert summariser.body["model"] == "gpt-4o-mini" and "compacting the history" in summariser.body["messages"][0]["content"]
    assert any("The agent read parts 0-12." in str(m.get("content")) for m in agent_call.body["messages"])
    step = next(r for r in s.steps if r.kind == "compaction")
    assert step.input_tokens == 9000 and step.cost_usd and step.cost_usd > 0


def test_without_a_compactor_what_pruning_and_cutting_cannot_fit_is_refused(openai_server, long_history):
    s = Session("none", tracing=False)  # trace only: the assistant turns alone are over the window once results are cut
    with pytest.raises(ContextOverflowError):
        s.completion(messages=long_history, max_tokens=1000, **kw(openai_server))
    assert openai_server.requests == []


def test_no_window_known_no_fitting():
    s = Session(tracing=False)  # no model, no context_window: prepare cannot know the window
    msgs = conversation(60)
    assert len(s.prepare(msgs)) == len(msgs)


def test_bad_compactor_is_refused():
    from contextkit import PolicyConfigError

    with pytest.raises(PolicyConfigError, match="Session.compactor"):
        Session(compactor=42, tracing=False)


def test_eval_counts_the_compactors_own_tokens_as_input(trajectories):
    from contextkit.evaluation import evaluate

    traj = next(t for t in trajectories if len(t["messages"]) > 100)
    seen = []

    def summarize(messages):
        seen.append(sum(len(str(m.get("content"))) for m in messages))
        return "Summary of the work so far."

    result = evaluate([traj], ["default"], compactor=Compactor(summarize, trigger_tokens=20_000, keep_messages=10))
    assert seen  # it compacted
    charged = [r for r in result.steps if r.compactor_tokens]
    assert len(charged) == len(seen) and all(r.compactor_tokens > 1000 for r in charged)
    assert all(r.input_tokens > r.compactor_tokens and r.cache_cost >= 1.25 * r.compactor_tokens for r in charged)
    assert result["default"].invalid_requests == 0
