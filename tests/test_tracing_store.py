"""The DuckDB trace store: what a run leaves in it, read back through tracing.store.TraceStore."""

from __future__ import annotations

import json
import os
import stat

from contextkit import Policy, Session, tracing
from contextkit.tracing.store import SCHEMA_VERSION, TraceStore

import pytest
from helpers import conversation
from tracing_agent import replay


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "ck" / "traces.duckdb"
    tracing.configure(db_path=str(path))
    yield TraceStore(path)
    tracing.shutdown()


def finish(s: Session) -> None:
    s.close()
    assert tracing.flush(10)


def test_a_run_is_stored_step_by_step_with_manifest_and_both_message_lists(store):
    msgs = conversation(n_tools=8)
    s = Session(Policy(keep_last=2, protect_recent_turns=0), name="fixer", model="gpt-4o-mini", tags=["t1"], user_id="u7")
    seen = replay(s, msgs)
    manifest_at_end = s.segments()
    finish(s)

    run = store.run(s.id)
    assert run["name"] == "fixer" and run["status"] == "ok" and run["user_id"] == "u7"
    assert run["steps"] == len(seen) and run["tool_calls"] == 8
    assert run["tokens_saved"] == sum(r.tokens_before - r.tokens_after for r in s.reports) > 0
    steps = store.steps(s.id)
    assert [r["step"] for r in steps] == [st for st, _, _ in seen]
    for row, rep in zip(steps, s.reports):
        assert (row["tokens_before"], row["tokens_after"], row["n_messages"]) == (rep.tokens_before, rep.tokens_after, rep.messages)
        assert row["model"] == "gpt-4o-mini" and row["output"]["role"] == "assistant"
    # every step's request as sent, and as the agent would have sent it, comes back exactly
    for step, raw, sent in seen:
        assert store.sent_messages(s.id, step) == sent
        assert store.raw_messages(s.id, step) == raw
    last = seen[-1][0]
    got = store.segments(s.id, last)
    want = [{k: r[k] for k in ("handle", "index", "kind", "tokens", "sent_tokens", "age", "state", "reason")} for r in manifest_at_end]
    assert [{k: r[k] for k in want[0]} for r in got] == want
    pruned = [r for r in store.step_messages(s.id, last) if r["state"] == "pruned"]
    assert pruned and all(r["original"] != r["message"] and r["handle"] in r["message"]["content"] for r in pruned)
    decisions = store.decisions(s.id)
    assert {d["handle"] for d in decisions if d["action"] == "pruned"} == {r["handle"] for r in pruned}
    tools = store.tool_calls(s.id)
    assert [t["tool_call_id"] for t in tools] == [f"call_{i}" for i in range(8)]
    assert all(t["parent_span_id"] and t["trace_id"] == run["trace_id"] for t in tools)


def test_contents_are_stored_once_and_the_manifest_only_as_changes(store, trajectories):
    traj = max(trajectories, key=lambda t: len(t["messages"]))
    s = Session(name=traj["id"])
    seen = replay(s, traj["messages"])
    finish(s)
    n_steps = len(seen)
    per_step_rows = sum(len(sent) for _, _, sent in seen)  # what a copy-per-step store would hold
    n = store.query(
        "SELECT (SELECT count(*) FROM messages) AS msgs, (SELECT count(*) FROM segment_states) AS states, "
        "(SELECT count(*) FROM step_messages WHERE run_id = $r) AS view_rows", {"r": s.id}
    )[0]
    distinct = len({json.dumps(m, sort_keys=True) for m in traj["messages"]})
    assert n["view_rows"] == per_step_rows
    assert n["msgs"] <= distinct + len(s.reports) + sum(1 for seg in s.ledger if seg.state == "pruned") + 1
    assert n["states"] < per_step_rows / 3, (n, n_steps)


