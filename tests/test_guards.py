"""Budgets and loop detection as middleware: checked before the call from the pre-call estimate,
recorded on the step, visible to observers; "raise" means nothing reaches the server."""

from __future__ import annotations

import logging

import pytest

import contextkit  # first: it keeps litellm offline
from contextkit import Budget, BudgetExceeded, LoopDetected, LoopGuard, Observer, Policy, PolicyConfigError, Session

from helpers import conversation
from openai_server import Reply


def kw(server, model: str = "openai/gpt-4o-mini", **extra) -> dict:
    return {"model": model, "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0, **extra}


class Events(Observer):
    def __init__(self):
        self.steps = []

    def step_finished(self, session, record):
        self.steps.append(record)


# ---------------------------------------------------------------------- budgets


def test_max_steps_raises_before_the_call_and_records_the_event(openai_server):
    seen = Events()
    s = Session(tracing=seen, budget=Budget(max_steps=2))
    s.completion(messages=conversation(1), **kw(openai_server))
    s.completion(messages=conversation(2), **kw(openai_server))
    with pytest.raises(BudgetExceeded) as e:
        s.completion(messages=conversation(3), **kw(openai_server))
    assert len(openai_server.requests) == 2  # the third call never reached the server
    ev = e.value.event
    assert (ev.kind, ev.limit, ev.action, ev.value, ev.threshold, ev.step) == ("budget", "max_steps", "raise", 3, 2, 3)
    blocked = s.steps[-1]
    assert blocked.guard_events == [ev] and blocked.error.startswith("BudgetExceeded")
    assert seen.steps[-1] is blocked  # observers (tracing) see it
    assert isinstance(e.value, contextkit.ContextkitError)


def test_failed_calls_do_not_use_up_the_step_budget(openai_server):
    s = Session(tracing=False, budget=Budget(max_steps=1))
    openai_server.script(Reply.error(500))
    with pytest.raises(Exception):
        s.completion(messages=conversation(1), **kw(openai_server))
    s.completion(messages=conversation(1), **kw(openai_server))  # the retry is allowed
    with pytest.raises(BudgetExceeded):
        s.completion(messages=conversation(1), **kw(openai_server))


def test_max_input_tokens_uses_the_pruned_request_as_the_estimate(openai_server):
    msgs = conversation(8, size=800)
    # without pruning the request alone is over the limit: refused before sending
    s = Session("none", tracing=False, budget=Budget(max_input_tokens=4000))
    with pytest.raises(BudgetExceeded) as e:
        s.completion(messages=msgs, **kw(openai_server))
    assert e.value.event.limit == "max_input_tokens" and e.value.event.value > 4000
    assert openai_server.requests == []
    # with pruning, what is sent fits, so the same call goes through
    s = Session(Policy(keep_last=1, protect_recent_turns=0), tracing=False, budget=Budget(max_input_tokens=4000))
    small = {"prompt_tokens": 100, "completion_tokens": 3}
    for n in range(4, len(msgs) + 1, 2):  # the agent's steps: one more tool round each time
        openai_server.script(Reply.text("ok", usage=small))
        s.completion(messages=msgs[:n], **kw(openai_server))
    assert s.steps[-1].tokens_before > 4000 > s.steps[-1].tokens_after + 800
    assert len(openai_server.requests) == len(s.steps) == 8 and not any(st.guard_events for st in s.steps)
    # what was spent (provider usage, 8 x 100) plus this request crosses it once the provider reports more
    openai_server.script(Reply.text("ok", usage={"prompt_tokens": 3000, "completion_tokens": 3}))
    s.completion(messages=msgs, **kw(openai_server))
    with pytest.raises(BudgetExceeded):
        s.completion(messages=msgs, **kw(openai_server))
    assert len(openai_server.requests) == 9


def test_max_total_tokens_counts_max_tokens_as_output(openai_server):
    s = Session(tracing=False, budget=Budget(max_total_tokens=2000))
    s.completion(messages=conversation(1), **kw(openai_server, max_tokens=100))
    with pytest.raises(BudgetExceeded) as e:
        s.completion(messages=conversation(1), **kw(openai_server, max_tokens=1900))
    assert e.value.event.limit == "max_total_tokens"
    assert len(openai_server.requests) == 1


def test_max_dollars_with_user_prices_for_a_model_litellm_does_not_know(openai_server):
    prices = {"openai/house-model": {"input_cost_per_token": 1e-3, "output_cost_per_token": 2e-3}}
    s = Session(tracing=False, prices=prices, budget=Budget(max_dollars=1.0))
    openai_server.script(Reply.text("ok", usage={"prompt_tokens": 500, "completion_tokens": 100}))
    s.completion(messages=conversation(1), **kw(openai_server, "openai/house-model"))
    assert s.steps[0].cost_usd == pytest.approx(500 * 1e-3 + 100 * 2e-3)
    with pytest.raises(BudgetExceeded) as e:  # $0.70 spent + this request's input (> 300 tokens) at $0.001
        s.completion(messages=conversation(2), **kw(openai_server, "openai/house-model"))
    assert e.value.event.limit == "max_dollars" and e.value.event.value > 1.0
    assert len(openai_server.requests) == 1


def test_max_dollars_without_any_price_is_a_config_error_before_sending(openai_server):
    s = Session(tracing=False, budget=Budget(max_dollars=1.0))
    with pytest.raises(PolicyConfigError, match="max_dollars"):
        s.completion(messages=conversation(1), **kw(openai_server, "openai/house-model"))
    assert openai_server.requests == []


def test_warn_logs_records_and_still_sends(openai_server, caplog):
    s = Session(tracing=False, budget=Budget(max_steps=1, on_limit="warn"))
    s.completion(messages=conversation(1), **kw(openai_server))
    with caplog.at_level(logging.WARNING, logger="contextkit"):
        r = s.completion(messages=conversation(1), **kw(openai_server))
    assert r.choices[0].message.content == "ok" and len(openai_server.requests) == 2
    assert [(ev.limit, ev.action) for ev in s.steps[-1].guard_events] == [("max_steps", "warn")]
    assert s.steps[-1].error is None
    assert "max_steps" in caplog.text


def test_callback_gets_the_event_and_may_stop_the_run(openai_server):
    got = []
    s = Session(tracing=False, budget=Budget(max_steps=1, on_limit=got.append))
    s.completion(messages=conversation(1), **kw(openai_server))
    s.completion(messages=conversation(1), **kw(openai_server))
    assert [ev.action for ev in got] == ["callback"] and s.steps[-1].guard_events == got

    class Stop(Exception):
        pass

    def stop(ev):
        raise Stop(ev.message)

    s = Session(tracing=False, budget=Budget(max_steps=1, on_limit=stop))
    s.completion(messages=conversation(1), **kw(openai_server))
    with pytest.raises(Stop):
        s.completion(messages=conversation(1), **kw(openai_server))
    assert len(openai_server.requests) == 3
    assert s.steps[-1].error.startswith("Stop")


@pytest.mark.parametrize(
    "bad",
    [dict(max_steps=0), dict(max_steps=1.5), dict(max_dollars=-1), dict(max_input_tokens="10"),
     dict(max_total_tokens=True), dict(on_limit="ignore"), dict(max_dollars=float("nan"))],
)
def test_bad_budget_config_names_the_field(bad):
    with pytest.raises(PolicyConfigError) as e:
        Budget(**bad)
    assert f"Budget.{next(iter(bad))}" in str(e.value)


# ---------------------------------------------------------------------- loops


def looping_agent(session: Session, server, results: list[str], args: list[str] | None = None) -> int:
    """An agent that runs `run_tests` again and again; returns the number of calls that went out."""
    msgs = [{"role": "system", "content": "agent"}, {"role": "user", "content": "make the tests pass"}]
    session.completion(messages=msgs, **kw(server))
    for i, result in enumerate(results):
        a = args[i] if args else '{"path": "tests/"}'
        msgs = msgs + [
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": f"c{i}", "type": "function", "function": {"name": "run_tests", "arguments": a}}]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": result},
        ]
        session.completion(messages=msgs, **kw(server))
    return len(server.requests)


