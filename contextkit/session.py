"""`Session`: one per agent run. It keeps the ledger and turns what the agent would send into what
is actually sent: `prepare(messages)`. It never breaks a request: bad input raises before
anything is sent, and an internal error sends the request unchanged (fail-open).
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import calls, rules, validity
from . import fit as fit_mod
from .cache import CacheModel, Payback, prices_for
from .compaction import Compaction, Compactions, compaction_record, compactor_from, run_summarizer, summary_message
from .config import resolve_policy
from .errors import ContextOverflowError, InvalidMessagesError, PolicyConfigError, PruningFailedError, UnknownHandleError
from .fit import FitRequest
from .ledger import COMPACTED, KEPT, PINNED, PRUNED, RESTORED, Ledger, Segment
from .messages import content_text
from .observers import default_observers, notify
from .policy import Policy
from .records import PrepareReport, StepRecord, ToolRecord
from .restore import RESTORE_TOOL_NAME, call_parts, requested_handle, restore_tool
from .surgery import Editor
from .tokens import TokenCounter
from .tools import ToolScope, run_tool


class Session:
    """Context management for one agent run.

    `policy`: a preset name ("default", "none", "observation-masking", "anthropic-clear-tool-uses",
    "openai-tool-output-trimmer", "opencode"), a `Policy`, a config dict, a config file path, or
    None for "default". `model` picks the tokenizer and the context window for fractional triggers.
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        model: str | None = None,
        name: str | None = None,
        fail_closed: bool = False,
        context_window: int | None = None,
        session_id: str | None = None,
        tracing: Any = None,
        metadata: dict | None = None,
        user_id: str | None = None,
        tags: list[str] | None = None,
        budget: Any = None,
        loop_guard: Any = None,
        prices: dict | None = None,
        compactor: Any = None,
        breaker: Any = None,
    ):
        self.policy: Policy = resolve_policy(policy)
        self.model = model
        self.name = name or "agent"
        self.id = session_id or uuid.uuid4().hex
        self.fail_closed = fail_closed
        self.ledger = Ledger(TokenCounter(model))
        self.ledger.carry_call_terms = not (self.policy.clear_tool_inputs or self.policy.keep_thinking_turns is not None)
        self.ledger.use_terms = self.policy.use_terms
        self.step = 0
        self.reports: list[PrepareReport] = []
        self.steps: list[StepRecord] = []  # model calls made through this session (completion / wrap)
        self.tool_records: list[ToolRecord] = []
        self.observer_errors: list[str] = []
        self.metadata = dict(metadata or {})
        self.user_id = user_id
        self.tags = list(tags or [])
        self.closed = False
        self.budget = budget  # contextkit.Budget: per-session limits on tokens, dollars, steps
        self.loop_guard = loop_guard  # contextkit.LoopGuard: the same call and result N times
        self.breaker = breaker  # contextkit.CircuitBreaker: a tool failing N times in a row is not run for a while
        self.prices = dict(prices or {})  # model -> {"input_cost_per_token": ..., "output_cost_per_token": ...}
        self.stream_usage = True  # ask OpenAI-compatible servers for usage on streams (calls.py); False: count locally
        self._context_window = context_window
        self.editor = Editor(self.ledger, self.policy)
        self._cache: CacheModel | None = None  # the prompt cache, priced (policies with max_payback_steps)
        compactor = compactor_from(compactor)  # a model name, a function messages -> str, or a Compactor
        self._compactions = Compactions(compactor) if compactor is not None else None
        self._open_stream = None  # weakref to the last call's stream until it ends (contextkit/calls.py)
        self._lock = threading.RLock()
        if self.policy.trigger_fraction is not None and model and context_window is None:
            if self._window() is None:
                raise PolicyConfigError(
                    f"trigger_fraction needs the model's context window, and litellm has none for {model!r}; "
                    "pass context_window= or use trigger_tokens",
                    "policy.trigger_fraction",
                )
        self.observers: list = default_observers(tracing, self)
        notify(self.observers, "run_started", self)

    # ------------------------------------------------------------------ prepare

    def prepare(self, messages: list[dict]) -> list[dict]:
        """The messages to send instead of `messages` (never mutated). Raises InvalidMessagesError
        for malformed input; any internal error sends `messages` unchanged and is recorded."""
        return self._prepare(messages)[0]

    def _prepare(self, messages: list[dict], fit: FitRequest | None = None, splice: bool = True) -> tuple[list[dict], PrepareReport]:
        """`prepare` and the report of this very call (another thread may prepare right after).
        `fit`: what the call will ask for (Session.completion knows max_tokens and the tools).
        `splice=False`: the list keeps one message per message given, summaries left out (an adapter
        to another wire shape puts them in itself: `compactions()`)."""
        with self._lock:
            t0 = time.perf_counter()
            step = self.step + 1
            pruned: list[Segment] = []
            try:
                # decisions for each earlier turn of a history seen for the first time, then this one
                self.ledger.observe(messages, step, on_turn=lambda new_from: pruned.extend(self._turn(step, new_from)))
            except InvalidMessagesError:
                raise
            except Exception as e:  # noqa: BLE001 - fail-open is the contract
                return self._fail_open(messages, e, t0), self.reports[-1]
            self.step = step
            messages = self.ledger.messages  # as dicts (litellm's Message objects are welcome, as litellm takes them)
            report = PrepareReport(step, len(messages), self.ledger.raw_tokens, self.ledger.raw_tokens)
            try:
                if self.ledger.turn_start < len(messages) or self.ledger.rewound:  # a retry changes nothing
                    pruned.extend(self._turn(step, self.ledger.turn_start))
                report.pruned = [(seg.handle, seg.reason) for seg in pruned]
                out = self.editor.output(messages)
                problem = self._problem(out, messages, pruned)
                if problem:  # take this step's edits back and send what was valid before
                    self.editor.undo(pruned, problem)
                    report.pruned = []
                    report.fallback = f"an edit would have made the request invalid ({problem}); edits taken back"
                    out = self.editor.output(messages)
                    if validity.introduced_problem(out, messages):
                        out = self.editor.sent_unchanged(messages)
                        report.fallback = f"the request would have been invalid ({problem}); sent unchanged"
                out = self._fit(out, messages, report, fit or FitRequest(self.model), splice)
            except ContextOverflowError:
                raise  # the request cannot fit the window: nothing is sent
            except Exception as e:  # noqa: BLE001
                return self._fail_open(messages, e, t0, report), report
            report.tokens_after = self.ledger.sent_tokens - (self._compactions.saved() if self._compactions else 0)
            report.duration_ms = (time.perf_counter() - t0) * 1000
            self.reports.append(report)
            notify(self.observers, "prepared", self, report)
            self.ledger.changed.clear()
            return out, report

    def _turn(self, step: int, new_from: int) -> list[Segment]:
        """Decide one request of the conversation (the ledger holds it; its new messages start at
        `new_from`) and apply the decisions; the prompt cache model is charged for it."""
        led, editor, policy = self.ledger, self.editor, self.policy
        editor.begin_turn()
        if editor.assistants:
            editor.keep_latest_turn_reasoning(step)
        payback = None
        if policy.max_payback_steps is not None:
            if self._cache is None:
                self._cache = CacheModel(prices_for(self.model))
            payback = Payback(self._cache, led, new_from, policy.max_payback_steps)
        pruned = editor.apply(policy.decide(led, step, self._window(), payback), step)
        editor.clear_thinking(step)
        if self._cache is not None and (new_from < len(led.segments) or editor.first_edit is not None):
            self._cache.record(*self._cache.step_costs(led, new_from, editor.first_edit))
        return pruned

    def _fit(self, out: list[dict], messages: list[dict], report: PrepareReport, req: FitRequest, splice: bool = True) -> list[dict]:
        """The request within the model's window (contextkit/fit.py): prune early, cut, compact, or
        raise ContextOverflowError before anything is sent. Summaries already made go in place."""
        comp = self._compactions
        budget = self._budget(req)
        if budget is None and comp is None:
            return out
        led, step = self.ledger, self.step

        def total() -> int:
            return led.sent_tokens - (comp.saved() if comp else 0)

        edits: list[Segment] = []
        if budget is not None and total() > budget.limit:
            edits += self.editor.apply(fit_mod.eventual_prunes(self.policy, led, step), step)
            if edits:
                report.notes.append(f"fit: {len(edits)} results pruned early (the request would not fit {budget.window:,} tokens)")
            if total() > budget.limit:
                cut = self.editor.apply(fit_mod.cuts(led, total() - budget.limit), step)
                if cut:
                    report.notes.append(f"fit: {len(cut)} results cut to a head and a tail")
                edits += cut
            if total() > budget.limit:
                args = self.editor.cut_arguments(fit_mod.cut_arguments(led, total() - budget.limit))
                if args:
                    report.notes.append(f"fit: the arguments of {len(args)} older tool calls cut")
                    edits += args
        if edits:
            report.pruned += [(seg.handle, seg.reason) for seg in edits if seg.state == PRUNED]
            out = self.editor.output(messages)
        if comp is not None:
            trigger = comp.compactor.trigger(budget.window if budget else None)
            over = budget is not None and total() > budget.limit
            if over or (trigger is not None and total() > trigger):
                self._compact(out, report)
            if splice:
                out = comp.splice(out)
        if budget is not None and total() > budget.limit:
            raise ContextOverflowError(total() + budget.output + budget.extra, budget.window, budget.output)
        return out

    def compactions(self) -> list[Compaction]:
        """The summaries sent in place of old turns (each: `start`, `end` indices, `message`)."""
        return self._compactions.live() if self._compactions is not None else []

    def _budget(self, req: FitRequest) -> fit_mod.Budget | None:
        model = req.model or self.model
        window = self._context_window
        info = None
        if window is None and model:
            from .models import model_info

            info = model_info(model)
            window = (info or {}).get("max_input_tokens") or (info or {}).get("max_tokens")
        if not window:
            return None
        if info is None and model:
            from .models import model_info

            info = model_info(model)
        reserve = fit_mod.output_reserve(req.max_tokens, (info or {}).get("max_output_tokens"))
        return fit_mod.Budget(int(window), reserve, req.extra_tokens)

    def _compact(self, out: list[dict], report: PrepareReport) -> None:
        """Summarise the oldest whole turns once (Compactions.region) and record the summariser's call."""
        comp = self._compactions
        assert comp is not None
        where = comp.region(self.ledger)
        if where is None:
            return
        a, b = where
        region = self.ledger.segments[a:b]
        summary, facts = run_summarizer(comp.compactor, [dict(m) for m in out[a:b]])
        handles = [seg.handle for seg in region]
        message = summary_message(summary, handles, len(region))
        tokens = self.ledger.count_message(message)
        replaced = sum(seg.sent_tokens for seg in region)
        comp.done.append(Compaction(region, message, tokens, self.step, replaced))
        for seg in region:
            if seg in self.ledger.open:
                self.ledger.open.remove(seg)
            seg.set_state(COMPACTED, rules.COMPACTED, f"compacted at step {self.step} into a summary of {len(region)} messages")
            self.ledger.touch(seg)
        report.notes.append(f"compacted {len(region)} messages ({replaced:,} tokens) into {tokens:,} tokens")
        self.record_step(compaction_record(self, facts, summary, replaced, tokens))

    def _problem(self, out: list[dict], messages: list[dict], pruned: list[Segment]) -> str | None:
        """The validity check every output gets (field-notes §2 rules, see validity.py).

        The caller's list was checked by the ledger; each edit is checked once, when made, against
        its original (edits are sticky), and protected messages must be the caller's own objects.
        After the agent rebuilt its list, the whole output is checked.
        """
        led = self.ledger
        if led.rewound:
            return validity.introduced_problem(out, messages)
        for seg in pruned:
            for s in (seg, led.get(seg.call_handle) if self.policy.clear_tool_inputs and seg.call_handle else None):
                if s is not None and s.sent_message is not None:
                    p = validity.edit_problem(s.original, s.sent_message)
                    if p:
                        return f"messages[{s.index}]: {p}"
        for i in (0, led.first_user, led.last_user):
            if 0 <= i < len(out) and out[i] is not messages[i]:
                return f"messages[{i}]: a protected message (system prompt, task, latest user turn) was edited"
        return self.editor.latest_reasoning_problem()

    def _fail_open(self, messages: list[dict], err: Exception, t0: float, report: PrepareReport | None = None):
        if self.fail_closed:
            raise PruningFailedError(f"contextkit failed while pruning: {type(err).__name__}: {err}") from err
        if report is None:  # observe failed: still a step of its own, so step numbers never repeat
            self.step += 1
            report = PrepareReport(self.step, len(messages) if isinstance(messages, list) else 0, 0, 0)
        report.error = f"{type(err).__name__}: {err}"
        report.fallback = "internal error: the request was sent unchanged"
        report.duration_ms = (time.perf_counter() - t0) * 1000
        self.reports.append(report)
        try:
            self.ledger.reset_snapshot()
        except Exception:  # noqa: BLE001
            self.ledger = self.ledger.fresh()
            self.editor = Editor(self.ledger, self.policy)
        notify(self.observers, "prepared", self, report)
        self.ledger.changed.clear()
        return self.editor.sent_unchanged(messages)

    def _window(self) -> int | None:
        if self._context_window is None and self.model and self.policy.trigger_fraction is not None:
            from .models import context_window

            self._context_window = context_window(self.model)
        return self._context_window

    # ------------------------------------------------------------------ restore

    def restore(self, handle: str, *, reinstate: bool = False) -> str:
        """The original content of a pruned segment, exactly as the agent sent it.

        With `reinstate=True` the original also goes back in place from the next call on (this
        rewrites the prompt cache after it); by default the placeholder stays, and the content
        reaches the model through the restore tool's result instead.
        """
        with self._lock:
            seg = self.ledger.get(handle)
            if seg is None:
                raise UnknownHandleError(f"no segment with handle {handle!r} in this session")
            original = seg.original
            if seg.state == PRUNED:
                seg.set_state(RESTORED, rules.RESTORED, f"restored at step {self.step} (was: {seg.reason})")
                self.ledger.touch(seg)
            if reinstate and seg.sent_message is not None:
                self.editor.reinstate(seg)
                seg.set_state(RESTORED, rules.REINSTATED, f"reinstated at step {self.step}: sent in full again")
            content = original.get("content")
            return content if isinstance(content, str) else content_text(content)

    def original(self, handle: str) -> dict:
        """A copy of the whole original message behind a handle."""
        m = self.ledger.original(handle)
        if m is None:
            raise UnknownHandleError(f"no segment with handle {handle!r} in this session")
        return copy.deepcopy(m)

    @property
    def restore_tool(self) -> dict:
        """The tool definition to add to `tools=` so the model can bring back pruned results."""
        return restore_tool()

    def answer_restore(self, tool_call: Any) -> dict | None:
        """The tool message answering a `restore_context` call, or None if it is another tool's call."""
        call_id, name, arguments = call_parts(tool_call)
        if name != RESTORE_TOOL_NAME:
            return None
        handle = requested_handle(arguments)
        try:
            text = self.restore(handle) if handle else "restore_context needs a handle."
        except UnknownHandleError:
            text = f"No pruned content has the handle {handle!r}."
        return {"role": "tool", "tool_call_id": call_id, "name": RESTORE_TOOL_NAME, "content": text}

    # ------------------------------------------------------------------ model calls (contextkit/calls.py)

    def completion(self, **kwargs: Any) -> Any:
        """`litellm.completion` with this session's pruning, accounting and guards; takes exactly
        litellm's arguments and returns litellm's own response (or stream) unchanged."""
        return calls.complete(self, **kwargs)

    async def acompletion(self, **kwargs: Any) -> Any:
        """The async twin of `completion` (`litellm.acompletion`)."""
        return await calls.acomplete(self, **kwargs)

    def record(self, response: Any, **call: Any) -> Any:
        """Record the call you made yourself with the list `prepare` returned last, as `completion`
        records its own (usage, cost, output, tracing). `call`: the other arguments you gave your
        client (tools=, mock_response=, ...). Returns `response` (a stream: iterate what comes back)."""
        return calls.record(self, response, call)

    # ------------------------------------------------------------------ tools and lifecycle

    def tool(self, name: str, *, tool_call_id: str | None = None, arguments: Any = None) -> ToolScope:
        """Record a tool execution (a context manager, or a decorator): `with session.tool("grep",
        tool_call_id=call.id, arguments=args) as t: t.result = grep(**args)`."""
        return ToolScope(self, name, tool_call_id, arguments)

    def run_tool(self, tool_call: Any, fn: Callable[..., Any]) -> dict:
        """Run `fn(**arguments)` for a model's tool call; returns the tool message to append.
        `restore_context` calls are answered by the session."""
        return run_tool(self, tool_call, fn)

    def resume(self, extra_steps: int = 0, extra_dollars: float = 0.0, extra_tokens: int = 0) -> None:
        """Raise this session's budget (shared budgets: for every session using it) and wake calls
        paused on it (`Budget(on_limit="pause")`). Safe from any thread or from `Budget.on_pause`."""
        if self.budget is None:
            raise PolicyConfigError("this session has no budget to resume", "Session.resume")
        self.budget.resume(extra_steps=extra_steps, extra_dollars=extra_dollars, extra_tokens=extra_tokens)

    def close(self) -> None:
        """End the run (its trace is complete). Idempotent; also done by `with Session() as s:`."""
        if not self.closed:
            self.closed = True
            notify(self.observers, "run_finished", self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def record_step(self, record: StepRecord) -> None:
        """Add a model call made outside `completion` (e.g. by your own client) to the run.
        Observers get the record with the list it sent; once a later step is recorded, the older
        record lets go of that list (a run's memory grows with the conversation, not with steps
        times the conversation)."""
        if self.steps:
            self.steps[-1].messages_sent = []
        self.steps.append(record)
        notify(self.observers, "step_finished", self, record)

    # ------------------------------------------------------------------ reading

    def segments(self) -> list[dict]:
        """The ledger as rows (one dict per segment, current order), for printing or a DataFrame."""
        return [s.as_dict(self.step) for s in self.ledger.segments]

    @property
    def last_report(self) -> PrepareReport | None:
        return self.reports[-1] if self.reports else None

    def __repr__(self) -> str:
        return f"Session(policy={self.policy.name!r}, steps={self.step}, segments={len(self.ledger)})"


__all__ = ["Session", "PrepareReport", "KEPT", "PRUNED", "PINNED", "RESTORED"]
