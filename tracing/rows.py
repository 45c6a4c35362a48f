"""Spans -> the trace store's rows, each a dict keyed by column name (schema.TABLES names them all).

Every text is made storable before it reaches DuckDB: a lone surrogate (a non-UTF-8 file name
decoded with surrogateescape, half of an emoji pair cut off) cannot be encoded as UTF-8, and
DuckDB, like any UTF-8 store, refuses it; it becomes U+FFFD, so one odd value costs nothing else.
Contents are made storable here, before they are hashed (the hash is of the text as stored); the
writer does the rest column by column (`storable_column`: one C-level check per clean column). A
context span's manifest is already reduced to the segments that changed since the run's previous
step (the worker sends only those).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from . import conventions as C

# (span attribute, store column, element kind, -1 means missing) of each stored segment field
_SEGMENT_COLUMNS = tuple(
    (C.SEG_CHANGES + f.name, f.store_column, f.kind, f.kind == "int" and f.name != "index")
    for f in C.SEGMENT_FIELDS if f.store_column
)


def storable(text: str) -> str:
    """`text` as UTF-8 can hold it: surrogate pairs joined, lone surrogates replaced by U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def storable_column(values: list) -> list:
    """`storable` over a column of texts and NULLs (anything else becomes its text); the usual clean
    column is checked in one go."""
    try:
        "".join(filter(None, values)).encode("utf-8")
        return values
    except (UnicodeEncodeError, TypeError):
        return [v if v is None else storable(v if isinstance(v, str) else str(v)) for v in values]


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str, separators=(",", ":"))


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


@dataclass
class SpanRows:
    """The rows one span adds to the store, and what names the span (for an error row). Rows are
    dicts by column name (`tables`); a span's many segment rows come as one block of columns
    (`blocks`: table -> column -> values), which costs a list per column instead of a dict per row."""

    span_id: str
    name: str
    run_id: str | None = None
    step: int | None = None
    tables: dict[str, list[dict]] = field(default_factory=dict)
    blocks: dict[str, dict[str, list]] = field(default_factory=dict)
    hashes: list[str] = field(default_factory=list)  # contents this span brings to the store first

    def add(self, table: str, **values: Any) -> None:
        self.tables.setdefault(table, []).append(values)

    def add_block(self, table: str, columns: dict[str, list]) -> None:
        """Rows as columns of equal length."""
        self.blocks[table] = columns

    @property
    def size(self) -> int:
        n = sum(len(rows) for rows in self.tables.values())
        return n + sum(len(next(iter(cols.values()), ())) for cols in self.blocks.values())

    def as_dict(self) -> dict:
        """Every row, by table (for an error row's detail)."""
        out = {t: list(rows) for t, rows in self.tables.items()}
        for t, cols in self.blocks.items():
            out.setdefault(t, []).extend(dict(zip(cols, values)) for values in zip(*cols.values()))
        return out


