"""The viewer's pages: `contextkit view` runs `streamlit run viewer/server.py`, the ASGI app that
serves this script (and checks every request's Host header).

The store path comes from CONTEXTKIT_VIEW_STORE (set by `contextkit view`), else tracing's
default (CONTEXTKIT_TRACE_DB or ./.contextkit/traces.duckdb).
"""

from __future__ import annotations

from contextkit.viewer import data, ui

import streamlit as st

# An emoji icon: Streamlit draws it as an inline SVG. A `:material/...:` page icon is fetched from
# an outside host on every page load (the viewer fetches nothing from outside).
st.set_page_config(page_title="contextkit viewer", page_icon="🔎", layout="wide",
                   initial_sidebar_state="collapsed")

# The page scripts live in views/, not pages/: a pages/ folder beside the entry script switches
# Streamlit into its old multipage mode for deep links (/replay?run=...), bypassing this file.
PAGES = [
    st.Page("views/runs.py", title="Runs", icon=":material/table_rows:", default=True),
    st.Page("views/replay.py", title="Replay", icon=":material/slow_motion_video:"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("views/whatif.py", title="What-if", icon=":material/science:"),
]
page = st.navigation(PAGES, position="top")

path = data.store_path()
if ui.REFRESH not in st.session_state:  # follow live runs by default when there are some
    with ui.guard("the store"):
        state = data.check(path)
        st.session_state[ui.REFRESH] = bool(state.ok and (data.runs(path, state.signature)["status"] == "open").any())

st.html(ui.STYLE)

with ui.guard("this page"):
    page.run()
