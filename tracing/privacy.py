"""Masking before anything is stored or exported: secrets always, inputs/outputs on request.

Secrets: API keys of the major model and cloud providers, bearer tokens, JWTs, AWS keys, private
key blocks, passwords in URLs. Agents paste these into tool output all the time (`env`, `cat
.env`, a failing curl); a trace store is the last place they should land. Masking is a regex pass
per distinct string, cached per run: a conversation resends the same strings every step, and a
dict lookup of an already-hashed str is far cheaper than a rescan.

Hiding follows OpenInference's switches (`OPENINFERENCE_HIDE_INPUTS`, `..._HIDE_OUTPUTS`,
`..._HIDE_INPUT_MESSAGES`, `..._HIDE_OUTPUT_MESSAGES`, `..._HIDE_INPUT_TEXT`,
`..._HIDE_OUTPUT_TEXT`, `..._HIDE_LLM_INVOCATION_PARAMETERS`, `..._HIDE_LLM_TOOLS`), read through
openinference-instrumentation's own `TraceConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from openinference.instrumentation import TraceConfig

REDACTED = "__REDACTED__"  # OpenInference's REDACTED_VALUE

# (kind, pattern, fragments): a pattern runs only on text whose lowercase form holds one of its
# fragments (a C-speed substring test), since one big alternation rescans every position of every
# string. A group named `k_<kind>` is a prefix kept in clear ("api_key=", "Bearer ").
_PATTERNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("private_key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
     ("private key",)),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}", ("sk-ant-",)),
    ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", ("sk-",)),
    ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}", ("aiza",)),
    ("google_oauth_token", r"\bya29\.[0-9A-Za-z_\-]{20,}", ("ya29.",)),
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", ("akia", "asia", "abia", "acca")),
    ("aws_secret_key", r"(?P<k_aws_secret_key>(?i:aws_secret_access_key)[\"']?\s*[=:]\s*[\"']?)[A-Za-z0-9/+=]{40}",
     ("aws_secret_access_key",)),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
     ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_\-]{20,}", ("glpat-",)),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", ("xox",)),
    ("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}", ("sk_live_", "sk_test_", "rk_live_", "rk_test_")),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}", ("hf_",)),
    ("groq_key", r"\bgsk_[A-Za-z0-9]{40,}", ("gsk_",)),
    ("xai_key", r"\bxai-[A-Za-z0-9]{40,}", ("xai-",)),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", ("eyj",)),
    ("bearer_token", r"(?P<k_bearer_token>(?i:bearer)\s+)[A-Za-z0-9._~+/\-]{12,}=*", ("bearer",)),
    ("url_password", r"(?P<k_url_password>://[^/\s:@]{1,256}:)[^@\s/]{1,256}(?=@)", ("://",)),
    (
        "secret_assignment",
        r"(?P<k_secret_assignment>(?<![A-Za-z0-9])(?i:api[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token"
        r"|client[_-]?secret|password|passwd)[\"']?\s*[:=]\s*[\"']?)"
        # a value, not code: 8+ characters with a digit, no brackets ("api_key: Optional[str]" stays)
        r"(?!\[REDACTED)(?=[^\s\"',;()\[\]{}]*\d)[^\s\"',;()\[\]{}]{8,}",
        ("key", "token", "secret", "passw"),
    ),
]
_COMPILED = [(kind, re.compile(pattern), frags) for kind, pattern, frags in _PATTERNS]


def mask_secrets(text: str) -> str:
    """`text` with every secret we recognise replaced by `[REDACTED <kind>]`."""
    if not text:
        return text
    low = text.lower()
    for kind, rx, frags in _COMPILED:
        if any(f in low for f in frags):
            key = "k_" + kind
            text = rx.sub(lambda m, key=key, kind=kind: f"{m.groupdict().get(key) or ''}[REDACTED {kind}]", text)
    return text


class Masker:
    """Masks strings and messages for one run; remembers what it masked (strings repeat every step)."""

    def __init__(self, secrets: bool = True, hide: TraceConfig | None = None, cache_limit: int = 50_000):
        self.secrets = secrets
        self.hide = hide or TraceConfig()
        self._cache: dict[str, str] = {}
        self._limit = cache_limit

    # OpenInference switches, as booleans
    @property
    def hide_input_text(self) -> bool:
        h = self.hide
        return bool(h.hide_inputs or h.hide_input_messages or h.hide_input_text)

    @property
    def hide_output_text(self) -> bool:
        h = self.hide
        return bool(h.hide_outputs or h.hide_output_messages or h.hide_output_text)

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
            out = mask_secrets(s)
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[s] = out
        return out

    def value(self, v: Any) -> Any:
        """Strings masked, containers walked (tool arguments, invocation parameters)."""
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, Mapping):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self.value(x) for x in v]
        return v

    def message(self, m: Mapping, *, hide_text: bool = False) -> dict:
        """A masked copy of a chat message; with `hide_text` its texts become REDACTED."""
        out: dict = {}
        for k, v in m.items():
            if k in ("content", "reasoning_content"):
                out[k] = self._content(v, hide_text)
            elif k == "thinking_blocks" and isinstance(v, list):
                out[k] = [self._part(b, hide_text) for b in v]
            elif k == "tool_calls" and isinstance(v, list):
                out[k] = [self._call(tc, hide_text) for tc in v]
            elif k == "function_call" and isinstance(v, Mapping):
                out[k] = self._function(v, hide_text)
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
        if not isinstance(p, Mapping):
            return p
        q = dict(p)
        for key in ("text", "thinking"):
            if isinstance(q.get(key), str):
                q[key] = REDACTED if hide else self.text(q[key])
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
            q["arguments"] = REDACTED if hide else self.value(args)
        return q
