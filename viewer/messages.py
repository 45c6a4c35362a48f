"""Messages as the replay page shows them: each one as sent, a pruned one as its placeholder that
expands to the original, the model's reasoning, answer and tool calls, and the tools it ran.

Everything here comes from a run, so it is untrusted: it goes through viewer.safe (no image,
link or HTML in it can make the browser fetch anything)."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from .safe import markdown, plain

MAX_CHARS = 20_000  # longer texts are cut on the page (the store keeps them whole)
TALL = 1_200  # texts longer than this get a scrolling box
AVATARS = {
    "system": ":material/settings:",
    "developer": ":material/settings:",
    "user": ":material/person:",
    "assistant": ":material/smart_toy:",
    "tool": ":material/build:",
}
STATE_BADGES = {
    "pruned": ("orange", "pruned"),
    "restored": ("green", "restored"),
    "pinned": ("blue", "pinned"),
}


def text_of(content: Any) -> str:
    """A message's content as text (OpenAI content parts joined; non-text parts named)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out: list[str] = []
        for p in content:
            if isinstance(p, dict):
                text = p.get("text")
                out.append(text if isinstance(text, str) else f"[{p.get('type', 'part')}]")
            else:
                out.append(str(p))
        return "\n".join(out)
    return json.dumps(content, ensure_ascii=False)


def _cut(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    return text[:MAX_CHARS] + f"\n… {len(text) - MAX_CHARS:,} more characters"


def _box(text: str, *, height: int = 260) -> None:
    """Monospace, wrapped, never interpreted; long texts scroll inside a fixed height."""
    st.code(_cut(text) or " ", language=None, wrap_lines=True, height=height if len(text) > TALL else "content")


def reasoning_of(message: dict) -> str:
    """Reasoning the message carries (`reasoning_content`, or Anthropic-style thinking blocks)."""
    r = message.get("reasoning_content")
    if isinstance(r, str) and r:
        return r
    blocks = message.get("thinking_blocks") or []
    return "\n\n".join(b.get("thinking", "") for b in blocks if isinstance(b, dict) and b.get("thinking"))


def tool_calls_block(calls: list[dict]) -> None:
    for c in calls or ():
        fn = c.get("function") or {}
        args = fn.get("arguments")
        try:
            pretty = json.dumps(json.loads(args), indent=2, ensure_ascii=False) if isinstance(args, str) and args else (args or "")
        except ValueError:
            pretty = args
        name, call_id = plain(fn.get("name", "?"), one_line=True), plain(c.get("id", ""), one_line=True)
        st.markdown(f":material/call_made: **{name}** {call_id}")
        if pretty:
            st.code(_cut(pretty if isinstance(pretty, str) else json.dumps(pretty)), language="json", wrap_lines=True)


def header(row: dict, seg: dict | None, step: int) -> str:
    """`#index · kind · tool · tokens` and a badge for its state at this step."""
    kind = str(row.get("kind") or row.get("role") or "?").replace("_", " ")
    bits = [f"**#{row['index']}** · {plain(kind, one_line=True)}"]
    if seg and seg.get("tool_name"):
        bits.append(f"**{plain(seg['tool_name'], one_line=True)}**")
    if seg:
        tokens, sent = int(seg.get("tokens") or 0), int(seg.get("sent_tokens") or 0)
        bits.append(f"{sent:,} tokens" if sent == tokens else f"{tokens:,} → **{sent:,}** tokens")
    state = row.get("state")
    if state in STATE_BADGES:
        color, label = STATE_BADGES[state]
        when = f" at step {seg['pruned_at']}" if seg and state == "pruned" and seg.get("pruned_at") else ""
        bits.append(f":{color}-badge[{label}{when}]")
    if seg and seg.get("first_seen") == step:
        bits.append(":blue-badge[new]")
    if row.get("edited") and state not in ("pruned",):
        bits.append(":violet-badge[edited]")
    return " · ".join(bits)


def message_card(row: dict, seg: dict | None, step: int) -> None:
    """One message of the request as sent; a pruned one shows its placeholder and expands to the original."""
    msg = row.get("message") or {}
    role = msg.get("role") or row.get("role") or "user"
    with st.chat_message(role if role in ("user", "assistant") else role, avatar=AVATARS.get(role, ":material/chat:")):
        st.markdown(header(row, seg, step))
        if row.get("state") == "pruned" and row.get("reason"):
            st.caption(f"Why: {plain(row['reason'])}")
        think = reasoning_of(msg)
        if think:
            with st.expander("Reasoning", icon=":material/psychology:"):
                markdown(_cut(think))
        text = text_of(msg.get("content"))
        if role == "assistant":
            if text:
                markdown(_cut(text))
            tool_calls_block(msg.get("tool_calls") or [])
        elif text or role != "tool":
            _box(text)
        if row.get("edited") or row.get("state") == "pruned":
            original = row.get("original") or {}
            otext = text_of(original.get("content"))
            label = f"Original · {int(seg['tokens']):,} tokens" if seg else "Original"
            with st.expander(label, icon=":material/unfold_more:"):
                if reasoning_of(original) and not think:
                    st.caption("Reasoning (cleared from the request)")
                    markdown(_cut(reasoning_of(original)))
                if otext:
                    _box(otext, height=360)
                if original.get("tool_calls") and role == "assistant":
                    tool_calls_block(original["tool_calls"])


def model_output(row: dict) -> None:
    """What the model returned at this step: reasoning, answer, tool calls (or the error)."""
    out = row.get("output") if isinstance(row.get("output"), dict) else {}
    error = row.get("error") if isinstance(row.get("error"), str) else None  # pandas turns missing values into NaN
    if error:
        st.error(f"The call failed: {plain(error)}", icon=":material/error:")
    if not out:
        if not error:
            st.caption("No model call was recorded at this step (only `prepare`).")
        return
    think = reasoning_of(out)
    if think:
        with st.expander("Reasoning", expanded=True, icon=":material/psychology:"):
            markdown(_cut(think))
    text = text_of(out.get("content"))
    if text:
        markdown(_cut(text))
    tool_calls_block(out.get("tool_calls") or [])
    if not (think or text or out.get("tool_calls")):
        st.caption("(empty answer)")


def tool_executions(rows: list[dict]) -> None:
    """The tools run after this step's call: arguments, result, duration, error."""
    if not rows:
        st.caption("No tool ran after this call.")
        return
    for t in rows:
        ms = t.get("duration_ms")
        status = ":red-badge[error]" if t.get("error") else ":green-badge[ok]"
        name = plain(t.get("name") or "tool", one_line=True)
        label = f"{name} · {ms:,.0f} ms" if ms is not None else name
        with st.expander(label, icon=":material/terminal:"):
            st.markdown(f"{status} {plain(t.get('tool_call_id') or '', one_line=True)}")
            if t.get("arguments"):
                st.caption("Arguments")
                st.code(_cut(str(t["arguments"])), language="json", wrap_lines=True)
            if t.get("error"):
                st.error(plain(t["error"]))
            st.caption("Result")
            _box(t.get("result") or "")
