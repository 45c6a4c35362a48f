"""The demo agent's tools: real file and shell operations, confined to one workspace directory.

Each tool is a plain function plus its JSON-schema definition (OpenAI format, which litellm
translates for other providers). Results are text, as a model reads them; errors raise and
`Session.run_tool` turns them into an error result the model can act on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import settings

_SKIP_DIRS = {"__pycache__", ".git", ".venv", "node_modules", ".mypy_cache", ".pytest_cache"}
_MAX_READ = 200_000  # characters of one file
_MAX_OUTPUT = 12_000  # characters of a command's output (head and tail kept)
_MAX_MATCHES = 100


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    fn: Callable[..., str]

    @property
    def definition(self) -> dict:
        return {"type": "function", "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


class Toolbox:
    """The tools, bound to `root`: every path is relative to it and may not leave it."""

    def __init__(self, root: str | os.PathLike, command_timeout: float = 60.0):
        self.root = Path(root).resolve()
        self.command_timeout = command_timeout
        self.tools: dict[str, Tool] = {t.name: t for t in self._tools()}

    def definitions(self) -> list[dict]:
        return [t.definition for t in self.tools.values()]

    def get(self, name: str | None) -> Callable[..., str] | None:
        tool = self.tools.get(name or "")
        return tool.fn if tool else None

    # ------------------------------------------------------------------ the tools

    def list_files(self, path: str = ".") -> str:
        base = self._path(path)
        if base.is_file():
            return self._rel(base)
        out = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for f in sorted(filenames):
                if not f.endswith(".pyc"):
                    out.append(self._rel(Path(dirpath) / f))
        return "\n".join(out) if out else f"{path}: no files"

    def read_file(self, path: str) -> str:
        text = self._path(path).read_text(encoding="utf-8", errors="replace")
        if len(text) > _MAX_READ:
            return text[:_MAX_READ] + f"\n[... truncated: the file has {len(text):,} characters]"
        return text

    def grep(self, pattern: str, path: str = ".") -> str:
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"invalid regular expression {pattern!r}: {e}") from None
        base = self._path(path)
        files = [base] if base.is_file() else sorted(self._walk(base))
        hits = []
        for f in files:
            try:
                lines = f.read_text(encoding="utf-8").splitlines()
            except (UnicodeDecodeError, OSError):
                continue
            for n, line in enumerate(lines, 1):
                if rx.search(line):
                    hits.append(f"{self._rel(f)}:{n}:{line}")
                    if len(hits) >= _MAX_MATCHES:
                        return "\n".join(hits) + f"\n[... stopped at {_MAX_MATCHES} matches]"
        return "\n".join(hits) if hits else f"no matches for {pattern!r} in {path}"

    def run_command(self, command: str, timeout: float | None = None) -> str:
        limit = float(timeout) if timeout else self.command_timeout
        env = settings.environment()
        # `python` in a command is the interpreter running contextkit, with or without an active venv
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        try:
            done = subprocess.run(
                command, shell=True, cwd=self.root, env=env, text=True, errors="replace",
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=limit,
            )
        except subprocess.TimeoutExpired as e:
            partial = e.output if isinstance(e.output, str) else (e.output or b"").decode("utf-8", "replace")
            return f"exit code: timeout after {limit:g} s\n{_clip(partial)}"
        return f"exit code: {done.returncode}\n{_clip(done.stdout)}"

    def write_file(self, path: str, content: str) -> str:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return f"wrote {path}: {len(content.splitlines())} lines, {len(content.encode('utf-8')):,} bytes"

    # ------------------------------------------------------------------ plumbing

    def _path(self, path: str) -> Path:
        p = (self.root / path).resolve()
        if p != self.root and self.root not in p.parents:
            raise ValueError(f"{path!r} is outside the workspace")
        return p

    def _rel(self, p: Path) -> str:
        return p.relative_to(self.root).as_posix()

    def _walk(self, base: Path):
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
            for f in filenames:
                if not f.endswith(".pyc"):
                    yield Path(dirpath) / f

    def _tools(self) -> list[Tool]:
        def obj(props: dict, required: list[str]) -> dict:
            return {"type": "object", "properties": props, "required": required}

        path = {"type": "string", "description": "A path relative to the repository root."}
        return [
            Tool("list_files", "List the files under a directory of the repository, recursively.",
                 obj({"path": {**path, "default": "."}}, []), self.list_files),
            Tool("read_file", "Read a whole text file.", obj({"path": path}, ["path"]), self.read_file),
            Tool("grep", "Search files for a regular expression (Python syntax); prints path:line:text for each match.",
                 obj({"pattern": {"type": "string"}, "path": {**path, "default": "."}}, ["pattern"]), self.grep),
            Tool("run_command", "Run a shell command in the repository root; prints its exit code and output (stdout and stderr).",
                 obj({"command": {"type": "string"}, "timeout": {"type": "number", "description": "Seconds (default 60)."}},
                     ["command"]), self.run_command),
            Tool("write_file", "Create or overwrite a file with the given complete content.",
                 obj({"path": path, "content": {"type": "string"}}, ["path", "content"]), self.write_file),
        ]


def _clip(text: Any) -> str:
    text = text or ""
    if len(text) <= _MAX_OUTPUT:
        return text
    head, tail = _MAX_OUTPUT // 3, _MAX_OUTPUT - _MAX_OUTPUT // 3
    return f"{text[:head]}\n[... {len(text) - _MAX_OUTPUT:,} characters cut ...]\n{text[-tail:]}"
