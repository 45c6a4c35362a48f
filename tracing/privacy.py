"""Masking before anything is stored or exported: secrets always, inputs/outputs on request.

Secrets: `contextkit.secrets` finds them (detect-secrets' rules and contextkit's own). Agents
paste these into tool output all the time (`env`, `cat .env`, a failing curl); a trace store is
the last place they should land. Masking is a pass per distinct string, cached per run: a
conversation resends the same strings every step, and a dict lookup of an already-hashed str is
far cheaper than a rescan. The run also remembers every secret it masked, so a piece of one that
turns up later (a placeholder's preview or term list cut from the original, a key without its
prefix) is masked too, whatever it was cut from.

Hiding follows OpenInference's switches, read through openinference-instrumentation's own
`TraceConfig` (its `mask()` is the reference): `..._HIDE_INPUTS` / `..._HIDE_OUTPUTS` hide
`input.value` / `output.value` and the messages; `..._HIDE_INPUT_MESSAGES` /
`..._HIDE_OUTPUT_MESSAGES` drop `llm.input_messages.*` / `llm.output_messages.*`;
`..._HIDE_INPUT_TEXT` / `..._HIDE_OUTPUT_TEXT` redact their texts. contextkit keeps the same
content in its own attributes too (the store's copy of each message, the TOOL span's arguments
and result, the AGENT span's task and answer), so each switch hides those copies as well: any
input switch hides the texts of what was sent (tool results, tool arguments, the task), any
output switch hides what the model returned (its answer, its tool arguments).
`..._HIDE_LLM_INVOCATION_PARAMETERS` and `..._HIDE_LLM_TOOLS` work as in OpenInference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from contextkit import secrets as _secrets

from openinference.instrumentation import TraceConfig

REDACTED = "__REDACTED__"  # OpenInference's REDACTED_VALUE
_CHUNK = 6  # a remembered secret is looked for by its aligned 6-character pieces
_MIN_FRAGMENT = 8  # a piece this long of a secret the run masked is masked wherever it turns up
_OPAQUE = ("type", "id", "tool_use_id", "name", "signature", "cache_control")  # part keys kept as they are


def mask_secrets(text: str) -> str:
    """`text` with every secret we recognise replaced by `[REDACTED <kind>]`."""
    return _secrets.mask(text)


class Masker:
    """Masks strings and messages for one run; remembers what it masked (strings repeat every step)."""

    def __init__(self, secrets: bool = True, hide: TraceConfig | None = None, cache_limit: int = 50_000):
        self.secrets = secrets
        self.hide = hide or TraceConfig()
        self._cache: dict[str, str] = {}
        self._limit = cache_limit
        self._known: dict[str, str] = {}  # secret value -> kind, every one this run masked
        self._pieces: dict[str, list[tuple[str, int]]] = {}  # aligned piece -> (secret, offset)
        self._pieces_rx: re.Pattern | None = None

    # OpenInference switches, as booleans
    @property
    def hide_input_text(self) -> bool:
        h = self.hide
        return bool(h.hide_inputs or h.hide_input_messages or h.hide_input_text)

    @property
    def hide_output_text(self) -> bool:
        h = self.hide
        return bool(h.hide_outputs or h.hide_output_messages or h.hide_output_text)

    def hides(self, message: Any) -> bool:
        """Whether this message's texts are hidden: any input switch hides every message sent; an
        output switch also hides the model's own turns when they are sent back (its answers and
        tool arguments are what it output)."""
        if self.hide_input_text:
            return True
        return self.hide_output_text and isinstance(message, Mapping) and message.get("role") == "assistant"

    @property
    def hide_tool_arguments(self) -> bool:
        """A tool call's arguments are the model's output and the next request's input."""
        return self.hide_input_text or self.hide_output_text

    @property
    def hide_tool_result(self) -> bool:
        """A tool result is the output of a TOOL span and the next request's input."""
        return self.hide_input_text or bool(self.hide.hide_outputs)

    @property
    def hide_input_messages(self) -> bool:
        return bool(self.hide.hide_inputs or self.hide.hide_input_messages)

    @property
    def hide_output_messages(self) -> bool:
        return bool(self.hide.hide_outputs or self.hide.hide_output_messages)

    def text(self, s: Any) -> Any:
        if not self.secrets or not isinstance(s, str):
            return s
        out = self._cache.get(s)
        if out is None:
            out = self._mask(s)
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[s] = out
        return out

    def _mask(self, s: str) -> str:
        learned: list[tuple[str, str]] = []

        def replace(sec: _secrets.Secret) -> str:
            learned.append((s[sec.start:sec.end], sec.kind))
            return _secrets.marker(sec)

        out = _secrets.mask(s, replacement_for=replace)
        if self._pieces_rx is not None:
            out = self._mask_pieces(out)
        if any(len(v) >= _MIN_FRAGMENT and v not in self._known for v, _ in learned):
            for v, kind in learned:
                self._learn(v, kind)
            self._cache.clear()  # strings masked before may hold pieces of the new ones
        return out

    def _learn(self, value: str, kind: str) -> None:
        if len(value) < _MIN_FRAGMENT or value in self._known:
            return
        self._known[value] = kind
        for off in range(0, len(value) - _CHUNK + 1, _CHUNK):
            self._pieces.setdefault(value[off:off + _CHUNK], []).append((value, off))
        alternatives = sorted(self._pieces, key=len, reverse=True)
        self._pieces_rx = re.compile("|".join(map(re.escape, alternatives)))

    def _mask_pieces(self, text: str) -> str:
        """Mask every run of 8+ characters of `text` that is a piece of a secret this run masked:
        any window of it holds one of the secret's aligned 6-character pieces, grown both ways."""
        assert self._pieces_rx is not None
        spans = []
        for m in self._pieces_rx.finditer(text):
            p = m.start()
            for value, off in self._pieces[m.group(0)]:
                a, b = p, p + _CHUNK
                while a > 0 and off - (p - a) > 0 and text[a - 1] == value[off - (p - a) - 1]:
                    a -= 1
                while b < len(text) and off + (b - p) < len(value) and text[b] == value[off + (b - p)]:
                    b += 1
                if b - a >= _MIN_FRAGMENT:
                    spans.append((a, b, self._known[value]))
        if not spans:
            return text
        parts, at = [], 0
        for a, b, kind in sorted(spans):
            if b <= at:
                continue  # inside the piece just masked
            parts += [text[at:max(a, at)], _secrets.marker(_secrets.Secret(a, b, kind))]
            at = b
        parts.append(text[at:])
        return "".join(parts)

    def value(self, v: Any) -> Any:
        """Strings masked, containers walked (tool arguments, invocation parameters)."""
        if isinstance(v, str):
            return v if v.startswith("data:") else self.text(v)  # an inline image is no text
        if isinstance(v, Mapping):
            return {k: self._keyed(k, x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self.value(x) for x in v]
        return v

    def _keyed(self, key: Any, v: Any) -> Any:
        """A value under a key: `{"password": "hunter2"}` is a secret by its key, as `password=hunter2` is."""
        if not (self.secrets and isinstance(key, str) and isinstance(v, str)) or '"' in v or "\n" in v:
            return self.value(v)
        probe = f'{key}="{v}"'
        out = self.text(probe)
        if out != probe and out.startswith(f'{key}="') and out.endswith('"'):
            return out[len(key) + 2:-1]
        return self.value(v)

    def json_text(self, s: Any) -> Any:
        """A JSON document (a tool call's arguments) masked value by value, so it stays valid JSON."""
        if not self.secrets or not isinstance(s, str):
            return s
        try:
            obj = json.loads(s)
        except ValueError:
            return self.text(s)
        if not isinstance(obj, (dict, list)):
            return self.text(s)
        masked = self.value(obj)
        return s if masked == obj else json.dumps(masked, ensure_ascii=False)

    def message(self, m: Mapping, *, hide_text: bool = False, hide_arguments: bool = False) -> dict:
        """A masked copy of a chat message; with `hide_text` its texts (and tool arguments) become
        REDACTED, with `hide_arguments` only its tool calls' arguments."""
        out: dict = {}
        hide_args = hide_text or hide_arguments
        for k, v in m.items():
            if k in ("content", "reasoning_content"):
                out[k] = self._content(v, hide_text)
            elif k == "thinking_blocks" and isinstance(v, list):
                out[k] = [self._part(b, hide_text) for b in v]
            elif k == "tool_calls" and isinstance(v, list):
                out[k] = [self._call(tc, hide_args) for tc in v]
            elif k == "function_call" and isinstance(v, Mapping):
                out[k] = self._function(v, hide_args)
            else:
                out[k] = self.value(v)
        return out

    def _content(self, c: Any, hide: bool) -> Any:
        if isinstance(c, str):
            return REDACTED if hide and c else self.text(c)
        if isinstance(c, list):
            return [self._part(p, hide) for p in c]
        return c

    def _part(self, p: Any, hide: bool) -> Any:
        """A content part, nested ones too (Anthropic's tool_result holds its own content list)."""
        if not isinstance(p, Mapping):
            return p
        q: dict = {}
        for k, v in p.items():
            if k in _OPAQUE:
                q[k] = v
            elif k in ("text", "thinking") and isinstance(v, str):
                q[k] = REDACTED if hide else self.text(v)
            elif k == "content":
                q[k] = self._content(v, hide)
            elif k in ("input", "arguments"):  # a tool_use block's arguments
                q[k] = REDACTED if hide else self.value(v)
            else:
                q[k] = self.value(v)
        return q

    def _call(self, tc: Any, hide: bool) -> Any:
        if not isinstance(tc, Mapping):
            return tc
        q = dict(tc)
        if isinstance(q.get("function"), Mapping):
            q["function"] = self._function(q["function"], hide)
        return q

    def _function(self, fn: Mapping, hide: bool) -> dict:
        q = dict(fn)
        args = q.get("arguments")
        if args is not None:
            q["arguments"] = REDACTED if hide else self.json_text(args) if isinstance(args, str) else self.value(args)
        return q
