"""`Trajectory`: one recorded agent run, whatever it was read from (trajectories.py loads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ContextkitError, InvalidMessagesError
from ..messages import check_messages


class TrajectoryError(ContextkitError, ValueError):
    """A path given to the evaluation is missing, of an unknown kind, or not a trajectory."""


@dataclass
class Trajectory:
    """One recorded agent run: the messages as the agent sent them, the final assistant turn included."""

    id: str
    messages: list[dict]
    model: str | None = None
    task: str | None = None
    source: Any = None
    meta: dict = field(default_factory=dict)
    path: str | None = None  # where it was read from

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Trajectory:
        """Check the shared format's shape (the engine checks each message when it replays)."""
        if not isinstance(data, dict):
            raise TrajectoryError(f"{where}: expected a JSON object with 'messages', got {type(data).__name__}")
        msgs = data.get("messages")
        if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
            raise TrajectoryError(f"{where}: 'messages' must be a list of message objects")
        try:
            check_messages(msgs)  # the check every request gets, on the whole run at once
        except InvalidMessagesError as e:
            raise TrajectoryError(f"{where}: malformed {e}") from e
        for key, kind in (("model", str), ("task", str), ("meta", dict)):
            if data.get(key) is not None and not isinstance(data[key], kind):
                raise TrajectoryError(f"{where}: {key!r} must be {'a string' if kind is str else 'an object'}, "
                                      f"got {type(data[key]).__name__}")
        tid = data.get("id") or Path(where).stem
        return cls(
            id=str(tid),
            messages=msgs,
            model=data.get("model"),
            task=data.get("task"),
            source=data.get("source"),
            meta=dict(data.get("meta") or {}),
            path=where,
        )

    @property
    def steps(self) -> int:
        """Model calls the replay makes: one before every assistant message but the first message."""
        return sum(1 for i, m in enumerate(self.messages) if i > 0 and m.get("role") == "assistant")
