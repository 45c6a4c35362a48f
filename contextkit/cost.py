"""What a model call cost, from litellm's offline price map (or the prices the user supplies),
and what pruning saved on it (docs/cost.md says how, in words).

The provider's reported usage is priced with `litellm.cost_per_token(usage_object=...)`, so cache
reads, cache writes and reasoning tokens are billed as litellm bills them. A model missing from
the map is not an error: the tokens are still recorded, the cost is None and the note says why.
A name litellm does not know because it is an alias (a litellm Router's model group, a proxy's
model name) is priced as the deployment that answered, else with litellm's own `response_cost`.
litellm is imported inside functions: `import contextkit` must stay fast.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .errors import PolicyConfigError

_PER_TOKEN_CACHE: dict[tuple, tuple[float, float] | str] = {}  # (model, provider, prices) -> rates or why none
_CACHE_RATES: dict[tuple, tuple[float | None, float | None]] = {}  # (model, provider) -> cache read / write prices
_PROVIDER_CACHE: dict[tuple, tuple[str, str | None]] = {}
_LOCK = threading.Lock()


@dataclass
class Usage:
    """Token counts of one call, normalised across providers."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    estimated: bool = False
    raw: Any = None  # litellm's Usage object when the provider reported one


@dataclass
class Cost:
    total: float | None = None
    input: float | None = None
    output: float | None = None
    note: str | None = None


