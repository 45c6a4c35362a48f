"""Tracing reads only the segments that changed since the last step (`Ledger.changed`, kept by the
engine), and the worker keeps its own copy of the manifest from those rows. That copy must be the
manifest, field for field, at every step, whatever the engine did: prunes, keeps, uses,
supersessions, restores and reinstatements between steps, reasoning cleared, an agent that rewrites
its list, compaction, fitting the window. Checked against a full snapshot at every step of real
trajectories under several policies."""

from __future__ import annotations

import json

from contextkit import Policy, Session
from contextkit.compaction import Compactor
from contextkit.observer import Observer
from contextkit.tracing import builders as B
from contextkit.tracing.privacy import Masker

import pytest

IH = B.SEG_FIELDS.index("handle")


class Mirror(Observer):
    """Feeds the worker's diff what the tracing observer captures, and compares with the truth."""

    def __init__(self):
        self.st = B.RunState(run_id="r", masker=Masker(False))
        self.ledger = None
        self.steps = 0
        self.rows_seen = 0
        self.mismatches: list[str] = []

    def prepared(self, session, report):
        led = session.ledger
        full = led is not self.ledger
        self.ledger = led
        rows = list(map(B.seg_getter, led.segments if full else led.changed.values()))
        self.rows_seen += len(rows)
        B._changes({}, self.st, rows, report.step, full)
        truth = {r[IH]: r for r in map(B.seg_getter, led.segments)}
        if self.st.segs != truth:
            bad = [h for h in set(truth) | set(self.st.segs) if truth.get(h) != self.st.segs.get(h)]
            self.mismatches.append(f"step {report.step}: {sorted(bad)[:5]}")
        self.steps += 1


def drive(s: Session, msgs: list[dict], *, restore_every: int = 0, rewrite_at: int = 0) -> None:
    """An agent loop over a recorded trajectory: prepare before each assistant turn; now and then a
    restore (or a reinstatement) between steps, and once a rewrite of its own list."""
    n = 0
    for i, m in enumerate(msgs):
        if m["role"] != "assistant" or i == 0:
            continue
        raw = msgs[:i]
        n += 1
        if rewrite_at and n == rewrite_at and len(raw) > 6:
            raw = raw[:3] + [dict(raw[3], content=str(raw[3].get("content")) + " (edited)")] + raw[4:]
        s.prepare(raw)
        if restore_every and n % restore_every == 0:
            pruned = [seg for seg in s.ledger.segments if seg.state == "pruned"]
            if pruned:
                s.restore(pruned[0].handle, reinstate=(n // restore_every) % 2 == 0)


POLICIES = {
    "default": "default",
    "clear-tool-uses": Policy(keep_last=2, protect_recent_turns=0, clear_tool_inputs=True, keep_thinking_turns=1),
    "supersede": Policy(supersede=True, max_age=2, protect_recent_turns=0),
    "opencode": "opencode",
}


@pytest.mark.parametrize("name", list(POLICIES))
def test_the_worker_copy_is_the_manifest_at_every_step(trajectories, name):
    for t in trajectories[:4]:
        msgs = [dict(m) for m in t["messages"]]
        for j, m in enumerate(msgs):  # reasoning on some turns, for the clearing policies
            if m["role"] == "assistant" and j % 3 == 0:
                msgs[j] = dict(m, reasoning_content=f"thinking about step {j}")
        s = Session(POLICIES[name], tracing=False)
        mirror = Mirror()
        s.observers.append(mirror)
        drive(s, msgs, restore_every=5, rewrite_at=7)
        assert mirror.steps > 5 and not mirror.mismatches, (t["id"], mirror.mismatches[:3])
        total = sum(1 for _ in s.ledger.segments)
        assert mirror.rows_seen < mirror.steps * total / 3  # it read what changed, not every segment


def test_compaction_and_fitting_the_window_are_seen(trajectories):
    def summarize(messages: list[dict]) -> str:
        return f"Summary of {len(messages)} messages."

    msgs = [m for t in trajectories[:3] for m in t["messages"][2:] if m["role"] != "user"]
    msgs = trajectories[0]["messages"][:2] + msgs
    for compactor in (None, Compactor(summarize, trigger_tokens=20_000, keep_messages=6)):
        s = Session("none", context_window=40_000, compactor=compactor, tracing=False)
        mirror = Mirror()
        s.observers.append(mirror)
        drive(s, msgs)
        notes = [n for r in s.reports for n in r.notes]
        assert notes and not mirror.mismatches, mirror.mismatches[:3]
        if compactor is not None:
            assert any(seg.state == "compacted" for seg in s.ledger.segments)
        else:
            assert any(n.startswith("fit:") for n in notes)


def test_a_fresh_ledger_after_an_internal_error_is_read_whole():
    s = Session(tracing=False)
    mirror = Mirror()
    s.observers.append(mirror)
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "task"}]
    s.prepare(msgs)
    s.ledger = s.ledger.fresh()  # what Session._fail_open falls back to
    s.editor = type(s.editor)(s.ledger, s.policy)
    s.prepare(msgs + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "more " + json.dumps(1)}])
    assert not mirror.mismatches
