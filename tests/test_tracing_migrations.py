"""The store's schema moves forward by numbered migrations, applied in order when a writer or a
reader opens the file, and recorded in it. From a store written by contextkit 0.1.0 (schema 1,
tests/fixtures/store_v1.sql: its own DDL and one run, as that release wrote them), from an empty
file, and never backwards: a store from a newer contextkit is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

from contextkit import Session, tracing
from contextkit.tracing import migrations
from contextkit.tracing.schema import SCHEMA_VERSION, TABLES
from contextkit.tracing.store import StoreSchemaError, TraceStore

import duckdb
import pytest
from helpers import conversation
from tracing_agent import replay

V1 = Path(__file__).resolve().parent / "fixtures" / "store_v1.sql"


def v1_store(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(V1.read_text())
    con.close()


def v1_reading(path: Path) -> dict:
    """What schema 1's own views say about its run (read before any migration)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        run = con.execute("SELECT run_id, name, status, steps, tool_calls, tokens_saved FROM runs").fetchall()
        sent = con.execute('SELECT step, list(sent_json ORDER BY "index") FROM step_messages '
                           'GROUP BY step ORDER BY step').fetchall()
    finally:
        con.close()
    return {"run": run, "sent": {step: [json.loads(m) for m in msgs] for step, msgs in sent}}


def live_columns(path: Path) -> dict[str, list[tuple[str, str]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE') "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, typ in rows:
        out.setdefault(table, []).append((column, typ))
    return out


def declared_columns() -> dict[str, list[tuple[str, str]]]:
    return {t: [(c.name, c.sql_type) for c in cols] for t, cols in TABLES.items()}


def recorded(path: Path) -> list[int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    finally:
        con.close()


def test_migrations_are_numbered_small_functions_and_the_schema_version_is_the_last():
    assert SCHEMA_VERSION == len(migrations.MIGRATIONS) >= 3
    assert all(callable(m) and m.__doc__ for m in migrations.MIGRATIONS)


def test_a_v1_store_read_by_a_viewer_is_upgraded_and_keeps_its_run(tmp_path):
    path = tmp_path / "old.duckdb"
    v1_store(path)
    before = v1_reading(path)
    assert recorded(path) == [1]

    store = TraceStore(path)
    [run] = store.runs()  # the first read upgrades the file
    assert recorded(path) == list(range(1, SCHEMA_VERSION + 1))
    assert store.schema_version == SCHEMA_VERSION
    assert (run["run_id"], run["name"], run["status"], run["steps"], run["tool_calls"], run["tokens_saved"]) == before["run"][0]
    assert run["unwritten"] == 0
    for step, sent in before["sent"].items():
        assert store.sent_messages(run["run_id"], step) == sent
    segs = store.segments(run["run_id"], max(before["sent"]))
    assert segs and all(s["rule"] is None for s in segs)  # written before rule codes existed
    assert any(s["state"] == "pruned" for s in segs)
    declared = declared_columns()
    assert {t: c for t, c in live_columns(path).items() if t in declared} == declared


def test_a_v1_store_an_agent_writes_to_is_upgraded_and_holds_both_runs(tmp_path):
    path = tmp_path / "old.duckdb"
    v1_store(path)
    tracing.configure(db_path=str(path))
    try:
        s = Session(name="new-run")
        replay(s, conversation(n_tools=2))
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    assert recorded(path) == list(range(1, SCHEMA_VERSION + 1))
    runs = {r["name"]: r for r in TraceStore(path).runs()}
    assert set(runs) == {"v1-run", "new-run"}
    assert runs["v1-run"]["steps"] == 4 and runs["new-run"]["steps"] == 2


@pytest.mark.parametrize("start", ["missing", "empty_database"])
def test_a_new_store_gets_every_migration_and_exactly_the_declared_schema(tmp_path, start):
    path = tmp_path / "new.duckdb"
    if start == "empty_database":
        duckdb.connect(str(path)).close()
    tracing.configure(db_path=str(path))
    try:
        s = Session()
        replay(s, conversation(n_tools=1))
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    assert recorded(path) == list(range(1, SCHEMA_VERSION + 1))
    declared = declared_columns()
    assert {t: c for t, c in live_columns(path).items() if t != "schema_version"} == declared


def test_a_store_from_a_newer_contextkit_is_a_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "future.duckdb"
    v1_store(path)
    TraceStore(path).runs()  # current
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 7])
    con.close()
    size = path.stat().st_size

    with pytest.raises(StoreSchemaError, match=rf"schema {SCHEMA_VERSION + 7}, newer .* reads up to schema {SCHEMA_VERSION}:"):
        TraceStore(path).runs()
    assert TraceStore(path).schema_version == SCHEMA_VERSION + 7  # what the viewer checks first

    tracing.configure(db_path=str(path))
    try:
        s = Session()
        replay(s, conversation(n_tools=1))
        s.close()
        assert tracing.flush(5) is False  # not written: it says so
        assert "newer" in tracing.current().store_exporter.last_error
    finally:
        tracing.shutdown()
    assert recorded(path)[-1] == SCHEMA_VERSION + 7 and path.stat().st_size == size


def v3_store(path: Path) -> None:
    """A store as schema 3 left it: the v1 fixture, migrations 2 and 3, and a run whose segments
    carry rule codes (the newest column schema 3 had)."""
    v1_store(path)
    con = duckdb.connect(str(path))
    for number, step in enumerate(migrations.MIGRATIONS[1:3], start=2):
        step(con)
        con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number])
    con.execute("UPDATE segment_states SET rule = CASE WHEN state = 'pruned' THEN 'keep_last' ELSE 'new' END")
    con.close()


def test_a_v3_store_gets_flags_kinds_notes_and_breaker_columns_and_keeps_its_run(tmp_path):
    path = tmp_path / "v3.duckdb"
    v3_store(path)
    assert recorded(path) == [1, 2, 3]
    cols = live_columns(path)
    assert "flags" not in dict(cols["segment_states"]) and "kind" not in dict(cols["llm_calls"])
    before = v1_reading(path)

    store = TraceStore(path)
    [run] = store.runs()  # the first read upgrades the file
    assert recorded(path) == list(range(1, SCHEMA_VERSION + 1)) and SCHEMA_VERSION >= 7
    declared = declared_columns()
    assert {t: c for t, c in live_columns(path).items() if t in declared} == declared
    for step, sent in before["sent"].items():
        assert store.sent_messages(run["run_id"], step) == sent
    segs = store.segments(run["run_id"], max(before["sent"]))
    assert {s["rule"] for s in segs if s["state"] == "pruned"} == {"keep_last"}  # schema 3's data stays
    assert all(s["flags"] is None for s in segs)  # written before flags existed
    steps = store.steps(run["run_id"])
    assert steps and all(s["kind"] == "chat" and s["notes"] is None for s in steps)
    assert all(t["breaker"] is None and t["guard_events"] is None for t in store.tool_calls(run["run_id"]))

    tracing.configure(db_path=str(path))  # an agent of this release writes to the upgraded store
    try:
        s = Session(name="after-v3")
        msgs = conversation(n_tools=2)
        msgs[3] = dict(msgs[3], content="")  # an empty tool result: flagged `empty`
        replay(s, msgs)
        s.close()
        assert tracing.flush(10)
    finally:
        tracing.shutdown()
    new = TraceStore(path)
    flags = {r["handle"]: r["flags"] for r in new.segments(s.id, s.step)}
    assert flags[s.ledger.segments[3].handle] == ["empty"]
    assert flags[s.ledger.segments[0].handle] == []
    assert {r["name"] for r in new.runs()} == {"v1-run", "after-v3"}
