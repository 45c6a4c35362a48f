"""Budgets and loop detection as middleware: checked before the call from the pre-call estimate,
recorded on the step, visible to observers; "raise" means nothing reaches the server. Budgets that
cannot be overshot: the output cap a priced call is sent with (read back from the fake server),
pause until resume() from another thread, throttle, one budget shared by sessions in threads."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import contextkit  # first: it keeps litellm offline
from contextkit import Budget, BudgetExceeded, LoopDetected, LoopGuard, Observer, Policy, PolicyConfigError, Session

import litellm
import pytest
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
    with pytest.raises(Exception):  # noqa: B017 - any error of the provider's; the point is the budget after it
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


def test_max_total_tokens_caps_the_callers_max_tokens_and_refuses_when_no_output_fits(openai_server):
    s = Session(tracing=False, budget=Budget(max_total_tokens=2000))
    openai_server.script(Reply.text("ok", usage={"prompt_tokens": 400, "completion_tokens": 100}))
    s.completion(messages=conversation(1), **kw(openai_server, max_tokens=100))
    assert openai_server.last.body["max_tokens"] == 100  # it fitted: sent as the caller gave it
    s.completion(messages=conversation(1), **kw(openai_server, max_tokens=1900))
    sent = openai_server.last.body["max_tokens"]
    held_input = s.steps[-1].tokens_after * 1.03  # contextkit's count with the own-tokenizer margin
    assert 0 < sent < 1900 and 500 + held_input + sent <= 2000
    ev = next(e for e in s.steps[-1].guard_events if e.kind == "budget_cap")
    assert (ev.limit, ev.action, ev.value, ev.threshold) == ("max_total_tokens", "cap", sent, 1900)
    assert ev.message.startswith(f"max_tokens capped to {sent:,}")
    # the budget is now used up: a request whose input alone leaves no room for output is refused
    openai_server.script(Reply.text("ok", usage={"prompt_tokens": 400, "completion_tokens": sent}))
    with pytest.raises(BudgetExceeded) as e:
        s.completion(messages=conversation(3), **kw(openai_server, max_tokens=100))
    assert e.value.event.limit == "max_total_tokens" and len(openai_server.requests) == 2


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
    "bad, where",
    [(dict(max_steps=0), "max_steps"), (dict(max_steps=1.5), "max_steps"), (dict(max_dollars=-1), "max_dollars"),
     (dict(max_input_tokens="10"), "max_input_tokens"), (dict(max_total_tokens=True), "max_total_tokens"),
     (dict(on_limit="ignore"), "on_limit"), (dict(max_dollars=float("nan")), "max_dollars"),
     (dict(warn_at=0), "warn_at"), (dict(warn_at=1.5), "warn_at"), (dict(warn_at="80%"), "warn_at"),
     (dict(on_limit="pause", pause_timeout=0), "pause_timeout"), (dict(on_limit="pause", pause_timeout=-5), "pause_timeout"),
     (dict(on_limit="pause", on_pause="ask"), "on_pause"), (dict(on_pause=print), "on_pause"),
     (dict(on_limit="throttle"), "calls_per_minute"), (dict(on_limit="throttle", calls_per_minute=0), "calls_per_minute"),
     (dict(calls_per_minute=10), "calls_per_minute"), (dict(on_limit="throttle", calls_per_minute=2.5), "calls_per_minute")],
)
def test_bad_budget_config_names_the_field(bad, where):
    with pytest.raises(PolicyConfigError) as e:
        Budget(**bad)
    assert str(e.value).startswith(f"Budget.{where}:")


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
    looping_agent(s, openai_server, [f"FAILED test_{name}: assert x == 2" for name in ("a", "b", "c", "d", "e")])
    args = [f'{{"path": "tests/test_{i}.py"}}' for i in range(5)]
    looping_agent(s, openai_server, ["FAILED"] * 5, args=args)
    assert len(s.steps) == 12 and [st.guard_events for st in s.steps] == [[]] * 12


def test_argument_order_does_not_hide_a_loop(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(repeats=2, on_loop="warn"))
    looping_agent(s, openai_server, ["same"] * 2, args=['{"a": 1, "b": 2}', '{"b": 2, "a": 1}'])
    assert [ev.action for ev in s.steps[-1].guard_events] == ["warn"]


def test_repeats_outside_the_window_are_not_a_loop(openai_server):
    s = Session(tracing=False, loop_guard=LoopGuard(repeats=2, window=2))
    results = ["same", "other 1", "other 2", "same"]
    looping_agent(s, openai_server, results, args=['{}', '{"x": 1}', '{"x": 2}', '{}'])
    assert len(s.steps) == 5 and [st.guard_events for st in s.steps] == [[]] * 5


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


# ---------------------------------------------------------------------- budgets that cannot be overshot

GPT4O = (2.5e-06, 1e-05)  # litellm's offline price map, checked below


def worst_case(request):
    """The provider bills the request as litellm counts it and the longest answer it was allowed."""
    body = request.body
    prompt = litellm.token_counter(model="gpt-4o", messages=body["messages"])
    return Reply.text("ok", usage={"prompt_tokens": prompt, "completion_tokens": body.get("max_tokens") or 16384})


def test_with_a_cent_left_a_2k_token_request_goes_out_with_a_max_tokens_that_keeps_it_within_budget(openai_server):
    info = litellm.model_cost["gpt-4o"]
    assert (info["input_cost_per_token"], info["output_cost_per_token"]) == GPT4O
    budget = Budget(max_dollars=1.0)
    s = Session(tracing=False, budget=budget)
    # the run so far spent $0.99 (provider usage, priced from litellm's map)
    openai_server.script(Reply.text("ok", usage={"prompt_tokens": 300_000, "completion_tokens": 24_000}))
    s.completion(messages=conversation(1), **kw(openai_server, "openai/gpt-4o"))
    assert budget.spent["dollars"] == pytest.approx(0.99)
    assert "max_tokens" not in openai_server.last.body  # $0.16 of output (16,384 tokens) still fitted
    msgs = conversation(1, size=1300)
    openai_server.script(worst_case)
    s.completion(messages=msgs, **kw(openai_server, "openai/gpt-4o"))
    body = openai_server.last.body
    inp = litellm.token_counter(model="gpt-4o", messages=body["messages"])
    assert 1900 < inp < 2100  # a 2k-token input
    cap = body["max_tokens"]
    assert 0 < cap < 16384
    assert inp * GPT4O[0] + cap * GPT4O[1] <= 0.01 + 1e-12  # input + the longest answer stay within the cent
    assert budget.spent["dollars"] <= 1.0  # billed as the worst case: still within the budget
    assert budget.spent["dollars"] > 0.998  # and the cap left little unused
    ev = next(e for e in s.steps[-1].guard_events if e.kind == "budget_cap")
    assert (ev.limit, ev.action, ev.value) == ("max_dollars", "cap", cap) and "$0.0" in ev.message
    # what is left does not pay for the same input: refused before sending
    with pytest.raises(BudgetExceeded) as e:
        s.completion(messages=msgs, **kw(openai_server, "openai/gpt-4o"))
    assert e.value.event.limit == "max_dollars" and len(openai_server.requests) == 2


def test_the_cap_lowers_max_completion_tokens_when_that_is_what_the_caller_uses(openai_server):
    s = Session(tracing=False, budget=Budget(max_dollars=0.01))
    s.completion(messages=conversation(1, size=1300), **kw(openai_server, "openai/gpt-4o", max_completion_tokens=4000))
    body = openai_server.last.body
    assert body.get("max_completion_tokens", body.get("max_tokens")) < 4000
    assert s.steps[-1].invocation_params["max_completion_tokens"] < 4000 and "max_tokens" not in s.steps[-1].invocation_params
    # a caller's own smaller limit is left alone
    s = Session(tracing=False, budget=Budget(max_dollars=0.01))
    s.completion(messages=conversation(1, size=1300), **kw(openai_server, "openai/gpt-4o", max_tokens=50))
    assert openai_server.last.body["max_tokens"] == 50 and not any(e.kind == "budget_cap" for e in s.steps[-1].guard_events)


def test_the_cap_uses_session_prices_for_a_model_litellm_does_not_know(openai_server):
    prices = {"openai/house-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-4}}
    s = Session(tracing=False, prices=prices, budget=Budget(max_dollars=0.05))
    openai_server.script(Reply.text("ok", usage={"prompt_tokens": 400, "completion_tokens": 1}))
    s.completion(messages=conversation(1), **kw(openai_server, "openai/house-model"))
    cap = openai_server.last.body["max_tokens"]
    held_input = s.steps[-1].tokens_after * 1.25  # another tokenizer than the model's: a wider margin
    assert 0 < cap and held_input * 1e-6 + cap * 1e-4 <= 0.05
    assert cap > 0.9 * (0.05 - held_input * 1e-6) / 1e-4


def test_warn_at_records_one_soft_threshold_event_per_limit(openai_server, caplog):
    s = Session(tracing=False, budget=Budget(max_steps=5))
    with caplog.at_level(logging.WARNING, logger="contextkit"):
        for _ in range(5):
            s.completion(messages=conversation(1), **kw(openai_server))
    warned = [(i, e) for i, st in enumerate(s.steps) for e in st.guard_events]
    assert [(i, e.kind, e.limit, e.action, e.value, e.threshold) for i, e in warned] == [(3, "budget_warning", "max_steps", "warn", 4, 5)]
    assert "80%" in warned[0][1].message and "max_steps" in caplog.text
    s = Session(tracing=False, budget=Budget(max_steps=5, warn_at=None))
    for _ in range(5):
        s.completion(messages=conversation(1), **kw(openai_server))
    assert not any(st.guard_events for st in s.steps)


def test_a_paused_third_call_waits_until_another_thread_resumes_it(openai_server):
    paused = threading.Event()
    budget = Budget(max_steps=2, on_limit="pause", on_pause=lambda ev: paused.set())
    s = Session(tracing=False, budget=budget)
    s.completion(messages=conversation(1), **kw(openai_server))
    s.completion(messages=conversation(2), **kw(openai_server))
    out = {}

    def agent():
        out["response"] = s.completion(messages=conversation(3), **kw(openai_server))

    t = threading.Thread(target=agent)
    t.start()
    assert paused.wait(10)
    time.sleep(0.2)  # it stays paused: nothing reaches the server until resume
    assert t.is_alive() and len(openai_server.requests) == 2 and budget.paused == 1
    s.resume(extra_steps=1)  # e.g. a human clicking "continue", from another thread
    t.join(10)
    assert not t.is_alive() and out["response"].choices[0].message.content == "ok"
    assert len(openai_server.requests) == 3 and budget.max_steps == 3 and budget.paused == 0
    ev = next(e for e in s.steps[-1].guard_events if e.kind == "budget")
    assert (ev.limit, ev.action) == ("max_steps", "pause") and ev.seconds >= 0.2 and "until resume()" in ev.message
    assert s.steps[-1].error is None


def test_a_pause_ends_with_budget_exceeded_when_no_resume_comes(openai_server):
    s = Session(tracing=False, budget=Budget(max_steps=1, on_limit="pause", pause_timeout=0.3))
    s.completion(messages=conversation(1), **kw(openai_server))
    t0 = time.monotonic()
    with pytest.raises(BudgetExceeded) as e:
        s.completion(messages=conversation(1), **kw(openai_server))
    assert time.monotonic() - t0 >= 0.3 and len(openai_server.requests) == 1
    assert (e.value.event.action, e.value.event.limit) == ("raise", "max_steps") and e.value.event.seconds >= 0.3
    assert s.steps[-1].error.startswith("BudgetExceeded") and s.steps[-1].guard_events == [e.value.event]


def test_on_pause_may_resume_on_the_agents_own_thread(openai_server):
    asked = []

    def human(ev):
        asked.append(ev.limit)
        s.resume(extra_dollars=0.5) if ev.limit == "max_dollars" else s.resume(extra_steps=1)

    s = Session(tracing=False, budget=Budget(max_steps=1, on_limit="pause", on_pause=human, pause_timeout=5))
    s.completion(messages=conversation(1), **kw(openai_server))
    s.completion(messages=conversation(1), **kw(openai_server))
    assert asked == ["max_steps"] and len(openai_server.requests) == 2


def test_async_pause_lets_the_event_loop_resume_it(openai_server):
    async def run():
        budget = Budget(max_steps=1, on_limit="pause", pause_timeout=10)
        s = Session(tracing=False, budget=budget)
        await s.acompletion(messages=conversation(1), **kw(openai_server))
        call = asyncio.create_task(s.acompletion(messages=conversation(1), **kw(openai_server)))
        while budget.paused == 0:
            await asyncio.sleep(0.01)  # the loop runs while the call waits
        s.resume(extra_steps=1)
        return await call

    assert asyncio.run(run()).choices[0].message.content == "ok"
    assert len(openai_server.requests) == 2


def test_throttle_spaces_calls_to_the_rate(openai_server):
    budget = Budget(on_limit="throttle", calls_per_minute=2, max_steps=10)
    budget._period = 0.5  # the minute, shortened for the test
    s = Session(tracing=False, budget=budget)
    t0 = time.monotonic()
    for _ in range(3):
        s.completion(messages=conversation(1), **kw(openai_server))
    assert time.monotonic() - t0 >= 0.45  # the third call waited for the first to leave the window
    assert [e.kind for e in s.steps[0].guard_events + s.steps[1].guard_events] == []
    ev = next(e for e in s.steps[2].guard_events if e.kind == "throttle")
    assert (ev.limit, ev.action, ev.threshold) == ("calls_per_minute", "throttle", 2) and ev.seconds > 0.3
    # a hard limit under throttle raises: waiting would not make room
    s2 = Session(tracing=False, budget=Budget(on_limit="throttle", calls_per_minute=100, max_steps=1))
    s2.completion(messages=conversation(1), **kw(openai_server))
    with pytest.raises(BudgetExceeded):
        s2.completion(messages=conversation(1), **kw(openai_server))


def test_one_budget_shared_by_sessions_in_threads_is_never_overshot(openai_server):
    budget = Budget(max_steps=7, max_dollars=1.0)
    sessions = [Session(tracing=False, budget=budget) for _ in range(3)]
    openai_server.default = lambda req: Reply.text("ok", usage={"prompt_tokens": 1000, "completion_tokens": 10})
    outcomes = []
    lock = threading.Lock()

    def agent(s, **extra):
        for _ in range(4):
            try:
                s.completion(messages=conversation(1), **kw(openai_server, "openai/gpt-4o", **extra))
                got = "sent"
            except BudgetExceeded:
                got = "refused"
            with lock:
                outcomes.append(got)

    threads = [threading.Thread(target=agent, args=(s,)) for s in sessions for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("sent") == 7 == len(openai_server.requests) and outcomes.count("refused") == 17
    assert budget.spent["steps"] == 7 and sum(len(s.steps) for s in sessions) == 24
    # dollars, shared: every call reserves before it goes, so together they stay within the limit
    budget = Budget(max_dollars=0.1)
    sessions = [Session(tracing=False, budget=budget) for _ in range(4)]
    openai_server.reset()
    openai_server.default = worst_case  # each call billed for the longest answer it was allowed
    threads = [threading.Thread(target=agent, args=(s,), kwargs={"max_tokens": 1000}) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(openai_server.requests) >= 8 and 0.08 < budget.spent["dollars"] <= 0.1


def test_resume_config_errors():
    with pytest.raises(PolicyConfigError, match="Session.resume: this session has no budget"):
        Session(tracing=False).resume(extra_steps=1)
    s = Session(tracing=False, budget=Budget(max_steps=1))
    with pytest.raises(PolicyConfigError, match="extra_steps"):
        s.resume(extra_steps=-1)
    with pytest.raises(PolicyConfigError, match="no max_dollars"):
        s.resume(extra_dollars=1.0)
    s.resume(extra_steps=2)
    assert s.budget.max_steps == 3


def test_a_failed_call_gives_its_reservation_back(openai_server):
    budget = Budget(max_steps=1)
    s = Session(tracing=False, budget=budget)
    openai_server.script(Reply.error(500))
    with pytest.raises(litellm.InternalServerError):
        s.completion(messages=conversation(1), **kw(openai_server))
    assert budget.spent["steps"] == 0 and budget._held == []
    s.completion(messages=conversation(1), **kw(openai_server))
    assert budget.spent["steps"] == 1
