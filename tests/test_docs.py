"""Docs for pip users: the pages the code refers to ship in the wheel and `contextkit docs` prints
them; the README's store one-liner works while an agent holds the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

from contextkit import Session, tracing

from helpers import REPO, conversation

PAGES = ("policies", "trace-store", "trajectory-format", "benchmarks", "settings")


def test_every_docs_page_the_code_names_exists():
    named = set()
    for root in ("contextkit", "tracing", "viewer"):
        for f in (REPO / root).rglob("*.py"):
            if "_demo" in f.parts:  # the demo's own project has a docs/pricing.md of its own
                continue
            named |= set(re.findall(r"docs/([a-z-]+)\.md", f.read_text()))
    assert named and named <= {p.stem for p in (REPO / "docs").glob("*.md")}, named


def test_the_architecture_page_names_only_modules_that_exist():
    page = (REPO / "docs" / "architecture.md").read_text()
    files = {str(f.relative_to(REPO)) for root in ("contextkit", "tracing", "viewer") for f in (REPO / root).rglob("*.py")}
    dirs = {str(f.parent.relative_to(REPO)) + "/" for f in map(REPO.joinpath, files)}
    named = set(re.findall(r"`((?:[\w]+/)*\w+(?:\.py|/))`", page))
    assert len(named) > 60
    missing = {n for n in named if not any(f == n or f.endswith("/" + n) for f in files | dirs)}
    assert not missing, f"docs/architecture.md names what is not there: {sorted(missing)}"


def test_the_wheel_ships_the_docs_and_contextkit_docs_prints_them(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", ".contextkit", "__pycache__",
                                                             ".pytest_cache", ".hypothesis", "*.duckdb*", ".ruff_cache"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "w"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "w").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for page in PAGES:
        assert f"contextkit/docs/{page}.md" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site), CONTEXTKIT_TRACING="off")
    where = subprocess.run([sys.executable, "-c", "import contextkit; print(contextkit.__file__)"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(site)), where  # the installed copy, not this checkout
    page = subprocess.run([sys.executable, "-m", "contextkit", "docs", "trajectory-format"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert page.returncode == 0, page.stderr
    assert page.stdout == (REPO / "docs" / "trajectory-format.md").read_text()
    listing = subprocess.run([sys.executable, "-m", "contextkit", "docs"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert all(p in listing.stdout for p in PAGES) and str(site) in listing.stdout


def test_the_readme_one_liner_reads_the_store_while_an_agent_holds_it(tmp_path):
    (line,) = [ln for ln in (REPO / "README.md").read_text().splitlines() if ln.startswith('python -c "from contextkit.tracing.store')]
    store = tmp_path / ".contextkit" / "traces.duckdb"
    tracing.configure(db_path=str(store))
    try:
        s = Session(name="one-liner", model="gpt-4o-mini")
        s.completion(messages=conversation(n_tools=1), mock_response="Done.")
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    released = tmp_path / "released"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(4); c.close(); open(sys.argv[2], 'w').write(repr(time.time()))", str(store), str(released)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        import duckdb

        try:  # what the README's one-liner used to do fails now
            duckdb.connect(str(store), read_only=True).close()
            raise AssertionError("the writer does not hold the file")
        except duckdb.IOException as e:
            assert "Conflicting lock" in str(e)
        started = time.time()
        done = subprocess.run(line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        ended = time.time()
    finally:
        holder.wait(30)
    assert done.returncode == 0, done.stderr
    assert "one-liner" in done.stdout and "tokens_saved" in done.stdout
    assert started < float(released.read_text()) < ended  # it started while the file was held, and waited
