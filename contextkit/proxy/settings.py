"""The gateway's settings, read from the environment (a proxy `config.yaml` sets them under
`environment_variables:`) or given to `Gateway(...)` in code. Each variable is declared once, with
its default, in contextkit/settings.py (docs/settings.md).

Tracing has its own settings (`CONTEXTKIT_TRACE_DB`, `CONTEXTKIT_TRACING`, `OTEL_EXPORTER_OTLP_*`,
...: see contextkit/tracing); the gateway's sessions trace themselves as any Session does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .. import settings as S
from ..errors import PolicyConfigError


@dataclass(frozen=True)
class Settings:
    """What the gateway does; each field names the environment variable it is read from."""

    policy: Any = S.PROXY_POLICY.default  # CONTEXTKIT_POLICY: a preset name or a policy file (.toml/.yaml/.json)
    header: str = S.PROXY_HEADER.default  # CONTEXTKIT_CONVERSATION_HEADER: a client's own name for the run
    max_sessions: int = S.PROXY_SESSIONS.default  # CONTEXTKIT_PROXY_SESSIONS: live conversations kept in memory (an LRU)
    max_restores: int = S.PROXY_MAX_RESTORES.default  # CONTEXTKIT_PROXY_MAX_RESTORES: restore rounds answered per request
    fail_closed: bool = S.PROXY_FAIL_CLOSED.default  # CONTEXTKIT_FAIL_CLOSED: a handler error fails the request
    compactor: str | None = S.PROXY_COMPACTOR.default  # CONTEXTKIT_COMPACTOR: a model that summarises old turns

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        found: dict[str, Any] = {"policy": S.PROXY_POLICY.get(), "header": S.PROXY_HEADER.get(),
                                 "fail_closed": S.PROXY_FAIL_CLOSED.get(), "compactor": S.PROXY_COMPACTOR.get()}
        for name, setting in (("max_sessions", S.PROXY_SESSIONS), ("max_restores", S.PROXY_MAX_RESTORES)):
            try:
                found[name] = setting.get()
            except ValueError:
                raise PolicyConfigError(f"must be an integer, got {setting.raw()!r}", setting.name) from None
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
