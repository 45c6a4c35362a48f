"""Keep contextkit offline unless the user asks for the network.

litellm fetches its model price map at import unless LITELLM_LOCAL_MODEL_COST_MAP is set,
and tiktoken downloads its BPE files on first use unless TIKTOKEN_CACHE_DIR points at a copy.
litellm's wheel ships cl100k_base, o200k_base and p50k_base, so we point tiktoken there
(field-notes §5). This runs when `contextkit` is imported, so it keeps the promise only if that
happens before `import litellm`.

When litellm came first (and the user did not set LITELLM_LOCAL_MODEL_COST_MAP either way), its
import has already asked the network for the map, and a retry thread of litellm's may still be
asking; nothing contextkit does can take that back. It then puts litellm's bundled map back
through litellm's own API (so costs do not depend on what the network said) and says in one
warning how to stay offline: import contextkit first, or set LITELLM_LOCAL_MODEL_COST_MAP=True.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys

from . import settings

_ADVICE = (
    "contextkit: litellm was imported before contextkit without LITELLM_LOCAL_MODEL_COST_MAP set, so it asked "
    "the network for its model price map (and may retry for a few seconds). contextkit uses litellm's bundled "
    "map. To stay offline, import contextkit before litellm, or set LITELLM_LOCAL_MODEL_COST_MAP=True."
)


def litellm_tokenizer_dir() -> str | None:
    """The folder of BPE files inside litellm's wheel, found without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if not spec or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "litellm_core_utils", "tokenizers")
    return path if os.path.isdir(path) else None


def configure() -> None:
    user_chose = settings.LITELLM_LOCAL_COST_MAP.is_set()
    settings.LITELLM_LOCAL_COST_MAP.setdefault("True")
    tok_dir = litellm_tokenizer_dir()
    if tok_dir:
        tok_dir = settings.TIKTOKEN_CACHE_DIR.setdefault(tok_dir)
        # litellm overwrites TIKTOKEN_CACHE_DIR when it first counts tokens unless this is set.
        settings.CUSTOM_TIKTOKEN_CACHE_DIR.setdefault(tok_dir)
    if not user_chose and "litellm" in sys.modules:
        _after_litellm()


def _after_litellm() -> None:
    """litellm was imported first: use its bundled price map again, and say how to stay offline."""
    try:
        from litellm.litellm_core_utils import get_model_cost_map as cost_map

        info = cost_map.get_model_cost_map_source_info()
        if info.get("is_env_forced"):
            return  # it read the bundled map: nothing reached the network
        if info.get("source") != "local":
            cost_map.adopt_model_cost_map(cost_map.GetModelCostMap.load_local_model_cost_map())
    except Exception:  # noqa: BLE001 - another litellm layout: the advice still holds
        pass
    logging.getLogger("contextkit").warning(_ADVICE)


configure()