def test_store_directory_and_file_are_owner_only(store):
    s = Session()
    replay(s, conversation(n_tools=2))
    finish(s)
    assert stat.S_IMODE(os.stat(os.path.dirname(store.path)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.schema_version == SCHEMA_VERSION


def test_prepare_only_usage_still_records_context_and_messages(store):
    """The README's three-line use: the agent calls litellm itself and never records a step."""
    msgs = conversation(n_tools=5)
    s = Session(Policy(keep_last=1, protect_recent_turns=0))
    sent = [s.prepare(msgs[:i]) for i in range(2, len(msgs) + 1, 2)]
    finish(s)
    steps = store.steps(s.id)
    assert len(steps) == len(sent) and all(r["model"] is None and r["tokens_before"] for r in steps)
    assert store.sent_messages(s.id, len(sent)) == sent[-1]
    assert store.run(s.id)["steps"] == len(sent)


def test_reasoning_and_thinking_blocks_are_kept(store):
    msgs = conversation(n_tools=2)
    msgs[2] = dict(msgs[2], reasoning_content="The test fails because mod.py divides by zero.",
                   thinking_blocks=[{"type": "thinking", "thinking": "Check the divisor first.", "signature": "sig=="}])
    s = Session()
    replay(s, msgs)
    finish(s)
    raw = store.raw_messages(s.id, 3)
    assert raw[2]["reasoning_content"].startswith("The test fails")
    assert raw[2]["thinking_blocks"][0]["signature"] == "sig=="
    out = store.steps(s.id)[0]["output"]
    assert out["reasoning_content"].startswith("The test fails")


def test_secrets_never_reach_the_store(store):
    key = "sk-proj-" + "A1b2C3d4" * 6
    aws = "AKIAIOSFODNN7EXAMPLE"
    msgs = conversation(n_tools=2)
    msgs[3] = dict(msgs[3], content=f"OPENAI_API_KEY={key}\nAWS_ACCESS_KEY_ID={aws}\nurl=postgres://app:hunter2pw@db/x")
    s = Session(metadata={"auth": f"Bearer {key}"})
    replay(s, msgs)
    finish(s)
    tables = ["messages", "tool_spans", "agent_runs", "llm_calls", "contexts", "segment_states", "decisions", "raw_spans"]
    dump = json.dumps([store.query(f"SELECT * FROM {t}") for t in tables], default=str)
    assert key not in dump and aws not in dump and "hunter2pw" not in dump
    assert "[REDACTED" in dump
    assert store.raw_messages(s.id, 3)[3]["content"].count("[REDACTED") == 3


def test_hide_inputs_and_outputs_follow_openinference_env(store, monkeypatch):
    monkeypatch.setenv("OPENINFERENCE_HIDE_INPUTS", "true")
    monkeypatch.setenv("OPENINFERENCE_HIDE_OUTPUTS", "true")
    msgs = conversation(n_tools=2)
    s = Session()
    replay(s, msgs)
    finish(s)
    raw = store.raw_messages(s.id, 3)
    assert len(raw) > 3 and [m["role"] for m in raw] == [m["role"] for m in msgs[:len(raw)]]
    assert {m["content"] for m in raw} == {"__REDACTED__"}
    assert {t["result"] for t in store.tool_calls(s.id)} == {"__REDACTED__"}
    assert store.steps(s.id)[0]["output"]["content"] == "__REDACTED__"


def test_a_session_dropped_without_close_still_ends_its_run(store):
    import gc

    s = Session(name="dropped")
    replay(s, conversation(n_tools=2))
    run_id = s.id
    del s
    gc.collect()
    assert tracing.flush(10)
    rows = store.query("SELECT ended_by FROM agent_runs WHERE run_id = ?", [run_id])
    assert rows == [{"ended_by": "session garbage-collected without close()"}]
    assert store.run(run_id)["steps"] == 2


def test_raw_spans_lists_every_span_of_the_run_with_its_parent(store):
    s = Session(name="raw")
    replay(s, conversation(n_tools=2))
    finish(s)
    spans = store.spans(run_id=s.id)
    names = sorted(sp["name"] for sp in spans)
    assert names == sorted(["invoke_agent raw"] + ["context_prune", "chat gpt-4o-mini"] * 2 + ["execute_tool read_file"] * 2)
    agent = next(sp for sp in spans if sp["span_kind"] == "AGENT")
    assert all(sp["parent_span_id"] == agent["span_id"] for sp in spans if sp is not agent)
    assert {sp["operation"] for sp in spans} == {"invoke_agent", "context_prune", "chat", "execute_tool"}


def test_an_unwritable_store_never_reaches_the_agent(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    tracing.configure(db_path=str(blocker / "traces.duckdb"))
    try:
        s = Session()
        seen = replay(s, conversation(n_tools=3))
        s.close()
        tracing.flush(2)
        assert len(seen) == 3 and s.observer_errors == []
    finally:
        tracing.shutdown(1)


def test_tracing_off_by_env_and_argument(tmp_path, monkeypatch):
    path = tmp_path / "t.duckdb"
    tracing.configure(db_path=str(path))
    try:
        monkeypatch.setenv("CONTEXTKIT_TRACING", "off")
        assert Session().observers == []
        monkeypatch.delenv("CONTEXTKIT_TRACING")
        assert Session(tracing=False).observers == []
        assert len(Session().observers) == 1
    finally:
        tracing.shutdown()
    monkeypatch.setenv("CONTEXTKIT_TRACE_DB", "off")  # no store and no OTLP: nothing to trace into
    tracing.configure()
    try:
        assert Session().observers == []
    finally:
        tracing.shutdown()


def test_completion_end_to_end_through_litellm(store, openai_server):
    from openai_server import Reply

    openai_server.script(
        Reply.tool_call("read_file", {"path": "pkg/mod.py"}, call_id="call_a", usage={"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}),
        Reply.text("Fixed: divisor checked.", reasoning="mod.py divided by zero; guard it."),
    )
    kw = dict(model="openai/gpt-4o-mini", api_base=openai_server.base_url, api_key="sk-test")
    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]
    s = Session(name="e2e")
    msgs = [{"role": "user", "content": "Fix the failing test"}]
    r = s.completion(messages=msgs, tools=tools, **kw)
    call = r.choices[0].message.tool_calls[0]
    msgs.append(r.choices[0].message.model_dump(exclude_none=True))
    msgs.append(s.run_tool(call, lambda path: "def f(x): return 1 / x"))
    r2 = s.completion(messages=msgs, tools=tools, **kw)
    finish(s)
    steps = store.steps(s.id)
    assert [x["step"] for x in steps] == [1, 2]
    assert steps[0]["input_tokens"] == 50 and steps[0]["output_tokens"] == 7
    assert steps[0]["output"]["tool_calls"][0]["id"] == "call_a" and steps[0]["tools_hash"]
    assert steps[1]["output"]["content"] == r2.choices[0].message.content
    assert "divided by zero" in (steps[1]["output"].get("reasoning_content") or "")
    assert store.tool_calls(s.id)[0]["tool_call_id"] == "call_a"
    assert store.sent_messages(s.id, 2)[-1]["content"] == "def f(x): return 1 / x"


def test_reading_a_file_that_is_not_a_store_fails_at_once(tmp_path):
    import duckdb

    bad = tmp_path / "notes.duckdb"
    bad.write_text("not a database\n")
    with pytest.raises(duckdb.IOException, match="not a valid DuckDB"):  # not StoreBusyError: no waiting
        TraceStore(bad, timeout=30).runs()
    with pytest.raises(FileNotFoundError):
        TraceStore(tmp_path / "missing.duckdb").runs()


def test_guard_events_and_tools_are_stored_masked_and_as_sent(store, openai_server):
    """A loop guard quotes tool arguments (masked like every other text), and a tools list the
    caller changes in place between calls is traced as it was sent each time."""
    import contextkit

    from openai_server import Reply

    key = "sk-proj-" + "Z9y8X7w6" * 6
    args = {"token": key}  # short enough to be quoted whole in the loop message
    openai_server.script(*[Reply.text("again") for _ in range(4)])
    kw = dict(model="openai/gpt-4o-mini", api_base=openai_server.base_url, api_key="sk-test")
    tools = [{"type": "function", "function": {"name": "fetch", "parameters": {"type": "object", "properties": {}}}}]
    s = Session(name="guarded", loop_guard=contextkit.LoopGuard(repeats=2, on_loop="warn"))
    msgs = [{"role": "user", "content": "fetch it"}]
    for i in range(3):
        call = {"id": f"f{i}", "type": "function", "function": {"name": "fetch", "arguments": json.dumps(args)}}
        msgs += [{"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "tool_call_id": f"f{i}", "content": "same page"}]
        if i == 2:
            tools.append({"type": "function", "function": {"name": "restore_context", "parameters": {"type": "object", "properties": {}}}})
        s.completion(messages=msgs, tools=tools, **kw)
    finish(s)
    assert any(r.guard_events for r in s.steps)
    dump = json.dumps(store.query("SELECT guard_events FROM steps"), default=str)
    assert "loop" in dump and key not in dump
    names = [json.loads(r["body"]) for r in store.query("SELECT body FROM blobs WHERE kind = 'tools'")]
    assert sorted(len(b) for b in names) == [1, 2]  # the list as sent at steps 1-2, and at step 3


def test_a_segments_rule_code_is_stored_beside_its_reason(store):
    """Segment.rule (a code from contextkit.rules) reaches segment_states.rule at every step, and the
    readers return it next to the reason sentence."""
    from contextkit import rules

    s = Session(Policy(keep_last=1, protect_recent_turns=0))
    seen = replay(s, conversation(n_tools=4))
    at_end = {seg.handle: (seg.state, seg.rule) for seg in s.ledger.segments}
    finish(s)
    last = seen[-1][0]
    segs = store.segments(s.id, last)
    assert {r["handle"]: (r["state"], r["rule"]) for r in segs} == at_end
    pruned = [r for r in segs if r["state"] == "pruned"]
    assert pruned and all(r["rule"] in rules.PRUNE_RULES for r in pruned)
    assert {r["rule"] for r in store.step_messages(s.id, last) if r["state"] == "pruned"} == {r["rule"] for r in pruned}
    n = store.query("SELECT count(*) AS n FROM segment_states WHERE rule IS NULL")[0]["n"]
    assert n == 0  # every change row carries its code


def test_the_segment_getter_reads_every_field_and_a_missing_newest_one_as_none():
    """One attrgetter call per segment on the agent's thread; an engine whose Segment lacks the
    newest fields (rule, before rule codes) gives shorter rows, which read as None."""
    from dataclasses import dataclass
    from operator import attrgetter
    from types import SimpleNamespace

    from contextkit.ledger import Segment
    from contextkit.tracing import builders

    assert isinstance(builders.seg_getter, attrgetter)
    seg = Segment(handle="h1", index=0, role="tool", kind="tool_result", tokens=9, chars=30, first_seen=1, last_used=1)
    seg.rule = "superseded"
    assert builders.seg_getter(seg)[builders.SEG_FIELDS.index("rule")] == "superseded"

    @dataclass
    class Older:  # the fields of an engine before rule codes
        handle: str
        sent_message: object = None

    get = builders.segment_getter(("sent_message", "handle", "rule"), Older)
    assert isinstance(get, attrgetter) and get(Older("h2")) == (None, "h2")  # rule left off: read as None
    assert builders.segment_getter(("handle", "rule"), object)(SimpleNamespace(handle="h3")) == ("h3", None)
    full = builders.seg_getter(seg)
    short = full[:builders.SEG_FIELDS.index("rule")]  # what such an engine's getter gives
    a: dict = {}
    builders._manifest(a, "p.", [short], step=3)
    assert a["p.rule"] == [""] and a["p.handle"] == ["h1"] and a["p.age"] == [2]
