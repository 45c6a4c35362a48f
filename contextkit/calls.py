"""Model calls through a session: the one-line change at a `litellm.completion` call site.

    response = session.completion(model=..., messages=messages, tools=tools)   # was litellm.completion
    completion = contextkit.wrap(litellm.completion)                           # or wrap your own callable (wrapping.py)

A call made by the caller's own client, with the list the last `session.prepare` returned, is
recorded the same way by `session.record(response)` (`record` below): the same step, usage, cost
and tracing, without the guards (they act before a call, and this one has been made).

Each call: check the session's config, `session.prepare(messages)` (malformed input raises here,
before anything is sent), the guards (loop detection; the budget reserves what the call may cost
and may cap its `max_tokens`, pause or throttle it: contextkit/budget.py), then litellm with the
caller's arguments (the output cap aside) and the pruned messages. The caller gets litellm's
own response back; a stream is passed through chunk by chunk (contextkit/streaming.py). Then one
`StepRecord` goes to `session.record_step` (observers, tracing). Provider faults are recorded on
the step and re-raised exactly as litellm raised them; contextkit's own bookkeeping fails open.

Usage on streams: for OpenAI-compatible servers that litellm does not ask itself (a custom
`api_base`), contextkit asks via `extra_body={"stream_options": {"include_usage": True}}` rather
than `stream_options=`. litellm then treats the call as one without stream_options, exactly as
for api.openai.com where it asks the server itself: the caller's iterator yields the same chunks
as without it (no extra usage-only chunk) and the usage reaches the last chunk's hidden params.
`Session.stream_usage = False` turns this off; a server that rejects the field (HTTP 400 naming
stream_options) is asked again without it, once, and the session stops asking. Without provider
usage, tokens are counted locally and the step is marked `usage_estimated`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections.abc import Callable
from typing import Any

from . import cost as _cost
from . import guards as _guards
from . import rules
from .budget import Request, Reservation
from .errors import InvalidMessagesError, PolicyConfigError
from .fit import FitRequest
from .messages import as_dicts, message_dict
from .records import GuardEvent, PrepareReport, StepRecord
from .streaming import RecordingStream

log = logging.getLogger("contextkit")

# Keys never copied into invocation_params (credentials, clients, anything that may carry a secret).
_SECRET = re.compile(r"(^|_)(api_key|key|secret|password|token|credentials?|headers|client|authorization)$|^aws_|^vertex_credentials", re.I)
_NOT_PARAMS = frozenset({"messages", "tools", "model"})
_OPENAI_SDK_PROVIDERS = frozenset({"openai", "custom_openai"})  # extra_body goes into the request body as is
_MAX_ERROR = 2000


# ---------------------------------------------------------------------- public entry points


def complete(session: Any, **kwargs: Any) -> Any:
    """`litellm.completion(**kwargs)` through `session` (what `Session.completion` calls)."""
    import litellm

    return call(session, litellm.completion, kwargs)


async def acomplete(session: Any, **kwargs: Any) -> Any:
    """`litellm.acompletion(**kwargs)` through `session` (what `Session.acompletion` calls)."""
    import litellm

    return await acall(session, litellm.acompletion, kwargs)


def record(session: Any, response: Any, kwargs: dict) -> Any:
    """Record the call the caller made with the messages of the last `prepare` (what
    `Session.record` calls). `kwargs` are the other arguments the caller gave its client
    (`tools=`, `temperature=`, `mock_response=`, ...): recorded as `Session.completion` records them.
    Returns the response; a stream comes back wrapped and is recorded when it ends."""
    response = _readable(response)
    prepared = _last_prepared(session, kwargs.get("messages"))
    if not kwargs.get("model") and not session.model and isinstance(getattr(response, "model", None), str):
        kwargs = {**kwargs, "model": response.model}  # priced as the provider named it
    step = _Step(session, kwargs, prepared=prepared)
    if _is_stream(response):
        step.stream = True
    else:
        step.took(_response_ms(response))
    return step.finished(response)


# ---------------------------------------------------------------------- the call


def call(session: Any, fn: Callable[..., Any], kwargs: dict) -> Any:
    step = _Step(session, kwargs, router=_router(fn))
    step.guard()  # may block this thread: a paused or throttled budget
    while True:
        try:
            response = fn(**step.kwargs)
            break
        except BaseException as e:  # includes KeyboardInterrupt: the step is recorded, then it propagates
            if isinstance(e, Exception) and step.retry_without_stream_usage(e):
                continue
            step.failed(e)
            raise
    return step.finished(response)


async def acall(session: Any, fn: Callable[..., Any], kwargs: dict) -> Any:
    step = _Step(session, kwargs, router=_router(fn))
    await step.aguard()
    while True:
        try:
            response = await fn(**step.kwargs)
            break
        except BaseException as e:  # includes CancelledError: the step is recorded, then it propagates
            if isinstance(e, Exception) and step.retry_without_stream_usage(e):
                continue
            step.failed(e)
            raise
    return step.finished(response)


def _end_open_stream(session: Any) -> None:
    """A stream of this session's previous call that the caller left half-read is recorded now."""
    ref = getattr(session, "_open_stream", None)
    stream = ref() if ref is not None else None
    session._open_stream = None
    if stream is not None:
        stream.abandon()


