"""Replay trajectories through policies exactly as the reference judge does, and score every call.

For every assistant message i > 0 of a trajectory, the policy is shown `messages[:i]` (the agent's
request, earlier real outputs included) and returns what would be sent; one fresh runner (one
`Session`) per trajectory, called in order. Everything that does not depend on the policy (the
agent's own request size and cache cost, the evidence each call drew on) is computed once per
trajectory and shared by all policies; text of unchanged messages is tokenized once.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import InvalidMessagesError
from .metrics import TextTokens, cache_cost, evidence, evidence_lines, is_valid, message_key, message_text
from .policies import Runner, resolve_runners
from .results import EvalResult, StepRow, Totals
from .trajectories import load_trajectories
from .trajectory import Trajectory, TrajectoryError


class _Facts:
    """The policy-independent facts of one trajectory: per message text / tokens / cache key, and
    per call the agent's own request figures and the evidence its output drew on."""

    def __init__(self, traj: Trajectory, tokens: TextTokens):
        msgs = traj.messages
        self.messages = msgs
        self.tokens = tokens
        self.index = {id(m): k for k, m in enumerate(msgs)}
        self.texts = [message_text(m) for m in msgs]
        self.toks = [tokens(t) + 4 for t in self.texts]
        self._keys: list[str | None] = [None] * len(msgs)
        self._first: dict[str, int] | None = None  # cache key -> index of its first message
        protected: set[str] = set()
        for k in range(min(2, len(msgs))):
            if msgs[k].get("role") in ("system", "user"):
                protected |= evidence(self.texts[k])
        # per call: (message index, raw tokens, raw cache cost, needed evidence)
        self.calls: list[tuple[int, int, float, frozenset[str]]] = []
        # per call: needed token -> the verbatim lines of earlier tool results that held it
        self.lines: list[dict[str, frozenset[str]]] = []
        tool_evidence: set[str] = set()
        tool_lines: dict[str, set[str]] = {}
        prev: list[dict] = []
        running = 0
        for i, m in enumerate(msgs):
            role = m.get("role")
            if role == "tool":
                tool_evidence |= evidence(self.texts[i])
                for t, held in evidence_lines(self.texts[i]).items():
                    tool_lines.setdefault(t, set()).update(held)
            if role != "assistant" or i == 0:
                continue
            prefix = msgs[:i]
            raw = sum(self.toks[running:i]) + (self.calls[-1][1] if self.calls else 0)
            running = i
            read = sum(self.toks[: self.lead_run(prefix, prev)])
            need = frozenset((evidence(self.texts[i]) & tool_evidence) - protected)
            self.calls.append((i, raw, cache_cost(read, raw), need))
            self.lines.append({t: frozenset(tool_lines.get(t, ())) for t in need})
            prev = prefix

    def text(self, m: dict) -> str:
        k = self.index.get(id(m))
        return self.texts[k] if k is not None else message_text(m)

    def count(self, m: dict) -> int:
        k = self.index.get(id(m))
        return self.toks[k] if k is not None else self.tokens.message(m)

    def key(self, m: dict) -> str:
        k = self.index.get(id(m))
        if k is None:
            return message_key(m)
        if self._keys[k] is None:
            self._keys[k] = message_key(m)
        return self._keys[k]  # type: ignore[return-value]

    def recorded(self, m: dict, i: int) -> bool:
        """Was `m` sent exactly as one of the agent's own messages before messages[i]?"""
        k = self.index.get(id(m))
        if k is not None:
            return k < i
        if self._first is None:
            self._first = {}
            for j in range(len(self.messages)):
                self._first.setdefault(self.key(self.messages[j]), j)
        return self._first.get(message_key(m), i) < i

    def lead_run(self, sent: Sequence[dict], prev: Sequence[dict]) -> int:
        """Length of the longest leading run of `sent` identical to `prev` (what the cache reads back)."""
        n = 0
        for a, b in zip(sent, prev):
            if a is not b and self.key(a) != self.key(b):
                break
            n += 1
        return n


