"""Policies from dicts and files, and the errors a bad config gets."""

from __future__ import annotations

import dataclasses
import json

from contextkit import (
    PRESETS,
    Placeholder,
    Policy,
    PolicyConfigError,
    Session,
    ToolRule,
    load_policy,
    save_policy,
)
from contextkit.config import PLACEHOLDER_FIELDS, POLICY_FIELDS, RULE_SCALARS, validate

import pytest


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


# ---------------------------------------------------------------------------- malformed policy files

# The 31 malformed files of issue 19, as a new user writes them: (file name, bytes, what the error names).
# Every one is refused with a PolicyConfigError naming the file (and the key, where there is one).
MALFORMED = [
    ("syntax.toml", b"max_age = = 3\n", "not valid TOML"),
    ("unknown_key.toml", b"max_agee = 3\n", "policy.max_agee: unknown key (did you mean 'max_age'?)"),
    ("unknown_preset.toml", b'preset = "defualt"\n', "policy.preset: unknown preset 'defualt' (did you mean 'default'?)"),
    ("wrong_type.toml", b'keep_last = "three"\n', "policy.keep_last: must be an int"),
    ("negative.toml", b"max_age = -1\n", "policy.max_age: must be >= 0, got -1"),
    ("nan.toml", b"min_cache_gain = nan\n", "policy.min_cache_gain: must be a finite number, got nan"),
    ("inf.toml", b"min_cache_gain = inf\n", "policy.min_cache_gain: must be a finite number, got inf"),
    ("head_chars.toml", b"[placeholder]\nhead_chars = -150\n", "policy.placeholder.head_chars: must be >= 0, got -150"),
    ("non_utf8.toml", b"max_age = 3\nname = 'caf\xe9'\n", "not UTF-8 text: byte 0xe9 on line 2"),
    ("empty.toml", b"", "holds no policy settings"),
    ("no_handle.toml", b'[placeholder]\ntemplate = "gone"\n', "policy.placeholder.template: the template must contain {handle}"),
    ("template_field.toml", b'[placeholder]\ntemplate = "{handle} {bogus}"\n', "policy.placeholder.template: unknown field(s) ['bogus']"),
    ("tool_rule_key.toml", b"[tools.grep]\nkeep_lst = 1\n", "policy.tools.grep.keep_lst: unknown key (did you mean 'keep_last'?)"),
    ("trigger_fraction.toml", b"trigger_fraction = 1.5\n", "policy.trigger_fraction: must be in (0, 1], got 1.5"),
    ("syntax.yaml", b"max_age: [1,\n", "not valid YAML"),
    ("preset_list.yaml", b"preset: [default]\n", "policy.preset: must be a preset name (a string), got ['default'] (a list)"),
    ("int_key.yaml", b"1: 2\n", "policy: a key must be a string, got 1 (an int)"),
    ("bool_key.yaml", b"yes: 1\n", "policy: a key must be a string, got True (a bool) (YAML reads yes/no"),
    ("key_line_chars.yaml", b"placeholder:\n  key_line_chars: -5\n", "policy.placeholder.key_line_chars: must be >= 0, got -5"),
    ("key_terms.yaml", b"placeholder:\n  key_terms: -20\n", "policy.placeholder.key_terms: must be >= 0, got -20"),
    ("wrong_type.yaml", b'supersede: "yes"\n', "policy.supersede: must be a bool, got 'yes' (a string)"),
    ("list_top.yaml", b"- max_age: 3\n", "must hold a table / mapping of policy settings, not a list"),
    ("tools_list.yaml", b"tools: [read_file]\n", "policy.tools: expected a table of tool names to rules"),
    ("exclude_string.yaml", b"exclude_tools: fetch_invoice\n", "policy.exclude_tools: must be a list of tool names"),
    ("non_utf8.yaml", b"max_age: 3\nname: caf\xe9\n", "not UTF-8 text: byte 0xe9 on line 2"),
    ("syntax.json", b'{"max_age": 3,}', "not valid JSON"),
    ("nan.json", b'{"preset": "default", "min_cache_gain": NaN}', "policy.min_cache_gain: must be a finite number, got nan"),
    ("float_for_int.json", b'{"max_age": 2.5}', "policy.max_age: must be an int, got 2.5 (a number)"),
    ("bool_for_int.json", b'{"keep_last": true}', "policy.keep_last: must be an int, got True (a bool)"),
    ("list_top.json", b"[1, 2]", "must hold a table / mapping of policy settings, not a list"),
    ("unknown_preset.json", b'{"preset": "observation-mask"}', "did you mean 'observation-masking'?"),
]

