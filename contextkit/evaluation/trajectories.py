"""Recorded agent runs to replay, from wherever they are: the shared JSON trajectory format and
runs recorded in a contextkit trace store (`store.py`).

A trajectory file is `{"id", "source", "model", "task", "messages": [OpenAI chat messages], "meta"}`
(../shared/data/trajectories/SOURCES.md); a directory holds one file per trajectory. Every source
yields `Trajectory` objects (`trajectory.py`), so the replay never cares where a run came from:
adding a source is one loader function registered in `_SOURCES`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from .store import trajectories_from_store
from .trajectory import Trajectory, TrajectoryError


def load_json(path: Path) -> list[Trajectory]:
    """One trajectory per .json file; a file holding a JSON list holds several."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise TrajectoryError(f"{path}: cannot read it ({e.strerror or e})") from e
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise TrajectoryError(f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})") from e
    except ValueError as e:
        raise TrajectoryError(f"{path}: not valid JSON ({e})") from e
    if isinstance(data, list):
        return [Trajectory.from_dict(d, f"{path}[{k}]") for k, d in enumerate(data)]
    return [Trajectory.from_dict(data, str(path))]


def load_store(path: Path) -> list[Trajectory]:
    """The runs recorded in a contextkit trace store (`contextkit.tracing`)."""
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
