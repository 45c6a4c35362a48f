"""CircuitBreaker against the local fake provider: the model keeps asking for a failing tool; after
three failures in a row the tool is not run and the model reads that it is unavailable, and until
when; after the cooldown one trial call goes through (half-open) and success closes the breaker."""

from __future__ import annotations

import threading

import contextkit  # first: it keeps litellm offline
from contextkit import CircuitBreaker, PolicyConfigError, Session, ToolUnavailable

import pytest
from openai_server import Reply


def kw(server, **extra) -> dict:
    return {"model": "openai/gpt-4o-mini", "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0, **extra}


REFUSED = ConnectionError("connection refused by search-api:443")


class Tool:
    """A tool that fails (raises, or returns a text) the first `fails` times, and counts its runs."""

    def __init__(self, fails: int = 10**6, error: BaseException | str = REFUSED):
        self.fails, self.error, self.runs = fails, error, 0

    def __call__(self, **args):
        self.runs += 1
        if self.runs <= self.fails:
            if isinstance(self.error, BaseException):
                raise self.error
            return self.error
        return f"3 results for {args.get('q')!r}"


def agent(session: Session, server, n: int, tool, name: str = "search") -> list[dict]:
    """The model asks for `name` n times; returns the tool messages the agent appended."""
    msgs = [{"role": "system", "content": "agent"}, {"role": "user", "content": "find the docs"}]
    results = []
    for i in range(n):
        server.script(Reply.tool_call(name, {"q": f"docs {i}"}, call_id=f"call_{i}"))
        msg = session.completion(messages=msgs, **kw(server)).choices[0].message
        msgs.append(msg.model_dump(exclude_none=True))
        for tc in msg.tool_calls:
            results.append(session.run_tool(tc, tool))
            msgs.append(results[-1])
    server.script(Reply.text("done"))
    session.completion(messages=msgs, **kw(server))
    return results


def test_a_tool_that_raised_three_times_is_not_run_the_fourth_and_fifth_times(openai_server):
    tool = Tool()
    s = Session("none", tracing=False, breaker=CircuitBreaker(failures=3, cooldown_s=60))
    results = agent(s, openai_server, 5, tool)
    assert tool.runs == 3
    assert [r.breaker for r in s.tool_records] == [None, None, None, "open", "open"]
    for r in results[3:]:
        assert r["content"].startswith("Error: the tool 'search' is unavailable until ") and " UTC (in 60 s)" in r["content"]
        assert "failed 3 times in a row (last: ConnectionError: connection refused" in r["content"]
    # the model was told: the request after the fifth call carries both messages
    told = [m["content"] for m in openai_server.last.messages if m["role"] == "tool"]
    assert told[3:] == [r["content"] for r in results[3:]]
    # the events: on the tool records, and carried onto the next model call's step
    assert [e.kind for r in s.tool_records for e in r.guard_events] == ["breaker_open", "breaker_rejected", "breaker_rejected"]
    opened = s.tool_records[2].guard_events[0]
    assert (opened.tool, opened.action, opened.value, opened.threshold, opened.seconds) == ("search", "open", 3, 3, 60)
    assert opened.until is not None and s.steps[3].guard_events == [opened]
    assert [e.kind for e in s.steps[4].guard_events] == ["breaker_rejected"] and s.steps[4].guard_events[0].seconds <= 60


def test_half_open_after_the_cooldown_then_closed_by_a_success(openai_server):
    now = [1000.0]
    breaker = CircuitBreaker(failures=3, cooldown_s=60)
    breaker._clock = lambda: now[0]
    tool = Tool(fails=3)
    s = Session(tracing=False, breaker=breaker)
    agent(s, openai_server, 4, tool)
    assert tool.runs == 3 and breaker.state("search") == "open"
    now[0] += 61
    assert breaker.state("search") == "half_open"
    results = agent(s, openai_server, 2, tool)
    assert tool.runs == 5 and results[0]["content"] == "3 results for 'docs 0'"
    assert s.tool_records[4].breaker == "half_open"
    assert [e.kind for e in s.tool_records[4].guard_events] == ["breaker_half_open", "breaker_closed"]
    assert breaker.state("search") == "closed" and s.tool_records[5].breaker is None


def test_a_failed_trial_opens_the_breaker_again(openai_server):
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown_s=30)
    breaker._clock = lambda: now[0]
    tool = Tool()
    s = Session(tracing=False, breaker=breaker)
    agent(s, openai_server, 2, tool)
    now[0] += 31
    agent(s, openai_server, 2, tool)  # the trial fails; the next call is not run
    assert tool.runs == 3 and breaker.state("search") == "open"
    kinds = [e.kind for e in s.tool_records[2].guard_events]
    assert kinds == ["breaker_half_open", "breaker_open"] and "again" in s.tool_records[2].guard_events[1].message


