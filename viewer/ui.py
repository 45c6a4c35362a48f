"""Pieces every page shares: the store check, the run picker, number formats, status badges, and
the guard that turns any read error into a message on the page instead of a traceback."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import pandas as pd
import streamlit as st

from . import data
from .safe import CSS, plain

SELECTED = "run_id"  # session state: the run the user picked last (shared by the pages)
REFRESH = "auto_refresh"  # session state: the sidebar's live toggle
REFRESH_SECONDS = 2.0
MISSING = "–"  # a figure a run does not have (no price, no usage): shown so, never "None" or "nan"
STATUS = {"ok": ("green", "ok", ":material/check_circle:"), "error": ("red", "error", ":material/error:"),
          "open": ("orange", "running", ":material/pending:")}


# Tighter than Streamlit's default page padding: the replay page has a lot to show.
STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding: 3.2rem 2rem 2rem 2rem; max-width: 1800px; }
[data-testid="stMetricValue"] { font-size: 1.6rem; }
h1 { padding-top: 0.2rem; }
""" + CSS + "</style>"


def header(title: str, caption: str | None = None) -> None:
    """Page title, the store it reads, and the live-refresh switch (shared by every page)."""
    left, right = st.columns([6, 1], vertical_alignment="center")
    left.markdown(f"## {title}")
    key = f"live_{title.lower()}"
    right.toggle("Live", value=live(), key=key, on_change=_set_live, args=(key,),
                 help=f"Re-read the store every {REFRESH_SECONDS:g} s (runs still being written)")
    st.caption(caption or f"Store {plain(data.store_path() or 'off', one_line=True)} · read-only: each query opens the file and closes it, "
               "so agents keep writing")


# ---------------------------------------------------------------------- formats

def tokens(n) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    n = float(n)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{n:,.0f}"


def usd(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if x == 0:
        return "$0"
    return f"${x:,.2f}" if abs(x) >= 1 else f"${x:.4f}" if abs(x) >= 0.001 else f"${x:.6f}"


def ms(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x / 1000:.2f} s" if x >= 1000 else f"{x:.0f} ms"


def duration(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(s), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def largest(values: pd.Series) -> int:
    """The largest value of a column that may hold missing values (0 if none)."""
    top = values.max()
    return int(top) if pd.notna(top) else 0


def text(x, missing: str = MISSING) -> str:
    """A text field of the store as shown: `missing` for None / NaN (never "None" or "nan")."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return missing
    return str(x)


def pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def status_badge(status: str) -> str:
    color, label, icon = STATUS.get(status, ("gray", status, ":material/help:"))
    return f":{color}-badge[{icon} {label}]"


# ---------------------------------------------------------------------- errors and the store

@contextlib.contextmanager
def guard(what: str = "this page") -> Iterator[None]:
    """Show a read failure as a message (st.stop and page switches pass through: they are BaseException)."""
    from contextkit.tracing.store import StoreBusyError

    try:
        yield
    except StoreBusyError:
        st.warning("The trace store is busy: agents held it for more than 5 s. It will be read again on the next refresh.",
                   icon=":material/hourglass_top:")
    except FileNotFoundError as e:
        st.error(f"The trace store went away while reading {what}: {plain(e)}", icon=":material/folder_off:")
    except Exception as e:  # noqa: BLE001 - a message on the page, never a traceback
        st.error(f"Could not show {what}: {type(e).__name__}: {plain(e)}", icon=":material/error:")


def store_or_stop() -> data.StoreState:
    """The store's state; when it cannot be shown, say why on the page and stop."""
    state = data.check(data.store_path())
    if not state.ok:
        st.info(f"**{state.title}**\n\n{state.detail}", icon=":material/info:")
        st.stop()
    return state


def runs_or_stop(state: data.StoreState) -> pd.DataFrame:
    df = data.runs(state.path, state.signature)
    if df.empty:
        st.info("**No runs yet.** The store exists but holds no run. Runs appear here within a second of "
                "their first step.", icon=":material/hourglass_empty:")
        st.stop()
    return df


def _set_live(key: str) -> None:
    st.session_state[REFRESH] = bool(st.session_state.get(key))


def live() -> bool:
    return bool(st.session_state.get(REFRESH, False))


def refresh_every() -> float | None:
    """The fragment interval when the sidebar's live toggle is on."""
    return REFRESH_SECONDS if live() else None


# ---------------------------------------------------------------------- runs

def run_labels(df: pd.DataFrame) -> pd.Series:
    """`name · policy · when · id` for every run (vectorised: the store may hold thousands)."""
    when = df["started_at"].dt.strftime("%b %d %H:%M").fillna("?")
    policy = df["policy"].fillna("").map(lambda p: f" · {p}" if p else "")
    running = (df["status"] == "open").map({True: " · ● running", False: ""})
    return df["name"].astype(str) + policy + " · " + when + " · " + df["run_id"].str[:8] + running


def first_run(df: pd.DataFrame) -> int:
    """The row a page opens on when nothing is picked yet: the newest run that is not a stored
    baseline (`contextkit demo` stores its unpruned comparison run after the pruned one)."""
    if "comparison_of" not in df:
        return 0
    own = [i for i, c in enumerate(df["comparison_of"]) if not isinstance(c, str) or not c]
    return own[0] if own else 0


def pick_run(df: pd.DataFrame, key: str, label: str = "Run", default: str | None = None,
             remember: bool = True) -> pd.Series:
    """A run selectbox; defaults to the last run picked on any page (or `default`)."""
    ids = list(df["run_id"])
    labels = dict(zip(ids, run_labels(df)))
    want = default or st.session_state.get(SELECTED) or st.query_params.get("run")
    index = ids.index(want) if want in ids else first_run(df)
    run_id = st.selectbox(label, ids, index=index, key=key, format_func=labels.__getitem__)
    if remember:
        st.session_state[SELECTED] = run_id
    return df[df["run_id"] == run_id].iloc[0]


SAVED_HELP = ("what the same calls would have cost unpruned, with the provider's prompt cache as it reported it, "
              "minus what they cost (docs/cost.md)")


def run_summary(run: pd.Series) -> None:
    """The run's headline numbers on one line (the step's own numbers get the big tiles)."""
    share = run["saved_pct"]
    saved = f"saved **{usd(run['saved_usd'])}**" + (f" ({share:.0%} of the unpruned cost)" if pd.notna(share) else "")
    bits = [
        f"**{int(run['steps']):,}** steps",
        f"**{int(run['tool_calls']):,}** tool calls",
        f"cost **{usd(run['cost_usd'])}**",
        saved,
        f"**{tokens(run['tokens_saved'])}** tokens pruned",
        f"**{tokens(run['input_tokens'])}** in / **{tokens(run['output_tokens'])}** out",
        f"**{duration(run['duration_s'])}**",
    ]
    if run["guard_events"]:
        n = int(run["guard_events"])
        bits.append(f":orange[**{n}** guard event{'s' if n != 1 else ''}]")
    if run["errors"]:
        n = int(run["errors"])
        bits.append(f":red[**{n}** failed call{'s' if n != 1 else ''}]")
    st.markdown(" · ".join(bits), help=SAVED_HELP)
