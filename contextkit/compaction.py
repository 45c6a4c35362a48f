"""Compaction that keeps the cache and loses nothing: the oldest turns replaced by one summary.

`Session(compactor=...)` takes a model name (called through litellm with `INSTRUCTIONS`), a
function `messages -> str`, or a `Compactor`. When the request would not fit the model's window
even after pruning (contextkit/fit.py), or once it passes the compactor's own trigger, the oldest
whole turns after the task (a stable boundary: an assistant turn with all its tool results) are
summarised, once. The summary replaces them as one user message that lists the handles of what it
replaced: every original comes back byte for byte through `restore_context` / `Session.restore`.
The summary is sent byte-identical on every later call, so the prefix up to it keeps hitting the
provider's cache; when the window fills again, a second summary follows the first (it extends,
never rewrites). The summariser's call is a step of its own (`StepRecord.kind == "compaction"`).

Presets follow the peers' documented behaviour: `Compactor.anthropic(...)` (Anthropic's server-side
compaction, `compact_20260112`: trigger 150,000 input tokens, the whole history before the latest
turn), `Compactor.langchain(...)` (LangChain's SummarizationMiddleware: keep the last 20 messages;
triggered at 85% of the model's window, the DeepAgents default).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .messages import content_text, reasoning_text, tool_calls_text

INSTRUCTIONS = (
    "You are compacting the history of an AI agent's conversation so it can go on within its context "
    "window. Write a summary the agent can continue from: the task and what is done, decisions and "
    "their reasons, the files, commands, identifiers, numbers and error messages that matter, what "
    "failed and why, and what was about to happen next. Be specific and complete; leave out chit-chat. "
    "Write only the summary."
)

Summarize = Callable[[list[dict]], str]


@dataclass(frozen=True)
class Compactor:
    """Who summarises (a litellm model name, or a function of the messages), when, and what stays."""

    summarize: str | Summarize
    trigger_tokens: int | None = None  # also compact once the request passes this many tokens
    trigger_fraction: float | None = None  # ... or this share of the model's window
    keep_messages: int = 0  # the newest messages stay as they are (the latest turn always does)
    instructions: str = INSTRUCTIONS  # the summariser's system prompt (model names only)
    name: str = "custom"
    source: str = ""

    @classmethod
    def anthropic(cls, summarize: str | Summarize) -> Compactor:
        return cls(summarize, trigger_tokens=150_000, keep_messages=0, name="anthropic",
                   source="Anthropic server-side compaction, compact_20260112 (trigger 150,000 input tokens)")

    @classmethod
    def langchain(cls, summarize: str | Summarize) -> Compactor:
        return cls(summarize, trigger_fraction=0.85, keep_messages=20, name="langchain",
                   source="LangChain SummarizationMiddleware (keep 20 messages; DeepAgents triggers at 85% of the window)")

    def trigger(self, window: int | None) -> int | None:
        """Tokens past which the request is compacted even though it would fit (None: only to fit)."""
        t = [self.trigger_tokens] if self.trigger_tokens else []
        if self.trigger_fraction and window:
            t.append(int(self.trigger_fraction * window))
        return min(t) if t else None


def compactor_from(spec: Any) -> Compactor | None:
    """What `Session(compactor=...)` accepts: None, a Compactor, a model name or a function."""
    if spec is None or isinstance(spec, Compactor):
        return spec
    if isinstance(spec, str) or callable(spec):
        return Compactor(spec)
    from .errors import PolicyConfigError

    raise PolicyConfigError(f"expected a model name, a function messages -> str or a Compactor, got {type(spec).__name__}",
                            "Session.compactor")


@dataclass
class Compaction:
    """One summary in place of the messages `segments` (contiguous, whole turns)."""

    segments: list  # the Segments replaced, in order
    message: dict  # the summary message, sent byte-identical from now on
    tokens: int  # of the summary message
    step: int
    replaced_tokens: int = 0  # of the replaced messages as they were sent

    @property
    def start(self) -> int:
        return self.segments[0].index

    @property
    def end(self) -> int:
        return self.segments[-1].index + 1

    def intact(self) -> bool:
        """Are the replaced messages still in the agent's list, in one run? (A rebuilt history may
        drop or reorder them; then the summary no longer stands for them and is not sent.)"""
        first = self.segments[0].index
        return first >= 0 and all(seg.index == first + k for k, seg in enumerate(self.segments))


@dataclass
class Transcript:
    """What the summariser reads: the messages as sent (pruned results as their placeholders)."""

    messages: list[dict] = field(default_factory=list)

    def text(self) -> str:
        out = []
        for m in self.messages:
            role = m.get("role")
            body = content_text(m.get("content"))
            if role == "assistant":
                calls = tool_calls_text(m)
                thought = reasoning_text(m)
                body = "\n".join(x for x in (thought and f"(thinking) {thought}", body, calls and f"(calls) {calls}") if x)
            out.append(f"## {role}{' ' + m['name'] if m.get('name') else ''}\n{body}")
        return "\n\n".join(out)


def summary_message(summary: str, handles: list[str], n: int) -> dict:
    """The message that stands for `n` compacted messages, naming the handles that restore them."""
    return {
        "role": "user",
        "content": (f"[contextkit compacted {n} earlier messages into this summary; restore_context(handle) "
                    f"brings any of them back word for word: {ranges(handles)}]\n\n{summary.strip()}"),
    }


def ranges(handles: list[str]) -> str:
    """ctx5 ctx6 ctx7 ctx9 -> 'ctx5-ctx7, ctx9' (handles are serial numbers: runs are short to write)."""
    nums = sorted(int(h[3:]) for h in handles)
    out, start = [], None
    for k, n in enumerate(nums):
        if start is None:
            start = n
        if k + 1 == len(nums) or nums[k + 1] != n + 1:
            out.append(f"ctx{start}" if start == n else f"ctx{start}-ctx{n}")
            start = None
    return ", ".join(out)


def run_summarizer(compactor: Compactor, messages: list[dict]) -> tuple[str, dict]:
    """(summary, call facts: model, started_at, latency_ms, usage, response) for a compaction."""
    t0, started = time.perf_counter(), time.time()
    if callable(compactor.summarize):
        summary = compactor.summarize(messages)
        if not isinstance(summary, str) or not summary.strip():
            raise ValueError(f"the compactor returned {type(summary).__name__} {summary!r:.40}, not a summary")
        return summary, {"model": getattr(compactor.summarize, "__name__", "compactor"), "started_at": started,
                         "latency_ms": (time.perf_counter() - t0) * 1000, "usage": None, "response": None}
    import litellm

    response = litellm.completion(
        model=compactor.summarize,
        messages=[{"role": "system", "content": compactor.instructions},
                  {"role": "user", "content": Transcript(messages).text()}],
    )
    summary = response.choices[0].message.content or ""
    if not summary.strip():
        raise ValueError(f"{compactor.summarize} returned an empty summary")
    return summary, {"model": compactor.summarize, "started_at": started, "latency_ms": (time.perf_counter() - t0) * 1000,
                     "usage": getattr(response, "usage", None), "response": response}


class Compactions:
    """A session's summaries: where they stand, what they save, and the list with them in place."""

    def __init__(self, compactor: Compactor):
        self.compactor = compactor
        self.done: list[Compaction] = []

    def live(self) -> list[Compaction]:
        """The summaries whose messages are all still there (the others are no longer sent)."""
        self.done = [c for c in self.done if c.intact()]
        return self.done

    def saved(self) -> int:
        """Tokens the summaries save on the request as it is sent now."""
        return sum(sum(seg.sent_tokens for seg in c.segments) - c.tokens for c in self.live())

    def splice(self, out: list[dict]) -> list[dict]:
        """`out` with each summary in place of the messages it stands for."""
        live = sorted(self.live(), key=lambda c: c.start)
        if not live:
            return out
        spliced: list[dict] = []
        at = 0
        for c in live:
            spliced.extend(out[at : c.start])
            spliced.append(dict(c.message))
            at = c.end
        spliced.extend(out[at:])
        return spliced

    def region(self, ledger: Any) -> tuple[int, int] | None:
        """The next messages to compact: whole turns after the task (or after the last summary), up
        to the newest assistant turn that leaves `keep_messages` and the latest turn as they are."""
        segs = ledger.segments
        live = self.live()
        start = max(c.end for c in live) if live else ledger.first_user + 1
        if start <= 0:
            return None
        last_assistant = max((s.index for s in segs if s.role == "assistant"), default=-1)
        limit = min(last_assistant, len(segs) - self.compactor.keep_messages)
        if ledger.last_user >= start:
            limit = min(limit, ledger.last_user)
        # the region ends where an assistant turn starts: every tool result before it is inside,
        # and a wire shape that folds results and text into one message (Anthropic) splits nowhere
        end = max((s.index for s in segs[start:limit + 1] if s.role == "assistant" and s.index > start), default=-1)
        if end <= start:
            return None
        return start, end


