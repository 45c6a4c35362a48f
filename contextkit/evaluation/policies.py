"""What the evaluation can replay: `raw` (the agent's own request), contextkit presets, policy
config files, `Policy` objects and config dicts, or any factory of a `messages -> messages` function
(to compare your own pruning on the same yardstick), and litellm's own `litellm.compress` as a peer
(`litellm-compress`, `litellm-compress20k`).

Each is resolved once, before any replay, so a typo fails fast with the name of what is wrong;
each trajectory then gets a fresh runner (one `Session` per trajectory, as the judge does).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import resolve_policy
from ..errors import PolicyConfigError
from ..policy import Policy
from ..presets import PRESETS

RAW = "raw"
# litellm's own prompt compression as a peer, called afresh on every request as its docs show
# (field-notes §6): at its default 200k trigger, and at 20k as the reference judge also runs it.
LITELLM_COMPRESS = {"litellm-compress": 200_000, "litellm-compress20k": 20_000}

Prepare = Callable[[list[dict]], list[dict]]


def default_policy_names() -> list[str]:
    """What `contextkit eval` compares when no policy is named: raw and every preset."""
    return [RAW, *PRESETS]


@dataclass
class Runner:
    """One policy under evaluation: its label and how to start it afresh for a trajectory."""

    label: str
    policy: Policy | None  # None for raw and custom functions
    factory: Callable[[], Prepare] | None = None  # custom functions only
    model: str | None = None  # the sessions' model: its window (fit, compaction triggers) and cache prices
    compactor: Any = None  # a compactor for the sessions (contextkit.Compactor, a model name or a function)

    def start(self) -> tuple[Prepare, Any]:
        """A fresh prepare function for one trajectory, and the Session behind it (if any)."""
        if self.policy is not None:
            from ..session import Session

            # replays must not land in the user's trace store
            session = Session(self.policy, tracing=False, model=self.model, compactor=self.compactor)
            return session.prepare, session
        if self.factory is not None:
            fn = self.factory()
            # a user's function may edit what it is given: hand it a copy, as the judge does
            return (lambda messages: fn(copy.deepcopy(messages))), None
        return _raw, None


def _raw(messages: list[dict]) -> list[dict]:
    return messages


def resolve_runners(policies: Any = None) -> list[Runner]:
    """Runners for a list of policy specs, or a {label: spec} mapping; None means raw + every preset."""
    if policies is None:
        items: Iterable[tuple[str | None, Any]] = [(None, p) for p in default_policy_names()]
    elif isinstance(policies, Mapping):  # {label: spec}; a single config dict goes in a list
        items = [(str(k), v) for k, v in policies.items()]
    elif isinstance(policies, (str, os.PathLike, Policy)) or callable(policies):
        items = [(None, policies)]
    else:
        items = [(None, p) for p in policies]
    runners: list[Runner] = []
    seen: dict[str, int] = {}
    for label, spec in items:
        r = _runner(spec, label)
        if r.label in seen:
            seen[r.label] += 1
            r.label = f"{r.label}#{seen[r.label]}"
        else:
            seen[r.label] = 1
        runners.append(r)
    if not runners:
        raise PolicyConfigError("no policy to evaluate", "policies")
    return runners


def _litellm_compress(trigger: int) -> Callable[[], Prepare]:
    def factory() -> Prepare:
        import litellm

        def prepare(messages: list[dict]) -> list[dict]:
            # litellm.compress is the function; mypy takes it for the submodule of the same name
            return litellm.compress(messages, model="gpt-4o", compression_trigger=trigger)["messages"]  # type: ignore[operator]

        return prepare

    return factory


def _runner(spec: Any, label: str | None) -> Runner:
    if isinstance(spec, str) and spec == RAW:
        return Runner(label or RAW, None)
    if isinstance(spec, str) and spec in LITELLM_COMPRESS:
        return Runner(label or spec, None, factory=_litellm_compress(LITELLM_COMPRESS[spec]))
    if isinstance(spec, Policy):
        return Runner(label or spec.name, spec)
    if isinstance(spec, (str, os.PathLike, Mapping)):
        # presets by name, config files by path, config dicts: exactly what Session(policy=...) accepts
        try:
            policy = resolve_policy(spec)
        except PolicyConfigError as e:
            if isinstance(spec, str) and not os.path.exists(spec) and e.where == "policy":
                raise PolicyConfigError(f"{e.problem}, or '{RAW}', or a policy file (.toml/.yaml/.json)", "policy") from e
            raise
        name: str = os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else policy.name
        return Runner(label or name, policy)
    if callable(spec):
        fname: str = getattr(spec, "__name__", "custom")
        return Runner(label or fname, None, factory=spec)
    raise PolicyConfigError(
        f"expected 'raw', a preset name, a policy file, a Policy, a config dict or a factory, got {type(spec).__name__}",
        "policies",
    )