class _Step:
    """One model call in flight: the request as sent, and how to record it when it ends."""

    def __init__(self, session: Any, kwargs: dict, prepared: tuple[list[dict], PrepareReport] | None = None,
                 router: Any = None):
        """`prepared`: the (sent, report) of a prepare already done, for a call already made (`record`);
        `router`: the litellm Router whose method is called (its model groups are priced as their deployments)."""
        _end_open_stream(session)
        _guards.check_config(session.budget, session.loop_guard, getattr(session, "breaker", None))
        if session.prices:
            _cost.check_prices(session.prices)
        self.started_at, self.t0 = time.time(), time.perf_counter()
        kwargs = dict(kwargs)
        if not kwargs.get("model") and session.model:
            kwargs["model"] = session.model
        self.session = session
        self.events: list = []
        self.reservation: Reservation | None = None
        self._budget = session.budget
        self.model = str(kwargs.get("model") or "")
        made = prepared is not None  # the call is over: no guards, nothing to ask the server
        if prepared is None:
            messages = kwargs.get("messages")
            if not isinstance(messages, list):
                raise InvalidMessagesError(f"expected a list of message dicts, got {type(messages).__name__}")
            # InvalidMessagesError / ContextOverflowError here: nothing has been sent
            prepared = session._prepare(messages, _fit_request(session, kwargs))
        sent, report = prepared
        self.report: PrepareReport = report
        self.step = report.step
        self.events = _carried_events(session, report)
        self.made = made
        kwargs["messages"] = sent
        self.kwargs = kwargs
        self.stream = bool(kwargs.get("stream"))
        self._input_estimate: int | None = None
        self._latency_ms: float | None = None
        api_base = kwargs.get("api_base") or kwargs.get("base_url")
        self.bare, self.provider = _cost.resolve_provider(self.model, kwargs.get("custom_llm_provider"), api_base)
        self.alias = self._price_as_deployment(router)
        self.asked_usage = False if made else self._ask_stream_usage(api_base)
        self.started_at = time.time()
        self.t0 = time.perf_counter()

    def took(self, latency_ms: float | None) -> None:
        """A call made before this step existed (`record`): its latency as the response reports it."""
        if latency_ms is not None:
            self._latency_ms = latency_ms
            self.started_at = time.time() - latency_ms / 1000

    # ------------------------------------------------------------------ before the call

    def _price_as_deployment(self, router: Any) -> bool:
        """A Router's model group (or a name litellm answered as another model before) is priced as
        the model behind it; of several deployments, the dearest (a budget must not be overshot).
        True when the name as called is such an alias."""
        if _cost.user_prices(self.session.prices, self.model, self.bare) is not None:
            return False  # the user priced the name as called
        targets = _cost.router_models(router, self.model) if router is not None else []
        if not targets and self.provider is None and (alias := _cost.alias_target(self.model)):
            targets = [alias]
        best, dearest = None, -1.0
        for target in targets:
            bare, provider = _cost.resolve_provider(target)
            r = _cost.per_token(target, provider, bare, self.session.prices)
            if r is not None and r[0] + r[1] > dearest:
                best, dearest = (bare, provider), r[0] + r[1]
        if best is None:
            return bool(targets)
        self.bare, self.provider = best
        return True

    def _ask_stream_usage(self, api_base: str | None) -> bool:
        """Ask an OpenAI-compatible server for usage on a stream (see the module docstring)."""
        kw = self.kwargs
        if not self.stream or kw.get("stream_options") is not None or not getattr(self.session, "stream_usage", True):
            return False
        if self.provider not in _OPENAI_SDK_PROVIDERS or not api_base or _openai_itself(api_base):
            return False  # litellm asks api.openai.com itself; other providers report usage on their own
        extra = kw.get("extra_body")
        if extra is not None and (not isinstance(extra, dict) or "stream_options" in extra):
            return False
        kw["extra_body"] = {**(extra or {}), "stream_options": {"include_usage": True}}
        return True

    def retry_without_stream_usage(self, err: Exception) -> bool:
        """The server refused the stream_options field we added: send once more without it."""
        if not self.asked_usage or getattr(err, "status_code", None) not in (400, 422) or "stream_options" not in str(err):
            return False
        self.asked_usage = False
        extra = {k: v for k, v in self.kwargs["extra_body"].items() if k != "stream_options"}
        if extra:
            self.kwargs["extra_body"] = extra
        else:
            del self.kwargs["extra_body"]
        self.session.stream_usage = False
        log.info("contextkit: %s rejected stream_options; streams of this session are counted locally", self.model)
        return True

    def input_estimate(self) -> int:
        """contextkit's count of the request as sent: the pruned messages plus the tool definitions."""
        if self._input_estimate is None:
            n = self.report.tokens_after if self.report is not None else 0
            tools = self.kwargs.get("tools")
            if tools:
                try:
                    n += self.session.ledger.counter.count(json.dumps(tools, ensure_ascii=False, default=str))
                except Exception:  # noqa: BLE001 - an estimate
                    pass
            self._input_estimate = n
        return self._input_estimate

    def guard(self) -> None:
        """The guards before the call: loops first (a call they stop needs no budget), then the
        budget's reservation (which may cap the output, pause or throttle). Records the step and
        raises if a guard says stop. Then the clock of the call starts."""
        budget, loop_guard = self._budget, self.session.loop_guard
        try:
            if loop_guard is not None:
                self.events += loop_guard.check(self.session, self.step)
            if budget is not None and not any(ev.action == "raise" for ev in self.events):
                self.reservation, got = budget.reserve(self._request(budget), self.step)
                self.events += got
                if self.reservation is not None and self.reservation.cap is not None:
                    self._cap(self.reservation.cap)
        except PolicyConfigError:
            raise
        except Exception as e:  # noqa: BLE001 - a guard's own bug must not stop the agent: send unguarded
            log.warning("contextkit guard failed at step %s, call sent unguarded: %s: %s", self.step, type(e).__name__, e)
        if self.events:
            exc = _guards.act(self.events, budget, loop_guard)
            if exc is not None:
                self._record(self._base(error=f"{type(exc).__name__}: {exc}"))
                raise exc
        self.started_at = time.time()
        self.t0 = time.perf_counter()

    async def aguard(self) -> None:
        """`guard` for acompletion: a budget that may block waits in a worker thread, so the event
        loop (and the task that will call `session.resume`) keeps running."""
        budget = self._budget
        if budget is not None and budget.on_limit in ("pause", "throttle"):
            await asyncio.to_thread(self.guard)
        else:
            self.guard()

    def _request(self, budget: Any) -> Request:
        """What the budget needs to know of this call before it is made."""
        given = [self.kwargs.get(k) for k in ("max_completion_tokens", "max_tokens")]
        out = min((v for v in given if isinstance(v, int) and not isinstance(v, bool) and v > 0), default=None)
        rates = _cost.per_token(self.model, self.provider, self.bare, self.session.prices)
        if rates is None and budget.max_dollars is not None:
            raise PolicyConfigError(
                f"max_dollars needs a price for {self.model!r}: {_cost.why_unpriced(self.model, self.provider, self.bare)}",
                "Budget.max_dollars",
            )
        capping = budget.max_dollars is not None or budget.max_total_tokens is not None
        model_max = _max_output(self.bare, self.provider) if capping else None
        return Request(self.input_estimate(), out, rates, model_max, _own_tokenizer(self.model), self.model)

    def _cap(self, cap: int) -> None:
        """Send at most `cap` output tokens: lower the caller's max_completion_tokens / max_tokens, or
        set max_tokens (litellm maps it to what the model takes)."""
        keys = [k for k in ("max_completion_tokens", "max_tokens") if self.kwargs.get(k) is not None] or ["max_tokens"]
        for k in keys:
            self.kwargs[k] = cap
        for ev in self.events:
            if ev.kind == "budget_cap" and ev.message.startswith("output capped"):
                ev.message = keys[0] + ev.message[len("output"):]

    # ------------------------------------------------------------------ after the call

    def failed(self, err: BaseException) -> None:
        try:
            text = f"{type(err).__name__}: {err}"
            self._record(self._base(error=text[:_MAX_ERROR]))
        except Exception as e:  # noqa: BLE001
            log.warning("contextkit could not record a failed step: %s", e)

    def finished(self, response: Any) -> Any:
        if self.stream and _is_stream(response):
            rs = RecordingStream(response, self._stream_ended)
            self.session._open_stream = weakref.ref(rs)
            return rs
        try:
            self._record(self._from_response(response))
        except Exception as e:  # noqa: BLE001 - never break the agent over bookkeeping
            log.warning("contextkit could not read the response of step %s: %s", self.step, e)
            self._record(self._base(cost_note=f"contextkit could not read the response: {type(e).__name__}: {e}"))
        return response

    def _from_response(self, response: Any) -> StepRecord:
        rec = self._base()
        choices = getattr(response, "choices", None) or []
        choice = choices[0] if choices else None
        message = getattr(choice, "message", None) if choice is not None else None
        rec.response_message = message_dict(message) if message is not None else None
        rec.finish_reason = getattr(choice, "finish_reason", None) if choice is not None else None
        rec.response_model = getattr(response, "model", None)
        self._account(rec, _cost.usage_from(getattr(response, "usage", None)), response)
        return rec

    def _stream_ended(self, chunks: list, stream: Any, error: BaseException | None, finished: bool, first_at: float | None) -> None:
        try:
            rec = self._base(error=f"{type(error).__name__}: {error}"[:_MAX_ERROR] if error is not None else None)
            rec.chunks = len(chunks)
            rec.stream_complete = finished
            if first_at is not None:
                rec.time_to_first_token_ms = (first_at - self.t0) * 1000
            built = _build(chunks, self.provider)
            if built is not None:
                choice = built.choices[0] if built.choices else None
                rec.response_message = message_dict(choice.message) if choice is not None else None
                rec.finish_reason = (getattr(choice, "finish_reason", None) if finished else None) if choice else None
            rec.response_model = getattr(chunks[0], "model", None) if chunks else None
            self._account(rec, _stream_usage(chunks, stream), chunks[-1] if chunks else None)
        except Exception as e:  # noqa: BLE001
            log.warning("contextkit could not read the stream of step %s: %s", self.step, e)
            rec = self._base(cost_note=f"contextkit could not read the stream: {type(e).__name__}: {e}")
        self._record(rec)

    def _account(self, rec: StepRecord, usage: _cost.Usage | None, response: Any = None) -> None:
        """Tokens (provider first, else counted locally), their cost and what pruning saved."""
        if self.kwargs.get("mock_response") is not None:
            usage = None  # litellm's mock usage is a constant (10/20 tokens), not a count
        if usage is None or (usage.input_tokens == 0 and usage.output_tokens == 0):
            usage = _cost.Usage(self.input_estimate(), _output_tokens(self.session, rec.response_message), estimated=True)
        rec.input_tokens, rec.output_tokens = usage.input_tokens, usage.output_tokens
        rec.reasoning_tokens, rec.usage_estimated = usage.reasoning_tokens, usage.estimated
        rec.cache_read_tokens, rec.cache_write_tokens = usage.cache_read_tokens, usage.cache_write_tokens
        bare, provider, c = self._priced(usage, response)
        rec.cost_usd, rec.input_cost_usd, rec.output_cost_usd, rec.cost_note = c.total, c.input, c.output, c.note
        rates = _cost.rates(self.model, provider, bare, self.session.prices)
        rec.saved_usd = self._saved(rec, usage, rates) if rates is not None else None

    def _priced(self, usage: _cost.Usage, response: Any) -> tuple[str, str | None, _cost.Cost]:
        """(model, provider) the call is priced as, and its cost. A name litellm has no price for
        that litellm answered as another model (a Router's model group, a proxy's name) is an
        alias: billed with litellm's own `response_cost`, split into input and output as the model
        that answered is priced when that agrees."""
        prices = self.session.prices
        bare, provider, alias = self.bare, self.provider, self.alias
        served = _cost.served_model(response)
        c = _cost.step_cost(self.model, provider, bare, usage, prices)
        if served and (alias or c.total is None) and _cost.user_prices(prices, self.model, bare) is None:
            sb, sp = _cost.resolve_provider(served)
            by_served = _cost.step_cost(served, sp, sb, usage, prices)
            if by_served.total is not None or c.total is None:
                bare, provider, c, alias = sb, sp, by_served, True
                _cost.remember_alias(self.model, served)
        litellms = _cost.response_cost(response) if alias or c.total is None else None
        if litellms is not None:
            agrees = c.total is not None and abs(c.total - litellms) <= 1e-9 + 1e-6 * litellms
            c = _cost.Cost(total=litellms, input=c.input if agrees else None, output=c.output if agrees else None,
                           note=f"priced with litellm's response_cost ({self.model!r} is answered by {served or 'another model'})")
        return bare, provider, c

    def _saved(self, rec: StepRecord, usage: _cost.Usage, rates: _cost.Rates) -> float:
        """What pruning saved on this call (contextkit/cost.py `saved_usd`, docs/cost.md): the
        previous successful model call of the session says how the conversation grew and whether
        this request's edits are new."""
        pruned = max(rec.tokens_before - rec.tokens_after, 0)
        prev = next((s for s in reversed(self.session.steps[-8:])
                     if s.kind == "chat" and s.error is None and s.step < rec.step and s.prepare is not None), None)
        if prev is None:
            return _cost.saved_usd(usage, pruned, rates)
        edited = pruned != max(prev.tokens_before - prev.tokens_after, 0)
        warm = bool(prev.cache_read_tokens or prev.cache_write_tokens)
        return _cost.saved_usd(usage, pruned, rates, grew=rec.tokens_before - prev.tokens_before, edited=edited, warm=warm)

    def _base(self, error: str | None = None, cost_note: str | None = None) -> StepRecord:
        report = self.report
        return StepRecord(
            step=self.step,
            model=self.model,
            started_at=self.started_at,
            latency_ms=self._latency_ms if self._latency_ms is not None else (time.perf_counter() - self.t0) * 1000,
            provider=self.provider,
            messages_sent=self.kwargs["messages"],
            tools=list(self.kwargs["tools"]) if self.kwargs.get("tools") else None,  # the list as sent now
            invocation_params=_params(self.kwargs),
            stream=self.stream,
            tokens_before=report.tokens_before if report is not None else 0,
            tokens_after=report.tokens_after if report is not None else 0,
            error=error,
            cost_note=cost_note,
            guard_events=list(self.events),
            prepare=report,
        )

    def _record(self, rec: StepRecord) -> None:
        """The one way a step ends: the budget's reservation becomes the bill (a failed call bills
        nothing), then the session records it."""
        res, self.reservation = self.reservation, None
        try:
            if res is not None:
                self._budget.settle(res, rec.error is None, rec.input_tokens, rec.output_tokens, rec.cost_usd)
            elif self.made and self._budget is not None and rec.error is None:
                self._budget.charge(rec.input_tokens, rec.output_tokens, rec.cost_usd)
        except Exception as e:  # noqa: BLE001 - bookkeeping
            log.warning("contextkit could not settle the budget for step %s: %s", self.step, e)
        self.session.record_step(rec)


