"""Spans under a size a collector takes (Datadog drops events over 1 MB): `SPAN_MAX_BYTES` by default.

An LLM span shows the request it stands for as a *view*: the newest messages whole, older ones
elided, each with a marker naming the hash the trace store keeps it under, and past a share of the
budget the oldest collapsed into one leading marker. On a snapshot step (the run's first, every
`SNAPSHOT_EVERY`-th, and whenever the list is not the previous one extended) the view may use the
whole budget; on the other steps it shows what is new since the previous call (up to
`DELTA_BYTES`). Nothing is lost locally: the store keeps every message once, from the context spans.

`cap_span` is the last resort on the way out over OTLP: attributes only contextkit's store reads are
left out, and a span still over the cap loses (in this order) message contents of the context span's
deltas (each becomes a marker with its hash), the oldest elements of its parallel arrays, then the
longest strings' middles.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import conventions as C
from . import genai

SPAN_MAX_BYTES = 512 * 1024  # every span, as encoded for OTLP
DELTA_BYTES = 64 * 1024  # what an LLM span between snapshots may spend on the messages new since the last
SNAPSHOT_EVERY = 10  # LLM spans: a full (capped) view of the request every N model calls of a run
_MARKER_SHARE = 8  # at most 1/8 of a view's budget goes to per-message markers; older ones collapse
_MARGIN = 16 * 1024  # room left for what the estimate misses (protobuf framing, events, the resource)
_MARKER_BYTES = 560  # one elided message in both renderings (role, the marker's text and hash, keys)
ROLE_ELIDED = "contextkit"  # the role of the leading marker that stands for collapsed messages


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str, separators=(",", ":"))


def text_bytes(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def value_size(v: Any) -> int:
    """What one attribute value costs encoded (an estimate that errs high for short values)."""
    if isinstance(v, str):
        return text_bytes(v) + 4
    if isinstance(v, (list, tuple)):
        return 4 + sum(value_size(x) + 2 for x in v)
    return 11


def attrs_size(a: Mapping) -> int:
    return sum(len(k) + 6 + value_size(v) for k, v in a.items())


def content_hash(text: str) -> str:
    """The store's hash of a text (rows.content_hash: BLAKE2b-128 of its UTF-8)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# ---------------------------------------------------------------------------- messages as a span shows them


@dataclass(slots=True)
class Shown:
    """One message object as spans show it, made once per run (kept while the object is sent)."""

    obj: Any  # the message (held, so its id stays its own)
    role: str
    genai: str  # its GenAI ChatMessage, JSON (masked)
    oi: dict  # its OpenInference attributes, relative to `llm.input_messages.N.`
    size: int  # both, encoded
    stored: str | None = None  # its JSON as the store keeps it (masked), made when first elided
    hash: str | None = None


class Shows:
    """Per run: each message object sent, rendered once (conversations resend the same objects)."""

    def __init__(self, masker: Any, flatten: Any):
        self.masker = masker
        self._flatten = flatten  # builders._flatten_message
        self._by_id: dict[int, Shown] = {}

    def get(self, msg: Mapping) -> Shown:
        sh = self._by_id.get(id(msg))
        if sh is None or sh.obj is not msg:
            m = self.masker
            masked = m.message(msg, hide_text=m.hides(msg))
            rel: dict = {}
            self._flatten(rel, "", masked)
            g = _dumps(genai.message(masked))
            sh = Shown(msg, str(msg.get("role") or ""), g, rel, text_bytes(g) + attrs_size(rel) + 28 * len(rel))
            self._by_id[id(msg)] = sh
        return sh

    def stored_hash(self, sh: Shown) -> str:
        """The hash the store keeps this message under (its masked JSON, as the context span sent it)."""
        if sh.hash is None:
            m = self.masker
            sh.stored = _dumps(m.message(sh.obj, hide_text=m.hides(sh.obj)))
            sh.hash = content_hash(sh.stored)
        return sh.hash

    def keep_only(self, ids: set[int]) -> None:
        """Forget the objects no longer sent (the cache stays as large as what spans show)."""
        self._by_id = {k: v for k, v in self._by_id.items() if k in ids}

    def __len__(self) -> int:
        return len(self._by_id)


@dataclass
class View:
    """The request as one LLM span shows it: entries in order, each ("whole", index, Shown),
    ("marker", index, Shown) or ("range", first, end) for the collapsed oldest."""

    entries: list
    whole: int = 0
    elided: int = 0
    size: int = 0


