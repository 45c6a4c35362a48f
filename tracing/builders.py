"""Attribute sets built off the agent's thread, from contextkit's plain records.

The agent thread only captures references (the record, the ledger's segment fields as tuples, the
parent context); everything here (flattening messages into `llm.input_messages.*`, JSON, secret
masking) runs on the tracing worker. A `RunState` remembers, per run, what was already sent out
(originals, edited forms, tool schemas), so each step carries only what changed in
`contextkit.new_segments.*` / `contextkit.edits.*`, while the LLM span stays self-contained.
"""

from __future__ import annotations

import json
import operator
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from contextkit.ledger import Segment
from contextkit.records import PrepareReport, StepRecord, ToolRecord

from . import conventions as C
from . import genai, summary
from . import span_size as Z
from .privacy import REDACTED, Masker

# What the agent thread captures of each segment: the replacement message it is sent as (None: as
# the agent gave it), then the fields conventions.SEGMENT_FIELDS declares. Fields newest last: a
# Segment that lacks the newest ones yet gives shorter tuples, and those read as None here.
SEG_FIELDS = ("sent_message",) + tuple(f.name for f in C.SEGMENT_FIELDS if f.captured)
_I = {name: i for i, name in enumerate(SEG_FIELDS)}


def segment_getter(names: tuple[str, ...], segment_class: type) -> Callable[[Any], tuple]:
    """One C-level call per segment (attrgetter): over every field the engine's Segment has, when the
    ones it lacks are the last (`rule`, until the engine's rule codes land); else a slower getattr
    per field (a missing one reads as None)."""
    have = set(getattr(segment_class, "__dataclass_fields__", ()))
    present = [n for n in names if n in have]
    if present and tuple(present) == names[:len(present)]:
        if len(present) > 1:
            return attrgetter(*present)
        one = attrgetter(present[0])
        return lambda seg: (one(seg),)
    return lambda seg: tuple(getattr(seg, n, None) for n in names)


seg_getter = segment_getter(SEG_FIELDS, Segment)


def _column(cols: list, name: str) -> tuple | list:
    """The captured values of one field (None for each segment when its Segment lacks the field)."""
    i = _I[name]
    return cols[i] if i < len(cols) else [None] * (len(cols[0]) if cols else 0)


def guard_event(m: Masker, ev: Any) -> dict:
    """A guard event as stored and exported: its message quotes tool arguments, so it is masked
    (and left out when inputs are hidden)."""
    d = {k: v for k, v in ev.__dict__.items() if v is not None}
    if "message" in d:
        d["message"] = REDACTED if m.hide_input_text else m.text(d["message"])
    return d


def dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str, separators=(",", ":"))


@dataclass
class RunState:
    """What the worker remembers about one run (dropped when the run ends)."""

    run_id: str
    masker: Masker
    base: dict = field(default_factory=dict)  # attributes every span of the run carries
    known: set = field(default_factory=set)  # handles whose original went out
    segs: dict = field(default_factory=dict)  # handle -> the segment's fields as last sent out
    edits: dict = field(default_factory=dict)  # handle -> the sent_message object last sent out
    tools_obj: Any = None
    tools_attrs: dict = field(default_factory=dict)
    tools_flat: dict = field(default_factory=dict)
    steps: int = 0
    kept: Counter = field(default_factory=Counter)  # rule code -> tool results in the manifest sent whole
    contexts: int = 0  # context spans made
    llm_calls: int = 0  # chat spans made (compaction calls aside)
    since_snapshot: int = 0  # chat spans since the last one that showed the whole (capped) request
    snapshot_step: int | None = None
    prev_sent: list | None = None  # the previous chat call's list (to tell an extension from a rewrite)
    shows: Any = None  # span_size.Shows: each message object rendered once
    system: tuple = ()  # (first system message object, its system_instructions JSON, how many)
    edited: tuple = (0, 0)  # (step, forms edited or reverted at that step's prepare)


# ---------------------------------------------------------------------------- context_prune (CHAIN)


