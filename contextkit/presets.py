"""Named policies: contextkit's `default`, `none`, and faithful emulations of the peers.

Each peer preset follows the peer's public documentation (field-notes §1) with the peer's own
defaults; its placeholder keeps the peer's wording and adds the handle, so nothing is lost.
The `default` preset is tuned on the shared trajectories; docs/policies.md has its figures and
the command that produced them.
"""

from __future__ import annotations

from .placeholders import Placeholder
from .policy import Policy, ToolRule
from .restore import RESTORE_TOOL_NAME

DEFAULT = Policy(
    name="default",
    description=(
        "contextkit's own: a tool result goes as soon as the model has seen it and its next turn did not "
        "draw on it (repeat 4 of its identifiers, paths or numbers), or as soon as a later call superseded "
        "it. The placeholder keeps, verbatim, the lines holding the identifiers nothing else in the request "
        "carries (13% of the result's size; 2.5x for a file the agent read or an error it hit), and the "
        "handle to restore it. An edit deep in the prompt waits until, counting what pruning has saved, "
        "it pays for the cached suffix it rewrites within 6 turns. Results under 60 tokens, or whose "
        "placeholder would not be 40% smaller, stay; a result the model restored stays until 3 turns "
        "go by without it."
    ),
    source="tuned on ../shared/data/trajectories with the reference judge (docs/policies.md)",
    supersede=True,
    max_age=0,
    use_terms=4,
    min_tokens=60,
    min_saving=0.4,
    protect_recent_turns=1,
    max_payback_steps=6,
    placeholder=Placeholder(evidence=0.13, evidence_boost=2.5),
    tools={RESTORE_TOOL_NAME: ToolRule(max_age=3, supersede=False)},
)

NONE = Policy(
    name="none",
    enabled=False,
    description="Track and trace every segment, prune nothing.",
    source="contextkit",
)

OBSERVATION_MASKING = Policy(
    name="observation-masking",
    keep_last=10,
    protect_recent_turns=0,
    placeholder=Placeholder(template="Old environment output omitted. [{handle}]"),
    description="Keep the last M=10 tool results; replace older ones with a fixed line.",
    source="The Complexity Trap (Lindenbauer et al. 2025), observation masking, M=10",
)

ANTHROPIC_CLEAR_TOOL_USES = Policy(
    name="anthropic-clear-tool-uses",
    trigger_tokens=100_000,
    trigger_basis="raw",
    keep_last=3,
    clear_at_least=0,
    exclude_tools=(),
    clear_tool_inputs=False,
    protect_recent_turns=0,
    placeholder=Placeholder(template="[cleared {handle}]"),
    description=(
        "Once the request exceeds `trigger` input tokens, clear the oldest tool results, keeping the last "
        "`keep`; only if at least `clear_at_least` tokens go; `exclude_tools` are never cleared."
    ),
    source="Anthropic API context editing, clear_tool_uses_20250919 (trigger 100k, keep 3, clear_at_least 0)",
)

OPENAI_TOOL_OUTPUT_TRIMMER = Policy(
    name="openai-tool-output-trimmer",
    max_chars=500,
    protect_recent_turns=2,
    placeholder=Placeholder(
        template="[Trimmed: {tool} output — {chars} chars → {preview_chars} char preview; {handle}]",
        head_chars=200,
    ),
    description="Outside the last 2 turns, tool outputs over 500 characters become a 200-character preview.",
    source="OpenAI Agents SDK ToolOutputTrimmer (recent_turns 2, max_output_chars 500, preview_chars 200)",
)

OPENCODE = Policy(
    name="opencode",
    keep_last=0,
    protect_tokens=40_000,
    clear_at_least=20_000,
    protect_recent_turns=0,
    placeholder=Placeholder(template="[Old tool result content cleared] [{handle}]"),
    description="Protect the newest 40k tokens of tool output; clear older outputs only when 20k+ tokens would go.",
    source="OpenCode session compaction (PRUNE_PROTECT 40,000, PRUNE_MINIMUM 20,000)",
)

PRESETS: dict[str, Policy] = {
    p.name: p
    for p in (DEFAULT, NONE, OBSERVATION_MASKING, ANTHROPIC_CLEAR_TOOL_USES, OPENAI_TOOL_OUTPUT_TRIMMER, OPENCODE)
}
