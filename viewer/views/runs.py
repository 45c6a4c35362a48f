"""Runs: every run in the store with its cost and what pruning saved (docs/cost.md: one definition
of "saved", the demo's and the other pages'); search, filter, sort, open."""

from __future__ import annotations

from typing import cast

from contextkit.viewer import data, ui
from contextkit.viewer.safe import plain

import pandas as pd
import streamlit as st

SORTS = {
    "Newest": "started_at", "Cost": "cost_usd", "Saved ($)": "saved_usd", "Saved (%)": "saved_pct",
    "Tokens pruned": "tokens_saved", "Steps": "steps", "Duration": "duration_s", "Guard events": "guard_events", "Name": "name",
}
STATUS_LABELS = {"ok": "ok", "error": "error", "open": "running"}
SAVED_HELP = ui.SAVED_HELP
# Widths in pixels, each the header or the usual value plus the grid's 8-pixel cell padding. In a
# 1440-pixel window the grid shows 1374 pixels (the wide layout's 32-pixel margins and the border),
# 32 of them the row checkboxes: every column, Unwritten included, fits in TABLE_WIDTH, and Tags
# takes what the others leave (tests/test_viewer_browser.py measures it in Chromium).
TABLE_WIDTH = 1334
COLUMNS = {
    "status": st.column_config.MultiselectColumn("Status", options=["ok", "error", "running"], color=["green", "red", "orange"],
                                                 width=76),
    "name": st.column_config.TextColumn("Run", width=140, pinned=True),
    "policy": st.column_config.TextColumn("Policy", width=100),
    "model": st.column_config.TextColumn("Model", width=150),
    "started_at": st.column_config.DatetimeColumn("Started", format="MMM D, HH:mm", width=94),
    "duration_s": st.column_config.NumberColumn("Duration", format="%.1f s", width=68),
    "steps": st.column_config.NumberColumn("Steps", width=50),
    "context": st.column_config.AreaChartColumn("Context", y_min=0, width=64, help="tokens sent, step by step"),
    "input_tokens": st.column_config.NumberColumn("In tok", format="compact", width=56, help="input tokens (provider usage)"),
    "cost_usd": st.column_config.NumberColumn("Cost", format="$%.4f", width=66),
    "saved_usd": st.column_config.NumberColumn("Saved", format="$%.4f", width=66, help=SAVED_HELP),
    "saved_pct": st.column_config.ProgressColumn("Saved %", format="%.0f%%", min_value=0.0, max_value=100.0, width=66,
                                                 help="saved, as a share of what the calls would have cost unpruned"),
    "tokens_saved": st.column_config.NumberColumn("Pruned", format="compact", width=60,
                                                  help="tokens pruning kept out of the requests (contextkit's count)"),
    "guard_events": st.column_config.NumberColumn("Guards", width=58, help="budget, loop, breaker and quarantine events"),
    "errors": st.column_config.NumberColumn("Errors", width=52, help="model calls that failed"),
    "unwritten": st.column_config.NumberColumn("Unwritten", width=76, help="spans of this run the store could not write "
                                               "(the store's write_errors table says why)"),
    "tags": st.column_config.TextColumn("Tags"),  # as wide as the others leave room for (_columns)
}


def _columns(unwritten: bool) -> tuple[list[str], dict]:
    """The columns shown (Unwritten only when some run misses spans) and their config, Tags as
    wide as the others leave room for."""
    order = [c for c in COLUMNS if c != "unwritten" or unwritten]
    rest = TABLE_WIDTH - sum(cast(int, COLUMNS[c]["width"]) for c in order if c != "tags")
    return order, {**COLUMNS, "tags": st.column_config.TextColumn("Tags", width=rest)}


def _filtered(df: pd.DataFrame) -> pd.DataFrame:
    c1, c2, c3, c4, c5 = st.columns([3, 2, 2, 2, 2], vertical_alignment="bottom")
    query = c1.text_input("Search", key="runs_search", placeholder="name, run id, model, tag, user…",
                          label_visibility="collapsed")
    status = c2.multiselect("Status", ["ok", "error", "open"], key="runs_status", placeholder="Any status",
                            format_func=STATUS_LABELS.__getitem__, label_visibility="collapsed")
    models = c3.multiselect("Model", sorted(df["model"].dropna().unique()), key="runs_model", placeholder="Any model",
                            label_visibility="collapsed")
    policies = c4.multiselect("Policy", sorted(df["policy"].dropna().unique()), key="runs_policy",
                              placeholder="Any policy", label_visibility="collapsed")
    sort = cast(str, c5.selectbox("Sort by", list(SORTS), key="runs_sort", label_visibility="collapsed",
                                  format_func=lambda s: f"Sort: {s}"))  # index 0 of a non-empty list: never None
    out = df
    if query:
        q = query.strip().lower()
        hay = (out["name"].astype(str) + " " + out["run_id"] + " " + out["model"].fillna("") + " " + out["tags"].fillna("")
               + " " + out["user_id"].fillna("") + " " + out["policy"].fillna("")).str.lower()
        out = out[hay.str.contains(q, regex=False)]
    if status:
        out = out[out["status"].isin(status)]
    if models:
        out = out[out["model"].isin(models)]
    if policies:
        out = out[out["policy"].isin(policies)]
    return out.sort_values(SORTS[sort], ascending=sort == "Name", na_position="last", kind="stable")


