"""`Gateway`: contextkit as a litellm proxy callback (a `CustomLogger`), for every client.

    # config.yaml
    litellm_settings:
      callbacks: contextkit.proxy.handler

Each chat request of both routes (`/v1/chat/completions`, `/v1/messages`) is pruned in
`async_pre_call_hook`: the conversation is found by its key (contextkit/proxy/keys.py), its live
session taken from the LRU or, on any replica that has none, a fresh one that replays the history
the request carries turn by turn; either way the request sent upstream is the same function of the
conversation, byte for byte. The restore tool is offered whenever the client declares tools, and
the proxy answers it itself: when the model calls `restore_context`, the original goes back to
the model and the call continues before the client gets an answer (streams included). Whatever
fails inside the handler sends the request unchanged (fail-open), and is counted and logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from ..anthropic import edited_indices
from ..config import resolve_policy
from ..errors import ContextOverflowError, InvalidMessagesError, UnknownHandleError
from ..fit import FitRequest
from ..presets import PRESETS
from ..records import StepRecord
from ..restore import RESTORE_TOOL_NAME
from ..session import Session
from .keys import header_key
from .sessions import LiveSessions
from .settings import Settings
from .shapes import SHAPES, Chat, Outcome, answer_text
from .streams import ChatRelay, MessagesRelay

log = logging.getLogger("contextkit.proxy")

_STALE_S = 15 * 60  # a call whose response never came (the client went away) is forgotten after this
_RECORDED = ("max_tokens", "max_completion_tokens", "temperature", "top_p", "tool_choice", "thinking", "reasoning_effort")


@dataclass
class _Call:
    """One request between its pre-call hook and the end of its response."""

    id: str
    key: str
    shape: Any
    session: Session
    data: dict  # the proxy's request dict
    sent: list  # the messages as sent upstream
    tools: list | None  # the tools as sent (the client's plus restore_context), None: the client's, unchanged
    model: str
    stream: bool
    started: float = field(default_factory=time.time)
    done: bool = False


class Gateway(CustomLogger):
    """The proxy callback. `contextkit.proxy.handler` is one, configured from the environment;
    make your own with `Gateway(policy=..., header=..., max_sessions=...)` (contextkit/proxy/settings.py)."""

    def __init__(self, settings: Settings | None = None, *, tracing: Any = None, **overrides: Any):
        super().__init__()
        self.settings = replace(settings, **overrides) if settings is not None else Settings.from_env(**overrides)
        self.settings.check()
        self.policy = resolve_policy(self.settings.policy)  # a bad policy stops the proxy at start, named
        self.tracing = tracing  # None: as the environment says (CONTEXTKIT_TRACING, CONTEXTKIT_TRACE_DB)
        self.router: Any = None  # the proxy's llm_router (found when first needed)
        self.sessions = LiveSessions(self.settings.max_sessions)
        self.stats: Counter = Counter()
        self.errors: deque = deque(maxlen=50)  # the latest internal errors, newest last
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        self._calls: dict[str, _Call] = {}
        self._models: dict[str, str] = {}

    # ------------------------------------------------------------------ before the call

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> dict:
        shape = SHAPES.get(getattr(call_type, "value", call_type))
        if shape is None or not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            return data
        try:
            call = await self._prepare(shape, data, user_api_key_dict)
        except ContextOverflowError as e:  # nothing can make it fit: say so before the provider is asked
            self.stats["overflow"] += 1
            raise HTTPException(status_code=400, detail={"error": {"type": "context_overflow", "message": str(e)}}) from e
        except InvalidMessagesError as e:  # the client's mistake: the provider answers it, in its own words
            self.stats["invalid"] += 1
            log.warning("contextkit: request sent unchanged: %s", e)
            return data
        except Exception as e:  # noqa: BLE001 - fail-open
            if self.settings.fail_closed:
                raise
            self.note_error(f"prepare: {type(e).__name__}: {e}")
            return data
        if call is not None:
            data["messages"] = call.sent
            if call.tools is not None:
                data["tools"] = call.tools
            self._calls[call.id] = call
        return data

    async def _prepare(self, shape: Any, data: dict, user: Any) -> _Call | None:
        call_id = data.get("litellm_call_id")
        if not isinstance(call_id, str):
            return None
        self._forget_stale()
        view = shape.view(data)
        messages = view if isinstance(view, list) else view.messages
        headers = (data.get("proxy_server_request") or {}).get("headers")
        key = header_key(headers, self.settings.header) or shape.key(data)
        model = self._model(str(data.get("model") or ""))
        tools = shape.tools(data.get("tools")) if self.upstream_router() is not None else None
        policy = self.policy if tools is not None else PRESETS["none"]  # never prune what cannot come back
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        live = self.sessions.checkout(key)
        if live is not None and (live.model != (model or None) or live.policy is not policy or _seen_turn(live, turn)):
            live.close()  # another model or policy, or a retry of a turn it answered: a fresh replay decides
            live = None
        fit = _fit_request(data, model)
        session, out, edited = await asyncio.to_thread(self._run, live, key, model, policy, turn, messages, shape, data, user, fit)
        sent, fallback = shape.back(data, view, out, edited)
        if session.compactions():
            sent = shape.splice(sent, view, session.compactions())
        if fallback:
            self.note_error(fallback)
        self.stats["requests"] += 1
        report = session.last_report
        if report is not None and report.pruned:
            self.stats["pruned"] += len(report.pruned)
        return _Call(call_id, key, shape, session, data, sent, tools, model, bool(data.get("stream")))

    def _run(self, live: Session | None, key: str, model: str, policy: Any, turn: int, messages: list,
             shape: Any, data: dict, user: Any, fit: FitRequest | None = None) -> tuple[Session, list, set[int] | None]:
        """On a worker thread: the live session if it can take this request, else a fresh one.
        A live session whose last list this request does not extend (an edited history, a retry of
        an earlier turn) could decide differently from a replica seeing it for the first time: the
        request is replayed afresh instead, so every replica sends the same bytes."""
        session = live
        for attempt in (0, 1):
            if session is None:
                session = self._new_session(key, model, policy, shape, data, user)
            session.step = turn  # the step is the conversation's turn, on every replica
            try:
                out, _ = session._prepare(messages, fit, splice=False)  # summaries go in per wire shape (shape.splice)
            except (InvalidMessagesError, ContextOverflowError):
                self._put_back(key, session, fresh=session is not live)
                raise
            if session is live and session.ledger.rewound and attempt == 0:
                live.close()
                session = None
                continue
            return session, out, edited_indices(session)
        raise AssertionError("unreachable")

    def _new_session(self, key: str, model: str, policy: Any, shape: Any, data: dict, user: Any) -> Session:
        meta = {"route": "/v1/chat/completions" if shape.route == "chat" else "/v1/messages",
                "model_group": data.get("model"), "replica": self.replica}
        user_id = getattr(user, "user_id", None) or getattr(user, "key_alias", None)
        return Session(policy, model=model or None, name=f"litellm-proxy {shape.route}", session_id=key,
                       tracing=self.tracing, metadata=meta, user_id=user_id, compactor=self.settings.compactor)

    def _put_back(self, key: str, session: Session, fresh: bool) -> None:
        if fresh and not session.reports:
            session.close()  # it never prepared anything
        else:
            self.sessions.checkin(key, session)

    def _model(self, group: str) -> str:
        """The deployment's model for a proxy model name (its prices and tokenizer), else the name."""
        hit = self._models.get(group)
        if hit is None:
            hit = group
            router = self.upstream_router()
            for d in getattr(router, "model_list", None) or ():
                if d.get("model_name") == group and (d.get("litellm_params") or {}).get("model"):
                    hit = d["litellm_params"]["model"]
                    break
            self._models[group] = hit
        return hit

    def upstream_router(self) -> Any:
        """The proxy's router (for the follow-up calls that answer restore_context)."""
        if self.router is None:
            server = sys.modules.get("litellm.proxy.proxy_server")
            self.router = getattr(server, "llm_router", None)
        return self.router

    # ------------------------------------------------------------------ after the call

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> Any:
        call = self._calls.get(str(data.get("litellm_call_id"))) if isinstance(data, dict) else None
        if call is None or call.stream:
            return None
        self._calls.pop(call.id, None)
        final = response
        try:
            if call.tools is not None:
                final = await self._restore_rounds(call, response)
        except _UpstreamError as e:
            self.finish(call, error=f"{type(e.cause).__name__}: {e.cause}")
            raise e.cause from None
        except Exception as e:  # noqa: BLE001 - fail-open: the model's answer as it came
            self.note_error(f"restore: {type(e).__name__}: {e}")
            final = response
        self.finish(call, response=final)
        return final

    async def _restore_rounds(self, call: _Call, response: Any) -> Any:
        """Answer the model's restore_context calls and continue the call, up to max_restores rounds."""
        shape, messages, earlier = call.shape, list(call.sent), []
        for _ in range(self.settings.max_restores):
            calls = shape.restore_calls(response)
            if not calls:
                break
            answers = self.answer_restores(call, calls)
            messages += shape.followup(response, calls, answers)
            earlier.append(response)
            try:
                response = await shape.call(self.upstream_router(), call.data, messages, call.tools, False)
            except Exception as e:  # noqa: BLE001 - the provider's error is the client's to see
                raise _UpstreamError(e) from e
        return shape.merged(earlier, response) if earlier else response

    def answer_restores(self, call: _Call, calls: list) -> list:
        """The original of each handle asked for (as the client sent it), each traced as a tool call.
        The session is only read: a restore is not part of the conversation the client sends back,
        so it must not change what any replica decides next."""
        out = []
        for c in calls:
            with call.session.tool(RESTORE_TOOL_NAME, tool_call_id=c.id, arguments=c.arguments) as t:
                try:
                    original = call.session.original(c.handle) if c.handle else None
                except UnknownHandleError:
                    original = None
                if original is None:
                    content: Any = f"No pruned content has the handle {c.handle!r}." if c.handle else "restore_context needs a handle."
                else:
                    content = call.shape.answer(original)
                t.result = answer_text(content)
            out.append(content)
        self.stats["restored"] += len(calls)
        return out

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict
    ) -> AsyncGenerator[Any, None]:
        call = self._calls.pop(str(request_data.get("litellm_call_id")), None) if isinstance(request_data, dict) else None
        if call is None:
            async for item in response:
                yield item
            return
        relay = (ChatRelay if isinstance(call.shape, Chat) else MessagesRelay)(self, call, response)
        error = None
        try:
            async for item in relay:
                yield item
        except BaseException as e:
            error = f"{type(e).__name__}: {e}"
            raise
        finally:
            self.finish(call, outcome=relay.outcome, error=error)

    async def async_post_call_failure_hook(self, request_data: dict, original_exception: Exception,
                                           user_api_key_dict: Any, traceback_str: str | None = None) -> Any:
        call = self._calls.pop(str(request_data.get("litellm_call_id")), None) if isinstance(request_data, dict) else None
        if call is not None:
            self.finish(call, error=f"{type(original_exception).__name__}: {original_exception}")
        return None

    def finish(self, call: _Call, *, response: Any = None, outcome: Any = None, error: str | None = None) -> None:
        """Record the request's step (once) and give the session back to the LRU."""
        if call.done:
            return
        call.done = True
        try:
            self._record(call, response, outcome, error)
        except Exception as e:  # noqa: BLE001 - bookkeeping never fails a request
            self.note_error(f"record: {type(e).__name__}: {e}")
        finally:
            report = call.session.last_report
            if report is not None and report.error:  # the engine failed open and started afresh: a replay decides next
                call.session.close()
            else:
                self.sessions.checkin(call.key, call.session)

    def _record(self, call: _Call, response: Any, outcome: Any, error: str | None) -> None:
        s = call.session
        report = s.last_report
        if report is None:
            return
        if error is not None:
            s.record_step(StepRecord(step=report.step, model=call.model, started_at=call.started,
                                     latency_ms=(time.time() - call.started) * 1000, stream=call.stream,
                                     tokens_before=report.tokens_before, tokens_after=report.tokens_after,
                                     error=error[:2000], prepare=report))
            return
        if outcome is None:
            outcome = response if isinstance(call.shape, Chat) else call.shape.outcome(response, call.model)
        resp = outcome.response() if isinstance(outcome, Outcome) else outcome
        params = {k: call.data[k] for k in _RECORDED if call.data.get(k) is not None}
        s.record(resp, model=call.model, tools=call.tools or call.data.get("tools"), stream=call.stream, **params)

    # ------------------------------------------------------------------ housekeeping

    def note_error(self, what: str) -> None:
        self.stats["errors"] += 1
        self.errors.append(what)
        log.warning("contextkit proxy: %s (request sent unchanged where it mattered)", what)

    def _forget_stale(self) -> None:
        if len(self._calls) < 64:
            return
        cutoff = time.time() - _STALE_S
        for k in [k for k, c in self._calls.items() if c.started < cutoff]:
            self._calls.pop(k, None)


def _fit_request(data: dict, model: str) -> FitRequest:
    """What the request asks for, for fitting the model's window (contextkit/fit.py)."""
    out = data.get("max_completion_tokens") or data.get("max_tokens")
    tools = data.get("tools")
    extra = 0
    if isinstance(tools, list) and tools:
        from ..tokens import TokenCounter

        extra = TokenCounter(model or None).count(json.dumps(tools, ensure_ascii=False, default=str))
    return FitRequest(model or None, out if isinstance(out, int) else None, extra)


def _seen_turn(session: Session, turn: int) -> bool:
    """Did the session already prepare this turn (the request is a retry)? Its step would repeat."""
    last = session.last_report
    return last is not None and last.step >= turn + 1


class _UpstreamError(Exception):
    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.cause = cause
