"""The gateway's settings: one declaration each, read from the environment (a proxy `config.yaml`
sets them under `environment_variables:`) or given to `Gateway(...)` in code.

Tracing has its own settings (`CONTEXTKIT_TRACE_DB`, `CONTEXTKIT_TRACING`, `OTEL_EXPORTER_OTLP_*`,
...: see contextkit/tracing); the gateway's sessions trace themselves as any Session does.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from ..errors import PolicyConfigError

_OFF = ("off", "0", "false", "no", "none", "")


@dataclass(frozen=True)
class Settings:
    """What the gateway does; each field names the environment variable it is read from."""

    policy: Any = "default"  # CONTEXTKIT_POLICY: a preset name or a policy file (.toml/.yaml/.json)
    header: str = "x-contextkit-conversation"  # CONTEXTKIT_CONVERSATION_HEADER: a client's own name for the run
    max_sessions: int = 256  # CONTEXTKIT_PROXY_SESSIONS: live conversations kept in memory (an LRU)
    max_restores: int = 3  # CONTEXTKIT_PROXY_MAX_RESTORES: restore rounds the proxy answers per request
    fail_closed: bool = False  # CONTEXTKIT_FAIL_CLOSED: a handler error fails the request instead of sending it unchanged
    compactor: str | None = None  # CONTEXTKIT_COMPACTOR: a model (through the proxy's litellm) that summarises old turns

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        env = os.environ
        found: dict[str, Any] = {}
        if env.get("CONTEXTKIT_POLICY", "").strip():
            found["policy"] = env["CONTEXTKIT_POLICY"].strip()
        if env.get("CONTEXTKIT_CONVERSATION_HEADER", "").strip():
            found["header"] = env["CONTEXTKIT_CONVERSATION_HEADER"].strip()
        for name, var in (("max_sessions", "CONTEXTKIT_PROXY_SESSIONS"), ("max_restores", "CONTEXTKIT_PROXY_MAX_RESTORES")):
            if env.get(var, "").strip():
                try:
                    found[name] = int(env[var])
                except ValueError:
                    raise PolicyConfigError(f"must be an integer, got {env[var]!r}", var) from None
        if env.get("CONTEXTKIT_COMPACTOR", "").strip():
            found["compactor"] = env["CONTEXTKIT_COMPACTOR"].strip()
        if env.get("CONTEXTKIT_FAIL_CLOSED") is not None:
            found["fail_closed"] = env["CONTEXTKIT_FAIL_CLOSED"].strip().lower() not in _OFF
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise PolicyConfigError(f"unknown gateway setting(s): {', '.join(sorted(unknown))}", "Gateway")
        s = cls(**{**found, **overrides})
        s.check()
        return s

    def check(self) -> None:
        if not isinstance(self.header, str) or not self.header.strip():
            raise PolicyConfigError("must be a header name", "CONTEXTKIT_CONVERSATION_HEADER")
        if not isinstance(self.max_sessions, int) or self.max_sessions < 1:
            raise PolicyConfigError(f"must be at least 1, got {self.max_sessions!r}", "CONTEXTKIT_PROXY_SESSIONS")
        if not isinstance(self.max_restores, int) or self.max_restores < 1:  # what is pruned must come back
            raise PolicyConfigError(f"must be at least 1, got {self.max_restores!r}", "CONTEXTKIT_PROXY_MAX_RESTORES")
