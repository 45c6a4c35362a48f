"""What the store does when a value, the file or another process gets in the way: an odd value costs
nothing else, a span the store refuses is quarantined where the viewer shows it, and `flush()`
says False until everything is stored. Real DuckDB files, a real second process holding the lock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from contextkit import Session, tracing
from contextkit.tracing.store import TraceStore

import pytest
from helpers import conversation
from tracing_agent import replay

BAD_NAME = os.fsdecode(b"caf\xe9-notes.txt")  # a Latin-1 file name read on a UTF-8 system: '\udce9'
HALF_EMOJI = "\ud83d"  # the first half of a surrogate pair, cut off


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "traces.duckdb"
    tracing.configure(db_path=str(path))
    yield TraceStore(path)
    tracing.shutdown(5)


def test_lone_surrogates_in_a_result_a_name_and_arguments_cost_nothing_else(store):
    msgs = conversation(n_tools=6)
    call = msgs[4]["tool_calls"][0]
    call["function"]["name"] = "read" + HALF_EMOJI
    call["function"]["arguments"] = f'{{"path": "{BAD_NAME}"}}'
    msgs[5] = dict(msgs[5], name=call["function"]["name"], content=f"ls:\n{BAD_NAME}\nsmile {HALF_EMOJI}!")
    s = Session(name="odd-bytes")
    seen = replay(s, msgs)
    s.close()
    assert tracing.flush(10)

    assert store.run(s.id)["steps"] == len(seen) == 6
    assert len(store.steps(s.id)) == 6
    tools = store.tool_calls(s.id)
    assert len(tools) == 6
    odd = tools[1]
    assert odd["name"] == "read\ufffd" and "caf\ufffd-notes.txt" in odd["arguments"]
    assert odd["result"] == "ls:\ncaf\ufffd-notes.txt\nsmile \ufffd!"
    last = store.sent_messages(s.id, 6)
    assert len(last) == len(seen[-1][2])
    # tracing goes on for the rest of the process
    s2 = Session(name="after")
    replay(s2, conversation(n_tools=2))
    s2.close()
    assert tracing.flush(10)
    assert store.run(s2.id)["steps"] == 2


def test_a_span_the_store_refuses_is_quarantined_and_the_rest_of_its_batch_is_stored(store):
    s = Session(name="mixed")
    replay(s, conversation(n_tools=3))
    # Someone else's span, in the same batch, with a value no INTEGER column takes.
    other = tracing.current().provider.get_tracer("user-code")
    with other.start_as_current_span("user span", attributes={"session.id": s.id, "contextkit.step": 2**40}):
        pass
    s.close()
    assert tracing.flush(10) is False  # something could not be stored: flush says so once
    assert tracing.flush(5) is True  # ... and nothing is pending any more

    assert store.run(s.id)["steps"] == 3 and len(store.tool_calls(s.id)) == 3
    assert store.run(s.id)["unwritten"] == 1
    [err] = store.query("SELECT run_id, span_name, spans, error FROM write_errors")
    assert err["run_id"] == s.id and err["span_name"] == "user span" and err["spans"] == 1
    assert "INT32" in err["error"].upper() or "out of range" in err["error"].lower(), err
    assert store.unwritten() == 1


def test_the_runs_page_shows_spans_the_store_could_not_write(store, monkeypatch):
    from test_viewer import open_app

    s = Session(name="with-a-gap")
    replay(s, conversation(n_tools=2))
    other = tracing.current().provider.get_tracer("user-code")
    with other.start_as_current_span("user span", attributes={"session.id": s.id, "contextkit.step": 2**40}):
        pass
    s.close()
    tracing.flush(10)
    at = open_app(monkeypatch, store.path)
    row = at.dataframe[0].value.iloc[0]
    assert row["name"] == "with-a-gap" and row["unwritten"] == 1
    assert any("1 span could not be written" in w.value for w in at.warning), [w.value for w in at.warning]


HOLDER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)  # a reader blocks every writer (field-notes §5)
    print("holding", flush=True)
    sys.stdin.readline()
    con.close()
""")


def test_flush_is_false_while_another_process_holds_the_store(store):
    first = Session(name="before")
    replay(first, conversation(n_tools=1))
    first.close()
    assert tracing.flush(10)  # the file and its schema exist
    exporter = tracing.current().store_exporter
    exporter.lock_timeout_s = 1.0  # each write gives up on the lock after a second
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        s = Session(name="blocked")
        replay(s, conversation(n_tools=3))
        s.close()
        assert tracing.flush(3) is False  # longer than one write's wait: still not stored
        assert exporter.pending_spans > 0
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
    assert tracing.flush(10) is True
    assert exporter.pending_spans == 0
    assert store.run(s.id)["steps"] == 3 and store.run(s.id)["status"] == "ok"


def test_flush_is_false_when_the_store_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    tracing.configure(db_path=str(blocker / "traces.duckdb"))
    try:
        s = Session()
        replay(s, conversation(n_tools=2))
        s.close()
        assert tracing.flush(3) is False
        exporter = tracing.current().store_exporter
        assert exporter.pending_spans > 0 and exporter.last_error
        assert exporter.force_flush(500) is False  # the SpanExporter contract: did it flush?
    finally:
        tracing.shutdown(1)


def test_texts_are_made_storable_and_clean_ones_are_left_as_they_are():
    from contextkit.tracing.rows import storable, storable_column

    assert storable(f"a{BAD_NAME}b") == "acaf\ufffd-notes.txtb"
    assert storable("\ud83d\ude00 ok") == "\U0001F600 ok"  # a pair split into halves is joined again
    assert storable(HALF_EMOJI + "!") == "\ufffd!"
    clean = ["plain", None, "naïve ✓"]
    assert storable_column(clean) is clean
    assert storable_column(["ok", None, 5, "x" + HALF_EMOJI]) == ["ok", None, "5", "x\ufffd"]
