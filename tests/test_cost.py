"""Cost per step from litellm's offline price map; the user's prices win; a model missing from the
map records its tokens with cost None and the reason, never a crash."""

from __future__ import annotations

import pytest

import contextkit  # first: it keeps litellm offline
import litellm
from contextkit import Policy, Session
from contextkit import cost

from helpers import conversation
from openai_server import Reply


def kw(server, model: str, **extra) -> dict:
    return {"model": model, "api_base": server.base_url, "api_key": "sk-test", "max_retries": 0, **extra}


USAGE = {"prompt_tokens": 1000, "completion_tokens": 200}


def test_known_model_is_priced_from_litellms_map(openai_server):
    s = Session(tracing=False)
    openai_server.script(Reply.text("ok", usage=USAGE))
    s.completion(messages=conversation(1), **kw(openai_server, "openai/gpt-4o"))
    rec = s.steps[0]
    info = litellm.get_model_info("gpt-4o", custom_llm_provider="openai")
    assert rec.input_cost_usd == pytest.approx(1000 * info["input_cost_per_token"])
    assert rec.output_cost_usd == pytest.approx(200 * info["output_cost_per_token"])
    assert rec.cost_usd == pytest.approx(rec.input_cost_usd + rec.output_cost_usd)
    assert rec.cost_note == "priced with litellm's price map"


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model_records_tokens_and_a_reason_instead_of_a_cost(openai_server, stream):
    s = Session(tracing=False)
    openai_server.script(Reply.text("ok", usage=USAGE, stream_usage="always"))
    r = s.completion(messages=conversation(1), stream=stream, **kw(openai_server, "openai/house-model-7b"))
    if stream:
        list(r)
    rec = s.steps[0]
    assert rec.error is None and (rec.input_tokens, rec.output_tokens) == (1000, 200)
    assert rec.cost_usd is None and rec.input_cost_usd is None and rec.saved_usd is None
    assert "house-model-7b" in rec.cost_note and "prices" in rec.cost_note


def test_user_prices_are_honoured_by_full_or_bare_name_and_win_over_the_map(openai_server):
    prices = {
        "openai/house-model-7b": {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6},
        "gpt-4o-mini": {"input_cost_per_token": 1.0, "output_cost_per_token": 2.0},  # a negotiated (silly) rate
    }
    s = Session(tracing=False, prices=prices)
    openai_server.script(Reply.text("ok", usage=USAGE), Reply.text("ok", usage=USAGE))
    s.completion(messages=conversation(1), **kw(openai_server, "openai/house-model-7b"))
    s.completion(messages=conversation(1), **kw(openai_server, "openai/gpt-4o-mini"))
    a, b = s.steps
    assert a.cost_usd == pytest.approx(1000 * 1e-6 + 200 * 4e-6) and a.cost_note == "priced with Session.prices"
    assert b.cost_usd == pytest.approx(1000 * 1.0 + 200 * 2.0)


def test_cached_tokens_use_the_cache_rate(openai_server):
    prices = {"openai/house-model-7b": {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6,
                                        "cache_read_input_token_cost": 1e-7}}
    s = Session(tracing=False, prices=prices)
    usage = {**USAGE, "prompt_tokens_details": {"cached_tokens": 800}}
    openai_server.script(Reply.text("ok", usage=usage))
    s.completion(messages=conversation(1), **kw(openai_server, "openai/house-model-7b"))
    rec = s.steps[0]
    assert rec.cache_read_tokens == 800
    assert rec.input_cost_usd == pytest.approx(200 * 1e-6 + 800 * 1e-7)


def test_saved_usd_is_what_the_pruned_tokens_would_have_cost(openai_server):
    s = Session(Policy(keep_last=1, protect_recent_turns=0), tracing=False)
    msgs = conversation(5)
    s.completion(messages=msgs[:4], **kw(openai_server, "openai/gpt-4o"))
    s.completion(messages=msgs, **kw(openai_server, "openai/gpt-4o"))
    rec = s.steps[-1]
    price = litellm.get_model_info("gpt-4o", custom_llm_provider="openai")["input_cost_per_token"]
    assert rec.tokens_before - rec.tokens_after > 1000
    assert rec.saved_usd == pytest.approx((rec.tokens_before - rec.tokens_after) * price)
    assert s.steps[0].saved_usd == 0.0


def test_usage_is_normalised_across_provider_shapes():
    anthropic = cost.usage_from({"prompt_tokens": 10, "completion_tokens": 5, "cache_read_input_tokens": 300,
                                 "cache_creation_input_tokens": 40})
    assert (anthropic.cache_read_tokens, anthropic.cache_write_tokens) == (300, 40)
    openai = cost.usage_from(litellm.Usage(prompt_tokens=10, completion_tokens=5,
                                           prompt_tokens_details={"cached_tokens": 7},
                                           completion_tokens_details={"reasoning_tokens": 3}))
    assert (openai.input_tokens, openai.output_tokens, openai.cache_read_tokens, openai.reasoning_tokens) == (10, 5, 7, 3)
    assert cost.usage_from(None) is None and cost.usage_from({}) is None


def test_step_cost_never_raises():
    c = cost.step_cost("nonsense/!!", None, "!!", cost.Usage(5, 5), {})
    assert c.total is None and c.note


def test_mock_response_usage_is_replaced_by_a_local_count():
    s = Session(tracing=False)
    r = s.completion(model="gpt-4o-mini", messages=conversation(2), mock_response="three word answer")
    assert r.choices[0].message.content == "three word answer"
    rec = s.steps[0]
    assert rec.usage_estimated is True and rec.input_tokens == rec.tokens_after and rec.output_tokens == 3
