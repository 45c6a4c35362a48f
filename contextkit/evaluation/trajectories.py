"""Recorded agent runs to replay: the shared JSON trajectory format and, through `store.py`, runs
recorded in a contextkit trace store.

A trajectory file is `{"id", "source", "model", "task", "messages": [OpenAI chat messages], "meta"}`
(../shared/data/trajectories/SOURCES.md); a directory holds one file per trajectory. Every source
yields `Trajectory` objects, so the replay never cares where a run came from: adding a source is
one loader function registered in `_SOURCES`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ContextkitError


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
    def from_dict(cls, data: Any, where: str) -> "Trajectory":
        """Check the shared format's shape (the engine checks each message when it replays)."""
        if not isinstance(data, dict):
            raise TrajectoryError(f"{where}: expected a JSON object with 'messages', got {type(data).__name__}")
        msgs = data.get("messages")
        if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
            raise TrajectoryError(f"{where}: 'messages' must be a list of message objects")
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


def load_json(path: Path) -> list[Trajectory]:
    """One trajectory per .json file; a file holding a JSON list holds several."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TrajectoryError(f"{path}: cannot read it as JSON ({e})") from e
    if isinstance(data, list):
        return [Trajectory.from_dict(d, f"{path}[{k}]") for k, d in enumerate(data)]
    return [Trajectory.from_dict(data, str(path))]


def load_store(path: Path) -> list[Trajectory]:
    """The runs recorded in a contextkit trace store (the `tracing` package)."""
    from .store import trajectories_from_store

    return trajectories_from_store(path)


# suffix -> loader; a directory is read as its *.json files (sorted, as the judge reads them)
_SOURCES: dict[str, Callable[[Path], list[Trajectory]]] = {
    ".json": load_json,
    ".duckdb": load_store,
}


def load_trajectories(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Trajectory]:
    """Trajectories from files and directories (JSON trajectories, trace stores), in the order given."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Trajectory] = []
    for p in map(Path, paths):
        out.extend(_load_one(p))
    return out


def _load_one(p: Path) -> list[Trajectory]:
    if p.is_dir():
        files = sorted(_directory_files(p))
        if not files:
            raise TrajectoryError(f"{p}: no trajectory files (*{', *'.join(_SOURCES)}) in this directory")
        return [t for f in files for t in _SOURCES[f.suffix](f)]
    if not p.exists():
        raise TrajectoryError(f"{p}: no such file or directory")
    loader = _SOURCES.get(p.suffix)
    if loader is None:
        raise TrajectoryError(f"{p}: unknown kind of file (expected {', '.join(_SOURCES)} or a directory)")
    return loader(p)


def _directory_files(directory: Path) -> list[Path]:
    """Trajectory files directly inside a directory: *.json (and trace stores)."""
    return [f for f in directory.iterdir() if f.is_file() and f.suffix in _SOURCES]