def _router(fn: Any) -> Any:
    """The litellm Router whose bound method `fn` is (`router.completion`), else None."""
    owner = getattr(fn, "__self__", None)
    if owner is None or type(owner).__name__ != "Router":
        return None
    return owner if hasattr(owner, "get_model_list") else None


def _carried_events(session: Any, report: PrepareReport) -> list[GuardEvent]:
    """Guard events of what happened since the last call, recorded on this step: the circuit
    breaker's (tools that ran after the previous call) and the results this prepare quarantined."""
    out: list[GuardEvent] = []
    records = session.tool_records
    i = len(records)
    while i > 0 and records[i - 1].step >= report.step - 1:
        i -= 1
    for r in records[i:]:
        if r.step == report.step - 1:
            out.extend(r.guard_events)
    for handle, reason in report.pruned:
        seg = session.ledger.get(handle)
        if seg is not None and seg.rule == rules.QUARANTINED:
            flag = next((f for f in seg.flags if f in session.policy.quarantine), "flagged")
            out.append(GuardEvent("quarantine", flag, "quarantine", f"{seg.tool_name} result {handle} quarantined at step "
                                  f"{report.step}: {reason}", report.step, tool=seg.tool_name))
    return out


def _max_output(bare: str, provider: str | None) -> int | None:
    """The most output tokens the model can write (litellm's model info), or None if unknown."""
    hit = _MAX_OUTPUT.get((bare, provider), 0)
    if hit == 0:
        import litellm

        try:
            info = litellm.get_model_info(bare, custom_llm_provider=provider)
            hit = info.get("max_output_tokens") or info.get("max_tokens")
        except Exception:  # noqa: BLE001 - a model litellm does not know
            hit = None
        _MAX_OUTPUT[(bare, provider)] = hit
    return hit if isinstance(hit, int) and hit > 0 else None


