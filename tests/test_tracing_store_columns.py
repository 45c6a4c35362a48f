"""The store's newer columns, as a real run fills them: segment flags, the model call's kind and the
prepare's notes (compaction, fitting the window), and the circuit breaker's state and events on the
tool call they belong to (stored once, though the engine also copies them onto the next step)."""

from __future__ import annotations

import json

from contextkit import CircuitBreaker, Session, tracing
from contextkit.compaction import Compactor
from contextkit.tracing.store import TraceStore

import pytest
from openai_server import Reply


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "traces.duckdb"
    tracing.configure(db_path=str(path))
    yield TraceStore(path)
    tracing.shutdown()


def turns(n: int, words: int = 40) -> list[dict]:
    msgs = [{"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": "Fix pkg/mod.py."}]
    for i in range(n):
        msgs.append({"role": "assistant", "content": f"Looking at part {i}.", "tool_calls": [
            {"id": f"c{i}", "type": "function", "function": {"name": "read", "arguments": json.dumps({"part": i})}}]})
        msgs.append({"role": "tool", "tool_call_id": f"c{i}", "name": "read",
                     "content": " ".join(f"line_{i}_{k} = value_{k}" for k in range(words))})
    return msgs


def test_a_compaction_step_has_its_kind_and_the_prepare_its_notes(store):
    def summarize(messages: list[dict]) -> str:
        return f"Summary of {len(messages)} messages."

    s = Session("none", context_window=30_000, compactor=Compactor(summarize, trigger_tokens=15_000, keep_messages=6))
    s.prepare(turns(60))  # ~19k tokens: past the compactor's trigger
    s.close()
    assert tracing.flush(10)
    report = s.reports[-1]
    assert any(n.startswith("compacted") for n in report.notes)
    rows = store.steps(s.id)
    assert [r["kind"] for r in rows if r["step"] == report.step] == ["compaction"]
    [row] = [r for r in rows if r["step"] == report.step]
    assert row["notes"] == report.notes
    assert store.query("SELECT kind FROM llm_calls WHERE run_id = ?", [s.id]) == [{"kind": "compaction"}]


def test_fit_notes_are_stored_with_their_step(store):
    s = Session("none", context_window=9_000)
    s.prepare(turns(30, words=60))  # ~5k tokens for a 9k window less the 4k output reserve: results pruned early
    s.close()
    assert tracing.flush(10)
    notes = s.reports[-1].notes
    assert notes and all(n.startswith("fit:") for n in notes)
    assert [r["notes"] for r in store.steps(s.id)] == [notes]


def test_breaker_state_and_events_are_stored_once_on_the_tool_call(store, openai_server):
    s = Session(breaker=CircuitBreaker(failures=1, cooldown_s=60))
    kw = {"model": "openai/gpt-4o-mini", "api_base": openai_server.base_url, "api_key": "sk-test", "max_retries": 0}
    msgs = [{"role": "system", "content": "agent"}, {"role": "user", "content": "search"}]
    for i in range(3):
        openai_server.script(Reply.tool_call("search", {"q": f"x{i}"}, call_id=f"call_{i}"))
        reply = s.completion(messages=msgs, **kw)
        call = reply.choices[0].message.tool_calls[0]
        msgs = msgs + [reply.choices[0].message.model_dump(exclude_none=True)]

        def search(q: str) -> str:
            raise TimeoutError("search timed out")

        try:
            msgs.append(s.run_tool(call, search))
        except TimeoutError:
            msgs.append({"role": "tool", "tool_call_id": call.id, "content": "TimeoutError: search timed out"})
    openai_server.script(Reply.text("done"))
    s.completion(messages=msgs, **kw)
    s.close()
    assert tracing.flush(10)
    carried = [ev.kind for rec in s.steps for ev in rec.guard_events]
    assert "breaker_open" in carried  # the engine copies them onto the next step ...
    tools = store.tool_calls(s.id)
    assert [t["breaker"] for t in tools][1:] == ["open", "open"]
    kinds = [ev["kind"] for t in tools for ev in json.loads(t["guard_events"] or "[]")]
    assert kinds.count("breaker_open") == 1 and kinds.count("breaker_rejected") == 2
    stored = [ev["kind"] for r in store.steps(s.id) for ev in json.loads(r["guard_events"] or "[]")]
    assert not any(k.startswith("breaker") for k in stored)  # ... the store keeps them once, on the tool
    spans = store.spans(s.id)
    assert any(ev["kind"] == "breaker_open" for sp in spans if sp["span_kind"] == "TOOL" for ev in sp["events"])
