"""The viewer's charts (Altair, drawn by st.altair_chart). Categories keep one colour everywhere
(viewer.composition); the step being looked at is marked on every chart across steps."""

from __future__ import annotations

import html
from collections.abc import Mapping

import altair as alt
import pandas as pd

from . import composition as comp

BARS_UP_TO = 80  # runs with at most this many steps get a bar per step; longer ones an area
RAW_COLOR = "#94a3b8"
SENT_COLOR = "#4f46e5"
COST_COLOR = "#0ea5e9"
CUMULATIVE_COLOR = "#f97316"
LIMIT_COLOR = "#dc2626"
CURRENT_COLOR = "#111827"
PALETTE = ["#4f46e5", "#f97316", "#10b981", "#e11d48", "#0ea5e9", "#a855f7", "#84cc16", "#64748b"]


def _scale(categories: list[str]) -> alt.Scale:
    return alt.Scale(domain=categories, range=comp.colors(categories))


def _current(step: int | None) -> list[alt.Chart]:
    if step is None:
        return []
    return [alt.Chart(pd.DataFrame({"step": [step]})).mark_rule(color=CURRENT_COLOR, strokeDash=[4, 3], strokeWidth=1.5)
            .encode(x="step:Q", tooltip=[alt.Tooltip("step:Q", title="this step")])]


def composition_bar(parts: Mapping[str, int], limit: int | None, *, domain_max: int | None = None,
                    height: int = 84) -> alt.LayerChart:
    """One horizontal bar: the request as sent, by category, then the tokens pruning took out
    (pale). The scale is the run's largest request, so scrubbing shows the context grow; the
    model's context limit is a red rule when it falls inside that scale."""
    cats = comp.order(c for c, n in parts.items() if n > 0)
    sent = sum(n for c, n in parts.items() if c != comp.PRUNED_AWAY)
    rows, x = [], 0
    for c in cats:
        n = parts[c]
        rows.append({"category": c, "tokens": n, "x": x, "x2": x + n,
                     "share": n / sent if sent and c != comp.PRUNED_AWAY else None})
        x += n
    df = pd.DataFrame(rows, columns=["category", "tokens", "x", "x2", "share"]).assign(row="request")
    top = max(x, domain_max or 0, 1)
    show_limit = False
    if limit and limit <= top * 1.25:
        show_limit = True
        top = max(top, limit)
    xscale = alt.Scale(domain=[0, top * 1.02], nice=False)
    bars = alt.Chart(df).mark_bar(stroke="white", strokeWidth=1, cornerRadius=2).encode(
        x=alt.X("x:Q", scale=xscale, title=None, axis=alt.Axis(format="~s", grid=False)),
        x2="x2:Q",
        y=alt.Y("row:N", axis=None, title=None, scale=alt.Scale(paddingInner=0, paddingOuter=0.08)),
        color=alt.Color("category:N", scale=_scale(cats), sort=cats,
                        legend=None),  # legend(): an HTML line with the numbers
        tooltip=[alt.Tooltip("category:N"), alt.Tooltip("tokens:Q", format=","), alt.Tooltip("share:Q", format=".0%", title="of sent")],
    )
    layers: list = [bars]
    if show_limit:
        lim = pd.DataFrame({"x": [limit], "label": [f"limit {limit:,}"]})
        layers.append(alt.Chart(lim).mark_rule(color=LIMIT_COLOR, strokeWidth=2.5)
                      .encode(x=alt.X("x:Q", scale=xscale), tooltip=[alt.Tooltip("label:N", title="context")]))
        layers.append(alt.Chart(lim).mark_text(color=LIMIT_COLOR, align="right", baseline="top", dx=-5, dy=3, fontSize=11,
                                               fontWeight="bold").encode(x=alt.X("x:Q", scale=xscale), y=alt.value(0), text="label:N"))
    return alt.layer(*layers).properties(height=height)


def legend(parts: Mapping[str, int]) -> str:
    """The composition bar's legend as HTML: a colour chip, the category and its tokens."""
    cats = comp.order(c for c, n in parts.items() if n > 0)
    chips = []
    for c, color in zip(cats, comp.colors(cats)):
        border = "border:1px solid #cbd5e1;" if c == comp.PRUNED_AWAY else ""
        chips.append(f'<span style="white-space:nowrap;margin-right:14px"><span style="display:inline-block;width:10px;'
                     f'height:10px;border-radius:2px;background:{color};{border}margin-right:5px"></span>'
                     f'{html.escape(c)} <b>{parts[c]:,}</b></span>')
    return f'<div style="font-size:0.8rem;line-height:1.7;color:#374151">{"".join(chips)}</div>'


