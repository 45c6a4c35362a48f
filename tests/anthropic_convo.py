"""Anthropic Messages conversations built from the shared trajectories (read at run time): the
agent's tool calls become tool_use blocks, results tool_result blocks in the next user message,
each assistant turn starts with a signed thinking block, some result messages carry a text block
beside the results (as Claude Code's reminders do), and a cache_control breakpoint sits on the
last block of the last message (it moves every turn, as Claude Code's does)."""

from __future__ import annotations

import copy
import json


def tools_of(messages: list[dict]) -> list[dict]:
    """One tool definition per tool name the trajectory calls, in order of first use (OpenAI shape)."""
    names = []
    for m in messages:
        for tc in m.get("tool_calls") or ():
            if tc["function"]["name"] not in names:
                names.append(tc["function"]["name"])
    return [{"type": "function", "function": {"name": n, "description": f"run {n}",
             "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}} for n in names]


def anthropic_tools(openai_tools: list[dict]) -> list[dict]:
    return [{"name": t["function"]["name"], "description": t["function"]["description"],
             "input_schema": t["function"]["parameters"]} for t in openai_tools]


def anthropic_conversation(messages: list[dict], turns: int) -> tuple[list[dict], list[dict]]:
    """(system, messages) of the first `turns` assistant turns, ending with the last turn's results."""
    system = [{"type": "text", "text": messages[0]["content"]}]
    out: list[dict] = []
    n = 0
    for m in messages[1:]:
        role = m["role"]
        if role == "assistant":
            if n == turns:
                break
            n += 1
            blocks: list[dict] = [{"type": "thinking", "thinking": f"Turn {n}: what next?", "signature": f"sig{n:03d}"}]
            if m.get("content"):
                blocks.append({"type": "text", "text": m["content"]})
            for tc in m.get("tool_calls") or ():
                blocks.append({"type": "tool_use", "id": "toolu_" + tc["id"], "name": tc["function"]["name"],
                               "input": json.loads(tc["function"]["arguments"])})
            out.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            block = {"type": "tool_result", "tool_use_id": "toolu_" + m["tool_call_id"], "content": m["content"]}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
                if n % 3 == 0:
                    out[-1]["content"].append({"type": "text", "text": f"<system-reminder>turn {n}</system-reminder>"})
        else:
            text = {"type": "text", "text": m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])}
            if out and out[-1]["role"] == "user":
                out[-1]["content"] = ([{"type": "text", "text": out[-1]["content"]}] if isinstance(out[-1]["content"], str)
                                      else out[-1]["content"]) + [text]
            else:
                out.append({"role": "user", "content": m["content"] if not out else [text]})
    # results first: a reminder text block goes after every tool_result of its message
    for m in out:
        if m["role"] == "user" and isinstance(m["content"], list):
            m["content"].sort(key=lambda b: b["type"] != "tool_result")
    return system, out


def request_at(system: list[dict], messages: list[dict], k: int) -> tuple[list[dict], list[dict]]:
    """The request of the k-th assistant turn (messages before it), with the client's cache breakpoint
    on the system prompt and on the last block of the last message."""
    ends = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    msgs = copy.deepcopy(messages[: ends[k]] if k < len(ends) else messages)
    sys_blocks = copy.deepcopy(system)
    sys_blocks[-1]["cache_control"] = {"type": "ephemeral"}
    last = msgs[-1]
    if isinstance(last["content"], list):
        last["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return sys_blocks, msgs
