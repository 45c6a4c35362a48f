"""Policies from config: a preset name, a dict, or a TOML / YAML / JSON file, validated.

A config is the policy's fields at the top level, optionally on top of a preset:

    preset = "default"          # start from a preset (optional)
    max_age = 8
    exclude_tools = ["fetch_invoice"]
    [tools.read_file]           # per-tool overrides
    keep_last = 2
    [placeholder]
    head_chars = 200

Every unknown key or wrong type raises a PolicyConfigError naming where it is.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import PolicyConfigError
from .placeholders import TEMPLATE_FIELDS, Placeholder
from .policy import RULE_FIELDS, Policy, ToolRule
from .presets import PRESETS

_INT = "an int"
_FLOAT = "a number"
_BOOL = "a bool"
_STR = "a string"
_TOOLS = "a list of tool names"

_POLICY_TYPES = {
    "name": _STR,
    "description": _STR,
    "source": _STR,
    "trigger_tokens": _INT,
    "trigger_fraction": _FLOAT,
    "trigger_basis": _STR,
    "clear_at_least": _INT,
    "keep_last": _INT,
    "max_age": _INT,
    "use_terms": _INT,
    "max_tokens": _INT,
    "max_chars": _INT,
    "min_tokens": _INT,
    "min_saving": _FLOAT,
    "supersede": _BOOL,
    "pin": _BOOL,
    "include_tools": _TOOLS,
    "exclude_tools": _TOOLS,
    "protect_recent_turns": _INT,
    "protect_tokens": _INT,
    "batch_slack": _INT,
    "min_cache_gain": _FLOAT,
    "max_payback_steps": _INT,
    "clear_tool_inputs": _BOOL,
    "keep_thinking_turns": _INT,
    "enabled": _BOOL,
}
_NULLABLE = {"trigger_fraction", "keep_last", "max_age", "max_tokens", "max_chars", "include_tools", "keep_thinking_turns",
             "max_payback_steps"}
_PLACEHOLDER_TYPES = {
    "template": _STR,
    "head_chars": _INT,
    "tail_chars": _INT,
    "key_lines": _INT,
    "key_line_chars": _INT,
    "key_terms": _INT,
    "evidence": _FLOAT,
    "evidence_min_tokens": _INT,
    "evidence_max_tokens": _INT,
    "evidence_terms": _INT,
    "evidence_boost": _FLOAT,
}
_TEMPLATE_FIELDS = TEMPLATE_FIELDS


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
        if s.endswith((".toml", ".yaml", ".yml", ".json")) or os.path.sep in s:
            return load_policy(s)
        raise PolicyConfigError(f"unknown preset {s!r}{_suggest(s, PRESETS)}; presets: {', '.join(PRESETS)}", "policy")
    raise PolicyConfigError(
        f"expected a preset name, a config dict, a file path or a Policy, got {type(spec).__name__}", "policy"
    )


def load_policy(path: str | os.PathLike) -> Policy:
    """Read a policy from a TOML, YAML or JSON file."""
    p = Path(path)
    where = str(p)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise PolicyConfigError(f"cannot read the policy file ({e.strerror or e})", where) from e
    try:
        if p.suffix == ".toml":
            data = _toml().loads(raw.decode("utf-8"))
        elif p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(raw) or {}
        elif p.suffix == ".json":
            data = json.loads(raw)
        else:
            raise PolicyConfigError("unknown file type (use .toml, .yaml, .yml or .json)", where)
    except PolicyConfigError:
        raise
    except Exception as e:  # the parsers' own messages name the line
        raise PolicyConfigError(f"not valid {p.suffix[1:].upper()}: {e}", where) from e
    if not isinstance(data, Mapping):
        raise PolicyConfigError("the file must hold a table / mapping of policy settings", where)
    return policy_from_dict(data, where=f"{where}: policy")


def policy_from_dict(cfg: Mapping, where: str = "policy") -> Policy:
    cfg = dict(cfg)
    base_name = cfg.pop("preset", None)
    if base_name is None:
        base = Policy(name=str(cfg.get("name", "custom")))
    else:
        if base_name not in PRESETS:
            raise PolicyConfigError(f"unknown preset {base_name!r}{_suggest(str(base_name), PRESETS)}", f"{where}.preset")
        base = PRESETS[base_name]
    changes: dict[str, Any] = {}
    for key, value in cfg.items():
        if key == "tools":
            changes["tools"] = _tools(value, f"{where}.tools")
        elif key == "placeholder":
            changes["placeholder"] = _placeholder(value, f"{where}.placeholder")
        elif key in _POLICY_TYPES:
            changes[key] = _typed(value, _POLICY_TYPES[key], f"{where}.{key}", nullable=key in _NULLABLE)
        else:
            raise PolicyConfigError(f"unknown key{_suggest(key, [*_POLICY_TYPES, 'tools', 'placeholder', 'preset'])}", f"{where}.{key}")
    if base_name is not None and "name" not in changes:
        changes["name"] = f"{base_name}+custom" if changes else base.name
    policy = dataclasses.replace(base, **changes)
    validate(policy, where)
    return policy


def validate(policy: Policy, where: str = "policy") -> None:
    """Types and ranges of every field (a Policy built in code gets the same checks as a file)."""
    for key, kind in _POLICY_TYPES.items():
        _typed(getattr(policy, key), kind, f"{where}.{key}", nullable=key in _NULLABLE)
    if not isinstance(policy.placeholder, Placeholder):
        raise PolicyConfigError(f"must be a Placeholder, got {type(policy.placeholder).__name__}", f"{where}.placeholder")
    for tool, rule in policy.tools.items():
        if not isinstance(rule, ToolRule):
            raise PolicyConfigError(f"must be a ToolRule, got {type(rule).__name__}", f"{where}.tools.{tool}")
    for key in ("trigger_tokens", "clear_at_least", "min_tokens", "protect_recent_turns", "protect_tokens", "batch_slack"):
        if getattr(policy, key) < 0:
            raise PolicyConfigError(f"must be >= 0, got {getattr(policy, key)}", f"{where}.{key}")
    for key in ("keep_last", "max_age", "max_tokens", "max_chars", "keep_thinking_turns", "max_payback_steps"):
        v = getattr(policy, key)
        if v is not None and v < 0:
            raise PolicyConfigError(f"must be >= 0, got {v}", f"{where}.{key}")
    if policy.use_terms < 1:
        raise PolicyConfigError(f"must be >= 1, got {policy.use_terms}", f"{where}.use_terms")
    if policy.trigger_fraction is not None and not 0 < policy.trigger_fraction <= 1:
        raise PolicyConfigError(f"must be in (0, 1], got {policy.trigger_fraction}", f"{where}.trigger_fraction")
    if policy.trigger_basis not in ("sent", "raw"):
        raise PolicyConfigError(f"must be 'sent' or 'raw', got {policy.trigger_basis!r}", f"{where}.trigger_basis")
    if not 0 <= policy.min_saving < 1:
        raise PolicyConfigError(f"must be in [0, 1), got {policy.min_saving}", f"{where}.min_saving")
    if policy.min_cache_gain < 0:
        raise PolicyConfigError("must be >= 0", f"{where}.min_cache_gain")
    _check_template(policy.placeholder.template, f"{where}.placeholder.template")
    for tool, rule in policy.tools.items():
        if rule.placeholder is not None:
            _check_template(rule.placeholder.template, f"{where}.tools.{tool}.placeholder.template")


def policy_to_dict(policy: Policy) -> dict:
    """The config dict of a policy (what `policy_from_dict` reads back), for saving tuned policies."""
    out: dict[str, Any] = {}
    default = Policy()
    for key in _POLICY_TYPES:
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
    data = policy_to_dict(policy)
    if p.suffix in (".yaml", ".yml"):
        import yaml

        p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    elif p.suffix == ".json":
        p.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        raise PolicyConfigError("save as .yaml, .yml or .json", str(p))
    return p


# ---------------------------------------------------------------------------- helpers


def _tools(value: Any, where: str) -> dict[str, ToolRule]:
    if not isinstance(value, Mapping):
        raise PolicyConfigError(f"expected a table of tool names to rules, got {type(value).__name__}", where)
    out = {}
    for tool, rule in value.items():
        w = f"{where}.{tool}"
        if not isinstance(rule, Mapping):
            raise PolicyConfigError(f"expected a table of rule settings, got {type(rule).__name__}", w)
        kwargs: dict[str, Any] = {}
        for k, v in rule.items():
            if k == "placeholder":
                kwargs[k] = _placeholder(v, f"{w}.placeholder")
            elif k in RULE_FIELDS:
                kind = _BOOL if k in ("supersede", "pin") else _INT
                kwargs[k] = _typed(v, kind, f"{w}.{k}", nullable=True)
                if kind == _INT and kwargs[k] is not None and kwargs[k] < 0:
                    raise PolicyConfigError(f"must be >= 0, got {kwargs[k]}", f"{w}.{k}")
            else:
                raise PolicyConfigError(f"unknown key{_suggest(k, RULE_FIELDS)}", f"{w}.{k}")
        out[str(tool)] = ToolRule(**kwargs)
    return out


def _placeholder(value: Any, where: str) -> Placeholder:
    if isinstance(value, Placeholder):
        return value
    if isinstance(value, str):
        value = {"template": value}
    if not isinstance(value, Mapping):
        raise PolicyConfigError(f"expected a table or a template string, got {type(value).__name__}", where)
    kwargs = {}
    for k, v in value.items():
        if k not in _PLACEHOLDER_TYPES:
            raise PolicyConfigError(f"unknown key{_suggest(k, _PLACEHOLDER_TYPES)}", f"{where}.{k}")
        kwargs[k] = _typed(v, _PLACEHOLDER_TYPES[k], f"{where}.{k}")
    ph = Placeholder(**kwargs)
    _check_template(ph.template, f"{where}.template")
    return ph


def _check_template(template: str, where: str) -> None:
    import string

    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as e:
        raise PolicyConfigError(f"bad template: {e}", where) from e
    unknown = names - _TEMPLATE_FIELDS
    if unknown:
        raise PolicyConfigError(f"unknown field(s) {sorted(unknown)}; known: {sorted(_TEMPLATE_FIELDS)}", where)
    if "{handle}" not in template:
        raise PolicyConfigError("the template must contain {handle}, or pruned content could not be restored", where)


def _typed(value: Any, kind: str, where: str, nullable: bool = False) -> Any:
    if value is None:
        if nullable:
            return None
        raise PolicyConfigError(f"must be {kind}, not null", where)
    ok = {
        _INT: isinstance(value, int) and not isinstance(value, bool),
        _FLOAT: isinstance(value, (int, float)) and not isinstance(value, bool),
        _BOOL: isinstance(value, bool),
        _STR: isinstance(value, str),
        _TOOLS: isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
    }[kind]
    if not ok:
        raise PolicyConfigError(f"must be {kind}, got {value!r}", where)
    if kind == _TOOLS:
        return tuple(value)
    if kind == _FLOAT:
        return float(value)
    return value


def _changed(obj: Any, default: Any) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if getattr(obj, f.name) != getattr(default, f.name)}


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli

    return tomli
