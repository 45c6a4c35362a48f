"""Guard events as the replay page shows them: one line per event, with a title, an icon and a
weight per kind (contextkit.records.GuardEvent documents the kinds), and the figures the event
carries (the tool, the value against its limit, seconds waited or left, until when).

The kind and action are codes the store keeps; the message is run text (it quotes tool arguments
and errors), so it goes through viewer.safe like every other run text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .safe import plain


@dataclass(frozen=True)
class Kind:
    title: str
    icon: str
    level: str  # "error" (the call or the tool was stopped), "warning", "info" (the guard adjusted), "success"


KINDS = {
    "budget": Kind("budget limit", ":material/account_balance_wallet:", "warning"),
    "budget_warning": Kind("budget warning", ":material/account_balance_wallet:", "warning"),
    "budget_cap": Kind("output capped by the budget", ":material/vertical_align_top:", "info"),
    "throttle": Kind("throttled", ":material/speed:", "info"),
    "loop": Kind("loop", ":material/autorenew:", "warning"),
    "polling": Kind("polling", ":material/update:", "warning"),
    "retry_storm": Kind("retry storm", ":material/thunderstorm:", "warning"),
    "breaker_open": Kind("circuit breaker open", ":material/power_off:", "error"),
    "breaker_rejected": Kind("tool not run (breaker open)", ":material/block:", "error"),
    "breaker_half_open": Kind("circuit breaker half-open: one trial call", ":material/power:", "info"),
    "breaker_closed": Kind("circuit breaker closed", ":material/power:", "success"),
    "quarantine": Kind("result quarantined", ":material/gpp_bad:", "error"),
}
_OTHER = Kind("guard", ":material/security:", "warning")
STOPPED = ("raise", "reject", "quarantine")  # actions that kept something from happening


def kind(ev: dict) -> Kind:
    k = KINDS.get(str(ev.get("kind")), _OTHER)
    if ev.get("kind") == "budget" and ev.get("action") == "raise":
        return Kind("budget exceeded: the call was not sent", k.icon, "error")
    if ev.get("kind") in ("loop", "polling", "retry_storm") and ev.get("action") == "raise":
        return Kind(f"{k.title}: the call was not sent", k.icon, "error")
    return k


def _figure(v) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"
    return f"{int(v):,}" if isinstance(v, (int, float)) else str(v)


def details(ev: dict) -> str:
    """The figures of an event, as a short parenthesis (empty when it carries none)."""
    bits = []
    if ev.get("tool"):
        bits.append(f"tool {ev['tool']}")
    if ev.get("limit") and ev.get("limit") != ev.get("kind"):
        bits.append(str(ev["limit"]))
    if ev.get("value") is not None and ev.get("threshold") is not None:
        bits.append(f"{_figure(ev['value'])} of {_figure(ev['threshold'])}")
    elif ev.get("value") is not None:
        bits.append(_figure(ev["value"]))
    if ev.get("seconds") is not None:
        verb = "open for" if str(ev.get("kind", "")).startswith("breaker") else "waited"
        bits.append(f"{verb} {float(ev['seconds']):.1f} s")
    if ev.get("until") is not None:
        try:
            bits.append("until " + dt.datetime.fromtimestamp(float(ev["until"]), dt.timezone.utc).strftime("%H:%M:%S UTC"))
        except (TypeError, ValueError, OverflowError, OSError):
            pass
    return " · ".join(bits)


def line(ev: dict) -> tuple[str, str, str]:
    """(level, icon, markdown) of one event; every run text in it shown literally."""
    k = kind(ev)
    extra = details(ev)
    text = f"**{plain(k.title, one_line=True)}**"
    if extra:
        text += f" ({plain(extra, one_line=True)})"
    if ev.get("message"):
        text += f": {plain(ev['message'])}"
    return k.level, k.icon, text
