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


# ---------------------------------------------------------------------- what else a step carries (schema >= 4)

FLAGS = {  # a tool result's fault flags (contextkit.faults): what each code means, in words
    "empty": "empty result",
    "truncated": "truncated",
    "error": "an error in the output",
    "injection": "instructions aimed at the model",
    "stale": "stale (the same call answered differently later)",
}


def listed(v) -> list:
    """A list column of the store as a list: [] where the store has no such column (a store older
    than the column: NaN / None) or the value is empty."""
    if v is None or isinstance(v, float) or isinstance(v, str):
        return [v] if isinstance(v, str) and v else []
    try:
        return [x for x in v if x is not None]
    except TypeError:
        return []


def flags_text(flags) -> str:
    """A segment's fault flags as a short phrase ('' when none): codes from the store, shown in words."""
    return ", ".join(FLAGS.get(str(f), str(f)) for f in listed(flags))


def step_notes(row) -> list[str]:
    """What fitting the window and compaction did at a step (the `notes` of the steps view; none on
    stores before schema 6), and whether the call was a summariser's (`kind`, schema 5)."""
    out = [str(n) for n in listed(row.get("notes"))]
    if row.get("kind") == "compaction":
        out.insert(0, "a compaction call: the summariser's own model call (its cost counts, it saves minus its cost)")
    return out


def tool_events(tool_calls: list[dict], step: int) -> list[dict]:
    """Guard events stored on the tools that ran before `step`'s call (tool_spans.guard_events,
    schema 7: the circuit breaker's), each with the tool's name."""
    import json

    out = []
    for t in tool_calls:
        if t.get("step") != step:
            continue
        evs = t.get("guard_events")
        try:
            evs = json.loads(evs) if isinstance(evs, str) else evs
        except ValueError:
            continue
        for ev in evs or []:
            if isinstance(ev, dict):
                out.append({"tool": t.get("name"), **ev})
    return out
