"""contextkit: context-window management and observability for AI agents.

    import contextkit
    session = contextkit.Session()                  # the default policy
    response = litellm.completion(model=..., messages=session.prepare(messages))
"""

from . import _offline  # noqa: F401  (offline defaults before litellm or tiktoken load)
from .config import load_policy, save_policy
from .errors import (
    ContextkitError,
    InvalidMessagesError,
    PolicyConfigError,
    PruningFailedError,
    UnknownHandleError,
)
from .ledger import Segment
from .policy import Placeholder, Policy, ToolRule
from .presets import PRESETS
from .restore import RESTORE_TOOL_NAME, restore_tool
from .session import PrepareReport, Session

__version__ = "0.1.0"

__all__ = [
    "Session",
    "Policy",
    "ToolRule",
    "Placeholder",
    "PRESETS",
    "Segment",
    "PrepareReport",
    "load_policy",
    "save_policy",
    "restore_tool",
    "RESTORE_TOOL_NAME",
    "ContextkitError",
    "InvalidMessagesError",
    "PolicyConfigError",
    "PruningFailedError",
    "UnknownHandleError",
]
