"""Why a segment is in the state it is in, as data: a short rule code beside the sentence people read.

Code, the trace store (`segment_states.rule`), the viewer's SQL and the tests compare codes; the
reason sentence (`Segment.reason`) is for people and may change wording at any time.
"""

from __future__ import annotations

NEW = "new"  # just arrived, nothing decided yet

# a tool result replaced by its placeholder
UNUSED = "unused"  # the agent has not drawn on it for longer than max_age
SUPERSEDED = "superseded"  # a later call made it stale
KEEP_LAST = "keep_last"  # older than the newest N results
SIZE_CAP = "size_cap"  # larger than max_tokens / max_chars
FIT = "fit"  # pruned early: the request would not have fit the model's context window
CUT = "cut"  # cut to a head and a tail: the request would not have fit even with every prune
COMPACTED = "compacted"  # replaced, with the turns around it, by a summary (Session(compactor=...))
QUARANTINED = "quarantined"  # flagged (Policy.quarantine: injection, ...): a warning placeholder, never sent

# a tool result kept, for now or for good
PINNED = "pinned"  # its tool is pinned, excluded or not included
TOO_SMALL = "too_small"  # under min_tokens: a placeholder would not pay
MIN_SAVING = "min_saving"  # its placeholder would not be min_saving smaller
CACHE_WAIT = "cache_wait"  # pruning it now would cost more (prompt cache rewrite) than it saves soon
WOULD_BREAK = "would_break"  # the edit would have made the request invalid; taken back

# after a prune
RESTORED = "restored"  # its original was handed back (restore tool, Session.restore)
REINSTATED = "reinstated"  # its original is sent in place again

# assistant turns
REASONING_CLEARED = "reasoning_cleared"  # reasoning of an old turn dropped (keep_thinking_turns)
REASONING_RESTORED = "reasoning_restored"  # the turn became the latest again: reasoning back
ARGUMENTS_CLEARED = "arguments_cleared"  # a pruned result's call arguments blanked (clear_tool_inputs)
ARGUMENTS_CUT = "arguments_cut"  # large call arguments cut to fit the model's context window

PRUNE_RULES = frozenset({UNUSED, SUPERSEDED, KEEP_LAST, SIZE_CAP, FIT, CUT, QUARANTINED})
