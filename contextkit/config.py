"""Policies from config: a preset name, a dict, or a TOML / YAML / JSON file, validated.

A config is the policy's fields at the top level, optionally on top of a preset:

    preset = "default"          # start from a preset (optional; without it, from Policy())
    max_age = 8
    exclude_tools = ["fetch_invoice"]
    [tools.read_file]           # per-tool overrides
    keep_last = 2
    [placeholder]
    head_chars = 200

Every setting is declared once below (`POLICY_FIELDS`, `PLACEHOLDER_FIELDS`; a tool rule takes the
policy's declaration of the same name): its type, its range, whether it may be null. Files, dicts
and `Policy` objects built in code are all checked against these declarations by `validate`, and
every mistake raises a PolicyConfigError naming the file and the key. An empty file is refused
(most often a truncated write or the wrong file); `preset = "default"` is the one-line default.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PolicyConfigError
from .faults import FLAGS
from .placeholders import TEMPLATE_FIELDS, Placeholder
from .policy import RULE_FIELDS, Policy, ToolRule
from .presets import PRESETS

_INT = "an int"
_FLOAT = "a number"
_BOOL = "a bool"
_STR = "a string"
_TOOLS = "a list of tool names"
_FLAGS = "a list of fault flags"
_TEMPLATE = "a template string"
_TEMPLATE_FIELDS = tuple(sorted(TEMPLATE_FIELDS))
_SUFFIXES = (".toml", ".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Field:
    """One setting: its type, its range (bounds inclusive unless `open_low` / `open_high`), whether
    None is allowed, and the strings it may take. Numbers must be finite."""

    kind: str
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] = ()

    def read(self, value: Any, where: str) -> Any:
        """`value` as the policy holds it (lists become tuples, ints floats), or PolicyConfigError."""
        if value is None:
            if self.nullable:
                return None
            raise PolicyConfigError(f"must be {self.kind}, not null", where)
        if not _is(self.kind, value):
            raise PolicyConfigError(f"must be {self.kind}, got {_show(value)}", where)
        if self.kind == _TOOLS:
            return tuple(value)
        if self.kind == _FLAGS:
            unknown = [v for v in value if v not in self.choices]
            if unknown:
                raise PolicyConfigError(f"unknown flag(s) {', '.join(map(repr, unknown))}; flags: {', '.join(self.choices)}", where)
            return tuple(value)
        if self.kind == _TEMPLATE:
            _check_template(value, where)
        if self.kind in (_INT, _FLOAT):
            if isinstance(value, float) and not math.isfinite(value):
                raise PolicyConfigError(f"must be a finite number, got {value}", where)
            if not self._in_range(value):
                raise PolicyConfigError(f"must be {self.range_text()}, got {value}", where)
            if self.kind == _FLOAT and not isinstance(value, float):
                if abs(value) > sys.float_info.max:
                    raise PolicyConfigError(f"must be a finite number, got an int of {len(str(abs(value)))} digits", where)
                return float(value)
            return value
        if self.choices and value not in self.choices:
            raise PolicyConfigError(f"must be one of {', '.join(map(repr, self.choices))}, got {value!r}", where)
        return value

    def _in_range(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.open_low else v < self.low):
            return False
        return not (self.high is not None and (v >= self.high if self.open_high else v > self.high))

    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return "a finite number"


def _count(nullable: bool = False) -> Field:
    """Tokens, characters, steps, turns, items: an int >= 0."""
    return Field(_INT, nullable=nullable, low=0)


POLICY_FIELDS: dict[str, Field] = {
    "name": Field(_STR),
    "description": Field(_STR),
    "source": Field(_STR),
    "trigger_tokens": _count(),
    "trigger_fraction": Field(_FLOAT, nullable=True, low=0, high=1, open_low=True),
    "trigger_basis": Field(_STR, choices=("sent", "raw")),
    "clear_at_least": _count(),
    "keep_last": _count(nullable=True),
    "max_age": _count(nullable=True),
    "use_terms": Field(_INT, low=1),
    "max_tokens": _count(nullable=True),
    "max_chars": _count(nullable=True),
    "min_tokens": _count(),
    "min_saving": Field(_FLOAT, low=0, high=1, open_high=True),
    "supersede": Field(_BOOL),
    "pin": Field(_BOOL),
    "include_tools": Field(_TOOLS, nullable=True),
    "exclude_tools": Field(_TOOLS),
    "quarantine": Field(_FLAGS, choices=FLAGS),
    "protect_recent_turns": _count(),
    "protect_tokens": _count(),
    "batch_slack": _count(),
    "min_cache_gain": Field(_FLOAT, low=0),
    "max_payback_steps": _count(nullable=True),
    "clear_tool_inputs": Field(_BOOL),
    "keep_thinking_turns": _count(nullable=True),
    "enabled": Field(_BOOL),
}
PLACEHOLDER_FIELDS: dict[str, Field] = {
    "template": Field(_TEMPLATE),
    "head_chars": _count(),
    "tail_chars": _count(),
    "key_lines": _count(),
    "key_line_chars": _count(),
    "key_terms": _count(),
    "evidence": Field(_FLOAT, low=0, high=1),
    "evidence_min_tokens": _count(),
    "evidence_max_tokens": _count(),
    "evidence_terms": _count(),
    "evidence_boost": Field(_FLOAT, low=0),
}
# A tool rule overrides the policy's field of the same name; None there means "as the policy says".
RULE_SCALARS: dict[str, Field] = {k: dataclasses.replace(POLICY_FIELDS[k], nullable=True) for k in RULE_FIELDS if k != "placeholder"}
_TOP_KEYS = ("preset", *POLICY_FIELDS, "tools", "placeholder")


# ---------------------------------------------------------------------------- public


def resolve_policy(spec: Any) -> Policy:
    """A Policy from what `Session(policy=...)` accepts: None, a preset name, a file path, a dict or a Policy."""
    if spec is None:
        return PRESETS["default"]
    if isinstance(spec, Policy):
        validate(spec)
        return spec
    if isinstance(spec, Mapping):
        return policy_from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        s = os.fspath(spec)
        if s in PRESETS:
            return PRESETS[s]
        if s.lower().endswith(_SUFFIXES) or os.path.sep in s or os.path.exists(s):
            return load_policy(s)
        raise PolicyConfigError(f"unknown preset {s!r}{_suggest(s, PRESETS)}; presets: {', '.join(PRESETS)}", "policy")
    raise PolicyConfigError(
        f"expected a preset name, a config dict, a file path or a Policy, got {type(spec).__name__}", "policy"
    )


def load_policy(path: str | os.PathLike) -> Policy:
    """Read a policy from a TOML, YAML or JSON file (UTF-8)."""
    p = Path(path)
    where = str(p)
    kind = p.suffix.lower()
    if kind not in _SUFFIXES:
        raise PolicyConfigError("unknown kind of policy file (use .toml, .yaml, .yml or .json)", where)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise PolicyConfigError(f"cannot read the policy file ({e.strerror or e})", where) from e
    data = _parse(raw, kind, where)
    if data is None or data == {}:
        raise PolicyConfigError(
            "the file holds no policy settings (for the default policy write `preset = \"default\"` "
            "in TOML, `preset: default` in YAML)", where)
    if not isinstance(data, Mapping):
        raise PolicyConfigError(f"the file must hold a table / mapping of policy settings, not {_kind_name(data)}", where)
    return policy_from_dict(data, where=f"{where}: policy")


def policy_from_dict(cfg: Mapping, where: str = "policy") -> Policy:
    """A Policy from a config mapping (the shape of a policy file), checked key by key."""
    _string_keys(cfg, where)
    cfg = dict(cfg)
    base_name = cfg.pop("preset", None)
    if base_name is None:
        name = cfg.get("name", "custom")
        base = Policy(name=name if isinstance(name, str) else "custom")
    else:
        if not isinstance(base_name, str):
            raise PolicyConfigError(f"must be a preset name (a string), got {_show(base_name)}", f"{where}.preset")
        if base_name not in PRESETS:
            raise PolicyConfigError(
                f"unknown preset {base_name!r}{_suggest(base_name, PRESETS)}; presets: {', '.join(PRESETS)}",
                f"{where}.preset")
        base = PRESETS[base_name]
    changes: dict[str, Any] = {}
    for key, value in cfg.items():
        if key == "tools":
            changes["tools"] = _tools(value, f"{where}.tools")
        elif key == "placeholder":
            changes["placeholder"] = _placeholder(value, f"{where}.placeholder")
        elif key in POLICY_FIELDS:
            changes[key] = POLICY_FIELDS[key].read(value, f"{where}.{key}")
        else:
            raise PolicyConfigError(f"unknown key{_suggest(key, _TOP_KEYS)}", f"{where}.{key}")
    if base_name is not None and "name" not in changes:
        changes["name"] = f"{base_name}+custom" if changes else base.name
    policy = dataclasses.replace(base, **changes)
    validate(policy, where)
    return policy


def validate(policy: Policy, where: str = "policy") -> None:
    """Every field against its declaration (a Policy built in code gets the same checks as a file)."""
    if not isinstance(policy, Policy):
        raise PolicyConfigError(f"must be a Policy, got {type(policy).__name__}", where)
    for key, spec in POLICY_FIELDS.items():
        spec.read(getattr(policy, key), f"{where}.{key}")
    _check_placeholder(policy.placeholder, f"{where}.placeholder")
    if not isinstance(policy.tools, Mapping):
        raise PolicyConfigError(f"must be a mapping of tool names to ToolRules, got {type(policy.tools).__name__}", f"{where}.tools")
    for tool, rule in policy.tools.items():
        w = f"{where}.tools.{tool}"
        if not isinstance(tool, str):
            raise PolicyConfigError(f"a tool name must be a string, got {_show(tool)}", f"{where}.tools")
        if not isinstance(rule, ToolRule):
            raise PolicyConfigError(f"must be a ToolRule, got {type(rule).__name__}", w)
        for key, spec in RULE_SCALARS.items():
            spec.read(getattr(rule, key), f"{w}.{key}")
        if rule.placeholder is not None:
            _check_placeholder(rule.placeholder, f"{w}.placeholder")


def policy_to_dict(policy: Policy) -> dict:
    """The config dict of a policy (what `policy_from_dict` reads back), for saving tuned policies."""
    out: dict[str, Any] = {}
    default = Policy()
    for key in POLICY_FIELDS:
        v = getattr(policy, key)
        if v != getattr(default, key):
            out[key] = list(v) if isinstance(v, tuple) else v
    if policy.placeholder != default.placeholder:
        out["placeholder"] = _changed(policy.placeholder, Placeholder())
    if policy.tools:
        out["tools"] = {}
        for tool, rule in policy.tools.items():
            d = {k: getattr(rule, k) for k in RULE_FIELDS if getattr(rule, k) is not None and k != "placeholder"}
            if rule.placeholder is not None:
                d["placeholder"] = _changed(rule.placeholder, Placeholder())
            out["tools"][tool] = d
    return out


def save_policy(policy: Policy, path: str | os.PathLike) -> Path:
    """Write a policy as YAML or JSON (by suffix) that `Session(policy=path)` loads."""
    p = Path(path)
    validate(policy)
    data = policy_to_dict(policy)
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    elif p.suffix.lower() == ".json":
        p.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        raise PolicyConfigError("save as .yaml, .yml or .json", str(p))
    return p


# ---------------------------------------------------------------------------- reading files


def _parse(raw: bytes, kind: str, where: str) -> Any:
    """The file's data; every parser's complaint becomes a PolicyConfigError naming the file."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise PolicyConfigError(f"not UTF-8 text: byte 0x{raw[e.start]:02x} on line {line} (save the file as UTF-8)", where) from e
    try:
        if kind == ".toml":
            return _toml().loads(text)
        if kind == ".json":
            return json.loads(text, object_pairs_hook=_json_object)
        return _yaml(text)
    except Exception as e:
        label = "YAML" if kind in (".yaml", ".yml") else kind[1:].upper()
        problem = " ".join(str(e).split())  # one line
        raise PolicyConfigError(f"not valid {label}: {problem}", where) from e


