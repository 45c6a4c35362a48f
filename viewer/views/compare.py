"""Compare: two runs side by side, aligned by step (e.g. one task under two policies): tokens,
cost and what filled the context window."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from contextkit.viewer import charts, data, ui
from contextkit.viewer import composition as comp
from contextkit.viewer.safe import plain


def partner(df: pd.DataFrame, run: pd.Series) -> str | None:
    """The run to compare with: the same agent/task under another policy if there is one, else the next run."""
    others = df[df["run_id"] != run["run_id"]]
    if others.empty:
        return None
    same = others[others["name"] == run["name"]]
    for pool in (same[same["policy"] != run["policy"]], same, others):
        if not pool.empty:
            return pool.iloc[0]["run_id"]
    return None


def summary(a: pd.Series, b: pd.Series, sa: pd.DataFrame, sb: pd.DataFrame) -> pd.DataFrame:
    """One row per figure: A, B, and B relative to A."""
    def figures(run: pd.Series, steps: pd.DataFrame) -> dict:
        return {
            "steps": int(run["steps"]), "tokens sent": steps["tokens_after"].sum(), "without contextkit": steps["tokens_before"].sum(),
            "input tokens": run["input_tokens"], "output tokens": run["output_tokens"], "cost": run["cost_usd"],
            "saved by pruning": run["saved_usd"], "duration": run["duration_s"], "guard events": int(run["guard_events"]),
        }
    fa, fb = figures(a, sa), figures(b, sb)
    fmt = {"cost": ui.usd, "saved by pruning": ui.usd, "duration": ui.duration}
    rows = [{"": "policy", "A": a["policy"] or "?", "B": b["policy"] or "?", "B vs A": ""},
            {"": "model", "A": a["model"] or "?", "B": b["model"] or "?", "B vs A": ""}]
    for k in fa:
        f = fmt.get(k, ui.tokens if "tokens" in k or k == "without contextkit" else lambda v: f"{int(v):,}" if v == v and v is not None else "–")
        va, vb = fa[k], fb[k]
        rel = f"{(vb - va) / va:+.0%}" if va and vb is not None and va == va and vb == vb else ""
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
        la, lb = f"A · {a['policy'] or a['name']}", f"B · {b['policy'] or b['name']}"
        if la == lb:
            la, lb = f"A · {a['run_id'][:8]}", f"B · {b['run_id'][:8]}"

        left, right = st.columns([2, 5], gap="large")
        with left:
            st.markdown("#### Side by side")
            table = summary(a, b, sa, sb)
            st.dataframe(table, hide_index=True, width="stretch", height=38 + 35 * len(table))
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
                st.altair_chart(charts.composition_area(cdf, steps, step, limit, height=300, y_max=top), width="stretch")


ui.header("Compare")
compare_page()
