"""Compare: two runs side by side, aligned by step (e.g. one task under two policies): tokens,
cost and what filled the context window."""

from __future__ import annotations

from contextkit.viewer import charts, data, ui
from contextkit.viewer import composition as comp
from contextkit.viewer.safe import plain

import pandas as pd
import streamlit as st


def partner(df: pd.DataFrame, run: pd.Series) -> str | None:
    """The run to compare with: the head-to-head run recorded for it (metadata `comparison_of`, as
    `contextkit demo` stores its run without pruning), else the best counterpart: a run that
    finished with more than one step (never a broken one while there is another), of the same task,
    under another policy, without failed calls, the closest in length, the newest. None when the
    store holds no other run."""
    others = df[df["run_id"] != run["run_id"]]
    if others.empty:
        return None
    linked = others[(others["comparison_of"] == run["run_id"]) | (others["run_id"] == run["comparison_of"])]
    if not linked.empty:
        return linked.iloc[0]["run_id"]
    steps = int(run["steps"])
    rank = pd.DataFrame({
        # ended, more than one step, not every call failed
        "usable": (others["status"] != "open") & (others["steps"] > 1) & (others["errors"] < others["steps"]),
        "same_task": others["name"] == run["name"],
        "other_policy": others["policy"].fillna("") != (run["policy"] or ""),
        "clean": others["errors"] == 0,
        "gap": -(others["steps"] - steps).abs(),
        "when": others["started_at"],
    }, index=others.index)
    best = rank.sort_values(list(rank.columns), ascending=False, kind="stable", na_position="last").index[0]
    return others.loc[best, "run_id"]


def summary(a: pd.Series, b: pd.Series, sa: pd.DataFrame, sb: pd.DataFrame) -> pd.DataFrame:
    """One row per figure: A, B, and B relative to A (the head-to-head: two whole runs, so the
    extra steps one policy costs count; `saved` is each run's own, docs/cost.md)."""
    def figures(run: pd.Series, steps: pd.DataFrame) -> dict:
        return {
            "steps": int(run["steps"]), "tokens sent": steps["tokens_after"].sum(), "tokens pruned": run["tokens_saved"],
            "input tokens": run["input_tokens"], "cache reads": steps["cache_read_tokens"].sum(min_count=1),
            "output tokens": run["output_tokens"], "cost": run["cost_usd"], "saved": run["saved_usd"],
            "duration": run["duration_s"], "guard events": int(run["guard_events"]),
        }
    fa, fb = figures(a, sa), figures(b, sb)
    fmt = {"cost": ui.usd, "saved": ui.usd, "duration": ui.duration}
    relative = {"steps", "tokens sent", "input tokens", "output tokens", "cost", "duration"}
    rows = [{"": "policy", "A": ui.text(a["policy"], "?"), "B": ui.text(b["policy"], "?"), "B vs A": ""},
            {"": "model", "A": ui.text(a["model"], "?"), "B": ui.text(b["model"], "?"), "B vs A": ""}]
    for k in fa:
        f = fmt.get(k, ui.tokens if "tokens" in k or k == "cache reads" else lambda v: f"{int(v):,}" if pd.notna(v) else ui.MISSING)
        va, vb = fa[k], fb[k]
        rel = f"{(vb - va) / va:+.0%}" if k in relative and pd.notna(va) and pd.notna(vb) and va else ""
        rows.append({"": k, "A": f(va), "B": f(vb), "B vs A": rel})
    return pd.DataFrame(rows)


def compare_page() -> None:
    with ui.guard("the comparison"):
        state = ui.store_or_stop()
        df = ui.runs_or_stop(state)
        if len(df) < 2:
            st.info("**Only one run in the store.** Record another (e.g. the same task under another policy) to compare.",
                    icon=":material/info:")
            return
        c1, c2 = st.columns(2)
        with c1:
            a = ui.pick_run(df, key="compare_a", label="Run A")
        with c2:
            b = ui.pick_run(df, key="compare_b", label="Run B", default=partner(df, a), remember=False)
        va, vb = data.run_version(a, state.signature), data.run_version(b, state.signature)
        sa, sb = data.steps(state.path, a["run_id"], va), data.steps(state.path, b["run_id"], vb)
        if sa.empty or sb.empty:
            st.info("One of these runs has no steps yet.", icon=":material/hourglass_empty:")
            return
        la, lb = f"A · {ui.text(a['policy'], a['name'])}", f"B · {ui.text(b['policy'], b['name'])}"
        if la == lb:
            la, lb = f"A · {a['run_id'][:8]}", f"B · {b['run_id'][:8]}"

        left, right = st.columns([3, 5], gap="large")
        with left:
            st.markdown("#### Side by side", help="B vs A: the head-to-head of two whole runs (extra steps count). "
                        "Saved: each run's own, " + ui.SAVED_HELP)
            table = summary(a, b, sa, sb)
            st.dataframe(table, hide_index=True, width="stretch", height=38 + 35 * len(table), placeholder=ui.MISSING,
                         column_config={"": st.column_config.TextColumn(width=110), "B vs A": st.column_config.TextColumn(width=70)})
        with right:
            both = pd.concat([sa.assign(run=la), sb.assign(run=lb)])
            t1, t2, t3 = st.tabs(["Tokens sent per step", "Cumulative cost", "Cost per step"])
            with t1:
                st.altair_chart(charts.by_run(both, "tokens_after", "tokens sent"), width="stretch")
            with t2:
                st.altair_chart(charts.by_run(both, "cumulative_cost", "cumulative cost ($)", fmt="$.3f"), width="stretch")
            with t3:
                st.altair_chart(charts.by_run(both, "cost", "cost per step ($)", fmt="$.4f"), width="stretch")

        st.markdown("#### Context window, step by step")
        common = sorted(set(sa["step"].astype(int)) | set(sb["step"].astype(int)))
        step = st.select_slider("Step", options=common, value=common[-1] if len(common) > 1 else common[0],
                                key=f"compare_step_{a['run_id']}_{b['run_id']}") if len(common) > 1 else common[0]
        top = max(ui.largest(sa["tokens_before"]), ui.largest(sb["tokens_before"]))
        ca, cb = st.columns(2, gap="large")
        for col, run, steps, version, label in ((ca, a, sa, va, la), (cb, b, sb, vb, lb)):
            with col:
                st.markdown(f"**{plain(label, one_line=True)}** · {plain(run['name'], one_line=True)}")
                if step not in set(steps["step"].astype(int)):
                    st.caption(f"No step {step} in this run ({len(steps)} steps).")
                    continue
                view = data.step_view(state.path, run["run_id"], step, version)
                parts = comp.split(view.segments)
                sent = sum(n for c, n in parts.items() if c != comp.PRUNED_AWAY)
                st.caption(f"{sent:,} tokens sent · {parts.get(comp.PRUNED_AWAY, 0):,} pruned away")
                limit = data.context_limit(run["model"])
                st.altair_chart(charts.composition_bar(parts, limit, domain_max=top), width="stretch")
                st.html(charts.legend(parts))
                cdf = data.composition(state.path, run["run_id"], version)
                area = charts.composition_area(cdf, steps, step, limit, height=300, y_max=top,
                                               legend_columns=3)  # half the page wide: 6 legend columns clip
                st.altair_chart(area, width="stretch")


ui.header("Compare")
compare_page()
