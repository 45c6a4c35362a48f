"""contextkit installs one import namespace: `contextkit`, `contextkit.tracing`, `contextkit.viewer`.
A user's own `tracing.py` or `viewer/` beside their script can never shadow it."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from helpers import REPO

AGENT = """
import contextkit
from contextkit import tracing
s = contextkit.Session(name="shadowed")
s.completion(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}], mock_response="Done.")
s.close()
assert tracing.flush(10)
print(tracing.current().cfg.db_path)
"""


def test_a_users_own_tracing_py_and_viewer_folder_shadow_nothing(tmp_path):
    (tmp_path / "tracing.py").write_text("raise RuntimeError('the user tracing.py was imported')\n")
    (tmp_path / "viewer").mkdir()
    (tmp_path / "viewer" / "__init__.py").write_text("raise RuntimeError('the user viewer/ was imported')\n")
    (tmp_path / "agent.py").write_text(AGENT)
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=str(tmp_path / "t.duckdb"))
    done = subprocess.run([sys.executable, "agent.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from contextkit.tracing.store import TraceStore

    runs = TraceStore(tmp_path / "t.duckdb").runs()
    assert [(r["name"], r["steps"], r["status"]) for r in runs] == [("shadowed", 1, "ok")]
    view = subprocess.run([sys.executable, "-m", "contextkit", "view", "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert view.returncode == 0 and "trace store" in view.stdout, view.stderr


def test_the_wheel_holds_only_contextkit(tmp_path):
    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", ".contextkit", "__pycache__",
                                                             ".pytest_cache", ".hypothesis", "*.duckdb*"))
    out = tmp_path / "wheel"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"contextkit"}
    for must in ("contextkit/tracing/store.py", "contextkit/viewer/app.py", "contextkit/viewer/views/replay.py"):
        assert must in names
    # the demo's project is package data: every file of it, and nothing at contextkit/demo
    project = REPO / "contextkit" / "_demo" / "project"
    shipped = {f"contextkit/_demo/project/{f.relative_to(project).as_posix()}" for f in project.rglob("*")
               if f.is_file() and "__pycache__" not in f.parts}
    assert len(shipped) >= 19 and "contextkit/_demo/project/tests/test_invoice.py" in shipped
    assert shipped <= set(names), sorted(shipped - set(names))
    assert not [n for n in names if n.startswith("contextkit/demo/")]


# ---------------------------------------------------------------------------- no import cycles

PACKAGES = {"contextkit": REPO / "contextkit", "contextkit.tracing": REPO / "tracing", "contextkit.viewer": REPO / "viewer"}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg, root in PACKAGES.items():
        for f in root.rglob("*.py"):
            rel = f.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg, *parts])
            if name in out and f.name != "__init__.py":
                continue
            out[name] = f
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `name` imports anywhere (functions included), but not under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([mod] if mod else []))
            # `from pkg import mod` depends on the module; `from pkg import name` on the package
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                targets = [node.args[0].value]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def test_no_import_cycles_between_modules():
    mods = _modules()
    known = set(mods)
    # A package's __init__ is a node like any module (`from contextkit import tracing` depends on
    # what tracing/__init__.py imports); cycles through the top package's __init__, which only
    # re-exports the public names, are left aside as the issue says.
    graph = {m: _imports(m, p, known) - {"contextkit"} for m, p in mods.items() if m != "contextkit"}
    cycles = []
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
