"""Cost per step from litellm's offline price map; the user's prices win; a model missing from the
map records its tokens with cost None and the reason, never a crash; a litellm Router alias is
priced; what pruning saved is priced with the prompt cache the provider reported (docs/cost.md)."""

from __future__ import annotations

import contextkit  # first: it keeps litellm offline
from contextkit import Budget, Policy, Session, cost

import litellm
import pytest
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


def test_saved_usd_without_a_cache_is_what_the_pruned_tokens_would_have_cost(openai_server):
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


# ---------------------------------------------------------------------- saved, with the provider's cache


def _cached(share: float):
    """A reply whose usage reports `share` of the request's input as read from the prompt cache
    (the fake server's own count of the request: its JSON length / 4)."""
    import json

    def reply(request):
        prompt = max(1, len(json.dumps(request.messages)) // 4)
        return Reply.text("ok", usage={"prompt_tokens": prompt, "completion_tokens": 5,
                                       "prompt_tokens_details": {"cached_tokens": int(share * prompt)}})
    return reply


def _pruning_run(openai_server, reply, calls: int = 6) -> list:
    s = Session(Policy(keep_last=1, protect_recent_turns=0), tracing=False)
    msgs = conversation(calls + 1)
    for k in range(calls):
        openai_server.script(reply)
        s.completion(messages=msgs[: 4 + 2 * k], **kw(openai_server, "openai/gpt-4o"))
    return s.steps


def test_with_90_percent_of_the_input_cached_saved_usd_is_at_most_0_7x_the_uncached_price(openai_server):
    info = litellm.get_model_info("gpt-4o", custom_llm_provider="openai")
    price, read = info["input_cost_per_token"], info["cache_read_input_token_cost"]
    steps = _pruning_run(openai_server, _cached(0.9))
    pruning = [r for r in steps if r.tokens_before > r.tokens_after]
    assert len(pruning) >= 3 and all(r.cache_read_tokens for r in pruning)
    for r in pruning:
        pruned = r.tokens_before - r.tokens_after
        assert r.saved_usd <= 0.7 * pruned * price, (r.step, r.saved_usd, pruned * price)
    # a call whose request carries no new edit: the pruned originals would have been cache reads
    steady = [r for r, prev in zip(steps[1:], steps) if r.tokens_before - r.tokens_after == prev.tokens_before - prev.tokens_after > 0]
    for r in steady:
        assert r.saved_usd == pytest.approx((r.tokens_before - r.tokens_after) * read, rel=0.15)
    # the run saved less than a flat price would claim, and still saved
    flat = sum((r.tokens_before - r.tokens_after) * price for r in steps)
    assert 0 < sum(r.saved_usd for r in steps) <= 0.7 * flat


def test_an_edit_that_makes_the_provider_rebill_the_cached_suffix_can_save_less_than_nothing():
    rates = cost.Rates(input=1.0, output=4.0, cache_read=0.1, cache_write=1.25)
    # 10,000 tokens in; the edit sits early: only 2,000 read from the cache, 7,000 written again, 1,000 new
    usage = cost.Usage(input_tokens=10_000, output_tokens=10, cache_read_tokens=2_000, cache_write_tokens=7_000)
    saved = cost.saved_usd(usage, pruned=3_000, rates=rates, grew=1_000, edited=True)
    rebilled = (7_000 * 1.25 + 1_000 * 1.0) / 8_000  # this call's price of a token not read from the cache
    assert saved == pytest.approx(3_000 * 0.1 - 7_000 * (rebilled - 0.1))  # unpruned, the 7,000 would have been reads
    assert saved < 0
    # the next call, same edits, all but the new turn read: each pruned token saved a cache read
    usage = cost.Usage(input_tokens=11_000, output_tokens=10, cache_read_tokens=10_000, cache_write_tokens=1_000)
    assert cost.saved_usd(usage, pruned=3_000, rates=rates, grew=1_000, edited=False) == pytest.approx(300)
    # no cache reported: the pruned tokens at the input price, as before
    assert cost.saved_usd(cost.Usage(10_000, 10), pruned=3_000, rates=rates) == pytest.approx(3_000)
    # nothing read or written now nor on the call before (a prompt too short to cache): no cache either way;
    # after a call that read the cache, a miss is the edit's doing
    cold = cost.Usage(10_000, 10, cache_read_tokens=0, cache_write_tokens=0)
    assert cost.saved_usd(cold, pruned=3_000, rates=rates, grew=1_000, edited=True) == pytest.approx(3_000)
    assert cost.saved_usd(cold, pruned=3_000, rates=rates, grew=1_000, edited=True, warm=True) == pytest.approx(
        3_000 * 0.1 - 9_000 * (1.0 - 0.1))
    assert cost.saved_usd(usage, pruned=0, rates=rates, grew=1_000) == 0


def test_cache_prices_come_from_litellms_map_and_session_prices():
    r = cost.rates("openai/gpt-4o", "openai", "gpt-4o", {})
    info = litellm.get_model_info("gpt-4o", custom_llm_provider="openai")
    assert (r.input, r.cache_read, r.cache_write) == pytest.approx(
        (info["input_cost_per_token"], info["cache_read_input_token_cost"], info["input_cost_per_token"]))  # no write fee
    r = cost.rates("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", {})
    assert r.cache_write == pytest.approx(1.25 * r.input) and r.cache_read == pytest.approx(0.1 * r.input)
    own = {"house": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "cache_read_input_token_cost": 1e-7}}
    r = cost.rates("house", None, "house", own)
    assert (r.input, r.cache_read, r.cache_write) == (1e-6, 1e-7, 1e-6)