_MAX_OUTPUT: dict[tuple, int | None] = {}


def _own_tokenizer(model: str) -> bool:
    """Whether contextkit counts this model's tokens with the model's own tokenizer (OpenAI's)."""
    import tiktoken

    try:
        tiktoken.encoding_name_for_model(model.rsplit("/", 1)[-1])
        return True
    except KeyError:
        return False


# ---------------------------------------------------------------------- reading responses


def _last_prepared(session: Any, given: Any) -> tuple[list[dict], PrepareReport]:
    """What the last `prepare` returned and its report, for `record`: the ledger's segments as sent
    (the same list tracing stores); `given` (the messages the caller passed on) only when the
    ledger no longer holds that list (prepare failed open and started afresh)."""
    report = session.reports[-1] if session.reports else None
    if report is None:
        raise ValueError("session.record(response) records the call made with the messages of the last "
                         "session.prepare(messages): call prepare first and send what it returns")
    if any(rec.step == report.step for rec in session.steps[-4:]):
        raise ValueError(f"step {report.step} (the last prepare) is already recorded: prepare the messages "
                         "of the next call, send them, then record its response")
    ledger = session.ledger
    sent = [seg.sent_message if seg.sent_message is not None else ledger.original(seg.handle) for seg in ledger.segments]
    if len(sent) != report.messages and isinstance(given, list):
        sent = as_dicts(given)
    return [dict(m) for m in sent], report