def _totals(df: pd.DataFrame) -> None:
    priced = df[df["cost_usd"].notna() & df["saved_usd"].notna()]
    share = data.saved_share(pd.Series([priced["cost_usd"].sum()]), pd.Series([priced["saved_usd"].sum()])).iloc[0]
    cols = st.columns(6)
    cols[0].metric("Runs", f"{len(df):,}", help=f"{int((df['status'] == 'open').sum())} still running", border=True, height=112)
    cols[1].metric("Steps", f"{int(df['steps'].sum()):,}", border=True, height=112)
    cols[2].metric("Cost", ui.usd(df["cost_usd"].sum()), border=True, height=112)
    cols[3].metric("Saved", ui.usd(df["saved_usd"].sum()), help=SAVED_HELP,
                   delta=f"{ui.pct(share)} of the unpruned cost" if pd.notna(share) else None, delta_color="off",
                   border=True, height=112)
    cols[4].metric("Tokens pruned", ui.tokens(df["tokens_saved"].sum()), border=True, height=112,
                   help="tokens pruning kept out of the requests (contextkit's count): not all of them cost the same")
    cols[5].metric("Guard events", f"{int(df['guard_events'].sum()):,}", border=True, height=112)


def _unwritten(state) -> None:
    n = data.unwritten(state.path, state.signature)
    if n:
        st.warning(f"**{n:,} span{'' if n == 1 else 's'} could not be written** to this store: the runs "
                   "marked in the Unwritten column miss them. The store's `write_errors` table says why.",
                   icon=":material/warning:")


def _open(run_id: str, page: str) -> None:
    st.session_state[ui.SELECTED] = run_id
    st.switch_page(page)


@st.fragment(run_every=ui.refresh_every())
def runs_page() -> None:
    with ui.guard("the runs"):
        state = ui.store_or_stop()
        df = ui.runs_or_stop(state)
        _unwritten(state)
        _totals(df)
        shown = _filtered(df)
        table = shown.assign(status=shown["status"].map(lambda s: [STATUS_LABELS.get(s, s)]), saved_pct=shown["saved_pct"] * 100)
        order, config = _columns(bool(df["unwritten"].any()))
        picked = st.dataframe(
            table, key="runs_table", placeholder=ui.MISSING, hide_index=True, on_select="rerun", selection_mode="single-row",
            column_order=order, column_config=config,
            height=min(560, 38 + 35 * max(len(table), 3)),
        )
        rows = picked.selection.rows if picked is not None else []
        if rows:
            st.session_state[ui.SELECTED] = shown.iloc[rows[0]]["run_id"]
        st.caption(f"{len(shown):,} of {len(df):,} runs · click a row to pick it")
        if shown.empty:
            return
        sel = st.session_state.get(ui.SELECTED) or st.query_params.get("run")
        run = shown[shown["run_id"] == sel].iloc[0] if sel in set(shown["run_id"]) else shown.iloc[ui.first_run(shown)]
        bar = st.container(horizontal=True, vertical_alignment="center")
        b1 = b2 = b3 = label = bar
        if b1.button("Replay", icon=":material/slow_motion_video:", type="primary", key="open_replay"):
            _open(run["run_id"], "views/replay.py")
        if b2.button("Compare", icon=":material/compare_arrows:", key="open_compare"):
            _open(run["run_id"], "views/compare.py")
        if b3.button("What-if", icon=":material/science:", key="open_whatif"):
            _open(run["run_id"], "views/whatif.py")
        label.markdown(f"{ui.status_badge(run['status'])} **{plain(run['name'], one_line=True)}** · "
                       f"{plain(ui.text(run['model'], '?'), one_line=True)} · `{plain(run['run_id'][:12], one_line=True)}`")


ui.header("Runs")
runs_page()
