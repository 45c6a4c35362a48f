"""The demo's workspace: a temporary copy of the `invoicer` project, for the agent to fix with real tools.

The project is package data (contextkit/_demo/project/, read with importlib.resources, so an
installed wheel carries it): `invoicer`, a billing library with one real bug. Since 0.4.0 the
bulk-discount tiers live in one table (`BULK_TIERS`), and the refactor made every tier start one
unit late (`quantity > threshold`): an order of exactly 10 units gets no 5% discount.
`tests/test_invoice.py` catches it. `invoicer/render.py` keeps its own copy of the tier loop, so
fixing only `discounts.py` makes `tests/test_render.py` fail next: a realistic second round.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .. import settings

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:  # the same class, under its 3.10 name
        from importlib.abc import Traversable

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
    for rel, text in files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def files(source: Traversable | None = None) -> dict[str, str]:
    """The project's files (`source`, else the package's), {relative path: text}, sorted by path;
    bytecode that installing the wheel compiled is left out."""
    out: dict[str, str] = {}

    def walk(node: Traversable, rel: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, f"{rel}{child.name}/")
            elif not child.name.endswith((".pyc", ".pyo")):
                out[rel + child.name] = child.read_text(encoding="utf-8")

    walk(source if source is not None else resources.files(__package__) / "project", "")
    return out


def run_tests(root: str | os.PathLike, timeout: float = 120.0) -> TestRun:
    """The project's own test suite, run the way its README says (`python -m unittest`)."""
    env = settings.environment(PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "unittest"], cwd=root, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
    )
    m = re.search(r"^Ran (\d+) tests?", done.stdout, re.M)
    return TestRun(done.returncode == 0, int(m.group(1)) if m else 0, done.stdout)


def remove(root: str | os.PathLike) -> None:
    shutil.rmtree(root, ignore_errors=True)
