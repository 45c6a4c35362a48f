"""The provider's prompt cache, priced, so every edit pays for the cached suffix it rewrites.

Prompt caches match exact prefixes (field-notes §2): a request is read from the cache up to the
first message that differs from the previous request and written after it. Pruning a result at
position k therefore saves `read` x its tokens on every later call but costs `write - read` x
everything after k once. `CacheModel` keeps, per conversation turn, the modelled input cost of what
contextkit sent and of what the agent would have sent unpruned (in units of the base input price),
and `Payback` tells whether an edit is worth making now: only if, counting what pruning has saved so
far, the run is back at or below the cost of not pruning within `max_payback_steps` turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ledger import Ledger

# Anthropic's 5-minute cache (field-notes §2), the reference judge's model, and the dearest for edits
# among the big providers (OpenAI has no write fee): the default when a model's prices are unknown.
DEFAULT_READ = 0.1
DEFAULT_WRITE = 1.25


@dataclass(frozen=True)
class CachePrices:
    """Cache read and write prices relative to the base input price."""

    read: float = DEFAULT_READ
    write: float = DEFAULT_WRITE


def prices_for(model: str | None) -> CachePrices:
    """The model's cache prices from litellm's offline map (reads and writes over the input price);
    the default (Anthropic-style, 0.1 / 1.25) when the map does not say."""
    if not model:
        return CachePrices()
    from .models import model_info

    info = model_info(model) or {}
    base = info.get("input_cost_per_token")
    if not base:
        return CachePrices()
    read = info.get("cache_read_input_token_cost")
    write = info.get("cache_creation_input_token_cost")
    return CachePrices(
        read=read / base if read else DEFAULT_READ,
        write=write / base if write else (1.0 if read else DEFAULT_WRITE),  # read-only caches bill no write fee
    )


class CacheModel:
    """Modelled input cost of one conversation, sent vs unpruned, one entry per decision turn."""

    def __init__(self, prices: CachePrices | None = None):
        self.prices = prices or CachePrices()
        self.sent_cost = 0.0
        self.raw_cost = 0.0

    @property
    def credit(self) -> float:
        """What pruning has saved so far (base-price token units; negative if it cost more)."""
        return self.raw_cost - self.sent_cost

    def step_costs(self, ledger: Ledger, start: int, first_edit: int | None = None) -> tuple[float, float]:
        """(sent, raw) cost of the request the ledger holds, whose messages from `start` on are
        new and whose sent form changes from `first_edit` on (None: no edit this turn)."""
        r, w = self.prices.read, self.prices.write
        segs = ledger.segments
        new_raw = sum(s.tokens for s in segs[start:])
        new_sent = sum(s.sent_tokens for s in segs[start:])
        raw = r * (ledger.raw_tokens - new_raw) + w * new_raw
        lead = start if first_edit is None else min(start, first_edit)
        rewritten = new_sent + sum(s.sent_tokens for s in segs[lead:start])
        sent = r * (ledger.sent_tokens - rewritten) + w * rewritten
        return sent, raw

    def record(self, sent: float, raw: float) -> None:
        self.sent_cost += sent
        self.raw_cost += raw


@dataclass
class Payback:
    """Decides which of this turn's edits the cache can afford (see the module docstring).

    Edits are considered from the tail of the prompt towards its head: each one deeper moves the
    start of the rewritten suffix back. The deepest prefix of that order whose cost is covered is
    taken; the rest wait (they may be affordable once more has been saved).
    """

    model: CacheModel
    ledger: Ledger
    start: int  # first message new this turn
    steps: int  # max_payback_steps

    def affordable(self, edits: list[tuple[int, int, int]]) -> int:
        """How many of `edits` (index, tokens now, tokens after), sorted from the tail, to make."""
        if not edits:
            return 0
        r, w = self.model.prices.read, self.model.prices.write
        led, segs, start = self.ledger, self.ledger.segments, self.start
        new_sent = sum(s.sent_tokens for s in segs[start:])
        base_sent, base_raw = self.model.step_costs(led, start)
        credit = self.model.credit + base_raw  # this turn's unpruned cost is due either way
        best, delta, rewritten, cursor = 0, 0, new_sent, start
        for k, (index, before, after) in enumerate(edits, 1):
            delta += after - before
            if index < cursor:  # the rewritten suffix now starts here
                rewritten += sum(s.sent_tokens for s in segs[index:cursor])
                cursor = index
            sent_total = led.sent_tokens + delta
            rew = rewritten + sum(a - b for i, b, a in edits[:k] if i >= cursor and i < start)
            cost = r * (sent_total - rew) + w * rew
            future = self.steps * r * -delta  # what this turn's edits save on each later turn's prefix
            if credit - cost + future >= 0 or cost <= base_sent:
                best = k
        return best
