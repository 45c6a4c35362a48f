"""The ledger: one `Segment` per message the agent has sent, kept across calls.

A call that appends messages costs only the new messages: the unchanged prefix is recognised by
one C-level list comparison, and each new segment is tokenized, scanned for terms and matched
against older tool results once. When the agent rebuilds or edits its list, segments are found
again by tool-call id and content, so age and decisions carry over.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from . import faults, rules
from . import messages as msgs
from .signals import CallFacts, call_facts, is_error, ordered_terms, terms
from .tokens import MESSAGE_OVERHEAD, TokenCounter

KEPT, PRUNED, PINNED, RESTORED = "kept", "pruned", "pinned", "restored"
COMPACTED = "compacted"  # replaced, with the turns around it, by a summary
_RECENT_TERMS = 16  # tool results whose terms stay cached (see Ledger.terms_of)


@dataclass(eq=False, slots=True)
class Segment:
    """One message of the conversation, what contextkit knows about it and what it did with it."""

    handle: str  # stable id, shown in placeholders and accepted by Session.restore
    index: int  # position in the latest message list (-1: the agent no longer sends it)
    role: str
    kind: str  # system | developer | user | assistant | tool_call | tool_result
    tokens: int  # as the agent sent it
    chars: int  # characters of its text content
    first_seen: int  # step at which it first appeared
    last_used: int  # step at which it appeared or a later assistant turn last drew on it
    tool_name: str | None = None
    tool_call_id: str | None = None
    reasoning_tokens: int = 0
    state: str = KEPT
    rule: str = rules.NEW  # why it is in this state, as a code (contextkit.rules)
    reason: str = "new"  # the same for people
    sent_tokens: int = 0  # as sent (the placeholder's size once pruned)
    used_count: int = 0  # later assistant turns that drew on its content
    superseded_by: str | None = None  # handle of the later segment that made it stale
    superseded_reason: str = ""
    is_error: bool = False
    reads_file: bool = False  # its call read a file (content the agent tends to come back to)
    flags: tuple[str, ...] = ()  # implicit faults of a tool result (contextkit/faults.py): empty, injection, ...
    n_terms: int = field(default=0, repr=False)  # distinct terms in it (tool results)
    pruned_at: int | None = None
    args_text: str = field(default="", repr=False)  # the tool call's arguments (tool results)
    turn: int = field(default=0, repr=False)  # assistant messages before it
    arrived_at: int = field(default=0, repr=False)  # the ledger's clock when it arrived
    used_at: int = field(default=0, repr=False)  # the clock at its arrival or the last turn that drew on it
    ordinal: int = field(default=0, repr=False)  # tool results before it
    tool_ordinal: int = field(default=0, repr=False)  # results of the same tool before it
    call_handle: str | None = field(default=None, repr=False)  # the assistant turn that made the call
    sent_message: dict | None = field(default=None, repr=False)  # the replacement, once pruned
    original: dict = field(default_factory=dict, repr=False)  # the message as first seen (a private copy)

    def age(self, step: int) -> int:
        """Steps since the segment last mattered: its arrival or a later turn's use of it."""
        return step - self.last_used

    def turns_unused(self, clock: int) -> int:
        """Assistant turns since it last mattered (what `max_age` counts; see Ledger.clock)."""
        return clock - self.used_at

    def set_state(self, state: str, rule: str, reason: str) -> None:
        self.state, self.rule, self.reason = state, rule, reason

    def as_dict(self, step: int) -> dict:
        return {
            "handle": self.handle,
            "index": self.index,
            "role": self.role,
            "kind": self.kind,
            "tool_name": self.tool_name,
            "tool_call_id": self.tool_call_id,
            "tokens": self.tokens,
            "sent_tokens": self.sent_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "first_seen": self.first_seen,
            "last_used": self.last_used,
            "age": self.age(step),
            "used_count": self.used_count,
            "superseded_by": self.superseded_by,
            "is_error": self.is_error,
            "flags": list(self.flags),
            "state": self.state,
            "rule": self.rule,
            "reason": self.reason,
        }


@dataclass(slots=True)
class _Call:
    name: str
    raw_args: str
    args: dict | None
    assistant: Segment