def _json_object(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    dup = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    if dup is not None:
        raise ValueError(f"duplicate key {dup!r} (the later value would silently win)")
    return dict(pairs)


def _yaml(text: str) -> Any:
    """`yaml.safe_load`, except that a key given twice in one mapping is an error, not the last one winning."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
            dup = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
            if dup is not None:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {dup!r}", node.start_mark)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=Loader)


def _tools(value: Any, where: str) -> dict[str, ToolRule]:
    if not isinstance(value, Mapping):
        raise PolicyConfigError(f"expected a table of tool names to rules, got {_show(value)}", where)
    _string_keys(value, where, what="a tool name")
    out = {}
    for tool, rule in value.items():
        w = f"{where}.{tool}"
        if isinstance(rule, ToolRule):
            out[tool] = rule
            continue
        if not isinstance(rule, Mapping):
            raise PolicyConfigError(f"expected a table of rule settings, got {_show(rule)}", w)
        _string_keys(rule, w)
        kwargs: dict[str, Any] = {}
        for k, v in rule.items():
            if k == "placeholder":
                kwargs[k] = _placeholder(v, f"{w}.placeholder")
            elif k in RULE_SCALARS:
                kwargs[k] = RULE_SCALARS[k].read(v, f"{w}.{k}")
            else:
                raise PolicyConfigError(f"unknown key{_suggest(k, RULE_FIELDS)}", f"{w}.{k}")
        out[tool] = ToolRule(**kwargs)
    return out


def _placeholder(value: Any, where: str) -> Placeholder:
    if isinstance(value, Placeholder):
        _check_placeholder(value, where)
        return value
    if isinstance(value, str):
        value = {"template": value}
    if not isinstance(value, Mapping):
        raise PolicyConfigError(f"expected a table or a template string, got {_show(value)}", where)
    _string_keys(value, where)
    kwargs = {}
    for k, v in value.items():
        if k not in PLACEHOLDER_FIELDS:
            raise PolicyConfigError(f"unknown key{_suggest(k, PLACEHOLDER_FIELDS)}", f"{where}.{k}")
        kwargs[k] = PLACEHOLDER_FIELDS[k].read(v, f"{where}.{k}")
    return Placeholder(**kwargs)


def _check_placeholder(ph: Any, where: str) -> None:
    if not isinstance(ph, Placeholder):
        raise PolicyConfigError(f"must be a Placeholder, got {type(ph).__name__}", where)
    for key, spec in PLACEHOLDER_FIELDS.items():
        spec.read(getattr(ph, key), f"{where}.{key}")


def _check_template(template: str, where: str) -> None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as e:
        raise PolicyConfigError(f"bad template: {e}", where) from e
    unknown = names - set(_TEMPLATE_FIELDS)
    if unknown:
        raise PolicyConfigError(f"unknown field(s) {sorted(unknown)}; known: {', '.join(_TEMPLATE_FIELDS)}", where)
    if "handle" not in names:
        raise PolicyConfigError("the template must contain {handle}, or pruned content could not be restored", where)


def _string_keys(mapping: Mapping, where: str, what: str = "a key") -> None:
    for key in mapping:
        if not isinstance(key, str):
            hint = " (YAML reads yes/no/on/off/true/false as booleans: quote it)" if isinstance(key, bool) else ""
            raise PolicyConfigError(f"{what} must be a string, got {_show(key)}{hint}", where)


def _is(kind: str, value: Any) -> bool:
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _FLOAT:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind in (_STR, _TEMPLATE):
        return isinstance(value, str)
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)  # _TOOLS


def _show(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({_kind_name(value)})"


def _kind_name(value: Any) -> str:
    names = {bool: "a bool", int: "an int", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _changed(obj: Any, default: Any) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if getattr(obj, f.name) != getattr(default, f.name)}


def _suggest(word: Any, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli

    return tomli
