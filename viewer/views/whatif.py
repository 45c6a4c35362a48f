"""What-if: replay a recorded run's trajectory under other policies, offline (contextkit.evaluation,
no model is called), and set what each would have saved and kept against what happened."""

from __future__ import annotations

import json

from contextkit.viewer import charts, data, ui
from contextkit.viewer.safe import plain

import pandas as pd
import streamlit as st

FIRST_CHOICES = ("default", "observation-masking", "anthropic-clear-tool-uses", "opencode")


def policy_names() -> list[str]:
    from contextkit.evaluation import RAW, default_policy_names

    return [p for p in default_policy_names() if p != RAW]


def parse_custom(text: str) -> dict | None:
    """A policy config typed on the page (YAML or JSON); None when empty. Raises ValueError if unreadable."""
    if not text.strip():
        return None
    import yaml

    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"not YAML or JSON: {e}") from e
    if not isinstance(spec, dict):
        raise ValueError("a policy config is a mapping, e.g. `keep_last: 5`")
    return spec


@st.cache_data(show_spinner=False, max_entries=16)
def replay(path: str, run_id: str, version: tuple, policies: tuple[str, ...], custom_json: str) -> dict:
    """Replay the run's trajectory under `policies` (+ raw, + the custom config): totals and step rows."""
    from contextkit.evaluation import RAW, evaluate, trajectories_from_store

    traj = trajectories_from_store(path, [run_id])
    specs: dict = {RAW: RAW, **{p: p for p in policies}}
    if custom_json:
        specs["custom"] = json.loads(custom_json)
    result = evaluate(traj, specs)
    totals = pd.DataFrame([result[p].as_dict() for p in result.policies])
    steps = result.step_table().to_pandas()
    return {"totals": totals, "steps": steps, "seconds": result.seconds, "calls": int(totals["steps"].iloc[0]) if len(totals) else 0}


def recorded(run: pd.Series, steps: pd.DataFrame) -> dict:
    """What happened: tokens sent and pruned (contextkit's counts), and what was saved (docs/cost.md);
    `unpruned_input`: what the run's input would have cost unpruned (its input cost plus saved)."""
    sent, raw = steps["tokens_after"].sum(), steps["tokens_before"].sum()
    cost, saved = run["cost_usd"], run["saved_usd"]
    share = data.saved_share(pd.Series([cost]), pd.Series([saved])).iloc[0] if pd.notna(cost) and pd.notna(saved) else None
    inp = steps["input_cost_usd"].sum(min_count=1)
    unpruned = float(inp + (saved or 0.0)) if pd.notna(inp) and pd.notna(saved) else None
    return {"sent": sent, "raw": raw, "pruned": 1 - sent / raw if raw else 0.0, "saved_usd": saved,
            "saved": share if share is None or pd.notna(share) else None, "unpruned_input": unpruned}


def whatif_page() -> None:
    with ui.guard("the what-if"):
        state = ui.store_or_stop()
        df = ui.runs_or_stop(state)
        run = ui.pick_run(df, key="whatif_run")
        version = data.run_version(run, state.signature)
        steps = data.steps(state.path, run["run_id"], version)
        names = policy_names()
        first = [p for p in FIRST_CHOICES if p in names]
        if run["policy"] in names and run["policy"] not in first:
            first = [run["policy"], *first]
        c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
        chosen = c1.multiselect("Policies to replay", names, default=first[:3], key=f"whatif_policies_{run['run_id']}")
        with c2.popover("Custom policy", icon=":material/tune:", width="stretch"):
            text = st.text_area("Policy config (YAML or JSON)", key="whatif_custom", height=150,
                                placeholder="keep_last: 5\nprotect_recent_turns: 1\nplaceholder:\n  key_terms: 10",
                                help="the fields of contextkit.Policy (docs/policies.md); replayed as 'custom'")
        go = st.button("Replay offline", type="primary", icon=":material/play_arrow:", key="whatif_go")

        rec = recorded(run, steps) if not steps.empty else None
        if rec:
            saved = (f"saved **{ui.usd(rec['saved_usd'])}** ({ui.pct(rec['saved'])} of the unpruned cost)"
                     if rec["saved"] is not None else "saved: not priced")
            st.markdown(f"**What happened** under **{plain(ui.text(run['policy'], '?'), one_line=True)}**: "
                        f"{ui.tokens(rec['sent'])} tokens sent of {ui.tokens(rec['raw'])} the agent asked for "
                        f"({rec['pruned']:.0%} pruned), cost {ui.usd(run['cost_usd'])}, {saved}, {int(run['steps'])} steps.")
        key = ("whatif", run["run_id"], version, tuple(chosen), text)
        if go:
            try:
                custom = parse_custom(text)
            except ValueError as e:
                st.error(f"Custom policy: {plain(e)}", icon=":material/error:")
                return
            from contextkit import PolicyConfigError
            from contextkit.evaluation import TrajectoryError

            try:
                with st.spinner("Replaying the trajectory under each policy (no model calls)…"):
                    st.session_state["whatif_result"] = (key, replay(state.path, run["run_id"], version, tuple(chosen),
                                                                     json.dumps(custom) if custom else ""))
            except (TrajectoryError, PolicyConfigError) as e:
                st.error(f"Cannot replay this run: {plain(e)}", icon=":material/error:")
                return
        held = st.session_state.get("whatif_result")
        if not held or held[0][:3] != key[:3]:
            st.caption("Pick policies and press **Replay offline**: the run's own requests go through each policy "
                       "in-process, then tokens, cost with a prompt cache and evidence retention are scored like `contextkit eval`.")
            return
        show(held[1], run, rec)