# ---------------------------------------------------------------------- a litellm Router's aliases


def _router(server, *models: str):
    return litellm.Router(model_list=[{"model_name": "smart", "litellm_params": {
        "model": m, "api_base": server.base_url, "api_key": "sk-test"}} for m in models], num_retries=0)


def test_a_router_alias_call_has_a_cost(openai_server):
    completion = contextkit.wrap(_router(openai_server, "openai/gpt-4o").completion, tracing=False)
    openai_server.script(Reply.text("ok", usage=USAGE))
    completion(model="smart", messages=conversation(1))
    rec = completion.session.steps[0]
    info = litellm.get_model_info("gpt-4o", custom_llm_provider="openai")
    want = 1000 * info["input_cost_per_token"] + 200 * info["output_cost_per_token"]
    assert rec.model == "smart" and rec.cost_usd == pytest.approx(want)
    assert rec.input_cost_usd == pytest.approx(1000 * info["input_cost_per_token"])
    assert "response_cost" in rec.cost_note and rec.saved_usd == 0.0


def test_a_budget_in_dollars_caps_a_router_alias_call_from_its_deployments_prices(openai_server):
    """Before the call: priced as the dearest deployment of the group; the output capped from what is left."""
    budget = Budget(max_dollars=0.01)
    router = _router(openai_server, "openai/gpt-4o-mini", "openai/gpt-4o")
    completion = contextkit.wrap(router.completion, tracing=False, budget=budget)
    openai_server.script(Reply.text("ok", usage=USAGE))
    completion(model="smart", messages=conversation(1))
    sent = openai_server.chat_requests[-1].body
    info = litellm.get_model_info("gpt-4o", custom_llm_provider="openai")
    assert 0 < sent["max_tokens"] < 0.01 / info["output_cost_per_token"]
    rec = completion.session.steps[0]
    assert rec.cost_usd is not None and budget.spent["dollars"] == pytest.approx(rec.cost_usd)


def test_a_response_litellm_priced_is_priced_when_recorded_under_an_alias(openai_server):
    """A call the caller made through its own Router (or a proxy), recorded with the alias."""
    router = _router(openai_server, "openai/gpt-4o")
    s = Session(tracing=False)
    openai_server.script(Reply.text("ok", usage=USAGE))
    sent = s.prepare(conversation(1))
    s.record(router.completion(model="smart", messages=sent), model="smart")
    rec = s.steps[0]
    info = litellm.get_model_info("gpt-4o", custom_llm_provider="openai")
    assert rec.cost_usd == pytest.approx(1000 * info["input_cost_per_token"] + 200 * info["output_cost_per_token"])
    assert "response_cost" in rec.cost_note
