"""`contextkit docs [PAGE]`: the documentation pages installed with contextkit.

The wheel ships docs/*.md as `contextkit/docs/` (pyproject.toml), so a pip user reads the pages the
code and the README refer to (docs/policies.md, ...) without the repository; in a source checkout
they are the repository's docs/ folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ContextkitError

_HERE = Path(__file__).resolve().parent


def docs_dir() -> Path | None:
    """Where the pages are: inside the installed package, else the source checkout's docs/."""
    for d in (_HERE / "docs", _HERE.parent / "docs"):
        if (d / "policies.md").is_file():
            return d
    return None


def pages() -> dict[str, Path]:
    d = docs_dir()
    return {p.stem: p for p in sorted(d.glob("*.md"))} if d else {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("page", nargs="?", help="the page to print (without .md); none: list them")
    parser.add_argument("--path", action="store_true", help="print the page's file path instead of its text")


def run(args: argparse.Namespace) -> int:
    found = pages()
    if not found:
        raise ContextkitError("no documentation pages are installed with this copy of contextkit")
    if args.page is None:
        for name, path in found.items():
            print(f"{name:20} {_title(path)}")
        print(f"\n`contextkit docs PAGE` prints one; they are in {docs_dir()}")
        return 0
    name = args.page.removesuffix(".md")
    if name not in found:
        raise ContextkitError(f"no page {args.page!r}; pages: {', '.join(found)}")
    if args.path:
        print(found[name])
    else:
        sys.stdout.write(found[name].read_text(encoding="utf-8"))
    return 0


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""
