"""What litellm's bundled model map says about a model (offline: see _offline)."""

from __future__ import annotations

from functools import lru_cache

from . import _offline  # noqa: F401


@lru_cache(maxsize=256)
def context_window(model: str) -> int | None:
    """The model's max input tokens from litellm's model info, or None if litellm does not know it."""
    info = model_info(model)
    if info is None:
        return None
    return info.get("max_input_tokens") or info.get("max_tokens")


@lru_cache(maxsize=256)
def model_info(model: str) -> dict | None:
    """litellm's model info (prices, window) for a model name, or None if litellm does not know it."""
    import litellm  # 3-4 s to import: only when a policy or the viewer needs it

    litellm.suppress_debug_info = True  # else an unknown model prints litellm's provider list to stdout
    try:
        return dict(litellm.get_model_info(model))
    except Exception:
        return None