def compaction_record(session: Any, facts: dict, summary: str, replaced: int, tokens: int) -> Any:
    """The summariser's call as a step of the run: its tokens and, for a priced model, its cost."""
    from . import cost
    from .records import StepRecord

    counted = session.ledger.counter.count
    usage = cost.usage_from(facts["usage"]) if facts["usage"] is not None else None
    if usage is None or not (usage.input_tokens or usage.output_tokens):
        usage = cost.Usage(replaced, counted(summary), estimated=True)
    rec = StepRecord(step=session.step, model=str(facts["model"]), started_at=facts["started_at"], kind="compaction",
                     latency_ms=facts["latency_ms"], tokens_before=replaced, tokens_after=tokens,
                     response_message={"role": "assistant", "content": summary}, finish_reason="stop")
    rec.input_tokens, rec.output_tokens, rec.usage_estimated = usage.input_tokens, usage.output_tokens, usage.estimated
    if facts["response"] is not None:
        bare, provider = cost.resolve_provider(rec.model)
        c = cost.step_cost(rec.model, provider, bare, usage, session.prices)
        rec.cost_usd, rec.input_cost_usd, rec.output_cost_usd, rec.cost_note = c.total, c.input, c.output, c.note
        rec.saved_usd = -c.total if c.total is not None else None  # a call only compaction makes (docs/cost.md)
    else:
        rec.cost_note = "a summariser function of yours: no price"
    return rec