def test_tool_level_errors_do_not_count_transport_errors_in_results_do(openai_server):
    s = Session(tracing=False, breaker=CircuitBreaker(failures=3))
    missing = Tool(error=FileNotFoundError(2, "No such file or directory", "docs/x.md"))
    agent(s, openai_server, 5, missing, name="read_file")
    bad_args = Tool(error=ValueError("invalid regular expression '(': missing )"))
    agent(s, openai_server, 4, bad_args, name="grep")
    not_found = Tool(error="Error: no document matches 'docs 1'")
    agent(s, openai_server, 4, not_found)
    assert (missing.runs, bad_args.runs, not_found.runs) == (5, 4, 4)  # the tools answered: the calls were wrong
    timeouts = Tool(error="exit code: timeout after 60 s\n")
    agent(s, openai_server, 4, timeouts, name="run_command")
    gateway = Tool(error='{"error": {"code": 503, "message": "Service Unavailable: upstream connect error"}}')
    agent(s, openai_server, 4, gateway, name="fetch")
    assert (timeouts.runs, gateway.runs) == (3, 3)


def test_session_tool_scopes_count_and_refuse_with_tool_unavailable():
    s = Session(tracing=False, breaker=CircuitBreaker(failures=2, cooldown_s=5))
    ran = 0
    for _ in range(2):
        with pytest.raises(TimeoutError):
            with s.tool("vector_db", tool_call_id="c1", arguments={"q": "x"}):
                ran += 1
                raise TimeoutError("read timed out after 10 s")
    with pytest.raises(ToolUnavailable) as e:
        with s.tool("vector_db", tool_call_id="c3") as t:
            ran += 1
            t.result = "never"
    assert ran == 2 and e.value.tool == "vector_db" and "unavailable until" in str(e.value) and e.value.until > 0
    assert isinstance(e.value, contextkit.ContextkitError)
    rec = s.tool_records[-1]
    assert (rec.breaker, rec.tool_call_id, rec.result) == ("open", "c3", str(e.value))
    assert [ev.kind for ev in rec.guard_events] == ["breaker_rejected"]

    @s.tool("vector_db")
    def query(q):
        return "hits"

    with pytest.raises(ToolUnavailable):
        query(q="y")
    with s.tool("other") as t:  # per tool: others run
        t.result = "fine"


def test_one_breaker_guards_a_tool_for_every_session_and_thread(openai_server):
    breaker = CircuitBreaker(failures=3, cooldown_s=60)
    tool = Tool()

    def run(k):
        s = Session(tracing=False, breaker=breaker)
        for i in range(5):
            call = {"id": f"c{k}_{i}", "type": "function", "function": {"name": "search", "arguments": '{"q": "x"}'}}
            s.run_tool(call, tool)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert 3 <= tool.runs <= 6 and breaker.state("search") == "open"  # at most the calls in flight as it opened


def test_is_failure_replaces_the_judgement():
    breaker = CircuitBreaker(failures=1, is_failure=lambda exc, text: text is not None and text.startswith("EMPTY"))
    s = Session(tracing=False, breaker=breaker)
    call = {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
    s.run_tool(call, lambda: "EMPTY")
    assert s.run_tool({**call, "id": "c2"}, lambda: "hits")["content"].startswith("Error: the tool 'search' is unavailable")


@pytest.mark.parametrize("bad, where", [(dict(failures=0), "failures"), (dict(failures=2.0), "failures"),
                                        (dict(cooldown_s=0), "cooldown_s"), (dict(cooldown_s=float("inf")), "cooldown_s"),
                                        (dict(cooldown_s="60"), "cooldown_s"), (dict(is_failure=True), "is_failure")])
def test_bad_breaker_config_names_the_setting(bad, where):
    with pytest.raises(PolicyConfigError, match=f"^CircuitBreaker.{where}:"):
        CircuitBreaker(**bad)


def test_a_breaker_that_is_not_one_is_refused_before_the_tool_runs():
    s = Session(tracing=False, breaker={"failures": 3})
    call = {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
    with pytest.raises(PolicyConfigError, match="^Session.breaker:"):
        s.run_tool(call, lambda: "never")
    assert s.tool_records == []
