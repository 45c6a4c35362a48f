"""Retry storms and polling in LoopGuard, against the local fake provider: the model asks for the same
call again and again, the agent runs it through session.run_tool, and the guard reads the results
the next request carries. Volatile parts (request ids, uuids, timestamps, counters) are normalised
before comparing, so a storm whose error changes its request id each time is still one storm."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import datetime, timedelta, timezone

import contextkit  # noqa: F401  (first: it keeps litellm offline)
from contextkit import LoopDetected, LoopGuard, PolicyConfigError, Session
from contextkit.faults import normalize

import pytest
from helpers import trajectory_files
from openai_server import Reply


def kw(server, **extra) -> dict:
    return {"model": "openai/gpt-4o-mini", "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0, **extra}


def agent(session: Session, server, calls: list[tuple[str, dict]], tools: dict) -> int:
    """The model asks for each (tool, arguments) in turn; the agent runs them and goes on.
    Returns how many tool calls ran before the guard stopped the run (or all of them)."""
    msgs = [{"role": "system", "content": "agent"}, {"role": "user", "content": "deploy the service"}]
    ran = 0
    for i, (name, args) in enumerate(calls):
        server.script(Reply.tool_call(name, args, call_id=f"call_{i}"))
        r = session.completion(messages=msgs, **kw(server))
        msg = r.choices[0].message
        msgs.append(msg.model_dump(exclude_none=True))
        for tc in msg.tool_calls:
            msgs.append(session.run_tool(tc, tools[tc.function.name]))
            ran += 1
    server.script(Reply.text("done"))
    session.completion(messages=msgs, **kw(server))
    return ran


clock = itertools.count()


def now() -> str:
    return (datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc) + timedelta(seconds=7 * next(clock))).isoformat()


def flaky_deploy(service: str) -> str:
    raise RuntimeError(f"upstream returned 503 Service Unavailable (request id req_{uuid.uuid4().hex[:12]}, at {now()})")


def test_six_identical_failing_calls_with_a_new_request_id_and_time_raise_loop_detected(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard())
    with pytest.raises(LoopDetected) as e:
        agent(s, openai_server, [("deploy", {"service": "api"})] * 6, {"deploy": flaky_deploy})
    ev = e.value.event
    assert (ev.kind, ev.limit, ev.action, ev.value, ev.threshold, ev.tool) == ("retry_storm", "storm_repeats", "raise", 3, 3, "deploy")
    assert "req_" in ev.message and "failed 3 times in a row" in ev.message
    # the three failures ran; the model was not asked a fourth time
    assert len(s.tool_records) == 3 and all(r.error.startswith("RuntimeError") for r in s.tool_records)
    assert len(openai_server.requests) == 3
    errors = [m["content"] for m in openai_server.last.messages if m["role"] == "tool"]
    assert len(set(errors)) == 2  # no two error texts alike: an exact comparison would never have caught it
    assert s.steps[-1].guard_events == [ev] and s.steps[-1].error.startswith("LoopDetected")


def test_a_fresh_idempotency_key_in_the_arguments_does_not_hide_a_storm(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(on_loop="warn", storm_repeats=4))
    calls = [("charge", {"amount": 5, "idempotency_key": str(uuid.uuid4())}) for _ in range(4)]
    agent(s, openai_server, calls, {"charge": lambda amount, idempotency_key: f"Error: payment gateway timed out at {now()}"})
    kinds = [(e.kind, e.value) for st in s.steps for e in st.guard_events]
    assert kinds == [("retry_storm", 4)]


def test_polling_whose_output_differs_only_in_times_and_counters_has_its_own_event(openai_server):
    busy = itertools.count(3)

    def status(job: str) -> str:
        return f"job {job}: running since 2025-03-01T11:58:00Z; checked {now()}, {next(busy)} of 16 workers busy"

    s = Session(tracing=False, loop_guard=LoopGuard(on_loop="warn"))
    agent(s, openai_server, [("job_status", {"job": "build-7"})] * 6, {"job_status": status})
    events = [e for st in s.steps for e in st.guard_events]
    assert [(e.kind, e.limit, e.value) for e in events] == [("polling", "poll_repeats", 5), ("polling", "poll_repeats", 6)]
    assert events[0].tool == "job_status" and "5 times in a row" in events[0].message
    # the same guard, raising: the run stops at the fifth poll
    s = Session(tracing=False, loop_guard=LoopGuard())
    with pytest.raises(LoopDetected) as e:
        agent(s, openai_server, [("job_status", {"job": "build-7"})] * 8, {"job_status": status})
    assert e.value.event.kind == "polling" and len(s.tool_records) == 5


def test_work_in_between_is_no_storm_and_other_output_is_no_poll(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(on_loop="warn", storm_repeats=2, poll_repeats=2))
    calls = [("run_tests", {}), ("edit", {"path": "a.py"})] * 4  # fix, re-run, fix, re-run
    tools = {"run_tests": lambda: f"Error: 1 failed (request id req_{uuid.uuid4().hex[:10]})",
             "edit": lambda path: f"edited {path}"}
    agent(s, openai_server, calls, tools)
    outputs = iter(["FAILED test_parse: KeyError 'id'", "FAILED test_render: width 80 != 72", "FAILED test_cli: exit 2",
                    "12 passed"])
    agent(s, openai_server, [("pytest", {})] * 4, {"pytest": lambda: next(outputs)})
    assert not any(e.kind in ("polling", "retry_storm") for st in s.steps for e in st.guard_events)


def test_exact_repeats_stay_a_loop(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(on_loop="warn"))
    agent(s, openai_server, [("deploy", {"service": "api"})] * 3, {"deploy": lambda service: "Error: quota exceeded"})
    assert [(e.kind, e.limit) for st in s.steps for e in st.guard_events] == [("loop", "loop")]


def test_normalize_replaces_what_changes_between_identical_calls():
    text = ("GET /v1/orders/550e8400-e29b-41d4-a716-446655440000 -> 503 at 2025-03-01T12:00:07.123Z (Sat, 01 Mar 2025 "
            "12:00:07 GMT), request id req_8f3k2j1x9q, trace 4bf92f3577b34da6a3ce929d0e0e4736, took 1.52s, retry 3 of 5, "
            "uptime 12:00:07")
    out = normalize(text)
    assert out == ("GET /v1/orders/<uuid> -> <num> at <time> (<time> <time> GMT), request id <id>, trace <hex>, took <dur>, "
                   "retry <num> of <num>, uptime <time>")
    # numbers inside names name different things: they stay
    assert normalize("tests/test_1.py::test_v2 utf8 python3.11 x86_64") == "tests/test_1.py::test_v2 utf8 python3.11 x86_64"
    assert normalize('{"page": 2, "path": "tests/test_2.py"}') == '{"page": <num>, "path": "tests/test_2.py"}'


def test_no_storm_or_poll_in_the_shared_real_trajectories():
    """The false positives the near-loop checks would have on real coding-agent runs: none."""
    found = []
    for f in trajectory_files():
        s = Session("none", tracing=False)
        guard = LoopGuard(on_loop="warn")
        s.prepare(json.loads(f.read_text())["messages"])
        found += [(f.name, e.message) for e in guard.check(s, s.step) if e.kind in ("polling", "retry_storm")]
    assert len(trajectory_files()) == 40 and found == []


@pytest.mark.parametrize("bad, where", [(dict(storm_repeats=1), "storm_repeats"), (dict(poll_repeats="5"), "poll_repeats"),
                                        (dict(poll_repeats=True), "poll_repeats")])
def test_bad_near_loop_config_names_the_setting(bad, where):
    with pytest.raises(PolicyConfigError, match=f"^LoopGuard.{where}:"):
        LoopGuard(**bad)
