"""One long agent run chained from the shared trajectories, for the benchmarks that need one.

The system prompt and task of the first trajectory, then every trajectory's tool rounds in turn
(format-error nudges left out, so the chain stays a pure tool loop; tool-call ids made unique).
The trajectories are read from ../shared at run time, never copied here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONTEXTKIT_SHARED", REPO.parent / "shared"))
TRAJ = SHARED / "data" / "trajectories"


def _messages(cycles: int = 1) -> Iterator[tuple[bool, dict]]:
    """(ends a trajectory, message) for the whole chain; `cycles` > 1 goes round the trajectories
    again (ids stay unique), for conversations longer than the 40 together."""
    files = sorted(TRAJ.glob("*.json"))
    if not files:
        sys.exit(f"no trajectories in {TRAJ}")
    for m in json.loads(files[0].read_text())["messages"][:2]:
        yield False, dict(m)
    for c in range(cycles):
        for k, f in enumerate(files):
            body = [m for m in json.loads(f.read_text())["messages"][2:] if m["role"] != "user"]
            for j, m in enumerate(body):
                m = dict(m)
                if m.get("tool_calls"):
                    m["tool_calls"] = [{**tc, "id": f"c{c}t{k}_{tc['id']}"} for tc in m["tool_calls"]]
                if m.get("tool_call_id"):
                    m["tool_call_id"] = f"c{c}t{k}_{m['tool_call_id']}"
                yield j == len(body) - 1, m


def by_messages(n: int) -> list[dict]:
    """The chain's first `n` messages or so: cut before the assistant turn that would pass `n`, so
    every tool call has its result."""
    msgs: list[dict] = []
    for _, m in _messages(cycles=1 + n // 4000):
        if m["role"] == "assistant" and len(msgs) >= n:
            return msgs
        msgs.append(m)
    return msgs


def by_trajectories(n: int) -> list[dict]:
    """The chain of the first `n` trajectories, whole."""
    msgs, done = [], 0
    for last, m in _messages():
        msgs.append(m)
        if last:
            done += 1
            if done == n:
                return msgs
    sys.exit(f"the trajectories are only {done}")


def by_turns(turns: int) -> list[dict]:
    """The chain up to (not including) its assistant turn number `turns` + 1."""
    msgs, seen = [], 0
    for _, m in _messages():
        if m["role"] == "assistant":
            if seen == turns:
                return msgs
            seen += 1
        msgs.append(m)
    sys.exit(f"the trajectories hold only {seen} model turns")


def by_size(min_messages: int, min_tokens: int, count: Callable[[str], int]) -> list[dict]:
    """The chain up to the first trajectory boundary with at least this many messages and tokens
    (text and tool-call arguments, as litellm.token_counter counts them)."""
    msgs, tokens = [], 0
    for last, m in _messages():
        msgs.append(m)
        tokens += count(m.get("content") or "") + sum(count(tc["function"]["arguments"]) for tc in m.get("tool_calls") or ())
        if last and len(msgs) >= min_messages and tokens >= min_tokens:
            return msgs
    sys.exit(f"the trajectories hold only {len(msgs)} messages / {tokens} tokens")
