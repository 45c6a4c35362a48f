"""The viewer's compare and what-if pages, a run followed while its agent is still writing it, and
the states of a store that cannot be shown (each a message on the page, never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from contextkit.evaluation import evaluate, trajectories_from_store
from contextkit.tracing.store import TraceStore
from contextkit.viewer import composition as comp
from contextkit.viewer import ui

import duckdb
import pytest
from helpers import REPO
from test_viewer import assert_clean, open_app, texts

PAGES = ["views/runs.py", "views/replay.py", "views/compare.py", "views/whatif.py"]


# ---------------------------------------------------------------------- compare


def test_compare_aligns_one_task_under_two_policies_by_step(monkeypatch, viewer_store):
    a, b = viewer_store.ids["default"], viewer_store.ids["none"]
    at = open_app(monkeypatch, viewer_store.path, "views/compare.py", run_id=a)
    assert at.selectbox(key="compare_a").value == a
    # the same task under another policy: the run that finished, not the newer one that broke at its first call
    assert at.selectbox(key="compare_b").value == b != viewer_store.ids["broken"]
    store = TraceStore(viewer_store.path)
    sa, sb = store.steps(a), store.steps(b)
    table = at.dataframe[0].value.set_index("")
    assert table.loc["policy", "A"] == "default" and table.loc["policy", "B"] == "none"
    assert table.loc["tokens sent", "A"] == ui.tokens(sum(s["tokens_after"] for s in sa))
    assert table.loc["tokens sent", "B"] == ui.tokens(sum(s["tokens_after"] for s in sb))
    assert table.loc["cost", "B"] == ui.usd(store.run(b)["cost_usd"]) and table.loc["cost", "B vs A"].startswith("+")
    assert table.loc["saved", "A"] == ui.usd(store.run(a)["saved_usd"]) and table.loc["saved", "B vs A"] == ""
    assert table.loc["cache reads", "A"] == ui.tokens(sum(s["cache_read_tokens"] or 0 for s in sa))
    assert not {"None", "nan"} & set(table.to_numpy().ravel())

    step = 20
    at.select_slider(key=f"compare_step_{a}_{b}").set_value(step).run()
    assert_clean(at)
    page = texts(at)
    for rid in (a, b):
        parts = comp.split(store.segments(rid, step))
        sent = sum(n for c, n in parts.items() if c != comp.PRUNED_AWAY)
        assert f"{sent:,} tokens sent · {parts.get(comp.PRUNED_AWAY, 0):,} pruned away" in page
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert len(specs) == 3 + 4  # three tabs of step-aligned lines, then a bar and an area per run
    legends = [leg for spec in specs for leg in _legends(json.loads(spec))]
    assert legends and all(leg.get("columns", 1) <= 3 for leg in legends)  # half the page wide: 6 columns clipped
    at.selectbox(key="compare_b").select(viewer_store.ids["masking"]).run()
    assert_clean(at)


def test_pages_open_on_the_newest_run_that_is_not_a_stored_baseline():
    import pandas as pd

    # contextkit demo stores its unpruned comparison run after the pruned one: newest first, it comes first
    df = pd.DataFrame({"run_id": ["base", "demo", "old"], "comparison_of": ["demo", None, None]})
    assert ui.first_run(df) == 1
    assert ui.first_run(df.iloc[1:]) == 0
    assert ui.first_run(pd.DataFrame({"run_id": ["only"], "comparison_of": ["x"]})) == 0  # nothing else to open on


# ---------------------------------------------------------------------- what-if


def test_whatif_replays_the_run_under_other_policies_offline(monkeypatch, viewer_store):
    rid = viewer_store.ids["default"]
    at = open_app(monkeypatch, viewer_store.path, "views/whatif.py", run_id=rid)
    assert at.multiselect(key=f"whatif_policies_{rid}").value == ["default", "observation-masking", "anthropic-clear-tool-uses"]
    at.button(key="whatif_go").click().run()
    assert_clean(at)
    table = at.dataframe[0].value.set_index("policy")
    want = evaluate(trajectories_from_store(viewer_store.path, [rid]),
                    ["raw", "default", "observation-masking", "anthropic-clear-tool-uses"])
    assert list(table.index) == want.policies
    for p in want.policies:
        assert table.loc[p, "input_tokens"] == want[p].input_tokens
        assert table.loc[p, "retention"] == pytest.approx(100 * want[p].retention)
        # saved: the input cost with a prompt cache against unpruned (docs/cost.md); the token share is "pruned"
        assert table.loc[p, "saved"] == pytest.approx(100 * (1 - want[p].cache_cost_vs_raw))
        assert table.loc[p, "pruned_share"] == pytest.approx(100 * want[p].saved)
    assert table.loc["raw", "saved_usd"] == 0 and table.loc["default", "saved_usd"] > 0
    assert any("would have saved" in s.value and "input cost" in s.value for s in at.success)
    assert "What happened" in texts(at) and "of the unpruned cost" in texts(at)
    # policies are named in the chart's legend, never by text beside the points (near points' labels overlapped)
    tradeoff = json.loads(next(c.proto.spec for c in at.get("vega_lite_chart") if "evidence retained" in c.proto.spec))
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in tradeoff["layer"]]
    assert "text" not in marks and tradeoff["layer"][0]["encoding"]["color"]["legend"]["orient"] == "bottom"
    assert tradeoff["layer"][0]["encoding"]["color"]["scale"]["domain"] == want.policies

    at.text_area(key="whatif_custom").input("keep_last: 2\nprotect_recent_turns: 0").run()
    at.button(key="whatif_go").click().run()
    assert_clean(at)
    table = at.dataframe[0].value.set_index("policy")
    assert table.loc["custom", "pruned"] > 0 and table.loc["custom", "input_tokens"] < table.loc["raw", "input_tokens"]

    at.text_area(key="whatif_custom").input("keep_last: [").run()
    at.button(key="whatif_go").click().run()
    assert any(e.value.startswith("Custom policy:") for e in at.error) and not at.exception
    at.text_area(key="whatif_custom").input("no_such_field: 3").run()
    at.button(key="whatif_go").click().run()
    assert any("no_such_field" in e.value for e in at.error) and not at.exception


# ---------------------------------------------------------------------- a run being written


def test_a_run_is_followed_while_its_agent_writes_it(monkeypatch, tmp_path):
    """A real agent process writes its trace while the viewer reads the same file: the run shows
    as running with the steps flushed so far, then finished with all of them; the agent is never
    blocked (it exits cleanly with every span stored). The agent pauses after step 6 until the
    viewer has looked, so a loaded machine cannot let it finish first."""
    path = tmp_path / "live.duckdb"
    env = dict(os.environ, CONTEXTKIT_TRACE_DB=str(path), CONTEXTKIT_TRACE_FLUSH_MS="200")
    agent = subprocess.Popen([sys.executable, str(REPO / "tests" / "tracing_agent.py"), "--steps", "24", "--sleep-ms", "20",
                              "--name", "live-agent", "--pause-after", "6"], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in agent.stdout:
            if line.strip() == "paused":
                break
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the paused agent's spans reach the file within a flush interval
            if path.exists() and TraceStore(path).schema_version and [r["steps"] for r in TraceStore(path).runs()] == [6]:
                break
            time.sleep(0.1)
        at = open_app(monkeypatch, path)
        first = at.dataframe[0].value.iloc[0]
        assert first["status"] == ["running"] and first["steps"] == 6
        at.switch_page("views/replay.py").run()
        assert any("Still being written" in i.value for i in at.info)
        seen = at.select_slider(key=f"step_{first['run_id']}").value
        agent.stdin.write("\n")
        agent.stdin.flush()
        out, _ = agent.communicate(timeout=120)
    finally:
        agent.kill() if agent.poll() is None else None
    assert agent.returncode == 0 and "done" in out
    at.switch_page("views/runs.py").run()  # the next rerun reads the grown file (its signature changed)
    final = at.dataframe[0].value.iloc[0]
    assert final["status"] == ["ok"] and final["steps"] == 24 and final["name"] == "live-agent"
    at.switch_page("views/replay.py").run()
    assert not any("Still being written" in i.value for i in at.info)
    assert at.select_slider(key=f"step_{first['run_id']}").value >= seen


# ---------------------------------------------------------------------- stores that cannot be shown


def _empty_store(path) -> None:
    from contextkit.tracing.schema import ddl

    con = duckdb.connect(str(path))
    for stmt in ddl():
        con.execute(stmt)
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.close()


def _newer_store(src, path) -> None:
    shutil.copy(src, path)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (99, now())")  # what a future contextkit would write
    con.close()


@pytest.mark.parametrize("case, expect", [
    ("missing", "No trace store here yet"),
    ("not_a_store", "not a readable trace store"),
    ("no_schema", "The store is empty"),
    ("no_runs", "No runs yet"),
    ("newer", "newer than this viewer"),
    ("off", "Tracing is off"),
])
def test_a_store_that_cannot_be_shown_is_a_message_on_every_page(monkeypatch, tmp_path, viewer_store, case, expect):
    path = tmp_path / "traces.duckdb"
    if case == "not_a_store":
        path.write_text("this is not a database\n")
    elif case == "no_schema":
        duckdb.connect(str(path)).close()
    elif case == "no_runs":
        _empty_store(path)
    elif case == "newer":
        _newer_store(viewer_store.path, path)
    if case == "off":
        monkeypatch.setenv("CONTEXTKIT_TRACE_DB", "off")
        path = ""
    for page in PAGES:
        at = open_app(monkeypatch, path, page)
        shown = [i.value for i in at.info]
        assert any(expect in s for s in shown), (page, shown)


def _legends(node):
    """Every legend definition in a Vega-Lite spec."""
    if isinstance(node, dict):
        if isinstance(node.get("legend"), dict):
            yield node["legend"]
        for v in node.values():
            yield from _legends(v)
    elif isinstance(node, list):
        for v in node:
            yield from _legends(v)