def composition_area(df: pd.DataFrame, steps: pd.DataFrame, current: int | None, limit: int | None = None,
                     height: int = 280, y_max: int | None = None, legend_columns: int = 6) -> alt.LayerChart:
    """What was sent at every step by category (a bar per step for short runs, stacked areas for
    long ones); dashed: what the agent would have sent without contextkit."""
    sent = df[df["category"] != comp.PRUNED_AWAY]
    cats = comp.order(sent["category"].unique())
    few = sent["step"].nunique() <= BARS_UP_TO
    kind = "O" if few else "Q"
    axis = alt.Axis(labelAngle=0, labelOverlap=True) if few else alt.Axis(tickMinStep=1, format="d")
    x = alt.X(f"step:{kind}", title="step", axis=axis)
    y = alt.Y("sum(tokens):Q", stack="zero", title="tokens", axis=alt.Axis(format="~s"),
              scale=alt.Scale(domain=[0, y_max]) if y_max else alt.Undefined)
    base = alt.Chart(sent).mark_bar(opacity=0.92) if few else alt.Chart(sent).mark_area(opacity=0.9)
    area = base.encode(
        x=x, y=y,
        color=alt.Color("category:N", scale=_scale(cats), sort=cats, legend=alt.Legend(orient="bottom", title=None, columns=legend_columns)),
        order=alt.Order("rank:Q"),
        tooltip=["step:Q", "category:N", alt.Tooltip("sum(tokens):Q", format=",", title="tokens")],
    ).transform_calculate(rank=_rank_expr(cats))
    layers: list = [area]
    if not steps.empty:
        raw = steps[["step", "tokens_before"]].dropna()
        layers.append(alt.Chart(raw).mark_line(color=RAW_COLOR, strokeDash=[6, 4], strokeWidth=2, point=few)
                      .encode(x=alt.X(f"step:{kind}"), y="tokens_before:Q",
                              tooltip=["step:Q", alt.Tooltip("tokens_before:Q", format=",", title="without contextkit")]))
        top = raw["tokens_before"].max() if not raw.empty else 0
        if limit and top and limit < 1.6 * top:
            layers.append(alt.Chart(pd.DataFrame({"y": [limit]})).mark_rule(color=LIMIT_COLOR, strokeWidth=1.5).encode(y="y:Q"))
    if current is not None:
        layers.append(alt.Chart(pd.DataFrame({"step": [current]})).mark_rule(color=CURRENT_COLOR, strokeDash=[4, 3], strokeWidth=1.5)
                      .encode(x=alt.X(f"step:{kind}"), tooltip=[alt.Tooltip("step:Q", title="this step")]))
    return alt.layer(*layers).properties(height=height)


def _rank_expr(cats: list[str]) -> str:
    parts = " : ".join(f"datum.category === {c!r} ? {k}" for k, c in enumerate(cats))
    return f"{parts} : {len(cats)}" if cats else "0"


