"""Keep contextkit offline unless the user asks for the network.

litellm fetches its model price map at import unless LITELLM_LOCAL_MODEL_COST_MAP is set,
and tiktoken downloads its BPE files on first use unless TIKTOKEN_CACHE_DIR points at a copy.
litellm's wheel ships cl100k_base, o200k_base and p50k_base, so we point tiktoken there
(field-notes §5). This module must run before litellm or tiktoken are imported.
"""

from __future__ import annotations

import importlib.util
import os


def litellm_tokenizer_dir() -> str | None:
    """The folder of BPE files inside litellm's wheel, found without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if not spec or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "litellm_core_utils", "tokenizers")
    return path if os.path.isdir(path) else None


def configure() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    tok_dir = litellm_tokenizer_dir()
    if tok_dir:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", tok_dir)
        # litellm overwrites TIKTOKEN_CACHE_DIR when it first counts tokens unless this is set.
        os.environ.setdefault("CUSTOM_TIKTOKEN_CACHE_DIR", os.environ["TIKTOKEN_CACHE_DIR"])


configure()
