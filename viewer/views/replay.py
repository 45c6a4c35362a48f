"""Replay: scrub through a run step by step. At each step, what filled the context window against
the model's limit, what changed, the messages as sent (placeholders expand to their originals),
the model's reasoning, answer and tool calls, the tools it ran, and what the step cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from contextkit.viewer import charts, data, guards, messages, ui
from contextkit.viewer import composition as comp
from contextkit.viewer.safe import plain

import pandas as pd
import streamlit as st

PAGE_SIZE = 12
FILTERS = ["All", "Changed", "Pruned", "Tool results"]


def _move(key: str, options: list[int], delta: int) -> None:
    cur = st.session_state.get(key, options[-1])
    k = options.index(cur) if cur in options else len(options) - 1
    st.session_state[key] = options[max(0, min(len(options) - 1, k + delta))]


def scrubber(run_id: str, options: list[int]) -> int:
    key, last = f"step_{run_id}", f"last_step_{run_id}"
    if st.session_state.get(key) not in options or st.session_state.get(key) == st.session_state.get(last):
        st.session_state[key] = options[-1]  # new, or following the latest step of a run being written
    st.session_state[last] = options[-1]
    c1, c2, c3 = st.columns([1, 1, 22], vertical_alignment="bottom")
    c1.button("", icon=":material/chevron_left:", key="prev_step", on_click=_move, args=(key, options, -1), help="previous step")
    c2.button("", icon=":material/chevron_right:", key="next_step", on_click=_move, args=(key, options, 1), help="next step")
    if len(options) == 1:
        c3.markdown(f"**Step {options[0]}** (the only step so far)")
        return options[0]
    return c3.select_slider("Step", options=options, key=key)


def step_tiles(row: pd.Series, prev: pd.Series | None) -> None:
    cols = st.columns(7)
    after, before = row["tokens_after"], row["tokens_before"]
    if pd.isna(row["n_segments"]):  # no prepare at this step: contextkit never saw the request
        after = before = None
    delta = None if prev is None or after is None or pd.isna(prev["tokens_after"]) else int(after - prev["tokens_after"])
    cols[0].metric("Context sent", ui.tokens(after), delta=f"{delta:+,}" if delta else None, delta_color="off",
                   help="tokens in the request as sent (contextkit's count)", border=True, height=112)
    pruned = before - after if before is not None and after is not None and not pd.isna(before) else None
    cols[1].metric("Without contextkit", ui.tokens(before), delta=f"{ui.tokens(pruned)} pruned" if pruned else None,
                   delta_color="off", delta_arrow="off", help="what the agent would have sent", border=True, height=112)
    saved = row["saved_usd"]
    cols[2].metric("Step cost", ui.usd(row["cost_usd"]), delta=f"saved {ui.usd(saved)}" if pd.notna(saved) and saved else None,
                   delta_color="normal" if pd.notna(saved) and saved > 0 else "inverse", delta_arrow="off", help=" ".join(x for x in (ui.text(row["cost_note"], ""), "Saved: " + ui.SAVED_HELP) if x),
                   border=True, height=112)
    cols[3].metric("Cumulative cost", ui.usd(row["cumulative_cost"]), border=True, height=112)
    cols[4].metric("Latency", ui.ms(row["latency_ms"]), help=f"prepare: {ui.ms(row['prepare_ms'])}", border=True, height=112)
    io = f"{ui.tokens(row['input_tokens'])} / {ui.tokens(row['output_tokens'])}"
    estimated = " (counted locally: the provider reported no usage)" if row.get("usage_estimated") is True else ""
    cols[5].metric("Input / output", io, help="provider usage for this call" + estimated, border=True, height=112)
    read, write = row.get("cache_read_tokens"), row.get("cache_write_tokens")
    share = read / row["input_tokens"] if pd.notna(read) and pd.notna(row["input_tokens"]) and row["input_tokens"] else None
    cols[6].metric("Cache read / write", f"{ui.tokens(read)} / {ui.tokens(write)}",
                   delta=f"{ui.pct(share)} read" if share is not None else None, delta_color="off", delta_arrow="off",
                   help="input tokens the provider read from its prompt cache / wrote to it (its usage; – when it "
                        "reported none): an edit rewrites what follows it, so reads drop at the steps that prune",
                   border=True, height=112)


def _line(s: dict, extra: str = "") -> str:
    tool = f" **{plain(s['tool_name'], one_line=True)}**" if s.get("tool_name") else ""
    flagged = guards.flags_text(s.get("flags"))
    flagged = f" · :orange[flagged: {plain(flagged, one_line=True)}]" if flagged else ""
    return f"#{s['index']} {plain(str(s['kind']).replace('_', ' '), one_line=True)}{tool} · {ui.tokens(s['tokens'])}{flagged}{extra}"


def _why(s: dict) -> str:
    return f" → {ui.tokens(s['sent_tokens'])}: *{plain(s['reason'], one_line=True)}*"


def changes(view: data.StepView, row: pd.Series, tool_events: Sequence[dict] = ()) -> None:
    """What changed since the previous step, as short lists; what fitting the window, compaction
    and the guards did at it."""
    for note in guards.step_notes(row):
        st.info(plain(note), icon=":material/compress:")
    d = data.diff(view)
    if not view.segments:
        st.caption("No manifest at this step.")
    elif view.step == 1 or not view.previous:
        st.markdown(f":blue[:material/add_circle:] **{len(view.segments)} messages** in the first request")
    else:
        groups = [
            ("added", ":blue[:material/add_circle:]", "added", lambda s: ""),
            ("pruned", ":orange[:material/content_cut:]", "pruned", _why),
            ("restored", ":green[:material/undo:]", "restored", lambda s: ""),
            ("edited", ":violet[:material/edit:]", "edited", _why),
            ("removed", ":gray[:material/remove_circle:]", "left the request", lambda s: ""),
        ]
        shown = False
        for key, icon, verb, tail in groups:
            items = d[key]
            if not items:
                continue
            shown = True
            st.markdown(f"{icon} **{len(items)} {verb}**")
            lines = [f"- {_line(s, tail(s))}" for s in items[:6]]
            if len(items) > 6:
                lines.append(f"- … and {len(items) - 6} more")
            st.markdown("\n".join(lines))
        if not shown:
            st.caption("Nothing changed but the new turn.")
    if isinstance(row.get("fallback"), str) and row["fallback"]:
        st.warning(f"Sent unpruned: {plain(row['fallback'])}", icon=":material/shield:")
    if isinstance(row.get("context_error"), str) and row["context_error"]:
        st.error(f"contextkit error (request sent unchanged): {plain(row['context_error'])}")
    for ev in [*(row["guard_events"] or []), *tool_events]:
        level, icon, text = guards.line(ev)
        getattr(st, level)(text, icon=icon)


def message_list(view: data.StepView, run_id: str) -> None:
    segs = {s["handle"]: s for s in view.segments}
    d = data.diff(view)
    changed = {s["handle"] for k in ("added", "pruned", "restored", "edited") for s in d[k]}
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    how = c1.segmented_control("Show", FILTERS, default="All", key="msg_filter", label_visibility="collapsed") or "All"
    rows = view.messages
    if how == "Changed":
        rows = [r for r in rows if r["handle"] in changed]
    elif how == "Pruned":
        rows = [r for r in rows if r["state"] == "pruned"]
    elif how == "Tool results":
        rows = [r for r in rows if r["kind"] == "tool_result"]
    if not rows:
        st.caption("No message matches.")
        return
    pages = [(k, min(k + PAGE_SIZE, len(rows))) for k in range(0, len(rows), PAGE_SIZE)]
    if len(pages) > 1:
        labels = [f"{rows[a]['index']}–{rows[b - 1]['index']}" for a, b in pages]
        # an index into a non-empty range: never None
        pick = cast(int, c2.selectbox("Messages", range(len(pages)), index=len(pages) - 1,
                                      format_func=lambda k: f"messages #{labels[k]}",
                                      key=f"msg_page_{run_id}_{view.step}_{how}", label_visibility="collapsed"))
        a, b = pages[pick]
    else:
        a, b = 0, len(rows)
    for r in rows[a:b]:
        messages.message_card(r, segs.get(r["handle"]), view.step)


def context_window(view: data.StepView, steps: pd.DataFrame, row: pd.Series, run: pd.Series, limit: int | None) -> None:
    """The composition bar of this step's request against the model's context limit."""
    if not view.segments:
        st.info("No context was recorded at this step: the agent reported its model call (`record_step`) "
                "without sending the request through `Session.prepare`, so only usage and cost are known.",
                icon=":material/visibility_off:")
        return
    parts = comp.split(view.segments)
    sent = sum(n for c, n in parts.items() if c != comp.PRUNED_AWAY)
    st.caption(f"**{sent:,}** tokens sent · **{parts.get(comp.PRUNED_AWAY, 0):,}** pruned away (pale) · "
               "scale: the run's largest request")
    st.altair_chart(charts.composition_bar(parts, limit, domain_max=ui.largest(steps["tokens_before"])), width="stretch")
    st.html(charts.legend(parts))
    names = model_names(row, run)
    if limit:
        known = next((n for n in names if data.context_limit(n) == limit), names[0] if names else "the model")
        called = f" (the step called {plain(names[0], one_line=True)})" if names and names[0] != known else ""
        st.progress(min(1.0, sent / limit),
                    text=f"{sent / limit:.1%} of {plain(known, one_line=True)}'s {limit:,}-token context window{called}")
    else:
        st.caption(f"Context limit unknown: litellm has no entry for {plain(' or '.join(names) or '?', one_line=True)}.")


def model_names(row: pd.Series, run: pd.Series) -> list[str]:
    """The names this step's model goes by in the store: as called, the run's, as the provider
    answered (a Router or proxy alias, a scripted model: the response names the real one)."""
    out = []
    for v in (row.get("model"), run.get("model"), row.get("response_model")):
        if isinstance(v, str) and v and v not in out:
            out.append(v)
    return out


def across_steps(comp_df: pd.DataFrame, steps: pd.DataFrame, step: int, limit: int | None) -> None:
    t1, t2, t3, t4 = st.tabs(["Context window", "Raw vs sent", "Cost", "Prompt cache"])
    with t1:
        st.altair_chart(charts.composition_area(comp_df, steps, step, limit), width="stretch")
    with t2:
        st.altair_chart(charts.raw_vs_sent(steps, step), width="stretch")
    with t3:
        st.altair_chart(charts.cost(steps, step), width="stretch")
    with t4:
        if steps["cache_read_tokens"].notna().any() or steps["cache_write_tokens"].notna().any():
            st.altair_chart(charts.cache(steps, step), width="stretch")
            st.caption("Input tokens per step as the provider billed them: read from its prompt cache, written to it, "
                       "or neither. An edit rewrites everything after it once; the cache holds again from the next step.")
        else:
            st.caption("The provider reported no prompt-cache usage for this run.")


def replay_page() -> None:
    """The run picker, then the run itself: a fragment that re-reads the store while the run is open."""
    with ui.guard("the runs"):
        state = ui.store_or_stop()
        df = ui.runs_or_stop(state)
        run = ui.pick_run(df, key="replay_run")
        st.query_params["run"] = run["run_id"]
        every = ui.refresh_every() if run["status"] == "open" else None

    @st.fragment(run_every=every)
    def body() -> None:
        with ui.guard("this run"):
            fresh = ui.store_or_stop()
            runs = data.runs(fresh.path, fresh.signature)
            match = runs[runs["run_id"] == run["run_id"]]
            show_run(fresh, match.iloc[0] if not match.empty else run)

    body()


def show_run(state: data.StoreState, run: pd.Series) -> None:
    version = data.run_version(run, state.signature)
    steps = data.steps(state.path, run["run_id"], version)
    st.markdown(f"### {plain(run['name'], one_line=True)} {ui.status_badge(run['status'])}")
    st.caption(f"{plain(ui.text(run['model'], 'model ?'), one_line=True)} · policy **{plain(ui.text(run['policy'], '?'), one_line=True)}** · "
               f"started {run['started_at']:%Y-%m-%d %H:%M:%S} UTC · run {plain(run['run_id'], one_line=True)}")
    if run["status"] == "open":
        st.info(f"**Still being written** (or its process died): {len(steps)} steps so far. "
                + ("New steps appear as they arrive." if ui.live() else "Turn on *Live* (top right) to follow it."),
                icon=":material/pending:")
    if steps.empty:
        st.caption("No step recorded yet.")
        return
    ui.run_summary(run)
    options = [int(s) for s in steps["step"]]
    step = scrubber(run["run_id"], options)
    k = options.index(step)
    row = steps.iloc[k]
    prev = steps.iloc[k - 1] if k else None
    step_tiles(row, prev)

    view = data.step_view(state.path, run["run_id"], step, version)
    limit = data.context_limit(*model_names(row, run))
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(f"#### Context window at step {step}")
        context_window(view, steps, row, run, limit)
    with right:
        st.markdown(f"#### What changed{' since step ' + str(options[k - 1]) if k else ''}")
        changes(view, row, guards.tool_events(data.tool_calls(state.path, run["run_id"], version), step))
    across_steps(data.composition(state.path, run["run_id"], version), steps, step, limit)

    msgs, out = st.columns([3, 2], gap="large")
    with msgs:
        st.markdown(f"#### Messages as sent at step {step}")
        message_list(view, run["run_id"])
    with out:
        st.markdown("#### Model output")
        messages.model_output(row.to_dict())
        st.markdown("#### Tool executions")
        tools = [t for t in data.tool_calls(state.path, run["run_id"], version) if t.get("step") == step]
        messages.tool_executions(tools)


ui.header("Replay")
replay_page()