def raw_vs_sent(steps: pd.DataFrame, current: int | None, height: int = 280) -> alt.LayerChart:
    """Context size per step: without contextkit vs as sent; the band between is what pruning saved."""
    df = steps[["step", "tokens_before", "tokens_after"]].dropna()
    band = alt.Chart(df).mark_area(color="#c7d2fe", opacity=0.6).encode(
        x=alt.X("step:Q", axis=alt.Axis(tickMinStep=1, format="d")), y=alt.Y("tokens_after:Q", title="tokens", axis=alt.Axis(format="~s")),
        y2="tokens_before:Q")
    long = df.melt("step", var_name="series", value_name="tokens").replace(
        {"series": {"tokens_before": "without contextkit", "tokens_after": "sent"}})
    lines = alt.Chart(long).mark_line(strokeWidth=2, point=len(df) <= BARS_UP_TO).encode(
        x="step:Q", y="tokens:Q",
        color=alt.Color("series:N", scale=alt.Scale(domain=["without contextkit", "sent"], range=[RAW_COLOR, SENT_COLOR]),
                        legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["step:Q", "series:N", alt.Tooltip("tokens:Q", format=",")])
    return alt.layer(band, lines, *_current(current)).properties(height=height)


def cost(steps: pd.DataFrame, current: int | None, height: int = 280) -> alt.LayerChart:
    """Cost per step (bars, left axis) and cumulative cost (line, right axis)."""
    df = steps[["step", "cost", "cumulative_cost"]]
    bars = alt.Chart(df).mark_bar(color=COST_COLOR, opacity=0.85).encode(
        x=alt.X("step:Q", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("cost:Q", title="cost per step ($)", axis=alt.Axis(format="$.3~f", titleColor=COST_COLOR)),
        tooltip=["step:Q", alt.Tooltip("cost:Q", format="$.5f", title="step cost")])
    line = alt.Chart(df).mark_line(color=CUMULATIVE_COLOR, strokeWidth=2.5).encode(
        x="step:Q", y=alt.Y("cumulative_cost:Q", title="cumulative ($)", axis=alt.Axis(format="$.3~f", titleColor=CUMULATIVE_COLOR)),
        tooltip=["step:Q", alt.Tooltip("cumulative_cost:Q", format="$.4f", title="cumulative")])
    return alt.layer(bars, line, *_current(current)).resolve_scale(y="independent").properties(height=height)


CACHE_SERIES = {"read from the cache": "#10b981", "written to the cache": "#f59e0b", "not cached": "#94a3b8"}


def cache(steps: pd.DataFrame, current: int | None, height: int = 280) -> alt.LayerChart:
    """Input tokens per step as the provider billed them: read from its prompt cache, written to
    it, neither (stacked): a prune shows as one step where reads drop, and the cache holds again."""
    df = steps[["step", "input_tokens", "cache_read_tokens", "cache_write_tokens"]].copy()
    read, write = df["cache_read_tokens"].fillna(0), df["cache_write_tokens"].fillna(0)
    long = pd.concat([
        pd.DataFrame({"step": df["step"], "series": name, "tokens": values})
        for name, values in (("read from the cache", read), ("written to the cache", write),
                             ("not cached", (df["input_tokens"].fillna(0) - read - write).clip(lower=0)))
    ])
    long = long.assign(rank=long["series"].map({k: i for i, k in enumerate(CACHE_SERIES)}))
    bars = alt.Chart(long).mark_bar(opacity=0.9).encode(
        x=alt.X("step:Q", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("sum(tokens):Q", stack="zero", title="input tokens", axis=alt.Axis(format="~s")),
        color=alt.Color("series:N", scale=alt.Scale(domain=list(CACHE_SERIES), range=list(CACHE_SERIES.values())),
                        legend=alt.Legend(orient="bottom", title=None)),
        order=alt.Order("rank:Q"),
        tooltip=["step:Q", "series:N", alt.Tooltip("sum(tokens):Q", format=",", title="tokens")])
    return alt.layer(bars, *_current(current)).properties(height=height)


def by_run(df: pd.DataFrame, value: str, title: str, fmt: str = "~s", current: int | None = None,
           height: int = 260) -> alt.LayerChart:
    """One line per run (column `run`) of `value` per step: the compare page's side-by-side."""
    runs = list(dict.fromkeys(df["run"]))
    line = alt.Chart(df).mark_line(strokeWidth=2.2).encode(
        x=alt.X("step:Q", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y(f"{value}:Q", title=title, axis=alt.Axis(format=fmt)),
        color=alt.Color("run:N", scale=alt.Scale(domain=runs, range=PALETTE[: len(runs)]), legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["run:N", "step:Q", alt.Tooltip(f"{value}:Q", format="," if fmt == "~s" else fmt)])
    return alt.layer(line, *_current(current)).properties(height=height)


def tradeoff(df: pd.DataFrame, height: int = 300) -> alt.LayerChart:
    """Saved (input cost with a prompt cache, vs unpruned) against evidence retained, one point per
    policy (top right is best). Policies are named in the legend, never by labels beside the points
    (near points' labels would overlap); points that coincide are drawn as rings of different sizes."""
    df = df.assign(_key=(df["saved"].round(3).astype(str) + "/" + df["retention"].round(3).astype(str)))
    df = df.assign(group=df.groupby("_key").cumcount()).drop(columns="_key")
    df = df.assign(size=180 + 220 * df["group"])
    policies = list(dict.fromkeys(df["policy"]))
    lo, hi = float(df["saved"].min()), float(df["saved"].max())
    pts = alt.Chart(df).mark_point(filled=False, strokeWidth=3, opacity=0.95).encode(
        x=alt.X("saved:Q", title="saved (input cost, with a prompt cache)", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[min(0.0, lo - 0.05), min(1.0, max(hi, 0.0) + 0.1)])),
        y=alt.Y("retention:Q", title="evidence retained", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1.05])),
        size=alt.Size("size:Q", legend=None, scale=None),
        color=alt.Color("policy:N", scale=alt.Scale(domain=policies, range=PALETTE[: len(policies)] or PALETTE),
                        legend=alt.Legend(orient="bottom", title=None, columns=1, labelLimit=320)),
        tooltip=["policy:N", alt.Tooltip("saved:Q", format=".1%"), alt.Tooltip("retention:Q", format=".1%"),
                 alt.Tooltip("pruned_share:Q", format=".1%", title="tokens pruned")])
    return alt.layer(pts).properties(height=height + 22 * len(policies))  # the legend's rows come out of the height
