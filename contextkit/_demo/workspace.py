"""The demo's workspace: a temporary copy of the `invoicer` project (contextkit/demo/project.py),
with a real bug and its failing test, for the agent to fix with real tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .project import FILES

TASK = (
    "Ticket #4127: customers who order exactly 10 units of a product do not get the 5% bulk discount that "
    "docs/pricing.md promises (order of 10 x WID-100 in DE: charged 47.60 EUR, should be 45.22 EUR). "
    "Find the cause, fix it with the smallest sensible change, and make sure the whole test suite passes "
    "(`python -m unittest` from the repository root)."
)


@dataclass
class TestRun:
    passed: bool
    ran: int
    output: str


def create(parent: str | None = None) -> Path:
    """A new temporary directory (under `parent`, else the system's temp dir) holding the project."""
    root = Path(tempfile.mkdtemp(prefix="contextkit-demo-", dir=parent))
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run_tests(root: str | os.PathLike, timeout: float = 120.0) -> TestRun:
    """The project's own test suite, run the way its README says (`python -m unittest`)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "unittest"], cwd=root, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
    )
    m = re.search(r"^Ran (\d+) tests?", done.stdout, re.M)
    return TestRun(done.returncode == 0, int(m.group(1)) if m else 0, done.stdout)


def remove(root: str | os.PathLike) -> None:
    shutil.rmtree(root, ignore_errors=True)
