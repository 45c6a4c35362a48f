"""docs/trace-store.md is the store's contract: every view and table it documents lists exactly
the columns of a store the migrations build, and every span attribute the row builder reads is
named in it. (It had drifted: runs.errors, steps.output_hash, tools_hash, contextkit.usage.*.)"""

from __future__ import annotations

import ast
import re

from contextkit.tracing import conventions as C
from contextkit.tracing import migrations
from contextkit.tracing.schema import TABLES, VIEWS

import duckdb
import pytest
from helpers import REPO

DOC = (REPO / "docs" / "trace-store.md").read_text()


@pytest.fixture(scope="module")
def live() -> dict[str, list[str]]:
    con = duckdb.connect(":memory:")
    migrations.migrate(con, ":memory:")
    out = {name: [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
           for name in [*VIEWS, *TABLES, "schema_version"]}
    con.close()
    return out


def _names(cell: str) -> list[str]:
    return [n.strip().strip("`").strip() for n in cell.split(",") if n.strip()]


def documented_views() -> dict[str, list[str]]:
    """Each `### \\`name\\`` section's table: the column names in its first cells."""
    out = {}
    for m in re.finditer(r"^### `(\w+)`[^\n]*\n(.*?)(?=^##)", DOC, re.S | re.M):
        rows = [line.split("|")[1] for line in m.group(2).splitlines() if line.startswith("| ") and "---" not in line]
        out[m.group(1)] = [n for cell in rows[1:] for n in _names(cell)]  # rows[0]: the header
    return out


def documented_tables() -> dict[str, list[str]]:
    section = DOC[DOC.index("## Tables"):]
    section = section[:section.index("\n## ", 1)]
    out = {}
    for line in section.splitlines():
        m = re.match(r"\| `(\w+)` \|.*\| ([^|]+) \|$", line)
        if m:
            out[m.group(1)] = _names(m.group(2))
    return out


def test_every_view_is_documented_with_exactly_its_columns(live):
    views = documented_views()
    assert set(views) == set(VIEWS), "views documented vs defined"
    for name, cols in views.items():
        assert sorted(cols) == sorted(live[name]), name


def test_every_table_is_documented_with_exactly_its_columns(live):
    tables = documented_tables()
    assert set(tables) == set(TABLES) | {"schema_version"}
    for name, cols in tables.items():
        assert cols == live[name], name  # in the table's own order


def test_every_attribute_the_store_reads_is_documented():
    tree = ast.parse((REPO / "tracing" / "rows.py").read_text())
    used = {n.attr for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "C"}
    operations = {C.OP_AGENT, C.OP_CHAT, C.OP_PRUNE, C.OP_TOOL}
    names = {getattr(C, n) for n in used if isinstance(getattr(C, n), str)} - {C.SEG_CHANGES}
    missing = sorted(n for n in names if f"`{n}`" not in DOC)
    assert not missing, missing
    assert operations <= names
    fields = re.search(r"`contextkit\.segment_changes\.<field>` \| .*?\(parallel arrays: ([^;]+);", DOC).group(1)
    assert _names(fields) == [f.name for f in C.SEGMENT_FIELDS]


def test_the_documented_schema_version_is_the_current_one():
    assert f"**Schema version: {migrations.SCHEMA_VERSION}**" in DOC
    for number, step in enumerate(migrations.MIGRATIONS, start=1):
        assert f"{number}: " in DOC[DOC.index("### Schema versions and migrations"):], step.__name__
