"""contextkit's exceptions. Caller mistakes are ValueErrors, so existing handlers catch them."""

from __future__ import annotations


class ContextkitError(Exception):
    """Base class of every error contextkit raises on its own."""


class InvalidMessagesError(ContextkitError, ValueError):
    """The messages given to `Session.prepare` break the chat format.

    `index` is the position of the offending message (None when the problem is the list itself).
    """

    def __init__(self, problem: str, index: int | None = None):
        self.problem = problem
        self.index = index
        where = f"messages[{index}]: " if index is not None else "messages: "
        super().__init__(where + problem)


class PolicyConfigError(ContextkitError, ValueError):
    """A policy config names an unknown preset, key or tool rule, or a value of the wrong type."""

    def __init__(self, problem: str, where: str | None = None):
        self.problem = problem
        self.where = where
        super().__init__(f"{where}: {problem}" if where else problem)


class UnknownHandleError(ContextkitError, KeyError):
    """`Session.restore` was given a handle this session never issued."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown handle"


class PruningFailedError(ContextkitError, RuntimeError):
    """An internal error while pruning, raised only with `fail_closed=True` (else the request goes unchanged)."""


class BudgetExceeded(ContextkitError):
    """A session budget would be crossed by the next call (raised before the call is made)."""

    def __init__(self, message: str, event=None):
        super().__init__(message)
        self.event = event


class LoopDetected(ContextkitError):
    """The agent made the same tool call with the same arguments and result too many times."""

    def __init__(self, message: str, event=None):
        super().__init__(message)
        self.event = event


class ContextOverflowError(ContextkitError):
    """The request cannot fit the model's context window, even pruned, cut and compacted: raised
    before anything is sent. `needed`: tokens the call would take (input and output); `window`."""

    def __init__(self, needed: int, window: int, output: int = 0):
        self.needed, self.window, self.output = needed, window, output
        super().__init__(
            f"the request needs {needed:,} tokens ({needed - output:,} input + {output:,} output reserved) and the "
            f"model's context window is {window:,}: it does not fit even with every tool result pruned or cut"
            " (a compactor, Session(compactor=...), can summarise old turns; a smaller max_tokens leaves more room)"
        )


class ToolUnavailable(ContextkitError):
    """A tool's circuit breaker is open: `session.tool(...)` does not run it (`session.run_tool`
    answers the model instead). `tool`, `until` (epoch seconds) and `message` (what the model is told)."""

    def __init__(self, message: str, tool: str, until: float, event=None):
        super().__init__(message)
        self.tool = tool
        self.until = until
        self.event = event
