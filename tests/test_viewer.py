"""The viewer's runs and replay pages, run headless (Streamlit's AppTest) over a store written by
real traced runs (the `viewer_store` fixture: shared trajectories driven through Session.completion
against a local OpenAI-compatible server). Every figure on the page is checked against the store."""

from __future__ import annotations

from contextkit.tracing.store import TraceStore
from contextkit.viewer import composition as comp
from contextkit.viewer import ui
from contextkit.viewer.safe import markdown_html

import pytest
from helpers import REPO
from streamlit.testing.v1 import AppTest

APP = str(REPO / "viewer" / "app.py")


def open_app(monkeypatch, path, page: str | None = None, run_id: str | None = None) -> AppTest:
    monkeypatch.setenv("CONTEXTKIT_VIEW_STORE", str(path))
    at = AppTest.from_file(APP, default_timeout=90)
    if run_id:
        at.session_state[ui.SELECTED] = run_id
    at.run()
    if page:
        at.switch_page(page).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    """No traceback and no read failure turned into a message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if "Could not show" in e.value]


def same(shown, stored) -> bool:
    """Equal figures; a missing one (None in the store, NaN in a table) only matches a missing one."""
    if stored is None or shown is None or shown != shown:
        return (stored is None) and (shown is None or shown != shown)
    return shown == pytest.approx(stored)


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.code]
                     + [h.value for h in at.html])  # model text is shown with st.html (viewer/safe.py)


def charts(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("vega_lite_chart")]


# ---------------------------------------------------------------------- runs


def test_runs_page_lists_every_run_with_cost_savings_and_guard_events(monkeypatch, viewer_store):
    at = open_app(monkeypatch, viewer_store.path)
    store = TraceStore(viewer_store.path)
    runs = {r["run_id"]: r for r in store.runs()}
    table = at.dataframe[0].value
    assert set(table["run_id"]) == set(runs) == set(viewer_store.ids.values())
    for row in table.to_dict("records"):
        r = runs[row["run_id"]]
        for k in ("steps", "input_tokens", "output_tokens", "cost_usd", "tokens_saved", "saved_usd"):
            assert same(row[k], r[k]), (k, row[k], r[k])
        assert row["status"] == [{"ok": "ok", "error": "error", "open": "running"}[r["status"]]]
        assert len(row["context"]) == r["steps"]  # the sparkline: tokens sent per step
    by_role = {role: table[table["run_id"] == rid].iloc[0] for role, rid in viewer_store.ids.items()}
    assert by_role["reasoning"]["guard_events"] == 3  # the loop guard warned twice, the budget once (the restored result stays)
    assert by_role["none"]["tokens_saved"] == 0 < by_role["default"]["tokens_saved"]
    assert by_role["open"]["status"] == ["running"] and by_role["default"]["duration_s"] > 0
    # "Saved %": saved as a share of what the run would have cost unpruned (docs/cost.md), never a token share
    d = runs[viewer_store.ids["default"]]
    assert by_role["default"]["saved_pct"] == pytest.approx(100 * d["saved_usd"] / (d["cost_usd"] + d["saved_usd"]))
    assert by_role["default"]["saved_pct"] != pytest.approx(100 * d["tokens_saved"] / d["tokens_before"], abs=1)
    assert by_role["broken"]["saved_pct"] != by_role["broken"]["saved_pct"]  # no price: missing, shown as a dash
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Runs"] == "7" and tiles["Steps"] == f"{sum(r['steps'] for r in runs.values()):,}"
    assert tiles["Cost"] == ui.usd(sum(r["cost_usd"] or 0 for r in runs.values()))
    assert tiles["Saved"] == ui.usd(sum(r["saved_usd"] or 0 for r in runs.values()))
    saved = next(m for m in at.metric if m.label == "Saved")
    assert saved.proto.delta.endswith("of the unpruned cost")


def test_runs_page_searches_filters_and_sorts(monkeypatch, viewer_store):
    ids = viewer_store.ids
    at = open_app(monkeypatch, viewer_store.path)
    at.text_input(key="runs_search").input("django").run()
    assert set(at.dataframe[0].value["run_id"]) == {ids["default"], ids["none"], ids["broken"]}
    at.multiselect(key="runs_policy").select("none").run()
    assert list(at.dataframe[0].value["run_id"]) == [ids["none"]]
    at.text_input(key="runs_search").input("").run()
    at.multiselect(key="runs_policy").unselect("none").run()
    at.multiselect(key="runs_status").select("open").run()
    assert list(at.dataframe[0].value["run_id"]) == [ids["open"]]
    at.multiselect(key="runs_status").unselect("open").run()
    at.selectbox(key="runs_sort").select("Cost").run()
    costs = list(at.dataframe[0].value["cost_usd"])
    assert costs == sorted(costs, reverse=True) and at.dataframe[0].value.iloc[0]["run_id"] == ids["masking"]
    at.text_input(key="runs_search").input("no such run").run()
    assert at.dataframe[0].value.empty and "0 of 7 runs" in texts(at)
    assert_clean(at)


def test_runs_page_opens_the_replay_of_the_picked_run(monkeypatch, viewer_store):
    rid = viewer_store.ids["reasoning"]
    at = open_app(monkeypatch, viewer_store.path, run_id=rid)
    at.button(key="open_replay").click().run()
    assert_clean(at)
    assert at.selectbox(key="replay_run").value == rid
    assert "repo-inspector" in texts(at)


# ---------------------------------------------------------------------- replay


def test_replay_scrubs_to_a_pruning_step_and_expands_the_placeholder(monkeypatch, viewer_store):
    rid = viewer_store.ids["default"]
    store = TraceStore(viewer_store.path)
    pruned = [d for d in store.decisions(rid) if d["action"] == "pruned"]
    step, handle = pruned[0]["step"], pruned[0]["handle"]
    at = open_app(monkeypatch, viewer_store.path, "views/replay.py", run_id=rid)
    steps = store.steps(rid)
    assert at.select_slider(key=f"step_{rid}").value == steps[-1]["step"]  # opens on the latest step
    at.select_slider(key=f"step_{rid}").set_value(step).run()
    assert_clean(at)

    row = next(s for s in steps if s["step"] == step)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Context sent"] == ui.tokens(row["tokens_after"])
    assert tiles["Without contextkit"] == ui.tokens(row["tokens_before"])
    assert tiles["Step cost"] == ui.usd(row["cost_usd"])
    assert tiles["Cumulative cost"] == ui.usd(sum(s["cost_usd"] or 0 for s in steps if s["step"] <= step))
    page = texts(at)
    assert "pruned" in page and pruned[0]["reason"] in page  # what changed since the previous step

    # the composition bar: what was sent by category, against deepseek-chat's 131,072-token limit
    segs = store.segments(rid, step)
    parts = comp.split(segs)
    assert parts[comp.PLACEHOLDERS] > 0 and parts[comp.PRUNED_AWAY] > 0
    bar = charts(at)[0]
    assert '"placeholders"' in bar and '"pruned away"' in bar
    window = at.get("progress")[0].proto  # far below the limit: a gauge of the window, not a rule
    assert "131,072-token context window" in window.text
    assert f"{sum(n for c, n in parts.items() if c != comp.PRUNED_AWAY):,}" in page
    assert len(charts(at)) == 5  # + context over steps, raw vs sent, cost, prompt cache

    # only the pruned messages: each shows its placeholder, and expands to the original
    at.button_group(key="msg_filter").set_value("Pruned").run()
    assert_clean(at)
    msgs = {m["handle"]: m for m in store.step_messages(rid, step)}
    cards = at.chat_message
    assert len(cards) == sum(1 for m in msgs.values() if m["state"] == "pruned")
    placeholder = msgs[handle]["message"]["content"]
    original = msgs[handle]["original"]["content"]
    assert handle in placeholder and placeholder != original
    card = next(c for c in cards if any(x.value == placeholder for x in c.code))
    expander = next(e for e in card.expander if e.label.startswith("Original"))
    assert any(x.value == original[:20_000] or x.value.startswith(original[:20_000]) for x in expander.code)


def test_replay_buttons_step_through_the_run(monkeypatch, viewer_store):
    rid = viewer_store.ids["masking"]
    at = open_app(monkeypatch, viewer_store.path, "views/replay.py", run_id=rid)
    last = at.select_slider(key=f"step_{rid}").value
    at.button(key="prev_step").click().run()
    at.button(key="prev_step").click().run()
    assert at.select_slider(key=f"step_{rid}").value == last - 2
    at.button(key="next_step").click().run()
    assert at.select_slider(key=f"step_{rid}").value == last - 1
    assert_clean(at)
    # gemini-3-pro-preview is not in litellm's map: no limit line, and the page says so
    assert "Context limit unknown" in texts(at) and not at.get("progress") and "limit " not in charts(at)[0]


def test_replay_shows_reasoning_tool_calls_guards_and_a_failed_call(monkeypatch, viewer_store):
    rid = viewer_store.ids["reasoning"]
    store = TraceStore(viewer_store.path)
    steps = store.steps(rid)
    at = open_app(monkeypatch, viewer_store.path, "views/replay.py", run_id=rid)
    last = steps[-1]
    shown = [h.value for e in at.expander if e.label == "Reasoning" for h in e.html]
    assert any(last["output"]["reasoning_content"] in h for h in shown)  # the model's reasoning at this step
    assert markdown_html(last["output"]["content"]) in texts(at)
    guarded = next(s for s in steps if s["guard_events"])
    at.select_slider(key=f"step_{rid}").set_value(guarded["step"]).run()
    assert any("loop" in w.value and "read_file" in w.value for w in at.warning)  # the loop guard's event at this step

    restored = next(s["step"] for s in steps if any(g["state"] == "restored" for g in store.segments(rid, s["step"])))
    at.select_slider(key=f"step_{rid}").set_value(restored).run()
    assert "**1 restored**" in texts(at)
    at.button_group(key="msg_filter").set_value("Changed").run()
    assert any(":green-badge[restored]" in m.value for m in at.markdown)  # still its placeholder, expandable
    at.button_group(key="msg_filter").set_value("All").run()

    failed = next(s for s in steps if s["error"])
    at.select_slider(key=f"step_{rid}").set_value(failed["step"]).run()
    assert any("The call failed" in e.value and "RateLimitError" in e.value for e in at.error)

    at.select_slider(key=f"step_{rid}").set_value(steps[0]["step"]).run()
    assert_clean(at)
    tool = next(t for t in store.tool_calls(rid) if t["step"] == steps[0]["step"])
    ran = next(e for e in at.expander if e.label.startswith("read_file ·"))
    assert any(c.value.strip() == tool["result"].strip() for c in ran.code)  # the tool's result, as executed
    assert any('"path": "contextkit/policy.py"' in c.value for c in at.code)  # the model's tool call


def test_replay_of_a_run_still_being_written(monkeypatch, viewer_store):
    rid = viewer_store.ids["open"]
    at = open_app(monkeypatch, viewer_store.path, "views/replay.py", run_id=rid)
    assert any("Still being written" in i.value for i in at.info)
    assert at.select_slider(key=f"step_{rid}").value == TraceStore(viewer_store.path).run(rid)["steps"]


def test_composition_splits_reasoning_and_draws_the_limit_when_it_is_near():
    from contextkit.viewer import charts as ch

    rows = [
        {"kind": "system", "tokens": 50, "sent_tokens": 50},
        {"kind": "tool_call", "tokens": 300, "sent_tokens": 300, "reasoning_tokens": 200},
        {"kind": "assistant", "tokens": 300, "sent_tokens": 100, "reasoning_tokens": 200, "rule": "reasoning_cleared",
         "reason": "its reasoning is gone (the sentence people read may say anything)"},
        {"kind": "assistant", "tokens": 0, "sent_tokens": 0, "reasoning_tokens": 0, "rule": "reasoning_restored",
         "reason": "reasoning cleared at step 3, then restored"},  # the code counts, not the sentence
        {"kind": "tool_result", "tool_name": "grep", "state": "pruned", "tokens": 900, "sent_tokens": 40},
        {"kind": "tool_result", "tool_name": "cat", "state": "kept", "tokens": 700, "sent_tokens": 700},
    ]
    parts = comp.split(rows)
    assert parts == {"system": 50, "assistant": 200, "reasoning": 200, "placeholders": 40, "tool: cat": 700,
                     "pruned away": 860 + 200}
    assert sum(v for k, v in parts.items() if k != comp.PRUNED_AWAY) == sum(r["sent_tokens"] for r in rows)
    assert "limit 2,000" in ch.composition_bar(parts, 2000).to_json()  # within the scale: a red rule
    assert "limit" not in ch.composition_bar(parts, 1_000_000).to_json()  # far away: the page shows a gauge
    folded = comp.fold_tools({f"tool: t{k}": 100 - k for k in range(9)}, keep=6)
    assert sorted(set(folded.values())) == sorted([f"tool: t{k}" for k in range(6)] + [comp.OTHER_TOOLS])


def test_replay_of_an_agent_that_only_reports_its_model_calls(monkeypatch, viewer_store):
    rid = viewer_store.ids["own_client"]
    at = open_app(monkeypatch, viewer_store.path, "views/replay.py", run_id=rid)
    assert any("No context was recorded at this step" in i.value for i in at.info)
    steps = TraceStore(viewer_store.path).steps(rid)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Context sent"] == "–" and tiles["Step cost"] == ui.usd(steps[-1]["cost_usd"])
    assert tiles["Cumulative cost"] == ui.usd(sum(s["cost_usd"] for s in steps))
    at.switch_page("views/whatif.py").run()
    at.button(key="whatif_go").click().run()
    assert_clean(at)
    assert any("Nothing to replay" in i.value for i in at.info)


def test_the_runs_page_shows_missing_figures_as_a_dash_and_the_run_name_as_text(monkeypatch, viewer_store):
    """A run without usage or price (the broken one) has no figures: the grid draws a dash (its
    placeholder), not "None"; tags of a run without any are empty, not "nan"; the picked run's
    name is plain text in the line under the table (run text is untrusted)."""
    ids = viewer_store.ids
    at = open_app(monkeypatch, viewer_store.path, run_id=ids["own_client"])
    assert at.dataframe[0].proto.placeholder == ui.MISSING == "–"
    table = at.dataframe[0].value.set_index("run_id")
    assert table.loc[ids["own_client"], "tags"] == "" and not any(str(t) in ("nan", "None") for t in table["tags"])
    label = next(m.value for m in at.markdown if "`" in m.value and ids["own_client"][:12] in m.value)
    assert "own\\-client" in label or "own-client" in label
    from contextkit.viewer.safe import plain

    assert plain("![x](http://a.invalid/x.png)", one_line=True) != "![x](http://a.invalid/x.png)"  # what the label uses


def test_replay_shows_cache_reads_and_writes_per_step(monkeypatch, viewer_store):
    """The provider's prompt-cache usage, per step: a tile for the step, a chart over the run. Where
    the default policy edits the request, reads drop once, then the cache holds again."""
    rid = viewer_store.ids["default"]
    steps = TraceStore(viewer_store.path).steps(rid)
    reads = [s["cache_read_tokens"] or 0 for s in steps]
    assert max(reads) > 0
    drop = next(k for k in range(1, len(steps)) if reads[k] < reads[k - 1] and steps[k]["tokens_before"] > steps[k]["tokens_after"])
    at = open_app(monkeypatch, viewer_store.path, "views/replay.py", run_id=rid)
    for k in (drop, drop + 1):
        at.select_slider(key=f"step_{rid}").set_value(steps[k]["step"]).run()
        assert_clean(at)
        tile = next(m for m in at.metric if m.label == "Cache read / write")
        assert tile.value == f"{ui.tokens(steps[k]['cache_read_tokens'])} / {ui.tokens(steps[k]['cache_write_tokens'])}"
    cache = next(c for c in charts(at) if "read from the cache" in c)
    assert '"written to the cache"' in cache and '"not cached"' in cache


def test_replay_counts_reasoning_by_the_rule_code(monkeypatch, viewer_store):
    """What the composition calls reasoning: the store's `rule` column decides (reasoning_cleared),
    not the wording of the reason sentence."""
    from contextkit.viewer import data

    rid = viewer_store.ids["reasoning"]
    store = TraceStore(viewer_store.path)
    last = store.steps(rid)[-1]["step"]
    segs = store.segments(rid, last)
    assert any(s["rule"] == "reasoning_cleared" for s in segs)
    want = sum(s["reasoning_tokens"] or 0 for s in segs if s["kind"] in ("assistant", "tool_call") and s["rule"] != "reasoning_cleared")
    comp_df = data.composition(str(viewer_store.path), rid, ("test", last))
    shown = comp_df[(comp_df["step"] == last) & (comp_df["category"] == comp.REASONING)]["tokens"].sum()
    assert shown == want == comp.split(segs)[comp.REASONING]


def test_flags_fit_notes_compaction_and_tool_guard_events_of_newer_stores_are_shown_and_older_ones_tolerated():
    """Schema 4-7 columns (segment_states.flags, llm_calls.kind, contexts.notes, tool_spans.guard_events):
    shown in words when the store has them; absent (NaN, None) on a schema-3 store, nothing shown."""
    from contextkit.viewer import guards

    assert guards.flags_text(["empty", "injection"]) == "empty result, instructions aimed at the model"
    assert guards.flags_text(float("nan")) == guards.flags_text(None) == guards.flags_text([]) == ""
    row = {"notes": ["fitted to 128,000 tokens: 3 oldest turns compacted"], "kind": "compaction"}
    notes = guards.step_notes(row)
    assert notes[0].startswith("a compaction call") and notes[1] == row["notes"][0]
    assert guards.step_notes({"notes": float("nan"), "kind": float("nan")}) == []
    tools = [{"step": 3, "name": "grep", "guard_events": '[{"kind": "breaker_open", "action": "reject", "seconds": 30}]'},
             {"step": 4, "name": "cat", "guard_events": None}, {"step": 3, "name": "ls"}]
    evs = guards.tool_events(tools, 3)
    assert evs == [{"tool": "grep", "kind": "breaker_open", "action": "reject", "seconds": 30}]
    level, _, text = guards.line(evs[0])
    assert level == "error" and "circuit breaker open" in text and "tool grep" in text and "open for 30.0 s" in text
    assert guards.tool_events(tools, 4) == []


def test_the_runs_page_counts_guard_events_stored_on_tools(tmp_path, viewer_store):
    """On a store whose tool_spans has guard_events (schema 7), a run's guard events include them."""
    import shutil

    from contextkit.viewer import data

    import duckdb

    path = tmp_path / "v7.duckdb"
    shutil.copy(viewer_store.path, path)
    rid = viewer_store.ids["default"]
    before = data.runs.__wrapped__(str(path), ("x",)).set_index("run_id").loc[rid, "guard_events"]
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE tool_spans ADD COLUMN IF NOT EXISTS guard_events JSON")
    con.execute("UPDATE tool_spans SET guard_events = '[{\"kind\": \"breaker_open\"}, {\"kind\": \"breaker_closed\"}]' "
                "WHERE run_id = ? AND step = 2", [rid])
    con.close()
    after = data.runs.__wrapped__(str(path), ("y",)).set_index("run_id").loc[rid, "guard_events"]
    n = len(TraceStore(path).query("SELECT 1 FROM tool_spans WHERE run_id = ? AND step = 2", [rid]))
    assert n >= 1 and after == before + 2 * n
