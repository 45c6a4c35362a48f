"""The scripted model as a litellm provider: `contextkit-demo/coder`.

Registered in `litellm.custom_provider_map`, so `session.completion(model="contextkit-demo/coder")`
goes through litellm's real call path (argument handling, provider routing, response objects,
callbacks) and only the network hop is replaced. Its usage is real counting: prompt tokens of the
request it actually received (pruned by contextkit), tools included, with litellm's tokenizer for
the model it is priced as; completion tokens of what it wrote, reasoning included. Its prompt
cache works as OpenAI's automatic one does (the model it is priced as is OpenAI's): a request's
longest prefix of whole messages (tools first) that an earlier request sent is read from the
cache, reported as `cached_tokens` in steps of 128 from 1,024 tokens on, so pruning is priced as
it would be there (docs/cost.md).
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import litellm
from litellm import CustomLLM

from . import faults, script

PROVIDER = "contextkit-demo"
MODEL = f"{PROVIDER}/coder"
FAULTS_MODEL = f"{PROVIDER}/faults"  # the same coder in a world of failing tools (`contextkit demo --faults`)
PRICED_AS = "gpt-4.1"  # a real model in litellm's offline price map: its prices and its tokenizer
_CALL_OVERHEAD = 3  # tokens a tool call's framing costs in the output
_CACHE_MIN, _CACHE_STEP = 1024, 128  # OpenAI's prompt cache: prefixes from 1,024 tokens, in steps of 128
_SEEN: deque = deque(maxlen=32)  # the requests sent lately (tools, then each message, as JSON): the cache


class ScriptedCoder(CustomLLM):
    """Deterministic: the same request gets the same answer (contextkit/_demo/script.py)."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        params = kwargs.get("optional_params") or {}
        return respond(model, messages, params.get("tools") or [])

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        return self.completion(model, messages, *args, **kwargs)


def respond(model: str, messages: list, tools: list[dict]) -> litellm.ModelResponse:
    offered = {(t.get("function") or {}).get("name") for t in tools}
    play = faults if model.rsplit("/", 1)[-1] == "faults" else script
    move, turn = play.next_turn(messages, offered)
    calls: list[dict[str, Any]] = [
        {"id": script.call_id(move, k), "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for k, (name, args) in enumerate(turn.calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if calls:
        message["tool_calls"] = calls
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    # litellm types `tools` as its own TypedDict; these are the same OpenAI tool dicts
    prompt = litellm.token_counter(model=PRICED_AS, messages=messages, tools=tools or None)  # type: ignore[arg-type]
    cached = _cached(messages, tools, prompt)
    reasoning = _count(turn.reasoning)
    output = _count(turn.content) + reasoning + sum(_count(c["function"]["name"]) + _count(c["function"]["arguments"]) + _CALL_OVERHEAD for c in calls)
    return litellm.ModelResponse(
        id=f"chatcmpl-demo-{move:02d}",
        model=PRICED_AS,  # what it answers as: litellm's map knows its window and prices
        choices=[{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        usage=litellm.Usage(
            prompt_tokens=prompt,
            completion_tokens=output,
            total_tokens=prompt + output,
            completion_tokens_details={"reasoning_tokens": reasoning} if reasoning else None,
            prompt_tokens_details={"cached_tokens": cached},
        ),
    )


def _cached(messages: list, tools: list[dict], prompt: int) -> int:
    """Tokens of the request read from the prompt cache: its longest prefix of whole messages that
    an earlier request sent (nothing when the tools differ), rounded down to 128, none under 1,024."""
    key = [json.dumps(tools, sort_keys=True)] + [json.dumps(_plain(m), sort_keys=True, default=str) for m in messages]
    common = max((_common(key, seen) for seen in _SEEN), default=0)
    _SEEN.append(key)
    if common <= 1:
        return 0
    tokens = prompt if common == len(key) else litellm.token_counter(model=PRICED_AS, messages=messages[: common - 1],
                                                                      tools=tools or None)  # type: ignore[arg-type]
    tokens = min(tokens, prompt) // _CACHE_STEP * _CACHE_STEP
    return tokens if tokens >= _CACHE_MIN else 0


def _common(a: list, b: list) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _plain(message: Any) -> Any:
    return message.model_dump(exclude_none=True) if hasattr(message, "model_dump") else message


def _count(text: str | None) -> int:
    return litellm.token_counter(model=PRICED_AS, text=text) if text else 0


def register() -> None:
    """Make `contextkit-demo/...` a litellm provider (idempotent)."""
    if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": ScriptedCoder()})
    # litellm adds custom providers to its provider list on the first call; do it now so that
    # contextkit, which resolves the provider before that call, already knows the name
    from litellm.utils import custom_llm_setup

    custom_llm_setup()


def prices() -> dict:
    """`Session(prices=...)` for the scripted model: the per-token prices of PRICED_AS, cache reads included."""
    info = litellm.model_cost[PRICED_AS]
    rates = {"input_cost_per_token": info["input_cost_per_token"], "output_cost_per_token": info["output_cost_per_token"],
             "cache_read_input_token_cost": info["cache_read_input_token_cost"]}
    return {MODEL: dict(rates), FAULTS_MODEL: dict(rates)}