def replay(traj: Trajectory, runner: Runner, facts: _Facts, totals: Totals, rows: list[StepRow] | None) -> None:
    """Replay one trajectory under one policy, adding every call to `totals` (and `rows`)."""
    prepare, session = runner.start()
    msgs = traj.messages
    prev: list[dict] = []
    totals.trajectories += 1
    summarised = 0  # the session's compaction steps counted so far
    for step, ((i, raw, raw_cost, need), lines) in enumerate(zip(facts.calls, facts.lines), 1):
        t0 = time.perf_counter()
        try:
            sent = prepare(msgs[:i])
        except InvalidMessagesError as e:
            raise TrajectoryError(f"{traj.path or traj.id}: the request before messages[{i}] is malformed: {e}") from e
        spent = time.perf_counter() - t0
        sizes = [facts.count(m) for m in sent]
        total = sum(sizes)
        read = sum(sizes[: facts.lead_run(sent, prev)])
        prev = sent
        compactor_tokens = 0  # a summariser's call is input too: a request of its own, nothing cached
        if session is not None and len(session.steps) > summarised:
            compactor_tokens = sum(r.input_tokens or 0 for r in session.steps[summarised:] if r.kind == "compaction")
            summarised = len(session.steps)
        kept = verbatim = 0
        if need:
            present = "\n".join(facts.text(m) for m in sent)
            kept = sum(1 for t in need if t in present)
            as_recorded = "\n".join(facts.text(m) for m in sent if facts.recorded(m, i))
            verbatim = sum(1 for t in need if t in as_recorded or any(s in present for s in lines[t]))
        pruned, note = 0, ""
        if session is not None and session.reports:
            rep = session.reports[-1]
            pruned, note = len(rep.pruned), rep.error or rep.fallback or ""
        row = StepRow(
            policy=runner.label,
            trajectory=traj.id,
            step=step,
            message_index=i,
            raw_tokens=raw,
            input_tokens=total + compactor_tokens,
            cache_read_tokens=read,
            cache_cost=cache_cost(read, total + compactor_tokens),
            raw_cache_cost=raw_cost,
            needed=len(need),
            kept=kept,
            kept_verbatim=verbatim,
            valid=is_valid(sent),
            pruned=pruned,
            note=note,
            compactor_tokens=compactor_tokens,
        )
        totals.add_step(row, spent)
        if rows is not None:
            rows.append(row)


def evaluate(
    trajectories: Any,
    policies: Any = None,
    *,
    progress: bool = False,
    keep_steps: bool = True,
    model: str | None = None,
    compactor: Any = None,
) -> EvalResult:
    """Replay `trajectories` through `policies` and score them as the reference judge does.

    `trajectories`: Trajectory objects, dicts in the shared JSON format, or paths (files, directories,
    trace stores). `policies`: a list of specs, each 'raw', a preset name, a policy file path, a
    `Policy`, a config dict, or a factory returning a `messages -> messages` function; or a
    {label: spec} dict to name them; None means raw + every preset. `progress` shows a tqdm bar on
    stderr. `keep_steps=False` keeps only the sums (for very large stores). `model`: the sessions'
    model (its window, for fitting and compaction triggers; its cache prices). `compactor`: what
    `Session(compactor=...)` takes; a summariser's call counts as input, written to the cache.
    """
    started = time.perf_counter()
    runners = resolve_runners(policies)
    for r in runners:
        r.model, r.compactor = model, compactor
    trajs = _trajectories(trajectories)
    tokens = TextTokens()
    totals = {r.label: Totals(r.label) for r in runners}
    per_traj: list[Totals] = []
    rows: list[StepRow] | None = [] if keep_steps else None
    bar = _progress_bar(sum(t.steps for t in trajs) * len(runners), progress)
    try:
        for traj in trajs:
            facts = _Facts(traj, tokens)
            for r in runners:
                t = Totals(r.label, trajectory=traj.id)
                replay(traj, r, facts, t, rows)
                per_traj.append(t)
                totals[r.label].add(t)
                if bar is not None:
                    bar.update(t.steps)
    finally:
        if bar is not None:
            bar.close()
    return EvalResult(
        policies=[r.label for r in runners],
        totals=totals,
        per_trajectory=per_traj,
        steps=rows or [],
        trajectories=[t.id for t in trajs],
        seconds=time.perf_counter() - started,
    )


def _trajectories(spec: Any) -> list[Trajectory]:
    if isinstance(spec, (str, os.PathLike)):
        return load_trajectories(spec)
    out: list[Trajectory] = []
    for k, item in enumerate(spec if isinstance(spec, Iterable) else [spec]):
        if isinstance(item, Trajectory):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(Trajectory.from_dict(dict(item), f"trajectories[{k}]"))
        elif isinstance(item, (str, os.PathLike)):
            out.extend(load_trajectories(item))
        else:
            raise TrajectoryError(f"trajectories[{k}]: expected a Trajectory, a dict or a path, got {type(item).__name__}")
    return out


def _progress_bar(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="call", desc="contextkit eval", file=sys.stderr, leave=False)
