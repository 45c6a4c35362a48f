"""Policies from dicts and files, and the errors a bad config gets."""

from __future__ import annotations

import json

import pytest

from contextkit import Placeholder, Policy, PolicyConfigError, Session, ToolRule, load_policy, save_policy


def test_dict_config_on_top_of_a_preset():
    s = Session({"preset": "default", "max_age": 3, "tools": {"read_file": {"pin": True}}}, tracing=False)
    assert s.policy.max_age == 3 and s.policy.supersede is True
    assert s.policy.rule_for("read_file").pin and not s.policy.rule_for("bash").pin


@pytest.mark.parametrize(
    "cfg, where, words",
    [
        ({"max_agee": 3}, "policy.max_agee", "did you mean 'max_age'"),
        ({"keep_last": "three"}, "policy.keep_last", "must be an int"),
        ({"tools": {"grep": {"keep_lst": 1}}}, "policy.tools.grep.keep_lst", "did you mean 'keep_last'"),
        ({"trigger_fraction": 1.5}, "policy.trigger_fraction", "(0, 1]"),
        ({"preset": "defualt"}, "policy.preset", "did you mean 'default'"),
        ({"placeholder": {"template": "gone"}}, "policy.placeholder.template", "{handle}"),
        ({"placeholder": {"template": "{handle} {bogus}"}}, "policy.placeholder.template", "bogus"),
        ({"max_age": -1}, "policy.max_age", ">= 0"),
    ],
)
def test_bad_config_names_what_and_where(cfg, where, words):
    with pytest.raises(PolicyConfigError) as e:
        Session(cfg, tracing=False)
    assert isinstance(e.value, ValueError)
    assert where in str(e.value) and words in str(e.value)


def test_unknown_preset_name():
    with pytest.raises(PolicyConfigError, match="unknown preset 'observation-mask'.*did you mean 'observation-masking'"):
        Session("observation-mask", tracing=False)


def test_toml_yaml_json_files_round_trip(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text('preset = "default"\nmax_age = 4\nexclude_tools = ["fetch_invoice"]\n[tools.grep]\nkeep_last = 2\n[placeholder]\nhead_chars = 80\n')
    p = load_policy(toml)
    assert p.max_age == 4 and p.exclude_tools == ("fetch_invoice",) and p.tools["grep"] == ToolRule(keep_last=2)
    assert p.placeholder.head_chars == 80
    for suffix in (".yaml", ".json"):
        out = save_policy(p, tmp_path / f"saved{suffix}")
        again = Session(str(out), tracing=False).policy
        assert again.max_age == 4 and again.tools["grep"].keep_last == 2 and again.placeholder.head_chars == 80
        assert again.rule_for("fetch_invoice").pin


def test_unreadable_or_malformed_files(tmp_path):
    with pytest.raises(PolicyConfigError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("max_age = = 3")
    with pytest.raises(PolicyConfigError, match="not valid TOML"):
        load_policy(bad)
    j = tmp_path / "list.json"
    j.write_text(json.dumps([1, 2]))
    with pytest.raises(PolicyConfigError, match="mapping"):
        load_policy(j)


def test_fraction_trigger_uses_litellm_context_window():
    s = Session({"trigger_fraction": 0.5}, model="gpt-4o", tracing=False)
    assert s._window() == 128_000
    with pytest.raises(PolicyConfigError, match="context window"):
        Session({"trigger_fraction": 0.5}, model="no-such-model-xyz", tracing=False)


@pytest.mark.parametrize(
    "changes, where",
    [
        ({"placeholder": Placeholder(template="{handel}")}, "policy.placeholder.template"),
        ({"trigger_basis": "Raw"}, "policy.trigger_basis"),
        ({"min_saving": 1.5}, "policy.min_saving"),
        ({"keep_last": "3"}, "policy.keep_last"),
        ({"tools": {"grep": {"keep_last": 1}}}, "policy.tools.grep"),
    ],
)
def test_policy_objects_are_validated_like_files(changes, where):
    with pytest.raises(PolicyConfigError) as e:
        Session(Policy(**changes), tracing=False)
    assert where in str(e.value)
