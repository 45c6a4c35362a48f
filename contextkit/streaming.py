"""Streams pass through untouched: the caller iterates litellm's own chunks, one by one, as litellm
yields them (sync or async, tool-call deltas included). The step is recorded when the stream ends:
exhausted, failed (a connection cut mid-way: the error is recorded, then re-raised unchanged) or
closed early by the caller.

`RecordingStream` forwards every other attribute to litellm's `CustomStreamWrapper`, so code that
reads e.g. `stream.model` or `stream._hidden_params` keeps working. It is not an instance of
`CustomStreamWrapper` itself: the one visible difference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# on_end(chunks, stream, error, finished, first_chunk_at): record the step; must not raise
OnEnd = Callable[[list, Any, "BaseException | None", bool, "float | None"], None]


class RecordingStream:
    """Iterate it exactly as litellm's stream; the session records the step when it ends."""

    _stream: Any = None
    _ended: bool = True  # until __init__ completes, nothing to record

    def __init__(self, stream: Any, on_end: OnEnd):
        self._stream = stream
        self._on_end = on_end
        self._chunks: list = []
        self._first_at: float | None = None
        self._ended = False

    # ------------------------------------------------------------------ sync

    def __iter__(self) -> RecordingStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._stream)
        except StopIteration:
            self._end(None, True)
            raise
        except BaseException as e:  # a cut connection, a timeout, KeyboardInterrupt: record, then re-raise
            self._end(e, False)
            raise
        self._keep(chunk)
        return chunk

    def close(self) -> None:
        """Stop reading early: the step is recorded with what arrived so far."""
        closer = getattr(self._stream, "close", None)
        try:
            if callable(closer):
                closer()
        finally:
            self._end(None, False)

    # ------------------------------------------------------------------ async

    def __aiter__(self) -> RecordingStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            self._end(None, True)
            raise
        except BaseException as e:  # noqa: BLE001 - includes CancelledError: record, then re-raise
            self._end(e, False)
            raise
        self._keep(chunk)
        return chunk

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        try:
            if callable(closer):
                await closer()
        finally:
            self._end(None, False)

    # ------------------------------------------------------------------ plumbing

    def _keep(self, chunk: Any) -> None:
        if self._first_at is None:
            self._first_at = time.perf_counter()
        self._chunks.append(chunk)

    def abandon(self) -> None:
        """Record the step now if the caller stopped reading without closing (e.g. `break`): the
        session's next call does this, so steps are recorded in order and budgets see them."""
        self._end(None, False)

    def _end(self, error: BaseException | None, finished: bool) -> None:
        if self._ended:
            return
        self._ended = True
        self._on_end(self._chunks, self._stream, error, finished, self._first_at)

    def __getattr__(self, name: str) -> Any:  # only called for names not defined here
        if name.startswith("__") or self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)

    def __repr__(self) -> str:
        return f"RecordingStream({self._stream!r})"

    def __del__(self) -> None:  # a stream dropped half-read is still a step (best effort)
        try:
            self._end(None, False)
        except Exception:  # noqa: BLE001
            pass
