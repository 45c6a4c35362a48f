"""contextkit: context-window management and observability for AI agents.

    import contextkit
    session = contextkit.Session()                  # the default policy
    response = litellm.completion(model=..., messages=session.prepare(messages))
"""

from . import _offline  # noqa: F401  (offline defaults before litellm or tiktoken load)
from .compaction import Compactor
from .config import load_policy, save_policy
from .errors import (
    BudgetExceeded,
    ContextkitError,
    ContextOverflowError,
    InvalidMessagesError,
    LoopDetected,
    PolicyConfigError,
    PruningFailedError,
    ToolUnavailable,
    UnknownHandleError,
)
from .ledger import Segment
from .observer import Observer
from .placeholders import Placeholder
from .policy import Policy, ToolRule
from .presets import PRESETS
from .records import GuardEvent, PrepareReport, StepRecord, ToolRecord
from .restore import RESTORE_TOOL_NAME, restore_tool
from .session import Session

__version__ = "0.1.0"

# Names whose modules import heavier things (litellm): loaded on first use (PEP 562).
_LAZY = {
    "wrap": "contextkit.wrapping",
    "Budget": "contextkit.budget",
    "LoopGuard": "contextkit.loops",
    "CircuitBreaker": "contextkit.breaker",
    "evaluate": "contextkit.evaluation",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'contextkit' has no attribute {name!r}")


__all__ = [
    "Session",
    "Compactor",
    "Policy",
    "ToolRule",
    "Placeholder",
    "PRESETS",
    "Segment",
    "PrepareReport",
    "StepRecord",
    "ToolRecord",
    "GuardEvent",
    "Observer",
    "load_policy",
    "save_policy",
    "restore_tool",
    "RESTORE_TOOL_NAME",
    "wrap",
    "Budget",
    "LoopGuard",
    "CircuitBreaker",
    "evaluate",
    "BudgetExceeded",
    "LoopDetected",
    "ContextkitError",
    "ContextOverflowError",
    "InvalidMessagesError",
    "PolicyConfigError",
    "PruningFailedError",
    "ToolUnavailable",
    "UnknownHandleError",
]
