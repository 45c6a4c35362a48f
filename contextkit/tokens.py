"""Token counting with tiktoken, offline, one encoding per model.

OpenAI model names map to their own encoding (tiktoken's table); every other model is counted
with o200k_base, the closest public BPE to current frontier tokenizers. Counts are made once per
segment by the ledger, so a call that adds two messages never re-tokenizes the rest.
"""

from __future__ import annotations

from functools import cache

import tiktoken

from . import _offline  # noqa: F401  (sets TIKTOKEN_CACHE_DIR before tiktoken loads a file)

DEFAULT_ENCODING = "o200k_base"
MESSAGE_OVERHEAD = 4  # role and separators per chat message (OpenAI's cookbook counts 3-4)


def encoding_name_for(model: str | None) -> str:
    """The tiktoken encoding for a litellm model name ("openai/gpt-4o" -> "o200k_base")."""
    if not model:
        return DEFAULT_ENCODING
    bare = model.rsplit("/", 1)[-1]
    try:
        return tiktoken.encoding_name_for_model(bare)
    except KeyError:
        return DEFAULT_ENCODING


@cache
def _encoding(name: str) -> tiktoken.Encoding:
    try:
        return tiktoken.get_encoding(name)
    except Exception:  # an encoding litellm's wheel does not ship (r50k, gpt2): stay offline
        if name == DEFAULT_ENCODING:
            raise
        return tiktoken.get_encoding(DEFAULT_ENCODING)


class TokenCounter:
    """Counts tokens of text for one model's encoding."""

    def __init__(self, model: str | None = None):
        self.encoding_name = encoding_name_for(model)
        self._enc = _encoding(self.encoding_name)

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._enc.encode_ordinary(text))
