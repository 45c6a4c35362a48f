"""Every shared trajectory replayed through every preset, as the reference judge replays it:
no request is ever invalid (the judge's own check and ours), nothing is mutated, and every
pruned result can be restored exactly."""

from __future__ import annotations

import copy
import importlib.util

from contextkit import PRESETS, Session
from contextkit.validity import anthropic_problem, openai_problem

import pytest
from helpers import JUDGE


def judge():
    spec = importlib.util.spec_from_file_location("pruning_eval", JUDGE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_never_sends_an_invalid_request(preset, trajectories):
    check_valid = judge().check_valid
    pruned = 0
    for t in trajectories:
        msgs = t["messages"]
        frozen = copy.deepcopy(msgs)
        s = Session(preset, tracing=False)
        for i, m in enumerate(msgs):
            if m["role"] != "assistant" or i == 0:
                continue
            out = s.prepare(msgs[:i])
            assert check_valid(out), (t["id"], i)
            assert openai_problem(out) is None and anthropic_problem(out, msgs[:i]) is None, (t["id"], i)
            assert s.last_report.error is None and s.last_report.fallback is None, s.last_report
        assert msgs == frozen
        for seg in s.ledger:
            if seg.state == "pruned":
                pruned += 1
                assert s.restore(seg.handle) == msgs[seg.index]["content"]
    if preset not in ("none", "anthropic-clear-tool-uses", "opencode"):  # these never trigger on this data
        assert pruned > 100
