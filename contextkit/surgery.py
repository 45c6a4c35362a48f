"""Surgery: the one place where what is sent changes. `Editor` applies a policy's decisions to the
ledger (every change of a segment's sent form goes through `Ledger.edit` / `Ledger.revert`), keeps
the latest turn's reasoning intact, takes edits back when they would break the request, and builds
the list to send. Content is replaced, never deleted, so every tool call keeps its result and role
order stays as the agent built it.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import rules
from .ledger import KEPT, PINNED, PRUNED, Ledger, Segment
from .policy import KEEP, PRUNE, Decision, Policy

_REASONING_KEYS = ("reasoning_content", "thinking_blocks", "content")


class Editor:
    """Applies decisions for one session's ledger (a new ledger gets a new Editor)."""

    def __init__(self, ledger: Ledger, policy: Policy):
        self.ledger = ledger
        self.policy = policy
        self.assistants: list[Segment] = []  # assistant turns sent in an edited form
        self._cleared: set[str] = set()  # handles whose reasoning is cleared
        self.first_edit: int | None = None  # the lowest index edited since `begin_turn`
        self._out: list[dict] | None = None  # the last list sent, extended on the next call
        self._touched: dict[int, Segment] = {}  # sent form changed since the last output
        self._copies: dict[str, dict] = {}  # handle -> the copy of its sent form handed out

    def begin_turn(self) -> None:
        self.first_edit = None

    def _edited(self, seg: Segment) -> None:
        self._touched[id(seg)] = seg
        self._copies.pop(seg.handle, None)
        if seg.index >= 0 and (self.first_edit is None or seg.index < self.first_edit):
            self.first_edit = seg.index

    def _edit(self, seg: Segment, message: dict, tokens: int | None = None) -> None:
        self.ledger.edit(seg, message, tokens)
        self._edited(seg)

    def _revert(self, seg: Segment) -> None:
        self.ledger.revert(seg)
        self._edited(seg)

    # ------------------------------------------------------------------ decisions

    def apply(self, decisions: list[Decision], step: int) -> list[Segment]:
        """Make the decisions so; returns the results pruned."""
        led = self.ledger
        pruned: list[Segment] = []
        final: set[int] = set()
        for d in decisions:
            seg = d.segment
            if d.action == PRUNE:
                assert d.placeholder is not None
                led.carry(d.placeholder.carried)
                self._edit(seg, pruned_message(seg.original, d.placeholder.text), d.tokens)
                seg.set_state(PRUNED, d.rule, d.reason)
                seg.pruned_at = step
                led.forget_terms(seg)
                if self.policy.clear_tool_inputs and seg.call_handle:
                    self._blank_call(seg)
                pruned.append(seg)
            elif d.action == KEEP:
                state = PINNED if d.final and d.rule != rules.TOO_SMALL else seg.state
                seg.set_state(state, d.rule, d.reason)
                led.touch(seg)
                if d.final:
                    final.add(id(seg))
        if decisions:
            led.open = [s for s in led.open if s.state == KEPT and id(s) not in final]
        return pruned

    def _blank_call(self, seg: Segment) -> None:
        """Blank the arguments of the call a pruned result answers (Anthropic's clear_tool_inputs)."""
        caller = self.ledger.get(seg.call_handle) if seg.call_handle else None
        if caller is None:
            return
        base = caller.sent_message or caller.original
        self._edit(caller, without_arguments(base, {seg.tool_call_id or ""}))
        if caller.rule != rules.REASONING_CLEARED:
            caller.rule, caller.reason = rules.ARGUMENTS_CLEARED, f"arguments of {seg.tool_name} cleared with its result"
        self._track(caller)

    def _track(self, seg: Segment) -> None:
        if seg not in self.assistants:
            self.assistants.append(seg)
        self._edited(seg)

    # ------------------------------------------------------------------ reasoning

    def clear_thinking(self, step: int) -> None:
        """Drop the reasoning of assistant turns older than `keep_thinking_turns` (never the latest turn's)."""
        keep = self.policy.keep_thinking_turns
        if keep is None:
            return
        led = self.ledger
        assistants = [s for s in led.segments if s.role == "assistant" and s.reasoning_tokens]
        latest_turn = led.last_user + 1
        for seg in assistants[: max(0, len(assistants) - keep)]:
            if seg.index >= latest_turn or seg.handle in self._cleared:
                continue
            self._edit(seg, without_reasoning(seg.sent_message or seg.original))
            self._cleared.add(seg.handle)
            seg.rule = rules.REASONING_CLEARED
            seg.reason = f"reasoning cleared at step {step} (older than the last {keep} thinking turns)"
            self._track(seg)

    def keep_latest_turn_reasoning(self, step: int) -> None:
        """An assistant turn whose reasoning was cleared can become part of the latest turn again
        (the agent dropped the user message after it): its reasoning must go back unchanged."""
        turn = self.ledger.last_user + 1
        for seg in list(self.assistants):
            if seg.index < turn or seg.sent_message is None or seg.handle not in self._cleared:
                continue
            sent = dict(seg.sent_message)
            for k in _REASONING_KEYS:
                if k in seg.original:
                    sent[k] = seg.original[k]
                else:
                    sent.pop(k, None)
            self._cleared.discard(seg.handle)
            seg.rule = rules.REASONING_RESTORED
            seg.reason = f"reasoning restored at step {step}: the turn is the latest again"
            if sent == seg.original:
                self._revert(seg)
            else:
                self._edit(seg, sent)
        self.assistants = [s for s in self.assistants if s.sent_message is not None]

    def latest_reasoning_problem(self) -> str | None:
        """The latest assistant turn's reasoning must go back as the agent sent it."""
        turn = self.ledger.last_user + 1
        for s in self.assistants:
            if s.index >= turn and s.sent_message is not None:
                if any(s.sent_message.get(k) != s.original.get(k) for k in ("reasoning_content", "thinking_blocks")):
                    return f"messages[{s.index}]: the latest assistant turn's reasoning was edited"
        return None

    # ------------------------------------------------------------------ taking edits back

    def undo(self, pruned: list[Segment], problem: str) -> None:
        """Take back these prunes (they would break the request) and never retry them."""
        led = self.ledger
        for seg in pruned:
            self._revert(seg)
            seg.set_state(PINNED, rules.WOULD_BREAK, f"kept: pruning it would break the request ({problem})")
            seg.pruned_at = None
            caller = led.get(seg.call_handle) if self.policy.clear_tool_inputs and seg.call_handle else None
            if caller is not None and caller.sent_message is not None:  # its arguments go back too
                sent = dict(caller.sent_message)
                sent["tool_calls"] = [
                    orig if tc.get("id") == seg.tool_call_id else tc
                    for tc, orig in zip(caller.sent_message.get("tool_calls") or (), caller.original.get("tool_calls") or ())
                ]
                if sent == caller.original:
                    self._revert(caller)
                else:
                    self._edit(caller, sent)
        self.assistants = [s for s in self.assistants if s.sent_message is not None]

    def cut_arguments(self, cuts: list[tuple[Segment, dict, int]]) -> list[Segment]:
        """Send these assistant turns with their large call arguments cut (contextkit/fit.py)."""
        for seg, message, tokens in cuts:
            self._edit(seg, message, tokens)
            seg.rule, seg.reason = rules.ARGUMENTS_CUT, "large tool-call arguments cut to fit the model's context window"
            self._track(seg)
        return [seg for seg, _, _ in cuts]

    def reinstate(self, seg: Segment) -> None:
        """Send a pruned result's original in place again (Session.restore(reinstate=True))."""
        self._revert(seg)

    # ------------------------------------------------------------------ the list to send

    def output(self, messages: list[dict]) -> list[dict]:
        """The caller's list with contextkit's forms in place. When the agent only appended since
        the last call, that list is extended and only what changed is placed: the cost is what is
        new. Each edited form is handed out as one copy (litellm sets missing fields on the dicts it
        is given; the ledger's own forms stay private)."""
        led = self.ledger
        prev = self._out
        todo: Iterable[Segment]
        if prev is not None and led.appended and led.start == len(prev) <= len(messages):
            out = prev + messages[len(prev):]
            todo = self._touched.values()
        else:
            out = list(messages)
            todo = led.modified.values()
        copies = self._copies
        for seg in todo:
            i = seg.index
            if i < 0:
                continue
            if seg.sent_message is None:
                out[i] = messages[i]
            else:
                c = copies.get(seg.handle)
                if c is None:
                    c = copies[seg.handle] = dict(seg.sent_message)
                out[i] = c
        self._touched = {}
        self._out = out
        return out

    def sent_unchanged(self, messages: list[dict]) -> list[dict]:
        """The caller's own list (a fallback): the next call builds its list afresh."""
        self._out = None
        return list(messages)


def pruned_message(original: dict, content: str) -> dict:
    new = dict(original)
    new["content"] = content
    return new


def without_arguments(assistant: dict, tool_call_ids: set[str]) -> dict:
    """The assistant message with the arguments of these calls blanked (Anthropic's clear_tool_inputs)."""
    new = dict(assistant)
    calls = []
    for tc in assistant.get("tool_calls") or ():
        if tc.get("id") in tool_call_ids:
            tc = dict(tc)
            tc["function"] = dict(tc.get("function") or {}, arguments="{}")
        calls.append(tc)
    new["tool_calls"] = calls
    return new


def without_reasoning(assistant: dict) -> dict:
    """The assistant message without its reasoning (Anthropic's clear_thinking for older turns)."""
    new = {k: v for k, v in assistant.items() if k not in ("reasoning_content", "thinking_blocks")}
    if isinstance(new.get("content"), list):
        new["content"] = [p for p in new["content"] if not (isinstance(p, dict) and p.get("type") in ("thinking", "redacted_thinking"))]
    return new