class Ledger:
    """Every segment of one agent run, in the order the agent last sent them."""

    def __init__(self, counter: TokenCounter):
        self.counter = counter
        self.segments: list[Segment] = []
        self._snap: list[dict] = []  # private copies of the messages as last seen
        self._seen: list = []  # the caller's own message objects of the last call
        self.messages: list[dict] = []  # the last call's messages as dicts
        self._pairing = msgs.PairingState()
        self._all: list[Segment] = []  # every segment ever seen; handle ctx{n} is _all[n - 1]
        self._calls: dict[str, _Call] = {}
        self._term_index: dict[str, Segment | list[Segment]] = {}  # term -> the tool results holding it
        self._protected_terms: set[str] = set()
        # terms present in content that is never pruned (non-tool messages) or in placeholders:
        # a placeholder's key terms need not repeat them (see new_terms)
        self.carried: set[int] = set()  # hash() of each term: a third of the memory of the strings
        self.carry_call_terms = True  # off when a policy may blank tool-call arguments or reasoning
        self.use_terms = 1  # terms of a result a turn must repeat to count as drawing on it (Policy.use_terms)
        self._by_call_key: dict[bytes, Segment] = {}  # digest of tool name + arguments
        self._reads: dict[str, list[Segment]] = {}
        self._last_attempt: dict[tuple, Segment] = {}
        self._serial = 0
        self._tool_count: dict[str | None, int] = {}  # by tool name (None: a result of no known call)
        self._detached: dict[tuple, list[Segment]] = {}
        self._detached_calls: dict[str, Segment] = {}  # tool_call_id -> a detached result (its call's facts)
        self._recent_terms: dict[str, list[str]] = {}  # handle -> ordered terms, newest results only
        self._task_seen = False  # the first user message (the task) has been read
        self.open: list[Segment] = []  # tool results still kept, in order: what a policy may prune
        self.n_assistant = 0
        self.n_tool = 0
        # The decision clock: new assistant turns seen so far (never goes back on a rewind). Ages
        # count these, not calls, so a conversation gets the same decisions however often (and
        # through whichever replica) it is sent: a retry changes nothing, a catch-up replays turns.
        self.clock = 0
        self.first_user = -1  # index of the first user message (the task), -1 if none yet
        self.last_user = -1  # index of the latest user message
        self.rewound = False  # the last observe() found the agent's list changed, not just extended
        self.turn_start = 0  # where the new messages of the request being decided start
        self.start = 0  # where the last observe() found the first new (or changed) message
        self.appended = False  # the caller's list is the last call's, with messages added
        self.raw_tokens = 0
        self.sent_tokens = 0
        self.modified: dict[str, Segment] = {}  # handle -> segment sent in a form of contextkit's
        # Segments whose fields changed since the session last reported a prepare (new, moved, edited,
        # decided, used, superseded, restored): observers read it in `prepared` (tracing's O(changed) manifest).
        self.changed: dict[int, Segment] = {}
        self.faults = faults.Recent()  # flags each new tool result (Segment.flags)

    # ------------------------------------------------------------------ the sent form (surgery.Editor)

    def edit(self, seg: Segment, message: dict, tokens: int | None = None) -> None:
        """Send `seg` as `message` from now on (a placeholder, blanked arguments, cleared reasoning)."""
        if tokens is None:
            tokens = self.count_message(message)
        if seg.index >= 0:
            self.sent_tokens += tokens - seg.sent_tokens
        seg.sent_message, seg.sent_tokens = message, tokens
        self.modified[seg.handle] = seg
        self.changed[id(seg)] = seg

    def revert(self, seg: Segment) -> None:
        """Send `seg` exactly as the agent sent it again."""
        if seg.index >= 0:
            self.sent_tokens += seg.tokens - seg.sent_tokens
        seg.sent_message, seg.sent_tokens = None, seg.tokens
        self.modified.pop(seg.handle, None)
        self.changed[id(seg)] = seg

    def touch(self, seg: Segment) -> None:
        """Say that `seg` changed outside the ledger (a decision, a restore, a compaction)."""
        self.changed[id(seg)] = seg

    def count_message(self, m: Mapping) -> int:
        """Tokens of a message as the ledger counts them (text, tool calls, reasoning, ids and names, images)."""
        count = self.counter.count
        content = m.get("content")
        role = m.get("role")
        n = count(msgs.content_text(content)) + count(msgs.ids_text(m)) + msgs.image_parts(content) * msgs.IMAGE_TOKENS + MESSAGE_OVERHEAD
        if role == "assistant":
            n += count(msgs.tool_calls_text(m)) + count(msgs.reasoning_text(m))
        return n

    def seen(self, seg: Segment) -> bool:
        """Has the model read this segment? An assistant turn follows it (a function of the
        conversation alone: a retried request or a resumed history decide the same)."""
        return seg.turn < self.n_assistant

    # ------------------------------------------------------------------ lookups

    def get(self, handle: str) -> Segment | None:
        if not isinstance(handle, str) or not handle.startswith("ctx") or not handle[3:].isdigit():
            return None
        n = int(handle[3:])
        return self._all[n - 1] if 0 < n <= len(self._all) else None

    def original(self, handle: str) -> dict | None:
        seg = self.get(handle)
        return seg.original if seg is not None else None

    def __iter__(self):
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def tool_count(self, name: str) -> int:
        return self._tool_count.get(name, 0)

    # ------------------------------------------------------------------ observing a call

    def reset_snapshot(self) -> None:
        """Forget the last list seen, so the next call re-identifies every message (after an error)."""
        self._rewind(0)
        self._seen, self.messages = [], []

    def fresh(self) -> Ledger:
        """An empty ledger that keeps this one's segments reachable by handle and never reissues
        a handle (the last resort after an internal error)."""
        new = Ledger(self.counter)
        new._all, new._serial, new.carry_call_terms = self._all, self._serial, self.carry_call_terms
        new.use_terms = self.use_terms
        new.clock = self.clock
        new.faults = self.faults
        return new

    def observe(self, messages: list, step: int, on_turn: Callable[[int], None] | None = None) -> int:
        """Bring the ledger up to date with `messages` (the caller's list: dicts or litellm's message
        objects); returns the index of the first new message. `self.messages` is then the list as
        dicts, for surgery to build the output from.

        `on_turn(new_from)` is called before each new assistant message whose request the ledger
        has not seen (a resumed history, or a replica catching up): the ledger then holds exactly
        that request, and `new_from` is where its new messages start. Raises InvalidMessagesError
        (and leaves the ledger as it was) if a new message is malformed.

        The messages of the last call are recognised by comparing the caller's own objects with
        the last call's (a C-level list comparison whose identity shortcut makes an agent that
        appends pay for the new messages only). A message changed in place, in the same object, is
        therefore not seen as changed: pass a new dict when you edit one.
        """
        if not isinstance(messages, list):
            msgs.check_messages(messages)  # raises InvalidMessagesError naming the type
        n = len(self._snap)
        self.rewound = False
        seen = self._seen
        self.appended = len(seen) == n and len(messages) >= n and messages[:n] == seen
        if self.appended:
            dicts = self.messages + msgs.as_dicts(messages[n:])
            start = n
            pairing = msgs.check_messages(dicts, start, self._pairing)
        else:
            dicts = msgs.as_dicts(messages)
            if dicts is messages:
                dicts = list(messages)  # never the caller's own list: they append to it
            if len(dicts) >= n and dicts[:n] == self._snap:
                start = n
                pairing = msgs.check_messages(dicts, start, self._pairing)
            else:
                start = _first_difference(dicts, self._snap)
                pairing = msgs.check_messages(dicts)
        msgs.require_answered(pairing)
        if start < n:
            self._rewind(start)
            self.rewound = True
        self._pairing = pairing
        self.turn_start = self.start = start
        for i in range(start, len(dicts)):
            m = dicts[i]
            if on_turn is not None and i > self.turn_start and m.get("role") == "assistant":
                on_turn(self.turn_start)
                self.turn_start = i
            self._add(m, i, step)
        for seg in self.segments[start:]:  # new, or found again at a new index
            self.changed[id(seg)] = seg
        self._detached = {}
        self._detached_calls = {}
        self._seen = list(messages)
        self.messages = dicts
        return start

    def _rewind(self, start: int) -> None:
        """The agent changed its list from `start` on: detach those segments to be found again.
        Segments detached by an earlier, failed call stay findable (the dict is only cleared once
        an observe succeeds)."""
        for seg in self.segments[start:]:
            seg.index = -1
            self.changed[id(seg)] = seg
            self._detached.setdefault(_identity(seg.original), []).append(seg)
            if seg.sent_message is not None:
                self._detached.setdefault(_identity(seg.sent_message), []).append(seg)
            if seg.kind == "tool_result" and seg.tool_call_id:
                self._detached_calls[seg.tool_call_id] = seg
        del self.segments[start:]
        del self._snap[start:]
        self.n_assistant = sum(1 for s in self.segments if s.role == "assistant")
        self.n_tool = sum(1 for s in self.segments if s.kind == "tool_result")
        self._tool_count = {}
        for s in self.segments:
            if s.kind == "tool_result":
                self._tool_count[s.tool_name] = self._tool_count.get(s.tool_name, 0) + 1
        self.raw_tokens = sum(s.tokens for s in self.segments)
        self.sent_tokens = sum(s.sent_tokens for s in self.segments)
        self.open = [s for s in self.open if s.index != -1]
        users = [s.index for s in self.segments if s.role == "user"]
        self.first_user = users[0] if users else -1
        self.last_user = users[-1] if users else -1

    def _add(self, m: Mapping, i: int, step: int) -> None:
        snap = _private_copy(m)
        found = self._find_detached(snap)
        if found is not None:
            self._reattach(found, snap, i)
            return
        seg = self._new_segment(snap, i, step)
        self.segments.append(seg)
        self._snap.append(snap)
        self.raw_tokens += seg.tokens
        self.sent_tokens += seg.sent_tokens

    def _find_detached(self, snap: dict) -> Segment | None:
        if not self._detached:
            return None
        bucket = self._detached.get(_identity(snap))
        while bucket:
            seg = bucket.pop(0)
            if seg.index == -1:
                return seg
        return None

    def _reattach(self, seg: Segment, snap: dict, i: int) -> None:
        seg.index = i
        seg.turn = self.n_assistant
        seg.ordinal = self.n_tool
        self.segments.append(seg)
        self._snap.append(snap)
        self.raw_tokens += seg.tokens
        self.sent_tokens += seg.sent_tokens
        if seg.role == "user":
            self._saw_user(i)
        if seg.role == "assistant":
            self.n_assistant += 1
        elif seg.kind == "tool_result":
            self.n_tool += 1
            seg.tool_ordinal = self._tool_count.get(seg.tool_name, 0)
            self._tool_count[seg.tool_name] = seg.tool_ordinal + 1
            if seg.state == KEPT:
                self.open.append(seg)  # reattached in list order, after every remaining one

    def _new_segment(self, m: dict, i: int, step: int) -> Segment:
        role = m["role"]
        content = m.get("content")
        text = msgs.content_text(content)
        calls_text = msgs.tool_calls_text(m) if role == "assistant" else ""
        reasoning = msgs.reasoning_text(m) if role == "assistant" else ""
        count = self.counter.count
        reasoning_tokens = count(reasoning)
        tokens = (
            count(text)
            + count(calls_text)
            + reasoning_tokens
            + count(msgs.ids_text(m))
            + msgs.image_parts(content) * msgs.IMAGE_TOKENS
            + MESSAGE_OVERHEAD
        )
        kind = role
        if role == "assistant" and m.get("tool_calls"):
            kind = "tool_call"
        elif role in ("tool", "function"):
            kind = "tool_result"
        handle = self._handle()
        seg = Segment(
            handle=handle,
            index=i,
            role=role,
            kind=kind,
            tokens=tokens,
            chars=len(text),
            first_seen=step,
            last_used=step,
            reasoning_tokens=reasoning_tokens,
            sent_tokens=tokens,
            turn=self.n_assistant,
            arrived_at=self.clock,
            used_at=self.clock,
            ordinal=self.n_tool,
            original=m,
        )
        self._all.append(seg)
        if role == "assistant":
            self.n_assistant += 1
            self.clock += 1
            said = terms(text + "\n" + calls_text + "\n" + reasoning)
            self._note_use(said, step)
            self.carried.update(map(hash, said if self.carry_call_terms else terms(text)))
            for tc in m.get("tool_calls") or ():
                fn = tc.get("function") or {}
                raw = msgs.arguments_text(fn.get("arguments"))
                self._calls[tc["id"]] = _Call(fn.get("name") or "", raw, msgs.parse_arguments(fn.get("arguments")), seg)
        elif kind == "tool_result":
            self._add_tool_result(seg, m, text, step)
            self.open.append(seg)
        elif role in ("system", "developer") or (role == "user" and not self._task_seen):
            # terms of the task statement are everywhere already; their reuse says nothing
            task_terms = terms(text)
            self._protected_terms |= task_terms
            self.carried.update(map(hash, task_terms))
            self._task_seen = self._task_seen or role == "user"
        elif role == "user":
            self.carried.update(map(hash, terms(text)))
        if role == "user":
            self._saw_user(i)
        return seg

    def _saw_user(self, i: int) -> None:
        if self.first_user < 0:
            self.first_user = i
        self.last_user = i

    def _handle(self) -> str:
        """A short handle, unique in the session: `ctx` + the segment's serial number. Short on
        purpose: every placeholder repeats it on every later call, and hex digests cost tokens."""
        self._serial += 1
        return f"ctx{self._serial}"

    # ------------------------------------------------------------------ signals

    def _add_tool_result(self, seg: Segment, m: dict, text: str, step: int) -> None:
        call = self._calls.pop(m.get("tool_call_id") or "", None)  # one result per call
        seg.tool_call_id = m.get("tool_call_id")
        before = self._detached_calls.get(seg.tool_call_id or "") if call is None else None
        if before is not None:  # the agent edited a result it had sent before: same call, same tool
            seg.tool_name, seg.args_text, seg.call_handle = before.tool_name, before.args_text, before.call_handle
        seg.tool_name = m.get("name") or (call.name if call else None) or seg.tool_name or "tool"
        seg.tool_ordinal = self._tool_count.get(seg.tool_name, 0)
        self._tool_count[seg.tool_name] = seg.tool_ordinal + 1
        self.n_tool += 1
        seg.is_error = is_error(text)
        if call is not None:
            seg.args_text = call.raw_args
            seg.call_handle = call.assistant.handle
        seg.flags = self.faults.flags(text, seg.tool_name, seg.args_text, seg.tool_call_id)
        ordered = ordered_terms(text)
        seg.n_terms = len(ordered)
        self._remember_terms(seg.handle, ordered)
        for t in set(ordered) - self._protected_terms:
            prev = self._term_index.get(t)
            if prev is None:
                self._term_index[t] = seg
            elif isinstance(prev, list):
                prev.append(seg)
            else:
                self._term_index[t] = [prev, seg]
        if call is not None:
            self._supersede(seg, call, step)

    def terms_of(self, seg: Segment) -> list[str]:
        """The ordered terms of a segment's original text. The newest tool results' terms are kept
        from when they arrived: most results are pruned within a step or two, and pruning asks for
        them twice (the placeholder, and leaving the use index)."""
        cached = self._recent_terms.get(seg.handle)
        if cached is None:
            cached = ordered_terms(msgs.content_text(seg.original.get("content")))
            self._remember_terms(seg.handle, cached)
        return cached

    def _remember_terms(self, handle: str, ordered: list[str]) -> None:
        self._recent_terms[handle] = ordered
        if len(self._recent_terms) > _RECENT_TERMS:
            del self._recent_terms[next(iter(self._recent_terms))]

    def forget_terms(self, seg: Segment) -> None:
        """Drop a pruned segment from the use index: its use no longer decides anything."""
        index = self._term_index
        for t in self.terms_of(seg):
            hit = index.get(t)
            if hit is seg:
                del index[t]
            elif isinstance(hit, list) and seg in hit:
                hit.remove(seg)
                if len(hit) == 1:
                    index[t] = hit[0]

    def new_terms(
        self, seg: Segment, limit: int, also: set[int] | frozenset = frozenset(), going: set[int] | frozenset = frozenset()
    ) -> list[str]:
        """Up to `limit` terms of the segment, in order, that the rest of the request does not carry
        (no repeats): not in content that is never pruned, not in a placeholder (`also`: hashes of
        terms this step's other placeholders carry), and not in another tool result still sent whole
        (`going`: ids of results pruned this step, which no longer count). A term another result
        still holds needs no placeholder: when that result goes, its own placeholder takes it up.
        Call `carry` with them once a placeholder holds them."""
        out: list[str] = []
        carried = self.carried
        index = self._term_index
        for t in self.terms_of(seg):
            h = hash(t)
            if h in carried or h in also:
                continue
            holders = index.get(t)
            if holders is not None and holders is not seg:
                others = holders if isinstance(holders, list) else (holders,)
                if any(o is not seg and o.index >= 0 and id(o) not in going for o in others):
                    continue
            out.append(t)
            if len(out) >= limit:
                break
        return out

    def carry(self, kept_terms: Iterable[str]) -> None:
        self.carried.update(map(hash, kept_terms))

    def _note_use(self, said: set[str], step: int) -> None:
        """A new assistant turn: every tool result it draws on was just used. Drawing on a result
        means repeating `use_terms` of its terms (all of them, if it holds fewer): naming the file a
        result came from is not using what it said."""
        shared: dict[int, list] = {}  # id -> [segment, terms repeated]
        for t in said:
            hit = self._term_index.get(t)
            if hit is None:
                continue
            for seg in hit if isinstance(hit, list) else (hit,):
                entry = shared.get(id(seg))
                if entry is None:
                    shared[id(seg)] = [seg, 1]
                else:
                    entry[1] += 1
        need = self.use_terms
        for seg, n in shared.values():
            if n >= need or n >= seg.n_terms:
                self.changed[id(seg)] = seg
                seg.last_used = step
                seg.used_at = self.clock
                seg.used_count += 1

    def _supersede(self, seg: Segment, call: _Call, step: int) -> None:
        facts: CallFacts = call_facts(call.name, call.args, call.raw_args)
        key = hashlib.blake2b(
            (call.name + "\x00" + (json.dumps(call.args, sort_keys=True) if call.args is not None else call.raw_args)).encode(
                "utf-8", "surrogatepass"
            ),
            digest_size=8,
        ).digest()
        older = self._by_call_key.get(key)
        if older is not None:
            self._supersede_one(older, seg, f"the same call ran again at step {step}")
        self._by_call_key[key] = seg
        for path in facts.writes:
            for old in self._reads.pop(_norm(path), ()):
                self._supersede_one(old, seg, f"{path} changed at step {step}")
        for path in facts.full_reads:
            for old in self._reads.pop(_norm(path), ()):
                self._supersede_one(old, seg, f"{path} re-read at step {step}")
        for path in facts.reads:
            self._reads.setdefault(_norm(path), []).append(seg)
        seg.reads_file = bool(facts.reads)
        attempt = (call.name, facts.program, facts.target)
        prev = self._last_attempt.get(attempt)
        if prev is not None and prev.is_error and not seg.is_error:
            self._supersede_one(prev, seg, f"failed; a retry passed at step {step}")
        self._last_attempt[attempt] = seg

    def _supersede_one(self, old: Segment, new: Segment, why: str) -> None:
        _mark_superseded(old, new, why)
        self.changed[id(old)] = old


