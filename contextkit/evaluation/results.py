"""What an evaluation returns: one row per replayed model call, sums per trajectory and per policy.

Sums are kept raw (token counts, cost units, evidence counts) and the ratios are computed from
them, so totals over any subset (a query over the step rows) give the judge's figures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

_SUMMED = ("steps", "raw_tokens", "input_tokens", "cache_cost", "raw_cache_cost", "needed", "kept", "kept_verbatim",
           "invalid_requests", "pruned", "fallbacks", "seconds")


@dataclass
class StepRow:
    """One model call of one trajectory under one policy."""

    policy: str
    trajectory: str
    step: int  # 1-based model call number within the trajectory
    message_index: int  # the assistant message this call produced; the request is messages[:message_index]
    raw_tokens: int  # tokens the agent would have sent
    input_tokens: int  # tokens sent under the policy
    cache_read_tokens: int  # of input_tokens, the leading run identical to the previous request
    cache_cost: float  # base-price units: 0.1 x cache_read_tokens + 1.25 x the rest
    raw_cache_cost: float  # the same for the agent's own request
    needed: int  # evidence tokens the assistant's output drew from earlier tool results
    kept: int  # of those, still present in what was sent
    kept_verbatim: int  # of those, still sent inside recorded content (the judge's verbatim_retention)
    valid: bool  # OpenAI tool-call pairing holds
    pruned: int  # results the policy pruned at this step
    note: str = ""
    compactor_tokens: int = 0  # input of a summariser's call at this step (counted in input_tokens and cache_cost)  # the session's fallback or internal error at this step, if any

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Totals:
    """Sums over steps: of one trajectory (`trajectory` set) or of all of them, for one policy."""

    policy: str
    trajectory: str | None = None
    trajectories: int = 0
    steps: int = 0
    raw_tokens: int = 0
    input_tokens: int = 0
    cache_cost: float = 0.0
    raw_cache_cost: float = 0.0
    needed: int = 0
    kept: int = 0
    kept_verbatim: int = 0
    invalid_requests: int = 0
    pruned: int = 0
    fallbacks: int = 0  # steps the session sent unchanged or took its edits back
    seconds: float = 0.0  # time spent inside the policy (Session.prepare), not in scoring

    @property
    def saved(self) -> float:
        """1 - tokens sent / tokens the agent would have sent."""
        return 1 - self.input_tokens / self.raw_tokens if self.raw_tokens else 0.0

    @property
    def cache_cost_vs_raw(self) -> float:
        """Input cost with a prompt cache, relative to sending the agent's own requests."""
        return self.cache_cost / self.raw_cache_cost if self.raw_cache_cost else 1.0

    @property
    def retention(self) -> float:
        """Share of later-used evidence still present in what was sent."""
        return self.kept / self.needed if self.needed else 1.0

    @property
    def verbatim_retention(self) -> float:
        """Share of later-used evidence still sent inside recorded content (a message as recorded, or
        a verbatim line of the tool result that held it): an identifier list alone does not count."""
        return self.kept_verbatim / self.needed if self.needed else 1.0

    def add_step(self, row: StepRow, seconds: float) -> None:
        self.steps += 1
        self.raw_tokens += row.raw_tokens
        self.input_tokens += row.input_tokens
        self.cache_cost += row.cache_cost
        self.raw_cache_cost += row.raw_cache_cost
        self.needed += row.needed
        self.kept += row.kept
        self.kept_verbatim += row.kept_verbatim
        self.invalid_requests += not row.valid
        self.pruned += row.pruned
        self.fallbacks += bool(row.note)
        self.seconds += seconds

    def add(self, other: Totals) -> None:
        self.trajectories += other.trajectories
        for k in _SUMMED:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self) -> dict:
        """The judge's keys first (same names, same meaning), then the sums behind them."""
        d: dict[str, Any] = {"policy": self.policy}
        if self.trajectory is not None:
            d["trajectory"] = self.trajectory
        d.update(
            trajectories=self.trajectories,
            steps=self.steps,
            input_tokens=self.input_tokens,
            saved=self.saved,
            cache_cost=self.cache_cost,
            cache_cost_vs_raw=self.cache_cost_vs_raw,
            retention=self.retention,
            verbatim_retention=self.verbatim_retention,
            invalid_requests=self.invalid_requests,
            raw_tokens=self.raw_tokens,
            raw_cache_cost=self.raw_cache_cost,
            needed=self.needed,
            kept=self.kept,
            kept_verbatim=self.kept_verbatim,
            pruned=self.pruned,
            fallbacks=self.fallbacks,
            seconds=round(self.seconds, 3),
        )
        return d


@dataclass
class EvalResult:
    """Everything one `evaluate` call measured."""

    policies: list[str]
    totals: dict[str, Totals]  # policy label -> sums over every trajectory
    per_trajectory: list[Totals] = field(default_factory=list)  # one per (trajectory, policy)
    steps: list[StepRow] = field(default_factory=list)  # one per replayed call (empty if keep_steps=False)
    trajectories: list[str] = field(default_factory=list)  # ids, in replay order
    seconds: float = 0.0  # wall time of the whole evaluation

    def __getitem__(self, policy: str) -> Totals:
        return self.totals[policy]

    def to_dict(self, *, per_trajectory: bool = False, steps: bool = False) -> dict:
        """JSON-ready: totals per policy (the judge's figures), optionally the finer rows."""
        out: dict[str, Any] = {
            "trajectories": len(self.trajectories),
            "steps": next(iter(self.totals.values())).steps if self.totals else 0,
            "seconds": round(self.seconds, 3),
            "policies": {p: self.totals[p].as_dict() for p in self.policies},
        }
        if per_trajectory:
            out["per_trajectory"] = [t.as_dict() for t in self.per_trajectory]
        if steps:
            out["step_rows"] = [r.as_dict() for r in self.steps]
        return out

    def step_table(self) -> Any:
        """The step rows as a pyarrow Table (query it with DuckDB, or `.to_pandas()`)."""
        import pyarrow as pa

        kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
        fields = dataclasses.fields(StepRow)
        schema = pa.schema([(f.name, kinds[str(f.type)]) for f in fields])
        return pa.table({f.name: [getattr(r, f.name) for r in self.steps] for f in fields}, schema=schema)

    def totals_table(self, *, per_trajectory: bool = False) -> Any:
        """Totals per policy (or per trajectory and policy) as a pyarrow Table, ratios included."""
        import pyarrow as pa

        rows = [t.as_dict() for t in (self.per_trajectory if per_trajectory else [self.totals[p] for p in self.policies])]
        return pa.Table.from_pylist(rows)