def context_attributes(st: RunState, report: PrepareReport, rows: list[tuple], ledger: Any, policy: str,
                       full_manifest: bool = False, *, full: bool = True, n_segments: int | None = None,
                       every: int = Z.SNAPSHOT_EVERY, cap: int = Z.SPAN_MAX_BYTES) -> dict:
    """The CHAIN span of one `prepare`: decisions, tokens before/after, the manifest's changes, new
    contents, and the decisions in words (`output.value`). `rows`: the segments that changed since the
    previous step (`full`: every segment, when the worker cannot trust its own copy); with
    `full_manifest` (OTLP), every `every`-th span of a run also carries the whole manifest."""
    step = report.step
    m = st.masker
    a = dict(st.base)
    a[C.SPAN_KIND] = C.CHAIN
    a[C.OPERATION] = C.OP_PRUNE
    a[C.CK_STEP] = step
    a[C.CK_POLICY] = policy
    a[C.CK_MESSAGES] = report.messages
    a[C.CK_TOKENS_BEFORE] = report.tokens_before
    a[C.CK_TOKENS_AFTER] = report.tokens_after
    a[C.CK_TOKENS_SAVED] = report.tokens_before - report.tokens_after
    a[C.CK_PREPARE_MS] = float(report.duration_ms)
    if report.pruned:
        a[C.CK_PRUNED_HANDLES] = [h for h, _ in report.pruned]
        a[C.CK_PRUNED_REASONS] = [m.text(r) for _, r in report.pruned]
    if report.fallback:
        a[C.CK_FALLBACK] = report.fallback
    if report.error:
        a[C.CK_ERROR] = m.text(report.error)
        a[C.ERROR_TYPE] = genai.error_type(report.error)
    if report.notes:
        a[C.CK_NOTES] = [m.text(n) for n in report.notes]
    a[C.SEG_COUNT] = len(rows) if n_segments is None else n_segments
    changed = _changes(a, st, rows, step, full)
    new = _contents(a, st, rows, ledger, step) if rows else 0
    if full_manifest and st.segs and st.contexts % max(1, every) == 0:
        _snapshot_manifest(a, st, step, cap // 4)
    st.contexts += 1
    a[C.INPUT_VALUE] = summary.input_text(report, new)
    a[C.INPUT_MIME] = C.TEXT_MIME
    a[C.OUTPUT_VALUE] = summary.decisions_text(report, _readable(changed), st.kept, m.text)
    a[C.OUTPUT_MIME] = C.TEXT_MIME
    return a


def _kept_rule(r: tuple | None) -> str | None:
    """The rule code a row counts under in `RunState.kept` (a tool result in the list, sent whole)."""
    if r is None or r[_I["kind"]] != "tool_result" or r[_I["index"]] < 0:
        return None
    return (r[_I["rule"]] or "new") if r[_I["state"]] in ("kept", "pinned", "restored") else None


def _changes(a: dict, st: RunState, rows: list[tuple], step: int, full: bool) -> list[tuple]:
    """`contextkit.segment_changes.*`: segments new or changed since the previous step, and those
    that left the list (index -1). The store keeps only these, so it grows with the conversation.
    The worker keeps its own copy of the manifest (`st.segs`) and compares only the rows it gets."""
    prev = st.segs
    kept = st.kept
    ih, ii = _I["handle"], _I["index"]
    changed = []
    for r in rows:
        h = r[ih]
        old = prev.get(h)
        if old == r:
            continue
        if r[ii] < 0:
            if old is None:
                continue  # never sent out: nothing to say it left
            del prev[h]
        else:
            prev[h] = r
        _count(kept, _kept_rule(old), -1)
        _count(kept, _kept_rule(r), 1)
        changed.append(r)
    if full and len(prev) > len(rows):  # a whole list: segments it lacks are gone
        here = {r[ih] for r in rows}
        for h in [h for h in prev if h not in here]:
            old = prev.pop(h)
            _count(kept, _kept_rule(old), -1)
            changed.append(old[:ii] + (-1,) + old[ii + 1:])
    if changed:
        _manifest(a, C.SEG_CHANGES, changed, step)
    return changed


def _count(c: Counter, key: str | None, n: int) -> None:
    if key is not None:
        c[key] += n
        if c[key] <= 0:
            del c[key]


def _snapshot_manifest(a: dict, st: RunState, step: int, budget: int) -> None:
    """`contextkit.segments.*`: the whole manifest in list order from the worker's own copy, its newest
    segments only when it is larger than `budget` (`contextkit.segments.first_index` says where it starts)."""
    ii = _I["index"]
    rows = sorted(st.segs.values(), key=lambda r: r[ii])
    shown: dict = {}
    n = len(rows)
    while True:
        shown = {}
        _manifest(shown, C.SEG, rows[len(rows) - n:], step)
        if n <= 1 or Z.attrs_size(shown) <= budget:
            break
        n //= 2
    a.update(shown)
    if n < len(rows):
        a[C.SEG + "first_index"] = rows[len(rows) - n][ii]


def _readable(changed: list[tuple]) -> list[dict]:
    keys = ("handle", "tool_name", "state", "rule", "reason", "tokens", "sent_tokens")
    idx = [(k, _I[k]) for k in keys if k in _I]
    return [{k: (r[i] if i < len(r) else None) for k, i in idx} for r in changed]


def _manifest(a: dict, prefix: str, rows: list[tuple], step: int) -> None:
    """Segment rows as parallel arrays ("" / -1 where a value is missing: arrays hold no nulls)."""
    cols = list(zip(*rows))
    for f in C.SEGMENT_FIELDS:
        if f.name == "age":
            a[prefix + "age"] = [step - v for v in _column(cols, "last_used")]
        elif f.name == "edited":
            a[prefix + "edited"] = [v is not None for v in _column(cols, "sent_message")]
        elif f.kind == "str":
            a[prefix + f.name] = ["" if v is None else str(v) for v in _column(cols, f.name)]
        elif f.kind == "list":
            a[prefix + f.name] = [",".join(v) if v else "" for v in _column(cols, f.name)]
        else:
            a[prefix + f.name] = [-1 if v is None else int(v) for v in _column(cols, f.name)]


def _contents(a: dict, st: RunState, rows: list[tuple], ledger: Any, step: int) -> int:
    """Originals of segments first seen and new edited forms, once each; returns how many are new."""
    hides = st.masker.hides
    new_h, new_m, ed_h, ed_m = [], [], [], []
    reverted = 0
    ih, isent = _I["handle"], _I["sent_message"]
    for r in rows:
        h = r[ih]
        if h not in st.known:
            original = ledger.original(h)
            if original is not None:
                st.known.add(h)
                new_h.append(h)
                new_m.append(dumps(st.masker.message(original, hide_text=hides(original))))
        sent = r[isent]
        if sent is not None and st.edits.get(h) is not sent:
            st.edits[h] = sent
            ed_h.append(h)
            ed_m.append(dumps(st.masker.message(sent, hide_text=hides(sent))))
        elif sent is None and h in st.edits:
            del st.edits[h]  # sent in its original form again (reinstated)
            reverted += 1
    if new_h:
        a[C.NEW_SEG_HANDLES] = new_h
        a[C.NEW_SEG_MESSAGES] = new_m
    if ed_h:
        a[C.EDIT_HANDLES] = ed_h
        a[C.EDIT_MESSAGES] = ed_m
    st.edited = (step, len(ed_h) + reverted)
    return len(new_h)


# ---------------------------------------------------------------------------- chat (LLM)


def llm_attributes(st: RunState, rec: StepRecord, *, full_messages: bool, llm_kind: bool,
                   max_attributes: int | None = None, cap: int = Z.SPAN_MAX_BYTES, every: int = Z.SNAPSHOT_EVERY) -> dict:
    """The span of one model call. `full_messages`: show the request (OpenInference's
    `llm.input_messages.*` and GenAI's `gen_ai.input.messages`, for OTLP viewers) within `cap`
    bytes: a full view every `every` calls, what is new since the previous call between them
    (tracing/span_size.py); `llm_kind`: False when another instrumentation already makes this call's
    LLM span; `max_attributes`: the provider's attribute limit (a user's provider: 128 unless raised)."""
    a = _llm_core(st, rec, full_messages, llm_kind)
    m = st.masker
    sent = rec.messages_sent
    if not (full_messages and not m.hide_input_messages and sent):
        return a
    if st.shows is None:
        st.shows = Z.Shows(m, _flatten_message)
    shows = st.shows
    snapshot, start = _snapshot_or_delta(st, rec, every)
    room = cap - Z.attrs_size(a) - 16 * 1024
    n_sys = _system(a, st, sent, room // 8, snapshot)
    room -= Z.value_size(a.get(C.GEN_AI_SYSTEM_INSTRUCTIONS, ""))
    view = Z.build_view(sent, shows, max(0, room if snapshot else min(room, Z.DELTA_BYTES)), start, markers=snapshot)
    if snapshot:
        where = "every message is in the contextkit trace store (step_messages)"
        st.snapshot_step = rec.step
        shows.keep_only({id(e[2].obj) for e in view.entries if e[0] != "range"})
    else:
        where = (f"the LLM span of step {st.snapshot_step} shows the last full view (contextkit.input_messages.snapshot), "
                 "and every message is in the contextkit trace store")
        a[C.CK_INPUT_SNAPSHOT_STEP] = st.snapshot_step if st.snapshot_step is not None else -1
    a[C.CK_INPUT_SNAPSHOT] = snapshot
    a[C.CK_INPUT_SHOWN] = view.whole
    a[C.CK_INPUT_ELIDED] = view.elided
    msgs = _render(a, view, shows, n_sys, where)
    if max_attributes is not None and len(msgs) + len(a) > max_attributes:
        # The SDK drops the oldest attributes past its limit: keep the core and the latest messages.
        keep = max(0, max_attributes - len(a) - 1)
        msgs = dict(list(msgs.items())[len(msgs) - keep:]) if keep else {}
        a["contextkit.input_messages_truncated"] = True
    msgs.update(a)  # messages first: anything dropped later is a message, never the core
    return msgs


def _snapshot_or_delta(st: RunState, rec: StepRecord, every: int) -> tuple[bool, int]:
    """(a full view?, where the messages new since the previous call start). A full view on a run's
    first call, every `every` calls, and when the list is not the previous one extended."""
    sent = rec.messages_sent
    if rec.kind != "chat":  # a summariser's call: its own request, shown whole
        return True, 0
    prev, st.prev_sent = st.prev_sent, sent
    st.llm_calls += 1
    # An extension: every earlier message is the same object, but for the forms edited at this step
    # (one C-level pass; placeholders handed out earlier are the same objects from step to step).
    edited = st.edited[1] if st.edited[0] == rec.step else 0
    extends = prev is not None and len(sent) >= len(prev) and sum(map(operator.is_, prev, sent)) >= len(prev) - edited
    if prev is None or not extends or st.since_snapshot + 1 >= max(1, every):
        st.since_snapshot = 0
        return True, 0
    st.since_snapshot += 1
    return False, min(len(prev), len(sent) - 1)


def _system(a: dict, st: RunState, sent: list, budget: int, snapshot: bool) -> int:
    """`gen_ai.system_instructions`: the leading system / developer messages (rendered once per run);
    returns how many they are (`gen_ai.input.messages` holds the rest)."""
    first = sent[0] if sent else None
    if not st.system or st.system[0] is not first:
        n, parts = genai.system_instructions([st.masker.message(x) for x in sent[:8]])
        st.system = (first, Z._dumps(parts) if parts else "", n)
    _, text, n = st.system
    if text and (snapshot or Z.text_bytes(text) <= budget):
        a[C.GEN_AI_SYSTEM_INSTRUCTIONS] = text
    return n


def _render(a: dict, view: Z.View, shows: Z.Shows, n_sys: int, where: str) -> dict:
    """The view as `llm.input_messages.K.*` (every entry, system messages too) and as
    `gen_ai.input.messages` (after the system instructions)."""
    oi: dict = {}
    gen: list[str] = []
    for k, e in enumerate(view.entries):
        p = f"{C.INPUT_MESSAGES}.{k}."
        if e[0] == "whole":
            sh = e[2]
            for key, v in sh.oi.items():
                oi[p + key] = v
            if e[1] >= n_sys:
                gen.append(sh.genai)
            continue
        if e[0] == "marker":
            sh = e[2]
            role, text = sh.role, Z.marker_text(shows, sh)
            call_id = sh.obj.get("tool_call_id")
            include = e[1] >= n_sys
        else:
            role, text, call_id, include = Z.ROLE_ELIDED, Z.range_text(e[1], e[2], where), None, True
        oi[p + C.MSG_ROLE] = role
        oi[p + C.MSG_CONTENT] = text
        if call_id:
            oi[p + C.MSG_TOOL_CALL_ID] = str(call_id)
        if include:
            part = ({"type": "tool_call_response", "id": call_id, "response": text} if role == "tool"
                    else {"type": "text", "content": text})
            gen.append(Z._dumps({"role": role, "parts": [part]}))
    a[C.GEN_AI_INPUT_MESSAGES] = "[" + ",".join(gen) + "]"
    return oi


def _llm_core(st: RunState, rec: StepRecord, full_messages: bool, llm_kind: bool) -> dict:
    m = st.masker
    a = dict(st.base)
    a[C.SPAN_KIND] = C.LLM if llm_kind else C.CHAIN
    a[C.OPERATION] = C.OP_CHAT if llm_kind else "contextkit_step"
    if not llm_kind:
        a[C.CK_LLM_SPANS_SUPPRESSED] = True
    a[C.CK_STEP] = rec.step
    a[C.CK_STEP_KIND] = rec.kind
    a[C.MODEL_NAME] = rec.model
    a[C.REQUEST_MODEL] = genai.request_model(rec.model, rec.provider)
    if rec.response_model:
        a[C.RESPONSE_MODEL] = rec.response_model
    response_id = getattr(rec, "response_id", None)
    if response_id:
        a[C.RESPONSE_ID] = str(response_id)
    if rec.provider:
        a[C.PROVIDER] = rec.provider
        a[C.PROVIDER_NAME] = genai.provider_name(rec.provider)
        a[C.SYSTEM] = rec.provider
    params = rec.invocation_params or {}
    if params and not m.hide.hide_llm_invocation_parameters:
        a[C.INVOCATION_PARAMETERS] = dumps(m.value(params))
    for key, attr in (("temperature", C.REQUEST_TEMPERATURE), ("max_tokens", C.REQUEST_MAX_TOKENS), ("top_p", C.REQUEST_TOP_P)):
        v = params.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            a[attr] = v
    a[C.REQUEST_STREAM] = bool(rec.stream)
    a[C.CK_STREAM] = bool(rec.stream)
    a[C.CK_MESSAGES] = len(rec.messages_sent)
    a[C.CK_TOKENS_BEFORE] = rec.tokens_before
    a[C.CK_TOKENS_AFTER] = rec.tokens_after
    a[C.CK_LATENCY_MS] = float(rec.latency_ms)
    if rec.tools and not (m.hide.hide_inputs or m.hide.hide_llm_tools):
        a.update(_tools(st, rec.tools, full_messages))
    out = rec.response_message
    if out:
        masked_out = m.message(out, hide_text=m.hide_output_text, hide_arguments=m.hide_tool_arguments)
        a[C.CK_OUTPUT_MESSAGE] = dumps(masked_out)
        if not m.hide_output_messages:
            _flatten_message(a, f"{C.OUTPUT_MESSAGES}.0.", masked_out)
            if full_messages:
                a[C.GEN_AI_OUTPUT_MESSAGES] = dumps([genai.output_message(masked_out, rec.finish_reason)])
        text = out.get("content")
        if isinstance(text, str) and text:
            a[C.OUTPUT_VALUE] = masked_out.get("content")
            a[C.OUTPUT_MIME] = C.TEXT_MIME
    _usage(a, rec, llm_kind)
    if rec.finish_reason:
        a[C.FINISH_REASONS] = [rec.finish_reason]
        a[C.FINISH_REASON] = rec.finish_reason
    if rec.error:
        a[C.CK_ERROR] = m.text(rec.error)
        a[C.ERROR_TYPE] = genai.error_type(rec.error)
    if rec.guard_events:
        a[C.CK_GUARD_EVENTS] = dumps([guard_event(m, ev) for ev in rec.guard_events])
    return a


def _usage(a: dict, rec: StepRecord, llm_kind: bool) -> None:
    usage = {
        "input_tokens": rec.input_tokens,
        "output_tokens": rec.output_tokens,
        "reasoning_tokens": rec.reasoning_tokens,
        "cache_read_tokens": rec.cache_read_tokens,
        "cache_write_tokens": rec.cache_write_tokens,
    }
    for k, v in usage.items():
        if v is not None:
            a["contextkit.usage." + k] = int(v)
    a[C.CK_USAGE_ESTIMATED] = bool(rec.usage_estimated)
    for k in ("cost_usd", "input_cost_usd", "output_cost_usd", "saved_usd"):
        v = getattr(rec, k)
        if v is not None:
            a["contextkit." + k] = float(v)
    if rec.cost_note:
        a[C.CK_COST_NOTE] = rec.cost_note
    if not llm_kind:
        return  # the other instrumentation's LLM span reports tokens; counting them twice is the bug
    if rec.input_tokens is not None:
        a[C.TOKENS_PROMPT] = a[C.USAGE_INPUT] = int(rec.input_tokens)
    if rec.output_tokens is not None:
        a[C.TOKENS_COMPLETION] = a[C.USAGE_OUTPUT] = int(rec.output_tokens)
    if rec.input_tokens is not None and rec.output_tokens is not None:
        a[C.TOKENS_TOTAL] = int(rec.input_tokens) + int(rec.output_tokens)
    if rec.cache_read_tokens is not None:
        a[C.TOKENS_CACHE_READ] = a[C.USAGE_CACHE_READ] = int(rec.cache_read_tokens)
    if rec.cache_write_tokens is not None:
        a[C.TOKENS_CACHE_WRITE] = a[C.USAGE_CACHE_WRITE] = int(rec.cache_write_tokens)
    if rec.reasoning_tokens is not None:
        a[C.TOKENS_REASONING] = a[C.USAGE_REASONING] = int(rec.reasoning_tokens)
    if rec.input_cost_usd is not None:
        a[C.COST_PROMPT] = float(rec.input_cost_usd)
    if rec.output_cost_usd is not None:
        a[C.COST_COMPLETION] = float(rec.output_cost_usd)
    if rec.cost_usd is not None:
        a[C.COST_TOTAL] = float(rec.cost_usd)


def _tools(st: RunState, tools: list, flatten: bool) -> dict:
    """`contextkit.tools` (the list as JSON, for the store) and, for OTLP viewers, `llm.tools.N.*`."""
    if tools is not st.tools_obj and tools != st.tools_obj:  # usually unchanged: serialise it once per run
        st.tools_obj = tools
        masked = st.masker.value(tools)
        st.tools_attrs = {C.CK_TOOLS: dumps(masked)}
        st.tools_flat = {f"{C.TOOLS}.{i}.{C.TOOL_JSON_SCHEMA}": dumps(t) for i, t in enumerate(masked)}
        st.tools_flat[C.GEN_AI_TOOL_DEFINITIONS] = dumps(genai.tool_definitions(masked))
    return {**st.tools_attrs, **st.tools_flat} if flatten else st.tools_attrs


def _flatten_messages(a: dict, prefix: str, messages: list, m: Masker) -> None:
    for i, msg in enumerate(messages):
        if isinstance(msg, Mapping):
            _flatten_message(a, f"{prefix}.{i}.", m.message(msg, hide_text=m.hides(msg)))


def _flatten_message(a: dict, p: str, msg: Mapping) -> None:
    """One chat message as OpenInference message attributes; reasoning as `reasoning` parts first
    (the order openinference-instrumentation-litellm uses), then the text."""
    role = msg.get("role")
    if role:
        a[p + C.MSG_ROLE] = str(role)
    if msg.get("name"):
        a[p + C.MSG_NAME] = str(msg["name"])
    if msg.get("tool_call_id"):
        a[p + C.MSG_TOOL_CALL_ID] = str(msg["tool_call_id"])
    parts = _reasoning_parts(msg)
    content = msg.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                parts.append(_content_part(part))
    elif parts and isinstance(content, str) and content:
        parts.append({C.PART_TYPE: "text", C.PART_TEXT: content})
    elif isinstance(content, str):
        a[p + C.MSG_CONTENT] = content
    for k, part in enumerate(parts):
        for key, v in part.items():
            a[f"{p}{C.MSG_CONTENTS}.{k}.{key}"] = v
    for j, tc in enumerate(msg.get("tool_calls") or ()):
        if not isinstance(tc, Mapping):
            continue
        q = f"{p}{C.MSG_TOOL_CALLS}.{j}."
        if tc.get("id"):
            a[q + C.CALL_ID] = str(tc["id"])
        fn = tc.get("function") or {}
        if fn.get("name"):
            a[q + C.CALL_NAME] = str(fn["name"])
        args = fn.get("arguments")
        if args is not None:
            a[q + C.CALL_ARGUMENTS] = args if isinstance(args, str) else dumps(args)


def _reasoning_parts(msg: Mapping) -> list[dict]:
    parts = []
    rc = msg.get("reasoning_content")
    if isinstance(rc, str) and rc:
        parts.append({C.PART_TYPE: "reasoning", C.PART_TEXT: rc})
    for b in msg.get("thinking_blocks") or ():
        if isinstance(b, Mapping) and isinstance(b.get("thinking"), str):
            if rc and b["thinking"] == rc:
                continue  # litellm puts Anthropic thinking in both fields
            part = {C.PART_TYPE: "reasoning", C.PART_TEXT: b["thinking"]}
            if isinstance(b.get("signature"), str):
                part[C.PART_SIGNATURE] = b["signature"]
            parts.append(part)
    return parts


def _content_part(part: Mapping) -> dict:
    t = part.get("type")
    if t == "text":
        return {C.PART_TYPE: "text", C.PART_TEXT: str(part.get("text") or "")}
    if t in ("thinking", "redacted_thinking", "reasoning"):
        out = {C.PART_TYPE: "reasoning"}
        text = part.get("thinking") or part.get("text")
        if isinstance(text, str):
            out[C.PART_TEXT] = text
        if isinstance(part.get("signature"), str):
            out[C.PART_SIGNATURE] = part["signature"]
        if isinstance(part.get("data"), str):
            out[C.PART_DATA] = part["data"]
        return out
    if t in ("image_url", "image"):
        url = part.get("image_url")
        url = url.get("url") if isinstance(url, Mapping) else url
        out = {C.PART_TYPE: "image"}
        if isinstance(url, str):
            out["message_content.image.image.url"] = url if not url.startswith("data:") else "data:...(inline image)"
        return out
    return {C.PART_TYPE: str(t or "unknown"), C.PART_TEXT: dumps(dict(part))}


# ---------------------------------------------------------------------------- execute_tool (TOOL)


def tool_start_attributes(st_base: dict, rec: ToolRecord) -> dict:
    """The few attributes set on the agent thread (cheap): everything a nested span may want."""
    a = dict(st_base)
    a[C.SPAN_KIND] = C.TOOL
    a[C.OPERATION] = C.OP_TOOL
    a[C.TOOL_NAME] = rec.name
    a[C.GEN_AI_TOOL_NAME] = rec.name
    a[C.CK_STEP] = rec.step
    if rec.tool_call_id:
        a[C.TOOL_ID] = rec.tool_call_id
        a[C.TOOL_CALL_ID] = rec.tool_call_id
    return a


def tool_end_attributes(st: RunState, rec: ToolRecord) -> dict:
    m = st.masker
    a: dict = {}
    if rec.arguments is not None:
        if m.hide_tool_arguments:
            args = REDACTED
        else:
            args = m.json_text(rec.arguments) if isinstance(rec.arguments, str) else dumps(m.value(rec.arguments))
        a[C.INPUT_VALUE] = a[C.TOOL_CALL_ARGUMENTS] = args
        a[C.INPUT_MIME] = C.JSON_MIME if not isinstance(rec.arguments, str) else C.TEXT_MIME
    if rec.result is not None:
        res = REDACTED if m.hide_tool_result else m.text(rec.result)
        a[C.OUTPUT_VALUE] = a[C.TOOL_CALL_RESULT] = res
        a[C.OUTPUT_MIME] = C.TEXT_MIME
    if rec.error:  # a failed tool's error is its result
        a[C.CK_ERROR] = REDACTED if m.hide_tool_result else m.text(rec.error)
        a[C.ERROR_TYPE] = genai.error_type(rec.error)
    if rec.breaker:
        a[C.CK_BREAKER] = rec.breaker
    if rec.guard_events:
        a[C.CK_GUARD_EVENTS] = dumps([guard_event(m, ev) for ev in rec.guard_events])
    return a
