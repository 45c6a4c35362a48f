"""A stateful property test: an agent that appends, rebuilds, drops and edits its history, and
restores pruned results, under a random policy. After every call the request is valid, the caller's
list is untouched, the ledger's running token sums equal the segments', step numbers never repeat,
no internal error was swallowed, and every pruned handle restores its original."""

from __future__ import annotations

import copy
import json

from contextkit import Placeholder, Policy, Session
from contextkit.messages import content_text
from contextkit.validity import anthropic_problem, openai_problem

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

WORDS = ["alpha_beta", "pkg/mod.py", "123456", "fooBar", "ünïcødé", "plain", "text", "\n"]
body = st.lists(st.sampled_from(WORDS), min_size=1, max_size=120).map(" ".join)
policies = st.builds(
    Policy,
    max_age=st.sampled_from([None, 0, 1, 3]),
    keep_last=st.sampled_from([None, 0, 2]),
    max_tokens=st.sampled_from([None, 40]),
    supersede=st.booleans(),
    min_tokens=st.sampled_from([0, 20]),
    protect_recent_turns=st.integers(0, 2),
    clear_tool_inputs=st.booleans(),
    keep_thinking_turns=st.sampled_from([None, 0, 1]),
    placeholder=st.builds(Placeholder, key_terms=st.sampled_from([0, 5]), head_chars=st.sampled_from([0, 20])),
)


class Agent(RuleBasedStateMachine):
    @initialize(policy=policies)
    def start(self, policy):
        self.session = Session(policy, tracing=False)
        self.msgs: list[dict] = [{"role": "system", "content": "agent"}, {"role": "user", "content": "the task"}]
        self.calls = 0
        self.steps: list[int] = []

    def _tail_has_open_calls(self) -> bool:
        last = next((m for m in reversed(self.msgs) if m["role"] == "assistant"), None)
        if last is None or not last.get("tool_calls"):
            return False
        answered = {m.get("tool_call_id") for m in self.msgs if m["role"] == "tool"}
        return any(tc["id"] not in answered for tc in last["tool_calls"])

    @rule(n_calls=st.integers(0, 3), text=body, result=body, thinking=st.booleans(), tool=st.sampled_from(["bash", "read_file"]))
    def append_round(self, n_calls, text, result, thinking, tool):
        a: dict = {"role": "assistant", "content": text}
        if thinking:
            a["reasoning_content"] = "because " + text
        calls = []
        for _ in range(n_calls):
            self.calls += 1
            calls.append({"id": f"c{self.calls}", "type": "function",
                          "function": {"name": tool, "arguments": json.dumps({"path": f"f{self.calls % 3}.py"})}})
        if calls:
            a["tool_calls"] = calls
        self.msgs.append(a)
        for c in calls:
            self.msgs.append({"role": "tool", "tool_call_id": c["id"], "name": tool, "content": result * 3})
        self._call()

    @rule(text=body)
    def user_says(self, text):
        self.msgs.append({"role": "user", "content": text})
        self._call()

    @precondition(lambda self: len(self.msgs) > 4)
    @rule(data=st.data())
    def drop_a_turn(self, data):
        """Drop an assistant turn with its results, or a later user message."""
        idx = [i for i, m in enumerate(self.msgs) if i > 1 and m["role"] in ("assistant", "user")]
        if not idx:
            return
        i = data.draw(st.sampled_from(idx))
        j = i + 1
        if self.msgs[i]["role"] == "assistant":
            while j < len(self.msgs) and self.msgs[j]["role"] == "tool":
                j += 1
        del self.msgs[i:j]
        self._call()

    @precondition(lambda self: any(m["role"] == "tool" for m in self.msgs))
    @rule(data=st.data(), extra=body)
    def edit_a_result(self, data, extra):
        i = data.draw(st.sampled_from([i for i, m in enumerate(self.msgs) if m["role"] == "tool"]))
        self.msgs[i] = dict(self.msgs[i], content=self.msgs[i]["content"] + " " + extra)
        self._call()

    @rule()
    def rebuild(self):
        self.msgs = json.loads(json.dumps(self.msgs))  # new objects, same content
        self._call()

    @precondition(lambda self: any(s.state == "pruned" for s in self.session.ledger._all))
    @rule(data=st.data(), reinstate=st.booleans())
    def restore(self, data, reinstate):
        """Restore any pruned result, including one the agent has since dropped."""
        seg = data.draw(st.sampled_from([s for s in self.session.ledger._all if s.state == "pruned"]))
        assert self.session.restore(seg.handle, reinstate=reinstate) == content_text(seg.original["content"])

    def _call(self):
        """The agent calls the model after every change to its history."""
        if self._tail_has_open_calls():
            return
        frozen = copy.deepcopy(self.msgs)
        out = self.session.prepare(self.msgs)
        report = self.session.last_report
        assert report.error is None, report.error
        assert report.fallback is None, report.fallback  # edits never need taking back
        assert self.msgs == frozen
        assert openai_problem(out) is None, openai_problem(out)
        assert anthropic_problem(out, self.msgs) is None, anthropic_problem(out, self.msgs)
        assert [m["role"] for m in out] == [m["role"] for m in self.msgs]
        self.steps.append(report.step)
        event("a call")
        if report.pruned:
            event("a call that pruned")
        if any(s.reason.startswith("reasoning") for s in self.session.ledger):
            event("a call with reasoning cleared or restored")

    @invariant()
    def ledger_is_consistent(self):
        if not hasattr(self, "session"):
            return
        led = self.session.ledger
        assert led.sent_tokens == sum(s.sent_tokens for s in led.segments)
        assert led.raw_tokens == sum(s.tokens for s in led.segments)
        assert self.steps == sorted(set(self.steps))
        for seg in led:
            if seg.state == "pruned":
                assert self.session.original(seg.handle) == seg.original


Agent.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestAgentHistory = Agent.TestCase