class RowBuilder:
    """Turns spans into SpanRows. Remembers, per run, the tools list last stored, and which
    contents the store has or is about to get (`known`; the writer dedupes again, so forgetting is safe)."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self._tools: dict[str | None, tuple[str, str]] = {}  # run_id -> (tools JSON, its hash)
        self._resource: Any = None
        self._service: str | None = None

    def forget(self, rows: SpanRows) -> None:
        """`rows` will never be stored: its contents are not in the store after all."""
        self.known.difference_update(rows.hashes)

    def build(self, span: Any) -> SpanRows:
        attributes = span.attributes
        a = attributes.copy() if attributes else {}  # a plain dict: the SDK's mapping costs a call per lookup
        ctx = span.context
        trace_id, span_id = _hex(ctx.trace_id, 32), _hex(ctx.span_id, 16)
        up = span.parent
        ids = {"trace_id": trace_id, "span_id": span_id, "parent_span_id": _hex(up.span_id, 16) if up is not None else None}
        run_id = a.get(C.SESSION_ID)
        step = a.get(C.CK_STEP)
        out = SpanRows(span_id=span_id, name=storable(str(span.name)), run_id=run_id if isinstance(run_id, str) else None,
                       step=step if isinstance(step, int) else None)
        op = a.get(C.OPERATION)
        ours = span.instrumentation_scope is not None and span.instrumentation_scope.name == "contextkit"
        if not ours or run_id is None:  # someone else's span (nested in a run, or not): kept as it came
            self._foreign(out, span, a, ids)
        elif op == C.OP_PRUNE:
            self._context(out, span, a, ids)
        elif op == C.OP_AGENT:
            self._agent(out, span, a, ids)
        elif op == C.OP_TOOL:
            self._tool(out, span, a, ids)
        elif step is not None and (op == C.OP_CHAT or a.get(C.CK_LLM_SPANS_SUPPRESSED)):
            self._llm(out, span, a, ids)
        return out

    # ------------------------------------------------------------------ one method per table group

    def _foreign(self, out: SpanRows, span: Any, a: dict, ids: dict) -> None:
        res = span.resource
        if res is not self._resource:
            self._resource, self._service = res, (res.attributes.get(C.SERVICE_NAME) if res is not None else None)
        events = [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes or {})} for e in span.events]
        start, end, status = span.start_time, span.end_time, span.status
        out.add(
            "span_log", **ids, run_id=a.get(C.SESSION_ID), step=a.get(C.CK_STEP), name=span.name,
            span_kind=a.get(C.SPAN_KIND), operation=a.get(C.OPERATION), start_time=start, end_time=end,
            duration_ms=_ms(start, end), status_code=status.status_code.name, status_message=status.description,
            service_name=self._service,
            attributes=dumps({k: v for k, v in a.items() if not k.startswith(C.NORMALISED_PREFIXES)}),
            events=dumps(events) if events else None,
        )

    def _agent(self, out: SpanRows, span: Any, a: dict, ids: dict) -> None:
        res = span.resource
        tags = a.get(C.TAGS)
        out.add(
            "agent_runs", run_id=out.run_id, **ids, name=a.get(C.AGENT_NAME),
            service_name=res.attributes.get(C.SERVICE_NAME) if res is not None else None,
            policy=a.get(C.CK_POLICY), model=a.get(C.CK_MODEL), user_id=a.get(C.USER_ID),
            tags=dumps(list(tags)) if tags else None, metadata=a.get(C.METADATA),
            started_at=span.start_time, ended_at=span.end_time,
            status="error" if span.status.status_code.name == "ERROR" else "ok", ended_by=a.get(C.CK_ENDED_BY),
            steps=a.get(C.CK_RUN_STEPS), tool_calls=a.get(C.CK_RUN_TOOL_CALLS),
            input_tokens=a.get(C.CK_RUN_INPUT_TOKENS), output_tokens=a.get(C.CK_RUN_OUTPUT_TOKENS),
            cost_usd=a.get(C.CK_RUN_COST_USD), saved_usd=a.get(C.CK_RUN_SAVED_USD),
        )
        self._tools.pop(out.run_id, None)

    def _tool(self, out: SpanRows, span: Any, a: dict, ids: dict) -> None:
        start, end = span.start_time, span.end_time
        out.add(
            "tool_spans", run_id=out.run_id, step=a.get(C.CK_STEP), **ids, name=a.get(C.TOOL_NAME),
            tool_call_id=a.get(C.TOOL_ID), arguments=a.get(C.TOOL_CALL_ARGUMENTS), result=a.get(C.TOOL_CALL_RESULT),
            error=a.get(C.CK_ERROR), started_at=start, ended_at=end, duration_ms=_ms(start, end),
            breaker=a.get(C.CK_BREAKER), guard_events=a.get(C.CK_GUARD_EVENTS),
        )

    def _context(self, out: SpanRows, span: Any, a: dict, ids: dict) -> None:
        run_id, step = out.run_id, a.get(C.CK_STEP)
        pruned = a.get(C.CK_PRUNED_HANDLES) or ()
        out.add(
            "contexts", run_id=run_id, step=step, trace_id=ids["trace_id"], span_id=ids["span_id"],
            parent_span_id=ids["parent_span_id"], started_at=span.start_time, ended_at=span.end_time,
            n_messages=a.get(C.CK_MESSAGES), n_segments=a.get(C.SEG_COUNT), tokens_before=a.get(C.CK_TOKENS_BEFORE),
            tokens_after=a.get(C.CK_TOKENS_AFTER), pruned=len(pruned), fallback=a.get(C.CK_FALLBACK),
            error=a.get(C.CK_ERROR), prepare_ms=a.get(C.CK_PREPARE_MS), policy=a.get(C.CK_POLICY),
            notes=[storable(n) for n in a[C.CK_NOTES]] if a.get(C.CK_NOTES) else None,
        )
        for h, why in zip(pruned, a.get(C.CK_PRUNED_REASONS) or ()):
            out.add("decisions", run_id=run_id, step=step, handle=h, action="pruned", reason=why)
        if a.get(C.CK_FALLBACK):
            out.add("decisions", run_id=run_id, step=step, handle=None, action="fallback", reason=a[C.CK_FALLBACK])
        if a.get(C.CK_ERROR):
            out.add("decisions", run_id=run_id, step=step, handle=None, action="error", reason=a[C.CK_ERROR])
        roles = self._segments(out, a, run_id, step)
        for form, hk, mk in (("original", C.NEW_SEG_HANDLES, C.NEW_SEG_MESSAGES), ("edited", C.EDIT_HANDLES, C.EDIT_MESSAGES)):
            for h, text in zip(a.get(hk) or (), a.get(mk) or ()):
                digest = self._content(out, "messages", text, role=roles.get(h))
                out.add("segment_forms", run_id=run_id, step=step, handle=h, form=form, hash=digest)

    @staticmethod
    def _segments(out: SpanRows, a: dict, run_id: str | None, step: Any) -> dict:
        """The step's segment changes as a block of rows (the arrays hold "" and -1 for missing
        values: NULL here; an index of -1 stays: the segment left the list); returns handle -> role."""
        arrays: list[Any] = [a.get(key) for key, _, _, _ in _SEGMENT_COLUMNS]
        if any(v is None for v in arrays):
            return {}
        n = len(arrays[0])
        block: dict[str, list] = {"run_id": [run_id] * n, "step": [step] * n}
        for (_, column, kind, minus_one_missing), values in zip(_SEGMENT_COLUMNS, arrays):
            if kind == "str":
                block[column] = [v or None for v in values]
            elif kind == "list":  # codes joined by "," (span attributes hold no nested arrays)
                block[column] = [v.split(",") if v else [] for v in values]
            elif minus_one_missing:
                block[column] = [None if v == -1 else v for v in values]
            else:
                block[column] = list(values)
        out.add_block("segment_states", block)
        return dict(zip(a[C.SEG_CHANGES + "handle"], a[C.SEG_CHANGES + "role"]))

    def _llm(self, out: SpanRows, span: Any, a: dict, ids: dict) -> None:
        run_id = out.run_id
        message = a.get(C.CK_OUTPUT_MESSAGE)
        tools = a.get(C.CK_TOOLS)
        tools_hash = None
        if tools:
            last = self._tools.get(run_id)
            if last is None or (last[0] is not tools and last[0] != tools):
                last = self._tools[run_id] = (tools, self._content(out, "blobs", tools, kind="tools"))
            tools_hash = last[1]
        start, end = span.start_time, span.end_time
        out.add(
            "llm_calls", run_id=run_id, step=a.get(C.CK_STEP), **ids, span_kind=a.get(C.SPAN_KIND),
            started_at=start, ended_at=end, latency_ms=a.get(C.CK_LATENCY_MS), model=a.get(C.MODEL_NAME),
            response_model=a.get(C.RESPONSE_MODEL), provider=a.get(C.PROVIDER), stream=a.get(C.CK_STREAM),
            n_messages=a.get(C.CK_MESSAGES), tokens_before=a.get(C.CK_TOKENS_BEFORE),
            tokens_after=a.get(C.CK_TOKENS_AFTER), input_tokens=a.get(C.CK_USAGE_INPUT),
            output_tokens=a.get(C.CK_USAGE_OUTPUT), reasoning_tokens=a.get(C.CK_USAGE_REASONING),
            cache_read_tokens=a.get(C.CK_USAGE_CACHE_READ), cache_write_tokens=a.get(C.CK_USAGE_CACHE_WRITE),
            usage_estimated=a.get(C.CK_USAGE_ESTIMATED), cost_usd=a.get(C.CK_COST_USD),
            input_cost_usd=a.get(C.CK_INPUT_COST_USD), output_cost_usd=a.get(C.CK_OUTPUT_COST_USD),
            saved_usd=a.get(C.CK_SAVED_USD), cost_note=a.get(C.CK_COST_NOTE), finish_reason=a.get(C.FINISH_REASON),
            error=a.get(C.CK_ERROR), output_hash=self._content(out, "messages", message, role="assistant") if message else None,
            tools_hash=tools_hash, invocation_params=a.get(C.INVOCATION_PARAMETERS), guard_events=a.get(C.CK_GUARD_EVENTS),
            kind=a.get(C.CK_STEP_KIND),
        )

    def _content(self, out: SpanRows, table: str, text: str, **extra: Any) -> str:
        """Store `text` once under its hash (in `messages` or `blobs`); returns the hash."""
        try:
            data = text.encode("utf-8")  # the usual case: the check and the bytes to hash in one pass
        except UnicodeEncodeError:
            text = storable(text)
            data = text.encode("utf-8")
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        if digest not in self.known:
            self.known.add(digest)
            out.hashes.append(digest)
            column = "json" if table == "messages" else "body"
            out.add(table, hash=digest, **extra, **{column: text})
        return digest


def _ms(start: int | None, end: int | None) -> float | None:
    return (end - start) / 1e6 if end and start else None
