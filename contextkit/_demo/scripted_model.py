"""The scripted model as a litellm provider: `contextkit-demo/coder`.

Registered in `litellm.custom_provider_map`, so `session.completion(model="contextkit-demo/coder")`
goes through litellm's real call path (argument handling, provider routing, response objects,
callbacks) and only the network hop is replaced. Its usage is real counting: prompt tokens of the
request it actually received (pruned by contextkit), tools included, with litellm's tokenizer for
the model it is priced as; completion tokens of what it wrote, reasoning included.
"""

from __future__ import annotations

import json
from typing import Any

import litellm
from litellm import CustomLLM

from . import faults, script

PROVIDER = "contextkit-demo"
MODEL = f"{PROVIDER}/coder"
FAULTS_MODEL = f"{PROVIDER}/faults"  # the same coder in a world of failing tools (`contextkit demo --faults`)
PRICED_AS = "gpt-4.1"  # a real model in litellm's offline price map: its prices and its tokenizer
_CALL_OVERHEAD = 3  # tokens a tool call's framing costs in the output


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
    calls = [
        {"id": script.call_id(move, k), "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for k, (name, args) in enumerate(turn.calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if calls:
        message["tool_calls"] = calls
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    prompt = litellm.token_counter(model=PRICED_AS, messages=messages, tools=tools or None)
    reasoning = _count(turn.reasoning)
    output = _count(turn.content) + reasoning + sum(_count(c["function"]["name"]) + _count(c["function"]["arguments"]) + _CALL_OVERHEAD for c in calls)
    return litellm.ModelResponse(
        id=f"chatcmpl-demo-{move:02d}",
        model=model,
        choices=[{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        usage=litellm.Usage(
            prompt_tokens=prompt,
            completion_tokens=output,
            total_tokens=prompt + output,
            completion_tokens_details={"reasoning_tokens": reasoning} if reasoning else None,
        ),
    )


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
    """`Session(prices=...)` for the scripted model: the per-token prices of PRICED_AS."""
    info = litellm.model_cost[PRICED_AS]
    rates = {"input_cost_per_token": info["input_cost_per_token"], "output_cost_per_token": info["output_cost_per_token"]}
    return {MODEL: dict(rates), FAULTS_MODEL: dict(rates)}
