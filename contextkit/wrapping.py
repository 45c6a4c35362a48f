"""`contextkit.wrap(fn)`: any litellm-compatible completion callable, through a session."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from . import calls
from .session import Session


def wrap(fn: Callable[..., Any], session: Session | None = None, **session_kwargs: Any) -> Callable[..., Any]:
    """Wrap a litellm-compatible completion callable (`litellm.completion`, `litellm.acompletion`,
    `router.completion`, ...) so every call goes through a session. The wrapper takes the same
    arguments and returns what `fn` returns; `wrapper.session` is the session.

    `session`: an existing `Session`; otherwise one is made from `session_kwargs` (policy, model,
    budget, loop_guard, prices, tracing, ...), so a bad policy config raises here, at wrap time.
    """
    if not callable(fn):
        raise TypeError(f"wrap() expects a callable such as litellm.completion, got {type(fn).__name__}")
    if session is not None and session_kwargs:
        raise TypeError(f"wrap(): pass either session= or Session arguments ({', '.join(session_kwargs)}), not both")
    if session is None:
        session = Session(**session_kwargs)

    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):  # noqa: B004 - an async __call__ itself

        @functools.wraps(fn)
        async def awrapped(*args: Any, **kwargs: Any) -> Any:
            return await calls.acall(session, fn, _with_positional(args, kwargs))

        awrapped.session = session  # type: ignore[attr-defined]
        return awrapped

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return calls.call(session, fn, _with_positional(args, kwargs))

    wrapped.session = session  # type: ignore[attr-defined]
    return wrapped


def _with_positional(args: tuple, kwargs: dict) -> dict:
    """litellm's signature is completion(model, messages=..., ...): map up to two positionals."""
    if not args:
        return kwargs
    if len(args) > 2:
        raise TypeError(f"completion() takes at most 2 positional arguments (model, messages), got {len(args)}")
    out = dict(kwargs)
    for name, value in zip(("model", "messages"), args):
        if name in out:
            raise TypeError(f"completion() got multiple values for argument {name!r}")
        out[name] = value
    return out
