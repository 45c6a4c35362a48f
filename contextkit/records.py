"""Plain records of what happened in a run: model calls, tool executions, guard events.

These are what observers (tracing, your own callbacks) receive. They hold data only: tracing
turns them into spans; nothing here knows about OpenTelemetry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class PrepareReport:
    """What one `Session.prepare` call did: the context before and after surgery, every decision."""

    step: int
    messages: int
    tokens_before: int
    tokens_after: int
    pruned: list[tuple[str, str]] = field(default_factory=list)  # (handle, reason) pruned at this step
    fallback: str | None = None  # why the request went unpruned, if it did
    error: str | None = None  # an internal error, recorded instead of raised (fail-open)
    duration_ms: float = 0.0
    notes: list[str] = field(default_factory=list)  # fitting the window, compaction: what was done and why


@dataclass
class GuardEvent:
    """A guard acted: a budget crossed, capped or paused a call, a loop or a failing tool was caught,
    a poisoned result quarantined. `kind` and `action` are codes (below); `message` is for people.

    kind              limit                                action
    budget            max_steps | max_input_tokens |       raise | warn | callback | pause (sent after
                      max_total_tokens | max_dollars       resume(); `seconds` waited)
    budget_warning    the limit warn_at of which is used   warn
    budget_cap        the limit that capped the output     cap (`value` the cap sent, `threshold` what
                                                           the call could have written)
    throttle          calls_per_minute                     throttle (`seconds` slept)
    loop              loop (the same call and result)      raise | warn | callback
    polling           poll_repeats (same call, output      raise | warn | callback
                      differing only in times/counters)
    retry_storm       storm_repeats (the same failing      raise | warn | callback
                      call, a new request id each time)
    breaker_open      failures                             open (`seconds` of cooldown, `until`)
    breaker_rejected  failures                             reject (the tool was not run)
    breaker_half_open failures                             trial (one call let through)
    breaker_closed    failures                             close (the trial succeeded)
    quarantine        the flag (injection, ...)            quarantine (the result was not sent)
    """

    kind: str
    limit: str
    action: str
    message: str
    step: int
    value: float | None = None  # the figure that crossed the limit
    threshold: float | None = None
    tool: str | None = None  # the tool a loop, breaker or quarantine event is about
    seconds: float | None = None  # waited (pause, throttle) or left (breaker cooldown)
    until: float | None = None  # epoch seconds: when an open breaker lets its tool be tried again


@dataclass(slots=True)
class StepRecord:
    """One model call: what was sent, what came back, tokens, cost, timing.

    Token fields: `tokens_before` / `tokens_after` are contextkit's own counts of the request
    before and after surgery; `input_tokens` etc. are the provider's usage (or a local estimate,
    then `usage_estimated` is True).
    """

    step: int
    model: str
    started_at: float  # epoch seconds
    kind: str = "chat"  # "chat": the agent's model call; "compaction": a summariser's call
    latency_ms: float = 0.0
    provider: str | None = None
    messages_sent: list[dict] = field(default_factory=list, repr=False)  # the latest step's only (observers get each)
    tools: list[dict] | None = field(default=None, repr=False)
    invocation_params: dict[str, Any] = field(default_factory=dict, repr=False)  # never credentials
    stream: bool = False
    tokens_before: int = 0
    tokens_after: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    usage_estimated: bool = False
    cost_usd: float | None = None
    input_cost_usd: float | None = None
    output_cost_usd: float | None = None
    saved_usd: float | None = None  # the call unpruned, with the provider's cache, minus its cost (docs/cost.md)
    cost_note: str | None = None  # why cost is None, or how it was priced
    finish_reason: str | None = None
    response_model: str | None = None
    response_id: str | None = None  # the provider's id of the response (`response.id`)
    response_message: dict | None = field(default=None, repr=False)  # the assistant message: content, reasoning, tool_calls
    error: str | None = None  # "RateLimitError: ..." when the call failed
    guard_events: list[GuardEvent] = field(default_factory=list)
    prepare: PrepareReport | None = field(default=None, repr=False)
    time_to_first_token_ms: float | None = None  # streams: from the call to the first chunk
    chunks: int | None = None  # streams: chunks the caller received
    stream_complete: bool | None = None  # streams: False if it failed or was closed before its end


@dataclass
class ToolRecord:
    """One tool execution, tied to the tool call that asked for it."""

    name: str
    step: int
    started_at: float
    tool_call_id: str | None = None
    arguments: Any = None
    result: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    breaker: str | None = None  # "open": the circuit breaker did not run it; "half_open": a trial run
    guard_events: list[GuardEvent] = field(default_factory=list)  # the breaker's (carried onto the next step too)