def test_loop_raises_before_the_repeat_is_sent(openai_server):
    seen = Events()
    s = Session(tracing=seen, loop_guard=LoopGuard(repeats=3, window=10))
    with pytest.raises(LoopDetected) as e:
        looping_agent(s, openai_server, ["FAILED test_a: assert 1 == 2"] * 5)
    assert len(openai_server.requests) == 3  # the first call and two repeats; the third repeat was stopped
    ev = e.value.event
    assert (ev.kind, ev.limit, ev.action, ev.value, ev.threshold) == ("loop", "loop", "raise", 3, 3)
    assert "run_tests" in ev.message
    assert seen.steps[-1].guard_events == [ev] and seen.steps[-1].error.startswith("LoopDetected")


def test_same_call_with_different_results_or_arguments_is_not_a_loop(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(repeats=3))
    looping_agent(s, openai_server, [f"FAILED test_a: assert {i} == 2" for i in range(5)])
    args = [f'{{"path": "tests/test_{i}.py"}}' for i in range(5)]
    looping_agent(s, openai_server, ["FAILED"] * 5, args=args)
    assert all(not st.guard_events for st in s.steps)


def test_argument_order_does_not_hide_a_loop(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(repeats=2, on_loop="warn"))
    looping_agent(s, openai_server, ["same"] * 2, args=['{"a": 1, "b": 2}', '{"b": 2, "a": 1}'])
    assert [ev.action for ev in s.steps[-1].guard_events] == ["warn"]


def test_repeats_outside_the_window_are_not_a_loop(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(repeats=2, window=2))
    results = ["same", "other 1", "other 2", "same"]
    looping_agent(s, openai_server, results, args=['{}', '{"x": 1}', '{"x": 2}', '{}'])
    assert all(not st.guard_events for st in s.steps)


def test_loop_guard_state_is_per_session(openai_server):
    guard = LoopGuard(repeats=3, on_loop="warn")
    a, b = Session(tracing=False, loop_guard=guard), Session(tracing=False, loop_guard=guard)
    looping_agent(a, openai_server, ["same"] * 2)
    looping_agent(b, openai_server, ["same"] * 2)
    assert not any(st.guard_events for st in a.steps + b.steps)
    looping_agent(a, openai_server, ["same"] * 3)  # a new run in session a rebuilds its list: 3 repeats now
    assert any(st.guard_events for st in a.steps)


@pytest.mark.parametrize("bad", [dict(repeats=1), dict(window=0), dict(on_loop="stop"), dict(repeats="3")])
def test_bad_loop_guard_config(bad):
    with pytest.raises(PolicyConfigError):
        LoopGuard(**bad)


def test_a_guard_that_fails_internally_lets_the_call_through(openai_server, monkeypatch):
    def broken(self, session, step):
        raise RuntimeError("guard bug")

    monkeypatch.setattr(LoopGuard, "check", broken)
    s = Session(tracing=False, loop_guard=LoopGuard())
    r = s.completion(messages=conversation(1), **kw(openai_server))
    assert r.choices[0].message.content == "ok" and s.steps[0].error is None