def usage_from(obj: Any) -> Usage | None:
    """Normalise a litellm `Usage` (or a dict of the same shape); None if there is none."""
    if obj is None:
        return None
    get = obj.get if isinstance(obj, dict) else (lambda k, d=None: getattr(obj, k, d))
    prompt, completion = get("prompt_tokens"), get("completion_tokens")
    if prompt is None and completion is None:
        return None
    details = get("prompt_tokens_details")
    out_details = get("completion_tokens_details")
    cache_read = get("cache_read_input_tokens") or _detail(details, "cached_tokens")
    cache_write = get("cache_creation_input_tokens") or _detail(details, "cache_creation_tokens")
    return Usage(
        input_tokens=int(prompt or 0),
        output_tokens=int(completion or 0),
        reasoning_tokens=_detail(out_details, "reasoning_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        raw=obj if not isinstance(obj, dict) else None,
    )


def _detail(details: Any, name: str) -> int | None:
    if details is None:
        return None
    value = details.get(name) if isinstance(details, dict) else getattr(details, name, None)
    return int(value) if value is not None else None


def resolve_provider(model: str, custom_llm_provider: str | None = None, api_base: str | None = None) -> tuple[str, str | None]:
    """(model as litellm prices it, provider), e.g. "openai/gpt-4o" -> ("gpt-4o", "openai"). Cached;
    a name litellm cannot place gives (model, None) instead of raising."""
    key = (model, custom_llm_provider, api_base)
    hit = _PROVIDER_CACHE.get(key)
    if hit is not None:
        return hit
    import litellm

    out: tuple[str, str | None]
    try:
        bare, provider, _, _ = litellm.get_llm_provider(model=model, custom_llm_provider=custom_llm_provider, api_base=api_base)
        out = (bare, provider)
    except Exception:  # noqa: BLE001 - litellm raises its own error for the call itself
        out = (model, custom_llm_provider)
    _PROVIDER_CACHE[key] = out
    return out


def check_prices(prices: Any) -> None:
    """Raise PolicyConfigError for a `Session(prices=...)` that cannot be used (before any call)."""
    if not isinstance(prices, dict):
        raise PolicyConfigError(f"expected a dict of model -> prices, got {type(prices).__name__}", "Session.prices")
    for model, p in prices.items():
        where = f"Session.prices[{model!r}]"
        if not isinstance(p, dict):
            raise PolicyConfigError(f"expected a dict with input_cost_per_token and output_cost_per_token, got {type(p).__name__}", where)
        for k in ("input_cost_per_token", "output_cost_per_token"):
            v = p.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise PolicyConfigError(f"{k} must be a number >= 0, got {v!r}", where)
        unknown = set(p) - {"input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost"}
        if unknown:
            raise PolicyConfigError(f"unknown key(s) {sorted(unknown)}", where)


def user_prices(prices: dict, model: str, bare: str) -> dict | None:
    """The user's prices for a model, matched by the name as called ("openai/gpt-4o") or bare ("gpt-4o")."""
    if not prices:
        return None
    return prices.get(model) or prices.get(bare)


def step_cost(model: str, provider: str | None, bare: str, usage: Usage, prices: dict) -> Cost:
    """The cost of one call; never raises (a missing price gives cost None and the reason)."""
    import litellm

    custom = user_prices(prices, model, bare)
    try:
        kwargs: dict[str, Any] = {"model": bare, "custom_llm_provider": provider}
        if custom is not None:
            kwargs["custom_cost_per_token"] = dict(custom)
        kwargs["prompt_tokens"] = usage.input_tokens
        kwargs["completion_tokens"] = usage.output_tokens
        if usage.raw is not None and not usage.estimated:
            kwargs["usage_object"] = usage.raw  # cache reads/writes and reasoning priced as litellm does
        inp, out = litellm.cost_per_token(**kwargs)
    except Exception as e:  # noqa: BLE001 - cost is bookkeeping; it must never break the call
        return Cost(note=_why_unpriced(model, provider, e))
    note = "priced with Session.prices" if custom is not None else "priced with litellm's price map"
    if usage.estimated:
        note += " (tokens estimated locally: the provider reported no usage)"
    return Cost(total=inp + out, input=inp, output=out, note=note)


def per_token(model: str, provider: str | None, bare: str, prices: dict) -> tuple[float, float] | None:
    """Flat (input, output) price per token, for estimates before a call and for `saved_usd`. Cached."""
    custom = user_prices(prices, model, bare)
    if custom is not None:
        return float(custom["input_cost_per_token"]), float(custom["output_cost_per_token"])
    key = (bare, provider)
    hit = _PER_TOKEN_CACHE.get(key)
    if hit is None:
        import litellm

        try:
            n = 1000  # below every tiered threshold (some models bill more above 128k/200k input tokens)
            inp, _ = litellm.cost_per_token(model=bare, custom_llm_provider=provider, prompt_tokens=n, completion_tokens=0)
            _, out = litellm.cost_per_token(model=bare, custom_llm_provider=provider, prompt_tokens=0, completion_tokens=n)
            hit = (inp / n, out / n)
        except Exception as e:  # noqa: BLE001
            hit = _why_unpriced(model, provider, e)
        with _LOCK:
            _PER_TOKEN_CACHE[key] = hit
    return hit if isinstance(hit, tuple) else None


def why_unpriced(model: str, provider: str | None, bare: str) -> str:
    hit = _PER_TOKEN_CACHE.get((bare, provider))
    return hit if isinstance(hit, str) else f"no price for {model!r}"


def _why_unpriced(model: str, provider: str | None, err: Exception) -> str:
    kind = type(err).__name__
    if kind == "ModelNotMappedError" or "isn't mapped" in str(err):
        return (
            f"litellm's price map has no entry for {model!r} (provider {provider or 'unknown'}); "
            "pass Session(prices={model: {'input_cost_per_token': ..., 'output_cost_per_token': ...}})"
        )
    return f"could not price {model!r}: {kind}: {str(err)[:200]}"


# ---------------------------------------------------------------------- what pruning saved


@dataclass(frozen=True)
class Rates:
    """Per-token prices of one model: input, output, and the prompt cache's reads and writes (the
    input price where the map names none: a provider then bills cached tokens as any other)."""

    input: float
    output: float
    cache_read: float
    cache_write: float


def rates(model: str, provider: str | None, bare: str, prices: dict) -> Rates | None:
    """The model's prices with its cache prices (Session.prices first, else litellm's map); None
    when the model has no price."""
    flat = per_token(model, provider, bare, prices)
    if flat is None:
        return None
    custom = user_prices(prices, model, bare)
    if custom is not None:
        read, write = custom.get("cache_read_input_token_cost"), custom.get("cache_creation_input_token_cost")
    else:
        key = (bare, provider)
        if key not in _CACHE_RATES:
            import litellm

            try:
                info = litellm.get_model_info(bare, custom_llm_provider=provider)
                got = (info.get("cache_read_input_token_cost"), info.get("cache_creation_input_token_cost"))
            except Exception:  # noqa: BLE001 - priced, but the map says nothing of its cache
                got = (None, None)
            with _LOCK:
                _CACHE_RATES[key] = got
        read, write = _CACHE_RATES[key]
    return Rates(flat[0], flat[1], float(read) if read else flat[0], float(write) if write else flat[0])


def saved_usd(usage: Usage, pruned: int, rates: Rates, *, grew: int | None = None, edited: bool = False,
              warm: bool = False) -> float:
    """What this call would have cost unpruned, minus what it cost: the input side only (the
    answer is the same either way), priced with the cache the provider reported for this call.

    `pruned`: tokens contextkit kept out of this request (its count, tokens_before - tokens_after);
    `grew`: how much the unpruned conversation grew since the previous call (None: the first call);
    `edited`: whether this request's edits differ from the previous one's (a new prune, a restore);
    `warm`: whether the previous call read from the cache or wrote to it.

    - No cache in play (the usage says nothing of one, or neither this call nor the one before
      read or wrote any): no cache on either side; the pruned tokens at the input price.
    - Otherwise the unpruned request would have read from the cache what this call read, plus the
      pruned originals (they sit in the part of the conversation sent before). When this request
      carries a new edit, the provider re-billed what follows it (at the price of this call's
      uncached part: writes and uncached input in its own mix); unpruned, those tokens would have
      been reads too, so such a call can save less than nothing. Without a new edit the pruned
      tokens are priced as this call billed the part of its request sent before.
    """
    if pruned == 0 and not edited:
        return 0.0
    if usage.cache_read_tokens is None and usage.cache_write_tokens is None:
        return pruned * rates.input
    if not warm and not (usage.cache_read_tokens or usage.cache_write_tokens):
        return pruned * rates.input  # a cache that holds nothing yet (or a prompt too short to cache)
    read, write = usage.cache_read_tokens or 0, usage.cache_write_tokens or 0
    uncached = max(usage.input_tokens - read - write, 0)
    unread = write + uncached
    new = unread if grew is None else min(max(grew, 0), unread)  # this turn's messages: billed alike both ways
    miss = (write * rates.cache_write + uncached * rates.input) / unread if unread else rates.input
    if edited:
        rewritten = unread - new  # sent before, billed again only because the request changed
        return pruned * rates.cache_read - rewritten * (miss - rates.cache_read)
    old = usage.input_tokens - new
    hit = min(read / old, 1.0) if old > 0 else 0.0  # nothing sent before (a first call): billed as new
    return pruned * (hit * rates.cache_read + (1 - hit) * miss)


# ---------------------------------------------------------------------- aliases (Router, proxy)


def hidden(response: Any) -> dict:
    """litellm's `_hidden_params` of a response (or of a stream's last chunk), {} if none."""
    h = getattr(response, "_hidden_params", None)
    return h if isinstance(h, dict) else {}


def served_model(response: Any) -> str | None:
    """The model litellm says answered (`litellm_model_name`: a Router alias's deployment)."""
    name = hidden(response).get("litellm_model_name")
    return name if isinstance(name, str) and name else None


def response_cost(response: Any) -> float | None:
    """litellm's own price of the call (`response_cost`), None if it gave none."""
    v = hidden(response).get("response_cost")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else None


def router_models(router: Any, alias: str) -> list[str]:
    """The models behind a litellm Router's model group `alias` (its deployments'), [] if none."""
    try:
        group = router.get_model_list(model_name=alias) or []
    except Exception:  # noqa: BLE001 - an older or newer Router
        return []
    out = []
    for d in group:
        model = (d.get("litellm_params") or {}).get("model") if isinstance(d, dict) else None
        if isinstance(model, str) and model and model not in out:
            out.append(model)
    return out


_ALIASES: dict[str, str] = {}  # a model name as called -> the model litellm said answered it


def remember_alias(alias: str, served: str) -> None:
    """`alias` was answered by `served` (litellm's `litellm_model_name`): the next call through the
    same name is priced before it is sent (budgets) as `served`."""
    with _LOCK:
        _ALIASES[alias] = served


def alias_target(alias: str) -> str | None:
    return _ALIASES.get(alias)