def _mark_superseded(old: Segment, new: Segment, why: str) -> None:
    if old.superseded_by is None and old is not new:
        old.superseded_by = new.handle
        old.superseded_reason = why


def _norm(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def _identity(m: Mapping) -> tuple:
    """What makes two messages the same segment when the agent rebuilds its list."""
    return (
        m.get("role"),
        m.get("tool_call_id") or "",
        json.dumps(m.get("content"), sort_keys=True, ensure_ascii=False, default=str),
        json.dumps(m.get("tool_calls"), sort_keys=True, ensure_ascii=False, default=str) if m.get("tool_calls") else "",
    )


def _private_copy(m: Mapping) -> dict:
    """A copy of a message no caller can change: nested dicts and lists copied, strings and numbers
    shared (immutable). Several times faster than copy.deepcopy on chat messages."""
    return {k: _copy_value(v) for k, v in m.items()}


def _copy_value(v: object) -> object:
    if isinstance(v, dict):
        return {k: _copy_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy_value(x) for x in v]
    if isinstance(v, (str, int, float, bool, type(None))):
        return v
    return copy.deepcopy(v)


def _first_difference(a: list, b: list) -> int:
    n = min(len(a), len(b))
    lo = 0
    while lo < n and a[lo] == b[lo]:
        lo += 1
    return lo