def show(res: dict, run: pd.Series, rec: dict | None) -> None:
    totals, steps = res["totals"], res["steps"]
    if not res["calls"]:
        st.info("**Nothing to replay.** This run has no recorded request: its agent reported model calls without "
                "sending them through `Session.prepare`, so there is no conversation to put through a policy.",
                icon=":material/info:")
        return
    st.caption(f"Replayed {res['calls']} model calls under {len(totals)} policies in {res['seconds']:.2f} s.")
    table = with_saved(totals)[["policy", "input_tokens", "saved", "pruned_share", "retention", "invalid_requests", "pruned"]].copy()
    for c in ("saved", "pruned_share", "retention"):
        table[c] *= 100
    if rec and rec.get("unpruned_input"):
        table["saved_usd"] = table["saved"] / 100 * rec["unpruned_input"]
    best = with_saved(totals[totals["policy"] != "raw"]).sort_values("saved", ascending=False)
    if not best.empty and rec:
        b = best.iloc[0]
        happened = f"what happened saved {ui.pct(rec['saved'])}" if rec["saved"] is not None else "what happened was not priced"
        st.success(f"**{plain(b['policy'], one_line=True)}** would have saved **{b['saved']:.0%}** of the input cost (with a prompt "
                   f"cache) with **{b['retention']:.0%}** of later-used evidence kept; {happened}.", icon=":material/insights:")
    left, right = st.columns([5, 2], gap="large")
    with left:
        st.dataframe(table, hide_index=True, width="stretch", placeholder=ui.MISSING, column_config={
            "policy": st.column_config.TextColumn("Policy", width=190),
            "input_tokens": st.column_config.NumberColumn("Tokens sent", format="compact", width=90),
            "saved": st.column_config.NumberColumn("Saved", format="%.0f%%", width=70, help=SAVED_HELP),
            "pruned_share": st.column_config.ProgressColumn("Tokens pruned", format="%.0f%%", min_value=0.0, max_value=100.0,
                                                            width=110, help="share of the tokens the agent asked to send"),
            "retention": st.column_config.ProgressColumn("Evidence kept", format="%.0f%%", min_value=0.0, max_value=100.0,
                                                         width=110),
            "invalid_requests": st.column_config.NumberColumn("Invalid", width=60),
            "pruned": st.column_config.NumberColumn("Pruned", width=60, help="tool results pruned"),
            "saved_usd": st.column_config.NumberColumn("Saved $ (est.)", format="$%.4f", width=100,
                                                       help="Saved x what this run's input would have cost unpruned"),
        })
        per_step = steps.rename(columns={"policy": "run", "input_tokens": "tokens"})[["run", "step", "tokens"]]
        st.altair_chart(charts.by_run(per_step, "tokens", "tokens sent"), width="stretch")
    with right:
        st.markdown("**Saved vs kept** (top right is best)")
        st.altair_chart(charts.tradeoff(with_saved(totals)), width="stretch")


SAVED_HELP = ("the input cost with a prompt cache, against the same calls unpruned: the judge's cache model "
              "(contextkit eval), the same definition as the recorded runs' saved (docs/cost.md)")


def with_saved(totals: pd.DataFrame) -> pd.DataFrame:
    """The replay's totals with `saved` as the viewer means it (1 - input cost with a prompt cache
    vs unpruned) and the token share pruned as `pruned_share` (the evaluation calls that `saved`)."""
    return totals.assign(pruned_share=totals["saved"], saved=1 - totals["cache_cost_vs_raw"])


ui.header("What-if")
whatif_page()
