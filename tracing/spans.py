"""The Observer that turns a Session's events into spans.

On the agent's thread it does only what must happen there: start the AGENT and TOOL spans (they
are live, so spans the user's own code opens inside a tool nest under them), capture the parent
context and cheap references (records, the ledger's segment fields as tuples), and queue a job.
The LLM and `context_prune` spans, with their many attributes, are built by the tracing worker
with explicit start and end times.
"""

from __future__ import annotations

import dataclasses
import os
import time
import weakref
from typing import Any

from contextkit.observer import Observer
from contextkit.records import PrepareReport, StepRecord, ToolRecord

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import builders as B
from . import conventions as C
from .builders import RunState, dumps, seg_getter
from .privacy import REDACTED, Masker
from .provider import Tracing


def _ns(epoch_s: float) -> int:
    return int(epoch_s * 1e9)


class RunObserver(Observer):
    """One per Session: its AGENT span, and every step, context decision and tool call under it."""

    def __init__(self, tracing: Tracing, session: Any):
        from openinference.instrumentation import TraceConfig

        self._t = tracing
        self.run_id = session.id
        self._policy = getattr(session.policy, "name", None) or "custom"
        self._state = RunState(run_id=session.id, masker=Masker(tracing.cfg.mask_secrets, TraceConfig()))
        self._agent: trace.Span | None = None  # the run's AGENT span, once the run started
        self._agent_ctx: otel_context.Context | None = None
        self._trace_id = 0
        self._tools: dict[int, tuple] = {}
        self._ledger: Any = None  # the ledger whose changes `prepared` reads (a new one: every segment)
        self._tool_events: dict[int, Any] = {}  # guard events a TOOL span carries (id -> event), until the next step
        self._ended = False
        # A session dropped without close(): end its run. (At exit, `Tracing.shutdown` does it instead.)
        self._finalizer = weakref.finalize(session, self._collected)
        self._finalizer.atexit = False

    # ------------------------------------------------------------------ the run (AGENT)

    def run_started(self, session: Any) -> None:
        base = {C.SESSION_ID: session.id, C.CONVERSATION_ID: session.id}
        if session.user_id:
            base[C.USER_ID] = str(session.user_id)
        self._state.base = base
        a = dict(base)
        a[C.SPAN_KIND] = C.AGENT
        a[C.OPERATION] = C.OP_AGENT
        a[C.AGENT_NAME] = a[C.GEN_AI_AGENT_NAME] = session.name
        a[C.CK_POLICY] = self._policy
        if session.model:
            a[C.CK_MODEL] = session.model
        masker = self._state.masker  # once per run, so on this thread
        if session.tags:
            a[C.TAGS] = [masker.text(str(t)) for t in session.tags]
        if session.metadata:
            a[C.METADATA] = dumps(masker.value(session.metadata))  # values masked: the JSON stays valid
        self._agent = self._t.tracer.start_span(f"invoke_agent {session.name}", attributes=a, kind=SpanKind.INTERNAL)
        self._agent_ctx = trace.set_span_in_context(self._agent)
        self._trace_id = self._agent.get_span_context().trace_id
        self.pid = os.getpid()  # a forked child inherits this observer; it must not end the parent's run
        self._t.runs.add(self)

    def run_finished(self, session: Any) -> None:
        if self._ended or self._agent is None:
            return
        self._ended = True
        end = time.time_ns()
        totals = _totals(session)
        task, answer = _task_and_answer(session)
        self._t.submit(self._end_agent, self._agent, totals, task, answer, end, None)

    def end_at_exit(self, ended_by: str = "interpreter exit", failed: bool = False) -> None:
        """The process (or its tracing) is ending with this run still open: end its AGENT span,
        saying why (`failed`: an uncaught exception or a signal, so the run's status is error)."""
        if not self._ended and self._agent is not None:
            self._ended = True
            self._t.submit(self._end_agent, self._agent, {}, None, None, time.time_ns(), ended_by, failed)

    def _collected(self) -> None:
        if not self._ended and self._agent is not None:
            self._ended = True
            self._t.submit(self._end_agent, self._agent, {}, None, None, time.time_ns(),
                           "session garbage-collected without close()")

    def _end_agent(self, span: trace.Span, totals: dict, task: Any, answer: Any, end: int, ended_by: str | None,
                   failed: bool = False) -> None:
        m = self._state.masker
        attrs = dict(totals)
        if task is not None:
            attrs[C.INPUT_VALUE] = REDACTED if m.hide_input_text else m.text(task)
            attrs[C.INPUT_MIME] = C.TEXT_MIME
        if answer is not None:
            attrs[C.OUTPUT_VALUE] = REDACTED if m.hide_output_text else m.text(answer)
            attrs[C.OUTPUT_MIME] = C.TEXT_MIME
        if ended_by:
            attrs[C.CK_ENDED_BY] = ended_by
        span.set_attributes(attrs)
        if totals.get("contextkit.run.errors"):
            span.set_status(Status(StatusCode.ERROR, f"{totals['contextkit.run.errors']} failed model call(s)"))
        elif failed:
            span.set_status(Status(StatusCode.ERROR, ended_by))
        span.end(end_time=end)
        self._state = RunState(run_id=self.run_id, masker=self._state.masker, base=self._state.base)  # free caches

    # ------------------------------------------------------------------ context decisions (CHAIN)

    def prepared(self, session: Any, report: PrepareReport) -> None:
        if self._agent is None:
            return
        ledger = session.ledger
        # Only the segments that changed since the last report (the ledger keeps the list), so the
        # cost here is what is new; every segment when the ledger is new to this observer.
        full = ledger is not self._ledger
        self._ledger = ledger
        rows = list(map(seg_getter, ledger.segments if full else ledger.changed.values()))
        self._t.submit(self._context_span, report, rows, full, len(ledger.segments), ledger, time.time_ns())

    def _context_span(self, report: PrepareReport, rows: list, full: bool, n_segments: int, ledger: Any, end: int) -> None:
        t = self._t
        attrs = B.context_attributes(self._state, report, rows, ledger, self._policy, t.full_messages, full=full,
                                     n_segments=n_segments, every=t.cfg.snapshot_every, cap=t.cfg.span_max_bytes)
        start = end - int(report.duration_ms * 1e6)
        span = t.tracer.start_span("context_prune", context=self._agent_ctx, attributes=attrs, start_time=start)
        if report.error:
            span.set_status(Status(StatusCode.ERROR, self._state.masker.text(report.error)))
        span.end(end_time=end)

    # ------------------------------------------------------------------ model calls (LLM)

    def step_finished(self, session: Any, record: StepRecord) -> None:
        if self._agent is None:
            return
        # a copy of the record: the session lets go of its sent list once the next step is recorded
        rec = dataclasses.replace(record)
        if self._tool_events:  # the breaker's events are copied onto the next step: stored once, on the tool
            rec.guard_events = [ev for ev in rec.guard_events if id(ev) not in self._tool_events]
            self._tool_events = {}
        self._t.submit(self._llm_span, rec, self._parent())

    def _llm_span(self, rec: StepRecord, parent: Any) -> None:
        llm_kind = self._t.llm_kind()
        cfg = self._t.cfg
        attrs = B.llm_attributes(self._state, rec, full_messages=self._t.full_messages, llm_kind=llm_kind,
                                 max_attributes=self._t.max_attributes, cap=cfg.span_max_bytes, every=cfg.snapshot_every)
        name = f"chat {rec.model}" if llm_kind else f"contextkit_step {rec.model}"
        start = _ns(rec.started_at) if rec.started_at else time.time_ns()
        span = self._t.tracer.start_span(name, context=parent, kind=SpanKind.CLIENT, attributes=attrs, start_time=start)
        for ev in rec.guard_events:
            span.add_event("contextkit.guard", B.guard_event(self._state.masker, ev))
        if rec.error:
            span.set_status(Status(StatusCode.ERROR, self._state.masker.text(rec.error)))
        span.end(end_time=start + int(rec.latency_ms * 1e6))

    # ------------------------------------------------------------------ tools (TOOL)

    def tool_started(self, session: Any, record: ToolRecord) -> None:
        if self._agent is None:
            return
        attrs = B.tool_start_attributes(self._state.base, record)
        start = _ns(record.started_at) if record.started_at else None
        span = self._t.tracer.start_span(
            f"execute_tool {record.name}", context=self._parent(), attributes=attrs, start_time=start
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        self._tools[id(record)] = (span, token)

    def tool_finished(self, session: Any, record: ToolRecord) -> None:
        span, token = self._tools.pop(id(record), (None, None))
        if span is None:
            return
        try:
            otel_context.detach(token)
        except Exception:  # noqa: BLE001 - detached elsewhere (async code); the span still ends
            pass
        end = _ns(record.started_at + record.duration_ms / 1000) if record.started_at else time.time_ns()
        for ev in record.guard_events:
            self._tool_events[id(ev)] = ev
        self._t.submit(self._end_tool, span, record, end)

    def _end_tool(self, span: Any, rec: ToolRecord, end: int) -> None:
        span.set_attributes(B.tool_end_attributes(self._state, rec))
        for ev in rec.guard_events:
            span.add_event("contextkit.guard", B.guard_event(self._state.masker, ev))
        if rec.error:
            m = self._state.masker
            span.set_status(Status(StatusCode.ERROR, REDACTED if m.hide_tool_result else m.text(rec.error)))
        span.end(end_time=end)

    # ------------------------------------------------------------------ helpers

    def context(self) -> Any:
        """The run's AGENT span as an OpenTelemetry context (None before the run started)."""
        return self._agent_ctx

    def _parent(self) -> Any:
        """The current context if it is inside this run's trace (a tool, a user span), else the run."""
        sc = trace.get_current_span().get_span_context()
        if sc.is_valid and sc.trace_id == self._trace_id:
            return otel_context.get_current()
        return self._agent_ctx


def _totals(session: Any) -> dict:
    steps = session.steps
    reports = session.reports
    a = {
        C.CK_RUN_STEPS: max(len(reports), len(steps)),
        C.CK_RUN_TOOL_CALLS: len(session.tool_records),
        C.CK_RUN_TOKENS_BEFORE: sum(r.tokens_before for r in reports),
        C.CK_RUN_TOKENS_AFTER: sum(r.tokens_after for r in reports),
    }
    ins = [s.input_tokens for s in steps if s.input_tokens is not None]
    outs = [s.output_tokens for s in steps if s.output_tokens is not None]
    costs = [s.cost_usd for s in steps if s.cost_usd is not None]
    saved = [s.saved_usd for s in steps if s.saved_usd is not None]
    if ins:
        a[C.CK_RUN_INPUT_TOKENS] = sum(ins)
    if outs:
        a[C.CK_RUN_OUTPUT_TOKENS] = sum(outs)
    if costs:
        a[C.CK_RUN_COST_USD] = float(sum(costs))
    if saved:
        a[C.CK_RUN_SAVED_USD] = float(sum(saved))
    errors = sum(1 for s in steps if s.error)
    if errors:
        a["contextkit.run.errors"] = errors
    return a


def _task_and_answer(session: Any) -> tuple[Any, Any]:
    """The run's task (first user message) and answer (last assistant text), for the AGENT span."""
    task = None
    for seg in session.ledger.segments:
        if seg.role == "user":
            m = session.ledger.original(seg.handle) or {}
            c = m.get("content")
            task = c if isinstance(c, str) else (dumps(c) if c is not None else None)
            break
    answer = None
    for rec in reversed(session.steps):
        msg = rec.response_message or {}
        if isinstance(msg.get("content"), str) and msg["content"]:
            answer = msg["content"]
            break
    return task, answer
