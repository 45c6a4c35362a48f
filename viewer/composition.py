"""What fills a context window: the store's manifest rows grouped into the categories the viewer
draws (system, user, assistant, reasoning, tool results by tool, placeholders), with fixed colours
so a category looks the same on every chart and page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SYSTEM, USER, ASSISTANT, REASONING, PLACEHOLDERS = "system", "user", "assistant", "reasoning", "placeholders"
PRUNED_AWAY = "pruned away"  # raw minus sent: drawn as a ghost next to what was sent
TOOL_PREFIX = "tool: "
OTHER_TOOLS = TOOL_PREFIX + "other"
MAX_TOOLS = 6  # tools drawn separately; the rest are "tool: other"

_FIXED = {
    SYSTEM: "#64748b",
    USER: "#0ea5e9",
    ASSISTANT: "#8b5cf6",
    REASONING: "#d946ef",
    PLACEHOLDERS: "#f59e0b",
    PRUNED_AWAY: "#e2e8f0",
    OTHER_TOOLS: "#a3a3a3",
}
_TOOL_PALETTE = ["#10b981", "#14b8a6", "#22c55e", "#84cc16", "#06b6d4", "#059669", "#65a30d", "#0d9488"]


def category(kind: str | None, tool_name: str | None, state: str | None, edited: bool = False) -> str:
    """The category of a manifest row's sent tokens (reasoning is split off separately). A restored
    result still goes as its placeholder (the original reached the model through the restore tool)."""
    if state == "pruned" or (state == "restored" and edited):
        return PLACEHOLDERS
    if kind in ("system", "developer"):
        return SYSTEM
    if kind == "user":
        return USER
    if kind == "tool_result":
        return TOOL_PREFIX + (tool_name or "?")
    return ASSISTANT


REASONING_CLEARED = "reasoning_cleared"  # the rule code (contextkit.rules) of a turn whose reasoning was dropped


def reasoning_sent(row: Mapping) -> int:
    """Reasoning tokens still sent for a manifest row (0 once the policy cleared them: its `rule`)."""
    if row.get("kind") not in ("assistant", "tool_call") or row.get("rule") == REASONING_CLEARED:
        return 0
    return int(row.get("reasoning_tokens") or 0)


def split(rows: Iterable[Mapping]) -> dict[str, int]:
    """Sent tokens by category for manifest rows (`kind`, `tool_name`, `state`, `edited`,
    `sent_tokens`, `reasoning_tokens`, `rule`), plus PRUNED_AWAY: what the placeholders replaced."""
    out: dict[str, int] = {}
    for r in rows:
        sent = int(r.get("sent_tokens") or 0)
        think = reasoning_sent(r)
        cat = category(r.get("kind"), r.get("tool_name"), r.get("state"), bool(r.get("edited")))
        out[cat] = out.get(cat, 0) + sent - think
        if think:
            out[REASONING] = out.get(REASONING, 0) + think
        gone = int(r.get("tokens") or 0) - sent  # placeholders' originals, cleared reasoning
        if gone > 0:
            out[PRUNED_AWAY] = out.get(PRUNED_AWAY, 0) + gone
    return out


def fold_tools(totals: Mapping[str, int], keep: int = MAX_TOOLS) -> dict[str, str]:
    """category -> drawn category: the `keep` largest tools stay, the others become 'tool: other'."""
    tools = sorted((c for c in totals if c.startswith(TOOL_PREFIX) and c != OTHER_TOOLS), key=lambda c: -totals[c])
    mapping = {c: c for c in totals}
    for c in tools[keep:]:
        mapping[c] = OTHER_TOOLS
    return mapping


def order(categories: Iterable[str]) -> list[str]:
    """Drawing order: system, user, assistant, reasoning, tools (by name), placeholders, pruned away."""
    cats = set(categories)
    head = [c for c in (SYSTEM, USER, ASSISTANT, REASONING) if c in cats]
    tools = sorted(c for c in cats if c.startswith(TOOL_PREFIX) and c != OTHER_TOOLS)
    tail = [c for c in (OTHER_TOOLS, PLACEHOLDERS, PRUNED_AWAY) if c in cats]
    return head + tools + tail


def colors(categories: Iterable[str]) -> list[str]:
    """A colour per category, in the order given (tools take palette colours by name order)."""
    cats = list(categories)
    tools = sorted(c for c in cats if c.startswith(TOOL_PREFIX) and c not in _FIXED)
    tool_color = {c: _TOOL_PALETTE[k % len(_TOOL_PALETTE)] for k, c in enumerate(tools)}
    return [_FIXED.get(c) or tool_color[c] for c in cats]