def build_view(msgs: list, shows: Shows, budget: int, start: int = 0, markers: bool = True) -> View:
    """Newest messages whole (none before `start`) within `budget` bytes, older ones as markers with
    their store hash while `markers` and their share of the budget allow, the rest collapsed."""
    entries: list = []
    used = 0
    whole = 0
    marker_budget = budget // _MARKER_SHARE if markers else 0
    budget -= marker_budget  # what whole messages may use
    marker_used = 0
    i = len(msgs) - 1
    stop_whole = False
    while i >= 0:
        msg = msgs[i]
        if not isinstance(msg, Mapping):
            i -= 1
            continue
        sh = shows.get(msg) if not stop_whole or marker_used < marker_budget else None
        if sh is None:
            break
        if not stop_whole and i >= start and used + sh.size <= budget:
            entries.append(("whole", i, sh))
            used += sh.size
            whole += 1
        elif not stop_whole and i == len(msgs) - 1:
            # the newest alone is over the budget: a marker (its hash) instead, and older ones may be whole
            entries.append(("marker", i, sh))
            marker_used += _MARKER_BYTES
        else:
            stop_whole = True
            if marker_used + _MARKER_BYTES > marker_budget:
                break
            entries.append(("marker", i, sh))
            marker_used += _MARKER_BYTES
        i -= 1
    if i >= 0:
        entries.append(("range", 0, i + 1))
    entries.reverse()
    return View(entries, whole, len(msgs) - whole, used + marker_used)


def marker_text(shows: Shows, sh: Shown) -> str:
    h = shows.stored_hash(sh)
    return (f"[contextkit: not repeated in this span ({text_bytes(sh.stored or '')} bytes); "
            f"the trace store keeps it as messages.hash {h}]")


def range_text(first: int, end: int, where: str) -> str:
    n = end - first
    return (f"[contextkit: messages {first}-{end - 1} ({n:,} message{'s' if n != 1 else ''}) of this request "
            f"are not repeated in this span; {where}]")


# ---------------------------------------------------------------------------- the last resort, on the way out

# what only contextkit's store reads (the conventions' attributes carry the same for everyone else)
STORE_ONLY = (C.CK_OUTPUT_MESSAGE, C.CK_TOOLS)
_CONTENT_ARRAYS = (C.NEW_SEG_MESSAGES, C.EDIT_MESSAGES)
_ARRAY_GROUPS = (C.SEG_CHANGES, C.SEG, "contextkit.new_segments.", "contextkit.edits.")


def capped_attributes(a: Mapping, cap: int = SPAN_MAX_BYTES) -> tuple[dict, bool]:
    """`a` without the store-only attributes and, if it is still over `cap`, cut down to it.
    Returns the attributes and whether anything beyond the store-only ones was cut."""
    out = {k: v for k, v in a.items() if k not in STORE_ONLY}
    limit = cap - _MARGIN
    size = attrs_size(out)
    if size <= limit:
        return out, False
    for key in _CONTENT_ARRAYS:  # the context span's new contents: oldest first, each to a marker
        values = out.get(key)
        if not values:
            continue
        values = list(values)
        for j, text in enumerate(values):
            if size <= limit:
                break
            if isinstance(text, str) and len(text) > 200:
                marker = f"[contextkit: {text_bytes(text)} bytes not exported; the trace store keeps it as messages.hash {content_hash(text)}]"
                size -= value_size(text) - value_size(marker)
                values[j] = marker
        out[key] = values
    for prefix in _ARRAY_GROUPS:  # parallel arrays: keep the newest elements of each
        if size <= limit:
            break
        keys = [k for k, v in out.items() if k.startswith(prefix) and isinstance(v, (list, tuple))]
        n = max((len(out[k]) for k in keys), default=0)
        while size > limit and n > 1:
            n //= 2
            for k in keys:
                out[k] = list(out[k])[-n:]
            size = attrs_size(out)
        if keys:
            out[prefix + "exported_last"] = n  # only the last n elements of these arrays went out
    while size > limit:  # anything else: the longest strings lose their middles (JSON: the whole value)
        k, v = max(((k, v) for k, v in out.items() if isinstance(v, str)), key=lambda kv: len(kv[1]), default=(None, ""))
        if k is None or len(v) <= 2048:
            break
        note = f"[contextkit: {text_bytes(v):,} bytes not exported (over the span cap); hash {content_hash(v)}]"
        if k in _MESSAGE_LISTS:
            out[k] = _dumps([{"role": ROLE_ELIDED, "parts": [{"type": "text", "content": note}]}])
        elif k in _JSON_VALUES or v[:1] in "[{":
            out[k] = _dumps([{"type": "text", "content": note}] if k == C.GEN_AI_SYSTEM_INSTRUCTIONS else note)
        else:
            keep = max(512, (len(v) - (size - limit)) // 2 - 256)
            out[k] = v[:keep] + "\n" + note + "\n" + v[-keep:]
        size = attrs_size(out)
    return out, True


_MESSAGE_LISTS = (C.GEN_AI_INPUT_MESSAGES, C.GEN_AI_OUTPUT_MESSAGES)
_JSON_VALUES = (C.GEN_AI_SYSTEM_INSTRUCTIONS, C.GEN_AI_TOOL_DEFINITIONS, C.INVOCATION_PARAMETERS, C.METADATA,
                C.CK_GUARD_EVENTS)
