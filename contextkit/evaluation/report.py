"""Plain-text tables of an evaluation, laid out like the reference judge's."""

from __future__ import annotations

from .metrics import CACHE_READ, CACHE_WRITE
from .results import EvalResult, Totals

_FIGURES = f"{'steps':>6} {'input tok':>11} {'saved':>7} {'cost/raw':>9} {'retention':>9} {'verbatim':>9} {'invalid':>7}"


def _figures(t: Totals) -> str:
    return (
        f"{t.steps:6d} {t.input_tokens:11d} {t.saved:7.1%} {t.cache_cost_vs_raw:9.3f} "
        f"{t.retention:9.2%} {t.verbatim_retention:9.2%} {t.invalid_requests:7d}"
    )


def format_table(result: EvalResult, *, per_trajectory: bool = False) -> str:
    """Totals per policy; with `per_trajectory`, then one row per trajectory and policy."""
    width = max([24, *(len(p) for p in result.policies)])
    lines = [f"{'policy':{width}} {_FIGURES}"]
    lines += [f"{p:{width}} {_figures(result.totals[p])}" for p in result.policies]
    steps = result.totals[result.policies[0]].steps if result.policies else 0
    lines.append("")
    lines.append(
        f"{len(result.trajectories)} trajectories, {steps:,} model calls per policy, {result.seconds:.1f} s. "
        f"cost/raw: input cost with a prompt cache (read {CACHE_READ}x, write {CACHE_WRITE}x) vs sending "
        "the raw requests; retention: later-used evidence still sent; verbatim: still sent inside recorded "
        "content (a message as recorded, or a verbatim line of the result that held it)."
    )
    if len(result.trajectories) > 1 and result.per_trajectory:
        lines += ["", "worst single trajectory (cost/raw):"]
        for p in result.policies:
            worst = max((t for t in result.per_trajectory if t.policy == p), key=lambda t: t.cache_cost_vs_raw)
            over = sum(1 for t in result.per_trajectory if t.policy == p and t.cache_cost_vs_raw > 1.0 + 1e-9)
            lines.append(f"  {p:{width}} {worst.cache_cost_vs_raw:6.3f}  {worst.trajectory}  ({over} above 1.000)")
    if per_trajectory and result.per_trajectory:
        tw = max(len(t.trajectory or "") for t in result.per_trajectory)
        lines += ["", f"{'trajectory':{tw}} {'policy':{width}} {_FIGURES}"]
        lines += [f"{t.trajectory or '':{tw}} {t.policy:{width}} {_figures(t)}" for t in result.per_trajectory]
    return "\n".join(lines)
