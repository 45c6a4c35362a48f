"""`contextkit.evaluation` agrees with the reference judge (../shared/bench/pruning_eval.py).

The judge is imported by path here, in the test only: the library has its own implementation of
the same definitions, and this is the check that the two say the same thing on real data.
"""

from __future__ import annotations

import importlib.util
import json

from contextkit.evaluation import evaluate

import pytest
from helpers import JUDGE, trajectory_files

# a few real trajectories of both sources and sizes (long enough that every policy prunes)
PICK = (
    "mswea-gemini-3-pro__django__django-15104.json",
    "mswea-deepseek-chat__chat-test-1-100__django__django-12453.json",
    "mswea-deepseek-chat__chat-dev__pylint-dev__astroid-1196.json",
)
PRESETS = ("default", "observation-masking", "openai-tool-output-trimmer", "anthropic-clear-tool-uses")
TOLERANCE = 0.00005  # the 4th digit


@pytest.fixture(scope="module")
def judge():
    spec = importlib.util.spec_from_file_location("pruning_eval", JUDGE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def picked() -> list[dict]:
    files = {f.name: f for f in trajectory_files()}
    return [json.loads(files[name].read_text()) for name in PICK]


def judge_rows(judge, trajs: list[dict], names: list[str]) -> dict[str, dict]:
    """The judge's own `evaluate`, minus its directory glob: sums of `replay` over the trajectories."""
    rows = {}
    for name in names:
        tot = dict(raw=0, sent=0, cache_cost=0.0, raw_cache_cost=0.0, needed=0, kept=0, kept_verbatim=0, steps=0, invalid=0)
        for t in trajs:
            r = judge.replay(t, judge.make_policy(name))
            for k in tot:
                tot[k] += r[k]
        rows[name] = dict(
            steps=tot["steps"],
            input_tokens=tot["sent"],
            saved=1 - tot["sent"] / tot["raw"],
            cache_cost_vs_raw=tot["cache_cost"] / tot["raw_cache_cost"],
            retention=tot["kept"] / tot["needed"] if tot["needed"] else 1.0,
            verbatim_retention=tot["kept_verbatim"] / tot["needed"] if tot["needed"] else 1.0,
            invalid_requests=tot["invalid"],
            needed=tot["needed"],
        )
    return rows


def test_figures_agree_with_the_reference_judge(judge, picked, monkeypatch):
    monkeypatch.setenv("CONTEXTKIT_TRACING", "off")  # the judge's Session must not write a trace store
    theirs = judge_rows(judge, picked, ["raw", *(f"contextkit:{p}" for p in PRESETS)])
    ours = evaluate(picked, ["raw", *PRESETS])
    assert ours.policies == ["raw", *PRESETS]
    for name in ["raw", *PRESETS]:
        j = theirs["raw" if name == "raw" else f"contextkit:{name}"]
        o = ours[name]
        assert o.steps == j["steps"], name
        assert o.needed == j["needed"], name  # the same evidence definition, exactly
        assert o.saved == pytest.approx(j["saved"], abs=TOLERANCE), name
        assert o.cache_cost_vs_raw == pytest.approx(j["cache_cost_vs_raw"], abs=TOLERANCE), name
        assert o.retention == pytest.approx(j["retention"], abs=TOLERANCE), name
        assert o.verbatim_retention == pytest.approx(j["verbatim_retention"], abs=TOLERANCE), name
        assert o.invalid_requests == j["invalid_requests"], name
    # the comparison has teeth: the policies really differ on these trajectories
    assert ours["observation-masking"].saved > 0.1
    assert ours["observation-masking"].retention < 1.0
    assert ours["observation-masking"].cache_cost_vs_raw > 1.2
    # an identifier list keeps retention, not verbatim retention
    mentions = evaluate(picked, {"m": {"preset": "default", "placeholder": {"key_terms": 20, "evidence": 0}}})["m"]
    assert mentions.verbatim_retention < mentions.retention - 0.02


def test_trajectory_messages_are_left_as_they_were(picked):
    before = json.dumps(picked, sort_keys=True)
    evaluate(picked, ["default", "observation-masking"], keep_steps=False)
    assert json.dumps(picked, sort_keys=True) == before