# More mistakes of the same kinds, beyond the issue's 31.
MALFORMED_MORE = [
    ("tool_negative.toml", b"[tools.grep]\nmax_age = -2\n", "policy.tools.grep.max_age: must be >= 0, got -2"),
    ("tool_placeholder.yaml", b"tools:\n  grep:\n    placeholder:\n      tail_chars: -1\n",
     "policy.tools.grep.placeholder.tail_chars: must be >= 0"),
    ("null_key.yaml", b"~: 3\n", "policy: a key must be a string, got None"),
    ("tool_name_int.yaml", b"tools:\n  123: {keep_last: 1}\n", "policy.tools: a tool name must be a string, got 123"),
    ("duplicate.yaml", b"max_age: 1\nmax_age: 5\n", "duplicate key 'max_age'"),
    ("duplicate.json", b'{"max_age": 1, "max_age": 5}', "duplicate key 'max_age'"),
    ("infinity.json", b'{"trigger_fraction": Infinity}', "policy.trigger_fraction: must be a finite number, got inf"),
    ("huge.json", b'{"min_cache_gain": 1' + b"0" * 400 + b"}", "policy.min_cache_gain: must be a finite number"),
    ("comments_only.toml", b"# nothing here yet\n", "holds no policy settings"),
    ("only_dashes.yaml", b"---\n", "holds no policy settings"),
    ("basis.yaml", b"trigger_basis: Raw\n", "policy.trigger_basis: must be one of 'sent', 'raw', got 'Raw'"),
    ("bad_brace.toml", b'[placeholder]\ntemplate = "{handle"\n', "policy.placeholder.template: bad template"),
    ("policy.txt", b"max_age = 3\n", "unknown kind of policy file"),
    ("rule_null_placeholder.yaml", b"tools:\n  grep: 5\n", "policy.tools.grep: expected a table of rule settings, got 5 (an int)"),
]


@pytest.mark.parametrize("name, content, words", MALFORMED + MALFORMED_MORE, ids=[m[0] for m in MALFORMED + MALFORMED_MORE])
def test_a_malformed_policy_file_is_refused_naming_the_file_and_the_key(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PolicyConfigError) as e:
        Session(str(path), tracing=False)
    message = str(e.value)
    assert message.startswith(f"{path}: "), message
    assert words in message, message
    assert "\n" not in message  # one line, whatever the parser said


def test_the_issue_lists_31_malformed_files():
    assert len(MALFORMED) == 31 and len({m[0] for m in MALFORMED}) == 31


def test_an_empty_file_is_refused_but_a_one_line_preset_is_the_default(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(PolicyConfigError, match="preset: default"):
        load_policy(tmp_path / "empty.yaml")
    (tmp_path / "default.yaml").write_text("preset: default\n")
    assert load_policy(tmp_path / "default.yaml") == PRESETS["default"]


def test_a_utf8_bom_is_fine(tmp_path):
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbfmax_age = 3\n")
    assert load_policy(tmp_path / "bom.toml").max_age == 3


# ---------------------------------------------------------------------------- one declaration per field


def test_every_field_of_policy_placeholder_and_tool_rule_is_declared_once():
    declared_policy = set(POLICY_FIELDS) | {"tools", "placeholder"}
    assert {f.name for f in dataclasses.fields(Policy)} == declared_policy
    assert {f.name for f in dataclasses.fields(Placeholder)} == set(PLACEHOLDER_FIELDS)
    assert {f.name for f in dataclasses.fields(ToolRule)} == set(RULE_SCALARS) | {"placeholder"}
    assert all(RULE_SCALARS[k].kind == POLICY_FIELDS[k].kind for k in RULE_SCALARS)  # taken from the policy's
    # the declared defaults are within their own ranges
    validate(Policy())
    for p in PRESETS.values():
        validate(p)


@pytest.mark.parametrize(
    "policy, where, words",
    [
        (Policy(min_cache_gain=float("nan")), "policy.min_cache_gain", "finite"),
        (Policy(min_cache_gain=float("inf")), "policy.min_cache_gain", "finite"),
        (Policy(placeholder=Placeholder(head_chars=-150)), "policy.placeholder.head_chars", ">= 0"),
        (Policy(placeholder=Placeholder(key_line_chars=-1)), "policy.placeholder.key_line_chars", ">= 0"),
        (Policy(placeholder=Placeholder(key_terms=-3)), "policy.placeholder.key_terms", ">= 0"),
        (Policy(placeholder=Placeholder(key_lines=2.5)), "policy.placeholder.key_lines", "must be an int"),
        (Policy(tools={"grep": ToolRule(keep_last=-1)}), "policy.tools.grep.keep_last", ">= 0"),
        (Policy(tools={"grep": ToolRule(pin="yes")}), "policy.tools.grep.pin", "must be a bool"),
        (Policy(tools={"grep": ToolRule(placeholder=Placeholder(template="x"))}), "policy.tools.grep.placeholder.template", "{handle}"),
        (Policy(exclude_tools=["a", 3]), "policy.exclude_tools", "list of tool names"),
        (Policy(name=None), "policy.name", "not null"),
        (Policy(trigger_fraction=0.0), "policy.trigger_fraction", "(0, 1]"),
    ],
)
def test_policy_objects_get_the_same_declarations(policy, where, words):
    with pytest.raises(PolicyConfigError) as e:
        Session(policy, tracing=False)
    assert str(e.value).startswith(where + ":") and words in str(e.value)


def test_what_a_file_gives_is_normalised_like_the_dataclass_defaults(tmp_path):
    (tmp_path / "p.json").write_text('{"min_cache_gain": 2, "exclude_tools": ["x"], "trigger_fraction": 1}')
    p = load_policy(tmp_path / "p.json")
    assert p.min_cache_gain == 2.0 and isinstance(p.min_cache_gain, float)
    assert p.exclude_tools == ("x",) and p.trigger_fraction == 1.0
