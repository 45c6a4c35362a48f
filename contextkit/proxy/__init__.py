"""contextkit's gateway mode: the litellm proxy callback that prunes every client's requests.

    # config.yaml of `litellm --config config.yaml`
    litellm_settings:
      callbacks: contextkit.proxy.handler

`handler` is a `Gateway` configured from the environment (CONTEXTKIT_POLICY, ...: see
contextkit/proxy/settings.py and docs/gateway.md), made when the proxy first asks for it. For
settings in code, make your own in a module next to the config: `handler = Gateway(policy="...")`.
Needs `pip install 'contextkit-llm[proxy]'`.
"""

from __future__ import annotations

from typing import Any

from .keys import conversation_key
from .settings import Settings

__all__ = ["Gateway", "Settings", "conversation_key", "handler"]

_handler = None


def __getattr__(name: str) -> Any:
    global _handler
    if name == "Gateway":
        from .gateway import Gateway

        return Gateway
    if name == "handler":
        if _handler is None:
            from .gateway import Gateway

            _handler = Gateway()
        return _handler
    raise AttributeError(f"module 'contextkit.proxy' has no attribute {name!r}")