def _readable(response: Any) -> Any:
    """litellm's response as is; an OpenAI-shaped one (a dict, or the OpenAI SDK's object) as litellm's."""
    import litellm

    if _is_stream(response) or isinstance(response, litellm.ModelResponse):
        return response
    what = "session.record() takes a chat completion response (litellm's, or OpenAI's as an object or a dict with 'choices')"
    data = response if isinstance(response, dict) else None
    if data is None and hasattr(response, "model_dump"):
        data = response.model_dump()
    if not isinstance(data, dict):
        raise TypeError(f"{what}, got {type(response).__name__}")
    if not isinstance(data.get("choices"), list):
        raise ValueError(f"{what}, got a {type(response).__name__} without 'choices'")
    return litellm.ModelResponse(**data)


def _is_stream(response: Any) -> bool:
    return not hasattr(response, "choices") and (hasattr(response, "__next__") or hasattr(response, "__anext__"))


def _response_ms(response: Any) -> float | None:
    """How long the call took, as litellm measured it (None for a response from another client)."""
    ms = getattr(response, "_response_ms", None)
    if ms is None:
        ms = (getattr(response, "_hidden_params", None) or {}).get("_response_ms")
    return float(ms) if isinstance(ms, (int, float)) else None


def _fit_request(session: Any, kwargs: dict) -> FitRequest:
    """What the call asks for, for fitting the model's window: its model, max_tokens and tools."""
    out = kwargs.get("max_completion_tokens") or kwargs.get("max_tokens")
    tools = kwargs.get("tools")
    extra = 0
    if tools:
        try:
            extra = session.ledger.counter.count(json.dumps(tools, ensure_ascii=False, default=str))
        except Exception:  # noqa: BLE001 - an estimate
            extra = 0
    return FitRequest(str(kwargs.get("model") or "") or None, int(out) if isinstance(out, int) else None, extra)


def _openai_itself(api_base: str) -> bool:
    try:
        from litellm.llms.openai.common_utils import is_openai_backed_api_base

        return is_openai_backed_api_base(api_base)
    except Exception:  # noqa: BLE001 - an older or newer litellm: decide by the host name
        return "api.openai.com" in api_base


def _params(kwargs: dict) -> dict:
    """The call's parameters as recorded: JSON-friendly values only, never credentials."""
    out: dict[str, Any] = {}
    for k, v in kwargs.items():
        if k in _NOT_PARAMS or _SECRET.search(k):
            continue
        if v is None or isinstance(v, (str, int, float, bool)):
            out[k] = v
        elif isinstance(v, (dict, list, tuple)):
            try:
                json.dumps(v)
                out[k] = v
            except (TypeError, ValueError):
                out[k] = repr(v)[:200]
        else:
            out[k] = f"<{type(v).__name__}>"
    return out


def _output_tokens(session: Any, message: dict | None) -> int:
    if not message:
        return 0
    count = session.ledger.counter.count
    n = count(message.get("content") if isinstance(message.get("content"), str) else "")
    n += count(message.get("reasoning_content") or "")
    for tc in message.get("tool_calls") or ():
        n += count(tc["function"].get("name") or "") + count(tc["function"].get("arguments") or "")
    return n


def _build(chunks: list, provider: str | None) -> Any:
    """The whole message from the chunks the caller saw, assembled by litellm."""
    if not chunks:
        return None
    import litellm

    first = chunks[0]
    model = getattr(first, "model", None)
    if provider and isinstance(model, str) and model and not model.startswith(provider + "/"):
        # litellm resolves the provider from the first chunk's model name and prints a
        # "Provider List" banner when it cannot; name it as the call did (a copy: never the caller's chunk)
        first = first.model_copy(update={"model": f"{provider}/{model}"})
    return litellm.stream_chunk_builder([first, *chunks[1:]], count_prompt_tokens=lambda: 0)


def _stream_usage(chunks: list, stream: Any) -> _cost.Usage | None:
    """The provider's usage for a stream: from the chunks the caller saw (when it asked with
    stream_options), else from those litellm kept aside (usage-only chunks it does not yield)."""
    for source in (chunks, getattr(stream, "chunks", None) or ()):
        for chunk in reversed(source):
            usage = _cost.usage_from(getattr(chunk, "usage", None))
            if usage is not None and (usage.input_tokens or usage.output_tokens):
                return usage
    return None
